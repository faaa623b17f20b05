/* The OpenAI-compatible API (docs/protocol.md "OpenAI-compatible API"):
 * POST /v1/chat/completions and GET /v1/models, authenticated by medstream
 * API keys, so any OpenAI SDK gets grounding, PHI routing, the disclaimer
 * and persistence by changing its base URL.
 *
 * A request is one turn of the same pipeline as a WebSocket question
 * (chat/chat.h): its last message (role "user") is the question, the
 * user and assistant messages before it are the history the prompt and the
 * PHI stage see, and it is stored as a new conversation of the key's user
 * (or appended to one named by the "medstream": {"conversation_id"}
 * extension). The answer is a chat.completion object, or with "stream":
 * true Server-Sent Events as OpenAI sends them (WHATWG HTML section 9.2;
 * OpenAI API reference, "The chat completion chunk object"): one
 * "data: {chunk}" event per delta, a final chunk with finish_reason and
 * the "medstream" extension, the usage chunk with empty choices when
 * stream_options.include_usage is true, then "data: [DONE]".
 *
 * The stream's head is sent only once the model has produced text (a
 * chunk between llm_call and llm_result), so a refusal before any token
 * (PHI to a cloud route, every provider failing) is still an HTTP error
 * in OpenAI's shape with its own status.
 *
 * x-medstream-overhead-ms is the gateway's own time: from the request head
 * to the response (its head, when streamed) less the upstream interval,
 * from the first llm_call to the first token when streamed (or to the
 * last llm_result when the response is whole). */
#include "api/routes.h"

#include "auth/auth.h"
#include "core/log.h"
#include "core/utf8.h"
#include "llm/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/** "Bearer " + "msk-" + the 43-character token. */
#define KEY_CHARS (4 + MS_TOKEN_LEN - 1)

/* ---- authentication ------------------------------------------------------ */

/* The key in the Authorization header, or NULL when it has not the shape
 * of one (the scheme is case-insensitive, RFC 9110 section 11.1). */
static const char *key_of(const ms_http_req_t *r) {
    const char *h = r->authorization;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    if (strlen(h) != KEY_CHARS || strncmp(h, "msk-", 4) != 0)
        return NULL;
    for (const char *p = h + 4; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return NULL;
    return h;
}

int ms__api_apikey_present(const ms_http_req_t *r) {
    return key_of(r) != NULL;
}

int ms__api_apikey_check(ms_http_req_t *r, ms_store_t *st) {
    char hash[65];
    ms_token_hash(key_of(r), hash);
    ms_apikey_t k;
    int rc = ms_store_apikey_lookup(st, hash, &k);
    if (rc == MS_ENOENT || (!rc && k.revoked_at)) {
        ms_http_respond_error(r, 401, "invalid_api_key",
                              rc ? "incorrect API key provided" : "this API key has been revoked");
        return MS_EAUTH;
    }
    if (!rc)
        rc = ms_store_user_by_id(st, k.user_id, NULL);
    if (rc == MS_ENOENT) {
        ms_http_respond_error(r, 401, "invalid_api_key", "this API key's user no longer exists");
        return MS_EAUTH;
    }
    if (rc) {
        ms_api_store_error(r, rc);
        return rc;
    }
    snprintf(r->user.sub, sizeof r->user.sub, "%s", k.user_id);
    return 0;
}

/* ---- GET /v1/models -------------------------------------------------------- */

static void set_overhead(ms_http_req_t *r, uint64_t upstream_ns) {
    uint64_t total = uv_hrtime() - r->arrival_ns;
    char v[32];
    snprintf(v, sizeof v, "%.2f", (double)(total > upstream_ns ? total - upstream_ns : 0) / 1e6);
    ms_http_add_header(r, "x-medstream-overhead-ms", v);
}

void ms_api_openai_models(ms_http_req_t *r) {
    ms_llm_t *llm = ms_chat_llm(r->api->chat);
    const ms_llm_route_t *def = ms_llm_default_route(llm);
    json_t *data = json_array();
    for (size_t i = 0; i < ms_llm_nroutes(llm); i++) {
        const ms_llm_route_t *rt = ms_llm_route_at(llm, i);
        if (rt == def || rt->listed)
            json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", rt->alias, "object",
                                                  "model", "created", 0, "owned_by", "medstream"));
    }
    set_overhead(r, 0);
    ms_http_respond_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
    ms_http_finish(r);
}

