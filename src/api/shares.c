/* Share links (docs/protocol.md, "Share links"): the owner's routes under
 * /api/sessions/{id} (a "session" is a conversation, as in seed 002) and
 * the anonymous, read-only view at /api/shared/{token}.
 *
 * Passwords are argon2id, slow on purpose, so every request that hashes or
 * verifies one runs on the auth pool (chat/work.h MS_WORK_AUTH), never on
 * the loop or the storage pool. The view is rate limited per client
 * address, and password attempts also per link, before any work is queued.
 * A token is never logged: log lines name the link by its id. */
#include "api/routes.h"
#include "auth/limits.h"
#include "chat/work.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** The most access-log rows one request returns (and the default). */
#define MAX_ACCESS_ROWS 1000
#define DEFAULT_ACCESS_ROWS 100

/* Whether t has the shape of ms_token_random's tokens: 43 characters of
 * the URL-safe base64 alphabet (RFC 4648 section 5), no padding. */
static int token_shaped(const char *t) {
    if (strlen(t) != MS_TOKEN_LEN - 1)
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

/* The one call to the rate limiter (auth/limits.h: shared by every node
 * once there are several): share_rate_per_min hits per key in any minute. */
static int share_rate_limited(ms_http_req_t *r, const char *kind, const char *key) {
    char k[160];
    snprintf(k, sizeof k, "share:%s:%s", kind, key);
    return ms_limits_hit(r->api->limits, k, r->api->cfg->share_rate_per_min, 60000) != 0;
}

/* An optional integer field within [lo, hi]: 0 when absent or null (then
 * *v is untouched), 1 when read, MS_EINVAL when of another type or out of
 * range. */
static int int_field(json_t *body, const char *key, int64_t lo, int64_t hi, int64_t *v) {
    json_t *j = json_object_get(body, key);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
        return MS_EINVAL;
    *v = json_integer_value(j);
    return 1;
}

/* ---- POST /api/sessions/{id}/share -------------------------------------- */

typedef struct {
    ms_http_req_t *r;
    char *password; /* malloc'd, wiped before free; NULL for none */
    int64_t expires_at, max_views;
} create_job_t;

static void create_run(ms_store_t *st, void *arg) {
    create_job_t *j = arg;
    ms_http_req_t *r = j->r;
    const ms_config_t *cfg = r->api->cfg;
    json_t *conv = NULL, *out = NULL;
    char hash[MS_PASSWORD_HASH_LEN], token[MS_TOKEN_LEN], token_hash[65];
    if (!st) {
        ms_http_respond_error(r, 500, "internal_error", "database unavailable");
        return;
    }
    /* Ownership first: nobody makes the server hash for a conversation
     * that is not theirs. */
    int rc = ms_store_conversation_get(st, r->user.sub, r->param, &conv);
    json_decref(conv);
    if (!rc && j->password && (rc = ms_password_hash(j->password, hash)) == MS_EINVAL) {
        ms_http_respond_error(r, 400, "invalid_request", "\"password\" must be 8 to 1024 bytes");
        return;
    }
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_token_random(token);
    ms_token_hash(token, token_hash);
    rc = ms_store_share_create(st, r->user.sub, r->param, token_hash, j->password ? hash : NULL,
                               j->expires_at, j->max_views, (int)cfg->share_max_links, &out);
    explicit_bzero(hash, sizeof hash);
    if (rc == MS_ETOOBIG) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "this conversation has %lld share links that still open; "
                 "revoke one first",
                 (long long)cfg->share_max_links);
        ms_http_respond_error(r, 409, "share_limit", msg);
    } else if (rc) {
        ms_api_store_error(r, rc);
    } else {
        ms_log(MS_LOG_INFO, "share_created", "\"share_id\":\"%s\",\"conversation_id\":\"%s\"",
               json_string_value(json_object_get(out, "id")), r->param);
        char url[128];
        snprintf(url, sizeof url, "/api/shared/%s", token);
        json_object_set_new(out, "token", json_string(token));
        json_object_set_new(out, "share_url", json_string(url));
        ms_http_respond_json(r, 201, out);
    }
    explicit_bzero(token, sizeof token);
}

