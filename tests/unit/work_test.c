/* Unit tests of the DB writer's group commit (src/chat/work.c) and of the
 * store's nested transactions it relies on: a real libuv loop and real
 * SQLite files in a fresh temporary directory per test.
 *
 * With MS_WORK_BENCH=<turns> in the environment the binary instead runs a
 * microbenchmark (pool path against writer path) and prints its numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "unit_util.h"

#include "chat/work.h"
#include "core/ms.h"
#include "store/sqlite.h"
#include "store/store.h"

#include <sqlite3.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCONV 8

typedef struct {
    char dir[64];
    uv_loop_t loop;
    ms_store_t *reader; /* a second connection, used on the loop thread only */
    char user[MS_ID_LEN];
    char conv[NCONV][MS_ID_LEN];
    pthread_t loop_thread;
    int runs; /* run calls so far; touched by the writer thread only */
    sem_t blocker_started, blocker_release;
    ms_work_stats_t stats0;
} fx_t;

typedef enum { JOB_TURN, JOB_UPDATE, JOB_BLOCK, JOB_DEFER_FK, JOB_RAW_ROLLBACK, JOB_SLOW } kind_t;

/* One write job and what happened to it. */
typedef struct job {
    fx_t *f;
    kind_t kind;
    int conv;
    char user_msg[MS_ID_LEN], asst_msg[MS_ID_LEN];
    char client_id[32];
    const char *content;
    json_t *citations;
    int rc;         /* result of the first run */
    int order;      /* 1-based position among all runs of the test */
    int calls;      /* run calls with a connection */
    int null_calls; /* run calls with st == NULL ("not committed") */
    int done;
    int done_on_loop_thread;
    int visible_at_done; /* the assistant row read from another connection */
    struct job *then;    /* submitted from this job's done */
} job_t;

