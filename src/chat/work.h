/* Blocking work off the loop: runs a function on the libuv thread pool with
 * that thread's own database connection, then a completion on the loop
 * (architecture.md: results come back to the loop, never the reverse).
 *
 * Writes can instead go to the one DB writer thread (ms_work_submit_write),
 * which group-commits: it runs every queued write job inside one
 * transaction and pays one fsync for the whole batch. */
#ifndef MS_CHAT_WORK_H
#define MS_CHAT_WORK_H

#include "store/store.h"

#include <stdint.h>
#include <uv.h>

/** Runs on a pool thread. st is the thread's connection (opened lazily on
 * <data_dir>/medstream.db, knowledge-base schema initialised), or NULL when
 * it could not be opened: the function must then record an error itself. */
typedef void (*ms_work_run_fn)(ms_store_t *st, void *arg);
/** Runs on the loop thread after run returned. */
typedef void (*ms_work_done_fn)(void *arg);

/** Sets the data directory the pool threads open. Call once before use. */
void ms_work_init(const char *data_dir);
/** The data directory given to ms_work_init (for synchronous use at shutdown). */
const char *ms_work_data_dir(void);
/** Queues run then done. Returns 0 or MS_EIO (done is then not called). */
int ms_work_submit(uv_loop_t *loop, ms_work_run_fn run, ms_work_done_fn done, void *arg);
/** Queues run on the DB writer thread, then done on loop's thread once
 * run's changes are committed (durable: synchronous=FULL).
 *
 * The writer (one thread, its own connection, started on first use) takes
 * every queued job, up to MS_WORK_BATCH_MAX or a run-time budget of
 * MS_WORK_BATCH_BUDGET_MS, in submission order; opens one BEGIN IMMEDIATE;
 * runs each job; COMMITs once; then hands all their done callbacks to their
 * loops. Store calls inside the batch nest as savepoints (store_int.h), so
 * a store call that fails undoes only its own changes, not other jobs'.
 *
 * Contract for run, beyond ms_work_run_fn's:
 * - it writes only through ms_store_* functions (it may read freely); it
 *   must not BEGIN/COMMIT/ROLLBACK itself nor call the knowledge-base
 *   importers (their transactions do not nest);
 * - it may be called a second time, with st == NULL, after a first call
 *   whose changes could not be committed (the batch COMMIT failed, or
 *   SQLite rolled the batch back on an I/O error): it must then record an
 *   error as for any st == NULL call. Outputs of the first call may still
 *   be set then; done must release them as usual. Jobs are not re-run on
 *   a fresh transaction because a run may rewrite its own inputs (the
 *   pipeline's persist job stores the conversation id it created).
 * - it should be short: the batch holds SQLite's write lock while it runs.
 *
 * While jobs of a loop are in flight the loop holds one referenced
 * uv_async_t (so uv_run does not return, as with uv_queue_work); it is
 * closed when the last done has run, so a loop without pending writes has
 * no handle of ours and uv_loop_close succeeds. Returns 0, or MS_EIO when
 * the writer thread or the handle could not be set up (done is then not
 * called). Loop thread only. */
int ms_work_submit_write(uv_loop_t *loop, ms_work_run_fn run, ms_work_done_fn done, void *arg);

/** Largest number of jobs in one write batch. */
#define MS_WORK_BATCH_MAX 256
/** A batch stops taking further queued jobs once its runs took this long,
 * so the write lock and the first job's done are never held back much
 * longer than one fsync. */
#define MS_WORK_BATCH_BUDGET_MS 25

/** Replaces MS_WORK_BATCH_BUDGET_MS for batches started from now on; 0
 * lifts the time budget (only MS_WORK_BATCH_MAX bounds a batch then: tests
 * that count batches use it so they do not depend on timing). Any thread. */
void ms_work_set_batch_budget_ms(int ms);

/** Counters of the DB writer since the process started (for tests and
 * benchmarks; take differences). */
typedef struct {
    uint64_t jobs;      /**< write jobs whose run was called (first call) */
    uint64_t batches;   /**< batches opened with BEGIN IMMEDIATE */
    uint64_t commits;   /**< COMMITs on the writer's connection (sqlite3_commit_hook) */
    uint64_t failed;    /**< batches whose changes were lost (jobs told: st NULL) */
    uint64_t solo;      /**< jobs run outside a batch (BEGIN failed) */
    uint64_t max_batch; /**< most jobs committed by one COMMIT */
} ms_work_stats_t;

/** Copies the writer's counters into *out. Any thread. */
void ms_work_stats(ms_work_stats_t *out);

/** Closes every pool thread's connection and stops the DB writer: it first
 * runs and commits every write job already queued, then exits and closes
 * its connection. Call after the loop has stopped (at shutdown); normally
 * nothing is pending then, as pending writes keep the loop running. Done
 * callbacks of writes finished here are delivered if the loop is run again
 * (its handle stays open until then). */
void ms_work_shutdown(void);

#endif
