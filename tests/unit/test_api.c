/* Unit tests of the REST API without a socket: hand-built ms_http_req_t
 * driven through ms_api_begin (the headers) and ms_api_dispatch (the whole
 * request), with a real libuv loop and a SQLite store in a fresh temporary
 * directory for the handlers that run on the pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "unit_util.h"

#include "api/api.h"
#include "chat/work.h"
#include "core/ms.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    uv_loop_t loop;
    ms_config_t cfg;
    ms_api_t api;
    ms_user_t alice;
    char *alice_token;
    int responses; /* on_response calls */
} fx_t;

static fx_t *fx;

static int setup(void **state) {
    fx_t *f = ms_xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ms-test-api-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    ms_config_defaults(&f->cfg);
    f->cfg.login_rate_per_min = 3;
    f->cfg.ticket_rate_per_min = 2;
    uv_loop_init(&f->loop);
    ms_work_init(f->dir);
    f->api.loop = &f->loop;
    f->api.cfg = &f->cfg;
    memset(f->api.jwt_secret, 'k', 32);
    f->api.jwt_secret_len = 32;
    ms_limits_memory_config_t lc = {
        .max_keys = 1024, .max_tickets = 100, .max_tickets_per_user = 4};
    f->api.limits = ms_limits_memory_new(&lc);
    f->api.ready = 1;
    ms_store_t *st = NULL;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    assert_int_equal(
        ms_store_user_create(st, "alice@example.org", "$argon2id$fake", "clinician", &f->alice), 0);
    ms_store_close(st);
    assert_int_equal(ms_jwt_issue(f->api.jwt_secret, f->api.jwt_secret_len, f->alice.id,
                                  f->alice.email, f->alice.role, 600, &f->alice_token),
                     0);
    fx = f;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ms_work_shutdown();
    assert_int_equal(uv_loop_close(&f->loop), 0);
    ms_limits_free(f->api.limits);
    free(f->alice_token);
    ms_config_free(&f->cfg);
    if (ms_test_rm_rf(f->dir) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static void on_response(ms_http_req_t *r) {
    (void)r;
    fx->responses++;
}

/* A request as the network layer builds it from the headers. */
static ms_http_req_t *req(ms_http_method_t method, const char *path, const char *token,
                          const char *body) {
    ms_http_req_t *r = ms_xcalloc(1, sizeof *r);
    r->api = &fx->api;
    r->refs = 1;
    r->conn = fx; /* any non-NULL: "the connection is open" */
    r->on_response = on_response;
    r->method = method;
    r->path = ms_xstrdup(path);
    snprintf(r->peer, sizeof r->peer, "192.0.2.1");
    if (token) {
        size_t n = strlen(token) + 8;
        r->authorization = ms_xmalloc(n);
        snprintf(r->authorization, n, "Bearer %s", token);
    }
    ms_buf_init(&r->body);
    if (body)
        ms_buf_puts(&r->body, body);
    r->content_length = body ? (int64_t)strlen(body) : 0;
    return r;
}

/* Runs the request to its response (pool handlers included). */
static ms_http_req_t *run(ms_http_req_t *r) {
    int before = fx->responses;
    ms_api_dispatch(r);
    while (fx->responses == before)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->responses, before + 1);
    return r;
}

static const char *error_code(ms_http_req_t *r) {
    static char code[64];
    json_t *j = json_loadb(r->resp_body, r->resp_len, 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(code, sizeof code, "%s", c ? c : "");
    json_decref(j);
    return code;
}

static void done(ms_http_req_t *r) {
    r->conn = NULL;
    ms_http_req_unref(r);
}

static void expect(ms_http_req_t *r, int status, const char *code) {
    if (r->status != status || (code && strcmp(error_code(r), code) != 0))
        fail_msg("%s: got %d %.*s, wanted %d %s", r->path, r->status, (int)r->resp_len,
                 r->resp_body ? r->resp_body : "", status, code ? code : "");
    done(r);
}

static const char *header(ms_http_req_t *r, const char *name) {
    for (ms_http_header_t *h = r->resp_headers; h; h = h->next)
        if (!strcmp(h->name, name))
            return h->value;
    return NULL;
}

static void test_routes(void **state) {
    fx_t *f = *state;
    expect(run(req(MS_HTTP_GET, "/api/nope", f->alice_token, NULL)), 404, "not_found");
    expect(run(req(MS_HTTP_GET, "/api/conversations/a/b/c", f->alice_token, NULL)), 404,
           "not_found");
    ms_http_req_t *r = run(req(MS_HTTP_PUT, "/api/conversations", f->alice_token, "{}"));
    assert_string_equal(r->allow, "GET, POST");
    expect(r, 405, "method_not_allowed");
    expect(run(req(MS_HTTP_GET, "/api/auth/login", NULL, NULL)), 405, "method_not_allowed");
    expect(run(req(MS_HTTP_GET, "/ready", NULL, NULL)), 200, NULL);
    /* {id} takes one segment; an id that is not a UUID is a plain 404. */
    expect(run(req(MS_HTTP_GET, "/api/conversations/not-a-uuid", f->alice_token, NULL)), 404,
           "not_found");
    expect(run(req(MS_HTTP_GET, "/api/conversations/00000000-0000-4000-8000-000000000000/messages",
                   f->alice_token, NULL)),
           404, "not_found");
}

/* Defect 11: the route, the size and the token are checked on the headers;
 * the body is not needed (nor read) to refuse. */
static void test_refused_on_headers(void **state) {
    fx_t *f = *state;
    ms_http_req_t *r = req(MS_HTTP_POST, "/api/conversations", NULL, NULL);
    r->content_length = 1000000;
    assert_int_equal(ms_api_begin(r), 401);
    assert_string_equal(error_code(r), "unauthorized");
    assert_int_equal(ms_api_begin(r), 401); /* idempotent */
    done(r);
    r = req(MS_HTTP_POST, "/api/nope", f->alice_token, NULL);
    r->content_length = 1000000;
    assert_int_equal(ms_api_begin(r), 404);
    done(r);
    r = req(MS_HTTP_POST, "/api/conversations", f->alice_token, NULL);
    r->content_length = f->cfg.max_body_bytes + 1;
    assert_int_equal(ms_api_begin(r), 413);
    done(r);
    /* A route without a token gets the small body limit. */
    r = req(MS_HTTP_POST, "/api/auth/login", NULL, NULL);
    r->content_length = f->cfg.max_unauth_body_bytes + 1;
    assert_int_equal(ms_api_begin(r), 413);
    done(r);
    /* Accepted: a JSON route keeps its body, within max_body_bytes. */
    r = req(MS_HTTP_POST, "/api/conversations", f->alice_token, NULL);
    r->content_length = 100;
    assert_int_equal(ms_api_begin(r), 0);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->body_keep, 1);
    assert_int_equal(r->body_limit, f->cfg.max_body_bytes);
    done(r);
    r = req(MS_HTTP_GET, "/api/conversations", f->alice_token, NULL);
    assert_int_equal(ms_api_begin(r), 0);
    assert_int_equal(r->body_keep, 0); /* a GET's body is discarded */
    done(r);
}

static void test_bodies(void **state) {
    fx_t *f = *state;
    expect(run(req(MS_HTTP_POST, "/api/conversations", f->alice_token, "{\"title\": ")), 400,
           "invalid_request");
    expect(run(req(MS_HTTP_POST, "/api/conversations", f->alice_token, "[1]")), 400,
           "invalid_request");
    expect(run(req(MS_HTTP_POST, "/api/conversations", f->alice_token,
                   "{\"title\":\"a\",\"title\":\"b\"}")),
           400, "invalid_request");
    /* A body that grew past the limit after the headers (chunked). */
    ms_http_req_t *r = req(MS_HTTP_POST, "/api/conversations", f->alice_token, NULL);
    r->content_length = -1;
    static const char spaces[1024] = {' '};
    while ((int64_t)r->body.len <= f->cfg.max_body_bytes)
        ms_buf_append(&r->body, spaces, sizeof spaces);
    expect(run(r), 413, "too_large");
    r = run(req(MS_HTTP_POST, "/api/conversations", f->alice_token, "{\"title\":\"Ward 7B\"}"));
    assert_int_equal(r->status, 201);
    json_t *j = json_loadb(r->resp_body, r->resp_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Ward 7B");
    json_decref(j);
    done(r);
    /* An empty body is allowed where the JSON is optional. */
    expect(run(req(MS_HTTP_POST, "/api/conversations", f->alice_token, NULL)), 201, NULL);
}

static void test_auth_on_headers(void **state) {
    fx_t *f = *state;
    expect(run(req(MS_HTTP_GET, "/api/conversations", NULL, NULL)), 401, "unauthorized");
    expect(run(req(MS_HTTP_GET, "/api/conversations", "garbage", NULL)), 401, "unauthorized");
    char *tampered = ms_xstrdup(f->alice_token);
    tampered[strlen(tampered) - 2] ^= 1;
    expect(run(req(MS_HTTP_GET, "/api/conversations", tampered, NULL)), 401, "unauthorized");
    free(tampered);
    ms_http_req_t *r = req(MS_HTTP_GET, "/api/conversations", NULL, NULL);
    r->authorization = ms_xstrdup(f->alice_token); /* not "Bearer ..." */
    expect(run(r), 401, "unauthorized");
    expect(run(req(MS_HTTP_GET, "/api/conversations", f->alice_token, NULL)), 200, NULL);
}

/* Defect 19: a deleted user's still-valid access token is refused by every
 * authenticated route, loop handlers (ws-ticket, chat) included. */
static void test_deleted_user_refused(void **state) {
    fx_t *f = *state;
    ms_store_t *st = NULL;
    ms_user_t bob;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    assert_int_equal(
        ms_store_user_create(st, "bob@example.org", "$argon2id$fake", "clinician", &bob), 0);
    char *tok = NULL;
    assert_int_equal(ms_jwt_issue(f->api.jwt_secret, f->api.jwt_secret_len, bob.id, bob.email,
                                  bob.role, 600, &tok),
                     0);
    expect(run(req(MS_HTTP_GET, "/api/conversations", tok, NULL)), 200, NULL);
    expect(run(req(MS_HTTP_POST, "/api/ws-ticket", tok, NULL)), 200, NULL);
    assert_int_equal(ms_store_user_delete(st, "BOB@example.org", NULL), 0);
    assert_int_equal(ms_store_user_delete(st, "bob@example.org", NULL), MS_ENOENT);
    ms_store_close(st);
    expect(run(req(MS_HTTP_GET, "/api/conversations", tok, NULL)), 401, "unauthorized");
    expect(run(req(MS_HTTP_POST, "/api/conversations", tok, "{}")), 401, "unauthorized");
    ms_http_req_t *r = req(MS_HTTP_GET, "/api/kb/search", tok, NULL);
    r->query = ms_xstrdup("q=asthma");
    expect(run(r), 401, "unauthorized");
    expect(run(req(MS_HTTP_POST, "/api/ws-ticket", tok, NULL)), 401, "unauthorized");
    expect(run(req(MS_HTTP_POST,
                   "/api/conversations/00000000-0000-4000-8000-000000000000/messages/chat", tok,
                   "{\"text\":\"hi\"}")),
           401, "unauthorized");
    free(tok);
}

/* Defect 4: an address over its budget is refused on the headers, before
 * its email is known: no counter is created per email then. */
static void test_login_rate_limit(void **state) {
    fx_t *f = *state;
    ms_limits_stats_t s0, s1;
    for (int i = 0; i < 3; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"email\":\"nobody%d@example.org\",\"password\":\"x\"}", i);
        ms_http_req_t *r = req(MS_HTTP_POST, "/api/auth/login", NULL, body);
        snprintf(r->peer, sizeof r->peer, "198.51.100.7");
        expect(run(r), 401, "invalid_credentials");
    }
    ms_limits_stats(f->api.limits, &s0);
    for (int i = 0; i < 100; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"email\":\"other%d@example.org\",\"password\":\"x\"}", i);
        ms_http_req_t *r = req(MS_HTTP_POST, "/api/auth/login", NULL, body);
        snprintf(r->peer, sizeof r->peer, "198.51.100.7");
        assert_int_equal(ms_api_begin(r), 429); /* on the headers */
        assert_string_equal(header(r, "retry-after"), "60");
        done(r);
    }
    ms_limits_stats(f->api.limits, &s1);
    assert_int_equal(s1.counter_keys, s0.counter_keys);
    /* Another address is not affected. */
    ms_http_req_t *r = req(MS_HTTP_POST, "/api/auth/login", NULL,
                           "{\"email\":\"x@example.org\",\"password\":\"y\"}");
    snprintf(r->peer, sizeof r->peer, "198.51.100.8");
    expect(run(r), 401, "invalid_credentials");
    /* Per email too: many addresses at one account. */
    for (int i = 0; i < 4; i++) {
        r = req(MS_HTTP_POST, "/api/auth/login", NULL,
                "{\"email\":\"Target@example.org\",\"password\":\"guess\"}");
        snprintf(r->peer, sizeof r->peer, "203.0.113.%d", i + 1);
        expect(run(r), i < 3 ? 401 : 429, i < 3 ? "invalid_credentials" : "rate_limited");
    }
}

