/* Unit tests of passwords, JWTs, opaque tokens, tickets and rate-limit counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/limits.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const unsigned char secret[] = "0123456789abcdef0123456789abcdef-test-secret";
#define SECRET_LEN (sizeof secret - 1)
static const unsigned char other_secret[] = "another-secret-of-at-least-32-bytes-length!";
#define UID "6f1c2b5e-8d3a-4c7e-9f10-2a3b4c5d6e7f"

static char *b64url(const void *p, size_t n) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* Builds a compact JWS by hand: header and payload JSON as given, signed
 * with HMAC-SHA256 ("sha256"), HMAC-SHA512 ("sha512") or unsigned ("none"). */
static char *make_token(const char *header, const char *payload, const unsigned char *key,
                        size_t keylen, const char *how) {
    char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 200;
    char *tok = malloc(n);
    snprintf(tok, n, "%s.%s", h, p);
    char *sig = NULL;
    if (strcmp(how, "sha256") == 0) {
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, keylen);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, strlen(tok));
        crypto_auth_hmacsha256_final(&st, mac);
        sig = b64url(mac, sizeof mac);
    } else if (strcmp(how, "sha512") == 0) {
        unsigned char mac[crypto_auth_hmacsha512_BYTES];
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, key, keylen);
        crypto_auth_hmacsha512_update(&st, (const unsigned char *)tok, strlen(tok));
        crypto_auth_hmacsha512_final(&st, mac);
        sig = b64url(mac, sizeof mac);
    }
    size_t used = strlen(tok);
    snprintf(tok + used, n - used, ".%s", sig ? sig : "");
    free(h);
    free(p);
    free(sig);
    return tok;
}

static char *claims_json(const char *iss, const char *typ, long long exp_offset) {
    long long now = (long long)time(NULL);
    char *out = malloc(512);
    snprintf(out, 512,
             "{\"iss\":\"%s\",\"typ\":\"%s\",\"sub\":\"" UID "\",\"email\":\"a@example.com\","
             "\"role\":\"clinician\",\"iat\":%lld,\"exp\":%lld}",
             iss, typ, now - 10, now + exp_offset);
    return out;
}

static int verify(const char *tok) {
    ms_jwt_claims_t c;
    return ms_jwt_verify(secret, SECRET_LEN, tok, &c);
}

