/* REST API: the route table and its handlers (one file per resource).
 *
 * The network layer (src/net) parses an HTTP request into an ms_http_req_t
 * and calls ms_api_dispatch on the loop thread. A handler runs either on the
 * loop (cheap, non-blocking work) or on a pool thread with a database
 * connection (anything touching storage); either way it finishes by setting
 * the response with ms_http_respond_*, and the network layer writes it once
 * the connection is writable. */
#ifndef MS_API_API_H
#define MS_API_API_H

#include "auth/auth.h"
#include "auth/limits.h"
#include "chat/chat.h"
#include "core/buf.h"
#include "core/config.h"
#include "store/store.h"

#include <jansson.h>
#include <uv.h>

typedef enum {
    MS_HTTP_GET,
    MS_HTTP_POST,
    MS_HTTP_PATCH,
    MS_HTTP_PUT,
    MS_HTTP_DELETE,
    MS_HTTP_OPTIONS,
    MS_HTTP_OTHER
} ms_http_method_t;

/** Shared state of the API, owned by the server. Read-only after start-up
 * except limits (thread-safe) and body_inflight (loop thread only). */
typedef struct {
    uv_loop_t *loop;
    const ms_config_t *cfg;
    unsigned char jwt_secret[64];
    size_t jwt_secret_len;
    ms_limits_t *limits; /**< tickets and rate-limit counters (auth/limits.h) */
    ms_chat_t *chat;
    int ready; /**< 1 once serving; 0 while draining */
    /** Request-body bytes buffered now, all connections (loop thread):
     * bounded by cfg->body_budget_bytes; released when a request is freed. */
    int64_t body_inflight;
} ms_api_t;

/** One extra response header (a singly linked list, in insertion order). */
typedef struct ms_http_header {
    struct ms_http_header *next;
    char *name;  /**< e.g. "set-cookie" (without the colon) */
    char *value; /**< the field value */
} ms_http_header_t;

struct ms_http_req;

/** A streaming route's body sink: the network layer hands it the request
 * body as it arrives instead of buffering it in r->body (routes with
 * BODY_STREAM in routes.c: attachment uploads). Pieces are the body's own
 * bytes (chunked framing already removed), in order, on the loop thread;
 * the route's body_limit and the body deadline still apply, and the
 * process-wide body budget is charged a fixed MS_HTTP_SINK_RESERVE for the
 * request instead of its length. The handler runs once the last byte is
 * in, with whatever state the sink keeps in r->scratch. */
typedef struct ms_http_sink {
    /** One piece. 0 to go on; a negative MS_E* to refuse the request at
     * once, after setting the answer (ms_http_respond_error; the network
     * layer answers 400 when the sink set none) — the rest of the body is
     * then read and dropped, as for any refusal. */
    int (*data)(struct ms_http_req *r, const char *p, size_t n);
} ms_http_sink_t;

/** What a streaming request holds of the body budget (its sink's buffers). */
#define MS_HTTP_SINK_RESERVE (INT64_C(96) * 1024)

/** One HTTP request and its response. Owned by the network layer, which
 * drops its reference with ms_http_req_unref once the response is written or the
 * connection is gone and no handler holds it (refs). */
typedef struct ms_http_req {
    ms_api_t *api;
    ms_http_method_t method;
    char *path;            /**< decoded path without query */
    char *query;           /**< raw query string without '?', or NULL */
    char *authorization;   /**< Authorization header, or NULL */
    char *cookie;          /**< Cookie header (several joined by "; "), or NULL */
    char *accept_encoding; /**< Accept-Encoding header, or NULL */
    char *forwarded_proto; /**< X-Forwarded-Proto header, or NULL */
    char peer[64];         /**< client address */
    /** The request's Content-Type header, or NULL (multipart boundaries). */
    char *req_content_type;
    /** Body length from the headers: Content-Length, 0 when the request has
     * no body, -1 when chunked (not known until it has arrived). */
    int64_t content_length;
    ms_buf_t body;
    int body_too_large;

    /* Set by ms_api_begin from the route, for the network layer. */
    int begun;             /**< ms_api_begin ran */
    int body_keep;         /**< 1: buffer the body (a JSON route); 0: discard it */
    int64_t body_limit;    /**< largest body the route accepts (bytes) */
    int64_t body_reserved; /**< bytes of api->body_inflight this request holds */
    const void *route;     /**< the matched route (routes.c) */
    /** A streaming route's sink, else NULL (then body_keep is 0 too). */
    const ms_http_sink_t *sink;
    /** The whole body's deadline in seconds when the route sets its own
     * (uploads: upload_timeout_s); 0: body_timeout_s. */
    int64_t body_timeout_s;

    char param[MS_ID_LEN * 2]; /**< the {id} path segment of the route */
    ms_jwt_claims_t user;      /**< valid when the route needs auth */

    int status;      /**< 0 until a response is set */
    char *resp_body; /**< malloc'd, or static when resp_static */
    size_t resp_len;
    int resp_static;
    const char *content_type;
    char allow[64]; /**< Allow header value for 405, or "" */
    /** Cache-Control value (static string); NULL means "no-store". */
    const char *cache_control;
    ms_http_header_t *resp_headers; /**< extra headers (ms_http_add_header) */

    /** A streamed response (ms_http_stream_begin): the body goes out in
     * pieces as the handler writes them (HTTP/1.1 chunked, RFC 9112
     * section 7.1), instead of resp_body at once. */
    int streaming;
    ms_buf_t stream_out; /**< bytes written by the handler, not yet sent (loop thread) */
    int stream_ended;    /**< the handler wrote its last piece */
    int stream_head;     /**< the network layer has sent the head */
    /** uv_hrtime() (ns) when the request head was parsed: the start of the
     * gateway's time (x-medstream-overhead-ms). */
    uint64_t arrival_ns;

    int refs;                                   /**< network layer + handler in flight */
    void *conn;                                 /**< network-layer connection; NULL once closed */
    void (*on_response)(struct ms_http_req *r); /**< set by the network layer */

    /* Per-handler scratch. */
    json_t *json; /**< parsed body, when the route parses JSON */
    void *scratch;
    void (*scratch_free)(void *scratch); /**< frees scratch with r, when set */
} ms_http_req_t;

