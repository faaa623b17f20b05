/* Unit tests of the llm module's model-provider side: the streaming
 * parsers (any split of the bytes gives the same events), the citation
 * filter, grounding, the model prompt, the circuit breaker, the registry's
 * configuration errors, and an openai / ollama generation over libcurl on
 * a real libuv loop against a scripted server in the same loop (complete,
 * cancel, pause). Every loop test ends with uv_loop_close() == 0.
 *
 * (Kept apart from test_llm.c, the offline answerer's, which is long
 * enough already; linked against ms_llm the same way.) */
#include "llm/breaker.h"
#include "llm/cite.h"
#include "llm/prompt.h"
#include "llm/registry.h"
#include "llm/stream.h"

#include "core/buf.h"
#include "core/config.h"
#include "core/ms.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- SSE ------------------------------------------------------------------ */

/* Events as "type|data\n" lines. */
static int sse_rec(void *ctx, const char *type, const char *data, size_t len) {
    ms_buf_t *b = ctx;
    ms_buf_printf(b, "%s|", type);
    ms_buf_append(b, data, len);
    ms_buf_putc(b, '\n');
    return 0;
}

/* Parses s whole, then split at every position into two reads, then one
 * byte at a time: always the same events. Returns them (free()). */
static char *sse_all_splits(const char *s) {
    size_t n = strlen(s);
    ms_buf_t whole = {0};
    ms_sse_t p = {0};
    assert_int_equal(ms_sse_feed(&p, s, n, sse_rec, &whole), 0);
    ms_sse_end(&p);
    ms_sse_reset(&p);
    ms_buf_cstr(&whole);
    for (size_t cut = 0; cut <= n; cut++) {
        ms_buf_t b = {0};
        assert_int_equal(ms_sse_feed(&p, s, cut, sse_rec, &b), 0);
        assert_int_equal(ms_sse_feed(&p, s + cut, n - cut, sse_rec, &b), 0);
        ms_sse_end(&p);
        ms_sse_reset(&p);
        assert_string_equal(ms_buf_cstr(&b), ms_buf_cstr(&whole));
        ms_buf_free(&b);
    }
    ms_buf_t b = {0};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ms_sse_feed(&p, s + i, 1, sse_rec, &b), 0);
    ms_sse_reset(&p);
    assert_string_equal(ms_buf_cstr(&b), ms_buf_cstr(&whole));
    ms_buf_free(&b);
    return ms_buf_take(&whole);
}

static void test_sse_whatwg_rules(void **state) {
    (void)state;
    /* BOM, a comment (keep-alive), CRLF, a lone CR, LF, multi-line data,
     * "data" without its space, a field without a colon, an event type,
     * id/retry ignored, an empty data line, and an event left unfinished. */
    const char *s = "\xEF\xBB\xBF: keep-alive\r\n"
                    "data: {\"a\":1}\r\n\r\n"
                    "data:first\rdata: second\r\r"
                    "event: ping\nid: 7\nretry: 100\ndata:  two spaces\n\n"
                    "data\n\n"
                    "data: [DONE]\n\n"
                    "unknown: x\n\n"
                    "data: never dispatched";
    char *ev = sse_all_splits(s);
    assert_string_equal(ev, "message|{\"a\":1}\n"
                            "message|first\nsecond\n"
                            "ping| two spaces\n"
                            "message|\n" /* "data" alone: one empty line of data */
                            "message|[DONE]\n");
    free(ev);
    /* The incomplete event at the end is discarded, and said so. */
    ms_sse_t p = {0};
    ms_buf_t b = {0};
    assert_int_equal(ms_sse_feed(&p, "data: x\n", 8, sse_rec, &b), 0);
    assert_int_equal(ms_sse_end(&p), 1);
    assert_int_equal(b.len, 0);
    ms_sse_reset(&p);
    ms_buf_free(&b);
}

static void test_sse_limits(void **state) {
    (void)state;
    ms_sse_t p = {.max_line = 16};
    ms_buf_t b = {0};
    assert_int_equal(ms_sse_feed(&p, "data: 0123456789", 16, sse_rec, &b), 0);
    assert_int_equal(ms_sse_feed(&p, "X", 1, sse_rec, &b), MS_ETOOBIG); /* a long line */
    ms_sse_reset(&p);
    /* Many short data lines of one event are bounded too. */
    int rc = 0;
    for (int i = 0; i < 10 && !rc; i++)
        rc = ms_sse_feed(&p, "data: 1234\n", 11, sse_rec, &b);
    assert_int_equal(rc, MS_ETOOBIG);
    ms_sse_reset(&p);
    ms_buf_free(&b);
}

