/* Blocking work off the loop: runs a function on the libuv thread pool with
 * that thread's own database connection, then a completion on the loop
 * (architecture.md: results come back to the loop, never the reverse). */
#ifndef MS_CHAT_WORK_H
#define MS_CHAT_WORK_H

#include "store/store.h"

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
/** Closes every pool thread's connection. Call after the loop has stopped
 * and no work is pending (at shutdown). */
void ms_work_shutdown(void);

#endif