static void job_run(ms_store_t *st, void *arg) {
    job_t *j = arg;
    if (!st) {
        j->null_calls++;
        j->rc = MS_EIO;
        return;
    }
    j->calls++;
    fx_t *f = j->f;
    j->order = ++f->runs;
    switch (j->kind) {
    case JOB_TURN:
        j->rc = ms_store_turn_begin(st, f->conv[j->conv], j->user_msg, j->asst_msg,
                                    j->client_id[0] ? j->client_id : NULL, "What is asthma?", NULL);
        break;
    case JOB_UPDATE:
        j->rc = ms_store_message_update(st, j->asst_msg, j->content, MS_MSG_COMPLETE, "stop", NULL,
                                        j->citations);
        break;
    case JOB_BLOCK:
        /* Holds the writer inside a batch of its own until the test has
         * queued everything that must form the next batch. */
        sem_post(&f->blocker_started);
        sem_wait(&f->blocker_release);
        j->rc = 0;
        break;
    case JOB_DEFER_FK: {
        /* Breaks the contract on purpose (raw SQL) to make the batch's
         * COMMIT fail: a deferred foreign key is only checked then. */
        char sql[256];
        snprintf(sql, sizeof sql,
                 "PRAGMA defer_foreign_keys=ON;"
                 "INSERT INTO messages (id, conversation_id, seq, role, status, created_at,"
                 " updated_at) VALUES ('%s', 'no-such-conversation', 1, 'user', 'complete', 0, 0)",
                 j->user_msg);
        j->rc =
            sqlite3_exec(ms_store_sqlite_db(st), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : MS_EIO;
        break;
    }
    case JOB_SLOW: {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
        j->rc = 0;
        break;
    }
    case JOB_RAW_ROLLBACK:
        /* Stands for SQLite rolling the batch back by itself (I/O error). */
        j->rc = sqlite3_exec(ms_store_sqlite_db(st), "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK
                    ? 0
                    : MS_EIO;
        break;
    }
}

static void job_done(void *arg) {
    job_t *j = arg;
    fx_t *f = j->f;
    j->done++;
    j->done_on_loop_thread = pthread_equal(pthread_self(), f->loop_thread);
    if (j->kind == JOB_TURN) {
        json_t *m = NULL;
        j->visible_at_done = ms_store_message_get(f->reader, j->asst_msg, &m) == 0;
        json_decref(m);
    }
    if (j->then)
        assert_int_equal(ms_work_submit_write(&f->loop, job_run, job_done, j->then), 0);
}

static job_t *job_new(fx_t *f, kind_t kind, int conv) {
    job_t *j = calloc(1, sizeof *j);
    j->f = f;
    j->kind = kind;
    j->conv = conv;
    ms_id_new(j->user_msg);
    ms_id_new(j->asst_msg);
    return j;
}

static void job_free(job_t *j) {
    if (!j)
        return;
    json_decref(j->citations);
    free(j);
}

static void submit(fx_t *f, job_t *j) {
    assert_int_equal(ms_work_submit_write(&f->loop, job_run, job_done, j), 0);
}

/* Queues a job that keeps the writer busy, and waits until it runs: every
 * job submitted before release_blocker then goes into one batch. */
static job_t *hold_writer(fx_t *f) {
    job_t *b = job_new(f, JOB_BLOCK, 0);
    submit(f, b);
    sem_wait(&f->blocker_started);
    return b;
}

static void release_writer(fx_t *f) {
    sem_post(&f->blocker_release);
}

static ms_work_stats_t stats_delta(fx_t *f) {
    ms_work_stats_t s;
    ms_work_stats(&s);
    s.jobs -= f->stats0.jobs;
    s.batches -= f->stats0.batches;
    s.commits -= f->stats0.commits;
    s.failed -= f->stats0.failed;
    s.solo -= f->stats0.solo;
    return s;
}

/* The stored message, or NULL; read on the loop thread. */
static json_t *stored(fx_t *f, const char *id) {
    json_t *m = NULL;
    if (ms_store_message_get(f->reader, id, &m) != 0)
        return NULL;
    return m;
}

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ms-test-work-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(ms_store_open(f->dir, &f->reader), 0);
    ms_user_t u;
    assert_int_equal(ms_store_user_create(f->reader, "a@example.org", "x", "clinician", &u), 0);
    memcpy(f->user, u.id, MS_ID_LEN);
    for (int i = 0; i < NCONV; i++) {
        json_t *c = NULL;
        assert_int_equal(ms_store_conversation_create(f->reader, f->user, "t", &c), 0);
        snprintf(f->conv[i], MS_ID_LEN, "%s", json_string_value(json_object_get(c, "id")));
        json_decref(c);
    }
    sem_init(&f->blocker_started, 0, 0);
    sem_init(&f->blocker_release, 0, 0);
    f->loop_thread = pthread_self();
    ms_work_init(f->dir);
    /* Without the time budget a batch is bounded by count only, so which
     * jobs share a batch does not depend on how fast this machine is. */
    ms_work_set_batch_budget_ms(0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    ms_work_stats(&f->stats0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ms_work_shutdown();
    ms_work_set_batch_budget_ms(MS_WORK_BATCH_BUDGET_MS);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle closed */
    ms_store_close(f->reader);
    sem_destroy(&f->blocker_started);
    sem_destroy(&f->blocker_release);
    assert_int_equal(ms_test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

/* Many writes queued at once are committed together, and each done runs on
 * the loop thread after its write is visible to another connection. */
static void test_queued_writes_share_one_commit(void **state) {
    fx_t *f = *state;
    enum { N = 200 };
    job_t *jobs[N];
    job_t *b = hold_writer(f);
    for (int i = 0; i < N; i++) {
        jobs[i] = job_new(f, JOB_TURN, i % NCONV);
        submit(f, jobs[i]);
    }
    release_writer(f);
    /* The loop ends by itself: the writer's handle closes when idle. */
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i]->rc, 0);
        assert_int_equal(jobs[i]->calls, 1);
        assert_int_equal(jobs[i]->null_calls, 0);
        assert_int_equal(jobs[i]->done, 1);
        assert_true(jobs[i]->done_on_loop_thread);
        assert_true(jobs[i]->visible_at_done);
        job_free(jobs[i]);
    }
    ms_work_stats_t s = stats_delta(f);
    assert_int_equal(s.jobs, N + 1);
    assert_int_equal(s.batches, 2); /* the blocker's, then all N */
    assert_int_equal(s.commits, 2);
    assert_int_equal(s.failed, 0);
    assert_true(s.max_batch >= N);
    assert_int_equal(b->done, 1);
    job_free(b);
}

/* Store calls that fail inside a batch undo only their own changes: a
 * duplicate client_message_id (MS_EEXIST), and an update whose citations
 * are refused after its row was already written (MS_EINVAL). */
static void test_failing_job_keeps_its_batch(void **state) {
    fx_t *f = *state;
    job_t *first = job_new(f, JOB_TURN, 0);
    snprintf(first->client_id, sizeof first->client_id, "dup");
    job_t *dup = job_new(f, JOB_TURN, 0);
    snprintf(dup->client_id, sizeof dup->client_id, "dup");
    job_t *other = job_new(f, JOB_TURN, 1);
    job_t *bad_update = job_new(f, JOB_UPDATE, 0);
    memcpy(bad_update->asst_msg, first->asst_msg, MS_ID_LEN);
    bad_update->content = "must not stay";
    bad_update->citations = json_pack("[{s:i}]", "title", 5); /* title must be a string */
    job_t *good_update = job_new(f, JOB_UPDATE, 1);
    memcpy(good_update->asst_msg, other->asst_msg, MS_ID_LEN);
    good_update->content = "Asthma is a chronic disease of the airways.";
    good_update->citations = json_pack("[{s:i,s:s}]", "index", 1, "title", "GINA 2023");

    job_t *b = hold_writer(f);
    job_t *all[] = {first, dup, other, bad_update, good_update};
    for (size_t i = 0; i < MS_COUNTOF(all); i++)
        submit(f, all[i]);
    release_writer(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);

    assert_int_equal(first->rc, 0);
    assert_int_equal(dup->rc, MS_EEXIST);
    assert_int_equal(other->rc, 0);
    assert_int_equal(bad_update->rc, MS_EINVAL);
    assert_int_equal(good_update->rc, 0);
    ms_work_stats_t s = stats_delta(f);
    assert_int_equal(s.batches, 2);
    assert_int_equal(s.commits, 2);

    json_t *m = stored(f, first->asst_msg);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "");
    assert_string_equal(json_string_value(json_object_get(m, "status")), MS_MSG_STREAMING);
    json_decref(m);
    assert_null(stored(f, dup->user_msg));
    assert_null(stored(f, dup->asst_msg));
    m = stored(f, other->asst_msg);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "status")), MS_MSG_COMPLETE);
    assert_int_equal(json_array_size(json_object_get(m, "citations")), 1);
    json_decref(m);
    for (size_t i = 0; i < MS_COUNTOF(all); i++) {
        assert_int_equal(all[i]->done, 1);
        assert_int_equal(all[i]->null_calls, 0);
        job_free(all[i]);
    }
    job_free(b);
}

