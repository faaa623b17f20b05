/* The word classes shared by retrieval and the offline answerer (words.h):
 * one stop-word list, one tokenizer, one table of question-type cues. */
#include "kb/words.h"

#include "core/ms.h"

#include <stdlib.h>
#include <string.h>

/* English function words (after the SMART and Lucene lists) plus the
 * courtesy and filler words of consumer health questions ("please",
 * "thank", "wondering"). Sorted for bsearch. */
static const char *const stopwords[] = {
    "a",          "about",     "above",     "actually", "after",   "again",     "against",
    "ago",        "all",       "almost",    "already",  "also",    "although",  "always",
    "am",         "an",        "and",       "any",      "anyone",  "anything",  "are",
    "aren",       "around",    "as",        "ask",      "asked",   "asking",    "at",
    "be",         "because",   "been",      "before",   "being",   "below",     "between",
    "both",       "but",       "by",        "can",      "cannot",  "could",     "couldn",
    "d",          "dear",      "did",       "didn",     "do",      "does",      "doesn",
    "doing",      "don",       "done",      "down",     "during",  "e",         "each",
    "else",       "etc",       "even",      "ever",     "every",   "few",       "for",
    "from",       "further",   "g",         "get",      "gets",    "getting",   "give",
    "go",         "going",     "got",       "had",      "hadn",    "has",       "hasn",
    "have",       "haven",     "having",    "he",       "hello",   "help",      "her",
    "here",       "hers",      "herself",   "hi",       "him",     "himself",   "his",
    "how",        "however",   "i",         "ie",       "if",      "im",        "in",
    "into",       "is",        "isn",       "it",       "its",     "itself",    "just",
    "kind",       "know",      "let",       "like",     "ll",      "m",         "may",
    "maybe",      "me",        "might",     "mine",     "more",    "most",      "much",
    "must",       "mustn",     "my",        "myself",   "need",    "needs",     "no",
    "nor",        "not",       "now",       "o",        "of",      "off",       "often",
    "oh",         "ok",        "on",        "once",     "only",    "or",        "other",
    "our",        "ours",      "ourselves", "out",      "over",    "own",       "please",
    "question",   "questions", "re",        "really",   "regards", "s",         "said",
    "same",       "say",       "see",       "shall",    "shan",    "she",       "should",
    "shouldn",    "since",     "sir",       "so",       "some",    "someone",   "something",
    "still",      "such",      "sure",      "t",        "tell",    "than",      "thank",
    "thanks",     "that",      "the",       "their",    "theirs",  "them",      "themselves",
    "then",       "there",     "these",     "they",     "thing",   "things",    "think",
    "this",       "those",     "though",    "through",  "thus",    "to",        "too",
    "u",          "under",     "until",     "up",       "upon",    "us",        "ve",
    "very",       "want",      "wanted",    "was",      "wasn",    "way",       "we",
    "well",       "were",      "weren",     "what",     "whats",   "when",      "where",
    "whether",    "which",     "while",     "who",      "whom",    "whose",     "why",
    "will",       "with",      "within",    "without",  "won",     "wondering", "would",
    "wouldn",     "yes",       "yet",       "you",      "your",    "yours",     "yourself",
    "yourselves",
};

static int cmp_word(const void *key, const void *elem) {
    return strcmp((const char *)key, *(const char *const *)elem);
}

int ms_kb_is_stopword(const char *w, size_t n) {
    char low[24];
    if (n == 0)
        return 1;
    if (n >= sizeof low)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        low[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    low[n] = '\0';
    return bsearch(low, stopwords, MS_COUNTOF(stopwords), sizeof stopwords[0], cmp_word) != NULL;
}

static int word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Bytes of a UTF-8 punctuation mark at t[i] that separates words (U+2000 to
 * U+206F: dashes, curly quotes, bullets; U+00A0), 0 if none. */
static size_t utf8_sep(const char *t, size_t i, size_t len) {
    const unsigned char *u = (const unsigned char *)t;
    if (i + 2 < len && u[i] == 0xE2 && (u[i + 1] == 0x80 || u[i + 1] == 0x81))
        return 3;
    if (i + 1 < len && u[i] == 0xC2 && u[i + 1] == 0xA0)
        return 2;
    return 0;
}

size_t ms_kb_words(const char *text, size_t len, ms_kb_word_t *out, size_t max) {
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        size_t sep = utf8_sep(text, i, len);
        if (sep || !word_byte((unsigned char)text[i])) {
            i += sep ? sep : 1;
            continue;
        }
        size_t start = i, k = 0;
        int too_long = 0;
        while (i < len && !utf8_sep(text, i, len)) {
            unsigned char c = (unsigned char)text[i];
            if (c == '\'' && i + 1 < len && word_byte((unsigned char)text[i + 1]) && k > 0) {
                i++; /* "don't" -> "dont"; a trailing "Graves'" ends the word */
                continue;
            }
            if (!word_byte(c))
                break;
            if (k + 1 < MS_KB_WORD_MAX)
                out[n].w[k++] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
            else
                too_long = 1;
            i++;
        }
        if (too_long)
            continue;
        out[n].w[k] = '\0';
        out[n].off = start;
        n++;
    }
    return n;
}

/* ---- question types ----------------------------------------------------- */

/* Cue words match as prefixes of the question's lower-cased words, or as a
 * two-word prefix ("side effect"). Rows in the order of the MS_KB_QT_ bits. */
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

uint32_t ms_kb_qtype_bits(const char *qtype) {
    uint32_t bits = 0;
    if (!qtype || !*qtype)
        return 0;
    for (size_t i = 0; i < MS_COUNTOF(qtype_rules); i++)
        if (list_has(qtype_rules[i].qtypes, qtype, strlen(qtype)))
            bits |= 1u << i;
    return bits;
}

/* How many words the cue covers at words[i] (1 or 2), 0 if it does not
 * match there. */
static size_t cue_at(const char *cue, size_t cn, const ms_kb_word_t *words, size_t nw, size_t i) {
    const char *sp = memchr(cue, ' ', cn);
    size_t a = sp ? (size_t)(sp - cue) : cn;
    if (strncmp(words[i].w, cue, a) != 0)
        return 0;
    if (!sp)
        return 1;
    return i + 1 < nw && strncmp(words[i + 1].w, sp + 1, cn - a - 1) == 0 ? 2 : 0;
}

uint32_t ms_kb_qtype_detect(const ms_kb_word_t *words, size_t nw, uint32_t *marks) {
    uint32_t bits = 0;
    if (marks)
        memset(marks, 0, nw * sizeof *marks);
    for (size_t r = 0; r < MS_COUNTOF(qtype_rules); r++) {
        const char *p = qtype_rules[r].cues;
        while (*p) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            for (size_t i = 0; i < nw; i++) {
                size_t k = cue_at(p, len, words, nw, i);
                if (!k)
                    continue;
                bits |= 1u << r;
                if (!marks)
                    break;
                for (size_t j = 0; j < k; j++)
                    marks[i + j] |= 1u << r;
            }
            if (!bar || ((bits & (1u << r)) && !marks))
                break;
            p = bar + 1;
        }
    }
    return bits;
}

uint32_t ms_kb_qtype_of_text(const char *text, size_t len) {
    ms_kb_word_t *w = ms_xmalloc(512 * sizeof *w);
    size_t n = ms_kb_words(text, len, w, 512);
    uint32_t bits = ms_kb_qtype_detect(w, n, NULL);
    free(w);
    return bits;
}
