/* The offline answerer: a grounded, extractive answer built only from
 * sentences of the retrieved passages.
 *
 * 1. Query terms come from the question; a follow-up ("what about
 *    treatment?", "how is it treated?") borrows the conversation's focus
 *    (kb/followup.h, shared with retrieval) at half weight.
 * 2. Passages are cut into candidate units: prose sentences, and lists kept
 *    whole with their lead-in ("Other symptoms include" + items), since a
 *    lone item ("joint aches") answers nothing.
 * 3. Each unit is scored with BM25 (Robertson et al., TREC-3 1994; k1 1.2,
 *    b 0.75) over the candidate units, so IDF reflects what distinguishes
 *    sentences within this retrieval. As in Edmundson's extracting methods
 *    (JACM 16(2), 1969: key, title and location), a unit also inherits part
 *    of its relevance from its passage's title (a MedQuAD passage's title is
 *    the question it answers), more so near the passage's start; and it is
 *    weighted by a passage factor: title coverage of the query, text
 *    coverage, retrieval rank and score, halved when the title asks about
 *    another aspect ("Is X inherited?" for a symptoms question). Query terms
 *    are topic terms ("acromegaly") or aspect terms ("symptoms", after the
 *    MedQuAD question types); passages about another topic (an asthma
 *    passage that matched only "symptoms") are left out.
 * 4. Maximal Marginal Relevance (Carbonell & Goldstein, SIGIR 1998) with
 *    lambda 0.7 picks up to max_sentences units, cosine over TF-IDF vectors
 *    as the redundancy measure; near-duplicates are skipped.
 * 5. The chosen units are grouped by passage in rank order and kept in
 *    their original order; prose runs form paragraphs, a list stands alone,
 *    and each paragraph ends with its passage's marker [k]. */
#include "llm/llm_int.h"
#include "llm/provider.h"

#include "kb/kb.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/ms.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MMR_LAMBDA 0.7
#define BM25_K1 1.2
#define BM25_B 0.75
#define MIN_WORDS 4        /* shorter units are fragments, not answers */
#define LIST_MAX_BYTES 700 /* a lead-in plus its items, as quoted */
#define LIST_MAX_ITEMS 15
#define LIST_ITEM_WEIGHT 0.5      /* query terms found only in a list's items */
#define LIST_DL_CAP 1.5           /* a list's length counts as at most 1.5x the average unit */
#define MAX_UNITS 4000            /* bounds the work for 100 long passages */
#define EXPAND_WEIGHT 0.5         /* topic terms borrowed from the previous user turn */
#define COVERAGE_RATIO 0.7        /* passages below this share of the best topic coverage: out */
#define REL_FLOOR 0.25            /* units below this share of the best relevance are not used */
#define SENT_WEIGHT 0.6           /* the unit's own BM25; the rest comes from its passage title */
#define OTHER_ASPECT 0.5          /* factor of a passage whose title asks about another aspect */
#define ASPECT_SYNONYM_WEIGHT 0.5 /* weight of the other words of an aspect the question names */
#define TITLE_ANSWERS 0.99        /* title coverage from which a passage answers the question */
#define POS_DECAY 0.2             /* title relevance inherited at position k: 1 / (1 + 0.2 k) */
#define DUP_SIM 0.8               /* cosine at or above which a unit repeats a chosen one */

/* ---- Vocabulary: term -> dense id, with document frequencies. ---- */

typedef struct {
    char **keys; /* open addressing; NULL = empty slot */
    uint32_t *ids;
    size_t cap, n;
} vocab_t;

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void vocab_grow(vocab_t *v) {
    size_t cap = v->cap ? v->cap * 2 : 256;
    char **keys = ms_xcalloc(cap, sizeof(*keys));
    uint32_t *ids = ms_xcalloc(cap, sizeof(*ids));
    for (size_t i = 0; i < v->cap; i++) {
        if (!v->keys[i])
            continue;
        size_t j = fnv1a(v->keys[i], strlen(v->keys[i])) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = v->keys[i];
        ids[j] = v->ids[i];
    }
    free(v->keys);
    free(v->ids);
    v->keys = keys;
    v->ids = ids;
    v->cap = cap;
}

/* The id of term s, added when add is set; UINT32_MAX when absent. */
static uint32_t vocab_id(vocab_t *v, const char *s, size_t n, int add) {
    if (v->cap == 0 || (add && (v->n + 1) * 2 > v->cap))
        vocab_grow(v);
    size_t j = fnv1a(s, n) & (v->cap - 1);
    while (v->keys[j]) {
        if (strncmp(v->keys[j], s, n) == 0 && v->keys[j][n] == '\0')
            return v->ids[j];
        j = (j + 1) & (v->cap - 1);
    }
    if (!add)
        return UINT32_MAX;
    v->keys[j] = ms_xstrndup(s, n);
    v->ids[j] = (uint32_t)v->n;
    return (uint32_t)v->n++;
}

