/* Spelling correction of query terms against the index vocabulary.
 *
 * Consumer questions are full of misspelt medical words ("diahrrea",
 * "arrhthmia", "Beckwith-Wieddeman"), and a word the index has never seen
 * cannot match anything. For such a word we take the index term (a stem)
 * closest by optimal-string-alignment distance (Levenshtein plus adjacent
 * transposition): at most 1 edit for stems of 5-7 letters and 2 for longer
 * ones, keeping the first two letters (misspellings rarely change them,
 * while they tell apart real words the index happens to lack, such as
 * "fellow" and "follow"; it also keeps the scan to a slice of the
 * vocabulary). Among the candidates the most frequent wins, with each edit
 * costing a factor 10, so "syntoms" becomes "symptom" rather than a rare
 * misspelling that happens to be one edit closer. Shorter words are left
 * alone: at four letters nearly every word is one edit from another. */
#include "kb/kb_internal.h"

#include "core/ms.h"

#include <string.h>

#define SPELL_MAXLEN 40

/* OSA distance, or bound + 1 once it must exceed bound. */
static int osa(const char *a, size_t n, const char *b, size_t m, int bound) {
    int d[SPELL_MAXLEN + 1][SPELL_MAXLEN + 1];
    if (n > SPELL_MAXLEN || m > SPELL_MAXLEN)
        return bound + 1;
    if ((n > m ? n - m : m - n) > (size_t)bound)
        return bound + 1;
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int row_min = bound + 1;
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < row_min)
                row_min = v;
        }
        if (row_min > bound)
            return bound + 1;
    }
    return d[n][m];
}

static int ascii_word(const char *s) {
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z'))
            return 0;
    return 1;
}

typedef struct {
    const char *stem;
    int same;
} same_ctx_t;

static int same_token(void *p, const char *stem, size_t ns, const char *raw, size_t nr) {
    same_ctx_t *c = p;
    (void)raw;
    (void)nr;
    c->same = strlen(c->stem) == ns && memcmp(c->stem, stem, ns) == 0;
    return 1;
}

int ms_kb__spell_correct(sqlite3 *db, ms_kb__tok_t *tok, ms_kb__term_t *term, int64_t *df_out) {
    size_t n = strlen(term->stem);
    *df_out = 0;
    if (n < 5 || n > SPELL_MAXLEN || !ascii_word(term->stem))
        return 0;
    int bound = n >= 8 ? 2 : 1;
    char lo[3] = {term->stem[0], term->stem[1], '\0'};
    char hi[3] = {term->stem[0], (char)(term->stem[1] + 1), '\0'};
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT term, doc FROM kb_fts_vocab WHERE term >= ?1 AND term < ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return MS_EIO;
    sqlite3_bind_text(st, 1, lo, 2, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hi, 2, SQLITE_STATIC);
    char best[MS_KB_WORD_MAX] = "";
    double best_w = 0;
    int64_t best_df = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        size_t m = (size_t)sqlite3_column_bytes(st, 0);
        if (!t || m >= MS_KB_WORD_MAX)
            continue;
        int d = osa(term->stem, n, t, m, bound);
        if (d > bound)
            continue;
        int64_t df = sqlite3_column_int64(st, 1);
        double w = (double)df * (d == 0 ? 1.0 : d == 1 ? 0.1 : 0.01);
        if (w > best_w) {
            best_w = w;
            best_df = df;
            memcpy(best, t, m + 1);
        }
    }
    sqlite3_finalize(st);
    if (!*best)
        return 0;
    /* The MATCH takes words that FTS5 stems again, and a stem is not always
     * its own stem ("hypertens" -> "hyperten"): find a word that stems to
     * it by trying the common English endings. */
    static const char *const endings[] = {"",    "e",   "s",  "ion",  "ing",  "ed",  "y",
                                          "ic",  "al",  "ia", "ive",  "es",   "ous", "ism",
                                          "ate", "ity", "ly", "ment", "ence", "ance"};
    char word[MS_KB_WORD_MAX + 8];
    int found = 0;
    for (size_t i = 0; i < MS_COUNTOF(endings) && !found; i++) {
        snprintf(word, sizeof word, "%s%s", best, endings[i]);
        same_ctx_t c = {best, 0};
        ms_kb__tok_run(tok, word, strlen(word), same_token, &c);
        found = c.same && strlen(word) < MS_KB_WORD_MAX;
    }
    if (!found)
        return 0;
    memcpy(term->stem, best, strlen(best) + 1);
    memcpy(term->word, word, strlen(word) + 1);
    *df_out = best_df;
    return 1;
}
