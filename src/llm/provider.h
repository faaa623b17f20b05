/* Answer providers: what turns a question plus retrieved passages into a
 * streamed answer. Providers run on the event loop (libuv); anything that
 * blocks goes to the thread pool, and model servers are reached through
 * libcurl's multi interface on the same loop (llm/transport.h). Every
 * callback is delivered on the loop thread.
 *
 * Kinds (llm/registry.h, a table): offline (grounded extractive answerer,
 * the default), synthetic (load tests; SYN_* as in ../shared/peers),
 * ollama (POST /api/chat, NDJSON) and openai (POST /v1/chat/completions,
 * Server-Sent Events; also Azure OpenAI, vLLM, llama-server, LM Studio). */
#ifndef MS_LLM_PROVIDER_H
#define MS_LLM_PROVIDER_H

#include "kb/kb.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/** One chat message of a model prompt (llm/prompt.h builds them). */
typedef struct {
    const char *role; /**< "system" | "user" | "assistant" (static strings) */
    char *content;    /**< UTF-8, owned by the prompt */
} ms_llm_msg_t;

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
    /** The model prompt (providers with uses_prompt): system message (the
     * instructions, the clinical context, the numbered passages), recent
     * turns, the question. NULL for the others. */
    const ms_llm_msg_t *messages;
    size_t nmessages;
    /** Most tokens the answer may have (0: the provider's own setting). */
    int64_t max_tokens;
} ms_gen_request_t;

/** Why a generation failed, for failover (chat/generate.c): the first four
 * move on to the route's next provider when no token was streamed yet. */
typedef enum {
    MS_GEN_OK = 0,
    MS_GEN_CONNECT,      /**< could not connect, or the connection failed before any token */
    MS_GEN_RATE_LIMITED, /**< HTTP 429 (retry_after_ms when the server said) */
    MS_GEN_SERVER,       /**< HTTP 5xx */
    MS_GEN_TIMEOUT,      /**< connect or first-token timeout */
    MS_GEN_STREAM,   /**< the stream broke after it began: drop, stall, malformed or huge line */
    MS_GEN_REFUSED,  /**< any other HTTP status (400, 401, 403, 404 ...): not retried */
    MS_GEN_INTERNAL, /**< a local problem (the request could not be built) */
} ms_gen_failure_t;

/** Outcome of a generation. */
typedef struct {
    /** "stop", "length", "content_filter", "cancelled", "error", "no_context":
     * a static string (the pipeline keeps the pointer after on_done). */
    const char *finish_reason;
    /** Passages cited, in marker order: marker [k] refers to hits[cited[k-1]]. */
    const size_t *cited;
    size_t ncited;
    int64_t prompt_tokens; /**< approximate (whitespace tokens) for offline */
    int64_t completion_tokens;
    /** Whether the counts are the provider's own (OpenAI usage, Ollama
     * prompt_eval_count / eval_count); 0: counted here, approximately. */
    int usage_reported;
    const char
        *error; /**< short reason when finish_reason is "error" (no secret, no upstream text) */
    ms_gen_failure_t failure;
    int http_status;        /**< the upstream's HTTP status, 0 if none */
    int64_t retry_after_ms; /**< from Retry-After on a 429 or 503; 0 when absent */
    /** The server's own measure of the generation (Ollama total_duration,
     * reported in nanoseconds), in ms; 0 when it gave none. */
    int64_t upstream_duration_ms;
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

/** What a health probe found (GET /health/providers). */
typedef struct {
    int reachable;      /**< the server answered the probe with a 2xx status */
    int http_status;    /**< its status, 0 when none came */
    int64_t latency_ms; /**< request to the end of the answer (or the failure) */
    const char *error;  /**< NULL, or a fixed phrase (no URL, no key, no upstream text) */
} ms_probe_result_t;

/** Delivers a probe's outcome, once, on the loop thread. */
typedef void (*ms_probe_cb)(void *ctx, const ms_probe_result_t *r);

/** Provider function table (house style: *_ops). */
typedef struct {
    const char *name;
    /** Whether answers are grounded in retrieved passages: when 0 the
     * pipeline skips the knowledge-base search (and its tool_call /
     * tool_result events) and passes no hits. */
    int uses_retrieval;
    /** Whether the provider is a language model that reads the prompt
     * (req.messages): its [n] markers are then parsed from the stream
     * (llm/cite.h) and its citations are the ones it actually wrote. 0: the
     * provider reports what it cites itself (result.cited). */
    int uses_prompt;
    /** Starts a generation; 0 and *out on success. */
    int (*start)(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                 const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out);
    /** Requests cancellation: on_done follows (finish_reason "cancelled"),
     * possibly synchronously from within this call. */
    void (*cancel)(ms_gen_t *g);
    /** Pull flow control (optional): paused != 0 stops reading from the
     * upstream (libcurl CURLPAUSE_RECV), so a slow reader holds the model
     * server back instead of the gateway's memory; 0 resumes. Deltas may
     * arrive from within the resuming call. */
    void (*pause)(ms_gen_t *g, int paused);
    /** A cheap real request that tells whether the model server answers
     * (optional; NULL for providers in this process): Ollama GET
     * /api/tags, OpenAI GET /v1/models, Azure GET /openai/models. 0 when
     * started (cb follows from a later loop iteration, within about
     * timeout_ms), else an error and no callback. */
    int (*probe)(ms_provider_t *p, int64_t timeout_ms, ms_probe_cb cb, void *ctx);
    void (*free)(ms_provider_t *p);
} ms_provider_ops_t;

/** A configured provider instance. name, model and local come from the
 * configuration (llm/registry.h); NULL name means ops->name, NULL model
 * the name. */
struct ms_provider {
    const ms_provider_ops_t *ops;
    void *impl;
    const char *name;  /**< the configured name ("ollama-local"), borrowed */
    const char *model; /**< the model asked ("llama3.2"), borrowed */
    int local;         /**< runs where PHI may go (local: true) */
    /** phi_mode "redact": a question with PHI may be sent here (not local)
     * with typed placeholders instead of the values (docs/phi.md). */
    int phi_redact;
    /** The server's address as health output may show it: scheme, host,
     * port and path, never userinfo, query or fragment; NULL when none. */
    const char *url;
};

/** The provider's configured name. */
static inline const char *ms_provider_name(const ms_provider_t *p) {
    return p->name ? p->name : p->ops->name;
}

/** The model it asks for (its name when none is configured). */
static inline const char *ms_provider_model(const ms_provider_t *p) {
    return p->model ? p->model : ms_provider_name(p);
}

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
