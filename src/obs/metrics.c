/* The metrics registry (obs/metrics.h): a table of families, a flat array
 * of atomics per family, and the text exposition. */
#include "obs/metrics.h"

#include "core/ms.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { L_NONE = 0, L_ROUTE = 1, L_PROVIDER = 2 };
typedef enum { T_COUNTER, T_GAUGE, T_HISTOGRAM } family_type_t;

typedef struct {
    const char *name;
    family_type_t type;
    int labels;
    const char *help;
} family_t;

/* The names LiteLLM and TensorZero use, with our prefix (docs/protocol.md
 * "GET /metrics" lists them with their meaning). */
static const family_t families[MS_M_NFAMILIES] = {
    [MS_M_REQUESTS] = {"medstream_requests_total", T_COUNTER, L_ROUTE | L_PROVIDER,
                       "Model requests started (each failover attempt counts)."},
    [MS_M_FAILURES] = {"medstream_request_failures_total", T_COUNTER, L_ROUTE | L_PROVIDER,
                       "Model requests that ended in an error."},
    [MS_M_FALLBACKS] = {"medstream_fallbacks_total", T_COUNTER, L_ROUTE | L_PROVIDER,
                        "Failures of this provider after which the route tried the next one."},
    [MS_M_PROMPT_TOKENS] = {"medstream_prompt_tokens_total", T_COUNTER, L_PROVIDER,
                            "Prompt tokens sent (the provider's usage, else counted)."},
    [MS_M_COMPLETION_TOKENS] = {"medstream_completion_tokens_total", T_COUNTER, L_PROVIDER,
                                "Completion tokens received (the provider's usage, else counted)."},
    [MS_M_LLM_DURATION] = {"medstream_llm_request_duration_seconds", T_HISTOGRAM, L_PROVIDER,
                           "Model request to the end of its answer."},
    [MS_M_TTFT] = {"medstream_time_to_first_token_seconds", T_HISTOGRAM, L_PROVIDER,
                   "Model request to its first token."},
    [MS_M_OVERHEAD] = {"medstream_overhead_seconds", T_HISTOGRAM, L_ROUTE,
                       "Gateway time from a question received to its first model request "
                       "(storage, retrieval, prompt, PHI detection, routing)."},
    [MS_M_PHI_ROUTED] = {"medstream_phi_routed_total", T_COUNTER, L_ROUTE,
                         "Questions with PHI kept to the route's local providers."},
    [MS_M_PHI_REDACTED] = {"medstream_phi_redacted_total", T_COUNTER, L_ROUTE,
                           "Questions with PHI sent to a non-local provider with placeholders."},
    [MS_M_PHI_REFUSED] = {"medstream_phi_refused_total", T_COUNTER, L_ROUTE,
                          "Questions with PHI refused: the route has no local provider."},
    [MS_M_CIRCUIT_STATE] = {"medstream_circuit_state", T_GAUGE, L_PROVIDER,
                            "Circuit breaker state: 0 closed, 1 half-open, 2 open."},
    [MS_M_WEBSOCKETS_OPEN] = {"medstream_websockets_open", T_GAUGE, L_NONE,
                              "WebSocket connections open."},
    [MS_M_STREAMS_LIVE] = {"medstream_streams_live", T_GAUGE, L_NONE,
                           "Answers being produced now."},
};

const int64_t ms_metrics_bucket_us[MS_METRICS_NBUCKETS] = {
    250,    500,     1000,    2500,    5000,     10000,    25000,    50000,     100000,   250000,
    500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 120000000, INT64_MAX};

/* Slots of one histogram series: the buckets (the last is +Inf), the sum
 * in microseconds and the count. */
#define HSLOTS (MS_METRICS_NBUCKETS + 2)

struct ms_metrics {
    size_t nroutes, nproviders;
    atomic_llong *v[MS_M_NFAMILIES]; /* per family: nseries * (1 or HSLOTS) */
    size_t nseries[MS_M_NFAMILIES];
};

