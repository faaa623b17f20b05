/* The gateway's metrics: a fixed registry of counters, gauges and
 * histograms, rendered in the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/) for
 * GET /metrics.
 *
 * Names follow LiteLLM's and TensorZero's (litellm_overhead_latency_metric,
 * tensorzero_*_time_to_first_token ...), prefixed "medstream_", in base
 * units (seconds, tokens), counters ending in "_total" as the Prometheus
 * naming guide asks (https://prometheus.io/docs/practices/naming/).
 *
 * The families are a table (metrics.c), never built at run time; a series
 * is addressed by (family, route index, provider index), indices into the
 * provider registry (llm/registry.h), so an update is one atomic add with
 * no lookup and no allocation. Every value is a C11 atomic (relaxed): any
 * thread may update it, and a scrape reads each value once (a histogram
 * read while another thread observes may be off by that one observation;
 * here all observations happen on the loop thread, which also renders). */
#ifndef MS_OBS_METRICS_H
#define MS_OBS_METRICS_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

/** The families. Labels: R = route, P = provider. */
typedef enum {
    MS_M_REQUESTS = 0,      /**< counter {R,P}: model requests (attempts) started */
    MS_M_FAILURES,          /**< counter {R,P}: attempts that ended in an error */
    MS_M_FALLBACKS,         /**< counter {R,P}: failures after which the route moved on */
    MS_M_PROMPT_TOKENS,     /**< counter {P}: prompt tokens (provider usage, else counted) */
    MS_M_COMPLETION_TOKENS, /**< counter {P}: completion tokens */
    MS_M_LLM_DURATION,      /**< histogram {P}: request to end of the upstream's answer */
    MS_M_TTFT,              /**< histogram {P}: request to first token */
    MS_M_OVERHEAD,          /**< histogram {R}: question received to the model asked */
    MS_M_PHI_ROUTED,        /**< counter {R}: questions with PHI kept to local providers */
    MS_M_PHI_REDACTED,      /**< counter {R}: questions with PHI sent redacted */
    MS_M_PHI_REFUSED,       /**< counter {R}: questions with PHI refused (no local provider) */
    MS_M_CIRCUIT_STATE,     /**< gauge {P}: 0 closed, 1 half-open, 2 open */
    MS_M_WEBSOCKETS_OPEN,   /**< gauge: WebSocket connections open */
    MS_M_STREAMS_LIVE,      /**< gauge: answers being produced */
    MS_M_NFAMILIES
} ms_metric_id_t;

/** Histogram bucket upper bounds, in microseconds (the "le" values are
 * these in seconds): 0.25 ms up to 2 minutes, the last bucket +Inf. */
#define MS_METRICS_NBUCKETS 19
extern const int64_t ms_metrics_bucket_us[MS_METRICS_NBUCKETS];

typedef struct ms_metrics ms_metrics_t;

/** A registry for nroutes routes and nproviders providers (either may be
 * 0: families with that label then have no series). Never NULL. */
ms_metrics_t *ms_metrics_new(size_t nroutes, size_t nproviders);
/** NULL-safe. */
void ms_metrics_free(ms_metrics_t *m);

/** Adds n to a counter, or (a negative n too) to a gauge. Indices the
 * family does not use are ignored; an index out of range, a NULL m or a
 * histogram id does nothing. Any thread. */
void ms_metrics_add(ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider, int64_t n);
/** Sets a gauge. Any thread. */
void ms_metrics_set(ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider, int64_t v);
/** Records one observation of us microseconds (negative counts as 0) in a
 * histogram. Any thread. */
void ms_metrics_observe_us(ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider,
                           int64_t us);

/** A counter's or gauge's value, or a histogram's count (tests). */
int64_t ms_metrics_value(const ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider);
/** The count in histogram bucket b (0 .. MS_METRICS_NBUCKETS, the last
 * being +Inf), not cumulative (tests). */
uint64_t ms_metrics_bucket(const ms_metrics_t *m, ms_metric_id_t id, size_t route, size_t provider,
                           size_t b);

/** Appends the exposition of every family to out: "# HELP", "# TYPE",
 * then its samples. route_names[nroutes] and provider_names[nproviders]
 * give the label values (escaped as the format says: backslash, double
 * quote, line feed). Families labelled by both route and provider list
 * only the pairs that have counted something; the others list every
 * series. Histograms give cumulative buckets ending in le="+Inf", _sum
 * (seconds) and _count. */
void ms_metrics_render(const ms_metrics_t *m, const char *const *route_names,
                       const char *const *provider_names, ms_buf_t *out);

/** The Content-Type of the rendering. */
#define MS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
