/* What a language model's answer cites, and how much of it its sources
 * support.
 *
 * The citation filter reads the streamed text and rewrites its markers so
 * that every one the client sees names a citation it is also given: the
 * model writes [n] for passage n of the prompt (llm/prompt.h numbers them);
 * the filter renumbers them in order of first appearance, one number per
 * document (as the offline answerer writes them, and as kb/citations.c
 * builds one citation per document), and drops a marker that names no
 * passage (past the passages given, or 0), with the spaces before it, so no
 * broken link is ever shown. A possible marker is held back until it closes
 * or turns out not to be one; nothing else is delayed but a run of spaces
 * (which might precede a marker). Only ASCII is held, so the output never
 * splits a UTF-8 sequence that the input did not split.
 *
 * Because the filter runs before the text reaches the replay buffer, the
 * stored text, the concatenated deltas and message_complete.text are the
 * same bytes by construction.
 *
 * The grounding signal: the share of an answer's sentences with lexical
 * support in the passages they cite (see ms_llm_grounding). */
#ifndef MS_LLM_CITE_H
#define MS_LLM_CITE_H

#include "core/buf.h"
#include "kb/kb.h"

#include <stddef.h>

/** Longest held text: spaces plus a bracketed marker list ("[1, 2, 3]"). */
#define MS_CITE_HOLD_MAX 32

/** Filter state. ms_cite_init, feed, flush, ms_cite_free. */
typedef struct {
    size_t npassages;            /**< markers 1..npassages name a passage */
    const char *const *doc_keys; /**< per passage: same key = same document (borrowed) */
    size_t *cited;               /**< citation k+1 is passage cited[k] (0-based); owned */
    size_t ncited, capcited;
    char hold[MS_CITE_HOLD_MAX + 1];
    size_t nhold;
    size_t nspace; /**< the held text's leading spaces */
    int in_mark;   /**< hold[nspace] is '[' */
    size_t last;   /**< the citation the output last ended with ("[k]"), 0 = text */
    size_t dropped;
} ms_cite_t;

/** Starts a filter for an answer to a prompt with npassages numbered
 * passages; doc_keys (npassages entries, may be NULL: every passage its own
 * document) must outlive the filter. */
void ms_cite_init(ms_cite_t *c, size_t npassages, const char *const *doc_keys);

/** Filters len more bytes of the answer, appending what may be shown now
 * to out (possibly nothing). A marker is "[" digits "]" or a list of
 * numbers separated by commas, white space around them ("[1, 3]", the web
 * client's pattern); each valid number
 * becomes "[k]", k its citation, once ("[1][3]" of one document is
 * "[1]"); a list whose numbers are all invalid (or repeat the marker just
 * written) disappears with the spaces before it. Anything else in brackets
 * is text, but a '[' that could still become a marker with what follows
 * (interrupted by another '[', or too long) is left out, so no "[n]" the
 * client sees is anything but a citation. */
void ms_cite_feed(ms_cite_t *c, const char *text, size_t len, ms_buf_t *out);

/** The answer ended: held text goes out as it was. */
void ms_cite_flush(ms_cite_t *c, ms_buf_t *out);

void ms_cite_free(ms_cite_t *c);

/** The grounding of one answer. */
typedef struct {
    double share;  /**< supported / sentences, or -1 when no sentence was counted */
    int sentences; /**< sentences counted (headings and list lead-ins are not claims) */
    int supported;
} ms_grounding_t;

/** Lexical grounding (an overlap measure in the spirit of ROUGE-1 recall,
 * Lin 2004, per sentence): the answer text is split into sentences
 * (ms_llm_split_sentences); a sentence with no content term is not
 * counted; a counted sentence is supported when it carries at least one
 * marker [k] (1 <= k <= ncited, naming hits[cited[k-1]]) and at least
 * min_overlap (0..1) of its distinct content terms (stemmed, stop words
 * out: ms_llm_terms) occur in the passages its markers name. A sentence
 * without a marker cites nothing and so is not supported. */
void ms_llm_grounding(const char *text, size_t len, const ms_kb_hit_t *hits, size_t nhits,
                      const size_t *cited, size_t ncited, double min_overlap, ms_grounding_t *out);

#endif
