/* The route stage's PHI rule, with the PHI fields set by the test (the PHI
 * stage fills them in production): a question with PHI, or one the
 * detector was unsure about, goes only to providers marked local; with no
 * local provider on the route it is refused with
 * phi_requires_local_provider and no provider is ever started. The routing
 * event carries the decision and the categories, never the PHI. Also the
 * generate stage's failover and the circuit breaker over scripted
 * providers. Real loop, real SQLite store in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_util.h"

#include "chat/chat.h"
#include "chat/internal.h"
#include "chat/work.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- scripted providers: "answer from <name>", or a failure ---- */
typedef struct {
    int starts;
    int fail; /* 1: every generation fails before any token (HTTP 503) */
} script_t;

struct ms_gen {
    uv_timer_t timer;
    const ms_gen_sink_t *sink;
    void *ctx;
    ms_provider_t *p;
};

static void gen_closed(uv_handle_t *h) {
    free(h->data);
}

static void gen_tick(uv_timer_t *t) {
    struct ms_gen *g = t->data;
    script_t *sc = g->p->impl;
    ms_gen_result_t r = {.finish_reason = "stop"};
    if (sc->fail) {
        r.finish_reason = "error";
        r.failure = MS_GEN_SERVER;
        r.http_status = 503;
        r.error = "HTTP 503";
    } else {
        char text[64];
        int n = snprintf(text, sizeof text, "answer from %s", ms_provider_name(g->p));
        g->sink->on_delta(g->ctx, text, (size_t)n);
    }
    g->sink->on_done(g->ctx, &r);
    uv_close((uv_handle_t *)&g->timer, gen_closed);
}

static int gen_start(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                     const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out) {
    (void)req;
    struct ms_gen *g = calloc(1, sizeof *g);
    g->sink = sink;
    g->ctx = ctx;
    g->p = p;
    ((script_t *)p->impl)->starts++;
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, gen_tick, 1, 0);
    *out = g;
    return 0;
}

static void gen_cancel(ms_gen_t *g) {
    (void)g;
}

static void prov_free(ms_provider_t *p) {
    (void)p;
}

static const ms_provider_ops_t script_ops = {
    .name = "script", .start = gen_start, .cancel = gen_cancel, .free = prov_free};

static script_t cloud_s, local_s;
static ms_provider_t cloud = {.ops = &script_ops, .impl = &cloud_s, .name = "cloud", .local = 0};
static ms_provider_t local = {.ops = &script_ops, .impl = &local_s, .name = "local", .local = 1};

/* ---- the PHI stage's stand-in: sets the agreed turn fields ---- */
static int phi_mode; /* 0 none, 1 detected, 2 unsure */

static void phi_stage(ms_turn_t *t) {
    if (phi_mode == 1) {
        t->phi_detected = 1;
        t->phi_categories = json_pack("[s,s]", "NAME", "MEDICAL_RECORD_NUMBER");
    } else if (phi_mode == 2) {
        t->phi_unsure = 1;
    }
    ms__turn_next(t);
}

static const ms_stage_ops_t phi_ops = {.name = "phi", .run = phi_stage};
static const ms_stage_ops_t *const chain[] = {&ms_stage_persist, &phi_ops, &ms_stage_route,
                                              &ms_stage_generate, &ms_stage_finalise};

/* ---- a subscriber ---- */
typedef struct {
    int done;
    char error_code[64];
    char error_msg[320];
    char text[256];
    char status[32];
    char decision[32];
    json_t *routing;
    char calls[8][32];
    int ncalls;
    char message_id[MS_ID_LEN], conversation_id[MS_ID_LEN];
} rec_t;

