/* The route table and dispatcher: which handler, where it runs (loop or
 * pool), whether it needs a token or a JSON body. */
#include "api/routes.h"
#include "chat/work.h"
#include "core/log.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_http_method_t method;
    const char *pattern; /* "{id}" matches one path segment */
    int auth;            /* needs a valid access token */
    int json;            /* 1: body must be a JSON object; 2: optional JSON object */
    int rate_limited;    /* counts against the login rate limit */
    void (*loop_fn)(ms_http_req_t *r);
    void (*pool_fn)(ms_http_req_t *r, ms_store_t *st);
} route_t;

static const route_t routes[] = {
    {MS_HTTP_GET, "/", 0, 0, 0, ms_api_asset, NULL},
    {MS_HTTP_GET, "/favicon.svg", 0, 0, 0, ms_api_asset, NULL},
    {MS_HTTP_GET, "/assets/{id}", 0, 0, 0, ms_api_asset, NULL},
    {MS_HTTP_GET, "/health", 0, 0, 0, ms_api_health, NULL},
    {MS_HTTP_GET, "/ready", 0, 0, 0, ms_api_ready, NULL},
    {MS_HTTP_POST, "/api/auth/register", 0, 1, 1, NULL, ms_api_register},
    {MS_HTTP_POST, "/api/auth/login", 0, 1, 1, NULL, ms_api_login},
    {MS_HTTP_POST, "/api/auth/refresh", 0, 2, 0, NULL, ms_api_refresh},
    {MS_HTTP_POST, "/api/auth/logout", 0, 2, 0, NULL, ms_api_logout},
    {MS_HTTP_POST, "/api/ws-ticket", 1, 0, 0, ms_api_ws_ticket, NULL},
    {MS_HTTP_GET, "/api/conversations", 1, 0, 0, NULL, ms_api_conv_list},
    {MS_HTTP_POST, "/api/conversations", 1, 2, 0, NULL, ms_api_conv_create},
    {MS_HTTP_GET, "/api/conversations/{id}", 1, 0, 0, NULL, ms_api_conv_get},
    {MS_HTTP_PATCH, "/api/conversations/{id}", 1, 1, 0, NULL, ms_api_conv_patch},
    {MS_HTTP_DELETE, "/api/conversations/{id}", 1, 0, 0, NULL, ms_api_conv_delete},
    {MS_HTTP_GET, "/api/conversations/{id}/messages", 1, 0, 0, NULL, ms_api_conv_messages},
    {MS_HTTP_POST, "/api/conversations/{id}/messages/chat", 1, 1, 0, ms_api_chat, NULL},
    {MS_HTTP_GET, "/api/kb/search", 1, 0, 0, NULL, ms_api_kb_search},
    {MS_HTTP_GET, "/api/models", 1, 0, 0, ms_api_models, NULL},
    {MS_HTTP_PUT, "/api/messages/{id}/feedback", 1, 1, 0, NULL, ms_api_feedback_put},
    {MS_HTTP_GET, "/api/messages/{id}/feedback", 1, 0, 0, NULL, ms_api_feedback_get},
    {MS_HTTP_DELETE, "/api/messages/{id}/feedback", 1, 0, 0, NULL, ms_api_feedback_delete},
    /* Clinical contexts (api/clinical.c). "current" before "{id}", which it
     * would match too. The FHIR import parses its (large) body itself, on the
     * pool, so the dispatcher does not (json 0). */
    {MS_HTTP_POST, "/api/clinical-contexts", 1, 1, 0, NULL, ms_api_clinical_create},
    {MS_HTTP_GET, "/api/clinical-contexts/current", 1, 0, 0, NULL, ms_api_clinical_current},
    {MS_HTTP_POST, "/api/clinical-contexts/import/fhir", 1, 0, 0, NULL,
     ms_api_clinical_import_fhir},
    {MS_HTTP_GET, "/api/clinical-contexts/{id}", 1, 0, 0, NULL, ms_api_clinical_get},
    {MS_HTTP_PUT, "/api/clinical-contexts/{id}", 1, 1, 0, NULL, ms_api_clinical_put},
    {MS_HTTP_DELETE, "/api/clinical-contexts/{id}", 1, 0, 0, NULL, ms_api_clinical_delete},
};

