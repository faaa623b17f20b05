/* Unit tests of src/files: content sniffing, the streaming multipart parser
 * at every split of its input, safe file names, the local blob store, text
 * and Markdown sections, passages, and the DOCX reader on packages built
 * here with libzip (structure, pages, headings, and hostile packages: a
 * zip bomb, a DOCTYPE, a nested archive, a missing part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "unit_util.h"

#include "core/buf.h"
#include "core/ms.h"
#include "files/blob.h"
#include "files/extract.h"
#include "files/files.h"
#include "files/multipart.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

/* ---- sniffing -------------------------------------------------------------- */

static ms_file_type_t sniff(const char *s, size_t n, int whole) {
    return ms_files_sniff((const unsigned char *)s, n, whole);
}

static void test_sniff_magic(void **state) {
    (void)state;
    assert_int_equal(sniff("%PDF-1.7\n...", 12, 1), MS_FILE_PDF);
    assert_int_equal(sniff("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, 1), MS_FILE_PNG);
    assert_int_equal(sniff("\xff\xd8\xff\xe0\0\x10JFIF", 10, 1), MS_FILE_JPEG);
    assert_int_equal(sniff("GIF89a\x01\0\x01\0", 10, 1), MS_FILE_GIF);
    assert_int_equal(sniff("GIF87a\x01\0\x01\0", 10, 1), MS_FILE_GIF);
    assert_int_equal(sniff("PK\x03\x04\x14\0", 6, 1), MS_FILE_ZIP);
    assert_int_equal(sniff("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0", 10, 1), MS_FILE_DOC);
    /* The name never matters: a PDF's bytes are a PDF, text is text. */
    assert_int_equal(sniff("MZ\x90\0\x03\0\0\0", 8, 1), MS_FILE_UNKNOWN);
    assert_int_equal(sniff("", 0, 1), MS_FILE_UNKNOWN);
    assert_false(ms_file_type_accepted(MS_FILE_DOC));
    assert_non_null(strstr(ms_file_type_refusal(MS_FILE_DOC), ".docx"));
    assert_false(ms_file_type_accepted(MS_FILE_ZIP));
    assert_false(ms_file_type_accepted(MS_FILE_UNKNOWN));
    assert_true(ms_file_type_accepted(MS_FILE_DOCX));
    assert_null(ms_file_type_refusal(MS_FILE_PDF));
    for (int t = 0; t < MS_FILE_TYPES; t++)
        assert_int_equal(ms_file_type_parse(ms_file_type_name((ms_file_type_t)t)), t);
    assert_string_equal(ms_file_type_mime(MS_FILE_PDF), "application/pdf");
}

static void test_sniff_text(void **state) {
    (void)state;
    const char *plain = "Discharge summary.\nThe patient was seen on the ward.\n";
    assert_int_equal(sniff(plain, strlen(plain), 1), MS_FILE_TEXT);
    const char *md = "# Plan\n\nReview in two weeks.\n";
    assert_int_equal(sniff(md, strlen(md), 1), MS_FILE_MARKDOWN);
    const char *list = "- aspirin\n- metoprolol\n";
    assert_int_equal(sniff(list, strlen(list), 1), MS_FILE_MARKDOWN);
    const char *link = "See [the guideline](https://example.org).\n";
    assert_int_equal(sniff(link, strlen(link), 1), MS_FILE_MARKDOWN);
    const char *bom = "\xef\xbb\xbfHello, caf\xc3\xa9.\n";
    assert_int_equal(sniff(bom, strlen(bom), 1), MS_FILE_TEXT);
    /* NUL bytes, invalid UTF-8, a control-character soup: not text. */
    assert_int_equal(sniff("abc\0def", 7, 1), MS_FILE_UNKNOWN);
    assert_int_equal(sniff("caf\xe9 au lait", 12, 1), MS_FILE_UNKNOWN);
    assert_int_equal(sniff("\x01\x02\x03\x04\x05 hello", 11, 1), MS_FILE_UNKNOWN);
    /* A sequence cut by the end of a partial sample is still text; as the
     * whole file it is not. */
    assert_int_equal(sniff("caf\xc3", 4, 0), MS_FILE_TEXT);
    assert_int_equal(sniff("caf\xc3", 4, 1), MS_FILE_UNKNOWN);
}

static void test_safe_name(void **state) {
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"report.pdf", "report.pdf"},
        {"C:\\Users\\ada\\scan 1.png", "scan 1.png"},
        {"../../etc/passwd", "passwd"},
        {"a\"b\\c\r\n\"d.txt", "cd.txt"}, /* '\\' is a separator; CR, LF, '"' dropped */
        {"\x01\x02notes.md", "notes.md"},
        {"..hidden", "hidden"},
        {"", "attachment"},
        {"///", "attachment"},
        {"caf\xc3\xa9 \xe7\xb3\x96.txt", "caf\xc3\xa9 \xe7\xb3\x96.txt"},
        {"bad\xff.txt", "bad\xef\xbf\xbd.txt"},
    };
    for (size_t i = 0; i < MS_COUNTOF(cases); i++) {
        char *s = ms_files_safe_name(cases[i].in);
        assert_string_equal(s, cases[i].out);
        free(s);
    }
    char longname[600];
    memset(longname, 0, sizeof longname);
    for (size_t i = 0; i < 199; i++) /* 398 bytes of 2-byte characters */
        snprintf(longname + 2 * i, sizeof longname - 2 * i, "\xc3\xa9");
    char *s = ms_files_safe_name(longname);
    assert_true(strlen(s) <= 255 && strlen(s) % 2 == 0);
    free(s);
}

