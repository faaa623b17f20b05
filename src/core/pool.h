/* Bounded thread pools, one per kind of blocking work (architecture.md:
 * password hashing, retrieval and answer composition, storage reads), so
 * that a burst of one kind (a hundred argon2id logins) cannot delay
 * another (the retrieval of an answer being streamed).
 *
 * A pool has a fixed number of threads and a bounded queue: when the queue
 * is full, submit refuses with MS_EOVERLOAD at once instead of growing, and
 * the caller answers "overloaded" (HTTP 503 / a retryable error event).
 * Results come back to the submitting loop through a uv_async_t
 * (architecture.md: results come back to the loop, never the reverse). */
#ifndef MS_CORE_POOL_H
#define MS_CORE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ms_pool ms_pool_t;

/** Runs on a pool thread. */
typedef void (*ms_pool_run_fn)(void *arg);
/** Runs on the submitting loop's thread after run returned. */
typedef void (*ms_pool_done_fn)(void *arg);
/** Called on each pool thread once, after it started / before it exits
 * (per-thread resources such as database connections). May be NULL. */
typedef void (*ms_pool_thread_fn)(void *ctx);

/** Pool settings. */
typedef struct {
    const char *name;          /**< "auth", "kb", "store": for logs and /health */
    unsigned threads;          /**< 1..256 */
    size_t queue_max;          /**< jobs waiting (not running) at most; 0 = threads * 64 */
    ms_pool_thread_fn on_exit; /**< per-thread cleanup, or NULL */
    void *ctx;                 /**< passed to on_exit */
} ms_pool_config_t;

/** Starts the threads. NULL (logged) if none could be started. */
ms_pool_t *ms_pool_new(const ms_pool_config_t *cfg);
/** Lets queued and running jobs finish, joins the threads and frees the
 * pool; done callbacks of jobs finished by then run when their loops run
 * again (each loop's channel stays open until they have). NULL-safe. */
void ms_pool_free(ms_pool_t *p);

/** Queues run(arg) on p, then done(arg) on loop's thread. Returns 0, or
 * MS_EOVERLOAD when the queue is full (neither callback is then called).
 * While jobs of a loop are in flight the loop holds one referenced handle
 * (uv_run does not return, as with uv_queue_work); it is closed when the
 * last done has run, so a loop without pending work has no handle of ours
 * and uv_loop_close succeeds. Loop thread only. */
int ms_pool_submit(ms_pool_t *p, uv_loop_t *loop, ms_pool_run_fn run, ms_pool_done_fn done,
                   void *arg);

/** Counters since the pool started (for /health and tests). */
typedef struct {
    uint64_t submitted; /**< accepted jobs */
    uint64_t rejected;  /**< refused with MS_EOVERLOAD */
    uint64_t completed; /**< runs finished */
    size_t queued;      /**< waiting now */
    size_t running;     /**< running now */
    unsigned threads;
    size_t queue_max;
} ms_pool_stats_t;

void ms_pool_stats(ms_pool_t *p, ms_pool_stats_t *out);
/** The name given at creation. */
const char *ms_pool_name(const ms_pool_t *p);

/** Delivery of results to a loop, shared by the pools and by other threads
 * that hand work back (the DB writer): a per-loop channel with a
 * uv_async_t, opened on first use and closed when nothing is pending. */
typedef struct ms_loop_chan ms_loop_chan_t;
/** The open channel of loop (created if needed) with one more result
 * pending. NULL if the handle could not be created. Loop thread only. */
ms_loop_chan_t *ms_loop_chan_get(uv_loop_t *loop);
/** Posts fn(arg) to run on the channel's loop; consumes one pending slot.
 * Any thread. */
void ms_loop_chan_post(ms_loop_chan_t *c, ms_pool_done_fn fn, void *arg);

#endif
