/* Growable byte buffers for encoding (house style: pointer + length). */
#ifndef MS_CORE_BUF_H
#define MS_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

/** A growable byte buffer. Owns data; always NUL-terminated when len > 0
 * or after ms_buf_cstr(). Zero-initialise or use ms_buf_init(). */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} ms_buf_t;

void ms_buf_init(ms_buf_t *b);
/** Releases the storage; the buffer is empty and reusable afterwards. */
void ms_buf_free(ms_buf_t *b);
/** Empties the buffer, keeping its capacity. */
void ms_buf_reset(ms_buf_t *b);
/** Ensures room for n more bytes (plus a NUL). */
void ms_buf_reserve(ms_buf_t *b, size_t n);
void ms_buf_append(ms_buf_t *b, const void *p, size_t n);
void ms_buf_puts(ms_buf_t *b, const char *s);
void ms_buf_putc(ms_buf_t *b, char c);
void ms_buf_printf(ms_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ms_buf_vprintf(ms_buf_t *b, const char *fmt, va_list ap);
/** Appends s (n bytes) as a JSON string literal with quotes (RFC 8259 section 7). */
void ms_buf_json_str(ms_buf_t *b, const char *s, size_t n);
/** The contents as a C string ("" when empty); owned by the buffer. */
const char *ms_buf_cstr(ms_buf_t *b);
/** Hands the storage to the caller (free() it) and empties the buffer. */
char *ms_buf_take(ms_buf_t *b);

#endif
