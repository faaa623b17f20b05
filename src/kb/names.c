/* The medical names the knowledge base knows, and what a question names.
 *
 * Every document focus and synonym (MedQuAD's 11,274 documents: conditions,
 * genes, tests, drugs, supplements; a jsonl record's "focus") is kept in
 * kb_names, normalised to lower-case words ("mifepristone (korlym)" gives
 * "mifepristone korlym", "mifepristone" and "korlym"), with whether the
 * knowledge base holds text about it. Short all-capital synonyms ("CAR" of
 * Carney complex, "ADD") match only when the question writes them in
 * capitals, or every "car" would be a medical word. Documents whose text is
 * not distributed (MedQuAD's A.D.A.M., MedlinePlus Drugs and Herbs subsets)
 * are kept in kb_gaps with their source, URL and the question types they
 * would answer: the answerer can then say plainly that the knowledge base
 * lists metformin but holds nothing on its side effects.
 *
 * At search time the question's word n-grams are looked up: the share of
 * its topic words (not stop-words, not question-type cues) inside a known
 * name is one piece of the evidence the answerer weighs before answering. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_WORDS_MAX 8 /* longest name looked up, in words */
#define Q_WORDS_MAX 256  /* question words looked at */
#define ACRONYM_MAX 6    /* bytes: "ADSL", "ACDMPV" */

/* Whether s[0, n) is written like an acronym: capitals and digits only,
 * at least one capital, short. */
static int is_acronym(const char *s, size_t n) {
    int caps = 0;
    if (n == 0 || n > ACRONYM_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            caps++;
        else if (!(c >= '0' && c <= '9'))
            return 0;
    }
    return caps > 0;
}

/* Folds an English plural to its singular so that the question's
 * "migraines" finds the name "migraine": a final 's' after three letters,
 * unless the word ends in "ss", "us" or "is" ("abscess", "lupus",
 * "psoriasis"). Names are stored as written. */
static void fold_plural(char *w) {
    size_t n = strlen(w);
    if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i')
        w[n - 1] = '\0';
}

/* Normalises s[0, n) into out ("word word"); returns the number of words. */
static size_t normalise(const char *s, size_t n, ms_buf_t *out) {
    ms_kb_word_t w[NAME_WORDS_MAX + 1];
    size_t k = ms_kb_words(s, n, w, NAME_WORDS_MAX + 1);
    ms_buf_reset(out);
    if (k > NAME_WORDS_MAX)
        return 0;
    for (size_t i = 0; i < k; i++) {
        if (i)
            ms_buf_putc(out, ' ');
        ms_buf_puts(out, w[i].w);
    }
    return k;
}

static int put_one(sqlite3 *db, sqlite3_stmt *put, const char *doc_id, const char *s, size_t n,
                   int has_text, ms_buf_t *tmp) {
    while (n > 0 && (*s == ' ' || *s == ','))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == ','))
        n--;
    if (normalise(s, n, tmp) == 0)
        return 0;
    if (tmp->len == 1 || (tmp->len == 2 && ms_kb_is_stopword(tmp->data, tmp->len)))
        return 0; /* "a", "ad": one letter or a stop-word is no name */
    sqlite3_bind_text(put, 1, tmp->data, (int)tmp->len, SQLITE_STATIC);
    sqlite3_bind_text(put, 2, doc_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(put, 3, has_text);
    sqlite3_bind_int(put, 4, is_acronym(s, n));
    int rc = sqlite3_step(put);
    sqlite3_reset(put);
    sqlite3_clear_bindings(put);
    if (rc != SQLITE_DONE) {
        ms_kb__set_error("put name: %s", sqlite3_errmsg(db));
        return MS_EIO;
    }
    return 0;
}

