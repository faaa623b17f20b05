/* HTTP requests: collect method, path and headers from lws, decide the body
 * framing and check the route and the token on the headers alone, read the
 * body within a total deadline and a process-wide budget, dispatch to the
 * API exactly once, and write the response.
 *
 * A request's life on its connection (ms_http_rx_t):
 *   headers -> refused, no body to come: answered when writable;
 *           -> refused, a body to come: answered at once (from
 *              LWS_CALLBACK_HTTP, as lws_return_http_status does), the body
 *              is then read and dropped (bounded, within the deadline) so
 *              the client reads the answer rather than a reset, and the
 *              connection is closed;
 *           -> no body: dispatched now;
 *           -> a body: buffered (JSON routes), handed piece by piece to
 *              the route's sink (streaming routes: uploads, api.h
 *              ms_http_sink_t), or dropped as it arrives; dispatched when
 *              its last byte is in, or answered 408 at the deadline. The
 *              handler's answer is written when writable.
 * lws_http_transaction_completed is called only from the writable callback
 * and only once the body is read (lws' own path for every answer): called
 * from a read callback, or with a completed body whose transaction stays
 * open while bytes wait in lws' buffer list, lws 4.1 spun at 100% CPU in
 * lws_service_do_ripe_rxflow and the connection never answered again.
 *
 * libwebsockets 4.1 resets its own body timeout on every byte (a client
 * sending one byte every 20 s held its connection for ever), so the body
 * deadline is ours: one list in deadline order and one timer for all. The
 * request head's deadline is lws' timeout_secs_ah_idle, set once when the
 * connection gets its header table (server.c). */
#include "core/log.h"
#include "net/framing.h"
#include "net/internal.h"

#include <stdlib.h>
#include <string.h>

/* Strict by default: the page works under exactly this policy. */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

enum {
    RX_HEADERS,    /* in LWS_CALLBACK_HTTP */
    RX_BODY,       /* receiving the body */
    RX_DISPATCHED, /* the handler has it */
    RX_ANSWERED,   /* a refusal waits for a writable callback */
    RX_DRAIN,      /* answered; the rest of the body is read and dropped, then close */
};

/** One request's reading state on its connection (the connection's, via
 * pss->rx; freed when the request is done with the connection). */
typedef struct ms_http_rx {
    ms_deadline_t dl; /* first: the deadline list hands back its address */
    struct lws *wsi;
    ms_api_t *api;
    ms_http_req_t *req; /* the same as pss->req */
    ms_framing_t framing;
    ms_chunked_t chunked;
    int64_t drained; /* raw bytes read and dropped after the answer */
    int phase;
    int woken;       /* RX_ANSWERED: the writable callback was asked for */
    int close_after; /* the connection ends with this response */
    int http10;      /* an HTTP/1.0 request: a streamed body is not chunked */
} ms_http_rx_t;

static ms_deadline_list_t deadlines;
static uv_timer_t deadline_timer;
static int timer_ready, timer_stopped;
static ms_log_throttle_t budget_log;

static ms_http_method_t method_of(struct lws *wsi) {
    static const struct {
        enum lws_token_indexes tok;
        ms_http_method_t m;
    } map[] = {
        {WSI_TOKEN_GET_URI, MS_HTTP_GET},       {WSI_TOKEN_POST_URI, MS_HTTP_POST},
        {WSI_TOKEN_PATCH_URI, MS_HTTP_PATCH},   {WSI_TOKEN_PUT_URI, MS_HTTP_PUT},
        {WSI_TOKEN_DELETE_URI, MS_HTTP_DELETE}, {WSI_TOKEN_OPTIONS_URI, MS_HTTP_OPTIONS},
    };
    for (size_t i = 0; i < MS_COUNTOF(map); i++)
        if (lws_hdr_total_length(wsi, map[i].tok) > 0)
            return map[i].m;
    return MS_HTTP_OTHER;
}

