/* Password hashing (argon2id) and random opaque tokens. */
#include "auth/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(crypto_pwhash_STRBYTES == MS_PASSWORD_HASH_LEN, "argon2id string size");
_Static_assert(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
                   MS_TOKEN_LEN,
               "token size");

#define MIN_PASSWORD_BYTES 8
#define MAX_PASSWORD_BYTES 1024

/* sodium_init() is idempotent and thread-safe; it only fails when the
 * system has no usable random source, which nothing here can survive. */
static void sodium_ready(void) {
    if (sodium_init() < 0)
        abort();
}

int ms_password_hash(const char *password, char out[MS_PASSWORD_HASH_LEN]) {
    if (!password)
        return MS_EINVAL;
    size_t n = strnlen(password, MAX_PASSWORD_BYTES + 1);
    if (n < MIN_PASSWORD_BYTES || n > MAX_PASSWORD_BYTES)
        return MS_EINVAL;
    sodium_ready();
    /* libsodium's argon2id13 with its INTERACTIVE limits (2 passes, 64 MiB),
     * the parameters it recommends for online logins (RFC 9106 section 4
     * lists argon2id as the primary variant). */
    if (crypto_pwhash_argon2id_str(out, password, n, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                   crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0)
        return MS_EIO; /* out of memory for the 64 MiB work area */
    return 0;
}

static char dummy_hash[MS_PASSWORD_HASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void) {
    char pw[MS_TOKEN_LEN];
    ms_token_random(pw);
    if (ms_password_hash(pw, dummy_hash) != 0)
        dummy_hash[0] = '\0';
}

/* A NULL hash (unknown user) still costs one argon2id verification, so a
 * login for an unknown email takes as long as a wrong password and does not
 * reveal which emails have accounts. */
int ms_password_verify(const char *hash, const char *password) {
    if (!password || strnlen(password, MAX_PASSWORD_BYTES + 1) > MAX_PASSWORD_BYTES)
        return MS_EAUTH;
    sodium_ready();
    if (!hash) {
        pthread_once(&dummy_once, dummy_init);
        /* The outcome is irrelevant (any answer is MS_EAUTH); the time spent is the point. */
        if (dummy_hash[0] && crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
            return MS_EAUTH;
        return MS_EAUTH;
    }
    /* The verifier reads a NUL-terminated string of at most STRBYTES. */
    if (strnlen(hash, MS_PASSWORD_HASH_LEN) >= MS_PASSWORD_HASH_LEN)
        return MS_EAUTH;
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
        return MS_EAUTH;
    return 0;
}

void ms_token_random(char out[MS_TOKEN_LEN]) {
    unsigned char b[32];
    sodium_ready();
    randombytes_buf(b, sizeof b);
    sodium_bin2base64(out, MS_TOKEN_LEN, b, sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(b, sizeof b);
}

void ms_token_hash(const char *token, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, 65, h, sizeof h);
}
