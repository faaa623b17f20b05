/* Login and refresh for `medstream chat` (see chat_http.h). */
#include "cli/chat_http.h"

#include "core/buf.h"
#include "core/ms.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bodies larger than this are not a login answer; stop reading early. */
#define CHAT_HTTP_MAX_BODY ((size_t)1024 * 1024)

void ms_cli_chat_tokens_clear(ms_cli_chat_tokens_t *t) {
    if (!t)
        return;
    if (t->access_token) {
        explicit_bzero(t->access_token, strlen(t->access_token));
        free(t->access_token);
    }
    if (t->refresh_token) {
        explicit_bzero(t->refresh_token, strlen(t->refresh_token));
        free(t->refresh_token);
    }
    t->access_token = NULL;
    t->refresh_token = NULL;
    t->expires_at_ms = 0;
}

static size_t body_write_cb(char *p, size_t size, size_t n, void *arg) {
    ms_buf_t *b = arg;
    size_t len = size * n;
    if (b->len + len > CHAT_HTTP_MAX_BODY)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    ms_buf_append(b, p, len);
    return len;
}

/* POSTs a JSON body and returns the status and the body (which may hold
 * secrets: the caller wipes it). Only transport failures return MS_EIO. */
static int post_json(const char *base_url, const char *path, const char *json, long *status,
                     ms_buf_t *body, char *err, size_t errlen) {
    char url[2048];
    if ((size_t)snprintf(url, sizeof url, "%s%s", base_url, path) >= sizeof url) {
        snprintf(err, errlen, "server URL is too long");
        return MS_EINVAL;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return MS_EIO;
    }
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "medstream-chat");
    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach server at %s: %s", base_url, curl_easy_strerror(rc));
        ret = MS_EIO;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return ret;
}

/* Copies the server's {"error":{"message"}} (or a fallback) into err. */
static void error_message(json_t *root, long status, char *err, size_t errlen) {
    const char *msg = json_string_value(json_object_get(json_object_get(root, "error"), "message"));
    if (msg)
        snprintf(err, errlen, "server answered %ld: %s", status, msg);
    else
        snprintf(err, errlen, "server answered HTTP %ld", status);
}

/* Shared by login and refresh: both answer the same shape (protocol.md). */
static int token_call(const char *base_url, const char *path, json_t *req, ms_cli_chat_tokens_t *t,
                      char *err, size_t errlen) {
    char *json = json_dumps(req, JSON_COMPACT);
    if (!json) {
        snprintf(err, errlen, "cannot encode the request");
        return MS_EINVAL;
    }
    ms_buf_t body;
    ms_buf_init(&body);
    long status = 0;
    int ret = post_json(base_url, path, json, &status, &body, err, errlen);
    explicit_bzero(json, strlen(json));
    free(json);
    if (ret < 0)
        goto done;

    json_t *root = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
    const char *access = json_string_value(json_object_get(root, "access_token"));
    const char *refresh = json_string_value(json_object_get(root, "refresh_token"));
    json_int_t expires_in = json_integer_value(json_object_get(root, "expires_in"));
    if (status == 200 && access && refresh) {
        ms_cli_chat_tokens_clear(t);
        t->access_token = ms_xstrdup(access);
        t->refresh_token = ms_xstrdup(refresh);
        if (expires_in <= 0)
            expires_in = 900; /* the documented default */
        t->expires_at_ms = ms_mono_ms() + (int64_t)expires_in * 1000;
    } else if (status == 401) {
        ret = MS_EAUTH;
        snprintf(err, errlen, "%s",
                 strstr(path, "login") ? "invalid email or password" : "session expired");
    } else if (status == 429) {
        ret = MS_EBUSY;
        snprintf(err, errlen, "too many login attempts; try again later");
    } else {
        ret = MS_EINVAL;
        if (status == 200)
            snprintf(err, errlen, "unexpected answer from %s%s", base_url, path);
        else
            error_message(root, status, err, errlen);
    }
    json_decref(root);
done:
    if (body.data)
        explicit_bzero(body.data, body.len);
    ms_buf_free(&body);
    return ret;
}

int ms_cli_chat_login(const char *base_url, const char *email, const char *password,
                      ms_cli_chat_tokens_t *t, char *err, size_t errlen) {
    json_t *req = json_pack("{s:s, s:s}", "email", email, "password", password);
    if (!req) {
        snprintf(err, errlen, "email and password must be valid UTF-8");
        return MS_EINVAL;
    }
    int ret = token_call(base_url, "/api/auth/login", req, t, err, errlen);
    json_decref(req);
    return ret;
}

int ms_cli_chat_refresh(const char *base_url, ms_cli_chat_tokens_t *t, char *err, size_t errlen) {
    if (!t->refresh_token) {
        snprintf(err, errlen, "no refresh token");
        return MS_EAUTH;
    }
    json_t *req = json_pack("{s:s}", "refresh_token", t->refresh_token);
    int ret = token_call(base_url, "/api/auth/refresh", req, t, err, errlen);
    json_decref(req);
    return ret;
}
