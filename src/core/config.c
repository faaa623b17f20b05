#include "core/config.h"

#include "core/ms.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef enum { CFG_STR, CFG_INT, CFG_BOOL, CFG_DOUBLE } cfg_type_t;

/* One directive: its flag name (dashes), where it lives, and what it means. */
typedef struct {
    const char *name;
    cfg_type_t type;
    size_t offset;
    int64_t min, max; /* for CFG_INT */
    int secret;
    const char *help;
} cfg_directive_t;

#define S(f) CFG_STR, offsetof(ms_config_t, f), 0, 0
#define I(f, lo, hi) CFG_INT, offsetof(ms_config_t, f), lo, hi
#define B(f) CFG_BOOL, offsetof(ms_config_t, f), 0, 1
#define D(f) CFG_DOUBLE, offsetof(ms_config_t, f), 0, 0

static const cfg_directive_t directives[] = {
    {"listen", S(listen), 0, "HOST:PORT to listen on"},
    {"data-dir", S(data_dir), 0, "directory for the database and keys"},
    {"provider", S(provider), 0, "built-in default route: offline | synthetic"},
    {"jwt-secret", S(jwt_secret), 1, "HS256 secret (>= 32 bytes); default: <data-dir>/jwt.key"},
    {"allowed-origins", S(allowed_origins), 0, "comma-separated WebSocket Origins allowed"},
    {"disclaimer", S(disclaimer), 0, "medical disclaimer ending every answer"},
    {"log-level", S(log_level), 0, "debug | info | warn | error"},
    {"allow-registration", B(allow_registration), 0, "allow POST /api/auth/register"},
    {"cookie-secure", B(cookie_secure), 0, "mark the refresh cookie Secure (TLS in front)"},
    {"trust-forwarded-proto", B(trust_forwarded_proto), 0,
     "trust X-Forwarded-Proto from a reverse proxy"},
    {"access-ttl", I(access_ttl_s, 30, 86400), 0, "access-token lifetime, seconds"},
    {"refresh-ttl", I(refresh_ttl_s, 60, 31536000), 0, "refresh-token lifetime, seconds"},
    {"max-frame-bytes", I(max_frame_bytes, 256, 16 << 20), 0, "largest WebSocket message"},
    {"max-queue-bytes", I(max_queue_bytes, 4096, 1 << 30), 0, "outbound queue per connection"},
    {"max-body-bytes", I(max_body_bytes, 1024, 64 << 20), 0, "largest HTTP request body"},
    {"max-message-chars", I(max_message_chars, 1, 1 << 20), 0, "longest question"},
    {"max-connections", I(max_connections, 1, 1000000), 0, "simultaneous connections"},
    {"rx-buffer-bytes", I(rx_buffer_bytes, 128, 1 << 20), 0, "receive buffer per connection"},
    {"replay-ttl-ms", I(replay_ttl_ms, 0, 86400000), 0, "resumable time after completion"},
    {"replay-max-bytes", I(replay_max_bytes, 4096, INT64_C(1) << 40), 0, "all replay buffers"},
    {"checkpoint-ms", I(checkpoint_ms, 10, 3600000), 0, "checkpoint interval while streaming"},
    {"word-interval-ms", I(word_interval_ms, 0, 10000), 0, "offline provider word pace"},
    {"kb-top-k", I(kb_top_k, 1, 50), 0, "passages retrieved per question"},
    {"kb-min-score", D(kb_min_score), 0, "minimum retrieval score to answer"},
    {"history-turns", I(history_turns, 0, 50), 0, "recent turns given to the provider"},
    {"login-rate-per-min", I(login_rate_per_min, 1, 100000), 0, "login attempts/min/address"},
    {"ws-rate-per-s", I(ws_rate_per_s, 0, 1000000), 0, "WebSocket messages/s/connection (0: off)"},
    {"ws-rate-burst", I(ws_rate_burst, 1, 1000000), 0, "WebSocket messages at once/connection"},
    {"ws-rate-close-after", I(ws_rate_close_after, 1, 1000000), 0,
     "rate_limited answers in a row before close 1008"},
    {"ws-write", S(ws_write), 0, "WebSocket write path: direct | writable"},
    {"ws-subprotocols", S(ws_subprotocols), 0, "WebSocket subprotocols agreed to, comma-separated"},
    {"ws-max-inflight", I(ws_max_inflight, 1, 100000), 0, "answers followed at once/connection"},
    {"header-timeout-s", I(header_timeout_s, 1, 3600), 0, "request head deadline, seconds"},
    {"body-timeout-s", I(body_timeout_s, 1, 3600), 0, "request body deadline, seconds"},
    {"max-header-bytes", I(max_header_bytes, 1024, 16384), 0, "request line + headers"},
    {"max-unauth-body-bytes", I(max_unauth_body_bytes, 256, 64 << 20), 0,
     "largest body without a token"},
    {"body-budget-bytes", I(body_budget_bytes, 1024, INT64_C(1) << 40), 0,
     "request bodies buffered at once"},
    {"rate-limit-keys", I(rate_limit_keys, 64, 1 << 26), 0, "rate-limit counters held"},
    {"ticket-rate-per-min", I(ticket_rate_per_min, 1, 100000), 0, "WebSocket tickets/min/user"},
    {"tickets-per-user", I(tickets_per_user, 1, 10000), 0, "outstanding tickets per user"},
    {"max-tickets", I(max_tickets, 1, 100000000), 0, "outstanding tickets, all users"},
    {"syn-chunks", I(syn_chunks, 1, 1000000), 0, "synthetic: chunks per answer"},
    {"syn-chunk-bytes", I(syn_chunk_bytes, 1, 65536), 0, "synthetic: bytes per chunk"},
    {"syn-interval-ms", I(syn_interval_ms, 0, 60000), 0, "synthetic: pause between chunks"},
    {"max-live-turns", I(max_live_turns, 1, 1000000), 0, "turns in progress in this process"},
    {"max-turns-per-user", I(max_turns_per_user, 1, 100000), 0, "turns in progress per user"},
    {"user-turns-per-min", I(user_turns_per_min, 1, 1000000), 0, "questions per user per minute"},
    {"max-answer-bytes", I(max_answer_bytes, 1024, 64 << 20), 0, "longest answer (then: length)"},
    {"pool-store-threads", I(pool_store_threads, 1, 256), 0, "threads for storage work"},
    {"pool-kb-threads", I(pool_kb_threads, 1, 256), 0, "threads for retrieval and composition"},
    {"pool-auth-threads", I(pool_auth_threads, 1, 256), 0, "threads for password hashing"},
    {"pool-queue-max", I(pool_queue_max, 1, 1000000), 0, "jobs waiting per pool"},
    {"node-name", S(node_name), 0, "stable node name (default HOST:PORT)"},
    {"lease-ms", I(lease_ms, 1000, 3600000), 0, "node lease for crash recovery"},
    {"workflow-max-symptoms", I(workflow_max_symptoms, 1, 10000), 0,
     "symptoms one diagnosis request may list"},
    {"workflow-max-items", I(workflow_max_items, 1, 10000), 0,
     "entries of a workflow request's other lists"},
    {"workflow-max-chars", I(workflow_max_chars, 8, 100000), 0,
     "longest string in a workflow request"},
    {"workflow-differential-k", I(workflow_differential_k, 1, 50), 0,
     "candidate conditions a diagnosis streams"},
    {"workflow-max-medications", I(workflow_max_medications, 1, 100), 0,
     "medication candidates a prescription considers"},
    /* Deeper trees than 400 levels nest past what common JSON decoders
     * accept (Python's stops near 500 arrays-in-objects, jansson at 2048). */
    {"folder-max-depth", I(folder_max_depth, 1, 400), 0, "deepest folder nesting level"},
    {"max-folders-per-user", I(max_folders_per_user, 1, 100000), 0, "folders per user"},
    {"share-ttl", I(share_ttl_s, 1, 31536000), 0, "share-link lifetime by default, seconds"},
    {"share-max-ttl", I(share_max_ttl_s, 1, 31536000), 0, "longest share-link lifetime, seconds"},
    {"share-max-views", I(share_max_views, 1, 1000000000), 0, "largest share-link view cap"},
    {"share-max-links", I(share_max_links, 1, 10000), 0, "share links kept per conversation"},
    {"share-log-max", I(share_log_max, 1, 1000000), 0, "access-log rows kept per share link"},
    {"share-rate-per-min", I(share_rate_per_min, 1, 1000000), 0,
     "shared-link requests/min per address and per link"},
    {"default-route", S(default_route), 0,
     "route of a message naming no model (default: provider)"},
    {"system-prompt", S(system_prompt), 0, "model instructions (default: built in)"},
    {"prompt-max-tokens", I(prompt_max_tokens, 256, 1000000), 0, "longest model prompt, tokens"},
    {"history-max-tokens", I(history_max_tokens, 0, 1000000), 0, "recent turns in the prompt"},
    {"llm-max-tokens", I(llm_max_tokens, 1, 1000000), 0, "longest model answer, tokens"},
    {"llm-connect-timeout-ms", I(llm_connect_timeout_ms, 1, 600000), 0,
     "model server connect timeout"},
    {"llm-first-token-timeout-ms", I(llm_first_token_timeout_ms, 1, 3600000), 0,
     "request to first token"},
    {"llm-idle-timeout-ms", I(llm_idle_timeout_ms, 1, 3600000), 0, "longest pause between tokens"},
    {"llm-max-line-bytes", I(llm_max_line_bytes, 1024, 64 << 20), 0,
     "longest stream line from a model server"},
    {"llm-max-attempts", I(llm_max_attempts, 1, 16), 0, "provider attempts per answer"},
    {"llm-retry-base-ms", I(llm_retry_base_ms, 0, 60000), 0, "first failover backoff (doubles)"},
    {"llm-retry-max-ms", I(llm_retry_max_ms, 0, 600000), 0, "longest backoff or Retry-After wait"},
    {"breaker-failures", I(breaker_failures, 1, 64), 0, "failures that open a provider's circuit"},
    {"breaker-window-ms", I(breaker_window_ms, 1, 86400000), 0, "window the failures count in"},
    {"breaker-cooldown-ms", I(breaker_cooldown_ms, 1, 86400000), 0, "open time before a probe"},
    {"upstream-pause-bytes", I(upstream_pause_bytes, 1024, 1 << 30), 0,
     "reader backlog that pauses the model server"},
    {"upstream-pause-max-ms", I(upstream_pause_max_ms, 0, 3600000), 0,
     "longest upstream pause for a slow reader"},
    {"grounding-min-overlap", D(grounding_min_overlap), 0,
     "share of a sentence's words found in its sources"},
    {"clinical-max-items", I(clinical_max_items, 1, 10000), 0,
     "entries per clinical-context list (problems, medications, allergies)"},
    {"clinical-max-chars", I(clinical_max_chars, 1, 100000), 0,
     "characters per clinical-context entry or chief complaint"},
    {"max-file-size-mb", I(max_file_size_mb, 1, 4096), 0, "largest attachment, MiB"},
    {"pool-files-threads", I(pool_files_threads, 1, 256), 0, "threads extracting attachment text"},
    {"extract-max-bytes", I(extract_max_bytes, 4096, INT64_C(1) << 40), 0,
     "decompressed bytes one attachment may expand to"},
    {"extract-max-pages", I(extract_max_pages, 1, 1000000), 0, "pages of a PDF attachment"},
    {"extract-max-pixels", I(extract_max_pixels, 1024, INT64_C(1) << 40), 0,
     "pixels (width x height) of an image to OCR"},
    {"extract-timeout-s", I(extract_timeout_s, 1, 86400), 0, "seconds per attachment extraction"},
    {"extract-max-text-bytes", I(extract_max_text_bytes, 1024, INT64_C(1) << 32), 0,
     "extracted text kept per attachment"},
    {"download-budget-bytes", I(download_budget_bytes, 1024, INT64_C(1) << 40), 0,
     "attachment bytes being downloaded at once"},
    {"upload-timeout-s", I(upload_timeout_s, 1, 86400), 0,
     "attachment upload body deadline, seconds"},
    {"export-max-messages", I(export_max_messages, 1, 1000000), 0,
     "messages a conversation export may hold (413 above)"},
    {"export-max-bytes", I(export_max_bytes, 1024, INT64_C(1) << 32), 0,
     "message text a conversation export may hold (413 above)"},
    {"export-max-pages", I(export_max_pages, 1, 100000), 0, "pages a PDF export may have"},
    {"metrics-token", S(metrics_token), 1,
     "bearer token for /metrics and /health/providers (default: loopback only)"},
    {"health-ttl-ms", I(health_ttl_ms, 0, 86400000), 0,
     "reuse a provider probe's result this long"},
    {"health-probe-timeout-ms", I(health_probe_timeout_ms, 1, 600000), 0,
     "longest wait for a provider's health probe"},
};

