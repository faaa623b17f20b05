/* `medstream serve`: start-up, the lws context on our libuv loop, graceful
 * shutdown. */
#include "chat/work.h"
#include "core/log.h"
#include "kb/kb.h"
#include "net/internal.h"
#include "net/net.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const unsigned char ms_ui_index_html[];
extern const size_t ms_ui_index_html_len;

typedef struct {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_timer_t drain;
    struct lws_context *lws;
    ms_api_t api;
    ms_chat_t *chat;
    ms_provider_t *provider;
    int stopping;
} server_t;

static int protocol_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len) {
    ms_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        return ms__http_cb(wsi, reason, pss, in, len);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        return ms__ws_cb(wsi, reason, pss, in, len);
    default:
        return 0;
    }
}

/* Routes lws' own log lines into our JSON log. A client can make lws log
 * (a request head over its buffer is one error line), so at most 20 lines
 * go out every 10 s and the rest are counted. */
static void lws_log_cb(int level, const char *line) {
    static ms_log_throttle_t throttle;
    if (!ms__log_allow(&throttle, ms_mono_ms(), 20, 10000))
        return;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_json_str(&b, line, n);
    ms_log(level == LLL_ERR ? MS_LOG_ERROR : MS_LOG_WARN, "lws", "\"msg\":%s", ms_buf_cstr(&b));
    ms_buf_free(&b);
}

/* The HS256 key: from the configuration, else <data_dir>/jwt.key, created
 * once with 32 random bytes (mode 0600) so tokens survive restarts. */
static int load_jwt_secret(const ms_config_t *cfg, ms_api_t *api) {
    if (cfg->jwt_secret && *cfg->jwt_secret) {
        size_t n = strlen(cfg->jwt_secret);
        api->jwt_secret_len = n < sizeof api->jwt_secret ? n : sizeof api->jwt_secret;
        memcpy(api->jwt_secret, cfg->jwt_secret, api->jwt_secret_len);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/jwt.key", cfg->data_dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, api->jwt_secret, sizeof api->jwt_secret);
        close(fd);
        if (n >= 32) {
            api->jwt_secret_len = (size_t)n;
            return 0;
        }
        fprintf(stderr, "medstream: %s is shorter than 32 bytes; remove it to regenerate\n", path);
        return MS_EIO;
    }
    randombytes_buf(api->jwt_secret, 32);
    api->jwt_secret_len = 32;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, api->jwt_secret, 32) != 32) {
        fprintf(stderr, "medstream: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return MS_EIO;
    }
    close(fd);
    return 0;
}

/* Migrations, crash recovery and the starter knowledge base, before serving. */
static int prepare_data(const ms_config_t *cfg, int64_t *users) {
    ms_store_t *st = NULL;
    if (ms_store_open(cfg->data_dir, &st) != 0) {
        fprintf(stderr, "medstream: cannot open the database in %s\n", cfg->data_dir);
        return MS_EIO;
    }
    int interrupted = 0, starter = 0;
    int64_t passages = 0;
    int rc = ms_store_mark_interrupted(st, &interrupted);
    if (!rc)
        rc = ms_kb_init(ms_store_db(st));
    if (!rc)
        rc = ms_kb_load_starter(ms_store_db(st), &starter);
    if (!rc)
        rc = ms_kb_count(ms_store_db(st), &passages);
    if (!rc)
        rc = ms_store_user_count(st, users);
    ms_store_close(st);
    if (rc) {
        fprintf(stderr, "medstream: preparing %s failed (%s)\n", cfg->data_dir, ms_strerror(rc));
        return rc;
    }
    ms_log(MS_LOG_INFO, "data_ready",
           "\"interrupted_messages\":%d,\"starter_passages_loaded\":%d,\"kb_passages\":%lld,"
           "\"users\":%lld",
           interrupted, starter, (long long)passages, (long long)*users);
    return 0;
}

static void close_cb(uv_handle_t *h) {
    (void)h;
}

/* After the sessions had a moment to receive their close frames, lws closes
 * everything and releases its handles; the loop then ends when our handles
 * and pending pool work are gone too. */
