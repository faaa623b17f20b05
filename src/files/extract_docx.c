/* DOCX text with libzip and libxml2 (ECMA-376 part 1, WordprocessingML).
 *
 * Only word/document.xml is read, through libxml2's streaming reader fed
 * straight from libzip's inflater, so neither the archive nor the XML is
 * ever whole in memory, and every decompressed byte is counted against
 * extract_max_bytes (a zip bomb stops there, whatever its headers claim).
 * Embedded objects and nested archives are never opened. The XML may not
 * carry a DOCTYPE (WordprocessingML has none), entities are not
 * substituted and the network is never used (XML_PARSE_NONET).
 *
 * Text: w:t runs, w:tab as a tab, w:br and paragraph ends as newlines.
 * Paragraphs styled Title or Heading1..9 start a section. Pages come from
 * explicit page breaks (w:br w:type="page") and the breaks Word recorded
 * when it last laid the document out (w:lastRenderedPageBreak); a document
 * without either has no page numbers. */
#include "files/extract.h"

#include "core/buf.h"
#include "core/ms.h"
#include "core/utf8.h"

#include <libxml/xmlreader.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* More entries than any real document has (Word writes a few dozen). */
#define DOCX_MAX_ENTRIES 10000

typedef struct {
    zip_file_t *f;
    int64_t read, limit, declared;
    int over;  /* the limit was reached */
    int error; /* libzip failed (damaged data, bad CRC) */
    const ms_extract_limits_t *lim;
    int *last;
} zin_t;

static int zin_read(void *ctx, char *buf, int len) {
    zin_t *z = ctx;
    zip_int64_t n = zip_fread(z->f, buf, (zip_uint64_t)len);
    if (n < 0) {
        z->error = 1;
        return -1;
    }
    z->read += n;
    if (z->read > z->limit) {
        z->over = 1;
        return -1;
    }
    if (z->declared > 0)
        ms__extract_progress(z->lim, z->last, (int)(95.0 * (double)z->read / (double)z->declared));
    return (int)n;
}

static int zin_close(void *ctx) {
    (void)ctx;
    return 0;
}

static void quiet_errors(void *ctx, const char *msg, ...) {
    (void)ctx;
    (void)msg;
}

/* What the walk over document.xml is doing. */
typedef struct {
    ms_extract_result_t *out;
    const ms_extract_limits_t *lim;
    ms_buf_t para;  /* the current paragraph's text */
    char *heading;  /* the current section heading */
    int is_heading; /* the current paragraph is styled as a heading */
    int page;       /* 0 until the first page break, then 1-based */
    int break_owed; /* an explicit break was counted; Word's next rendered break is the same */
    int full;       /* max_text_bytes reached */
} walk_t;

static int is_w(xmlTextReaderPtr r, const char *name) {
    const xmlChar *ln = xmlTextReaderConstLocalName(r);
    return ln && !strcmp((const char *)ln, name);
}

