/* HTTP/1.1 request-body framing (RFC 9112 section 6) and the chunked
 * transfer coding (section 7.1), as pure functions of header values and
 * bytes: no libwebsockets, so they are unit-tested without a socket.
 *
 * Why our own: libwebsockets 4.1 (Debian's 4.1.6) frames a server request
 * body by Content-Length alone. It parses Content-Length with atoll() ("abc"
 * and "0x15" become 0, "-5" a huge unsigned length), concatenates duplicate
 * fields, and has no chunked decoder on the server side: a POST, PUT or
 * PATCH without Content-Length is read as up to 100 MiB of raw bytes
 * (roles/http/server/server.c, lws_http_action), chunk-size lines included.
 * The network layer decides the framing here first and decodes chunked
 * bodies itself from those raw bytes. */
#ifndef MS_NET_FRAMING_H
#define MS_NET_FRAMING_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MS_BODY_NONE,    /**< no body (neither field: RFC 9112 section 6.3, rule 7) */
    MS_BODY_LENGTH,  /**< Content-Length bytes follow */
    MS_BODY_CHUNKED, /**< chunked transfer coding until the last chunk */
} ms_body_kind_t;

/** The framing decision for one request. */
typedef struct {
    ms_body_kind_t kind;
    int64_t length;      /**< MS_BODY_LENGTH: the body length (may be 0) */
    int status;          /**< 0, or the refusal to send: 400 or 501 */
    const char *code;    /**< refusal: the REST error code ("invalid_request", ...) */
    const char *message; /**< refusal: a sentence for the client (static) */
} ms_framing_t;

/**
 * Decides how the body of a request is delimited (RFC 9112 section 6.3).
 *
 * cl holds the value of each Content-Length field line (ncl of them), te
 * each Transfer-Encoding field line (nte); http10 is set for an HTTP/1.0
 * request. Refused, each with status 400 and code "invalid_request" unless
 * noted (the connection must be closed after the response):
 *  - Transfer-Encoding in an HTTP/1.0 request (section 6.1);
 *  - both Transfer-Encoding and Content-Length (section 6.1: a request
 *    smuggling vector);
 *  - a Transfer-Encoding whose final coding is not chunked (section 6.3,
 *    rule 4), or chunked applied twice (section 6.1);
 *  - a coding other than chunked: 501 "not_implemented" (section 6.1);
 *  - a Content-Length that is not 1*DIGIT (RFC 9110 section 8.6: "abc",
 *    "0x15", "-5", "+5", "1.5", empty), or over INT64_MAX;
 *  - several Content-Length values that differ (section 6.3, rule 5;
 *    identical ones, as lines or as "42, 42", are accepted as one).
 * Returns 0 with out filled, or out->status (nonzero) for a refusal.
 */
int ms_http_framing(const char *const *cl, size_t ncl, const char *const *te, size_t nte,
                    int http10, ms_framing_t *out);

/** Incremental decoder of the chunked transfer coding (RFC 9112 section
 * 7.1). Zero-initialise; holds no heap memory. Chunk extensions and
 * trailer fields are checked for syntax and size and then dropped. */
typedef struct {
    int state;
    uint64_t remaining; /**< bytes left in the current chunk's data */
    size_t line;        /**< bytes in the current size/extension or trailer line */
    size_t trailer;     /**< bytes of trailer section so far */
    int digits;         /**< hex digits of the current chunk size */
    uint64_t total;     /**< decoded body bytes so far */
} ms_chunked_t;

/** Receives decoded body bytes; nonzero stops the decoder and is returned
 * by ms_chunked_feed (e.g. MS_ETOOBIG when a limit is passed). */
typedef int (*ms_chunked_sink_fn)(void *ctx, const char *data, size_t len);

/** Longest chunk-size line (size and extensions) and trailer section
 * accepted: the rest of a request head is bounded by max_header_bytes. */
#define MS_CHUNKED_MAX_LINE 4096
#define MS_CHUNKED_MAX_TRAILER 8192

/**
 * Feeds len bytes of a chunked body. Data goes to sink(ctx, ...) as it is
 * decoded. Returns 0 when all of in was consumed and more is needed, 1 when
 * the body ended (*used = the bytes of in that belonged to it; what follows
 * is the next request), MS_EINVAL on a syntax error (a bad chunk size, a
 * missing CRLF, a bare LF, a control character, a line over
 * MS_CHUNKED_MAX_LINE, a trailer over MS_CHUNKED_MAX_TRAILER, a size over
 * 2^60), or the sink's nonzero result. After a nonzero result the decoder
 * must not be fed again. used may be NULL.
 */
int ms_chunked_feed(ms_chunked_t *c, const char *in, size_t len, size_t *used,
                    ms_chunked_sink_fn sink, void *ctx);

/** A deadline in an ms_deadline_list_t (intrusive; zero-initialise). */
typedef struct ms_deadline {
    struct ms_deadline *prev, *next;
    int64_t due; /**< monotonic ms */
    int linked;
} ms_deadline_t;

/** Deadlines ordered by due time. Each is "start + a constant", so a new one
 * goes at the tail and every operation is O(1) (out-of-order pushes are
 * still placed correctly, scanning from the tail). One timer armed for the
 * head serves all of them: no timer per connection. */
typedef struct {
    ms_deadline_t *head, *tail;
    size_t count;
} ms_deadline_list_t;

/** Links d with due time due (unlinks it first if linked). */
void ms_deadline_push(ms_deadline_list_t *l, ms_deadline_t *d, int64_t due);
/** Unlinks d; a no-op when it is not linked. */
void ms_deadline_remove(ms_deadline_list_t *l, ms_deadline_t *d);
/** The head when it is due at now (unlinked), else NULL. */
ms_deadline_t *ms_deadline_pop_due(ms_deadline_list_t *l, int64_t now);
/** The head's due time, or -1 when the list is empty. */
int64_t ms_deadline_next(const ms_deadline_list_t *l);

#endif
