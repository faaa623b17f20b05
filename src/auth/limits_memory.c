/* The in-memory backend of ms_limits_ops_t: rate-limit counters and
 * one-time WebSocket tickets for a single gateway process.
 *
 * Counters. A login limiter keyed by whatever a client sends (an email)
 * must not let the client decide how much memory it uses or how long a
 * lookup takes: 100,000 distinct emails a minute made the old uthash table
 * grow without bound and each new key cost 190 us of event loop. Here the
 * table is fixed at start-up: max_keys entries in sets of WAYS, a key's set
 * chosen by a keyed 64-bit SipHash digest (libsodium crypto_shorthash, key
 * random per process, so a client cannot aim many keys at one set). A hit
 * looks at one set: O(WAYS) = O(1). Only the digest is stored, so an entry
 * is 32 bytes whatever the key; two keys collide with probability 2^-64.
 *
 * When a set is full, the entry evicted is an empty or expired one if
 * there is one, else the one with the fewest events. That keeps what a
 * limiter must not forget: keys at or near their budget (a blocked address
 * or account) survive a flood of fresh keys, which each have one event and
 * evict each other. A count-min sketch would bound memory too, but it
 * over-counts innocent keys that share cells with a flood, blocking real
 * users; an exact bounded table under-counts only what it evicts, and it
 * evicts the keys that matter least.
 *
 * Tickets. Hashed by SHA-256 (the table never holds a usable ticket), in a
 * chained hash table for lookup, a list in expiry order for purging, and a
 * per-user list (oldest first) that enforces max_tickets_per_user by
 * dropping that user's own oldest ticket. When the whole table is full,
 * issuing fails (MS_EBUSY) instead of evicting anyone. */
#include "auth/limits.h"

#include "core/log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#define WAYS 8
/* A full table is reported at most once per this many ms, with a count of
 * what happened since: an attacker cannot turn refusals into log lines. */
#define LOG_EVERY_MS 10000

typedef struct {
    uint64_t digest; /* 0: empty */
    int64_t window;  /* index of the current fixed window (now / window_ms) */
    int64_t window_ms;
    uint32_t curr, prev; /* events in the current and the previous window */
} counter_t;

typedef struct owner owner_t;

typedef struct ticket {
    unsigned char hash[crypto_hash_sha256_BYTES];
    int64_t expires_at; /* monotonic ms */
    ms_jwt_claims_t claims;
    struct ticket *chain;         /* next in the hash bucket */
    struct ticket *prev, *next;   /* expiry order, soonest first */
    struct ticket *uprev, *unext; /* the owner's tickets, oldest first */
    owner_t *owner;
} ticket_t;

struct owner {
    UT_hash_handle hh;
    ticket_t *head, *tail;
    int64_t count;
    char id[MS_ID_LEN];
};

typedef struct {
    ms_limits_t base;
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
    unsigned char sipkey[crypto_shorthash_KEYBYTES];

    pthread_mutex_t cmu; /* the counters */
    counter_t *sets;     /* nsets * WAYS */
    size_t nsets;        /* power of two */
    int64_t nkeys, evictions;

    pthread_mutex_t tmu; /* the tickets */
    ticket_t **buckets;
    size_t nbuckets; /* power of two */
    ticket_t *head, *tail;
    owner_t *owners;
    int64_t ntickets, max_tickets, max_per_user, refused;
    int64_t last_full_log, full_since_log;
    int full_logged;
} mem_t;

static int64_t default_now(void *ctx) {
    (void)ctx;
    return ms_mono_ms();
}

