/* The coordinator: forks the workers, steps them through the phases (see
 * bench.h), samples the server between phases and merges the results.
 * It only waits on pipes (poll), so it costs nothing while the workers
 * run; all time limits are enforced here, and workers that do not answer
 * the quit in time are killed. */
#include "bench/internal.h"
#include "core/buf.h"
#include "core/ms.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long workers get to report after the quit before they are killed. */
#define QUIT_GRACE_MS 15000

typedef struct {
    pid_t pid;
    int rfd, wfd; /* from and to the worker; -1 once closed */
    ms_buf_t in;
    int ready, done, reported;
    long p[5]; /* the last progress line */
    ms_bench_shard_t sh;
} child_t;

typedef struct {
    const ms_bench_config_t *cfg;
    ms_bench_result_t *res;
    child_t *ch;
    int n;
    int64_t last_progress;
} coord_t;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int64_t now_ms(void) {
    return ms__bench_now_us() / 1000;
}

static void send_all(coord_t *co, char cmd) {
    for (int i = 0; i < co->n; i++)
        if (co->ch[i].wfd >= 0 && write(co->ch[i].wfd, &cmd, 1) != 1) {
            close(co->ch[i].wfd);
            co->ch[i].wfd = -1;
        }
}

static void handle_line(coord_t *co, child_t *c, char *line) {
    switch (line[0]) {
    case 'P': {
        /* "P a b c d e": five progress counters from the child. */
        char *q = line + 1;
        for (int k = 0; k < 5; k++) {
            char *end = NULL;
            long v = strtol(q, &end, 10);
            if (end == q)
                break;
            c->p[k] = v;
            q = end;
        }
    } break;
    case 'R':
        c->ready = 1;
        break;
    case 'D':
        c->done = 1;
        break;
    case 'J': {
        json_error_t je;
        json_t *j = json_loads(line + 2, 0, &je);
        if (!j || ms__bench_stats_merge_json(co->res->st, co->res->error_samples, j) != 0)
            ms__bench_sample_add(co->res->error_samples, "bench: unreadable worker result");
        json_decref(j);
        c->reported = 1;
        break;
    }
    case 'E':
        ms__bench_sample_add(co->res->error_samples, line + 2);
        break;
    default:
        break;
    }
}

/* Reads what the workers wrote, waiting at most wait_ms. */
static void pump(coord_t *co, int wait_ms) {
    struct pollfd pf[co->n];
    int k = 0;
    for (int i = 0; i < co->n; i++)
        if (co->ch[i].rfd >= 0)
            pf[k++] = (struct pollfd){.fd = co->ch[i].rfd, .events = POLLIN};
    if (!k) {
        if (wait_ms > 0)
            usleep((useconds_t)wait_ms * 1000);
        return;
    }
    if (poll(pf, (nfds_t)k, wait_ms) <= 0)
        return;
    for (int i = 0, j = 0; i < co->n; i++) {
        child_t *c = &co->ch[i];
        if (c->rfd < 0)
            continue;
        short rev = pf[j++].revents;
        if (!rev)
            continue;
        char buf[65536];
        ssize_t n = read(c->rfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(c->rfd);
            c->rfd = -1;
            if (!c->reported)
                ms__bench_sample_add(co->res->error_samples,
                                     "bench: a worker exited without a result");
            continue;
        }
        ms_buf_append(&c->in, buf, (size_t)n);
        char *start = c->in.data, *nl;
        while ((nl = memchr(start, '\n', c->in.len - (size_t)(start - c->in.data)))) {
            *nl = '\0';
            handle_line(co, c, start);
            start = nl + 1;
        }
        size_t rest = c->in.len - (size_t)(start - c->in.data);
        memmove(c->in.data, start, rest);
        c->in.len = rest;
    }
}

static int all(coord_t *co, int what) {
    for (int i = 0; i < co->n; i++) {
        child_t *c = &co->ch[i];
        int v = what == 'R' ? c->ready : what == 'D' ? c->done : c->reported;
        if (!v && c->rfd >= 0)
            return 0;
    }
    return 1;
}

static void progress(coord_t *co, const char *phase) {
    FILE *out = co->cfg->progress;
    int64_t t = now_ms();
    if (!out || t - co->last_progress < 500)
        return;
    co->last_progress = t;
    long p[5] = {0};
    for (int i = 0; i < co->n; i++)
        for (int k = 0; k < 5; k++)
            p[k] += co->ch[i].p[k];
    fprintf(out, "\r\033[K%-8s connected %ld/%d  failed %ld  answers %ld  chunks %ld", phase, p[1],
            co->cfg->connections, p[2], p[3], p[4]);
    fflush(out);
}