static void vocab_free(vocab_t *v) {
    for (size_t i = 0; i < v->cap; i++)
        free(v->keys[i]);
    free(v->keys);
    free(v->ids);
}

/* ---- Collecting term ids. ---- */

typedef struct {
    vocab_t *vocab;
    int add;
    uint32_t *ids;
    size_t n, cap;
} ids_t;

static void ids_cb(void *ctx, const char *term, size_t len) {
    ids_t *a = ctx;
    uint32_t id = vocab_id(a->vocab, term, len, a->add);
    if (id == UINT32_MAX)
        return;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->ids = ms_xrealloc(a->ids, a->cap * sizeof(*a->ids));
    }
    a->ids[a->n++] = id;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* ---- Query. ---- */

typedef struct {
    uint32_t id;
    double w;
    int aspect;  /* names an aspect ("symptoms") rather than the topic */
    int synonym; /* added for an aspect the question names; scores sentences only */
} qterm_t;

typedef struct {
    qterm_t *v;
    size_t n, cap;
    size_t ntopic; /* terms naming no aspect: the topic */
} query_t;

static void query_add(query_t *q, uint32_t id, double w, int aspect) {
    for (size_t i = 0; i < q->n; i++) {
        if (q->v[i].id == id) {
            if (w > q->v[i].w)
                q->v[i].w = w;
            return;
        }
    }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 8;
        q->v = ms_xrealloc(q->v, q->cap * sizeof(*q->v));
    }
    q->v[q->n++] = (qterm_t){id, w, aspect, 0};
    q->ntopic += !aspect;
}

/* Words naming an aspect of a condition rather than the condition, grouped
 * after the MedQuAD question types (Ben Abacha & Demner-Fushman, BMC
 * Bioinformatics 20:511, 2019). Compared after stemming. */
static const struct {
    const char *word;
    unsigned aspect; /* one bit per group */
} aspect_words[] = {
    {"symptom", 1u << 0},    {"sign", 1u << 0},         {"cause", 1u << 1},
    {"trigger", 1u << 1},    {"treatment", 1u << 2},    {"therapy", 1u << 2},
    {"management", 1u << 2}, {"cure", 1u << 2},         {"medication", 1u << 2},
    {"diagnosis", 1u << 3},  {"test", 1u << 3},         {"exam", 1u << 3},
    {"prevent", 1u << 4},    {"prevention", 1u << 4},   {"outlook", 1u << 5},
    {"prognosis", 1u << 5},  {"risk", 1u << 6},         {"susceptible", 1u << 6},
    {"inherited", 1u << 7},  {"inheritance", 1u << 7},  {"genetic", 1u << 7},
    {"gene", 1u << 7},       {"complication", 1u << 8}, {"stage", 1u << 9},
    {"side", 1u << 10},      {"effect", 1u << 10},      {"research", 1u << 11},
    {"trial", 1u << 11},
};

/* aspect_words stemmed, once for all threads. */
static char aspect_stems[MS_COUNTOF(aspect_words)][MS_LLM_MAX_TERM + 1];
static pthread_once_t aspect_once = PTHREAD_ONCE_INIT;

static void aspect_init(void) {
    for (size_t i = 0; i < MS_COUNTOF(aspect_words); i++) {
        size_t n = strlen(aspect_words[i].word);
        memcpy(aspect_stems[i], aspect_words[i].word, n + 1);
        ms_llm_stem(aspect_stems[i], n);
    }
}

/* The aspect group bit of a stemmed term, 0 if it names none. */
static unsigned aspect_of(const char *term) {
    pthread_once(&aspect_once, aspect_init);
    for (size_t i = 0; i < MS_COUNTOF(aspect_words); i++)
        if (strcmp(aspect_stems[i], term) == 0)
            return aspect_words[i].aspect;
    return 0;
}

static void aspect_cb(void *ctx, const char *term, size_t len) {
    (void)len;
    *(unsigned *)ctx |= aspect_of(term);
}

/* The aspects a text (a question, a passage title) names. */
static unsigned aspects(const char *text) {
    unsigned mask = 0;
    if (text)
        ms_llm_terms(text, strlen(text), aspect_cb, &mask);
    return mask;
}

typedef struct {
    query_t *q;
    vocab_t *vocab;
    double w;
    int topic_only;
} query_ctx_t;

static void query_term_cb(void *ctx, const char *term, size_t len) {
    query_ctx_t *c = ctx;
    int aspect = aspect_of(term) != 0;
    if (c->topic_only && aspect)
        return;
    query_add(c->q, vocab_id(c->vocab, term, len, 1), c->w, aspect);
}

