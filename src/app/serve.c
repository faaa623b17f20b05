/* `medstream serve`: start-up in order, the loop, the node lease, signals,
 * and graceful shutdown. */
#include "app/internal.h"

#include "core/log.h"
#include "llm/registry.h"
#include "net/net.h"
#include "proto/event.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const ms_config_t *cfg;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_timer_t drain, lease;
    ms_net_t *net;
    ms_api_t api;
    ms_chat_t *chat;
    ms_llm_t *llm;
    ms_node_t node;
    int stopping;
    int lease_inflight;
} server_t;

static void close_cb(uv_handle_t *h) {
    (void)h;
}

/* After the sessions had a moment to receive their close frames, lws closes
 * everything and releases its handles; the loop then ends when our handles
 * and pending work are gone too. */
static void drain_cb(uv_timer_t *t) {
    server_t *srv = t->data;
    ms_net_stop(srv->net);
    uv_close((uv_handle_t *)&srv->drain, close_cb);
}

static void stop_serving(server_t *srv, const char *why, int signum) {
    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->api.ready = 0;
    /* Unfinished answers are stored as interrupted (after any checkpoint in
     * flight); clients are told 1001 (going away). */
    ms_chat_shutdown(srv->chat);
    int open = ms_net_close_sessions(srv->net, 1001, "server shutting down");
    ms_log(MS_LOG_INFO, "shutdown", "\"reason\":\"%s\",\"signal\":%d,\"sessions\":%d", why, signum,
           open);
    uv_timer_stop(&srv->lease);
    uv_close((uv_handle_t *)&srv->lease, close_cb);
    uv_signal_stop(&srv->sigint);
    uv_signal_stop(&srv->sigterm);
    uv_close((uv_handle_t *)&srv->sigint, close_cb);
    uv_close((uv_handle_t *)&srv->sigterm, close_cb);
    uv_timer_init(&srv->loop, &srv->drain);
    srv->drain.data = srv;
    uv_timer_start(&srv->drain, drain_cb, open ? 300 : 0, 0);
}

static void signal_cb(uv_signal_t *sig, int signum) {
    stop_serving(sig->data, "signal", signum);
}

/* ---- the node lease ---------------------------------------------------------
 * Renewed every lease_ms / 3 through the DB writer; each renewal also runs
 * recovery, so the answers of a node that died are marked interrupted
 * within about one lease of its death, by whichever node is alive. */

typedef struct {
    server_t *srv;
    ms_node_t node;
    int64_t lease_expires;
    const char *suffix;
    int rc, recovered;
} lease_job_t;

static void lease_run(ms_store_t *st, void *arg) {
    lease_job_t *j = arg;
    if (!st) {
        j->rc = MS_EIO;
        return;
    }
    j->rc = ms_store_node_renew(st, j->node.id, j->lease_expires);
    if (j->rc == 0) {
        ms__app_reap_local(st, &j->node);
        ms_store_recover(st, ms_now_ms(), j->suffix, &j->recovered);
    }
}

static void lease_done(void *arg) {
    lease_job_t *j = arg;
    server_t *srv = j->srv;
    srv->lease_inflight = 0;
    if (j->recovered)
        ms_log(MS_LOG_INFO, "messages_interrupted", "\"count\":%d,\"by\":\"lease\"", j->recovered);
    if (j->rc == MS_ENOENT && !srv->stopping) {
        /* Another process registered under this node's name and ended our
         * lease: it may recover our answers any time now. Stop. */
        ms_log(MS_LOG_ERROR, "node_lease_lost", "\"node\":\"%s\"", j->node.id);
        stop_serving(srv, "lease lost", 0);
    } else if (j->rc) {
        ms_log(MS_LOG_WARN, "node_lease_renew_failed", "\"code\":%d", j->rc);
    }
    free(j);
}

static void lease_cb(uv_timer_t *t) {
    server_t *srv = t->data;
    if (srv->lease_inflight || srv->stopping)
        return;
    lease_job_t *j = ms_xcalloc(1, sizeof *j);
    j->srv = srv;
    j->node = srv->node;
    j->lease_expires = ms_now_ms() + srv->cfg->lease_ms;
    j->suffix = srv->cfg->disclaimer;
    srv->lease_inflight = 1;
    if (ms_work_submit_write(&srv->loop, lease_run, lease_done, j) != 0) {
        srv->lease_inflight = 0;
        free(j);
    }
}

/* ---- serve ----------------------------------------------------------------- */

static int prepare(const ms_config_t *cfg, server_t *srv, int64_t *users) {
    if (sodium_init() < 0)
        return MS_EIO;
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "medstream: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
        return MS_EIO;
    }
    int rc = ms__app_jwt_key(cfg, &srv->api);
    if (rc)
        return rc;
    /* Session names map to conversations through a key derived from the
     * JWT key, so every node that shares the key maps them alike. */
    ms_dialect_set_session_key(srv->api.jwt_secret, srv->api.jwt_secret_len);
    return ms__app_prepare_data(cfg, &srv->node, users);
}

