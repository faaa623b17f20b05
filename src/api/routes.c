/* The route table and dispatcher: which handler, where it runs (loop or
 * pool), whether it needs a token or a JSON body. */
#include "api/routes.h"
#include "chat/work.h"
#include "core/log.h"
#include "core/path.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_http_method_t method;
    const char *pattern; /* "{id}" matches one path segment (core/path.h) */
    int auth;            /* 1: needs a valid access token; 2: an API key (APIKEY) */
    int json;            /* 1: body must be a JSON object; 2: optional JSON object;
                          * BODY_RAW: body kept as bytes, the handler parses it;
                          * BODY_STREAM (below) */
    int rate_limited;    /* counts against the login rate limit */
    void (*loop_fn)(ms_http_req_t *r);
    void (*pool_fn)(ms_http_req_t *r, ms_store_t *st);
    /* Where pool_fn (and the user check) runs: password hashing has its own
     * pool so that a burst of logins never delays storage or retrieval
     * (chat/work.h); knowledge-base searches run with retrieval. */
    ms_work_kind_t pool;
} route_t;

/* json == BODY_RAW: the body is buffered like a JSON one but not parsed
 * (the FHIR import parses its large body itself, on the pool). */
#define BODY_RAW 3
/* json == BODY_STREAM: the body is not buffered; it streams to the route's
 * sink (api.h ms_http_sink_t; the attachment upload's, attachments.c). */
#define BODY_STREAM 4

#define STORE MS_WORK_STORE
#define AUTH MS_WORK_AUTH
#define KB MS_WORK_KB
/* Authenticated by a medstream API key ("Bearer msk-...", openai_api.c). */
#define APIKEY 2