static int64_t env_int(const char *name, int64_t def) {
    const char *v = getenv(name);
    return v && *v ? strtoll(v, NULL, 10) : def;
}

void ms_config_defaults(ms_config_t *c) {
    memset(c, 0, sizeof *c);
    c->listen = ms_xstrdup("127.0.0.1:8080");
    c->data_dir = ms_xstrdup("./medstream-data");
    c->provider = ms_xstrdup("offline");
    c->allowed_origins = ms_xstrdup("");
    c->disclaimer =
        ms_xstrdup("Medical disclaimer: this information is for education only and is not a "
                   "substitute for professional medical advice, diagnosis or treatment. Always "
                   "consult a qualified clinician about a specific patient.");
    c->log_level = ms_xstrdup("info");
    c->allow_registration = 1;
    c->access_ttl_s = 900;
    c->refresh_ttl_s = INT64_C(30) * 86400;
    c->max_frame_bytes = INT64_C(64) * 1024;
    c->max_queue_bytes = INT64_C(1024) * 1024;
    c->max_body_bytes = INT64_C(1024) * 1024;
    c->max_message_chars = 8000;
    c->max_connections = 19000;
    c->rx_buffer_bytes = 128;
    c->replay_ttl_ms = 30000;
    c->replay_max_bytes = INT64_C(64) * 1024 * 1024;
    c->checkpoint_ms = 1000;
    c->word_interval_ms = 25;
    c->kb_top_k = 5;
    c->workflow_max_symptoms = 30;
    c->workflow_max_items = 50;
    c->workflow_max_chars = 200;
    c->workflow_differential_k = 5;
    c->workflow_max_medications = 12;
    c->kb_min_score = 0.0;
    c->history_turns = 4;
    c->login_rate_per_min = 20;
    c->ws_rate_per_s = 20;
    c->ws_rate_burst = 60;
    c->ws_rate_close_after = 50;
    c->ws_max_inflight = 8;
    c->ws_write = ms_xstrdup("direct");
    c->header_timeout_s = 10;
    c->body_timeout_s = 30;
    c->max_header_bytes = 8192;
    c->max_unauth_body_bytes = 16384;
    c->body_budget_bytes = INT64_C(64) * 1024 * 1024;
    c->rate_limit_keys = 65536;
    c->ticket_rate_per_min = 30;
    c->tickets_per_user = 8;
    c->max_tickets = 100000;
    c->ws_subprotocols = ms_xstrdup("");
    /* The same variables ../shared/peers read, so one bench drives all servers. */
    c->syn_chunks = env_int("SYN_CHUNKS", 64);
    c->syn_chunk_bytes = env_int("SYN_CHUNK_BYTES", 16);
    c->syn_interval_ms = env_int("SYN_INTERVAL_MS", 0);
    c->max_live_turns = 4096;
    c->max_turns_per_user = 8;
    c->user_turns_per_min = 120;
    c->max_answer_bytes = INT64_C(256) * 1024;
    c->pool_store_threads = 4;
    c->pool_kb_threads = 2;
    c->pool_auth_threads = 2;
    c->pool_queue_max = 4096;
    c->node_name = ms_xstrdup("");
    c->lease_ms = 15000;
    c->folder_max_depth = 64;
    c->max_folders_per_user = 1000;
    c->share_ttl_s = 86400;
    c->share_max_ttl_s = INT64_C(30) * 86400;
    c->share_max_views = 1000000;
    c->share_max_links = 50;
    c->share_log_max = 1000;
    c->share_rate_per_min = 30;
    c->default_route = ms_xstrdup("");
    c->system_prompt = ms_xstrdup("");
    c->metrics_token = ms_xstrdup("");
    c->health_ttl_ms = 15000;
    c->health_probe_timeout_ms = 2000;
    c->prompt_max_tokens = 6000;
    c->history_max_tokens = 1500;
    c->llm_max_tokens = 1024;
    c->llm_connect_timeout_ms = 5000;
    c->llm_first_token_timeout_ms = 60000;
    c->llm_idle_timeout_ms = 30000;
    c->llm_max_line_bytes = INT64_C(1) << 20;
    c->llm_max_attempts = 3;
    c->llm_retry_base_ms = 200;
    c->llm_retry_max_ms = 5000;
    c->breaker_failures = 5;
    c->breaker_window_ms = 60000;
    c->breaker_cooldown_ms = 30000;
    c->upstream_pause_bytes = INT64_C(256) * 1024;
    c->upstream_pause_max_ms = 60000;
    c->grounding_min_overlap = 0.5;
    c->clinical_max_items = 100;
    c->clinical_max_chars = 500;
    c->max_file_size_mb = 10;
    c->pool_files_threads = 1;
    c->extract_max_bytes = INT64_C(64) * 1024 * 1024;
    c->extract_max_pages = 500;
    c->extract_max_pixels = INT64_C(40) * 1000 * 1000;
    c->extract_timeout_s = 120;
    c->extract_max_text_bytes = INT64_C(4) * 1024 * 1024;
    c->download_budget_bytes = INT64_C(256) * 1024 * 1024;
    c->upload_timeout_s = 300;
    c->export_max_messages = 2000;
    c->export_max_bytes = INT64_C(4) * 1024 * 1024;
    c->export_max_pages = 500;
}

