/* Knowledge-base schema, the passage writer shared by the importers, and the
 * starter knowledge base.
 *
 * Tables are prefixed kb_ because the store module keeps its own tables in
 * the same database file (and owns PRAGMA user_version, so the kb schema
 * version lives in kb_meta instead). */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/ms.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char ms_kb_starter_jsonl[];
extern const size_t ms_kb_starter_jsonl_len;

/* 1: documents, passages, FTS5, names, gaps. 2 and 3: kb_documents.biblio
 * (the PubMed import's volume, issue, pages, full date, MeSH...), and
 * conversation-scoped documents (kb_scopes) with their passages' page and
 * section (attachments). Two branches each called their step 2; a
 * database at 1 or 2 gains whichever of them it lacks. */
#define KB_SCHEMA_VERSION 3
#define KB_STR_(x) #x
#define KB_STR(x) KB_STR_(x)

/* The FTS5 index uses external content (kb_passages) so the text is stored
 * once; the triggers keep it in step, which is the pattern the FTS5
 * documentation gives for external content tables
 * (https://sqlite.org/fts5.html#external_content_tables). Columns: the
 * passage title (MedQuAD question), the focus (the condition or drug the
 * passage is about) and the body, so ranking can weight them apart. */
static const char kb_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS kb_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS kb_documents("
    " id TEXT PRIMARY KEY, source_type TEXT NOT NULL, source TEXT, title TEXT, url TEXT,"
    " focus TEXT, cuis TEXT, pmid TEXT, doi TEXT, authors TEXT, journal TEXT, year INTEGER,"
    " imported_at INTEGER NOT NULL, biblio TEXT);"
    "CREATE TABLE IF NOT EXISTS kb_passages("
    " pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,"
    " title TEXT, focus TEXT, qtype TEXT, text TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kb_passages_doc ON kb_passages(doc_id);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(title, focus, text,"
    " content='kb_passages', content_rowid='pk',"
    " tokenize='porter unicode61 remove_diacritics 2');"
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts_vocab USING fts5vocab(kb_fts, 'row');"
    "CREATE TRIGGER IF NOT EXISTS kb_passages_ai AFTER INSERT ON kb_passages BEGIN"
    " INSERT INTO kb_fts(rowid, title, focus, text) VALUES (new.pk, new.title, new.focus,"
    " new.text); END;"
    "CREATE TRIGGER IF NOT EXISTS kb_passages_ad AFTER DELETE ON kb_passages BEGIN"
    " INSERT INTO kb_fts(kb_fts, rowid, title, focus, text)"
    " VALUES ('delete', old.pk, old.title, old.focus, old.text); END;"
    "CREATE TRIGGER IF NOT EXISTS kb_passages_au AFTER UPDATE ON kb_passages BEGIN"
    " INSERT INTO kb_fts(kb_fts, rowid, title, focus, text)"
    " VALUES ('delete', old.pk, old.title, old.focus, old.text);"
    " INSERT INTO kb_fts(rowid, title, focus, text) VALUES (new.pk, new.title, new.focus,"
    " new.text); END;"
    /* The names the documents are known by (names.c), and documents whose
     * text the source does not distribute. */
    "CREATE TABLE IF NOT EXISTS kb_names(name TEXT NOT NULL, doc_id TEXT NOT NULL,"
    " has_text INTEGER NOT NULL, acronym INTEGER NOT NULL, PRIMARY KEY(name, doc_id))"
    " WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS kb_names_doc ON kb_names(doc_id);"
    "CREATE TABLE IF NOT EXISTS kb_gaps(doc_id TEXT PRIMARY KEY, source TEXT, name TEXT NOT NULL,"
    " url TEXT, qtypes TEXT);"
    /* 2: documents visible in one conversation only (attachments, scoped.c);
     * their passages are in kb_passages with the rest, so they rank with
     * the shared ones, and the search drops other scopes' passages. */
    "CREATE TABLE IF NOT EXISTS kb_scopes(doc_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS kb_scopes_conversation ON kb_scopes(conversation_id, user_id);"
    "INSERT OR REPLACE INTO kb_meta(key, value) VALUES ('schema_version', " KB_STR(
        KB_SCHEMA_VERSION) ");";

/* Whether kb_passages has the column (a version-1 table has no page and
 * section: they are added in place). */
static int has_column(sqlite3 *db, const char *table, const char *col) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'", table,
             col);
    sqlite3_stmt *st = NULL;
    int have = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK)
        have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return have;
}

static _Thread_local char kb_errbuf[512];

const char *ms_kb_errmsg(void) {
    return kb_errbuf;
}

void ms_kb__clear_error(void) {
    kb_errbuf[0] = '\0';
}

void ms_kb__set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kb_errbuf, sizeof kb_errbuf, fmt, ap);
    va_end(ap);
}

