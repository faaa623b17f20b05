/* One-time WebSocket tickets: a browser cannot set an Authorization header
 * on a WebSocket upgrade, so it first trades its access token for a short
 * lived ticket (REST, a worker thread) and passes that in the URL (the
 * loop redeems it). A ticket in a URL may end up in a log; being one-time
 * and short-lived makes that copy worthless.
 *
 * The table holds SHA-256 hashes of tickets, never the tickets: lookups go
 * by hash (a chained hash table), and the final comparison of the 32-byte
 * hashes is constant-time. Entries are also kept in a list ordered by
 * expiry, so purging expired tickets on each call costs only the number
 * purged. At most MAX_TICKETS are live; issuing beyond that evicts the one
 * closest to expiry rather than failing. */
#include "auth/auth.h"

#include "core/log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TICKETS 100000
#define NBUCKETS 16384 /* power of two; ~6 per chain when full */

typedef struct ticket {
    unsigned char hash[crypto_hash_sha256_BYTES];
    int64_t expires_at; /* monotonic ms: wall-clock steps do not matter */
    ms_jwt_claims_t claims;
    struct ticket *chain;       /* next in the hash bucket */
    struct ticket *prev, *next; /* expiry order, soonest first */
} ticket_t;

/* Owns every ticket_t; created by ms_tickets_new, freed by ms_tickets_free. */
struct ms_tickets {
    pthread_mutex_t mu;
    ticket_t *buckets[NBUCKETS];
    ticket_t *head, *tail;
    size_t count;
};

static size_t bucket_of(const unsigned char *hash) {
    /* The hash of a random token is uniform, so its first bytes do. */
    return ((size_t)hash[0] | (size_t)hash[1] << 8) & (NBUCKETS - 1);
}

static void hash_ticket(const char *ticket, unsigned char out[crypto_hash_sha256_BYTES]) {
    crypto_hash_sha256(out, (const unsigned char *)ticket,
                       strnlen(ticket, (size_t)MS_TOKEN_LEN * 4));
}

ms_tickets_t *ms_tickets_new(void) {
    if (sodium_init() < 0)
        abort();
    ms_tickets_t *t = ms_xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void ms_tickets_free(ms_tickets_t *t) {
    if (!t)
        return;
    for (ticket_t *k = t->head, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Unlinks k from its bucket and the expiry list and frees it (locked). */
static void remove_ticket(ms_tickets_t *t, ticket_t *k) {
    ticket_t **pp = &t->buckets[bucket_of(k->hash)];
    while (*pp != k)
        pp = &(*pp)->chain;
    *pp = k->chain;
    if (k == t->head)
        t->head = k->next;
    else
        k->prev->next = k->next;
    if (k == t->tail)
        t->tail = k->prev;
    else
        k->next->prev = k->prev;
    t->count--;
    free(k);
}

static void purge_expired(ms_tickets_t *t, int64_t now) {
    while (t->head && t->head->expires_at <= now)
        remove_ticket(t, t->head);
}

void ms_tickets_issue(ms_tickets_t *t, const ms_jwt_claims_t *claims, int64_t ttl_ms,
                      char out[MS_TOKEN_LEN]) {
    ticket_t *k = ms_xcalloc(1, sizeof *k);
    ms_token_random(out);
    hash_ticket(out, k->hash);
    k->claims = *claims;
    int64_t now = ms_mono_ms();
    k->expires_at = now + (ttl_ms > 0 ? ttl_ms : 0);

    pthread_mutex_lock(&t->mu);
    purge_expired(t, now);
    if (t->count >= MAX_TICKETS) {
        remove_ticket(t, t->head);
        ms_log(MS_LOG_WARN, "tickets_full", "\"max\":%d", MAX_TICKETS);
    }
    /* Insert in expiry order, searching from the tail: with one ttl for all
     * tickets that is the tail itself. */
    ticket_t *after = t->tail;
    while (after && after->expires_at > k->expires_at)
        after = after->prev;
    k->prev = after;
    k->next = after ? after->next : t->head;
    if (k->next)
        k->next->prev = k;
    else
        t->tail = k;
    if (after)
        after->next = k;
    else
        t->head = k;
    size_t b = bucket_of(k->hash);
    k->chain = t->buckets[b];
    t->buckets[b] = k;
    t->count++;
    pthread_mutex_unlock(&t->mu);
}

int ms_tickets_redeem(ms_tickets_t *t, const char *ticket, ms_jwt_claims_t *out) {
    unsigned char h[crypto_hash_sha256_BYTES];
    int rc = MS_EAUTH;
    if (!ticket)
        return MS_EAUTH;
    hash_ticket(ticket, h);
    int64_t now = ms_mono_ms();
    pthread_mutex_lock(&t->mu);
    purge_expired(t, now);
    for (ticket_t *k = t->buckets[bucket_of(h)]; k; k = k->chain) {
        if (sodium_memcmp(k->hash, h, sizeof h) == 0) {
            if (out)
                *out = k->claims;
            remove_ticket(t, k); /* one-time */
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}
