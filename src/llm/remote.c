/* A remote generation (llm/remote.h): one POST to a model server and its
 * stream, with the timeouts, the failure classes failover needs, cancel
 * that closes the upstream connection at once, and pause for pull flow
 * control.
 *
 * Lifetime, as for the offline provider: the sink is never called from
 * start(), cancel() or pause(); on_done comes exactly once, from a loop
 * callback (the transport's or the timer's), and the generation is freed
 * in its timer's close callback after it. */
#include "llm/remote.h"

#include "core/log.h"
#include "core/ms.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TM_NONE, TM_FIRST, TM_IDLE, TM_DONE };

/* Error bodies are read only this far (for a machine code). */
#define ERRBODY_MAX 4096

static void rg_closed(uv_handle_t *h) {
    ms_rgen_t *g = h->data;
    ms_buf_free(&g->errbody);
    ms_sse_reset(&g->sse);
    ms_ndjson_reset(&g->nd);
    free(g);
}

static void timer_cb(uv_timer_t *t);

static void arm(ms_rgen_t *g, int mode, int64_t ms) {
    g->timer_mode = mode;
    if (ms > 0 || mode == TM_DONE)
        uv_timer_start(&g->timer, timer_cb, (uint64_t)(ms > 0 ? ms : 0), 0);
    else
        uv_timer_stop(&g->timer);
}

/* Delivers on_done once; the generation goes in the timer's close. */
static void finish(ms_rgen_t *g, const char *reason, ms_gen_failure_t failure) {
    if (g->finished)
        return;
    g->finished = 1;
    uv_timer_stop(&g->timer);
    if (g->x) {
        ms_llm_xfer_abort(g->x);
        g->x = NULL;
    }
    ms_gen_result_t r = {
        .finish_reason = reason,
        .prompt_tokens = g->usage_reported ? g->prompt_tokens : g->prompt_estimate,
        .completion_tokens =
            g->usage_reported ? g->completion_tokens : (int64_t)((g->text_bytes + 3) / 4),
        .usage_reported = g->usage_reported,
        .error = g->error[0] ? g->error : NULL,
        .failure = failure,
        .http_status = g->status,
        .retry_after_ms = g->retry_after_ms,
        .upstream_duration_ms = g->upstream_ms,
    };
    g->in_sink = 1;
    g->sink.on_done(g->ctx, &r);
    g->in_sink = 0;
    uv_close((uv_handle_t *)&g->timer, rg_closed);
}

/* Ends with an error: why is a fixed phrase or an HTTP status and code,
 * never text from the upstream. */
static void fail(ms_rgen_t *g, ms_gen_failure_t failure, const char *why) {
    snprintf(g->error, sizeof g->error, "%s", why);
    finish(g, "error", failure);
}

/* ---- what the wires report ------------------------------------------------ */

int ms__rgen_delta(ms_rgen_t *g, const char *text, size_t len) {
    if (g->cancelled || g->finished)
        return 1;
    if (!len)
        return 0;
    if (!g->got_token) {
        g->got_token = 1;
        if (!g->paused)
            arm(g, TM_IDLE, g->spec->idle_timeout_ms);
    }
    g->text_bytes += len;
    g->in_sink = 1;
    g->sink.on_delta(g->ctx, text, len);
    g->in_sink = 0;
    return g->cancelled;
}

void ms__rgen_usage(ms_rgen_t *g, int64_t prompt, int64_t completion) {
    g->usage_reported = 1;
    g->prompt_tokens = prompt > 0 ? prompt : 0;
    g->completion_tokens = completion > 0 ? completion : 0;
}

void ms__rgen_finish(ms_rgen_t *g, const char *reason) {
    const char *r = !strcmp(reason, "length")           ? "length"
                    : !strcmp(reason, "content_filter") ? "content_filter"
                                                        : "stop";
    g->finish_reason = r; /* a literal: it outlives the generation */
}

/* ---- the transfer's callbacks ---------------------------------------------- */

static int on_response(void *ctx, int status, int64_t retry_after_ms, const char *content_type) {
    (void)content_type;
    ms_rgen_t *g = ctx;
    g->status = status;
    g->retry_after_ms = retry_after_ms;
    return g->cancelled;
}

static int on_body(void *ctx, const char *data, size_t len) {
    ms_rgen_t *g = ctx;
    if (g->cancelled)
        return 1;
    if (g->status != 200) {
        size_t room = ERRBODY_MAX > g->errbody.len ? ERRBODY_MAX - g->errbody.len : 0;
        ms_buf_append(&g->errbody, data, len < room ? len : room);
        return 0;
    }
    if (g->got_token && !g->paused)
        arm(g, TM_IDLE, g->spec->idle_timeout_ms); /* any byte is activity */
    int rc = g->wire->feed(g, data, len);
    if (rc) {
        g->wire_rc = rc;
        return 1;
    }
    return g->cancelled;
}

