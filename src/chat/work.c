#include "chat/work.h"

#include "core/log.h"
#include "core/ms.h"
#include "kb/kb.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uv_work_t req;
    ms_work_run_fn run;
    ms_work_done_fn done;
    void *arg;
} work_t;

static char *work_data_dir;
static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every connection a pool thread opened, so shutdown can close them all. */
static ms_store_t *stores[64];
static size_t nstores;
static __thread ms_store_t *thread_store;
static __thread int thread_store_failed;
/* Bumped by ms_work_shutdown: a pool thread whose connection belongs to an
 * older generation must not use it (it was closed) and opens a new one. */
static int generation;
static __thread int thread_generation;

void ms_work_init(const char *data_dir) {
    free(work_data_dir);
    work_data_dir = ms_xstrdup(data_dir);
}

const char *ms_work_data_dir(void) {
    return work_data_dir;
}

static ms_store_t *thread_connection(void) {
    pthread_mutex_lock(&stores_lock);
    int gen = generation;
    pthread_mutex_unlock(&stores_lock);
    if (thread_generation != gen) {
        thread_store = NULL;
        thread_store_failed = 0;
        thread_generation = gen;
    }
    if (thread_store || thread_store_failed)
        return thread_store;
    ms_store_t *st = NULL;
    if (ms_store_open(work_data_dir, &st) != 0 || ms_kb_init(ms_store_db(st)) != 0) {
        ms_log(MS_LOG_ERROR, "db_open_failed", NULL);
        ms_store_close(st);
        thread_store_failed = 1;
        return NULL;
    }
    pthread_mutex_lock(&stores_lock);
    if (nstores < MS_COUNTOF(stores))
        stores[nstores++] = st;
    pthread_mutex_unlock(&stores_lock);
    thread_store = st;
    return st;
}

static void work_run(uv_work_t *req) {
    work_t *w = req->data;
    w->run(thread_connection(), w->arg);
}

static void work_after(uv_work_t *req, int status) {
    work_t *w = req->data;
    (void)status; /* uv_cancel is never used: every queued run completes. */
    w->done(w->arg);
    free(w);
}

int ms_work_submit(uv_loop_t *loop, ms_work_run_fn run, ms_work_done_fn done, void *arg) {
    work_t *w = ms_xcalloc(1, sizeof *w);
    w->req.data = w;
    w->run = run;
    w->done = done;
    w->arg = arg;
    if (uv_queue_work(loop, &w->req, work_run, work_after) != 0) {
        free(w);
        return MS_EIO;
    }
    return 0;
}

/* ---- the DB writer: group commit ----------------------------------------
 *
 * Every write transaction on the pool paid its own fsync (synchronous=FULL)
 * and queued for SQLite's single write lock, so under load the pool's
 * threads spent their time waiting on each other's fsyncs. One writer thread
 * that commits everything queued at once pays one fsync per batch instead,
 * and leaves the pool free for reads (architecture.md: "a DB writer thread
 * that group-commits"). */

struct write_job;

/* One loop's completion channel: the uv_async_t the writer wakes and the
 * done callbacks waiting to run there. Owned by this module: opened by the
 * first write submitted on a loop, closed by the loop thread once nothing is
 * pending (so it never keeps a loop from ending), freed in its close
 * callback. done_head/tail, pending and the channels list are guarded by
 * chan_lock; the writer sends the async while holding it, so once the loop
 * has seen pending reach 0 no other thread can touch the channel. */
typedef struct loop_chan {
    uv_async_t async;
    uv_loop_t *loop;
    struct write_job *done_head, *done_tail;
    size_t pending; /* submitted, done not yet run */
    struct loop_chan *next;
} loop_chan_t;

/* One queued write. Owned by the module from submit until after its done. */
typedef struct write_job {
    ms_work_run_fn run;
    ms_work_done_fn done;
    void *arg;
    loop_chan_t *chan;
    struct write_job *next;
} write_job_t;

/* The writer thread's own state; it frees it on exit. */
typedef struct {
    char *data_dir;
    ms_store_t *st;
    uint64_t commits; /* bumped by commit_hook, read by the writer only */
} writer_t;

static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static loop_chan_t *chans;

/* The queue, the thread's state and the counters, guarded by writer_lock. */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t writer_cond = PTHREAD_COND_INITIALIZER;
static write_job_t *queue_head, *queue_tail;
static int writer_running, writer_stopping;
static pthread_t writer_thread;
static ms_work_stats_t writer_stats;
static int writer_budget_ms = MS_WORK_BATCH_BUDGET_MS;

/* Counts every transaction the writer's connection commits, batch or not. */
static int commit_hook(void *p) {
    ((writer_t *)p)->commits++;
    return 0; /* non-zero would turn the COMMIT into a rollback */
}

/* Opened like a pool thread's connection; retried on the next batch after a
 * failure, so a data directory that comes back is picked up again. */
