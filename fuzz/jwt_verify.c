/* libFuzzer target: access-token verification (ms_jwt_verify, RFC 7515 /
 * RFC 7519, HS256 only).
 *
 * Input: a mode byte, then
 *   '1'  "<header JSON>\n<payload JSON>": the harness encodes both and signs
 *        them with the server's secret, so the claim checks are reached;
 *   '2'  "<b64url header>.<b64url payload>": signed likewise;
 *   else the token itself (the seed corpus holds valid ones, signed with
 *        the same secret by fuzz/make_seeds.py).
 *
 * Properties: the result is 0 or MS_EAUTH; a token is accepted only if its
 * header says HS256, its signature is the HMAC-SHA256 of its first two
 * segments under the secret, and its payload is exactly one JSON object,
 * without duplicate names (RFC 7519 section 4), with the
 * medstream claims (iss, typ, sub, email, role, integer iat <= exp, exp in
 * the future), which are exactly what the verifier returns; a token is
 * never accepted under another secret. */
#include "fuzz_util.h"

#include "auth/auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The same secret as fuzz/make_seeds.py. */
static const unsigned char secret[] = "fuzz-secret-0123456789abcdef-0123456789";
#define SECRET_LEN (sizeof secret - 1)
static const unsigned char other[] = "another-secret-that-is-long-enough-0000";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

static char *b64url(const void *p, size_t n) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static void hmac_b64(const char *msg, size_t n, char out[64]) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, SECRET_LEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, n);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(out, 64, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* "<signed>.<signature>" as a heap string. */
static char *sign(const char *signed_part) {
    char sig[64];
    size_t n = strlen(signed_part);
    hmac_b64(signed_part, n, sig);
    char *tok = malloc(n + strlen(sig) + 2);
    memcpy(tok, signed_part, n);
    tok[n] = '.';
    strcpy(tok + n + 1, sig);
    return tok;
}

static json_t *decode_segment(const char *seg, size_t n) {
    unsigned char *bin = malloc(n + 1);
    size_t len = 0;
    json_t *j = NULL;
    if (sodium_base642bin(bin, n + 1, seg, n, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
        j = json_loadb((const char *)bin, len, JSON_REJECT_DUPLICATES, NULL);
    free(bin);
    return j;
}

static int claim_is(json_t *c, const char *key, const char *want, size_t max) {
    json_t *v = json_object_get(c, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
        return 0;
    return !want || !strcmp(json_string_value(v), want);
}

/* What an accepted token must be, checked independently of jwt.c. */
static void check_accepted(const char *tok, const ms_jwt_claims_t *cl) {
    const char *d1 = strchr(tok, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    FZ_ASSERT(d1 && d2 && !strchr(d2 + 1, '.'), "accepted a token without three segments: %s", tok);
    char sig[64];
    hmac_b64(tok, (size_t)(d2 - tok), sig);
    FZ_ASSERT(!strcmp(sig, d2 + 1), "accepted a token whose signature is wrong: %s", tok);
    json_t *h = decode_segment(tok, (size_t)(d1 - tok));
    FZ_ASSERT(json_is_object(h) && claim_is(h, "alg", "HS256", 16),
              "accepted alg other than HS256");
    json_decref(h);
    json_t *c = decode_segment(d1 + 1, (size_t)(d2 - d1 - 1));
    FZ_ASSERT(json_is_object(c), "accepted a payload that is not a JSON object");
    FZ_ASSERT(claim_is(c, "iss", "medstream", 15) && claim_is(c, "typ", "access", 15),
              "accepted another issuer or token type");
    FZ_ASSERT(claim_is(c, "sub", cl->sub, MS_ID_LEN - 1) && claim_is(c, "email", cl->email, 255) &&
                  claim_is(c, "role", cl->role, 15),
              "returned claims differ from the token's");
    json_t *iat = json_object_get(c, "iat"), *exp = json_object_get(c, "exp");
    FZ_ASSERT(json_is_integer(iat) && json_is_integer(exp), "accepted non-integer iat or exp");
    FZ_ASSERT(json_integer_value(exp) == cl->exp && json_integer_value(iat) == cl->iat,
              "returned times differ from the token's");
    FZ_ASSERT(cl->exp > (int64_t)time(NULL) && cl->iat <= cl->exp, "accepted an expired token");
    json_decref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    char *tok = NULL;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    if (data[0] == '1') {
        const uint8_t *nl = memchr(rest, '\n', n);
        if (!nl)
            return 0;
        char *h = b64url(rest, (size_t)(nl - rest));
        char *p = b64url(nl + 1, n - (size_t)(nl + 1 - rest));
        char *sp = malloc(strlen(h) + strlen(p) + 2);
        strcpy(sp, h);
        strcat(sp, ".");
        strcat(sp, p);
        tok = sign(sp);
        free(h);
        free(p);
        free(sp);
    } else if (data[0] == '2') {
        char *sp = fz_strndup(rest, n);
        tok = sign(sp);
        free(sp);
    } else {
        tok = fz_strndup(rest, n);
    }
    ms_jwt_claims_t cl;
    memset(&cl, 0x5a, sizeof cl);
    int rc = ms_jwt_verify(secret, SECRET_LEN, tok, &cl);
    FZ_ASSERT(rc == 0 || rc == MS_EAUTH, "ms_jwt_verify returned %d", rc);
    if (rc == 0) {
        FZ_ASSERT(memchr(cl.sub, '\0', sizeof cl.sub) && memchr(cl.email, '\0', sizeof cl.email) &&
                      memchr(cl.role, '\0', sizeof cl.role),
                  "claims not NUL-terminated");
        check_accepted(tok, &cl);
    }
    FZ_ASSERT(ms_jwt_verify(other, sizeof other - 1, tok, &cl) == MS_EAUTH,
              "a token accepted under another secret");
    FZ_ASSERT(ms_jwt_verify(secret, 16, tok, &cl) == MS_EAUTH, "a secret under 32 bytes accepted");
    free(tok);
    return 0;
}
