/* `medstream bench`: option parsing, the pre-flight (reachability, login,
 * WebSocket path) and the report. The load itself is src/bench. */
#include "cli/bench_cmd.h"

#include "bench/bench.h"
#include "core/ms.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BENCH_EXIT_OK 0
#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2
#define BENCH_EXIT_ERRORS 3

static const char bench_usage[] =
    "usage: medstream bench [options]\n"
    "\n"
    "Opens N WebSocket connections, streams M answers on each and reports\n"
    "connections, throughput, latency percentiles, errors, and with --pid the\n"
    "server's memory and CPU. See docs/performance.md.\n"
    "\n"
    "Target:\n"
    "  --url URL               ws://HOST:PORT[/PATH], HOST an IPv4 address or localhost\n"
    "                          [ws://127.0.0.1:8080; PATH /api/ws (native) or\n"
    "                          /api/realtime/ws (voiceassist)]\n"
    "  --dialect D             native | voiceassist [native]\n"
    "Authentication (native: Authorization: Bearer; voiceassist: ?token=):\n"
    "  --email E               log in once with POST /api/auth/login\n"
    "  --password P            its password (or $MEDSTREAM_PASSWORD)\n"
    "  --register              register the user first (an existing one is fine)\n"
    "  --token T               use this access token instead of logging in\n"
    "Load:\n"
    "  -c, --connections N     connections [100]\n"
    "  -m, --messages M        questions per connection, one after another [1]\n"
    "  --think-ms MS           pause between an answer and the next question [0]\n"
    "  --ramp-ms MS            spread the first questions evenly over MS [0]\n"
    "  --text S                the question [\"What is the first-line treatment for\n"
    "                          hypertension?\"]\n"
    "  --idle                  connect and authenticate all N, send nothing, hold\n"
    "  --hold-s S              idle: seconds to hold the connections [10]\n"
    "  --concurrency N         handshakes in flight per process [200]\n"
    "  --source-addrs K        bind source addresses BASE .. BASE+K-1 (past the ~28k\n"
    "                          ephemeral ports of one address) [16 for a 127.x target]\n"
    "  --source-base A         the first source address [127.0.0.1]\n"
    "  --procs P               worker processes; more are used when N passes the\n"
    "                          open-files limit [1]\n"
    "Measurement:\n"
    "  --expect-interval-ms MS report jitter: chunk gap - MS (early chunks count 0)\n"
    "  --pid PID               the server's pid: RSS (VmRSS) and CPU from /proc\n"
    "  --settle-ms MS          pause after connecting before sampling RSS [1000]\n"
    "  --timeout-s S           the whole run ends after S seconds [300]\n"
    "  --connect-timeout-s S   one handshake's limit [20]\n"
    "Output:\n"
    "  --json                  one JSON object on stdout\n"
    "  -q, --quiet             no progress line\n"
    "  -h, --help              this help\n"
    "\n"
    "Exit status: 0 all well, 1 could not start (unreachable, login refused),\n"
    "2 usage, 3 finished with failed connections or errors.\n";

typedef struct {
    ms_bench_config_t cfg;
    char host[64];
    char *path;
    const char *email, *password, *token;
    int reg, json, quiet;
    int source_addrs_set;
} bench_args_t;

static int parse_int(const char *opt, const char *v, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "medstream bench: %s needs an integer from %ld to %ld\n", opt, lo, hi);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* ws://HOST:PORT/PATH into host, port and path (path NULL when absent). */
static int parse_url(const char *url, bench_args_t *a) {
    const char *p = url;
    if (!strncmp(p, "ws://", 5))
        p += 5;
    else if (!strncmp(p, "http://", 7))
        p += 7;
    else if (strstr(p, "://")) {
        fprintf(stderr, "medstream bench: only ws:// URLs are supported (got %s)\n", url);
        return -1;
    }
    size_t hl = strcspn(p, ":/");
    if (!hl || hl >= sizeof a->host) {
        fprintf(stderr, "medstream bench: no host in %s\n", url);
        return -1;
    }
    memcpy(a->host, p, hl);
    a->host[hl] = '\0';
    if (!strcmp(a->host, "localhost"))
        snprintf(a->host, sizeof a->host, "127.0.0.1");
    p += hl;
    a->cfg.port = 80;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            fprintf(stderr, "medstream bench: bad port in %s\n", url);
            return -1;
        }
        a->cfg.port = (int)port;
        p = end;
    }
    free(a->path);
    a->path = *p == '/' && p[1] ? ms_xstrdup(p) : NULL;
    return 0;
}