static const char *const method_names[] = {"GET",    "POST",    "PATCH", "PUT",
                                           "DELETE", "OPTIONS", "OTHER"};

/* Matches path against pattern; copies the {id} segment into param. */
static int match(const char *pattern, const char *path, char *param, size_t plen) {
    while (*pattern && *path) {
        if (!strncmp(pattern, "{id}", 4)) {
            const char *slash = strchr(path, '/');
            size_t n = slash ? (size_t)(slash - path) : strlen(path);
            if (n == 0 || n >= plen)
                return 0;
            memcpy(param, path, n);
            param[n] = '\0';
            pattern += 4;
            path += n;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    return *pattern == '\0' && *path == '\0';
}

void ms_api_store_error(ms_http_req_t *r, int err) {
    switch (err) {
    case MS_ENOENT:
    case MS_EPERM:
        ms_http_respond_error(r, 404, "not_found", "no such resource");
        break;
    case MS_EINVAL:
        ms_http_respond_error(r, 400, "invalid_request", "invalid request");
        break;
    case MS_EEXIST:
        ms_http_respond_error(r, 409, "conflict", "already exists");
        break;
    default:
        ms_http_respond_error(r, 500, "internal_error", "internal error; see the server log");
    }
}

typedef struct {
    ms_http_req_t *r;
    const route_t *route;
} pool_job_t;

static void pool_run(ms_store_t *st, void *arg) {
    pool_job_t *j = arg;
    if (!st) {
        ms_http_respond_error(j->r, 500, "internal_error", "database unavailable");
        return;
    }
    j->route->pool_fn(j->r, st);
    if (!j->r->status)
        ms_http_respond_error(j->r, 500, "internal_error", "no response");
}

static void pool_done(void *arg) {
    pool_job_t *j = arg;
    ms_http_finish(j->r);
    free(j);
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

/* Login and registration attempts are limited per client address and per
 * account (credential stuffing comes from many addresses at one account). */
static int rate_limited(ms_http_req_t *r) {
    int limited = ms_rate_hit(r->api->rate, r->peer) != 0;
    const char *email = json_string_value(json_object_get(r->json, "email"));
    if (email && strlen(email) <= 254) {
        char key[300];
        size_t n = (size_t)snprintf(key, sizeof key, "email:%s", email);
        for (size_t i = 6; i < n && i < sizeof key; i++)
            key[i] = (char)tolower((unsigned char)key[i]);
        limited |= ms_rate_hit(r->api->rate, key) != 0;
    }
    return limited;
}

void ms_api_dispatch(ms_http_req_t *r) {
    const route_t *route = NULL;
    char allow[64] = "";
    r->refs++; /* the handler's reference, dropped by ms_http_finish */
    for (size_t i = 0; i < MS_COUNTOF(routes); i++) {
        if (!match(routes[i].pattern, r->path, r->param, sizeof r->param))
            continue;
        if (routes[i].method == r->method) {
            route = &routes[i];
            break;
        }
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "",
                 method_names[routes[i].method]);
    }
    if (!route) {
        if (allow[0]) {
            snprintf(r->allow, sizeof r->allow, "%s", allow);
            ms_http_respond_error(r, 405, "method_not_allowed", "method not allowed here");
        } else {
            ms_http_respond_error(r, 404, "not_found", "no such route");
        }
        goto finish;
    }
    if (r->body_too_large) {
        ms_http_respond_error(r, 413, "too_large", "request body too large");
        goto finish;
    }
    if (route->auth && authenticate(r) != 0) {
        ms_http_respond_error(r, 401, "unauthorized", "missing, invalid or expired access token");
        goto finish;
    }
    if (route->json) {
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
    if (route->rate_limited && rate_limited(r)) {
        ms_http_respond_error(r, 429, "rate_limited", "too many attempts; wait a minute");
        goto finish;
    }
    if (route->loop_fn) {
        route->loop_fn(r); /* calls ms_http_finish itself, now or later */
        return;
    }
    pool_job_t *j = ms_xcalloc(1, sizeof *j);
    j->r = r;
    j->route = route;
    if (ms_work_submit(r->api->loop, pool_run, pool_done, j) != 0) {
        free(j);
        ms_http_respond_error(r, 503, "busy", "server busy");
        goto finish;
    }
    return;
finish:
    ms_http_finish(r);
}
