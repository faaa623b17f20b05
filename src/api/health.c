/* GET /metrics and GET /health/providers: the operator's view.
 *
 * Both run on the loop thread (they read loop state: the registry's
 * counters and breakers, the service's streams) and share one access rule:
 * with metrics_token set, "Authorization: Bearer <metrics_token>" (compared
 * in constant time); without it, only a client on loopback. A reverse proxy
 * on the same host makes every client look local: set metrics_token there.
 *
 * A provider's reachability comes from a cheap real request (its ops'
 * probe: Ollama GET /api/tags, OpenAI GET /v1/models) over the loop's
 * libcurl transport, never a blocking call; the result is kept for
 * health_ttl_ms (in the registry's slot, ms_llm_provider_probe_cache),
 * and a request that finds a probe in flight waits for that one, so there is at most one probe per
 * provider at a time whatever the request rate. Nothing secret is shown: no key, no URL userinfo or
 * query (ms_provider_t.url is cleaned by the remote provider). */
#include "api/routes.h"
#include "llm/registry.h"
#include "obs/metrics.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- access --------------------------------------------------------------- */

static int is_loopback(const char *peer) {
    return !strncmp(peer, "127.", 4) || !strcmp(peer, "::1") || !strncmp(peer, "::ffff:127.", 11);
}

/* 0 when r may read the operator routes; otherwise the error response is
 * set and the handler only finishes. */
static int ops_access(ms_http_req_t *r) {
    const char *token = r->api->cfg->metrics_token;
    if (token && *token) {
        const char *h = r->authorization;
        size_t n = strlen(token);
        if (h && !strncasecmp(h, "Bearer ", 7)) {
            h += 7;
            while (*h == ' ')
                h++;
            if (strlen(h) == n && sodium_memcmp(h, token, n) == 0)
                return 0;
        }
        ms_http_respond_error(r, 401, "unauthorized", "this route needs the metrics token");
        ms_http_add_header(r, "www-authenticate", "Bearer");
        return -1;
    }
    if (is_loopback(r->peer))
        return 0;
    ms_http_respond_error(r, 403, "forbidden",
                          "only loopback clients may read this; set metrics_token to allow others");
    return -1;
}

/* ---- GET /metrics ------------------------------------------------------------ */

static int64_t circuit_value(ms_breaker_state_t s) {
    return s == MS_BREAKER_OPEN ? 2 : s == MS_BREAKER_HALF_OPEN ? 1 : 0;
}

void ms_api_metrics(ms_http_req_t *r) {
    if (ops_access(r) != 0) {
        ms_http_finish(r);
        return;
    }
    ms_chat_t *chat = r->api->chat;
    ms_llm_t *llm = ms_chat_llm(chat);
    ms_metrics_t *m = ms_chat_metrics(chat);
    /* The gauges read at scrape time, on the loop that owns them. */
    ms_chat_stats_t cs;
    ms_chat_stats(chat, &cs);
    ms_metrics_set(m, MS_M_STREAMS_LIVE, 0, 0, cs.streams_live);
    size_t np = ms_llm_nproviders(llm), nr = ms_llm_nroutes(llm);
    int64_t now = ms_mono_ms();
    const char **pn = ms_xcalloc(np ? np : 1, sizeof *pn);
    const char **rn = ms_xcalloc(nr ? nr : 1, sizeof *rn);
    for (size_t i = 0; i < np; i++) {
        pn[i] = ms_provider_name(ms_llm_provider(llm, i));
        ms_breaker_state_t st = ms_breaker_state(ms_llm_provider_breaker(llm, i), now);
        ms_metrics_set(m, MS_M_CIRCUIT_STATE, 0, i, circuit_value(st));
    }
    for (size_t i = 0; i < nr; i++)
        rn[i] = ms_llm_route_at(llm, i)->alias;
    ms_buf_t b;
    ms_buf_init(&b);
    ms_metrics_render(m, rn, pn, &b);
    free(pn);
    free(rn);
    r->status = 200;
    r->content_type = MS_METRICS_CONTENT_TYPE;
    r->resp_len = b.len;
    r->resp_body = ms_buf_take(&b);
    ms_http_finish(r);
}

/* ---- GET /health/providers ------------------------------------------------------ */

/* A request waiting for probes; one waiter node per provider it waits on. */
typedef struct {
    ms_http_req_t *r;
    size_t pending;
} health_req_t;

typedef struct waiter {
    health_req_t *h;
    struct waiter *next;
} waiter_t;

static ms_llm_probe_cache_t *cache_for(ms_llm_t *llm, size_t i) {
    return ms_llm_provider_probe_cache(llm, i);
}

static const char *circuit_name(ms_breaker_state_t s) {
    return s == MS_BREAKER_OPEN ? "open" : s == MS_BREAKER_HALF_OPEN ? "half_open" : "closed";
}

