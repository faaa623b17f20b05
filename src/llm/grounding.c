/* The grounding signal (llm/cite.h ms_llm_grounding): per sentence, the
 * share of its content terms found in the passages it cites. */
#include "llm/cite.h"
#include "llm/llm_int.h"

#include "core/ms.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct {
    UT_hash_handle hh;
    char term[];
} term_t;

typedef struct {
    term_t *set;
} term_set_t;

static void set_add(void *ctx, const char *term, size_t len) {
    term_set_t *s = ctx;
    term_t *t = NULL;
    HASH_FIND(hh, s->set, term, len, t);
    if (t)
        return;
    t = ms_xmalloc(sizeof *t + len + 1);
    memcpy(t->term, term, len + 1);
    HASH_ADD_KEYPTR(hh, s->set, t->term, len, t);
}

/* HASH_CLEAR frees the table and leaves the items chained by hh.next, so
 * they are freed in one walk with no per-item unlinking. */
static void set_free(term_set_t *s) {
    term_t *t = s->set;
    HASH_CLEAR(hh, s->set);
    while (t) {
        term_t *next = t->hh.next;
        free(t);
        t = next;
    }
}

static int set_has(term_set_t *s, const char *term, size_t len) {
    term_t *t = NULL;
    HASH_FIND(hh, s->set, term, len, t);
    return t != NULL;
}

/* The markers [k] of a sentence: which citations it names (mask over
 * 1..ncited, at most 64 tracked) and a copy with the markers blanked, so
 * their digits are not taken for words. */
static uint64_t sentence_marks(const char *s, size_t n, size_t ncited, char *blank) {
    uint64_t mask = 0;
    memcpy(blank, s, n);
    blank[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '[')
            continue;
        size_t j = i + 1, v = 0;
        while (j < n && j - i <= 5 && s[j] >= '0' && s[j] <= '9')
            v = v * 10 + (size_t)(s[j++] - '0');
        if (j < n && s[j] == ']' && j > i + 1) {
            if (v >= 1 && v <= ncited && v <= 64)
                mask |= UINT64_C(1) << (v - 1);
            memset(blank + i, ' ', j - i + 1);
            i = j;
        }
    }
    return mask;
}

typedef struct {
    term_set_t *passages; /* per citation k-1 */
    uint64_t mask;
    size_t total, found;
    term_set_t seen;
} sentence_ctx_t;

static void count_term(void *ctx, const char *term, size_t len) {
    sentence_ctx_t *sc = ctx;
    if (set_has(&sc->seen, term, len))
        return;
    set_add(&sc->seen, term, len);
    sc->total++;
    for (size_t k = 0; k < 64; k++) {
        if ((sc->mask >> k) & 1u && set_has(&sc->passages[k], term, len)) {
            sc->found++;
            return;
        }
    }
}

void ms_llm_grounding(const char *text, size_t len, const ms_kb_hit_t *hits, size_t nhits,
                      const size_t *cited, size_t ncited, double min_overlap, ms_grounding_t *out) {
    memset(out, 0, sizeof *out);
    out->share = -1;
    if (!text || !len)
        return;
    size_t nc = ncited < 64 ? ncited : 64;
    term_set_t *passages = ms_xcalloc(nc ? nc : 1, sizeof *passages);
    for (size_t k = 0; k < nc; k++) {
        if (cited[k] < nhits && hits[cited[k]].text)
            ms_llm_terms(hits[cited[k]].text, strlen(hits[cited[k]].text), set_add, &passages[k]);
    }
    ms_llm_span_t *spans = NULL;
    size_t nspans = 0;
    ms_llm_split_sentences(text, len, &spans, &nspans);
    char *blank = ms_xmalloc(len + 1);
    for (size_t i = 0; i < nspans; i++) {
        if (spans[i].kind == MS_LLM_SPAN_HEADING || spans[i].kind == MS_LLM_SPAN_LEAD)
            continue;
        sentence_ctx_t sc = {.passages = passages};
        sc.mask = sentence_marks(text + spans[i].off, spans[i].len, nc, blank);
        ms_llm_terms(blank, spans[i].len, count_term, &sc);
        set_free(&sc.seen);
        if (sc.total == 0)
            continue;
        out->sentences++;
        if (sc.mask && (double)sc.found >= min_overlap * (double)sc.total)
            out->supported++;
    }
    if (out->sentences)
        out->share = (double)out->supported / (double)out->sentences;
    free(blank);
    free(spans);
    for (size_t k = 0; k < nc; k++)
        set_free(&passages[k]);
    free(passages);
}