/* ---- NDJSON ----------------------------------------------------------------- */

static int nd_rec(void *ctx, const char *line, size_t len) {
    ms_buf_t *b = ctx;
    ms_buf_append(b, line, len);
    ms_buf_putc(b, '|');
    return 0;
}

static void test_ndjson_splits_and_limits(void **state) {
    (void)state;
    const char *s = "{\"a\":1}\n\r\n  \n{\"b\":\"x y\"}\r\n{\"done\":true}";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        ms_ndjson_t p = {0};
        ms_buf_t b = {0};
        assert_int_equal(ms_ndjson_feed(&p, s, cut, nd_rec, &b), 0);
        assert_int_equal(ms_ndjson_feed(&p, s + cut, n - cut, nd_rec, &b), 0);
        assert_int_equal(ms_ndjson_end(&p, nd_rec, &b), 0);
        assert_string_equal(ms_buf_cstr(&b), "{\"a\":1}|{\"b\":\"x y\"}|{\"done\":true}|");
        ms_ndjson_reset(&p);
        ms_buf_free(&b);
    }
    ms_ndjson_t p = {.max_line = 8};
    ms_buf_t b = {0};
    assert_int_equal(ms_ndjson_feed(&p, "123456789", 9, nd_rec, &b), MS_ETOOBIG);
    ms_ndjson_reset(&p);
    ms_buf_free(&b);
}

/* ---- the citation filter ------------------------------------------------------ */

/* Filters s split into pieces of k bytes (0: whole). */
static char *cite_run(const char *s, size_t k, size_t npass, const char *const *keys,
                      ms_cite_t *c) {
    ms_cite_init(c, npass, keys);
    ms_buf_t out = {0};
    size_t n = strlen(s);
    if (!k)
        k = n ? n : 1;
    for (size_t i = 0; i < n; i += k)
        ms_cite_feed(c, s + i, n - i < k ? n - i : k, &out);
    ms_cite_flush(c, &out);
    ms_buf_cstr(&out);
    return ms_buf_take(&out);
}

static void test_cite_renumbers_and_drops(void **state) {
    (void)state;
    const char *keys[] = {"docA", "docB", "docA", "docC"};
    const char *in = "Gout hurts [3]. It is treated [2, 4] and [9] never [0]. Also [1][3]. "
                     "See [note] and a[2b] or [] \xc3\xa9[4].";
    const char *want = "Gout hurts [1]. It is treated [2][3] and never. Also [1]. "
                       "See [note] and a[2b] or [] \xc3\xa9[3].";
    for (size_t k = 0; k <= 5; k++) {
        ms_cite_t c;
        char *out = cite_run(in, k, 4, keys, &c);
        assert_string_equal(out, want);
        /* Citation 1 is passage 3 (docA); passage 1 is docA too: the same. */
        assert_int_equal(c.ncited, 3);
        assert_int_equal(c.cited[0], 2);
        assert_int_equal(c.cited[1], 1);
        assert_int_equal(c.cited[2], 3);
        assert_int_equal(c.dropped, 2);
        ms_cite_free(&c);
        free(out);
    }
}

static void test_cite_holds_only_what_may_be_a_marker(void **state) {
    (void)state;
    ms_cite_t c;
    ms_cite_init(&c, 2, NULL);
    ms_buf_t out = {0};
    ms_cite_feed(&c, "Iron ", 5, &out);
    assert_int_equal(out.len, 4); /* the space may precede a marker */
    ms_cite_feed(&c, "[", 1, &out);
    ms_cite_feed(&c, "1", 1, &out);
    assert_int_equal(out.len, 4);
    ms_cite_feed(&c, "] ok", 4, &out);
    assert_string_equal(ms_buf_cstr(&out), "Iron [1] ok");
    /* An unclosed bracket at the end goes out as it was. */
    ms_cite_feed(&c, " [2", 3, &out);
    ms_cite_flush(&c, &out);
    assert_string_equal(ms_buf_cstr(&out), "Iron [1] ok [2");
    /* A list too long to be a marker is text, without the '[' that would
     * make the client read it as one (its numbers are not citations). */
    ms_buf_reset(&out);
    ms_cite_feed(&c, "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]", 43, &out);
    ms_cite_flush(&c, &out);
    assert_string_equal(ms_buf_cstr(&out), "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]");
    /* "[1" interrupted by a marker that is dropped cannot close into "[1]". */
    ms_buf_reset(&out);
    ms_cite_feed(&c, "x [1[0]] y [1 2] z [1,] w [ 1]", 30, &out);
    ms_cite_flush(&c, &out);
    assert_string_equal(ms_buf_cstr(&out), "x 1] y [1 2] z [1,] w [ 1]");
    ms_cite_free(&c);
    ms_buf_free(&out);
}

