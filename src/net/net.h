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
 * borrowed, outliving the listener). Returns 0, or MS_EINVAL / MS_EIO with a
 * one-line reason in err when the address cannot be used (in use, not
 * local, bad host). *out is set whenever a listener was allocated, also on
 * failure: the caller then runs the loop until it ends (lws closes its
 * handles there) and calls ms_net_free. */
int ms_net_start(uv_loop_t *loop, const ms_config_t *cfg, ms_api_t *api, ms_net_t **out, char *err,
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
/** Finishes the teardown and frees the listener, after ms_net_stop and a
 * loop run to its end (a second lws_context_destroy frees the context,
 * which a foreign loop cannot do while it runs). NULL-safe. */
void ms_net_free(ms_net_t *n);

#endif
