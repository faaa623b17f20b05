/* The WebSocket connection of `medstream chat` (see chat_ws.h). */
#include "cli/chat_ws.h"

#include "core/buf.h"
#include "core/ms.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A server message larger than this is a protocol violation; the server's
 * own limit for frames it accepts is 64 KiB (max_frame_bytes), and an
 * answer's message_complete carries the whole text plus citations. */
#define WS_MAX_MESSAGE ((size_t)16 * 1024 * 1024)

typedef struct ws_frame {
    struct ws_frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
} ws_frame_t;

struct ms_cli_chat_ws {
    struct lws_context *ctx;
    ms_cli_chat_ws_ops ops;
    void *arg;
    bool tls;
    char host[256]; /* address to connect to */
    int port;
    char host_hdr[300];
    char path[1024]; /* <prefix>/api/ws */
    char *bearer;    /* "Bearer <token>", while connecting */

    struct lws *wsi; /* the current connection, NULL when none */
    bool connecting; /* between connect and the closed report */
    bool destroying;
    bool want_close;
    ws_frame_t *head, *tail;
    ms_buf_t rx;

    /* The end of the current connection, delivered from the service loop
     * rather than from inside an lws callback. */
    bool closed_pending;
    int close_code, http_status;
    bool established;
    char cause[128];

    lws_sorted_usec_list_t sul;
};

static void drop_queue(ms_cli_chat_ws_t *ws) {
    while (ws->head) {
        ws_frame_t *f = ws->head;
        ws->head = f->next;
        free(f);
    }
    ws->tail = NULL;
}

/* Marks the connection finished; the service loop reports it. */
static void mark_closed(ms_cli_chat_ws_t *ws, const char *cause) {
    if (!ws->connecting)
        return;
    ws->connecting = false;
    ws->wsi = NULL;
    ws->closed_pending = true;
    snprintf(ws->cause, sizeof ws->cause, "%s", cause ? cause : "");
    drop_queue(ws);
    ms_buf_reset(&ws->rx);
    if (ws->bearer) {
        explicit_bzero(ws->bearer, strlen(ws->bearer));
        free(ws->bearer);
        ws->bearer = NULL;
    }
}

static int on_writeable(ms_cli_chat_ws_t *ws, struct lws *wsi) {
    ws_frame_t *f = ws->head;
    if (f) {
        ws->head = f->next;
        if (!ws->head)
            ws->tail = NULL;
        int n = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
        free(f);
        if (n < 0)
            return -1;
        if (ws->head || ws->want_close)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (ws->want_close) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    return 0;
}

static int on_receive(ms_cli_chat_ws_t *ws, struct lws *wsi, const void *in, size_t len) {
    if (ws->rx.len + len > WS_MAX_MESSAGE) {
        static const char reason[] = "message too big";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason,
                         sizeof reason - 1);
        return -1;
    }
    ms_buf_append(&ws->rx, in, len);
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    ws->ops.message_cb(ws->arg, ws->rx.data ? ws->rx.data : "", ws->rx.len);
    ms_buf_reset(&ws->rx);
    return 0;
}

