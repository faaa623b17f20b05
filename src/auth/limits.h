/* Tickets and rate-limit counters behind one table of operations.
 *
 * Everything that must be shared by every gateway process once there are
 * several (a WebSocket ticket issued by one node and redeemed on another, a
 * login budget that an attacker cannot multiply by the number of nodes)
 * lives behind ms_limits_ops_t. The memory backend (limits_memory.c) is the
 * single-node default; a Redis backend implements the same operations:
 *
 *   hit          sliding-window counter: INCR <key>:<window> with PEXPIRE of
 *                two windows, reading <key>:<window-1> for the weighted
 *                previous window (one Lua script, so check-and-increment is
 *                atomic);
 *   ticket_put   SET ticket:<sha256> <claims> PX <ttl> NX, plus ZADD of the
 *                hash into the owner's ticket set scored by expiry, trimming
 *                that set to the per-user bound (ZPOPMIN) and expired members
 *                (ZREMRANGEBYSCORE);
 *   ticket_take  GETDEL ticket:<sha256> (redeem once), ZREM from the set.
 *
 * Nothing here knows about HTTP: callers build keys ("login:addr:1.2.3.4",
 * "ticket:user:<id>", "ws:user:<id>") and map MS_EBUSY to their 429. */
#ifndef MS_AUTH_LIMITS_H
#define MS_AUTH_LIMITS_H

#include "auth/auth.h"

#include <stdint.h>

typedef struct ms_limits ms_limits_t;

/** What a backend reports for /health and logs. */
typedef struct {
    int64_t counter_keys;      /**< counters held now */
    int64_t counter_capacity;  /**< most counters held at once */
    int64_t counter_evictions; /**< counters forgotten to make room */
    int64_t tickets;           /**< outstanding tickets */
    int64_t tickets_refused;   /**< ticket_put refused because the table was full */
} ms_limits_stats_t;

/** The operations (see the file comment for their Redis mapping). Every
 * operation is thread-safe and O(1) in the number of keys and tickets. */
typedef struct ms_limits_ops {
    const char *name;
    /** Counts one event for key if it fits: the number of events in the
     * last window_ms (a sliding window, estimated from the current and the
     * previous fixed window as in Cloudflare's "counting things" method)
     * must stay <= limit. Returns 0 and counts the event, or MS_EBUSY
     * without counting it (a refused attempt does not prolong the block).
     * key is any NUL-terminated string (only a keyed 64-bit digest of it is
     * kept); limit >= 1; window_ms >= 1. */
    int (*hit)(ms_limits_t *l, const char *key, int64_t limit, int64_t window_ms);
    /** Stores a ticket (the caller's random token; only its SHA-256 is kept)
     * for claims, valid ttl_ms. When claims->sub already holds the per-user
     * bound of tickets, that user's oldest ticket is dropped: one user can
     * never push out another's. MS_EBUSY when the table holds its total
     * bound of live tickets (nothing is evicted then). */
    int (*ticket_put)(ms_limits_t *l, const char *ticket, const ms_jwt_claims_t *claims,
                      int64_t ttl_ms);
    /** Redeems a ticket once: fills *out (if not NULL) and forgets it.
     * MS_EAUTH if unknown, expired or already used (also for NULL). */
    int (*ticket_take)(ms_limits_t *l, const char *ticket, ms_jwt_claims_t *out);
    void (*stats)(ms_limits_t *l, ms_limits_stats_t *out);
    void (*free)(ms_limits_t *l);
} ms_limits_ops_t;

/** Every backend's handle starts with this. */
struct ms_limits {
    const ms_limits_ops_t *ops;
};

/** Sizes of the memory backend (each a configuration directive). */
typedef struct {
    int64_t max_keys;             /**< counters held at once (rounded up to a power of two) */
    int64_t max_tickets;          /**< outstanding tickets, all users */
    int64_t max_tickets_per_user; /**< outstanding tickets of one user */
    /** Monotonic clock in ms; NULL means ms_mono_ms. Tests pass a fake. */
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
} ms_limits_memory_config_t;

/** The in-memory backend: a set-associative counter table (8 ways a set,
 * lowest-count eviction) and a hashed ticket table with an expiry list and
 * per-user lists. Aborts on allocation failure like every constructor. */
ms_limits_t *ms_limits_memory_new(const ms_limits_memory_config_t *cfg);

/** See ms_limits_ops_t.hit. The one counter every rate limit uses: login
 * attempts per address and per email, tickets per user, and (the chat
 * module) WebSocket messages per user, e.g.
 * ms_limits_hit(l, "ws:user:<id>", 30, 10000) allows 30 messages in any
 * 10 s. */
static inline int ms_limits_hit(ms_limits_t *l, const char *key, int64_t limit, int64_t window_ms) {
    return l->ops->hit(l, key, limit, window_ms);
}

/** Issues a ticket for claims valid ttl_ms: writes a random token (as
 * ms_token_random) to out and stores it. 0, or MS_EBUSY (table full; out is
 * then not a valid ticket). */
int ms_limits_ticket_issue(ms_limits_t *l, const ms_jwt_claims_t *claims, int64_t ttl_ms,
                           char out[MS_TOKEN_LEN]);

/** See ms_limits_ops_t.ticket_take. */
static inline int ms_limits_ticket_redeem(ms_limits_t *l, const char *ticket,
                                          ms_jwt_claims_t *out) {
    return l->ops->ticket_take(l, ticket, out);
}

static inline void ms_limits_stats(ms_limits_t *l, ms_limits_stats_t *out) {
    l->ops->stats(l, out);
}

/** NULL-safe. */
static inline void ms_limits_free(ms_limits_t *l) {
    if (l)
        l->ops->free(l);
}

#endif
