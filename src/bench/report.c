/* The bench report, as one JSON object (--json) or as text. Latencies are
 * recorded in microseconds and reported in milliseconds. */
#include "bench/bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double ms_of(uint64_t us) {
    return (double)us / 1000.0;
}

/* Rounds to 3 decimals so that the JSON stays readable. */
static json_t *r3(double v) {
    return json_real(round(v * 1000.0) / 1000.0);
}

static json_t *lat_json(const ms_bench_hist_t *h) {
    if (!h->count)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)h->count));
    json_object_set_new(o, "p50", r3(ms_of(ms_bench_hist_percentile(h, 50))));
    json_object_set_new(o, "p99", r3(ms_of(ms_bench_hist_percentile(h, 99))));
    json_object_set_new(o, "p999", r3(ms_of(ms_bench_hist_percentile(h, 99.9))));
    json_object_set_new(o, "max", r3(ms_of(h->max)));
    json_object_set_new(o, "mean", r3(ms_bench_hist_mean(h) / 1000.0));
    return o;
}

static double per_s(int64_t n, double s) {
    return s > 0 ? (double)n / s : 0.0;
}

/* Server RSS growth while connected, per connection (KiB); < 0 unknown. */
static double rss_per_conn(const ms_bench_result_t *res) {
    if (res->rss_before_kib < 0 || res->rss_connected_kib < 0 || res->st->connected <= 0)
        return -1;
    return (double)(res->rss_connected_kib - res->rss_before_kib) / (double)res->st->connected;
}

static json_t *server_json(const ms_bench_config_t *cfg, const ms_bench_result_t *res) {
    if (cfg->server_pid <= 0)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "pid", json_integer(cfg->server_pid));
    json_object_set_new(o, "rss_before_kib", json_integer(res->rss_before_kib));
    json_object_set_new(o, "rss_connected_kib", json_integer(res->rss_connected_kib));
    json_object_set_new(o, "rss_end_kib", json_integer(res->rss_end_kib));
    json_object_set_new(o, "rss_peak_kib", json_integer(res->rss_peak_kib));
    double pc = rss_per_conn(res);
    json_object_set_new(o, "rss_growth_kib",
                        pc < 0 ? json_null()
                               : json_integer(res->rss_connected_kib - res->rss_before_kib));
    json_object_set_new(o, "rss_per_connection_kib", pc < 0 ? json_null() : r3(pc));
    json_object_set_new(o, "cpu_pct",
                        res->server_cpu_pct < 0 ? json_null() : r3(res->server_cpu_pct));
    return o;
}

json_t *ms_bench_report_json(const ms_bench_config_t *cfg, const ms_bench_result_t *res) {
    const ms_bench_stats_t *st = res->st;
    char target[2300];
    snprintf(target, sizeof target, "ws://%s:%d%s", cfg->host, cfg->port, cfg->path);
    json_t *o = json_object();
    json_object_set_new(o, "target", json_string(target));
    json_object_set_new(o, "dialect",
                        json_string(cfg->dialect == MS_BENCH_NATIVE ? "native" : "voiceassist"));
    json_object_set_new(o, "mode", json_string(cfg->idle ? "idle" : "stream"));
    json_object_set_new(o, "connections", json_integer(cfg->connections));
    json_object_set_new(o, "messages_per_connection", json_integer(cfg->idle ? 0 : cfg->messages));
    json_object_set_new(o, "think_ms", json_integer(cfg->think_ms));
    json_object_set_new(o, "ramp_ms", json_integer(cfg->ramp_ms));
    json_object_set_new(o, "procs", json_integer(res->procs));
    json_object_set_new(o, "source_addrs", json_integer(res->source_addrs));
    json_object_set_new(o, "attempted", json_integer(st->attempted));
    json_object_set_new(o, "connected", json_integer(st->connected));
    json_object_set_new(o, "failed", json_integer(st->failed));
    json_object_set_new(o, "dropped", json_integer(st->dropped));
    json_object_set_new(o, "handshake_ms", lat_json(&st->handshake));
    json_object_set_new(o, "connect_s", r3(res->connect_s));
    json_object_set_new(o, "run_s", r3(res->run_s));
    json_object_set_new(o, "timed_out", json_boolean(res->timed_out));
    json_object_set_new(o, "interrupted", json_boolean(res->timed_out == 2));
    json_object_set_new(o, "questions", json_integer(st->questions));
    json_object_set_new(o, "answers", json_integer(st->answers));
    json_object_set_new(o, "answers_per_s", r3(per_s(st->answers, res->run_s)));
    json_object_set_new(o, "chunks", json_integer(st->chunks));
    json_object_set_new(o, "chunks_per_s", r3(per_s(st->chunks, res->run_s)));
    json_object_set_new(o, "frames", json_integer(st->frames));
    json_object_set_new(o, "bytes", json_integer(st->bytes));
    json_object_set_new(o, "ttfc_ms", lat_json(&st->ttfc));
    json_object_set_new(o, "gap_ms", lat_json(&st->gap));
    json_t *jit = lat_json(&st->jitter);
    if (json_is_object(jit))
        json_object_set_new(jit, "expected_interval_ms", json_integer(cfg->expect_interval_ms));
    json_object_set_new(o, "jitter_ms", jit);
    json_object_set_new(o, "answer_ms", lat_json(&st->answer));
    json_t *e = json_object();
    int64_t total = 0;
    for (int i = 0; i < MS_BENCH_ERR_COUNT; i++) {
        json_object_set_new(e, ms_bench_error_name(i), json_integer(st->errors[i]));
        total += st->errors[i];
    }
    json_object_set_new(o, "errors", e);
    json_object_set_new(o, "errors_total", json_integer(total));
    json_object_set_new(o, "error_samples", json_deep_copy(res->error_samples));
    json_object_set_new(o, "server", server_json(cfg, res));
    json_object_set_new(o, "client_cpu_pct",
                        res->client_cpu_pct < 0 ? json_null() : r3(res->client_cpu_pct));
    json_object_set_new(o, "machine_cpu_pct",
                        res->machine_cpu_pct < 0 ? json_null() : r3(res->machine_cpu_pct));
    return o;
}

