/* libcurl's multi interface on libuv (llm/transport.h).
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: a
 * uv_poll_t per socket, created on first interest and closed on
 * CURL_POLL_REMOVE, before libcurl closes the socket) and when it wants to
 * be called without I/O (CURLMOPT_TIMERFUNCTION: one uv_timer_t). Each poll
 * or timer event runs curl_multi_socket_action, then the finished transfers
 * are collected (curl_multi_info_read). Nothing here runs from within a
 * libcurl callback that libcurl forbids: handles are removed only after
 * curl_multi_socket_action returned (an abort requested meanwhile waits in
 * a list until then). */
#include "llm/transport.h"

#include "core/ms.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ms_llm_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    int depth;             /* inside curl_multi_socket_action */
    ms_llm_xfer_t *aborts; /* aborted while depth > 0 */
    ms_llm_xfer_t *all;    /* every transfer in progress */
    size_t active;
    int closing;
};

struct ms_llm_xfer {
    ms_llm_http_t *h;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    ms_llm_xfer_cb_t cb;
    void *ctx;
    int status;
    int responded; /* on_response called */
    int64_t retry_after_ms;
    char content_type[96];
    int aborted;
    int stop;                   /* a callback asked to end it */
    ms_llm_xfer_t *next, *prev; /* h->all */
    ms_llm_xfer_t *abort_next;
};

typedef struct {
    uv_poll_t poll;
    curl_socket_t fd;
    ms_llm_http_t *h;
} sock_ctx_t;

static void check_done(ms_llm_http_t *h);

/* ---- the list of transfers --------------------------------------------------- */

static void link_xfer(ms_llm_http_t *h, ms_llm_xfer_t *x) {
    x->prev = NULL;
    x->next = h->all;
    if (h->all)
        h->all->prev = x;
    h->all = x;
    h->active++;
}

/* h is x->h, passed so that the list being changed is visibly the
 * caller's (the analyzer cannot see that x->h == h). */
static void unlink_xfer(ms_llm_http_t *h, ms_llm_xfer_t *x) {
    /* The head first: the list's head has no prev, and testing it first
     * shows that h->all never keeps a transfer once it is unlinked. */
    if (h->all == x)
        h->all = x->next;
    else if (x->prev)
        x->prev->next = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->next = x->prev = NULL;
    h->active--;
}

/* Removes and frees a transfer. A transfer removed before it completed
 * has its connection closed by libcurl (it cannot be reused mid-response). */
static void xfer_destroy(ms_llm_http_t *h, ms_llm_xfer_t *x) {
    unlink_xfer(h, x);
    curl_multi_remove_handle(h->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    free(x);
}

static void run_aborts(ms_llm_http_t *h) {
    while (h->aborts) {
        ms_llm_xfer_t *x = h->aborts;
        h->aborts = x->abort_next;
        xfer_destroy(h, x);
    }
}

/* ---- driving libcurl ------------------------------------------------------ */

static void socket_action(ms_llm_http_t *h, curl_socket_t fd, int flags) {
    int running = 0;
    h->depth++;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    h->depth--;
    if (h->depth == 0) {
        run_aborts(h);
        check_done(h);
    }
}

static void poll_cb(uv_poll_t *p, int status, int events) {
    sock_ctx_t *sc = p->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    socket_action(sc->h, sc->fd, flags);
}

static void poll_close_cb(uv_handle_t *hd) {
    free(hd->data);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy;
    ms_llm_http_t *h = userp;
    sock_ctx_t *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            uv_close((uv_handle_t *)&sc->poll, poll_close_cb);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!sc) {
        sc = ms_xcalloc(1, sizeof *sc);
        sc->fd = fd;
        sc->h = h;
        if (uv_poll_init_socket(h->loop, &sc->poll, fd) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = sc;
        curl_multi_assign(h->multi, fd, sc);
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, poll_cb);
    return 0;
}

static void timer_cb(uv_timer_t *t) {
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* libcurl's wish for a call after timeout_ms (-1: none). Never calls
 * libcurl from here: the timer does, from the loop. */
static int timerfn_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    ms_llm_http_t *h = userp;
    if (h->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Hands every finished transfer to its owner. */
static void check_done(ms_llm_http_t *h) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        ms_llm_xfer_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x || x->aborted)
            continue;
        CURLcode code = m->data.result;
        int rc = code == CURLE_OK ? 0 : x->stop ? MS_ECANCELED : MS_EIO;
        if (code == CURLE_OK && !x->responded && x->cb.on_response) {
            /* A response without a body still reports its status. */
            long st = 0;
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
            x->responded = 1;
            x->cb.on_response(x->ctx, (int)st, x->retry_after_ms, x->content_type);
        }
        ms_llm_xfer_cb_t cb = x->cb;
        void *ctx = x->ctx;
        xfer_destroy(h, x);
        cb.on_done(ctx, rc, (int)code);
    }
}