/* ---- multipart ----------------------------------------------------------------- */

typedef struct {
    ms_buf_t log; /* "B(name|filename|type)" "D<data>" "E" */
    int parts;
} mp_rec_t;

static int rec_begin(void *ctx, const ms_mp_part_t *p) {
    mp_rec_t *r = ctx;
    ms_buf_printf(&r->log, "B(%s|%s|%s)", p->name, p->filename ? p->filename : "-",
                  p->content_type);
    r->parts++;
    return 0;
}

static int rec_data(void *ctx, const char *p, size_t n) {
    mp_rec_t *r = ctx;
    assert_true(n > 0);
    ms_buf_append(&r->log, p, n);
    return 0;
}

static int rec_end(void *ctx) {
    ms_buf_puts(&((mp_rec_t *)ctx)->log, "E");
    return 0;
}

static const ms_mp_callbacks_t rec_cbs = {rec_begin, rec_data, rec_end};

/* Feeds body split at the given points (sorted, in 0..n); returns the
 * feed/finish result and the log. */
static int parse_split(const char *boundary, const char *body, size_t n, const size_t *cuts,
                       size_t ncuts, char **log) {
    mp_rec_t r = {0};
    ms_buf_init(&r.log);
    ms_multipart_t *m = ms_multipart_new(boundary, &rec_cbs, &r);
    assert_non_null(m);
    size_t at = 0;
    int rc = 0;
    for (size_t i = 0; i <= ncuts && !rc; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        rc = ms_multipart_feed(m, body + at, end - at);
        at = end;
    }
    if (!rc)
        rc = ms_multipart_finish(m);
    ms_multipart_free(m);
    *log = ms_buf_take(&r.log);
    return rc;
}

/* A body with a preamble, a form field, a file whose content holds near
 * misses of the delimiter ("\r\n--", "\r\n--frontie", a bare "--frontier"
 * inside a line, CR and LF alone), transport padding and an epilogue. */
static const char BOUNDARY[] = "frontier";
static const char BODY[] =
    "This is the preamble.\r\n"
    "--frontier\r\n"
    "Content-Disposition: form-data; name=\"note\"\r\n"
    "\r\n"
    "hello\r\n"
    "--frontier  \t\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "line1\r\n--\r\n--frontie\r\nx--frontier\rA\nB\r\r\n\r\n"
    "\r\n"
    "--frontier--\r\n"
    "epilogue --frontier\r\n";