/* When the batch's COMMIT fails, every job of the batch is told (a second
 * run with st == NULL) before its done, and nothing of it is stored; the
 * writer goes on with the next batch. */
static void test_failed_commit_tells_every_job(void **state) {
    fx_t *f = *state;
    job_t *a = job_new(f, JOB_TURN, 0), *bad = job_new(f, JOB_DEFER_FK, 0);
    job_t *c = job_new(f, JOB_TURN, 1);
    job_t *b = hold_writer(f);
    submit(f, a);
    submit(f, bad);
    submit(f, c);
    release_writer(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    job_t *all[] = {a, bad, c};
    for (size_t i = 0; i < MS_COUNTOF(all); i++) {
        assert_int_equal(all[i]->calls, 1);
        assert_int_equal(all[i]->null_calls, 1);
        assert_int_equal(all[i]->rc, MS_EIO);
        assert_int_equal(all[i]->done, 1);
    }
    assert_false(a->visible_at_done);
    assert_false(c->visible_at_done);
    assert_null(stored(f, bad->user_msg));
    ms_work_stats_t s = stats_delta(f);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.commits, 1); /* the blocker's batch only */

    job_t *after = job_new(f, JOB_TURN, 2);
    submit(f, after);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(after->rc, 0);
    assert_true(after->visible_at_done);
    for (size_t i = 0; i < MS_COUNTOF(all); i++)
        job_free(all[i]);
    job_free(after);
    job_free(b);
}