/* ---- grounding ------------------------------------------------------------------ */

static void test_grounding_counts_supported_sentences(void **state) {
    (void)state;
    ms_kb_hit_t hits[2] = {
        {.id = "p1",
         .text = "Hereditary hemochromatosis makes the body absorb too much iron from the diet."},
        {.id = "p2", .text = "Phlebotomy, the regular removal of blood, lowers stored iron."}};
    size_t cited[2] = {0, 1};
    ms_grounding_t g;
    const char *a = "Treatment\n\nHereditary hemochromatosis makes the body absorb too much iron "
                    "[1]. Regular removal of blood lowers iron [2]. Regular removal of blood "
                    "lowers iron [1]. Aspirin cures it.";
    ms_llm_grounding(a, strlen(a), hits, 2, cited, 2, 0.5, &g);
    /* The heading is no claim; the third cites the wrong passage; the last
     * cites nothing. */
    assert_int_equal(g.sentences, 4);
    assert_int_equal(g.supported, 2);
    assert_true(g.share > 0.49 && g.share < 0.51);
    ms_llm_grounding("", 0, hits, 2, cited, 2, 0.5, &g);
    assert_true(g.share < 0);
    ms_llm_grounding("[1].", 4, hits, 2, cited, 2, 0.5, &g);
    assert_int_equal(g.sentences, 0);
}

/* ---- the prompt ------------------------------------------------------------------ */

static void test_prompt_order_numbers_and_budget(void **state) {
    (void)state;
    ms_kb_hit_t hits[3] = {{.id = "a",
                            .title = "T",
                            .focus = "Gout;Gouty arthritis",
                            .qtype = "treatment",
                            .source = "MedlinePlus",
                            .text = "Colchicine and NSAIDs treat flares."},
                           {.id = "b", .title = "Second", .text = "Second passage."},
                           {.id = "c", .title = "Third", .text = "Third passage."}};
    const char *roles[] = {"user", "assistant", "user", "assistant"};
    const char *texts[] = {"old question", "old answer [1].\n\nDISCLAIMER", "newer question",
                           "newer answer [2] here.\n\nDISCLAIMER"};
    ms_llm_prompt_in_t in = {.context = "Patient: 67 y, CKD stage 3",
                             .hits = hits,
                             .nhits = 3,
                             .history_roles = roles,
                             .history_texts = texts,
                             .nhistory = 4,
                             .question = "How is gout treated?",
                             .strip_suffix = "DISCLAIMER",
                             .max_prompt_tokens = 6000,
                             .max_history_tokens = 1500};
    ms_llm_prompt_t p;
    assert_int_equal(ms_llm_prompt_build(&in, &p), 0);
    assert_int_equal(p.nmsgs, 6);
    assert_string_equal(p.msgs[0].role, "system");
    const char *sys = p.msgs[0].content;
    const char *ins = strstr(sys, "clinical decision-support");
    const char *ctx = strstr(sys, "Patient: 67 y, CKD stage 3");
    const char *p1 = strstr(sys, "[1] Gout - treatment (MedlinePlus)\nColchicine");
    const char *p3 = strstr(sys, "[3] Third\nThird passage.");
    assert_true(ins && ctx && p1 && p3 && ins < ctx && ctx < p1 && p1 < p3);
    assert_int_equal(p.npassages, 3);
    assert_string_equal(p.msgs[2].content, "old answer.");
    assert_string_equal(p.msgs[4].content, "newer answer here.");
    assert_string_equal(p.msgs[5].role, "user");
    assert_string_equal(p.msgs[5].content, "How is gout treated?");
    assert_true(p.tokens > 0 && p.tokens <= 6000);
    ms_llm_prompt_free(&p);

    /* A small budget: recent turns go first (newest kept), then passages. */
    in.max_history_tokens = 12;
    assert_int_equal(ms_llm_prompt_build(&in, &p), 0);
    assert_int_equal(p.nhistory, 1);
    assert_string_equal(p.msgs[1].content, "newer answer here.");
    ms_llm_prompt_free(&p);
    in.max_prompt_tokens = 280;
    in.max_history_tokens = 0;
    assert_int_equal(ms_llm_prompt_build(&in, &p), 0);
    assert_true(p.npassages < 3);
    assert_true(p.tokens <= 280);
    ms_llm_prompt_free(&p);
    /* The instructions and the question alone over the limit. */
    in.max_prompt_tokens = 20;
    assert_int_equal(ms_llm_prompt_build(&in, &p), MS_ETOOBIG);
    assert_int_equal(p.nmsgs, 0);
}