static const char EXPECT[] = "B(note|-|)helloE"
                             "B(file|a \"b\".txt|text/plain)"
                             "line1\r\n--\r\n--frontie\r\nx--frontier\rA\nB\r\r\n\r\nE";

static void test_multipart_every_split(void **state) {
    (void)state;
    size_t n = sizeof BODY - 1;
    char *log = NULL;
    assert_int_equal(parse_split(BOUNDARY, BODY, n, NULL, 0, &log), 0);
    assert_string_equal(log, EXPECT);
    free(log);
    /* Every single split point, and every pair of split points. */
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            size_t cuts[2] = {i, j};
            assert_int_equal(parse_split(BOUNDARY, BODY, n, cuts, 2, &log), 0);
            if (strcmp(log, EXPECT) != 0)
                fail_msg("split at %zu,%zu: %s", i, j, log);
            free(log);
        }
    }
    /* One byte at a time. */
    size_t *cuts = malloc(n * sizeof *cuts);
    for (size_t i = 0; i < n; i++)
        cuts[i] = i;
    assert_int_equal(parse_split(BOUNDARY, BODY, n, cuts, n, &log), 0);
    assert_string_equal(log, EXPECT);
    free(log);
    free(cuts);
}

static void test_multipart_shapes(void **state) {
    (void)state;
    char *log = NULL;
    /* No preamble, an empty part, filename* (RFC 8187) wins over filename. */
    const char *b1 = "--b\r\n"
                     "content-disposition: form-data; name=f; filename=\"x.txt\"; "
                     "filename*=UTF-8''caf%C3%A9.txt\r\n\r\n"
                     "\r\n--b--";
    assert_int_equal(parse_split("b", b1, strlen(b1), NULL, 0, &log), 0);
    assert_string_equal(log, "B(f|caf\xc3\xa9.txt|)E");
    free(log);
    /* A part with no headers at all. */
    const char *b2 = "--b\r\n\r\nraw\r\n--b--\r\n";
    assert_int_equal(parse_split("b", b2, strlen(b2), NULL, 0, &log), 0);
    assert_string_equal(log, "B(|-|)rawE");
    free(log);
    /* The boundary not after a CRLF, and a delimiter's prefix: content. */
    const char *b3 = "--bb\r\n\r\nx--bb\r\n--b\r\n\r\n--bb--";
    assert_int_equal(parse_split("bb", b3, strlen(b3), NULL, 0, &log), 0);
    assert_string_equal(log, "B(|-|)x--bb\r\n--b\r\nE");
    free(log);
}

static void test_multipart_refuses(void **state) {
    (void)state;
    char *log = NULL;
    const char *bad[] = {
        "no boundary anywhere",                   /* finish: no boundary */
        "--b\r\n\r\ncontent that never ends",     /* truncated */
        "--b\r\n\r\nx\r\n--b",                    /* ends right at a delimiter */
        "--bX\r\n\r\nx\r\n--b--",                 /* junk after the boundary */
        "--b\r\n\r\nx\r\n--b-x",                  /* one dash */
        "--b\r\nno colon here\r\n\r\nx\r\n--b--", /* bad header */
        "--b\r\n\r\nx\r\n--b\rQ",                 /* CR without LF */
    };
    for (size_t i = 0; i < MS_COUNTOF(bad); i++) {
        assert_int_equal(parse_split("b", bad[i], strlen(bad[i]), NULL, 0, &log), MS_EFORMAT);
        free(log);
    }
    /* A header block over MS_MP_MAX_HEADER_BYTES. */
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_puts(&b, "--b\r\nX-Long: ");
    for (int i = 0; i < MS_MP_MAX_HEADER_BYTES; i++)
        ms_buf_putc(&b, 'a');
    ms_buf_puts(&b, "\r\n\r\nx\r\n--b--");
    assert_int_equal(parse_split("b", b.data, b.len, NULL, 0, &log), MS_EFORMAT);
    free(log);
    ms_buf_free(&b);
    /* More than MS_MP_MAX_PARTS parts. */
    ms_buf_init(&b);
    for (int i = 0; i <= MS_MP_MAX_PARTS; i++)
        ms_buf_puts(&b, "--b\r\n\r\nx\r\n");
    ms_buf_puts(&b, "--b--");
    assert_int_equal(parse_split("b", b.data, b.len, NULL, 0, &log), MS_EFORMAT);
    free(log);
    ms_buf_free(&b);
    assert_null(ms_multipart_new("", &rec_cbs, NULL));
}

