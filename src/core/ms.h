/* Common definitions for every medstream module: error codes, allocation
 * helpers that abort on failure, and small time/id utilities. */
#ifndef MS_CORE_MS_H
#define MS_CORE_MS_H

#include <stddef.h>
#include <stdint.h>

/** Error codes. Functions return 0 on success or one of these (negative). */
enum {
    MS_OK = 0,
    MS_EINVAL = -1,      /**< invalid argument or malformed input */
    MS_ENOENT = -2,      /**< no such object */
    MS_EEXIST = -3,      /**< object already exists (unique constraint) */
    MS_EPERM = -4,       /**< authenticated but not allowed (not the owner) */
    MS_EAUTH = -5,       /**< missing, invalid or expired credentials */
    MS_EIO = -6,         /**< storage or system error */
    MS_ETOOBIG = -7,     /**< a configured size limit was exceeded */
    MS_EBUSY = -8,       /**< resource busy or a rate limit hit; retry later */
    MS_ECANCELED = -9,   /**< operation cancelled */
    MS_EFORMAT = -10,    /**< unparseable input file or document */
    MS_EOVERLOAD = -11,  /**< a bounded queue or concurrency cap is full; retry later */
    MS_ERATELIMIT = -12, /**< a client exceeded a configured rate; retry later */
};

/** A short, stable, lower-case name for an error code ("not_found", ...). */
const char *ms_strerror(int err);

/** How an error code is told to a client: the one mapping every module
 * uses (REST bodies, WebSocket error events, logs).
 * - code: the wire "code" (docs/protocol.md error tables), equal to ms_strerror;
 * - http_status: the REST status (RFC 9110 section 15);
 * - message: a generic English sentence without internal detail;
 * - retryable: whether the same request may succeed later unchanged.
 * Codes that must not reveal whether an object exists (another user's
 * conversation or message) are mapped by the caller to MS_ENOENT first. */
typedef struct {
    int err;
    const char *code;
    int http_status;
    const char *message;
    int retryable;
    /** The WebSocket error event's code, where the native protocol names
     * it differently from REST (invalid input: invalid_message). */
    const char *event_code;
} ms_error_info_t;

/** The mapping of err; unknown codes map like MS_EIO. Never NULL. */
const ms_error_info_t *ms_error_info(int err);

/** Allocation helpers: never return NULL; abort with a message instead
 * (house style: allocation failure is not a recoverable condition). */
void *ms_xmalloc(size_t n);
void *ms_xcalloc(size_t count, size_t n);
void *ms_xrealloc(void *p, size_t n);
char *ms_xstrdup(const char *s);
char *ms_xstrndup(const char *s, size_t n);

/** Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t ms_now_ms(void);
/** Monotonic milliseconds (CLOCK_MONOTONIC), for durations. */
int64_t ms_mono_ms(void);
/** Monotonic microseconds (CLOCK_MONOTONIC), for short durations. */
int64_t ms_mono_us(void);

/** Length of a textual UUID plus its NUL. */
#define MS_ID_LEN 37
/** Writes a random (version 4, RFC 9562 section 5.4) UUID into out. */
void ms_id_new(char out[MS_ID_LEN]);
/**
 * Writes a time-ordered (version 7, RFC 9562 section 5.7) UUID into out:
 * 48 bits of Unix milliseconds, then a 12-bit counter (section 6.2, method 1)
 * so that ids made by this process never go backwards, then 62 random bits.
 * For primary keys: consecutive inserts land on the right edge of a B-tree
 * instead of on a random page, so a commit dirties a few pages, not one per
 * row. Thread-safe. It reveals its creation time, so never use it as a
 * secret.
 */
void ms_id_new_v7(char out[MS_ID_LEN]);
/** Whether s looks like a textual UUID (36 chars of hex and dashes). */
int ms_id_valid(const char *s);

/** Formats ms-since-epoch as RFC 3339 UTC with milliseconds into out (>= 25 bytes). */
void ms_time_iso(int64_t ms, char *out, size_t outlen);

/** Number of elements of a static array. */
#define MS_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

#endif
