/* The generate and finalise stages, checkpoints while streaming, and the
 * final write's retries. */
#include "chat/internal.h"
#include "chat/work.h"
#include "core/log.h"
#include "phi/phi.h"
#include "workflow/workflow.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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

/* ---- generate ------------------------------------------------------------------
 * The turn's providers (route stage) are tried in order: a failure before
 * any text was shown (connect error, HTTP 429, 5xx, a timeout before the
 * first token, a stream that broke before it began) moves on to the next,
 * after an exponential backoff with jitter, up to llm_max_attempts; a
 * provider whose circuit breaker is open, or whose Retry-After has not
 * passed, is skipped. Once text was shown a failure ends the answer: the
 * partial text is stored with status error and the client gets a
 * retryable provider_error instead of message_complete.
 *
 * A language model's deltas pass through the citation filter (llm/cite.h)
 * before they reach the replay buffer, so what is shown, stored and
 * completed is one text whose markers all name a citation. */

typedef struct ms_retry {
    uv_timer_t timer;
    ms_turn_t *t; /* NULL once the turn let go */
} ms_retry_t;

static void retry_closed(uv_handle_t *h) {
    free(h->data);
}

static void retry_stop(ms_turn_t *t) {
    if (!t->retry)
        return;
    t->retry->t = NULL;
    uv_timer_stop(&t->retry->timer);
    uv_close((uv_handle_t *)&t->retry->timer, retry_closed);
    t->retry = NULL;
}

void ms__generate_release(ms_turn_t *t) {
    retry_stop(t);
    ms_cite_free(&t->cite);
    ms_buf_free(&t->scratch);
    ms__phi_release(t);
}

static ms_llm_stats_t *cur_stats(ms_turn_t *t) {
    return ms_llm_provider_stats(t->chat->llm, t->cur);
}

/* Provider telemetry (docs/protocol.md "Telemetry"): live only, not
 * replayed. */
static void emit_llm_call(ms_turn_t *t) {
    ms_provider_t *p = t->provider;
    json_t *data = json_pack("{s:s, s:s, s:b, s:i, s:s}", "provider", ms_provider_name(p), "model",
                             ms_provider_model(p), "local", p->local != 0, "attempt", t->attempt,
                             "route", t->route ? t->route->alias : "");
    ms_event_t ev = {.kind = MS_EV_LLM_CALL, .message_id = t->s->message_id, .data = data};
    ms__stream_emit(t->s, &ev);
    json_decref(data);
}

static void emit_llm_result(ms_turn_t *t, const ms_gen_result_t *r, const char *reason,
                            int64_t now_us) {
    ms_provider_t *p = t->provider;
    int64_t ms = (now_us - t->gen_started_us + 500) / 1000;
    json_t *data =
        json_pack("{s:s, s:s, s:b, s:i, s:I, s:I, s:I, s:s, s:I, s:s}", "provider",
                  ms_provider_name(p), "model", ms_provider_model(p), "local", p->local != 0,
                  "attempt", t->attempt, "prompt_tokens", (json_int_t)r->prompt_tokens,
                  "completion_tokens", (json_int_t)r->completion_tokens, "total_tokens",
                  (json_int_t)r->prompt_tokens + (json_int_t)r->completion_tokens, "usage",
                  r->usage_reported ? "provider" : "counted", "duration_ms", (json_int_t)ms,
                  "finish_reason", reason);
    json_object_set_new(data, "ttft_ms",
                        t->first_token_us
                            ? json_integer((t->first_token_us - t->gen_started_us + 500) / 1000)
                            : json_null());
    json_object_set_new(data, "grounding",
                        t->grounding >= 0 ? json_real(t->grounding) : json_null());
    if (r->error)
        json_object_set_new(data, "error", json_string(r->error));
    if (r->http_status)
        json_object_set_new(data, "http_status", json_integer(r->http_status));
    if (r->upstream_duration_ms)
        json_object_set_new(data, "upstream_duration_ms", json_integer(r->upstream_duration_ms));
    ms_event_t ev = {.kind = MS_EV_LLM_RESULT, .message_id = t->s->message_id, .data = data};
    ms__stream_emit(t->s, &ev);
    json_decref(data);
}