static ms_store_t *writer_connection(writer_t *w) {
    if (w->st)
        return w->st;
    ms_store_t *st = NULL;
    if (ms_store_open(w->data_dir, &st) != 0 || ms_kb_init(ms_store_db(st)) != 0) {
        ms_log(MS_LOG_ERROR, "db_open_failed", "\"thread\":\"writer\"");
        ms_store_close(st);
        return NULL;
    }
    sqlite3_commit_hook(ms_store_db(st), commit_hook, w);
    w->st = st;
    return st;
}

/* Tells jobs whose run already returned that their changes were not
 * committed: the second call with st == NULL of ms_work_submit_write's
 * contract. */
static void tell_failed(write_job_t **jobs, size_t n) {
    for (size_t i = 0; i < n; i++)
        jobs[i]->run(NULL, jobs[i]->arg);
}

/* Runs jobs[0..n) in one transaction, or as many of them as fit the time
 * budget, and returns how many it consumed (their done may then be posted;
 * the caller requeues the rest). d collects the counters. */
static size_t run_batch(writer_t *w, write_job_t **jobs, size_t n, int budget_ms,
                        ms_work_stats_t *d) {
    ms_store_t *st = writer_connection(w);
    sqlite3 *db = ms_store_db(st);
    int rc;
    d->jobs += n;
    if (!st) {
        for (size_t i = 0; i < n; i++)
            jobs[i]->run(NULL, jobs[i]->arg);
        return n;
    }
    if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
        /* The write lock stayed busy past busy_timeout, or I/O failed. Run
         * each job on its own, exactly as the pool would: its store calls
         * then open and commit their own transactions, so each job learns
         * its true result. */
        ms_log(MS_LOG_ERROR, "write_batch_begin_failed", "\"code\":%d", rc);
        for (size_t i = 0; i < n; i++)
            jobs[i]->run(st, jobs[i]->arg);
        d->solo += n;
        return n;
    }
    d->batches++;
    uint64_t commits0 = w->commits;
    int64_t t0 = ms_mono_us();
    size_t k = 0;
    while (k < n) {
        if (k > 0 && budget_ms > 0 && ms_mono_us() - t0 > (int64_t)budget_ms * 1000)
            break;
        jobs[k]->run(st, jobs[k]->arg);
        k++;
        if (!sqlite3_get_autocommit(db))
            continue;
        /* The batch's transaction ended inside a run: SQLite rolled it
         * back by itself (I/O error, disk full), or a job broke the
         * contract and committed or rolled back. The commit hook tells
         * which; either way the jobs not yet run go to a new batch. */
        d->jobs -= n - k;
        if (w->commits != commits0) {
            ms_log(MS_LOG_ERROR, "write_job_ended_batch", "\"jobs\":%zu", k);
            return k;
        }
        ms_log(MS_LOG_ERROR, "write_batch_lost", "\"jobs\":%zu", k);
        tell_failed(jobs, k);
        d->failed++;
        return k;
    }
    d->jobs -= n - k;
    if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
        /* A failed COMMIT may leave the transaction open (SQLITE_BUSY, a
         * deferred constraint): end it, then tell every job. */
        ms_log(MS_LOG_ERROR, "write_batch_commit_failed", "\"code\":%d,\"jobs\":%zu", rc, k);
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        tell_failed(jobs, k);
        d->failed++;
        return k;
    }
    if (k > d->max_batch)
        d->max_batch = k;
    return k;
}

/* Hands finished jobs to their loops. The async is sent under chan_lock:
 * see loop_chan_t. */
static void post_done(write_job_t **jobs, size_t n) {
    pthread_mutex_lock(&chan_lock);
    for (size_t i = 0; i < n; i++) {
        write_job_t *j = jobs[i];
        loop_chan_t *c = j->chan;
        j->next = NULL;
        if (c->done_tail)
            c->done_tail->next = j;
        else
            c->done_head = j;
        c->done_tail = j;
        uv_async_send(&c->async); /* coalesced by libuv: cheap when already pending */
    }
    pthread_mutex_unlock(&chan_lock);
}

/* Takes up to a batch of queued jobs, runs and commits them, requeues what
 * the time budget left over at the head (so order is kept), posts the done
 * callbacks. Exits once stopping and the queue is empty: every job queued
 * before ms_work_shutdown is committed before the thread ends. */
