/* POST /api/workflows/{diagnosis|prescription} (docs/protocol.md): a
 * workflow through the same pipeline and idempotency as the WebSocket,
 * answered once it is complete with its result (non-streaming). Body:
 * {data: {...}, client_message_id?, conversation_id?, clinical_context_id?}.
 * A client that wants the stages as they happen sends the same request
 * over the socket (the native "workflow" message or seed 004's dialect). */
#include "api/routes.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_http_req_t *r;
    ms_sub_t *sub;
} wf_job_t;

static void respond_once(wf_job_t *j) {
    ms_sub_close(j->sub);
    ms_http_finish(j->r);
    free(j);
}

/* message_start and the workflow events are not needed here: the answer is
 * the stored result in message_complete, or the error. */
static void wf_emit_cb(void *ctx, const ms_event_t *ev) {
    wf_job_t *j = ctx;
    if (ev->kind == MS_EV_MESSAGE_COMPLETE) {
        json_t *res = json_object_get(ev->data, "workflow_result");
        ms_http_respond_json(j->r, 200,
                             json_pack("{s:s, s:s?, s:O?}", "message_id", ev->message_id,
                                       "conversation_id", ev->conversation_id, "result", res));
    } else if (ev->kind == MS_EV_ERROR) {
        const char *code = json_string_value(json_object_get(ev->data, "code"));
        const char *msg = json_string_value(json_object_get(ev->data, "message"));
        int status = !code                                                      ? 500
                     : !strcmp(code, "invalid_message")                         ? 400
                     : !strcmp(code, "forbidden") || !strcmp(code, "not_found") ? 404
                     : !strcmp(code, "rate_limited")                            ? 429
                     : !strcmp(code, "overloaded")                              ? 503
                                                                                : 500;
        ms_http_respond_error(j->r, status, status == 400 ? "invalid_request" : code,
                              msg ? msg : "the workflow failed");
    } else {
        return;
    }
    respond_once(j);
}

static void bad_request(ms_http_req_t *r, const char *msg) {
    ms_http_respond_error(r, 400, "invalid_request", msg);
    ms_http_finish(r);
}

void ms_api_workflow(ms_http_req_t *r) {
    if (strcmp(r->param, "diagnosis") != 0 && strcmp(r->param, "prescription") != 0) {
        ms_http_respond_error(r, 404, "not_found", "no such workflow (diagnosis, prescription)");
        ms_http_finish(r);
        return;
    }
    json_t *data = json_object_get(r->json, "data");
    json_t *cmid = json_object_get(r->json, "client_message_id");
    json_t *conv = json_object_get(r->json, "conversation_id");
    if (!json_is_object(data))
        return bad_request(r, "\"data\" must be an object (docs/workflows.md)");
    if (cmid && !json_is_null(cmid) &&
        (!json_is_string(cmid) || json_string_length(cmid) < 1 || json_string_length(cmid) > 128))
        return bad_request(r, "\"client_message_id\" must be a string of 1 to 128 bytes");
    if (conv && !json_is_null(conv) &&
        (!json_is_string(conv) || !ms_id_valid(json_string_value(conv))))
        return bad_request(r, "\"conversation_id\" must be a conversation id");
    json_t *ctx = json_object_get(r->json, "clinical_context_id");
    if (ctx && !json_is_null(ctx) && (!json_is_string(ctx) || !ms_id_valid(json_string_value(ctx))))
        return bad_request(r, "\"clinical_context_id\" must be a clinical context id");
    char generated[MS_ID_LEN];
    const char *client_message_id = json_string_value(cmid);
    if (!client_message_id) {
        ms_id_new(generated);
        client_message_id = generated;
    }
    json_t *req = json_pack("{s:s, s:O}", "workflow", r->param, "data", data);
    wf_job_t *j = ms_xcalloc(1, sizeof *j);
    j->r = r;
    j->sub = ms_sub_new(wf_emit_cb, j);
    ms_ask_t ask = {.user_id = r->user.sub,
                    .conversation_id = json_string_value(conv),
                    .client_message_id = client_message_id,
                    .text = r->param,
                    .clinical_context_id = json_string_value(ctx),
                    .workflow = req};
    ms_chat_ask_req(r->api->chat, &ask, j->sub);
    json_decref(req);
}
