/* Diagnosis streamer dialect, WS /ws/{user_id}.
 *
 * Implements ../shared/seeds/004_16d64397806ba63d.txt ("WebSocket Real-Time
 * Streaming Implementation": section 2 "Main Application Integration",
 * "Message Routing"; section "Message Formats": progress, stream_chunk,
 * complete, error, each with a timestamp). The `chat` type is served by the
 * grounded answer pipeline; `diagnosis` and `prescription` run the
 * workflows (docs/workflows.md): progress per seed stage, one stream_chunk
 * per object a stage produced, complete with the workflow's result.
 *
 * Client messages carry their payload in "data" (as the seed's diagnosis
 * and prescription requests do): {"type":"chat","data":{"message":"..."}}.
 * "content" or "text" for the question, and the same keys at the top level,
 * are accepted too. The path's user_id is the token's user's id, or an alias
 * of that user: any segment that is not a user id (a UUID), such as the
 * seed's own "user_123", so that a seed client needs only its token. A UUID
 * that is not the token's user names someone else: 4003. Whatever the path
 * says, the connection acts as the token's user only.
 * A connection's chats form one conversation, created by its first chat. */
#include "proto/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char conversation_id[MS_ID_LEN]; /* once the first message_start named it */
} dx_state_t;

static int dx_open(const ms_dialect_conn_t *conn, ms_dialect_open_t *out, char *errmsg,
                   size_t errlen) {
    if (!conn->path_param ||
        (ms_id_valid(conn->path_param) && strcasecmp(conn->path_param, conn->user_id) != 0)) {
        snprintf(errmsg, errlen, "the path's user is not the token's user");
        return MS_EPERM;
    }
    out->state = ms_xcalloc(1, sizeof(dx_state_t));
    return 0;
}

static void dx_close(void *state) {
    free(state);
}

static void dx_progress(ms_frames_t *out, const char *stage, int pct, const char *msg) {
    ms_buf_t *b = &out->buf;
    ms_buf_puts(b, "{\"type\":\"progress\"");
    ms__proto_put_str(b, "stage", stage);
    ms_buf_puts(b, ",\"progress\":");
    ms__proto_put_int(b, pct);
    ms__proto_put_str(b, "message", msg);
    ms__proto_put_now(b, "timestamp");
    ms_buf_putc(b, '}');
    ms_frames_end(out);
}

/* A workflow is done: complete {result}, the workflow's result object with
 * the message and conversation it is stored as. */
static void dx_complete_workflow(const ms_event_t *ev, json_t *result, ms_frames_t *out) {
    ms_buf_t *b = &out->buf;
    json_t *r = json_copy(result);
    json_object_set_new(r, "message_id", json_string(ev->message_id));
    if (ev->conversation_id)
        json_object_set_new(r, "conversation_id", json_string(ev->conversation_id));
    ms_buf_puts(b, "{\"type\":\"complete\"");
    ms__proto_put_json(b, "result", r);
    ms__proto_put_now(b, "timestamp");
    ms_buf_putc(b, '}');
    ms_frames_end(out);
    json_decref(r);
}

/* One object a workflow stage produced: stream_chunk {content: {...}}. */
static void dx_item(const ms_event_t *ev, ms_frames_t *out) {
    ms_buf_t *b = &out->buf;
    ms_buf_puts(b, "{\"type\":\"stream_chunk\"");
    ms__proto_put_json(b, "content", json_object_get(ev->data, "content"));
    ms__proto_put_now(b, "timestamp");
    ms_buf_putc(b, '}');
    ms_frames_end(out);
}