/* The status of a refused request as a failure class and a short reason
 * (with the error body's machine code when it has one). */
static void fail_status(ms_rgen_t *g) {
    json_t *body = json_loadb(g->errbody.data ? g->errbody.data : "", g->errbody.len, 0, NULL);
    const char *code = body ? g->wire->error_code(body) : NULL;
    /* A code is passed on only when it cannot be (part of) the key: an
     * upstream may echo what it was sent. */
    const char *key = g->spec->api_key;
    if (code && key && *key &&
        (strstr(code, key) || (strlen(code) >= 8 && strstr(key, code)) || strlen(code) > 40))
        code = NULL;
    char what[80];
    snprintf(what, sizeof what, "HTTP %d%s%s", g->status, code ? " " : "", code ? code : "");
    json_decref(body);
    ms_gen_failure_t f = g->status == 429   ? MS_GEN_RATE_LIMITED
                         : g->status >= 500 ? MS_GEN_SERVER
                         : g->status == 408 ? MS_GEN_TIMEOUT
                                            : MS_GEN_REFUSED;
    fail(g, f, what);
}

static void on_done(void *ctx, int rc, int curl_code) {
    ms_rgen_t *g = ctx;
    g->x = NULL;
    if (g->finished)
        return;
    if (g->cancelled) {
        finish(g, "cancelled", MS_GEN_OK);
        return;
    }
    if (g->wire_rc) {
        fail(g, MS_GEN_STREAM,
             g->wire_rc == MS_ETOOBIG ? "a line of the stream is over the size limit"
             : g->wire_rc == MS_EIO   ? "the stream reported an error"
                                      : "a malformed line in the stream");
        return;
    }
    if (g->status && g->status != 200 && (rc == 0 || !g->got_token)) {
        fail_status(g);
        return;
    }
    if (rc != 0) {
        ms_gen_failure_t f = ms_llm_curl_timed_out(curl_code) ? MS_GEN_TIMEOUT
                             : g->got_token                   ? MS_GEN_STREAM
                                                              : MS_GEN_CONNECT;
        fail(g, f, ms_llm_curl_reason(curl_code));
        return;
    }
    if (g->wire->end(g) != 0) {
        fail(g, g->got_token ? MS_GEN_STREAM : MS_GEN_CONNECT,
             "the stream ended before its end marker");
        return;
    }
    finish(g, g->finish_reason ? g->finish_reason : "stop", MS_GEN_OK);
}

static const ms_llm_xfer_cb_t xfer_cb = {on_response, on_body, on_done};

static void timer_cb(uv_timer_t *t) {
    ms_rgen_t *g = t->data;
    if (g->finished)
        return;
    switch (g->timer_mode) {
    case TM_FIRST:
        fail(g, MS_GEN_TIMEOUT, "no token within first_token_timeout_ms");
        break;
    case TM_IDLE:
        fail(g, MS_GEN_STREAM, "the stream stalled (idle_timeout_ms)");
        break;
    case TM_DONE:
        finish(g, "cancelled", MS_GEN_OK);
        break;
    default:
        break;
    }
}

/* ---- the provider ops ----------------------------------------------------- */

typedef struct {
    const ms_remote_wire_t *wire;
    ms_remote_spec_t *spec;
    ms_llm_http_t *http;
    char *url; /* base_url without userinfo, query or fragment (health output) */
} remote_impl_t;

