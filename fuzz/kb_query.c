/* libFuzzer target: a client's question as the knowledge base searches for
 * it (ms_kb_query_build, ms_kb_search) over the starter passages compiled
 * into the binary.
 *
 * Question text reaches SQLite's FTS5 MATCH: ms_kb_query_build promises
 * that no user text can form FTS5 syntax (NEAR, column filters, '*', '-',
 * parentheses), so whatever it builds must be a valid MATCH expression and
 * a search never fails for any question. Hits carry UTF-8 text. */
#include "fuzz_util.h"

#include "kb/fts5.h"
#include "kb/kb.h"

#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>

static sqlite3 *db;
static sqlite3_stmt *match_st;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_quiet_log();
    int n = 0;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || ms_kb_init(db) != 0 ||
        ms_kb_load_starter(db, &n) != 0 || n == 0 ||
        sqlite3_prepare_v2(db, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH ?1", -1, &match_st,
                           NULL) != SQLITE_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *q = fz_strndup(data, size); /* questions are C strings (NUL ends them) */
    char *match = NULL;
    int rc = ms_kb_query_build(db, q, &match);
    FZ_ASSERT(rc == 0, "ms_kb_query_build failed (%d): %s", rc, ms_kb_errmsg());
    if (match) {
        FZ_ASSERT(*match, "an empty MATCH expression instead of NULL");
        sqlite3_bind_text(match_st, 1, match, -1, SQLITE_STATIC);
        int step = sqlite3_step(match_st);
        FZ_ASSERT(step == SQLITE_ROW, "MATCH %s: %s", match, sqlite3_errmsg(db));
        sqlite3_reset(match_st);
        sqlite3_clear_bindings(match_st);
        free(match);
    }
    ms_kb_hit_t *hits = NULL;
    size_t n = 0;
    rc = ms_kb_search(db, q, 5, &hits, &n);
    FZ_ASSERT(rc == 0, "ms_kb_search failed (%d): %s", rc, ms_kb_errmsg());
    FZ_ASSERT(n <= 5, "%zu hits for k=5", n);
    for (size_t i = 0; i < n; i++) {
        FZ_ASSERT(hits[i].id && hits[i].text, "a hit without id or text");
        FZ_ASSERT(fz_utf8_valid(hits[i].text, strlen(hits[i].text)), "hit text not UTF-8");
        FZ_ASSERT(i == 0 || hits[i].score <= hits[i - 1].score, "hits out of order");
    }
    ms_kb_hits_free(hits, n);
    free(q);
    return 0;
}