/* Defect 18: tickets are rate-limited per user. */
static void test_ticket_rate_limit(void **state) {
    fx_t *f = *state;
    for (int i = 0; i < 2; i++) {
        ms_http_req_t *r = run(req(MS_HTTP_POST, "/api/ws-ticket", f->alice_token, NULL));
        assert_int_equal(r->status, 200);
        json_t *j = json_loadb(r->resp_body, r->resp_len, 0, NULL);
        ms_jwt_claims_t c;
        assert_int_equal(ms_limits_ticket_redeem(
                             f->api.limits, json_string_value(json_object_get(j, "ticket")), &c),
                         0);
        assert_string_equal(c.sub, f->alice.id);
        json_decref(j);
        done(r);
    }
    ms_http_req_t *r = run(req(MS_HTTP_POST, "/api/ws-ticket", f->alice_token, NULL));
    assert_string_equal(header(r, "retry-after"), "60");
    expect(r, 429, "rate_limited");
}

static void test_response_headers(void **state) {
    fx_t *f = *state;
    ms_http_req_t *r = req(MS_HTTP_GET, "/ready", NULL, NULL);
    assert_int_equal(ms_http_add_header(r, "set-cookie", "a=b; HttpOnly"), 0);
    assert_int_equal(ms_http_add_header(r, "cache-control", "public, max-age=31536000"), 0);
    /* Header injection is refused. */
    assert_int_equal(ms_http_add_header(r, "x-a", "b\r\nSet-Cookie: evil=1"), MS_EINVAL);
    assert_int_equal(ms_http_add_header(r, "x-a\r\nb", "c"), MS_EINVAL);
    assert_int_equal(ms_http_add_header(r, "x-a:", "c"), MS_EINVAL);
    assert_int_equal(ms_http_add_header(r, "", "c"), MS_EINVAL);
    assert_int_equal(ms_http_add_header(r, "x-a", NULL), MS_EINVAL);
    assert_string_equal(r->resp_headers->name, "set-cookie");
    assert_string_equal(r->resp_headers->next->name, "cache-control");
    assert_null(r->resp_headers->next->next);
    expect(run(r), 200, NULL);
    (void)f;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_refused_on_headers),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_auth_on_headers),
        cmocka_unit_test(test_deleted_user_refused),
        cmocka_unit_test(test_login_rate_limit),
        cmocka_unit_test(test_ticket_rate_limit),
        cmocka_unit_test(test_response_headers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
