/* The generate and finalise stages, checkpoints while streaming, and the
 * final write's retries. */
#include "chat/internal.h"
#include "chat/work.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* ---- generating turns (checkpoints, shutdown) -------------------------------- */

void ms__live_add(ms_turn_t *t) {
    ms_chat_t *c = t->chat;
    t->live_prev = NULL;
    t->live_next = c->generating;
    if (c->generating)
        c->generating->live_prev = t;
    c->generating = t;
}

void ms__live_remove(ms_turn_t *t) {
    ms_chat_t *c = t->chat;
    if (!t->live_prev && c->generating != t)
        return;
    if (t->live_prev)
        t->live_prev->live_next = t->live_next;
    else
        c->generating = t->live_next;
    if (t->live_next)
        t->live_next->live_prev = t->live_prev;
    t->live_prev = t->live_next = NULL;
}

/* ---- generate ------------------------------------------------------------------ */

/* Provider telemetry (MS_EV_LLM_CALL / MS_EV_LLM_RESULT): live only, not
 * replayed; dialects that report model calls (Epic 003) encode them. */
static void emit_llm(ms_turn_t *t, const ms_gen_result_t *r) {
    const char *provider = t->provider->ops->name;
    json_t *data;
    if (!r) {
        data = json_pack("{s:s}", "provider", provider);
    } else {
        int64_t ms = (ms_mono_us() - t->gen_started_us + 500) / 1000;
        data = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "provider", provider, "prompt_tokens",
                         (json_int_t)r->prompt_tokens, "completion_tokens",
                         (json_int_t)r->completion_tokens, "total_tokens",
                         (json_int_t)r->prompt_tokens + (json_int_t)r->completion_tokens,
                         "duration_ms", (json_int_t)ms, "finish_reason",
                         r->finish_reason ? r->finish_reason : "stop");
    }
    ms_event_t ev = {.kind = r ? MS_EV_LLM_RESULT : MS_EV_LLM_CALL,
                     .message_id = t->s->message_id,
                     .data = data};
    ms__stream_emit(t->s, &ev);
    json_decref(data);
}

static void gen_delta_cb(void *ctx, const char *text, size_t len) {
    ms_turn_t *t = ctx;
    if (!len || t->length_cut)
        return;
    size_t have;
    ms_replay_text(t->s->replay, &have);
    size_t max = (size_t)t->chat->cfg->max_answer_bytes;
    if (have + len > max) {
        /* The answer reached max_answer_bytes: stop the provider and keep
         * what fits, cut at a code point (finish_reason "length", as
         * OpenAI names a stop at the token limit). */
        size_t room = max > have ? ms_utf8_floor(text, len, max - have) : 0;
        if (room)
            ms__stream_append_chunk(t->s, text, room);
        t->length_cut = 1;
        if (t->gen)
            t->provider->ops->cancel(t->gen);
        return;
    }
    ms__stream_append_chunk(t->s, text, len);
}

static void gen_done_cb(void *ctx, const ms_gen_result_t *r) {
    ms_turn_t *t = ctx;
    t->gen = NULL;
    emit_llm(t, r);
    if (r->ncited) {
        t->cited = ms_xcalloc(r->ncited, sizeof *t->cited);
        memcpy(t->cited, r->cited, r->ncited * sizeof *t->cited);
        t->ncited = r->ncited;
    }
    t->prompt_tokens = r->prompt_tokens;
    t->completion_tokens = r->completion_tokens;
    if (r->error)
        ms_log(MS_LOG_WARN, "provider_error", "\"provider\":\"%s\"", t->provider->ops->name);
    const char *reason = t->shutdown        ? "interrupted"
                         : t->length_cut    ? "length"
                         : r->finish_reason ? r->finish_reason
                                            : "stop";
    ms__live_remove(t);
    ms__turn_finish(t, reason);
}

static void generate_stage(ms_turn_t *t) {
    static const ms_gen_sink_t sink = {gen_delta_cb, gen_done_cb};
    ms_chat_t *c = t->chat;
    t->checkpoint_due = ms_mono_ms() + c->cfg->checkpoint_ms;
    ms__live_add(t);
    t->gen_started_us = ms_mono_us();
    emit_llm(t, NULL);
    int rc = t->provider->ops->start(t->provider, c->loop, &t->req, &sink, t, &t->gen);
    if (rc != 0) {
        ms_gen_result_t failed = {.finish_reason = "error"};
        emit_llm(t, &failed);
        ms__live_remove(t);
        ms__turn_finish(t, "error");
    }
}