/* Copies a header into a heap string, or NULL when absent or oversized. */
static char *header_dup(struct lws *wsi, enum lws_token_indexes tok, int max) {
    int n = lws_hdr_total_length(wsi, tok);
    if (n <= 0 || n > max)
        return NULL;
    char *s = ms_xmalloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, tok) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* The Cookie header lines joined by "; " (RFC 6265 section 5.4: a client
 * sends one line, but a proxy may split it), or NULL. lws' own copy would
 * glue them together without a separator. */
static char *cookie_dup(struct lws *wsi, int max) {
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
    if (total <= 0 || total > max)
        return NULL;
    ms_buf_t b;
    ms_buf_init(&b);
    char *frag = ms_xmalloc((size_t)total + 1);
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, total + 1, WSI_TOKEN_HTTP_COOKIE, i);
        if (n < 0)
            break;
        const char *v = frag;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!*v)
            continue;
        if (b.len)
            ms_buf_puts(&b, "; ");
        ms_buf_puts(&b, v);
    }
    free(frag);
    return b.len ? ms_buf_take(&b) : (ms_buf_free(&b), NULL);
}

/* Reassembles the query string from lws' URI-argument fragments. */
static char *query_dup(struct lws *wsi) {
    ms_buf_t b;
    ms_buf_init(&b);
    char frag[2048];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (b.len)
            ms_buf_putc(&b, '&');
        ms_buf_append(&b, frag, (size_t)n);
    }
    return b.len ? ms_buf_take(&b) : (ms_buf_free(&b), NULL);
}

int ms__log_allow(ms_log_throttle_t *t, int64_t now, int per_interval, int64_t interval_ms) {
    if (now - t->window_start >= interval_ms) {
        if (t->suppressed)
            ms_log(MS_LOG_WARN, "log_suppressed", "\"lines\":%lld,\"interval_ms\":%lld",
                   (long long)t->suppressed, (long long)interval_ms);
        t->window_start = now;
        t->lines = 0;
        t->suppressed = 0;
    }
    if (t->lines < per_interval) {
        t->lines++;
        return 1;
    }
    t->suppressed++;
    return 0;
}

/* ---- deadlines ----------------------------------------------------------- */

static void arm_timer(void);

/* From the timer, outside any lws callback: a late body gets its 408 at the
 * next writable callback; a drain or an unread 408 is cut off now (a
 * timeout set with lws_set_timeout would be reset by lws at the client's
 * next byte, so it is closed synchronously: no wsi is being serviced). */