static void job_done_free_password(char *pw) {
    if (pw) {
        explicit_bzero(pw, strlen(pw));
        free(pw);
    }
}

static void create_done(void *arg) {
    create_job_t *j = arg;
    ms_http_finish(j->r);
    job_done_free_password(j->password);
    free(j);
}

/* Body: {"expires_in"?: seconds | "expires_in_hours"?: hours (seed 002),
 * "password"?: string, "max_views"?: integer}, all optional. */
void ms_api_share_create(ms_http_req_t *r) {
    const ms_config_t *cfg = r->api->cfg;
    /* The default lifetime never exceeds the longest one allowed. */
    int64_t ttl_s =
        cfg->share_ttl_s < cfg->share_max_ttl_s ? cfg->share_ttl_s : cfg->share_max_ttl_s;
    int64_t hours = 0, max_views = 0;
    const char *password = NULL;
    int present = 0;
    const char *bad = NULL;
    int secs = int_field(r->json, "expires_in", 1, cfg->share_max_ttl_s, &ttl_s);
    int hrs = int_field(r->json, "expires_in_hours", 1, cfg->share_max_ttl_s / 3600, &hours);
    if (secs < 0 || hrs < 0 || (secs && hrs))
        bad = "give \"expires_in\" (seconds) or \"expires_in_hours\", within share_max_ttl";
    else if (int_field(r->json, "max_views", 1, cfg->share_max_views, &max_views) < 0)
        bad = "\"max_views\" must be an integer from 1 to share_max_views, or null";
    else if (ms__api_opt_str(r->json, "password", &present, &password) ||
             (password && (strlen(password) < 8 || strlen(password) > 1024)))
        bad = "\"password\" must be a string of 8 to 1024 bytes, or null";
    if (bad || !ms_id_valid(r->param)) {
        if (bad)
            ms_http_respond_error(r, 400, "invalid_request", bad);
        else
            ms_api_store_error(r, MS_ENOENT);
        ms_http_finish(r);
        return;
    }
    if (hrs)
        ttl_s = hours * 3600;
    create_job_t *j = ms_xcalloc(1, sizeof *j);
    j->r = r;
    j->password = password ? ms_xstrdup(password) : NULL;
    j->expires_at = ms_now_ms() + ttl_s * 1000;
    j->max_views = max_views;
    ms_work_kind_t kind = password ? MS_WORK_AUTH : MS_WORK_STORE;
    if (ms_work_submit_on(kind, r->api->loop, create_run, create_done, j) != 0) {
        ms_http_respond_error(r, 503, "busy", "server busy");
        ms_http_finish(r);
        job_done_free_password(j->password);
        free(j);
    }
}

/* ---- the owner's list, revoke and log ------------------------------------ */

void ms_api_share_list(ms_http_req_t *r, ms_store_t *st) {
    json_t *list = NULL;
    int rc = ms_store_share_list(st, r->user.sub, r->param, ms_now_ms(), &list);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, json_pack("{s:o}", "shares", list));
}

/* DELETE /api/sessions/{id}/share/{token}: the last segment is the token
 * the link was created with, or the link's id (what the list shows). */
void ms_api_share_revoke(ms_http_req_t *r, ms_store_t *st) {
    char conv[MS_ID_LEN], seg[MS_TOKEN_LEN], hash[65];
    const char *key = NULL;
    int rc = ms__api_path_segment(r, 2, conv, sizeof conv);
    if (!rc)
        rc = ms__api_path_segment(r, 4, seg, sizeof seg);
    if (!rc && ms_id_valid(seg)) {
        key = seg;
    } else if (!rc && token_shaped(seg)) {
        ms_token_hash(seg, hash);
        key = hash;
    }
    rc = key ? ms_store_share_revoke(st, r->user.sub, conv, key, ms_now_ms()) : MS_ENOENT;
    explicit_bzero(seg, sizeof seg);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 204, NULL);
}