static void test_password_hash_verify(void **state) {
    char h1[MS_PASSWORD_HASH_LEN], h2[MS_PASSWORD_HASH_LEN];
    assert_int_equal(ms_password_hash("correct horse battery", h1), 0);
    assert_memory_equal(h1, "$argon2id$", 10);
    assert_int_equal(ms_password_hash("correct horse battery", h2), 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_int_equal(ms_password_verify(h1, "correct horse battery"), 0);
    assert_int_equal(ms_password_verify(h2, "correct horse battery"), 0);
    assert_int_equal(ms_password_verify(h1, "correct horse batter"), MS_EAUTH);
    assert_int_equal(ms_password_verify(h1, ""), MS_EAUTH);
    assert_int_equal(ms_password_verify(NULL, "correct horse battery"), MS_EAUTH);
    assert_int_equal(ms_password_verify("", "correct horse battery"), MS_EAUTH);
    assert_int_equal(ms_password_verify("$argon2id$v=19$garbage", "x"), MS_EAUTH);

    /* An unknown user (NULL hash) costs about as much as a wrong password,
     * so response times do not reveal which emails have accounts. */
    int64_t t0;
    assert_int_equal(ms_password_verify(NULL, "warm up the dummy hash"), MS_EAUTH);
    t0 = ms_mono_us();
    assert_int_equal(ms_password_verify(h1, "wrong password"), MS_EAUTH);
    int64_t t_wrong = ms_mono_us() - t0;
    t0 = ms_mono_us();
    assert_int_equal(ms_password_verify(NULL, "wrong password"), MS_EAUTH);
    int64_t t_unknown = ms_mono_us() - t0;
    assert_true(t_unknown * 10 > t_wrong);

    assert_int_equal(ms_password_hash("1234567", h1), MS_EINVAL);
    assert_int_equal(ms_password_hash("12345678", h1), 0);
    char *huge = malloc(1026);
    memset(huge, 'p', 1025);
    huge[1025] = '\0';
    assert_int_equal(ms_password_hash(huge, h1), MS_EINVAL);
    assert_int_equal(ms_password_verify(h2, huge), MS_EAUTH);
    free(huge);
}

static void test_jwt_round_trip(void **state) {
    char *tok = NULL;
    ms_jwt_claims_t c;
    assert_int_equal(
        ms_jwt_issue(secret, SECRET_LEN, UID, "dr.who@example.com", "admin", 900, &tok), 0);
    assert_int_equal(ms_jwt_verify(secret, SECRET_LEN, tok, &c), 0);
    assert_string_equal(c.sub, UID);
    assert_string_equal(c.email, "dr.who@example.com");
    assert_string_equal(c.role, "admin");
    assert_int_equal(c.exp - c.iat, 900);
    assert_true(llabs((long long)c.iat - (long long)time(NULL)) <= 2);
    free(tok);

    /* A short key is refused when issuing and never verifies. */
    assert_int_equal(ms_jwt_issue(secret, 16, UID, "a@b.c", "admin", 900, &tok), MS_EINVAL);
    assert_null(tok);
    assert_int_equal(ms_jwt_issue(secret, SECRET_LEN, UID, "a@b.c", "admin", 0, &tok), MS_EINVAL);

    /* The hand-made tokens used below verify when well formed. */
    char *cl = claims_json("medstream", "access", 60);
    tok = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", cl, secret, SECRET_LEN, "sha256");
    assert_int_equal(verify(tok), 0);
    assert_int_equal(ms_jwt_verify(secret, 16, tok, &c), MS_EAUTH);
    free(tok);
    free(cl);
}

static void test_jwt_expired(void **state) {
    char *cl = claims_json("medstream", "access", -1);
    char *tok = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", cl, secret, SECRET_LEN, "sha256");
    assert_int_equal(verify(tok), MS_EAUTH);
    free(tok);
    free(cl);
    /* Expiry is strict to the second: exp == now is already expired. */
    cl = claims_json("medstream", "access", 0);
    tok = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", cl, secret, SECRET_LEN, "sha256");
    assert_int_equal(verify(tok), MS_EAUTH);
    free(tok);
    free(cl);
}

static void test_jwt_tampered_and_wrong_secret(void **state) {
    char *tok = NULL, *adm = NULL;
    assert_int_equal(ms_jwt_issue(secret, SECRET_LEN, UID, "a@example.com", "clinician", 900, &tok),
                     0);
    assert_int_equal(verify(tok), 0);
    assert_int_equal(ms_jwt_verify(other_secret, sizeof other_secret - 1, tok, NULL), MS_EAUTH);

    /* Flip each character of the payload in turn. */
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    for (char *p = d1 + 1; p < d2; p++) {
        char saved = *p;
        *p = saved == 'A' ? 'B' : 'A';
        assert_int_equal(verify(tok), MS_EAUTH);
        *p = saved;
    }
    /* Splice the payload of an admin token (same key) onto this signature. */
    assert_int_equal(ms_jwt_issue(secret, SECRET_LEN, UID, "a@example.com", "admin", 900, &adm), 0);
    char *a1 = strchr(adm, '.'), *a2 = strchr(a1 + 1, '.');
    size_t n = strlen(tok) + strlen(adm);
    char *spliced = malloc(n);
    snprintf(spliced, n, "%.*s%.*s%s", (int)(d1 - tok), tok, (int)(a2 - a1), a1, d2);
    assert_int_equal(verify(spliced), MS_EAUTH);
    free(spliced);
    free(adm);

    /* A token made with another key but otherwise perfect. */
    char *cl = claims_json("medstream", "access", 60);
    char *forged = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", cl, other_secret,
                              sizeof other_secret - 1, "sha256");
    assert_int_equal(verify(forged), MS_EAUTH);
    free(forged);
    free(cl);
    free(tok);
}