static void expire(ms_http_rx_t *rx) {
    if (rx->phase == RX_ANSWERED && !rx->woken) {
        /* Asked for here, outside lws' read callbacks (see answer_now). */
        rx->woken = 1;
        lws_callback_on_writable(rx->wsi);
        ms_deadline_push(&deadlines, &rx->dl, ms_mono_ms() + 5000);
        return;
    }
    if (rx->phase == RX_BODY && rx->req) {
        ms_http_req_t *r = rx->req;
        r->api->body_inflight -= r->body_reserved;
        r->body_reserved = 0;
        ms_buf_free(&r->body);
        /* RFC 9110 section 15.5.9. */
        ms_http_respond_error(r, 408, "timeout", "the request body did not arrive in time");
        rx->phase = RX_ANSWERED;
        rx->woken = 1;
        rx->close_after = 1;
        lws_callback_on_writable(rx->wsi);
        ms_deadline_push(&deadlines, &rx->dl, ms_mono_ms() + 5000);
        return;
    }
    lws_set_timeout(rx->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static void deadline_cb(uv_timer_t *t) {
    (void)t;
    int64_t now = ms_mono_ms();
    ms_deadline_t *d;
    while ((d = ms_deadline_pop_due(&deadlines, now)))
        expire((ms_http_rx_t *)d);
    arm_timer();
}

static void arm_timer(void) {
    if (!timer_ready || timer_stopped)
        return;
    int64_t due = ms_deadline_next(&deadlines);
    if (due < 0) {
        uv_timer_stop(&deadline_timer);
        return;
    }
    int64_t wait = due - ms_mono_ms();
    uv_timer_start(&deadline_timer, deadline_cb, (uint64_t)(wait > 0 ? wait : 0), 0);
}

/* Puts rx on the deadline list, due in_ms from now. */
static void watch_in(ms_http_rx_t *rx, int64_t in_ms) {
    if (!timer_ready && !timer_stopped) {
        uv_timer_init(rx->api->loop, &deadline_timer);
        timer_ready = 1;
    }
    int64_t due = ms_mono_ms() + in_ms, next = ms_deadline_next(&deadlines);
    ms_deadline_push(&deadlines, &rx->dl, due);
    if (next < 0 || due < next)
        arm_timer();
}

/* The body deadline: the route's own (uploads) or body_timeout_s. */
static void watch(ms_http_rx_t *rx) {
    int64_t s =
        rx->req && rx->req->body_timeout_s ? rx->req->body_timeout_s : rx->api->cfg->body_timeout_s;
    watch_in(rx, s * 1000);
}

static void timer_closed_cb(uv_handle_t *h) {
    (void)h;
}

void ms__http_stop(void) {
    if (timer_stopped)
        return;
    timer_stopped = 1;
    if (timer_ready)
        uv_close((uv_handle_t *)&deadline_timer, timer_closed_cb);
}

/* ---- writing ------------------------------------------------------------- */

int ms__http_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end) {
    static const struct {
        const char *name, *value;
    } h[] = {
        {"content-security-policy:", CSP},
        {"x-content-type-options:", "nosniff"},
        {"x-frame-options:", "DENY"},
        {"referrer-policy:", "no-referrer"},
    };
    for (size_t i = 0; i < MS_COUNTOF(h); i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[i].name,
                                        (const unsigned char *)h[i].value, (int)strlen(h[i].value),
                                        p, end))
            return -1;
    return 0;
}

/* Status, content headers, the security headers, Allow, Connection: close
 * when the connection ends with this response, then the handler's own. */
static int write_head(struct lws *wsi, ms_http_req_t *r, int close_after, int chunked) {
    size_t need = 2048;
    for (const ms_http_header_t *h = r->resp_headers; h; h = h->next)
        need += strlen(h->name) + strlen(h->value) + 4;
    unsigned char *buf = ms_xmalloc(LWS_PRE + need);
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + LWS_PRE + need - 1;
    int has_cc = 0;
    for (const ms_http_header_t *h = r->resp_headers; h; h = h->next)
        has_cc |= !strcmp(h->name, "cache-control");
    int rc = -1;
    /* A streamed body is chunked (RFC 9112 section 7.1): framed by stream()
     * here, since lws would answer a missing length with Connection: close. */
    static const char te[] = "chunked";
    int head_ok = r->streaming
                      ? !lws_add_http_header_status(wsi, (unsigned int)r->status, &p, end) &&
                            !lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                                          (const unsigned char *)r->content_type,
                                                          (int)strlen(r->content_type), &p, end) &&
                            (!chunked || !lws_add_http_header_by_name(
                                             wsi, (const unsigned char *)"transfer-encoding:",
                                             (const unsigned char *)te, (int)strlen(te), &p, end))
                      : !lws_add_http_common_headers(wsi, (unsigned int)r->status, r->content_type,
                                                     (lws_filepos_t)r->resp_len, &p, end);
    if (!head_ok || ms__http_security_headers(wsi, &p, end) ||
        (!has_cc && lws_add_http_header_by_name(
                        wsi, (const unsigned char *)"cache-control:",
                        (const unsigned char *)(r->cache_control ? r->cache_control : "no-store"),
                        (int)strlen(r->cache_control ? r->cache_control : "no-store"), &p, end)) ||
        (r->allow[0] && lws_add_http_header_by_name(
                            wsi, (const unsigned char *)"allow:", (const unsigned char *)r->allow,
                            (int)strlen(r->allow), &p, end)) ||
        (close_after && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                     (const unsigned char *)"close", 5, &p, end)))
        goto out;
    for (const ms_http_header_t *h = r->resp_headers; h; h = h->next) {
        char name[128];
        snprintf(name, sizeof name, "%s:", h->name);
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)h->value, (int)strlen(h->value), &p,
                                        end))
            goto out;
    }
    rc = lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