static const route_t routes[] = {
    {MS_HTTP_GET, "/", 0, 0, 0, ms_api_asset, NULL, STORE},
    {MS_HTTP_GET, "/favicon.svg", 0, 0, 0, ms_api_asset, NULL, STORE},
    {MS_HTTP_GET, "/assets/{id}", 0, 0, 0, ms_api_asset, NULL, STORE},
    {MS_HTTP_GET, "/health", 0, 0, 0, ms_api_health, NULL, STORE},
    {MS_HTTP_GET, "/ready", 0, 0, 0, ms_api_ready, NULL, STORE},
    {MS_HTTP_GET, "/health/providers", 0, 0, 0, ms_api_health_providers, NULL, STORE},
    {MS_HTTP_GET, "/metrics", 0, 0, 0, ms_api_metrics, NULL, STORE},
    {MS_HTTP_POST, "/api/auth/register", 0, 1, 1, NULL, ms_api_register, AUTH},
    {MS_HTTP_POST, "/api/auth/login", 0, 1, 1, NULL, ms_api_login, AUTH},
    {MS_HTTP_POST, "/api/auth/refresh", 0, 2, 0, NULL, ms_api_refresh, STORE},
    {MS_HTTP_POST, "/api/auth/logout", 0, 2, 0, NULL, ms_api_logout, STORE},
    {MS_HTTP_POST, "/api/ws-ticket", 1, 0, 0, ms_api_ws_ticket, NULL, STORE},
    {MS_HTTP_GET, "/api/conversations", 1, 0, 0, NULL, ms_api_conv_list, STORE},
    {MS_HTTP_POST, "/api/conversations", 1, 2, 0, NULL, ms_api_conv_create, STORE},
    {MS_HTTP_GET, "/api/conversations/{id}", 1, 0, 0, NULL, ms_api_conv_get, STORE},
    {MS_HTTP_PATCH, "/api/conversations/{id}", 1, 1, 0, NULL, ms_api_conv_patch, STORE},
    {MS_HTTP_DELETE, "/api/conversations/{id}", 1, 0, 0, NULL, ms_api_conv_delete, STORE},
    {MS_HTTP_GET, "/api/conversations/{id}/messages", 1, 0, 0, NULL, ms_api_conv_messages, STORE},
    {MS_HTTP_POST, "/api/conversations/{id}/messages/chat", 1, 1, 0, ms_api_chat, NULL, STORE},
    {MS_HTTP_POST, "/api/workflows/{id}", 1, 1, 0, ms_api_workflow, NULL, STORE},
    {MS_HTTP_GET, "/api/kb/search", 1, 0, 0, NULL, ms_api_kb_search, KB},
    {MS_HTTP_GET, "/api/models", 1, 0, 0, ms_api_models, NULL, STORE},
    {MS_HTTP_PUT, "/api/messages/{id}/feedback", 1, 1, 0, NULL, ms_api_feedback_put, STORE},
    {MS_HTTP_GET, "/api/messages/{id}/feedback", 1, 0, 0, NULL, ms_api_feedback_get, STORE},
    {MS_HTTP_DELETE, "/api/messages/{id}/feedback", 1, 0, 0, NULL, ms_api_feedback_delete, STORE},
    /* Folders (folders.c); "tree" comes before "{id}". */
    {MS_HTTP_POST, "/api/folders", 1, 1, 0, NULL, ms_api_folder_create, STORE},
    {MS_HTTP_GET, "/api/folders", 1, 0, 0, NULL, ms_api_folder_list, STORE},
    {MS_HTTP_GET, "/api/folders/tree", 1, 0, 0, NULL, ms_api_folder_tree, STORE},
    {MS_HTTP_GET, "/api/folders/{id}", 1, 0, 0, NULL, ms_api_folder_get, STORE},
    {MS_HTTP_PUT, "/api/folders/{id}", 1, 1, 0, NULL, ms_api_folder_put, STORE},
    {MS_HTTP_DELETE, "/api/folders/{id}", 1, 0, 0, NULL, ms_api_folder_delete, STORE},
    {MS_HTTP_POST, "/api/folders/{id}/move/{id}", 1, 0, 0, NULL, ms_api_folder_move, STORE},
    /* Share links (shares.c); a "session" is a conversation (seed 002). */
    {MS_HTTP_POST, "/api/sessions/{id}/share", 1, 2, 0, ms_api_share_create, NULL, STORE},
    {MS_HTTP_GET, "/api/sessions/{id}/shares", 1, 0, 0, NULL, ms_api_share_list, STORE},
    {MS_HTTP_DELETE, "/api/sessions/{id}/share/{id}", 1, 0, 0, NULL, ms_api_share_revoke, STORE},
    {MS_HTTP_GET, "/api/sessions/{id}/shares/{id}/accesses", 1, 0, 0, NULL, ms_api_share_accesses,
     STORE},
    {MS_HTTP_GET, "/api/shared/{id}", 0, 0, 0, ms_api_shared_view, NULL, STORE},
    {MS_HTTP_POST, "/api/shared/{id}", 0, 1, 0, ms_api_shared_view, NULL, STORE},
    /* Clinical contexts (api/clinical.c). "current" before "{id}", which it
     * would match too. The FHIR import parses its (large) body itself, on the
     * pool, so the dispatcher only keeps it (BODY_RAW). */
    {MS_HTTP_POST, "/api/clinical-contexts", 1, 1, 0, NULL, ms_api_clinical_create, STORE},
    {MS_HTTP_GET, "/api/clinical-contexts/current", 1, 0, 0, NULL, ms_api_clinical_current, STORE},
    {MS_HTTP_POST, "/api/clinical-contexts/import/fhir", 1, BODY_RAW, 0, NULL,
     ms_api_clinical_import_fhir, STORE},
    {MS_HTTP_GET, "/api/clinical-contexts/{id}", 1, 0, 0, NULL, ms_api_clinical_get, STORE},
    {MS_HTTP_PUT, "/api/clinical-contexts/{id}", 1, 1, 0, NULL, ms_api_clinical_put, STORE},
    {MS_HTTP_DELETE, "/api/clinical-contexts/{id}", 1, 0, 0, NULL, ms_api_clinical_delete, STORE},
    /* Attachments (attachments.c): an upload streams to disk as it
     * arrives; its handler stores the row on the pool, then queues the
     * text extraction from the loop. */
    {MS_HTTP_POST, "/api/messages/{id}/attachments", 1, BODY_STREAM, 0, ms_api_attachment_queue,
     ms_api_attachment_upload, STORE},
    {MS_HTTP_GET, "/api/messages/{id}/attachments", 1, 0, 0, NULL, ms_api_attachment_list, STORE},
    {MS_HTTP_DELETE, "/api/attachments/{id}", 1, 0, 0, NULL, ms_api_attachment_delete, STORE},
    {MS_HTTP_GET, "/api/attachments/{id}/download", 1, 0, 0, NULL, ms_api_attachment_download,
     STORE},
    {MS_HTTP_GET, "/api/messages/{id}/citations", 1, 0, 0, NULL, ms_api_message_citations, STORE},
    {MS_HTTP_GET, "/api/conversations/{id}/export", 1, 0, 0, NULL, ms_api_conv_export, STORE},
    {MS_HTTP_GET, "/api/sessions/{id}/export/markdown", 1, 0, 0, NULL,
     ms_api_session_export_markdown, STORE},
    {MS_HTTP_GET, "/api/sessions/{id}/export/pdf", 1, 0, 0, NULL, ms_api_session_export_pdf, STORE},
    /* The OpenAI-compatible API (openai_api.c). */
    {MS_HTTP_POST, "/v1/chat/completions", APIKEY, 1, 0, ms_api_openai_chat, NULL, STORE},
    {MS_HTTP_GET, "/v1/models", APIKEY, 0, 0, ms_api_openai_models, NULL, STORE},
};

