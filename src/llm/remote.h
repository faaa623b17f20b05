/* What the two remote provider kinds share (private to src/llm): the
 * settings of a configured model server and one generation's life, from
 * the POST to the end of its stream. A wire (openai.c, ollama.c) knows the
 * request body and how to read the stream; remote.c knows timeouts,
 * statuses, failures, cancel and pause.
 *
 * A generation's timeouts (uv_timer_t, one per generation):
 * - connect_timeout_ms: libcurl's CURLOPT_CONNECTTIMEOUT_MS;
 * - first_token_timeout_ms: from the request to the first content token
 *   (a model loading into memory counts against it);
 * - idle_timeout_ms: between body reads once tokens flow (a stall), not
 *   counted while the reader paused the transfer (pull flow control). */
#ifndef MS_LLM_REMOTE_H
#define MS_LLM_REMOTE_H

#include "llm/provider.h"
#include "llm/stream.h"
#include "llm/transport.h"

#include <jansson.h>

/** A remote provider's settings (from the configuration file; strings
 * owned). api_key is the secret read from the environment variable named
 * api_key_env: it goes into one request header and nowhere else. */
typedef struct {
    char *name;
    char *base_url; /**< e.g. https://api.openai.com/v1, http://127.0.0.1:11434 */
    char *model;
    char *api_key;          /**< NULL when none */
    char *azure_deployment; /**< Azure OpenAI: the deployment (URL path) */
    char *api_version;      /**< Azure OpenAI: the api-version query value */
    int local;
    int stream_usage; /**< openai: send stream_options.include_usage */
    int64_t connect_timeout_ms, first_token_timeout_ms, idle_timeout_ms;
    int64_t max_tokens;
    double temperature; /**< < 0: not sent (the server's default) */
    size_t max_line_bytes;
} ms_remote_spec_t;

typedef struct ms_rgen ms_rgen_t;

/** A wire format. */
typedef struct {
    const char *kind;
    const char *accept;           /**< the Accept header line */
    int azure;                    /**< takes azure_deployment / api_version */
    const ms_provider_ops_t *ops; /**< the provider kind's table (remote.c) */
    /** The endpoint URL and the request body (malloc'd) for req; extra
     * header lines (auth) into headers[0..*nheaders), each malloc'd. */
    char *(*url)(const ms_remote_spec_t *s);
    char *(*body)(const ms_remote_spec_t *s, const ms_gen_request_t *req, size_t *len);
    size_t (*headers)(const ms_remote_spec_t *s, char **headers, size_t max);
    /** Reads bytes of a 200 response: calls ms__rgen_delta for content,
     * ms__rgen_usage, ms__rgen_finish. Returns 0, MS_EFORMAT (malformed),
     * MS_ETOOBIG (a line too long) or MS_EIO (the stream reported an error). */
    int (*feed)(ms_rgen_t *g, const char *data, size_t len);
    /** The body ended: 0 when the stream reached its end marker ([DONE],
     * done: true), MS_EFORMAT when it stopped short. */
    int (*end)(ms_rgen_t *g);
    /** A short machine code from an error body ("rate_limit_exceeded"), or
     * NULL; only [A-Za-z0-9_.-], never upstream prose (it may quote keys). */
    const char *(*error_code)(json_t *body);
    /** The health probe's path after base_url (GET; Azure's is built in
     * remote.c). */
    const char *probe_path;
} ms_remote_wire_t;

/** One generation (remote.c). The wire's parser state lives here. */
struct ms_rgen {
    ms_provider_t *p;
    const ms_remote_spec_t *spec;
    const ms_remote_wire_t *wire;
    ms_llm_xfer_t *x;
    uv_timer_t timer;
    int timer_mode;
    ms_gen_sink_t sink;
    void *ctx;
    int status;
    int64_t retry_after_ms;
    ms_buf_t errbody;
    ms_sse_t sse;
    ms_ndjson_t nd;
    int got_token, complete, paused, cancelled, finished, in_sink;
    int wire_rc;
    int64_t prompt_tokens, completion_tokens, upstream_ms;
    int usage_reported;
    int64_t prompt_estimate;
    size_t text_bytes;
    /* The upstream's finish reason, mapped to a static string (the turn
     * keeps the pointer past the generation's life), or NULL. */
    const char *finish_reason;
    char error[96];
};

/** Sinks for the wires. delta returns nonzero when the generation was
 * cancelled meanwhile (stop reading). */
int ms__rgen_delta(ms_rgen_t *g, const char *text, size_t len);
void ms__rgen_usage(ms_rgen_t *g, int64_t prompt, int64_t completion);
/** The upstream's finish reason (mapped: stop, length, content_filter). */
void ms__rgen_finish(ms_rgen_t *g, const char *reason);

/** The provider instance of a remote kind over wire (spec is owned by the
 * provider from then on). http is the loop's transport, borrowed. */
ms_provider_t *ms__remote_provider_new(const ms_remote_wire_t *wire, ms_remote_spec_t *spec,
                                       ms_llm_http_t *http);
void ms__remote_spec_free(ms_remote_spec_t *s);

/** The wires, and the provider ops they share (remote.c). */
extern const ms_remote_wire_t ms__wire_openai;
extern const ms_remote_wire_t ms__wire_ollama;
extern const ms_provider_ops_t ms__remote_openai_ops;
extern const ms_provider_ops_t ms__remote_ollama_ops;

/** The messages of req as a JSON array [{role, content}] (both wires). */
json_t *ms__remote_messages(const ms_gen_request_t *req);

#endif
