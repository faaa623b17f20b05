/* The turn pipeline, replay buffer and idempotency, on a real libuv loop
 * with a real SQLite store in a temporary directory and a scripted provider
 * (so the test controls exactly what is streamed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_util.h"

#include "chat/chat.h"
#include "chat/internal.h"
#include "chat/work.h"
#include "core/buf.h"
#include "store/sqlite.h"
#include "store/store.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a scripted provider: N words, one per millisecond ---- */
struct ms_gen {
    uv_timer_t timer;
    const ms_gen_sink_t *sink;
    void *ctx;
    int i, n;
};

static int script_words = 40;

static void gen_closed(uv_handle_t *h) {
    free(h->data);
}

static void gen_finish(struct ms_gen *g, const char *reason) {
    uv_timer_stop(&g->timer);
    ms_gen_result_t r = {.finish_reason = reason, .completion_tokens = g->i};
    g->sink->on_done(g->ctx, &r);
    uv_close((uv_handle_t *)&g->timer, gen_closed);
}

static void gen_tick(uv_timer_t *t) {
    struct ms_gen *g = t->data;
    char w[32];
    int n = snprintf(w, sizeof w, "%sw%d", g->i ? " " : "", g->i);
    g->i++;
    g->sink->on_delta(g->ctx, w, (size_t)n);
    if (g->i == g->n)
        gen_finish(g, "stop");
}

static int gen_start(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                     const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out) {
    (void)p;
    (void)req;
    struct ms_gen *g = calloc(1, sizeof *g);
    g->sink = sink;
    g->ctx = ctx;
    g->n = script_words;
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, gen_tick, 1, 1);
    *out = g;
    return 0;
}

static void gen_cancel(ms_gen_t *g) {
    gen_finish(g, "cancelled");
}

static void prov_free(ms_provider_t *p) {
    (void)p;
}

static const ms_provider_ops_t script_ops = {.name = "script",
                                             .uses_retrieval = 1,
                                             .start = gen_start,
                                             .cancel = gen_cancel,
                                             .free = prov_free};
static ms_provider_t script_provider = {.ops = &script_ops};

/* ---- a subscriber that records what it receives ---- */
typedef struct {
    int starts, tool_calls, tool_results, chunks, completes, errors;
    int64_t first_seq, last_seq;
    int gap;
    ms_buf_t text;    /* concatenated deltas */
    char *final_text; /* message_complete.text */
    char message_id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN];
    char finish_reason[32];
    char error_code[32];
    int64_t complete_seq;
} rec_t;

static void rec_cb(void *ctx, const ms_event_t *ev) {
    rec_t *r = ctx;
    switch (ev->kind) {
    case MS_EV_MESSAGE_START:
        r->starts++;
        snprintf(r->message_id, sizeof r->message_id, "%s", ev->message_id);
        snprintf(r->conversation_id, sizeof r->conversation_id, "%s", ev->conversation_id);
        break;
    case MS_EV_TOOL_CALL:
        r->tool_calls++;
        break;
    case MS_EV_TOOL_RESULT:
        r->tool_results++;
        break;
    case MS_EV_MESSAGE_CHUNK:
        if (r->chunks == 0)
            r->first_seq = ev->seq;
        else if (ev->seq != r->last_seq + 1)
            r->gap = 1;
        r->last_seq = ev->seq;
        r->chunks++;
        ms_buf_append(&r->text, ev->text, ev->text_len);
        break;
    case MS_EV_MESSAGE_COMPLETE:
        r->completes++;
        r->final_text = strndup(ev->text, ev->text_len);
        r->complete_seq = ev->seq;
        snprintf(r->finish_reason, sizeof r->finish_reason, "%s",
                 json_string_value(json_object_get(ev->data, "finish_reason")));
        break;
    case MS_EV_ERROR:
        r->errors++;
        snprintf(r->error_code, sizeof r->error_code, "%s",
                 json_string_value(json_object_get(ev->data, "code")));
        break;
    default:
        break;
    }
}

static void rec_free(rec_t *r) {
    ms_buf_free(&r->text);
    free(r->final_text);
}

/* ---- fixture ---- */
typedef struct {
    char dir[64];
    uv_loop_t loop;
    ms_config_t cfg;
    ms_chat_t *chat;
    char user[MS_ID_LEN], other[MS_ID_LEN];
} fx_t;

