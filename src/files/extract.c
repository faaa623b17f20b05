/* Extraction dispatch, the result's sections, passages, and the text and
 * Markdown reader (extract.h). */
#include "files/extract.h"

#include "core/buf.h"
#include "core/ms.h"
#include "core/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ms__extract_fail(ms_extract_result_t *r, int rc, const char *code, const char *fmt, ...) {
    snprintf(r->code, sizeof r->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return rc;
}

int ms__extract_late(int64_t deadline) {
    return ms_mono_ms() > deadline;
}

void ms__extract_progress(const ms_extract_limits_t *lim, int *last, int percent) {
    percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
    if (lim->progress && percent != *last) {
        *last = percent;
        lim->progress(lim->ctx, percent);
    }
}

static int same(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int ms__extract_add(ms_extract_result_t *r, const ms_extract_limits_t *lim, int page,
                    const char *heading, const char *text, size_t n) {
    if (r->truncated)
        return 1;
    int cut = 0;
    if (lim->max_text_bytes > 0 && r->chars + (int64_t)n > lim->max_text_bytes) {
        n = ms_utf8_floor(text, n, (size_t)(lim->max_text_bytes - r->chars));
        cut = 1;
    }
    if (n > 0) {
        ms_extract_section_t *last = r->nsections ? &r->sections[r->nsections - 1] : NULL;
        if (last && last->page == page && same(last->heading, heading)) {
            size_t old = strlen(last->text);
            last->text = ms_xrealloc(last->text, old + n + 1);
            memcpy(last->text + old, text, n);
            last->text[old + n] = '\0';
        } else {
            /* No array yet means none is allocated, whatever cap says. */
            if (!r->sections || r->nsections == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 16;
                r->sections = ms_xrealloc(r->sections, r->cap * sizeof *r->sections);
            }
            ms_extract_section_t *s = &r->sections[r->nsections++];
            s->page = page;
            s->heading = heading ? ms_xstrdup(heading) : NULL;
            s->text = ms_xstrndup(text, n);
        }
        r->chars += (int64_t)n;
    }
    if (cut)
        r->truncated = 1;
    return cut;
}

void ms_extract_result_free(ms_extract_result_t *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->nsections; i++) {
        free(r->sections[i].heading);
        free(r->sections[i].text);
    }
    free(r->sections);
    free(r->title);
    free(r->author);
    r->sections = NULL;
    r->nsections = r->cap = 0;
    r->title = r->author = NULL;
}

/* ---- text and Markdown ----------------------------------------------------- */

/* A Markdown ATX heading line ("## Dosing") gives its text, else NULL. */
static char *atx_heading(const char *l, size_t len) {
    size_t h = 0;
    while (h < len && h < 6 && l[h] == '#')
        h++;
    if (h == 0 || h >= len || l[h] != ' ')
        return NULL;
    size_t s = h, e = len;
    while (s < e && l[s] == ' ')
        s++;
    while (e > s && (l[e - 1] == ' ' || l[e - 1] == '#' || l[e - 1] == '\r'))
        e--;
    return e > s ? ms_xstrndup(l + s, e - s) : NULL;
}

int ms_extract_text_mem(const char *data, size_t n, int markdown, const ms_extract_limits_t *lim,
                        ms_extract_result_t *out) {
    memset(out, 0, sizeof *out);
    if (n >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
        data += 3;
        n -= 3;
    }
    if (!ms_utf8_valid(data, n))
        return ms__extract_fail(out, MS_EFORMAT, "malformed_file", "the text is not valid UTF-8");
    int last = -1;
    char *heading = NULL;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && data[e] != '\n')
            e++;
        size_t len = e - i + (e < n);
        char *h = markdown ? atx_heading(data + i, e - i) : NULL;
        if (h) {
            free(heading);
            heading = h;
        }
        if (ms__extract_add(out, lim, 0, heading, data + i, len))
            break;
        i = e + 1;
        ms__extract_progress(lim, &last, (int)(100.0 * (double)i / (double)n));
    }
    free(heading);
    ms__extract_progress(lim, &last, 100);
    return 0;
}

