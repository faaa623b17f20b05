/* /api/auth/register, /api/auth/login, /api/auth/refresh, /api/auth/logout,
 * /api/ws-ticket.
 *
 * Browsers keep the refresh token in an HttpOnly cookie that script cannot
 * read (so an injected script cannot steal a long-lived session), scoped to
 * /api/auth and SameSite=Strict (never sent on a cross-site request, which
 * is what stops CSRF on these routes). A client asks for that with
 * "use_cookie": true at login or registration; the body then carries no
 * refresh_token. Other clients keep receiving it in the body. */
#include "api/routes.h"
#include "core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** The refresh cookie's name and the only path it is sent to. */
#define REFRESH_COOKIE "ms_refresh"
#define REFRESH_COOKIE_PATH "/api/auth"

/* Set-Cookie for the refresh token (RFC 6265 section 4.1; SameSite from
 * RFC 6265bis section 4.1.2.7); an empty token with Max-Age=0 deletes it. */
static void set_refresh_cookie(ms_http_req_t *r, const char *token, int64_t max_age_s) {
    char v[256];
    snprintf(v, sizeof v,
             REFRESH_COOKIE "=%s; Path=" REFRESH_COOKIE_PATH
                            "; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
             token, (long long)max_age_s, ms_http_is_tls(r) ? "; Secure" : "");
    ms_http_add_header(r, "set-cookie", v);
}

/* The login response; with cookie the refresh token goes into the cookie
 * instead of the body. */
static json_t *token_pair(ms_http_req_t *r, ms_store_t *st, const ms_user_t *user, int cookie) {
    const ms_config_t *cfg = r->api->cfg;
    char *access = NULL;
    if (ms_jwt_issue(r->api->jwt_secret, r->api->jwt_secret_len, user->id, user->email, user->role,
                     cfg->access_ttl_s, &access) != 0)
        return NULL;
    char refresh[MS_TOKEN_LEN], hash[65];
    ms_token_random(refresh);
    ms_token_hash(refresh, hash);
    if (ms_store_refresh_put(st, hash, user->id, ms_now_ms() + cfg->refresh_ttl_s * 1000) != 0) {
        free(access);
        return NULL;
    }
    json_t *o = json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:s}}", "access_token", access,
                          "token_type", "bearer", "expires_in", (json_int_t)cfg->access_ttl_s,
                          "user", "id", user->id, "email", user->email, "role", user->role);
    free(access);
    if (cookie)
        set_refresh_cookie(r, refresh, cfg->refresh_ttl_s);
    else
        json_object_set_new(o, "refresh_token", json_string(refresh));
    return o;
}

json_t *ms_api_token_pair(ms_http_req_t *r, ms_store_t *st, const ms_user_t *user) {
    return token_pair(r, st, user, 0);
}

/* "use_cookie": true asks for the refresh token in the cookie. */
static int wants_cookie(ms_http_req_t *r) {
    return json_is_true(json_object_get(r->json, "use_cookie"));
}

/* A deliberately simple address check: one '@', a dot in the domain, no
 * spaces or control characters, at most 254 bytes (RFC 5321 section 4.5.3.1.3). */
static int email_valid(const char *e) {
    size_t n = strlen(e);
    const char *at = strchr(e, '@');
    if (n < 3 || n > 254 || !at || at == e || strchr(at + 1, '@') || !strchr(at + 1, '.'))
        return 0;
    for (const char *p = e; *p; p++)
        if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
            return 0;
    return at[1] != '.' && e[n - 1] != '.';
}

