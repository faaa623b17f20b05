/* WebSocket sessions: handshake policy (path, Origin, credentials), the
 * dialect spoken on each endpoint, message decoding through it, and the
 * bounded outbound queue drained only when the socket is writable. Close
 * codes: docs/protocol.md. Every dialect goes through the same handshake,
 * limits and queue; a dialect only encodes and decodes (src/proto). */
#include "chat/chat.h"
#include "chat/work.h"
#include "core/log.h"
#include "net/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encoding scratch, reused for every event (loop thread only). */
static ms_frames_t scratch;
/* Every established session (loop thread only). */
static ms_session_t *sessions;

/* The WebSocket endpoints and their dialects. A "{}" segment matches one
 * non-empty path segment, handed to the dialect's open() (docs/protocol.md,
 * "Seed dialects"). The first match wins. */
static const struct {
    const char *pattern;
    const ms_dialect_ops_t *dialect;
} endpoints[] = {
    {"/api/ws", &ms_dialect_native},
    {"/api/realtime/ws", &ms_dialect_voiceassist},
    {"/ws/conversations/{}", &ms_dialect_veda},
    {"/ws", &ms_dialect_fhir},
    {"/ws/{}", &ms_dialect_dx},
};

/* Whether path matches pattern; the "{}" segment is copied into param. */
static int path_match(const char *pattern, const char *path, char *param, size_t plen) {
    const char *p = pattern, *q = path;
    while (*p && *q) {
        if (p[0] == '{' && p[1] == '}') {
            size_t n = strcspn(q, "/");
            if (n == 0 || n >= plen)
                return 0;
            memcpy(param, q, n);
            param[n] = '\0';
            p += 2;
            q += n;
        } else if (*p++ != *q++) {
            return 0;
        }
    }
    return !*p && !*q;
}

static const ms_dialect_ops_t *dialect_for(const char *path, char *param, size_t plen) {
    for (size_t i = 0; i < MS_COUNTOF(endpoints); i++) {
        param[0] = '\0';
        if (path_match(endpoints[i].pattern, path, param, plen))
            return endpoints[i].dialect;
    }
    param[0] = '\0';
    return NULL;
}

/* The check of a connection's bound conversation (a heap context between
 * the pool and the loop: sess is cleared if the session goes first). */
typedef struct ms_gate {
    ms_session_t *sess;
    char user_id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN];
    int must_exist;
    int err;
} gate_t;

static void request_close(ms_session_t *s, int code, const char *reason) {
    if (s->close_code)
        return;
    s->close_code = code;
    s->close_reason = reason;
    lws_callback_on_writable(s->wsi);
}

static void queue_free(ms_session_t *s) {
    for (ms_frame_t *f = s->head, *next; f; f = next) {
        next = f->next;
        free(f);
    }
    s->head = s->tail = NULL;
    s->queued_bytes = 0;
}

/* Queues one encoded frame. Overflow of the bounded queue closes the
 * connection with 1008 (the answer itself goes on and stays resumable). */
static int queue_frame(ms_session_t *s, const char *data, size_t len) {
    /* Nothing waiting (ours or lws' unsent tail): no need to queue, and no
     * writable watcher to arm and disarm; it goes out with this iteration's
     * batch (house style, after redis: write first, wait for writability
     * only when the kernel does not take it all). */
    if (!s->head && s->wsi && !s->close_code && !lws_partial_buffered(s->wsi)) {
        ms__batch_append(s, data, len);
        return 0;
    }
    if (s->queued_bytes + len > (size_t)s->api->cfg->max_queue_bytes) {
        queue_free(s);
        ms_log(MS_LOG_WARN, "ws_queue_overflow", "\"client_id\":\"%s\"", s->client_id);
        request_close(s, 1008, "outbound queue overflow");
        return -1;
    }
    ms_frame_t *f = ms_xmalloc(sizeof *f + LWS_PRE + len);
    f->next = NULL;
    f->len = len;
    memcpy(f->data + LWS_PRE, data, len);
    if (s->tail)
        s->tail->next = f;
    else
        s->head = f;
    s->tail = f;
    s->queued_bytes += f->len;
    lws_callback_on_writable(s->wsi);
    return 0;
}

/* Encodes ev with the session's dialect (zero, one or several frames) and
 * queues them. */