static void test_multipart_boundary(void **state) {
    (void)state;
    char b[MS_MP_MAX_BOUNDARY + 1];
    assert_int_equal(ms_multipart_boundary("multipart/form-data; boundary=abc123", b), 0);
    assert_string_equal(b, "abc123");
    assert_int_equal(
        ms_multipart_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\"", b), 0);
    assert_string_equal(b, "a b:c");
    assert_int_equal(ms_multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundary"
                                           "7MA4YWxkTrZu0gW",
                                           b),
                     0);
    /* A boundary one character over RFC 2046's 70. */
    char too_long[128] = "multipart/form-data; boundary=";
    size_t at = strlen(too_long);
    memset(too_long + at, 'b', MS_MP_MAX_BOUNDARY + 1);
    too_long[at + MS_MP_MAX_BOUNDARY + 1] = '\0';
    const char *bad[] = {
        NULL,
        "application/json",
        "multipart/mixed; boundary=x",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"trailing \"",
        "multipart/form-data; boundary=bad<char>",
        too_long,
    };
    for (size_t i = 0; i < MS_COUNTOF(bad); i++)
        assert_int_equal(ms_multipart_boundary(bad[i], b), MS_EINVAL);
}

/* ---- blobs ------------------------------------------------------------------------ */

static void test_blob_local(void **state) {
    (void)state;
    char dir[] = "/tmp/ms-blob-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ms_blob_store_t *bs = NULL;
    assert_int_equal(ms_blob_open(dir, &bs), 0);
    char key[MS_ID_LEN];
    ms_id_new(key);
    ms_blob_writer_t *w = NULL;
    assert_int_equal(ms_blob_create(bs, "../escape", &w), MS_EINVAL);
    assert_int_equal(ms_blob_create(bs, key, &w), 0);
    char *path = NULL;
    assert_int_equal(ms_blob_local_path(bs, key, &path), MS_ENOENT); /* not before commit */
    assert_int_equal(ms_blob_write(w, "hello ", 6), 0);
    assert_int_equal(ms_blob_write(w, "world", 5), 0);
    assert_int_equal(ms_blob_commit(w), 0);
    assert_int_equal(ms_blob_local_path(bs, key, &path), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    free(path);
    char *data = NULL;
    size_t n = 0;
    assert_int_equal(ms_blob_read(bs, key, 100, &data, &n), 0);
    assert_int_equal(n, 11);
    assert_memory_equal(data, "hello world", 11);
    free(data);
    assert_int_equal(ms_blob_read(bs, key, 5, &data, &n), MS_ETOOBIG);
    assert_int_equal(ms_blob_create(bs, key, &w), MS_EEXIST);
    assert_int_equal(ms_blob_remove(bs, key), 0);
    assert_int_equal(ms_blob_read(bs, key, 100, &data, &n), MS_ENOENT);
    assert_int_equal(ms_blob_remove(bs, key), 0);
    /* An aborted blob leaves nothing behind. */
    ms_id_new(key);
    assert_int_equal(ms_blob_create(bs, key, &w), 0);
    assert_int_equal(ms_blob_write(w, "x", 1), 0);
    ms_blob_abort(w);
    assert_int_equal(ms_blob_local_path(bs, key, &path), MS_ENOENT);
    assert_int_equal(ms_test_count_files(dir), 0);
    ms_blob_close(bs);
    assert_int_equal(ms_test_rm_rf(dir), 0);
}

/* ---- text, Markdown, passages ---------------------------------------------------- */

static const ms_extract_limits_t LIMITS = {.max_bytes = 1 << 20,
                                           .max_pages = 10,
                                           .max_pixels = 1 << 20,
                                           .timeout_ms = 60000,
                                           .max_text_bytes = 1 << 20};

static void test_text_sections(void **state) {
    (void)state;
    const char *md = "Intro line.\n# Allergies\nPenicillin: hives.\n## Plan ##\nReview.\n";
    ms_extract_result_t r;
    assert_int_equal(ms_extract_text_mem(md, strlen(md), 1, &LIMITS, &r), 0);
    assert_int_equal(r.nsections, 3);
    assert_null(r.sections[0].heading);
    assert_string_equal(r.sections[0].text, "Intro line.\n");
    assert_string_equal(r.sections[1].heading, "Allergies");
    assert_string_equal(r.sections[1].text, "# Allergies\nPenicillin: hives.\n");
    assert_string_equal(r.sections[2].heading, "Plan");
    ms_extract_result_free(&r);
    /* Plain text has no sections; the limit cuts at a character boundary. */
    ms_extract_limits_t small = LIMITS;
    small.max_text_bytes = 5;
    const char *t = "caf\xc3\xa9 and more";
    assert_int_equal(ms_extract_text_mem(t, strlen(t), 0, &small, &r), 0);
    assert_int_equal(r.nsections, 1);
    assert_string_equal(r.sections[0].text, "caf\xc3\xa9");
    assert_true(r.truncated);
    ms_extract_result_free(&r);
    assert_int_equal(ms_extract_text_mem("\xff", 1, 0, &LIMITS, &r), MS_EFORMAT);
    assert_string_equal(r.code, "malformed_file");
    ms_extract_result_free(&r);
}

static void test_passages(void **state) {
    (void)state;
    ms_buf_t b;
    ms_buf_init(&b);
    for (int i = 0; i < 40; i++)
        ms_buf_printf(&b, "Sentence number %d says something about \xc3\xa9tudes. ", i);
    ms_extract_result_t r;
    assert_int_equal(ms_extract_text_mem(b.data, b.len, 0, &LIMITS, &r), 0);
    ms_extract_passage_t *ps = NULL;
    size_t n = 0;
    ms_extract_passages(&r, 300, &ps, &n);
    assert_true(n > 5);
    ms_buf_t joined;
    ms_buf_init(&joined);
    for (size_t i = 0; i < n; i++) {
        assert_true(strlen(ps[i].text) <= 300);
        /* Cut after a sentence, never inside one or inside a character. */
        if (i + 1 < n)
            assert_int_equal(ps[i].text[strlen(ps[i].text) - 2], '.');
        ms_buf_puts(&joined, ps[i].text);
    }
    assert_string_equal(ms_buf_cstr(&joined), ms_buf_cstr(&b)); /* nothing lost */
    ms_extract_passages_free(ps, n);
    ms_extract_result_free(&r);
    ms_buf_free(&b);
    ms_buf_free(&joined);
}

/* ---- DOCX ------------------------------------------------------------------------- */

#define W_NS "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#define CT_XML                                                                                     \
    "<?xml version=\"1.0\"?><Types "                                                               \
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override "            \
    "PartName=\"/word/document.xml\" "                                                             \
    "ContentType=\"application/"                                                                   \
    "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"

/* A ZIP (built with libzip in a temporary file) of name/content pairs,
 * read back into memory. */
static char *make_zip(const char *const *entries, const size_t *lens, size_t n, size_t *size) {
    char path[] = "/tmp/ms-docx-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *src = zip_source_buffer(z, entries[2 * i + 1], lens[i], 0);
        assert_true(zip_file_add(z, entries[2 * i], src, ZIP_FL_OVERWRITE) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    char *data = malloc(*size);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    unlink(path);
    return data;
}

static int docx(const char *document_xml, size_t doc_len, const ms_extract_limits_t *lim,
                ms_extract_result_t *r) {
    const char *entries[] = {"[Content_Types].xml", CT_XML, "word/document.xml", document_xml};
    size_t lens[] = {strlen(CT_XML), doc_len ? doc_len : strlen(document_xml)};
    size_t n = 0;
    char *zip = make_zip(entries, lens, 2, &n);
    int rc = ms_extract_docx_mem(zip, n, lim, r);
    free(zip);
    return rc;
}

static void test_docx_structure(void **state) {
    (void)state;
    const char *xml =
        "<?xml version=\"1.0\"?><w:document xmlns:w=\"" W_NS "\"><w:body>"
        "<w:p><w:pPr><w:pStyle w:val=\"Title\"/></w:pPr><w:r><w:t>Clinic letter</w:t></w:r></w:p>"
        "<w:p><w:r><w:t xml:space=\"preserve\">Seen </w:t></w:r><w:r><w:t>today</w:t><w:tab/>"
        "<w:t>&amp; well.</w:t></w:r></w:p>"
        "<w:p><w:r><w:delText>deleted</w:delText><w:instrText>PAGE</w:instrText></w:r></w:p>"
        "<w:p><w:r><w:br w:type=\"page\"/></w:r></w:p>"
        "<w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>Plan</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Review renal function.</w:t><w:br/><w:t>Call if worse.</w:t></w:r></w:p>"
        "<w:p><w:r><w:lastRenderedPageBreak/><w:t>Third page.</w:t></w:r></w:p>"
        "<w:p/></w:body></w:document>";
    ms_extract_result_t r;
    assert_int_equal(docx(xml, 0, &LIMITS, &r), 0);
    assert_int_equal(r.pages, 3);
    ms_buf_t all;
    ms_buf_init(&all);
    for (size_t i = 0; i < r.nsections; i++)
        ms_buf_printf(&all, "[%d|%s]%s", r.sections[i].page,
                      r.sections[i].heading ? r.sections[i].heading : "-", r.sections[i].text);
    assert_string_equal(ms_buf_cstr(&all), "[1|Clinic letter]Clinic letter\nSeen today\t& well.\n"
                                           "\n\n[2|Clinic letter]\n"
                                           "[2|Plan]Plan\nReview renal function.\nCall if worse.\n"
                                           "[3|Plan]Third page.\n\n");
    ms_buf_free(&all);
    ms_extract_result_free(&r);
    /* Without page breaks there are no page numbers. */
    const char *flat = "<?xml version=\"1.0\"?><w:document xmlns:w=\"" W_NS "\"><w:body>"
                       "<w:p><w:r><w:t>One.</w:t></w:r></w:p></w:body></w:document>";
    assert_int_equal(docx(flat, 0, &LIMITS, &r), 0);
    assert_int_equal(r.pages, 0);
    assert_int_equal(r.nsections, 1);
    assert_int_equal(r.sections[0].page, 0);
    ms_extract_result_free(&r);
}

static void test_docx_hostile(void **state) {
    (void)state;
    ms_extract_result_t r;
    /* A zip bomb: 8 MiB of one character inflate from a few kilobytes. */
    size_t big = 8u << 20;
    char *bomb = malloc(big + 200);
    int h = snprintf(bomb, 200, "<?xml version=\"1.0\"?><w:document xmlns:w=\"" W_NS "\"><!--");
    memset(bomb + h, 'A', big);
    memcpy(bomb + h + big, "--></w:document>", 17);
    ms_extract_limits_t lim = LIMITS;
    lim.max_bytes = 1 << 20;
    assert_int_equal(docx(bomb, (size_t)h + big + 16, &lim, &r), MS_ETOOBIG);
    assert_string_equal(r.code, "decompressed_too_large");
    ms_extract_result_free(&r);
    free(bomb);
    /* A DOCTYPE (entity expansion is how XML bombs work): refused. */
    const char *laughs = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\">"
                         "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
                         "<w:document xmlns:w=\"" W_NS "\"><w:body><w:p><w:r><w:t>&b;</w:t>"
                         "</w:r></w:p></w:body></w:document>";
    assert_int_equal(docx(laughs, 0, &LIMITS, &r), MS_EFORMAT);
    assert_string_equal(r.code, "malformed_file");
    assert_non_null(strstr(r.message, "DOCTYPE"));
    ms_extract_result_free(&r);
    /* A nested archive where the document should be. */
    const char *inner[] = {"x.txt", "hello"};
    size_t inner_len[] = {5}, nz = 0;
    char *zip = make_zip(inner, inner_len, 1, &nz);
    assert_int_equal(docx(zip, nz, &LIMITS, &r), MS_EFORMAT);
    assert_string_equal(r.code, "malformed_file");
    ms_extract_result_free(&r);
    free(zip);
    /* Not XML, not a ZIP, no document part. */
    assert_int_equal(docx("<w:document><unclosed", 0, &LIMITS, &r), MS_EFORMAT);
    ms_extract_result_free(&r);
    assert_int_equal(ms_extract_docx_mem("PK\x03\x04garbage", 11, &LIMITS, &r), MS_EFORMAT);
    ms_extract_result_free(&r);
    const char *nodoc[] = {"[Content_Types].xml", CT_XML};
    size_t nodoc_len[] = {strlen(CT_XML)};
    zip = make_zip(nodoc, nodoc_len, 1, &nz);
    assert_int_equal(ms_extract_docx_mem(zip, nz, &LIMITS, &r), MS_EFORMAT);
    assert_non_null(strstr(r.message, "word/document.xml"));
    ms_extract_result_free(&r);
    free(zip);
    /* The text limit cuts a long document instead of failing it. */
    ms_extract_limits_t small = LIMITS;
    small.max_text_bytes = 10;
    const char *lng = "<?xml version=\"1.0\"?><w:document xmlns:w=\"" W_NS "\"><w:body>"
                      "<w:p><w:r><w:t>0123456789abcdef</w:t></w:r></w:p></w:body></w:document>";
    assert_int_equal(docx(lng, 0, &small, &r), 0);
    assert_true(r.truncated);
    assert_int_equal(r.chars, 10);
    ms_extract_result_free(&r);
}

static void test_docx_probe(void **state) {
    (void)state;
    const char *entries[] = {"[Content_Types].xml", CT_XML, "word/document.xml", "<x/>"};
    size_t lens[] = {strlen(CT_XML), 4}, n = 0;
    char *zip = make_zip(entries, lens, 2, &n);
    char path[] = "/tmp/ms-probe-XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, zip, n), (ssize_t)n);
    close(fd);
    assert_int_equal(ms_files_docx_probe(path), 1);
    free(zip);
    /* An .xlsx-like package: a ZIP, not a Word document. */
    const char *other[] = {"[Content_Types].xml", "<Types/>", "xl/workbook.xml", "<x/>"};
    size_t olens[] = {8, 4};
    zip = make_zip(other, olens, 2, &n);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, zip, n), (ssize_t)n);
    close(fd);
    assert_int_equal(ms_files_docx_probe(path), 0);
    free(zip);
    unlink(path);
}

