/* Helpers shared by the libFuzzer targets; see fuzz_util.h. */
#include "fuzz_util.h"

#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "\n==fuzz== property broken at %s:%d: %s\n==fuzz== ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

int fz_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xbf; /* range of the second byte (RFC 3629 section 4) */
        if (c >= 0xc2 && c <= 0xdf) {
            k = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 3;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 4;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return 0;
        }
        if (i + k > n || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t j = 2; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

char *fz_strndup(const uint8_t *d, size_t n) {
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, d, n);
    s[n] = '\0';
    return s;
}

void fz_split_head(const uint8_t *d, size_t n, char **head, const uint8_t **rest, size_t *restlen) {
    *head = NULL;
    *rest = d;
    *restlen = n;
    if (n == 0 || d[0] != '@')
        return;
    const uint8_t *nl = memchr(d, '\n', n);
    size_t hl = nl ? (size_t)(nl - d) : n;
    *head = fz_strndup(d + 1, hl - 1);
    *rest = nl ? nl + 1 : d + n;
    *restlen = nl ? n - hl - 1 : 0;
}

json_t *fz_check_frame(const char *p, size_t n, const char *who) {
    FZ_ASSERT(fz_utf8_valid(p, n), "%s wrote a text frame that is not UTF-8: %.*s", who, (int)n, p);
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    FZ_ASSERT(j != NULL, "%s wrote invalid JSON (%s): %.*s", who, je.text, (int)n, p);
    FZ_ASSERT(json_is_object(j) && json_is_string(json_object_get(j, "type")),
              "%s wrote a frame without a string \"type\": %.*s", who, (int)n, p);
    return j;
}

int fz_json_has_string(json_t *j, const char *s, size_t n) {
    if (json_is_string(j))
        return json_string_length(j) == n && memcmp(json_string_value(j), s, n) == 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) if (fz_json_has_string(v, s, n)) return 1;
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (fz_json_has_string(v, s, n)) return 1;
    }
    return 0;
}

void fz_quiet_log(void) {
    /* Above every level: nothing is written. */
    ms_log_set_level((ms_log_level_t)(MS_LOG_ERROR + 1));
}