/** First phase, on the headers alone (loop thread, before any body byte is
 * read): matches the route (404, 405), checks content_length against the
 * route's limit (413), the access token (401) and, for login and
 * registration, the client address's rate limit (429). Returns 0 when the
 * body may be read, with body_keep and body_limit set; otherwise the error
 * response is set (r->status) and nothing else happens: the network layer
 * writes it without reading the body. Idempotent. */
int ms_api_begin(ms_http_req_t *r);

/** Second phase, once the whole body has arrived (loop thread): runs
 * ms_api_begin if it has not run, then the body checks (413, 400), the
 * per-email login limit and the handler. Authenticated routes also check,
 * on a pool thread, that the token's user still exists (401 otherwise).
 * The response arrives through r->on_response, now or later. Called once
 * per request. */
void ms_api_dispatch(ms_http_req_t *r);

/** Sets a JSON response (steals body; NULL means no body, e.g. 204). Any
 * thread; it only records the response: pool handlers are finished by the
 * dispatcher, loop handlers call ms_http_finish. */
void ms_http_respond_json(ms_http_req_t *r, int status, json_t *body);
/** Loop thread: the handler is done with r; hands the response to the
 * network layer (if the connection is still open) and drops the handler's
 * reference. */
void ms_http_finish(ms_http_req_t *r);
/** Starts a streamed response (loop thread): status and content type
 * (static string) now, with the headers added so far; the body follows
 * through ms_http_stream_write and ends with ms_http_stream_end, which
 * also drops the handler's reference (as ms_http_finish). The network
 * layer sends it with Transfer-Encoding: chunked. */
void ms_http_stream_begin(ms_http_req_t *r, int status, const char *content_type);
/** Queues len bytes of a streamed body (loop thread); they are sent when
 * the connection is writable. Nothing happens once the client is gone
 * (r->conn NULL), which the handler should check to stop its work. */
void ms_http_stream_write(ms_http_req_t *r, const char *data, size_t len);
/** Ends a streamed body and lets go of r (loop thread). */
void ms_http_stream_end(ms_http_req_t *r);
/** Drops a reference; frees r at zero. */
void ms_http_req_unref(ms_http_req_t *r);
/** Adds a response header (copied; any thread, before the response is
 * handed over). name is lower-case without the colon; neither may contain
 * CR or LF (MS_EINVAL). Written by the network layer after its own headers
 * (status, content-type, content-length, the security headers). */
int ms_http_add_header(ms_http_req_t *r, const char *name, const char *value);
/** Sets {"error":{"code","message"}} with status. */
void ms_http_respond_error(ms_http_req_t *r, int status, const char *code, const char *message);
/** The value of query argument name (decoded, malloc'd) or NULL. */
char *ms_http_query_arg(const ms_http_req_t *r, const char *name);
/** The value of cookie name in the request's Cookie header (RFC 6265
 * section 5.4: "name=value" pairs separated by "; "), malloc'd, or NULL. */
char *ms_http_cookie(const ms_http_req_t *r, const char *name);
/** Whether the client reached us over TLS: always when the configuration
 * says so (cookie_secure), or when trust_forwarded_proto is set and a
 * reverse proxy sent "X-Forwarded-Proto: https". Decides the cookies'
 * Secure attribute (RFC 6265 section 4.1.2.5). */
int ms_http_is_tls(const ms_http_req_t *r);

/** Issues an access + refresh token pair for user as the login response body. */
json_t *ms_api_token_pair(ms_http_req_t *r, ms_store_t *st, const ms_user_t *user);

#endif