static void rec_cb(void *ctx, const ms_event_t *ev) {
    rec_t *r = ctx;
    switch (ev->kind) {
    case MS_EV_MESSAGE_START:
        snprintf(r->message_id, sizeof r->message_id, "%s", ev->message_id);
        snprintf(r->conversation_id, sizeof r->conversation_id, "%s", ev->conversation_id);
        break;
    case MS_EV_ROUTING:
        r->routing = json_incref(ev->data);
        snprintf(r->decision, sizeof r->decision, "%s",
                 json_string_value(json_object_get(ev->data, "decision")));
        break;
    case MS_EV_LLM_CALL:
        snprintf(r->calls[r->ncalls++ % 8], 32, "%s",
                 json_string_value(json_object_get(ev->data, "provider")));
        break;
    case MS_EV_MESSAGE_COMPLETE:
        snprintf(r->text, sizeof r->text, "%.*s", (int)ev->text_len, ev->text);
        snprintf(r->status, sizeof r->status, "%s",
                 json_string_value(json_object_get(ev->data, "status")));
        r->done = 1;
        break;
    case MS_EV_ERROR:
        snprintf(r->error_code, sizeof r->error_code, "%s",
                 json_string_value(json_object_get(ev->data, "code")));
        snprintf(r->error_msg, sizeof r->error_msg, "%s",
                 json_string_value(json_object_get(ev->data, "message")));
        r->done = 1;
        break;
    default:
        break;
    }
}