static void run_until(fx_t *f, int *flag, int want) {
    for (int i = 0; i < 20000 && *flag < want; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(*flag >= want);
}

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ms-test-chat-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    ms_store_t *st;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    ms_user_t u;
    assert_int_equal(ms_store_user_create(st, "a@example.org", "x", "clinician", &u), 0);
    memcpy(f->user, u.id, MS_ID_LEN);
    assert_int_equal(ms_store_user_create(st, "b@example.org", "x", "clinician", &u), 0);
    memcpy(f->other, u.id, MS_ID_LEN);
    ms_store_close(st);
    ms_work_init(f->dir);
    uv_loop_init(&f->loop);
    ms_config_defaults(&f->cfg);
    f->cfg.checkpoint_ms = 10;
    f->chat = ms_chat_new(&f->loop, &f->cfg, &script_provider, NULL);
    script_words = 40;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    ms_chat_shutdown(f->chat);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(ms_chat_closed(f->chat));
    ms_chat_free(f->chat);
    ms_work_shutdown();
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle closed */
    ms_config_free(&f->cfg);
    assert_int_equal(ms_test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static json_t *stored_messages(fx_t *f, const char *conv) {
    ms_store_t *st;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    json_t *list = NULL;
    assert_int_equal(ms_store_message_list(st, conv, &list), 0);
    ms_store_close(st);
    return list;
}

static void test_stream_is_gapless_and_persisted(void **state) {
    fx_t *f = *state;
    rec_t r = {0};
    ms_sub_t *sub = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "c1", "What is asthma?", sub);
    run_until(f, &r.completes, 1);
    assert_int_equal(r.starts, 1);
    assert_int_equal(r.tool_calls, 1);
    assert_int_equal(r.tool_results, 1);
    assert_int_equal(r.chunks, 41); /* 40 words + the disclaimer */
    assert_int_equal(r.first_seq, 1);
    assert_false(r.gap);
    assert_int_equal(r.complete_seq, 41);
    assert_string_equal(r.final_text, ms_buf_cstr(&r.text));
    size_t dl = strlen(f->cfg.disclaimer);
    assert_true(strlen(r.final_text) > dl);
    assert_string_equal(r.final_text + strlen(r.final_text) - dl, f->cfg.disclaimer);
    assert_string_equal(r.finish_reason, "stop");
    /* Stored byte for byte, status complete, user message first. */
    json_t *msgs = stored_messages(f, r.conversation_id);
    assert_int_equal(json_array_size(msgs), 2);
    json_t *u = json_array_get(msgs, 0), *a = json_array_get(msgs, 1);
    assert_string_equal(json_string_value(json_object_get(u, "content")), "What is asthma?");
    assert_string_equal(json_string_value(json_object_get(a, "content")), r.final_text);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "complete");
    json_decref(msgs);
    ms_sub_close(sub);
    rec_free(&r);
}

static void test_idempotent_retry_during_and_after(void **state) {
    fx_t *f = *state;
    rec_t r1 = {0}, r2 = {0}, r3 = {0};
    ms_sub_t *s1 = ms_sub_new(rec_cb, &r1);
    ms_chat_ask(f->chat, f->user, NULL, "same", "What is diabetes?", s1);
    run_until(f, &r1.chunks, 5);
    /* A retry while streaming (e.g. after a reconnect) follows the same answer. */
    ms_sub_t *s2 = ms_sub_new(rec_cb, &r2);
    ms_chat_ask(f->chat, f->user, NULL, "same", "What is diabetes?", s2);
    run_until(f, &r2.completes, 1);
    run_until(f, &r1.completes, 1);
    assert_string_equal(r1.message_id, r2.message_id);
    assert_string_equal(r1.final_text, r2.final_text);
    assert_string_equal(ms_buf_cstr(&r2.text), r2.final_text);
    assert_int_equal(r2.first_seq, 1);
    assert_false(r2.gap);
    /* After completion, naming the conversation now, still nothing new. */
    ms_sub_t *s3 = ms_sub_new(rec_cb, &r3);
    ms_chat_ask(f->chat, f->user, r1.conversation_id, "same", "What is diabetes?", s3);
    run_until(f, &r3.completes, 1);
    assert_string_equal(r3.message_id, r1.message_id);
    assert_string_equal(r3.final_text, r1.final_text);
    json_t *msgs = stored_messages(f, r1.conversation_id);
    assert_int_equal(json_array_size(msgs), 2);
    json_decref(msgs);
    ms_sub_close(s1);
    ms_sub_close(s2);
    ms_sub_close(s3);
    rec_free(&r1);
    rec_free(&r2);
    rec_free(&r3);
}