/* ---- one transfer --------------------------------------------------------- */

/* Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date. */
static int64_t parse_retry_after(const char *v, size_t n) {
    char buf[64];
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end = NULL;
    long long s = strtoll(buf, &end, 10);
    if (end != buf && *end == '\0')
        return s > 0 ? (int64_t)s * 1000 : 0;
    time_t when = curl_getdate(buf, NULL);
    if (when < 0)
        return 0;
    int64_t d = ((int64_t)when * 1000) - ms_now_ms();
    return d > 0 ? d : 0;
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp) {
    ms_llm_xfer_t *x = userp;
    size_t n = size * nmemb;
    if (x->aborted || x->stop)
        return 0;
    if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
        /* A status line: the headers of a (possibly interim) response. */
        x->retry_after_ms = 0;
        x->content_type[0] = '\0';
        return n;
    }
    size_t len = n;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len == 0) {
        long st = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200 && !x->responded) {
            x->responded = 1;
            x->status = (int)st;
            if (x->cb.on_response &&
                x->cb.on_response(x->ctx, (int)st, x->retry_after_ms, x->content_type) != 0) {
                x->stop = 1;
                return 0;
            }
        }
        return n;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon)
        return n;
    size_t klen = (size_t)(colon - data);
    const char *v = colon + 1;
    while (v < data + len && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = (size_t)(data + len - v);
    if (klen == 11 && !strncasecmp(data, "retry-after", 11)) {
        int64_t ms = parse_retry_after(v, vlen);
        if (ms > x->retry_after_ms)
            x->retry_after_ms = ms;
    } else if (klen == 14 && !strncasecmp(data, "retry-after-ms", 14)) {
        char buf[32];
        size_t k = vlen < sizeof buf - 1 ? vlen : sizeof buf - 1;
        memcpy(buf, v, k);
        buf[k] = '\0';
        double ms = strtod(buf, NULL);
        if (ms > 0 && (int64_t)ms > x->retry_after_ms)
            x->retry_after_ms = (int64_t)ms;
    } else if (klen == 12 && !strncasecmp(data, "content-type", 12)) {
        size_t k = vlen < sizeof x->content_type - 1 ? vlen : sizeof x->content_type - 1;
        memcpy(x->content_type, v, k);
        x->content_type[k] = '\0';
    }
    return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp) {
    ms_llm_xfer_t *x = userp;
    size_t n = size * nmemb;
    if (x->aborted || x->stop)
        return 0; /* CURLE_WRITE_ERROR: the transfer ends, its connection closes */
    if (x->cb.on_body(x->ctx, data, n) != 0) {
        x->stop = 1;
        return 0;
    }
    return n;
}

