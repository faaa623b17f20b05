/* libFuzzer target: the REST request path after HTTP framing, i.e.
 * ms_api_dispatch on a hand-built ms_http_req_t: route matching, the
 * Authorization header, JSON bodies, the login rate limit and the handlers
 * that run on the loop (/, /health, /ready, /api/ws-ticket, the chat
 * route's validation).
 *
 * Routes that need storage reach the thread pool, whose data directory
 * (/dev/null/...) cannot be opened: they answer 500 without touching
 * storage, which keeps every run in memory and independent of the last.
 *
 * Input:
 *   line 1  "<METHOD> <path>[?<query>]" (a trailing " !" marks the body as
 *           over max_body_bytes, as the network layer does)
 *   line 2  the Authorization header: "$valid" for a valid access token,
 *           "" for none, anything else verbatim
 *   rest    the body
 *
 * With the two-phase API (ms_api_begin on the headers, then
 * ms_api_dispatch once the body is in: auth/limits.h present), the harness
 * does what the network layer does: begin with the body's length, answer a
 * refusal without reading the body, keep the body only when the route
 * wants it and within its limit, then dispatch. A line-2 value starting
 * with "Cookie: " is sent as the Cookie header instead.
 *
 * Properties: every request gets exactly one response, in time; its status
 * is an HTTP status; a JSON response is one JSON object, and an error one
 * carries {"error":{"code","message"}}; a 405 names the allowed methods;
 * without the valid token nothing but the public routes answers 2xx. */
#include "fuzz_util.h"

#include "api/api.h"
#include "chat/work.h"
#include "core/log.h"
#include "llm/provider.h"

#include "auth/limits.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_ID "0190f3a8-1111-7000-8000-000000000001"
static const unsigned char secret[] = "fuzz-secret-0123456789abcdef-0123456789";

static uv_loop_t loop;
static ms_config_t cfg;
static ms_provider_t *provider;
static ms_chat_t *chat;
static ms_api_t api;
static char *valid_token;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_quiet_log();
    if (sodium_init() < 0)
        abort();
    ms_config_defaults(&cfg);
    /* Not a directory anyone can create: storage always fails. */
    ms_work_init("/dev/null/medstream-fuzz");
    uv_loop_init(&loop);
    ms_offline_config_t ocfg = {.word_interval_ms = 0, .min_score = 0, .max_sentences = 5};
    provider = ms_provider_offline_new(&ocfg);
    chat = ms_chat_new(&loop, &cfg, provider, NULL);
    api.loop = &loop;
    api.cfg = &cfg;
    memcpy(api.jwt_secret, secret, sizeof secret - 1);
    api.jwt_secret_len = sizeof secret - 1;
    api.chat = chat;
    api.ready = 1;
    if (ms_jwt_issue(secret, sizeof secret - 1, USER_ID, "fuzz@example.org", "user", 86400,
                     &valid_token) != 0)
        abort();
    return 0;
}

typedef struct {
    int responses;
} probe_t;

static probe_t probe;

/* Public routes: anything else answering 2xx without a token is a hole. */
static int public_path(const char *path) {
    return !strcmp(path, "/") || !strcmp(path, "/health") || !strcmp(path, "/ready") ||
           !strncmp(path, "/api/auth/", 10);
}

static void check_response(ms_http_req_t *r, int authed) {
    FZ_ASSERT(r->status >= 100 && r->status <= 599, "status %d", r->status);
    if (r->content_type && !strcmp(r->content_type, "application/json")) {
        FZ_ASSERT(r->resp_body || r->status == 204, "JSON response without a body");
        if (r->resp_body) {
            FZ_ASSERT(r->resp_len == strlen(r->resp_body), "resp_len is not the body's length");
            json_error_t je;
            json_t *j = json_loadb(r->resp_body, r->resp_len, 0, &je);
            FZ_ASSERT(json_is_object(j), "body is not a JSON object: %s", r->resp_body);
            if (r->status >= 400) {
                json_t *e = json_object_get(j, "error");
                FZ_ASSERT(json_is_string(json_object_get(e, "code")) &&
                              json_is_string(json_object_get(e, "message")),
                          "error body without code and message: %s", r->resp_body);
            }
            json_decref(j);
        }
    }
    if (r->status == 405)
        FZ_ASSERT(r->allow[0], "405 without an Allow value");
    if (r->status >= 200 && r->status < 300 && !authed)
        FZ_ASSERT(public_path(r->path), "%s answered %d without a token", r->path, r->status);
}