static void test_prompt_without_passages_says_so(void **state) {
    (void)state;
    ms_llm_prompt_in_t in = {
        .question = "q?", .max_prompt_tokens = 1000, .max_history_tokens = 100};
    ms_llm_prompt_t p;
    assert_int_equal(ms_llm_prompt_build(&in, &p), 0);
    assert_int_equal(p.npassages, 0);
    assert_non_null(strstr(p.msgs[0].content, "none were found"));
    assert_int_equal(p.nmsgs, 2);
    ms_llm_prompt_free(&p);
}

/* ---- the circuit breaker ---------------------------------------------------------- */

static void test_breaker_window_cooldown_probe(void **state) {
    (void)state;
    ms_breaker_config_t cfg = {.failures = 3, .window_ms = 1000, .cooldown_ms = 500};
    ms_breaker_t b;
    ms_breaker_init(&b, &cfg);
    /* Failures spread wider than the window never open it. */
    for (int64_t t = 0; t < 10000; t += 600) {
        assert_true(ms_breaker_allow(&b, t));
        ms_breaker_failure(&b, t);
    }
    assert_int_equal(ms_breaker_state(&b, 10000), MS_BREAKER_CLOSED);
    /* Three within the window do. */
    ms_breaker_failure(&b, 20000);
    ms_breaker_failure(&b, 20100);
    ms_breaker_failure(&b, 20200);
    assert_int_equal(ms_breaker_state(&b, 20200), MS_BREAKER_OPEN);
    assert_false(ms_breaker_allow(&b, 20699));
    /* After the cool-down: one probe, not two. */
    assert_true(ms_breaker_allow(&b, 20700));
    assert_int_equal(b.state, MS_BREAKER_HALF_OPEN);
    assert_false(ms_breaker_allow(&b, 20701));
    ms_breaker_failure(&b, 20800); /* the probe failed: open again */
    assert_false(ms_breaker_allow(&b, 21000));
    assert_true(ms_breaker_allow(&b, 21300));
    ms_breaker_abandon(&b); /* a cancelled probe may be retried */
    assert_true(ms_breaker_allow(&b, 21301));
    ms_breaker_success(&b, 21400);
    assert_int_equal(ms_breaker_state(&b, 21400), MS_BREAKER_CLOSED);
    assert_true(ms_breaker_allow(&b, 21401));
    assert_string_equal(ms_breaker_state_name(MS_BREAKER_HALF_OPEN), "half_open");
}

/* ---- the registry's configuration ---------------------------------------------------- */

static char cfg_path[64];

