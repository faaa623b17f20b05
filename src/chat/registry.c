/* The stream registry: who follows which answer, what they missed (from the
 * replay buffer), and how long a finished answer stays resumable. */
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

/* Lets go of every subscriber of s, head first. */
static void detach_all(ms_stream_t *s) {
    while (s->subs) {
        ms_sub_t *sub = s->subs;
        s->subs = sub->next;
        sub->stream = NULL;
        sub->next = NULL;
        ms__sub_unref(sub); /* the stream's reference */
    }
}

void ms_sub_close(ms_sub_t *sub) {
    if (!sub)
        return;
    ms_stream_t *s = sub->stream;
    sub->emit = NULL;
    sub->ctx = NULL;
    sub->refs -= sub_unlink(sub);
    ms__sub_unref(sub);
    /* A reader that went away no longer holds its answer's upstream back. */
    if (s && s->turn)
        ms__generate_flow(s->turn);
}

void ms_sub_backlog(ms_sub_t *sub, size_t bytes) {
    if (!sub || sub->backlog == bytes)
        return;
    sub->backlog = bytes;
    if (sub->stream && sub->stream->turn)
        ms__generate_flow(sub->stream->turn);
}

int ms_sub_finished(const ms_sub_t *sub) {
    return sub->finished;
}

/* The caller holds a reference to sub (its stream's, its job's, or
 * attach's own), so the callback may close it: nothing here touches sub
 * after the call. */
void ms__sub_emit(ms_sub_t *sub, const ms_event_t *ev) {
    if (sub->finished || !sub->emit)
        return;
    if (ev->kind == MS_EV_MESSAGE_COMPLETE || ev->kind == MS_EV_ERROR)
        sub->finished = 1;
    sub->emit(sub->ctx, ev);
}

/* Error events carry the one error mapping (core/ms.h ms_error_info). */
void ms__emit_error(ms_sub_t *sub, const char *message_id, int err, const char *msg) {
    const ms_error_info_t *ei = ms_error_info(err);
    json_t *data = json_pack("{s:s, s:s, s:b}", "code", ei->event_code, "message",
                             msg ? msg : ei->message, "retryable", ei->retryable);
    ms_event_t ev = {.kind = MS_EV_ERROR, .message_id = message_id, .data = data};
    ms__sub_emit(sub, &ev);
    json_decref(data);
}

/* message_start + message_complete for an answer known only from storage.
 * Every assistant message a client sees carries the disclaimer: the field
 * is the configured one whatever the stored text (an answer interrupted by
 * a crash has it appended at recovery; store.h ms_store_recover). */
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
    json_object_set_new(data, "disclaimer", json_string(disc ? disc : ""));
    json_object_set_new(data, "finish_reason",
                        json_is_string(fr) ? json_copy(fr)
                                           : json_string(status ? status : "interrupted"));
    json_t *usage = json_object_get(msg, "usage");
    json_object_set(data, "usage", json_is_object(usage) ? usage : json_null());
    json_object_set_new(data, "status", json_string(status ? status : ""));
    /* A workflow's answer: its stored result, as message_complete gave it. */
    json_t *wf = json_object_get(msg, "workflow");
    if (json_is_object(wf))
        json_object_set(data, "workflow_result", wf);
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

void ms__stream_set_final_error(ms_stream_t *s, const char *code, const char *message,
                                int retryable) {
    json_decref(s->final_error);
    s->final_error =
        json_pack("{s:s, s:s, s:b}", "code", code, "message", message, "retryable", retryable);
}

ms_stream_t *ms__stream_new(ms_chat_t *c, const char *user_id, const char *client_message_id) {
    ms_stream_t *s = ms_xcalloc(1, sizeof *s);
    s->chat = c;
    s->refs = 1; /* the registry's */
    snprintf(s->user_id, sizeof s->user_id, "%s", user_id);
    s->client_message_id = ms_xstrdup(client_message_id);
    s->replay = ms_replay_memory_new();
    ms__stream_account(s);
    return s;
}

void ms__stream_ref(ms_stream_t *s) {
    s->refs++;
}

static void stream_free(ms_stream_t *s) {
    ms_replay_close(s->replay);
    json_decref(s->final_error);
    free(s->client_message_id);
    free(s->idem_key);
    free(s->idem_key2);
    free(s);
}

void ms__stream_unref(ms_stream_t *s) {
    if (--s->refs == 0)
        stream_free(s);
}

void ms__stream_account(ms_stream_t *s) {
    size_t n = sizeof *s + ms_replay_bytes(s->replay);
    n += s->client_message_id ? strlen(s->client_message_id) + 1 : 0;
    n += s->idem_key ? strlen(s->idem_key) + 1 : 0;
    n += s->idem_key2 ? strlen(s->idem_key2) + 1 : 0;
    if (s->turn)
        n += s->turn->bytes;
    if (!s->dropped)
        s->chat->mem_bytes += (int64_t)n - (int64_t)s->bytes;
    s->bytes = n;
}

void ms__stream_register_id(ms_stream_t *s) {
    HASH_ADD(hh, s->chat->by_id, message_id, strlen(s->message_id), s);
    s->registered = 1;
}

ms_stream_t *ms__stream_by_id(ms_chat_t *c, const char *message_id) {
    ms_stream_t *s = NULL;
    HASH_FIND(hh, c->by_id, message_id, strlen(message_id), s);
    return s;
}

/* Takes the stream out of the registry; subscribers still attached are told
 * nothing more (callers emit a final event first). */