/* ---- PDF ---------------------------------------------------------------------------- */

/* A PDF with one line of text on each of n pages (Helvetica, no font
 * file), written with exact xref offsets (ISO 32000-1 section 7.5.4). */
static char *make_pdf(int n, int claimed, const char *path) {
    ms_buf_t b, body;
    ms_buf_init(&b);
    int64_t *off = calloc(4 + 2 * (size_t)n, sizeof *off);
    ms_buf_puts(&b, "%PDF-1.4\n");
    int obj = 0;
#define OBJ(...)                                                                                   \
    do {                                                                                           \
        off[obj] = (int64_t)b.len;                                                                 \
        ms_buf_printf(&b, "%d 0 obj\n", ++obj);                                                    \
        ms_buf_printf(&b, __VA_ARGS__);                                                            \
        ms_buf_puts(&b, "\nendobj\n");                                                             \
    } while (0)
    OBJ("<< /Type /Catalog /Pages 2 0 R >>");
    ms_buf_init(&body);
    for (int i = 0; i < n; i++)
        ms_buf_printf(&body, "%d 0 R ", 4 + 2 * i);
    OBJ("<< /Type /Pages /Kids [%s] /Count %d >>", ms_buf_cstr(&body), claimed ? claimed : n);
    OBJ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    for (int i = 0; i < n; i++) {
        char text[128];
        int len = snprintf(text, sizeof text, "BT /F1 12 Tf 72 720 Td (Page %d says hello.) Tj ET",
                           i + 1);
        OBJ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 "
            "R >> >> /Contents %d 0 R >>",
            5 + 2 * i);
        OBJ("<< /Length %d >>\nstream\n%s\nendstream", len, text);
    }