void ms_config_free(ms_config_t *c) {
    for (size_t i = 0; i < MS_COUNTOF(directives); i++) {
        if (directives[i].type == CFG_STR) {
            char **p = (char **)((char *)c + directives[i].offset);
            free(*p);
            *p = NULL;
        }
    }
    free(c->config_file);
    c->config_file = NULL;
}

/* Writes one error line: printf-style, with control characters of what it
 * quotes (a key, a value, an argument: file, environment and argv content)
 * shown as \xNN, so a message is always the one line ms_config_load
 * promises and nothing in a config file can forge further lines. */
static void report(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(FILE *err, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fputs("medstream: ", err);
    for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(err, "\\x%02x", *p);
        else
            fputc(*p, err);
    }
    fputc('\n', err);
}

/* Sets one directive from text; the single place values are validated. */
static int set_value(ms_config_t *c, const cfg_directive_t *d, const char *v, FILE *err) {
    void *p = (char *)c + d->offset;
    char *end = NULL;
    switch (d->type) {
    case CFG_STR:
        free(*(char **)p);
        *(char **)p = ms_xstrdup(v);
        return 0;
    case CFG_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
            *(int *)p = 1;
            return 0;
        }
        if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
            *(int *)p = 0;
            return 0;
        }
        break;
    case CFG_INT: {
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno == 0 && end != v && *end == '\0' && n >= d->min && n <= d->max) {
            *(int64_t *)p = n;
            return 0;
        }
        report(err, "--%s must be an integer from %lld to %lld (got \"%s\")", d->name,
               (long long)d->min, (long long)d->max, v);
        return MS_EINVAL;
    }
    case CFG_DOUBLE: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno == 0 && end != v && *end == '\0') {
            *(double *)p = x;
            return 0;
        }
        break;
    }
    }
    report(err, "invalid value for --%s: \"%s\"", d->name, v);
    return MS_EINVAL;
}

