/* Native protocol v1 codec: docs/protocol.md, "Native WebSocket protocol v1".
 *
 * Telemetry (llm_call, llm_result, routing) is sent in order with the
 * answer unless the connection opted out (?telemetry=0); it carries the
 * event's data as it is, with the message id. */
#include "core/ms.h"
#include "proto/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_str_field(ms_buf_t *b, const char *name, const char *v) {
    ms_buf_printf(b, ",\"%s\":", name);
    if (v)
        ms_buf_json_str(b, v, strlen(v));
    else
        ms_buf_puts(b, "null");
}

/* Appends the members of obj (a JSON object) after what is already written. */
static void put_members(ms_buf_t *b, json_t *obj) {
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        char *enc = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
        ms_buf_putc(b, ',');
        ms_buf_json_str(b, key, strlen(key));
        ms_buf_putc(b, ':');
        ms_buf_puts(b, enc);
        free(enc);
    }
}

typedef struct {
    int telemetry_off;
} native_state_t;

static int native_open(const ms_dialect_conn_t *conn, ms_dialect_open_t *out, char *errmsg,
                       size_t errlen) {
    (void)errmsg;
    (void)errlen;
    native_state_t *st = ms_xcalloc(1, sizeof *st);
    st->telemetry_off = ms__proto_telemetry_off(conn);
    out->state = st;
    return 0;
}

static void native_close(void *state) {
    free(state);
}

/* The hot path (message_chunk) is written by hand, without jansson, so a
 * chunk costs one buffer append and no allocation once the buffer is warm. */
static void native_encode(void *state, const ms_event_t *ev, ms_frames_t *out) {
    const native_state_t *st = state;
    ms_buf_t *b = &out->buf;
    if (st && st->telemetry_off && ms__proto_is_telemetry(ev->kind))
        return;
    ms_buf_puts(b, "{\"type\":\"");
    ms_buf_puts(b, ms_event_kind_name(ev->kind));
    ms_buf_putc(b, '"');
    switch (ev->kind) {
    case MS_EV_MESSAGE_CHUNK:
        put_str_field(b, "message_id", ev->message_id);
        ms_buf_printf(b, ",\"seq\":%lld,\"delta\":", (long long)ev->seq);
        ms_buf_json_str(b, ev->text, ev->text_len);
        break;
    case MS_EV_MESSAGE_START:
        put_str_field(b, "conversation_id", ev->conversation_id);
        put_str_field(b, "message_id", ev->message_id);
        put_str_field(b, "user_message_id", ev->user_message_id);
        put_str_field(b, "client_message_id", ev->client_message_id);
        break;
    case MS_EV_MESSAGE_COMPLETE:
        put_str_field(b, "message_id", ev->message_id);
        put_str_field(b, "conversation_id", ev->conversation_id);
        ms_buf_printf(b, ",\"seq\":%lld,\"text\":", (long long)ev->seq);
        ms_buf_json_str(b, ev->text ? ev->text : "", ev->text ? ev->text_len : 0);
        break;
    case MS_EV_TOOL_CALL:
    case MS_EV_TOOL_RESULT:
    case MS_EV_LLM_CALL:
    case MS_EV_LLM_RESULT:
    case MS_EV_ROUTING:
        put_str_field(b, "message_id", ev->message_id);
        break;
    case MS_EV_ERROR:
        if (ev->message_id)
            put_str_field(b, "message_id", ev->message_id);
        break;
    case MS_EV_CONNECTED:
    case MS_EV_PONG:
        break;
    }
    if (ev->data)
        put_members(b, ev->data);
    ms_buf_putc(b, '}');
    ms_frames_end(out);
}

/* clinical_context_id, when present: a UUID, kept lower-cased (ids are
 * stored so). Shared with no other dialect's code on purpose: each
 * decoder owns its field names. */