static void test_resume_from_last_seq(void **state) {
    fx_t *f = *state;
    rec_t r1 = {0}, r2 = {0};
    ms_sub_t *s1 = ms_sub_new(rec_cb, &r1);
    ms_chat_ask(f->chat, f->user, NULL, "r", "What is a migraine?", s1);
    run_until(f, &r1.chunks, 10);
    /* The connection drops: the subscriber goes, the answer goes on. */
    int64_t seen = r1.last_seq;
    char *prefix = strdup(ms_buf_cstr(&r1.text));
    ms_sub_close(s1);
    ms_sub_t *s2 = ms_sub_new(rec_cb, &r2);
    ms_chat_resume(f->chat, f->user, r1.message_id, seen, s2);
    run_until(f, &r2.completes, 1);
    assert_int_equal(r2.first_seq, seen + 1);
    assert_false(r2.gap);
    ms_buf_t whole;
    ms_buf_init(&whole);
    ms_buf_puts(&whole, prefix);
    ms_buf_puts(&whole, ms_buf_cstr(&r2.text));
    assert_string_equal(ms_buf_cstr(&whole), r2.final_text);
    ms_buf_free(&whole);
    free(prefix);
    ms_sub_close(s2);
    rec_free(&r1);
    rec_free(&r2);
}

static void test_resume_after_expiry_comes_from_storage(void **state) {
    fx_t *f = *state;
    ms_chat_shutdown(f->chat);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ms_chat_free(f->chat);
    f->cfg.replay_ttl_ms = 30;
    f->chat = ms_chat_new(&f->loop, &f->cfg, &script_provider, NULL);
    rec_t r1 = {0}, r2 = {0};
    ms_sub_t *s1 = ms_sub_new(rec_cb, &r1);
    ms_chat_ask(f->chat, f->user, NULL, "e", "What is gout?", s1);
    run_until(f, &r1.completes, 1);
    ms_chat_stats_t st;
    ms_chat_stats(f->chat, &st);
    assert_int_equal(st.streams_buffered, 1);
    for (int i = 0; i < 200 && st.streams_buffered > 0; i++) {
        usleep(2000);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        ms_chat_stats(f->chat, &st);
    }
    assert_int_equal(st.streams_buffered, 0);
    ms_sub_t *s2 = ms_sub_new(rec_cb, &r2);
    ms_chat_resume(f->chat, f->user, r1.message_id, 5, s2);
    run_until(f, &r2.completes, 1);
    assert_int_equal(r2.starts, 1);
    assert_int_equal(r2.chunks, 0);
    assert_int_equal(r2.complete_seq, 0);
    assert_string_equal(r2.final_text, r1.final_text);
    ms_sub_close(s1);
    ms_sub_close(s2);
    rec_free(&r1);
    rec_free(&r2);
}

static void test_cancel_keeps_partial_text(void **state) {
    fx_t *f = *state;
    script_words = 100000;
    rec_t r = {0};
    ms_sub_t *s = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "k", "What is COVID-19?", s);
    run_until(f, &r.chunks, 8);
    assert_int_equal(ms_chat_cancel(f->chat, f->other, r.message_id), MS_EPERM);
    assert_int_equal(ms_chat_cancel(f->chat, f->user, r.message_id), 0);
    run_until(f, &r.completes, 1);
    assert_string_equal(r.finish_reason, "cancelled");
    assert_string_equal(ms_buf_cstr(&r.text), r.final_text);
    json_t *msgs = stored_messages(f, r.conversation_id);
    json_t *a = json_array_get(msgs, 1);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "cancelled");
    assert_string_equal(json_string_value(json_object_get(a, "content")), r.final_text);
    json_decref(msgs);
    ms_sub_close(s);
    rec_free(&r);
}

static void test_other_user_is_forbidden(void **state) {
    fx_t *f = *state;
    rec_t r = {0}, x = {0}, y = {0};
    ms_sub_t *s = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "o", "What is a stroke?", s);
    run_until(f, &r.completes, 1);
    ms_sub_t *sx = ms_sub_new(rec_cb, &x);
    ms_chat_resume(f->chat, f->other, r.message_id, 0, sx);
    run_until(f, &x.errors, 1);
    /* Exactly what an unknown id gets: no client learns which ids exist. */
    assert_string_equal(x.error_code, "not_found");
    assert_int_equal(x.chunks, 0);
    assert_int_equal(x.starts, 0);
    ms_sub_t *sy = ms_sub_new(rec_cb, &y);
    ms_chat_ask(f->chat, f->other, r.conversation_id, "o2", "hello", sy);
    run_until(f, &y.errors, 1);
    assert_string_equal(y.error_code, "forbidden");
    ms_sub_close(s);
    ms_sub_close(sx);
    ms_sub_close(sy);
    rec_free(&r);
    rec_free(&x);
    rec_free(&y);
}

