/* `medstream bench`: a WebSocket load generator for medstream and for
 * servers of the VoiceAssist realtime dialect (../shared/peers).
 *
 * A coordinator process forks one or more workers. Each worker drives its
 * share of the connections on its own libwebsockets client context over
 * libuv (epoll), so thousands of connections cost one process and a few
 * hundred bytes each. The phases are synchronised through pipes so that
 * the coordinator can sample the server (/proc/PID) between them:
 *
 *   connect   every worker opens its connections, at most `concurrency`
 *             handshakes in flight, and waits for each `connected` event;
 *   run       on the coordinator's go, each connection sends `messages`
 *             questions one after another (or, in idle mode, nothing);
 *   quit      workers write their counters and histograms as one JSON line,
 *             which the coordinator merges. */
#ifndef MS_BENCH_BENCH_H
#define MS_BENCH_BENCH_H

#include "bench/hist.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/** The wire dialect spoken. */
typedef enum {
    MS_BENCH_NATIVE,     /**< medstream native protocol v1 (docs/protocol.md) */
    MS_BENCH_VOICEASSIST /**< VoiceAssist realtime (../shared/peers/README.md) */
} ms_bench_dialect_t;

/** What a run does. Strings are borrowed for the duration of the run. */
typedef struct {
    const char *host;           /**< IPv4 address of the server ("127.0.0.1") */
    int port;                   /**< TCP port */
    const char *path;           /**< WebSocket path ("/api/ws") */
    ms_bench_dialect_t dialect; /**< wire dialect */
    const char *token;          /**< access token or NULL: native sends it as
                                     Authorization: Bearer, VoiceAssist as ?token= */
    int connections;            /**< N connections in total */
    int messages;               /**< questions per connection, one after another */
    int think_ms;               /**< pause after an answer before the next question */
    int ramp_ms;                /**< spread the first questions evenly over this window */
    int idle;                   /**< 1: connect and hold, send nothing */
    int hold_s;                 /**< idle mode: seconds to hold the connections */
    int concurrency;            /**< handshakes in flight per worker */
    const char *source_base;    /**< first source address ("127.0.0.1") or NULL */
    int source_addrs;           /**< source addresses base, base+1, ... (0: do not bind) */
    int procs;                  /**< worker processes (at least; more if the fd limit
                                     requires) */
    int timeout_s;              /**< the whole run ends after this many seconds */
    int connect_timeout_s;      /**< one handshake's time limit */
    int expect_interval_ms;     /**< 0, or the chunk interval the server should keep */
    const char *text;           /**< the question */
    int server_pid;             /**< 0, or the server's pid for RSS and CPU */
    int settle_ms;              /**< pause before sampling the server's RSS */
    FILE *progress;             /**< NULL, or where to draw a progress line */
} ms_bench_config_t;

/** Error kinds, counted separately (names: ms_bench_error_name). */
typedef enum {
    MS_BENCH_ERR_CONNECT,   /**< TCP connect or bind failed, or timed out */
    MS_BENCH_ERR_HANDSHAKE, /**< the HTTP upgrade was refused (status != 101) */
    MS_BENCH_ERR_AUTH,      /**< closed with 4001, or before `connected` */
    MS_BENCH_ERR_CLOSED,    /**< an established connection closed before the end */
    MS_BENCH_ERR_SERVER,    /**< an `error` event */
    MS_BENCH_ERR_PROTOCOL,  /**< unparseable event, chunk out of sequence, short answer */
    MS_BENCH_ERR_TIMEOUT,   /**< unfinished when the run's time ran out */
    MS_BENCH_ERR_COUNT
} ms_bench_err_t;

/** The stable name of an error kind ("connect", "handshake", ...). */
const char *ms_bench_error_name(ms_bench_err_t e);

/** Counters and latency histograms of one worker, or merged. Times in the
 * histograms are microseconds. Plain data (about 200 KiB): allocate it. */
