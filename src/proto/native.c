/* Native protocol v1 codec: docs/protocol.md, "Native WebSocket protocol v1". */
#include "core/ms.h"
#include "proto/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [MS_EV_CONNECTED] = "connected",
    [MS_EV_MESSAGE_START] = "message_start",
    [MS_EV_TOOL_CALL] = "tool_call",
    [MS_EV_TOOL_RESULT] = "tool_result",
    [MS_EV_MESSAGE_CHUNK] = "message_chunk",
    [MS_EV_MESSAGE_COMPLETE] = "message_complete",
    [MS_EV_ERROR] = "error",
    [MS_EV_PONG] = "pong",
    [MS_EV_LLM_CALL] = "llm_call",
    [MS_EV_LLM_RESULT] = "llm_result",
};

const char *ms_event_kind_name(ms_event_kind_t kind) {
    return (size_t)kind < MS_COUNTOF(kind_names) ? kind_names[kind] : "unknown";
}

void ms_client_msg_clear(ms_client_msg_t *m) {
    free(m->conversation_id);
    free(m->text);
    free(m->client_message_id);
    free(m->message_id);
    memset(m, 0, sizeof *m);
}

/* RFC 3629 section 4: the second byte's range excludes overlong forms
 * (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points
 * above U+10FFFF (F4 90.., F5..FF). */
long ms_utf8_count(const char *s, size_t len) {
    long n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
        if (!k || i + k > len)
            return -1;
        unsigned char b = k > 1 ? (unsigned char)s[i + 1] : 0x80;
        if ((c == 0xe0 && b < 0xa0) || (c == 0xed && b > 0x9f) || (c == 0xf0 && b < 0x90) ||
            (c == 0xf4 && b > 0x8f))
            return -1;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return -1;
        i += k;
        n++;
    }
    return n;
}

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

/* The hot path (message_chunk) is written by hand, without jansson, so a
 * chunk costs one buffer append and no allocation once the buffer is warm. */
static void native_encode(void *state, const ms_event_t *ev, ms_frames_t *out) {
    (void)state;
    ms_buf_t *b = &out->buf;
    if (ev->kind == MS_EV_LLM_CALL || ev->kind == MS_EV_LLM_RESULT)
        return; /* telemetry the native protocol does not carry */
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
        put_str_field(b, "message_id", ev->message_id);
        break;
    case MS_EV_ERROR:
        if (ev->message_id)
            put_str_field(b, "message_id", ev->message_id);
        break;
    case MS_EV_CONNECTED:
    case MS_EV_PONG:
    case MS_EV_LLM_CALL:
    case MS_EV_LLM_RESULT:
        break;
    }
    if (ev->data)
        put_members(b, ev->data);
    ms_buf_putc(b, '}');
    ms_frames_end(out);
}

static int native_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                         ms_client_msg_t *out, char *errmsg, size_t errlen) {
    (void)state;
    memset(out, 0, sizeof *out);
    json_t *root;
    const char *t;
    if (ms__proto_parse(frame, len, &root, &t, errmsg, errlen))
        return MS_EFORMAT;
    int rc = 0;
    if (!strcmp(t, "message")) {
        out->kind = MS_CMSG_MESSAGE;
        size_t maxbytes = lim->max_message_chars * 4;
        if ((rc = ms__proto_get_str(root, "text", 1, maxbytes, &out->text, errmsg, errlen)) ||
            (rc = ms__proto_get_str(root, "client_message_id", 1, 128, &out->client_message_id,
                                    errmsg, errlen)) ||
            (rc = ms__proto_get_str(root, "conversation_id", 0, 64, &out->conversation_id, errmsg,
                                    errlen)))
            goto fail;
        long chars = ms_utf8_count(out->text, strlen(out->text));
        if (chars < 0 || (size_t)chars > lim->max_message_chars) {
            snprintf(errmsg, errlen,
                     chars < 0 ? "text is not valid UTF-8" : "text is longer than %zu characters",
                     lim->max_message_chars);
            rc = MS_EINVAL;
            goto fail;
        }
        if (out->conversation_id && !ms_id_valid(out->conversation_id)) {
            snprintf(errmsg, errlen, "conversation_id is not a valid id");
            rc = MS_EINVAL;
            goto fail;
        }
    } else if (!strcmp(t, "resume") || !strcmp(t, "cancel")) {
        out->kind = t[0] == 'r' ? MS_CMSG_RESUME : MS_CMSG_CANCEL;
        if ((rc = ms__proto_get_str(root, "message_id", 1, 64, &out->message_id, errmsg, errlen)))
            goto fail;
        if (!ms_id_valid(out->message_id)) {
            snprintf(errmsg, errlen, "message_id is not a valid id");
            rc = MS_EINVAL;
            goto fail;
        }
        if (out->kind == MS_CMSG_RESUME) {
            json_t *ls = json_object_get(root, "last_seq");
            if (!json_is_integer(ls) || json_integer_value(ls) < 0) {
                snprintf(errmsg, errlen, "last_seq must be an integer >= 0");
                rc = MS_EINVAL;
                goto fail;
            }
            out->last_seq = json_integer_value(ls);
        }
    } else if (!strcmp(t, "ping")) {
        out->kind = MS_CMSG_PING;
    } else {
        snprintf(errmsg, errlen, "unknown message type \"%.*s\"", ms__proto_quote_len(t, 40), t);
        rc = MS_EINVAL;
        goto fail;
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    ms_client_msg_clear(out);
    return rc;
}

const ms_dialect_ops_t ms_dialect_native = {
    .name = "native",
    .encode = native_encode,
    .decode = native_decode,
};