#undef OBJ
    int64_t xref = (int64_t)b.len;
    ms_buf_printf(&b, "xref\n0 %d\n0000000000 65535 f \n", obj + 1);
    for (int i = 0; i < obj; i++)
        ms_buf_printf(&b, "%010lld 00000 n \n", (long long)off[i]);
    ms_buf_printf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%lld\n%%%%EOF\n", obj + 1,
                  (long long)xref);
    FILE *f = fopen(path, "wb");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    free(off);
    ms_buf_free(&body);
    return ms_buf_take(&b);
}

typedef struct {
    int calls, last, backwards;
} progress_t;

static void on_progress(void *ctx, int pct) {
    progress_t *p = ctx;
    p->backwards |= pct < p->last;
    p->last = pct;
    p->calls++;
}

static void test_pdf_pages_progress_limits(void **state) {
    (void)state;
    char path[] = "/tmp/ms-pdf-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    free(make_pdf(12, 0, path));
    progress_t pr = {0};
    ms_extract_limits_t lim = LIMITS;
    lim.max_pages = 20;
    lim.progress = on_progress;
    lim.ctx = &pr;
    ms_extract_result_t r;
    assert_int_equal(ms_extract_file(MS_FILE_PDF, path, &lim, &r), 0);
    assert_int_equal(r.pages, 12);
    assert_int_equal(r.nsections, 12);
    for (size_t i = 0; i < r.nsections; i++) {
        char want[64];
        snprintf(want, sizeof want, "Page %zu says hello.", i + 1);
        assert_int_equal(r.sections[i].page, (int)i + 1);
        assert_non_null(strstr(r.sections[i].text, want));
    }
    assert_true(pr.calls >= 12 && pr.last == 100 && !pr.backwards);
    ms_extract_result_free(&r);
    /* Over extract_max_pages: refused before any page is read. */
    lim.max_pages = 5;
    pr = (progress_t){0};
    assert_int_equal(ms_extract_file(MS_FILE_PDF, path, &lim, &r), MS_ETOOBIG);
    assert_string_equal(r.code, "too_many_pages");
    assert_non_null(strstr(r.message, "12 pages"));
    assert_int_equal(pr.calls, 0);
    ms_extract_result_free(&r);
    /* Text limit: cut, not failed. */
    lim.max_pages = 20;
    lim.max_text_bytes = 30;
    lim.progress = NULL;
    assert_int_equal(ms_extract_file(MS_FILE_PDF, path, &lim, &r), 0);
    assert_true(r.truncated && r.chars <= 30);
    ms_extract_result_free(&r);
    /* Damaged: a clear error. */
    FILE *f = fopen(path, "wb");
    fputs("%PDF-1.4\nthis is not a PDF at all\n", f);
    fclose(f);
    assert_int_equal(ms_extract_file(MS_FILE_PDF, path, &LIMITS, &r), MS_EFORMAT);
    assert_string_equal(r.code, "malformed_file");
    ms_extract_result_free(&r);
    /* Types that are not extracted say why. */
    assert_int_equal(ms_extract_file(MS_FILE_DOC, path, &LIMITS, &r), MS_EINVAL);
    assert_string_equal(r.code, "unsupported_type");
    ms_extract_result_free(&r);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_magic),        cmocka_unit_test(test_sniff_text),
        cmocka_unit_test(test_safe_name),          cmocka_unit_test(test_multipart_every_split),
        cmocka_unit_test(test_multipart_shapes),   cmocka_unit_test(test_multipart_refuses),
        cmocka_unit_test(test_multipart_boundary), cmocka_unit_test(test_blob_local),
        cmocka_unit_test(test_text_sections),      cmocka_unit_test(test_passages),
        cmocka_unit_test(test_docx_structure),     cmocka_unit_test(test_docx_hostile),
        cmocka_unit_test(test_docx_probe),         cmocka_unit_test(test_pdf_pages_progress_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