static void drain_cb(uv_timer_t *t) {
    server_t *srv = t->data;
    lws_context_destroy(srv->lws);
    uv_close((uv_handle_t *)&srv->drain, close_cb);
}

static void signal_cb(uv_signal_t *sig, int signum) {
    server_t *srv = sig->data;
    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->api.ready = 0;
    /* Unfinished answers are stored as interrupted (through the pool, after
     * any checkpoint in flight); clients are told 1001 (going away). */
    ms_chat_shutdown(srv->chat);
    int open = ms__ws_close_all(1001, "server shutting down");
    ms__batch_stop();
    ms__http_stop();
    ms_log(MS_LOG_INFO, "shutdown", "\"signal\":%d,\"sessions\":%d", signum, open);
    uv_signal_stop(&srv->sigint);
    uv_signal_stop(&srv->sigterm);
    uv_close((uv_handle_t *)&srv->sigint, close_cb);
    uv_close((uv_handle_t *)&srv->sigterm, close_cb);
    uv_timer_init(&srv->loop, &srv->drain);
    srv->drain.data = srv;
    uv_timer_start(&srv->drain, drain_cb, open ? 300 : 0, 0);
}

/* A clean exit leaves no message 'streaming': turns whose answer had not
 * started when the signal came are marked interrupted here. */
static void finish_interrupted(const ms_config_t *cfg) {
    ms_store_t *st = NULL;
    int n = 0;
    if (ms_store_open(cfg->data_dir, &st) == 0 && ms_store_mark_interrupted(st, &n) == 0 && n)
        ms_log(MS_LOG_INFO, "messages_interrupted", "\"count\":%d", n);
    ms_store_close(st);
}

static ms_provider_t *make_provider(const ms_config_t *cfg) {
    if (!strcmp(cfg->provider, "synthetic")) {
        ms_synthetic_config_t sc = {.chunks = (int)cfg->syn_chunks,
                                    .chunk_bytes = (int)cfg->syn_chunk_bytes,
                                    .interval_ms = (int)cfg->syn_interval_ms};
        return ms_provider_synthetic_new(&sc);
    }
    ms_offline_config_t oc = {.word_interval_ms = (int)cfg->word_interval_ms,
                              .min_score = cfg->kb_min_score,
                              .max_sentences = 5};
    return ms_provider_offline_new(&oc);
}

