/* The offline provider: runs ms_offline_compose on the libuv thread pool,
 * then streams the answer word by word from a timer on the loop.
 *
 * Lifetime: a generation owns a copy of the request and one uv_timer_t. It
 * is freed only in the timer's close callback, which follows on_done, so no
 * callback can see freed memory. Neither start() nor cancel() ever calls the
 * sink: on_delta and on_done always come from a later loop iteration, which
 * keeps callers free of re-entrancy. To shut down, cancel every generation
 * and run the loop until it has no more work; do not close a generation's
 * handle from a uv_walk. */
#include "llm/llm_int.h"
#include "llm/provider.h"

#include "core/ms.h"
#include "core/pool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OG_COMPOSING, OG_STREAMING, OG_DONE } og_phase_t;

typedef struct {
    uv_work_t work;
    uv_timer_t timer;
    ms_gen_sink_t sink;
    void *ctx;
    ms_offline_config_t cfg;
    og_phase_t phase;
    int cancelled;
    int in_sink; /* a sink callback is running: cancel() only flags */
    /* The request, copied (owned). */
    ms_gen_request_t req;
    char **roles, **texts;
    ms_kb_hit_t *hits;
    /* What compose produced (owned), and the stream position. */
    int rc;
    char *answer;
    size_t answer_len, pos;
    uint64_t due; /* loop time (ms) of the word being sent: a fixed grid */
    size_t *cited;
    size_t ncited;
    int64_t prompt_tokens;
} og_t;

static void og_free(og_t *g) {
    for (size_t i = 0; i < g->req.nhistory; i++) {
        free(g->roles[i]);
        free(g->texts[i]);
    }
    free(g->roles);
    free(g->texts);
    for (size_t i = 0; i < g->req.nhits; i++) {
        free(g->hits[i].text);
        free(g->hits[i].title);
        free(g->hits[i].focus);
        free(g->hits[i].id);
        free(g->hits[i].doc_id);
        free(g->hits[i].qtype);
        free(g->hits[i].source);
        free(g->hits[i].gap_name);
        free(g->hits[i].gap_source);
        free(g->hits[i].gap_url);
    }
    free(g->hits);
    free((char *)g->req.question);
    free(g->answer);
    free(g->cited);
    free(g);
}

static void og_close_cb(uv_handle_t *h) {
    og_free(h->data);
}

static char *dup_or_null(const char *s) {
    return s ? ms_xstrdup(s) : NULL;
}

/* Copies what compose reads: the question, the history, and of each hit
 * its score, ids, title, focus, question type, text and the search's
 * evidence about the question. Counts prompt tokens on the way. */
static void og_copy_request(og_t *g, const ms_gen_request_t *req) {
    g->req.question = ms_xstrdup(req->question);
    g->prompt_tokens = (int64_t)ms_llm_count_words(req->question, strlen(req->question));
    size_t nh = req->history_roles && req->history_texts ? req->nhistory : 0;
    g->roles = ms_xcalloc(nh ? nh : 1, sizeof(*g->roles));
    g->texts = ms_xcalloc(nh ? nh : 1, sizeof(*g->texts));
    for (size_t i = 0; i < nh; i++) {
        g->roles[i] = dup_or_null(req->history_roles[i]);
        g->texts[i] = dup_or_null(req->history_texts[i]);
        if (g->texts[i])
            g->prompt_tokens += (int64_t)ms_llm_count_words(g->texts[i], strlen(g->texts[i]));
    }
    g->req.history_roles = (const char *const *)g->roles;
    g->req.history_texts = (const char *const *)g->texts;
    g->req.nhistory = nh;
    size_t nk = req->hits ? req->nhits : 0;
    g->hits = ms_xcalloc(nk ? nk : 1, sizeof(*g->hits));
    for (size_t i = 0; i < nk; i++) {
        g->hits[i].score = req->hits[i].score;
        g->hits[i].title = dup_or_null(req->hits[i].title);
        g->hits[i].focus = dup_or_null(req->hits[i].focus);
        g->hits[i].text = dup_or_null(req->hits[i].text);
        g->hits[i].id = dup_or_null(req->hits[i].id);
        g->hits[i].doc_id = dup_or_null(req->hits[i].doc_id);
        g->hits[i].qtype = dup_or_null(req->hits[i].qtype);
        g->hits[i].source = dup_or_null(req->hits[i].source);
        g->hits[i].focus_match = req->hits[i].focus_match;
        g->hits[i].q_medical = req->hits[i].q_medical;
        g->hits[i].q_named = req->hits[i].q_named;
        g->hits[i].q_vocab = req->hits[i].q_vocab;
        g->hits[i].gap_name = dup_or_null(req->hits[i].gap_name);
        g->hits[i].gap_source = dup_or_null(req->hits[i].gap_source);
        g->hits[i].gap_url = dup_or_null(req->hits[i].gap_url);
        if (g->hits[i].text)
            g->prompt_tokens +=
                (int64_t)ms_llm_count_words(g->hits[i].text, strlen(g->hits[i].text));
    }
    g->req.hits = g->hits;
    g->req.nhits = nk;
}

