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

static int fts5_ev_search(ms_kb_t *kb, const char *const *alts, size_t nalts, const char *qtype,
                          int max, ms_kb_hit_t **hits, size_t *n) {
    return ms_kb_evidence_search_db(FTS(kb)->db, alts, nalts, qtype, max, hits, n);
}

static int fts5_ev_passage(ms_kb_t *kb, const char *id, ms_kb_hit_t *out) {
    return ms_kb_evidence_passage_db(FTS(kb)->db, id, out);
}

static int fts5_ev_doc(ms_kb_t *kb, const char *doc_id, const char *qtype, ms_kb_hit_t **hits,
                       size_t *n) {
    return ms_kb_evidence_doc_db(FTS(kb)->db, doc_id, qtype, hits, n);
}

static int fts5_ev_named(ms_kb_t *kb, const char *name, const char *qtype, char ***ids, size_t *n) {
    return ms_kb_evidence_named_db(FTS(kb)->db, name, qtype, ids, n);
}

static int fts5_drug_stats(ms_kb_t *kb, ms_kb_drug_stats_t *out) {
    return ms_kb_drugs_stats(FTS(kb)->db, out);
}

static int fts5_drug_find(ms_kb_t *kb, const char *name, ms_kb_drug_t *out) {
    return ms_kb_drugs_find(FTS(kb)->db, name, out);
}

static int fts5_drug_mentions(ms_kb_t *kb, const char *text, size_t max, ms_kb_mention_t **out,
                              size_t *n) {
    return ms_kb_drugs_mentions(FTS(kb)->db, text, max, out, n);
}

static int fts5_drug_classes(ms_kb_t *kb, int64_t id, json_t **out) {
    return ms_kb_drugs_classes(FTS(kb)->db, id, out);
}

static int fts5_drug_interactions(ms_kb_t *kb, int64_t a, int64_t b, json_t **out) {
    return ms_kb_drugs_interactions(FTS(kb)->db, a, b, out);
}

static int fts5_drug_label(ms_kb_t *kb, int64_t id, json_t **out) {
    return ms_kb_drugs_label(FTS(kb)->db, id, out);
}

static int fts5_drug_class_find(ms_kb_t *kb, const char *name, json_t **out) {
    return ms_kb_drugs_class_find(FTS(kb)->db, name, out);
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
    .evidence_search = fts5_ev_search,
    .evidence_passage = fts5_ev_passage,
    .evidence_doc = fts5_ev_doc,
    .evidence_named = fts5_ev_named,
    .drug_stats = fts5_drug_stats,
    .drug_find = fts5_drug_find,
    .drug_mentions = fts5_drug_mentions,
    .drug_classes = fts5_drug_classes,
    .drug_interactions = fts5_drug_interactions,
    .drug_label = fts5_drug_label,
    .drug_class_find = fts5_drug_class_find,
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

int ms_kb_evidence_search(ms_kb_t *kb, const char *const *alts, size_t nalts, const char *qtype,
                          int max, ms_kb_hit_t **hits, size_t *n) {
    return kb->ops->evidence_search(kb, alts, nalts, qtype, max, hits, n);
}

int ms_kb_evidence_passage(ms_kb_t *kb, const char *id, ms_kb_hit_t *out) {
    return kb->ops->evidence_passage(kb, id, out);
}

int ms_kb_evidence_doc(ms_kb_t *kb, const char *doc_id, const char *qtype, ms_kb_hit_t **hits,
                       size_t *n) {
    return kb->ops->evidence_doc(kb, doc_id, qtype, hits, n);
}

int ms_kb_evidence_named(ms_kb_t *kb, const char *name, const char *qtype, char ***ids, size_t *n) {
    return kb->ops->evidence_named(kb, name, qtype, ids, n);
}

int ms_kb_drug_stats(ms_kb_t *kb, ms_kb_drug_stats_t *out) {
    return kb->ops->drug_stats(kb, out);
}

int ms_kb_drug_find(ms_kb_t *kb, const char *name, ms_kb_drug_t *out) {
    return kb->ops->drug_find(kb, name, out);
}

int ms_kb_drug_mentions(ms_kb_t *kb, const char *text, size_t max, ms_kb_mention_t **out,
                        size_t *n) {
    return kb->ops->drug_mentions(kb, text, max, out, n);
}

int ms_kb_drug_classes(ms_kb_t *kb, int64_t id, json_t **out) {
    return kb->ops->drug_classes(kb, id, out);
}

int ms_kb_drug_interactions(ms_kb_t *kb, int64_t a, int64_t b, json_t **out) {
    return kb->ops->drug_interactions(kb, a, b, out);
}

int ms_kb_drug_label(ms_kb_t *kb, int64_t id, json_t **out) {
    return kb->ops->drug_label(kb, id, out);
}

int ms_kb_drug_class_find(ms_kb_t *kb, const char *name, json_t **out) {
    return kb->ops->drug_class_find(kb, name, out);
}
