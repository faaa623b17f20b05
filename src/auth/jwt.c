/* HS256 access tokens (RFC 7515, RFC 7519) with libjwt 1.x.
 *
 * Verification does not trust libjwt alone: libjwt 1.x accepts whatever
 * "alg" a token names (including "none", RFC 7518 section 3.6) and checks
 * no claims. So the header is checked for "alg":"HS256" first, the HMAC is
 * recomputed with libsodium and compared in constant time, and only then is
 * the token handed to libjwt; the claims are then checked with strict JSON
 * types (a string "exp" is not an expiry). */
#include "auth/auth.h"

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ISSUER "medstream"
#define TOKEN_TYPE "access"
/** Minimum HMAC key: 256 bits, the hash size (RFC 7518 section 3.2). */
#define MIN_SECRET_BYTES 32
/** Tokens we issue are ~400 bytes; anything far larger is not ours. */
#define MAX_TOKEN_BYTES 4096
/** Length of an unpadded base64url HMAC-SHA256 (32 bytes). */
#define SIG_B64_LEN 43

int ms_jwt_issue(const unsigned char *secret, size_t secret_len, const char *user_id,
                 const char *email, const char *role, int64_t ttl_s, char **out) {
    jwt_t *jwt = NULL;
    char *tok = NULL;
    int rc = MS_EINVAL;
    *out = NULL;
    if (!secret || secret_len < MIN_SECRET_BYTES || secret_len > INT32_MAX || !user_id || !email ||
        !role || ttl_s <= 0 || strlen(user_id) >= MS_ID_LEN || strlen(email) >= 256 ||
        strlen(role) >= 16)
        return MS_EINVAL;
    int64_t now = (int64_t)time(NULL);
    if (jwt_new(&jwt) != 0) {
        rc = MS_EIO;
        goto fail;
    }
    if (jwt_set_alg(jwt, JWT_ALG_HS256, secret, (int)secret_len) != 0 ||
        jwt_add_grant(jwt, "iss", ISSUER) != 0 || jwt_add_grant(jwt, "typ", TOKEN_TYPE) != 0 ||
        jwt_add_grant(jwt, "sub", user_id) != 0 || jwt_add_grant(jwt, "email", email) != 0 ||
        jwt_add_grant(jwt, "role", role) != 0 || jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now + ttl_s)) != 0)
        goto fail; /* e.g. an email that is not valid UTF-8 */
    if (!(tok = jwt_encode_str(jwt))) {
        rc = MS_EIO;
        goto fail;
    }
    /* Copy so the caller frees with free() whatever allocator libjwt uses. */
    *out = ms_xstrdup(tok);
    free(tok);
    jwt_free(jwt);
    return 0;
fail:
    free(tok);
    jwt_free(jwt);
    return rc;
}

/* Decodes one unpadded base64url segment into a malloc'd NUL-terminated
 * buffer; NULL when it is not base64url. */