static int native_context_id(json_t *root, ms_client_msg_t *out, char *errmsg, size_t errlen) {
    int rc = ms__proto_get_str(root, "clinical_context_id", 0, 64, &out->clinical_context_id,
                               errmsg, errlen);
    if (rc || !out->clinical_context_id)
        return rc;
    for (char *p = out->clinical_context_id; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
    if (!ms_id_valid(out->clinical_context_id)) {
        snprintf(errmsg, errlen, "clinical_context_id is not a valid id");
        return MS_EINVAL;
    }
    return 0;
}

/* message {text, client_message_id, conversation_id?, model?, clinical_context_id?}. */
static int native_decode_message(void *state, json_t *root, const ms_decode_limits_t *lim,
                                 ms_client_msg_t *out, char *errmsg, size_t errlen) {
    (void)state;
    out->kind = MS_CMSG_MESSAGE;
    int rc;
    if ((rc = ms__proto_get_text(root, "text", lim, &out->text, errmsg, errlen)) ||
        (rc = ms__proto_get_str(root, "client_message_id", 1, 128, &out->client_message_id, errmsg,
                                errlen)) ||
        (rc = ms__proto_get_str(root, "conversation_id", 0, 64, &out->conversation_id, errmsg,
                                errlen)) ||
        (rc = ms__proto_get_str(root, "model", 0, 64, &out->model, errmsg, errlen)))
        return rc;
    if (out->conversation_id && !ms_id_valid(out->conversation_id)) {
        snprintf(errmsg, errlen, "conversation_id is not a valid id");
        return MS_EINVAL;
    }
    return native_context_id(root, out, errmsg, errlen);
}

/* The message_id of resume and cancel: a UUID. */
static int get_message_id(json_t *root, ms_client_msg_t *out, char *errmsg, size_t errlen) {
    int rc = ms__proto_get_str(root, "message_id", 1, 64, &out->message_id, errmsg, errlen);
    if (!rc && !ms_id_valid(out->message_id)) {
        snprintf(errmsg, errlen, "message_id is not a valid id");
        rc = MS_EINVAL;
    }
    return rc;
}

/* resume {message_id, last_seq}: last_seq counts chunks already received,
 * so it is validated against what a sequence number can be (an answer has
 * at most MS_PROTO_MAX_SEQ chunks); anything larger cannot name a chunk. */
static int native_decode_resume(void *state, json_t *root, const ms_decode_limits_t *lim,
                                ms_client_msg_t *out, char *errmsg, size_t errlen) {
    (void)state;
    (void)lim;
    out->kind = MS_CMSG_RESUME;
    int rc = get_message_id(root, out, errmsg, errlen);
    if (rc)
        return rc;
    json_t *ls = json_object_get(root, "last_seq");
    if (!json_is_integer(ls) || json_integer_value(ls) < 0 ||
        json_integer_value(ls) > MS_PROTO_MAX_SEQ) {
        snprintf(errmsg, errlen, "last_seq must be an integer from 0 to %lld",
                 (long long)MS_PROTO_MAX_SEQ);
        return MS_EINVAL;
    }
    out->last_seq = json_integer_value(ls);
    return 0;
}

static int native_decode_cancel(void *state, json_t *root, const ms_decode_limits_t *lim,
                                ms_client_msg_t *out, char *errmsg, size_t errlen) {
    (void)state;
    (void)lim;
    out->kind = MS_CMSG_CANCEL;
    return get_message_id(root, out, errmsg, errlen);
}

static const ms__decode_route_t native_routes[] = {
    {"message", native_decode_message},
    {"resume", native_decode_resume},
    {"cancel", native_decode_cancel},
    {"ping", NULL},
    {NULL, NULL},
};

static int native_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                         ms_client_msg_t *out, char *errmsg, size_t errlen) {
    return ms__proto_decode(state, frame, len, lim, native_routes, out, errmsg, errlen);
}

const ms_dialect_ops_t ms_dialect_native = {
    .name = "native",
    .open = native_open,
    .close = native_close,
    .encode = native_encode,
    .decode = native_decode,
};