/* ---- POST /v1/chat/completions: the request ------------------------------- */

/* The text of a message's content: a string, or an array of
 * {"type":"text","text"} parts joined (malloc'd). NULL when it is neither
 * or holds a NUL byte. */
static char *content_text(json_t *c) {
    if (json_is_string(c))
        return strlen(json_string_value(c)) == json_string_length(c)
                   ? ms_xstrdup(json_string_value(c))
                   : NULL;
    if (!json_is_array(c))
        return NULL;
    ms_buf_t b;
    ms_buf_init(&b);
    size_t i;
    json_t *part;
    json_array_foreach(c, i, part) {
        json_t *t = json_object_get(part, "text");
        const char *type = json_string_value(json_object_get(part, "type"));
        if (!type || strcmp(type, "text") != 0 || !json_is_string(t) ||
            strlen(json_string_value(t)) != json_string_length(t)) {
            ms_buf_free(&b);
            return NULL;
        }
        ms_buf_append(&b, json_string_value(t), json_string_length(t));
    }
    return ms_buf_take(&b);
}

typedef struct {
    const char *model;
    char *question;
    json_t *history; /* [{role, content}] */
    int stream, include_usage;
    const char *conversation_id;
} oai_req_t;

static void oai_req_clear(oai_req_t *q) {
    free(q->question);
    json_decref(q->history);
}

/* Reads the body into q; NULL, or the reason it is refused (400). */
static const char *parse_request(json_t *body, long max_chars, oai_req_t *q) {
    memset(q, 0, sizeof *q);
    q->model = json_string_value(json_object_get(body, "model"));
    if (!q->model)
        return "\"model\" is required: a string naming a model of GET /v1/models";
    json_t *st = json_object_get(body, "stream");
    if (st && !json_is_boolean(st) && !json_is_null(st))
        return "\"stream\" must be true or false";
    q->stream = json_is_true(st);
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        json_t *iu = json_object_get(so, "include_usage");
        if (!json_is_object(so) || (iu && !json_is_boolean(iu)))
            return "\"stream_options\" must be an object with a boolean \"include_usage\"";
        if (!q->stream)
            return "\"stream_options\" is only allowed when \"stream\" is true";
        q->include_usage = json_is_true(iu);
    }
    json_t *ext = json_object_get(body, "medstream");
    if (ext && !json_is_null(ext)) {
        json_t *cid = json_object_get(ext, "conversation_id");
        if (!json_is_object(ext) || (cid && !json_is_null(cid) && !json_is_string(cid)))
            return "\"medstream\" must be an object; its \"conversation_id\" a string";
        q->conversation_id = json_string_value(cid);
        if (q->conversation_id && !ms_id_valid(q->conversation_id))
            return "\"medstream.conversation_id\" must be a conversation id (a UUID)";
    }
    json_t *msgs = json_object_get(body, "messages");
    size_t n = json_array_size(msgs);
    if (!json_is_array(msgs) || n == 0)
        return "\"messages\" must be a non-empty array";
    q->history = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role)
            return "each message must be an object with a string \"role\"";
        int last = i + 1 == n;
        if (last && strcmp(role, "user") != 0)
            return "the last message must have role \"user\": it is the question";
        json_t *c = json_object_get(m, "content");
        if (!strcmp(role, "system") || !strcmp(role, "developer") || !strcmp(role, "tool") ||
            (!strcmp(role, "assistant") && (!c || json_is_null(c))))
            continue; /* medstream's clinical instructions are the system prompt */
        if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)
            return "a message's \"role\" must be system, developer, user, assistant or tool";
        char *text = content_text(c);
        if (!text)
            return "a message's \"content\" must be a string or an array of text parts";
        if (last) {
            long chars = ms_utf8_count(text, strlen(text));
            if (chars < 1 || chars > max_chars) {
                free(text);
                return "the question (the last message) must be 1 to max_message_chars "
                       "characters";
            }
            q->question = text;
        } else {
            json_array_append_new(q->history,
                                  json_pack("{s:s, s:s}", "role", role, "content", text));
            free(text);
        }
    }
    return NULL;
}

