/* Internals of the bench module shared between its files (not a public
 * interface: the `ms__bench_` prefix says so, as libuv's `uv__` does). */
#ifndef MS_BENCH_INTERNAL_H
#define MS_BENCH_INTERNAL_H

#include "bench/bench.h"

#include <jansson.h>
#include <stdint.h>

/** At most this many distinct error samples are kept per worker and in the
 * merged result. */
#define MS_BENCH_MAX_SAMPLES 8

/** One worker's share of the run. Owned by the coordinator; the worker (a
 * forked child) reads its copy. */
typedef struct {
    const ms_bench_config_t *cfg;
    int first;       /**< global index of the first connection */
    int count;       /**< connections of this worker */
    int nofile;      /**< the open-files limit in force */
    int64_t run_id;  /**< makes client_message_id unique across runs */
    int to_parent;   /**< pipe: progress, phase and result lines */
    int from_parent; /**< pipe: 'G' (go) and 'Q' (quit) bytes */
} ms_bench_shard_t;

/** Runs one worker until the coordinator says quit; returns the process
 * exit status. Lines written to to_parent:
 *   "P attempted connected failed answers chunks"  every 250 ms
 *   "R"            every connection is ready or has failed
 *   "D"            every connection has finished its questions (run phase)
 *   "J {json}"     the final stats (ms__bench_stats_to_json), then exit. */
int ms__bench_worker(const ms_bench_shard_t *sh);

/** Allocates zeroed stats with empty histograms. */
ms_bench_stats_t *ms__bench_stats_new(void);

/** Serialises stats and error samples as one JSON object (new reference). */
json_t *ms__bench_stats_to_json(const ms_bench_stats_t *st, const json_t *samples);

/** Adds a serialised worker result to st and its samples to samples (an
 * array, kept to MS_BENCH_MAX_SAMPLES). Returns 0 or MS_EINVAL. */
int ms__bench_stats_merge_json(ms_bench_stats_t *st, json_t *samples, const json_t *j);

/** Appends "detail" to the samples array unless it is there already or the
 * array is full. */
void ms__bench_sample_add(json_t *samples, const char *detail);

/** VmRSS and VmHWM of pid from /proc/PID/status, in KiB. Returns 0 or
 * MS_ENOENT (no such process). */
int ms__bench_proc_rss(int pid, int64_t *rss_kib, int64_t *hwm_kib);

/** User + system CPU seconds of pid (all threads) from /proc/PID/stat
 * fields 14 and 15 (proc(5)). Returns 0 or MS_ENOENT. */
int ms__bench_proc_cpu(int pid, double *cpu_s);

/** Busy and total CPU seconds of the whole machine, all cores, from the
 * first line of /proc/stat (busy = all but idle and iowait). Returns 0 or
 * MS_ENOENT. */
int ms__bench_machine_cpu(double *busy_s, double *total_s);

/** CPU seconds (user + system) of the calling process so far. */
double ms__bench_self_cpu(void);

/** Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit
 * now in force. */
long ms__bench_raise_nofile(void);

/** Monotonic microseconds. */
int64_t ms__bench_now_us(void);

#endif
