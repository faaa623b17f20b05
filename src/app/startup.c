/* Start-up steps of `medstream serve` that touch storage, keys and the
 * knowledge base; serve.c runs them in order. (The provider registry is
 * src/llm's: llm/registry.h.) */
#include "app/internal.h"

#include "core/log.h"
#include "core/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The HS256 key: from the configuration, else <data_dir>/jwt.key, created
 * once with 32 random bytes (mode 0600) so tokens survive restarts. */
int ms__app_jwt_key(const ms_config_t *cfg, ms_api_t *api) {
    if (cfg->jwt_secret && *cfg->jwt_secret) {
        size_t n = strlen(cfg->jwt_secret);
        api->jwt_secret_len = n < sizeof api->jwt_secret ? n : sizeof api->jwt_secret;
        memcpy(api->jwt_secret, cfg->jwt_secret, api->jwt_secret_len);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/jwt.key", cfg->data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, api->jwt_secret, 32) != 32) {
        fprintf(stderr, "medstream: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return MS_EIO;
    }
    close(fd);
    return 0;
}

/* This node's stable name: the configured one, else host:port. */
static void node_name(const ms_config_t *cfg, char *out, size_t len) {
    if (cfg->node_name && *cfg->node_name) {
        snprintf(out, len, "%s", cfg->node_name);
        return;
    }
    char host[256] = "localhost", lhost[256];
    int port = 0;
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    ms_config_listen(cfg, lhost, sizeof lhost, &port);
    snprintf(out, len, "%s:%d", host, port);
}

/* Ends the lease of every node on this host whose process is gone (a
 * medstream killed here, perhaps restarted on another port): its answers
 * can be recovered now instead of when its lease runs out. A live process
 * that merely shares a reused pid keeps its lease (kill(2) succeeds), which
 * only delays recovery. Returns how many were ended. */
int ms__app_reap_local(ms_store_t *st, const ms_node_t *self) {
    ms_node_t *nodes = NULL;
    size_t n = 0, reaped = 0;
    if (ms_store_node_list(st, ms_now_ms(), &nodes, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const ms_node_t *nd = &nodes[i];
        if (!strcmp(nd->id, self->id) || strcmp(nd->host, self->host) != 0 || nd->pid <= 0)
            continue;
        if (nd->pid == self->pid || kill((pid_t)nd->pid, 0) == 0 || errno != ESRCH)
            continue;
        if (ms_store_node_release(st, nd->id) == 0)
            reaped++;
    }
    free(nodes);
    return (int)reaped;
}

/* Opens the database, checks its integrity, registers this node and
 * recovers what crashed nodes left streaming; loads the starter knowledge
 * base. Every failure is explained on stderr. */
int ms__app_prepare_data(const ms_config_t *cfg, ms_node_t *node, int64_t *users) {
    ms_store_t *st = NULL;
    ms_kb_t *kb = NULL;
    char problem[256] = "";
    int interrupted = 0, starter = 0;
    int64_t passages = 0;
    if (ms_store_open(cfg->data_dir, &st) != 0) {
        fprintf(stderr, "medstream: cannot open the database in %s (see the log above)\n",
                cfg->data_dir);
        return MS_EIO;
    }
    if (ms_store_check(st, problem, sizeof problem) != 0) {
        fprintf(stderr,
                "medstream: the database in %s failed its integrity check (%s).\n"
                "Refusing to serve from a damaged file: restore it from a backup, or move it "
                "away to start empty.\n",
                cfg->data_dir, problem);
        ms_store_close(st);
        return MS_EIO;
    }
    ms_id_new(node->id);
    node_name(cfg, node->name, sizeof node->name);
    gethostname(node->host, sizeof node->host - 1);
    node->pid = (int64_t)getpid();
    node->started_at = ms_now_ms();
    node->lease_expires = node->started_at + cfg->lease_ms;
    int rc = ms_store_node_register(st, node);
    if (!rc)
        ms__app_reap_local(st, node);
    if (!rc)
        rc = ms_store_recover(st, ms_now_ms(), cfg->disclaimer, &interrupted);
    if (!rc)
        rc = ms_store_user_count(st, users);
    ms_store_close(st);
    if (!rc && (rc = ms_kb_open(cfg->data_dir, &kb)) == 0) {
        rc = ms_kb_starter(kb, &starter);
        if (!rc)
            rc = ms_kb_passages(kb, &passages);
        ms_kb_close(kb);
    }
    if (rc) {
        fprintf(stderr, "medstream: preparing %s failed (%s)\n", cfg->data_dir, ms_strerror(rc));
        return rc;
    }
    ms_log(MS_LOG_INFO, "data_ready",
           "\"node\":\"%s\",\"interrupted_messages\":%d,\"starter_passages_loaded\":%d,"
           "\"kb_passages\":%lld,\"users\":%lld",
           node->id, interrupted, starter, (long long)passages, (long long)*users);
    return 0;
}

/* At exit: this node's lease ends, and every message it left 'streaming'
 * (turns that never started answering) becomes interrupted. */
void ms__app_release_node(const ms_config_t *cfg, const char *node_id) {
    ms_store_t *st = NULL;
    int n = 0;
    if (ms_store_open(cfg->data_dir, &st) == 0 && ms_store_node_release(st, node_id) == 0 &&
        ms_store_recover(st, ms_now_ms(), cfg->disclaimer, &n) == 0 && n)
        ms_log(MS_LOG_INFO, "messages_interrupted", "\"count\":%d", n);
    ms_store_close(st);
}