static int remote_start(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                        const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out) {
    if (!p || !loop || !req || !sink || !sink->on_delta || !sink->on_done || !out)
        return MS_EINVAL;
    remote_impl_t *im = p->impl;
    ms_rgen_t *g = ms_xcalloc(1, sizeof *g);
    g->p = p;
    g->spec = im->spec;
    g->wire = im->wire;
    g->sink = *sink;
    g->ctx = ctx;
    g->sse.max_line = g->nd.max_line = im->spec->max_line_bytes;
    for (size_t i = 0; i < req->nmessages; i++)
        g->prompt_estimate += (int64_t)((strlen(req->messages[i].content) + 3) / 4) + 4;
    if (!req->nmessages && req->question)
        g->prompt_estimate = (int64_t)((strlen(req->question) + 3) / 4);

    size_t blen = 0;
    char *url = im->wire->url(im->spec);
    char *body = im->wire->body(im->spec, req, &blen);
    char *hdrs[8];
    size_t nh = im->wire->headers(im->spec, hdrs, 6);
    hdrs[nh++] = ms_xstrdup("Content-Type: application/json");
    hdrs[nh++] = ms_xstrdup(im->wire->accept);
    ms_llm_xfer_req_t xr = {.url = url,
                            .body = body,
                            .body_len = blen,
                            .headers = (const char *const *)hdrs,
                            .nheaders = nh,
                            .connect_timeout_ms = im->spec->connect_timeout_ms};
    int rc = ms_llm_xfer_start(im->http, &xr, &xfer_cb, g, &g->x);
    for (size_t i = 0; i < nh; i++) {
        /* A header may hold the key: wiped before it is freed. */
        memset(hdrs[i], 0, strlen(hdrs[i]));
        free(hdrs[i]);
    }
    free(url);
    free(body);
    if (rc) {
        free(g);
        return rc;
    }
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    arm(g, TM_FIRST, im->spec->first_token_timeout_ms);
    *out = (ms_gen_t *)g;
    return 0;
}

/* Ends the transfer now (the connection closes, so the upstream sees the
 * client go), then finishes from the loop. From within a delta (the answer
 * cap) the transfer stops as the delta returns. */
static void remote_cancel(ms_gen_t *gen) {
    ms_rgen_t *g = (ms_rgen_t *)gen;
    if (!g || g->finished || g->cancelled)
        return;
    g->cancelled = 1;
    if (g->in_sink)
        return; /* on_body returns 1: libcurl ends the transfer, on_done finishes */
    if (g->x) {
        ms_llm_xfer_abort(g->x);
        g->x = NULL;
    }
    arm(g, TM_DONE, 0);
}

static void remote_pause(ms_gen_t *gen, int paused) {
    ms_rgen_t *g = (ms_rgen_t *)gen;
    if (!g || g->finished || g->cancelled || !g->x || g->paused == (paused != 0))
        return;
    g->paused = paused != 0;
    if (g->paused) {
        if (g->timer_mode == TM_IDLE)
            uv_timer_stop(&g->timer);
    } else if (g->got_token) {
        arm(g, TM_IDLE, g->spec->idle_timeout_ms);
    }
    ms_llm_xfer_pause(g->x, g->paused);
}

/* ---- the health probe ------------------------------------------------------- */

/* Bytes of a probe's answer read before it counts as answered (a server
 * with many models lists them all; the list itself is not needed). */
#define PROBE_BODY_MAX 65536

typedef struct {
    ms_probe_cb cb;
    void *ctx;
    int status;
    size_t bytes;
    int64_t started_us;
} probe_t;

static int probe_response(void *ctx, int status, int64_t retry_after_ms, const char *ct) {
    (void)retry_after_ms, (void)ct;
    ((probe_t *)ctx)->status = status;
    return 0;
}

static int probe_body(void *ctx, const char *data, size_t len) {
    (void)data;
    probe_t *pr = ctx;
    pr->bytes += len;
    return pr->bytes > PROBE_BODY_MAX; /* enough: it answered */
}

static void probe_done(void *ctx, int rc, int curl_code) {
    probe_t *pr = ctx;
    int answered = rc == 0 || (rc == MS_ECANCELED && pr->status);
    ms_probe_result_t r = {
        .reachable = answered && pr->status >= 200 && pr->status < 300,
        .http_status = pr->status,
        .latency_ms = (ms_mono_us() - pr->started_us + 500) / 1000,
    };
    if (!answered)
        r.error = ms_llm_curl_reason(curl_code);
    else if (!r.reachable)
        r.error = pr->status == 401 || pr->status == 403 ? "the server refused the key"
                                                         : "the server answered with an error";
    pr->cb(pr->ctx, &r);
    free(pr);
}

static const ms_llm_xfer_cb_t probe_xfer_cb = {probe_response, probe_body, probe_done};

