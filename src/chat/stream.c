/* The stream registry and replay buffer: who follows which answer, what
 * they missed, and how long a finished answer stays resumable. */
#include "chat/internal.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

ms_sub_t *ms_sub_new(ms_sub_emit_cb emit, void *ctx) {
    ms_sub_t *sub = ms_xcalloc(1, sizeof *sub);
    sub->emit = emit;
    sub->ctx = ctx;
    sub->refs = 1;
    return sub;
}

void ms__sub_ref(ms_sub_t *sub) {
    sub->refs++;
}

void ms__sub_unref(ms_sub_t *sub) {
    if (--sub->refs == 0)
        free(sub);
}

/* Unlinks sub from its stream's subscriber list; returns whether it was
 * attached (the caller then drops the stream's reference). */
static int sub_unlink(ms_sub_t *sub) {
    ms_stream_t *s = sub->stream;
    if (!s)
        return 0;
    for (ms_sub_t **pp = &s->subs; *pp; pp = &(*pp)->next) {
        if (*pp == sub) {
            *pp = sub->next;
            break;
        }
    }
    sub->stream = NULL;
    sub->next = NULL;
    return 1;
}

static void sub_detach(ms_sub_t *sub) {
    if (sub_unlink(sub))
        ms__sub_unref(sub);
}

void ms_sub_close(ms_sub_t *sub) {
    if (!sub)
        return;
    sub->emit = NULL;
    sub->ctx = NULL;
    sub->refs -= sub_unlink(sub);
    ms__sub_unref(sub);
}

int ms_sub_finished(const ms_sub_t *sub) {
    return sub->finished;
}

void ms__sub_emit(ms_sub_t *sub, const ms_event_t *ev) {
    if (sub->finished)
        return;
    if (ev->kind == MS_EV_MESSAGE_COMPLETE || ev->kind == MS_EV_ERROR)
        sub->finished = 1;
    if (sub->emit) {
        /* The callback may close the subscriber; keep it alive until we return. */
        ms__sub_ref(sub);
        sub->emit(sub->ctx, ev);
        ms__sub_unref(sub);
    }
}

void ms__emit_error(ms_sub_t *sub, const char *message_id, const char *code, const char *msg,
                    int retryable) {
    json_t *data =
        json_pack("{s:s, s:s, s:b}", "code", code, "message", msg, "retryable", retryable);
    ms_event_t ev = {.kind = MS_EV_ERROR, .message_id = message_id, .data = data};
    ms__sub_emit(sub, &ev);
    json_decref(data);
}

/* message_start + message_complete for an answer known only from storage.
 * The disclaimer is reported when the stored text ends with the configured
 * one (an interrupted answer never got it). */
void ms__emit_stored(ms_chat_t *c, ms_sub_t *sub, json_t *msg) {
    const char *mid = json_string_value(json_object_get(msg, "id"));
    const char *cid = json_string_value(json_object_get(msg, "conversation_id"));
    const char *reply_to = json_string_value(json_object_get(msg, "reply_to"));
    const char *content = json_string_value(json_object_get(msg, "content"));
    json_t *cmid = json_object_get(msg, "user_client_message_id");
    ms_event_t start = {.kind = MS_EV_MESSAGE_START,
                        .message_id = mid,
                        .conversation_id = cid,
                        .user_message_id = reply_to,
                        .client_message_id = json_string_value(cmid)};
    ms__sub_emit(sub, &start);
    const char *status = json_string_value(json_object_get(msg, "status"));
    json_t *fr = json_object_get(msg, "finish_reason");
    json_t *data = json_object();
    json_object_set(data, "citations", json_object_get(msg, "citations"));
    const char *disc = c->cfg->disclaimer;
    size_t clen = content ? strlen(content) : 0, dlen = disc ? strlen(disc) : 0;
    int has = dlen && clen >= dlen && !memcmp(content + clen - dlen, disc, dlen);
    json_object_set_new(data, "disclaimer", has ? json_string(disc) : json_null());
    json_object_set_new(data, "finish_reason",
                        json_is_string(fr) ? json_copy(fr)
                                           : json_string(status ? status : "interrupted"));
    json_t *usage = json_object_get(msg, "usage");
    json_object_set(data, "usage", json_is_object(usage) ? usage : json_null());
    json_object_set_new(data, "status", json_string(status ? status : ""));
    ms_event_t done = {.kind = MS_EV_MESSAGE_COMPLETE,
                       .message_id = mid,
                       .conversation_id = cid,
                       .seq = 0,
                       .text = content ? content : "",
                       .text_len = content ? strlen(content) : 0,
                       .data = data};
    ms__sub_emit(sub, &done);
    json_decref(data);
}

