/* The REST side of `medstream chat`: login and token refresh over HTTP with
 * libcurl's easy interface. These calls block; the chat client makes them
 * only while no WebSocket is open (at start and between reconnects), so no
 * stream is starved while they run. */
#ifndef MS_CLI_CHAT_HTTP_H
#define MS_CLI_CHAT_HTTP_H

#include <stddef.h>
#include <stdint.h>

/** The tokens of a signed-in session (docs/protocol.md, "Authentication").
 * Owns both strings; release with ms_cli_chat_tokens_clear(). */
typedef struct {
    char *access_token;
    char *refresh_token;
    int64_t expires_at_ms; /**< monotonic ms (ms_mono_ms) when the access token expires */
} ms_cli_chat_tokens_t;

/** Wipes and frees both tokens; NULL-safe and idempotent. */
void ms_cli_chat_tokens_clear(ms_cli_chat_tokens_t *t);

/** POST /api/auth/login {"email","password"} against base_url (no trailing
 * slash) and stores the tokens in *t. Returns 0, MS_EAUTH (HTTP 401: wrong
 * email or password), MS_EBUSY (429), MS_EIO (server unreachable or a
 * transport error) or MS_EINVAL (any other answer). On failure err holds a
 * one-line explanation without secrets. */
int ms_cli_chat_login(const char *base_url, const char *email, const char *password,
                      ms_cli_chat_tokens_t *t, char *err, size_t errlen);

/** POST /api/auth/refresh {"refresh_token"} with t->refresh_token and
 * replaces both tokens (the server rotates refresh tokens: the old one is
 * used up whatever happens). Same errors as ms_cli_chat_login(); MS_EAUTH
 * means the refresh token is no longer valid and a new login is needed. */
int ms_cli_chat_refresh(const char *base_url, ms_cli_chat_tokens_t *t, char *err, size_t errlen);

#endif
