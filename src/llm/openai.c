/* The openai provider kind: POST {base_url}/chat/completions with
 * "stream": true, read as Server-Sent Events (llm/stream.h).
 *
 * Follows OpenAI's API reference, "Create chat completion" and "The chat
 * completion chunk object" (https://platform.openai.com/docs/api-reference/
 * chat/create, /chat-streaming): each event's data is a chunk
 * {"choices":[{"index":0,"delta":{"content":"..."},"finish_reason":null}]},
 * the last content chunk carries finish_reason ("stop", "length",
 * "content_filter", "tool_calls"); with stream_options.include_usage one
 * more chunk comes before the end whose "choices" is empty and whose
 * "usage" holds {prompt_tokens, completion_tokens, total_tokens} ("All
 * other chunks will also include a usage field, but with a null value");
 * the stream ends with "data: [DONE]". An error during the stream arrives
 * as a chunk {"error":{"message","type","code"}}.
 *
 * Azure OpenAI (https://learn.microsoft.com/azure/ai-services/openai/
 * reference, "Chat completions"): POST {endpoint}/openai/deployments/
 * {deployment-id}/chat/completions?api-version={version}, the key in an
 * "api-key" header; the same chunks, plus chunks with empty "choices" and
 * no usage (prompt_filter_results), which carry nothing for us.
 *
 * vLLM, llama.cpp's llama-server and LM Studio serve the same endpoint. */
#include "llm/remote.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *openai_url(const ms_remote_spec_t *s) {
    ms_buf_t b;
    ms_buf_init(&b);
    size_t n = strlen(s->base_url);
    while (n > 0 && s->base_url[n - 1] == '/')
        n--;
    ms_buf_append(&b, s->base_url, n);
    if (s->azure_deployment) {
        ms_buf_puts(&b, "/openai/deployments/");
        ms_buf_puts(&b, s->azure_deployment);
        ms_buf_puts(&b, "/chat/completions?api-version=");
        ms_buf_puts(&b, s->api_version ? s->api_version : "2024-10-21");
    } else {
        ms_buf_puts(&b, "/chat/completions");
    }
    return ms_buf_take(&b);
}

static char *openai_body(const ms_remote_spec_t *s, const ms_gen_request_t *req, size_t *len) {
    json_t *o = json_pack("{s:s, s:o, s:b}", "model", s->model, "messages",
                          ms__remote_messages(req), "stream", 1);
    if (s->stream_usage)
        json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
    int64_t max = req->max_tokens > 0 ? req->max_tokens : s->max_tokens;
    if (max > 0)
        json_object_set_new(o, "max_tokens", json_integer(max));
    if (s->temperature >= 0)
        json_object_set_new(o, "temperature", json_real(s->temperature));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *len = strlen(body);
    return body;
}

static size_t openai_headers(const ms_remote_spec_t *s, char **h, size_t max) {
    if (!s->api_key || !max)
        return 0;
    size_t n = strlen(s->api_key) + 32;
    h[0] = ms_xmalloc(n);
    if (s->azure_deployment)
        snprintf(h[0], n, "api-key: %s", s->api_key);
    else
        snprintf(h[0], n, "Authorization: Bearer %s", s->api_key);
    return 1;
}

/* One chunk (an event's data). */
static int chunk(ms_rgen_t *g, const char *data, size_t len) {
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        g->complete = 1;
        return 0;
    }
    if (g->complete || len == 0)
        return 0; /* nothing counts after [DONE]; an empty event carries nothing */
    json_t *o = json_loadb(data, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return MS_EFORMAT;
    }
    int rc = 0;
    if (json_object_get(o, "error")) {
        rc = MS_EIO;
        goto out;
    }
    json_t *usage = json_object_get(o, "usage");
    if (json_is_object(usage))
        ms__rgen_usage(g, json_integer_value(json_object_get(usage, "prompt_tokens")),
                       json_integer_value(json_object_get(usage, "completion_tokens")));
    json_t *choices = json_object_get(o, "choices");
    if (choices && !json_is_array(choices)) {
        rc = MS_EFORMAT;
        goto out;
    }
    /* n = 1: only the first choice is ours. */
    json_t *c0 = json_array_get(choices, 0);
    if (c0) {
        json_t *delta = json_object_get(c0, "delta");
        json_t *content = json_object_get(delta, "content");
        json_t *fr = json_object_get(c0, "finish_reason");
        if (json_is_string(fr))
            ms__rgen_finish(g, json_string_value(fr));
        if (json_is_string(content) &&
            ms__rgen_delta(g, json_string_value(content), json_string_length(content)))
            rc = MS_ECANCELED;
    }
out:
    json_decref(o);
    return rc;
}

static int event_cb(void *ctx, const char *type, const char *data, size_t len) {
    ms_rgen_t *g = ctx;
    if (strcmp(type, "message") != 0)
        return 0; /* OpenAI sends unnamed events only; others are not ours */
    return chunk(g, data, len);
}

static int openai_feed(ms_rgen_t *g, const char *data, size_t len) {
    int rc = ms_sse_feed(&g->sse, data, len, event_cb, g);
    return rc == MS_ECANCELED ? 0 : rc;
}

/* [DONE] is the end marker; a stream whose last chunk gave a finish reason
 * (servers that omit [DONE]) is complete too. */
static int openai_end(ms_rgen_t *g) {
    ms_sse_end(&g->sse);
    return g->complete || g->finish_reason ? 0 : MS_EFORMAT;
}

/* The error object's code, else its type: identifiers such as
 * "rate_limit_exceeded", "invalid_api_key" (never the message, which may
 * quote the key). */
static int is_ident(const char *s) {
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static const char *openai_error_code(json_t *body) {
    json_t *e = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    if (is_ident(code))
        return code;
    const char *type = json_string_value(json_object_get(e, "type"));
    return is_ident(type) ? type : NULL;
}

const ms_remote_wire_t ms__wire_openai = {
    .kind = "openai",
    .accept = "Accept: text/event-stream",
    .azure = 1,
    .ops = &ms__remote_openai_ops,
    .url = openai_url,
    .body = openai_body,
    .headers = openai_headers,
    .feed = openai_feed,
    .end = openai_end,
    .error_code = openai_error_code,
    .probe_path = "/models", /* GET /v1/models: the models the key may use */
};