/* A transaction that ends inside a run (as when SQLite rolls back on an I/O
 * error) loses the jobs before it, which are told; the jobs after it go
 * into a new batch and are committed. */
static void test_lost_batch_tells_jobs_and_continues(void **state) {
    fx_t *f = *state;
    job_t *a = job_new(f, JOB_TURN, 0), *rb = job_new(f, JOB_RAW_ROLLBACK, 0);
    job_t *c = job_new(f, JOB_TURN, 1);
    job_t *b = hold_writer(f);
    submit(f, a);
    submit(f, rb);
    submit(f, c);
    release_writer(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(a->null_calls, 1);
    assert_int_equal(rb->null_calls, 1);
    assert_false(a->visible_at_done);
    assert_int_equal(c->calls, 1);
    assert_int_equal(c->null_calls, 0);
    assert_int_equal(c->rc, 0);
    assert_true(c->visible_at_done);
    assert_int_equal(stats_delta(f).failed, 1);
    job_free(a);
    job_free(rb);
    job_free(c);
    job_free(b);
}

/* A batch whose runs outlast the time budget stops taking jobs; the rest
 * form the next batch, in submission order. */
static void test_time_budget_splits_batch(void **state) {
    fx_t *f = *state;
    ms_work_set_batch_budget_ms(1);
    job_t *slow = job_new(f, JOB_SLOW, 0), *a = job_new(f, JOB_TURN, 0);
    job_t *c = job_new(f, JOB_TURN, 1);
    job_t *b = hold_writer(f);
    submit(f, slow);
    submit(f, a);
    submit(f, c);
    release_writer(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ms_work_stats_t s = stats_delta(f);
    /* Blocker; slow alone (5 ms > 1 ms); then a and c, together unless a
     * itself outlasted the budget (a slow sanitizer build). Without the
     * budget there would be 2. */
    assert_true(s.batches >= 3);
    assert_int_equal(s.commits, s.batches);
    assert_int_equal(s.jobs, 4);
    assert_int_equal(slow->order, 2);
    assert_int_equal(a->order, 3);
    assert_int_equal(c->order, 4);
    assert_true(a->visible_at_done);
    assert_true(c->visible_at_done);
    job_free(slow);
    job_free(a);
    job_free(c);
    job_free(b);
}

/* A done may submit the next write (a final update after a checkpoint):
 * the channel stays open for it and the loop still ends clean. */
static void test_done_submits_more(void **state) {
    fx_t *f = *state;
    enum { N = 6 };
    job_t *turn = job_new(f, JOB_TURN, 3), *chain[N];
    job_t *prev = turn;
    for (int i = 0; i < N; i++) {
        chain[i] = job_new(f, JOB_UPDATE, 3);
        memcpy(chain[i]->asst_msg, turn->asst_msg, MS_ID_LEN);
        chain[i]->content = i == N - 1 ? "last" : "partial";
        prev->then = chain[i];
        prev = chain[i];
    }
    submit(f, turn);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(turn->rc, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(chain[i]->rc, 0);
        assert_int_equal(chain[i]->done, 1);
        job_free(chain[i]);
    }
    json_t *m = stored(f, turn->asst_msg);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "last");
    json_decref(m);
    job_free(turn);
}

/* Shutdown with writes still queued commits every one of them before the
 * writer exits; their dones run when the loop runs again; the writer then
 * starts afresh after ms_work_init. */
static void test_shutdown_with_jobs_in_flight_loses_none(void **state) {
    fx_t *f = *state;
    enum { N = 600 }; /* more than MS_WORK_BATCH_MAX */
    job_t *jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = job_new(f, JOB_TURN, i % NCONV);
        submit(f, jobs[i]);
    }
    ms_work_shutdown();
    /* Stored before any done ran. */
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i]->calls, 1);
        assert_int_equal(jobs[i]->done, 0);
        json_t *m = stored(f, jobs[i]->asst_msg);
        assert_non_null(m);
        json_decref(m);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i]->rc, 0);
        assert_int_equal(jobs[i]->done, 1);
        job_free(jobs[i]);
    }
    ms_work_init(f->dir);
    job_t *again = job_new(f, JOB_TURN, 0);
    submit(f, again);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(again->rc, 0);
    assert_true(again->visible_at_done);
    job_free(again);
}