static const char *const method_names[] = {"GET",    "POST",    "PATCH", "PUT",
                                           "DELETE", "OPTIONS", "OTHER"};

/* Matches path against pattern; copies the {id} segment into param. */
static int match(const char *pattern, const char *path, char *param, size_t plen) {
    ms_path_params_t pp;
    if (!ms_path_match(pattern, path, &pp))
        return 0;
    param[0] = '\0';
    if (pp.n) {
        size_t n = strlen(pp.value[0]);
        if (n >= plen)
            return 0;
        memcpy(param, pp.value[0], n + 1);
    }
    return 1;
}

/* The REST answer for a store error, from the one mapping (core/ms.h),
 * except that another user's object is answered like a missing one (404:
 * no existence leak). */
void ms_api_store_error(ms_http_req_t *r, int err) {
    const ms_error_info_t *ei = ms_error_info(err == MS_EPERM ? MS_ENOENT : err);
    ms_http_respond_error(r, ei->http_status, ei->code, ei->message);
}

typedef struct {
    ms_http_req_t *r;
    const route_t *route;
    int user_gone; /* the token's user no longer exists */
} pool_job_t;

/* On a pool thread: the token's user must still exist (a deleted user's
 * access token is refused at once, not when it expires), then the storage
 * handler runs. Loop handlers run later, in pool_done. */
static void pool_run(ms_store_t *st, void *arg) {
    pool_job_t *j = arg;
    if (!st) {
        ms_http_respond_error(j->r, 500, "internal_error", "database unavailable");
        return;
    }
    if (j->route->auth == APIKEY) {
        if (ms__api_apikey_check(j->r, st) != 0)
            return;
    } else if (j->route->auth) {
        int rc = ms_store_user_by_id(st, j->r->user.sub, NULL);
        if (rc == MS_ENOENT) {
            j->user_gone = 1;
            ms_http_respond_error(j->r, 401, "unauthorized", "this account no longer exists");
            return;
        }
        if (rc) {
            ms_api_store_error(j->r, rc);
            return;
        }
    }
    if (!j->route->pool_fn)
        return;
    j->route->pool_fn(j->r, st);
    /* A route with a loop handler too answers there (pool_done). */
    if (!j->r->status && !j->route->loop_fn)
        ms_http_respond_error(j->r, 500, "internal_error", "no response");
}

static void pool_done(void *arg) {
    pool_job_t *j = arg;
    ms_http_req_t *r = j->r;
    const route_t *route = j->route;
    free(j);
    if (route->loop_fn && !r->status) {
        route->loop_fn(r); /* calls ms_http_finish itself, now or later */
        return;
    }
    ms_http_finish(r);
}

/* Verifies "Authorization: Bearer <jwt>" into r->user. */
static int authenticate(ms_http_req_t *r) {
    const char *h = r->authorization;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return MS_EAUTH;
    h += 7;
    while (*h == ' ')
        h++;
    return ms_jwt_verify(r->api->jwt_secret, r->api->jwt_secret_len, h, &r->user);
}

static void respond_rate_limited(ms_http_req_t *r) {
    ms_http_respond_error(r, 429, "rate_limited", "too many attempts; wait a minute");
    ms_http_add_header(r, "retry-after", "60");
}

/* Login and registration attempts are limited per client address (here, on
 * the headers) and per account (in ms_api_dispatch, once the body names
 * it): credential stuffing comes from many addresses at one account. An
 * address already over its budget is refused before its email is looked
 * at, so it cannot fill the counter table with one key per email. */
static int address_limited(ms_http_req_t *r) {
    char key[96];
    snprintf(key, sizeof key, "login:addr:%s", r->peer);
    return ms_limits_hit(r->api->limits, key, r->api->cfg->login_rate_per_min, 60000) != 0;
}

static int email_limited(ms_http_req_t *r) {
    const char *email = json_string_value(json_object_get(r->json, "email"));
    if (!email || strlen(email) > 254)
        return 0; /* refused as invalid by the handler, which is cheap */
    char key[300];
    size_t n = (size_t)snprintf(key, sizeof key, "login:email:%s", email);
    for (size_t i = 12; i < n && i < sizeof key; i++)
        key[i] = (char)tolower((unsigned char)key[i]);
    return ms_limits_hit(r->api->limits, key, r->api->cfg->login_rate_per_min, 60000) != 0;
}