out:
    free(buf);
    return rc;
}

/* Writes the response and drops the connection's reference to r. */
static int emit(struct lws *wsi, ms_pss_t *pss, int close_after) {
    ms_http_req_t *r = pss->req;
    if (write_head(wsi, r, close_after, 0) != 0)
        return -1;
    if (r->resp_len) {
        unsigned char *body = ms_xmalloc(LWS_PRE + r->resp_len);
        memcpy(body + LWS_PRE, r->resp_body, r->resp_len);
        int n = lws_write(wsi, body + LWS_PRE, r->resp_len, LWS_WRITE_HTTP_FINAL);
        free(body);
        if (n < 0)
            return -1;
    }
    /* Internal errors are logged at warn; refusals (overload included, which
     * a client can cause at will) only at debug. */
    ms_log(r->status >= 500 && r->status != 503 ? MS_LOG_WARN : MS_LOG_DEBUG, "http_request",
           "\"method\":%d,\"path_len\":%zu,\"status\":%d", (int)r->method, strlen(r->path),
           r->status);
    pss->req = NULL;
    r->conn = NULL;
    if (pss->rx)
        pss->rx->req = NULL;
    ms_http_req_unref(r);
    return 0;
}

static void rx_free(ms_pss_t *pss) {
    ms_http_rx_t *rx = pss->rx;
    if (!rx)
        return;
    ms_deadline_remove(&deadlines, &rx->dl);
    pss->rx = NULL;
    free(rx);
}

/* Drops the connection's reference to a request it has answered. */
static void let_go(ms_pss_t *pss, ms_http_req_t *r) {
    ms_log(MS_LOG_DEBUG, "http_request", "\"method\":%d,\"path_len\":%zu,\"status\":%d",
           (int)r->method, strlen(r->path), r->status);
    pss->req = NULL;
    r->conn = NULL;
    if (pss->rx)
        pss->rx->req = NULL;
    ms_http_req_unref(r);
}

/* A streamed response at a writable callback: the head once, then what the
 * handler has queued as one chunk, then (once it has ended) the last
 * chunk. An HTTP/1.0 client gets the bytes unframed and the connection's
 * close as the end (RFC 9112 section 6.3, rule 8). Returns 1 while more is
 * to come, 0 when done, -1 on an error. */
static int stream(struct lws *wsi, ms_pss_t *pss, int close_after, int chunked) {
    ms_http_req_t *r = pss->req;
    if (!r->stream_head) {
        if (write_head(wsi, r, close_after, chunked) != 0)
            return -1;
        r->stream_head = 1;
        if (r->stream_out.len || r->stream_ended) {
            lws_callback_on_writable(wsi); /* one write per writable callback */
            return 1;
        }
    }
    size_t n = r->stream_out.len;
    int last = r->stream_ended;
    if (!n && !last)
        return 1;
    unsigned char *buf = ms_xmalloc(LWS_PRE + n + 32);
    unsigned char *p = buf + LWS_PRE;
    size_t len = 0;
    if (n && !chunked) {
        memcpy(p, r->stream_out.data, n);
        len = n;
    } else if (n) {
        len = (size_t)snprintf((char *)p, 20, "%zx\r\n", n);
        memcpy(p + len, r->stream_out.data, n);
        len += n;
        p[len++] = '\r';
        p[len++] = '\n';
    }
    if (last && chunked) /* the last chunk, no trailer (RFC 9112 section 7.1) */
        len += (size_t)snprintf((char *)p + len, 8, "0\r\n\r\n");
    ms_buf_reset(&r->stream_out);
    int w = len ? lws_write(wsi, p, len, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) : 0;
    free(buf);
    if (w < 0)
        return -1;
    if (!last)
        return 1;
    let_go(pss, r);
    return 0;
}

