/* Plain text and Markdown import: one document per file, split into
 * passages at headings (ATX "# Title" and setext "Title\n=====") and, within
 * a section, at paragraph breaks once a passage holds about KB_TEXT_TARGET
 * bytes, so that each passage is small enough to be a precise citation and
 * large enough to carry context. The document id is "file:" plus the real
 * path, so re-importing a file replaces its passages however the path was
 * spelt. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define KB_TEXT_TARGET 1200
#define KB_TEXT_MAX 4000
#define KB_TEXT_MAX_FILE (64u << 20)

typedef struct {
    char *title; /* heading of the section */
    char *text;
} tx_passage_t;

typedef struct {
    tx_passage_t *v;
    size_t n;
    char *heading; /* current section heading, or NULL */
    ms_buf_t cur;  /* the passage being filled */
    ms_buf_t para; /* the paragraph being filled */
} tx_state_t;

static void flush_passage(tx_state_t *s) {
    char *text = ms_kb__clean_text(s->cur.data ? s->cur.data : "", s->cur.len);
    ms_buf_reset(&s->cur);
    if (!*text) {
        free(text);
        return;
    }
    s->v = ms_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n].title = s->heading ? ms_xstrdup(s->heading) : NULL;
    s->v[s->n].text = text;
    s->n++;
}

/* Moves the paragraph into the passage; an over-long paragraph is cut at
 * a space near KB_TEXT_MAX. */
static void flush_para(tx_state_t *s) {
    const char *p = s->para.data ? s->para.data : "";
    size_t n = s->para.len;
    while (n > 0) {
        size_t take = n;
        if (take > KB_TEXT_MAX) {
            take = KB_TEXT_MAX;
            while (take > KB_TEXT_MAX / 2 && p[take] != ' ')
                take--;
            /* No space near the limit (CJK text, a URL): cut between code
             * points, never inside one. */
            while (take > 1 && ((unsigned char)p[take] & 0xc0) == 0x80)
                take--;
        }
        if (s->cur.len && s->cur.len + take > KB_TEXT_MAX)
            flush_passage(s);
        if (s->cur.len)
            ms_buf_puts(&s->cur, "\n\n");
        ms_buf_append(&s->cur, p, take);
        if (s->cur.len >= KB_TEXT_TARGET)
            flush_passage(s);
        p += take;
        n -= take;
    }
    ms_buf_reset(&s->para);
}

static int blank(const char *l, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (l[i] != ' ' && l[i] != '\t' && l[i] != '\r')
            return 0;
    return 1;
}

/* "===" or "---" (at least 3) under a line makes it a heading. */
static int setext_rule(const char *l, size_t n) {
    while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\r' || l[n - 1] == '\t'))
        n--;
    if (n < 3 || (l[0] != '=' && l[0] != '-'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (l[i] != l[0])
            return 0;
    return 1;
}

/* The heading text of an ATX heading line, or NULL. */
static char *atx_heading(const char *l, size_t n, int *level) {
    size_t i = 0;
    while (i < n && i < 3 && l[i] == ' ')
        i++;
    size_t h = 0;
    while (i + h < n && l[i + h] == '#')
        h++;
    if (h == 0 || h > 6 || (i + h < n && l[i + h] != ' ' && l[i + h] != '\t'))
        return NULL;
    size_t a = i + h, b = n;
    while (b > a && (l[b - 1] == '#' || l[b - 1] == ' ' || l[b - 1] == '\r' || l[b - 1] == '\t'))
        b--;
    *level = (int)h;
    return ms_kb__clean_text(l + a, b - a);
}

static void set_heading(tx_state_t *s, char *h, char **doc_title, int level) {
    flush_para(s);
    flush_passage(s);
    if (!*h) {
        free(h);
        return;
    }
    if (level == 1 && !*doc_title)
        *doc_title = ms_xstrdup(h);
    free(s->heading);
    s->heading = h;
}

static void split_text(tx_state_t *s, const char *data, size_t len, char **doc_title) {
    size_t pos = 0;
    while (pos < len) {
        const char *l = data + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - l) : len - pos;
        size_t next = pos + n + (nl ? 1 : 0);
        /* Look at the following line for a setext underline. */
        const char *l2 = data + next;
        const char *nl2 = next < len ? memchr(l2, '\n', len - next) : NULL;
        size_t n2 = next < len ? (nl2 ? (size_t)(nl2 - l2) : len - next) : 0;
        int level = 0;
        char *h = NULL;
        if (!blank(l, n) && s->para.len == 0 && next < len && setext_rule(l2, n2)) {
            h = ms_kb__clean_text(l, n);
            level = l2[0] == '=' ? 1 : 2;
            next += n2 + (nl2 ? 1 : 0);
        } else {
            h = atx_heading(l, n, &level);
        }
        if (h) {
            set_heading(s, h, doc_title, level);
        } else if (blank(l, n)) {
            flush_para(s);
        } else {
            if (s->para.len)
                ms_buf_putc(&s->para, '\n');
            ms_buf_append(&s->para, l, n);
        }
        pos = next;
    }
    flush_para(s);
    flush_passage(s);
}

/* Whether s[0..n) is UTF-8 (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Passages are quoted to clients in
 * WebSocket text frames, which must be UTF-8 (RFC 6455 section 8.1). */
static int utf8_valid(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], lo = 0x80, hi = 0xbf;
        size_t k = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (c == 0xe0 || c == 0xf0)
            lo = c == 0xe0 ? 0xa0 : 0x90;
        else if (c == 0xed || c == 0xf4)
            hi = c == 0xed ? 0x9f : 0x8f;
        if (!k || i + k > n || (k > 1 && (s[i + 1] < lo || s[i + 1] > hi)))
            return 0;
        for (size_t j = 2; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static int read_all(const char *path, ms_buf_t *b) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ms_kb__fail(path, 0, "%s", strerror(errno));
        return MS_EIO;
    }
    char chunk[65536];
    size_t r;
    int rc = 0;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + r > KB_TEXT_MAX_FILE) {
            ms_kb__fail(path, 0, "file larger than %u bytes", KB_TEXT_MAX_FILE);
            rc = MS_EFORMAT;
            break;
        }
        ms_buf_append(b, chunk, r);
    }
    if (!rc && ferror(f)) {
        ms_kb__fail(path, 0, "read error");
        rc = MS_EIO;
    }
    fclose(f);
    return rc;
}

