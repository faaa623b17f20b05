/* POST /api/conversations/{id}/messages/chat: the same pipeline and
 * idempotency as the WebSocket, answered once the message is complete. */
#include "api/routes.h"
#include "chat/work.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_http_req_t *r;
    ms_sub_t *sub;
    char assistant_id[MS_ID_LEN];
    json_t *user_msg;
    json_t *assistant_msg;
    int err;
} chat_job_t;

static void fetch_run(ms_store_t *st, void *arg) {
    chat_job_t *j = arg;
    if (!st) {
        j->err = MS_EIO;
        return;
    }
    j->err = ms_store_message_get(st, j->assistant_id, &j->assistant_msg);
    const char *reply_to = json_string_value(json_object_get(j->assistant_msg, "reply_to"));
    if (!j->err && reply_to)
        j->err = ms_store_message_get(st, reply_to, &j->user_msg);
}

static void fetch_done(void *arg) {
    chat_job_t *j = arg;
    if (j->err)
        ms_api_store_error(j->r, j->err == MS_ENOENT ? MS_EIO : j->err);
    else
        ms_http_respond_json(j->r, 200,
                             json_pack("{s:o, s:o}", "user_message", j->user_msg,
                                       "assistant_message", j->assistant_msg));
    j->user_msg = j->assistant_msg = NULL;
    ms_http_finish(j->r);
    free(j);
}

static void chat_emit_cb(void *ctx, const ms_event_t *ev) {
    chat_job_t *j = ctx;
    if (ev->kind == MS_EV_MESSAGE_COMPLETE) {
        snprintf(j->assistant_id, MS_ID_LEN, "%s", ev->message_id);
    } else if (ev->kind == MS_EV_ERROR) {
        const char *code = json_string_value(json_object_get(ev->data, "code"));
        j->err =
            code && (!strcmp(code, "forbidden") || !strcmp(code, "not_found")) ? MS_ENOENT : MS_EIO;
    } else {
        return;
    }
    /* The final event: let go of the stream, then read the stored pair. */
    ms_sub_close(j->sub);
    j->sub = NULL;
    if (j->err || ms_work_submit(j->r->api->loop, fetch_run, fetch_done, j) != 0) {
        ms_api_store_error(j->r, j->err ? j->err : MS_EIO);
        ms_http_finish(j->r);
        free(j);
    }
}

void ms_api_chat(ms_http_req_t *r) {
    const ms_config_t *cfg = r->api->cfg;
    json_t *text = json_object_get(r->json, "text");
    json_t *cmid = json_object_get(r->json, "client_message_id");
    long chars = json_is_string(text)
                     ? ms_utf8_count(json_string_value(text), json_string_length(text))
                     : -1;
    if (chars < 1 || chars > cfg->max_message_chars ||
        strlen(json_string_value(text)) != json_string_length(text)) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "\"text\" must be a non-empty string within max_message_chars");
        ms_http_finish(r);
        return;
    }
    if (cmid && !json_is_null(cmid) &&
        (!json_is_string(cmid) || json_string_length(cmid) < 1 || json_string_length(cmid) > 128)) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "\"client_message_id\" must be a string of 1 to 128 bytes");
        ms_http_finish(r);
        return;
    }
    if (!ms_id_valid(r->param)) {
        ms_http_respond_error(r, 404, "not_found", "no such resource");
        ms_http_finish(r);
        return;
    }
    char generated[MS_ID_LEN];
    const char *client_message_id = json_string_value(cmid);
    if (!client_message_id) {
        ms_id_new(generated);
        client_message_id = generated;
    }
    chat_job_t *j = ms_xcalloc(1, sizeof *j);
    j->r = r;
    j->sub = ms_sub_new(chat_emit_cb, j);
    ms_chat_ask(r->api->chat, r->user.sub, r->param, client_message_id, json_string_value(text),
                j->sub);
}