void ms_kb__fail(const char *path, long line, const char *fmt, ...) {
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(kb_errbuf, sizeof kb_errbuf, "%s:%ld: %s", path ? path : "-", line, why);
    else
        snprintf(kb_errbuf, sizeof kb_errbuf, "%s: %s", path ? path : "-", why);
    ms_buf_t f;
    ms_buf_init(&f);
    ms_buf_puts(&f, "\"path\":");
    ms_buf_json_str(&f, path ? path : "-", strlen(path ? path : "-"));
    if (line > 0)
        ms_buf_printf(&f, ",\"line\":%ld", line);
    ms_buf_puts(&f, ",\"reason\":");
    ms_buf_json_str(&f, why, strlen(why));
    ms_log(MS_LOG_WARN, "kb_import_error", "%s", ms_buf_cstr(&f));
    ms_buf_free(&f);
}

static int kb_sqlerr(sqlite3 *db, const char *what) {
    snprintf(kb_errbuf, sizeof kb_errbuf, "%s: %s", what, sqlite3_errmsg(db));
    ms_log(MS_LOG_ERROR, "kb_sql_error", "\"what\":\"%s\",\"code\":%d", what,
           sqlite3_extended_errcode(db));
    return MS_EIO;
}

int ms_kb__exec(sqlite3 *db, const char *sql) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return kb_sqlerr(db, "exec");
    return 0;
}

int ms_kb__begin(sqlite3 *db) {
    /* IMMEDIATE takes the write lock up front, so a concurrent writer makes
     * us wait (busy_timeout) here rather than fail half-way through. */
    return ms_kb__exec(db, "BEGIN IMMEDIATE");
}

int ms_kb__commit(sqlite3 *db) {
    return ms_kb__exec(db, "COMMIT");
}

void ms_kb__rollback(sqlite3 *db) {
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* The stored schema version: 0 when the kb tables are not there yet. */
static int kb_version(sqlite3 *db, int *out) {
    sqlite3_stmt *st = NULL;
    *out = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'kb_gaps'", -1, &st,
                           NULL) != SQLITE_OK)
        return kb_sqlerr(db, "init");
    int have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!have)
        return 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM kb_meta WHERE key = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK)
        return kb_sqlerr(db, "init");
    /* Stored as an INTEGER; SQLite converts a text value the same way. */
    *out = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 1;
    sqlite3_finalize(st);
    return 0;
}

int ms_kb_init(sqlite3 *db) {
    if (!db)
        return MS_EINVAL;
    ms_kb__clear_error();
    /* Cheap path: the schema is there at the current version. */
    int version, rc;
    if ((rc = kb_version(db, &version)) != 0)
        return rc;
    if (version >= KB_SCHEMA_VERSION)
        return ms_kb__drugs_init(db);
    if ((rc = ms_kb__begin(db)) != 0)
        return rc;
    /* Looked at again under the write lock: another connection may have
     * done it meanwhile. */
    if ((rc = kb_version(db, &version)) != 0)
        goto fail;
    /* Every statement of the schema is IF NOT EXISTS / OR REPLACE: on an
     * older database it adds what is missing (kb_scopes) and sets the
     * version; the columns added since version 1 come by ALTER. */
    if ((rc = ms_kb__exec(db, kb_schema_sql)) != 0)
        goto fail;
    if (version > 0 && !has_column(db, "kb_documents", "biblio") &&
        (rc = ms_kb__exec(db, "ALTER TABLE kb_documents ADD COLUMN biblio TEXT;")) != 0)
        goto fail;
    if (!has_column(db, "kb_passages", "page") &&
        (rc = ms_kb__exec(db, "ALTER TABLE kb_passages ADD COLUMN page INTEGER;"
                              "ALTER TABLE kb_passages ADD COLUMN section TEXT;")) != 0)
        goto fail;
    if ((rc = ms_kb__names_backfill(db)) != 0)
        goto fail;
    if ((rc = ms_kb__drugs_init(db)) != 0)
        goto fail;
    if ((rc = ms_kb__commit(db)) != 0)
        goto fail;
    return 0;
fail:
    ms_kb__rollback(db);
    return rc;
}

int ms_kb_count(sqlite3 *db, int64_t *out) {
    sqlite3_stmt *st = NULL;
    if (!db || !out)
        return MS_EINVAL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM kb_passages", -1, &st, NULL) != SQLITE_OK)
        return kb_sqlerr(db, "count");
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = kb_sqlerr(db, "count");
    sqlite3_finalize(st);
    return rc;
}

