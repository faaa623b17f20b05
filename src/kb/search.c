/* Ranked retrieval.
 *
 * Query analysis (query.c, spell.c): the question's words as the index
 * stems them, minus stop-words; words the index has never seen are
 * spelling-corrected against its vocabulary; the question types it asks
 * about ("symptoms", "treatment", "inherited", ...) are detected.
 *
 * Stage 1 asks FTS5 for the best KB_POOL passages by BM25 over an OR of the
 * terms (AND, FTS5's default, would demand every word of a chatty
 * question), with the title (the MedQuAD question), the focus (the
 * condition or drug, with its synonyms) and the body weighted apart. Only
 * the rarer terms go into this MATCH (KB_ROW_BUDGET): bm25() costs about
 * 2-3 us for every row the OR matches, and one word like "symptoms" is in
 * half of MedQuAD.
 *
 * Stage 2 re-ranks the pool with evidence BM25 does not see, computed on
 * the index's own stems:
 *  - coverage: the IDF-weighted share of all the query's terms (the common
 *    ones too) found in the passage's title and focus;
 *  - focus match: the share of the words of the passage's focus (or of the
 *    best-matching synonym) found in the question: one naming "Noonan
 *    syndrome" wants passages about exactly that;
 *  - question type: the passage's MedQuAD qtype is one the question asks.
 * Each feature lies in 0..1 and is added, weighted, to the BM25 score
 * divided by the pool's best. The weights were chosen on the half of the
 * TREC 2017 LiveQA medical questions we have, checked across its two
 * halves and against PubMedQA, and picked from a flat region rather than
 * at a peak (docs/retrieval.md); the held-back halves were never seen. */
#include "kb/kb_internal.h"

#include "core/log.h"
#include "core/ms.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KB_POOL 150                        /* stage-1 candidates re-ranked */
#define KB_ROW_BUDGET 8000                 /* stage 1 ranks about this many rows at most */
#define KB_BM25_ARGS "bm25(2.0, 2.0, 1.0)" /* title, focus, body weights */
#define KB_W_COVERAGE 0.5
#define KB_W_FOCUS 0.5
#define KB_W_QTYPE 0.15
#define KB_VOCAB_DF 100.0 /* a word in this many passages is plainly the kb's vocabulary */
/* A passage of a document the clinician attached to this conversation
 * (kb_scopes): chosen for the conversation, so it outranks a shared
 * passage that matches about as well. Not fitted (the retrieval sets have
 * no attachments); small beside the focus and coverage features. */
#define KB_W_SCOPED 0.25

/* A small open-addressing map from query stems to term indexes. */
#define KB_HASH 128
typedef struct {
    int slot[KB_HASH]; /* term index + 1, 0 = empty */
    const ms_kb__query_t *q;
} term_map_t;

