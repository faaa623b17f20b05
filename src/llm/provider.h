/* Answer providers: what turns a question plus retrieved passages into a
 * streamed answer. Providers run on the event loop (libuv); anything that
 * blocks goes to the thread pool. Every callback is delivered on the loop
 * thread.
 *
 * Implementations: offline (grounded extractive answerer, the default),
 * synthetic (load tests; SYN_* as in ../shared/peers). Later: ollama,
 * openai-compatible. */
#ifndef MS_LLM_PROVIDER_H
#define MS_LLM_PROVIDER_H

#include "kb/kb.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/** What the provider is asked. Everything is borrowed for the duration of
 * start() only: a provider copies what it keeps. */
typedef struct {
    const char *question;
    /** Recent turns of the conversation, oldest first (may be empty). */
    const char *const *history_roles; /**< "user" | "assistant" */
    const char *const *history_texts;
    size_t nhistory;
    /** Retrieved passages, best first (may be empty). */
    const ms_kb_hit_t *hits;
    size_t nhits;
} ms_gen_request_t;

/** Outcome of a generation. */
typedef struct {
    const char *finish_reason; /**< "stop", "cancelled", "error", "no_context" */
    /** Passages cited, in marker order: marker [k] refers to hits[cited[k-1]]. */
    const size_t *cited;
    size_t ncited;
    int64_t prompt_tokens; /**< approximate (whitespace tokens) for offline */
    int64_t completion_tokens;
    const char *error; /**< message when finish_reason is "error" */
} ms_gen_result_t;

/** Where a generation delivers its output, always on the loop thread.
 * on_delta may be called any number of times (text is borrowed, UTF-8,
 * never splitting a code point); then on_done exactly once, after which
 * the generation frees itself and must not be touched. */
typedef struct {
    void (*on_delta)(void *ctx, const char *text, size_t len);
    void (*on_done)(void *ctx, const ms_gen_result_t *result);
} ms_gen_sink_t;

typedef struct ms_gen ms_gen_t;
typedef struct ms_provider ms_provider_t;

/** Provider function table (house style: *_ops). */
typedef struct {
    const char *name;
    /** Whether answers are grounded in retrieved passages: when 0 the
     * pipeline skips the knowledge-base search (and its tool_call /
     * tool_result events) and passes no hits. */
    int uses_retrieval;
    /** Starts a generation; 0 and *out on success. */
    int (*start)(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                 const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out);
    /** Requests cancellation: on_done follows (finish_reason "cancelled"),
     * possibly synchronously from within this call. */
    void (*cancel)(ms_gen_t *g);
    void (*free)(ms_provider_t *p);
} ms_provider_ops_t;

/** A configured provider instance. */
struct ms_provider {
    const ms_provider_ops_t *ops;
    void *impl;
};

/** Offline provider settings. */
typedef struct {
    int word_interval_ms; /**< pause between streamed words; 0 = as fast as possible */
    double min_score;     /**< below this best-hit score, answer "nothing relevant found" */
    int max_sentences;    /**< sentences in an answer (default 5) */
    /** The pool composition runs on (chat/work.h MS_WORK_KB), or NULL for
     * libuv's default pool. Borrowed; must outlive the provider. */
    struct ms_pool *pool;
} ms_offline_config_t;

/** Synthetic provider settings (names as in ../shared/peers/README.md). */
typedef struct {
    int chunks;      /**< SYN_CHUNKS, default 64 */
    int chunk_bytes; /**< SYN_CHUNK_BYTES, default 16 */
    int interval_ms; /**< SYN_INTERVAL_MS, default 0 */
} ms_synthetic_config_t;

/** Constructors; the provider is freed with p->ops->free(p). */
ms_provider_t *ms_provider_offline_new(const ms_offline_config_t *cfg);
ms_provider_t *ms_provider_synthetic_new(const ms_synthetic_config_t *cfg);

/** The offline answerer's core, exposed for tests and for the non-streaming
 * path: selects sentences from hits that answer question (relevance to the
 * question, novelty against already-chosen sentences; MMR, Carbonell &
 * Goldstein, SIGIR 1998), orders them, and writes an answer with markers
 * [1] [2] ... into *answer (malloc'd). cited/ncited as in ms_gen_result_t
 * (*cited malloc'd). When no hit reaches min_score, *answer says plainly
 * that nothing relevant was found and suggests rephrasing, ncited is 0, and
 * the return value is MS_ENOENT (else 0). */
int ms_offline_compose(const ms_offline_config_t *cfg, const ms_gen_request_t *req, char **answer,
                       size_t **cited, size_t *ncited);

#endif