static void *writer_main(void *p) {
    writer_t *w = p;
    write_job_t *batch[MS_WORK_BATCH_MAX];
    uint64_t commits_seen = 0;
    for (;;) {
        pthread_mutex_lock(&writer_lock);
        while (!queue_head && !writer_stopping)
            pthread_cond_wait(&writer_cond, &writer_lock);
        size_t n = 0;
        while (queue_head && n < MS_WORK_BATCH_MAX) {
            batch[n++] = queue_head;
            queue_head = queue_head->next;
        }
        if (!queue_head)
            queue_tail = NULL;
        int budget_ms = writer_budget_ms;
        pthread_mutex_unlock(&writer_lock);
        if (n == 0)
            break;

        ms_work_stats_t d = {0};
        size_t k = run_batch(w, batch, n, budget_ms, &d);

        pthread_mutex_lock(&writer_lock);
        for (size_t i = n; i > k; i--) {
            batch[i - 1]->next = queue_head;
            queue_head = batch[i - 1];
            if (!queue_tail)
                queue_tail = batch[i - 1];
        }
        writer_stats.jobs += d.jobs;
        writer_stats.batches += d.batches;
        writer_stats.commits += w->commits - commits_seen;
        writer_stats.failed += d.failed;
        writer_stats.solo += d.solo;
        if (d.max_batch > writer_stats.max_batch)
            writer_stats.max_batch = d.max_batch;
        pthread_mutex_unlock(&writer_lock);
        commits_seen = w->commits;
        post_done(batch, k);
    }
    ms_store_close(w->st);
    free(w->data_dir);
    free(w);
    return NULL;
}

/* Starts the writer for the current data directory. Under writer_lock. */
static int writer_start(void) {
    if (writer_running)
        return 0;
    writer_t *w = ms_xcalloc(1, sizeof *w);
    w->data_dir = work_data_dir ? ms_xstrdup(work_data_dir) : NULL;
    writer_stopping = 0;
    if (pthread_create(&writer_thread, NULL, writer_main, w) != 0) {
        ms_log(MS_LOG_ERROR, "writer_start_failed", NULL);
        free(w->data_dir);
        free(w);
        return MS_EIO;
    }
    writer_running = 1;
    return 0;
}

static void chan_close_cb(uv_handle_t *h) {
    free(h->data);
}

/* Runs the done callbacks the writer posted, on the loop thread. A done may
 * submit further writes (a final update after a checkpoint): they count on
 * this same channel, which then stays open. */
static void chan_async_cb(uv_async_t *h) {
    loop_chan_t *c = h->data;
    pthread_mutex_lock(&chan_lock);
    write_job_t *list = c->done_head;
    c->done_head = c->done_tail = NULL;
    pthread_mutex_unlock(&chan_lock);
    size_t n = 0;
    for (write_job_t *j = list, *next; j; j = next) {
        next = j->next;
        j->done(j->arg);
        free(j);
        n++;
    }
    pthread_mutex_lock(&chan_lock);
    c->pending -= n;
    int idle = c->pending == 0;
    if (idle) {
        loop_chan_t **pp = &chans;
        while (*pp != c)
            pp = &(*pp)->next;
        *pp = c->next;
    }
    pthread_mutex_unlock(&chan_lock);
    if (idle)
        uv_close((uv_handle_t *)&c->async, chan_close_cb);
}

/* The open channel of loop, created if needed, with one more job pending. */
static loop_chan_t *chan_get(uv_loop_t *loop) {
    pthread_mutex_lock(&chan_lock);
    loop_chan_t *c = chans;
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

int ms_work_submit_write(uv_loop_t *loop, ms_work_run_fn run, ms_work_done_fn done, void *arg) {
    pthread_mutex_lock(&writer_lock);
    int rc = writer_start();
    pthread_mutex_unlock(&writer_lock);
    if (rc != 0)
        return MS_EIO;
    loop_chan_t *c = chan_get(loop);
    if (!c)
        return MS_EIO;
    write_job_t *j = ms_xcalloc(1, sizeof *j);
    j->run = run;
    j->done = done;
    j->arg = arg;
    j->chan = c;
    pthread_mutex_lock(&writer_lock);
    if (queue_tail)
        queue_tail->next = j;
    else
        queue_head = j;
    queue_tail = j;
    pthread_cond_signal(&writer_cond);
    pthread_mutex_unlock(&writer_lock);
    return 0;
}

void ms_work_set_batch_budget_ms(int ms) {
    pthread_mutex_lock(&writer_lock);
    writer_budget_ms = ms > 0 ? ms : 0;
    pthread_mutex_unlock(&writer_lock);
}

void ms_work_stats(ms_work_stats_t *out) {
    pthread_mutex_lock(&writer_lock);
    *out = writer_stats;
    pthread_mutex_unlock(&writer_lock);
}

/* Stops the writer after it has drained its queue; the next write submitted
 * (after ms_work_init again) starts a new one on the new data directory. */
static void writer_stop(void) {
    pthread_mutex_lock(&writer_lock);
    int running = writer_running;
    writer_stopping = 1;
    pthread_cond_signal(&writer_cond);
    pthread_mutex_unlock(&writer_lock);
    if (running)
        pthread_join(writer_thread, NULL);
    pthread_mutex_lock(&writer_lock);
    writer_running = 0;
    writer_stopping = 0;
    pthread_mutex_unlock(&writer_lock);
}

void ms_work_shutdown(void) {
    writer_stop();
    pthread_mutex_lock(&stores_lock);
    for (size_t i = 0; i < nstores; i++)
        ms_store_close(stores[i]);
    nstores = 0;
    generation++;
    pthread_mutex_unlock(&stores_lock);
    free(work_data_dir);
    work_data_dir = NULL;
}