int ms_kb_parse_format(const char *s, ms_kb_format_t *out) {
    static const struct {
        const char *name;
        ms_kb_format_t fmt;
    } names[] = {{"medquad", MS_KB_MEDQUAD}, {"pubmedqa", MS_KB_PUBMEDQA}, {"jsonl", MS_KB_JSONL},
                 {"text", MS_KB_TEXT},       {"pubmed", MS_KB_PUBMED},     {"drugs", MS_KB_DRUGS}};
    if (!s || !out)
        return MS_EINVAL;
    for (size_t i = 0; i < MS_COUNTOF(names); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].fmt;
            return 0;
        }
    }
    return MS_EINVAL;
}

int ms_kb__imp_open(ms_kb__imp_t *imp, sqlite3 *db) {
    static const char *const sql[] = {
        "DELETE FROM kb_passages WHERE doc_id = ?1",
        "DELETE FROM kb_passages WHERE id = ?1",
        ("INSERT OR REPLACE INTO kb_documents(id, source_type, source, title, url, focus, cuis,"
         " pmid, doi, authors, journal, year, imported_at, biblio)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
        ("INSERT INTO kb_passages(id, doc_id, title, focus, qtype, text)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        "DELETE FROM kb_names WHERE doc_id = ?1",
        MS_KB__PUT_NAME_SQL,
        "INSERT OR REPLACE INTO kb_gaps(doc_id, source, name, url, qtypes) VALUES (?1, ?2, ?3, ?4, "
        "?5)",
    };
    sqlite3_stmt **dst[] = {&imp->del_doc,   &imp->del_passage, &imp->put_doc, &imp->put_passage,
                            &imp->del_names, &imp->put_name,    &imp->put_gap};
    imp->db = db;
    for (size_t i = 0; i < MS_COUNTOF(sql); i++) {
        if (sqlite3_prepare_v2(db, sql[i], -1, dst[i], NULL) != SQLITE_OK) {
            int rc = kb_sqlerr(db, "prepare import");
            ms_kb__imp_close(imp);
            return rc;
        }
    }
    return 0;
}

void ms_kb__imp_close(ms_kb__imp_t *imp) {
    sqlite3_finalize(imp->del_doc);
    sqlite3_finalize(imp->del_passage);
    sqlite3_finalize(imp->put_doc);
    sqlite3_finalize(imp->put_passage);
    sqlite3_finalize(imp->del_names);
    sqlite3_finalize(imp->put_name);
    sqlite3_finalize(imp->put_gap);
    imp->del_doc = imp->del_passage = imp->put_doc = imp->put_passage = NULL;
    imp->del_names = imp->put_name = imp->put_gap = NULL;
}

void ms_kb__imp_progress(ms_kb__imp_t *imp, int64_t file_done, int force) {
    if (!imp->progress)
        return;
    int64_t now = ms_mono_us();
    if (!force && now - imp->last_report_us < 50000)
        return;
    imp->last_report_us = now;
    int64_t done = imp->done + file_done;
    if (imp->total > 0 && done > imp->total)
        done = imp->total;
    imp->progress(imp->ctx, done, imp->total);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s) {
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Runs a bound statement to completion and resets it. */
static int step_done(ms_kb__imp_t *imp, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return kb_sqlerr(imp->db, what);
    return 0;
}

int ms_kb__put(ms_kb__imp_t *imp, const ms_kb__doc_t *doc, const ms_kb__passage_t *ps, size_t n) {
    int rc;
    sqlite3_bind_text(imp->del_doc, 1, doc->id, -1, SQLITE_STATIC);
    if ((rc = step_done(imp, imp->del_doc, "delete document passages")) != 0)
        return rc;
    sqlite3_stmt *d = imp->put_doc;
    sqlite3_bind_text(d, 1, doc->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(d, 2, doc->source_type, -1, SQLITE_STATIC);
    bind_opt(d, 3, doc->source);
    bind_opt(d, 4, doc->title);
    bind_opt(d, 5, doc->url);
    bind_opt(d, 6, doc->focus);
    bind_opt(d, 7, doc->cuis_json);
    bind_opt(d, 8, doc->pmid);
    bind_opt(d, 9, doc->doi);
    bind_opt(d, 10, doc->authors_json);
    bind_opt(d, 11, doc->journal);
    if (doc->year > 0)
        sqlite3_bind_int(d, 12, doc->year);
    else
        sqlite3_bind_null(d, 12);
    sqlite3_bind_int64(d, 13, ms_now_ms());
    bind_opt(d, 14, doc->biblio_json);
    if ((rc = step_done(imp, d, "put document")) != 0)
        return rc;
    int64_t stored = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        char *text = ms_kb__strip_navigation(ps[i].text, &dropped);
        if (!*text) {
            free(text);
            if (imp->stats)
                imp->stats->skipped++;
            continue;
        }
        sqlite3_bind_text(imp->del_passage, 1, ps[i].id, -1, SQLITE_STATIC);
        if ((rc = step_done(imp, imp->del_passage, "delete passage")) != 0) {
            free(text);
            return rc;
        }
        sqlite3_stmt *p = imp->put_passage;
        sqlite3_bind_text(p, 1, ps[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(p, 2, doc->id, -1, SQLITE_STATIC);
        bind_opt(p, 3, ps[i].title);
        bind_opt(p, 4, ps[i].focus);
        bind_opt(p, 5, ps[i].qtype);
        sqlite3_bind_text(p, 6, text, -1, SQLITE_STATIC);
        rc = step_done(imp, p, "put passage");
        free(text);
        if (rc)
            return rc;
        stored++;
    }
    /* The document's names: its focus and each passage's "focus; synonym". */
    sqlite3_bind_text(imp->del_names, 1, doc->id, -1, SQLITE_STATIC);
    if ((rc = step_done(imp, imp->del_names, "delete names")) != 0)
        return rc;
    if ((rc = ms_kb__names_put(imp->db, imp->put_name, doc->id, doc->focus, 1)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (ps[i].focus && (!doc->focus || strcmp(ps[i].focus, doc->focus) != 0) &&
            (rc = ms_kb__names_put(imp->db, imp->put_name, doc->id, ps[i].focus, 1)) != 0)
            return rc;
    if (imp->stats) {
        imp->stats->documents++;
        imp->stats->passages += stored;
        imp->stats->dropped += dropped;
    }
    return 0;
}

int ms_kb__gap_put(ms_kb__imp_t *imp, const ms_kb__doc_t *doc, const char *names,
                   const char *qtypes) {
    int rc;
    if (!doc->focus)
        return 0;
    sqlite3_stmt *g = imp->put_gap;
    sqlite3_bind_text(g, 1, doc->id, -1, SQLITE_STATIC);
    bind_opt(g, 2, doc->source);
    sqlite3_bind_text(g, 3, doc->focus, -1, SQLITE_STATIC);
    bind_opt(g, 4, doc->url);
    bind_opt(g, 5, qtypes);
    if ((rc = step_done(imp, g, "put gap")) != 0)
        return rc;
    sqlite3_bind_text(imp->del_names, 1, doc->id, -1, SQLITE_STATIC);
    if ((rc = step_done(imp, imp->del_names, "delete names")) != 0)
        return rc;
    return ms_kb__names_put(imp->db, imp->put_name, doc->id, names ? names : doc->focus, 0);
}

int ms_kb_load_starter(sqlite3 *db, int *imported) {
    ms_kb__imp_t imp = {0};
    ms_kb_import_stats_t stats = {0};
    FILE *f = NULL;
    int64_t n = 0;
    int rc;
    if (!db)
        return MS_EINVAL;
    if (imported)
        *imported = 0;
    ms_kb__clear_error();
    if ((rc = ms_kb__imp_open(&imp, db)) != 0)
        return rc;
    imp.stats = &stats;
    /* Count inside the write transaction so two processes starting at once
     * cannot both decide the knowledge base is empty. */
    if ((rc = ms_kb__begin(db)) != 0)
        goto fail;
    if ((rc = ms_kb_count(db, &n)) != 0)
        goto fail;
    if (n == 0 && ms_kb_starter_jsonl_len > 0) {
        f = fmemopen((void *)ms_kb_starter_jsonl, ms_kb_starter_jsonl_len, "r");
        if (!f) {
            rc = MS_EIO;
            goto fail;
        }
        if ((rc = ms_kb__import_jsonl(&imp, f, "kb/starter.jsonl", "starter")) != 0)
            goto fail;
    }
    if ((rc = ms_kb__commit(db)) != 0)
        goto fail;
    if (f)
        fclose(f);
    ms_kb__imp_close(&imp);
    if (imported)
        *imported = (int)stats.passages;
    if (stats.passages > 0)
        ms_log(MS_LOG_INFO, "kb_starter_loaded", "\"passages\":%lld", (long long)stats.passages);
    return 0;
fail:
    ms_kb__rollback(db);
    if (f)
        fclose(f);
    ms_kb__imp_close(&imp);
    return rc;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *ms_kb__clean_text(const char *s, size_t n) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_reserve(&b, n);
    size_t i = 0;
    while (i < n && is_blank(s[i]))
        i++;
    while (i < n) {
        size_t start = i;
        while (i < n && !is_blank(s[i]))
            i++;
        ms_buf_append(&b, s + start, i - start);
        int newlines = 0;
        while (i < n && is_blank(s[i]))
            newlines += s[i++] == '\n';
        if (i >= n)
            break;
        ms_buf_puts(&b, newlines >= 2 ? "\n\n" : newlines == 1 ? "\n" : " ");
    }
    b.data[b.len] = '\0';
    return ms_buf_take(&b);
}