int ms_kb__names_put(sqlite3 *db, sqlite3_stmt *put, const char *doc_id, const char *names,
                     int has_text) {
    ms_buf_t tmp;
    int rc = 0;
    if (!names || !doc_id)
        return 0;
    ms_buf_init(&tmp);
    for (const char *p = names; *p && !rc;) {
        size_t len = strcspn(p, ";");
        /* The whole name, and its parts outside and inside parentheses:
         * "Mifepristone (Korlym)", "Polymyxin B (ophthalmic)". */
        rc = put_one(db, put, doc_id, p, len, has_text, &tmp);
        const char *open = memchr(p, '(', len);
        if (!rc && open) {
            const char *close = memchr(open, ')', (size_t)(p + len - open));
            rc = put_one(db, put, doc_id, p, (size_t)(open - p), has_text, &tmp);
            if (!rc && close)
                rc = put_one(db, put, doc_id, open + 1, (size_t)(close - open - 1), has_text, &tmp);
        }
        p += len + (p[len] == ';');
    }
    ms_buf_free(&tmp);
    return rc;
}

int ms_kb__names_backfill(sqlite3 *db) {
    sqlite3_stmt *get = NULL, *put = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT doc_id, focus FROM kb_passages WHERE focus IS NOT NULL"
                           " AND NOT EXISTS (SELECT 1 FROM kb_names)",
                           -1, &get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, MS_KB__PUT_NAME_SQL, -1, &put, NULL) != SQLITE_OK) {
        ms_kb__set_error("names backfill: %s", sqlite3_errmsg(db));
        rc = MS_EIO;
        goto done;
    }
    int r;
    while (!rc && (r = sqlite3_step(get)) == SQLITE_ROW)
        rc = ms_kb__names_put(db, put, (const char *)sqlite3_column_text(get, 0),
                              (const char *)sqlite3_column_text(get, 1), 1);
    if (!rc && r != SQLITE_DONE) {
        ms_kb__set_error("names backfill: %s", sqlite3_errmsg(db));
        rc = MS_EIO;
    }
done:
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    return rc;
}

/* ---- what a question names ---------------------------------------------- */

typedef struct {
    sqlite3_stmt *find; /* name -> has_text, acronym-only */
    sqlite3_stmt *gap;  /* name -> a gap document */
} scan_t;

/* Looks up one n-gram. Returns 1 (a name with text), 2 (a name the kb
 * knows only without text), 0 (unknown) or MS_EIO. */
static int lookup(sqlite3 *db, scan_t *sc, const char *name, size_t n, int caps) {
    sqlite3_bind_text(sc->find, 1, name, (int)n, SQLITE_STATIC);
    sqlite3_bind_int(sc->find, 2, caps);
    int r = sqlite3_step(sc->find), found = 0;
    if (r == SQLITE_ROW && sqlite3_column_type(sc->find, 0) != SQLITE_NULL)
        found = sqlite3_column_int(sc->find, 0) ? 1 : 2;
    sqlite3_reset(sc->find);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        ms_kb__set_error("names: %s", sqlite3_errmsg(db));
        return MS_EIO;
    }
    return found;
}

static void gap_fill(scan_t *sc, const char *name, size_t n, ms_kb__qnames_t *out) {
    sqlite3_bind_text(sc->gap, 1, name, (int)n, SQLITE_STATIC);
    if (sqlite3_step(sc->gap) == SQLITE_ROW) {
        const char *v[3];
        for (int i = 0; i < 3; i++)
            v[i] = (const char *)sqlite3_column_text(sc->gap, i);
        if (v[0]) {
            out->gap_name = ms_xstrdup(v[0]);
            out->gap_source = v[1] ? ms_xstrdup(v[1]) : NULL;
            out->gap_url = v[2] ? ms_xstrdup(v[2]) : NULL;
        }
    }
    sqlite3_reset(sc->gap);
}

/* Whether the question's text writes word w in capitals (an acronym). */
static int written_caps(const char *q, const ms_kb_word_t *w) {
    size_t n = strlen(w->w);
    return is_acronym(q + w->off, n);
}

