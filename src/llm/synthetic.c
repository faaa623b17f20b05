/* The synthetic provider, for load tests: streams `chunks` chunks of exactly
 * `chunk_bytes` bytes of ASCII text, `interval_ms` apart, the same answer as
 * the peer servers in ../shared/peers ("lorem ipsum dolor sit amet "
 * repeated and cut to chunk_bytes).
 *
 * One allocation per generation (the state plus the chunk, reused for
 * every delta). With a pause, a uv_timer emits one chunk a tick, each tick
 * due at start + k * interval_ms: a fixed grid, the way a model's tokens
 * arrive regardless of how busy the gateway is. (Re-arming relative to the
 * loop's clock instead, as a repeating uv_timer does, lets every late tick
 * pull its stream into the same phase as the others fired with it, until
 * thousands of streams emit in the same millisecond.) Without a pause, a
 * uv_idle handle emits a bounded batch per loop iteration, so a generation
 * never holds the loop while other connections wait (an active idle handle
 * also makes the loop poll for I/O without blocking). As for the offline
 * provider, the sink is never called from start() or cancel(), and the
 * generation is freed in its handle's close callback. */
#include "llm/provider.h"

#include "core/ms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SYN_BATCH 16 /* chunks per loop iteration at interval 0 */
#define SYN_MAX_CHUNK_BYTES (1 << 20)

static const char syn_text[] = "lorem ipsum dolor sit amet ";

typedef struct {
    union {
        uv_handle_t handle;
        uv_timer_t timer; /* interval_ms > 0 */
        uv_idle_t idle;   /* interval_ms == 0 */
    } u;
    ms_gen_sink_t sink;
    void *ctx;
    ms_synthetic_config_t cfg;
    int sent;
    uint64_t due; /* loop time (ms) of the next tick, interval_ms > 0 */
    int cancelled, in_sink, done;
    int64_t prompt_tokens;
    char chunk[]; /* cfg.chunk_bytes bytes */
} sg_t;

static void sg_close_cb(uv_handle_t *h) {
    free(h->data);
}

/* Whitespace tokens in the text streamed so far: the chunk repeated. */
static int64_t sg_tokens(const sg_t *g) {
    const char *c = g->chunk;
    size_t n = (size_t)g->cfg.chunk_bytes;
    int64_t inner = 0;
    for (size_t i = 1; i < n; i++)
        inner += c[i] != ' ' && c[i - 1] == ' ';
    int64_t heads = 0;
    if (g->sent > 0 && c[0] != ' ')
        heads = c[n - 1] == ' ' ? g->sent : 1; /* a word spans chunks otherwise */
    return (int64_t)g->sent * inner + heads;
}

static void sg_finish(sg_t *g, const char *reason) {
    g->done = 1;
    if (g->cfg.interval_ms > 0)
        uv_timer_stop(&g->u.timer);
    else
        uv_idle_stop(&g->u.idle);
    ms_gen_result_t r = {
        .finish_reason = reason,
        .cited = NULL,
        .ncited = 0,
        .prompt_tokens = g->prompt_tokens,
        .completion_tokens = sg_tokens(g),
    };
    g->in_sink = 1;
    g->sink.on_done(g->ctx, &r);
    g->in_sink = 0;
    if (!uv_is_closing(&g->u.handle))
        uv_close(&g->u.handle, sg_close_cb);
}

/* Emits up to max chunks, then finishes if the answer is complete or the
 * generation was cancelled (possibly by the sink, during on_delta). */
static void sg_emit(sg_t *g, int max) {
    if (g->done)
        return;
    for (int i = 0; i < max && !g->cancelled && g->sent < g->cfg.chunks; i++) {
        g->sent++;
        g->in_sink = 1;
        g->sink.on_delta(g->ctx, g->chunk, (size_t)g->cfg.chunk_bytes);
        g->in_sink = 0;
    }
    if (g->cancelled)
        sg_finish(g, "cancelled");
    else if (g->sent >= g->cfg.chunks)
        sg_finish(g, "stop");
}

