/* FHIR clinical agent dialect (Epic 003), WS /ws?session_id=<session>.
 *
 * Implements ../shared/seeds/003_92d045eceafba133.txt (Epic 003 "Real-Time
 * WebSocket Chat & Telemetry Migration", section "WebSocket Message
 * Protocol": UserMessage, AssistantMessage, ToolCallEvent, ToolResultEvent,
 * OpenAIEvent, ErrorMessage, ConnectionStatus; "Session management via query
 * parameters"; "Session isolation").
 *
 * The session is the query's session_id; its conversation is created for
 * the token's user on first use (ms_dialect_session_conversation: keyed,
 * so one user's session name never reaches another user's conversation,
 * and nobody can take it first). Every frame names
 * the connection's session, and a message naming another session is refused,
 * so one session's events never reach another. The answer streams as
 * assistant frames with streaming: true (content is the new text), then one
 * with streaming: false (content is the whole answer). Retrieval is the
 * kb_search tool (tool_call / tool_result); every provider call is reported
 * as openai_call / openai_response (the seed's OpenAIEvent, field for
 * field; model is the model the provider asked for), before the final
 * assistant frame, unless the connection opted out (?telemetry=0). The
 * routing decision has no frame in this dialect. */
#include "proto/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char session[MS_PROTO_SESSION_MAX + 1];
    char user_id[MS_ID_LEN];
    int telemetry_off;
} fhir_state_t;

static int fhir_open(const ms_dialect_conn_t *conn, ms_dialect_open_t *out, char *errmsg,
                     size_t errlen) {
    char buf[512];
    const char *sid = conn->query_arg ? conn->query_arg(conn, "session_id", buf, sizeof buf) : NULL;
    size_t n = sid ? strlen(sid) : 0;
    if (n == 0 || n > MS_PROTO_SESSION_MAX) {
        snprintf(errmsg, errlen, "the session_id query parameter (1 to %d bytes) is required",
                 MS_PROTO_SESSION_MAX);
        return MS_EINVAL;
    }
    /* Every frame names the session: it must be UTF-8 to go in a text frame. */
    if (ms_utf8_count(sid, n) < 0) {
        snprintf(errmsg, errlen, "the session_id query parameter is not UTF-8");
        return MS_EINVAL;
    }
    fhir_state_t *st = ms_xcalloc(1, sizeof *st);
    memcpy(st->session, sid, n + 1);
    snprintf(st->user_id, sizeof st->user_id, "%s", conn->user_id);
    st->telemetry_off = ms__proto_telemetry_off(conn);
    /* Nothing to check at connect: the session's conversation is this
     * user's by construction (ms_dialect_session_conversation). */
    out->state = st;
    return 0;
}

static void fhir_close(void *state) {
    free(state);
}

/* The opening of every frame: {"type":"<type>","session_id":"<session>". */
static void fhir_head(const fhir_state_t *st, ms_buf_t *b, const char *type) {
    ms_buf_puts(b, "{\"type\":\"");
    ms_buf_puts(b, type);
    ms_buf_puts(b, "\",\"session_id\":");
    ms_buf_json_str(b, st->session, strlen(st->session));
}

static void fhir_tool(const fhir_state_t *st, const ms_event_t *ev, ms_buf_t *b) {
    int call = ev->kind == MS_EV_TOOL_CALL;
    fhir_head(st, b, call ? "tool_call" : "tool_result");
    ms__proto_put_str(b, "tool_call_id", ms__proto_data_str(ev, "tool_call_id"));
    ms__proto_put_str(b, "tool_name", ms__proto_data_str(ev, "name"));
    if (call) {
        ms__proto_put_json(b, "arguments", json_object_get(ev->data, "arguments"));
    } else {
        /* ToolResultEvent.result is a string: the native result, as JSON text. */
        char *res = json_dumps(json_object_get(ev->data, "result"), JSON_COMPACT);
        ms__proto_put_str(b, "result", res ? res : "");
        free(res);
        ms_buf_puts(b, ",\"duration_ms\":");
        ms__proto_put_int(b, ms__proto_data_int(ev, "duration_ms", 0));
    }
    ms__proto_put_now(b, "timestamp");
    ms_buf_putc(b, '}');
}

/* OpenAIEvent {type, session_id, model, prompt_tokens, completion_tokens,
 * total_tokens, duration_ms, timestamp}: tokens and duration are known
 * only in the response (null in the call, as the seed's Optional fields). */