static const cfg_directive_t *find_directive(const char *name, size_t len, int underscores) {
    for (size_t i = 0; i < MS_COUNTOF(directives); i++) {
        const char *n = directives[i].name;
        if (strlen(n) != len)
            continue;
        size_t k = 0;
        for (; k < len; k++) {
            char a = name[k];
            if (underscores && a == '_')
                a = '-';
            if (a != n[k])
                break;
        }
        if (k == len)
            return &directives[i];
    }
    return NULL;
}

/* Opens the config file for reading, or says why it cannot be read (a
 * missing file, a directory, no permission) with the path and the errno
 * text: jansson's own message for those carries no line, and its "line -1"
 * read as a syntax error. */
static FILE *open_file(const char *path, FILE *err) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    int e = errno;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        e = EISDIR;
    }
    if (!f)
        fprintf(err, "medstream: config %s: cannot read the file: %s\n", path, strerror(e));
    return f;
}

static int load_file(ms_config_t *c, const char *path, FILE *err) {
    json_error_t je;
    FILE *f = open_file(path, err);
    if (!f)
        return MS_EINVAL;
    json_t *root = json_loadf(f, 0, &je);
    int read_failed = ferror(f), read_errno = errno;
    fclose(f);
    if (!root && read_failed) {
        fprintf(err, "medstream: config %s: cannot read the file: %s\n", path,
                strerror(read_errno));
        return MS_EINVAL;
    }
    if (!root || !json_is_object(root)) {
        if (root)
            fprintf(err, "medstream: config %s: not a JSON object\n", path);
        else
            report(err, "config %s: %s (line %d, column %d)", path, je.text, je.line, je.column);
        json_decref(root);
        return MS_EINVAL;
    }
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val) {
        /* The language-model providers and routes are nested: src/llm reads
         * them from the same file (llm/registry.h), after this. */
        if (!strcmp(key, "providers") || !strcmp(key, "routes"))
            continue;
        const cfg_directive_t *d = find_directive(key, strlen(key), 1);
        if (!d) {
            report(err, "config %s: unknown setting \"%s\"", path, key);
            rc = MS_EINVAL;
            break;
        }
        char num[64];
        const char *text = NULL;
        if (json_is_string(val))
            text = json_string_value(val);
        else if (json_is_integer(val))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val)), text = num;
        else if (json_is_real(val))
            snprintf(num, sizeof num, "%.17g", json_real_value(val)), text = num;
        else if (json_is_boolean(val))
            text = json_is_true(val) ? "true" : "false";
        if (!text || set_value(c, d, text, err) != 0) {
            if (!text)
                report(err, "config %s: bad value for \"%s\"", path, key);
            rc = MS_EINVAL;
            break;
        }
    }
    json_decref(root);
    return rc;
}