static uint32_t hash(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void map_build(term_map_t *m, const ms_kb__query_t *q) {
    memset(m, 0, sizeof *m);
    m->q = q;
    for (size_t i = 0; i < q->nterms; i++) {
        uint32_t h = hash(q->terms[i].stem, strlen(q->terms[i].stem)) % KB_HASH;
        while (m->slot[h])
            h = (h + 1) % KB_HASH;
        m->slot[h] = (int)i + 1;
    }
}

static int map_find(const term_map_t *m, const char *s, size_t n) {
    uint32_t h = hash(s, n) % KB_HASH;
    while (m->slot[h]) {
        const char *t = m->q->terms[m->slot[h] - 1].stem;
        if (strlen(t) == n && memcmp(t, s, n) == 0)
            return m->slot[h] - 1;
        h = (h + 1) % KB_HASH;
    }
    return -1;
}

/* What tokenizing a candidate's title and focus found. */
typedef struct {
    const term_map_t *map;
    uint8_t has[MS_KB_TERMS_MAX]; /* query term seen */
    int words;                    /* non-stop words in the current name */
    int matched;                  /* of which query terms */
} cand_feat_t;

static int feat_token(void *p, const char *stem, size_t ns, const char *raw, size_t nr) {
    cand_feat_t *f = p;
    if (ms_kb_is_stopword(raw, nr))
        return 0;
    int t = map_find(f->map, stem, ns);
    f->words++;
    if (t >= 0) {
        f->has[t] = 1;
        f->matched++;
    }
    return 0;
}

typedef struct {
    int64_t rowid;
    double bm25; /* positive, higher is better */
    double score;
    double focus_match; /* the focus-match feature, for the answerer */
    int scoped;         /* a passage of a scoped document (an attachment) */
} cand_t;

static int cmp_cand(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    if (x->bm25 != y->bm25)
        return x->bm25 < y->bm25 ? 1 : -1;
    return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}

static int sqlfail(sqlite3 *db, const char *what) {
    ms_kb__set_error("%s: %s", what, sqlite3_errmsg(db));
    ms_log(MS_LOG_ERROR, "kb_sql_error", "\"what\":\"%s\",\"code\":%d", what,
           sqlite3_extended_errcode(db));
    return MS_EIO;
}

/* Looks up each term's passage count (correcting the spelling of terms the
 * index lacks), computes its IDF as FTS5's bm25() does, and chooses the
 * terms of the stage-1 MATCH: the rarest first while the sum of their
 * passage counts stays within KB_ROW_BUDGET, at least one. */
static int term_stats(sqlite3 *db, ms_kb__tok_t *tok, ms_kb__query_t *q, int *use, int *nuse) {
    sqlite3_stmt *st = NULL;
    int64_t total = 0;
    int rc = ms_kb_count(db, &total);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(db, "SELECT doc FROM kb_fts_vocab WHERE term = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return sqlfail(db, "vocabulary");
    for (size_t i = 0; i < q->nterms; i++) {
        ms_kb__term_t *t = &q->terms[i];
        sqlite3_bind_text(st, 1, t->stem, -1, SQLITE_STATIC);
        int64_t df = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        ms_kb__term_t fixed = *t;
        int64_t fdf = 0;
        if (df == 0 && ms_kb__spell_correct(db, tok, &fixed, &fdf) == 1) {
            int dup = 0;
            for (size_t j = 0; j < q->nterms; j++)
                dup |= strcmp(q->terms[j].stem, fixed.stem) == 0;
            if (!dup) {
                *t = fixed;
                df = fdf;
            }
        }
        t->df = df;
        double idf = log(((double)total - (double)df + 0.5) / ((double)df + 0.5));
        t->idf = idf > 1e-6 ? idf : 1e-6;
        use[i] = 0;
    }
    sqlite3_finalize(st);
    int64_t spent = 0;
    *nuse = 0;
    for (;;) {
        int pick = -1;
        for (size_t i = 0; i < q->nterms; i++)
            if (!use[i] && q->terms[i].df > 0 && (pick < 0 || q->terms[i].df < q->terms[pick].df))
                pick = (int)i;
        if (pick < 0 || (spent > 0 && spent + q->terms[pick].df > KB_ROW_BUDGET))
            break;
        use[pick] = 1;
        spent += q->terms[pick].df;
        (*nuse)++;
    }
    return 0;
}

/* The mean over the query's topic terms (question-type cues left out) of
 * min(1, ln(1 + df) / ln(1 + KB_VOCAB_DF)): how much of the question is
 * the knowledge base's vocabulary at all. */
static double vocab_share(const ms_kb__query_t *q) {
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < q->nterms; i++) {
        ms_kb_word_t w;
        snprintf(w.w, sizeof w.w, "%s", q->terms[i].word);
        w.off = 0;
        if (ms_kb_qtype_detect(&w, 1, NULL))
            continue;
        double v = log(1.0 + (double)q->terms[i].df) / log(1.0 + KB_VOCAB_DF);
        sum += v < 1 ? v : 1;
        n++;
    }
    return n ? sum / (double)n : 0;
}

static int stage1(sqlite3 *db, const ms_kb_scope_t *scope, const ms_kb__query_t *q, const int *use,
                  cand_t **out, size_t *nout) {
    ms_buf_t match;
    sqlite3_stmt *st = NULL;
    cand_t *c = NULL;
    size_t n = 0;
    ms_buf_init(&match);
    ms_kb__query_match(q, use, &match);
    /* "rank MATCH" keeps FTS5 on its sorted-by-rank path with our weights.
     * Passages of documents scoped to anything but this conversation of
     * this user are dropped as the sorted rows come (a NULL scope drops
     * every scoped passage: IS NOT compares NULLs as values). */
    if (sqlite3_prepare_v2(db,
                           "SELECT rowid, rank FROM kb_fts WHERE kb_fts MATCH ?1"
                           " AND rank MATCH '" KB_BM25_ARGS "' AND NOT EXISTS (SELECT 1 FROM"
                           " kb_passages p JOIN kb_scopes s ON s.doc_id = p.doc_id WHERE"
                           " p.pk = kb_fts.rowid AND (s.conversation_id IS NOT ?3 OR"
                           " s.user_id IS NOT ?4)) ORDER BY rank LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        ms_buf_free(&match);
        return sqlfail(db, "search");
    }
    sqlite3_bind_text(st, 1, ms_buf_cstr(&match), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, KB_POOL);
    if (scope && scope->conversation_id && scope->user_id) {
        sqlite3_bind_text(st, 3, scope->conversation_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, scope->user_id, -1, SQLITE_STATIC);
    }
    c = ms_xcalloc(KB_POOL, sizeof *c);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW && n < KB_POOL) {
        c[n].rowid = sqlite3_column_int64(st, 0);
        c[n].bm25 = -sqlite3_column_double(st, 1);
        n++;
    }
    int rc = r == SQLITE_DONE || r == SQLITE_ROW ? 0 : sqlfail(db, "search");
    sqlite3_finalize(st);
    ms_buf_free(&match);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    *nout = n;
    return 0;
}

/* Tokenizes the title (group of one name) or the focus column (names
 * separated by ';') and returns the best share of a name's words found in
 * the query; marks the query terms seen. */
static double name_match(ms_kb__tok_t *tok, cand_feat_t *f, const char *s, size_t len) {
    double best = 0;
    const char *end = s + len;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        size_t n = semi ? (size_t)(semi - s) : (size_t)(end - s);
        f->words = f->matched = 0;
        ms_kb__tok_run(tok, s, n, feat_token, f);
        if (f->words > 0 && (double)f->matched / f->words > best)
            best = (double)f->matched / f->words;
        s += n + (semi ? 1 : 0);
    }
    return best;
}

