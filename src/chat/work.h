/* Blocking work off the loop, by kind: bounded thread pools (core/pool.h)
 * whose threads each hold their own storage and knowledge-base connections,
 * and the one DB writer thread that group-commits (architecture.md:
 * "bounded thread pools by kind of work ... a DB writer that
 * group-commits; results come back to the loop, never the reverse").
 *
 * Kinds, each its own pool and queue, so one cannot starve another:
 * - MS_WORK_STORE: storage reads and small REST handlers;
 * - MS_WORK_KB: retrieval and answer composition;
 * - MS_WORK_AUTH: password hashing and verification (argon2id: slow and
 *   memory-hungry by design, so a login burst must queue apart);
 * - MS_WORK_FILES: attachment text extraction (PDF, DOCX, OCR: seconds to
 *   minutes per file, so it must never hold a storage or retrieval thread).
 * A full queue refuses at once with MS_EOVERLOAD (callers answer
 * "overloaded"); nothing grows without bound. */
#ifndef MS_CHAT_WORK_H
#define MS_CHAT_WORK_H

#include "kb/kb.h"
#include "store/store.h"

#include <stdint.h>
#include <uv.h>

/** Runs on a pool thread. st is the thread's storage connection (opened
 * lazily on the data directory), or NULL when it could not be opened: the
 * function must then record an error itself. */
typedef void (*ms_work_run_fn)(ms_store_t *st, void *arg);
/** Runs on the loop thread after run returned. */
typedef void (*ms_work_done_fn)(void *arg);

typedef enum {
    MS_WORK_STORE,
    MS_WORK_KB,
    MS_WORK_AUTH,
    MS_WORK_FILES,
    MS_WORK_KINDS
} ms_work_kind_t;

/** Pool sizes (threads 1..256; queue_max 0 = 64 per thread). */
typedef struct {
    unsigned threads[MS_WORK_KINDS];
    size_t queue_max[MS_WORK_KINDS];
} ms_work_config_t;

/** Sets the storage location the threads open, with default pool sizes
 * (store 4, kb 2, auth 2, files 1 threads). Call once before use, from one thread. */
void ms_work_init(const char *data_dir);
/** ms_work_init with explicit pool sizes. */
void ms_work_init_ex(const char *data_dir, const ms_work_config_t *cfg);
/** The location given to ms_work_init (for synchronous use at shutdown). */
const char *ms_work_data_dir(void);
/** Queues run then done on the storage pool. Returns 0, MS_EOVERLOAD (queue
 * full) or MS_EIO; done is not called on failure. Loop thread only. */
int ms_work_submit(uv_loop_t *loop, ms_work_run_fn run, ms_work_done_fn done, void *arg);
/** ms_work_submit on the pool of kind. */
int ms_work_submit_on(ms_work_kind_t kind, uv_loop_t *loop, ms_work_run_fn run,
                      ms_work_done_fn done, void *arg);
/** The calling pool thread's knowledge-base connection (opened lazily), or
 * NULL when it could not be opened. Only inside a run function. */
ms_kb_t *ms_work_thread_kb(void);
/** The pool of kind (started on first use), for code that submits through
 * core/pool.h directly (the offline provider's composition). NULL when
 * its threads could not start. */
struct ms_pool *ms_work_pool(ms_work_kind_t kind);
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
    uint64_t commits;   /**< transactions committed on the writer's connection */
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