static void session_send(ms_session_t *s, const ms_event_t *ev) {
    if (s->close_code)
        return;
    ms_frames_reset(&scratch);
    s->dialect->encode(s->dstate, ev, &scratch);
    for (size_t i = 0; i < scratch.n; i++) {
        size_t len;
        const char *data = ms_frames_get(&scratch, i, &len);
        if (queue_frame(s, data, len) != 0)
            return;
    }
}

static void send_error(ms_session_t *s, const char *message_id, const char *code,
                       const char *message) {
    json_t *data = json_pack("{s:s, s:s, s:b}", "code", code, "message", message, "retryable", 0);
    ms_event_t ev = {.kind = MS_EV_ERROR, .message_id = message_id, .data = data};
    session_send(s, &ev);
    json_decref(data);
}

static void sub_emit_cb(void *ctx, const ms_event_t *ev) {
    ms_session_t *s = ctx;
    if (ev->kind == MS_EV_ERROR) {
        const char *code = json_string_value(json_object_get(ev->data, "code"));
        if (code && !strcmp(code, "forbidden") && !s->dialect->forbidden_as_error) {
            request_close(s, 4003, "forbidden");
            return;
        }
    }
    session_send(s, ev);
}

int ms__session_streaming(const ms_session_t *s) {
    for (const struct sub_link *l = s->subs; l; l = l->next)
        if (!ms_sub_finished(l->sub))
            return 1;
    return 0;
}

/* Tracks a subscriber for closing at disconnect; forgets finished ones. */
static ms_sub_t *session_sub(ms_session_t *s) {
    for (struct sub_link **pp = &s->subs; *pp;) {
        if (ms_sub_finished((*pp)->sub)) {
            struct sub_link *dead = *pp;
            *pp = dead->next;
            ms_sub_close(dead->sub);
            free(dead);
        } else {
            pp = &(*pp)->next;
        }
    }
    struct sub_link *l = ms_xmalloc(sizeof *l);
    l->sub = ms_sub_new(sub_emit_cb, s);
    l->next = s->subs;
    s->subs = l;
    return l->sub;
}

static void handle_message(ms_session_t *s) {
    ms_client_msg_t m;
    char err[160];
    ms_decode_limits_t lim = {.max_message_chars = (size_t)s->api->cfg->max_message_chars};
    int rc =
        s->dialect->decode(s->dstate, ms_buf_cstr(&s->rx), s->rx.len, &lim, &m, err, sizeof err);
    if (rc == MS_EFORMAT) {
        request_close(s, 4000, "invalid frame");
        return;
    }
    if (rc) {
        send_error(s, NULL, "invalid_message", err);
        return;
    }
    ms_chat_t *chat = s->api->chat;
    switch (m.kind) {
    case MS_CMSG_MESSAGE:
        ms_chat_ask_ex(chat, s->user_id, m.conversation_id, m.client_message_id, m.text,
                       m.create_conversation ? MS_ASK_CREATE_CONVERSATION : 0, session_sub(s));
        break;
    case MS_CMSG_RESUME:
        ms_chat_resume(chat, s->user_id, m.message_id, m.last_seq, session_sub(s));
        break;
    case MS_CMSG_CANCEL:
        rc = ms_chat_cancel(chat, s->user_id, m.message_id);
        if (rc == MS_EPERM)
            request_close(s, 4003, "forbidden");
        else if (rc == MS_ENOENT)
            send_error(s, m.message_id, "not_found", "no answer is being generated with this id");
        break;
    case MS_CMSG_PING: {
        json_t *data = json_pack("{s:I}", "ts", (json_int_t)ms_now_ms());
        ms_event_t ev = {.kind = MS_EV_PONG, .data = data};
        session_send(s, &ev);
        json_decref(data);
        break;
    }
    }
    ms_client_msg_clear(&m);
}