static const char *str_field(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

void ms_api_register(ms_http_req_t *r, ms_store_t *st) {
    if (!r->api->cfg->allow_registration) {
        ms_http_respond_error(r, 403, "forbidden", "registration is disabled on this server");
        return;
    }
    const char *email = str_field(r->json, "email");
    const char *password = str_field(r->json, "password");
    if (!email || !email_valid(email)) {
        ms_http_respond_error(r, 400, "invalid_request", "a valid \"email\" is required");
        return;
    }
    char hash[MS_PASSWORD_HASH_LEN];
    if (!password || ms_password_hash(password, hash) != 0) {
        ms_http_respond_error(r, 400, "invalid_request", "\"password\" must be 8 to 1024 bytes");
        return;
    }
    ms_user_t user;
    int rc = ms_store_user_create(st, email, hash, "clinician", &user);
    if (rc == MS_EEXIST) {
        ms_http_respond_error(r, 409, "conflict", "this email is already registered");
        return;
    }
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    json_t *body = token_pair(r, st, &user, wants_cookie(r));
    if (!body) {
        ms_api_store_error(r, MS_EIO);
        return;
    }
    ms_log(MS_LOG_INFO, "user_registered", "\"user_id\":\"%s\"", user.id);
    ms_http_respond_json(r, 201, body);
}

void ms_api_login(ms_http_req_t *r, ms_store_t *st) {
    const char *email = str_field(r->json, "email");
    const char *password = str_field(r->json, "password");
    if (!email || !password) {
        ms_http_respond_error(r, 400, "invalid_request", "\"email\" and \"password\" are required");
        return;
    }
    ms_user_t user;
    int rc = ms_store_user_by_email(st, email, &user);
    if (rc == MS_ENOENT) /* as slow as a wrong password: no user enumeration */
        ms_password_verify(NULL, password);
    if (rc || ms_password_verify(user.password_hash, password) != 0) {
        if (rc && rc != MS_ENOENT) {
            ms_api_store_error(r, rc);
            return;
        }
        ms_http_respond_error(r, 401, "invalid_credentials", "wrong email or password");
        return;
    }
    json_t *body = token_pair(r, st, &user, wants_cookie(r));
    if (!body) {
        ms_api_store_error(r, MS_EIO);
        return;
    }
    ms_http_respond_json(r, 200, body);
}

/* The refresh token of the request: the body's "refresh_token", else the
 * cookie (then *from_cookie is 1). malloc'd; NULL when neither is there. */
static char *presented_refresh(ms_http_req_t *r, int *from_cookie) {
    const char *t = str_field(r->json, "refresh_token");
    *from_cookie = 0;
    if (t)
        return ms_xstrdup(t);
    char *c = ms_http_cookie(r, REFRESH_COOKIE);
    if (c && !*c) {
        free(c);
        return NULL;
    }
    *from_cookie = c != NULL;
    return c;
}

void ms_api_refresh(ms_http_req_t *r, ms_store_t *st) {
    int from_cookie;
    char *token = presented_refresh(r, &from_cookie);
    if (!token || strlen(token) > 256) {
        free(token);
        ms_http_respond_error(r, 400, "invalid_request",
                              "\"refresh_token\" (or the refresh cookie) is required");
        return;
    }
    char hash[65], user_id[MS_ID_LEN];
    ms_token_hash(token, hash);
    free(token);
    ms_user_t user;
    if (ms_store_refresh_consume(st, hash, user_id) != 0 ||
        ms_store_user_by_id(st, user_id, &user) != 0) {
        if (from_cookie) /* a dead cookie is of no further use to the browser */
            set_refresh_cookie(r, "", 0);
        ms_http_respond_error(r, 401, "unauthorized", "invalid, expired or used refresh token");
        return;
    }
    /* A token that came in the cookie rotates in the cookie. */
    json_t *body = token_pair(r, st, &user, from_cookie);
    if (!body) {
        ms_api_store_error(r, MS_EIO);
        return;
    }
    ms_http_respond_json(r, 200, body);
}

/* Sign-out: the presented refresh token is used up, exactly as a rotation
 * would, so it can never be exchanged again (and presenting it later counts
 * as a replay, which ends every session of that user: RFC 6819 section
 * 5.2.2.3). The cookie is deleted. Always 204: an unknown or already used
 * token leaves nothing to revoke, and the answer must not tell which.
 * Access tokens already issued stay valid until they expire (at most
 * access_ttl_s); the client drops its copy. */
void ms_api_logout(ms_http_req_t *r, ms_store_t *st) {
    int from_cookie;
    char *token = presented_refresh(r, &from_cookie);
    if (token && strlen(token) <= 256) {
        char hash[65], user_id[MS_ID_LEN];
        ms_token_hash(token, hash);
        if (ms_store_refresh_consume(st, hash, user_id) == 0)
            ms_log(MS_LOG_INFO, "user_logout", "\"user_id\":\"%s\"", user_id);
    }
    free(token);
    set_refresh_cookie(r, "", 0);
    ms_http_respond_json(r, 204, NULL);
}

/* Tickets are limited per user (ticket_rate_per_min) and bounded per user
 * (tickets_per_user, the user's own oldest dropped), so one account can
 * neither flood the table nor push out another account's tickets. A full
 * table is a 503 (the limits backend reports it, aggregated, in the log). */
void ms_api_ws_ticket(ms_http_req_t *r) {
    const ms_config_t *cfg = r->api->cfg;
    char key[64], ticket[MS_TOKEN_LEN];
    snprintf(key, sizeof key, "ticket:user:%s", r->user.sub);
    if (ms_limits_hit(r->api->limits, key, cfg->ticket_rate_per_min, 60000) != 0) {
        ms_http_respond_error(r, 429, "rate_limited", "too many tickets; wait a minute");
        ms_http_add_header(r, "retry-after", "60");
    } else if (ms_limits_ticket_issue(r->api->limits, &r->user, 30000, ticket) != 0) {
        ms_http_respond_error(r, 503, "busy", "too many outstanding tickets; retry later");
    } else {
        ms_http_respond_json(r, 200, json_pack("{s:s, s:i}", "ticket", ticket, "expires_in", 30));
    }
    ms_http_finish(r);
}