int ms_kb__import_text(ms_kb__imp_t *imp, const char *path) {
    ms_buf_t data, docid, pid;
    tx_state_t s = {0};
    char *doc_title = NULL, *file_title = NULL;
    ms_kb__passage_t *ps = NULL;
    char real[PATH_MAX];
    int rc;
    ms_buf_init(&data);
    ms_buf_init(&docid);
    ms_buf_init(&pid);
    if ((rc = read_all(path, &data)) != 0)
        goto done;
    if (memchr(data.data ? data.data : "", '\0', data.len)) {
        ms_kb__fail(path, 0, "binary file (contains NUL bytes), not text");
        rc = MS_EFORMAT;
        goto done;
    }
    if (!utf8_valid((const unsigned char *)(data.data ? data.data : ""), data.len)) {
        ms_kb__fail(path, 0, "not UTF-8 text (convert it first, e.g. iconv -f latin1 -t utf-8)");
        rc = MS_EFORMAT;
        goto done;
    }
    if (!realpath(path, real))
        snprintf(real, sizeof real, "%s", path);
    const char *base = strrchr(real, '/');
    base = base ? base + 1 : real;
    const char *dot = strrchr(base, '.');
    file_title = ms_xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
    split_text(&s, data.data ? data.data : "", data.len, &doc_title);
    if (s.n == 0) {
        if (imp->stats)
            imp->stats->skipped++;
        goto done;
    }
    ms_buf_printf(&docid, "file:%s", real);
    ps = ms_xcalloc(s.n, sizeof *ps);
    size_t *offs = ms_xcalloc(s.n, sizeof *offs);
    for (size_t i = 0; i < s.n; i++) {
        offs[i] = pid.len;
        ms_buf_printf(&pid, "%s#%zu", docid.data, i + 1);
        ms_buf_putc(&pid, '\0');
    }
    for (size_t i = 0; i < s.n; i++) {
        ps[i].id = pid.data + offs[i];
        ps[i].title = s.v[i].title ? s.v[i].title : (doc_title ? doc_title : file_title);
        ps[i].focus = doc_title;
        ps[i].text = s.v[i].text;
    }
    free(offs);
    ms_kb__doc_t doc = {.id = docid.data,
                        .source_type = "text",
                        .source = base,
                        .title = doc_title ? doc_title : file_title,
                        .focus = doc_title};
    rc = ms_kb__put(imp, &doc, ps, s.n);
done:
    for (size_t i = 0; i < s.n; i++) {
        free(s.v[i].title);
        free(s.v[i].text);
    }
    free(s.v);
    free(s.heading);
    ms_buf_free(&s.cur);
    ms_buf_free(&s.para);
    free(ps);
    free(doc_title);
    free(file_title);
    ms_buf_free(&data);
    ms_buf_free(&docid);
    ms_buf_free(&pid);
    return rc;
}