/* How many markers [1] [2] ... the client has received: all of them after
 * a complete answer, those in the streamed prefix after a cancel. */
static size_t og_markers_sent(const og_t *g) {
    if (!g->answer || g->pos >= g->answer_len)
        return g->answer ? g->ncited : 0;
    size_t k = 0;
    const char *p = g->answer, *end = g->answer + g->pos;
    while (k < g->ncited) {
        char m[32];
        int n = snprintf(m, sizeof(m), " [%zu]", k + 1);
        const char *f = memmem(p, (size_t)(end - p), m, (size_t)n);
        if (!f)
            break;
        p = f + n;
        k++;
    }
    return k;
}

/* Delivers on_done once and starts closing the timer; the generation is
 * freed in og_close_cb. */
static void og_finish(og_t *g, const char *reason, const char *error) {
    g->phase = OG_DONE;
    uv_timer_stop(&g->timer);
    ms_gen_result_t r = {
        .finish_reason = reason,
        .cited = g->cited,
        .ncited = og_markers_sent(g),
        .prompt_tokens = g->prompt_tokens,
        .completion_tokens = g->answer ? (int64_t)ms_llm_count_words(g->answer, g->pos) : 0,
        .error = error,
    };
    g->in_sink = 1;
    g->sink.on_done(g->ctx, &r);
    g->in_sink = 0;
    if (!uv_is_closing((uv_handle_t *)&g->timer))
        uv_close((uv_handle_t *)&g->timer, og_close_cb);
}

/* The next word of the answer from pos: leading white space plus one run
 * of non-space bytes. Splitting only at ASCII white space never cuts a
 * UTF-8 sequence. */
static size_t og_next_word(const og_t *g) {
    const char *a = g->answer;
    size_t i = g->pos, n = g->answer_len;
    while (i < n && (a[i] == ' ' || a[i] == '\n' || a[i] == '\t' || a[i] == '\r'))
        i++;
    while (i < n && !(a[i] == ' ' || a[i] == '\n' || a[i] == '\t' || a[i] == '\r'))
        i++;
    return i - g->pos;
}

static void og_timer_cb(uv_timer_t *t) {
    og_t *g = t->data;
    if (g->phase == OG_DONE)
        return;
    /* With no pause every word goes out in this callback; the answer is a
     * few sentences, so this does not hold the loop for long. */
    int all = g->cfg.word_interval_ms <= 0;
    do {
        if (g->cancelled) {
            og_finish(g, "cancelled", NULL);
            return;
        }
        if (g->pos >= g->answer_len) {
            og_finish(g, g->rc == MS_ENOENT ? "no_context" : "stop", NULL);
            return;
        }
        size_t n = og_next_word(g);
        const char *w = g->answer + g->pos;
        g->pos += n;
        g->in_sink = 1;
        g->sink.on_delta(g->ctx, w, n);
        g->in_sink = 0;
    } while (all || g->cancelled || g->pos >= g->answer_len);
    /* The next word is due one interval after this one was due, not after
     * this callback ran: late ticks do not accumulate into drift, nor pull
     * every stream into the same phase (see the synthetic provider). */
    g->due += (uint64_t)g->cfg.word_interval_ms;
    uint64_t now = uv_now(t->loop);
    uv_timer_start(t, og_timer_cb, g->due > now ? g->due - now : 0, 0);
}

