/* Scoped documents (kb.h ms_kb_scoped_put): passages that one
 * conversation's searches see and no other's, such as the text of a file
 * attached to it. They live in kb_passages beside the shared ones, so they
 * are ranked by the same BM25 and re-ranking; kb_scopes says whose they
 * are, and ms_kb_search_in drops other scopes' passages. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sqlerr(sqlite3 *db, const char *what) {
    ms_kb__set_error("%s: %s", what, sqlite3_errmsg(db));
    return MS_EIO;
}

/* Runs sql with text parameters (NULL binds SQL NULL). */
static int run(sqlite3 *db, const char *sql, const char *const *args, int nargs) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlerr(db, "scoped prepare");
    for (int i = 0; i < nargs; i++)
        if (args[i])
            sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sqlerr(db, "scoped write");
}

static int remove_rows(sqlite3 *db, const char *doc_id) {
    const char *a[] = {doc_id};
    int rc;
    if ((rc = run(db, "DELETE FROM kb_passages WHERE doc_id = ?1", a, 1)) != 0 ||
        (rc = run(db, "DELETE FROM kb_documents WHERE id = ?1", a, 1)) != 0 ||
        (rc = run(db, "DELETE FROM kb_scopes WHERE doc_id = ?1", a, 1)) != 0)
        return rc;
    return 0;
}

static int put_passages(sqlite3 *db, const ms_kb_scoped_doc_t *doc,
                        const ms_kb_scoped_passage_t *ps, size_t n) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO kb_passages(id, doc_id, title, text, page, section)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlerr(db, "scoped passage");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!ps[i].text || !*ps[i].text)
            continue;
        char id[160];
        snprintf(id, sizeof id, "%s:%zu", doc->id, i + 1);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, doc->id, -1, SQLITE_STATIC);
        /* The file name is the passage title: FTS5 weighs it (a question
         * naming "the discharge summary" finds it) and citations show it. */
        sqlite3_bind_text(st, 3, doc->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, ps[i].text, -1, SQLITE_STATIC);
        if (ps[i].page > 0)
            sqlite3_bind_int(st, 5, ps[i].page);
        if (ps[i].section)
            sqlite3_bind_text(st, 6, ps[i].section, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sqlerr(db, "scoped passage");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    sqlite3_finalize(st);
    return rc;
}

int ms_kb_scoped_store(sqlite3 *db, const ms_kb_scope_t *scope, const ms_kb_scoped_doc_t *doc,
                       const ms_kb_scoped_passage_t *ps, size_t n) {
    if (!db || !scope || !scope->conversation_id || !scope->user_id || !doc || !doc->id ||
        !*doc->id || !doc->title || (n && !ps))
        return MS_EINVAL;
    ms_kb__clear_error();
    char *authors = NULL;
    if (doc->author) {
        ms_buf_t b;
        ms_buf_init(&b);
        ms_buf_putc(&b, '[');
        ms_buf_json_str(&b, doc->author, strlen(doc->author));
        ms_buf_putc(&b, ']');
        authors = ms_buf_take(&b);
    }
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)ms_now_ms());
    int rc = ms_kb__begin(db);
    if (rc) {
        free(authors);
        return rc;
    }
    const char *da[] = {doc->id,     doc->source_type ? doc->source_type : "attachment",
                        doc->source, doc->title,
                        doc->url,    authors,
                        now};
    const char *sa[] = {doc->id, scope->conversation_id, scope->user_id};
    if ((rc = remove_rows(db, doc->id)) != 0 ||
        (rc = run(db,
                  "INSERT INTO kb_documents(id, source_type, source, title, url, authors,"
                  " imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, CAST(?7 AS INTEGER))",
                  da, 7)) != 0 ||
        (rc = run(db, "INSERT INTO kb_scopes(doc_id, conversation_id, user_id) VALUES (?1, ?2, ?3)",
                  sa, 3)) != 0 ||
        (rc = put_passages(db, doc, ps, n)) != 0 || (rc = ms_kb__commit(db)) != 0) {
        ms_kb__rollback(db);
        free(authors);
        return rc;
    }
    free(authors);
    return 0;
}

int ms_kb_scoped_remove(sqlite3 *db, const char *doc_id) {
    if (!db || !doc_id)
        return MS_EINVAL;
    ms_kb__clear_error();
    int rc = ms_kb__begin(db);
    if (rc)
        return rc;
    if ((rc = remove_rows(db, doc_id)) != 0 || (rc = ms_kb__commit(db)) != 0) {
        ms_kb__rollback(db);
        return rc;
    }
    return 0;
}
