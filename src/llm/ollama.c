/* The ollama provider kind: POST {base_url}/api/chat with "stream": true,
 * read as newline-delimited JSON (llm/stream.h).
 *
 * Follows Ollama's API documentation (https://github.com/ollama/ollama/
 * blob/main/docs/api.md, "Generate a chat completion"): each line is
 * {"model","created_at","message":{"role":"assistant","content":"..."},
 * "done":false}; the last is "done": true with "done_reason" ("stop",
 * "length") and the statistics "prompt_eval_count" (tokens in the prompt),
 * "eval_count" (tokens in the response) and durations in nanoseconds
 * ("total_duration", "load_duration", "prompt_eval_duration",
 * "eval_duration"; "All durations are returned in nanoseconds"). Options
 * go in "options": "num_predict" (most tokens) and "temperature". An error
 * is {"error": "..."}, as a whole response with an HTTP error status or as
 * a line of the stream. */
#include "llm/remote.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *ollama_url(const ms_remote_spec_t *s) {
    ms_buf_t b;
    ms_buf_init(&b);
    size_t n = strlen(s->base_url);
    while (n > 0 && s->base_url[n - 1] == '/')
        n--;
    ms_buf_append(&b, s->base_url, n);
    ms_buf_puts(&b, "/api/chat");
    return ms_buf_take(&b);
}

static char *ollama_body(const ms_remote_spec_t *s, const ms_gen_request_t *req, size_t *len) {
    json_t *opts = json_object();
    int64_t max = req->max_tokens > 0 ? req->max_tokens : s->max_tokens;
    if (max > 0)
        json_object_set_new(opts, "num_predict", json_integer(max));
    if (s->temperature >= 0)
        json_object_set_new(opts, "temperature", json_real(s->temperature));
    json_t *o = json_pack("{s:s, s:o, s:b, s:o}", "model", s->model, "messages",
                          ms__remote_messages(req), "stream", 1, "options", opts);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *len = strlen(body);
    return body;
}

/* Ollama itself takes no key; one behind an authenticating proxy does. */
static size_t ollama_headers(const ms_remote_spec_t *s, char **h, size_t max) {
    if (!s->api_key || !max)
        return 0;
    size_t n = strlen(s->api_key) + 32;
    h[0] = ms_xmalloc(n);
    snprintf(h[0], n, "Authorization: Bearer %s", s->api_key);
    return 1;
}

static int line_cb(void *ctx, const char *line, size_t len) {
    ms_rgen_t *g = ctx;
    if (g->complete)
        return 0;
    json_t *o = json_loadb(line, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return MS_EFORMAT;
    }
    int rc = 0;
    if (json_object_get(o, "error")) {
        rc = MS_EIO;
        goto out;
    }
    json_t *content = json_object_get(json_object_get(o, "message"), "content");
    if (json_is_string(content) &&
        ms__rgen_delta(g, json_string_value(content), json_string_length(content))) {
        rc = MS_ECANCELED;
        goto out;
    }
    if (json_is_true(json_object_get(o, "done"))) {
        g->complete = 1;
        const char *reason = json_string_value(json_object_get(o, "done_reason"));
        ms__rgen_finish(g, reason ? reason : "stop");
        json_t *pe = json_object_get(o, "prompt_eval_count");
        json_t *ev = json_object_get(o, "eval_count");
        if (json_is_integer(pe) || json_is_integer(ev))
            ms__rgen_usage(g, json_integer_value(pe), json_integer_value(ev));
        json_t *total = json_object_get(o, "total_duration");
        if (json_is_integer(total) && json_integer_value(total) > 0)
            g->upstream_ms = (int64_t)(json_integer_value(total) / 1000000);
    }
out:
    json_decref(o);
    return rc;
}

static int ollama_feed(ms_rgen_t *g, const char *data, size_t len) {
    int rc = ms_ndjson_feed(&g->nd, data, len, line_cb, g);
    return rc == MS_ECANCELED ? 0 : rc;
}

static int ollama_end(ms_rgen_t *g) {
    int rc = ms_ndjson_end(&g->nd, line_cb, g);
    if (rc && rc != MS_ECANCELED)
        return rc;
    return g->complete ? 0 : MS_EFORMAT;
}

/* Ollama's errors are prose ("model \"x\" not found, try pulling it
 * first"): no machine code to pass on. */
static const char *ollama_error_code(json_t *body) {
    (void)body;
    return NULL;
}

const ms_remote_wire_t ms__wire_ollama = {
    .kind = "ollama",
    .accept = "Accept: application/x-ndjson",
    .ops = &ms__remote_ollama_ops,
    .url = ollama_url,
    .body = ollama_body,
    .headers = ollama_headers,
    .feed = ollama_feed,
    .end = ollama_end,
    .error_code = ollama_error_code,
    .probe_path = "/api/tags", /* the local models: cheap, loads none */
};