/* ---- the answer ---------------------------------------------------------- */

typedef struct {
    ms_http_req_t *r;
    ms_sub_t *sub;
    char *model;
    char id[MS_ID_LEN + 16]; /* "chatcmpl-<message id>" */
    char message_id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN];
    int64_t created;
    int stream, include_usage;
    int in_gen;                         /* between llm_call and llm_result */
    int head;                           /* streaming: the head is decided */
    ms_buf_t pending;                   /* streaming: chunks before the head, as SSE */
    uint64_t t_call, t_first, t_result; /* uv_hrtime() of the upstream interval's ends */
    int upstream_status;                /* the last llm_result's http_status */
} oai_job_t;

static void job_free(oai_job_t *j) {
    ms_sub_close(j->sub);
    ms_buf_free(&j->pending);
    free(j->model);
    free(j);
}

/* The OpenAI status for a pipeline error code. */
static int status_of(const oai_job_t *j, const char *code) {
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"phi_requires_local_provider", 400},
        {"invalid_message", 400},
        {"too_large", 400},
        {"not_found", 404},
        {"forbidden", 404},
        {"rate_limited", 429},
        {"overloaded", 503},
        {"busy", 503},
    };
    for (size_t i = 0; code && i < MS_COUNTOF(map); i++)
        if (!strcmp(code, map[i].code))
            return map[i].status;
    if (code && !strcmp(code, "provider_error"))
        return j->upstream_status == 429 ? 429 : 503;
    return 500;
}

static uint64_t upstream_ns(const oai_job_t *j, uint64_t end) {
    return j->t_call && end > j->t_call ? end - j->t_call : 0;
}

/* One SSE event "data: <json>\n\n" (steals o). */
static void sse_json(ms_buf_t *b, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ms_buf_puts(b, "data: ");
    ms_buf_puts(b, s);
    ms_buf_puts(b, "\n\n");
    free(s);
}

/* A chat.completion.chunk with one choice (delta, finish_reason) or none. */
static json_t *chunk(const oai_job_t *j, json_t *delta, const char *finish) {
    json_t *choices = json_array();
    if (delta)
        json_array_append_new(choices, json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "delta",
                                                 delta, "logprobs", "finish_reason", finish));
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:n, s:o}", "id", j->id, "object",
                          "chat.completion.chunk", "created", (json_int_t)j->created, "model",
                          j->model, "system_fingerprint", "choices", choices);
    if (delta && !finish)
        json_object_set_new(json_array_get(choices, 0), "finish_reason", json_null());
    if (j->include_usage)
        json_object_set_new(c, "usage", json_null());
    return c;
}

static void send_sse(oai_job_t *j, ms_buf_t *b) {
    if (j->head)
        ms_http_stream_write(j->r, b->data, b->len);
    else
        ms_buf_append(&j->pending, b->data, b->len);
}

/* Streaming: the head (200, text/event-stream) and what waited for it. */
static void start_stream(oai_job_t *j, uint64_t upstream) {
    set_overhead(j->r, upstream);
    ms_http_stream_begin(j->r, 200, "text/event-stream");
    j->head = 1;
    ms_buf_t b;
    ms_buf_init(&b);
    sse_json(&b,
             chunk(j, json_pack("{s:s, s:s, s:n}", "role", "assistant", "content", "", "refusal"),
                   NULL));
    ms_http_stream_write(j->r, b.data, b.len);
    ms_buf_free(&b);
    if (j->pending.len)
        ms_http_stream_write(j->r, j->pending.data, j->pending.len);
    ms_buf_reset(&j->pending);
}