/* Defect: a resume whose last_seq is near INT64_MAX overflowed last_seq + 1
 * and aborted the server. Any last_seq that cannot name a chunk is refused
 * with invalid_request and the answer is not disturbed. */
static void test_resume_refuses_impossible_last_seq(void **state) {
    fx_t *f = *state;
    rec_t r = {0}, x = {0}, y = {0};
    ms_sub_t *s = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "big", "What is asthma?", s);
    run_until(f, &r.completes, 1);
    ms_sub_t *sx = ms_sub_new(rec_cb, &x);
    ms_chat_resume(f->chat, f->user, r.message_id, INT64_MAX, sx);
    run_until(f, &x.errors, 1);
    assert_string_equal(x.error_code, "invalid_message");
    assert_int_equal(x.chunks, 0);
    /* Past the end of a finished answer: also impossible. */
    ms_sub_t *sy = ms_sub_new(rec_cb, &y);
    ms_chat_resume(f->chat, f->user, r.message_id, r.complete_seq + 1, sy);
    run_until(f, &y.errors, 1);
    assert_string_equal(y.error_code, "invalid_message");
    ms_sub_close(s);
    ms_sub_close(sx);
    ms_sub_close(sy);
    rec_free(&r);
    rec_free(&x);
    rec_free(&y);
}

static void ask_session(fx_t *f, const char *conv, const char *alias, const char *cmid,
                        ms_sub_t *sub) {
    ms_ask_t a = {.user_id = f->user,
                  .conversation_id = conv,
                  .conversation_alias = alias,
                  .client_message_id = cmid,
                  .text = "What is asthma?",
                  .flags = MS_ASK_CREATE_CONVERSATION};
    ms_chat_ask_req(f->chat, &a, sub);
}

/* Defect: a subscriber redirected to an answer that already existed (a
 * repeated client_message_id reaching storage under another key) was
 * attached to that answer while still listed on its own stream, and
 * dropping that stream then looped for ever. Here one question is asked
 * through a session whose name is the conversation's id (alias), then
 * again naming the conversation directly: the second must follow the
 * first answer, and the service must stay usable. */
static void test_redirected_subscriber_is_detached(void **state) {
    fx_t *f = *state;
    rec_t r1 = {0}, r2 = {0}, r3 = {0};
    ms_sub_t *s1 = ms_sub_new(rec_cb, &r1);
    ms_chat_ask(f->chat, f->user, NULL, "seed", "What is gout?", s1);
    run_until(f, &r1.completes, 1);
    char conv[MS_ID_LEN], derived[MS_ID_LEN];
    memcpy(conv, r1.conversation_id, MS_ID_LEN);
    ms_dialect_session_conversation(f->user, conv, derived);
    script_words = 2000; /* long enough to be live when the retry arrives */
    ms_sub_t *s2 = ms_sub_new(rec_cb, &r2);
    ask_session(f, derived, conv, "dup", s2);
    run_until(f, &r2.chunks, 1);
    assert_string_equal(r2.conversation_id, conv); /* the alias won */
    ms_sub_t *s3 = ms_sub_new(rec_cb, &r3);
    ms_chat_ask(f->chat, f->user, conv, "dup", "What is asthma?", s3);
    run_until(f, &r3.completes, 1);
    run_until(f, &r2.completes, 1);
    assert_string_equal(r3.message_id, r2.message_id);
    assert_string_equal(r3.final_text, r2.final_text);
    ms_sub_close(s1);
    ms_sub_close(s2);
    ms_sub_close(s3);
    rec_free(&r1);
    rec_free(&r2);
    rec_free(&r3);
}

/* Deletes a conversation from another connection, as a user in another tab
 * would, so the answer's final write finds no row. */
static void delete_conversation(fx_t *f, const char *user, const char *conv) {
    ms_store_t *st;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    assert_int_equal(ms_store_conversation_delete(st, user, conv), 0);
    ms_store_close(st);
}

/* Defect: the client was told the answer was stored (message_complete)
 * when the final write had failed. Now it is retried, then reported as a
 * retryable error instead, to live and to resuming subscribers alike. */
