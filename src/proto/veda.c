/* Veda dialect, WS /ws/conversations/{conversation_id}?token=<JWT>.
 *
 * Implements ../shared/seeds/001_82a8a60d7cec0c9b.txt ("B07 - Streaming
 * (WebSocket) Implementation Summary": section 2 "Streaming Protocol
 * Implementation", section 5 "WebSocket Router", section 6 "Reconnect
 * Handling & Idempotency", "WebSocket Connection Flow", "Streaming Protocol"
 * and "Error Handling"):
 *   client  message {text, client_message_id}, resume {conversationId,
 *           lastMessageId}, ping
 *   server  chunk {messageId, data}, done {messageId, message}, error {error},
 *           pong
 *   close   4001 no or bad token, 4003 conversation not found or another
 *           user's, 4000 a frame that is not a typed JSON object (or the
 *           conversation could not be checked).
 * The connection is bound to the path's conversation, which must exist and
 * be the token user's. Idempotency by client_message_id and the 30 s stream
 * cache are the pipeline's (replay_ttl_ms); resume replays lastMessageId
 * from its first chunk, since a Veda chunk carries no offset. */
#include "proto/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char conversation_id[MS_ID_LEN];
} veda_state_t;

static int veda_open(const ms_dialect_conn_t *conn, ms_dialect_open_t *out, char *errmsg,
                     size_t errlen) {
    /* A malformed id names no conversation of this user: the same 4003 as
     * one that does not exist (no existence leak). */
    if (!conn->path_param || !ms_id_valid(conn->path_param)) {
        snprintf(errmsg, errlen, "conversation not found or access denied");
        return MS_EPERM;
    }
    veda_state_t *st = ms_xcalloc(1, sizeof *st);
    memcpy(st->conversation_id, conn->path_param, MS_ID_LEN);
    memcpy(out->conversation_id, conn->path_param, MS_ID_LEN);
    out->must_exist = 1;
    out->state = st;
    return 0;
}

static void veda_close(void *state) {
    free(state);
}

/* done.message: the stored assistant message as a Veda client reads it. */
static void veda_done(const ms_event_t *ev, ms_buf_t *b) {
    ms_buf_puts(b, "{\"type\":\"done\"");
    ms__proto_put_str(b, "messageId", ev->message_id);
    ms_buf_puts(b, ",\"message\":{\"id\":");
    ms_buf_json_str(b, ev->message_id, strlen(ev->message_id));
    ms__proto_put_str(b, "conversationId", ev->conversation_id);
    ms_buf_puts(b, ",\"sender\":\"assistant\",\"content\":");
    ms_buf_json_str(b, ev->text ? ev->text : "", ev->text ? ev->text_len : 0);
    ms__proto_put_str(b, "status", ms__proto_data_str(ev, "status"));
    ms__proto_put_str(b, "finish_reason", ms__proto_data_str(ev, "finish_reason"));
    ms__proto_put_json(b, "citations", json_object_get(ev->data, "citations"));
    ms__proto_put_str(b, "disclaimer", ms__proto_data_str(ev, "disclaimer"));
    ms__proto_put_now(b, "timestamp");
    ms_buf_puts(b, "}}");
}

static void veda_encode(void *state, const ms_event_t *ev, ms_frames_t *out) {
    ms_buf_t *b = &out->buf;
    switch (ev->kind) {
    case MS_EV_MESSAGE_CHUNK:
        ms_buf_puts(b, "{\"type\":\"chunk\",\"messageId\":");
        ms_buf_json_str(b, ev->message_id, strlen(ev->message_id));
        ms_buf_puts(b, ",\"data\":");
        ms_buf_json_str(b, ev->text, ev->text_len);
        ms_buf_putc(b, '}');
        break;
    case MS_EV_MESSAGE_COMPLETE:
        veda_done(ev, b);
        break;
    case MS_EV_ERROR: {
        const char *msg = ms__proto_data_str(ev, "message");
        ms_buf_puts(b, "{\"type\":\"error\"");
        ms__proto_put_str(b, "error", msg ? msg : "error");
        ms__proto_put_str(b, "code", ms__proto_data_str(ev, "code"));
        if (ev->message_id)
            ms__proto_put_str(b, "messageId", ev->message_id);
        ms_buf_putc(b, '}');
        break;
    }
    case MS_EV_PONG:
        ms_buf_puts(b, "{\"type\":\"pong\"}");
        break;
    case MS_EV_CONNECTED:
    case MS_EV_MESSAGE_START:
    case MS_EV_TOOL_CALL:
    case MS_EV_TOOL_RESULT:
    case MS_EV_LLM_CALL:
    case MS_EV_WORKFLOW_PROGRESS:
    case MS_EV_WORKFLOW_ITEM:
    case MS_EV_LLM_RESULT:
    case MS_EV_ROUTING:
        return; /* not part of this dialect: the first chunk names the message */
    }
    ms_frames_end(out);
}

static int veda_decode_message(void *state, json_t *root, const ms_decode_limits_t *lim,
                               ms_client_msg_t *out, char *errmsg, size_t errlen) {
    veda_state_t *st = state;
    out->kind = MS_CMSG_MESSAGE;
    int rc = ms__proto_get_text(root, "text", lim, &out->text, errmsg, errlen);
    if (!rc)
        rc = ms__proto_get_str(root, "client_message_id", 0, 128, &out->client_message_id, errmsg,
                               errlen);
    if (rc)
        return rc;
    if (!out->client_message_id)
        ms__proto_new_cmid(out);
    out->conversation_id = ms_xstrdup(st->conversation_id);
    return 0;
}

/* resume {conversationId, lastMessageId}: lastMessageId is the answer whose
 * stream was interrupted (the messageId of its chunks). */
static int veda_decode_resume(void *state, json_t *root, const ms_decode_limits_t *lim,
                              ms_client_msg_t *out, char *errmsg, size_t errlen) {
    (void)lim;
    veda_state_t *st = state;
    char *conv = NULL;
    out->kind = MS_CMSG_RESUME;
    int rc = ms__proto_get_str(root, "conversationId", 1, 64, &conv, errmsg, errlen);
    if (!rc)
        rc = ms__proto_get_str(root, "lastMessageId", 1, 64, &out->message_id, errmsg, errlen);
    if (!rc && strcmp(conv, st->conversation_id) != 0) {
        snprintf(errmsg, errlen, "conversationId is not this connection's conversation");
        rc = MS_EINVAL;
    }
    if (!rc && !ms_id_valid(out->message_id)) {
        snprintf(errmsg, errlen, "lastMessageId is not a valid id");
        rc = MS_EINVAL;
    }
    free(conv);
    return rc;
}

static const ms__decode_route_t veda_routes[] = {
    {"message", veda_decode_message},
    {"resume", veda_decode_resume},
    {"ping", NULL},
    {NULL, NULL},
};

static int veda_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                       ms_client_msg_t *out, char *errmsg, size_t errlen) {
    return ms__proto_decode(state, frame, len, lim, veda_routes, out, errmsg, errlen);
}

const ms_dialect_ops_t ms_dialect_veda = {
    .name = "veda",
    .open = veda_open,
    .close = veda_close,
    .encode = veda_encode,
    .decode = veda_decode,
};
