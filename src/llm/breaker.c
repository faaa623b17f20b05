/* The circuit breaker (llm/breaker.h). */
#include "llm/breaker.h"

#include <string.h>

void ms_breaker_init(ms_breaker_t *b, const ms_breaker_config_t *cfg) {
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    if (b->cfg.failures < 1)
        b->cfg.failures = 1;
    if (b->cfg.failures > MS_BREAKER_MAX_FAILURES)
        b->cfg.failures = MS_BREAKER_MAX_FAILURES;
    b->state = MS_BREAKER_CLOSED;
}

ms_breaker_state_t ms_breaker_state(ms_breaker_t *b, int64_t now) {
    if (b->state == MS_BREAKER_OPEN && now - b->opened_at >= b->cfg.cooldown_ms) {
        b->state = MS_BREAKER_HALF_OPEN;
        b->probing = 0;
    }
    return b->state;
}

int ms_breaker_allow(ms_breaker_t *b, int64_t now) {
    switch (ms_breaker_state(b, now)) {
    case MS_BREAKER_CLOSED:
        return 1;
    case MS_BREAKER_OPEN:
        return 0;
    case MS_BREAKER_HALF_OPEN:
        if (b->probing)
            return 0;
        b->probing = 1;
        return 1;
    }
    return 0;
}

static void open_now(ms_breaker_t *b, int64_t now) {
    b->state = MS_BREAKER_OPEN;
    b->opened_at = now;
    b->probing = 0;
}

void ms_breaker_success(ms_breaker_t *b, int64_t now) {
    (void)now;
    b->probing = 0;
    if (b->state != MS_BREAKER_CLOSED) {
        b->state = MS_BREAKER_CLOSED;
        b->nfail = b->head = 0;
    }
}

void ms_breaker_failure(ms_breaker_t *b, int64_t now) {
    ms_breaker_state(b, now);
    if (b->state == MS_BREAKER_HALF_OPEN) {
        open_now(b, now); /* the probe failed */
        return;
    }
    if (b->state == MS_BREAKER_OPEN)
        return; /* a request started before it opened */
    int cap = b->cfg.failures;
    b->fail_at[b->head] = now;
    b->head = (b->head + 1) % cap;
    if (b->nfail < cap)
        b->nfail++;
    /* The oldest of the last `failures` failures is within the window. */
    if (b->nfail == cap) {
        int64_t oldest = b->fail_at[b->head % cap];
        if (now - oldest <= b->cfg.window_ms) {
            open_now(b, now);
            b->nfail = b->head = 0;
        }
    }
}

void ms_breaker_abandon(ms_breaker_t *b) {
    b->probing = 0;
}

const char *ms_breaker_state_name(ms_breaker_state_t s) {
    return s == MS_BREAKER_OPEN ? "open" : s == MS_BREAKER_HALF_OPEN ? "half_open" : "closed";
}