static int load(const char *json, ms_llm_t **out, char *err, size_t errlen) {
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    ms_config_t cfg;
    ms_config_defaults(&cfg);
    char flag[96];
    snprintf(flag, sizeof flag, "--config=%s", cfg_path);
    char *argv[] = {"serve", flag, NULL};
    int rc = ms_config_load(&cfg, 2, argv, stdout, stderr);
    assert_int_equal(rc, 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ms_llm_env_t env = {.loop = &loop, .cfg = &cfg};
    err[0] = '\0';
    rc = ms_llm_new(&env, out, err, errlen);
    if (rc == 0) {
        /* cfg and loop go out of scope: check what is needed now. */
        ms_llm_free(*out);
        *out = (ms_llm_t *)1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    ms_config_free(&cfg);
    return rc;
}

static void expect_error(const char *json, const char *needle) {
    ms_llm_t *llm = NULL;
    char err[512];
    int rc = load(json, &llm, err, sizeof err);
    if (rc != MS_EINVAL)
        fail_msg("accepted: %s", json);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not say \"%s\"", err, needle);
    assert_non_null(strstr(err, cfg_path));
}

static void test_registry_config_errors_name_the_field(void **state) {
    (void)state;
    snprintf(cfg_path, sizeof cfg_path, "/tmp/ms-llm-unit-%d.json", (int)getpid());
    ms_llm_t *llm = NULL;
    char err[512];
    const char *good = "{\"providers\":[{\"name\":\"o\",\"kind\":\"ollama\","
                       "\"base_url\":\"http://127.0.0.1:1\",\"model\":\"m\",\"local\":true}],"
                       "\"routes\":{\"r\":[\"o\",\"offline\"]},\"default_route\":\"r\"}";
    if (load(good, &llm, err, sizeof err) != 0)
        fail_msg("refused: %s", err);
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"gpt\"}]}", "\"kind\" must be one of");
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"openai\",\"model\":\"m\"}]}",
                 "providers[0] (\"x\"): \"base_url\" is required");
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"openai\",\"model\":\"m\","
                 "\"base_url\":\"ftp://h\"}]}",
                 "must start with http:// or https://");
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"openai\",\"model\":\"m\","
                 "\"base_url\":\"http://h\",\"locall\":true}]}",
                 "unknown field \"locall\"");
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"openai\",\"model\":\"m\","
                 "\"base_url\":\"http://h\",\"temperature\":7}]}",
                 "\"temperature\" must be a number from 0 to 2");
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"openai\",\"model\":\"m\","
                 "\"base_url\":\"http://h\",\"api_key_env\":\"MS_UNIT_SURELY_UNSET_KEY\"}]}",
                 "MS_UNIT_SURELY_UNSET_KEY (api_key_env) is not set");
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"openai\",\"model\":\"m\","
                 "\"base_url\":\"http://h\",\"api_key_env\":\"sk-abc def\"}]}",
                 "must name an environment variable");
    expect_error("{\"providers\":[{\"name\":\"x\",\"kind\":\"offline\",\"model\":\"m\"}]}",
                 "\"model\" does not apply to kind offline");
    expect_error("{\"routes\":{\"r\":[\"nobody\"]}}", "routes.r[0]: no provider named \"nobody\"");
    expect_error("{\"routes\":{\"r\":[]}}", "routes.r: must be a list of 1 to 16");
    expect_error("{\"routes\":{\"r\":[\"offline\",\"offline\"]}}", "listed twice");
    expect_error("{\"providers\":[{\"name\":\"offline\",\"kind\":\"synthetic\"},"
                 "{\"name\":\"offline\",\"kind\":\"offline\"}]}",
                 "the name \"offline\" is taken");
    expect_error("{\"default_route\":\"missing\"}", "\"missing\" names no route");
    expect_error("{\"providers\":{}}", "\"providers\" must be an array");
    unlink(cfg_path);
}

/* ---- a generation over libcurl, against a server on the same loop -------------------- */

/* The scripted server: accepts one connection at a time, reads the request
 * (up to the end of its body), then writes the response in pieces. */
typedef struct {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_tcp_t conn;
    int have_conn, port;
    const char *const *pieces; /* the response, written one piece per tick */
    size_t npieces, next;
    int hold;     /* stop after this many pieces (a stall), 0 = all */
    int raw;      /* pieces are written as they are (no chunk framing) */
    int eof_seen; /* the client closed the connection */
    ms_buf_t request;
    uv_timer_t tick;
} srv_t;

static void srv_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b) {
    (void)h;
    b->base = malloc(sug);
    b->len = sug;
}

static void srv_write_done(uv_write_t *w, int status) {
    (void)status;
    free(w->data);
    free(w);
}

