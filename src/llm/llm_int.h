/* Internal to the llm module (and its unit test): the text utilities the
 * offline answerer is built from. Not part of the provider interface. */
#ifndef MS_LLM_LLM_INT_H
#define MS_LLM_LLM_INT_H

#include "kb/kb.h"

#include "core/buf.h"

#include <stddef.h>

/** Longest prose sentence (bytes) the offline answerer will quote; longer
 * "sentences" are usually tables or run-on lists flattened by an importer
 * (e.g. the GARD phenotype tables in MedQuAD) and read badly as an answer. */
#define MS_LLM_MAX_SENTENCE 400

/** Longest stemmed term kept (bytes); longer words are truncated. */
#define MS_LLM_MAX_TERM 31

/** What a span of passage text is. */
typedef enum {
    MS_LLM_SPAN_SENTENCE = 0, /**< a prose sentence */
    MS_LLM_SPAN_HEADING,      /**< a short line without end punctuation ("Surgery", "Key Points") */
    MS_LLM_SPAN_LEAD,         /**< introduces the list items that follow ("Symptoms include:") */
    MS_LLM_SPAN_ITEM,         /**< the first (often only) sentence of a list item, marker removed */
    MS_LLM_SPAN_ITEM_MORE,    /**< a further sentence of the same list item */
} ms_llm_span_kind_t;

/** A span of a text: bytes [off, off + len), trimmed of white space. */
typedef struct {
    size_t off;
    size_t len;
    ms_llm_span_kind_t kind;
} ms_llm_span_t;

/** Splits text into sentences, headings, list lead-ins and list items, in
 * text order. Handles abbreviations ("e.g.", "Dr.", "U.S."), decimals,
 * footnote digits glued to a full stop ("population.1 However"), closing
 * quotes, paragraph breaks and the bullet styles MedQuAD answers use
 * ("- item" on its own line, or items run together as "  - a  - b").
 * *spans is malloc'd (NULL when *n is 0). Returns 0 (allocation failure
 * aborts). */
int ms_llm_split_sentences(const char *text, size_t len, ms_llm_span_t **spans, size_t *n);

/** Receives one content term: lower-cased, stemmed, not a stop word;
 * term is NUL-terminated and only valid during the call. */
typedef void (*ms_llm_term_cb)(void *ctx, const char *term, size_t len);

/** Tokenises text into content terms (letters and digits; bytes >= 0x80
 * count as letters so UTF-8 words stay whole), drops one-letter tokens and
 * English stop words, and stems what is left with ms_llm_stem. */
void ms_llm_terms(const char *text, size_t len, ms_llm_term_cb cb, void *ctx);

/** Stemming-lite for lower-case ASCII words (a small subset of Porter's
 * suffix rules, M. F. Porter, Program 14(3), 1980): plurals, -ed, -ing,
 * -ment and a final -e, so that "treatments", "treated" and "treating" all
 * become "treat" and "causes" / "caused" become "caus". Words with digits
 * or non-ASCII bytes are left alone. Rewrites w in place; returns the new
 * length. */
size_t ms_llm_stem(char *w, size_t n);

/** Number of white-space separated tokens (the offline provider's token
 * approximation). */
size_t ms_llm_count_words(const char *text, size_t len);

/** The evidence weighed before answering (abstain.c); each in 0..1. */
typedef struct {
    double medical; /**< the question's topic words inside a known medical name; < 0 unknown */
    double named;   /**< how many of them, as ln(1 + n) */
    double vocab;   /**< the question's topic words in the knowledge base's vocabulary */
    double focus;   /**< the best focus_match of the top 3 passages */
    double agree;   /**< share of the top 5 passages about the most common focus */
    double covered; /**< share of the question's topic terms in the chosen sentences */
} ms_llm_evidence_t;

/** The logistic model's log-odds that answering is right (> 0: answer). */
double ms_llm_answer_logit(const ms_llm_evidence_t *e);
/** Whether to answer given the evidence; always when medical < 0 (a
 * knowledge base without names gives no evidence to weigh). */
int ms_llm_should_answer(const ms_llm_evidence_t *e);
/** The share of hits[0, min(n, 5)) whose focus is the most common one. */
double ms_llm_focus_agreement(const ms_kb_hit_t *hits, size_t n);
/** The best focus_match of hits[0, min(n, 3)). */
double ms_llm_focus_named(const ms_kb_hit_t *hits, size_t n);
/** Whether the question asks a medicine's dose, side effects, interactions,
 * ... about something the knowledge base lists without text (hits[0].gap_*)
 * and no passage of that kind about it was found: the question-type gate. */
int ms_llm_gated(const char *question, const ms_kb_hit_t *hits, size_t n);
/** The "not found" answer: what the knowledge base covers and what to do;
 * when the question names something listed without text, says so and gives
 * the source's page. malloc'd. */
char *ms_llm_not_found(const char *question, const ms_kb_hit_t *hits, size_t n);

/** Appends s (n bytes) to b with every run of white space collapsed to one
 * space and the ends trimmed: how passage sentences are quoted in answers. */
void ms_llm_put_squeezed(ms_buf_t *b, const char *s, size_t n);
#endif
