#include "core/buf.h"

#include "core/ms.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms_buf_init(ms_buf_t *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ms_buf_free(ms_buf_t *b) {
    free(b->data);
    ms_buf_init(b);
}

void ms_buf_reset(ms_buf_t *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void ms_buf_reserve(ms_buf_t *b, size_t n) {
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->data = ms_xrealloc(b->data, cap);
    b->cap = cap;
}

void ms_buf_append(ms_buf_t *b, const void *p, size_t n) {
    ms_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ms_buf_puts(ms_buf_t *b, const char *s) {
    ms_buf_append(b, s, strlen(s));
}

void ms_buf_putc(ms_buf_t *b, char c) {
    ms_buf_append(b, &c, 1);
}

void ms_buf_vprintf(ms_buf_t *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    ms_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void ms_buf_printf(ms_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ms_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Whether any byte of w is one JSON must escape: below 0x20, '"' or '\\'.
 * Exact as a yes/no (the "has a byte less than n" and "has a zero byte"
 * word tests, Hacker's Delight 6-1): bytes of 0x80 and above never match. */
static int word_needs_escape(uint64_t w) {
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high ? 1 : 0;
}

void ms_buf_json_str(ms_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    ms_buf_reserve(b, n + 2);
    ms_buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        /* Text that needs no escaping (nearly all of it) is skipped a word
         * at a time: this runs for every chunk every client is sent. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            if (word_needs_escape(w))
                break;
            i += 8;
        }
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        ms_buf_append(b, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            ms_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            ms_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            ms_buf_append(b, "\\n", 2);
            break;
        case '\r':
            ms_buf_append(b, "\\r", 2);
            break;
        case '\t':
            ms_buf_append(b, "\\t", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ms_buf_append(b, esc, 6);
        }
        }
    }
    ms_buf_append(b, s + start, n - start);
    ms_buf_putc(b, '"');
}

const char *ms_buf_cstr(ms_buf_t *b) {
    return b->data ? b->data : "";
}

char *ms_buf_take(ms_buf_t *b) {
    char *p = b->data ? b->data : ms_xstrdup("");
    ms_buf_init(b);
    return p;
}