static void srv_tick(uv_timer_t *t) {
    srv_t *s = t->data;
    if (!s->have_conn || s->next >= s->npieces || (s->hold && s->next >= (size_t)s->hold))
        return;
    uv_write_t *w = calloc(1, sizeof *w);
    /* Piece 0 is the status line and headers; the others are body bytes,
     * each sent as one chunk (RFC 9112 section 7.1); "" ends the body. */
    const char *piece = s->pieces[s->next];
    ms_buf_t out = {0};
    if (s->next == 0 || s->raw)
        ms_buf_puts(&out, piece);
    else
        ms_buf_printf(&out, "%zx\r\n%s\r\n", strlen(piece), piece);
    s->next++;
    char *copy = ms_buf_take(&out);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)strlen(copy));
    uv_write(w, (uv_stream_t *)&s->conn, &b, 1, srv_write_done);
    uv_timer_start(&s->tick, srv_tick, 2, 0);
}

/* The decimal Content-Length value at p, or -1 when there is none. */
static long content_length(const char *p) {
    char *e;
    errno = 0;
    long v = strtol(p, &e, 10);
    return e == p || errno != 0 || v < 0 ? -1 : v;
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    srv_t *s = st->data;
    if (n < 0) {
        s->eof_seen = 1;
        uv_read_stop(st);
    } else if (n > 0) {
        ms_buf_append(&s->request, b->base, (size_t)n);
        const char *end = strstr(ms_buf_cstr(&s->request), "\r\n\r\n");
        const char *cl = strstr(ms_buf_cstr(&s->request), "Content-Length: ");
        long clen = cl ? content_length(cl + 16) : -1;
        if (end && clen >= 0 && s->next == 0 &&
            s->request.len >= (size_t)(end + 4 - s->request.data) + (size_t)clen)
            uv_timer_start(&s->tick, srv_tick, 1, 0);
    }
    free(b->base);
}

static void srv_accept(uv_stream_t *l, int status) {
    srv_t *s = l->data;
    assert_int_equal(status, 0);
    uv_tcp_init(s->loop, &s->conn);
    s->conn.data = s;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&s->conn), 0);
    s->have_conn = 1;
    uv_read_start((uv_stream_t *)&s->conn, srv_alloc, srv_read);
}

static void srv_start(srv_t *s, uv_loop_t *loop, const char *const *pieces, size_t n) {
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->pieces = pieces;
    s->npieces = n;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 4, srv_accept), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
}

static void srv_stop(srv_t *s) {
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->tick, NULL);
    if (s->have_conn && !uv_is_closing((uv_handle_t *)&s->conn))
        uv_close((uv_handle_t *)&s->conn, NULL);
    ms_buf_free(&s->request);
}

typedef struct {
    ms_buf_t text;
    int done, deltas;
    char reason[32];
    ms_gen_result_t r;
    ms_gen_t *gen;
    ms_provider_t *p;
    int cancel_after; /* deltas, 0 = never */
    int pause_after;
} sink_t;

static void on_delta(void *ctx, const char *t, size_t n) {
    sink_t *k = ctx;
    ms_buf_append(&k->text, t, n);
    k->deltas++;
    if (k->cancel_after && k->deltas == k->cancel_after)
        k->p->ops->cancel(k->gen); /* from within a delta: the answer cap's path */
    if (k->pause_after && k->deltas == k->pause_after)
        k->p->ops->pause(k->gen, 1);
}

static void on_done(void *ctx, const ms_gen_result_t *r) {
    sink_t *k = ctx;
    k->done++;
    k->r = *r;
    snprintf(k->reason, sizeof k->reason, "%s", r->finish_reason);
    k->r.finish_reason = k->reason;
    k->r.error = NULL;
}

static const ms_gen_sink_t sink_ops = {on_delta, on_done};

/* A registry with one remote provider of kind at the server. */
static ms_llm_t *remote_llm(uv_loop_t *loop, const char *kind, int port, ms_config_t *cfg) {
    snprintf(cfg_path, sizeof cfg_path, "/tmp/ms-llm-unit-%d.json", (int)getpid());
    FILE *f = fopen(cfg_path, "w");
    fprintf(f,
            "{\"providers\":[{\"name\":\"up\",\"kind\":\"%s\",\"base_url\":"
            "\"http://127.0.0.1:%d%s\",\"model\":\"m\",\"local\":true,"
            "\"idle_timeout_ms\":60000}]}",
            kind, port, !strcmp(kind, "openai") ? "/v1" : "");
    fclose(f);
    ms_config_defaults(cfg);
    free(cfg->config_file);
    cfg->config_file = ms_xstrdup(cfg_path);
    ms_llm_env_t env = {.loop = loop, .cfg = cfg};
    ms_llm_t *llm = NULL;
    char err[256];
    assert_int_equal(ms_llm_new(&env, &llm, err, sizeof err), 0);
    unlink(cfg_path);
    return llm;
}