static void test_failed_final_write_is_an_error(void **state) {
    fx_t *f = *state;
    script_words = 200;
    rec_t r = {0}, x = {0};
    ms_sub_t *s = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "gone", "What is asthma?", s);
    run_until(f, &r.chunks, 1);
    delete_conversation(f, f->user, r.conversation_id);
    run_until(f, &r.errors, 1);
    assert_int_equal(r.completes, 0);
    assert_string_equal(r.error_code, "internal_error");
    ms_sub_t *sx = ms_sub_new(rec_cb, &x);
    ms_chat_resume(f->chat, f->user, r.message_id, 0, sx);
    run_until(f, &x.errors, 1);
    assert_int_equal(x.completes, 0);
    ms_sub_close(s);
    ms_sub_close(sx);
    rec_free(&r);
    rec_free(&x);
}

/* Restarts the service with the fixture's (changed) configuration. */
static void restart_chat(fx_t *f) {
    ms_chat_shutdown(f->chat);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ms_chat_free(f->chat);
    f->chat = ms_chat_new(&f->loop, &f->cfg, &script_provider, NULL);
}

/* Defect: no cap on concurrent turns per user or per process. A user over
 * max_turns_per_user, anyone over max_live_turns, and a user over
 * user_turns_per_min is refused with a clear, retryable error; others are
 * not affected. */
static void test_turn_caps(void **state) {
    fx_t *f = *state;
    f->cfg.max_turns_per_user = 2;
    f->cfg.max_live_turns = 3;
    f->cfg.user_turns_per_min = 4;
    restart_chat(f);
    script_words = 100000;
    rec_t r[6];
    ms_sub_t *s[6];
    memset(r, 0, sizeof r);
    const char *users[6] = {f->user, f->user, f->user, f->other, f->other, f->other};
    for (int i = 0; i < 6; i++) {
        char cmid[16];
        snprintf(cmid, sizeof cmid, "cap%d", i);
        s[i] = ms_sub_new(rec_cb, &r[i]);
        ms_chat_ask(f->chat, users[i], NULL, cmid, "What is asthma?", s[i]);
    }
    run_until(f, &r[0].chunks, 1);
    run_until(f, &r[1].chunks, 1);
    run_until(f, &r[3].chunks, 1);
    assert_string_equal(r[2].error_code, "overloaded"); /* the user's third */
    assert_string_equal(r[4].error_code, "overloaded"); /* the process's fourth */
    assert_string_equal(r[5].error_code, "overloaded");
    ms_chat_stats_t st;
    ms_chat_stats(f->chat, &st);
    assert_int_equal(st.streams_live, 3);
    assert_int_equal(st.refused_overloaded, 3);
    for (int i = 0; i < 6; i++) {
        if (r[i].starts)
            assert_int_equal(ms_chat_cancel(f->chat, users[i], r[i].message_id), 0);
    }
    run_until(f, &r[0].completes, 1);
    run_until(f, &r[1].completes, 1);
    /* The rate: f->user has used 2 of 4 questions this minute. */
    script_words = 3;
    rec_t q[3];
    memset(q, 0, sizeof q);
    for (int i = 0; i < 3; i++) {
        char cmid[16];
        snprintf(cmid, sizeof cmid, "rate%d", i);
        ms_sub_t *sq = ms_sub_new(rec_cb, &q[i]);
        ms_chat_ask(f->chat, f->user, NULL, cmid, "What is asthma?", sq);
        if (i < 2)
            run_until(f, &q[i].completes, 1);
        else
            assert_string_equal(q[i].error_code, "rate_limited");
        ms_sub_close(sq);
        rec_free(&q[i]);
    }
    for (int i = 0; i < 6; i++) {
        ms_sub_close(s[i]);
        rec_free(&r[i]);
    }
}

/* Defect: no bound on the size of a live answer. Generation stops at
 * max_answer_bytes with finish_reason "length"; the stored text is what
 * was kept plus the disclaimer. */
static void test_answer_size_cap(void **state) {
    fx_t *f = *state;
    f->cfg.max_answer_bytes = 2048;
    restart_chat(f);
    script_words = 100000;
    rec_t r = {0};
    ms_sub_t *s = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "long", "What is asthma?", s);
    run_until(f, &r.completes, 1);
    assert_string_equal(r.finish_reason, "length");
    size_t dl = strlen(f->cfg.disclaimer);
    size_t n = strlen(r.final_text);
    assert_true(n <= 2048 + 2 + dl);
    assert_true(n > 1500 + dl);
    json_t *msgs = stored_messages(f, r.conversation_id);
    json_t *a = json_array_get(msgs, 1);
    assert_string_equal(json_string_value(json_object_get(a, "content")), r.final_text);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "complete");
    json_decref(msgs);
    ms_sub_close(s);
    rec_free(&r);
}

