/* Per-connection WebSocket message limits (private to net/). */
#ifndef MS_NET_WSLIMIT_H
#define MS_NET_WSLIMIT_H

#include <stdint.h>

/** The limits, from the configuration (ws_rate_per_s, ws_rate_burst,
 * ws_rate_close_after, ws_max_inflight). per_s 0 turns the rate off. */
typedef struct {
    uint32_t per_s;        /**< messages per second, sustained */
    uint32_t burst;        /**< messages at once (bucket size), >= 1 */
    uint32_t close_after;  /**< refusals in a row before close 1008, >= 1 */
    uint32_t max_inflight; /**< answers followed at once, >= 1 */
} ms_ws_limits_t;

/** A connection's token bucket: 10 bytes in every session. */
typedef struct {
    uint32_t last_ms; /**< loop time of the last refill, truncated to 32 bits */
    uint32_t tokens;  /**< thousandths of a message */
    uint16_t refused; /**< refusals since the last accepted message */
} ms_ws_rate_t;

typedef enum {
    MS_WS_OK,     /**< handle the message */
    MS_WS_REFUSE, /**< answer rate_limited; the connection stays open */
    MS_WS_CLOSE,  /**< the client kept going: close 1008 */
} ms_ws_verdict_t;

/** A full bucket at now_ms. */
void ms__ws_rate_init(ms_ws_rate_t *r, uint64_t now_ms, const ms_ws_limits_t *lim);

/** Decides on one client message at now_ms (monotonic ms). opens_stream:
 * the message would make the connection follow one more answer (a question
 * or a resume), which is refused while it already follows followed >=
 * max_inflight. Every message takes a token; a refused one still counts
 * towards close_after. */
ms_ws_verdict_t ms__ws_admit(ms_ws_rate_t *r, const ms_ws_limits_t *lim, uint64_t now_ms,
                             int opens_stream, unsigned followed);

#endif
