/* VoiceAssist realtime dialect, WS /api/realtime/ws.
 *
 * Implements ../shared/seeds/000_5294604a9c03af26.txt ("Phase 4 Completion
 * Report", section 3 "Message Streaming Protocol": connected, message_start,
 * message_chunk with chunk_index, message_complete with citations, pong,
 * error with code and message; protocol version 1.0, capabilities
 * ["text_streaming"]) with the structured citations of
 * ../shared/seeds/002_16d50485ef34fdcf.txt (Priority 1, item 3 "Structured
 * Citations": source_id, source_type, title, url; authors, publication_date,
 * journal, volume, issue, pages, doi, pmid; relevance_score 0-100,
 * quoted_text, context). The reference peers in ../shared/peers speak the
 * same frames, and the benchmark client reads all three alike.
 *
 * A `message` without session_id continues the connection's conversation
 * (created by its first message); with one, the session's conversation
 * (ms_dialect_session_conversation), created on first use. This dialect is
 * the one benchmarked against the peers, so message_chunk is written by
 * hand into the caller's warm buffer: no allocation per chunk. */
#include "proto/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char user_id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN]; /* the connection's, once a message_start named it */
} va_state_t;

static int va_open(const ms_dialect_conn_t *conn, ms_dialect_open_t *out, char *errmsg,
                   size_t errlen) {
    va_state_t *st = ms_xcalloc(1, sizeof *st);
    snprintf(st->user_id, sizeof st->user_id, "%s", conn->user_id);
    out->state = st;
    return 0;
}

static void va_close(void *state) {
    free(state);
}

/* One native citation in the seed-002 shape. The native citation carries
 * seed 002's members itself (docs/protocol.md "Citation"); this adds
 * VoiceAssist's "id", makes every member present (null when unknown,
 * authors [] when none), gives publication_date from the year when a
 * producer sent only that, and puts the marker's index and the source name
 * into context beside the native context's members. */
static json_t *va_citation(json_t *c) {
    json_t *o = json_object();
    json_object_set(o, "id", json_object_get(c, "source_id"));
    json_object_set(o, "index", json_object_get(c, "index"));
    static const char *const keys[] = {"source_id", "source_type", "title",      "url",
                                       "journal",   "volume",      "issue",      "pages",
                                       "doi",       "pmid",        "quoted_text"};
    for (size_t i = 0; i < MS_COUNTOF(keys); i++) {
        json_t *v = json_object_get(c, keys[i]);
        json_object_set_new(o, keys[i], v ? json_incref(v) : json_null());
    }
    json_t *authors = json_object_get(c, "authors");
    json_object_set_new(o, "authors", json_is_array(authors) ? json_incref(authors) : json_array());
    json_t *date = json_object_get(c, "publication_date");
    json_t *year = json_object_get(c, "year");
    char y[16] = "";
    if (!json_is_string(date) && json_is_integer(year))
        snprintf(y, sizeof y, "%lld", (long long)json_integer_value(year));
    json_object_set_new(o, "publication_date",
                        json_is_string(date) ? json_incref(date)
                        : y[0]               ? json_string(y)
                                             : json_null());
    /* Native relevance_score is already 0-100; VoiceAssist's is an integer. */
    json_t *score = json_object_get(c, "relevance_score");
    double s = json_number_value(score);
    json_object_set_new(o, "relevance_score",
                        json_is_number(score) ? json_integer(lround(fmin(fmax(s, 0.0), 100.0)))
                                              : json_null());
    json_t *ctx = json_object_get(c, "context");
    json_t *vc = json_is_object(ctx) ? json_deep_copy(ctx) : json_object();
    json_object_set(vc, "index", json_object_get(c, "index"));
    json_t *sn = json_object_get(c, "source_name");
    json_object_set_new(vc, "source_name", sn ? json_incref(sn) : json_null());
    json_object_set_new(o, "context", vc);
    return o;
}

static void va_complete(const ms_event_t *ev, ms_buf_t *b) {
    json_t *in = json_object_get(ev->data, "citations");
    json_t *cites = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(in, i, c) json_array_append_new(cites, va_citation(c));
    ms_buf_puts(b, "{\"type\":\"message_complete\"");
    ms__proto_put_str(b, "message_id", ev->message_id);
    ms_buf_puts(b, ",\"content\":");
    ms_buf_json_str(b, ev->text ? ev->text : "", ev->text ? ev->text_len : 0);
    ms__proto_put_json(b, "citations", cites);
    ms_buf_putc(b, '}');
    json_decref(cites);
}