/* Defect: an answer interrupted by shutdown reached clients without the
 * disclaimer. Now it is appended like on every other outcome, and the
 * stored message says interrupted. */
static void test_shutdown_interrupts_with_disclaimer(void **state) {
    fx_t *f = *state;
    script_words = 100000;
    rec_t r = {0};
    ms_sub_t *s = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "int", "What is asthma?", s);
    run_until(f, &r.chunks, 3);
    ms_chat_shutdown(f->chat);
    run_until(f, &r.completes, 1);
    assert_string_equal(r.finish_reason, "interrupted");
    size_t dl = strlen(f->cfg.disclaimer);
    assert_string_equal(r.final_text + strlen(r.final_text) - dl, f->cfg.disclaimer);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    json_t *msgs = stored_messages(f, r.conversation_id);
    json_t *a = json_array_get(msgs, 1);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "interrupted");
    assert_string_equal(json_string_value(json_object_get(a, "content")), r.final_text);
    json_decref(msgs);
    ms_chat_free(f->chat);
    f->chat = ms_chat_new(&f->loop, &f->cfg, &script_provider, NULL);
    ms_sub_close(s);
    rec_free(&r);
}

/* Defect: the replay bound counted only the text, so 8,000 questions held
 * gigabytes while 13 MB were reported. Everything a stream keeps (its
 * question, passages, history, events) is counted now, and a service over
 * the bound refuses new questions once no finished answer is left to drop. */
static void test_memory_bound_counts_everything(void **state) {
    fx_t *f = *state;
    script_words = 100000;
    ms_chat_stats_t st0, st1;
    ms_chat_stats(f->chat, &st0);
    char *big = malloc(20001);
    memset(big, 'q', 20000);
    big[20000] = '\0';
    rec_t r = {0};
    ms_sub_t *s = ms_sub_new(rec_cb, &r);
    ms_chat_ask(f->chat, f->user, NULL, "mem", big, s);
    run_until(f, &r.chunks, 1);
    ms_chat_stats(f->chat, &st1);
    /* The question alone is 20 kB; the text streamed so far is tiny. */
    assert_true(st1.replay_bytes - st0.replay_bytes > 20000);
    f->cfg.replay_max_bytes = st1.replay_bytes; /* now full */
    rec_t x = {0};
    ms_sub_t *sx = ms_sub_new(rec_cb, &x);
    ms_chat_ask(f->chat, f->other, NULL, "mem2", big, sx);
    assert_string_equal(x.error_code, "overloaded");
    assert_int_equal(ms_chat_cancel(f->chat, f->user, r.message_id), 0);
    run_until(f, &r.completes, 1);
    free(big);
    ms_sub_close(s);
    ms_sub_close(sx);
    rec_free(&r);
    rec_free(&x);
}

/* ---- a stage alone, with a fake next stage --------------------------------- */

static int fake_ran;
static char fake_conv[MS_ID_LEN];
static size_t fake_history;

static void fake_stage(ms_turn_t *t) {
    fake_ran++;
    snprintf(fake_conv, sizeof fake_conv, "%s", t->s->conversation_id);
    fake_history = json_array_size(t->history);
    ms__turn_fail(t, MS_ECANCELED, "stopped by the test");
}

static const ms_stage_ops_t fake_ops = {.name = "fake", .run = fake_stage};

/* The persist stage alone: the user message is durable and message_start
 * sent before it hands over; the next stage sees the conversation and the
 * history, and nothing else of the chain runs. */
static void test_persist_stage_alone(void **state) {
    fx_t *f = *state;
    rec_t r1 = {0}, r2 = {0};
    ms_sub_t *s1 = ms_sub_new(rec_cb, &r1);
    ms_chat_ask(f->chat, f->user, NULL, "p1", "What is asthma?", s1);
    run_until(f, &r1.completes, 1);
    static const ms_stage_ops_t *const chain[] = {&ms_stage_persist, &fake_ops};
    f->chat->chain = chain;
    f->chat->nstages = 2;
    fake_ran = 0;
    ms_sub_t *s2 = ms_sub_new(rec_cb, &r2);
    ms_chat_ask(f->chat, f->user, r1.conversation_id, "p2", "And its treatment?", s2);
    run_until(f, &r2.errors, 1);
    assert_int_equal(fake_ran, 1);
    assert_int_equal(r2.starts, 1);
    assert_int_equal(r2.tool_calls, 0); /* retrieve is not in this chain */
    assert_int_equal(r2.chunks, 0);
    assert_string_equal(fake_conv, r1.conversation_id);
    assert_int_equal(fake_history, 2); /* the first question and its answer */
    json_t *msgs = stored_messages(f, r1.conversation_id);
    assert_int_equal(json_array_size(msgs), 4); /* the second turn is durable */
    json_decref(msgs);
    f->chat->chain = ms__turn_chain;
    f->chat->nstages = ms__turn_nstages;
    ms_sub_close(s1);
    ms_sub_close(s2);
    rec_free(&r1);
    rec_free(&r2);
}