static void query_add_text(query_t *q, vocab_t *vocab, const char *text, double w, int topic_only) {
    query_ctx_t c = {.q = q, .vocab = vocab, .w = w, .topic_only = topic_only};
    ms_llm_terms(text, strlen(text), query_term_cb, &c);
}

/* Builds the weighted query terms: the question's at weight 1; the other
 * words of each aspect the question names, at ASPECT_SYNONYM_WEIGHT (a
 * "symptoms" question is answered by sentences about "signs" too); and for
 * a follow-up, the words it leaves out (the conversation's focus, found by
 * the follow-up detector retrieval uses, kb/followup.h) at EXPAND_WEIGHT. */
static void build_query(const ms_gen_request_t *req, vocab_t *vocab, query_t *q) {
    query_add_text(q, vocab, req->question, 1.0, 0);
    /* Only when the question names its topic: a bare follow-up ("what about
     * treatment?") gets its topic from history, and aspect synonyms there
     * would outweigh it. */
    unsigned asked = q->ntopic ? aspects(req->question) : 0;
    for (size_t i = 0; asked && i < MS_COUNTOF(aspect_words); i++) {
        if (!(aspect_words[i].aspect & asked))
            continue;
        size_t before = q->n;
        query_add(q, vocab_id(vocab, aspect_stems[i], strlen(aspect_stems[i]), 1),
                  ASPECT_SYNONYM_WEIGHT, 1);
        if (q->n > before)
            q->v[before].synonym = 1;
    }
    if (req->nhistory > 0 && (!req->history_roles || !req->history_texts))
        return;
    ms_kb_followup_t f;
    if (ms_kb_followup(req->question, req->history_roles, req->history_texts, req->nhistory, &f) ==
            0 &&
        f.context)
        query_add_text(q, vocab, f.context, EXPAND_WEIGHT, 0);
    ms_kb_followup_clear(&f);
}

/* ---- Candidate units. ---- */

typedef struct {
    uint32_t id, tf;
    int in_lead; /* the term occurs in the unit's lead-in (for prose: the sentence) */
} tf_t;

typedef struct {
    size_t hit, order; /* passage, and span index within it */
    size_t pos;        /* unit index within its passage */
    char *text;        /* as quoted: white space squeezed; lists as "lead\n- item\n- item" */
    int is_list;
    tf_t *tv; /* sorted by id */
    size_t ntv;
    double dl, bm25, rel, norm;
    int eligible, chosen;
    int dependent; /* opens with a reference ("These risk factors", "It") */
    size_t prev;   /* the unit before it in its passage, or SIZE_MAX */
} unit_t;

typedef struct {
    unit_t *v;
    size_t n, cap;
    vocab_t *vocab;
    size_t pos; /* units so far from the current passage */
} units_t;

/* Whether a unit's subject is a reference to what came before it in its
 * passage: it opens with a demonstrative or a pronoun ("These risk
 * factors are associated with gout.", "This test...", "It can also be
 * spread...") or speaks of "a different" test or "the above". Quoted
 * alone it names nothing, so it is only used after the unit it follows. A
 * list's lead-in is exempt: "These risk factors..." there points at the
 * items quoted with it. */
static int refers_back(const char *text) {
    static const char *const openers[] = {"this", "these",   "those",  "that",   "such", "it",
                                          "its",  "they",    "their",  "them",   "both", "he",
                                          "she",  "another", "either", "neither"};
    static const char *const inside[] = {"a different ", "the above", "the latter", "the former"};
    char w[16];
    size_t n = 0;
    const char *p = text;
    while (*p == '-' || *p == ' ' || *p == '(' || *p == '"')
        p++;
    while (n + 1 < sizeof(w) && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        w[n++] = (char)(*p++ | 0x20);
    w[n] = '\0';
    for (size_t i = 0; i < MS_COUNTOF(openers); i++)
        if (strcmp(w, openers[i]) == 0 && (*p == ' ' || *p == ','))
            return 1;
    for (size_t i = 0; i < MS_COUNTOF(inside); i++)
        if (strcasestr(text, inside[i]))
            return 1;
    return 0;
}

/* Adds a unit (taking text); for a list, text[0, lead_len) is the lead-in. */
static void unit_add(units_t *u, size_t hit, size_t order, char *text, size_t lead_len,
                     int is_list) {
    if (u->n >= MAX_UNITS) {
        free(text);
        return;
    }
    ids_t a = {.vocab = u->vocab, .add = 1};
    ms_llm_terms(text, lead_len, ids_cb, &a);
    size_t nlead = a.n;
    ms_llm_terms(text + lead_len, strlen(text + lead_len), ids_cb, &a);
    if (a.n == 0) {
        free(text);
        return;
    }
    uint32_t *lead = ms_xmalloc((nlead ? nlead : 1) * sizeof(*lead));
    memcpy(lead, a.ids, nlead * sizeof(*lead));
    qsort(lead, nlead, sizeof(*lead), cmp_u32);
    qsort(a.ids, a.n, sizeof(*a.ids), cmp_u32);
    tf_t *tv = ms_xmalloc(a.n * sizeof(*tv));
    size_t ntv = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (ntv && tv[ntv - 1].id == a.ids[i]) {
            tv[ntv - 1].tf++;
            continue;
        }
        int in_lead = bsearch(&a.ids[i], lead, nlead, sizeof(*lead), cmp_u32) != NULL;
        tv[ntv++] = (tf_t){a.ids[i], 1, in_lead};
    }
    free(lead);
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 64;
        u->v = ms_xrealloc(u->v, u->cap * sizeof(*u->v));
    }
    size_t prev = u->n > 0 && u->v[u->n - 1].hit == hit ? u->n - 1 : SIZE_MAX;
    u->v[u->n++] = (unit_t){.hit = hit,
                            .prev = prev,
                            .dependent = !is_list && refers_back(text),
                            .order = order,
                            .pos = u->pos++,
                            .text = text,
                            .is_list = is_list,
                            .tv = tv,
                            .ntv = ntv,
                            .dl = (double)a.n};
    free(a.ids);
}

