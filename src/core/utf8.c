/* UTF-8 validation, counting and cutting (RFC 3629). One decoder, written
 * as an incremental state machine, serves whole strings and pieces alike,
 * so every module agrees on what is valid. */
#include "core/utf8.h"

#include <string.h>

/* Feeds one byte. The first continuation byte is checked against the lead
 * byte's range on completion (overlong: cp < min; surrogates; > U+10FFFF),
 * which is equivalent to RFC 3629's table of valid byte sequences. */
static int feed_byte(ms_utf8_state_t *st, unsigned char c) {
    if (st->need == 0) {
        if (c < 0x80)
            return 0;
        if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
            st->need = 1, st->min = 0x80, st->cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            st->need = 2, st->min = 0x800, st->cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
            st->need = 3, st->min = 0x10000, st->cp = c & 0x07;
        } else {
            return -1; /* a continuation byte, C0/C1 (always overlong), F5..FF */
        }
        return 0;
    }
    if ((c & 0xc0) != 0x80)
        return -1;
    st->cp = (st->cp << 6) | (c & 0x3f);
    /* Reject as early as the bytes allow, so a streamed overlong or
     * surrogate fails on its second byte (RFC 6455 section 8.1 "fail fast"):
     * after the first continuation byte the top bits are known. */
    if (st->need == 2 && st->min == 0x800 && (st->cp < 0x20 || (st->cp >= 0x360 && st->cp < 0x380)))
        return -1; /* E0 80..9F (overlong) or ED A0..BF (surrogate) */
    if (st->need == 3 && st->min == 0x10000 && (st->cp < 0x10 || st->cp > 0x10f))
        return -1; /* F0 80..8F (overlong) or F4 90.. (past U+10FFFF) */
    if (--st->need == 0) {
        uint32_t cp = st->cp;
        if (cp < st->min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
    }
    return 0;
}

int ms_utf8_feed(ms_utf8_state_t *st, const char *s, size_t len) {
    if (st->error)
        return -1;
    size_t i = 0;
    while (i < len) {
        /* Between code points, runs of ASCII go a word at a time: most text
         * (model output, JSON) is mostly ASCII, and the store validates an
         * answer's whole text at every checkpoint. */
        if (st->need == 0) {
            while (i + 8 <= len) {
                uint64_t w;
                memcpy(&w, s + i, sizeof w);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            if (i == len)
                break;
        }
        if (feed_byte(st, (unsigned char)s[i]) != 0) {
            st->error = 1;
            return -1;
        }
        i++;
    }
    return 0;
}

int ms_utf8_complete(const ms_utf8_state_t *st) {
    return !st->error && st->need == 0;
}

int ms_utf8_valid(const char *s, size_t len) {
    ms_utf8_state_t st = {0};
    return ms_utf8_feed(&st, s, len) == 0 && st.need == 0;
}

long ms_utf8_count(const char *s, size_t len) {
    ms_utf8_state_t st = {0};
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (feed_byte(&st, (unsigned char)s[i]) != 0)
            return -1;
        n += st.need == 0;
    }
    return st.need == 0 ? n : -1;
}

size_t ms_utf8_prefix(const char *s, size_t len, size_t max_chars) {
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        /* A code point starts at every byte that is not a continuation. */
        if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max_chars)
            return i;
    }
    return len;
}

size_t ms_utf8_floor(const char *s, size_t len, size_t n) {
    if (n >= len)
        return len;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}
