/* The WebSocket handshake: which endpoint speaks which dialect, the Origin
 * policy and the credentials (docs/protocol.md, "Handshake"). Runs on the
 * loop thread, from the upgrade callbacks, before a session exists. */
#include "core/log.h"
#include "core/path.h"
#include "net/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The WebSocket endpoints and their dialects, as core/path.h patterns: a
 * "{name}" segment matches one non-empty path segment, handed to the
 * dialect's open() (docs/protocol.md, "Seed dialects"). The first match
 * wins. */
static const struct {
    const char *pattern;
    const ms_dialect_ops_t *dialect;
} endpoints[] = {
    {"/api/ws", &ms_dialect_native},
    {"/api/realtime/ws", &ms_dialect_voiceassist},
    {"/ws/conversations/{conversation_id}", &ms_dialect_veda},
    {"/ws", &ms_dialect_fhir},
    {"/ws/{user_id}", &ms_dialect_dx},
};

const ms_dialect_ops_t *ms__ws_dialect_for(const char *path, char *param, size_t plen) {
    ms_path_params_t pp;
    param[0] = '\0';
    for (size_t i = 0; i < MS_COUNTOF(endpoints); i++) {
        if (!ms_path_match(endpoints[i].pattern, path, &pp))
            continue;
        if (pp.n) {
            size_t n = strlen(pp.value[0]);
            if (n >= plen)
                return NULL; /* longer than the caller can take: no such endpoint */
            memcpy(param, pp.value[0], n + 1);
        }
        return endpoints[i].dialect;
    }
    return NULL;
}

/* RFC 7230 section 3.2.6 tchar. */
static int tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int ms__ws_subprotocol_next(const char **p, char *name, size_t len) {
    const char *q = *p;
    while (*q == ' ' || *q == '\t')
        q++;
    if (!*q)
        return 0;
    size_t n = 0;
    while (tchar((unsigned char)q[n]))
        n++;
    if (n == 0 || n > MS_WS_SUBPROTOCOL_MAX || n >= len)
        return -1;
    memcpy(name, q, n);
    name[n] = '\0';
    q += n;
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q == ',')
        q++;
    else if (*q)
        return -1;
    *p = q;
    return 1;
}

/* Whether the client's Sec-WebSocket-Protocol offer, if any, names one we
 * agree to: "medstream" or one of ws_subprotocols (lws then echoes the
 * first such name the client offered). lws 4.1 drops the TCP connection
 * without an HTTP response when none matches; refusing here instead gives
 * the client a clear 400 (RFC 6455 section 4.2.2: the server may refuse a
 * handshake with an HTTP error). */
static int subprotocol_ok(struct lws *wsi, const ms_config_t *cfg) {
    char offered[1024], name[MS_WS_SUBPROTOCOL_MAX + 1], mine[MS_WS_SUBPROTOCOL_MAX + 1];
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
    if (total <= 0)
        return 1; /* none offered: the connection speaks medstream's protocol */
    if ((size_t)total >= sizeof offered ||
        lws_hdr_copy(wsi, offered, sizeof offered, WSI_TOKEN_PROTOCOL) != total)
        return 0;
    const char *p = offered;
    while (ms__ws_subprotocol_next(&p, name, sizeof name) == 1) {
        if (!strcmp(name, "medstream"))
            return 1;
        const char *c = cfg->ws_subprotocols;
        while (ms__ws_subprotocol_next(&c, mine, sizeof mine) == 1)
            if (!strcmp(name, mine))
                return 1;
    }
    return 0;
}

