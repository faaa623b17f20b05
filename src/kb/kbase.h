/* The knowledge-base seam (architecture.md, kb/): every caller outside
 * src/kb reaches the knowledge base through an ms_kb_t handle and its
 * ms_kb_ops_t, never through SQLite. The FTS5 index (kb.h's functions) is
 * the default and, for now, the only backend.
 *
 * One handle is one connection, used by one thread at a time; every call
 * may block on I/O (never on the event loop). */
#ifndef MS_KB_KBASE_H
#define MS_KB_KBASE_H

#include "kb/kb.h"

typedef struct ms_kb ms_kb_t;

/** A knowledge-base backend's function table; each op has the contract of
 * the ms_kb_* function of the same name below. */
typedef struct ms_kb_ops {
    const char *name;
    void (*close)(ms_kb_t *kb);
    int (*passages)(ms_kb_t *kb, int64_t *out);
    int (*starter)(ms_kb_t *kb, int *imported);
    int (*find)(ms_kb_t *kb, const char *query, int k, ms_kb_hit_t **hits, size_t *n);
    int (*import_files)(ms_kb_t *kb, ms_kb_format_t format, const char *const *paths, size_t npaths,
                        ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats);
} ms_kb_ops_t;

/** The base every backend handle starts with. */
struct ms_kb {
    const ms_kb_ops_t *ops;
};

/** Opens the knowledge base in the data directory location (FTS5 tables in
 * location/medstream.db, created if missing). 0, MS_EINVAL or MS_EIO. */
int ms_kb_open(const char *location, ms_kb_t **out);
/** Closes the handle; NULL-safe. */
void ms_kb_close(ms_kb_t *kb);
/** Number of passages indexed. */
int ms_kb_passages(ms_kb_t *kb, int64_t *out);
/** Imports the starter passages when the knowledge base is empty
 * (ms_kb_load_starter). */
int ms_kb_starter(ms_kb_t *kb, int *imported);
/** Ranked search (ms_kb_search): the best k passages for query. */
int ms_kb_find(ms_kb_t *kb, const char *query, int k, ms_kb_hit_t **hits, size_t *n);
/** Imports files (ms_kb_import). */
int ms_kb_import_files(ms_kb_t *kb, ms_kb_format_t format, const char *const *paths, size_t npaths,
                       ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats);

#endif
