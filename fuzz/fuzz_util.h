/* Helpers shared by the libFuzzer targets (the fuzz/ sources). A target states the
 * properties its parser promises with FZ_ASSERT; a broken one aborts, which
 * libFuzzer reports as a crash and saves the input. */
#ifndef MS_FUZZ_UTIL_H
#define MS_FUZZ_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/** Aborts with a message naming the broken property. */
#define FZ_ASSERT(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                       \
    } while (0)

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/** Whether s[0..n) is UTF-8 as RFC 3629 section 4 defines it: no overlong
 * forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. What a
 * WebSocket text frame must carry (RFC 6455 section 8.1). */
int fz_utf8_valid(const char *s, size_t n);

/** A NUL-terminated heap copy of d[0..n) (free() it). */
char *fz_strndup(const uint8_t *d, size_t n);

/** Splits an optional first line "@<head>\n" off the input: *head is a heap
 * copy of <head> (or NULL when the input does not start with '@'), and
 * *rest / *restlen what follows. */
void fz_split_head(const uint8_t *d, size_t n, char **head, const uint8_t **rest, size_t *restlen);

/** Checks that p[0..n) is one WebSocket text message of a dialect: valid
 * UTF-8 and a JSON object with a string "type". Returns the parsed object
 * (decref it). */
json_t *fz_check_frame(const char *p, size_t n, const char *who);

/** Whether some string anywhere in j (values, recursively) is exactly
 * s[0..n). */
int fz_json_has_string(json_t *j, const char *s, size_t n);

/** Silences medstream's structured log (ms_log) so fuzzing output stays
 * readable; sanitizer and libFuzzer reports are not affected. */
void fz_quiet_log(void);

#endif