/* LWS_CALLBACK_HTTP_WRITEABLE: the handler's answer, or a 408. */
static int write_response(struct lws *wsi, ms_pss_t *pss) {
    ms_http_req_t *r = pss->req;
    if (!r || !r->status)
        return 0;
    int close_after = pss->rx && pss->rx->close_after;
    if (r->streaming) {
        int http10 = pss->rx && pss->rx->http10;
        close_after |= http10;
        int rc = stream(wsi, pss, close_after, !http10);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (close_after)
            return -1;
        rx_free(pss);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    if (emit(wsi, pss, close_after) != 0 || close_after)
        return -1; /* lws flushes what is buffered, then closes */
    rx_free(pss);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Sets a refusal on the request; answer_now writes it. */
static void set_refusal(ms_http_rx_t *rx, int status, const char *code, const char *message,
                        int close_after) {
    ms_http_respond_error(rx->req, status, code, message);
    rx->close_after |= close_after;
}

/* Whether a body may still arrive for this request. */
static int body_to_come(const ms_http_rx_t *rx) {
    return rx->framing.kind == MS_BODY_CHUNKED ||
           (rx->framing.kind == MS_BODY_LENGTH && rx->framing.length > 0);
}

/* Answers a refusal (r->status is set), from LWS_CALLBACK_HTTP or
 * LWS_CALLBACK_HTTP_BODY. Without a body to come it waits for the writable
 * callback like any answer. Otherwise it is written now and the rest of
 * the body drained, unless the framing is broken or the body is more than
 * twice max_body_bytes: then the connection closes at once. Returns the
 * callback's result. */
static int answer_now(struct lws *wsi, ms_pss_t *pss) {
    ms_http_rx_t *rx = pss->rx;
    ms_http_req_t *r = pss->req;
    /* What was buffered is not needed any more. */
    r->api->body_inflight -= r->body_reserved;
    r->body_reserved = 0;
    ms_buf_free(&r->body);
    ms_deadline_remove(&deadlines, &rx->dl);
    if (rx->phase == RX_HEADERS && !body_to_come(rx) && !rx->close_after) {
        /* The writable callback is asked for from the timer, at once but
         * outside this read callback: asked for here, while lws holds a
         * body-less POST open, it was lost and the answer never went out. */
        rx->phase = RX_ANSWERED;
        watch_in(rx, 0);
        return 0;
    }
    int drain = !rx->close_after && (rx->framing.kind == MS_BODY_CHUNKED ||
                                     (rx->framing.kind == MS_BODY_LENGTH &&
                                      rx->framing.length <= 2 * rx->api->cfg->max_body_bytes));
    if (emit(wsi, pss, 1) != 0 || !drain)
        return -1; /* lws flushes what is buffered, then closes */
    rx->phase = RX_DRAIN;
    watch(rx);
    return 0;
}

/* Reads and drops the rest of an answered request's body; closes once it
 * has all come (or more than twice max_body_bytes did). */
static int drain(ms_http_rx_t *rx, const char *in, size_t len) {
    rx->drained += (int64_t)len;
    if (rx->drained > 2 * rx->api->cfg->max_body_bytes)
        return -1;
    if (rx->framing.kind == MS_BODY_CHUNKED &&
        ms_chunked_feed(&rx->chunked, in, len, NULL, NULL, NULL) != 0)
        return -1; /* its end, or garbage */
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

static void on_response(ms_http_req_t *r) {
    lws_callback_on_writable((struct lws *)r->conn);
}

static void dispatch(ms_http_rx_t *rx) {
    ms_deadline_remove(&deadlines, &rx->dl);
    rx->phase = RX_DISPATCHED;
    ms_api_dispatch(rx->req);
}

/* The values of each field line of tok into vals (at most max lines of at
 * most 255 bytes each). Returns how many, or -1 when there are more lines
 * or a longer one (refused as invalid framing by the caller). */
static int field_lines(struct lws *wsi, enum lws_token_indexes tok, char (*vals)[256],
                       const char **ptrs, int max) {
    int n = 0;
    for (;; n++) {
        int len = lws_hdr_copy_fragment(wsi, n < max ? vals[n] : vals[0], 256, tok, n);
        if (len < 0)
            return lws_hdr_fragment_length(wsi, tok, n) > 0 ? -1 : n;
        if (n >= max)
            return -1;
        ptrs[n] = vals[n];
    }
}

/* RFC 9112 section 6.3 on lws' view of the headers. 0, or r->status set. */
static int decide_framing(struct lws *wsi, ms_http_rx_t *rx) {
    char clv[8][256], tev[8][256], version[16] = "";
    const char *cl[8], *te[8];
    int ncl = field_lines(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clv, cl, 8);
    int nte = field_lines(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, tev, te, 8);
    if (ncl < 0 || nte < 0) {
        set_refusal(rx, 400, "invalid_request", "malformed Content-Length or Transfer-Encoding", 1);
        return 400;
    }
    lws_hdr_copy(wsi, version, sizeof version, WSI_TOKEN_HTTP);
    rx->http10 = !strcmp(version, "HTTP/1.0");
    if (ms_http_framing(cl, (size_t)ncl, te, (size_t)nte, !strcmp(version, "HTTP/1.0"),
                        &rx->framing) != 0) {
        set_refusal(rx, rx->framing.status, rx->framing.code, rx->framing.message, 1);
        return rx->framing.status;
    }
    return 0;
}

/* Request line and header sizes against max_header_bytes. lws cuts each
 * header it knows at that length (token_limits, server.c), so reaching it
 * means "over"; its buffer holds twice as much, so the sum is seen
 * too. Headers lws does not know count only against that buffer. */
static int check_head_size(struct lws *wsi, ms_http_rx_t *rx, int64_t max) {
    int64_t uri = 0, total = 0, longest = 0;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        int n = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (n <= 0)
            continue;
        if (n > longest && t != WSI_TOKEN_HTTP_URI_ARGS)
            longest = n;
        total += n + 4; /* the name is not counted; ": " and CRLF are */
        switch (t) {
        case WSI_TOKEN_GET_URI:
        case WSI_TOKEN_POST_URI:
        case WSI_TOKEN_OPTIONS_URI:
        case WSI_TOKEN_PATCH_URI:
        case WSI_TOKEN_PUT_URI:
        case WSI_TOKEN_DELETE_URI:
        case WSI_TOKEN_HEAD_URI:
        case WSI_TOKEN_HTTP_URI_ARGS:
            uri += n;
            break;
        default:
            break;
        }
    }
    if (uri >= max) {
        set_refusal(rx, 414, "uri_too_long", "request target over max_header_bytes", 1);
        return 414;
    }
    if (total > max || longest >= max) {
        /* RFC 6585 section 5. */
        set_refusal(rx, 431, "headers_too_large", "request header fields over max_header_bytes", 1);
        return 431;
    }
    return 0;
}

static void budget_full(ms_api_t *api) {
    if (ms__log_allow(&budget_log, ms_mono_ms(), 1, 10000))
        ms_log(MS_LOG_WARN, "body_budget_full", "\"budget\":%lld,\"inflight\":%lld",
               (long long)api->cfg->body_budget_bytes, (long long)api->body_inflight);
}

/* Reserves n bytes of the process-wide body budget for r. */
static int reserve(ms_http_req_t *r, int64_t n) {
    ms_api_t *api = r->api;
    if (api->body_inflight + n > api->cfg->body_budget_bytes) {
        budget_full(api);
        return MS_EBUSY;
    }
    api->body_inflight += n;
    r->body_reserved += n;
    return 0;
}

static int start_request(struct lws *wsi, ms_pss_t *pss, const char *path) {
    ms_api_t *api = lws_context_user(lws_get_context(wsi));
    const ms_config_t *cfg = api->cfg;
    ms_http_req_t *r = ms_xcalloc(1, sizeof *r);
    r->api = api;
    r->refs = 1; /* the connection's */
    r->conn = wsi;
    r->on_response = on_response;
    r->arrival_ns = uv_hrtime();
    r->method = method_of(wsi);
    r->path = ms_xstrdup(path && *path ? path : "/");
    r->query = query_dup(wsi);
    r->authorization = header_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (int)cfg->max_header_bytes);
    r->cookie = cookie_dup(wsi, (int)cfg->max_header_bytes);
    r->accept_encoding = header_dup(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, 512);
    r->req_content_type = header_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, 1024);
    char proto[16];
    if (lws_hdr_custom_copy(wsi, proto, sizeof proto, "x-forwarded-proto:", 18) > 0)
        r->forwarded_proto = ms_xstrdup(proto);
    lws_get_peer_simple(wsi, r->peer, sizeof r->peer);
    ms_buf_init(&r->body);
    pss->req = r;
    ms_http_rx_t *rx = ms_xcalloc(1, sizeof *rx);
    rx->wsi = wsi;
    rx->api = api;
    rx->req = r;
    rx->phase = RX_HEADERS;
    pss->rx = rx;

    if (decide_framing(wsi, rx) || check_head_size(wsi, rx, cfg->max_header_bytes))
        return answer_now(wsi, pss);
    const ms_framing_t *f = &rx->framing;
    /* lws reads a body only by Content-Length, and on POST, PUT and PATCH
     * reads one anyway (up to 100 MiB) when there is none. */
    int lws_expects_body =
        r->method == MS_HTTP_POST || r->method == MS_HTTP_PUT || r->method == MS_HTTP_PATCH;
    if (f->kind == MS_BODY_CHUNKED && !lws_expects_body) {
        set_refusal(rx, 400, "invalid_request",
                    "a chunked body is accepted on POST, PUT and PATCH only", 1);
        return answer_now(wsi, pss);
    }
    /* lws would read bytes after a body-less POST as its body: the
     * connection cannot carry another request. Likewise after chunked. */
    rx->close_after = (f->kind == MS_BODY_NONE && lws_expects_body) || f->kind == MS_BODY_CHUNKED;
    r->content_length = f->kind == MS_BODY_CHUNKED ? -1 : f->length;
    if (ms_api_begin(r) != 0)
        return answer_now(wsi, pss);
    /* The budget counts bytes as they arrive, so announcing a large body
     * costs nothing; one that cannot fit now is refused at once. */
    if (r->body_keep && f->kind == MS_BODY_LENGTH && f->length > 0) {
        if (api->body_inflight + f->length > cfg->body_budget_bytes) {
            budget_full(api);
            set_refusal(rx, 503, "busy", "server busy; retry later", 0);
            return answer_now(wsi, pss);
        }
        ms_buf_reserve(&r->body, (size_t)f->length); /* address space; resident as it fills */
    }
    if (f->kind == MS_BODY_NONE || (f->kind == MS_BODY_LENGTH && f->length == 0)) {
        dispatch(rx);
        return 0;
    }
    rx->phase = RX_BODY;
    watch(rx);
    return 0;
}

