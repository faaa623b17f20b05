/* libFuzzer target: one WebSocket dialect's client-message decoder, and its
 * encoder on what the decoder let through. Built once per dialect
 * (fuzz/CMakeLists.txt sets FZ_DIALECT to ms_dialect_native, ...).
 *
 * Input: an optional first line "@<param>\n" (the path's "{}" segment for
 * veda and dx, the session_id query argument for fhir; defaults that open
 * successfully otherwise), then one client frame as the network layer hands
 * it to decode(). The frame is decoded on a fresh connection, then again
 * after a message_start was encoded (dialects remember the conversation it
 * names).
 *
 * Properties: open() either succeeds or explains itself; decode() returns 0,
 * MS_EFORMAT or MS_EINVAL; on success every field means what the event
 * model says (text: UTF-8, 1..max_message_chars code points; ids valid;
 * last_seq >= 0); on failure the message is cleared and the error text is
 * UTF-8 (clients see it). Every frame any event encodes to is a UTF-8 JSON
 * object with a "type" (RFC 6455 section 8.1), and a chunk's text arrives
 * intact. */
#include "fuzz_util.h"

#include "core/ms.h"
#include "proto/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FZ_DIALECT
#error "FZ_DIALECT names the ms_dialect_ops_t to fuzz"
#endif
extern const ms_dialect_ops_t FZ_DIALECT;
static const ms_dialect_ops_t *const dialect = &FZ_DIALECT;

#define USER_ID "0190f3a8-1111-7000-8000-000000000001"
#define CONV_ID "0190f3a8-2222-7000-8000-000000000002"
#define MSG_ID "0190f3a8-3333-7000-8000-000000000003"
#define MAX_CHARS 200

typedef struct {
    const char *param; /* path segment or session_id */
} fake_conn_t;

static const char *query_arg(const ms_dialect_conn_t *c, const char *name, char *buf, size_t len) {
    const fake_conn_t *fc = c->impl;
    if (strcmp(name, "session_id") != 0 || !fc->param)
        return NULL;
    snprintf(buf, len, "%s", fc->param);
    return buf;
}

static int is_nul_terminated(const char *s, size_t cap) {
    return memchr(s, '\0', cap) != NULL;
}

/* The decoded message means what ms_client_msg_t says. */
static void check_msg(const ms_client_msg_t *m) {
    switch (m->kind) {
    case MS_CMSG_MESSAGE: {
        FZ_ASSERT(m->text != NULL, "a message without text");
        size_t n = strlen(m->text);
        FZ_ASSERT(fz_utf8_valid(m->text, n), "text accepted that is not UTF-8: %s", m->text);
        long chars = ms_utf8_count(m->text, n);
        FZ_ASSERT(chars >= 1 && chars <= MAX_CHARS, "text of %ld code points accepted", chars);
        FZ_ASSERT(m->client_message_id && *m->client_message_id &&
                      strlen(m->client_message_id) <= 128,
                  "client_message_id missing or too long");
        FZ_ASSERT(!m->conversation_id || ms_id_valid(m->conversation_id),
                  "conversation_id \"%s\" is not an id", m->conversation_id);
        FZ_ASSERT(!m->message_id, "a message with a message_id");
        break;
    }
    case MS_CMSG_RESUME:
        FZ_ASSERT(m->last_seq >= 0, "negative last_seq %lld", (long long)m->last_seq);
        /* fall through */
    case MS_CMSG_CANCEL:
        FZ_ASSERT(m->message_id && ms_id_valid(m->message_id), "message_id is not an id");
        FZ_ASSERT(!m->text, "a resume or cancel with text");
        break;
    case MS_CMSG_PING:
        FZ_ASSERT(!m->text && !m->message_id, "a ping with fields");
        break;
    default:
        FZ_ASSERT(0, "unknown message kind %d", (int)m->kind);
    }
}

/* Encodes ev and checks every frame; when want is set, one frame must hold
 * it as a string. */
static void encode_check(void *state, const ms_event_t *ev, const char *want, size_t wlen) {
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    dialect->encode(state, ev, &f);
    int found = want == NULL;
    for (size_t i = 0; i < f.n; i++) {
        size_t len;
        const char *p = ms_frames_get(&f, i, &len);
        json_t *j = fz_check_frame(p, len, dialect->name);
        found |= want && fz_json_has_string(j, want, wlen);
        json_decref(j);
    }
    FZ_ASSERT(found || f.n == 0, "%s: event %s lost its text \"%.*s\"", dialect->name,
              ms_event_kind_name(ev->kind), (int)wlen, want);
    ms_frames_free(&f);
}