/* Appends shown text, stopping the provider at max_answer_bytes (cut at a
 * code point; finish_reason "length", as OpenAI names a stop at the token
 * limit). */
static void show(ms_turn_t *t, const char *text, size_t len) {
    if (!len || t->length_cut)
        return;
    size_t have;
    ms_replay_text(t->s->replay, &have);
    size_t max = (size_t)t->chat->cfg->max_answer_bytes;
    if (have + len > max) {
        size_t room = max > have ? ms_utf8_floor(text, len, max - have) : 0;
        if (room) {
            ms__stream_append_chunk(t->s, text, room);
            t->streamed = 1;
        }
        t->length_cut = 1;
        if (t->gen)
            t->provider->ops->cancel(t->gen);
        return;
    }
    ms__stream_append_chunk(t->s, text, len);
    t->streamed = 1;
}

/* Text of the answer (placeholders restored) through the citation filter
 * when it reads markers, then shown. */
static void deliver(ms_turn_t *t, const char *text, size_t len) {
    if (!len)
        return;
    if (!t->cite_on) {
        show(t, text, len);
        return;
    }
    ms_buf_reset(&t->scratch);
    ms_cite_feed(&t->cite, text, len, &t->scratch);
    show(t, t->scratch.data, t->scratch.len);
}

static void gen_delta_cb(void *ctx, const char *text, size_t len) {
    ms_turn_t *t = ctx;
    if (!len || t->length_cut)
        return;
    if (!t->first_token_us)
        t->first_token_us = ms_mono_us();
    if (t->restorer) {
        /* Redact mode: a placeholder may arrive split across deltas; the
         * restorer holds back what could still become one. */
        ms_buf_reset(&t->restored);
        ms_phi_restorer_feed(t->restorer, text, len, &t->restored);
        deliver(t, t->restored.data, t->restored.len);
        return;
    }
    deliver(t, text, len);
}

static void next_attempt(ms_turn_t *t);

static void retry_cb(uv_timer_t *timer) {
    ms_retry_t *r = timer->data;
    ms_turn_t *t = r->t;
    if (!t)
        return;
    next_attempt(t);
}

/* Ends the generate stage with reason; a provider failure ends the answer
 * with a retryable provider_error after it is stored. */
static void gen_end(ms_turn_t *t, const char *reason, const char *why) {
    retry_stop(t);
    if (!strcmp(reason, "error") && why)
        ms__stream_set_final_error(t->s, "provider_error", why, 1);
    ms__live_remove(t);
    ms__turn_finish(t, reason);
}