static int remote_probe(ms_provider_t *p, int64_t timeout_ms, ms_probe_cb cb, void *ctx) {
    remote_impl_t *im = p->impl;
    const ms_remote_spec_t *s = im->spec;
    /* The path goes before a query base_url may carry (a proxy's), which
     * is kept. */
    ms_buf_t u;
    ms_buf_init(&u);
    const char *q = strchr(s->base_url, '?');
    size_t n = q ? (size_t)(q - s->base_url) : strlen(s->base_url);
    while (n > 0 && s->base_url[n - 1] == '/')
        n--;
    ms_buf_append(&u, s->base_url, n);
    if (s->azure_deployment)
        ms_buf_printf(&u, "/openai/models?api-version=%s%s%s",
                      s->api_version ? s->api_version : "2024-10-21", q ? "&" : "", q ? q + 1 : "");
    else
        ms_buf_printf(&u, "%s%s", im->wire->probe_path, q ? q : "");
    char *hdrs[8];
    size_t nh = im->wire->headers(s, hdrs, 6);
    hdrs[nh++] = ms_xstrdup("Accept: application/json");
    probe_t *pr = ms_xcalloc(1, sizeof *pr);
    pr->cb = cb;
    pr->ctx = ctx;
    pr->started_us = ms_mono_us();
    ms_llm_xfer_req_t xr = {.url = ms_buf_cstr(&u),
                            .headers = (const char *const *)hdrs,
                            .nheaders = nh,
                            .connect_timeout_ms = timeout_ms,
                            .timeout_ms = timeout_ms,
                            .get = 1};
    ms_llm_xfer_t *x;
    int rc = ms_llm_xfer_start(im->http, &xr, &probe_xfer_cb, pr, &x);
    for (size_t i = 0; i < nh; i++) {
        memset(hdrs[i], 0, strlen(hdrs[i])); /* the key */
        free(hdrs[i]);
    }
    ms_buf_free(&u);
    if (rc)
        free(pr);
    return rc;
}

/* base_url as health output shows it: libcurl's URL parser (CURLU) drops
 * the user, password, query and fragment; NULL when it does not parse. */
static char *display_url(const char *base) {
    CURLU *h = curl_url();
    char *out = NULL, *s = NULL;
    if (h && curl_url_set(h, CURLUPART_URL, base, 0) == CURLUE_OK) {
        curl_url_set(h, CURLUPART_USER, NULL, 0);
        curl_url_set(h, CURLUPART_PASSWORD, NULL, 0);
        curl_url_set(h, CURLUPART_OPTIONS, NULL, 0);
        curl_url_set(h, CURLUPART_QUERY, NULL, 0);
        curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0);
        if (curl_url_get(h, CURLUPART_URL, &s, 0) == CURLUE_OK)
            out = ms_xstrdup(s);
    }
    curl_free(s);
    curl_url_cleanup(h);
    return out;
}

void ms__remote_spec_free(ms_remote_spec_t *s) {
    if (!s)
        return;
    free(s->name);
    free(s->base_url);
    free(s->model);
    if (s->api_key) {
        memset(s->api_key, 0, strlen(s->api_key));
        free(s->api_key);
    }
    free(s->azure_deployment);
    free(s->api_version);
    free(s);
}

static void remote_free(ms_provider_t *p) {
    if (!p)
        return;
    remote_impl_t *im = p->impl;
    ms__remote_spec_free(im->spec);
    free(im->url);
    free(im);
    free(p);
}

const ms_provider_ops_t ms__remote_openai_ops = {
    .name = "openai",
    .uses_retrieval = 1,
    .uses_prompt = 1,
    .start = remote_start,
    .cancel = remote_cancel,
    .pause = remote_pause,
    .probe = remote_probe,
    .free = remote_free,
};

const ms_provider_ops_t ms__remote_ollama_ops = {
    .name = "ollama",
    .uses_retrieval = 1,
    .uses_prompt = 1,
    .start = remote_start,
    .cancel = remote_cancel,
    .pause = remote_pause,
    .probe = remote_probe,
    .free = remote_free,
};

ms_provider_t *ms__remote_provider_new(const ms_remote_wire_t *wire, ms_remote_spec_t *spec,
                                       ms_llm_http_t *http) {
    remote_impl_t *im = ms_xcalloc(1, sizeof *im);
    im->wire = wire;
    im->spec = spec;
    im->http = http;
    im->url = display_url(spec->base_url);
    ms_provider_t *p = ms_xcalloc(1, sizeof *p);
    p->ops = wire->ops;
    p->impl = im;
    p->name = spec->name;
    p->model = spec->model;
    p->local = spec->local;
    p->url = im->url;
    return p;
}

json_t *ms__remote_messages(const ms_gen_request_t *req) {
    json_t *arr = json_array();
    if (req->nmessages) {
        for (size_t i = 0; i < req->nmessages; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s}", "role", req->messages[i].role,
                                                 "content", req->messages[i].content));
        return arr;
    }
    /* Without a prompt (a caller that built none): the turns and the question. */
    for (size_t i = 0; i < req->nhistory; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "role", req->history_roles[i], "content",
                                             req->history_texts[i]));
    json_array_append_new(arr, json_pack("{s:s, s:s}", "role", "user", "content",
                                         req->question ? req->question : ""));
    return arr;
}
