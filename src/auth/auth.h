/* Authentication primitives: argon2id passwords, HS256 JWT access tokens and
 * random opaque tokens (refresh tokens, WebSocket tickets). Tickets and rate
 * limits are stored behind auth/limits.h. */
#ifndef MS_AUTH_AUTH_H
#define MS_AUTH_AUTH_H

#include "core/ms.h"

#include <stdint.h>

/** Size of an argon2id hash string including NUL (crypto_pwhash_STRBYTES). */
#define MS_PASSWORD_HASH_LEN 128

/** Hashes a password with argon2id (libsodium crypto_pwhash_str,
 * OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE). Passwords shorter than 8
 * or longer than 1024 bytes give MS_EINVAL. Slow by design: off the loop. */
int ms_password_hash(const char *password, char out[MS_PASSWORD_HASH_LEN]);
/** 0 when password matches hash, MS_EAUTH otherwise. A NULL hash (no such
 * user) still spends one argon2id verification against a dummy hash and
 * returns MS_EAUTH, so logins do not reveal which emails exist by timing. */
int ms_password_verify(const char *hash, const char *password);

/** Claims of a medstream access token (RFC 7519 section 4.1). */
typedef struct {
    char sub[MS_ID_LEN]; /**< user id */
    char email[256];
    char role[16];
    int64_t iat; /**< seconds since epoch */
    int64_t exp; /**< seconds since epoch */
} ms_jwt_claims_t;

/** Issues an HS256 JWT (RFC 7515/7519) with sub, email, role, iat, exp=iat+ttl_s,
 * iss="medstream", typ="access". secret is >= 32 bytes. *out is malloc'd. */
int ms_jwt_issue(const unsigned char *secret, size_t secret_len, const char *user_id,
                 const char *email, const char *role, int64_t ttl_s, char **out);
/** Verifies signature (HS256 only: "alg":"none" and others rejected),
 * iss, typ and expiry against now. MS_EAUTH on any failure. */
int ms_jwt_verify(const unsigned char *secret, size_t secret_len, const char *token,
                  ms_jwt_claims_t *out);

/** Writes a random URL-safe base64 token of 32 random bytes (43 chars + NUL). */
#define MS_TOKEN_LEN 44
void ms_token_random(char out[MS_TOKEN_LEN]);
/** SHA-256 of token as lower-case hex (64 chars + NUL): how tokens are stored. */
void ms_token_hash(const char *token, char out[65]);

#endif