static int span_is_item(const ms_llm_span_t *s) {
    return s->kind == MS_LLM_SPAN_ITEM || s->kind == MS_LLM_SPAN_ITEM_MORE;
}

/* A lead-in and the items after it as one unit; returns the index of the
 * first span after the list and adds the bytes quoted to *quoted. */
static size_t add_list(units_t *u, size_t hit, const char *t, const ms_llm_span_t *sp, size_t n,
                       size_t k, size_t *quoted) {
    size_t end = k + 1;
    while (end < n && span_is_item(&sp[end]))
        end++;
    ms_buf_t b = {0};
    ms_llm_put_squeezed(&b, t + sp[k].off, sp[k].len);
    size_t lead_len = b.len;
    size_t items = 0;
    for (size_t j = k + 1; j < end; j++) {
        /* A further sentence of an item continues its line. */
        size_t start = j, stop = j + 1;
        while (stop < end && sp[stop].kind == MS_LLM_SPAN_ITEM_MORE)
            stop++;
        size_t mark = b.len;
        for (size_t m = start; m < stop; m++) {
            ms_buf_puts(&b, m == start ? "\n- " : " ");
            ms_llm_put_squeezed(&b, t + sp[m].off, sp[m].len);
        }
        if (b.len > LIST_MAX_BYTES || items == LIST_MAX_ITEMS) {
            b.len = mark; /* the list is quoted up to here */
            b.data[b.len] = '\0';
            break;
        }
        items++;
        for (size_t m = start; m < stop; m++)
            *quoted += sp[m].len;
        j = stop - 1;
    }
    if (items > 0) {
        *quoted += sp[k].len;
        unit_add(u, hit, k, ms_buf_take(&b), lead_len, 1);
    }
    ms_buf_free(&b);
    return end;
}

/* Whether a prose span can stand alone in an answer. Not: headings,
 * fragments, run-ons; questions (GARD answers open by restating theirs);
 * lead-ins whose list is missing ("include the following:"); and sentences
 * pointing at passage content a quote leaves behind ("the table below"). */
static int contains_ci(const char *s, size_t n, const char *w) {
    size_t k = strlen(w);
    for (size_t j = 0; j + k <= n; j++)
        if ((s[j] | 0x20) == w[0] && strncasecmp(s + j, w, k) == 0)
            return 1;
    return 0;
}

static int quotable(const char *s, size_t n, ms_llm_span_kind_t kind) {
    static const char *const elsewhere[] = {"the following",  "the table below", "listed below",
                                            "shown below",    "see below",       "the list below",
                                            "described below"};
    if (kind == MS_LLM_SPAN_HEADING || n > MS_LLM_MAX_SENTENCE || s[n - 1] == ':' ||
        s[n - 1] == '?' || ms_llm_count_words(s, n) < MIN_WORDS)
        return 0;
    /* A list item without its lead-in stands alone only as a sentence:
     * "Treatment Methods for Kidney Failure: Hemodialysis" is a link title. */
    if ((kind == MS_LLM_SPAN_ITEM || kind == MS_LLM_SPAN_ITEM_MORE) && s[n - 1] != '.' &&
        s[n - 1] != '!' && s[n - 1] != ')' && s[n - 1] != '"')
        return 0;
    if (!contains_ci(s, n, "following") && !contains_ci(s, n, "below"))
        return 1;
    for (size_t i = 0; i < MS_COUNTOF(elsewhere); i++)
        if (contains_ci(s, n, elsewhere[i]))
            return 0;
    return 1;
}

/* Drops a reference number glued to a sentence's end ("...not been
 * identified.[5209]"): quoted, it would read as one of the answer's own
 * markers. What is left is still the passage's text, verbatim. */
