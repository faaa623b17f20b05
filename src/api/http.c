/* Request/response helpers shared by every handler. */
#include "api/api.h"

#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ms_http_respond_json(ms_http_req_t *r, int status, json_t *body) {
    if (!r->resp_static)
        free(r->resp_body);
    r->resp_static = 0;
    r->resp_body = NULL;
    r->resp_len = 0;
    r->status = status;
    r->content_type = "application/json";
    if (body) {
        r->resp_body = json_dumps(body, JSON_COMPACT);
        r->resp_len = r->resp_body ? strlen(r->resp_body) : 0;
        json_decref(body);
    }
}

/* The "type" of an OpenAI error object for a status (the OpenAI API
 * reference, "Error codes"; the SDKs pick their exception by status). */
static const char *openai_type(int status) {
    return status == 401   ? "invalid_request_error"
           : status == 429 ? "rate_limit_error"
           : status >= 500 ? "server_error"
                           : "invalid_request_error";
}

void ms_http_respond_error(ms_http_req_t *r, int status, const char *code, const char *message) {
    /* Under /v1/ (the OpenAI-compatible API) errors have OpenAI's shape,
     * {"error":{"message","type","param","code"}}: a superset of ours. */
    if (r->path && !strncmp(r->path, "/v1/", 4)) {
        if (status == 401)
            code = "invalid_api_key";
        /* Every /v1/ response carries the gateway's time (openai_api.c);
         * a handler that knows better has set it already. */
        int has = 0;
        for (const ms_http_header_t *h = r->resp_headers; h; h = h->next)
            has |= !strcmp(h->name, "x-medstream-overhead-ms");
        if (!has && r->arrival_ns) {
            char v[32];
            snprintf(v, sizeof v, "%.2f", (double)(uv_hrtime() - r->arrival_ns) / 1e6);
            ms_http_add_header(r, "x-medstream-overhead-ms", v);
        }
        ms_http_respond_json(r, status,
                             json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message,
                                       "type", openai_type(status), "param", "code", code));
        return;
    }
    ms_http_respond_json(r, status,
                         json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

void ms_http_stream_begin(ms_http_req_t *r, int status, const char *content_type) {
    r->status = status;
    r->content_type = content_type;
    r->streaming = 1;
    if (r->conn && r->on_response)
        r->on_response(r);
}

void ms_http_stream_write(ms_http_req_t *r, const char *data, size_t len) {
    if (!r->conn || !len)
        return;
    ms_buf_append(&r->stream_out, data, len);
    if (r->on_response)
        r->on_response(r);
}

void ms_http_stream_end(ms_http_req_t *r) {
    r->stream_ended = 1;
    ms_http_finish(r);
}

int ms_http_add_header(ms_http_req_t *r, const char *name, const char *value) {
    if (!name || !*name || !value || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return MS_EINVAL;
    ms_http_header_t *h = ms_xcalloc(1, sizeof *h);
    h->name = ms_xstrdup(name);
    h->value = ms_xstrdup(value);
    ms_http_header_t **pp = &r->resp_headers;
    while (*pp)
        pp = &(*pp)->next;
    *pp = h;
    return 0;
}

void ms_http_req_unref(ms_http_req_t *r) {
    if (--r->refs > 0)
        return;
    if (r->api)
        r->api->body_inflight -= r->body_reserved;
    free(r->path);
    free(r->query);
    free(r->authorization);
    free(r->cookie);
    free(r->accept_encoding);
    free(r->forwarded_proto);
    free(r->req_content_type);
    if (r->scratch_free)
        r->scratch_free(r->scratch);
    ms_buf_free(&r->body);
    ms_buf_free(&r->stream_out);
    for (ms_http_header_t *h = r->resp_headers, *next; h; h = next) {
        next = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
    if (!r->resp_static)
        free(r->resp_body);
    json_decref(r->json);
    free(r);
}

void ms_http_finish(ms_http_req_t *r) {
    if (r->conn && r->on_response)
        r->on_response(r);
    ms_http_req_unref(r);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* application/x-www-form-urlencoded decoding (WHATWG URL, section 5.1). */
static char *url_decode(const char *s, size_t n) {
    char *out = ms_xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

char *ms_http_query_arg(const ms_http_req_t *r, const char *name) {
    if (!r->query)
        return NULL;
    size_t nlen = strlen(name);
    const char *p = r->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=')
            return url_decode(p + nlen + 1, len - nlen - 1);
        if (len == nlen && !strncmp(p, name, nlen))
            return ms_xstrdup("");
        p += len + (amp ? 1 : 0);
    }
    return NULL;
}

/* RFC 6265 section 5.4 sends "a=1; b=2"; section 5.2 says servers split on
 * ';' and trim whitespace. A value in double quotes keeps its quotes. */
char *ms_http_cookie(const ms_http_req_t *r, const char *name) {
    if (!r->cookie)
        return NULL;
    size_t nlen = strlen(name);
    const char *p = r->cookie;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            while (vlen && (p[nlen + vlen] == ' ' || p[nlen + vlen] == '\t'))
                vlen--;
            return ms_xstrndup(p + nlen + 1, vlen);
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    return NULL;
}

int ms_http_is_tls(const ms_http_req_t *r) {
    const ms_config_t *cfg = r->api->cfg;
    if (cfg->cookie_secure)
        return 1;
    return cfg->trust_forwarded_proto && r->forwarded_proto &&
           !strcasecmp(r->forwarded_proto, "https");
}