static void print_help(FILE *out) {
    fprintf(out, "usage: medstream serve [options]\n\n"
                 "Runs the gateway. Every option is also read from MEDSTREAM_<NAME> (dashes as\n"
                 "underscores, upper case) and from a JSON --config file (keys with underscores).\n"
                 "Precedence: flags > environment > config file > defaults.\n\n"
                 "  --config FILE              JSON configuration file\n");
    ms_config_t def;
    ms_config_defaults(&def);
    for (size_t i = 0; i < MS_COUNTOF(directives); i++) {
        const cfg_directive_t *d = &directives[i];
        char flag[48], dv[64] = "";
        snprintf(flag, sizeof flag, "--%s %s", d->name,
                 d->type == CFG_STR    ? "S"
                 : d->type == CFG_BOOL ? "BOOL"
                                       : "N");
        void *p = (char *)&def + d->offset;
        if (d->type == CFG_INT)
            snprintf(dv, sizeof dv, " [%lld]", (long long)*(int64_t *)p);
        else if (d->type == CFG_BOOL)
            snprintf(dv, sizeof dv, " [%s]", *(int *)p ? "true" : "false");
        else if (d->type == CFG_DOUBLE)
            snprintf(dv, sizeof dv, " [%g]", *(double *)p);
        else if (*(char **)p && **(char **)p && strlen(*(char **)p) < 40)
            snprintf(dv, sizeof dv, " [%s]", *(char **)p);
        fprintf(out, "  %-26s %s%s\n", flag, d->help, dv);
    }
    ms_config_free(&def);
}