static void fhir_llm(const fhir_state_t *st, const ms_event_t *ev, ms_buf_t *b) {
    int done = ev->kind == MS_EV_LLM_RESULT;
    fhir_head(st, b, done ? "openai_response" : "openai_call");
    const char *model = ms__proto_data_str(ev, "model");
    ms__proto_put_str(b, "model", model ? model : ms__proto_data_str(ev, "provider"));
    static const char *const keys[] = {"prompt_tokens", "completion_tokens", "total_tokens",
                                       "duration_ms"};
    for (size_t i = 0; i < MS_COUNTOF(keys); i++) {
        ms_buf_puts(b, ",\"");
        ms_buf_puts(b, keys[i]);
        ms_buf_puts(b, "\":");
        int64_t v = ms__proto_data_int(ev, keys[i], -1);
        if (done && v >= 0)
            ms__proto_put_int(b, v);
        else
            ms_buf_puts(b, "null");
    }
    ms__proto_put_now(b, "timestamp");
    ms_buf_putc(b, '}');
}

static void fhir_assistant(const fhir_state_t *st, const ms_event_t *ev, ms_buf_t *b) {
    int final = ev->kind == MS_EV_MESSAGE_COMPLETE;
    fhir_head(st, b, "assistant");
    ms_buf_puts(b, ",\"content\":");
    ms_buf_json_str(b, ev->text ? ev->text : "", ev->text ? ev->text_len : 0);
    if (!final) {
        ms_buf_puts(b, ",\"streaming\":true}");
        return;
    }
    ms_buf_puts(b, ",\"streaming\":false");
    ms__proto_put_str(b, "message_id", ev->message_id);
    ms__proto_put_json(b, "citations", json_object_get(ev->data, "citations"));
    ms_buf_putc(b, '}');
}

static void fhir_encode(void *state, const ms_event_t *ev, ms_frames_t *out) {
    const fhir_state_t *st = state;
    ms_buf_t *b = &out->buf;
    if (st->telemetry_off && ms__proto_is_telemetry(ev->kind))
        return;
    switch (ev->kind) {
    case MS_EV_MESSAGE_CHUNK:
    case MS_EV_MESSAGE_COMPLETE:
        fhir_assistant(st, ev, b);
        break;
    case MS_EV_TOOL_CALL:
    case MS_EV_TOOL_RESULT:
        fhir_tool(st, ev, b);
        break;
    case MS_EV_LLM_CALL:
    case MS_EV_LLM_RESULT:
        fhir_llm(st, ev, b);
        break;
    case MS_EV_WORKFLOW_PROGRESS:
    case MS_EV_WORKFLOW_ITEM:
        return; /* workflows are seed 004's (dx.c) and the native protocol's */
    case MS_EV_CONNECTED:
        fhir_head(st, b, "connection");
        ms_buf_puts(b, ",\"status\":\"connected\"}");
        break;
    case MS_EV_ERROR: {
        const char *msg = ms__proto_data_str(ev, "message");
        fhir_head(st, b, "error");
        ms__proto_put_str(b, "error", msg ? msg : "error");
        ms_buf_putc(b, '}');
        break;
    }
    case MS_EV_PONG:
        fhir_head(st, b, "pong");
        ms_buf_putc(b, '}');
        break;
    case MS_EV_MESSAGE_START:
    case MS_EV_ROUTING:
        return; /* not part of this dialect */
    }
    ms_frames_end(out);
}

/* message {session_id, content}: the session must be the connection's. */
static int fhir_decode_message(void *state, json_t *root, const ms_decode_limits_t *lim,
                               ms_client_msg_t *out, char *errmsg, size_t errlen) {
    fhir_state_t *st = state;
    char *sid = NULL;
    out->kind = MS_CMSG_MESSAGE;
    int rc = ms__proto_get_str(root, "session_id", 1, MS_PROTO_SESSION_MAX, &sid, errmsg, errlen);
    if (!rc && strcmp(sid, st->session) != 0) {
        snprintf(errmsg, errlen, "session_id is not this connection's session");
        rc = MS_EINVAL;
    }
    if (!rc)
        rc = ms__proto_get_text(root, "content", lim, &out->text, errmsg, errlen);
    free(sid);
    if (rc)
        return rc;
    ms__proto_set_session(out, st->user_id, st->session);
    ms__proto_new_cmid(out);
    return 0;
}

static const ms__decode_route_t fhir_routes[] = {
    {"message", fhir_decode_message},
    {"ping", NULL},
    {NULL, NULL},
};

static int fhir_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                       ms_client_msg_t *out, char *errmsg, size_t errlen) {
    return ms__proto_decode(state, frame, len, lim, fhir_routes, out, errmsg, errlen);
}

const ms_dialect_ops_t ms_dialect_fhir = {
    .name = "fhir",
    .open = fhir_open,
    .close = fhir_close,
    .encode = fhir_encode,
    .decode = fhir_decode,
};
