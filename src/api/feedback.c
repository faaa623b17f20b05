/* /api/messages/{id}/feedback: a thumbs up or down, with an optional
 * comment, on an assistant message of one's own conversation (the web
 * client's message actions). The message's owner is checked by the store:
 * another user's message is a 404, like an absent one. */
#include "api/routes.h"

#include <string.h>

void ms_api_feedback_put(ms_http_req_t *r, ms_store_t *st) {
    const char *rating = json_string_value(json_object_get(r->json, "rating"));
    json_t *c = json_object_get(r->json, "comment");
    int value = rating && !strcmp(rating, "up") ? 1 : rating && !strcmp(rating, "down") ? -1 : 0;
    if (!value || (c && !json_is_null(c) && !json_is_string(c)) ||
        (json_is_string(c) && ms_utf8_count(json_string_value(c), json_string_length(c)) >
                                  MS_FEEDBACK_MAX_COMMENT_CHARS)) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "\"rating\" must be \"up\" or \"down\"; \"comment\" a string of at "
                              "most 2000 characters or null");
        return;
    }
    if (!ms_id_valid(r->param)) {
        ms_api_store_error(r, MS_ENOENT);
        return;
    }
    json_t *out = NULL;
    int rc = ms_store_feedback_put(st, r->user.sub, r->param, value, json_string_value(c), &out);
    if (rc == MS_EINVAL) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "feedback can be given on assistant messages only");
        return;
    }
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, out);
}

void ms_api_feedback_get(ms_http_req_t *r, ms_store_t *st) {
    json_t *out = NULL;
    int rc =
        ms_id_valid(r->param) ? ms_store_feedback_get(st, r->user.sub, r->param, &out) : MS_ENOENT;
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 200, out);
}

void ms_api_feedback_delete(ms_http_req_t *r, ms_store_t *st) {
    int rc =
        ms_id_valid(r->param) ? ms_store_feedback_delete(st, r->user.sub, r->param) : MS_ENOENT;
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    ms_http_respond_json(r, 204, NULL);
}
