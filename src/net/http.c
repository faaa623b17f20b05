/* HTTP requests: collect method, path, headers and body from lws, dispatch
 * to the API, write the response when the connection is writable. */
#include "core/log.h"
#include "net/internal.h"

#include <stdlib.h>
#include <string.h>

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

static void on_response(ms_http_req_t *r) {
    lws_callback_on_writable((struct lws *)r->conn);
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

static int start_request(struct lws *wsi, ms_pss_t *pss, const char *path) {
    ms_api_t *api = lws_context_user(lws_get_context(wsi));
    ms_http_req_t *r = ms_xcalloc(1, sizeof *r);
    r->api = api;
    r->refs = 1; /* the connection's */
    r->conn = wsi;
    r->on_response = on_response;
    r->method = method_of(wsi);
    r->path = ms_xstrdup(path && *path ? path : "/");
    r->query = query_dup(wsi);
    r->authorization = header_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, 8192);
    r->cookie = header_dup(wsi, WSI_TOKEN_HTTP_COOKIE, 4096);
    r->accept_encoding = header_dup(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, 512);
    char proto[16];
    if (lws_hdr_custom_copy(wsi, proto, sizeof proto, "x-forwarded-proto:", 18) > 0)
        r->forwarded_proto = ms_xstrdup(proto);
    lws_get_peer_simple(wsi, r->peer, sizeof r->peer);
    ms_buf_init(&r->body);
    pss->req = r;

    char cl[32];
    long long content_length = 0;
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        content_length = atoll(cl);
    if (content_length > api->cfg->max_body_bytes) {
        /* Refuse before reading: the body is never buffered. */
        r->body_too_large = 1;
        r->dispatched = 1;
        ms_api_dispatch(r);
        return 0;
    }
    if (content_length > 0 &&
        (r->method == MS_HTTP_POST || r->method == MS_HTTP_PATCH || r->method == MS_HTTP_PUT))
        return 0; /* wait for LWS_CALLBACK_HTTP_BODY_COMPLETION */
    /* lws may still report a body completion (a POST with Content-Length:
     * 0 does): the request must not be dispatched twice. */
    r->dispatched = 1;
    ms_api_dispatch(r);
    return 0;
}

static int write_response(struct lws *wsi, ms_pss_t *pss) {
    ms_http_req_t *r = pss->req;
    if (!r || !r->status)
        return 0;
    unsigned char hdr[LWS_PRE + 4096];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    const char *cc = r->cache_control ? r->cache_control : "no-store";
    if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->content_type,
                                    (lws_filepos_t)r->resp_len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)cc, (int)strlen(cc), &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end) ||
        (r->allow[0] && lws_add_http_header_by_name(
                            wsi, (const unsigned char *)"allow:", (const unsigned char *)r->allow,
                            (int)strlen(r->allow), &p, end)))
        return -1;
    /* Handler headers ("name\0value\0" pairs; lws wants "name:"). */
    for (size_t i = 0; i < r->resp_headers.len;) {
        const char *name = r->resp_headers.data + i, *value = name + strlen(name) + 1;
        char hname[64];
        snprintf(hname, sizeof hname, "%s:", name);
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)hname,
                                        (const unsigned char *)value, (int)strlen(value), &p, end))
            return -1;
        i = (size_t)(value + strlen(value) + 1 - r->resp_headers.data);
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (r->resp_len) {
        unsigned char *body = ms_xmalloc(LWS_PRE + r->resp_len);
        memcpy(body + LWS_PRE, r->resp_body, r->resp_len);
        int n = lws_write(wsi, body + LWS_PRE, r->resp_len, LWS_WRITE_HTTP_FINAL);
        free(body);
        if (n < 0)
            return -1;
    }
    ms_log(r->status >= 500 ? MS_LOG_WARN : MS_LOG_DEBUG, "http_request",
           "\"method\":%d,\"path_len\":%zu,\"status\":%d", (int)r->method, strlen(r->path),
           r->status);
    pss->req = NULL;
    r->conn = NULL;
    ms_http_req_unref(r);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int ms__http_cb(struct lws *wsi, enum lws_callback_reasons reason, ms_pss_t *pss, void *in,
                size_t len) {
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (pss->req) /* a pipelined request while one is pending: refuse */
            return -1;
        return start_request(wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY: {
        ms_http_req_t *r = pss->req;
        if (!r)
            return -1;
        if (r->body.len + len > (size_t)r->api->cfg->max_body_bytes)
            r->body_too_large = 1;
        else
            ms_buf_append(&r->body, in, len);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!pss->req)
            return -1;
        if (!pss->req->dispatched) {
            pss->req->dispatched = 1;
            ms_api_dispatch(pss->req);
        }
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_response(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->req) {
            pss->req->conn = NULL;
            ms_http_req_unref(pss->req);
            pss->req = NULL;
        }
        return 0;
    default:
        return 0;
    }
}
