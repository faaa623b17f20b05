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
 * except tickets (thread-safe) and the rate limiter (loop thread only). */
typedef struct {
    uv_loop_t *loop;
    const ms_config_t *cfg;
    unsigned char jwt_secret[64];
    size_t jwt_secret_len;
    ms_tickets_t *tickets;
    ms_chat_t *chat;
    int ready;            /**< 1 once serving; 0 while draining */
    struct ms_rate *rate; /**< login attempts per client address */
    /** Shared-link requests per client address and per link
     * (share_rate_per_min; api/shares.c). Loop thread only. */
    struct ms_rate *share_rate;
} ms_api_t;

/** One HTTP request and its response. Owned by the network layer, which
 * frees it with ms_http_req_free once the response is written or the
 * connection is gone and no handler holds it (refs). */
typedef struct ms_http_req {
    ms_api_t *api;
    ms_http_method_t method;
    char *path;            /**< decoded path without query */
    char *query;           /**< raw query string without '?', or NULL */
    char *authorization;   /**< Authorization header, or NULL */
    char *cookie;          /**< Cookie header (RFC 6265 section 5.4), or NULL */
    char *accept_encoding; /**< Accept-Encoding header, or NULL */
    char *forwarded_proto; /**< X-Forwarded-Proto header, or NULL */
    char peer[64];         /**< client address */
    ms_buf_t body;
    int body_too_large;
    int dispatched; /**< set by the network layer: ms_api_dispatch runs once per request */

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
    /** Further response headers as "name\0value\0" pairs (ms_http_add_header). */
    ms_buf_t resp_headers;

    int refs;                                   /**< network layer + handler in flight */
    void *conn;                                 /**< network-layer connection; NULL once closed */
    void (*on_response)(struct ms_http_req *r); /**< set by the network layer */

    /* Per-handler scratch. */
    json_t *json; /**< parsed body, when the route parses JSON */
    void *scratch;
} ms_http_req_t;

/** Routes and runs the request (loop thread). The response arrives through
 * r->on_response, now or later. */
void ms_api_dispatch(ms_http_req_t *r);

/** Sets a JSON response (steals body; NULL means no body, e.g. 204). Any
 * thread; it only records the response: pool handlers are finished by the
 * dispatcher, loop handlers call ms_http_finish. */
void ms_http_respond_json(ms_http_req_t *r, int status, json_t *body);
/** Loop thread: the handler is done with r; hands the response to the
 * network layer (if the connection is still open) and drops the handler's
 * reference. */
void ms_http_finish(ms_http_req_t *r);
/** Drops a reference; frees r at zero. */
void ms_http_req_unref(ms_http_req_t *r);
/** Sets {"error":{"code","message"}} with status. */
void ms_http_respond_error(ms_http_req_t *r, int status, const char *code, const char *message);
/** The value of query argument name (decoded, malloc'd) or NULL. */
char *ms_http_query_arg(const ms_http_req_t *r, const char *name);
/** Adds a response header (name without the colon, e.g. "set-cookie");
 * both strings are copied. Any thread, before the response is finished. */
void ms_http_add_header(ms_http_req_t *r, const char *name, const char *value);
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

/** Login rate limiter (fixed one-minute windows per key; loop thread only). */
struct ms_rate *ms_rate_new(int per_minute);
void ms_rate_free(struct ms_rate *rl);
/** 0 when allowed, MS_EBUSY when key exceeded its budget this minute. */
int ms_rate_hit(struct ms_rate *rl, const char *key);

#endif
