/* Query analysis: tokenizing with the index's own tokenizer, stop-words,
 * the FTS5 MATCH expression, and question-type detection.
 *
 * Tokens come from FTS5's porter + unicode61 tokenizer (looked up through
 * the fts5_api of the connection), so the stems compared while re-ranking
 * are exactly those in the index. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* English function words (after the SMART and Lucene lists) plus the
 * courtesy and filler words of consumer health questions ("please", "thank",
 * "wondering"), which match everywhere and mean nothing to ranking. Sorted
 * for bsearch. */
static const char *const stopwords[] = {
    "a",        "about",     "above",     "actually",  "after",      "again",      "against",
    "ago",      "all",       "almost",    "already",   "also",       "although",   "always",
    "am",       "an",        "and",       "any",       "anyone",     "anything",   "are",
    "aren",     "around",    "as",        "ask",       "asked",      "asking",     "at",
    "be",       "because",   "been",      "before",    "being",      "below",      "between",
    "both",     "but",       "by",        "can",       "cannot",     "could",      "couldn",
    "d",        "dear",      "did",       "didn",      "do",         "does",       "doesn",
    "doing",    "don",       "done",      "down",      "during",     "e",          "each",
    "else",     "etc",       "even",      "ever",      "every",      "few",        "for",
    "from",     "further",   "g",         "get",       "gets",       "getting",    "give",
    "go",       "going",     "got",       "had",       "hadn",       "has",        "hasn",
    "have",     "haven",     "having",    "he",        "hello",      "help",       "her",
    "here",     "hers",      "herself",   "hi",        "him",        "himself",    "his",
    "how",      "however",   "i",         "ie",        "if",         "im",         "in",
    "into",     "is",        "isn",       "it",        "its",        "itself",     "just",
    "kind",     "know",      "let",       "like",      "ll",         "m",          "may",
    "maybe",    "me",        "might",     "mine",      "more",       "most",       "much",
    "must",     "mustn",     "my",        "myself",    "need",       "needs",      "no",
    "nor",      "not",       "now",       "o",         "of",         "off",        "often",
    "oh",       "ok",        "on",        "once",      "only",       "or",         "other",
    "our",      "ours",      "ourselves", "out",       "over",       "own",        "please",
    "question", "questions", "re",        "really",    "regards",    "s",          "said",
    "same",     "say",       "see",       "she",       "should",     "shouldn",    "since",
    "sir",      "so",        "some",      "someone",   "something",  "still",      "such",
    "sure",     "t",         "tell",      "than",      "thank",      "thanks",     "that",
    "the",      "their",     "theirs",    "them",      "themselves", "then",       "there",
    "these",    "they",      "thing",     "things",    "think",      "this",       "those",
    "though",   "through",   "thus",      "to",        "too",        "u",          "under",
    "until",    "up",        "upon",      "us",        "ve",         "very",       "want",
    "wanted",   "was",       "wasn",      "way",       "we",         "well",       "were",
    "weren",    "what",      "whats",     "when",      "where",      "whether",    "which",
    "while",    "who",       "whom",      "whose",     "why",        "will",       "with",
    "within",   "without",   "won",       "wondering", "would",      "wouldn",     "yes",
    "yet",      "you",       "your",      "yours",     "yourself",   "yourselves",
};

static int cmp_word(const void *key, const void *elem) {
    return strcmp((const char *)key, *(const char *const *)elem);
}

int ms_kb__is_stopword(const char *w, size_t n) {
    char low[24];
    if (n == 0 || n >= sizeof low)
        return n == 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)w[i]);
    low[n] = '\0';
    return bsearch(low, stopwords, MS_COUNTOF(stopwords), sizeof stopwords[0], cmp_word) != NULL;
}

/* ---- tokenizer ---------------------------------------------------------- */

struct ms_kb__tok {
    fts5_tokenizer api;
    Fts5Tokenizer *t;
};

static fts5_api *fts5_api_of(sqlite3 *db) {
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api;
}