/* The route for method and path, or NULL with the Allow value (the methods
 * the path has) in allow. */
static const route_t *find_route(ms_http_req_t *r, char *allow, size_t allow_len) {
    allow[0] = '\0';
    for (size_t i = 0; i < MS_COUNTOF(routes); i++) {
        if (!match(routes[i].pattern, r->path, r->param, sizeof r->param))
            continue;
        if (routes[i].method == r->method)
            return &routes[i];
        size_t n = strlen(allow);
        snprintf(allow + n, allow_len - n, "%s%s", n ? ", " : "", method_names[routes[i].method]);
    }
    return NULL;
}

int ms_api_begin(ms_http_req_t *r) {
    if (r->begun)
        return r->status;
    r->begun = 1;
    const ms_config_t *cfg = r->api->cfg;
    char allow[64];
    const route_t *route = find_route(r, allow, sizeof allow);
    if (!route) {
        if (allow[0]) {
            snprintf(r->allow, sizeof r->allow, "%s", allow);
            ms_http_respond_error(r, 405, "method_not_allowed", "method not allowed here");
        } else {
            ms_http_respond_error(r, 404, "not_found", "no such route");
        }
        return r->status;
    }
    r->route = route;
    /* A body is kept only where the route reads one; requests without a
     * token get the small limit, so an anonymous client cannot make the
     * server hold much. */
    r->body_keep = route->json == 1 || route->json == 2 || route->json == BODY_RAW;
    r->body_limit = route->json && route->auth ? cfg->max_body_bytes : cfg->max_unauth_body_bytes;
    if (r->body_limit > cfg->max_body_bytes)
        r->body_limit = cfg->max_body_bytes;
    if (route->json == BODY_STREAM && route->auth) {
        r->sink = &ms_api_attachment_sink;
        r->body_limit = ms_api_attachment_body_limit(cfg);
        r->body_timeout_s = cfg->upload_timeout_s;
    }
    if (r->body_too_large || r->content_length > r->body_limit) {
        ms_http_respond_error(r, 413, "too_large", "request body too large");
        return r->status;
    }
    if (route->auth == APIKEY) {
        if (!ms__api_apikey_present(r)) {
            ms_http_respond_error(
                r, 401, "invalid_api_key",
                "missing or malformed API key: send Authorization: Bearer msk-...");
            return r->status;
        }
    } else if (route->auth && authenticate(r) != 0) {
        ms_http_respond_error(r, 401, "unauthorized", "missing, invalid or expired access token");
        return r->status;
    }
    if (r->sink && ms_api_attachment_begin(r) != 0)
        return r->status;
    if (route->rate_limited && address_limited(r)) {
        respond_rate_limited(r);
        return r->status;
    }
    return 0;
}

void ms_api_dispatch(ms_http_req_t *r) {
    r->refs++; /* the handler's reference, dropped by ms_http_finish */
    if (!r->begun)
        ms_api_begin(r);
    if (r->status)
        goto finish;
    const route_t *route = r->route;
    /* One line per handler run (debug): the e2e suite counts them. */
    ms_log(MS_LOG_DEBUG, "api_dispatch", "\"method\":\"%s\",\"route\":\"%s\"",
           method_names[route->method], route->pattern);
    if (r->body_too_large || (int64_t)r->body.len > r->body_limit) {
        ms_http_respond_error(r, 413, "too_large", "request body too large");
        goto finish;
    }
    if (route->json == 1 || route->json == 2) {
        json_error_t je;
        if (r->body.len == 0 && route->json == 2) {
            r->json = json_object();
        } else {
            r->json = json_loadb(ms_buf_cstr(&r->body), r->body.len, JSON_REJECT_DUPLICATES, &je);
            if (!json_is_object(r->json)) {
                ms_http_respond_error(r, 400, "invalid_request",
                                      "request body must be a JSON object");
                goto finish;
            }
        }
    }
    if (route->rate_limited && email_limited(r)) {
        respond_rate_limited(r);
        goto finish;
    }
    if (route->loop_fn && !route->auth) {
        route->loop_fn(r); /* calls ms_http_finish itself, now or later */
        return;
    }
    pool_job_t *j = ms_xcalloc(1, sizeof *j);
    j->r = r;
    j->route = route;
    int rc = ms_work_submit_on(route->pool, r->api->loop, pool_run, pool_done, j);
    if (rc != 0) {
        free(j);
        ms_api_store_error(r, rc); /* overloaded: 503, retryable */
        goto finish;
    }
    return;
finish:
    ms_http_finish(r);
}
