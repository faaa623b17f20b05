/* HTTP requests to model servers on the event loop: libcurl's multi
 * interface driven by libuv (curl_multi_socket_action with a uv_poll_t per
 * socket and one uv_timer_t; libcurl's "multi_socket" API,
 * https://curl.se/libcurl/c/libcurl-multi.html, and its multi-uv.c
 * example). No call blocks the loop and no thread is started per request
 * (name resolution is libcurl's own threaded resolver). Connections are
 * reused between requests to the same server.
 *
 * Private to src/llm (the remote providers). Loop thread only. */
#ifndef MS_LLM_TRANSPORT_H
#define MS_LLM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ms_llm_http ms_llm_http_t;
typedef struct ms_llm_xfer ms_llm_xfer_t;

/** One multi handle on loop. */
ms_llm_http_t *ms_llm_http_new(uv_loop_t *loop);
/** Ends every transfer still running (no callback), closes the cached
 * connections and the loop handles; memory goes once the loop has run
 * their close callbacks. NULL-safe. */
void ms_llm_http_free(ms_llm_http_t *h);
/** Transfers in progress. */
size_t ms_llm_http_active(const ms_llm_http_t *h);

/** A POST (or a GET when get is set: body is then ignored). Everything is
 * copied by ms_llm_xfer_start. headers are whole
 * lines ("Authorization: Bearer ..."): they may hold secrets, so the
 * transport never logs them (nor anything else of a request). */
typedef struct {
    const char *url;
    const char *body;
    size_t body_len;
    const char *const *headers;
    size_t nheaders;
    int64_t connect_timeout_ms; /**< 0: libcurl's default (300 s) */
    int64_t timeout_ms;         /**< the whole transfer (CURLOPT_TIMEOUT_MS); 0: none */
    int get;                    /**< a GET (the health probes) instead of a POST */
} ms_llm_xfer_req_t;

/** What a transfer reports, on the loop thread. */
typedef struct {
    /** The response's status line and headers arrived (after any 1xx).
     * retry_after_ms is Retry-After (RFC 9110 section 10.2.3: seconds or
     * an HTTP-date) or retry-after-ms, in ms, 0 when absent. Return 0 to
     * go on, nonzero to end the transfer (on_done follows, MS_ECANCELED). */
    int (*on_response)(void *ctx, int status, int64_t retry_after_ms, const char *content_type);
    /** Body bytes (transfer coding removed). Return 0 to go on, nonzero to
     * end the transfer (on_done follows with MS_ECANCELED). */
    int (*on_body)(void *ctx, const char *data, size_t len);
    /** The transfer ended: rc 0 when the whole response arrived, else
     * MS_ECANCELED (a callback asked), or MS_EIO with curl_code telling
     * why (CURLcode: couldn't connect, timeout, connection closed early).
     * The transfer is freed after this returns. */
    void (*on_done)(void *ctx, int rc, int curl_code);
} ms_llm_xfer_cb_t;

/** Starts a transfer; 0 and *out, or MS_EIO. Callbacks come from later
 * loop iterations, never from within this call. */
int ms_llm_xfer_start(ms_llm_http_t *h, const ms_llm_xfer_req_t *req, const ms_llm_xfer_cb_t *cb,
                      void *ctx, ms_llm_xfer_t **out);
/** Pauses receiving (CURLPAUSE_RECV: the socket is no longer read, so the
 * server's sends fill the TCP window and stop) or resumes it; body bytes
 * may be delivered from within the resuming call. Allowed from within the
 * transfer's own callbacks. */
void ms_llm_xfer_pause(ms_llm_xfer_t *x, int paused);
/** Ends the transfer at once, without on_done: its connection is closed
 * (not returned to the cache), so the server sees it go. From within a
 * libcurl callback of any transfer the removal happens as soon as libcurl
 * returns, before any other callback of x. x is gone afterwards. */
void ms_llm_xfer_abort(ms_llm_xfer_t *x);

/** Whether curl_code means the connection was never made (resolve,
 * connect, TLS handshake), so nothing was sent. */
int ms_llm_curl_connect_failed(int curl_code);
/** Whether curl_code is a timeout. */
int ms_llm_curl_timed_out(int curl_code);
/** A short fixed description of curl_code for logs (no URL, no data). */
const char *ms_llm_curl_reason(int curl_code);

#endif
