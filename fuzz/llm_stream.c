/* libFuzzer target: a model server's stream as a provider reads it, the
 * framing and the JSON inside: OpenAI's Server-Sent Events chunks
 * (chat.completion.chunk, the usage chunk, [DONE]) or, built with
 * FZ_WIRE_OLLAMA, Ollama's NDJSON lines (message.content, done: true with
 * done_reason and the counts). Built as fuzz_llm_stream_openai and
 * fuzz_llm_stream_ollama.
 *
 * Input: one byte giving the read size k (1..256), then the body of a 200
 * response.
 *
 * Properties: every delta handed on is valid UTF-8 (it is streamed to
 * clients as text frames) and no longer than the line limit; the body fed
 * whole and fed k bytes at a time give the same deltas, the same result,
 * the same end (complete or not), the same usage and finish reason;
 * nothing crashes or leaks. */
#include "fuzz_util.h"

#include "core/buf.h"
#include "core/ms.h"
#include "llm/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FZ_WIRE_OLLAMA
#define WIRE ms__wire_ollama
#else
#define WIRE ms__wire_openai
#endif

#define MAX_LINE 1024

typedef struct {
    ms_buf_t text;
    int rc, end, usage;
    int64_t prompt, completion;
    char finish[32];
} run_t;

static void on_delta(void *ctx, const char *t, size_t n) {
    run_t *r = ctx;
    FZ_ASSERT(fz_utf8_valid(t, n), "a delta that is not UTF-8 (%zu bytes)", n);
    FZ_ASSERT(n <= MAX_LINE, "a delta of %zu bytes", n);
    ms_buf_append(&r->text, t, n);
    ms_buf_putc(&r->text, '\x01'); /* delta boundaries are part of the result */
}

static void on_done(void *ctx, const ms_gen_result_t *res) {
    (void)ctx;
    (void)res;
}

static void run(const uint8_t *d, size_t n, size_t k, run_t *r) {
    static const ms_remote_spec_t spec = {.idle_timeout_ms = 1000, .max_line_bytes = MAX_LINE};
    ms_rgen_t *g = calloc(1, sizeof *g);
    FZ_ASSERT(g, "calloc");
    g->spec = &spec;
    g->wire = &WIRE;
    g->sink = (ms_gen_sink_t){on_delta, on_done};
    g->ctx = r;
    g->paused = 1; /* no idle timer: there is no loop here */
    g->sse.max_line = g->nd.max_line = MAX_LINE;
    for (size_t i = 0; i < n && !r->rc; i += k)
        r->rc = WIRE.feed(g, (const char *)d + i, n - i < k ? n - i : k);
    if (!r->rc)
        r->end = WIRE.end(g);
    r->usage = g->usage_reported;
    r->prompt = g->prompt_tokens;
    r->completion = g->completion_tokens;
    snprintf(r->finish, sizeof r->finish, "%s", g->finish_reason ? g->finish_reason : "");
    ms_sse_reset(&g->sse);
    ms_ndjson_reset(&g->nd);
    free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t k = (size_t)data[0] + 1;
    run_t a = {0}, b = {0};
    run(data + 1, size - 1, size, &a);
    run(data + 1, size - 1, k, &b);
    FZ_ASSERT(a.rc == 0 || a.rc == MS_EFORMAT || a.rc == MS_ETOOBIG || a.rc == MS_EIO, "result %d",
              a.rc);
    FZ_ASSERT(a.rc == b.rc && a.end == b.end, "whole %d/%d, reads of %zu %d/%d", a.rc, a.end, k,
              b.rc, b.end);
    FZ_ASSERT(a.text.len == b.text.len &&
                  (!a.text.len || !memcmp(a.text.data, b.text.data, a.text.len)),
              "reads of %zu bytes changed the deltas", k);
    FZ_ASSERT(a.usage == b.usage && a.prompt == b.prompt && a.completion == b.completion,
              "usage differs");
    FZ_ASSERT(!strcmp(a.finish, b.finish), "finish reason differs");
    ms_buf_free(&a.text);
    ms_buf_free(&b.text);
    return 0;
}