/* Chunked data of a body being kept: within the route's limit and the
 * process-wide budget. */
static int keep_chunk(void *ctx, const char *data, size_t len) {
    ms_http_req_t *r = ctx;
    if ((int64_t)(r->body.len + len) > r->body_limit)
        return MS_ETOOBIG;
    if (reserve(r, (int64_t)len) != 0)
        return MS_EBUSY;
    ms_buf_append(&r->body, data, len);
    return 0;
}

/* Chunked data of a streamed body: to the route's sink. */
static int sink_chunk(void *ctx, const char *data, size_t len) {
    ms_http_req_t *r = ctx;
    int rc = r->sink->data(r, data, len);
    return rc > 0 ? 0 : rc;
}

/* The sink refused the body: its answer (or a 400) goes out now. */
static int sink_refused(struct lws *wsi, ms_pss_t *pss) {
    ms_http_rx_t *rx = pss->rx;
    if (!rx->req->status)
        set_refusal(rx, 400, "invalid_request", "the request body was refused", 0);
    return answer_now(wsi, pss);
}

static int on_body(struct lws *wsi, ms_pss_t *pss, const char *in, size_t len) {
    ms_http_rx_t *rx = pss->rx;
    if (rx && rx->phase == RX_DRAIN)
        return drain(rx, in, len);
    if (!rx || rx->phase != RX_BODY)
        return 0; /* after the body: bytes lws thinks are body, ignored */
    ms_http_req_t *r = rx->req;
    if (rx->framing.kind == MS_BODY_LENGTH) {
        if (r->sink)
            return r->sink->data(r, in, len) < 0 ? sink_refused(wsi, pss) : 0;
        if (!r->body_keep)
            return 0;
        if (reserve(r, (int64_t)len) != 0) {
            set_refusal(rx, 503, "busy", "server busy; retry later", 0);
            return answer_now(wsi, pss);
        }
        ms_buf_append(&r->body, in, len); /* within the Content-Length */
        return 0;
    }
    size_t used = 0;
    int rc = ms_chunked_feed(&rx->chunked, in, len, &used,
                             r->body_keep ? keep_chunk
                             : r->sink    ? sink_chunk
                                          : NULL,
                             r);
    if (rc == 0 && (int64_t)rx->chunked.total > r->body_limit)
        rc = MS_ETOOBIG; /* a discarded body has the same limit */
    if (rc == 1) {
        dispatch(rx);
        return 0;
    }
    if (rc == 0)
        return 0;
    if (r->status)
        ; /* the sink refused and set its answer */
    else if (rc == MS_ETOOBIG)
        set_refusal(rx, 413, "too_large", "request body too large", 0);
    else if (rc == MS_EBUSY)
        set_refusal(rx, 503, "busy", "server busy; retry later", 0);
    else
        set_refusal(rx, 400, "invalid_request", "malformed chunked body", 1);
    int ret = answer_now(wsi, pss);
    /* The rest of this piece is the rest of the body to drain. */
    if (ret == 0 && rx->phase == RX_DRAIN && used < len)
        ret = drain(rx, in + used, len - used);
    return ret;
}

/* lws read the whole Content-Length body. */
static int on_body_complete(ms_pss_t *pss) {
    ms_http_rx_t *rx = pss->rx;
    if (rx && rx->phase == RX_BODY && rx->framing.kind == MS_BODY_LENGTH)
        dispatch(rx);
    else if (rx && rx->phase == RX_DRAIN)
        return -1; /* answered and drained: close */
    return 0;
}

int ms__http_cb(struct lws *wsi, enum lws_callback_reasons reason, ms_pss_t *pss, void *in,
                size_t len) {
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (pss->req || pss->rx) /* a pipelined request while one is pending: refuse */
            return -1;
        return start_request(wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(wsi, pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return on_body_complete(pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_response(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss) {
            rx_free(pss);
            if (pss->req) {
                pss->req->conn = NULL;
                ms_http_req_unref(pss->req);
                pss->req = NULL;
            }
        }
        return 0;
    default:
        return 0;
    }
}