static int add_auth_header(ms_cli_chat_ws_t *ws, struct lws *wsi, void *in, size_t len) {
    unsigned char **p = in, *end = *p + len;
    if (!ws->bearer)
        return 0;
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                        (const unsigned char *)ws->bearer, (int)strlen(ws->bearer),
                                        p, end)
               ? -1
               : 0;
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len) {
    if (!wsi)
        return 0;
    ms_cli_chat_ws_t *ws = lws_context_user(lws_get_context(wsi));
    /* Callbacks of a connection we already reported closed, or of the
     * context itself (EVENT_WAIT_CANCELLED and the like), are ignored. */
    if (!ws || ws->destroying || !ws->connecting || wsi != ws->wsi)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return add_auth_header(ws, wsi, in, len);
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        ws->established = true;
        ws->ops.open_cb(ws->arg);
        if (ws->head || ws->want_close)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(ws, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(ws, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (in && len >= 2) {
            const unsigned char *c = in;
            ws->close_code = (c[0] << 8) | c[1];
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char cause[128];
        snprintf(cause, sizeof cause, "%.*s", in ? (int)(len < 100 ? len : 100) : 0,
                 in ? (const char *)in : "");
        ws->http_status = (int)lws_http_client_http_response(wsi);
        mark_closed(ws, cause);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        mark_closed(ws, "closed");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        mark_closed(ws, "destroyed");
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols ws_protocols[] = {
    {"medstream-chat", ws_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Ping after 20 s of silence and give up after 50 s, so that a server that
 * vanished without a FIN (a cut cable, a suspended laptop) is noticed. */
static const lws_retry_bo_t ws_validity = {
    .secs_since_valid_ping = 20,
    .secs_since_valid_hangup = 50,
};

/* A decimal TCP port, or -1. */
static int parse_port(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    return end == s || *end != '\0' || v <= 0 || v > 65535 ? -1 : (int)v;
}

/* Splits "http[s]://host[:port][/prefix]" (ws and wss accepted too). */
static int parse_url(ms_cli_chat_ws_t *ws, const char *url, char *err, size_t errlen) {
    const char *rest;
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "ws://", 5) == 0) {
        ws->tls = false;
        rest = strstr(url, "//") + 2;
    } else if (strncmp(url, "https://", 8) == 0 || strncmp(url, "wss://", 6) == 0) {
        ws->tls = true;
        rest = strstr(url, "//") + 2;
    } else {
        snprintf(err, errlen, "URL must start with http:// or https://: %s", url);
        return MS_EINVAL;
    }
    size_t hostlen = strcspn(rest, "/");
    const char *prefix = rest + hostlen;
    if (hostlen == 0 || hostlen >= sizeof ws->host_hdr - 1 ||
        strlen(prefix) + 8 > sizeof ws->path) {
        snprintf(err, errlen, "bad server URL: %s", url);
        return MS_EINVAL;
    }
    snprintf(ws->host_hdr, sizeof ws->host_hdr, "%.*s", (int)hostlen, rest);
    ws->port = ws->tls ? 443 : 80;
    const char *hs = ws->host_hdr, *he;
    if (hs[0] == '[') { /* [IPv6]:port */
        he = strchr(hs, ']');
        if (!he) {
            snprintf(err, errlen, "bad server URL: %s", url);
            return MS_EINVAL;
        }
        hs++;
        if (he[1] == ':')
            ws->port = parse_port(he + 2);
    } else {
        he = strchr(hs, ':');
        if (he)
            ws->port = parse_port(he + 1);
        else
            he = hs + strlen(hs);
    }
    if (ws->port <= 0 || ws->port > 65535 || he == hs) {
        snprintf(err, errlen, "bad server URL: %s", url);
        return MS_EINVAL;
    }
    snprintf(ws->host, sizeof ws->host, "%.*s", (int)(he - hs), hs);
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    snprintf(ws->path, sizeof ws->path, "%.*s/api/ws", (int)plen, prefix);
    return 0;
}

ms_cli_chat_ws_t *ms_cli_chat_ws_new(const char *base_url, const ms_cli_chat_ws_ops *ops, void *arg,
                                     char *err, size_t errlen) {
    ms_cli_chat_ws_t *ws = ms_xcalloc(1, sizeof *ws);
    ws->ops = *ops;
    ws->arg = arg;
    ms_buf_init(&ws->rx);
    if (parse_url(ws, base_url, err, errlen) < 0)
        goto fail;

    /* libwebsockets logs to stderr by default; a terminal client keeps
     * quiet unless asked ($MEDSTREAM_DEBUG). */
    lws_set_log_level(getenv("MEDSTREAM_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE : 0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.user = ws;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = 16;
    info.connect_timeout_secs = 10;
    info.timeout_secs = 20;
    if (ws->tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    ws->ctx = lws_create_context(&info);
    if (!ws->ctx) {
        snprintf(err, errlen, "cannot create the WebSocket context");
        goto fail;
    }
    return ws;
fail:
    ms_buf_free(&ws->rx);
    free(ws);
    return NULL;
}

int ms_cli_chat_ws_connect(ms_cli_chat_ws_t *ws, const char *access_token) {
    if (ws->connecting || ws->closed_pending)
        return MS_EINVAL;
    size_t n = strlen(access_token) + 8;
    ws->bearer = ms_xmalloc(n);
    snprintf(ws->bearer, n, "Bearer %s", access_token);
    ws->connecting = true;
    ws->want_close = false;
    ws->established = false;
    ws->close_code = 0;
    ws->http_status = 0;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ws->ctx;
    ci.address = ws->host;
    ci.port = ws->port;
    ci.path = ws->path;
    ci.host = ws->host_hdr;
    ci.ssl_connection = ws->tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = ws_protocols[0].name;
    ci.retry_and_idle_policy = &ws_validity;
    ci.pwsi = &ws->wsi;
    if (!lws_client_connect_via_info(&ci))
        mark_closed(ws, "connect failed");
    return 0;
}

int ms_cli_chat_ws_active(const ms_cli_chat_ws_t *ws) {
    return ws->connecting || ws->closed_pending;
}

int ms_cli_chat_ws_send(ms_cli_chat_ws_t *ws, const char *json) {
    if (!ws->connecting || !ws->wsi || ws->want_close)
        return MS_EIO;
    size_t len = strlen(json);
    ws_frame_t *f = ms_xmalloc(sizeof *f + LWS_PRE + len);
    f->next = NULL;
    f->len = len;
    memcpy(f->data + LWS_PRE, json, len);
    if (ws->tail)
        ws->tail->next = f;
    else
        ws->head = f;
    ws->tail = f;
    if (ws->established)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

void ms_cli_chat_ws_close(ms_cli_chat_ws_t *ws) {
    if (!ws->connecting || !ws->wsi)
        return;
    ws->want_close = true;
    if (ws->established)
        lws_callback_on_writable(ws->wsi);
}

static void report_closed(ms_cli_chat_ws_t *ws) {
    ms_cli_chat_ws_close_t why = {
        .close_code = ws->close_code,
        .http_status = ws->http_status,
        .established = ws->established,
        .cause = ws->cause,
    };
    ws->closed_pending = false;
    ws->ops.closed_cb(ws->arg, &why);
}

void ms_cli_chat_ws_service(ms_cli_chat_ws_t *ws) {
    if (!ws->closed_pending)
        lws_service(ws->ctx, 0);
    if (ws->closed_pending)
        report_closed(ws);
}

static void sul_noop_cb(lws_sorted_usec_list_t *sul) {
    (void)sul;
}

void ms_cli_chat_ws_wake_in(ms_cli_chat_ws_t *ws, int64_t delay_ms) {
    if (delay_ms < 0)
        delay_ms = 0;
    lws_sul_schedule(ws->ctx, 0, &ws->sul, sul_noop_cb, (lws_usec_t)delay_ms * LWS_US_PER_MS);
}

void ms_cli_chat_ws_wake(void *arg) {
    ms_cli_chat_ws_t *ws = arg;
    lws_cancel_service(ws->ctx);
}

void ms_cli_chat_ws_free(ms_cli_chat_ws_t *ws) {
    if (!ws)
        return;
    ws->destroying = true;
    if (ws->ctx) {
        lws_sul_cancel(&ws->sul);
        lws_context_destroy(ws->ctx);
    }
    ws->connecting = true; /* let mark_closed release what it owns */
    mark_closed(ws, "");
    ms_buf_free(&ws->rx);
    free(ws);
}