/* ---- fixture ---- */
typedef struct {
    char dir[64];
    uv_loop_t loop;
    ms_config_t cfg;
    ms_llm_t *llm;
    ms_chat_t *chat;
    char user[MS_ID_LEN];
} fx_t;

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ms-test-route-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    ms_store_t *st;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    ms_user_t u;
    assert_int_equal(ms_store_user_create(st, "a@example.org", "x", "clinician", &u), 0);
    memcpy(f->user, u.id, MS_ID_LEN);
    ms_store_close(st);
    ms_work_init(f->dir);
    uv_loop_init(&f->loop);
    ms_config_defaults(&f->cfg);
    f->cfg.llm_retry_base_ms = 0;
    f->cfg.breaker_failures = 2;
    memset(&cloud_s, 0, sizeof cloud_s);
    memset(&local_s, 0, sizeof local_s);
    ms_provider_t *ps[] = {&cloud, &local};
    ms_breaker_config_t bc = {.failures = 2, .window_ms = 600000, .cooldown_ms = 600000};
    f->llm = ms_llm_of(ps, 2, &bc);
    f->chat = ms_chat_new_llm(&f->loop, &f->cfg, f->llm, NULL);
    f->chat->chain = chain;
    f->chat->nstages = MS_COUNTOF(chain);
    phi_mode = 0;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    ms_chat_shutdown(f->chat);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ms_chat_free(f->chat);
    ms_llm_free(f->llm);
    ms_work_shutdown();
    assert_int_equal(uv_loop_close(&f->loop), 0);
    ms_config_free(&f->cfg);
    assert_int_equal(ms_test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static void ask(fx_t *f, const char *model, const char *cmid, rec_t *r) {
    ms_sub_t *sub = ms_sub_new(rec_cb, r);
    ms_ask_t a = {.user_id = f->user,
                  .client_message_id = cmid,
                  .text = "John Smith, MRN 12345678: what dose of metformin?",
                  .model = model};
    ms_chat_ask_req(f->chat, &a, sub);
    for (int i = 0; i < 20000 && !r->done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(r->done);
    ms_sub_close(sub);
}

static json_t *stored(fx_t *f, const char *message_id) {
    ms_store_t *st;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    json_t *m = NULL;
    assert_int_equal(ms_store_message_get(st, message_id, &m), 0);
    ms_store_close(st);
    return m;
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_no_phi_follows_the_route(void **state) {
    fx_t *f = *state;
    rec_t r = {0};
    ask(f, NULL, "c1", &r);
    assert_true(starts_with(r.text, "answer from cloud"));
    assert_string_equal(r.decision, "all");
    assert_int_equal(r.ncalls, 1);
    assert_string_equal(r.calls[0], "cloud");
    assert_int_equal(local_s.starts, 0);
    assert_false(json_is_true(json_object_get(r.routing, "phi_detected")));
    json_decref(r.routing);
}

static void test_phi_goes_only_to_local(void **state) {
    fx_t *f = *state;
    phi_mode = 1;
    rec_t r = {0};
    ask(f, NULL, "c1", &r);
    assert_true(starts_with(r.text, "answer from local"));
    assert_int_equal(cloud_s.starts, 0); /* never sent to the cloud model */
    assert_int_equal(local_s.starts, 1);
    assert_string_equal(r.decision, "local_only");
    assert_true(json_is_true(json_object_get(r.routing, "phi_detected")));
    json_t *cats = json_object_get(r.routing, "categories");
    assert_int_equal(json_array_size(cats), 2);
    assert_string_equal(json_string_value(json_array_get(cats, 1)), "MEDICAL_RECORD_NUMBER");
    json_t *provs = json_object_get(r.routing, "providers");
    assert_int_equal(json_array_size(provs), 1);
    assert_string_equal(json_string_value(json_array_get(provs, 0)), "local");
    /* The event names categories, never the PHI itself. */
    char *dump = json_dumps(r.routing, 0);
    assert_null(strstr(dump, "John"));
    assert_null(strstr(dump, "12345678"));
    free(dump);
    json_decref(r.routing);
}

static void test_unsure_is_treated_as_phi(void **state) {
    fx_t *f = *state;
    phi_mode = 2;
    rec_t r = {0};
    ask(f, NULL, "c1", &r);
    assert_string_equal(r.decision, "local_only");
    assert_true(json_is_true(json_object_get(r.routing, "phi_unsure")));
    assert_int_equal(cloud_s.starts, 0);
    assert_int_equal(local_s.starts, 1);
    json_decref(r.routing);
}

static void test_phi_without_a_local_provider_is_refused(void **state) {
    fx_t *f = *state;
    phi_mode = 1;
    rec_t r = {0};
    ask(f, "cloud", "c1", &r); /* the cloud provider's own route */
    assert_string_equal(r.error_code, "phi_requires_local_provider");
    assert_non_null(strstr(r.error_msg, "protected health information"));
    assert_string_equal(r.decision, "refused");
    assert_int_equal(json_array_size(json_object_get(r.routing, "providers")), 0);
    assert_int_equal(cloud_s.starts, 0);
    assert_int_equal(local_s.starts, 0);
    assert_int_equal(r.ncalls, 0);
    /* Stored as an answer that was not given (the question stays). */
    json_t *m = stored(f, r.message_id);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "error");
    json_decref(m);
    json_decref(r.routing);
}

static void test_unknown_model_stores_nothing(void **state) {
    fx_t *f = *state;
    rec_t r = {0};
    ask(f, "no-such-model", "c1", &r);
    assert_string_equal(r.error_code, "invalid_message");
    assert_int_equal(r.message_id[0], '\0'); /* no message_start */
    assert_int_equal(cloud_s.starts + local_s.starts, 0);
}

static void test_failover_then_breaker_skips(void **state) {
    fx_t *f = *state;
    cloud_s.fail = 1;
    rec_t r1 = {0}, r2 = {0}, r3 = {0};
    ask(f, NULL, "c1", &r1);
    assert_true(starts_with(r1.text, "answer from local"));
    assert_int_equal(r1.ncalls, 2);
    assert_string_equal(r1.calls[0], "cloud");
    assert_string_equal(r1.calls[1], "local");
    ask(f, NULL, "c2", &r2);
    assert_int_equal(r2.ncalls, 2);
    /* Two failures opened cloud's circuit: it is skipped. */
    ask(f, NULL, "c3", &r3);
    assert_int_equal(r3.ncalls, 1);
    assert_string_equal(r3.calls[0], "local");
    assert_int_equal(cloud_s.starts, 2);
    ms_llm_stats_t *st = ms_llm_provider_stats(f->llm, 0);
    assert_int_equal(st->failures, 2);
    assert_int_equal(st->fallbacks, 2);
    assert_int_equal(st->rejected, 1);
    assert_int_equal(ms_breaker_state(ms_llm_provider_breaker(f->llm, 0), ms_mono_ms()),
                     MS_BREAKER_OPEN);
    assert_int_equal(ms_llm_provider_stats(f->llm, 1)->successes, 3);
    json_decref(r1.routing);
    json_decref(r2.routing);
    json_decref(r3.routing);
}

/* Every provider of the route failing: a retryable provider_error after
 * llm_max_attempts, the answer stored with status error. */
static void test_all_providers_failing(void **state) {
    fx_t *f = *state;
    cloud_s.fail = local_s.fail = 1;
    rec_t r = {0};
    ask(f, NULL, "c1", &r);
    assert_string_equal(r.error_code, "provider_error");
    assert_int_equal(r.ncalls, 3); /* llm_max_attempts: cloud, local, cloud */
    json_t *m = stored(f, r.message_id);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "error");
    json_decref(m);
    json_decref(r.routing);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_phi_follows_the_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phi_goes_only_to_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsure_is_treated_as_phi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phi_without_a_local_provider_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_model_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_then_breaker_skips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_providers_failing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