int ms_llm_xfer_start(ms_llm_http_t *h, const ms_llm_xfer_req_t *req, const ms_llm_xfer_cb_t *cb,
                      void *ctx, ms_llm_xfer_t **out) {
    if (!h || h->closing || !req || !req->url || !cb || !cb->on_body || !cb->on_done)
        return MS_EINVAL;
    CURL *e = curl_easy_init();
    if (!e)
        return MS_EIO;
    ms_llm_xfer_t *x = ms_xcalloc(1, sizeof *x);
    x->h = h;
    x->easy = e;
    x->cb = *cb;
    x->ctx = ctx;
    x->body = ms_xstrndup(req->body ? req->body : "", req->body_len);
    for (size_t i = 0; i < req->nheaders; i++)
        x->headers = curl_slist_append(x->headers, req->headers[i]);
    /* No "Expect: 100-continue" wait before a larger body. */
    x->headers = curl_slist_append(x->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    if (req->get) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    if (req->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
    if (req->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    link_xfer(h, x);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        unlink_xfer(h, x);
        curl_easy_cleanup(e);
        curl_slist_free_all(x->headers);
        free(x->body);
        free(x);
        return MS_EIO;
    }
    *out = x;
    return 0;
}

void ms_llm_xfer_pause(ms_llm_xfer_t *x, int paused) {
    if (!x || x->aborted)
        return;
    /* Resuming may deliver buffered body bytes from within curl_easy_pause:
     * that counts as being inside libcurl (aborts wait until it returns). */
    ms_llm_http_t *h = x->h;
    h->depth++;
    curl_easy_pause(x->easy, paused ? CURLPAUSE_RECV : CURLPAUSE_CONT);
    h->depth--;
    if (h->depth == 0)
        run_aborts(h);
}

void ms_llm_xfer_abort(ms_llm_xfer_t *x) {
    if (!x || x->aborted)
        return;
    x->aborted = 1;
    ms_llm_http_t *h = x->h;
    if (h->depth > 0) {
        x->abort_next = h->aborts;
        h->aborts = x;
        return;
    }
    xfer_destroy(h, x);
}

/* ---- the multi handle ----------------------------------------------------- */

static int global_init;

ms_llm_http_t *ms_llm_http_new(uv_loop_t *loop) {
    if (!global_init) {
        /* Once, before any thread uses libcurl (start-up, loop thread). */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_init = 1;
    }
    ms_llm_http_t *h = ms_xcalloc(1, sizeof *h);
    h->loop = loop;
    h->multi = curl_multi_init();
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timerfn_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

size_t ms_llm_http_active(const ms_llm_http_t *h) {
    return h ? h->active : 0;
}

static void http_timer_closed(uv_handle_t *hd) {
    free(hd->data);
}

void ms_llm_http_free(ms_llm_http_t *h) {
    if (!h)
        return;
    h->closing = 1;
    run_aborts(h);
    while (h->all)
        xfer_destroy(h, h->all);
    /* Closes the cached connections; their sockets' CURL_POLL_REMOVE close
     * the poll handles. */
    curl_multi_cleanup(h->multi);
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, http_timer_closed);
}

/* ---- libcurl codes -------------------------------------------------------- */

int ms_llm_curl_connect_failed(int code) {
    switch ((CURLcode)code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return 1;
    default:
        return 0;
    }
}

int ms_llm_curl_timed_out(int code) {
    return (CURLcode)code == CURLE_OPERATION_TIMEDOUT;
}

const char *ms_llm_curl_reason(int code) {
    switch ((CURLcode)code) {
    case CURLE_OK:
        return "ok";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "could not resolve the host";
    case CURLE_COULDNT_CONNECT:
        return "could not connect";
    case CURLE_OPERATION_TIMEDOUT:
        return "timed out";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return "TLS handshake failed";
    case CURLE_GOT_NOTHING:
        return "the server closed the connection without a response";
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
        return "the connection broke while receiving";
    case CURLE_SEND_ERROR:
        return "the connection broke while sending";
    default:
        return "transfer failed";
    }
}
