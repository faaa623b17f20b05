/* The network layer: libwebsockets (HTTP/1.1 + WebSocket) on a libuv loop
 * that medstream owns. */
#ifndef MS_NET_NET_H
#define MS_NET_NET_H

#include "core/config.h"

/** Runs `medstream serve` until SIGINT/SIGTERM: prepares the data directory
 * (migrations, crash recovery, starter knowledge base, JWT key), listens,
 * and shuts down gracefully. Returns a process exit code. */
int ms_server_run(const ms_config_t *cfg);

#endif
