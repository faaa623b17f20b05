/* libFuzzer target: one knowledge-base importer on a file's bytes. Built
 * once per format (fuzz/CMakeLists.txt defines FZ_KB_MEDQUAD, FZ_KB_JSONL,
 * FZ_KB_PUBMEDQA or FZ_KB_TEXT).
 *
 * The importers are driven through their internal entry points
 * (kb_internal.h), as ms_kb_import drives them for one file, on an
 * in-memory SQLite database, inside a transaction rolled back after each
 * input: MedQuAD XML from memory (ms_kb__medquad_parse; an optional first
 * line "@<file name>" names the entry), JSON Lines and PubMedQA from a
 * memory stream (PubMedQA: a first line "@json" reads ori_pqal.json's
 * single object instead of lines), plain text / Markdown from a temporary file (its only
 * entry point takes a path).
 *
 * Properties: the result is 0 or MS_EFORMAT (with a message); whatever was
 * stored is what retrieval and the answerer may quote to a client, so every
 * passage has text and every stored string is UTF-8 (RFC 3629) without NUL;
 * a search over what was stored succeeds. */
#include "fuzz_util.h"

#include "core/ms.h"
#include "kb/kb_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sqlite3 *db;
static ms_kb__imp_t imp;
#ifdef FZ_KB_TEXT
static char text_path[64];

static void cleanup(void) {
    unlink(text_path);
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_quiet_log();
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || ms_kb_init(db) != 0 ||
        ms_kb__imp_open(&imp, db) != 0)
        abort();
#ifdef FZ_KB_TEXT
    snprintf(text_path, sizeof text_path, "/tmp/medstream-fuzz-%d.md", (int)getpid());
    atexit(cleanup);
#endif
    return 0;
}

/* Every text column of every stored row is UTF-8 without NUL. */
static void check_stored(void) {
    static const char *const sql[] = {
        "SELECT id, title, focus, qtype, text FROM kb_passages",
        "SELECT id, source_type, source, title, url, focus, cuis, pmid, doi, authors, journal"
        " FROM kb_documents",
    };
    for (size_t q = 0; q < MS_COUNTOF(sql); q++) {
        sqlite3_stmt *st;
        FZ_ASSERT(sqlite3_prepare_v2(db, sql[q], -1, &st, NULL) == SQLITE_OK, "%s",
                  sqlite3_errmsg(db));
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *v = (const char *)sqlite3_column_text(st, c);
                int n = sqlite3_column_bytes(st, c);
                if (!v)
                    continue;
                FZ_ASSERT(!memchr(v, '\0', (size_t)n), "%s: NUL stored in column %s", sql[q],
                          sqlite3_column_name(st, c));
                FZ_ASSERT(fz_utf8_valid(v, (size_t)n), "%s: column %s is not UTF-8: %.*s", sql[q],
                          sqlite3_column_name(st, c), n, v);
            }
            if (q == 0) {
                const char *text = (const char *)sqlite3_column_text(st, 4);
                FZ_ASSERT(text && *text, "a passage without text");
            }
        }
        sqlite3_finalize(st);
    }
    ms_kb_hit_t *hits = NULL;
    size_t n = 0;
    FZ_ASSERT(ms_kb_search(db, "what are the symptoms and treatment", 5, &hits, &n) == 0,
              "search after import failed: %s", ms_kb_errmsg());
    ms_kb_hits_free(hits, n);
}

static int import(const uint8_t *data, size_t size) {
#if defined(FZ_KB_MEDQUAD)
    char *name;
    const uint8_t *doc;
    size_t len;
    fz_split_head(data, size, &name, &doc, &len);
    int rc = ms_kb__medquad_parse(&imp, (const char *)doc, len, name ? name : "0000001.xml");
    free(name);
    return rc;
#elif defined(FZ_KB_JSONL) || defined(FZ_KB_PUBMEDQA)
    /* PubMedQA: "@json" first reads the input as ori_pqal.json (one object
     * keyed by PMID) instead of JSON Lines. */
    char *head;
    const uint8_t *doc;
    size_t len;
    fz_split_head(data, size, &head, &doc, &len);
    int whole = head && !strcmp(head, "json");
    free(head);
    if (len == 0)
        return 0;
    FILE *f = fmemopen((void *)doc, len, "rb");
    FZ_ASSERT(f != NULL, "fmemopen");
#ifdef FZ_KB_JSONL
    (void)whole;
    int rc = ms_kb__import_jsonl(&imp, f, "fuzz.jsonl", "jsonl");
#else
    int rc = ms_kb__import_pubmedqa(&imp, f, whole ? "fuzz.json" : "fuzz.jsonl");
#endif
    fclose(f);
    return rc;
#elif defined(FZ_KB_TEXT)
    FILE *f = fopen(text_path, "wb");
    FZ_ASSERT(f && fwrite(data, 1, size, f) == size && fclose(f) == 0, "writing %s", text_path);
    return ms_kb__import_text(&imp, text_path);
#else
#error "define FZ_KB_MEDQUAD, FZ_KB_JSONL, FZ_KB_PUBMEDQA or FZ_KB_TEXT"
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ms_kb_import_stats_t stats = {0};
    imp.stats = &stats;
    ms_kb__clear_error();
    FZ_ASSERT(ms_kb__begin(db) == 0, "BEGIN");
    int rc = import(data, size);
    FZ_ASSERT(rc == 0 || rc == MS_EFORMAT, "import returned %d (%s)", rc, ms_kb_errmsg());
    if (rc == MS_EFORMAT)
        FZ_ASSERT(ms_kb_errmsg()[0], "MS_EFORMAT without a message");
    FZ_ASSERT(stats.documents >= 0 && stats.passages >= 0 && stats.skipped >= 0, "counts");
    if (rc == 0) /* ms_kb_import rolls a malformed file back */
        check_stored();
    ms_kb__rollback(db);
    return 0;
}