/* Reads credentials from the handshake: Bearer header, ?ticket=, ?token=. */
static void authenticate(struct lws *wsi, ms_session_t *s) {
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
 * clients send no Origin. */
static int origin_allowed(struct lws *wsi, const ms_config_t *cfg) {
    char origin[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
        return 1;
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
    const char *text = status == 403   ? "Forbidden"
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

static int confirm_upgrade(struct lws *wsi) {
    ms_api_t *api = lws_context_user(lws_get_context(wsi));
    char path[256], param[160];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
        !dialect_for(path, param, sizeof param))
        return refuse_upgrade(wsi, 404, "not_found");
    if (!origin_allowed(wsi, api->cfg)) {
        ms_log(MS_LOG_WARN, "ws_origin_refused", NULL);
        return refuse_upgrade(wsi, 403, "forbidden");
    }
    if (!api->ready)
        return refuse_upgrade(wsi, 503, "not_ready");
    return 0;
}

static void session_link(ms_session_t *s) {
    s->prev = NULL;
    s->next = sessions;
    if (sessions)
        sessions->prev = s;
    sessions = s;
}

static void session_unlink(ms_session_t *s) {
    if (s->prev)
        s->prev->next = s->next;
    else if (sessions == s)
        sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

int ms__ws_close_all(int code, const char *reason) {
    int n = 0;
    for (ms_session_t *s = sessions; s; s = s->next, n++)
        request_close(s, code, reason);
    return n;
}

static void session_free(ms_session_t *s) {
    session_unlink(s);
    ms__batch_forget(s);
    free(s->bound_conversation);
    free(s->open_err);
    if (s->gate)
        s->gate->sess = NULL; /* the check finishes on its own and frees itself */
    if (s->dialect->close)
        s->dialect->close(s->dstate);
    for (struct sub_link *l = s->subs, *next; l; l = next) {
        next = l->next;
        ms_sub_close(l->sub);
        free(l);
    }
    queue_free(s);
    ms_buf_free(&s->rx);
    free(s);
}

static int on_writable(struct lws *wsi, ms_session_t *s) {
    /* What was batched goes first, so nothing overtakes it. */
    if (s->out.len && ms__batch_flush(s) != 0)
        return -1;
    if (s->close_code) {
        /* lws sends the close frame on a later writable event; asking to close
         * a second time from here would turn it into a hard close (1006). */
        if (s->close_started)
            return 0;
        s->close_started = 1;
        /* lws 4.1 drops a close reason set from this callback and hangs up
         * (the peer sees 1006), so the close frame is written here: a 2-byte
         * status code then the reason (RFC 6455 section 5.5.1). */
        unsigned char frame[LWS_PRE + 125];
        size_t rlen = strlen(s->close_reason);
        if (rlen > 120)
            rlen = 120;
        frame[LWS_PRE] = (unsigned char)(s->close_code >> 8);
        frame[LWS_PRE + 1] = (unsigned char)(s->close_code & 0xff);
        memcpy(frame + LWS_PRE + 2, s->close_reason, rlen);
        lws_write(wsi, frame + LWS_PRE, rlen + 2, (enum lws_write_protocol)4 /* close */);
        return -1;
    }
    /* Drain until lws has to keep an unsent tail (the kernel is full); the
     * rest waits for the next writable callback. lws_partial_buffered() is a
     * flag check, where lws_send_pipe_choked() would poll() the socket for
     * every frame. */
    while (s->head && !lws_partial_buffered(wsi)) {
        ms_frame_t *f = s->head;
        if (lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
            return -1;
        s->head = f->next;
        if (!s->head)
            s->tail = NULL;
        s->queued_bytes -= f->len;
        free(f);
    }
    if (s->head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int on_receive(struct lws *wsi, ms_session_t *s, void *in, size_t len) {
    ms_api_t *api = s->api;
    if (s->close_code)
        return 0;
    if (lws_frame_is_binary(wsi)) {
        request_close(s, 4000, "binary frames are not supported");
        return 0;
    }
    if (s->rx.len + len > (size_t)api->cfg->max_frame_bytes) {
        ms_buf_free(&s->rx);
        request_close(s, 1009, "message too big");
        return 0;
    }
    ms_buf_append(&s->rx, in, len);
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    handle_message(s);
    ms_buf_free(&s->rx); /* client messages are rare: keep nothing between them */
    return 0;
}

/* Query arguments for a dialect's open(), read from the handshake. */
static const char *conn_query_arg(const ms_dialect_conn_t *c, const char *name, char *buf,
                                  size_t len) {
    char key[64];
    snprintf(key, sizeof key, "%s=", name);
    return lws_get_urlarg_by_name((struct lws *)c->impl, key, buf, (int)len);
}

/* Lets the dialect set up its per-connection state while the handshake's
 * headers are at hand. Failures close the connection once established. */
static void dialect_open(struct lws *wsi, ms_session_t *s, const char *path_param) {
    if (!s->dialect->open)
        return;
    ms_dialect_conn_t c = {.user_id = s->user_id,
                           .path_param = path_param[0] ? path_param : NULL,
                           .query_arg = conn_query_arg,
                           .impl = wsi};
    ms_dialect_open_t o;
    memset(&o, 0, sizeof o);
    char err[120] = "";
    s->open_rc = s->dialect->open(&c, &o, err, sizeof err);
    if (s->open_rc) {
        s->open_err = ms_xstrdup(err[0] ? err : "refused");
        return;
    }
    s->dstate = o.state;
    if (o.conversation_id[0])
        s->bound_conversation =
            ms_xstrndup(o.conversation_id, strnlen(o.conversation_id, MS_ID_LEN));
    s->bound_must_exist = o.must_exist != 0;
}

/* The greeting: MS_EV_CONNECTED in the session's dialect. */
static void greet(ms_session_t *s) {
    json_t *data = json_pack("{s:s, s:s, s:i, s:[s,s,s,s,s]}", "client_id", s->client_id, "user_id",
                             s->user_id, "protocol_version", 1, "capabilities", "streaming",
                             "resume", "cancel", "citations", "idempotency");
    ms_event_t ev = {.kind = MS_EV_CONNECTED, .data = data};
    session_send(s, &ev);
    json_decref(data);
}

static void gate_run(ms_store_t *st, void *arg) {
    gate_t *g = arg;
    json_t *conv = NULL;
    g->err = st ? ms_store_conversation_get(st, g->user_id, g->conversation_id, &conv) : MS_EIO;
    json_decref(conv);
}

static void gate_done(void *arg) {
    gate_t *g = arg;
    ms_session_t *s = g->sess;
    if (s) {
        s->gate = NULL;
        lws_rx_flow_control(s->wsi, 1);
        if (g->err == MS_EPERM || (g->err == MS_ENOENT && g->must_exist))
            request_close(s, 4003, "conversation not found or access denied");
        else if (g->err && g->err != MS_ENOENT)
            request_close(s, 4000, "could not check the conversation; try again");
        else
            greet(s);
    }
    free(g);
}

/* Checks the bound conversation before greeting. Reading from the client
 * pauses meanwhile, so its first message is handled after the greeting. */
static void gate_start(ms_session_t *s) {
    gate_t *g = ms_xcalloc(1, sizeof *g);
    g->sess = s;
    memcpy(g->user_id, s->user_id, MS_ID_LEN);
    snprintf(g->conversation_id, MS_ID_LEN, "%s", s->bound_conversation);
    free(s->bound_conversation);
    s->bound_conversation = NULL;
    g->must_exist = s->bound_must_exist;
    if (ms_work_submit(s->api->loop, gate_run, gate_done, g) != 0) {
        free(g);
        request_close(s, 4000, "could not check the conversation; try again");
        return;
    }
    s->gate = g;
    lws_rx_flow_control(s->wsi, 0);
}

int ms__ws_cb(struct lws *wsi, enum lws_callback_reasons reason, ms_pss_t *pss, void *in,
              size_t len) {
    ms_session_t *s = pss ? pss->sess : NULL;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* Handshake-only data stays on the stack: an idle connection keeps
         * only what it needs. */
        char path[256] = "", path_param[160] = "";
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
        s = ms_xcalloc(1, sizeof *s);
        s->api = lws_context_user(lws_get_context(wsi));
        s->dialect = dialect_for(path, path_param, sizeof path_param);
        if (!s->dialect)
            s->dialect = &ms_dialect_native;
        ms_buf_init(&s->rx);
        authenticate(wsi, s);
        if (s->authed)
            dialect_open(wsi, s, path_param);
        pss->sess = s;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        if (!s)
            return -1;
        s->wsi = wsi;
        ms_id_new(s->client_id);
        session_link(s);
        if (!s->authed)
            request_close(s, 4001, "unauthorized");
        else if (s->open_rc)
            request_close(s, s->open_rc == MS_EPERM ? 4003 : 4000, s->open_err);
        else if (s->bound_conversation)
            gate_start(s);
        else
            greet(s);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return s ? on_receive(wsi, s, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s ? on_writable(wsi, s) : 0;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY: /* a handshake that never reached ESTABLISHED */
        if (s) {
            pss->sess = NULL;
            session_free(s);
        }
        return 0;
    default:
        return 0;
    }
}