int ms_config_load(ms_config_t *c, int argc, char **argv, FILE *out, FILE *err) {
    /* The config file comes first so that the environment and flags override it. */
    const char *file = getenv("MEDSTREAM_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help(out);
            return 1;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && load_file(c, file, err) != 0)
        return MS_EINVAL;
    free(c->config_file);
    c->config_file = file && *file ? ms_xstrdup(file) : NULL;
    for (size_t i = 0; i < MS_COUNTOF(directives); i++) {
        char env[64] = "MEDSTREAM_";
        size_t k = strlen(env);
        for (const char *n = directives[i].name; *n && k < sizeof env - 1; n++) {
            char ch = *n;
            if (ch == '-')
                ch = '_';
            else if (ch >= 'a' && ch <= 'z')
                ch = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[ch - 'a'];
            env[k++] = ch;
        }
        env[k] = '\0';
        const char *v = getenv(env);
        if (v && set_value(c, &directives[i], v, err) != 0)
            return MS_EINVAL;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            report(err, "unexpected argument \"%s\" (see --help)", a);
            return MS_EINVAL;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const char *val = eq ? eq + 1 : NULL;
        if (len == 6 && !strncmp(a, "config", 6)) {
            if (!val)
                i++;
            continue;
        }
        const cfg_directive_t *d = find_directive(a, len, 0);
        if (!d) {
            report(err, "unknown option --%.*s (see --help)", (int)len, a);
            return MS_EINVAL;
        }
        if (!val) {
            if (d->type == CFG_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
                val = "true";
            } else if (i + 1 >= argc) {
                fprintf(err, "medstream: --%s needs a value\n", d->name);
                return MS_EINVAL;
            } else {
                val = argv[++i];
            }
        }
        if (set_value(c, d, val, err) != 0)
            return MS_EINVAL;
    }
    if (strcmp(c->provider, "offline") != 0 && strcmp(c->provider, "synthetic") != 0) {
        report(err, "--provider must be offline or synthetic (got \"%s\")", c->provider);
        return MS_EINVAL;
    }
    if (strcmp(c->ws_write, "direct") != 0 && strcmp(c->ws_write, "writable") != 0) {
        fprintf(err, "medstream: --ws-write must be direct or writable (got \"%s\")\n",
                c->ws_write);
        return MS_EINVAL;
    }
    char host[256];
    int port;
    if (ms_config_listen(c, host, sizeof host, &port) != 0) {
        report(err, "--listen must be HOST:PORT (got \"%s\")", c->listen);
        return MS_EINVAL;
    }
    if (c->grounding_min_overlap < 0 || c->grounding_min_overlap > 1) {
        fprintf(err, "medstream: --grounding-min-overlap must be from 0 to 1\n");
        return MS_EINVAL;
    }
    if (c->jwt_secret && *c->jwt_secret && strlen(c->jwt_secret) < 32) {
        fprintf(err, "medstream: --jwt-secret must be at least 32 bytes\n");
        return MS_EINVAL;
    }
    return 0;
}

int ms_config_listen(const ms_config_t *c, char *host, size_t hostlen, int *port) {
    const char *colon = strrchr(c->listen, ':');
    if (!colon || (size_t)(colon - c->listen) >= hostlen)
        return MS_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return MS_EINVAL;
    memcpy(host, c->listen, (size_t)(colon - c->listen));
    host[colon - c->listen] = '\0';
    *port = (int)p;
    return 0;
}

void ms_config_dump(const ms_config_t *c, FILE *out) {
    json_t *o = json_object();
    for (size_t i = 0; i < MS_COUNTOF(directives); i++) {
        const cfg_directive_t *d = &directives[i];
        const void *p = (const char *)c + d->offset;
        json_t *v;
        if (d->type == CFG_STR)
            v = d->secret ? json_string("<redacted>")
                          : json_string(*(char *const *)p ? *(char *const *)p : "");
        else if (d->type == CFG_INT)
            v = json_integer(*(const int64_t *)p);
        else if (d->type == CFG_BOOL)
            v = json_boolean(*(const int *)p);
        else
            v = json_real(*(const double *)p);
        json_object_set_new(o, d->name, v);
    }
    json_dumpf(o, out, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', out);
    json_decref(o);
}
