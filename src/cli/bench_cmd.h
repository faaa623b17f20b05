/* `medstream bench`: the load generator (src/bench, docs/performance.md). */
#ifndef MS_CLI_BENCH_CMD_H
#define MS_CLI_BENCH_CMD_H

/** Runs `medstream bench [options]`; argv[0] is "bench". Opens N WebSocket
 * connections to medstream (native dialect) or a VoiceAssist-dialect server,
 * streams M answers on each, and reports connections, throughput, latency
 * percentiles, errors and (with --pid) the server's RSS and CPU; --help
 * lists the options. The password may also come from $MEDSTREAM_PASSWORD.
 *
 * Returns the process exit status: 0 when every connection connected and
 * finished without an error, 1 when the run could not start (server
 * unreachable, login refused, WebSocket path refused), 2 on a usage error,
 * 3 when the run finished but counted failures or errors. */
int ms_cli_bench(int argc, char **argv);

#endif