static size_t series_of(const ms_metrics_t *m, int labels) {
    size_t n = 1;
    if (labels & L_ROUTE)
        n *= m->nroutes;
    if (labels & L_PROVIDER)
        n *= m->nproviders;
    return n;
}

static size_t width(family_type_t t) {
    return t == T_HISTOGRAM ? HSLOTS : 1;
}

ms_metrics_t *ms_metrics_new(size_t nroutes, size_t nproviders) {
    ms_metrics_t *m = ms_xcalloc(1, sizeof *m);
    m->nroutes = nroutes;
    m->nproviders = nproviders;
    for (int f = 0; f < MS_M_NFAMILIES; f++) {
        size_t n = series_of(m, families[f].labels) * width(families[f].type);
        m->nseries[f] = series_of(m, families[f].labels);
        m->v[f] = ms_xcalloc(n ? n : 1, sizeof *m->v[f]);
        for (size_t i = 0; i < n; i++)
            atomic_init(&m->v[f][i], 0);
    }
    return m;
}

void ms_metrics_free(ms_metrics_t *m) {
    if (!m)
        return;
    for (int f = 0; f < MS_M_NFAMILIES; f++)
        free(m->v[f]);
    free(m);
}

/* The first slot of a series, or NULL when the address is outside. */
static atomic_llong *slot(const ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider) {
    if (!m || (int)id < 0 || id >= MS_M_NFAMILIES)
        return NULL;
    const family_t *f = &families[id];
    size_t i = 0;
    if (f->labels & L_ROUTE) {
        if (route >= m->nroutes)
            return NULL;
        i = route;
    }
    if (f->labels & L_PROVIDER) {
        if (provider >= m->nproviders)
            return NULL;
        i = i * m->nproviders + provider;
    }
    if (i >= m->nseries[id])
        return NULL;
    return &m->v[id][i * width(f->type)];
}

void ms_metrics_add(ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider, int64_t n) {
    atomic_llong *s = slot(m, id, route, provider);
    if (!s || families[id].type == T_HISTOGRAM)
        return;
    atomic_fetch_add_explicit(s, n, memory_order_relaxed);
}

void ms_metrics_set(ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider, int64_t v) {
    atomic_llong *s = slot(m, id, route, provider);
    if (!s || families[id].type != T_GAUGE)
        return;
    atomic_store_explicit(s, v, memory_order_relaxed);
}

void ms_metrics_observe_us(ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider,
                           int64_t us) {
    atomic_llong *s = slot(m, id, route, provider);
    if (!s || families[id].type != T_HISTOGRAM)
        return;
    if (us < 0)
        us = 0;
    size_t b = 0;
    while (b + 1 < MS_METRICS_NBUCKETS && us > ms_metrics_bucket_us[b])
        b++;
    /* le is "less than or equal": an observation on a bound is in it. */
    atomic_fetch_add_explicit(&s[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s[MS_METRICS_NBUCKETS], us, memory_order_relaxed);
    atomic_fetch_add_explicit(&s[MS_METRICS_NBUCKETS + 1], 1, memory_order_relaxed);
}

int64_t ms_metrics_value(const ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider) {
    atomic_llong *s = slot(m, id, route, provider);
    if (!s)
        return 0;
    if (families[id].type == T_HISTOGRAM)
        s += MS_METRICS_NBUCKETS + 1;
    return atomic_load_explicit(s, memory_order_relaxed);
}

uint64_t ms_metrics_bucket(const ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider,
                           size_t b) {
    atomic_llong *s = slot(m, id, route, provider);
    if (!s || families[id].type != T_HISTOGRAM || b >= MS_METRICS_NBUCKETS)
        return 0;
    return (uint64_t)atomic_load_explicit(&s[b], memory_order_relaxed);
}

/* ---- the exposition --------------------------------------------------------- */

/* A label value as the format escapes it: \\, \" and \n. */
static void put_label(ms_buf_t *out, const char *key, const char *value, int *first) {
    ms_buf_puts(out, *first ? "{" : ",");
    *first = 0;
    ms_buf_puts(out, key);
    ms_buf_puts(out, "=\"");
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\')
            ms_buf_puts(out, "\\\\");
        else if (*p == '"')
            ms_buf_puts(out, "\\\"");
        else if (*p == '\n')
            ms_buf_puts(out, "\\n");
        else
            ms_buf_append(out, p, 1);
    }
    ms_buf_puts(out, "\"");
}

