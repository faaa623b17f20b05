/* WebSocket sessions: the dialect spoken on each endpoint (the handshake
 * policy is wshandshake.c), message decoding through it, per-connection
 * limits, and the bounded outbound queue drained only when the socket is
 * writable. Close codes: docs/protocol.md. Every dialect goes through the
 * same handshake, limits and queue; a dialect only encodes and decodes
 * (src/proto).
 *
 * RFC 6455 conformance is lws' parser plus rxcheck.c on the raw bytes
 * (rxguard.c): see rxcheck.c for the split and why. */
#include "chat/chat.h"
#include "chat/work.h"
#include "core/log.h"
#include "net/internal.h"
#include "obs/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encoding scratch, reused for every event (loop thread only). */
static ms_frames_t scratch;
/* Every established session (loop thread only). */
static ms_session_t *sessions;

/* The check before the greeting: the token's user still exists, and the
 * connection's bound conversation, if any, is the user's (a heap context
 * between the pool and the loop: sess is cleared if the session goes
 * first). */
typedef struct ms_gate {
    ms_session_t *sess;
    char user_id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN]; /* "" when none is bound */
    int must_exist;
    int user_err; /* ms_store_user_by_id */
    int err;      /* ms_store_conversation_get */
} gate_t;

static void request_close(ms_session_t *s, int code, const char *reason) {
    if (s->close_code)
        return;
    s->close_code = code;
    s->close_reason = reason;
    lws_callback_on_writable(s->wsi);
}

_Static_assert(MS_WSQ_PRE >= LWS_PRE, "queued frames need LWS_PRE bytes of headroom");

/* A merged delta's frame, with LWS_PRE bytes of headroom, for lws_write()
 * (loop thread only; reused). */
static ms_buf_t drain_buf;

/* Pull flow control (chat.h ms_sub_backlog): every answer the session
 * follows is told how many bytes wait in its outbound queue, so a model
 * transfer pauses behind a slow reader instead of filling the queue. */
static void report_backlog(ms_session_t *s) {
    for (struct sub_link *l = s->subs; l; l = l->next)
        if (!ms_sub_finished(l->sub))
            ms_sub_backlog(l->sub, s->q.bytes);
}

static void queue_free(ms_session_t *s) {
    ms__wsq_clear(&s->q);
}

/* Whether the session fell behind: events wait in its queue, or lws keeps
 * an unsent tail because the kernel did not take all of the last write. */
static int session_behind(const ms_session_t *s) {
    return s->q.head || (s->wsi && lws_partial_buffered(s->wsi));
}

/* The bounded queue is full: the client reads too slowly. The connection
 * closes with 1008; the answer itself goes on and stays resumable. */
static void queue_overflow(ms_session_t *s) {
    queue_free(s);
    ms_log(MS_LOG_WARN, "ws_queue_overflow", "\"client_id\":\"%s\"", s->client_id);
    request_close(s, 1008, "outbound queue overflow");
}

/* Queues one encoded frame. */
static int queue_frame(ms_session_t *s, const char *data, size_t len) {
    /* Nothing waiting (ours or lws' unsent tail): no need to queue, and no
     * writable watcher to arm and disarm; it goes out with this iteration's
     * batch (house style, after redis: write first, wait for writability
     * only when the kernel does not take it all). */
    if (!s->close_code && !session_behind(s) && s->wsi) {
        ms__batch_append(s, data, len);
        return 0;
    }
    if (ms__wsq_frame(&s->q, data, len, (size_t)s->api->cfg->max_queue_bytes) != 0) {
        queue_overflow(s);
        return -1;
    }
    lws_callback_on_writable(s->wsi);
    report_backlog(s);
    return 0;
}

/* Encodes ev with the session's dialect (zero, one or several frames) and
 * queues them. A delta for a session that fell behind is not encoded now:
 * it joins the deltas of its message waiting at the queue's tail, encoded
 * as one when the socket is writable (wsqueue.c). */
