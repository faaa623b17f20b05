#include "chat/work.h"

#include "core/log.h"
#include "core/ms.h"
#include "kb/kb.h"

#include <pthread.h>
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

void ms_work_shutdown(void) {
    pthread_mutex_lock(&stores_lock);
    for (size_t i = 0; i < nstores; i++)
        ms_store_close(stores[i]);
    nstores = 0;
    generation++;
    pthread_mutex_unlock(&stores_lock);
    free(work_data_dir);
    work_data_dir = NULL;
}