/* Options that take a value, bound to where they go and their range. */
static int int_option(bench_args_t *a, const char *o, const char *v) {
    static const struct {
        const char *name, *alias;
        size_t off;
        long lo, hi;
    } opts[] = {
#define F(f) offsetof(ms_bench_config_t, f)
        {"--connections", "-c", F(connections), 0, 10000000},
        {"--messages", "-m", F(messages), 0, 1000000},
        {"--think-ms", NULL, F(think_ms), 0, 3600000},
        {"--ramp-ms", NULL, F(ramp_ms), 0, 3600000},
        {"--hold-s", NULL, F(hold_s), 0, 86400},
        {"--concurrency", NULL, F(concurrency), 1, 60000},
        {"--source-addrs", NULL, F(source_addrs), 0, 65536},
        {"--procs", NULL, F(procs), 1, 256},
        {"--expect-interval-ms", NULL, F(expect_interval_ms), 0, 3600000},
        {"--pid", NULL, F(server_pid), 1, INT_MAX},
        {"--settle-ms", NULL, F(settle_ms), 0, 600000},
        {"--timeout-s", NULL, F(timeout_s), 1, 86400},
        {"--connect-timeout-s", NULL, F(connect_timeout_s), 1, 3600},
#undef F
    };
    for (size_t i = 0; i < MS_COUNTOF(opts); i++) {
        if (strcmp(o, opts[i].name) != 0 && (!opts[i].alias || strcmp(o, opts[i].alias) != 0))
            continue;
        if (!strcmp(opts[i].name, "--source-addrs"))
            a->source_addrs_set = 1;
        return parse_int(opts[i].name, v, opts[i].lo, opts[i].hi,
                         (int *)((char *)&a->cfg + opts[i].off)) == 0
                   ? 1
                   : -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, bench_args_t *a) {
    ms_bench_config_t *c = &a->cfg;
    c->connections = 100;
    c->messages = 1;
    c->hold_s = 10;
    c->concurrency = 200;
    c->source_base = "127.0.0.1";
    c->procs = 1;
    c->timeout_s = 300;
    c->connect_timeout_s = 20;
    c->settle_ms = 1000;
    c->text = "What is the first-line treatment for hypertension?";
    if (parse_url("ws://127.0.0.1:8080", a) != 0)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = int_option(a, o, v);
        if (r < 0)
            return -1;
        if (r > 0) {
            i++;
            continue;
        }
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(bench_usage, stdout);
            return 1;
        } else if (!strcmp(o, "--idle")) {
            c->idle = 1;
        } else if (!strcmp(o, "--register")) {
            a->reg = 1;
        } else if (!strcmp(o, "--json")) {
            a->json = 1;
        } else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) {
            a->quiet = 1;
        } else if (v && (!strcmp(o, "--url") || !strcmp(o, "--dialect") || !strcmp(o, "--email") ||
                         !strcmp(o, "--password") || !strcmp(o, "--token") ||
                         !strcmp(o, "--text") || !strcmp(o, "--source-base"))) {
            i++;
            if (!strcmp(o, "--url") && parse_url(v, a) != 0)
                return -1;
            if (!strcmp(o, "--dialect")) {
                if (strcmp(v, "native") != 0 && strcmp(v, "voiceassist") != 0) {
                    fprintf(stderr, "medstream bench: --dialect is native or voiceassist\n");
                    return -1;
                }
                c->dialect = v[0] == 'n' ? MS_BENCH_NATIVE : MS_BENCH_VOICEASSIST;
            }
            if (!strcmp(o, "--email"))
                a->email = v;
            if (!strcmp(o, "--password"))
                a->password = v;
            if (!strcmp(o, "--token"))
                a->token = v;
            if (!strcmp(o, "--text"))
                c->text = v;
            if (!strcmp(o, "--source-base"))
                c->source_base = v;
        } else {
            fprintf(stderr, "medstream bench: unknown option or missing value: %s\n", o);
            return -1;
        }
    }
    if (!*c->text) {
        fprintf(stderr, "medstream bench: --text must not be empty\n");
        return -1;
    }
    if (a->email && !a->password)
        a->password = getenv("MEDSTREAM_PASSWORD");
    if (a->email && !a->password) {
        fprintf(stderr, "medstream bench: --email needs --password or $MEDSTREAM_PASSWORD\n");
        return -1;
    }
    if (c->dialect == MS_BENCH_NATIVE && !a->email && !a->token) {
        fprintf(stderr, "medstream bench: the native dialect needs --email/--password or "
                        "--token\n");
        return -1;
    }
    if (!a->source_addrs_set)
        c->source_addrs = !strncmp(a->host, "127.", 4) ? 16 : 0;
    c->host = a->host;
    c->path = a->path ? a->path : c->dialect == MS_BENCH_NATIVE ? "/api/ws" : "/api/realtime/ws";
    return 0;
}

