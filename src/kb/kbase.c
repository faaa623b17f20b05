/* The knowledge-base seam's dispatch and its FTS5 backend: a handle that
 * owns a SQLite connection to the data directory's database and calls the
 * FTS5 functions of kb.h. */
#include "kb/fts5.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/ms.h"

#include <sqlite3.h>
#include <stdlib.h>

typedef struct {
    ms_kb_t base;
    sqlite3 *db;
} fts5_kb_t;

#define FTS(kb) ((fts5_kb_t *)(kb))

static void fts5_close(ms_kb_t *kb) {
    sqlite3_close_v2(FTS(kb)->db);
    free(kb);
}

static int fts5_passages(ms_kb_t *kb, int64_t *out) {
    return ms_kb_count(FTS(kb)->db, out);
}

static int fts5_starter(ms_kb_t *kb, int *imported) {
    return ms_kb_load_starter(FTS(kb)->db, imported);
}

static int fts5_find(ms_kb_t *kb, const char *query, int k, ms_kb_hit_t **hits, size_t *n) {
    return ms_kb_search(FTS(kb)->db, query, k, hits, n);
}

static int fts5_import(ms_kb_t *kb, ms_kb_format_t format, const char *const *paths, size_t npaths,
                       ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats) {
    return ms_kb_import(FTS(kb)->db, format, paths, npaths, progress, ctx, stats);
}

static int fts5_find_in(ms_kb_t *kb, const ms_kb_scope_t *scope, const char *query, int k,
                        ms_kb_hit_t **hits, size_t *n) {
    return ms_kb_search_in(FTS(kb)->db, scope, query, k, hits, n);
}

static int fts5_scoped_put(ms_kb_t *kb, const ms_kb_scope_t *scope, const ms_kb_scoped_doc_t *doc,
                           const ms_kb_scoped_passage_t *ps, size_t n) {
    return ms_kb_scoped_store(FTS(kb)->db, scope, doc, ps, n);
}

static int fts5_scoped_delete(ms_kb_t *kb, const char *doc_id) {
    return ms_kb_scoped_remove(FTS(kb)->db, doc_id);
}

static const ms_kb_ops_t fts5_ops = {
    .name = "fts5",
    .close = fts5_close,
    .passages = fts5_passages,
    .starter = fts5_starter,
    .find = fts5_find,
    .import_files = fts5_import,
    .find_in = fts5_find_in,
    .scoped_put = fts5_scoped_put,
    .scoped_delete = fts5_scoped_delete,
};

int ms_kb_open(const char *location, ms_kb_t **out) {
    *out = NULL;
    if (!location || !*location)
        return MS_EINVAL;
    ms_buf_t path;
    ms_buf_init(&path);
    ms_buf_printf(&path, "%s/medstream.db", location);
    fts5_kb_t *kb = ms_xcalloc(1, sizeof *kb);
    kb->base.ops = &fts5_ops;
    /* The store created the file (mode 0600) and owns its schema version;
     * the kb keeps its own kb_* tables in it. NOMUTEX: one thread at a time. */
    int rc =
        sqlite3_open_v2(ms_buf_cstr(&path), &kb->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    ms_buf_free(&path);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(kb->db, 5000);
        /* NORMAL: the durable setting for WAL (a crash may lose the last
         * import transaction, never corrupt the file); a knowledge base is
         * re-importable, and imports commit per file. */
        rc = sqlite3_exec(kb->db,
                          "PRAGMA journal_mode=WAL; PRAGMA temp_store=MEMORY;"
                          " PRAGMA synchronous=NORMAL",
                          NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK || ms_kb_init(kb->db) != 0) {
        ms_log(MS_LOG_ERROR, "kb_open_failed", NULL);
        fts5_close(&kb->base);
        return MS_EIO;
    }
    *out = &kb->base;
    return 0;
}

void ms_kb_close(ms_kb_t *kb) {
    if (kb)
        kb->ops->close(kb);
}

int ms_kb_passages(ms_kb_t *kb, int64_t *out) {
    return kb->ops->passages(kb, out);
}

int ms_kb_starter(ms_kb_t *kb, int *imported) {
    return kb->ops->starter(kb, imported);
}

int ms_kb_find(ms_kb_t *kb, const char *query, int k, ms_kb_hit_t **hits, size_t *n) {
    return kb->ops->find(kb, query, k, hits, n);
}

int ms_kb_find_in(ms_kb_t *kb, const ms_kb_scope_t *scope, const char *query, int k,
                  ms_kb_hit_t **hits, size_t *n) {
    return kb->ops->find_in(kb, scope, query, k, hits, n);
}

int ms_kb_scoped_put(ms_kb_t *kb, const ms_kb_scope_t *scope, const ms_kb_scoped_doc_t *doc,
                     const ms_kb_scoped_passage_t *ps, size_t n) {
    return kb->ops->scoped_put(kb, scope, doc, ps, n);
}

int ms_kb_scoped_delete(ms_kb_t *kb, const char *doc_id) {
    return kb->ops->scoped_delete(kb, doc_id);
}

int ms_kb_import_files(ms_kb_t *kb, ms_kb_format_t format, const char *const *paths, size_t npaths,
                       ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats) {
    return kb->ops->import_files(kb, format, paths, npaths, progress, ctx, stats);
}