void ms__stream_drop(ms_stream_t *s) {
    ms_chat_t *c = s->chat;
    if (s->dropped)
        return;
    c->mem_bytes -= (int64_t)s->bytes;
    s->dropped = 1;
    if (s->registered)
        HASH_DELETE(hh, c->by_id, s);
    if (s->idem_key)
        HASH_DELETE(hh_idem, c->by_idem, s);
    if (s->idem_key2)
        HASH_DELETE(hh_idem2, c->by_idem2, s);
    detach_all(s);
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

void ms__stream_append_chunk(ms_stream_t *s, const char *text, size_t len) {
    ms__stream_append_chunk_data(s, text, len, NULL);
}

void ms__stream_append_chunk_data(ms_stream_t *s, const char *text, size_t len, json_t *data) {
    size_t before = ms_replay_bytes(s->replay);
    int64_t seq = ms_replay_append(s->replay, text, len);
    size_t after = ms_replay_bytes(s->replay);
    if (after != before) {
        /* The buffer grew (doubling): count it now, not only at the next
         * full re-count. */
        s->bytes += after - before;
        if (!s->dropped)
            s->chat->mem_bytes += (int64_t)(after - before);
    }
    ms_event_t ev = {.kind = MS_EV_MESSAGE_CHUNK,
                     .message_id = s->message_id,
                     .seq = seq,
                     .text = text,
                     .text_len = len,
                     .data = data};
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

static void emit_final(ms_stream_t *s, ms_sub_t *sub) {
    if (s->final_error) {
        ms_event_t ev = {.kind = MS_EV_ERROR, .message_id = s->message_id, .data = s->final_error};
        ms__sub_emit(sub, &ev);
        return;
    }
    size_t len;
    const char *text = ms_replay_text(s->replay, &len);
    ms_event_t ev = {.kind = MS_EV_MESSAGE_COMPLETE,
                     .message_id = s->message_id,
                     .conversation_id = s->conversation_id,
                     .seq = ms_replay_chunks(s->replay),
                     .text = text,
                     .text_len = len,
                     .data = ms_replay_event(s->replay, MS_REPLAY_COMPLETE)};
    ms__sub_emit(sub, &ev);
}

/* Replays what sub missed after last_seq, then follows live. Everything runs
 * on the loop thread, so no event can slip in between replay and attach.
 * A subscriber follows one stream at a time: one still attached elsewhere
 * (an idempotent retry redirected to the answer that already existed) is
 * detached from there first. */
void ms__stream_attach(ms_stream_t *s, ms_sub_t *sub, int64_t last_seq) {
    ms__sub_ref(sub);
    /* Our own reference keeps sub alive: the stream's goes without a free. */
    if (sub_unlink(sub))
        sub->refs--;
    int64_t nchunks = ms_replay_chunks(s->replay);
    if (s->state != ST_PENDING && last_seq > nchunks) {
        /* A client cannot have seen chunks that never existed. */
        ms__emit_error(sub, s->message_id, MS_EINVAL, "last_seq is past the end of this answer");
        ms__sub_unref(sub);
        return;
    }
    if (s->state != ST_PENDING) {
        emit_start(s, sub);
        json_t *call = ms_replay_event(s->replay, MS_REPLAY_TOOL_CALL);
        json_t *result = ms_replay_event(s->replay, MS_REPLAY_TOOL_RESULT);
        if (last_seq == 0 && call) {
            ms_event_t ev = {.kind = MS_EV_TOOL_CALL, .message_id = s->message_id, .data = call};
            ms__sub_emit(sub, &ev);
        }
        if (last_seq == 0 && result) {
            ms_event_t ev = {
                .kind = MS_EV_TOOL_RESULT, .message_id = s->message_id, .data = result};
            ms__sub_emit(sub, &ev);
        }
        for (int64_t seq = last_seq + 1; seq <= nchunks && sub->emit; seq++) {
            ms_event_t ev = {.kind = MS_EV_MESSAGE_CHUNK, .message_id = s->message_id, .seq = seq};
            ms_replay_chunk(s->replay, seq, &ev.text, &ev.text_len);
            ms__sub_emit(sub, &ev);
        }
        if (s->state == ST_DONE)
            emit_final(s, sub);
    }
    if (sub->emit && !sub->finished) {
        ms__sub_ref(sub); /* the stream's reference */
        sub->stream = s;
        sub->next = s->subs;
        s->subs = sub;
    }
    ms__sub_unref(sub);
}

/* The answer is final (stored, or known unstorable): tell every subscriber
 * and keep the stream for replay until it expires. */
void ms__stream_mark_done(ms_stream_t *s) {
    ms_chat_t *c = s->chat;
    s->state = ST_DONE;
    for (ms_sub_t *sub = s->subs, *next; sub; sub = next) {
        next = sub->next;
        emit_final(s, sub);
    }
    detach_all(s);
    ms__stream_account(s);
    s->done_at = ms_mono_ms();
    s->done_next = NULL;
    if (c->done_tail)
        c->done_tail->done_next = s;
    else
        c->done_head = s;
    c->done_tail = s;
    c->nbuffered++;
}

/* Drops finished streams past their replay TTL, and the oldest finished ones
 * while all streams together hold more than replay_max_bytes. */
void ms__sweep_cb(uv_timer_t *t) {
    ms_chat_t *c = t->data;
    int64_t now = ms_mono_ms();
    while (c->done_head) {
        ms_stream_t *s = c->done_head;
        if (now - s->done_at < c->cfg->replay_ttl_ms && c->mem_bytes <= c->cfg->replay_max_bytes)
            break;
        c->done_head = s->done_next;
        if (!c->done_head)
            c->done_tail = NULL;
        c->nbuffered--;
        ms__stream_drop(s);
    }
}
