/* Server configuration: defaults, a JSON config file, MEDSTREAM_* environment
 * variables and command-line flags, applied in that order (later wins).
 * Every setting is one row of a declarative directive table (nginx style),
 * which also produces --help. */
#ifndef MS_CORE_CONFIG_H
#define MS_CORE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

/** Every tunable of `medstream serve`. Strings are owned by the config. */
typedef struct {
    char *listen;               /**< "HOST:PORT", default 127.0.0.1:8080 */
    char *data_dir;             /**< default ./medstream-data */
    char *provider;             /**< built-in default route: "offline" | "synthetic" */
    char *jwt_secret;           /**< >= 32 bytes; default: generated into <data_dir>/jwt.key */
    char *allowed_origins;      /**< comma-separated Origins; empty = own host only */
    char *disclaimer;           /**< appended to every assistant message */
    char *log_level;            /**< debug|info|warn|error */
    int allow_registration;     /**< self-registration on /api/auth/register */
    int cookie_secure;          /**< always mark the refresh cookie Secure (served over TLS) */
    int trust_forwarded_proto;  /**< a reverse proxy's X-Forwarded-Proto: https means TLS */
    int64_t access_ttl_s;       /**< access-token lifetime, seconds */
    int64_t refresh_ttl_s;      /**< refresh-token lifetime, seconds */
    int64_t max_frame_bytes;    /**< largest WebSocket message accepted (close 1009 above) */
    int64_t max_queue_bytes;    /**< outbound queue per connection (close 1008 above) */
    int64_t max_body_bytes;     /**< largest HTTP request body (413 above) */
    int64_t max_message_chars;  /**< longest question text */
    int64_t max_connections;    /**< simultaneous connections (lws fd limit applies too) */
    int64_t rx_buffer_bytes;    /**< libwebsockets receive buffer per connection */
    int64_t replay_ttl_ms;      /**< how long a finished stream stays resumable from memory */
    int64_t replay_max_bytes;   /**< bound on all replay buffers together */
    int64_t checkpoint_ms;      /**< assistant message checkpoint interval while streaming */
    int64_t word_interval_ms;   /**< offline provider: pause between streamed words */
    int64_t kb_top_k;           /**< passages retrieved per question */
    double kb_min_score;        /**< below this best score: "nothing relevant found" */
    int64_t history_turns;      /**< recent turns given to the provider */
    int64_t login_rate_per_min; /**< login attempts per minute per client address */
    /** WebSocket client messages per second per connection (0: off). */
    int64_t ws_rate_per_s;
    /** Messages a connection may send at once before the rate applies. */
    int64_t ws_rate_burst;
    /** rate_limited answers in a row before close 1008. */
    int64_t ws_rate_close_after;
    /** Answers one connection may follow at once. */
    int64_t ws_max_inflight;
    /** "direct": a session's batch is written at the end of each loop
     * iteration; "writable": only from lws' writable callback
     * (docs/performance.md, "Write path"). */
    char *ws_write;
    /** Comma-separated WebSocket subprotocol names the server agrees to
     * besides "medstream" (RFC 6455 section 1.9; net/server.c checks them):
     * a handshake offering only other names is refused with HTTP 400. */
    char *ws_subprotocols;
    int64_t syn_chunks;         /**< synthetic provider: SYN_CHUNKS */
    int64_t syn_chunk_bytes;    /**< synthetic provider: SYN_CHUNK_BYTES */
    int64_t syn_interval_ms;    /**< synthetic provider: SYN_INTERVAL_MS */
    /* Turn admission (overloaded / rate_limited when exceeded). */
    int64_t max_live_turns;     /**< turns in progress in this process */
    int64_t max_turns_per_user; /**< turns in progress per user, across connections */
    int64_t user_turns_per_min; /**< questions per user per minute */
    int64_t max_answer_bytes;   /**< longest answer; generation stops ("length") there */
    /* Thread pools by kind of work (chat/work.h). */
    int64_t pool_store_threads; /**< storage reads and REST handlers */
    int64_t pool_kb_threads;    /**< retrieval and answer composition */
    int64_t pool_auth_threads;  /**< password hashing (argon2id) */
    int64_t pool_queue_max;     /**< jobs waiting per pool (overloaded above) */
    /* Nodes sharing one database (store.h "nodes, leases and crash recovery"). */
    char *node_name;  /**< stable name of this node; default host:port */
    int64_t lease_ms; /**< node lease; renewed every lease_ms / 3 */
    /* Workflow requests (docs/workflows.md "Limits"; workflow/workflow.h). */
    int64_t workflow_max_symptoms;    /**< entries of data.symptoms */
    int64_t workflow_max_items;       /**< entries of any other list (allergies ...) */
    int64_t workflow_max_chars;       /**< code points of one string */
    int64_t workflow_differential_k;  /**< candidate conditions streamed */
    int64_t workflow_max_medications; /**< medication candidates considered */

    /* HTTP limits (src/net/http.c, src/api/routes.c) and the limits backend. */
    int64_t header_timeout_s;      /**< whole request head must arrive within (slowloris) */
    int64_t body_timeout_s;        /**< whole request body must arrive within (408 after) */
    int64_t max_header_bytes;      /**< request line + headers (431/414 above) */
    int64_t max_unauth_body_bytes; /**< body of routes without a token (413 above) */
    int64_t body_budget_bytes;     /**< request bodies buffered at once (503 above) */
    int64_t rate_limit_keys;       /**< rate-limit counters held at once */
    int64_t ticket_rate_per_min;   /**< WebSocket tickets one user may get a minute */
    int64_t tickets_per_user;      /**< outstanding tickets of one user */
    int64_t max_tickets;           /**< outstanding tickets, all users (503 above) */
    /* Folders (store.h "folders"). */
    int64_t folder_max_depth;     /**< deepest folder level (top level is 1) */
    int64_t max_folders_per_user; /**< folders one user may have */
    /* Share links (store.h "share links", api/shares.c). */
    int64_t share_ttl_s;        /**< a link's lifetime when the request names none */
    int64_t share_max_ttl_s;    /**< the longest lifetime a request may ask for */
    int64_t share_max_views;    /**< the largest view cap a request may set */
    int64_t share_max_links;    /**< links kept per conversation (ended ones make room) */
    int64_t share_log_max;      /**< access-log rows kept per link (newest) */
    int64_t share_rate_per_min; /**< shared-link requests/min per address and per link */
    /* Language models (llm/registry.h; providers and routes are the config
     * file's "providers" and "routes", read by src/llm). */
    char *config_file;             /**< the --config file applied, or NULL (not a directive) */
    char *default_route;           /**< route of a message without "model"; "" = provider */
    char *system_prompt;           /**< model instructions; "" = the built-in (llm/prompt.h) */
    int64_t prompt_max_tokens;     /**< longest model prompt, approximate tokens */
    int64_t history_max_tokens;    /**< recent turns' share of the prompt */
    int64_t llm_max_tokens;        /**< longest answer a model may give, tokens */
    int64_t llm_connect_timeout_ms;     /**< default connect timeout of a model server */
    int64_t llm_first_token_timeout_ms; /**< default: request to first token */
    int64_t llm_idle_timeout_ms;   /**< default: longest pause between tokens */
    int64_t llm_max_line_bytes;    /**< longest SSE / NDJSON line from a model server */
    int64_t llm_max_attempts;      /**< provider attempts per answer (failover) */
    int64_t llm_retry_base_ms;     /**< backoff before the second attempt; doubles */
    int64_t llm_retry_max_ms;      /**< longest backoff, and longest Retry-After waited */
    int64_t breaker_failures;      /**< failures that open a provider's circuit */
    int64_t breaker_window_ms;     /**< ... within this window */
    int64_t breaker_cooldown_ms;   /**< open time before the half-open probe */
    int64_t upstream_pause_bytes;  /**< a reader's queue above this pauses the model server */
    int64_t upstream_pause_max_ms; /**< longest pause before the stream goes on regardless */
    double grounding_min_overlap;  /**< share of a sentence's terms in its sources (grounding) */
    /* Clinical contexts (src/clinical/clinical.h). */
    int64_t clinical_max_items;    /**< entries per problems/medications/allergies list */
    int64_t clinical_max_chars;    /**< code points per entry or chief complaint */

    /* Attachments (src/files, src/api/attachments.c): uploads and text
     * extraction. Every limit refuses with a clear error, never a crash. */
    int64_t max_file_size_mb;       /**< largest attachment, MiB (413 above) */
    int64_t pool_files_threads;     /**< threads extracting attachment text */
    int64_t extract_max_bytes;      /**< decompressed bytes one file may expand to (DOCX) */
    int64_t extract_max_pages;      /**< pages of a PDF */
    int64_t extract_max_pixels;     /**< width x height of an image to OCR */
    int64_t extract_timeout_s;      /**< seconds one file's extraction may take */
    int64_t extract_max_text_bytes; /**< extracted text kept per file (the rest is cut) */
    int64_t download_budget_bytes;  /**< attachment bytes being downloaded at once (503 above) */
    int64_t upload_timeout_s;       /**< an upload's whole body must arrive within (408 after) */

    /* Conversation exports (src/api/export.c, src/export). */
    int64_t export_max_messages; /**< messages one export may hold (413 above) */
    int64_t export_max_bytes;    /**< message text one export may hold, bytes (413 above) */
    int64_t export_max_pages;    /**< pages one PDF export may have (413 above) */

    /** Bearer token GET /metrics and GET /health/providers require; ""
     * = only clients on loopback may read them (docs/protocol.md). */
    char *metrics_token;
    int64_t health_ttl_ms;           /**< how long a provider's probe result is reused */
    int64_t health_probe_timeout_ms; /**< longest wait for a provider's probe */
} ms_config_t;

/** Fills defaults (and SYN_* from the environment, as ../shared/peers do). */
void ms_config_defaults(ms_config_t *c);
void ms_config_free(ms_config_t *c);

/** Applies, in order: --config FILE / MEDSTREAM_CONFIG (a JSON object whose
 * keys are the option names with underscores), MEDSTREAM_<NAME> variables,
 * then argv flags (--name value or --name=value). argv[0] is the subcommand.
 * On error writes a one-line message to err and returns MS_EINVAL. Returns
 * 1 if --help was asked (help printed to out), else 0. */
int ms_config_load(ms_config_t *c, int argc, char **argv, FILE *out, FILE *err);

/** Splits listen into host (static buffer of hostlen) and port. */
int ms_config_listen(const ms_config_t *c, char *host, size_t hostlen, int *port);

/** Prints the effective configuration as JSON (secrets redacted). */
void ms_config_dump(const ms_config_t *c, FILE *out);

#endif