/* Stage 2: the features of each pooled passage and its final score. */
static int rerank(sqlite3 *db, ms_kb__tok_t *tok, const ms_kb__query_t *q, cand_t *c, size_t n) {
    term_map_t map;
    cand_feat_t f;
    sqlite3_stmt *st = NULL;
    double idf_sum = 0, best = 0;
    map_build(&map, q);
    for (size_t i = 0; i < q->nterms; i++)
        idf_sum += q->terms[i].idf;
    for (size_t i = 0; i < n; i++)
        best = c[i].bm25 > best ? c[i].bm25 : best;
    if (sqlite3_prepare_v2(db,
                           "SELECT title, focus, qtype, EXISTS (SELECT 1 FROM kb_scopes s WHERE"
                           " s.doc_id = kb_passages.doc_id) FROM kb_passages WHERE pk = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "rerank");
    for (size_t i = 0; i < n; i++) {
        c[i].score = best > 0 ? c[i].bm25 / best : 0;
        sqlite3_bind_int64(st, 1, c[i].rowid);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            continue;
        }
        memset(&f, 0, sizeof f);
        f.map = &map;
        const char *title = (const char *)sqlite3_column_text(st, 0);
        const char *focus = (const char *)sqlite3_column_text(st, 1);
        if (title)
            name_match(tok, &f, title, (size_t)sqlite3_column_bytes(st, 0));
        double fm = focus ? name_match(tok, &f, focus, (size_t)sqlite3_column_bytes(st, 1)) : 0;
        double cov = 0;
        for (size_t t = 0; t < q->nterms; t++)
            cov += f.has[t] ? q->terms[t].idf : 0;
        cov = idf_sum > 0 ? cov / idf_sum : 0;
        const char *qt = (const char *)sqlite3_column_text(st, 2);
        double qm = (q->qtypes & ms_kb_qtype_bits(qt)) ? 1.0 : 0.0;
        c[i].scoped = sqlite3_column_int(st, 3);
        c[i].score += KB_W_COVERAGE * cov + KB_W_FOCUS * fm + KB_W_QTYPE * qm +
                      (c[i].scoped ? KB_W_SCOPED : 0);
        c[i].focus_match = fm;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

static char *col_dup(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? ms_xstrdup((const char *)s) : NULL;
}

static int load_hits(sqlite3 *db, const cand_t *c, size_t n, ms_kb_hit_t *hits) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT p.id, coalesce(p.title, d.title), d.url, d.source,"
                           " d.source_type, p.text, coalesce(d.focus, p.focus), p.qtype, d.pmid,"
                           " d.doi, d.authors, d.journal, d.year, p.doc_id, p.page, p.section,"
                           " d.biblio FROM kb_passages p"
                           " LEFT JOIN kb_documents d ON d.id = p.doc_id WHERE p.pk = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "load hits");
    for (size_t i = 0; i < n; i++) {
        ms_kb_hit_t *h = &hits[i];
        sqlite3_bind_int64(st, 1, c[i].rowid);
        if (sqlite3_step(st) == SQLITE_ROW) {
            h->id = col_dup(st, 0);
            h->title = col_dup(st, 1);
            h->url = col_dup(st, 2);
            h->source = col_dup(st, 3);
            h->source_type = col_dup(st, 4);
            h->text = col_dup(st, 5);
            h->focus = col_dup(st, 6);
            h->qtype = col_dup(st, 7);
            h->pmid = col_dup(st, 8);
            h->doi = col_dup(st, 9);
            h->authors_json = col_dup(st, 10);
            h->journal = col_dup(st, 11);
            h->year = sqlite3_column_int(st, 12);
            h->doc_id = col_dup(st, 13);
            h->page = sqlite3_column_int(st, 14);
            h->section = col_dup(st, 15);
            h->biblio_json = col_dup(st, 16);
        }
        if (!h->id) /* deleted under us: keep the array well-formed */
            h->id = ms_xstrdup("");
        h->score = c[i].score;
        h->focus_match = c[i].focus_match;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

int ms_kb_search(sqlite3 *db, const char *query, int k, ms_kb_hit_t **hits, size_t *n) {
    return ms_kb_search_in(db, NULL, query, k, hits, n);
}

int ms_kb_search_in(sqlite3 *db, const ms_kb_scope_t *scope, const char *query, int k,
                    ms_kb_hit_t **hits, size_t *n) {
    ms_kb__tok_t *tok = NULL;
    ms_kb__query_t *q = NULL;
    cand_t *c = NULL;
    size_t nc = 0;
    int use[MS_KB_TERMS_MAX], nuse = 0, rc;
    if (!db || !query || !hits || !n)
        return MS_EINVAL;
    *hits = NULL;
    *n = 0;
    ms_kb__clear_error();
    k = k < 1 ? 1 : k > 100 ? 100 : k;
    if ((rc = ms_kb__tok_open(db, &tok)) != 0) {
        ms_kb__set_error("the FTS5 porter tokenizer is not available");
        return rc;
    }
    q = ms_xmalloc(sizeof *q);
    ms_kb__query_parse(tok, query, q);
    if (q->nterms == 0)
        goto done;
    if ((rc = term_stats(db, tok, q, use, &nuse)) != 0 || nuse == 0)
        goto done;
    double vocab = vocab_share(q);
    if ((rc = stage1(db, scope, q, use, &c, &nc)) != 0 || nc == 0)
        goto done;
    if ((rc = rerank(db, tok, q, c, nc)) != 0)
        goto done;
    qsort(c, nc, sizeof *c, cmp_cand);
    size_t out = nc < (size_t)k ? nc : (size_t)k;
    ms_kb_hit_t *h = ms_xcalloc(out, sizeof *h);
    if ((rc = load_hits(db, c, out, h)) != 0) {
        ms_kb_hits_free(h, out);
        goto done;
    }
    /* What the question names, for the answerer to weigh (names.c). */
    ms_kb__qnames_t qn;
    if ((rc = ms_kb__names_scan(db, query, &qn)) != 0) {
        ms_kb_hits_free(h, out);
        goto done;
    }
    for (size_t i = 0; i < out; i++) {
        /* The name evidence is the shared knowledge base's: when the best
         * passage is the conversation's own document it does not apply
         * (kb.h ms_kb_find_in). */
        h[i].q_medical = c[0].scoped ? -1 : qn.medical;
        h[i].q_named = qn.named;
        h[i].q_vocab = vocab;
        h[i].gap_name = qn.gap_name ? ms_xstrdup(qn.gap_name) : NULL;
        h[i].gap_source = qn.gap_source ? ms_xstrdup(qn.gap_source) : NULL;
        h[i].gap_url = qn.gap_url ? ms_xstrdup(qn.gap_url) : NULL;
    }
    ms_kb__qnames_clear(&qn);
    *hits = h;
    *n = out;
done:
    free(c);
    free(q);
    ms_kb__tok_close(tok);
    return rc;
}

void ms_kb_hits_free(ms_kb_hit_t *hits, size_t n) {
    if (!hits)
        return;
    for (size_t i = 0; i < n; i++) {
        ms_kb_hit_t *h = &hits[i];
        free(h->id);
        free(h->title);
        free(h->url);
        free(h->source);
        free(h->source_type);
        free(h->text);
        free(h->focus);
        free(h->qtype);
        free(h->pmid);
        free(h->doi);
        free(h->authors_json);
        free(h->journal);
        free(h->doc_id);
        free(h->biblio_json);
        free(h->gap_name);
        free(h->gap_source);
        free(h->gap_url);
        free(h->section);
    }
    free(hits);
}