/* Reads a whole (small) file: text files are bounded by the upload limit. */
static int read_file(const char *path, int64_t max, char **data, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return MS_EIO;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size > max) {
        fclose(f);
        return MS_ETOOBIG;
    }
    *data = ms_xmalloc((size_t)sb.st_size + 1);
    *n = fread(*data, 1, (size_t)sb.st_size, f);
    fclose(f);
    return 0;
}

int ms_extract_file(ms_file_type_t type, const char *path, const ms_extract_limits_t *lim,
                    ms_extract_result_t *out) {
    memset(out, 0, sizeof *out);
    switch (type) {
    case MS_FILE_PDF:
        return ms__extract_pdf(path, lim, out);
    case MS_FILE_DOCX:
        return ms__extract_docx_file(path, lim, out);
    case MS_FILE_PNG:
    case MS_FILE_JPEG:
    case MS_FILE_GIF:
        return ms__extract_image(path, lim, out);
    case MS_FILE_TEXT:
    case MS_FILE_MARKDOWN: {
        char *data = NULL;
        size_t n = 0;
        int64_t max = lim->max_bytes > 0 ? lim->max_bytes : INT64_MAX;
        int rc = read_file(path, max, &data, &n);
        if (rc)
            return ms__extract_fail(out, rc,
                                    rc == MS_ETOOBIG ? "decompressed_too_large" : "extract_failed",
                                    "the text file could not be read");
        rc = ms_extract_text_mem(data, n, type == MS_FILE_MARKDOWN, lim, out);
        free(data);
        return rc;
    }
    default:
        return ms__extract_fail(out, MS_EINVAL, "unsupported_type", "%s",
                                ms_file_type_refusal(type) ? ms_file_type_refusal(type)
                                                           : "this type is not extracted");
    }
}

/* ---- passages --------------------------------------------------------------- */

/* The cut point for a piece of s[0..n) of at most max bytes: the last
 * paragraph break, else sentence end, else space, else a character
 * boundary, in the second half of the window. */
static size_t cut_at(const char *s, size_t n, size_t max) {
    if (n <= max)
        return n;
    size_t lo = max / 2;
    for (size_t i = max; i > lo; i--)
        if (s[i - 1] == '\n' && s[i - 2] == '\n')
            return i;
    for (size_t i = max; i > lo; i--)
        if ((s[i - 1] == ' ' || s[i - 1] == '\n') &&
            (s[i - 2] == '.' || s[i - 2] == '?' || s[i - 2] == '!'))
            return i;
    for (size_t i = max; i > lo; i--)
        if (s[i - 1] == ' ' || s[i - 1] == '\n')
            return i;
    return ms_utf8_floor(s, n, max);
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t' && s[i] != '\f')
            return 0;
    return 1;
}

void ms_extract_passages(const ms_extract_result_t *r, size_t max_bytes, ms_extract_passage_t **out,
                         size_t *n) {
    size_t cap = 16, k = 0;
    ms_extract_passage_t *p = ms_xcalloc(cap, sizeof *p);
    if (max_bytes < 64)
        max_bytes = 64;
    for (size_t i = 0; i < r->nsections; i++) {
        const char *s = r->sections[i].text;
        size_t len = strlen(s);
        while (len > 0) {
            size_t c = cut_at(s, len, max_bytes);
            if (c == 0)
                c = len < max_bytes ? len : max_bytes; /* cannot happen on valid UTF-8 */
            if (!blank(s, c)) {
                if (k == cap) {
                    cap *= 2;
                    p = ms_xrealloc(p, cap * sizeof *p);
                }
                p[k].page = r->sections[i].page;
                p[k].heading = r->sections[i].heading;
                p[k].text = ms_xstrndup(s, c);
                k++;
            }
            s += c;
            len -= c;
        }
    }
    *out = p;
    *n = k;
}

void ms_extract_passages_free(ms_extract_passage_t *p, size_t n) {
    for (size_t i = 0; p && i < n; i++)
        free(p[i].text);
    free(p);
}