static char *b64url_decode(const char *seg, size_t n, size_t *outlen) {
    char *bin = ms_xmalloc(n + 1);
    size_t len = 0;
    if (sodium_base642bin((unsigned char *)bin, n, seg, n, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        free(bin);
        return NULL;
    }
    bin[len] = '\0';
    *outlen = len;
    return bin;
}

/* Splits token into its three segments and checks the JOSE header names
 * HS256 and nothing we do not understand, and that the signature is the
 * HMAC-SHA256 of "header.payload" under secret (compared in constant time). */
static int check_header_and_signature(const unsigned char *secret, size_t secret_len,
                                      const char *token, size_t n) {
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || d1 == token || d2 == d1 + 1 ||
        memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
        return MS_EAUTH;
    size_t hlen = (size_t)(d1 - token), signed_len = (size_t)(d2 - token);
    const char *sig = d2 + 1;
    if (n - signed_len - 1 != SIG_B64_LEN)
        return MS_EAUTH; /* empty ("alg":"none") or another hash size */

    size_t jl = 0;
    /* The payload must be base64url (RFC 7515 section 7.1) of exactly one
     * JSON object with unique claim names (RFC 7519 section 4): libjwt's
     * decoder skips characters outside the alphabet and its parser stops at
     * a NUL and keeps the last of duplicate names, so a token that is not a
     * JWS would otherwise pass. */
    char *pjson = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &jl);
    if (!pjson)
        return MS_EAUTH;
    json_t *payload = json_loadb(pjson, jl, JSON_REJECT_DUPLICATES, NULL);
    free(pjson);
    int payload_ok = json_is_object(payload);
    json_decref(payload);
    if (!payload_ok)
        return MS_EAUTH;
    char *hjson = b64url_decode(token, hlen, &jl);
    if (!hjson)
        return MS_EAUTH;
    json_t *hdr = json_loadb(hjson, jl, JSON_REJECT_DUPLICATES, NULL);
    free(hjson);
    json_t *alg = json_object_get(hdr, "alg"), *typ = json_object_get(hdr, "typ");
    int ok = json_is_object(hdr) && json_is_string(alg) &&
             strcmp(json_string_value(alg), "HS256") == 0 &&
             (!typ || (json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0)) &&
             !json_object_get(hdr, "crit"); /* RFC 7515 section 4.1.11 */
    json_decref(hdr);
    if (!ok)
        return MS_EAUTH;

    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state hs;
    crypto_auth_hmacsha256_init(&hs, secret, secret_len);
    crypto_auth_hmacsha256_update(&hs, (const unsigned char *)token, signed_len);
    crypto_auth_hmacsha256_final(&hs, mac);
    char expect[SIG_B64_LEN + 1];
    sodium_bin2base64(expect, sizeof expect, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return sodium_memcmp(expect, sig, SIG_B64_LEN) == 0 ? 0 : MS_EAUTH;
}

/* Copies a string claim into out (size n); 0 if present, a string, non
 * empty and short enough. */
static int claim_str(json_t *claims, const char *key, char *out, size_t n) {
    json_t *v = json_object_get(claims, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= n)
        return MS_EAUTH;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int claims_check(jwt_t *jwt, ms_jwt_claims_t *out) {
    char *txt = jwt_get_grants_json(jwt, NULL);
    json_t *c = txt ? json_loads(txt, 0, NULL) : NULL;
    free(txt);
    ms_jwt_claims_t cl;
    char iss[16], typ[16];
    memset(&cl, 0, sizeof cl);
    int rc = MS_EAUTH;
    json_t *iat = json_object_get(c, "iat"), *exp = json_object_get(c, "exp");
    if (!json_is_object(c) || claim_str(c, "iss", iss, sizeof iss) != 0 ||
        strcmp(iss, ISSUER) != 0 || claim_str(c, "typ", typ, sizeof typ) != 0 ||
        strcmp(typ, TOKEN_TYPE) != 0 || claim_str(c, "sub", cl.sub, sizeof cl.sub) != 0 ||
        claim_str(c, "email", cl.email, sizeof cl.email) != 0 ||
        claim_str(c, "role", cl.role, sizeof cl.role) != 0 || !json_is_integer(iat) ||
        !json_is_integer(exp))
        goto done;
    cl.iat = json_integer_value(iat);
    cl.exp = json_integer_value(exp);
    /* RFC 7519 section 4.1.4: reject on or after exp. No leeway: we are
     * both issuer and verifier, on one clock. */
    if (cl.exp <= (int64_t)time(NULL) || cl.iat > cl.exp)
        goto done;
    if (out)
        *out = cl;
    rc = 0;
done:
    json_decref(c);
    return rc;
}

int ms_jwt_verify(const unsigned char *secret, size_t secret_len, const char *token,
                  ms_jwt_claims_t *out) {
    jwt_t *jwt = NULL;
    int rc = MS_EAUTH;
    if (!secret || secret_len < MIN_SECRET_BYTES || secret_len > INT32_MAX || !token)
        return MS_EAUTH;
    size_t n = strnlen(token, MAX_TOKEN_BYTES + 1);
    if (n == 0 || n > MAX_TOKEN_BYTES)
        return MS_EAUTH;
    if (check_header_and_signature(secret, secret_len, token, n) != 0)
        return MS_EAUTH;
    if (jwt_decode(&jwt, token, secret, (int)secret_len) != 0 || !jwt ||
        jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto done;
    rc = claims_check(jwt, out);
done:
    jwt_free(jwt);
    return rc;
}
