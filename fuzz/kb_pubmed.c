/* libFuzzer target: the PubMed/MEDLINE XML importer (src/kb/import_pubmed.c)
 * on a file's bytes, then the citations built from what it stored, in
 * every style and both exports.
 *
 * Built and run by `make fuzz` (fuzz/CMakeLists.txt) on fuzz/corpus/kb_pubmed
 * with fuzz/dict/kb_pubmed.dict. The input
 * is imported through ms_kb__pubmed_parse into an in-memory SQLite
 * database inside a transaction rolled back after each input.
 *
 * Properties: the result is 0 or MS_EFORMAT with a message; every stored
 * string is UTF-8 (RFC 3629) without NUL; a document's authors are a JSON
 * array of strings and its biblio a JSON object; a search over what was
 * stored succeeds; every citation formats in all five styles and as BibTeX
 * and RIS into UTF-8. */
#include "cite/cite.h"
#include "core/log.h"
#include "core/ms.h"
#include "core/utf8.h"
#include "kb/kb_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "property broken: %s (%s)\n", what, #cond);                            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static sqlite3 *db;
static ms_kb__imp_t imp;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ms_log_set_level((ms_log_level_t)(MS_LOG_ERROR + 1)); /* quiet: malformed input is the point */
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || ms_kb_init(db) != 0 ||
        ms_kb__imp_open(&imp, db) != 0)
        abort();
    return 0;
}

static void utf8_ok(const char *s, size_t n, const char *what) {
    CHECK(!memchr(s, '\0', n), what);
    CHECK(ms_utf8_valid(s, n), what);
}

static void check_stored(void) {
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT d.id, d.title, d.pmid, d.doi, d.authors, d.journal, d.biblio,"
                             " p.id, p.text FROM kb_documents d JOIN kb_passages p"
                             " ON p.doc_id = d.id",
                             -1, &st, NULL) == SQLITE_OK,
          "prepare");
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            if (v)
                utf8_ok(v, (size_t)sqlite3_column_bytes(st, c), "stored text is UTF-8");
        }
        const char *text = (const char *)sqlite3_column_text(st, 8);
        CHECK(text && *text, "a passage has text");
        const char *au = (const char *)sqlite3_column_text(st, 4);
        if (au) {
            json_t *a = json_loads(au, 0, NULL);
            CHECK(json_is_array(a), "authors is an array");
            size_t i;
            json_t *v;
            json_array_foreach(a, i, v) CHECK(json_is_string(v), "authors are strings");
            json_decref(a);
        }
        const char *bib = (const char *)sqlite3_column_text(st, 6);
        if (bib) {
            json_t *b = json_loads(bib, 0, NULL);
            CHECK(json_is_object(b), "biblio is an object");
            json_decref(b);
        }
    }
    sqlite3_finalize(st);
}

static void check_citations(void) {
    ms_kb_hit_t *hits = NULL;
    size_t n = 0;
    CHECK(ms_kb_search(db, "study results patients treatment", 5, &hits, &n) == 0, "search");
    size_t *cited = calloc(n ? n : 1, sizeof *cited);
    for (size_t i = 0; i < n; i++)
        cited[i] = i;
    json_t *cits = ms_kb_citations(hits, n, cited, n);
    ms_cite_date_t acc = {2024, 5, 1};
    size_t i;
    json_t *c;
    json_array_foreach(cits, i, c) {
        for (int s = MS_CITE_APA; s <= MS_CITE_AMA; s++) {
            ms_cite_ref_t r;
            CHECK(ms_cite_format(c, (ms_cite_style_t)s, &acc, &r) == 0, "format");
            utf8_ok(r.text, strlen(r.text), "reference is UTF-8");
            utf8_ok(r.html, strlen(r.html), "HTML is UTF-8");
            ms_cite_ref_free(&r);
        }
    }
    char *bib = ms_cite_bibtex(cits, &acc), *ris = ms_cite_ris(cits, &acc);
    utf8_ok(bib, strlen(bib), "BibTeX is UTF-8");
    utf8_ok(ris, strlen(ris), "RIS is UTF-8");
    free(bib);
    free(ris);
    json_decref(cits);
    free(cited);
    ms_kb_hits_free(hits, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ms_kb_import_stats_t stats = {0};
    imp.stats = &stats;
    ms_kb__clear_error();
    CHECK(ms_kb__begin(db) == 0, "BEGIN");
    int rc = ms_kb__pubmed_parse(&imp, (const char *)data, size, "fuzz.xml");
    CHECK(rc == 0 || rc == MS_EFORMAT, "result is 0 or MS_EFORMAT");
    if (rc == MS_EFORMAT)
        CHECK(ms_kb_errmsg()[0], "MS_EFORMAT has a message");
    CHECK(stats.documents >= 0 && stats.passages >= 0 && stats.skipped >= 0, "counts");
    check_stored();
    check_citations();
    ms_kb__rollback(db);
    return 0;
}