static void trim_footnote(ms_buf_t *b) {
    size_t n = b->len;
    if (n < 3 || b->data[n - 1] != ']')
        return;
    size_t i = n - 1;
    while (i > 0 && ((b->data[i - 1] >= '0' && b->data[i - 1] <= '9') || b->data[i - 1] == ',' ||
                     b->data[i - 1] == ' ' || b->data[i - 1] == '-'))
        i--;
    if (i == 0 || i == n - 1 || b->data[i - 1] != '[')
        return;
    i--;
    while (i > 0 && b->data[i - 1] == ' ')
        i--;
    if (i == 0)
        return;
    b->len = i;
    b->data[i] = '\0';
}

/* Adds the units of passage t; returns the share of its text they quote. */
static double add_passage_units(units_t *u, size_t hit, const char *t) {
    ms_llm_span_t *sp;
    size_t n, quoted = 0, total = 0;
    ms_llm_split_sentences(t, strlen(t), &sp, &n);
    for (size_t k = 0; k < n; k++)
        total += sp[k].len;
    u->pos = 0;
    for (size_t k = 0; k < n;) {
        if (sp[k].kind == MS_LLM_SPAN_LEAD && k + 1 < n && span_is_item(&sp[k + 1])) {
            k = add_list(u, hit, t, sp, n, k, &quoted);
            continue;
        }
        if (quotable(t + sp[k].off, sp[k].len, sp[k].kind)) {
            quoted += sp[k].len;
            ms_buf_t b = {0};
            ms_llm_put_squeezed(&b, t + sp[k].off, sp[k].len);
            trim_footnote(&b);
            size_t len = b.len;
            unit_add(u, hit, k, ms_buf_take(&b), len, 0);
        }
        k++;
    }
    free(sp);
    return total ? (double)quoted / (double)total : 0;
}

/* Share of the query weight whose terms occur in the given fields; with
 * topic set, of the topic terms only (when the query has any). */
static double coverage(const char *const *fields, size_t nfields, vocab_t *vocab, const query_t *q,
                       int topic) {
    topic = topic && q->ntopic > 0;
    ids_t a = {.vocab = vocab, .add = 0};
    for (size_t f = 0; f < nfields; f++)
        if (fields[f])
            ms_llm_terms(fields[f], strlen(fields[f]), ids_cb, &a);
    double got = 0, all = 0;
    for (size_t i = 0; i < q->n; i++) {
        if ((topic && q->v[i].aspect) || q->v[i].synonym)
            continue;
        all += q->v[i].w;
        for (size_t j = 0; j < a.n; j++) {
            if (a.ids[j] == q->v[i].id) {
                got += q->v[i].w;
                break;
            }
        }
    }
    free(a.ids);
    return all > 0 ? got / all : 0;
}