/* Whether a failure may move on to the route's next provider. */
static int may_fail_over(ms_turn_t *t, const ms_gen_result_t *r) {
    if (t->streamed || t->length_cut || t->cancel_requested || t->shutdown)
        return 0;
    switch (r->failure) {
    case MS_GEN_CONNECT:
    case MS_GEN_RATE_LIMITED:
    case MS_GEN_SERVER:
    case MS_GEN_TIMEOUT:
    case MS_GEN_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* Exponential backoff with "equal jitter" (Brooker, "Exponential Backoff
 * And Jitter", AWS Architecture Blog, 2015): half the capped exponential
 * delay plus a uniform random half. */
static int64_t backoff_ms(const ms_config_t *cfg, int attempt) {
    int64_t d = cfg->llm_retry_base_ms;
    for (int i = 1; i < attempt && d < cfg->llm_retry_max_ms; i++)
        d *= 2;
    if (d > cfg->llm_retry_max_ms)
        d = cfg->llm_retry_max_ms;
    if (d <= 1)
        return d;
    return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
}

static void schedule(ms_turn_t *t, int64_t delay_ms) {
    if (!t->retry) {
        t->retry = ms_xcalloc(1, sizeof *t->retry);
        t->retry->t = t;
        uv_timer_init(t->chat->loop, &t->retry->timer);
        t->retry->timer.data = t->retry;
    }
    uv_timer_start(&t->retry->timer, retry_cb, (uint64_t)(delay_ms > 0 ? delay_ms : 0), 0);
}

/* The attempt's outcome in its provider's counters and breaker. A
 * cancelled attempt that showed text, or hit the answer cap, answered; one
 * cancelled before it showed anything has no outcome (a half-open probe
 * may go again). */
static void account(ms_turn_t *t, const ms_gen_result_t *r, const char *reason, int64_t now_us) {
    int64_t now = now_us / 1000;
    ms_llm_stats_t *st = cur_stats(t);
    ms_breaker_t *br = ms_llm_provider_breaker(t->chat->llm, t->cur);
    ms_metrics_t *m = t->chat->metrics;
    size_t rix = ms__turn_route_ix(t);
    ms_metrics_observe_us(m, MS_M_LLM_DURATION, rix, t->cur, now_us - t->gen_started_us);
    if (t->first_token_us)
        ms_metrics_observe_us(m, MS_M_TTFT, rix, t->cur, t->first_token_us - t->gen_started_us);
    ms_metrics_add(m, MS_M_PROMPT_TOKENS, rix, t->cur, r->prompt_tokens > 0 ? r->prompt_tokens : 0);
    ms_metrics_add(m, MS_M_COMPLETION_TOKENS, rix, t->cur,
                   r->completion_tokens > 0 ? r->completion_tokens : 0);
    st->last_latency_ms = (now_us - t->gen_started_us) / 1000;
    st->last_http_status = r->http_status;
    if (t->first_token_us)
        st->last_ttft_ms = (t->first_token_us - t->gen_started_us) / 1000;
    st->prompt_tokens += (uint64_t)(r->prompt_tokens > 0 ? r->prompt_tokens : 0);
    st->completion_tokens += (uint64_t)(r->completion_tokens > 0 ? r->completion_tokens : 0);
    if (!strcmp(reason, "error")) {
        st->failures++;
        ms_metrics_add(m, MS_M_FAILURES, rix, t->cur, 1);
        ms_breaker_failure(br, now);
        if (r->retry_after_ms > 0)
            st->retry_at = now + r->retry_after_ms;
        ms_log(MS_LOG_WARN, "provider_error",
               "\"provider\":\"%s\",\"attempt\":%d,\"http_status\":%d,\"reason\":\"%s\"",
               ms_provider_name(t->provider), t->attempt, r->http_status,
               r->error ? r->error : "error");
    } else if (!strcmp(reason, "cancelled") || !strcmp(reason, "interrupted") ||
               !strcmp(reason, "length")) {
        st->cancelled++;
        if (t->streamed || !strcmp(reason, "length"))
            ms_breaker_success(br, now);
        else
            ms_breaker_abandon(br);
    } else {
        st->successes++;
        ms_breaker_success(br, now);
    }
}

/* The answer is decided: held text goes out, the citations are the ones
 * it wrote (a model's markers, or what the offline answerer reports), and
 * a model's answer has its grounding measured. */
static void settle_citations(ms_turn_t *t, const ms_gen_result_t *r) {
    const size_t *cited = r->cited;
    size_t n = r->ncited;
    if (t->cite_on) {
        ms_buf_reset(&t->scratch);
        ms_cite_flush(&t->cite, &t->scratch);
        show(t, t->scratch.data, t->scratch.len);
        cited = t->cite.cited;
        n = t->cite.ncited;
    }
    if (n) {
        t->cited = ms_xcalloc(n, sizeof *t->cited);
        memcpy(t->cited, cited, n * sizeof *t->cited);
        t->ncited = n;
    }
    if (t->cite_on) {
        size_t len;
        const char *text = ms_replay_text(t->s->replay, &len);
        ms_grounding_t g;
        ms_llm_grounding(text, len, t->hits, t->nhits, t->cited, t->ncited,
                         t->chat->cfg->grounding_min_overlap, &g);
        t->grounding = g.share;
    }
}

static void gen_done_cb(void *ctx, const ms_gen_result_t *r) {
    ms_turn_t *t = ctx;
    const ms_config_t *cfg = t->chat->cfg;
    t->gen = NULL;
    int64_t now_us = ms_mono_us();
    const char *reason = t->shutdown        ? "interrupted"
                         : t->length_cut    ? "length"
                         : r->finish_reason ? r->finish_reason
                                            : "stop";
    account(t, r, reason, now_us);
    int failed = !strcmp(reason, "error");
    if (failed && may_fail_over(t, r) && t->attempt < cfg->llm_max_attempts) {
        emit_llm_result(t, r, reason, now_us);
        cur_stats(t)->fallbacks++;
        ms_metrics_add(t->chat->metrics, MS_M_FALLBACKS, ms__turn_route_ix(t), t->cur, 1);
        schedule(t, backoff_ms(cfg, t->attempt));
        return;
    }
    if (t->restorer) {
        /* What the restorer still holds is text (an unfinished "[NAME_"). */
        ms_buf_reset(&t->restored);
        ms_phi_restorer_flush(t->restorer, &t->restored);
        deliver(t, t->restored.data, t->restored.len);
    }
    settle_citations(t, r);
    t->prompt_tokens = r->prompt_tokens;
    t->completion_tokens = r->completion_tokens;
    emit_llm_result(t, r, reason, now_us);
    gen_end(t, reason,
            failed ? (t->streamed ? "the model failed while answering; the partial answer was "
                                    "stored; ask again"
                                  : "the model could not answer; try again")
                   : NULL);
}

/* The next candidate that may be asked now (its breaker lets it, its
 * Retry-After has passed), in the route's order from cand_next; or how
 * long until one may (*wait_ms), or -1 when none will within
 * llm_retry_max_ms. */
static ssize_t pick(ms_turn_t *t, int64_t now, int64_t *wait_ms) {
    ms_llm_t *llm = t->chat->llm;
    int64_t soonest = -1;
    for (size_t k = 0; k < t->ncand; k++) {
        size_t pos = (t->cand_next + k) % t->ncand;
        size_t idx = t->cand[pos];
        ms_llm_stats_t *st = ms_llm_provider_stats(llm, idx);
        ms_breaker_t *br = ms_llm_provider_breaker(llm, idx);
        if (st->retry_at > now) {
            int64_t w = st->retry_at - now;
            if (soonest < 0 || w < soonest)
                soonest = w;
            continue;
        }
        if (!ms_breaker_allow(br, now)) {
            st->rejected++;
            continue;
        }
        t->cand_next = pos + 1;
        return (ssize_t)idx;
    }
    *wait_ms = soonest >= 0 && soonest <= t->chat->cfg->llm_retry_max_ms ? soonest : -1;
    return -1;
}

static void next_attempt(ms_turn_t *t) {
    static const ms_gen_sink_t sink = {gen_delta_cb, gen_done_cb};
    ms_chat_t *c = t->chat;
    if (t->shutdown || t->cancel_requested) {
        gen_end(t, t->shutdown ? "interrupted" : "cancelled", NULL);
        return;
    }
    int64_t now = ms_mono_ms(), wait = -1;
    ssize_t idx = pick(t, now, &wait);
    if (idx < 0) {
        if (wait >= 0) {
            schedule(t, wait); /* the soonest Retry-After */
            return;
        }
        ms_log(MS_LOG_WARN, "route_unavailable", "\"route\":\"%s\",\"attempts\":%d",
               t->route ? t->route->alias : "", t->attempt);
        gen_end(t, "error",
                "no model of this route is available now (circuit open or rate limited); try "
                "again later");
        return;
    }
    t->cur = (size_t)idx;
    t->provider = ms_llm_provider(c->llm, t->cur);
    t->attempt++;
    cur_stats(t)->requests++;
    ms_metrics_add(c->metrics, MS_M_REQUESTS, ms__turn_route_ix(t), t->cur, 1);
    if (t->attempt == 1 && t->started_us)
        ms_metrics_observe_us(c->metrics, MS_M_OVERHEAD, ms__turn_route_ix(t), 0,
                              ms_mono_us() - t->started_us);
    /* Redact mode: a provider that is not local gets placeholders, and its
     * answer goes through a restorer of its own. */
    const ms_gen_request_t *req = ms__phi_request_for(t);
    ms_phi_restorer_free(t->restorer);
    t->restorer = req && req != &t->req ? ms_phi_restorer_new(t->phi_map) : NULL;
    t->first_token_us = 0;
    ms_cite_free(&t->cite);
    t->cite_on = t->provider->ops->uses_prompt;
    if (t->cite_on)
        ms_cite_init(&t->cite, t->prompt.npassages, t->doc_keys);
    t->gen_started_us = ms_mono_us();
    emit_llm_call(t);
    int rc = req ? t->provider->ops->start(t->provider, c->loop, req, &sink, t, &t->gen) : MS_EPERM;
    if (rc != 0) {
        t->gen = NULL;
        ms_gen_result_t failed = {.finish_reason = "error",
                                  .failure = MS_GEN_INTERNAL,
                                  .error = "the request could not be started"};
        gen_done_cb(t, &failed);
    }
}

static void generate_stage(ms_turn_t *t) {
    ms_chat_t *c = t->chat;
    t->checkpoint_due = ms_mono_ms() + c->cfg->checkpoint_ms;
    ms__live_add(t);
    t->cand_next = 0;
    t->attempt = 0;
    if (!t->ncand) {
        /* A chain without the route stage (tests): the default route. */
        for (size_t i = 0; t->route && i < t->route->nproviders && i < MS_COUNTOF(t->cand); i++)
            t->cand[t->ncand++] = t->route->providers[i];
    }
    next_attempt(t);
}

static void generate_cancel(ms_turn_t *t) {
    if (t->gen)
        t->provider->ops->cancel(t->gen); /* on_done follows, perhaps at once */
    else if (t->retry)
        gen_end(t, "cancelled", NULL); /* waiting between attempts: nothing to stop */
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
        else if (t->retry)
            gen_end(t, "interrupted", NULL);
        n++;
    }
    if (n)
        ms_log(MS_LOG_INFO, "streams_interrupted", "\"count\":%d", n);
}

/* ---- pull flow control -------------------------------------------------------
 * The h2o way: the upstream is read only as fast as the slowest reader
 * drains. A subscriber's backlog over upstream_pause_bytes pauses the
 * transfer; every backlog at half of it or less resumes it. A pause longer
 * than upstream_pause_max_ms is given up for the rest of the answer (the
 * sweep below): the slow reader's own queue bound then closes it (1008)
 * and the others go on. */

void ms__generate_flow(ms_turn_t *t) {
    const ms_config_t *cfg = t->chat->cfg;
    if (!t->gen || t->flow_off || !t->provider->ops->pause)
        return;
    size_t most = 0;
    for (ms_sub_t *sub = t->s->subs; sub; sub = sub->next)
        if (sub->emit && sub->backlog > most)
            most = sub->backlog;
    /* The pause comes before the queue's own bound closes the reader. */
    size_t limit = (size_t)cfg->upstream_pause_bytes;
    if (limit > (size_t)cfg->max_queue_bytes / 2)
        limit = (size_t)cfg->max_queue_bytes / 2;
    if (!t->paused && most > limit) {
        t->paused = 1;
        t->paused_at = ms_mono_ms();
        ms_log(MS_LOG_DEBUG, "upstream_paused", "\"provider\":\"%s\",\"backlog\":%zu",
               ms_provider_name(t->provider), most);
        t->provider->ops->pause(t->gen, 1);
    } else if (t->paused && most <= limit / 2) {
        t->paused = 0;
        ms_log(MS_LOG_DEBUG, "upstream_resumed", "\"provider\":\"%s\",\"backlog\":%zu",
               ms_provider_name(t->provider), most);
        t->provider->ops->pause(t->gen, 0); /* deltas may arrive from within */
    }
}

static void flow_sweep(ms_turn_t *t, int64_t now) {
    const ms_config_t *cfg = t->chat->cfg;
    if (!t->paused || !t->gen || now - t->paused_at < cfg->upstream_pause_max_ms)
        return;
    ms_log(MS_LOG_WARN, "upstream_pause_expired", "\"provider\":\"%s\",\"paused_ms\":%lld",
           ms_provider_name(t->provider), (long long)(now - t->paused_at));
    t->paused = 0;
    t->flow_off = 1;
    t->provider->ops->pause(t->gen, 0);
}

/* ---- writes: checkpoints and the final write ---------------------------------- */

typedef struct {
    ms_turn_t *t;
    char *content;
    const char *status;
    const char *finish_reason;
    json_t *usage;
    json_t *citations;
    double grounding; /* < 0: none */
    json_t *tools;    /* the final write's tool calls (store.h), or NULL */
    json_t *workflow; /* the workflow's result (final write of a workflow turn) */
    int final;
    int rc;
} update_job_t;

static void update_run(ms_store_t *st, void *arg) {
    update_job_t *j = arg;
    j->rc = st ? ms_store_message_update(st, j->t->s->message_id, j->content, j->status,
                                         j->finish_reason, j->usage, j->citations)
               : MS_EIO;
    if (j->rc == 0 && j->final && j->grounding >= 0)
        j->rc = ms_store_message_set_grounding(st, j->t->s->message_id, j->grounding);
    if (j->rc == 0 && j->final && j->workflow)
        j->rc = ms_store_message_set_workflow(st, j->t->s->message_id, j->workflow);
    /* The retrieval is kept with the answer, for exports (issue 12). A
     * record the store refuses costs the export its tool section, never
     * the answer; a storage fault retries the final write like any other. */
    if (j->rc == 0 && j->tools) {
        int rc = ms_store_message_tools_put(st, j->t->s->message_id, j->tools);
        if (rc == MS_EINVAL)
            ms_log(MS_LOG_WARN, "message_tools_refused", "\"code\":%d", rc);
        else
            j->rc = rc;
    }
}

/* The turn's tool call and its result, as the tool_call and tool_result
 * events carried them, for ms_store_message_tools_put; NULL when the turn
 * made none (a provider that retrieves nothing). */
static json_t *turn_tools(ms_turn_t *t) {
    json_t *call = ms_replay_event(t->s->replay, MS_REPLAY_TOOL_CALL);
    if (!json_is_string(json_object_get(call, "name")))
        return NULL;
    json_t *res = ms_replay_event(t->s->replay, MS_REPLAY_TOOL_RESULT);
    json_t *result = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(res, k, v) {
        if (strcmp(k, "tool_call_id") != 0 && strcmp(k, "name") != 0)
            json_object_set(result, k, v);
    }
    return json_pack("[{s:O?, s:O?, s:O?, s:o}]", "tool_call_id",
                     json_object_get(call, "tool_call_id"), "name", json_object_get(call, "name"),
                     "arguments", json_object_get(call, "arguments"), "result", result);
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
    json_decref(j->tools);
    json_decref(j->workflow);
    free(j);
}

static void submit_update(ms_turn_t *t, int final) {
    update_job_t *j = ms_xcalloc(1, sizeof *j);
    size_t len;
    const char *text = ms_replay_text(t->s->replay, &len);
    j->t = t;
    j->content = ms_xstrndup(text, len);
    j->final = final;
    j->grounding = final ? t->grounding : -1;
    /* A copy: the pool thread serialises it while the loop may still read
     * the turn's (it is in the replay buffer's message_complete). */
    j->workflow = final && t->wf_result ? json_deep_copy(t->wf_result) : NULL;
    if (final) {
        json_t *complete = ms_replay_event(t->s->replay, MS_REPLAY_COMPLETE);
        j->status = t->final_status;
        j->finish_reason = t->finish_reason;
        j->usage = json_incref(json_object_get(complete, "usage"));
        j->citations = json_incref(json_object_get(complete, "citations"));
        j->tools = turn_tools(t);
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
    for (ms_turn_t *t = c->generating, *next; t; t = next) {
        next = t->live_next;
        flow_sweep(t, now);
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
        /* A workflow's text chunks are tagged (seed 004 shows objects). */
        if (t->wf) {
            json_t *tag = json_pack("{s:s}", "workflow", ms_wf_kind_name(ms_wf_kind(t->wf)));
            ms__stream_append_chunk_data(s, d.data, d.len, tag);
            json_decref(tag);
        } else {
            ms__stream_append_chunk(s, d.data, d.len);
        }
        ms_buf_free(&d);
    }
    t->final_status = status_of(t->finish_reason);
    json_t *citations = t->wf_result ? json_incref(json_object_get(t->wf_result, "citations"))
                                     : ms_chat_citations(t->hits, t->nhits, t->cited, t->ncited);
    if (!citations)
        citations = json_array();
    json_t *usage = json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)t->prompt_tokens,
                              "completion_tokens", (json_int_t)t->completion_tokens);
    json_t *complete = json_pack(
        "{s:o, s:s, s:s, s:o, s:s, s:o}", "citations", citations, "disclaimer",
        disclaimer ? disclaimer : "", "finish_reason", t->finish_reason, "usage", usage, "status",
        t->final_status, "grounding", t->grounding >= 0 ? json_real(t->grounding) : json_null());
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
