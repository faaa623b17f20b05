/* The three-way text builder: plain text, Markdown (CommonMark) and HTML
 * written side by side. */
#include "cite/cite_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rt_init(rt_t *rt) {
    ms_buf_init(&rt->text);
    ms_buf_init(&rt->md);
    ms_buf_init(&rt->html);
}

void rt_free(rt_t *rt) {
    ms_buf_free(&rt->text);
    ms_buf_free(&rt->md);
    ms_buf_free(&rt->html);
}

/* CommonMark backslash escapes (spec section 2.4) for the punctuation that
 * could start emphasis, code, links or raw HTML inside a line. */
static void md_escape(ms_buf_t *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\`*_[]<>", s[i]) && s[i])
            ms_buf_putc(b, '\\');
        ms_buf_putc(b, s[i]);
    }
}

static void html_escape(ms_buf_t *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            ms_buf_puts(b, "&amp;");
            break;
        case '<':
            ms_buf_puts(b, "&lt;");
            break;
        case '>':
            ms_buf_puts(b, "&gt;");
            break;
        case '"':
            ms_buf_puts(b, "&quot;");
            break;
        case '\'':
            ms_buf_puts(b, "&#39;");
            break;
        default:
            ms_buf_putc(b, s[i]);
        }
    }
}

void rt_putn(rt_t *rt, const char *s, size_t n) {
    ms_buf_append(&rt->text, s, n);
    md_escape(&rt->md, s, n);
    html_escape(&rt->html, s, n);
}

void rt_put(rt_t *rt, const char *s) {
    if (s)
        rt_putn(rt, s, strlen(s));
}

void rt_ital(rt_t *rt, const char *s) {
    if (!s || !*s)
        return;
    size_t n = strlen(s);
    ms_buf_append(&rt->text, s, n);
    ms_buf_putc(&rt->md, '*');
    md_escape(&rt->md, s, n);
    ms_buf_putc(&rt->md, '*');
    ms_buf_puts(&rt->html, "<i>");
    html_escape(&rt->html, s, n);
    ms_buf_puts(&rt->html, "</i>");
}

void rt_link(rt_t *rt, const char *url, const char *shown) {
    if (!url || !*url)
        return;
    if (!shown)
        shown = url;
    ms_buf_puts(&rt->text, shown);
    /* A bare URL is an autolink in most Markdown renderers and reads as it
     * should in the others; escaping it would break it. */
    ms_buf_puts(&rt->md, shown);
    ms_buf_puts(&rt->html, "<a href=\"");
    html_escape(&rt->html, url, strlen(url));
    ms_buf_puts(&rt->html, "\">");
    html_escape(&rt->html, shown, strlen(shown));
    ms_buf_puts(&rt->html, "</a>");
}

void rt_printf(rt_t *rt, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        rt_putn(rt, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

char rt_last(const rt_t *rt) {
    return (char)(rt->text.len ? rt->text.data[rt->text.len - 1] : 0);
}

void rt_stop(rt_t *rt, int space) {
    const char *t = rt->text.data;
    size_t n = rt->text.len;
    /* Look through a closing curly quote (U+201D) or a straight one. */
    if (n >= 3 && !memcmp(t + n - 3, "\xe2\x80\x9d", 3))
        n -= 3;
    else if (n >= 1 && t[n - 1] == '"')
        n--;
    char c = (char)(n ? t[n - 1] : 0);
    if (rt->text.len && c != '.' && c != '?' && c != '!')
        rt_put(rt, ".");
    if (space)
        rt_put(rt, " ");
}

static void trim_buf(ms_buf_t *b) {
    while (b->len && b->data[b->len - 1] == ' ')
        b->data[--b->len] = '\0';
}

void rt_trim(rt_t *rt) {
    trim_buf(&rt->text);
    trim_buf(&rt->md);
    trim_buf(&rt->html);
}

void rt_take(rt_t *rt, ms_cite_ref_t *out) {
    out->text = ms_buf_take(&rt->text);
    out->markdown = ms_buf_take(&rt->md);
    out->html = ms_buf_take(&rt->html);
}