static void sg_timer_cb(uv_timer_t *t) {
    sg_t *g = t->data;
    uint64_t now = uv_now(t->loop), step = (uint64_t)g->cfg.interval_ms;
    /* Every chunk whose grid point has passed goes out now, as a model's
     * tokens that arrived while the loop was busy would (at most
     * SYN_BATCH): they then share the connection's next write instead of
     * costing one each. */
    int due = 1;
    while (due < SYN_BATCH && g->due + step * (uint64_t)due <= now)
        due++;
    sg_emit(g, due);
    if (g->done)
        return;
    g->due += step * (uint64_t)due;
    uv_timer_start(t, sg_timer_cb, g->due > now ? g->due - now : 0, 0);
}

static void sg_idle_cb(uv_idle_t *h) {
    sg_emit(h->data, SYN_BATCH);
}

static int synthetic_start(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                           const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out) {
    if (!p || !loop || !req || !sink || !sink->on_delta || !sink->on_done || !out)
        return MS_EINVAL;
    const ms_synthetic_config_t *cfg = p->impl;
    sg_t *g = ms_xcalloc(1, sizeof(*g) + (size_t)cfg->chunk_bytes);
    g->sink = *sink;
    g->ctx = ctx;
    g->cfg = *cfg;
    for (int i = 0; i < cfg->chunk_bytes; i++)
        g->chunk[i] = syn_text[(size_t)i % (sizeof(syn_text) - 1)];
    if (req->question) {
        /* The same approximation as the offline provider: white-space tokens. */
        int in = 0;
        for (const char *s = req->question; *s; s++) {
            int sp = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';
            g->prompt_tokens += !sp && !in;
            in = !sp;
        }
    }
    g->u.handle.data = g;
    if (cfg->interval_ms > 0) {
        uv_timer_init(loop, &g->u.timer);
        g->due = uv_now(loop) + (uint64_t)cfg->interval_ms;
        uv_timer_start(&g->u.timer, sg_timer_cb, (uint64_t)cfg->interval_ms, 0);
    } else {
        uv_idle_init(loop, &g->u.idle);
        uv_idle_start(&g->u.idle, sg_idle_cb);
    }
    *out = (ms_gen_t *)g;
    return 0;
}

/* Flags the cancel; the next tick (brought forward for a timer) finishes. */
static void synthetic_cancel(ms_gen_t *gen) {
    sg_t *g = (sg_t *)gen;
    if (!g || g->done || g->cancelled)
        return;
    g->cancelled = 1;
    if (!g->in_sink && g->cfg.interval_ms > 0)
        uv_timer_start(&g->u.timer, sg_timer_cb, 0, 0);
}

static void synthetic_free(ms_provider_t *p) {
    if (!p)
        return;
    free(p->impl);
    free(p);
}

static const ms_provider_ops_t synthetic_ops = {
    .name = "synthetic",
    .uses_retrieval = 0,
    .start = synthetic_start,
    .cancel = synthetic_cancel,
    .free = synthetic_free,
};

ms_provider_t *ms_provider_synthetic_new(const ms_synthetic_config_t *cfg) {
    ms_synthetic_config_t *c = ms_xcalloc(1, sizeof(*c));
    if (cfg)
        *c = *cfg;
    if (c->chunks <= 0)
        c->chunks = 64;
    if (c->chunk_bytes <= 0)
        c->chunk_bytes = 16;
    if (c->chunk_bytes > SYN_MAX_CHUNK_BYTES)
        c->chunk_bytes = SYN_MAX_CHUNK_BYTES;
    if (c->interval_ms < 0)
        c->interval_ms = 0;
    ms_provider_t *p = ms_xcalloc(1, sizeof(*p));
    p->ops = &synthetic_ops;
    p->impl = c;
    return p;
}
