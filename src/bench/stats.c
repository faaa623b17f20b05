/* Worker statistics: their JSON form (the pipe format between a worker and
 * the coordinator), merging, and the /proc and rlimit helpers. */
#include "bench/internal.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *const err_names[MS_BENCH_ERR_COUNT] = {
    [MS_BENCH_ERR_CONNECT] = "connect", [MS_BENCH_ERR_HANDSHAKE] = "handshake",
    [MS_BENCH_ERR_AUTH] = "auth",       [MS_BENCH_ERR_CLOSED] = "closed",
    [MS_BENCH_ERR_SERVER] = "server",   [MS_BENCH_ERR_PROTOCOL] = "protocol",
    [MS_BENCH_ERR_TIMEOUT] = "timeout",
};

const char *ms_bench_error_name(ms_bench_err_t e) {
    return (unsigned)e < MS_BENCH_ERR_COUNT ? err_names[e] : "unknown";
}

/* The counters, by their JSON names, for serialising in one loop. */
#define COUNTERS(X)                                                                                \
    X(attempted)                                                                                   \
    X(connected) X(failed) X(dropped) X(questions) X(answers) X(chunks) X(frames) X(bytes)
#define HISTS(X) X(handshake) X(ttfc) X(gap) X(jitter) X(answer)

ms_bench_stats_t *ms__bench_stats_new(void) {
    ms_bench_stats_t *st = ms_xcalloc(1, sizeof *st);
#define INIT(h) ms_bench_hist_init(&st->h);
    HISTS(INIT)
#undef INIT
    return st;
}

json_t *ms__bench_stats_to_json(const ms_bench_stats_t *st, const json_t *samples) {
    json_t *o = json_object();
#define PUT(f) json_object_set_new(o, #f, json_integer(st->f));
    COUNTERS(PUT)
#undef PUT
    json_t *e = json_object();
    for (int i = 0; i < MS_BENCH_ERR_COUNT; i++)
        json_object_set_new(e, err_names[i], json_integer(st->errors[i]));
    json_object_set_new(o, "errors", e);
    json_object_set_new(o, "cpu_s", json_real(st->cpu_s));
    json_t *h = json_object();
#define PUTH(f) json_object_set_new(h, #f, ms_bench_hist_to_json(&st->f));
    HISTS(PUTH)
#undef PUTH
    json_object_set_new(o, "hist", h);
    json_object_set_new(o, "samples", samples ? json_deep_copy(samples) : json_array());
    return o;
}

int ms__bench_stats_merge_json(ms_bench_stats_t *st, json_t *samples, const json_t *j) {
    if (!json_is_object(j))
        return MS_EINVAL;
    json_t *v;
#define GET(f)                                                                                     \
    if (!json_is_integer(v = json_object_get(j, #f)))                                              \
        return MS_EINVAL;                                                                          \
    st->f += json_integer_value(v);
    COUNTERS(GET)
#undef GET
    json_t *e = json_object_get(j, "errors");
    for (int i = 0; i < MS_BENCH_ERR_COUNT; i++)
        st->errors[i] += json_integer_value(json_object_get(e, err_names[i]));
    st->cpu_s += json_number_value(json_object_get(j, "cpu_s"));
    json_t *h = json_object_get(j, "hist");
#define MERGEH(f)                                                                                  \
    if (ms_bench_hist_merge_json(&st->f, json_object_get(h, #f)) != 0)                             \
        return MS_EINVAL;
    HISTS(MERGEH)
#undef MERGEH
    size_t i;
    json_array_foreach(json_object_get(j, "samples"), i, v) {
        if (json_is_string(v))
            ms__bench_sample_add(samples, json_string_value(v));
    }
    return 0;
}

void ms__bench_sample_add(json_t *samples, const char *detail) {
    if (json_array_size(samples) >= MS_BENCH_MAX_SAMPLES)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(samples, i, v) {
        if (!strcmp(json_string_value(v), detail))
            return;
    }
    json_array_append_new(samples, json_string(detail));
}

/* Reads /proc/PID/<name> into buf (NUL-terminated). */
static int read_proc(int pid, const char *name, char *buf, size_t len) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return MS_ENOENT;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n ? 0 : MS_ENOENT;
}

static int64_t status_kib(const char *status, const char *key) {
    const char *p = strstr(status, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

int ms__bench_proc_rss(int pid, int64_t *rss_kib, int64_t *hwm_kib) {
    char buf[4096];
    if (read_proc(pid, "status", buf, sizeof buf) != 0)
        return MS_ENOENT;
    *rss_kib = status_kib(buf, "\nVmRSS:");
    if (hwm_kib)
        *hwm_kib = status_kib(buf, "\nVmHWM:");
    return *rss_kib >= 0 ? 0 : MS_ENOENT;
}

int ms__bench_proc_cpu(int pid, double *cpu_s) {
    char buf[2048];
    if (read_proc(pid, "stat", buf, sizeof buf) != 0)
        return MS_ENOENT;
    /* The command name (field 2) may hold spaces; fields count from its ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return MS_ENOENT;
    /* Fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime: skip 11 fields after the state, then two. */
    char *q = p + 2;
    if (!*q)
        return MS_ENOENT;
    q++; /* the state letter */
    for (int k = 0; k < 10; k++) {
        char *end = NULL;
        (void)strtoll(q, &end, 10);
        if (end == q)
            return MS_ENOENT;
        q = end;
    }
    char *end = NULL;
    unsigned long long ut = strtoull(q, &end, 10);
    if (end == q)
        return MS_ENOENT;
    q = end;
    unsigned long long st = strtoull(q, &end, 10);
    if (end == q)
        return MS_ENOENT;
    *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

int ms__bench_machine_cpu(double *busy_s, double *total_s) {
    char buf[512];
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return MS_ENOENT;
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    unsigned long long v[8] = {0};
    if (!line || strncmp(line, "cpu ", 4) != 0)
        return MS_ENOENT;
    char *q = line + 4;
    int got = 0;
    for (; got < 8; got++) {
        char *end = NULL;
        v[got] = strtoull(q, &end, 10);
        if (end == q)
            break;
        q = end;
    }
    if (got < 5)
        return MS_ENOENT;
    unsigned long long total = 0;
    for (int i = 0; i < 8; i++)
        total += v[i];
    double tck = (double)sysconf(_SC_CLK_TCK);
    *total_s = (double)total / tck;
    *busy_s = (double)(total - v[3] - v[4]) / tck; /* minus idle and iowait */
    return 0;
}

double ms__bench_self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

long ms__bench_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576 ? 1048576 : (long)rl.rlim_cur;
}

int64_t ms__bench_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
