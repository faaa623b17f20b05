/* Pools by kind with per-thread connections, and the DB writer (work.h). */
#include "chat/work.h"

#include "core/log.h"
#include "core/ms.h"
#include "core/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char *work_data_dir;
static ms_work_config_t work_cfg = {.threads = {4, 2, 2, 1}};
static const char *const kind_names[MS_WORK_KINDS] = {"store", "kb", "auth", "files"};
static ms_pool_t *pools[MS_WORK_KINDS];
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;

/* Every connection a pool thread opened, so shutdown can close them all. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static ms_store_t *stores[256];
static size_t nstores;
static ms_kb_t *kbs[256];
static size_t nkbs;
static __thread ms_store_t *thread_store;
static __thread int thread_store_failed;
static __thread ms_kb_t *thread_kb;
static __thread int thread_kb_failed;
/* Bumped by ms_work_shutdown: a thread whose connections belong to an
 * older generation must not use them (they were closed) and opens anew. */
static int generation;
static __thread int thread_generation;

void ms_work_init_ex(const char *data_dir, const ms_work_config_t *cfg) {
    free(work_data_dir);
    work_data_dir = ms_xstrdup(data_dir);
    if (cfg)
        work_cfg = *cfg;
}

void ms_work_init(const char *data_dir) {
    ms_work_init_ex(data_dir, NULL);
}

const char *ms_work_data_dir(void) {
    return work_data_dir;
}

/* Forgets connections of an older generation (closed by a shutdown). */
static void thread_check_generation(void) {
    pthread_mutex_lock(&conns_lock);
    int gen = generation;
    pthread_mutex_unlock(&conns_lock);
    if (thread_generation != gen) {
        thread_store = NULL;
        thread_store_failed = 0;
        thread_kb = NULL;
        thread_kb_failed = 0;
        thread_generation = gen;
    }
}

static ms_store_t *thread_connection(void) {
    thread_check_generation();
    if (thread_store || thread_store_failed)
        return thread_store;
    ms_store_t *st = NULL;
    if (ms_store_open(work_data_dir, &st) != 0) {
        ms_log(MS_LOG_ERROR, "db_open_failed", NULL);
        thread_store_failed = 1;
        return NULL;
    }
    pthread_mutex_lock(&conns_lock);
    if (nstores < MS_COUNTOF(stores))
        stores[nstores++] = st;
    pthread_mutex_unlock(&conns_lock);
    thread_store = st;
    return st;
}

ms_kb_t *ms_work_thread_kb(void) {
    thread_check_generation();
    if (thread_kb || thread_kb_failed)
        return thread_kb;
    ms_kb_t *kb = NULL;
    if (ms_kb_open(work_data_dir, &kb) != 0) {
        thread_kb_failed = 1;
        return NULL;
    }
    pthread_mutex_lock(&conns_lock);
    if (nkbs < MS_COUNTOF(kbs))
        kbs[nkbs++] = kb;
    pthread_mutex_unlock(&conns_lock);
    thread_kb = kb;
    return kb;
}

ms_pool_t *ms_work_pool(ms_work_kind_t kind) {
    if ((unsigned)kind >= MS_WORK_KINDS)
        return NULL;
    pthread_mutex_lock(&pools_lock);
    if (!pools[kind]) {
        ms_pool_config_t pc = {.name = kind_names[kind],
                               .threads = work_cfg.threads[kind] ? work_cfg.threads[kind] : 2,
                               .queue_max = work_cfg.queue_max[kind]};
        pools[kind] = ms_pool_new(&pc);
    }
    ms_pool_t *p = pools[kind];
    pthread_mutex_unlock(&pools_lock);
    return p;
}

typedef struct {
    ms_work_run_fn run;
    ms_work_done_fn done;
    void *arg;
} work_t;

static void work_run(void *arg) {
    work_t *w = arg;
    w->run(thread_connection(), w->arg);
}

static void work_after(void *arg) {
    work_t *w = arg;
    w->done(w->arg);
    free(w);
}

int ms_work_submit_on(ms_work_kind_t kind, uv_loop_t *loop, ms_work_run_fn run,
                      ms_work_done_fn done, void *arg) {
    ms_pool_t *p = ms_work_pool(kind);
    if (!p)
        return MS_EIO;
    work_t *w = ms_xcalloc(1, sizeof *w);
    w->run = run;
    w->done = done;
    w->arg = arg;
    int rc = ms_pool_submit(p, loop, work_run, work_after, w);
    if (rc != 0)
        free(w);
    return rc;
}