static size_t pow2_at_least(size_t n) {
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* ---- counters ------------------------------------------------------------ */

static uint64_t key_digest(const mem_t *m, const char *key, int64_t window_ms) {
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), m->sipkey);
    uint64_t d;
    memcpy(&d, h, sizeof d);
    /* The window length is part of the key: the same name counted over two
     * windows is two counters. splitmix64's finaliser mixes it in. */
    d ^= (uint64_t)window_ms * UINT64_C(0x9e3779b97f4a7c15);
    d = (d ^ (d >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    d = (d ^ (d >> 27)) * UINT64_C(0x94d049bb133111eb);
    d ^= d >> 31;
    return d ? d : 1;
}

/* An entry whose current window ended more than a window ago holds nothing
 * a sliding window would still count. */
static int stale(const counter_t *e, int64_t now) {
    return e->digest == 0 || now / e->window_ms >= e->window + 2;
}

/* The entry for digest in its set, or the one to reuse for it (locked). */
static counter_t *counter_slot(mem_t *m, uint64_t d, int64_t now, int *found) {
    counter_t *set = &m->sets[(size_t)(d >> 32) % m->nsets * WAYS];
    counter_t *victim = NULL;
    *found = 0;
    for (int i = 0; i < WAYS; i++) {
        if (set[i].digest == d) {
            *found = 1;
            return &set[i];
        }
    }
    for (int i = 0; i < WAYS && !victim; i++)
        if (stale(&set[i], now))
            victim = &set[i];
    if (!victim) {
        victim = &set[0];
        for (int i = 1; i < WAYS; i++)
            if ((uint64_t)set[i].curr + set[i].prev < (uint64_t)victim->curr + victim->prev)
                victim = &set[i];
        m->evictions++;
    } else if (victim->digest == 0) {
        m->nkeys++;
    }
    return victim;
}

static int mem_hit(ms_limits_t *l, const char *key, int64_t limit, int64_t window_ms) {
    mem_t *m = (mem_t *)l;
    if (!key || limit < 1 || window_ms < 1)
        return MS_EINVAL;
    uint64_t d = key_digest(m, key, window_ms);
    pthread_mutex_lock(&m->cmu);
    int64_t now = m->now_ms(m->now_ctx);
    int64_t w = now / window_ms;
    int found;
    counter_t *e = counter_slot(m, d, now, &found);
    if (!found) {
        e->digest = d;
        e->window = w;
        e->window_ms = window_ms;
        e->curr = e->prev = 0;
    } else if (e->window != w) {
        e->prev = e->window == w - 1 ? e->curr : 0;
        e->curr = 0;
        e->window = w;
    }
    /* The previous window weighs by how much of it the sliding window still
     * covers. */
    int64_t into = now - w * window_ms;
    double estimate = (double)e->prev * (double)(window_ms - into) / (double)window_ms + e->curr;
    int rc = 0;
    if (estimate + 1 > (double)limit)
        rc = MS_EBUSY;
    else if (e->curr < UINT32_MAX)
        e->curr++;
    pthread_mutex_unlock(&m->cmu);
    return rc;
}

/* ---- tickets ------------------------------------------------------------- */

static size_t bucket_of(const mem_t *m, const unsigned char *hash) {
    /* The SHA-256 of a random token is uniform: its first bytes will do. */
    size_t b = (size_t)hash[0] | (size_t)hash[1] << 8 | (size_t)hash[2] << 16;
    return b & (m->nbuckets - 1);
}

static void hash_ticket(const char *ticket, unsigned char out[crypto_hash_sha256_BYTES]) {
    crypto_hash_sha256(out, (const unsigned char *)ticket,
                       strnlen(ticket, (size_t)MS_TOKEN_LEN * 4));
}

/* Unlinks k from its bucket, the expiry list and its owner, and frees it
 * (and the owner when it was its last ticket). Locked. */
static void remove_ticket(mem_t *m, ticket_t *k) {
    ticket_t **pp = &m->buckets[bucket_of(m, k->hash)];
    while (*pp != k)
        pp = &(*pp)->chain;
    *pp = k->chain;
    if (k == m->head)
        m->head = k->next;
    else
        k->prev->next = k->next;
    if (k == m->tail)
        m->tail = k->prev;
    else
        k->next->prev = k->prev;
    owner_t *o = k->owner;
    if (k == o->head)
        o->head = k->unext;
    else
        k->uprev->unext = k->unext;
    if (k == o->tail)
        o->tail = k->uprev;
    else
        k->unext->uprev = k->uprev;
    if (--o->count == 0) {
        HASH_DEL(m->owners, o);
        free(o);
    }
    m->ntickets--;
    free(k);
}

static void purge_expired(mem_t *m, int64_t now) {
    while (m->head && m->head->expires_at <= now)
        remove_ticket(m, m->head);
}

/* Reports a full table at most once per LOG_EVERY_MS (locked). */
static void note_full(mem_t *m, int64_t now) {
    m->refused++;
    m->full_since_log++;
    if (m->full_logged && now - m->last_full_log < LOG_EVERY_MS)
        return;
    ms_log(MS_LOG_WARN, "tickets_full", "\"max\":%lld,\"refused_since_last_report\":%lld",
           (long long)m->max_tickets, (long long)m->full_since_log);
    m->last_full_log = now;
    m->full_logged = 1;
    m->full_since_log = 0;
}

/* Links k into the expiry list, searching from the tail: with one ttl for
 * all tickets that is the tail itself. Locked. */
static void link_expiry(mem_t *m, ticket_t *k) {
    ticket_t *after = m->tail;
    while (after && after->expires_at > k->expires_at)
        after = after->prev;
    k->prev = after;
    k->next = after ? after->next : m->head;
    if (k->next)
        k->next->prev = k;
    else
        m->tail = k;
    if (after)
        after->next = k;
    else
        m->head = k;
}

static int mem_ticket_put(ms_limits_t *l, const char *ticket, const ms_jwt_claims_t *claims,
                          int64_t ttl_ms) {
    mem_t *m = (mem_t *)l;
    if (!ticket || !claims)
        return MS_EINVAL;
    ticket_t *k = ms_xcalloc(1, sizeof *k);
    hash_ticket(ticket, k->hash);
    k->claims = *claims;

    pthread_mutex_lock(&m->tmu);
    int64_t now = m->now_ms(m->now_ctx);
    k->expires_at = now + (ttl_ms > 0 ? ttl_ms : 0);
    purge_expired(m, now);
    owner_t *o = NULL;
    HASH_FIND_STR(m->owners, claims->sub, o);
    if (o && o->count >= m->max_per_user)
        remove_ticket(m, o->head); /* the user's own oldest; o may be freed */
    if (m->ntickets >= m->max_tickets) {
        note_full(m, now);
        pthread_mutex_unlock(&m->tmu);
        free(k);
        return MS_EBUSY;
    }
    HASH_FIND_STR(m->owners, claims->sub, o);
    if (!o) {
        o = ms_xcalloc(1, sizeof *o);
        snprintf(o->id, sizeof o->id, "%s", claims->sub);
        HASH_ADD_STR(m->owners, id, o);
    }
    k->owner = o;
    k->uprev = o->tail;
    if (o->tail)
        o->tail->unext = k;
    else
        o->head = k;
    o->tail = k;
    o->count++;
    link_expiry(m, k);
    size_t b = bucket_of(m, k->hash);
    k->chain = m->buckets[b];
    m->buckets[b] = k;
    m->ntickets++;
    pthread_mutex_unlock(&m->tmu);
    return 0;
}

static int mem_ticket_take(ms_limits_t *l, const char *ticket, ms_jwt_claims_t *out) {
    mem_t *m = (mem_t *)l;
    unsigned char h[crypto_hash_sha256_BYTES];
    int rc = MS_EAUTH;
    if (!ticket)
        return MS_EAUTH;
    hash_ticket(ticket, h);
    pthread_mutex_lock(&m->tmu);
    purge_expired(m, m->now_ms(m->now_ctx));
    for (ticket_t *k = m->buckets[bucket_of(m, h)]; k; k = k->chain) {
        if (sodium_memcmp(k->hash, h, sizeof h) == 0) {
            if (out)
                *out = k->claims;
            remove_ticket(m, k); /* one-time */
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&m->tmu);
    return rc;
}

static void mem_stats(ms_limits_t *l, ms_limits_stats_t *out) {
    mem_t *m = (mem_t *)l;
    pthread_mutex_lock(&m->cmu);
    out->counter_keys = m->nkeys;
    out->counter_capacity = (int64_t)(m->nsets * WAYS);
    out->counter_evictions = m->evictions;
    pthread_mutex_unlock(&m->cmu);
    pthread_mutex_lock(&m->tmu);
    out->tickets = m->ntickets;
    out->tickets_refused = m->refused;
    pthread_mutex_unlock(&m->tmu);
}

static void mem_free(ms_limits_t *l) {
    mem_t *m = (mem_t *)l;
    while (m->head)
        remove_ticket(m, m->head);
    free(m->buckets);
    free(m->sets);
    pthread_mutex_destroy(&m->cmu);
    pthread_mutex_destroy(&m->tmu);
    free(m);
}

static const ms_limits_ops_t memory_ops = {
    .name = "memory",
    .hit = mem_hit,
    .ticket_put = mem_ticket_put,
    .ticket_take = mem_ticket_take,
    .stats = mem_stats,
    .free = mem_free,
};

ms_limits_t *ms_limits_memory_new(const ms_limits_memory_config_t *cfg) {
    if (sodium_init() < 0)
        abort();
    mem_t *m = ms_xcalloc(1, sizeof *m);
    m->base.ops = &memory_ops;
    m->now_ms = cfg->now_ms ? cfg->now_ms : default_now;
    m->now_ctx = cfg->now_ctx;
    crypto_shorthash_keygen(m->sipkey);
    size_t keys = pow2_at_least(cfg->max_keys > WAYS ? (size_t)cfg->max_keys : WAYS);
    m->nsets = keys / WAYS;
    m->sets = ms_xcalloc(keys, sizeof *m->sets);
    m->max_tickets = cfg->max_tickets > 0 ? cfg->max_tickets : 1;
    m->max_per_user = cfg->max_tickets_per_user > 0 ? cfg->max_tickets_per_user : 1;
    /* About four tickets a chain when full. */
    m->nbuckets = pow2_at_least((size_t)(m->max_tickets / 4 > 16 ? m->max_tickets / 4 : 16));
    m->buckets = ms_xcalloc(m->nbuckets, sizeof(ticket_t *));
    pthread_mutex_init(&m->cmu, NULL);
    pthread_mutex_init(&m->tmu, NULL);
    return &m->base;
}

int ms_limits_ticket_issue(ms_limits_t *l, const ms_jwt_claims_t *claims, int64_t ttl_ms,
                           char out[MS_TOKEN_LEN]) {
    ms_token_random(out);
    int rc = l->ops->ticket_put(l, out, claims, ttl_ms);
    if (rc)
        sodium_memzero(out, MS_TOKEN_LEN);
    return rc;
}