/* The answer is done: progress 100, then complete with the whole result. */
static void dx_complete(const ms_event_t *ev, ms_frames_t *out) {
    ms_buf_t *b = &out->buf;
    dx_progress(out, "complete", 100, "Complete");
    json_t *wres = json_object_get(ev->data, "workflow_result");
    if (json_is_object(wres)) {
        dx_complete_workflow(ev, wres, out);
        return;
    }
    ms_buf_puts(b, "{\"type\":\"complete\",\"result\":{\"message_id\":");
    ms_buf_json_str(b, ev->message_id, strlen(ev->message_id));
    ms__proto_put_str(b, "conversation_id", ev->conversation_id);
    ms_buf_puts(b, ",\"content\":");
    ms_buf_json_str(b, ev->text ? ev->text : "", ev->text ? ev->text_len : 0);
    ms__proto_put_json(b, "citations", json_object_get(ev->data, "citations"));
    ms__proto_put_str(b, "disclaimer", ms__proto_data_str(ev, "disclaimer"));
    ms__proto_put_str(b, "finish_reason", ms__proto_data_str(ev, "finish_reason"));
    ms__proto_put_str(b, "status", ms__proto_data_str(ev, "status"));
    ms_buf_putc(b, '}');
    ms__proto_put_now(b, "timestamp");
    ms_buf_putc(b, '}');
    ms_frames_end(out);
}

static void dx_found(const ms_event_t *ev, ms_frames_t *out) {
    char msg[96];
    json_t *res = json_object_get(ev->data, "result");
    snprintf(msg, sizeof msg, "Found %lld passages; writing the answer...",
             (long long)json_integer_value(json_object_get(res, "count")));
    dx_progress(out, "answer_generation", 30, msg);
}

/* Events that are one frame with a type and a timestamp. */
static void dx_simple(const ms_event_t *ev, ms_frames_t *out) {
    ms_buf_t *b = &out->buf;
    if (ev->kind == MS_EV_MESSAGE_CHUNK) {
        ms_buf_puts(b, "{\"type\":\"stream_chunk\",\"content\":");
        ms_buf_json_str(b, ev->text, ev->text_len);
    } else if (ev->kind == MS_EV_ERROR) {
        const char *msg = ms__proto_data_str(ev, "message");
        ms_buf_puts(b, "{\"type\":\"error\"");
        ms__proto_put_str(b, "error", msg ? msg : "error");
    } else {
        ms_buf_puts(b, "{\"type\":\"pong\"");
    }
    ms__proto_put_now(b, "timestamp");
    ms_buf_putc(b, '}');
    ms_frames_end(out);
}

static void dx_encode(void *state, const ms_event_t *ev, ms_frames_t *out) {
    dx_state_t *st = state;
    switch (ev->kind) {
    case MS_EV_MESSAGE_START:
        if (st && !st->conversation_id[0] && ev->conversation_id)
            snprintf(st->conversation_id, sizeof st->conversation_id, "%s", ev->conversation_id);
        /* A workflow's first progress is its first stage (seed 004). */
        if (!ms__proto_data_str(ev, "workflow"))
            dx_progress(out, "received", 5, "Question received");
        break;
    case MS_EV_WORKFLOW_PROGRESS:
        dx_progress(out, ms__proto_data_str(ev, "stage"),
                    (int)ms__proto_data_int(ev, "progress", 0), ms__proto_data_str(ev, "message"));
        break;
    case MS_EV_WORKFLOW_ITEM:
        dx_item(ev, out);
        break;
    case MS_EV_TOOL_CALL:
        dx_progress(out, "knowledge_search", 10, "Searching the knowledge base...");
        break;
    case MS_EV_TOOL_RESULT:
        dx_found(ev, out);
        break;
    case MS_EV_MESSAGE_COMPLETE:
        dx_complete(ev, out);
        break;
    case MS_EV_MESSAGE_CHUNK:
        /* A workflow's text summary: the seed's clients get its objects
         * (stream_chunk content objects) and its result, not its text. */
        if (!ms__proto_data_str(ev, "workflow"))
            dx_simple(ev, out);
        break;
    case MS_EV_ERROR:
    case MS_EV_PONG:
        dx_simple(ev, out);
        break;
    case MS_EV_CONNECTED:
    case MS_EV_LLM_CALL:
    case MS_EV_LLM_RESULT:
    case MS_EV_ROUTING:
        break; /* not part of this dialect */
    }
}

