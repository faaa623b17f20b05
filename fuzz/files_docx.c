/* libFuzzer target: the DOCX reader (src/files/extract_docx.c) under small
 * limits. Byte 0 picks the mode: odd, the rest is the package itself (any
 * bytes as a ZIP); even, the rest is word/document.xml, packed here into a
 * valid package with libzip, so that mutations reach the XML walker
 * instead of dying at the ZIP checksums.
 *
 * The reader promises: never a crash, a hang or unbounded memory whatever
 * the package (zip bombs, lying sizes, damaged deflate streams, XML with a
 * DOCTYPE, endless paragraphs); a result code in its documented set with
 * a code and a message on failure; no more text than max_text_bytes; and
 * every section's text valid UTF-8 with its page within the pages seen.
 *
 * Built by `make fuzz` (fuzz/CMakeLists.txt); or by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     fuzz/files_docx.c src/files/extract_docx.c src/files/extract.c \
 *     src/files/sniff.c src/core/ms.c src/core/buf.c src/core/utf8.c \
 *     $(pkg-config --cflags --libs libzip libxml-2.0 jansson libsodium libuv) \
 *     -o fuzz_files_docx
 *     -DFZ_STUB_READERS
 * (FZ_STUB_READERS stubs the PDF and OCR readers that extract.c refers to,
 * so the target needs neither poppler nor tesseract.)
 * With the fuzz infrastructure (MS_FUZZ):
 *   ms_fuzz(files_docx files_docx.c LIBS ms_files) */
#include "files/extract.h"

#include "core/ms.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#ifdef FZ_STUB_READERS
int ms__extract_pdf(const char *path, const ms_extract_limits_t *lim, ms_extract_result_t *out) {
    (void)path, (void)lim;
    return ms__extract_fail(out, MS_EINVAL, "unsupported_type", "not in this target");
}
int ms__extract_image(const char *path, const ms_extract_limits_t *lim, ms_extract_result_t *out) {
    (void)path, (void)lim;
    return ms__extract_fail(out, MS_EINVAL, "unsupported_type", "not in this target");
}
#endif

/* A DOCX package around xml (as word/document.xml), malloc'd into *out. */
static int pack(const uint8_t *xml, size_t n, void **out, size_t *outlen) {
    static const char ct[] =
        "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/"
        "content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/"
        "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *buf = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *z = buf ? zip_open_from_source(buf, ZIP_TRUNCATE, &ze) : NULL;
    zip_error_fini(&ze);
    if (!z)
        abort();
    zip_source_keep(buf);
    zip_file_add(z, "[Content_Types].xml", zip_source_buffer(z, ct, sizeof ct - 1, 0), 0);
    zip_file_add(z, "word/document.xml", zip_source_buffer(z, xml, n, 0), 0);
    if (zip_close(z) != 0)
        abort();
    zip_stat_t st;
    if (zip_source_stat(buf, &st) != 0 || zip_source_open(buf) != 0)
        abort();
    *outlen = (size_t)st.size;
    *out = malloc(*outlen ? *outlen : 1);
    if (zip_source_read(buf, *out, *outlen) != (zip_int64_t)*outlen)
        abort();
    zip_source_close(buf);
    zip_source_free(buf);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    void *pkg = NULL;
    size_t pkglen = 0;
    if (data[0] & 1) {
        pkg = malloc(size - 1 ? size - 1 : 1);
        memcpy(pkg, data + 1, size - 1);
        pkglen = size - 1;
    } else {
        pack(data + 1, size - 1, &pkg, &pkglen);
    }
    const ms_extract_limits_t lim = {.max_bytes = 1 << 20,
                                     .max_pages = 100,
                                     .max_pixels = 1 << 20,
                                     .timeout_ms = 10000,
                                     .max_text_bytes = 64 * 1024};
    ms_extract_result_t r;
    int rc = ms_extract_docx_mem(pkg, pkglen, &lim, &r);
    if (rc != 0 && rc != MS_EFORMAT && rc != MS_ETOOBIG && rc != MS_ECANCELED && rc != MS_EIO)
        abort();
    if (rc != 0 && (!r.code[0] || !r.message[0]))
        abort(); /* a failure without its reason */
    if (r.chars > lim.max_text_bytes)
        abort();
    int64_t total = 0;
    for (size_t i = 0; i < r.nsections; i++) {
        const ms_extract_section_t *s = &r.sections[i];
        size_t n = strlen(s->text);
        total += (int64_t)n;
        if (!ms_utf8_valid(s->text, n) || s->page < 0 || s->page > (r.pages ? r.pages : 1))
            abort();
        if (s->heading && !ms_utf8_valid(s->heading, strlen(s->heading)))
            abort();
    }
    if (total != r.chars)
        abort();
    ms_extract_result_free(&r);
    free(pkg);
    return 0;
}