ms_stream_t *ms__stream_new(ms_chat_t *c, const char *user_id, const char *client_message_id,
                            const char *question) {
    ms_stream_t *s = ms_xcalloc(1, sizeof *s);
    s->chat = c;
    s->refs = 1; /* the registry's */
    snprintf(s->user_id, sizeof s->user_id, "%s", user_id);
    s->client_message_id = ms_xstrdup(client_message_id);
    s->question = ms_xstrdup(question);
    ms_buf_init(&s->text);
    c->replay_bytes += (int64_t)sizeof *s;
    return s;
}

void ms__stream_ref(ms_stream_t *s) {
    s->refs++;
}

static void stream_free(ms_stream_t *s) {
    ms_buf_free(&s->text);
    free(s->chunk_end);
    free(s->client_message_id);
    free(s->idem_key);
    free(s->idem_key2);
    free(s->question);
    free(s->err_msg);
    json_decref(s->tool_call);
    json_decref(s->tool_result);
    json_decref(s->complete);
    json_decref(s->history);
    json_decref(s->existing);
    json_decref(s->final_usage);
    json_decref(s->final_citations);
    ms_kb_hits_free(s->hits, s->nhits);
    free(s);
}

void ms__stream_unref(ms_stream_t *s) {
    if (--s->refs == 0)
        stream_free(s);
}

void ms__stream_register_id(ms_stream_t *s) {
    HASH_ADD(hh, s->chat->by_id, message_id, strlen(s->message_id), s);
    s->registered = 1;
}

static int64_t stream_bytes(const ms_stream_t *s) {
    return (int64_t)(sizeof *s + s->text.cap + s->chunk_cap * sizeof(size_t));
}

/* Takes the stream out of the registry; subscribers still attached are told
 * nothing more (callers emit a final event first). */
void ms__stream_drop(ms_stream_t *s) {
    ms_chat_t *c = s->chat;
    if (s->dropped)
        return;
    s->dropped = 1;
    c->replay_bytes -= stream_bytes(s);
    if (s->registered)
        HASH_DELETE(hh, c->by_id, s);
    if (s->idem_key)
        HASH_DELETE(hh_idem, c->by_idem, s);
    if (s->idem_key2)
        HASH_DELETE(hh_idem2, c->by_idem2, s);
    while (s->subs)
        sub_detach(s->subs);
    ms__live_remove(s);
    ms__stream_unref(s);
}

void ms__stream_emit(ms_stream_t *s, const ms_event_t *ev) {
    /* A subscriber may close itself from inside its callback: keep the next
     * pointer before calling. */
    for (ms_sub_t *sub = s->subs, *next; sub; sub = next) {
        next = sub->next;
        ms__sub_emit(sub, ev);
    }
}

/* After the final event nothing more will be sent: let every subscriber go. */
void ms__stream_finish_subs(ms_stream_t *s) {
    while (s->subs)
        sub_detach(s->subs);
}

void ms__stream_append_chunk(ms_stream_t *s, const char *text, size_t len) {
    if ((size_t)s->nchunks == s->chunk_cap) {
        size_t before = s->chunk_cap;
        s->chunk_cap = s->chunk_cap ? s->chunk_cap * 2 : 64;
        s->chunk_end = ms_xrealloc(s->chunk_end, s->chunk_cap * sizeof(size_t));
        s->chat->replay_bytes += (int64_t)((s->chunk_cap - before) * sizeof(size_t));
    }
    size_t cap_before = s->text.cap;
    ms_buf_append(&s->text, text, len);
    s->chat->replay_bytes += (int64_t)(s->text.cap - cap_before);
    s->chunk_end[s->nchunks++] = s->text.len;
    ms_event_t ev = {.kind = MS_EV_MESSAGE_CHUNK,
                     .message_id = s->message_id,
                     .seq = s->nchunks,
                     .text = text,
                     .text_len = len};
    ms__stream_emit(s, &ev);
}

