/* Bounded thread pools and per-loop result channels (pool.h). */
#include "core/pool.h"

#include "core/log.h"
#include "core/ms.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- loop channels -------------------------------------------------------
 * One per loop with results pending: the uv_async_t a worker wakes and the
 * callbacks waiting to run there. pending counts results promised (get) and
 * not yet run; done_head/tail, pending and the channel list are guarded by
 * chan_lock, and workers send the async while holding it, so once the loop
 * has seen pending reach 0 (and closes the handle) no other thread can
 * touch the channel any more. */

typedef struct chan_item {
    ms_pool_done_fn fn;
    void *arg;
    struct chan_item *next;
} chan_item_t;

struct ms_loop_chan {
    uv_async_t async;
    uv_loop_t *loop;
    chan_item_t *head, *tail;
    size_t pending;
    struct ms_loop_chan *next;
};

static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static ms_loop_chan_t *chans;

static void chan_close_cb(uv_handle_t *h) {
    free(h->data);
}

/* Runs the callbacks posted so far, on the loop thread. A callback may get
 * further slots on this same channel (a done that submits again): the
 * channel then stays open. */
static void chan_async_cb(uv_async_t *h) {
    ms_loop_chan_t *c = h->data;
    pthread_mutex_lock(&chan_lock);
    chan_item_t *list = c->head;
    c->head = c->tail = NULL;
    pthread_mutex_unlock(&chan_lock);
    size_t n = 0;
    for (chan_item_t *it = list, *next; it; it = next) {
        next = it->next;
        it->fn(it->arg);
        free(it);
        n++;
    }
    pthread_mutex_lock(&chan_lock);
    c->pending -= n;
    int idle = c->pending == 0;
    if (idle) {
        ms_loop_chan_t **pp = &chans;
        while (*pp != c)
            pp = &(*pp)->next;
        *pp = c->next;
    }
    pthread_mutex_unlock(&chan_lock);
    if (idle)
        uv_close((uv_handle_t *)&c->async, chan_close_cb);
}

ms_loop_chan_t *ms_loop_chan_get(uv_loop_t *loop) {
    pthread_mutex_lock(&chan_lock);
    ms_loop_chan_t *c = chans;
    while (c && c->loop != loop)
        c = c->next;
    if (!c) {
        c = ms_xcalloc(1, sizeof *c);
        if (uv_async_init(loop, &c->async, chan_async_cb) != 0) {
            pthread_mutex_unlock(&chan_lock);
            free(c);
            return NULL;
        }
        c->async.data = c;
        c->loop = loop;
        c->next = chans;
        chans = c;
    }
    c->pending++;
    pthread_mutex_unlock(&chan_lock);
    return c;
}

void ms_loop_chan_post(ms_loop_chan_t *c, ms_pool_done_fn fn, void *arg) {
    chan_item_t *it = ms_xmalloc(sizeof *it);
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&chan_lock);
    if (c->tail)
        c->tail->next = it;
    else
        c->head = it;
    c->tail = it;
    uv_async_send(&c->async); /* coalesced by libuv: cheap when already pending */
    pthread_mutex_unlock(&chan_lock);
}

/* ---- pools ----------------------------------------------------------------- */

typedef struct job {
    ms_pool_run_fn run;
    ms_pool_done_fn done;
    void *arg;
    ms_loop_chan_t *chan;
    struct job *next;
} job_t;

struct ms_pool {
    char name[32];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t *head, *tail;
    int stopping;
    pthread_t *threads;
    unsigned nthreads;
    ms_pool_thread_fn on_exit;
    void *ctx;
    ms_pool_stats_t stats; /* guarded by lock */
};

static void *pool_main(void *arg) {
    ms_pool_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        job_t *j = p->head;
        if (!j) {
            pthread_mutex_unlock(&p->lock);
            break; /* stopping and drained */
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->stats.queued--;
        p->stats.running++;
        pthread_mutex_unlock(&p->lock);

        j->run(j->arg);

        pthread_mutex_lock(&p->lock);
        p->stats.running--;
        p->stats.completed++;
        pthread_mutex_unlock(&p->lock);
        ms_loop_chan_post(j->chan, j->done, j->arg);
        free(j);
    }
    if (p->on_exit)
        p->on_exit(p->ctx);
    return NULL;
}

ms_pool_t *ms_pool_new(const ms_pool_config_t *cfg) {
    unsigned n = cfg->threads < 1 ? 1 : cfg->threads > 256 ? 256 : cfg->threads;
    ms_pool_t *p = ms_xcalloc(1, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", cfg->name ? cfg->name : "pool");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->on_exit = cfg->on_exit;
    p->ctx = cfg->ctx;
    p->stats.queue_max = cfg->queue_max ? cfg->queue_max : (size_t)n * 64;
    p->threads = ms_xcalloc(n, sizeof *p->threads);
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
            break;
        p->nthreads++;
    }
    p->stats.threads = p->nthreads;
    if (p->nthreads == 0) {
        ms_log(MS_LOG_ERROR, "pool_start_failed", "\"pool\":\"%s\"", p->name);
        free(p->threads);
        free(p);
        return NULL;
    }
    return p;
}

void ms_pool_free(ms_pool_t *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}

int ms_pool_submit(ms_pool_t *p, uv_loop_t *loop, ms_pool_run_fn run, ms_pool_done_fn done,
                   void *arg) {
    pthread_mutex_lock(&p->lock);
    int full = p->stats.queued >= p->stats.queue_max || p->stopping;
    if (full)
        p->stats.rejected++;
    pthread_mutex_unlock(&p->lock);
    if (full)
        return MS_EOVERLOAD;
    ms_loop_chan_t *c = ms_loop_chan_get(loop);
    if (!c)
        return MS_EIO;
    job_t *j = ms_xcalloc(1, sizeof *j);
    j->run = run;
    j->done = done;
    j->arg = arg;
    j->chan = c;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->stats.queued++;
    p->stats.submitted++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void ms_pool_stats(ms_pool_t *p, ms_pool_stats_t *out) {
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->lock);
}

const char *ms_pool_name(const ms_pool_t *p) {
    return p->name;
}
