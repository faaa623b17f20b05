/* Per-connection limits on what a WebSocket client asks (docs/protocol.md,
 * "Limits"): a token bucket on messages and a bound on the answers one
 * connection follows at once. Pure logic, so it is unit-tested without a
 * socket (tests/unit/test_netws.c). */
#include "net/wslimit.h"

void ms__ws_rate_init(ms_ws_rate_t *r, uint64_t now_ms, const ms_ws_limits_t *lim) {
    r->last_ms = (uint32_t)now_ms;
    r->tokens = lim->burst > UINT32_MAX / 1000 ? UINT32_MAX : lim->burst * 1000;
    r->refused = 0;
}

/* Refills at per_s tokens a second (in thousandths, so slow rates refill
 * smoothly), capped at the burst. The clock is kept in 32 bits: a gap of
 * 49 days wraps, which only refills the bucket. */
static void refill(ms_ws_rate_t *r, uint64_t now_ms, const ms_ws_limits_t *lim) {
    uint32_t elapsed = (uint32_t)now_ms - r->last_ms;
    uint64_t cap = (uint64_t)lim->burst * 1000;
    uint64_t t = r->tokens + (uint64_t)elapsed * lim->per_s;
    r->tokens = (uint32_t)(t > cap ? (cap > UINT32_MAX ? UINT32_MAX : cap) : t);
    r->last_ms = (uint32_t)now_ms;
}

/* A refusal counts towards the hard bound; close_after refusals in a row
 * (no accepted message between) end the connection. */
static ms_ws_verdict_t refuse(ms_ws_rate_t *r, const ms_ws_limits_t *lim) {
    if (r->refused < UINT16_MAX)
        r->refused++;
    return r->refused >= lim->close_after ? MS_WS_CLOSE : MS_WS_REFUSE;
}

ms_ws_verdict_t ms__ws_admit(ms_ws_rate_t *r, const ms_ws_limits_t *lim, uint64_t now_ms,
                             int opens_stream, unsigned followed) {
    if (lim->per_s) {
        refill(r, now_ms, lim);
        if (r->tokens < 1000)
            return refuse(r, lim);
        r->tokens -= 1000;
    }
    if (opens_stream && followed >= lim->max_inflight)
        return refuse(r, lim);
    r->refused = 0;
    return MS_WS_OK;
}