static int authed_now;

static void on_response(ms_http_req_t *r) {
    probe.responses++;
    check_response(r, authed_now);
}

static ms_http_method_t method_of(const char *m, size_t n) {
    static const struct {
        const char *name;
        ms_http_method_t m;
    } map[] = {{"GET", MS_HTTP_GET}, {"POST", MS_HTTP_POST},     {"PATCH", MS_HTTP_PATCH},
               {"PUT", MS_HTTP_PUT}, {"DELETE", MS_HTTP_DELETE}, {"OPTIONS", MS_HTTP_OPTIONS}};
    for (size_t i = 0; i < MS_COUNTOF(map); i++)
        if (strlen(map[i].name) == n && !memcmp(map[i].name, m, n))
            return map[i].m;
    return MS_HTTP_OTHER;
}

/* Splits the next line off [*p, end). */
static int next_line(const uint8_t **p, const uint8_t *end, const uint8_t **line, size_t *len) {
    if (*p >= end)
        return 0;
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    *line = *p;
    *len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    *p = nl ? nl + 1 : end;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size, *l1, *l2;
    size_t n1, n2;
    if (!next_line(&p, end, &l1, &n1))
        return 0;
    if (!next_line(&p, end, &l2, &n2))
        n2 = 0, l2 = p;
    char *target = fz_strndup(l1, n1);
    if (memchr(l1, '\0', n1)) { /* lws hands over C strings */
        free(target);
        return 0;
    }
    ms_http_req_t *r = calloc(1, sizeof *r);
    r->api = &api;
    r->refs = 1; /* the harness's, as the network layer's */
    r->conn = r; /* any non-NULL: the connection is open */
    r->on_response = on_response;
    snprintf(r->peer, sizeof r->peer, "127.0.0.1");
    size_t tl = strlen(target);
    if (tl >= 2 && !strcmp(target + tl - 2, " !")) {
        r->body_too_large = 1;
        target[tl - 2] = '\0';
    }
    char *sp = strchr(target, ' ');
    r->method = method_of(target, sp ? (size_t)(sp - target) : strlen(target));
    const char *uri = sp ? sp + 1 : "/";
    const char *q = strchr(uri, '?');
    r->path = q ? ms_xstrndup(uri, (size_t)(q - uri)) : ms_xstrdup(uri);
    if (!r->path[0]) {
        free(r->path);
        r->path = ms_xstrdup("/");
    }
    r->query = q ? ms_xstrdup(q + 1) : NULL;
    char *auth = fz_strndup(l2, n2);
    authed_now = !strcmp(auth, "$valid");
    if (authed_now) {
        size_t n = strlen(valid_token) + 8;
        r->authorization = ms_xmalloc(n);
        snprintf(r->authorization, n, "Bearer %s", valid_token);
    } else if (auth[0] && !memchr(l2, '\0', n2)) {
        if (!strncmp(auth, "Cookie: ", 8))
            r->cookie = ms_xstrdup(auth + 8);
        else
            r->authorization = ms_xstrdup(auth);
    }
    free(auth);
    ms_buf_init(&r->body);
    size_t blen = p < end ? (size_t)(end - p) : 0;
    probe.responses = 0;
    /* Fresh limiters per input, so runs do not depend on each other. */
    ms_limits_memory_config_t lc = {.max_keys = 4096, .max_tickets = 64, .max_tickets_per_user = 8};
    api.limits = ms_limits_memory_new(&lc);
    r->content_length = r->body_too_large ? (int64_t)cfg.max_body_bytes + 1 : (int64_t)blen;
    if (ms_api_begin(r) != 0) {
        /* Refused on the headers: the network layer writes it as is. */
        FZ_ASSERT(r->status >= 400, "ms_api_begin refused with status %d", r->status);
        on_response(r);
    } else if ((int64_t)blen > r->body_limit) {
        probe.responses++; /* the network layer answers 413 itself */
    } else {
        if (r->body_keep && blen)
            ms_buf_append(&r->body, p, blen);
        ms_api_dispatch(r);
    }
    while (probe.responses == 0)
        uv_run(&loop, UV_RUN_ONCE);
    /* Let whatever the request started wind down (the chat route's turn). */
    uv_run(&loop, UV_RUN_NOWAIT);
    FZ_ASSERT(probe.responses == 1, "%d responses to one request", probe.responses);
    r->conn = NULL;
    ms_http_req_unref(r);
    ms_limits_free(api.limits);
    api.limits = NULL;
    free(target);
    return 0;
}