static void generate_cancel(ms_turn_t *t) {
    if (t->gen)
        t->provider->ops->cancel(t->gen); /* on_done follows, perhaps at once */
}

const ms_stage_ops_t ms_stage_generate = {
    .name = "generate", .run = generate_stage, .cancel = generate_cancel};

void ms__generate_shutdown(ms_chat_t *c) {
    int n = 0;
    for (ms_turn_t *t = c->generating, *next; t; t = next) {
        next = t->live_next;
        t->shutdown = 1;
        if (t->gen)
            t->provider->ops->cancel(t->gen);
        n++;
    }
    if (n)
        ms_log(MS_LOG_INFO, "streams_interrupted", "\"count\":%d", n);
}

/* ---- writes: checkpoints and the final write ---------------------------------- */

typedef struct {
    ms_turn_t *t;
    char *content;
    const char *status;
    const char *finish_reason;
    json_t *usage;
    json_t *citations;
    int final;
    int rc;
} update_job_t;

static void update_run(ms_store_t *st, void *arg) {
    update_job_t *j = arg;
    j->rc = st ? ms_store_message_update(st, j->t->s->message_id, j->content, j->status,
                                         j->finish_reason, j->usage, j->citations)
               : MS_EIO;
}

static void submit_final(ms_turn_t *t);
static void final_stored(ms_turn_t *t, int rc);

static void update_done(void *arg) {
    update_job_t *j = arg;
    ms_turn_t *t = j->t;
    if (j->rc)
        ms_log(MS_LOG_ERROR, "message_update_failed", "\"final\":%d,\"code\":%d", j->final, j->rc);
    if (!j->final) {
        t->checkpoint_inflight = 0;
        if (t->final_status)
            submit_final(t); /* it waited for this checkpoint, to land after it */
    } else {
        final_stored(t, j->rc);
    }
    free(j->content);
    json_decref(j->usage);
    json_decref(j->citations);
    free(j);
}

static void submit_update(ms_turn_t *t, int final) {
    update_job_t *j = ms_xcalloc(1, sizeof *j);
    size_t len;
    const char *text = ms_replay_text(t->s->replay, &len);
    j->t = t;
    j->content = ms_xstrndup(text, len);
    j->final = final;
    if (final) {
        json_t *complete = ms_replay_event(t->s->replay, MS_REPLAY_COMPLETE);
        j->status = t->final_status;
        j->finish_reason = t->finish_reason;
        j->usage = json_incref(json_object_get(complete, "usage"));
        j->citations = json_incref(json_object_get(complete, "citations"));
    } else {
        j->status = MS_MSG_STREAMING;
        t->checkpoint_inflight = 1;
        t->checkpointed_len = len;
    }
    int rc = ms_work_submit_write(t->chat->loop, update_run, update_done, j);
    if (rc != 0) {
        j->rc = rc;
        update_done(j);
    }
}

static void submit_final(ms_turn_t *t) {
    t->final_attempts++;
    submit_update(t, 1);
}

/* Attempts at the final write before the client is told it failed, and the
 * pause before each retry (ms): storage that is briefly busy or full
 * recovers; storage that stays broken is reported. */
#define FINAL_ATTEMPTS 4
static const int64_t final_backoff_ms[FINAL_ATTEMPTS] = {0, 50, 250, 1000};

/* After the final write: message_complete goes out only once the answer is
 * stored. A write that keeps failing is reported as a retryable error,
 * never as a stored answer (the text stays resumable from memory until it
 * expires; the row is recovered as interrupted when this node's lease ends). */
static void final_stored(ms_turn_t *t, int rc) {
    ms_chat_t *c = t->chat;
    if (rc != 0 && t->final_attempts < FINAL_ATTEMPTS && !c->shutting_down) {
        t->final_retry_at = ms_mono_ms() + final_backoff_ms[t->final_attempts];
        t->retry_next = c->retrying;
        c->retrying = t;
        return;
    }
    ms_stream_t *s = t->s;
    if (rc != 0) {
        ms_log(MS_LOG_ERROR, "answer_not_stored", "\"attempts\":%d", t->final_attempts);
        s->final_error = json_pack("{s:s, s:s, s:b}", "code", ms_strerror(MS_EIO), "message",
                                   "the answer could not be stored; ask again", "retryable", 1);
    }
    if (!s->dropped)
        ms__stream_mark_done(s);
    ms__turn_next(t); /* the last stage: the turn ends */
}

