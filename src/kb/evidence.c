/* Evidence lookups for the workflows (kb.h "evidence"): which passages of a
 * question type mention a finding, the passages of one document, the
 * documents a name stands for, one passage by id. Unlike ms_kb_search
 * (ranked answers to a question), these are exact: a passage is returned
 * only when its text holds the words asked for. */
#include "kb/kb_internal.h"

#include "core/log.h"
#include "core/ms.h"

#include <stdlib.h>
#include <string.h>

/* Words of one alternative within this many tokens of each other (FTS5
 * NEAR): "shortness of breath" matches "short of breath" no, but "breath
 * ... shortness" yes; a phrase typed by a clinician keeps its sense. */
#define EVIDENCE_NEAR 4
#define EVIDENCE_WORDS 12 /* words of one alternative kept */

static int sqlfail(sqlite3 *db, const char *what) {
    ms_kb__set_error("%s: %s", what, sqlite3_errmsg(db));
    ms_log(MS_LOG_ERROR, "kb_sql_error", "\"what\":\"%s\",\"code\":%d", what,
           sqlite3_extended_errcode(db));
    return MS_EIO;
}

/* The FTS5 expression for the alternatives, restricted to the text column:
 * text : ("fever" OR NEAR("high" "temperature", 4)). Words are
 * ms_kb_words' (letters and digits only, so no FTS5 syntax can appear);
 * stop-words are left out. Returns 0 when no word is left. */
static int build_match(const char *const *alts, size_t n, ms_buf_t *b) {
    int any = 0;
    ms_buf_puts(b, "text : (");
    for (size_t i = 0; i < n; i++) {
        if (!alts[i])
            continue;
        ms_kb_word_t w[EVIDENCE_WORDS];
        size_t nw = ms_kb_words(alts[i], strlen(alts[i]), w, EVIDENCE_WORDS), kept = 0;
        for (size_t k = 0; k < nw; k++)
            if (!ms_kb_is_stopword(w[k].w, strlen(w[k].w)))
                w[kept++] = w[k];
        if (!kept)
            continue;
        ms_buf_puts(b, any ? " OR " : "");
        ms_buf_puts(b, kept > 1 ? "NEAR(" : "");
        for (size_t k = 0; k < kept; k++)
            ms_buf_printf(b, "%s\"%s\"", k ? " " : "", w[k].w);
        if (kept > 1)
            ms_buf_printf(b, ", %d)", EVIDENCE_NEAR);
        any = 1;
    }
    ms_buf_putc(b, ')');
    return any;
}

static char *col_dup(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? ms_xstrdup((const char *)s) : NULL;
}

/* The columns every lookup below selects, in this order. */
#define HIT_COLS                                                                                   \
    "p.id, p.doc_id, coalesce(d.focus, p.focus), coalesce(p.title, d.title), d.url, d.source,"     \
    " d.source_type, p.qtype"

static void hit_from_row(sqlite3_stmt *st, ms_kb_hit_t *h, int text_col) {
    h->id = col_dup(st, 0);
    h->doc_id = col_dup(st, 1);
    h->focus = col_dup(st, 2);
    h->title = col_dup(st, 3);
    h->url = col_dup(st, 4);
    h->source = col_dup(st, 5);
    h->source_type = col_dup(st, 6);
    h->qtype = col_dup(st, 7);
    if (text_col >= 0)
        h->text = col_dup(st, text_col);
    if (!h->id)
        h->id = ms_xstrdup("");
}