int ms_work_submit(uv_loop_t *loop, ms_work_run_fn run, ms_work_done_fn done, void *arg) {
    return ms_work_submit_on(MS_WORK_STORE, loop, run, done, arg);
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

/* One queued write. Owned by the module from submit until after its done. */
typedef struct write_job {
    ms_work_run_fn run;
    ms_work_done_fn done;
    void *arg;
    ms_loop_chan_t *chan;
    struct write_job *next;
} write_job_t;

/* The writer thread's own state; it frees it on exit. */
typedef struct {
    char *data_dir;
    ms_store_t *st;
    uint64_t commits_seen; /* the connection's commit count already counted */
} writer_t;

/* The queue, the thread's state and the counters, guarded by writer_lock. */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t writer_cond = PTHREAD_COND_INITIALIZER;
static write_job_t *queue_head, *queue_tail;
static int writer_running, writer_stopping;
static pthread_t writer_thread;
static ms_work_stats_t writer_stats;
static int writer_budget_ms = MS_WORK_BATCH_BUDGET_MS;

/* Opened like a pool thread's connection; retried on the next batch after a
 * failure, so a data directory that comes back is picked up again. */
static ms_store_t *writer_connection(writer_t *w) {
    if (w->st)
        return w->st;
    ms_store_t *st = NULL;
    if (ms_store_open(w->data_dir, &st) != 0) {
        ms_log(MS_LOG_ERROR, "db_open_failed", "\"thread\":\"writer\"");
        return NULL;
    }
    w->st = st;
    w->commits_seen = ms_store_commits(st); /* opening may commit (migrations) */
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
    int rc;
    d->jobs += n;
    if (!st) {
        for (size_t i = 0; i < n; i++)
            jobs[i]->run(NULL, jobs[i]->arg);
        return n;
    }
    if ((rc = ms_store_batch_begin(st)) != 0) {
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
    uint64_t commits0 = ms_store_commits(st);
    int64_t t0 = ms_mono_us();
    size_t k = 0;
    while (k < n) {
        if (k > 0 && budget_ms > 0 && ms_mono_us() - t0 > (int64_t)budget_ms * 1000)
            break;
        jobs[k]->run(st, jobs[k]->arg);
        k++;
        if (ms_store_batch_open(st))
            continue;
        /* The batch's transaction ended inside a run: the engine rolled it
         * back by itself (I/O error, disk full), or a job broke the
         * contract and committed or rolled back. The commit count tells
         * which; either way the jobs not yet run go to a new batch. */
        d->jobs -= n - k;
        if (ms_store_commits(st) != commits0) {
            ms_log(MS_LOG_ERROR, "write_job_ended_batch", "\"jobs\":%zu", k);
            return k;
        }
        ms_log(MS_LOG_ERROR, "write_batch_lost", "\"jobs\":%zu", k);
        tell_failed(jobs, k);
        d->failed++;
        return k;
    }
    d->jobs -= n - k;
    if ((rc = ms_store_batch_commit(st)) != 0) {
        /* The backend rolled the batch back: tell every job. */
        ms_log(MS_LOG_ERROR, "write_batch_commit_failed", "\"code\":%d,\"jobs\":%zu", rc, k);
        tell_failed(jobs, k);
        d->failed++;
        return k;
    }
    if (k > d->max_batch)
        d->max_batch = k;
    return k;
}

static void write_done_cb(void *arg) {
    write_job_t *j = arg;
    j->done(j->arg);
    free(j);
}

/* Hands finished jobs to their loops. */
static void post_done(write_job_t **jobs, size_t n) {
    for (size_t i = 0; i < n; i++)
        ms_loop_chan_post(jobs[i]->chan, write_done_cb, jobs[i]);
}

static void *writer_main(void *p) {
    writer_t *w = p;
    write_job_t *batch[MS_WORK_BATCH_MAX];
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
        uint64_t commits_now = w->st ? ms_store_commits(w->st) : w->commits_seen;
        writer_stats.commits += commits_now - w->commits_seen;
        writer_stats.failed += d.failed;
        writer_stats.solo += d.solo;
        if (d.max_batch > writer_stats.max_batch)
            writer_stats.max_batch = d.max_batch;
        pthread_mutex_unlock(&writer_lock);
        w->commits_seen = commits_now;
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

int ms_work_submit_write(uv_loop_t *loop, ms_work_run_fn run, ms_work_done_fn done, void *arg) {
    pthread_mutex_lock(&writer_lock);
    int rc = writer_start();
    pthread_mutex_unlock(&writer_lock);
    if (rc != 0)
        return MS_EIO;
    ms_loop_chan_t *c = ms_loop_chan_get(loop);
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
    /* Queued jobs run to completion first; their done callbacks wait on
     * their loops' channels. */
    pthread_mutex_lock(&pools_lock);
    for (int k = 0; k < MS_WORK_KINDS; k++) {
        ms_pool_free(pools[k]);
        pools[k] = NULL;
    }
    pthread_mutex_unlock(&pools_lock);
    pthread_mutex_lock(&conns_lock);
    for (size_t i = 0; i < nstores; i++)
        ms_store_close(stores[i]);
    nstores = 0;
    for (size_t i = 0; i < nkbs; i++)
        ms_kb_close(kbs[i]);
    nkbs = 0;
    generation++;
    pthread_mutex_unlock(&conns_lock);
    free(work_data_dir);
    work_data_dir = NULL;
}