#define SSE_HEAD                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

static const char *const sse_pieces[] = {
    SSE_HEAD,
    "data: {\"choices\":[{\"delta\":{\"con", /* an event split across chunks */
    "tent\":\"Hi\"}}],\"usage\":null}\n\n: keep-alive\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\r\n\r\n",
    ("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,"
     "\"total_tokens\":13}}\n\n"),
    "data: [DONE]\n\n",
    "",
};

static void run_until(uv_loop_t *loop, int *flag) {
    for (int i = 0; i < 20000 && !*flag; i++)
        uv_run(loop, UV_RUN_ONCE);
    assert_true(*flag);
}

static void test_openai_generation_over_the_loop(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, sse_pieces, MS_COUNTOF(sse_pieces));
    ms_config_t cfg;
    ms_llm_t *llm = remote_llm(&loop, "openai", s.port, &cfg);
    ms_provider_t *p = ms_llm_provider(llm, 0);
    ms_llm_msg_t msgs[] = {{"system", "be brief"}, {"user", "hi?"}};
    ms_gen_request_t req = {.question = "hi?", .messages = msgs, .nmessages = 2};
    sink_t k = {.p = p};
    assert_int_equal(p->ops->start(p, &loop, &req, &sink_ops, &k, &k.gen), 0);
    run_until(&loop, &k.done);
    if (k.r.failure)
        fail_msg("failed: %s %d", k.reason, (int)k.r.failure);
    assert_string_equal(ms_buf_cstr(&k.text), "Hi there");
    assert_string_equal(k.reason, "stop");
    assert_int_equal(k.r.failure, MS_GEN_OK);
    assert_true(k.r.usage_reported);
    assert_int_equal(k.r.prompt_tokens, 11);
    assert_int_equal(k.r.completion_tokens, 2);
    const char *rq = ms_buf_cstr(&s.request);
    assert_non_null(strstr(rq, "POST /v1/chat/completions HTTP/1.1"));
    assert_non_null(strstr(rq, "\"stream_options\":{\"include_usage\":true}"));
    assert_non_null(strstr(rq, "{\"role\":\"system\",\"content\":\"be brief\"}"));
    assert_null(strstr(rq, "Expect:"));
    srv_stop(&s);
    ms_llm_free(llm);
    ms_config_free(&cfg);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    ms_buf_free(&k.text);
}

#define ND_HEAD                                                                                    \
    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
#define ND_TOKEN(t) "{\"message\":{\"role\":\"assistant\",\"content\":\"" t "\"},\"done\":false}\n"

static const char *const nd_pieces[] = {
    ND_HEAD, ND_TOKEN("a"), ND_TOKEN("b"), ND_TOKEN("c"), ND_TOKEN("d"),
};

/* Cancel from within a delta: the transfer ends, the server sees its
 * connection close, on_done says cancelled, and nothing is left. */
static void test_cancel_closes_the_connection(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, nd_pieces, MS_COUNTOF(nd_pieces));
    ms_config_t cfg;
    ms_llm_t *llm = remote_llm(&loop, "ollama", s.port, &cfg);
    ms_provider_t *p = ms_llm_provider(llm, 0);
    ms_gen_request_t req = {.question = "q"};
    sink_t k = {.p = p, .cancel_after = 2};
    assert_int_equal(p->ops->start(p, &loop, &req, &sink_ops, &k, &k.gen), 0);
    run_until(&loop, &k.done);
    assert_string_equal(k.reason, "cancelled");
    assert_string_equal(ms_buf_cstr(&k.text), "ab");
    run_until(&loop, &s.eof_seen);
    assert_int_equal(k.done, 1);
    srv_stop(&s);
    ms_llm_free(llm);
    ms_config_free(&cfg);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    ms_buf_free(&k.text);
}

static int after_ms(uv_loop_t *loop, uint64_t until) {
    uv_update_time(loop);
    return uv_now(loop) >= until;
}