static char *attr_w(xmlTextReaderPtr r, const char *name) {
    /* w:val, w:type: the WordprocessingML namespace's attributes. */
    xmlChar *v = xmlTextReaderGetAttributeNs(
        r, (const xmlChar *)name,
        (const xmlChar *)"http://schemas.openxmlformats.org/wordprocessingml/2006/main");
    if (!v)
        return NULL;
    char *s = ms_xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

static void new_page(walk_t *w) {
    if (w->page == 0) {
        /* The document has page breaks after all: what came before is page 1. */
        for (size_t i = 0; i < w->out->nsections; i++)
            if (w->out->sections[i].page == 0)
                w->out->sections[i].page = 1;
        w->page = 1;
    }
    w->page++;
    w->out->pages = w->page;
}

static void end_paragraph(walk_t *w) {
    if (w->is_heading && w->para.len) {
        size_t n = w->para.len;
        while (n && (w->para.data[n - 1] == '\n' || w->para.data[n - 1] == ' '))
            n--;
        if (n) {
            free(w->heading);
            w->heading = ms_xstrndup(w->para.data, ms_utf8_floor(w->para.data, n, 200));
        }
    }
    ms_buf_putc(&w->para, '\n');
    if (!w->full)
        w->full = ms__extract_add(w->out, w->lim, w->page, w->heading, w->para.data, w->para.len);
    ms_buf_reset(&w->para);
    w->is_heading = 0;
}

static void on_element(walk_t *w, xmlTextReaderPtr r) {
    if (is_w(r, "p")) {
        ms_buf_reset(&w->para);
        w->is_heading = 0;
        if (xmlTextReaderIsEmptyElement(r))
            end_paragraph(w);
    } else if (is_w(r, "pStyle")) {
        char *v = attr_w(r, "val");
        w->is_heading = v && (!strncmp(v, "Heading", 7) || !strcmp(v, "Title"));
        free(v);
    } else if (is_w(r, "tab")) {
        ms_buf_putc(&w->para, '\t');
    } else if (is_w(r, "br") || is_w(r, "cr")) {
        char *type = attr_w(r, "type");
        if (type && !strcmp(type, "page")) {
            end_paragraph(w);
            new_page(w);
            w->break_owed = 1;
        } else {
            ms_buf_putc(&w->para, '\n');
        }
        free(type);
    } else if (is_w(r, "lastRenderedPageBreak")) {
        if (w->break_owed)
            w->break_owed = 0;
        else if (w->para.len || w->out->nsections) {
            /* The text before the break stays on the page it was on. */
            if (w->para.len) {
                int h = w->is_heading;
                end_paragraph(w);
                w->is_heading = h;
            }
            new_page(w);
        }
    }
}

/* The text nodes of w:t elements (depth tells when we are inside one). */
static int walk(walk_t *w, xmlTextReaderPtr r, int64_t deadline, int *timed_out) {
    int in_t = -1, rc;
    unsigned long nodes = 0;
    while ((rc = xmlTextReaderRead(r)) == 1) {
        if ((++nodes & 1023) == 0 && ms__extract_late(deadline)) {
            *timed_out = 1;
            return -1;
        }
        int type = xmlTextReaderNodeType(r);
        int depth = xmlTextReaderDepth(r);
        switch (type) {
        case XML_READER_TYPE_DOCUMENT_TYPE:
            return -2;
        case XML_READER_TYPE_ELEMENT:
            if (is_w(r, "t") && !xmlTextReaderIsEmptyElement(r))
                in_t = depth;
            else
                on_element(w, r);
            break;
        case XML_READER_TYPE_END_ELEMENT:
            if (in_t >= 0 && depth == in_t)
                in_t = -1;
            else if (is_w(r, "p"))
                end_paragraph(w);
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
        case XML_READER_TYPE_CDATA:
            if (in_t >= 0) {
                const xmlChar *v = xmlTextReaderConstValue(r);
                if (v)
                    ms_buf_puts(&w->para, (const char *)v);
                w->break_owed = 0;
            }
            break;
        default:
            break;
        }
        if (w->full)
            return 0;
        /* A paragraph without an end (hostile input) is bounded too. */
        if ((int64_t)w->para.len > w->lim->max_text_bytes) {
            end_paragraph(w);
            return 0;
        }
    }
    return rc == 0 ? 0 : -1;
}

/* Title and author from docProps/core.xml (Dublin Core), when present. */
static void core_props(zip_t *z, ms_extract_result_t *out) {
    zip_file_t *f = zip_fopen(z, "docProps/core.xml", 0);
    if (!f)
        return;
    char buf[65536];
    zip_int64_t got = 0, n;
    while (got < (zip_int64_t)sizeof buf - 1 &&
           (n = zip_fread(f, buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += n;
    zip_fclose(f);
    xmlTextReaderPtr r = xmlReaderForMemory(
        buf, (int)got, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!r)
        return;
    char **target = NULL;
    while (xmlTextReaderRead(r) == 1) {
        int type = xmlTextReaderNodeType(r);
        if (type == XML_READER_TYPE_DOCUMENT_TYPE)
            break;
        if (type == XML_READER_TYPE_ELEMENT)
            target = is_w(r, "title") ? &out->title : is_w(r, "creator") ? &out->author : NULL;
        else if (type == XML_READER_TYPE_END_ELEMENT)
            target = NULL;
        else if (type == XML_READER_TYPE_TEXT && target && !*target) {
            const xmlChar *v = xmlTextReaderConstValue(r);
            if (v && *v) {
                size_t n = strlen((const char *)v);
                *target = ms_xstrndup((const char *)v, ms_utf8_floor((const char *)v, n, 500));
            }
        }
    }
    xmlFreeTextReader(r);
}

/* The package checks, then the walk over word/document.xml. */
static int read_package(zip_t *z, const ms_extract_limits_t *lim, ms_extract_result_t *out) {
    zip_int64_t entries = zip_get_num_entries(z, 0);
    if (entries < 0 || entries > DOCX_MAX_ENTRIES)
        return ms__extract_fail(out, MS_ETOOBIG, "malformed_file",
                                "the document has too many parts (more than %d)", DOCX_MAX_ENTRIES);
    /* What the archive says it expands to: a bomb is refused before any of
     * it is inflated (and the real count below stops a lying one). */
    int64_t declared = 0, doc_size = 0;
    for (zip_int64_t i = 0; i < entries; i++) {
        zip_stat_t sb;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &sb) != 0 || !(sb.valid & ZIP_STAT_SIZE))
            continue;
        declared += sb.size > (zip_uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)sb.size;
        if (declared > lim->max_bytes)
            return ms__extract_fail(out, MS_ETOOBIG, "decompressed_too_large",
                                    "the document expands to more than %lld bytes "
                                    "(extract_max_bytes): refused as a possible zip bomb",
                                    (long long)lim->max_bytes);
        if ((sb.valid & ZIP_STAT_NAME) && !strcmp(sb.name, "word/document.xml"))
            doc_size = (int64_t)sb.size;
    }
    zip_file_t *f = zip_fopen(z, "word/document.xml", 0);
    if (!f)
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                "the document has no readable word/document.xml");
    core_props(z, out);
    int last = -1;
    zin_t in = {.f = f, .limit = lim->max_bytes, .declared = doc_size, .lim = lim, .last = &last};
    xmlTextReaderPtr r = xmlReaderForIO(zin_read, zin_close, &in, NULL, NULL,
                                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                            XML_PARSE_NOCDATA);
    if (!r) {
        zip_fclose(f);
        return ms__extract_fail(out, MS_EIO, "extract_failed", "the XML reader could not start");
    }
    walk_t w = {.out = out, .lim = lim};
    ms_buf_init(&w.para);
    int timed_out = 0;
    int64_t deadline = ms_mono_ms() + lim->timeout_ms;
    int wr = walk(&w, r, deadline, &timed_out);
    xmlFreeTextReader(r);
    zip_fclose(f);
    ms_buf_free(&w.para);
    free(w.heading);
    if (in.over)
        return ms__extract_fail(out, MS_ETOOBIG, "decompressed_too_large",
                                "word/document.xml expands to more than %lld bytes "
                                "(extract_max_bytes)",
                                (long long)lim->max_bytes);
    if (timed_out)
        return ms__extract_fail(out, MS_ECANCELED, "timeout",
                                "reading the document took longer than %lld s (extract_timeout_s)",
                                (long long)(lim->timeout_ms / 1000));
    if (wr == -2)
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                "word/document.xml has a DOCTYPE, which Word documents never have");
    if (wr != 0 || in.error)
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                "word/document.xml is damaged or not XML");
    ms__extract_progress(lim, &last, 100);
    return 0;
}

static int open_and_read(zip_source_t *src, const ms_extract_limits_t *lim,
                         ms_extract_result_t *out) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_t *z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    zip_error_fini(&ze);
    if (!z) {
        zip_source_free(src);
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file",
                                "the document is not a valid ZIP package");
    }
    int rc = read_package(z, lim, out);
    zip_discard(z);
    return rc;
}

int ms_extract_docx_mem(const void *data, size_t n, const ms_extract_limits_t *lim,
                        ms_extract_result_t *out) {
    memset(out, 0, sizeof *out);
    (void)xmlSetGenericErrorFunc(NULL, quiet_errors);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, n, 0, &ze);
    zip_error_fini(&ze);
    if (!src)
        return ms__extract_fail(out, MS_EIO, "extract_failed", "the document could not be read");
    return open_and_read(src, lim, out);
}

int ms__extract_docx_file(const char *path, const ms_extract_limits_t *lim,
                          ms_extract_result_t *out) {
    (void)xmlSetGenericErrorFunc(NULL, quiet_errors);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_file_create(path, 0, -1, &ze);
    zip_error_fini(&ze);
    if (!src)
        return ms__extract_fail(out, MS_EIO, "extract_failed", "the document could not be read");
    return open_and_read(src, lim, out);
}