int ms_kb__tok_open(sqlite3 *db, ms_kb__tok_t **out) {
    fts5_api *api = fts5_api_of(db);
    void *ud = NULL;
    ms_kb__tok_t *k = ms_xcalloc(1, sizeof *k);
    /* Must match the tokenize= option of kb_fts in schema.c. */
    const char *args[] = {"unicode61", "remove_diacritics", "2"};
    if (!api || api->iVersion < 2 ||
        api->xFindTokenizer(api, "porter", &ud, &k->api) != SQLITE_OK ||
        k->api.xCreate(ud, args, 3, &k->t) != SQLITE_OK) {
        free(k);
        return MS_EIO;
    }
    *out = k;
    return 0;
}

void ms_kb__tok_close(ms_kb__tok_t *k) {
    if (!k)
        return;
    if (k->t)
        k->api.xDelete(k->t);
    free(k);
}

typedef struct {
    ms_kb__tok_cb cb;
    void *ctx;
    const char *text;
} tok_run_t;

static int tok_trampoline(void *p, int tflags, const char *tok, int ntok, int start, int end) {
    tok_run_t *r = p;
    if (tflags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    return r->cb(r->ctx, tok, (size_t)ntok, r->text + start, (size_t)(end - start)) ? SQLITE_DONE
                                                                                    : SQLITE_OK;
}

void ms_kb__tok_run(ms_kb__tok_t *k, const char *text, size_t n, ms_kb__tok_cb cb, void *ctx) {
    tok_run_t r = {cb, ctx, text};
    if (n > INT32_MAX)
        n = INT32_MAX;
    k->api.xTokenize(k->t, &r, FTS5_TOKENIZE_DOCUMENT, text, (int)n, tok_trampoline);
}

/* ---- question types ----------------------------------------------------- */

/* MedQuAD question types (the qtype attribute), grouped into the intents a
 * consumer question can show. Cue words match as prefixes of the question's
 * lower-cased words, or as a two-word prefix ("side effect"). The groups
 * follow the 16 disease question types of the MedQuAD paper (Ben Abacha &
 * Demner-Fushman 2019, table 2) and the drug types of MedlinePlus. */
typedef struct {
    const char *cues;   /* '|'-separated word prefixes; "a b" = two words */
    const char *qtypes; /* '|'-separated MedQuAD qtypes */
} qtype_rule_t;

static const qtype_rule_t qtype_rules[] = {
    {"symptom|signs|sign", "symptoms"},
    {"treat|cure|therap|remed|surger|manag", "treatment"},
    {"cause|causing|trigger|reason", "causes"},
    {"inherit|hereditar|genetic|passed down|run in", "inheritance|genetic changes"},
    {"gene|genes|mutation|chromosom", "genetic changes"},
    {"outlook|prognos|life expectancy|surviv|fatal|terminal|curable", "outlook"},
    {"diagnos|test|exam|screen|detect", "exams and tests"},
    {"prevent|avoid", "prevention"},
    {"risk|susceptib", "susceptibility"},
    {"common|prevalen|frequen|how many", "frequency"},
    {"complication", "complications"},
    {"side effect|adverse|reaction", "side effects|severe reaction"},
    {"dose|dosage|dosing|how much", "usage|dose"},
    {"expir|storage|store|dispos|shelf", "storage and disposal"},
    {"interact|alcohol|together|combin|mix", "interactions with medications|interactions with "
                                             "foods|interactions with herbs and supplements|"
                                             "precautions"},
    {"overdos", "emergency or overdose"},
    {"missed|forgot", "forget a dose"},
    {"support group", "support groups"},
    {"research|trial|study|studies", "research"},
    {"stage", "stages"},
    {"brand|generic", "brand names"},
    {"information|info|what is|what are|learn|explain|about", "information"},
};

/* Whether the list "a|b|c" holds s (whole item). */
static int list_has(const char *list, const char *s, size_t n) {
    const char *p = list;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

uint32_t ms_kb__qtype_bits(const char *qtype) {
    uint32_t bits = 0;
    if (!qtype || !*qtype)
        return 0;
    for (size_t i = 0; i < MS_COUNTOF(qtype_rules); i++)
        if (list_has(qtype_rules[i].qtypes, qtype, strlen(qtype)))
            bits |= 1u << i;
    return bits;
}

/* Whether words[i..] start with the cue (one or two word prefixes). */
static int cue_at(const char *cue, size_t cn, char words[][MS_KB_WORD_MAX], size_t nw, size_t i) {
    const char *sp = memchr(cue, ' ', cn);
    size_t a = sp ? (size_t)(sp - cue) : cn;
    if (strncmp(words[i], cue, a) != 0)
        return 0;
    if (!sp)
        return 1;
    return i + 1 < nw && strncmp(words[i + 1], sp + 1, cn - a - 1) == 0;
}

static uint32_t detect_qtypes(char words[][MS_KB_WORD_MAX], size_t nw) {
    uint32_t bits = 0;
    for (size_t r = 0; r < MS_COUNTOF(qtype_rules); r++) {
        const char *p = qtype_rules[r].cues;
        while (*p && !(bits & (1u << r))) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            for (size_t i = 0; i < nw; i++) {
                if (cue_at(p, len, words, nw, i)) {
                    bits |= 1u << r;
                    break;
                }
            }
            if (!bar)
                break;
            p = bar + 1;
        }
    }
    return bits;
}

/* ---- query parsing ------------------------------------------------------ */

typedef struct {
    ms_kb__query_t *q;
    char (*words)[MS_KB_WORD_MAX]; /* every word, lower-cased, for cue matching */
    size_t nwords;
} parse_ctx_t;

static int parse_token(void *p, const char *stem, size_t ns, const char *raw, size_t nr) {
    parse_ctx_t *c = p;
    ms_kb__query_t *q = c->q;
    if (c->nwords < MS_KB_WORDS_MAX && nr < MS_KB_WORD_MAX) {
        for (size_t i = 0; i < nr; i++)
            c->words[c->nwords][i] = (char)tolower((unsigned char)raw[i]);
        c->words[c->nwords][nr] = '\0';
        c->nwords++;
    }
    if (ns >= MS_KB_WORD_MAX || nr >= MS_KB_WORD_MAX || ms_kb__is_stopword(raw, nr))
        return 0;
    size_t t = 0;
    while (t < q->nterms &&
           !(strlen(q->terms[t].stem) == ns && memcmp(q->terms[t].stem, stem, ns) == 0))
        t++;
    if (t == q->nterms) {
        if (q->nterms == MS_KB_TERMS_MAX)
            return 0;
        memcpy(q->terms[t].stem, stem, ns);
        q->terms[t].stem[ns] = '\0';
        for (size_t i = 0; i < nr; i++)
            q->terms[t].word[i] = (char)tolower((unsigned char)raw[i]);
        q->terms[t].word[nr] = '\0';
        q->nterms++;
    }
    return 0;
}

int ms_kb__query_parse(ms_kb__tok_t *tok, const char *text, ms_kb__query_t *q) {
    char(*words)[MS_KB_WORD_MAX] = ms_xmalloc(MS_KB_WORDS_MAX * sizeof *words);
    parse_ctx_t c = {q, words, 0};
    memset(q, 0, sizeof *q);
    ms_kb__tok_run(tok, text, strlen(text), parse_token, &c);
    q->qtypes = detect_qtypes(words, c.nwords);
    free(words);
    return 0;
}

void ms_kb__query_match(const ms_kb__query_t *q, const int *use, ms_buf_t *out) {
    ms_buf_reset(out);
    for (size_t i = 0; i < q->nterms; i++) {
        if (use && !use[i])
            continue;
        if (out->len)
            ms_buf_puts(out, " OR ");
        /* An FTS5 string: double quotes, with '"' doubled
         * (https://sqlite.org/fts5.html#fts5_strings). Tokenizer output
         * never holds one today, but the guarantee must not depend on it. */
        ms_buf_putc(out, '"');
        for (const char *s = q->terms[i].word; *s; s++) {
            if (*s == '"')
                ms_buf_putc(out, '"');
            ms_buf_putc(out, *s);
        }
        ms_buf_putc(out, '"');
    }
}

int ms_kb_query_build(sqlite3 *db, const char *query, char **match) {
    ms_kb__tok_t *tok = NULL;
    ms_kb__query_t *q = NULL;
    ms_buf_t b;
    if (!db || !query || !match)
        return MS_EINVAL;
    *match = NULL;
    if (ms_kb__tok_open(db, &tok) != 0)
        return MS_EIO;
    q = ms_xmalloc(sizeof *q);
    ms_kb__query_parse(tok, query, q);
    ms_buf_init(&b);
    ms_kb__query_match(q, NULL, &b);
    if (b.len)
        *match = ms_buf_take(&b);
    ms_buf_free(&b);
    free(q);
    ms_kb__tok_close(tok);
    return 0;
}