/* OpenAI's finish_reason for medstream's (a cut at max_answer_bytes is
 * "length"; every other end, cancelled and error included, is "stop", and
 * the "medstream" extension carries medstream's own). */
static const char *oai_finish(const char *fr) {
    return fr && !strcmp(fr, "length") ? "length" : "stop";
}

static json_t *extension(const oai_job_t *j, json_t *data) {
    json_t *ext = json_pack(
        "{s:s, s:s, s:O?, s:O?, s:O?, s:O?}", "conversation_id", j->conversation_id, "message_id",
        j->message_id, "citations", json_object_get(data, "citations"), "disclaimer",
        json_object_get(data, "disclaimer"), "finish_reason",
        json_object_get(data, "finish_reason"), "grounding", json_object_get(data, "grounding"));
    return ext;
}

static json_t *usage_of(json_t *data) {
    json_t *u = json_object_get(data, "usage");
    json_int_t p = json_integer_value(json_object_get(u, "prompt_tokens"));
    json_int_t c = json_integer_value(json_object_get(u, "completion_tokens"));
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", p, "completion_tokens", c, "total_tokens",
                     p + c);
}

static void on_complete(oai_job_t *j, const ms_event_t *ev) {
    ms_http_req_t *r = j->r;
    json_t *data = ev->data;
    const char *fr = json_string_value(json_object_get(data, "finish_reason"));
    if (!j->stream) {
        set_overhead(r, upstream_ns(j, j->t_result));
        json_t *msg = json_pack("{s:s, s:s%, s:n}", "role", "assistant", "content",
                                ev->text ? ev->text : "", ev->text_len, "refusal");
        json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], s:o, s:n, s:o}", "id",
                              j->id, "object", "chat.completion", "created", (json_int_t)j->created,
                              "model", j->model, "choices", "index", 0, "message", msg, "logprobs",
                              "finish_reason", oai_finish(fr), "usage", usage_of(data),
                              "system_fingerprint", "medstream", extension(j, data));
        ms_http_respond_json(r, 200, o);
        ms_http_finish(r);
        return;
    }
    if (!j->head)
        start_stream(j, upstream_ns(j, j->t_result));
    ms_buf_t b;
    ms_buf_init(&b);
    json_t *last = chunk(j, json_object(), oai_finish(fr));
    json_object_set_new(last, "medstream", extension(j, data));
    sse_json(&b, last);
    if (j->include_usage) {
        json_t *u = chunk(j, NULL, NULL);
        json_object_set_new(u, "usage", usage_of(data));
        sse_json(&b, u);
    }
    ms_buf_puts(&b, "data: [DONE]\n\n");
    ms_http_stream_write(r, b.data, b.len);
    ms_buf_free(&b);
    ms_http_stream_end(r);
}

static void on_error(oai_job_t *j, const ms_event_t *ev) {
    ms_http_req_t *r = j->r;
    const char *code = json_string_value(json_object_get(ev->data, "code"));
    const char *msg = json_string_value(json_object_get(ev->data, "message"));
    int status = status_of(j, code);
    if (!code || !strcmp(code, "invalid_message"))
        code = "invalid_request";
    if (!j->head) {
        set_overhead(r, upstream_ns(j, j->t_result));
        ms_http_respond_error(r, status, code, msg ? msg : "the answer failed");
        if (status == 429 || status == 503)
            ms_http_add_header(r, "retry-after", "1");
        ms_http_finish(r);
        return;
    }
    /* After text has streamed: an error event in the stream (as OpenAI
     * does), then the end; the partial answer is stored with status error. */
    ms_buf_t b;
    ms_buf_init(&b);
    sse_json(&b, json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message",
                           msg ? msg : "the answer failed", "type",
                           status >= 500 ? "server_error" : "invalid_request_error", "param",
                           "code", code));
    ms_http_stream_write(r, b.data, b.len);
    ms_buf_free(&b);
    ms_http_stream_end(r);
}