int ms_server_run(const ms_config_t *cfg) {
    /* The receive buffer is allocated per WebSocket connection: it is most of
     * what an idle connection costs (lws' default is 8 KiB). Messages larger
     * than it arrive in pieces and are reassembled up to max_frame_bytes.
     * tx_packet_size must be set, or lws caps each send() at the rx size. */
    static struct lws_protocols protocols[] = {
        {"medstream", protocol_cb, sizeof(ms_pss_t), 0, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    protocols[0].rx_buffer_size = (size_t)cfg->rx_buffer_bytes;
    protocols[0].tx_packet_size = 512 * 1024; /* above batch.c's BATCH_MAX: one send() a batch */
    /* No per-connection validity timers: lws 4.1 keeps timers in one sorted
     * list, so each would cost O(connections) to insert. Dead peers are found
     * by TCP keepalive in the kernel instead. */
    static const lws_retry_bo_t idle_policy = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};
    ms_log_level_t level;
    if (ms_log_parse_level(cfg->log_level, &level) == 0)
        ms_log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0)
        return 1;
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "medstream: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
        return 1;
    }
    server_t *srv = ms_xcalloc(1, sizeof *srv);
    int64_t users = 0;
    int rc = 1;
    if (load_jwt_secret(cfg, &srv->api) != 0 || prepare_data(cfg, &users) != 0)
        goto out;
    char host[256];
    int port;
    ms_config_listen(cfg, host, sizeof host, &port);

    ms_work_init(cfg->data_dir);
    uv_loop_init(&srv->loop);
    srv->provider = make_provider(cfg);
    srv->chat = ms_chat_new(&srv->loop, cfg, srv->provider);
    srv->api.loop = &srv->loop;
    srv->api.cfg = cfg;
    ms_limits_memory_config_t lc = {.max_keys = cfg->rate_limit_keys,
                                    .max_tickets = cfg->max_tickets,
                                    .max_tickets_per_user = cfg->tickets_per_user};
    srv->api.limits = ms_limits_memory_new(&lc);
    srv->api.chat = srv->chat;
    srv->api.index_html = ms_ui_index_html;
    srv->api.index_html_len = ms_ui_index_html_len;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_cb);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign_loops[1] = {&srv->loop};
    info.port = port;
    info.iface = host[0] && strcmp(host, "0.0.0.0") != 0 ? host : NULL;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign_loops;
    info.user = &srv->api;
    info.pcontext = &srv->lws;
    info.fd_limit_per_thread = (unsigned int)cfg->max_connections + 64;
    info.pt_serv_buf_size = 8192;
    /* lws' header buffer holds twice our limit, so that a head over
     * max_header_bytes is still parsed and answered 431 (http.c); only one
     * that overflows lws' buffer is closed without an answer (lws 4.1 has
     * no hook there). The buffer is malloc'd per head being read and freed
     * after; four times cost ~0.08 KiB per idle connection in the idle
     * bench (6,000 connections, 200 handshakes at once), twice ~0.04. */
    int64_t header_buf = 2 * cfg->max_header_bytes;
    info.max_http_header_data = (unsigned short)(header_buf > 65535 ? 65535 : header_buf);
    /* Each header lws knows is cut at max_header_bytes instead of filling
     * the buffer, so one huge Cookie or Authorization still gets its 431. */
    static struct lws_token_limits token_limits;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        token_limits.token_limit[t] = (unsigned short)cfg->max_header_bytes;
    info.token_limits = &token_limits;
    /* The whole request head must arrive within this (set once when the
     * connection gets its header table, not per byte: slowloris). */
    info.timeout_secs_ah_idle = (unsigned int)cfg->header_timeout_s;
    info.timeout_secs = 30;
    info.retry_and_idle_policy = &idle_policy;
    info.ka_time = 60; /* TCP keepalive: idle seconds, then probes every ka_interval */
    info.ka_probes = 3;
    info.ka_interval = 10;
    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        fprintf(stderr, "medstream: cannot listen on %s (in use, or not a local address?)\n",
                cfg->listen);
        ms_chat_shutdown(srv->chat);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        goto cleanup;
    }
    uv_signal_init(&srv->loop, &srv->sigint);
    uv_signal_init(&srv->loop, &srv->sigterm);
    srv->sigint.data = srv->sigterm.data = srv;
    uv_signal_start(&srv->sigint, signal_cb, SIGINT);
    uv_signal_start(&srv->sigterm, signal_cb, SIGTERM);
    srv->api.ready = 1;

    ms_log(MS_LOG_INFO, "listening", "\"url\":\"http://%s:%d/\",\"provider\":\"%s\"", host, port,
           cfg->provider);
    printf("medstream is serving http://%s:%d/ (provider: %s, data: %s)\n", host, port,
           cfg->provider, cfg->data_dir);
    if (users == 0)
        printf("No users yet: register in the page, or run\n"
               "  medstream user add --data-dir %s --email you@example.org\n",
               cfg->data_dir);
    fflush(stdout);

    uv_run(&srv->loop, UV_RUN_DEFAULT);
    finish_interrupted(cfg);
    rc = 0;
cleanup:
    lws_context_destroy(srv->lws); /* NULL once destroyed: a no-op then */
    ms_chat_free(srv->chat);
    srv->provider->ops->free(srv->provider);
    ms_limits_free(srv->api.limits);
    ms_work_shutdown();
    if (uv_loop_close(&srv->loop) != 0)
        ms_log(MS_LOG_WARN, "loop_not_clean", NULL);
    ms_log(MS_LOG_INFO, "stopped", NULL);
out:
    free(srv);
    return rc;
}