/* Waits until every worker has said `what` ('R', 'D'), or until deadline
 * (then returns -1), or an interrupt (-1). */
static int wait_all(coord_t *co, int what, int64_t deadline, const char *phase) {
    while (!all(co, what)) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || interrupted)
            return -1;
        pump(co, left < 100 ? (int)left : 100);
        progress(co, phase);
    }
    return 0;
}

/* Keeps reading (and drawing progress) until the time given. */
static void wait_until(coord_t *co, int64_t until, const char *phase) {
    int64_t left;
    while ((left = until - now_ms()) > 0 && !interrupted) {
        pump(co, left < 100 ? (int)left : 100);
        progress(co, phase);
    }
}

static void sample_rss(const ms_bench_config_t *cfg, int64_t *rss, int64_t *hwm) {
    if (cfg->server_pid > 0 && ms__bench_proc_rss(cfg->server_pid, rss, hwm) != 0)
        *rss = -1;
}

static double server_cpu(const ms_bench_config_t *cfg) {
    double s = -1;
    if (cfg->server_pid > 0 && ms__bench_proc_cpu(cfg->server_pid, &s) != 0)
        s = -1;
    return s;
}

static int spawn(coord_t *co, long nofile) {
    const ms_bench_config_t *cfg = co->cfg;
    int64_t run_id = ms_now_ms();
    fflush(NULL);
    for (int i = 0; i < co->n; i++) {
        child_t *c = &co->ch[i];
        int up[2], down[2];
        if (pipe(up) != 0)
            return MS_EIO;
        if (pipe(down) != 0) {
            close(up[0]), close(up[1]);
            return MS_EIO;
        }
        c->sh = (ms_bench_shard_t){.cfg = cfg,
                                   .first = (int)((int64_t)cfg->connections * i / co->n),
                                   .nofile = (int)nofile,
                                   .run_id = run_id,
                                   .to_parent = up[1],
                                   .from_parent = down[0]};
        c->sh.count = (int)((int64_t)cfg->connections * (i + 1) / co->n) - c->sh.first;
        c->pid = fork();
        if (c->pid < 0) {
            close(up[0]), close(up[1]), close(down[0]), close(down[1]);
            return MS_EIO;
        }
        if (c->pid == 0) {
            /* The worker: only its own two pipe ends stay open, so that each
             * sibling sees end-of-file when the coordinator closes its pipe. */
            for (int k = 0; k < i; k++) {
                close(co->ch[k].rfd);
                if (co->ch[k].wfd >= 0)
                    close(co->ch[k].wfd);
            }
            close(up[0]);
            close(down[1]);
            signal(SIGINT, SIG_IGN); /* the coordinator decides when to stop */
            signal(SIGPIPE, SIG_IGN);
            alarm((unsigned)cfg->timeout_s + QUIT_GRACE_MS / 1000 + 30); /* a last resort */
            _exit(ms__bench_worker(&c->sh));
        }
        close(up[1]);
        close(down[0]);
        c->rfd = up[0];
        c->wfd = down[1];
    }
    return 0;
}

/* Closes the pipes and waits for the workers: those that reported get a
 * few seconds to tear down, the others are killed at once. */
