/* The model prompt: what a language model provider is sent for one turn
 * (the chat pipeline's prompt stage builds it; docs/protocol.md "Model
 * prompt").
 *
 * One system message, then the recent turns, then the question:
 *   1. the instructions: a clinical decision-support assistant that cites
 *      its sources as [n] and says when the sources do not answer;
 *   2. the conversation's clinical context, when it has one;
 *   3. the retrieved passages, numbered [1] .. [n] in retrieval order (the
 *      numbers its markers use, llm/cite.h);
 *   4. the recent turns, oldest first, as user / assistant messages (the
 *      disclaimer and the old markers taken out of earlier answers: their
 *      numbers named other passages);
 *   5. the question, as the last user message.
 * Everything is in one system message because several chat templates
 * (Mistral's, Llama 2's) accept a system message only at the start.
 *
 * Token counts are approximate: ceil(bytes / 4), OpenAI's rule of thumb
 * for English ("a token is about 4 characters"); medstream does not know
 * each model's tokenizer. Each message adds 4 for its framing. */
#ifndef MS_LLM_PROMPT_H
#define MS_LLM_PROMPT_H

#include "llm/provider.h"

#include <stddef.h>
#include <stdint.h>

/** The built-in instructions (config system_prompt replaces them). */
extern const char ms_llm_system_prompt[];

/** What the prompt is built from; everything borrowed. */
typedef struct {
    const char *system_prompt; /**< NULL or "": ms_llm_system_prompt */
    const char *context;       /**< the clinical context as text, or NULL */
    const ms_kb_hit_t *hits;
    size_t nhits;
    const char *const *history_roles; /**< "user" | "assistant", oldest first */
    const char *const *history_texts;
    size_t nhistory;
    const char *question;
    /** Removed from the end of earlier answers (the disclaimer), or NULL. */
    const char *strip_suffix;
    int64_t max_prompt_tokens;  /**< the whole prompt (> 0) */
    int64_t max_history_tokens; /**< the recent turns' share of it */
} ms_llm_prompt_in_t;

/** The prompt. Owned; ms_llm_prompt_free. */
typedef struct {
    ms_llm_msg_t *msgs;
    size_t nmsgs;
    size_t npassages; /**< hits[0 .. npassages) are numbered [1] .. [npassages] */
    size_t nhistory;  /**< recent turns kept */
    int context_cut;  /**< the clinical context was shortened to fit */
    int64_t tokens;   /**< approximate size */
} ms_llm_prompt_t;

/** Builds the prompt within max_prompt_tokens. The instructions and the
 * question always go in; the clinical context gets at most a third of what
 * is left (shortened with "[...]"), the passages what remains after the
 * recent turns' reserve (min(max_history_tokens, a quarter)), whole while
 * they fit and the first that does not fit shortened when at least 64
 * tokens of it fit; the recent turns, newest first, what is left up to
 * max_history_tokens. Returns 0, or MS_ETOOBIG when the instructions and
 * the question alone exceed the limit (out is then empty). */
int ms_llm_prompt_build(const ms_llm_prompt_in_t *in, ms_llm_prompt_t *out);

void ms_llm_prompt_free(ms_llm_prompt_t *p);

/** The approximate token count of n bytes of text: ceil(n / 4). */
int64_t ms_llm_approx_tokens(size_t n);

#endif
