/* PDF text with poppler-glib: the page count is checked against
 * extract_max_pages before any page is read (a PDF may claim millions),
 * then each page's text becomes a section labelled with its page number,
 * with the deadline checked between pages. */
#include "files/extract.h"

#include "core/ms.h"

#include <poppler.h>
#include <string.h>

/* Document info strings are UTF-8 from poppler-glib; empty ones count as
 * absent. */
static char *info_dup(gchar *s) {
    char *out = s && *s ? ms_xstrdup(s) : NULL;
    g_free(s);
    return out;
}

int ms__extract_pdf(const char *path, const ms_extract_limits_t *lim, ms_extract_result_t *out) {
    GError *err = NULL;
    gchar *uri = g_filename_to_uri(path, NULL, &err);
    if (!uri) {
        g_clear_error(&err);
        return ms__extract_fail(out, MS_EIO, "extract_failed", "the PDF could not be opened");
    }
    int64_t deadline = ms_mono_ms() + lim->timeout_ms;
    PopplerDocument *doc = poppler_document_new_from_file(uri, NULL, &err);
    g_free(uri);
    if (!doc) {
        int encrypted = err && err->domain == POPPLER_ERROR && err->code == POPPLER_ERROR_ENCRYPTED;
        g_clear_error(&err);
        if (encrypted)
            return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                    "the PDF is password-protected; attach an unprotected copy");
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                "the PDF is damaged or not a PDF");
    }
    int rc = 0;
    int n = poppler_document_get_n_pages(doc);
    out->pages = n;
    out->title = info_dup(poppler_document_get_title(doc));
    out->author = info_dup(poppler_document_get_author(doc));
    if (n <= 0) {
        rc = ms__extract_fail(out, MS_EFORMAT, "malformed_file", "the PDF has no pages");
        goto done;
    }
    if (n > lim->max_pages) {
        rc = ms__extract_fail(out, MS_ETOOBIG, "too_many_pages",
                              "the PDF has %d pages; at most %lld are read (extract_max_pages)", n,
                              (long long)lim->max_pages);
        goto done;
    }
    int last = -1;
    ms__extract_progress(lim, &last, 0);
    for (int i = 0; i < n; i++) {
        if (ms__extract_late(deadline)) {
            rc = ms__extract_fail(out, MS_ECANCELED, "timeout",
                                  "reading the PDF took longer than %lld s (extract_timeout_s); "
                                  "stopped at page %d of %d",
                                  (long long)(lim->timeout_ms / 1000), i + 1, n);
            goto done;
        }
        PopplerPage *page = poppler_document_get_page(doc, i);
        if (!page)
            continue;
        gchar *text = poppler_page_get_text(page);
        g_object_unref(page);
        int full = 0;
        if (text && *text) {
            full = ms__extract_add(out, lim, i + 1, NULL, text, strlen(text));
            if (!full)
                full = ms__extract_add(out, lim, i + 1, NULL, "\n", 1);
        }
        g_free(text);
        ms__extract_progress(lim, &last, (int)(100.0 * (i + 1) / n));
        if (full)
            break;
    }
done:
    g_object_unref(doc);
    return rc;
}
