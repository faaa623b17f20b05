/* Internal to the llm module (and its unit test): the text utilities the
 * offline answerer is built from. Not part of the provider interface. */
#ifndef MS_LLM_LLM_INT_H
#define MS_LLM_LLM_INT_H

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

/** Appends s (n bytes) to b with every run of white space collapsed to one
 * space and the ends trimmed: how passage sentences are quoted in answers. */
void ms_llm_put_squeezed(ms_buf_t *b, const char *s, size_t n);
#endif