/* ---- the clinical context ---- */

static json_t *fake_context;
static size_t fake_chunks;

static void context_probe(ms_turn_t *t) {
    fake_ran++;
    json_decref(fake_context);
    fake_context = json_incref(t->context);
    size_t len;
    ms_replay_text(t->s->replay, &len);
    fake_chunks = len;
    ms__turn_fail(t, MS_ECANCELED, "stopped by the test");
}

static const ms_stage_ops_t context_probe_ops = {.name = "probe", .run = context_probe};

/* A message's clinical_context_id binds the conversation (persist) and the
 * context stage loads it into t->context; a later turn without the id still
 * has it (the binding is stored); another user's context fails the turn
 * before message_start. A drug the question names whose class the patient
 * is allergic to starts the answer with a note. */
static void test_context_binding_and_stage(void **state) {
    fx_t *f = *state;
    ms_store_t *st;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    json_t *fields = json_pack("{s:[s], s:[s]}", "allergies", "Allergy to penicillin", "problems",
                               "Asthma"),
           *mine = NULL, *theirs = NULL;
    assert_int_equal(ms_store_clinical_create(st, f->user, fields, "manual", NULL, &mine), 0);
    assert_int_equal(ms_store_clinical_create(st, f->other, fields, "manual", NULL, &theirs), 0);
    ms_store_close(st);
    static const ms_stage_ops_t *const chain[] = {&ms_stage_persist, &ms_stage_context,
                                                  &context_probe_ops};
    f->chat->chain = chain;
    f->chat->nstages = 3;
    fake_ran = 0;
    rec_t r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0};
    ms_ask_t a = {.user_id = f->user,
                  .client_message_id = "c1",
                  .text = "Is amoxicillin safe here?",
                  .clinical_context_id = json_string_value(json_object_get(mine, "id"))};
    ms_sub_t *s1 = ms_sub_new(rec_cb, &r1);
    ms_chat_ask_req(f->chat, &a, s1);
    run_until(f, &r1.errors, 1);
    assert_int_equal(fake_ran, 1);
    assert_int_equal(r1.starts, 1);
    assert_non_null(fake_context);
    assert_string_equal(json_string_value(json_object_get(fake_context, "id")),
                        json_string_value(json_object_get(mine, "id")));
    assert_non_null(strstr(ms_buf_cstr(&r1.text), "Allergy check: the patient's record lists an "
                                                  "allergy (\"Allergy to penicillin\""));
    assert_true(fake_chunks > 0);
    /* The same conversation without the id: still bound. No drug named: no note. */
    ms_sub_t *s2 = ms_sub_new(rec_cb, &r2);
    ms_chat_ask(f->chat, f->user, r1.conversation_id, "c2", "What about asthma?", s2);
    run_until(f, &r2.errors, 1);
    assert_int_equal(fake_ran, 2);
    assert_non_null(fake_context);
    assert_int_equal(r2.chunks, 0);
    /* A new conversation without one: t->context is NULL. */
    ms_sub_t *s3 = ms_sub_new(rec_cb, &r3);
    ms_chat_ask(f->chat, f->user, NULL, "c3", "Is amoxicillin safe here?", s3);
    run_until(f, &r3.errors, 1);
    assert_int_equal(fake_ran, 3);
    assert_null(fake_context);
    assert_int_equal(r3.chunks, 0);
    /* Someone else's context: not found, nothing started or stored. */
    a.client_message_id = "c4";
    a.clinical_context_id = json_string_value(json_object_get(theirs, "id"));
    ms_sub_t *s4 = ms_sub_new(rec_cb, &r4);
    ms_chat_ask_req(f->chat, &a, s4);
    run_until(f, &r4.errors, 1);
    assert_int_equal(fake_ran, 3);
    assert_int_equal(r4.starts, 0);
    assert_string_equal(r4.error_code, "not_found");
    f->chat->chain = ms__turn_chain;
    f->chat->nstages = ms__turn_nstages;
    json_decref(fake_context);
    fake_context = NULL;
    json_decref(fields);
    json_decref(mine);
    json_decref(theirs);
    ms_sub_close(s1);
    ms_sub_close(s2);
    ms_sub_close(s3);
    ms_sub_close(s4);
    rec_free(&r1);
    rec_free(&r2);
    rec_free(&r3);
    rec_free(&r4);
}

