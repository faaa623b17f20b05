/* UTF-8, the one implementation every module uses (RFC 3629).
 *
 * Strict: overlong forms, UTF-16 surrogates (U+D800..U+DFFF), code points
 * past U+10FFFF, stray continuation bytes and truncated sequences are all
 * invalid (RFC 3629 section 3; the same rules as RFC 6455 section 8.1 asks
 * of WebSocket text and as jansson applies to JSON strings). */
#ifndef MS_CORE_UTF8_H
#define MS_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/** Whether s[0..len) is valid UTF-8. NUL bytes are valid (U+0000). */
int ms_utf8_valid(const char *s, size_t len);

/** Number of code points in valid UTF-8 s[0..len), or -1 if it is not
 * valid UTF-8. */
long ms_utf8_count(const char *s, size_t len);

/** Length in bytes of the first max_chars code points of s[0..len), which
 * must be valid UTF-8 (the whole of s when it has fewer). */
size_t ms_utf8_prefix(const char *s, size_t len, size_t max_chars);

/** The largest cut point <= n of s[0..len) that does not fall inside a
 * multi-byte sequence (for cutting text at a byte budget); len when n >= len. */
size_t ms_utf8_floor(const char *s, size_t len, size_t n);

/** Incremental validation, for text that arrives in pieces split at any
 * byte (WebSocket fragments, streamed model output). Zero-initialise. */
typedef struct {
    uint32_t cp;   /**< code point being decoded */
    uint32_t min;  /**< smallest code point its length may encode */
    uint8_t need;  /**< continuation bytes still expected */
    uint8_t error; /**< sticky: an invalid byte was seen */
} ms_utf8_state_t;

/** Feeds s[0..len). Returns 0 while the text so far is a valid prefix of
 * some UTF-8 string, -1 (and from then on) once it cannot be. */
int ms_utf8_feed(ms_utf8_state_t *st, const char *s, size_t len);

/** Whether everything fed so far is valid and ends on a code-point
 * boundary (the text is complete and valid). */
int ms_utf8_complete(const ms_utf8_state_t *st);

#endif
