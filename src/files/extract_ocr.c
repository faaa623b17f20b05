/* Image text by OCR: leptonica reads the image, tesseract (English) reads
 * the text. The image's size comes from its header (pixReadHeader) and is
 * checked against extract_max_pixels and extract_max_bytes (4 bytes a
 * pixel decoded) before any pixel is decoded: a 50,000 x 50,000 PNG is a
 * few kilobytes on disk and 10 GB in memory. Tesseract's own monitor
 * enforces the deadline and reports progress. */
#include "files/extract.h"

#include "core/ms.h"

#include <leptonica/allheaders.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

/* The monitor's callbacks get no context of ours but the monitor itself:
 * the extraction in progress on this thread. */
typedef struct {
    const ms_extract_limits_t *lim;
    int last;
    ETEXT_DESC *monitor;
} ocr_run_t;

static _Thread_local ocr_run_t *current;

static bool on_progress(ETEXT_DESC *m, int left, int right, int top, int bottom) {
    (void)left, (void)right, (void)top, (void)bottom;
    if (current && current->monitor == m)
        ms__extract_progress(current->lim, &current->last, TessMonitorGetProgress(m));
    return false;
}

int ms__extract_image(const char *path, const ms_extract_limits_t *lim, ms_extract_result_t *out) {
    static int quiet;
    if (!quiet) {
        setMsgSeverity(L_SEVERITY_NONE); /* leptonica would print to stderr */
        quiet = 1;
    }
    l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
    if (pixReadHeader(path, &format, &w, &h, &bps, &spp, &cmap) != 0 || w <= 0 || h <= 0)
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                "the image is damaged or its format is not readable");
    out->width = w;
    out->height = h;
    int64_t pixels = (int64_t)w * (int64_t)h;
    if (pixels > lim->max_pixels || pixels * 4 > lim->max_bytes)
        return ms__extract_fail(out, MS_ETOOBIG, "image_too_large",
                                "the image is %d x %d pixels; at most %lld pixels are read "
                                "(extract_max_pixels)",
                                w, h, (long long)lim->max_pixels);
    PIX *pix = pixRead(path);
    if (!pix)
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                "the image could not be decoded");
    TessBaseAPI *api = TessBaseAPICreate();
    int rc = 0;
    if (TessBaseAPIInit3(api, NULL, "eng") != 0) {
        rc = ms__extract_fail(out, MS_EIO, "extract_failed",
                              "OCR is not available (tesseract English data missing)");
        goto done;
    }
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    TessBaseAPISetImage2(api, pix);
    ocr_run_t run = {.lim = lim, .last = -1, .monitor = TessMonitorCreate()};
    TessMonitorSetProgressFunc(run.monitor, on_progress);
    int64_t ms = lim->timeout_ms > 0x7fffffff ? 0x7fffffff : lim->timeout_ms;
    TessMonitorSetDeadlineMSecs(run.monitor, (int)ms);
    current = &run;
    ms__extract_progress(lim, &run.last, 0);
    int64_t t0 = ms_mono_ms();
    int rr = TessBaseAPIRecognize(api, run.monitor);
    current = NULL;
    TessMonitorDelete(run.monitor);
    if (rr != 0) {
        if (ms_mono_ms() - t0 >= ms)
            rc = ms__extract_fail(out, MS_ECANCELED, "timeout",
                                  "OCR took longer than %lld s (extract_timeout_s)",
                                  (long long)(lim->timeout_ms / 1000));
        else
            rc =
                ms__extract_fail(out, MS_EFORMAT, "extract_failed", "OCR could not read the image");
        goto done;
    }
    char *text = TessBaseAPIGetUTF8Text(api);
    if (text) {
        ms__extract_add(out, lim, 0, NULL, text, strlen(text));
        TessDeleteText(text);
    }
    ms__extract_progress(lim, &run.last, 100);
done:
    TessBaseAPIEnd(api);
    TessBaseAPIDelete(api);
    pixDestroy(&pix);
    return rc;
}