/* Each stream is checkpointed checkpoint_ms after its previous checkpoint
 * (or its start), and the sweep runs several times per interval: streams
 * that started together are not all copied and written in one burst, which
 * would delay every stream's next chunk on the loop. Final writes due for a
 * retry go out from here too. */
void ms__checkpoint_cb(uv_timer_t *timer) {
    ms_chat_t *c = timer->data;
    int64_t now = ms_mono_ms();
    for (ms_turn_t *t = c->generating; t; t = t->live_next) {
        if (t->checkpoint_inflight || now < t->checkpoint_due)
            continue;
        t->checkpoint_due = now + c->cfg->checkpoint_ms;
        size_t len;
        ms_replay_text(t->s->replay, &len);
        if (len > t->checkpointed_len)
            submit_update(t, 0);
    }
    for (ms_turn_t **pp = &c->retrying; *pp;) {
        ms_turn_t *t = *pp;
        if (now < t->final_retry_at) {
            pp = &t->retry_next;
            continue;
        }
        *pp = t->retry_next;
        t->retry_next = NULL;
        submit_final(t);
    }
}

void ms__finalise_flush_retries(ms_chat_t *c) {
    while (c->retrying) {
        ms_turn_t *t = c->retrying;
        c->retrying = t->retry_next;
        t->retry_next = NULL;
        t->final_attempts = FINAL_ATTEMPTS - 1; /* the last attempt */
        submit_final(t);
    }
}

/* ---- finalise ----------------------------------------------------------------- */

static const char *status_of(const char *finish_reason) {
    return !strcmp(finish_reason, "cancelled")     ? MS_MSG_CANCELLED
           : !strcmp(finish_reason, "error")       ? MS_MSG_ERROR
           : !strcmp(finish_reason, "interrupted") ? MS_MSG_INTERRUPTED
                                                   : MS_MSG_COMPLETE;
}

/* Appends the disclaimer (every assistant message ends with it, whatever
 * its outcome), records the outcome and writes the final message. */
static void finalise_stage(ms_turn_t *t) {
    ms_chat_t *c = t->chat;
    ms_stream_t *s = t->s;
    if (!t->finish_reason)
        t->finish_reason = "stop";
    const char *disclaimer = c->cfg->disclaimer;
    if (disclaimer && *disclaimer) {
        size_t have;
        ms_replay_text(s->replay, &have);
        ms_buf_t d;
        ms_buf_init(&d);
        if (have)
            ms_buf_puts(&d, "\n\n");
        ms_buf_puts(&d, disclaimer);
        /* A workflow's text is not streamed live (its result is): nor is
         * its disclaimer, which the result carries as a field. */
        if (t->wf)
            ms__stream_append_quiet(s, d.data, d.len);
        else
            ms__stream_append_chunk(s, d.data, d.len);
        ms_buf_free(&d);
    }
    t->final_status = status_of(t->finish_reason);
    json_t *citations = t->wf_result ? json_incref(json_object_get(t->wf_result, "citations"))
                                     : ms_chat_citations(t->hits, t->nhits, t->cited, t->ncited);
    if (!citations)
        citations = json_array();
    json_t *usage = json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)t->prompt_tokens,
                              "completion_tokens", (json_int_t)t->completion_tokens);
    json_t *complete = json_pack("{s:o, s:s, s:s, s:o, s:s}", "citations", citations, "disclaimer",
                                 disclaimer ? disclaimer : "", "finish_reason", t->finish_reason,
                                 "usage", usage, "status", t->final_status);
    if (t->wf_result) {
        json_object_set_new(t->wf_result, "status", json_string(t->final_status));
        json_object_set(complete, "workflow_result", t->wf_result);
    }
    ms_replay_put_event(s->replay, MS_REPLAY_COMPLETE, complete);
    json_decref(complete);
    s->state = ST_FINALIZING;
    ms__live_remove(t);
    /* The turn's inputs are no longer needed; the replay buffer keeps what
     * a client can still be sent. */
    ms_kb_hits_free(t->hits, t->nhits);
    t->hits = NULL;
    t->nhits = 0;
    t->req.hits = NULL;
    t->req.nhits = 0;
    ms__turn_account(t);
    if (!t->checkpoint_inflight)
        submit_final(t);
}

const ms_stage_ops_t ms_stage_finalise = {.name = "finalise", .run = finalise_stage};