static void on_chunk(oai_job_t *j, const ms_event_t *ev) {
    if (!j->stream)
        return; /* the whole text comes with message_complete */
    if (!j->t_first && j->in_gen)
        j->t_first = uv_hrtime();
    if (!j->head && j->in_gen)
        start_stream(j, upstream_ns(j, j->t_first));
    ms_buf_t b;
    ms_buf_init(&b);
    sse_json(&b, chunk(j, json_pack("{s:s%}", "content", ev->text, ev->text_len), NULL));
    send_sse(j, &b);
    ms_buf_free(&b);
}

static void emit_cb(void *ctx, const ms_event_t *ev) {
    oai_job_t *j = ctx;
    if (!j->r->conn && ev->kind != MS_EV_MESSAGE_COMPLETE && ev->kind != MS_EV_ERROR) {
        /* The client is gone: stop the answer (the upstream transfer is
         * aborted); what was written is stored as cancelled. */
        if (j->message_id[0])
            ms_chat_cancel(j->r->api->chat, j->r->user.sub, j->message_id);
        ms_http_req_t *r = j->r;
        if (j->head)
            ms_http_stream_end(r);
        else
            ms_http_finish(r);
        job_free(j);
        return;
    }
    switch (ev->kind) {
    case MS_EV_MESSAGE_START:
        snprintf(j->message_id, sizeof j->message_id, "%s", ev->message_id);
        snprintf(j->conversation_id, sizeof j->conversation_id, "%s",
                 ev->conversation_id ? ev->conversation_id : "");
        snprintf(j->id, sizeof j->id, "chatcmpl-%s", ev->message_id);
        return;
    case MS_EV_LLM_CALL:
        if (!j->t_call)
            j->t_call = uv_hrtime();
        j->in_gen = 1;
        return;
    case MS_EV_LLM_RESULT:
        j->t_result = uv_hrtime();
        j->in_gen = 0;
        j->upstream_status = (int)json_integer_value(json_object_get(ev->data, "http_status"));
        return;
    case MS_EV_MESSAGE_CHUNK:
        on_chunk(j, ev);
        return;
    case MS_EV_MESSAGE_COMPLETE:
        on_complete(j, ev);
        break;
    case MS_EV_ERROR:
        on_error(j, ev);
        break;
    default:
        return;
    }
    job_free(j); /* the final event */
}

void ms_api_openai_chat(ms_http_req_t *r) {
    oai_req_t q;
    const char *why = parse_request(r->json, r->api->cfg->max_message_chars, &q);
    if (why) {
        ms_http_respond_error(r, 400, "invalid_request", why);
        oai_req_clear(&q);
        ms_http_finish(r);
        return;
    }
    ms_llm_t *llm = ms_chat_llm(r->api->chat);
    if (!ms_llm_route(llm, q.model)) {
        char msg[160];
        snprintf(msg, sizeof msg, "the model '%.64s' does not exist: GET /v1/models lists them",
                 q.model);
        ms_http_respond_error(r, 404, "model_not_found", msg);
        oai_req_clear(&q);
        ms_http_finish(r);
        return;
    }
    oai_job_t *j = ms_xcalloc(1, sizeof *j);
    j->r = r;
    j->model = ms_xstrdup(q.model);
    j->stream = q.stream;
    j->include_usage = q.include_usage;
    j->created = ms_now_ms() / 1000;
    j->sub = ms_sub_new(emit_cb, j);
    char cmid[MS_ID_LEN];
    ms_id_new(cmid); /* each request is its own question */
    ms_ask_t ask = {.user_id = r->user.sub,
                    .conversation_id = q.conversation_id,
                    .client_message_id = cmid,
                    .text = q.question,
                    .model = q.model,
                    .history = json_array_size(q.history) ? q.history : NULL};
    ms_chat_ask_req(r->api->chat, &ask, j->sub);
    oai_req_clear(&q);
}