static void reap(coord_t *co) {
    int64_t until = now_ms() + 5000;
    for (int i = 0; i < co->n; i++) {
        child_t *c = &co->ch[i];
        if (c->pid > 0 && !c->reported)
            kill(c->pid, SIGKILL);
        if (c->rfd >= 0)
            close(c->rfd);
        if (c->wfd >= 0)
            close(c->wfd);
        c->rfd = c->wfd = -1;
        ms_buf_free(&c->in);
    }
    for (int i = 0; i < co->n; i++) {
        child_t *c = &co->ch[i];
        while (c->pid > 0 && waitpid(c->pid, NULL, WNOHANG) == 0) {
            if (now_ms() > until) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
    }
}

static int check_config(const ms_bench_config_t *cfg) {
    if (!cfg->host || !cfg->path || !cfg->text || cfg->port <= 0 || cfg->port > 65535 ||
        cfg->connections < 0 || cfg->messages < 0 || cfg->think_ms < 0 || cfg->ramp_ms < 0 ||
        cfg->hold_s < 0 || cfg->concurrency < 1 || cfg->concurrency > 60000 ||
        cfg->source_addrs < 0 || cfg->source_addrs > 65536 || cfg->procs < 0 ||
        cfg->timeout_s < 1 || cfg->connect_timeout_s < 1 || cfg->expect_interval_ms < 0 ||
        cfg->settle_ms < 0)
        return MS_EINVAL;
    return 0;
}

/* Steps the workers through connect, run and quit; fills in res. */
static void coordinate(coord_t *co) {
    const ms_bench_config_t *cfg = co->cfg;
    ms_bench_result_t *res = co->res;
    int64_t t_start = now_ms();
    int64_t deadline = t_start + (int64_t)cfg->timeout_s * 1000;
    int64_t hwm = -1;
    if (wait_all(co, 'R', deadline, "connect") != 0)
        goto quit;
    res->connect_s = (double)(now_ms() - t_start) / 1000.0;
    /* Let the server release what it needed only for the handshakes. */
    wait_until(co, now_ms() + cfg->settle_ms, "settle");
    if (!cfg->idle)
        sample_rss(cfg, &res->rss_connected_kib, &hwm);
    double s0 = server_cpu(cfg), m0 = -1, m1 = -1, tot;
    if (ms__bench_machine_cpu(&m0, &tot) != 0)
        m0 = -1;
    int64_t t0 = now_ms();
    send_all(co, 'G');
    int late = wait_all(co, 'D', deadline, cfg->idle ? "hold" : "run");
    if (cfg->idle && !late) {
        int64_t until = t0 + (int64_t)cfg->hold_s * 1000;
        if (until > deadline)
            until = deadline;
        wait_until(co, until, "hold");
        sample_rss(cfg, &res->rss_connected_kib, &hwm);
    }
    int64_t t1 = now_ms();
    double s1 = server_cpu(cfg);
    if (ms__bench_machine_cpu(&m1, &tot) != 0)
        m1 = -1;
    res->run_s = (double)(t1 - t0) / 1000.0;
    if (s0 >= 0 && s1 >= 0 && t1 > t0)
        res->server_cpu_pct = 100.0 * (s1 - s0) / ((double)(t1 - t0) / 1000.0);
    if (m0 >= 0 && m1 >= 0 && t1 > t0)
        res->machine_cpu_pct = 100.0 * (m1 - m0) / ((double)(t1 - t0) / 1000.0);
    if (late)
        goto quit;
    sample_rss(cfg, &res->rss_end_kib, &res->rss_peak_kib);
    send_all(co, 'Q');
    wait_all(co, 'J', now_ms() + QUIT_GRACE_MS, "report");
    return;
quit:
    res->timed_out = interrupted ? 2 : 1;
    if (!res->run_s && res->connect_s == 0)
        res->connect_s = (double)(now_ms() - t_start) / 1000.0;
    sample_rss(cfg, &res->rss_end_kib, &res->rss_peak_kib);
    send_all(co, 'Q');
    interrupted = 0;
    wait_all(co, 'J', now_ms() + QUIT_GRACE_MS, "report");
}

int ms_bench_run(const ms_bench_config_t *cfg, ms_bench_result_t *res) {
    memset(res, 0, sizeof *res);
    res->st = ms__bench_stats_new();
    res->error_samples = json_array();
    res->rss_before_kib = res->rss_connected_kib = res->rss_end_kib = res->rss_peak_kib = -1;
    res->server_cpu_pct = res->client_cpu_pct = res->machine_cpu_pct = -1;
    if (check_config(cfg) != 0)
        return MS_EINVAL;
    /* Each worker needs one descriptor a connection plus a few for itself. */
    long nofile = ms__bench_raise_nofile();
    long per = nofile - 64 > 16 ? nofile - 64 : 16;
    long procs = cfg->procs > 0 ? cfg->procs : 1;
    if ((cfg->connections + per - 1) / per > procs)
        procs = (cfg->connections + per - 1) / per;
    if (procs > cfg->connections && cfg->connections > 0)
        procs = cfg->connections;
    res->procs = (int)procs;
    res->source_addrs = cfg->source_base ? cfg->source_addrs : 0;
    sample_rss(cfg, &res->rss_before_kib, NULL);

    coord_t co = {.cfg = cfg, .res = res, .n = (int)procs};
    co.ch = ms_xcalloc((size_t)procs, sizeof *co.ch);
    for (int i = 0; i < co.n; i++) {
        co.ch[i].rfd = co.ch[i].wfd = -1;
        ms_buf_init(&co.ch[i].in);
    }
    struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_pipe;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, &old_pipe);

    int rc = spawn(&co, nofile);
    if (rc == 0)
        coordinate(&co);
    else
        send_all(&co, 'Q');
    reap(&co);
    free(co.ch);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (cfg->progress) {
        fprintf(cfg->progress, "\r\033[K");
        fflush(cfg->progress);
    }
    if (res->run_s > 0)
        res->client_cpu_pct = 100.0 * res->st->cpu_s / res->run_s;
    return rc;
}

void ms_bench_result_free(ms_bench_result_t *res) {
    if (!res)
        return;
    free(res->st);
    json_decref(res->error_samples);
    res->st = NULL;
    res->error_samples = NULL;
}
