/* What one received piece of a WebSocket message means (private to net/). */
#ifndef MS_NET_WSRX_H
#define MS_NET_WSRX_H

#include "core/buf.h"
#include "proto/event.h"

#include <stddef.h>
#include <stdint.h>

/** A connection's message being received. */
typedef struct {
    ms_buf_t text;    /**< fragments of the text message so far */
    uint32_t bin_len; /**< bytes of the binary message so far */
    uint8_t binary;   /**< the current message is binary */
} ms_wsrx_t;

typedef enum {
    MS_RX_MORE,  /**< nothing to do until the message's next piece */
    MS_RX_TEXT,  /**< rx->text holds one whole text message: decode it */
    MS_RX_CLOSE, /**< close with *code and the reason */
} ms_rx_action_t;

/** Takes one piece of a message as lws delivers it (lws_frame_is_binary,
 * lws_is_first_fragment, lws_is_final_fragment with nothing left of the
 * frame). Text is reassembled up to max_bytes (above: close 1009); binary
 * pieces go to the dialect's binary hook unbuffered, or close 1003 when it
 * has none. On MS_RX_CLOSE, *code is set and the reason is written into
 * reason (always NUL-terminated). */
ms_rx_action_t ms__wsrx_piece(ms_wsrx_t *rx, const ms_dialect_ops_t *d, void *dstate,
                              size_t max_bytes, const void *in, size_t len, int binary, int first,
                              int final, int *code, char *reason, size_t reasonlen);

#endif