int ms_kb_evidence_search_db(sqlite3 *db, const char *const *alts, size_t nalts, const char *qtype,
                             int max, ms_kb_hit_t **hits, size_t *n) {
    *hits = NULL;
    *n = 0;
    if (!alts || !nalts || max < 1)
        return MS_EINVAL;
    ms_buf_t m;
    ms_buf_init(&m);
    if (!build_match(alts, nalts, &m)) {
        ms_buf_free(&m);
        return 0;
    }
    sqlite3_stmt *st = NULL;
    /* bm25 with the title and focus weighted 0: the column filter already
     * keeps only text hits, and a passage's score is how strongly its own
     * words carry the finding (Okapi BM25 as FTS5 computes it:
     * https://sqlite.org/fts5.html#the_bm25_function). */
    if (sqlite3_prepare_v2(db,
                           "SELECT " HIT_COLS ", -bm25(kb_fts, 0.0, 0.0, 1.0) AS s FROM kb_fts"
                           " JOIN kb_passages p ON p.pk = kb_fts.rowid LEFT JOIN kb_documents d ON"
                           " d.id = p.doc_id WHERE kb_fts MATCH ?1 AND (?2 IS NULL OR p.qtype ="
                           " ?2) ORDER BY s DESC, p.pk LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        ms_buf_free(&m);
        return sqlfail(db, "evidence search");
    }
    sqlite3_bind_text(st, 1, ms_buf_cstr(&m), -1, SQLITE_STATIC);
    if (qtype)
        sqlite3_bind_text(st, 2, qtype, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, max);
    size_t cap = 16, k = 0;
    ms_kb_hit_t *h = ms_xcalloc(cap, sizeof *h);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            h = ms_xrealloc(h, 2 * cap * sizeof *h);
            memset(h + cap, 0, cap * sizeof *h);
            cap *= 2;
        }
        hit_from_row(st, &h[k], -1);
        h[k].score = sqlite3_column_double(st, 8);
        k++;
    }
    int rc = r == SQLITE_DONE ? 0 : sqlfail(db, "evidence search");
    sqlite3_finalize(st);
    ms_buf_free(&m);
    if (rc || !k) {
        ms_kb_hits_free(h, k);
        return rc;
    }
    *hits = h;
    *n = k;
    return 0;
}

int ms_kb_evidence_passage_db(sqlite3 *db, const char *id, ms_kb_hit_t *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT " HIT_COLS ", p.text FROM kb_passages p LEFT JOIN kb_documents"
                           " d ON d.id = p.doc_id WHERE p.id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "passage");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = MS_ENOENT;
    if (sqlite3_step(st) == SQLITE_ROW) {
        hit_from_row(st, out, 8);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int ms_kb_evidence_doc_db(sqlite3 *db, const char *doc_id, const char *qtype, ms_kb_hit_t **hits,
                          size_t *n) {
    *hits = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT " HIT_COLS ", p.text FROM kb_passages p LEFT JOIN kb_documents"
                           " d ON d.id = p.doc_id WHERE p.doc_id = ?1 AND (?2 IS NULL OR p.qtype"
                           " = ?2) ORDER BY p.pk LIMIT 50",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "document passages");
    sqlite3_bind_text(st, 1, doc_id, -1, SQLITE_STATIC);
    if (qtype)
        sqlite3_bind_text(st, 2, qtype, -1, SQLITE_STATIC);
    ms_kb_hit_t *h = ms_xcalloc(50, sizeof *h);
    size_t k = 0;
    while (k < 50 && sqlite3_step(st) == SQLITE_ROW)
        hit_from_row(st, &h[k++], 8);
    sqlite3_finalize(st);
    if (!k) {
        free(h);
        return 0;
    }
    *hits = h;
    *n = k;
    return 0;
}

int ms_kb_evidence_named_db(sqlite3 *db, const char *name, const char *qtype, char ***ids,
                            size_t *n) {
    *ids = NULL;
    *n = 0;
    /* kb_names holds names as ms_kb_words joined by spaces (names.c). */
    ms_kb_word_t w[8];
    size_t nw = ms_kb_words(name, strlen(name), w, 8);
    ms_buf_t key;
    ms_buf_init(&key);
    for (size_t i = 0; i < nw; i++) {
        ms_buf_puts(&key, i ? " " : "");
        ms_buf_puts(&key, w[i].w);
    }
    sqlite3_stmt *st = NULL;
    /* Documents with a passage
     * of the question type asked for come first, then by id. */
    if (sqlite3_prepare_v2(db,
                           "SELECT n.doc_id FROM kb_names n WHERE n.name = ?1 AND"
                           " n.has_text = 1 ORDER BY NOT EXISTS (SELECT 1 FROM kb_passages p"
                           " WHERE p.doc_id = n.doc_id AND p.qtype = ?2), n.acronym, n.doc_id"
                           " LIMIT 16",
                           -1, &st, NULL) != SQLITE_OK) {
        ms_buf_free(&key);
        return sqlfail(db, "documents named");
    }
    sqlite3_bind_text(st, 1, ms_buf_cstr(&key), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, qtype ? qtype : "", -1, SQLITE_STATIC);
    char **v = ms_xcalloc(16, sizeof *v);
    size_t k = 0;
    while (k < 16 && sqlite3_step(st) == SQLITE_ROW)
        v[k++] = col_dup(st, 0);
    sqlite3_finalize(st);
    ms_buf_free(&key);
    if (!k) {
        free(v);
        return 0;
    }
    *ids = v;
    *n = k;
    return 0;
}