/* Paused after the first delta: nothing more is delivered while paused
 * (the server keeps writing); resumed, the rest arrives and the stream
 * ends as it should. */
static void test_pause_holds_deltas_until_resumed(void **state) {
    (void)state;
    static const char *const pieces[] = {
        ND_HEAD,
        ND_TOKEN("a"),
        ND_TOKEN("b"),
        "{\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":3,\"eval_count\":2}\n",
        "",
    };
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, pieces, MS_COUNTOF(pieces));
    ms_config_t cfg;
    ms_llm_t *llm = remote_llm(&loop, "ollama", s.port, &cfg);
    ms_provider_t *p = ms_llm_provider(llm, 0);
    ms_gen_request_t req = {.question = "q"};
    sink_t k = {.p = p, .pause_after = 1};
    assert_int_equal(p->ops->start(p, &loop, &req, &sink_ops, &k, &k.gen), 0);
    /* Until the server wrote everything, and a while more. */
    while (s.next < s.npieces)
        uv_run(&loop, UV_RUN_ONCE);
    uint64_t until = uv_now(&loop) + 100;
    while (!after_ms(&loop, until))
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(k.deltas, 1);
    assert_int_equal(k.done, 0);
    p->ops->pause(k.gen, 0);
    run_until(&loop, &k.done);
    assert_string_equal(ms_buf_cstr(&k.text), "ab");
    assert_string_equal(k.reason, "length");
    assert_int_equal(k.r.prompt_tokens, 3);
    srv_stop(&s);
    ms_llm_free(llm);
    ms_config_free(&cfg);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    ms_buf_free(&k.text);
}

/* A stream that ends without its end marker is a failure of the stream,
 * and a refused request says its status (never the body's prose). */
static void test_truncated_stream_and_http_errors(void **state) {
    (void)state;
    static const char *const trunc[] = {
        SSE_HEAD, "data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n", ""};
    static const char *const refused[] = {
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Retry-After: 7\r\nContent-Length: 64\r\n\r\n"
        "{\"error\":{\"message\":\"sk-secret overloaded\",\"code\":\"overloaded\"}}"};
    for (int round = 0; round < 2; round++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        srv_t s;
        if (round == 0) {
            srv_start(&s, &loop, trunc, MS_COUNTOF(trunc));
        } else {
            srv_start(&s, &loop, refused, MS_COUNTOF(refused));
            s.raw = 1;
        }
        ms_config_t cfg;
        ms_llm_t *llm = remote_llm(&loop, "openai", s.port, &cfg);
        ms_provider_t *p = ms_llm_provider(llm, 0);
        ms_gen_request_t req = {.question = "q"};
        sink_t k = {.p = p};
        assert_int_equal(p->ops->start(p, &loop, &req, &sink_ops, &k, &k.gen), 0);
        run_until(&loop, &k.done);
        assert_string_equal(k.reason, "error");
        if (round == 0) {
            assert_int_equal(k.r.failure, MS_GEN_STREAM);
            assert_string_equal(ms_buf_cstr(&k.text), " there");
        } else {
            assert_int_equal(k.r.failure, MS_GEN_SERVER);
            assert_int_equal(k.r.http_status, 503);
            assert_int_equal(k.r.retry_after_ms, 7000);
            assert_int_equal(k.text.len, 0);
        }
        srv_stop(&s);
        ms_llm_free(llm);
        ms_config_free(&cfg);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        ms_buf_free(&k.text);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_whatwg_rules),
        cmocka_unit_test(test_sse_limits),
        cmocka_unit_test(test_ndjson_splits_and_limits),
        cmocka_unit_test(test_cite_renumbers_and_drops),
        cmocka_unit_test(test_cite_holds_only_what_may_be_a_marker),
        cmocka_unit_test(test_grounding_counts_supported_sentences),
        cmocka_unit_test(test_prompt_order_numbers_and_budget),
        cmocka_unit_test(test_prompt_without_passages_says_so),
        cmocka_unit_test(test_breaker_window_cooldown_probe),
        cmocka_unit_test(test_registry_config_errors_name_the_field),
        cmocka_unit_test(test_openai_generation_over_the_loop),
        cmocka_unit_test(test_cancel_closes_the_connection),
        cmocka_unit_test(test_pause_holds_deltas_until_resumed),
        cmocka_unit_test(test_truncated_stream_and_http_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