int ms_kb__names_scan(sqlite3 *db, const char *question, ms_kb__qnames_t *out) {
    scan_t sc = {0};
    ms_kb_word_t *w = NULL;
    uint32_t *marks = NULL;
    ms_buf_t name;
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->medical = -1;
    ms_buf_init(&name);
    if (sqlite3_prepare_v2(db,
                           "SELECT max(has_text) FROM kb_names WHERE name = ?1"
                           " AND (acronym = 0 OR ?2)",
                           -1, &sc.find, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT g.name, g.source, g.url FROM kb_names n JOIN kb_gaps g"
                           " ON g.doc_id = n.doc_id WHERE n.name = ?1 ORDER BY g.doc_id LIMIT 1",
                           -1, &sc.gap, NULL) != SQLITE_OK) {
        ms_kb__set_error("names: %s", sqlite3_errmsg(db));
        rc = MS_EIO;
        goto done;
    }
    sqlite3_stmt *any = NULL;
    int have = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM kb_names LIMIT 1", -1, &any, NULL) == SQLITE_OK)
        have = sqlite3_step(any) == SQLITE_ROW;
    sqlite3_finalize(any);
    if (!have)
        goto done; /* no names known: the evidence is missing, not zero */
    w = ms_xmalloc(Q_WORDS_MAX * sizeof *w);
    marks = ms_xmalloc(Q_WORDS_MAX * sizeof *marks);
    size_t nw = ms_kb_words(question, strlen(question), w, Q_WORDS_MAX);
    ms_kb_qtype_detect(w, nw, marks);
    size_t topic = 0, named = 0;
    for (size_t i = 0; i < nw;) {
        int is_topic = !marks[i] && !ms_kb_is_stopword(w[i].w, strlen(w[i].w));
        size_t span = 0;
        int kind = 0;
        if (!ms_kb_is_stopword(w[i].w, strlen(w[i].w))) {
            /* The longest name starting here that ends on a word that is
             * not a stop-word ("vitamin b12", not "vitamin b12 and"). */
            for (size_t k = nw - i < NAME_WORDS_MAX ? nw - i : NAME_WORDS_MAX; k > 0 && !span;
                 k--) {
                if (ms_kb_is_stopword(w[i + k - 1].w, strlen(w[i + k - 1].w)))
                    continue;
                ms_buf_reset(&name);
                for (size_t j = 0; j < k; j++) {
                    if (j)
                        ms_buf_putc(&name, ' ');
                    ms_buf_puts(&name, w[i + j].w);
                }
                int caps = k == 1 && written_caps(question, &w[i]);
                if ((kind = lookup(db, &sc, name.data, name.len, caps)) < 0) {
                    rc = kind;
                    goto done;
                }
                if (!kind) {
                    /* "migraines" for the name "migraine"; never the other
                     * way ("fall" is not "Falls"). */
                    char last[MS_KB_WORD_MAX];
                    snprintf(last, sizeof last, "%s", w[i + k - 1].w);
                    fold_plural(last);
                    size_t cut = name.len - strlen(w[i + k - 1].w);
                    if (strlen(last) < strlen(w[i + k - 1].w)) {
                        name.len = cut;
                        ms_buf_puts(&name, last);
                        if ((kind = lookup(db, &sc, name.data, name.len, 0)) < 0) {
                            rc = kind;
                            goto done;
                        }
                    }
                }
                if (kind) {
                    span = k;
                    if (kind == 2 && !out->gap_name)
                        gap_fill(&sc, name.data, name.len, out);
                }
            }
        }
        if (!span) {
            topic += (size_t)is_topic;
            i++;
            continue;
        }
        for (size_t j = i; j < i + span; j++) {
            int t = !marks[j] && !ms_kb_is_stopword(w[j].w, strlen(w[j].w));
            topic += (size_t)t;
            named += (size_t)t;
        }
        i += span;
    }
    out->medical = topic ? (double)named / (double)topic : 0;
    out->named = (int)named;
done:
    sqlite3_finalize(sc.find);
    sqlite3_finalize(sc.gap);
    ms_buf_free(&name);
    free(w);
    free(marks);
    return rc;
}

void ms_kb__qnames_clear(ms_kb__qnames_t *q) {
    free(q->gap_name);
    free(q->gap_source);
    free(q->gap_url);
    memset(q, 0, sizeof *q);
}