/* GET /api/sessions/{id}/shares/{share_id}/accesses?limit= */
void ms_api_share_accesses(ms_http_req_t *r, ms_store_t *st) {
    char conv[MS_ID_LEN], share[MS_ID_LEN];
    long limit = DEFAULT_ACCESS_ROWS;
    char *v = ms_http_query_arg(r, "limit");
    if (v) {
        char *end;
        limit = strtol(v, &end, 10);
        int ok = end != v && !*end && limit >= 1 && limit <= MAX_ACCESS_ROWS;
        free(v);
        if (!ok) {
            ms_http_respond_error(r, 400, "invalid_request", "limit must be 1..1000");
            return;
        }
    }
    int rc = ms__api_path_segment(r, 2, conv, sizeof conv);
    if (!rc)
        rc = ms__api_path_segment(r, 4, share, sizeof share);
    json_t *list = NULL;
    if (!rc)
        rc = ms_store_share_accesses(st, r->user.sub, conv, share, (int)limit, &list);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, json_pack("{s:o}", "accesses", list));
}

/* ---- GET and POST /api/shared/{token} ------------------------------------ */

typedef struct {
    ms_http_req_t *r;
    char *password; /* NULL when the request carried none */
    char token_hash[65];
} view_job_t;

/* The answer to a link that does not open: one code per reason. */
static void respond_denied(ms_http_req_t *r, const char *outcome) {
    if (!strcmp(outcome, MS_SHARE_PASSWORD_REQUIRED))
        ms_http_respond_error(r, 403, "password_required",
                              "this link needs its password: POST it as {\"password\"}");
    else if (!strcmp(outcome, MS_SHARE_WRONG_PASSWORD))
        ms_http_respond_error(r, 403, "wrong_password", "wrong password for this link");
    else if (!strcmp(outcome, MS_SHARE_REVOKED))
        ms_http_respond_error(r, 410, "share_revoked", "this link was revoked by its owner");
    else if (!strcmp(outcome, MS_SHARE_EXPIRED))
        ms_http_respond_error(r, 410, "share_expired", "this link has expired");
    else
        ms_http_respond_error(r, 410, "share_view_limit",
                              "this link has been viewed as many "
                              "times as its owner allowed");
}

/* The read-only view: the conversation, its messages as native Message
 * JSON (each assistant message with the disclaimer) and the disclaimer at
 * the top level. The owner's private marks (feedback, folder) stay out. */
static void respond_view(ms_http_req_t *r, ms_store_t *st, const ms_share_t *sh) {
    json_t *conv = NULL, *msgs = NULL;
    int rc = ms_store_conversation_get(st, sh->owner_id, sh->conversation_id, &conv);
    if (!rc)
        rc = ms_store_message_list(st, sh->conversation_id, &msgs);
    if (rc) {
        json_decref(conv);
        if (rc == MS_ENOENT || rc == MS_EPERM)
            ms_http_respond_error(r, 404, "share_not_found", "no such share link");
        else
            ms_api_store_error(r, rc);
        return;
    }
    json_object_del(conv, "folder_id");
    const char *disc = r->api->cfg->disclaimer ? r->api->cfg->disclaimer : "";
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "assistant"))
            json_object_set_new(m, "disclaimer", json_string(disc));
    }
    char exp[40];
    ms_time_iso(sh->expires_at, exp, sizeof exp);
    int64_t left = sh->max_views > sh->view_count ? sh->max_views - sh->view_count : 0;
    json_t *info = json_pack("{s:s, s:I, s:o, s:b}", "expires_at", exp, "view_count",
                             (json_int_t)sh->view_count, "views_remaining",
                             sh->max_views ? json_integer(left) : json_null(), "password_protected",
                             sh->password_hash[0] != '\0');
    ms_http_respond_json(r, 200,
                         json_pack("{s:o, s:o, s:s, s:b, s:o}", "conversation", conv, "messages",
                                   msgs, "disclaimer", disc, "read_only", 1, "share", info));
}

/* Records outcome and answers it (a view only when the store counted it;
 * the link is read again then, so the counts shown include this view). */