static void session_send(ms_session_t *s, const ms_event_t *ev) {
    if (s->close_code)
        return;
    if (ev->kind == MS_EV_MESSAGE_CHUNK && session_behind(s)) {
        int rc = ms__wsq_chunk(&s->q, ev->message_id, ev->seq, ev->text, ev->text_len,
                               (size_t)s->api->cfg->max_queue_bytes);
        if (rc == 0) {
            lws_callback_on_writable(s->wsi);
            report_backlog(s);
            return;
        }
        if (rc == MS_EOVERLOAD) {
            queue_overflow(s);
            return;
        }
        /* MS_EINVAL (no usable message id): queued encoded, unmerged. */
    }
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

/* What every operation on a message id answers when the id is unknown or
 * another user's: one answer for both, as REST's 404 (no existence leak). */
#define NOT_FOUND_MESSAGE "no such message"

static void sub_emit_cb(void *ctx, const ms_event_t *ev) {
    struct sub_link *l = ctx;
    ms_session_t *s = l->sess;
    if (ev->kind == MS_EV_ERROR) {
        const char *code = json_string_value(json_object_get(ev->data, "code"));
        if (code && l->by_message_id &&
            (!strcmp(code, "forbidden") || !strcmp(code, "not_found"))) {
            send_error(s, ev->message_id, "not_found", NOT_FOUND_MESSAGE);
            return;
        }
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

/* How many answers the session follows now (unfinished subscribers). */
static unsigned session_followed(const ms_session_t *s) {
    unsigned n = 0;
    for (const struct sub_link *l = s->subs; l; l = l->next)
        n += !ms_sub_finished(l->sub);
    return n;
}

/* Tracks a subscriber for closing at disconnect; forgets finished ones. */
static ms_sub_t *session_sub(ms_session_t *s, int by_message_id) {
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
    struct sub_link *l = ms_xcalloc(1, sizeof *l);
    l->sess = s;
    l->by_message_id = by_message_id != 0;
    l->sub = ms_sub_new(sub_emit_cb, l);
    l->next = s->subs;
    s->subs = l;
    return l->sub;
}

static ms_ws_limits_t session_limits(const ms_session_t *s) {
    const ms_config_t *cfg = s->api->cfg;
    return (ms_ws_limits_t){.per_s = (uint32_t)cfg->ws_rate_per_s,
                            .burst = (uint32_t)cfg->ws_rate_burst,
                            .close_after = (uint32_t)cfg->ws_rate_close_after,
                            .max_inflight = (uint32_t)cfg->ws_max_inflight};
}

/* The per-connection limits (docs/protocol.md, "Limits"): 0 to go on. */
static int admit(ms_session_t *s, const ms_client_msg_t *m) {
    ms_ws_limits_t lim = session_limits(s);
    int opens = m->kind == MS_CMSG_MESSAGE || m->kind == MS_CMSG_RESUME;
    unsigned followed = opens ? session_followed(s) : 0;
    switch (ms__ws_admit(&s->rate, &lim, (uint64_t)uv_now(s->api->loop), opens, followed)) {
    case MS_WS_OK:
        return 0;
    case MS_WS_REFUSE: {
        int busy = opens && followed >= lim.max_inflight;
        const char *id = m->kind == MS_CMSG_MESSAGE ? NULL : m->message_id;
        json_t *data = json_pack(
            "{s:s, s:s, s:b}", "code", "rate_limited", "message",
            busy ? "too many answers in progress on this connection; wait for one to finish"
                 : "too many messages on this connection; slow down",
            "retryable", 1);
        ms_event_t ev = {.kind = MS_EV_ERROR, .message_id = id, .data = data};
        session_send(s, &ev);
        json_decref(data);
        return -1;
    }
    case MS_WS_CLOSE:
        ms_log(MS_LOG_WARN, "ws_rate_close", "\"client_id\":\"%s\"", s->client_id);
        request_close(s, 1008, "rate limit exceeded");
        return -1;
    }
    return -1;
}

static void handle_message(ms_session_t *s) {
    ms_client_msg_t m;
    char err[160];
    ms_decode_limits_t lim = {.max_message_chars = (size_t)s->api->cfg->max_message_chars};
    int rc = s->dialect->decode(s->dstate, ms_buf_cstr(&s->rx.text), s->rx.text.len, &lim, &m, err,
                                sizeof err);
    if (rc == MS_EFORMAT) {
        request_close(s, 4000, "invalid frame");
        return;
    }
    if (rc) {
        send_error(s, NULL, "invalid_message", err);
        return;
    }
    if (admit(s, &m) != 0) {
        ms_client_msg_clear(&m);
        return;
    }
    ms_chat_t *chat = s->api->chat;
    switch (m.kind) {
    case MS_CMSG_MESSAGE: {
        ms_ask_t ask = {.user_id = s->user_id,
                        .conversation_id = m.conversation_id,
                        .conversation_alias = m.conversation_alias,
                        .client_message_id = m.client_message_id,
                        .text = m.text,
                        .clinical_context_id = m.clinical_context_id,
                        .flags = m.create_conversation ? MS_ASK_CREATE_CONVERSATION : 0,
                        .model = m.model,
                        .workflow = m.workflow};
        ms_chat_ask_req(chat, &ask, session_sub(s, 0));
        break;
    }
    case MS_CMSG_RESUME:
        ms_chat_resume(chat, s->user_id, m.message_id, m.last_seq, session_sub(s, 1));
        break;
    case MS_CMSG_CANCEL:
        /* Another user's message is answered exactly like an unknown one. */
        rc = ms_chat_cancel(chat, s->user_id, m.message_id);
        if (rc == MS_EPERM || rc == MS_ENOENT)
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

static void session_link(ms_session_t *s) {
    s->prev = NULL;
    s->next = sessions;
    if (sessions)
        sessions->prev = s;
    sessions = s;
    /* The open-WebSockets gauge of GET /metrics. */
    ms_metrics_add(ms_chat_metrics(s->api->chat), MS_M_WEBSOCKETS_OPEN, 0, 0, 1);
}

static void session_unlink(ms_session_t *s) {
    if (!s->prev && sessions != s)
        return; /* never linked: the handshake did not reach ESTABLISHED */
    ms_metrics_add(ms_chat_metrics(s->api->chat), MS_M_WEBSOCKETS_OPEN, 0, 0, -1);
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
    ms__rxguard_remove(s);
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
    ms_buf_free(&s->rx.text);
    free(s);
}

/* Writes the queue's head. Merged deltas are encoded now, in the session's
 * dialect: one frame goes out from drain_buf; a dialect that makes several
 * frames of a delta has them queued in its place, written in turn. */
static int drain_one(struct lws *wsi, ms_session_t *s) {
    ms_wsq_item_t *it = s->q.head;
    const unsigned char *data = it->data + MS_WSQ_PRE;
    size_t len = it->len;
    if (it->kind == MS_WSQ_CHUNK) {
        ms_event_t ev;
        ms__wsq_chunk_event(it, &ev);
        ms_frames_reset(&scratch);
        s->dialect->encode(s->dstate, &ev, &scratch);
        if (scratch.n != 1) {
            ms__wsq_expand_head(&s->q, &scratch);
            return 0;
        }
        const char *frame = ms_frames_get(&scratch, 0, &len);
        ms_buf_reset(&drain_buf);
        ms_buf_reserve(&drain_buf, LWS_PRE + len);
        memcpy(drain_buf.data + LWS_PRE, frame, len);
        data = (const unsigned char *)drain_buf.data + LWS_PRE;
    }
    int n = lws_write(wsi, (unsigned char *)data, len, LWS_WRITE_TEXT);
    ms__wsq_drop_head(&s->q);
    if (drain_buf.cap > (size_t)256 * 1024)
        ms_buf_free(&drain_buf); /* a rare large merge: do not keep its buffer */
    return n < (int)len ? -1 : 0;
}

static int on_writable(struct lws *wsi, ms_session_t *s) {
    /* lws writes a pending pong before it calls us, so from here our batch
     * may go: the pong did not fall behind answers sent after its ping. */
    s->pong_due = 0;
    s->rxc.ping_seen = 0; /* lws has parsed every ping it was given, and answered it */
    if (s->rx_failed && !s->close_code)
        s->close_code = 1002; /* close_reason was set by ms__ws_rx_filter */
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
    while (s->q.head && !lws_partial_buffered(wsi)) {
        if (drain_one(wsi, s) != 0)
            return -1;
    }
    if (s->q.head)
        lws_callback_on_writable(wsi);
    report_backlog(s);
    return 0;
}

static int on_receive(struct lws *wsi, ms_session_t *s, void *in, size_t len) {
    /* After an rxcheck failure lws still parses the bytes before the bad
     * frame, and their messages are answered; nothing after it arrives. */
    if (s->close_code)
        return 0;
    int code = 0;
    char reason[120];
    int final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    ms_rx_action_t a = ms__wsrx_piece(
        &s->rx, s->dialect, s->dstate, (size_t)s->api->cfg->max_frame_bytes, in, len,
        lws_frame_is_binary(wsi), lws_is_first_fragment(wsi), final, &code, reason, sizeof reason);
    if (a == MS_RX_CLOSE) {
        /* The reason outlives this call: keep it with the session. */
        free(s->open_err);
        s->open_err = ms_xstrdup(reason);
        request_close(s, code, s->open_err);
        return 0;
    }
    if (!final)
        return 0;
    /* A ping that came before this message ended is answered by lws from
     * its writable handler: our answer waits behind that pong (on_writable),
     * as Autobahn 5.6 expects. rx_msgs counts messages as rxcheck does. */
    if (s->rxc.ping_seen && (int8_t)(s->rxc.ping_at - s->rx_msgs) <= 0)
        s->pong_due = 1;
    s->rx_msgs++;
    if (a == MS_RX_TEXT) {
        handle_message(s);
        /* Write first: what answers this message goes before anything lws
         * writes about the bytes after it (unless lws owes a pong first). */
        if (s->out.len && !s->pong_due)
            ms__batch_flush_now(s);
        ms_buf_free(&s->rx.text); /* client messages are rare: keep nothing between them */
    }
    return 0;
}

size_t ms__ws_rx_filter(ms_session_t *s, const unsigned char *buf, size_t n) {
    ms_rxcheck_verdict_t v;
    ms__rxcheck_scan(&s->rxc, buf, n, &v);
    if (v.code && !s->rx_failed) {
        /* The bytes before the offending frame are still parsed (and their
         * messages answered); the close goes out when writable, after them. */
        ms_log(MS_LOG_INFO, "ws_protocol_error", "\"client_id\":\"%s\",\"reason\":\"%s\"",
               s->client_id, v.reason);
        s->rx_failed = 1;
        if (!s->close_code)
            s->close_reason = v.reason;
        lws_callback_on_writable(s->wsi);
    }
    return v.ok;
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
    if (!st) {
        g->user_err = MS_EIO;
        return;
    }
    ms_user_t u;
    g->user_err = ms_store_user_by_id(st, g->user_id, &u);
    if (g->user_err || !g->conversation_id[0])
        return;
    json_t *conv = NULL;
    g->err = ms_store_conversation_get(st, g->user_id, g->conversation_id, &conv);
    json_decref(conv);
}

static void gate_done(void *arg) {
    gate_t *g = arg;
    ms_session_t *s = g->sess;
    if (s) {
        s->gate = NULL;
        lws_rx_flow_control(s->wsi, 1);
        if (g->user_err == MS_ENOENT)
            request_close(s, 4001, "unauthorized"); /* the user was deleted */
        else if (g->user_err)
            request_close(s, 4000, "could not check the credentials; try again");
        else if (g->err == MS_EPERM || (g->err == MS_ENOENT && g->must_exist))
            request_close(s, 4003, "conversation not found or access denied");
        else if (g->err && g->err != MS_ENOENT)
            request_close(s, 4000, "could not check the conversation; try again");
        else
            greet(s);
    }
    free(g);
}

/* Checks, on the pool, that the token's user still exists (an access token
 * outlives a deleted user until it expires) and that the bound
 * conversation is theirs, before greeting. Reading from the client pauses
 * meanwhile, so its first message is handled after the greeting. */
static void gate_start(ms_session_t *s) {
    gate_t *g = ms_xcalloc(1, sizeof *g);
    g->sess = s;
    memcpy(g->user_id, s->user_id, MS_ID_LEN);
    if (s->bound_conversation)
        snprintf(g->conversation_id, MS_ID_LEN, "%s", s->bound_conversation);
    free(s->bound_conversation);
    s->bound_conversation = NULL;
    g->must_exist = s->bound_must_exist;
    if (ms_work_submit(s->api->loop, gate_run, gate_done, g) != 0) {
        free(g);
        request_close(s, 4000, "could not check the credentials; try again");
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
        return ms__ws_confirm_upgrade(wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        if (!pss)
            return -1; /* lws gives every protocol's connection its user space */
        /* Handshake-only data stays on the stack: an idle connection keeps
         * only what it needs. */
        char path[256] = "", path_param[MS_PATH_PARAM_MAX + 1] = "";
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
        s = ms_xcalloc(1, sizeof *s);
        s->api = lws_context_user(lws_get_context(wsi));
        s->dialect = ms__ws_dialect_for(path, path_param, sizeof path_param);
        if (!s->dialect)
            s->dialect = &ms_dialect_native;
        s->fd = -1;
        ms_buf_init(&s->rx.text);
        ms__ws_authenticate(wsi, s);
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
        ms__rxguard_add(s, (int)lws_get_socket_fd(wsi));
        {
            ms_ws_limits_t lim = session_limits(s);
            ms__ws_rate_init(&s->rate, (uint64_t)uv_now(s->api->loop), &lim);
        }
        if (!s->authed)
            request_close(s, 4001, "unauthorized");
        else if (s->open_rc)
            request_close(s, s->open_rc == MS_EPERM ? 4003 : 4000, s->open_err);
        else
            gate_start(s);
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