/* Reads credentials from the handshake: Bearer header, ?ticket=, ?token=. */
void ms__ws_authenticate(struct lws *wsi, ms_session_t *s) {
    ms_api_t *api = s->api;
    ms_jwt_claims_t claims;
    char buf[4096];
    const char *v;
    int ok = 0;
    int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && !strncasecmp(buf, "Bearer ", 7)) {
        ok = ms_jwt_verify(api->jwt_secret, api->jwt_secret_len, buf + 7, &claims) == 0;
    } else if ((v = lws_get_urlarg_by_name(wsi, "ticket=", buf, sizeof buf))) {
        ok = ms_limits_ticket_redeem(api->limits, v, &claims) == 0;
    } else if ((v = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf))) {
        ok = ms_jwt_verify(api->jwt_secret, api->jwt_secret_len, v, &claims) == 0;
    }
    if (ok) {
        s->authed = 1;
        memcpy(s->user_id, claims.sub, MS_ID_LEN);
    }
}

/* Cross-site WebSocket hijacking defence: a browser's Origin must be this
 * server's own address (as configured, or localhost / 127.0.0.1 on the same
 * port) or listed in allowed_origins. The Host header is not trusted for
 * this: under DNS rebinding it names the attacker's domain. Non-browser
 * clients send no Origin. An Origin that is present but empty, or longer
 * than any origin we could allow (lws_hdr_copy then fails), is refused:
 * neither is the absence of an Origin (RFC 6454 section 7.2 has browsers
 * send "null", never an empty value). */
static int origin_allowed(struct lws *wsi, const ms_config_t *cfg) {
    char origin[256];
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (total == 0 && lws_hdr_copy_fragment(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN, 0) < 0)
        return 1; /* no Origin header at all */
    if (total <= 0 || (size_t)total >= sizeof origin ||
        lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) != total)
        return 0;
    char host[256], own[3][300];
    int port;
    if (ms_config_listen(cfg, host, sizeof host, &port) == 0) {
        snprintf(own[0], sizeof own[0], "http://%s:%d", host, port);
        snprintf(own[1], sizeof own[1], "http://localhost:%d", port);
        snprintf(own[2], sizeof own[2], "http://127.0.0.1:%d", port);
        for (int i = 0; i < 3; i++)
            if (!strcmp(origin, own[i]))
                return 1;
    }
    const char *list = cfg->allowed_origins;
    size_t olen = strlen(origin);
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t n = comma ? (size_t)(comma - list) : strlen(list);
        while (n && *list == ' ')
            list++, n--;
        while (n && list[n - 1] == ' ')
            n--;
        if ((n == olen && !strncmp(list, origin, n)) || (n == 1 && *list == '*'))
            return 1;
        list = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* Refuses an upgrade with a complete HTTP/1.1 response and a JSON error
 * body (lws_return_http_status answers HTTP/1.0 at this stage, which
 * WebSocket clients reject as malformed). */
static int refuse_upgrade(struct lws *wsi, int status, const char *code) {
    const char *text = status == 400   ? "Bad Request"
                       : status == 403 ? "Forbidden"
                       : status == 404 ? "Not Found"
                                       : "Service Unavailable";
    char body[128], head[LWS_PRE + 512];
    int blen =
        snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, text);
    int n = snprintf(head + LWS_PRE, sizeof head - LWS_PRE,
                     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                     "content-length: %d\r\nconnection: close\r\n\r\n%s",
                     status, text, blen, body);
    lws_write(wsi, (unsigned char *)head + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL);
    return 1; /* we answered; lws finishes the transaction */
}

int ms__ws_confirm_upgrade(struct lws *wsi) {
    ms_api_t *api = lws_context_user(lws_get_context(wsi));
    char path[256], param[MS_PATH_PARAM_MAX + 1];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
        !ms__ws_dialect_for(path, param, sizeof param))
        return refuse_upgrade(wsi, 404, "not_found");
    if (!origin_allowed(wsi, api->cfg)) {
        ms_log(MS_LOG_WARN, "ws_origin_refused", NULL);
        return refuse_upgrade(wsi, 403, "forbidden");
    }
    if (!subprotocol_ok(wsi, api->cfg)) {
        ms_log(MS_LOG_INFO, "ws_subprotocol_refused", NULL);
        return refuse_upgrade(wsi, 400, "unsupported_subprotocol");
    }
    if (!api->ready)
        return refuse_upgrade(wsi, 503, "not_ready");
    return 0;
}
