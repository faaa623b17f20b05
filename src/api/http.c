/* Request/response helpers shared by every handler. */
#include "api/api.h"

#include "core/ms.h"

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

void ms_http_respond_error(ms_http_req_t *r, int status, const char *code, const char *message) {
    ms_http_respond_json(r, status,
                         json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
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