static void finish_attempt(ms_http_req_t *r, ms_store_t *st, ms_share_t *sh, const char *outcome,
                           const char *token_hash) {
    const char *result = NULL;
    int rc = ms_store_share_record(st, sh->id, ms_now_ms(), r->peer, outcome,
                                   (int)r->api->cfg->share_log_max, &result);
    if (rc == MS_ENOENT) {
        ms_http_respond_error(r, 404, "share_not_found", "no such share link");
        return;
    }
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_log(MS_LOG_INFO, "share_access", "\"share_id\":\"%s\",\"outcome\":\"%s\"", sh->id, result);
    if (strcmp(result, MS_SHARE_VIEWED) != 0) {
        respond_denied(r, result);
        return;
    }
    if (ms_store_share_lookup(st, token_hash, sh) != 0) {
        ms_http_respond_error(r, 404, "share_not_found", "no such share link");
        return;
    }
    respond_view(r, st, sh);
}

static void view_run(ms_store_t *st, void *arg) {
    view_job_t *j = arg;
    ms_http_req_t *r = j->r;
    ms_share_t sh;
    if (!st) {
        ms_http_respond_error(r, 500, "internal_error", "database unavailable");
        return;
    }
    int rc = ms_store_share_lookup(st, j->token_hash, &sh);
    if (rc) {
        if (rc == MS_ENOENT)
            ms_http_respond_error(r, 404, "share_not_found", "no such share link");
        else
            ms_api_store_error(r, rc);
        return;
    }
    /* A link that no longer opens says why before any password work. */
    const char *outcome = ms_share_ended(&sh, ms_now_ms());
    if (!outcome && sh.password_hash[0]) {
        if (!j->password)
            outcome = MS_SHARE_PASSWORD_REQUIRED;
        else if (ms_password_verify(sh.password_hash, j->password) != 0)
            outcome = MS_SHARE_WRONG_PASSWORD;
    }
    finish_attempt(r, st, &sh, outcome ? outcome : MS_SHARE_VIEWED, j->token_hash);
    explicit_bzero(sh.password_hash, sizeof sh.password_hash);
}

static void view_done(void *arg) {
    view_job_t *j = arg;
    ms_http_finish(j->r);
    job_done_free_password(j->password);
    free(j);
}

static void respond_rate_limited(ms_http_req_t *r) {
    ms_http_respond_error(r, 429, "rate_limited",
                          "too many attempts on shared links; wait a "
                          "minute");
    ms_http_add_header(r, "retry-after", "60");
    ms_http_finish(r);
}

/* GET (no password) and POST (body {"password"}) share this handler. Every
 * request counts against its client address, whatever its outcome: that is
 * what bounds guessing of tokens; a request carrying a password counts
 * against the link too, which bounds guessing its password from many
 * addresses. */
void ms_api_shared_view(ms_http_req_t *r) {
    const char *password = NULL;
    int present = 0;
    if (share_rate_limited(r, "addr", r->peer)) {
        respond_rate_limited(r);
        return;
    }
    if (r->json && ms__api_opt_str(r->json, "password", &present, &password)) {
        ms_http_respond_error(r, 400, "invalid_request", "\"password\" must be a string or null");
        ms_http_finish(r);
        return;
    }
    if (!token_shaped(r->param)) {
        ms_http_respond_error(r, 404, "share_not_found", "no such share link");
        ms_http_finish(r);
        return;
    }
    view_job_t *j = ms_xcalloc(1, sizeof *j);
    j->r = r;
    ms_token_hash(r->param, j->token_hash);
    if (password && share_rate_limited(r, "link", j->token_hash)) {
        free(j);
        respond_rate_limited(r);
        return;
    }
    j->password = password ? ms_xstrdup(password) : NULL;
    ms_work_kind_t kind = password ? MS_WORK_AUTH : MS_WORK_STORE;
    if (ms_work_submit_on(kind, r->api->loop, view_run, view_done, j) != 0) {
        ms_http_respond_error(r, 503, "busy", "server busy");
        ms_http_finish(r);
        job_done_free_password(j->password);
        free(j);
    }
}
