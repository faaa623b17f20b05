/* Per-provider health: a circuit breaker and the counters other parts read
 * (the /metrics and /health/providers work reads ms_llm_stats_t through
 * ms_llm_provider_stats, llm/registry.h).
 *
 * The breaker follows Nygard's pattern (Release It!, 2007, "Circuit
 * Breaker"): CLOSED lets every request through and remembers the times of
 * its recent failures; `failures` of them within `window_ms` open it. OPEN
 * refuses requests for `cooldown_ms`, then becomes HALF_OPEN: one request
 * (the probe) is let through; its success closes the breaker, its failure
 * opens it again for another cool-down. Time is passed in (monotonic ms),
 * so the logic is tested without clocks. A Retry-After from the provider
 * also holds it back until then (retry_at), whatever the breaker's state. */
#ifndef MS_LLM_BREAKER_H
#define MS_LLM_BREAKER_H

#include <stdint.h>

typedef enum { MS_BREAKER_CLOSED, MS_BREAKER_OPEN, MS_BREAKER_HALF_OPEN } ms_breaker_state_t;

/** Most failures a breaker remembers (the largest `failures` setting). */
#define MS_BREAKER_MAX_FAILURES 64

typedef struct {
    int failures;        /**< failures within window_ms that open it (1..64) */
    int64_t window_ms;   /**< the window they are counted in */
    int64_t cooldown_ms; /**< time open before the half-open probe */
} ms_breaker_config_t;

typedef struct {
    ms_breaker_config_t cfg;
    ms_breaker_state_t state;
    int64_t fail_at[MS_BREAKER_MAX_FAILURES]; /**< ring of recent failure times */
    int nfail, head;
    int64_t opened_at;
    int probing; /**< the half-open probe is in flight */
} ms_breaker_t;

void ms_breaker_init(ms_breaker_t *b, const ms_breaker_config_t *cfg);
/** The state at now (OPEN turns HALF_OPEN once the cool-down is over). */
ms_breaker_state_t ms_breaker_state(ms_breaker_t *b, int64_t now);
/** Whether a request may go now; when it is the half-open probe, it is
 * marked in flight (the caller must then report its outcome). */
int ms_breaker_allow(ms_breaker_t *b, int64_t now);
void ms_breaker_success(ms_breaker_t *b, int64_t now);
void ms_breaker_failure(ms_breaker_t *b, int64_t now);
/** A request let through was abandoned without an outcome (cancelled):
 * a probe in flight may be retried. */
void ms_breaker_abandon(ms_breaker_t *b);
const char *ms_breaker_state_name(ms_breaker_state_t s);

/** Counters of one provider since start (loop thread). Latencies of the
 * last request that reached an outcome. */
typedef struct {
    uint64_t requests;      /**< generations started */
    uint64_t successes;     /**< ended with an answer (stop, length, ...) */
    uint64_t failures;      /**< ended in an error (counted by the breaker) */
    uint64_t cancelled;     /**< ended by a client's cancel or the answer cap */
    uint64_t fallbacks;     /**< failures after which the route moved on */
    uint64_t rejected;      /**< skipped: the breaker was open or Retry-After pending */
    uint64_t prompt_tokens; /**< sums of usage */
    uint64_t completion_tokens;
    int64_t last_latency_ms; /**< start to end of the last generation */
    int64_t last_ttft_ms;    /**< start to first token of the last one that streamed */
    int last_http_status;
    int64_t retry_at; /**< monotonic ms before which it is not asked (Retry-After); 0 none */
} ms_llm_stats_t;

#endif