/* The store helper on its own: inside a caller's transaction a failing
 * store call rolls back to its savepoint and leaves the transaction open;
 * succeeding ones are kept until the caller commits. */
static void test_store_calls_nest_as_savepoints(void **state) {
    fx_t *f = *state;
    ms_store_t *st = f->reader;
    sqlite3 *db = ms_store_sqlite_db(st);
    char u1[MS_ID_LEN], a1[MS_ID_LEN], u2[MS_ID_LEN], a2[MS_ID_LEN];
    ms_id_new(u1);
    ms_id_new(a1);
    ms_id_new(u2);
    ms_id_new(a2);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(ms_store_turn_begin(st, f->conv[0], u1, a1, "k", "q1", NULL), 0);
    assert_int_equal(ms_store_turn_begin(st, f->conv[0], u2, a2, "k", "q2", NULL), MS_EEXIST);
    assert_int_equal(sqlite3_get_autocommit(db), 0);
    json_t *bad = json_pack("[{s:i}]", "url", 7);
    assert_int_equal(ms_store_message_update(st, a1, "x", MS_MSG_COMPLETE, NULL, NULL, bad),
                     MS_EINVAL);
    json_decref(bad);
    assert_int_equal(sqlite3_get_autocommit(db), 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    json_t *m = stored(f, a1);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "");
    json_decref(m);
    assert_null(stored(f, u2));
    /* Outside a transaction the helper is a plain BEGIN ... COMMIT again. */
    assert_int_equal(ms_store_message_update(st, a1, "y", MS_MSG_COMPLETE, NULL, NULL, NULL), 0);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
}

/* ---- microbenchmark (MS_WORK_BENCH=<turns>) -------------------------------- */

typedef struct {
    fx_t *f;
    int writer; /* 1: ms_work_submit_write, 0: ms_work_submit (pool) */
    int turns, finished;
    int64_t t0_us, end_us;
    int64_t *turn_lat_us; /* submit of turn_begin to its done */
} bench_t;

typedef struct {
    bench_t *b;
    int i, phase; /* 0: turn_begin, 1: final update */
    int64_t submitted_us;
    char conv[MS_ID_LEN], user_msg[MS_ID_LEN], asst_msg[MS_ID_LEN];
    int rc;
} bench_job_t;

static atomic_ulong pool_commits;

static void bench_run(ms_store_t *st, void *arg) {
    bench_job_t *j = arg;
    if (!st) {
        j->rc = MS_EIO;
        return;
    }
    uint64_t commits0 = ms_store_commits(st);
    if (j->phase == 0) {
        j->rc = ms_store_turn_begin(st, j->conv, j->user_msg, j->asst_msg, NULL,
                                    "What are the first-line treatments for hypertension?", NULL);
    } else {
        static const char answer[] =
            "First-line drugs are thiazide diuretics, ACE inhibitors, ARBs and calcium channel "
            "blockers [1]. Choice depends on comorbidities such as diabetes or kidney disease [2].";
        json_t *cits =
            json_pack("[{s:i,s:s,s:s},{s:i,s:s,s:s}]", "index", 1, "title", "JNC 8", "source_type",
                      "guideline", "index", 2, "title", "ESC 2023", "source_type", "guideline");
        json_t *usage = json_pack("{s:i,s:i}", "prompt_tokens", 812, "completion_tokens", 41);
        j->rc =
            ms_store_message_update(st, j->asst_msg, answer, MS_MSG_COMPLETE, "stop", usage, cits);
        json_decref(cits);
        json_decref(usage);
    }
    if (!j->b->writer)
        atomic_fetch_add(&pool_commits, ms_store_commits(st) - commits0);
}