/* Error codes as VoiceAssist writes them: upper case (INVALID_MESSAGE, ...). */
static void va_error(const ms_event_t *ev, ms_buf_t *b) {
    const char *code = ms__proto_data_str(ev, "code");
    char up[40];
    size_t n = 0;
    for (const char *p = code ? code : "internal_error"; *p && n + 1 < sizeof up; p++)
        up[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    up[n] = '\0';
    ms_buf_puts(b, "{\"type\":\"error\"");
    if (ev->message_id)
        ms__proto_put_str(b, "message_id", ev->message_id);
    ms_buf_puts(b, ",\"error\":{\"code\":");
    ms_buf_json_str(b, up, n);
    const char *msg = ms__proto_data_str(ev, "message");
    ms__proto_put_str(b, "message", msg ? msg : "");
    ms_buf_puts(b, "}}");
}

static void va_encode(void *state, const ms_event_t *ev, ms_frames_t *out) {
    va_state_t *st = state;
    ms_buf_t *b = &out->buf;
    switch (ev->kind) {
    case MS_EV_MESSAGE_CHUNK:
        ms_buf_puts(b, "{\"type\":\"message_chunk\",\"message_id\":");
        ms_buf_json_str(b, ev->message_id, strlen(ev->message_id));
        ms_buf_puts(b, ",\"content\":");
        ms_buf_json_str(b, ev->text, ev->text_len);
        ms_buf_puts(b, ",\"chunk_index\":");
        ms__proto_put_int(b, ev->seq - 1);
        ms_buf_putc(b, '}');
        break;
    case MS_EV_CONNECTED:
        ms_buf_puts(b, "{\"type\":\"connected\"");
        ms__proto_put_str(b, "client_id", ms__proto_data_str(ev, "client_id"));
        ms_buf_puts(b, ",\"protocol_version\":\"1.0\",\"capabilities\":[\"text_streaming\"]}");
        break;
    case MS_EV_MESSAGE_START:
        if (st && !st->conversation_id[0] && ev->conversation_id)
            snprintf(st->conversation_id, sizeof st->conversation_id, "%s", ev->conversation_id);
        ms_buf_puts(b, "{\"type\":\"message_start\"");
        ms__proto_put_str(b, "message_id", ev->message_id);
        ms__proto_put_str(b, "session_id", ev->conversation_id);
        ms_buf_putc(b, '}');
        break;
    case MS_EV_MESSAGE_COMPLETE:
        va_complete(ev, b);
        break;
    case MS_EV_ERROR:
        va_error(ev, b);
        break;
    case MS_EV_PONG:
        ms_buf_puts(b, "{\"type\":\"pong\"}");
        break;
    case MS_EV_TOOL_CALL:
    case MS_EV_TOOL_RESULT:
    case MS_EV_LLM_CALL:
    case MS_EV_LLM_RESULT:
    case MS_EV_ROUTING:
        return; /* not part of this dialect */
    }
    ms_frames_end(out);
}

/* `message {content, session_id?, clinical_context_id?}`. clinical_context_id
 * names one of the user's clinical contexts (/api/clinical-contexts, a
 * UUID): the pipeline binds the session's conversation to it before the
 * turn, and the answer then uses it (src/chat/context.c). */
static int va_decode_message(void *state, json_t *root, const ms_decode_limits_t *lim,
                             ms_client_msg_t *out, char *errmsg, size_t errlen) {
    va_state_t *st = state;
    char *session = NULL, *ctx = NULL;
    out->kind = MS_CMSG_MESSAGE;
    int rc = ms__proto_get_text(root, "content", lim, &out->text, errmsg, errlen);
    if (!rc)
        rc = ms__proto_get_str(root, "session_id", 0, MS_PROTO_SESSION_MAX, &session, errmsg,
                               errlen);
    if (!rc)
        rc = ms__proto_get_str(root, "clinical_context_id", 0, MS_PROTO_SESSION_MAX, &ctx, errmsg,
                               errlen);
    for (char *p = ctx; !rc && p && *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
    if (!rc && ctx && !ms_id_valid(ctx)) {
        snprintf(errmsg, errlen, "clinical_context_id is not a valid id");
        rc = MS_EINVAL;
    }
    if (!rc && ctx) {
        out->clinical_context_id = ctx;
        ctx = NULL;
    }
    if (!rc && session) {
        ms__proto_set_session(out, st->user_id, session);
    } else if (!rc && st->conversation_id[0]) {
        out->conversation_id = ms_xstrdup(st->conversation_id);
    }
    if (!rc)
        ms__proto_new_cmid(out);
    free(session);
    free(ctx);
    return rc;
}

static const ms__decode_route_t va_routes[] = {
    {"message", va_decode_message},
    {"ping", NULL},
    {NULL, NULL},
};

static int va_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                     ms_client_msg_t *out, char *errmsg, size_t errlen) {
    return ms__proto_decode(state, frame, len, lim, va_routes, out, errmsg, errlen);
}

const ms_dialect_ops_t ms_dialect_voiceassist = {
    .name = "voiceassist",
    .open = va_open,
    .close = va_close,
    .encode = va_encode,
    .decode = va_decode,
    .forbidden_as_error = 1,
};