/* The question of a chat: the first of data.message, data.content,
 * data.text, message, content, text that is present. */
static int dx_decode_chat(void *state, json_t *root, const ms_decode_limits_t *lim,
                          ms_client_msg_t *out, char *errmsg, size_t errlen) {
    dx_state_t *st = state;
    static const char *const keys[] = {"message", "content", "text"};
    json_t *data = json_object_get(root, "data");
    json_t *where[] = {json_is_object(data) ? data : NULL, root};
    out->kind = MS_CMSG_MESSAGE;
    for (size_t w = 0; w < MS_COUNTOF(where); w++) {
        for (size_t k = 0; where[w] && k < MS_COUNTOF(keys); k++) {
            if (!json_object_get(where[w], keys[k]))
                continue;
            int rc = ms__proto_get_text(where[w], keys[k], lim, &out->text, errmsg, errlen);
            if (rc)
                return rc;
            if (st->conversation_id[0])
                out->conversation_id = ms_xstrdup(st->conversation_id);
            ms__proto_new_cmid(out);
            return 0;
        }
    }
    snprintf(errmsg, errlen, "missing field \"data.message\"");
    return MS_EINVAL;
}

/* The seed's diagnosis and prescription requests: {"type", "data": {...}}.
 * The data object is checked by the workflow (chat validates it with the
 * configured bounds and answers an error naming the field); here only its
 * presence. Each request is a new turn in the connection's conversation. */
static int dx_decode_workflow(void *state, json_t *root, const ms_decode_limits_t *lim,
                              ms_client_msg_t *out, char *errmsg, size_t errlen) {
    dx_state_t *st = state;
    (void)lim;
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(data)) {
        snprintf(errmsg, errlen, "\"data\" must be an object (the %s request)", type);
        return MS_EINVAL;
    }
    /* Binding a clinical context: data.clinical_context_id (or at the top
     * level), a UUID; the conversation stays bound for later requests. */
    json_t *cc = json_object_get(data, "clinical_context_id");
    if (!cc)
        cc = json_object_get(root, "clinical_context_id");
    if (cc && !json_is_null(cc)) {
        char id[MS_ID_LEN];
        const char *v = json_string_value(cc);
        size_t n = v ? strlen(v) : 0;
        for (size_t i = 0; v && i < n && i < sizeof id - 1; i++)
            id[i] = (char)(v[i] >= 'A' && v[i] <= 'F' ? v[i] + 32 : v[i]);
        id[n < sizeof id - 1 ? n : sizeof id - 1] = '\0';
        if (!v || n != MS_ID_LEN - 1 || !ms_id_valid(id)) {
            snprintf(errmsg, errlen, "clinical_context_id is not a valid id");
            return MS_EINVAL;
        }
        out->clinical_context_id = ms_xstrdup(id);
    }
    out->kind = MS_CMSG_MESSAGE;
    json_t *copy = json_deep_copy(data);
    json_object_del(copy, "clinical_context_id");
    out->workflow = json_pack("{s:s, s:o}", "workflow", type, "data", copy);
    out->text = ms_xstrdup(type);
    if (st->conversation_id[0])
        out->conversation_id = ms_xstrdup(st->conversation_id);
    ms__proto_new_cmid(out);
    return 0;
}

static const ms__decode_route_t dx_routes[] = {
    {"chat", dx_decode_chat},
    {"diagnosis", dx_decode_workflow},
    {"prescription", dx_decode_workflow},
    {"ping", NULL},
    {NULL, NULL},
};

static int dx_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                     ms_client_msg_t *out, char *errmsg, size_t errlen) {
    return ms__proto_decode(state, frame, len, lim, dx_routes, out, errmsg, errlen);
}

const ms_dialect_ops_t ms_dialect_dx = {
    .name = "dx",
    .open = dx_open,
    .close = dx_close,
    .encode = dx_encode,
    .decode = dx_decode,
};