static void og_compose(void *arg) {
    og_t *g = arg;
    g->rc = ms_offline_compose(&g->cfg, &g->req, &g->answer, &g->cited, &g->ncited);
    g->answer_len = g->answer ? strlen(g->answer) : 0;
}

static void og_composed(og_t *g, int status) {
    if (g->cancelled || status == UV_ECANCELED) {
        og_finish(g, "cancelled", NULL);
        return;
    }
    if (g->rc != 0 && g->rc != MS_ENOENT) {
        og_finish(g, "error", ms_strerror(g->rc));
        return;
    }
    g->phase = OG_STREAMING;
    g->due = uv_now(g->timer.loop);
    uv_timer_start(&g->timer, og_timer_cb, 0, 0);
}

static void og_work_cb(uv_work_t *w) {
    og_compose(w->data);
}

static void og_after_work_cb(uv_work_t *w, int status) {
    og_composed(w->data, status);
}

static void og_pool_done(void *arg) {
    og_composed(arg, 0);
}

static int offline_start(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                         const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out) {
    if (!p || !loop || !req || !req->question || !sink || !sink->on_delta || !sink->on_done ||
        !out || (req->nhits > 0 && !req->hits))
        return MS_EINVAL;
    og_t *g = ms_xcalloc(1, sizeof(*g));
    g->sink = *sink;
    g->ctx = ctx;
    g->cfg = *(const ms_offline_config_t *)p->impl;
    og_copy_request(g, req);
    g->work.data = g;
    /* Composition is retrieval-side work: on the configured pool (bounded,
     * apart from storage and logins), else libuv's default pool. */
    int rc = g->cfg.pool
                 ? ms_pool_submit(g->cfg.pool, loop, og_compose, og_pool_done, g)
                 : (uv_queue_work(loop, &g->work, og_work_cb, og_after_work_cb) ? MS_EIO : 0);
    if (rc != 0) {
        og_free(g);
        return rc;
    }
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    *out = (ms_gen_t *)g;
    return 0;
}

/* Flags the cancel. While compose is on the thread pool, its completion
 * finishes the generation (uv_cancel may even spare the work); while
 * streaming, a zero timeout brings the timer callback, which finishes. */
static void offline_cancel(ms_gen_t *gen) {
    og_t *g = (og_t *)gen;
    if (!g || g->phase == OG_DONE || g->cancelled)
        return;
    g->cancelled = 1;
    if (g->phase == OG_COMPOSING && !g->cfg.pool)
        uv_cancel((uv_req_t *)&g->work);
    else if (!g->in_sink)
        uv_timer_start(&g->timer, og_timer_cb, 0, 0);
}

static void offline_free(ms_provider_t *p) {
    if (!p)
        return;
    free(p->impl);
    free(p);
}

static const ms_provider_ops_t offline_ops = {
    .name = "offline",
    .uses_retrieval = 1,
    .start = offline_start,
    .cancel = offline_cancel,
    .free = offline_free,
};

ms_provider_t *ms_provider_offline_new(const ms_offline_config_t *cfg) {
    ms_offline_config_t *c = ms_xcalloc(1, sizeof(*c));
    if (cfg)
        *c = *cfg;
    if (c->max_sentences <= 0)
        c->max_sentences = 5;
    if (c->min_score < 0)
        c->min_score = 0;
    if (c->word_interval_ms < 0)
        c->word_interval_ms = 0;
    ms_provider_t *p = ms_xcalloc(1, sizeof(*p));
    p->ops = &offline_ops;
    p->impl = c;
    return p;
}