typedef struct {
    int64_t attempted; /**< connections started */
    int64_t connected; /**< connections that got the `connected` event */
    int64_t failed;    /**< connections that never got there */
    int64_t dropped;   /**< connected ones closed by the server before the end */
    int64_t questions; /**< questions sent */
    int64_t answers;   /**< message_complete received */
    int64_t chunks;    /**< message_chunk received */
    int64_t frames;    /**< WebSocket messages received, of any type */
    int64_t bytes;     /**< their payload bytes */
    int64_t errors[MS_BENCH_ERR_COUNT];
    double cpu_s;              /**< the worker's user + system CPU seconds during the run phase */
    ms_bench_hist_t handshake; /**< TCP connect start to WebSocket established */
    ms_bench_hist_t ttfc;      /**< question sent to its first chunk */
    ms_bench_hist_t gap;       /**< between consecutive chunks of an answer */
    ms_bench_hist_t jitter;    /**< gap - expected interval (0 when early), when one is given */
    ms_bench_hist_t answer;    /**< question sent to message_complete */
} ms_bench_stats_t;

/** The outcome of a run. */
typedef struct {
    ms_bench_stats_t *st;  /**< merged over the workers (owned) */
    json_t *error_samples; /**< array of up to 8 strings "kind: detail" (owned) */
    int procs;             /**< worker processes used */
    int source_addrs;      /**< source addresses used */
    double connect_s;      /**< wall time of the connect phase */
    double run_s;          /**< wall time of the run phase (go to the last answer) */
    int timed_out;         /**< 1 when the time limit ended the run, 2 an interrupt (SIGINT) */
    /** Server figures, -1 when unknown (no --pid). RSS in KiB (VmRSS). */
    int64_t rss_before_kib;    /**< before connecting */
    int64_t rss_connected_kib; /**< after all connected (idle mode: end of the hold) */
    int64_t rss_end_kib;       /**< after the run phase */
    int64_t rss_peak_kib;      /**< VmHWM at the end */
    double server_cpu_pct;     /**< CPU during the run phase, 100 = one core */
    double client_cpu_pct;     /**< the workers' CPU during the run phase */
    /** The whole machine's CPU during the run phase (100 = one core; the
     * load generator shares the machine, and so may other jobs), -1 when
     * unknown. */
    double machine_cpu_pct;
} ms_bench_result_t;

/** Runs the benchmark described by cfg. Returns 0 (failures of single
 * connections are counted, not fatal), MS_EINVAL for a bad configuration,
 * MS_EIO when the workers could not be started. res is filled in either
 * case; release it with ms_bench_result_free. */
int ms_bench_run(const ms_bench_config_t *cfg, ms_bench_result_t *res);

/** Releases what res owns. NULL-safe. */
void ms_bench_result_free(ms_bench_result_t *res);

/** The report as one JSON object (new reference): see docs/performance.md. */
json_t *ms_bench_report_json(const ms_bench_config_t *cfg, const ms_bench_result_t *res);

/** The report as aligned text lines. */
void ms_bench_report_text(const ms_bench_config_t *cfg, const ms_bench_result_t *res, FILE *out);

/** Logs in (or first registers, when register_first) through the REST API
 * at host:port and returns the access token (free() it). On failure writes
 * a one-line reason into err and returns MS_EIO (server unreachable or not
 * HTTP), MS_EAUTH (credentials refused), MS_EBUSY (rate limited) or
 * MS_EINVAL (unexpected answer). */
int ms_bench_login(const char *host, int port, const char *email, const char *password,
                   int register_first, char **token, char *err, size_t errlen);

/** Whether a WebSocket upgrade at path succeeds (HTTP 101): 1, 0 when it is
 * refused with another status, or MS_EIO when the server is unreachable
 * (err says why). token, when given, is sent as a Bearer header. */
int ms_bench_probe(const char *host, int port, const char *path, const char *token, char *err,
                   size_t errlen);

#endif