static json_t *provider_json(ms_llm_t *llm, size_t i, int64_t now) {
    ms_provider_t *p = ms_llm_provider(llm, i);
    ms_llm_stats_t *st = ms_llm_provider_stats(llm, i);
    ms_breaker_state_t bs = ms_breaker_state(ms_llm_provider_breaker(llm, i), now);
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:I}", "name", ms_provider_name(p),
                          "kind", p->ops->name, "model", ms_provider_model(p), "local",
                          p->local != 0, "circuit", circuit_name(bs), "requests",
                          (json_int_t)st->requests, "failures", (json_int_t)st->failures);
    json_object_set_new(o, "url", p->url ? json_string(p->url) : json_null());
    if (!p->ops->probe) {
        /* In this process: nothing to reach. */
        json_object_set_new(o, "reachable", json_true());
        json_object_set_new(o, "probe", json_string("none"));
        json_object_set_new(o, "latency_ms", json_null());
        return o;
    }
    ms_llm_probe_cache_t *c = cache_for(llm, i);
    json_object_set_new(
        o, "probe", json_string(!strcmp(p->ops->name, "ollama") ? "GET /api/tags" : "GET /models"));
    json_object_set_new(o, "reachable", json_boolean(c->valid && c->res.reachable));
    json_object_set_new(o, "latency_ms", c->valid ? json_integer(c->res.latency_ms) : json_null());
    json_object_set_new(o, "http_status",
                        c->valid && c->res.http_status ? json_integer(c->res.http_status)
                                                       : json_null());
    json_object_set_new(o, "error",
                        c->valid && c->res.error ? json_string(c->res.error) : json_null());
    json_object_set_new(o, "checked_ms_ago", c->valid ? json_integer(now - c->at_ms) : json_null());
    return o;
}

static void health_respond(ms_http_req_t *r) {
    ms_llm_t *llm = ms_chat_llm(r->api->chat);
    int64_t now = ms_mono_ms();
    json_t *arr = json_array();
    int all = 1;
    for (size_t i = 0; i < ms_llm_nproviders(llm); i++) {
        json_t *o = provider_json(llm, i, now);
        all &= json_is_true(json_object_get(o, "reachable"));
        json_array_append_new(arr, o);
    }
    ms_http_respond_json(
        r, 200, json_pack("{s:s, s:o}", "status", all ? "ok" : "degraded", "providers", arr));
    ms_http_finish(r);
}

typedef struct {
    ms_llm_t *llm;
    size_t i;
} probe_ctx_t;

static void probed(void *ctx, const ms_probe_result_t *res) {
    probe_ctx_t *pc = ctx;
    ms_llm_probe_cache_t *c = cache_for(pc->llm, pc->i);
    c->valid = 1;
    c->inflight = 0;
    c->at_ms = ms_mono_ms();
    c->res = *res;
    waiter_t *w = c->waiters;
    c->waiters = NULL;
    free(pc);
    while (w) {
        waiter_t *next = w->next;
        if (--w->h->pending == 0) {
            health_respond(w->h->r);
            free(w->h);
        }
        free(w);
        w = next;
    }
}

void ms_api_health_providers(ms_http_req_t *r) {
    if (ops_access(r) != 0) {
        ms_http_finish(r);
        return;
    }
    const ms_config_t *cfg = r->api->cfg;
    ms_llm_t *llm = ms_chat_llm(r->api->chat);
    int64_t now = ms_mono_ms();
    health_req_t *h = ms_xcalloc(1, sizeof *h);
    h->r = r;
    h->pending = 1; /* held until every probe below is asked for */
    for (size_t i = 0; i < ms_llm_nproviders(llm); i++) {
        ms_provider_t *p = ms_llm_provider(llm, i);
        ms_llm_probe_cache_t *c = p->ops->probe ? cache_for(llm, i) : NULL;
        if (!c || (c->valid && !c->inflight && now - c->at_ms < cfg->health_ttl_ms))
            continue;
        if (!c->inflight) {
            probe_ctx_t *pc = ms_xcalloc(1, sizeof *pc);
            pc->llm = llm;
            pc->i = i;
            if (p->ops->probe(p, cfg->health_probe_timeout_ms, probed, pc) != 0) {
                free(pc);
                c->valid = 1;
                c->at_ms = now;
                c->res = (ms_probe_result_t){.error = "the probe could not be started"};
                continue;
            }
            c->inflight = 1;
        }
        waiter_t *w = ms_xcalloc(1, sizeof *w);
        w->h = h;
        w->next = c->waiters;
        c->waiters = w;
        h->pending++;
    }
    if (--h->pending == 0) {
        health_respond(r);
        free(h);
    }
}
