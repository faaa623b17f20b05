/* The network layer: libwebsockets (HTTP/1.1 + WebSocket) on a libuv loop
 * that the caller owns. Only the libwebsockets layer lives here: start-up,
 * storage and the services are src/app's. */
#ifndef MS_NET_NET_H
#define MS_NET_NET_H

#include "api/api.h"
#include "core/config.h"

#include <stddef.h>
#include <uv.h>

typedef struct ms_net ms_net_t;

/** Listens on cfg->listen with the lws context on loop, serving api (both
 * borrowed, outliving the listener). NULL with a one-line reason in err
 * when the address cannot be used (in use, not local, bad host). */
ms_net_t *ms_net_start(uv_loop_t *loop, const ms_config_t *cfg, ms_api_t *api, char *err,
                       size_t errlen);
/** The port actually listened on (useful with port 0). */
int ms_net_port(const ms_net_t *n);
/** Graceful shutdown, step 1: asks every WebSocket to close with code and
 * reason and stops write batching. Returns how many were open. */
int ms_net_close_sessions(ms_net_t *n, int code, const char *reason);
/** Step 2: destroys the lws context, which closes every connection and
 * releases its loop handles. The loop then ends once the caller's handles
 * and pending work are gone. NULL-safe; idempotent. */
void ms_net_stop(ms_net_t *n);
/** Frees the listener (after ms_net_stop and the loop has run). */
void ms_net_free(ms_net_t *n);

#endif