static void lat_line(FILE *out, const char *label, const ms_bench_hist_t *h, int p999) {
    if (!h->count)
        return;
    fprintf(out, "%-13s p50 %.2f ms  p99 %.2f ms", label, ms_of(ms_bench_hist_percentile(h, 50)),
            ms_of(ms_bench_hist_percentile(h, 99)));
    if (p999)
        fprintf(out, "  p99.9 %.2f ms", ms_of(ms_bench_hist_percentile(h, 99.9)));
    fprintf(out, "  max %.2f ms  (%llu samples)\n", ms_of(h->max), (unsigned long long)h->count);
}

static void server_lines(FILE *out, const ms_bench_config_t *cfg, const ms_bench_result_t *res) {
    if (cfg->server_pid <= 0)
        return;
    fprintf(out, "%-13s pid %d", "server", cfg->server_pid);
    if (res->rss_before_kib >= 0)
        fprintf(out, ": RSS %.1f MiB before", (double)res->rss_before_kib / 1024.0);
    double pc = rss_per_conn(res);
    if (pc >= 0)
        fprintf(out, ", %.1f MiB %s (%+.1f MiB, %.2f KiB per connection)",
                (double)res->rss_connected_kib / 1024.0,
                cfg->idle ? "holding the connections" : "connected",
                (double)(res->rss_connected_kib - res->rss_before_kib) / 1024.0, pc);
    if (res->rss_peak_kib >= 0)
        fprintf(out, ", peak %.1f MiB", (double)res->rss_peak_kib / 1024.0);
    if (res->server_cpu_pct >= 0)
        fprintf(out, "; CPU %.1f %% of a core over the %s", res->server_cpu_pct,
                cfg->idle ? "hold" : "run");
    fputc('\n', out);
}

void ms_bench_report_text(const ms_bench_config_t *cfg, const ms_bench_result_t *res, FILE *out) {
    const ms_bench_stats_t *st = res->st;
    fprintf(out, "target        ws://%s:%d%s (%s), %d connections", cfg->host, cfg->port, cfg->path,
            cfg->dialect == MS_BENCH_NATIVE ? "native" : "voiceassist", cfg->connections);
    if (cfg->idle)
        fprintf(out, ", idle for %d s", cfg->hold_s);
    else
        fprintf(out, " x %d messages", cfg->messages);
    fprintf(out, "; %d process%s, %d source address%s\n", res->procs, res->procs == 1 ? "" : "es",
            res->source_addrs, res->source_addrs == 1 ? "" : "es");
    fprintf(out, "%-13s %lld connected, %lld failed, %lld dropped; connect phase %.2f s\n",
            "connections", (long long)st->connected, (long long)st->failed, (long long)st->dropped,
            res->connect_s);
    lat_line(out, "handshake", &st->handshake, 0);
    if (!cfg->idle) {
        fprintf(out,
                "%-13s %lld answers in %.2f s: %.0f answers/s, %.0f chunk frames/s (%lld chunks, "
                "%lld frames, %.1f MB)\n",
                "throughput", (long long)st->answers, res->run_s, per_s(st->answers, res->run_s),
                per_s(st->chunks, res->run_s), (long long)st->chunks, (long long)st->frames,
                (double)st->bytes / 1e6);
        lat_line(out, "first chunk", &st->ttfc, 1);
        lat_line(out, "chunk gap", &st->gap, 1);
        if (st->jitter.count) {
            char label[32];
            snprintf(label, sizeof label, "jitter/%dms", cfg->expect_interval_ms);
            lat_line(out, label, &st->jitter, 1);
        }
        lat_line(out, "answer time", &st->answer, 0);
    }
    int64_t total = 0;
    for (int i = 0; i < MS_BENCH_ERR_COUNT; i++)
        total += st->errors[i];
    fprintf(out, "%-13s", "errors");
    if (!total)
        fprintf(out, " none");
    for (int i = 0; i < MS_BENCH_ERR_COUNT; i++)
        if (st->errors[i])
            fprintf(out, " %s %lld", ms_bench_error_name(i), (long long)st->errors[i]);
    fputc('\n', out);
    size_t i;
    json_t *v;
    json_array_foreach(res->error_samples, i, v)
        fprintf(out, "%-13s %s\n", "", json_string_value(v));
    server_lines(out, cfg, res);
    if (res->client_cpu_pct >= 0)
        fprintf(out, "%-13s CPU %.1f %% of a core (all workers) over the %s\n", "client",
                res->client_cpu_pct, cfg->idle ? "hold" : "run");
    if (res->machine_cpu_pct >= 0)
        fprintf(out, "%-13s CPU %.1f %% of a core, all processes, over the %s\n", "machine",
                res->machine_cpu_pct, cfg->idle ? "hold" : "run");
    if (res->timed_out == 2)
        fprintf(out, "%-13s the run was interrupted; unfinished work counts as timeout\n", "note");
    else if (res->timed_out)
        fprintf(out, "%-13s the run was cut short by --timeout-s %d\n", "note", cfg->timeout_s);
}