/* Pre-flight: a clear one-line error beats thousands of failed connects. */
static int preflight(bench_args_t *a, char **token) {
    ms_bench_config_t *c = &a->cfg;
    char err[512] = "";
    *token = NULL;
    if (a->email) {
        int rc =
            ms_bench_login(c->host, c->port, a->email, a->password, a->reg, token, err, sizeof err);
        if (rc) {
            fprintf(stderr, "medstream bench: %s\n", err);
            return -1;
        }
    } else if (a->token) {
        *token = ms_xstrdup(a->token);
    }
    c->token = *token;
    int ok = ms_bench_probe(c->host, c->port, c->path, c->token, err, sizeof err);
    if (ok < 0) {
        fprintf(stderr, "medstream bench: %s\n", err);
        return -1;
    }
    if (!ok) {
        fprintf(stderr,
                "medstream bench: ws://%s:%d%s refuses the WebSocket upgrade "
                "(wrong --url or --dialect?)\n",
                c->host, c->port, c->path);
        return -1;
    }
    return 0;
}

int ms_cli_bench(int argc, char **argv) {
    bench_args_t a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        free(a.path);
        if (rc < 0)
            fprintf(stderr, "(medstream bench --help lists the options)\n");
        return rc > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
    }
    char *token = NULL;
    if (preflight(&a, &token) != 0) {
        free(a.path);
        return BENCH_EXIT_FAIL;
    }
    a.cfg.progress = !a.quiet && isatty(STDERR_FILENO) ? stderr : NULL;
    ms_bench_result_t res;
    rc = ms_bench_run(&a.cfg, &res);
    int status = BENCH_EXIT_OK;
    if (rc != 0) {
        fprintf(stderr, "medstream bench: %s\n",
                rc == MS_EINVAL ? "invalid configuration" : "cannot start the worker processes");
        status = BENCH_EXIT_FAIL;
    } else {
        if (a.json) {
            json_t *j = ms_bench_report_json(&a.cfg, &res);
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
            fputc('\n', stdout);
            json_decref(j);
        } else {
            ms_bench_report_text(&a.cfg, &res, stdout);
        }
        int64_t errors = res.st->failed;
        for (int i = 0; i < MS_BENCH_ERR_COUNT; i++)
            errors += res.st->errors[i];
        if (errors || res.timed_out)
            status = BENCH_EXIT_ERRORS;
    }
    ms_bench_result_free(&res);
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    free(a.path);
    return status;
}