static void bench_submit(bench_job_t *j);

static void bench_done(void *arg) {
    bench_job_t *j = arg;
    bench_t *b = j->b;
    if (j->rc != 0) {
        fprintf(stderr, "bench job failed: %d\n", j->rc);
        abort();
    }
    if (j->phase == 0) {
        b->turn_lat_us[j->i] = ms_mono_us() - j->submitted_us;
        j->phase = 1;
        bench_submit(j);
        return;
    }
    if (++b->finished == b->turns)
        b->end_us = ms_mono_us();
    free(j);
}

static void bench_submit(bench_job_t *j) {
    bench_t *b = j->b;
    j->submitted_us = ms_mono_us();
    int rc = b->writer ? ms_work_submit_write(&b->f->loop, bench_run, bench_done, j)
                       : ms_work_submit(&b->f->loop, bench_run, bench_done, j);
    if (rc != 0)
        abort();
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void bench_one(int writer, int turns) {
    void *state = NULL;
    setup(&state);
    fx_t *f = state;
    ms_work_set_batch_budget_ms(MS_WORK_BATCH_BUDGET_MS);
    bench_t b = {.f = f, .writer = writer, .turns = turns};
    b.turn_lat_us = calloc((size_t)turns, sizeof *b.turn_lat_us);
    atomic_store(&pool_commits, 0);
    ms_work_stats_t s0;
    ms_work_stats(&s0);
    b.t0_us = ms_mono_us();
    for (int i = 0; i < turns; i++) {
        bench_job_t *j = calloc(1, sizeof *j);
        j->b = &b;
        j->i = i;
        snprintf(j->conv, MS_ID_LEN, "%s", f->conv[i % NCONV]);
        ms_id_new(j->user_msg);
        ms_id_new(j->asst_msg);
        bench_submit(j);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ms_work_stats_t s1;
    ms_work_stats(&s1);
    qsort(b.turn_lat_us, (size_t)turns, sizeof *b.turn_lat_us, cmp_i64);
    unsigned long commits =
        writer ? (unsigned long)(s1.commits - s0.commits) : atomic_load(&pool_commits);
    size_t i50 = (size_t)turns / 2, i99 = (size_t)turns * 99 / 100, imax = (size_t)turns - 1;
    double p50 = (double)b.turn_lat_us[i50] / 1000.0, p99 = (double)b.turn_lat_us[i99] / 1000.0;
    double pmax = (double)b.turn_lat_us[imax] / 1000.0;
    printf("%-7s turns=%d wall_ms=%.1f commits=%lu batches=%lu max_batch=%lu "
           "turn_begin_done_ms p50=%.1f p99=%.1f max=%.1f\n",
           writer ? "writer" : "pool", turns, (double)(b.end_us - b.t0_us) / 1000.0, commits,
           writer ? (unsigned long)(s1.batches - s0.batches) : 0UL,
           writer ? (unsigned long)s1.max_batch : 0UL, p50, p99, pmax);
    free(b.turn_lat_us);
    teardown(&state);
}

int main(void) {
    const char *bench = getenv("MS_WORK_BENCH");
    long turns = bench ? strtol(bench, NULL, 10) : 0;
    if (turns > 0 && turns <= 1000000) {
        for (int round = 0; round < 2; round++) {
            bench_one(0, (int)turns);
            bench_one(1, (int)turns);
        }
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queued_writes_share_one_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_job_keeps_its_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_tells_every_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_batch_tells_jobs_and_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_budget_splits_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_submits_more, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_with_jobs_in_flight_loses_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_calls_nest_as_savepoints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