/* Every event kind, carrying text that came from the client. */
static void encode_all(void *state, const char *text) {
    size_t n = strlen(text);
    json_t *cite =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:f, s:i, s:[s], s:s, s:s, s:s}", "index", 1,
                  "source_id", "GHR_0000001_Sec1", "source_type", "medquad", "source_name", "GHR",
                  "title", text, "relevance_score", 1.3, "year", 2019, "authors", text, "journal",
                  "J", "quoted_text", text, "url", "https://example.org/a");
    FZ_ASSERT(cite != NULL, "building a citation from valid UTF-8");
    json_t *complete = json_pack("{s:[o], s:s, s:s, s:s, s:{s:i}}", "citations", cite, "disclaimer",
                                 "Medical disclaimer.", "finish_reason", "stop", "status",
                                 "complete", "usage", "total_tokens", 3);
    json_t *connected = json_pack("{s:s, s:s, s:i, s:[s]}", "client_id", CONV_ID, "user_id",
                                  USER_ID, "protocol_version", 1, "capabilities", "streaming");
    json_t *error =
        json_pack("{s:s, s:s, s:b}", "code", "invalid_message", "message", text, "retryable", 0);
    json_t *tcall = json_pack("{s:s, s:s, s:{s:s}}", "tool_call_id", "t1", "name", "kb_search",
                              "arguments", "query", text);
    json_t *tres = json_pack("{s:s, s:s, s:{s:i}, s:f}", "tool_call_id", "t1", "name", "kb_search",
                             "result", "count", 2, "duration_ms", 1.5);
    json_t *llm = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s}", "provider", "offline",
                            "prompt_tokens", 10, "completion_tokens", 5, "total_tokens", 15,
                            "duration_ms", 3, "finish_reason", "stop");
    json_t *pong = json_pack("{s:I}", "ts", (json_int_t)1700000000000);
    const ms_event_t evs[] = {
        {.kind = MS_EV_CONNECTED, .data = connected},
        {.kind = MS_EV_MESSAGE_START,
         .message_id = MSG_ID,
         .conversation_id = CONV_ID,
         .user_message_id = MSG_ID,
         .client_message_id = text},
        {.kind = MS_EV_TOOL_CALL, .message_id = MSG_ID, .data = tcall},
        {.kind = MS_EV_TOOL_RESULT, .message_id = MSG_ID, .data = tres},
        {.kind = MS_EV_LLM_CALL, .message_id = MSG_ID, .data = llm},
        {.kind = MS_EV_MESSAGE_CHUNK, .message_id = MSG_ID, .seq = 1, .text = text, .text_len = n},
        {.kind = MS_EV_LLM_RESULT, .message_id = MSG_ID, .data = llm},
        {.kind = MS_EV_MESSAGE_COMPLETE,
         .message_id = MSG_ID,
         .conversation_id = CONV_ID,
         .seq = 1,
         .text = text,
         .text_len = n,
         .data = complete},
        {.kind = MS_EV_ERROR, .message_id = MSG_ID, .data = error},
        {.kind = MS_EV_ERROR, .data = error},
        {.kind = MS_EV_PONG, .data = pong},
    };
    for (size_t i = 0; i < MS_COUNTOF(evs); i++)
        encode_check(state, &evs[i], evs[i].kind == MS_EV_MESSAGE_CHUNK ? text : NULL, n);
    json_decref(complete);
    json_decref(connected);
    json_decref(error);
    json_decref(tcall);
    json_decref(tres);
    json_decref(llm);
    json_decref(pong);
}

/* Decodes the frame on state; returns the class of the result. */
static int decode_check(void *state, const uint8_t *frame, size_t len) {
    ms_client_msg_t m;
    char err[160];
    memset(err, 0x55, sizeof err);
    ms_decode_limits_t lim = {.max_message_chars = MAX_CHARS};
    int rc = dialect->decode(state, (const char *)frame, len, &lim, &m, err, sizeof err);
    FZ_ASSERT(rc == 0 || rc == MS_EFORMAT || rc == MS_EINVAL, "decode returned %d", rc);
    if (rc == 0) {
        check_msg(&m);
        if (m.kind == MS_CMSG_MESSAGE)
            encode_all(state, m.text);
    } else {
        FZ_ASSERT(!m.text && !m.conversation_id && !m.client_message_id && !m.message_id,
                  "a failed decode left fields set");
        FZ_ASSERT(is_nul_terminated(err, sizeof err) && err[0], "no error message");
        FZ_ASSERT(fz_utf8_valid(err, strlen(err)), "error message is not UTF-8: %s", err);
        encode_all(state, err);
    }
    ms_client_msg_clear(&m);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *head;
    const uint8_t *frame;
    size_t len;
    fz_split_head(data, size, &head, &frame, &len);
    const char *dflt = !strcmp(dialect->name, "veda") ? CONV_ID
                       : !strcmp(dialect->name, "dx") ? USER_ID
                                                      : "default";
    fake_conn_t fc = {.param = head ? head : dflt};
    ms_dialect_conn_t conn = {.user_id = USER_ID,
                              .path_param = fc.param[0] ? fc.param : NULL,
                              .query_arg = query_arg,
                              .impl = &fc};
    ms_dialect_open_t o;
    memset(&o, 0, sizeof o);
    char err[120] = "";
    if (dialect->open) {
        int rc = dialect->open(&conn, &o, err, sizeof err);
        FZ_ASSERT(rc == 0 || rc == MS_EPERM || rc == MS_EINVAL, "open returned %d", rc);
        if (rc) {
            FZ_ASSERT(err[0] && fz_utf8_valid(err, strlen(err)), "open failed without a reason");
            FZ_ASSERT(o.state == NULL, "open failed but left state");
            free(head);
            return 0;
        }
        FZ_ASSERT(!o.conversation_id[0] || ms_id_valid(o.conversation_id),
                  "open bound the connection to \"%.36s\", not an id", o.conversation_id);
    }
    int rc1 = decode_check(o.state, frame, len);
    /* Now as a connection whose conversation a message_start named. */
    ms_event_t start = {.kind = MS_EV_MESSAGE_START,
                        .message_id = MSG_ID,
                        .conversation_id = CONV_ID,
                        .user_message_id = MSG_ID,
                        .client_message_id = "c1"};
    encode_check(o.state, &start, NULL, 0);
    int rc2 = decode_check(o.state, frame, len);
    FZ_ASSERT((rc1 == MS_EFORMAT) == (rc2 == MS_EFORMAT), "framing depends on state");
    if (dialect->close)
        dialect->close(o.state);
    free(head);
    return 0;
}
