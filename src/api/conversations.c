/* /api/conversations and /api/conversations/{id}[/messages]. Ownership is
 * checked by the store on every call: another user's conversation is a 404. */
#include "api/routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Parses an optional integer query argument within [lo, hi]. */
static int int_arg(ms_http_req_t *r, const char *name, long def, long lo, long hi, long *out) {
    char *v = ms_http_query_arg(r, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    int ok = errno == 0 && end != v && *end == '\0' && n >= lo && n <= hi;
    free(v);
    if (!ok)
        return MS_EINVAL;
    *out = n;
    return 0;
}

void ms_api_conv_list(ms_http_req_t *r, ms_store_t *st) {
    long limit, offset;
    if (int_arg(r, "limit", 50, 1, 200, &limit) || int_arg(r, "offset", 0, 0, 1000000, &offset)) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "limit must be 1..200 and offset 0..1000000");
        return;
    }
    /* ?q= filters by title and message content (the sidebar's search). */
    char *q = ms_http_query_arg(r, "q");
    if (q && (!*q || ms_utf8_count(q, strlen(q)) < 1 || ms_utf8_count(q, strlen(q)) > 200)) {
        free(q);
        ms_http_respond_error(r, 400, "invalid_request", "q must be 1 to 200 characters of UTF-8");
        return;
    }
    /* ?folder_id= keeps those filed in one folder ("root": in none). */
    char *folder = ms_http_query_arg(r, "folder_id");
    json_t *list = NULL;
    int rc;
    if (folder) {
        const char *fid = strcmp(folder, "root") ? folder : NULL;
        rc = !fid || ms_id_valid(fid) ? ms_store_conversation_list_folder(
                                            st, r->user.sub, fid, q, (int)limit, (int)offset, &list)
                                      : MS_ENOENT;
    } else {
        rc = q ? ms_store_conversation_search(st, r->user.sub, q, (int)limit, (int)offset, &list)
               : ms_store_conversation_list(st, r->user.sub, (int)limit, (int)offset, &list);
    }
    free(folder);
    free(q);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, json_pack("{s:o}", "conversations", list));
}

/* The optional or required "title": a string of 1..200 characters. */
static int title_field(ms_http_req_t *r, int required, const char **out) {
    json_t *t = json_object_get(r->json, "title");
    *out = NULL;
    if (!t || json_is_null(t)) {
        if (!required)
            return 0;
    } else if (json_is_string(t) && json_string_length(t) > 0 &&
               ms_utf8_count(json_string_value(t), json_string_length(t)) <= 200 &&
               ms_utf8_count(json_string_value(t), json_string_length(t)) > 0) {
        *out = json_string_value(t);
        return 0;
    }
    ms_http_respond_error(r, 400, "invalid_request",
                          "\"title\" must be a string of 1 to 200 characters");
    return MS_EINVAL;
}

void ms_api_conv_create(ms_http_req_t *r, ms_store_t *st) {
    const char *title;
    if (title_field(r, 0, &title))
        return;
    json_t *conv = NULL;
    int rc = ms_store_conversation_create(st, r->user.sub, title, &conv);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 201, conv);
}

void ms_api_conv_get(ms_http_req_t *r, ms_store_t *st) {
    json_t *conv = NULL;
    int rc = ms_id_valid(r->param) ? ms_store_conversation_get(st, r->user.sub, r->param, &conv)
                                   : MS_ENOENT;
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, conv);
}

/* PATCH takes "title", "folder_id" (a folder id, or null for none) or
 * both. The folder goes first: it is the change that can be refused (an
 * unknown folder), so a refused request changes nothing. */
void ms_api_conv_patch(ms_http_req_t *r, ms_store_t *st) {
    const char *title, *folder_id;
    int has_folder = 0;
    if (ms__api_opt_str(r->json, "folder_id", &has_folder, &folder_id)) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "\"folder_id\" must be a folder id or null");
        return;
    }
    if (title_field(r, !has_folder, &title))
        return;
    json_t *conv = NULL;
    int rc = ms_id_valid(r->param) && (!folder_id || ms_id_valid(folder_id)) ? 0 : MS_ENOENT;
    if (!rc && has_folder)
        rc = ms_store_conversation_set_folder(st, r->user.sub, r->param, folder_id,
                                              title ? NULL : &conv);
    if (!rc && title)
        rc = ms_store_conversation_rename(st, r->user.sub, r->param, title, &conv);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, conv);
}

void ms_api_conv_delete(ms_http_req_t *r, ms_store_t *st) {
    int rc =
        ms_id_valid(r->param) ? ms_store_conversation_delete(st, r->user.sub, r->param) : MS_ENOENT;
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 204, NULL);
}

void ms_api_conv_messages(ms_http_req_t *r, ms_store_t *st) {
    json_t *conv = NULL, *msgs = NULL;
    int rc = ms_id_valid(r->param) ? ms_store_conversation_get(st, r->user.sub, r->param, &conv)
                                   : MS_ENOENT;
    json_decref(conv);
    json_t *fb = NULL;
    if (!rc)
        rc = ms_store_message_list(st, r->param, &msgs);
    if (!rc)
        rc = ms_store_feedback_by_conversation(st, r->param, &fb);
    if (rc) {
        json_decref(msgs);
        ms_api_store_error(r, rc);
        return;
    }
    /* Each message carries its feedback (null when none was given); an
     * assistant message also carries the configured disclaimer, which a
     * client shows on every answer, even an interrupted one whose stored
     * text stops before it. */
    const char *disc = r->api->cfg->disclaimer ? r->api->cfg->disclaimer : "";
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *f = json_object_get(fb, json_string_value(json_object_get(m, "id")));
        json_object_set(m, "feedback", f ? f : json_null());
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "assistant"))
            json_object_set_new(m, "disclaimer", json_string(disc));
    }
    json_decref(fb);
    ms_http_respond_json(r, 200, json_pack("{s:o}", "messages", msgs));
}