static void emit_start(ms_stream_t *s, ms_sub_t *sub) {
    ms_event_t ev = {.kind = MS_EV_MESSAGE_START,
                     .message_id = s->message_id,
                     .conversation_id = s->conversation_id,
                     .user_message_id = s->user_message_id,
                     .client_message_id = s->client_message_id};
    ms__sub_emit(sub, &ev);
}

static void emit_complete(ms_stream_t *s, ms_sub_t *sub) {
    ms_event_t ev = {.kind = MS_EV_MESSAGE_COMPLETE,
                     .message_id = s->message_id,
                     .conversation_id = s->conversation_id,
                     .seq = s->nchunks,
                     .text = s->text.data ? s->text.data : "",
                     .text_len = s->text.len,
                     .data = s->complete};
    ms__sub_emit(sub, &ev);
}

/* Replays what sub missed after last_seq, then follows live. Everything runs
 * on the loop thread, so no event can slip in between replay and attach. */
void ms__stream_attach(ms_stream_t *s, ms_sub_t *sub, int64_t last_seq) {
    ms__sub_ref(sub);
    if (s->state != ST_PENDING) {
        emit_start(s, sub);
        if (last_seq == 0 && s->tool_call) {
            ms_event_t ev = {
                .kind = MS_EV_TOOL_CALL, .message_id = s->message_id, .data = s->tool_call};
            ms__sub_emit(sub, &ev);
        }
        if (last_seq == 0 && s->tool_result) {
            ms_event_t ev = {
                .kind = MS_EV_TOOL_RESULT, .message_id = s->message_id, .data = s->tool_result};
            ms__sub_emit(sub, &ev);
        }
        for (int64_t seq = last_seq + 1; seq <= s->nchunks; seq++) {
            size_t from = seq > 1 ? s->chunk_end[seq - 2] : 0;
            ms_event_t ev = {.kind = MS_EV_MESSAGE_CHUNK,
                             .message_id = s->message_id,
                             .seq = seq,
                             .text = s->text.data + from,
                             .text_len = s->chunk_end[seq - 1] - from};
            ms__sub_emit(sub, &ev);
        }
        if (s->state == ST_DONE)
            emit_complete(s, sub);
    }
    if (sub->emit && !sub->finished) {
        ms__sub_ref(sub); /* the stream's reference */
        sub->stream = s;
        sub->next = s->subs;
        s->subs = sub;
    }
    ms__sub_unref(sub);
}

void ms__stream_mark_done(ms_stream_t *s) {
    ms_chat_t *c = s->chat;
    s->state = ST_DONE;
    ms__live_remove(s);
    for (ms_sub_t *sub = s->subs, *next; sub; sub = next) {
        next = sub->next;
        emit_complete(s, sub);
    }
    ms__stream_finish_subs(s);
    s->done_at = ms_mono_ms();
    s->done_next = NULL;
    if (c->done_tail)
        c->done_tail->done_next = s;
    else
        c->done_head = s;
    c->done_tail = s;
    c->nbuffered++;
}

void ms__live_add(ms_stream_t *s) {
    ms_chat_t *c = s->chat;
    s->live_prev = NULL;
    s->live_next = c->live;
    if (c->live)
        c->live->live_prev = s;
    c->live = s;
    c->nlive++;
}

void ms__live_remove(ms_stream_t *s) {
    ms_chat_t *c = s->chat;
    if (!s->live_prev && c->live != s)
        return;
    if (s->live_prev)
        s->live_prev->live_next = s->live_next;
    else
        c->live = s->live_next;
    if (s->live_next)
        s->live_next->live_prev = s->live_prev;
    s->live_prev = s->live_next = NULL;
    c->nlive--;
}

/* Drops finished streams past their replay TTL, and the oldest finished ones
 * while all replay buffers together exceed replay_max_bytes. */
void ms__sweep_cb(uv_timer_t *t) {
    ms_chat_t *c = t->data;
    int64_t now = ms_mono_ms();
    while (c->done_head) {
        ms_stream_t *s = c->done_head;
        if (now - s->done_at < c->cfg->replay_ttl_ms && c->replay_bytes <= c->cfg->replay_max_bytes)
            break;
        c->done_head = s->done_next;
        if (!c->done_head)
            c->done_tail = NULL;
        c->nbuffered--;
        ms__stream_drop(s);
    }
}