typedef struct {
    const char *route, *provider;
} labels_t;

/* "{route="...",provider="..."" without the closing brace (more may
 * follow), or "" when the series has no label. */
static int put_labels(ms_buf_t *out, int mask, const labels_t *l) {
    int first = 1;
    if (mask & L_ROUTE)
        put_label(out, "route", l->route, &first);
    if (mask & L_PROVIDER)
        put_label(out, "provider", l->provider, &first);
    return !first;
}

static void put_seconds(ms_buf_t *out, int64_t us) {
    ms_buf_printf(out, "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
}

static void render_histogram(ms_buf_t *out, const char *name, int mask, const labels_t *l,
                             const atomic_llong *s) {
    long long cum = 0;
    for (size_t b = 0; b < MS_METRICS_NBUCKETS; b++) {
        cum += atomic_load_explicit(&s[b], memory_order_relaxed);
        ms_buf_printf(out, "%s_bucket", name);
        ms_buf_puts(out, put_labels(out, mask, l) ? ",le=\"" : "{le=\"");
        if (b + 1 == MS_METRICS_NBUCKETS)
            ms_buf_puts(out, "+Inf");
        else
            put_seconds(out, ms_metrics_bucket_us[b]);
        ms_buf_printf(out, "\"} %lld\n", cum);
    }
    ms_buf_printf(out, "%s_sum", name);
    if (put_labels(out, mask, l))
        ms_buf_puts(out, "}");
    ms_buf_puts(out, " ");
    put_seconds(out, atomic_load_explicit(&s[MS_METRICS_NBUCKETS], memory_order_relaxed));
    ms_buf_printf(out, "\n%s_count", name);
    if (put_labels(out, mask, l))
        ms_buf_puts(out, "}");
    /* The count is the buckets' total, so the +Inf bucket and _count agree. */
    ms_buf_printf(out, " %lld\n", cum);
}

void ms_metrics_render(const ms_metrics_t *m, const char *const *route_names,
                       const char *const *provider_names, ms_buf_t *out) {
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    for (int id = 0; id < MS_M_NFAMILIES; id++) {
        const family_t *f = &families[id];
        ms_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                      type_names[f->type]);
        size_t nr = f->labels & L_ROUTE ? m->nroutes : 1;
        size_t np = f->labels & L_PROVIDER ? m->nproviders : 1;
        for (size_t r = 0; r < nr; r++) {
            for (size_t p = 0; p < np; p++) {
                const atomic_llong *s = slot(m, (ms_metric_id_t)id, r, p);
                if (!s)
                    continue;
                labels_t l = {f->labels & L_ROUTE ? route_names[r] : NULL,
                              f->labels & L_PROVIDER ? provider_names[p] : NULL};
                if (f->type == T_HISTOGRAM) {
                    render_histogram(out, f->name, f->labels, &l, s);
                    continue;
                }
                long long v = atomic_load_explicit(s, memory_order_relaxed);
                if (f->labels == (L_ROUTE | L_PROVIDER) && v == 0)
                    continue; /* a pair that never counted: most pairs are not on a route */
                ms_buf_puts(out, f->name);
                if (put_labels(out, f->labels, &l))
                    ms_buf_puts(out, "}");
                ms_buf_printf(out, " %lld\n", v);
            }
        }
    }
}