static void test_jwt_alg_none_and_other_algs(void **state) {
    char *cl = claims_json("medstream", "access", 60);
    const char *none_hdrs[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"none\"}",
                               "{\"alg\":\"None\",\"typ\":\"JWT\"}"};
    for (size_t i = 0; i < 3; i++) {
        char *tok = make_token(none_hdrs[i], cl, secret, SECRET_LEN, "none");
        assert_int_equal(verify(tok), MS_EAUTH);
        free(tok);
        /* Even carrying a valid HS256 signature, a header saying none is refused. */
        tok = make_token(none_hdrs[i], cl, secret, SECRET_LEN, "sha256");
        assert_int_equal(verify(tok), MS_EAUTH);
        free(tok);
    }
    char *tok = make_token("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", cl, secret, SECRET_LEN, "sha512");
    assert_int_equal(verify(tok), MS_EAUTH);
    free(tok);
    tok = make_token("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", cl, secret, SECRET_LEN, "sha256");
    assert_int_equal(verify(tok), MS_EAUTH);
    free(tok);
    tok = make_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", cl, secret, SECRET_LEN, "sha256");
    assert_int_equal(verify(tok), MS_EAUTH);
    free(tok);
    tok = make_token("{\"typ\":\"JWT\"}", cl, secret, SECRET_LEN, "sha256");
    assert_int_equal(verify(tok), MS_EAUTH);
    free(tok);
    tok = make_token("[\"HS256\"]", cl, secret, SECRET_LEN, "sha256");
    assert_int_equal(verify(tok), MS_EAUTH);
    free(tok);
    free(cl);
}

static void test_jwt_wrong_claims(void **state) {
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    long long now = (long long)time(NULL);
    char buf[512];
    char *cl[5];
    cl[0] = claims_json("someone-else", "access", 60);
    cl[1] = claims_json("medstream", "refresh", 60);
    snprintf(buf, sizeof buf,
             "{\"iss\":\"medstream\",\"typ\":\"access\",\"sub\":\"" UID "\",\"email\":\"a@b.c\","
             "\"role\":\"admin\",\"iat\":%lld}",
             now);
    cl[2] = strdup(buf); /* no exp */
    snprintf(buf, sizeof buf,
             "{\"iss\":\"medstream\",\"typ\":\"access\",\"sub\":\"" UID "\",\"email\":\"a@b.c\","
             "\"role\":\"admin\",\"iat\":%lld,\"exp\":\"%lld\"}",
             now, now + 60);
    cl[3] = strdup(buf); /* exp as a string */
    snprintf(buf, sizeof buf,
             "{\"iss\":\"medstream\",\"typ\":\"access\",\"email\":\"a@b.c\","
             "\"role\":\"admin\",\"iat\":%lld,\"exp\":%lld}",
             now, now + 60);
    cl[4] = strdup(buf); /* no sub */
    for (int i = 0; i < 5; i++) {
        char *tok = make_token(hdr, cl[i], secret, SECRET_LEN, "sha256");
        assert_int_equal(verify(tok), MS_EAUTH);
        free(tok);
        free(cl[i]);
    }
}