/* The problems' search only re-orders the question's passages: where the
 * question's scores are close, a passage the problems also find rises; a
 * clear lead stays; one only the problems find never enters. */
static void test_context_fuse(void **state) {
    (void)state;
    const char *ids[] = {"q1", "q2", "q3", "q4", "q5", "q6"};
    const double scores[] = {2.0, 1.9, 1.8, 1.0, 0.5, 0.4};
    ms_kb_hit_t *pool = calloc(6, sizeof *pool);
    for (int i = 0; i < 6; i++) {
        pool[i].id = strdup(ids[i]);
        pool[i].score = scores[i];
    }
    ms_kb_hit_t boost[3] = {
        {.id = "p1", .score = 4.0}, {.id = "q3", .score = 3.0}, {.id = "q4", .score = 2.0}};
    ms_kb_hit_t *out = NULL;
    size_t n = 0;
    ms__context_fuse(pool, 6, boost, 3, 3, &out, &n);
    assert_int_equal(n, 3);
    /* q3: 0.90 + 0.5 * 0.75 = 1.275; q1: 1.0; q2: 0.95; q4: 0.5 + 0.25 = 0.75. */
    assert_string_equal(out[0].id, "q3");
    assert_string_equal(out[1].id, "q1");
    assert_string_equal(out[2].id, "q2");
    assert_true(out[0].score == 1.8); /* the hit keeps its own search's score */
    ms_kb_hits_free(out, n);
    /* No second search: the question's order, cut to k. */
    pool = calloc(2, sizeof *pool);
    pool[0].id = strdup("a");
    pool[0].score = 1;
    pool[1].id = strdup("b");
    pool[1].score = 0.5;
    ms__context_fuse(pool, 2, NULL, 0, 5, &out, &n);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].id, "a");
    ms_kb_hits_free(out, n);
    ms__context_fuse(calloc(1, sizeof *pool), 0, boost, 3, 5, &out, &n);
    assert_int_equal(n, 0);
    assert_null(out);
}

static void test_citations_shape(void **state) {
    (void)state;
    ms_kb_hit_t hits[2] = {
        {.id = "GHR_1_Sec1",
         .score = 3.5,
         .title = "What is X?",
         .url = "https://x.nih.gov/",
         .source = "GHR",
         .source_type = "medquad",
         .text = "X is a condition."},
        {.id = "123",
         .score = 1.0,
         .title = "Paper",
         .url = "https://pubmed/123",
         .source = "PubMed",
         .source_type = "pubmed",
         .text = "Abstract.",
         .pmid = "123",
         .authors_json = "[\"A B\"]",
         .year = 2019},
    };
    size_t cited[2] = {1, 0};
    json_t *c = ms_chat_citations(hits, 2, cited, 2);
    assert_int_equal(json_array_size(c), 2);
    json_t *c1 = json_array_get(c, 0);
    assert_int_equal(json_integer_value(json_object_get(c1, "index")), 1);
    assert_string_equal(json_string_value(json_object_get(c1, "source_id")), "123");
    assert_string_equal(json_string_value(json_object_get(c1, "pmid")), "123");
    assert_int_equal(json_array_size(json_object_get(c1, "authors")), 1);
    assert_int_equal(json_integer_value(json_object_get(c1, "year")), 2019);
    json_t *c2 = json_array_get(c, 1);
    assert_string_equal(json_string_value(json_object_get(c2, "url")), "https://x.nih.gov/");
    assert_true(json_is_null(json_object_get(c2, "pmid")));
    json_decref(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_is_gapless_and_persisted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_retry_during_and_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_from_last_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_expiry_comes_from_storage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_keeps_partial_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_user_is_forbidden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_refuses_impossible_last_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirected_subscriber_is_detached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_final_write_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_size_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_interrupts_with_disclaimer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bound_counts_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist_stage_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_binding_and_stage, setup, teardown),
        cmocka_unit_test(test_context_fuse),
        cmocka_unit_test(test_citations_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