int ms_app_serve(const ms_config_t *cfg) {
    ms_log_level_t level;
    if (ms_log_parse_level(cfg->log_level, &level) == 0)
        ms_log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    server_t *srv = ms_xcalloc(1, sizeof *srv);
    srv->cfg = cfg;
    int64_t users = 0;
    int rc = 1;
    if (prepare(cfg, srv, &users) != 0)
        goto out;

    ms_work_config_t wc = {
        .threads = {(unsigned)cfg->pool_store_threads, (unsigned)cfg->pool_kb_threads,
                    (unsigned)cfg->pool_auth_threads, (unsigned)cfg->pool_files_threads},
        .queue_max = {(size_t)cfg->pool_queue_max, (size_t)cfg->pool_queue_max,
                      (size_t)cfg->pool_queue_max, (size_t)cfg->pool_queue_max}};
    ms_work_init_ex(cfg->data_dir, &wc);
    uv_loop_init(&srv->loop);
    /* Providers and routes (llm/registry.h): a bad one is explained on
     * stderr, naming the field, and the server does not start. */
    char lerr[512] = "";
    ms_llm_env_t lenv = {.loop = &srv->loop, .cfg = cfg, .kb_pool = ms_work_pool(MS_WORK_KB)};
    if (ms_llm_new(&lenv, &srv->llm, lerr, sizeof lerr) != 0) {
        fprintf(stderr, "medstream: %s\n", lerr);
        ms_work_shutdown();
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        uv_loop_close(&srv->loop);
        ms__app_release_node(cfg, srv->node.id);
        goto out;
    }
    srv->chat = ms_chat_new_llm(&srv->loop, cfg, srv->llm, srv->node.id);
    srv->api.loop = &srv->loop;
    srv->api.cfg = cfg;
    ms_limits_memory_config_t lc = {.max_keys = cfg->rate_limit_keys,
                                    .max_tickets = cfg->max_tickets,
                                    .max_tickets_per_user = cfg->tickets_per_user};
    srv->api.limits = ms_limits_memory_new(&lc);
    srv->api.chat = srv->chat;

    char err[256] = "";
    if (ms_net_start(&srv->loop, cfg, &srv->api, &srv->net, err, sizeof err) != 0) {
        fprintf(stderr, "medstream: %s\n", err);
        ms_chat_shutdown(srv->chat);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        goto cleanup;
    }
    uv_signal_init(&srv->loop, &srv->sigint);
    uv_signal_init(&srv->loop, &srv->sigterm);
    srv->sigint.data = srv->sigterm.data = srv;
    uv_signal_start(&srv->sigint, signal_cb, SIGINT);
    uv_signal_start(&srv->sigterm, signal_cb, SIGTERM);
    uv_timer_init(&srv->loop, &srv->lease);
    srv->lease.data = srv;
    uint64_t every = (uint64_t)(cfg->lease_ms / 3);
    uv_timer_start(&srv->lease, lease_cb, every, every);
    srv->api.ready = 1;

    char host[256];
    int port;
    ms_config_listen(cfg, host, sizeof host, &port);
    port = ms_net_port(srv->net);
    const ms_llm_route_t *dr = ms_llm_default_route(srv->llm);
    ms_log(MS_LOG_INFO, "listening",
           "\"url\":\"http://%s:%d/\",\"provider\":\"%s\",\"providers\":%zu,\"routes\":%zu,"
           "\"node\":\"%s\"",
           host, port, dr->alias, ms_llm_nproviders(srv->llm), ms_llm_nroutes(srv->llm),
           srv->node.id);
    printf("medstream is serving http://%s:%d/ (provider: %s, data: %s)\n", host, port, dr->alias,
           cfg->data_dir);
    if (users == 0)
        printf("No users yet: register in the page, or run\n"
               "  medstream user add --data-dir %s --email you@example.org\n",
               cfg->data_dir);
    fflush(stdout);

    uv_run(&srv->loop, UV_RUN_DEFAULT);
    rc = 0;
cleanup:
    ms_net_free(srv->net);
    ms_chat_free(srv->chat);
    ms_llm_free(srv->llm);
    uv_run(&srv->loop, UV_RUN_DEFAULT); /* the transport's handles close */
    ms_limits_free(srv->api.limits);
    ms_work_shutdown();
    ms__app_release_node(cfg, srv->node.id);
    if (uv_loop_close(&srv->loop) != 0)
        ms_log(MS_LOG_WARN, "loop_not_clean", NULL);
    ms_log(MS_LOG_INFO, "stopped", NULL);
    if (rc)
        rc = 1;
out:
    free(srv);
    return rc;
}