static void test_jwt_garbage_never_crashes(void **state) {
    const char *junk[] = {"",
                          ".",
                          "..",
                          "...",
                          "a.b.c",
                          "a..c",
                          "..c",
                          "eyJ.eyJ.",
                          "\xff\xfe.\x01.\x80",
                          "Bearer x.y.z",
                          "a.b.c.d",
                          "eyJhbGciOiJIUzI1NiJ9.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        assert_int_equal(verify(junk[i]), MS_EAUTH);
    assert_int_equal(ms_jwt_verify(secret, SECRET_LEN, NULL, NULL), MS_EAUTH);
    assert_int_equal(ms_jwt_verify(NULL, 0, "a.b.c", NULL), MS_EAUTH);

    /* Every truncation of a valid token. */
    char *tok = NULL;
    assert_int_equal(ms_jwt_issue(secret, SECRET_LEN, UID, "a@example.com", "clinician", 900, &tok),
                     0);
    size_t n = strlen(tok);
    char *cut = malloc(n + 1);
    for (size_t k = 0; k < n; k++) {
        memcpy(cut, tok, k);
        cut[k] = '\0';
        assert_int_equal(verify(cut), MS_EAUTH);
    }
    free(cut);
    free(tok);

    /* Random bytes, and random base64url segments in the JWT shape. */
    char buf[300];
    for (int i = 0; i < 2000; i++) {
        size_t len = 1 + randombytes_uniform(sizeof buf - 1);
        randombytes_buf(buf, len);
        buf[len - 1] = '\0';
        if (i % 2) {
            static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_..";
            for (size_t k = 0; k + 1 < len; k++)
                buf[k] = alphabet[(unsigned char)buf[k] % (sizeof alphabet - 1)];
        }
        assert_int_equal(verify(buf), MS_EAUTH);
    }
    char *huge = malloc(100001);
    memset(huge, 'A', 100000);
    huge[100000] = '\0';
    huge[10] = huge[20] = '.';
    assert_int_equal(verify(huge), MS_EAUTH);
    free(huge);
}

static void test_token_random_and_hash(void **state) {
    char a[MS_TOKEN_LEN], b[MS_TOKEN_LEN], h[65], h2[65];
    ms_token_random(a);
    ms_token_random(b);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    for (size_t i = 0; i < 43; i++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
    /* FIPS 180-2 test vector. */
    ms_token_hash("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ms_token_hash(a, h);
    ms_token_hash(a, h2);
    assert_string_equal(h, h2);
    ms_token_hash(b, h2);
    assert_string_not_equal(h, h2);
}

static ms_jwt_claims_t claims_for(int i) {
    ms_jwt_claims_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "user-%d", i);
    snprintf(c.email, sizeof c.email, "u%d@example.com", i);
    snprintf(c.role, sizeof c.role, "clinician");
    c.iat = 1000 + i;
    c.exp = 2000 + i;
    return c;
}

/* A fake monotonic clock for the limits backend: tests move time by hand. */
static int64_t fake_now_ms(void *ctx) {
    return *(int64_t *)ctx;
}

static ms_limits_t *limits_new(int64_t *clock, int64_t keys, int64_t tickets, int64_t per_user) {
    ms_limits_memory_config_t c = {.max_keys = keys,
                                   .max_tickets = tickets,
                                   .max_tickets_per_user = per_user,
                                   .now_ms = clock ? fake_now_ms : NULL,
                                   .now_ctx = clock};
    return ms_limits_memory_new(&c);
}

static void test_tickets_one_time(void **state) {
    ms_limits_t *t = limits_new(NULL, 1024, 100000, 100000);
    ms_jwt_claims_t in = claims_for(1), out;
    char tk[MS_TOKEN_LEN], tk2[MS_TOKEN_LEN];
    assert_int_equal(ms_limits_ticket_issue(t, &in, 30000, tk), 0);
    assert_int_equal(strlen(tk), 43);
    assert_int_equal(ms_limits_ticket_issue(t, &in, 30000, tk2), 0);
    assert_string_not_equal(tk, tk2);
    assert_int_equal(ms_limits_ticket_redeem(t, tk, &out), 0);
    assert_memory_equal(&in, &out, sizeof in);
    assert_int_equal(ms_limits_ticket_redeem(t, tk, &out), MS_EAUTH); /* used */
    assert_int_equal(ms_limits_ticket_redeem(t, tk2, &out), 0);
    assert_int_equal(ms_limits_ticket_redeem(t, "unknown", &out), MS_EAUTH);
    assert_int_equal(ms_limits_ticket_redeem(t, "", &out), MS_EAUTH);
    assert_int_equal(ms_limits_ticket_redeem(t, NULL, &out), MS_EAUTH);

    /* Many live tickets each map back to their own claims. */
    enum { N = 2000 };
    char(*many)[MS_TOKEN_LEN] = malloc(N * sizeof *many);
    for (int i = 0; i < N; i++) {
        ms_jwt_claims_t c = claims_for(i);
        assert_int_equal(ms_limits_ticket_issue(t, &c, 30000, many[i]), 0);
    }
    for (int i = N - 1; i >= 0; i--) {
        ms_jwt_claims_t want = claims_for(i);
        assert_int_equal(ms_limits_ticket_redeem(t, many[i], &out), 0);
        assert_memory_equal(&want, &out, sizeof want);
    }
    free(many);
    ms_limits_free(t);
    ms_limits_free(NULL);
}

static void test_tickets_expiry(void **state) {
    int64_t now = 1000;
    ms_limits_t *t = limits_new(&now, 1024, 100, 100);
    ms_jwt_claims_t in = claims_for(2), out;
    char short1[MS_TOKEN_LEN], zero[MS_TOKEN_LEN], longer[MS_TOKEN_LEN];
    ms_limits_ticket_issue(t, &in, 30000, longer);
    ms_limits_ticket_issue(t, &in, 20, short1);
    ms_limits_ticket_issue(t, &in, 0, zero);
    assert_int_equal(ms_limits_ticket_redeem(t, zero, &out), MS_EAUTH);
    now += 19;
    ms_limits_stats_t st;
    ms_limits_stats(t, &st);
    assert_int_equal(st.tickets, 2);
    now += 1; /* exactly at expiry: gone */
    assert_int_equal(ms_limits_ticket_redeem(t, short1, &out), MS_EAUTH);
    /* Purging the expired ones left the long-lived ticket alone. */
    assert_int_equal(ms_limits_ticket_redeem(t, longer, &out), 0);
    ms_limits_free(t); /* frees whatever is still live (ASan checks) */
}

/* Defect 18: 100,000 tickets of one user evicted another user's valid
 * ticket. Now a user's tickets only ever push out that user's own oldest,
 * and a full table refuses instead of evicting. */
static void test_tickets_bounded_per_user(void **state) {
    int64_t now = 0;
    ms_limits_t *t = limits_new(&now, 1024, 50, 4);
    ms_jwt_claims_t alice = claims_for(1), mallory = claims_for(2), out;
    char a[MS_TOKEN_LEN], m[5][MS_TOKEN_LEN], extra[MS_TOKEN_LEN];
    assert_int_equal(ms_limits_ticket_issue(t, &alice, 30000, a), 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(ms_limits_ticket_issue(t, &mallory, 30000, m[i % 5]), 0);
    ms_limits_stats_t st;
    ms_limits_stats(t, &st);
    assert_int_equal(st.tickets, 1 + 4); /* alice's one, mallory's last four */
    assert_int_equal(ms_limits_ticket_redeem(t, a, &out), 0);
    assert_string_equal(out.sub, alice.sub);
    /* Mallory's last four are live; the fifth-last was her own, dropped. */
    int live = 0;
    for (int i = 0; i < 5; i++)
        live += ms_limits_ticket_redeem(t, m[i], &out) == 0;
    assert_int_equal(live, 4);

    /* A full table (50 users x 1 ticket) refuses the 51st user's ticket and
     * keeps every other one. */
    char tk[50][MS_TOKEN_LEN];
    for (int i = 0; i < 50; i++) {
        ms_jwt_claims_t c = claims_for(100 + i);
        assert_int_equal(ms_limits_ticket_issue(t, &c, 30000, tk[i]), 0);
    }
    ms_jwt_claims_t late = claims_for(999);
    assert_int_equal(ms_limits_ticket_issue(t, &late, 30000, extra), MS_EBUSY);
    ms_limits_stats(t, &st);
    assert_int_equal(st.tickets_refused, 1);
    for (int i = 0; i < 50; i++)
        assert_int_equal(ms_limits_ticket_redeem(t, tk[i], &out), 0);
    /* Expired tickets make room again. */
    for (int i = 0; i < 50; i++) {
        ms_jwt_claims_t c = claims_for(100 + i);
        ms_limits_ticket_issue(t, &c, 1000, tk[i]);
    }
    now += 1000;
    assert_int_equal(ms_limits_ticket_issue(t, &late, 30000, extra), 0);
    ms_limits_free(t);
}

typedef struct {
    ms_limits_t *t;
    int id;
    int failures;
} ticket_worker_t;

static void *ticket_worker(void *arg) {
    ticket_worker_t *w = arg;
    ms_jwt_claims_t in = claims_for(w->id), out;
    char tk[MS_TOKEN_LEN], key[32];
    snprintf(key, sizeof key, "worker:%d", w->id);
    for (int i = 0; i < 2000; i++) {
        if (ms_limits_ticket_issue(w->t, &in, 30000, tk) != 0 ||
            ms_limits_ticket_redeem(w->t, tk, &out) != 0 ||
            ms_limits_ticket_redeem(w->t, tk, &out) == 0 || strcmp(out.sub, in.sub) != 0)
            w->failures++;
        if (ms_limits_hit(w->t, key, 1000000, 60000) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_limits_threads(void **state) {
    ticket_worker_t w[4];
    pthread_t th[4];
    ms_limits_t *t = limits_new(NULL, 1024, 100000, 8);
    for (int i = 0; i < 4; i++) {
        w[i].t = t;
        w[i].id = i;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, ticket_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    ms_limits_free(t);
}

/* The counter allows limit events in any window and refuses the next
 * without counting it; the previous window weighs in proportionally. */
static void test_limits_sliding_window(void **state) {
    int64_t now = 600000; /* the start of a 60 s window */
    ms_limits_t *l = limits_new(&now, 1024, 1, 1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(ms_limits_hit(l, "login:addr:10.0.0.1", 10, 60000), 0);
    assert_int_equal(ms_limits_hit(l, "login:addr:10.0.0.1", 10, 60000), MS_EBUSY);
    /* Other keys, and the same key with another window, are separate. */
    assert_int_equal(ms_limits_hit(l, "login:addr:10.0.0.2", 10, 60000), 0);
    assert_int_equal(ms_limits_hit(l, "login:addr:10.0.0.1", 10, 1000), 0);
    /* Half-way through the next window, half of the previous one counts:
     * 5 from before, so 5 more fit. */
    now += 60000 + 30000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(ms_limits_hit(l, "login:addr:10.0.0.1", 10, 60000), 0);
    assert_int_equal(ms_limits_hit(l, "login:addr:10.0.0.1", 10, 60000), MS_EBUSY);
    /* Two windows later nothing is left. */
    now += 120000;
    for (int i = 0; i < 10; i++)
        assert_int_equal(ms_limits_hit(l, "login:addr:10.0.0.1", 10, 60000), 0);
    assert_int_equal(ms_limits_hit(l, NULL, 10, 60000), MS_EINVAL);
    assert_int_equal(ms_limits_hit(l, "k", 0, 60000), MS_EINVAL);
    assert_int_equal(ms_limits_hit(l, "k", 1, 0), MS_EINVAL);
    ms_limits_free(l);
}

/* Defect 4: the table is bounded whatever the number of distinct keys, and
 * a flood of fresh keys evicts fresh keys, not the blocked ones. */
static void test_limits_bounded_and_keeps_blocked_keys(void **state) {
    int64_t now = 0;
    ms_limits_t *l = limits_new(&now, 1024, 1, 1);
    char key[64];
    /* 64 blocked keys... */
    for (int k = 0; k < 64; k++) {
        snprintf(key, sizeof key, "login:email:victim%d@example.org", k);
        for (int i = 0; i < 5; i++)
            assert_int_equal(ms_limits_hit(l, key, 5, 60000), 0);
        assert_int_equal(ms_limits_hit(l, key, 5, 60000), MS_EBUSY);
    }
    /* ...then 100,000 distinct keys in the same minute. */
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "login:email:flood%d@example.org", i);
        assert_int_equal(ms_limits_hit(l, key, 5, 60000), 0);
    }
    ms_limits_stats_t st;
    ms_limits_stats(l, &st);
    assert_int_equal(st.counter_capacity, 1024);
    assert_true(st.counter_keys <= 1024);
    assert_true(st.counter_evictions >= 100000 - 1024);
    /* A set holds 8; unless 8 blocked keys share one set (p < 1e-9), every
     * blocked key is still blocked. */
    for (int k = 0; k < 64; k++) {
        snprintf(key, sizeof key, "login:email:victim%d@example.org", k);
        assert_int_equal(ms_limits_hit(l, key, 5, 60000), MS_EBUSY);
    }
    ms_limits_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash_verify),
        cmocka_unit_test(test_jwt_round_trip),
        cmocka_unit_test(test_jwt_expired),
        cmocka_unit_test(test_jwt_tampered_and_wrong_secret),
        cmocka_unit_test(test_jwt_alg_none_and_other_algs),
        cmocka_unit_test(test_jwt_wrong_claims),
        cmocka_unit_test(test_jwt_garbage_never_crashes),
        cmocka_unit_test(test_token_random_and_hash),
        cmocka_unit_test(test_tickets_one_time),
        cmocka_unit_test(test_tickets_expiry),
        cmocka_unit_test(test_tickets_bounded_per_user),
        cmocka_unit_test(test_limits_threads),
        cmocka_unit_test(test_limits_sliding_window),
        cmocka_unit_test(test_limits_bounded_and_keeps_blocked_keys),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