static const tf_t *unit_tf(const unit_t *s, uint32_t id) {
    size_t lo = 0, hi = s->ntv;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->tv[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->ntv && s->tv[lo].id == id ? &s->tv[lo] : NULL;
}

static double cosine(const unit_t *a, const unit_t *b, const double *idf) {
    if (a->norm == 0 || b->norm == 0)
        return 0;
    double dot = 0;
    for (size_t i = 0, j = 0; i < a->ntv && j < b->ntv;) {
        if (a->tv[i].id < b->tv[j].id) {
            i++;
        } else if (a->tv[i].id > b->tv[j].id) {
            j++;
        } else {
            double w = idf[a->tv[i].id];
            dot += (1 + log(a->tv[i].tf)) * (1 + log(b->tv[j].tf)) * w * w;
            i++;
            j++;
        }
    }
    return dot / (a->norm * b->norm);
}

/* What a passage contributes to the relevance of its units. */
typedef struct {
    double title;     /* query weight covered by title and focus, 0..1 */
    double factor;    /* multiplies its units' relevance; < 0: passage not used */
    int other_aspect; /* its title asks about an aspect the question does not */
} passage_t;

/* Scores every unit (bm25, rel, norm, eligible); returns the number of
 * eligible units. */
static size_t score_units(units_t *u, const query_t *q, const passage_t *ps, double **idf_out) {
    size_t nv = u->vocab->n;
    double *idf = ms_xcalloc(nv ? nv : 1, sizeof(*idf));
    size_t *df = ms_xcalloc(nv ? nv : 1, sizeof(*df));
    double avgdl = 0;
    for (size_t i = 0; i < u->n; i++) {
        for (size_t j = 0; j < u->v[i].ntv; j++)
            df[u->v[i].tv[j].id]++;
        avgdl += u->v[i].dl;
    }
    avgdl = u->n ? avgdl / (double)u->n : 1;
    double N = (double)u->n;
    for (size_t t = 0; t < nv; t++)
        idf[t] = log(1 + (N - (double)df[t] + 0.5) / ((double)df[t] + 0.5));
    free(df);

    double max_bm25 = 0;
    for (size_t i = 0; i < u->n; i++) {
        unit_t *s = &u->v[i];
        if (s->is_list && s->dl > LIST_DL_CAP * avgdl)
            s->dl = LIST_DL_CAP * avgdl; /* a list is about its lead-in */
        double norm = 0;
        for (size_t j = 0; j < s->ntv; j++) {
            double w = (1 + log(s->tv[j].tf)) * idf[s->tv[j].id];
            norm += w * w;
        }
        s->norm = sqrt(norm);
        double k = BM25_K1 * (1 - BM25_B + BM25_B * s->dl / avgdl);
        for (size_t j = 0; j < q->n; j++) {
            /* In a passage about another aspect, the asked aspect is only
             * mentioned in passing ("relatives never develop symptoms"). */
            if (q->v[j].aspect && ps[s->hit].other_aspect)
                continue;
            const tf_t *e = unit_tf(s, q->v[j].id);
            if (!e)
                continue;
            double tf = e->tf, w = q->v[j].w;
            if (s->is_list) {
                /* A list is about its lead-in: item terms count half, and
                 * a topic repeated in every item counts once. */
                tf = 1;
                w *= e->in_lead ? 1 : LIST_ITEM_WEIGHT;
            }
            s->bm25 += w * idf[q->v[j].id] * tf * (BM25_K1 + 1) / (tf + k);
        }
        if (s->bm25 > max_bm25)
            max_bm25 = s->bm25;
    }
    *idf_out = idf;
    if (max_bm25 <= 0)
        return 0;
    double max_rel = 0;
    for (size_t i = 0; i < u->n; i++) {
        unit_t *s = &u->v[i];
        const passage_t *p = &ps[s->hit];
        double inherited = p->title / (1 + POS_DECAY * (double)s->pos);
        s->rel = (SENT_WEIGHT * s->bm25 / max_bm25 + (1 - SENT_WEIGHT) * inherited) * p->factor;
        if (s->rel > max_rel)
            max_rel = s->rel;
    }
    size_t n = 0;
    for (size_t i = 0; i < u->n; i++) {
        unit_t *s = &u->v[i];
        /* A unit without query terms qualifies only in a passage whose
         * title asks the question (Edmundson's title method). */
        int on_topic = s->bm25 > 0 || ps[s->hit].title >= TITLE_ANSWERS;
        s->eligible = on_topic && s->rel >= REL_FLOOR * max_rel;
        n += (size_t)s->eligible;
    }
    return n;
}

/* Greedy MMR selection; returns how many units were chosen. doc[h] names
 * the document of passage h (the index of its first passage): once a unit
 * of a passage is chosen, the document's other passages are out, so that a
 * document is quoted, and cited, once. */
static size_t select_mmr(units_t *u, const double *idf, const size_t *doc, size_t max) {
    size_t nchosen = 0;
    size_t *chosen = ms_xmalloc((max ? max : 1) * sizeof(*chosen));
    while (nchosen < max) {
        double best = -INFINITY;
        size_t bi = SIZE_MAX;
        for (size_t i = 0; i < u->n; i++) {
            unit_t *s = &u->v[i];
            if (!s->eligible || s->chosen)
                continue;
            if (s->dependent && (s->prev == SIZE_MAX || !u->v[s->prev].chosen))
                continue; /* not without the unit it refers to */
            double sim = 0;
            for (size_t c = 0; c < nchosen; c++) {
                const unit_t *o = &u->v[chosen[c]];
                double x = strcmp(s->text, o->text) == 0 ? 1 : cosine(s, o, idf);
                if (x > sim)
                    sim = x;
            }
            if (sim >= DUP_SIM) {
                s->eligible = 0; /* a near-duplicate of a chosen unit */
                continue;
            }
            double mmr = MMR_LAMBDA * s->rel - (1 - MMR_LAMBDA) * sim;
            if (mmr > best) {
                best = mmr;
                bi = i;
            }
        }
        if (bi == SIZE_MAX || best <= 0)
            break;
        u->v[bi].chosen = 1;
        chosen[nchosen++] = bi;
        for (size_t i = 0; i < u->n; i++)
            if (u->v[i].hit != u->v[bi].hit && doc[u->v[i].hit] == doc[u->v[bi].hit])
                u->v[i].eligible = 0;
    }
    free(chosen);
    return nchosen;
}

static int cmp_unit_pos(const void *a, const void *b) {
    const unit_t *x = a, *y = b;
    if (x->hit != y->hit)
        return (x->hit > y->hit) - (x->hit < y->hit);
    return (x->order > y->order) - (x->order < y->order);
}

/* Writes the chosen units grouped by passage in rank order, in their order
 * within the passage. Prose runs form paragraphs and a list stands alone;
 * the marker [k] of the passage closes each paragraph. */
static void render(units_t *u, ms_buf_t *out, size_t **cited, size_t *ncited) {
    /* Shallow copies: pick borrows the texts of u. */
    unit_t *pick = ms_xmalloc((u->n ? u->n : 1) * sizeof(*pick));
    size_t n = 0;
    for (size_t i = 0; i < u->n; i++)
        if (u->v[i].chosen)
            pick[n++] = u->v[i];
    qsort(pick, n, sizeof(*pick), cmp_unit_pos);
    *cited = ms_xmalloc((n ? n : 1) * sizeof(**cited));
    *ncited = 0;
    for (size_t i = 0; i < n; i++) {
        const unit_t *s = &pick[i], *prev = i ? &pick[i - 1] : NULL;
        const unit_t *next = i + 1 < n ? &pick[i + 1] : NULL;
        int new_group = !prev || prev->hit != s->hit;
        if (prev)
            ms_buf_puts(out, new_group || s->is_list || prev->is_list ? "\n\n" : " ");
        if (new_group)
            (*cited)[(*ncited)++] = s->hit;
        ms_buf_puts(out, s->text);
        if (!next || next->hit != s->hit || s->is_list || next->is_list)
            ms_buf_printf(out, " [%zu]", *ncited);
    }
    free(pick);
}

/* Sets each passage's title coverage and factor (-1: left out) and returns
 * how many passages are used. Left out: passages without text; when some
 * passage's focus (MedQuAD's condition) shares a query term, passages whose
 * focus shares none (an asthma passage for an acromegaly question); and
 * passages whose title, focus and text cover under COVERAGE_RATIO of the
 * best passage's coverage of the topic terms. */
static size_t weigh_passages(const ms_gen_request_t *req, double best_score, vocab_t *vocab,
                             const query_t *q, passage_t *ps) {
    unsigned q_aspects = aspects(req->question);
    double best_cov = 0;
    int focus_matched = 0;
    for (size_t h = 0; h < req->nhits; h++) {
        const ms_kb_hit_t *hit = &req->hits[h];
        const char *all[] = {hit->title, hit->focus, hit->text};
        ps[h].factor = hit->text ? coverage(all, MS_COUNTOF(all), vocab, q, 1) : 0;
        if (ps[h].factor > best_cov)
            best_cov = ps[h].factor;
        const char *focus[] = {hit->focus};
        ps[h].title = hit->focus ? coverage(focus, 1, vocab, q, 1) : -1;
        focus_matched |= ps[h].title > 0;
    }
    size_t used = 0;
    for (size_t h = 0; h < req->nhits && best_cov > 0; h++) {
        const ms_kb_hit_t *hit = &req->hits[h];
        double cov = ps[h].factor / best_cov;
        if (!hit->text || cov < COVERAGE_RATIO || (focus_matched && ps[h].title == 0)) {
            ps[h].factor = -1;
            continue;
        }
        const char *title[] = {hit->title, hit->focus};
        double rank_prior = 1 / (1 + 0.3 * (double)h);
        double score_prior =
            best_score > 0 && hit->score > 0 ? hit->score / best_score : rank_prior;
        ps[h].title = coverage(title, MS_COUNTOF(title), vocab, q, 0);
        ps[h].factor =
            0.1 + 0.9 * (0.6 * ps[h].title + 0.2 * cov + 0.1 * rank_prior + 0.1 * score_prior);
        /* A passage answering another aspect ("Is X inherited?" for a
         * question about symptoms) mentions the asked one only in passing. */
        ps[h].other_aspect = q_aspects && (aspects(hit->title) & ~q_aspects);
        if (ps[h].other_aspect)
            ps[h].factor *= OTHER_ASPECT;
        used++;
    }
    return used;
}

/* The share of the question's own topic terms (and of a follow-up's
 * borrowed ones, at their weight) that the chosen units, or the title and
 * focus of their passages, hold. */
static double covered(const units_t *u, const query_t *q, const ms_gen_request_t *req) {
    double got = 0, all = 0;
    uint8_t *seen = ms_xcalloc(req->nhits ? req->nhits : 1, 1);
    ids_t a = {.vocab = u->vocab, .add = 0};
    for (size_t i = 0; i < u->n; i++) {
        size_t h = u->v[i].hit;
        if (!u->v[i].chosen || seen[h])
            continue;
        seen[h] = 1;
        const char *f[] = {req->hits[h].title, req->hits[h].focus};
        for (size_t k = 0; k < MS_COUNTOF(f); k++)
            if (f[k])
                ms_llm_terms(f[k], strlen(f[k]), ids_cb, &a);
    }
    for (size_t t = 0; t < q->n; t++) {
        if (q->v[t].aspect || q->v[t].synonym)
            continue;
        all += q->v[t].w;
        int found = 0;
        for (size_t i = 0; i < u->n && !found; i++)
            found = u->v[i].chosen && unit_tf(&u->v[i], q->v[t].id) != NULL;
        for (size_t j = 0; j < a.n && !found; j++)
            found = a.ids[j] == q->v[t].id;
        got += found ? q->v[t].w : 0;
    }
    free(a.ids);
    free(seen);
    return all > 0 ? got / all : 0;
}

/* The document of each hit, as the index of the document's first hit. */
static size_t *documents(const ms_gen_request_t *req) {
    size_t *doc = ms_xmalloc((req->nhits ? req->nhits : 1) * sizeof(*doc));
    for (size_t h = 0; h < req->nhits; h++) {
        const char *k = req->hits[h].doc_id ? req->hits[h].doc_id : req->hits[h].id;
        doc[h] = h;
        for (size_t j = 0; k && j < h; j++) {
            const char *kj = req->hits[j].doc_id ? req->hits[j].doc_id : req->hits[j].id;
            if (kj && strcmp(k, kj) == 0) {
                doc[h] = j;
                break;
            }
        }
    }
    return doc;
}

static int no_context(const ms_gen_request_t *req, char **answer, size_t **cited, size_t *ncited) {
    *answer = ms_llm_not_found(req->question, req->hits, req->nhits);
    *cited = NULL;
    *ncited = 0;
    return MS_ENOENT;
}

int ms_offline_compose(const ms_offline_config_t *cfg, const ms_gen_request_t *req, char **answer,
                       size_t **cited, size_t *ncited) {
    if (!answer || !cited || !ncited)
        return MS_EINVAL;
    *answer = NULL;
    *cited = NULL;
    *ncited = 0;
    if (!req || !req->question || (req->nhits > 0 && !req->hits))
        return MS_EINVAL;
    int max_sentences = cfg && cfg->max_sentences > 0 ? cfg->max_sentences : 5;
    double min_score = cfg && cfg->min_score > 0 ? cfg->min_score : 0;

    double best_score = -INFINITY;
    for (size_t i = 0; i < req->nhits; i++)
        if (req->hits[i].score > best_score)
            best_score = req->hits[i].score;
    if (req->nhits == 0 || best_score < min_score ||
        ms_llm_gated(req->question, req->hits, req->nhits))
        return no_context(req, answer, cited, ncited);

    vocab_t vocab = {0};
    query_t q = {0};
    units_t u = {.vocab = &vocab};
    passage_t *ps = ms_xcalloc(req->nhits, sizeof(*ps));
    double *idf = NULL;
    size_t *doc = NULL;
    int rc = 0;

    build_query(req, &vocab, &q);
    if (q.n == 0)
        goto none;

    if (!weigh_passages(req, best_score, &vocab, &q, ps))
        goto none;
    /* A passage whose text is mostly unquotable (a flattened table) leaves
     * only fragments about it ("the frequency of a sign is listed as a
     * rough estimate"): it counts for less. */
    for (size_t h = 0; h < req->nhits; h++)
        if (ps[h].factor >= 0)
            ps[h].factor *= 0.25 + 0.75 * add_passage_units(&u, h, req->hits[h].text);
    doc = documents(req);
    if (score_units(&u, &q, ps, &idf) == 0 || select_mmr(&u, idf, doc, (size_t)max_sentences) == 0)
        goto none;
    ms_llm_evidence_t ev = {.medical = req->hits[0].q_medical,
                            .named = log(1.0 + (double)req->hits[0].q_named),
                            .vocab = req->hits[0].q_vocab,
                            .focus = ms_llm_focus_named(req->hits, req->nhits),
                            .agree = ms_llm_focus_agreement(req->hits, req->nhits),
                            .covered = covered(&u, &q, req)};
    int answer_it = ms_llm_should_answer(&ev);
    ms_log(MS_LOG_DEBUG, "offline_evidence",
           "\"medical\":%.3f,\"named\":%.3f,\"vocab\":%.3f,\"focus\":%.3f,\"agree\":%.3f,"
           "\"covered\":%.3f,\"logit\":%.3f,\"answer\":%d",
           ev.medical, ev.named, ev.vocab, ev.focus, ev.agree, ev.covered, ms_llm_answer_logit(&ev),
           answer_it);
    if (!answer_it)
        goto none;

    ms_buf_t out = {0};
    render(&u, &out, cited, ncited);
    *answer = ms_buf_take(&out);
    goto done;
none:
    rc = no_context(req, answer, cited, ncited);
done:
    for (size_t i = 0; i < u.n; i++) {
        free(u.v[i].text);
        free(u.v[i].tv);
    }
    free(u.v);
    free(q.v);
    free(ps);
    free(idf);
    free(doc);
    vocab_free(&vocab);
    return rc;
}
