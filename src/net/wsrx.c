/* Reassembly and dispatch of received WebSocket messages: text is collected
 * for the dialect's decoder, binary goes to the dialect's binary hook when
 * it declares one (ms_dialect_ops_t.binary), and everything else closes
 * with the code RFC 6455 section 7.4.1 names. Pure logic, unit-tested in
 * tests/unit/test_netws.c. */
#include "net/wsrx.h"

#include "core/ms.h"

#include <stdio.h>

static ms_rx_action_t close_with(int *code, int c, char *reason, size_t reasonlen,
                                 const char *text) {
    *code = c;
    snprintf(reason, reasonlen, "%s", text);
    return MS_RX_CLOSE;
}

static ms_rx_action_t binary_piece(ms_wsrx_t *rx, const ms_dialect_ops_t *d, void *dstate,
                                   size_t max_bytes, const void *in, size_t len, int first,
                                   int final, int *code, char *reason, size_t reasonlen) {
    if (!d->binary)
        return close_with(code, 1003, reason, reasonlen,
                          "binary messages are not accepted on this endpoint");
    if (first)
        rx->bin_len = 0;
    if ((uint64_t)rx->bin_len + len > max_bytes)
        return close_with(code, 1009, reason, reasonlen, "message too big");
    rx->bin_len += (uint32_t)len;
    char err[120] = "";
    if (d->binary(dstate, in, len, first, final, err, sizeof err) != 0)
        return close_with(code, 1003, reason, reasonlen, err[0] ? err : "binary message refused");
    return MS_RX_MORE;
}

ms_rx_action_t ms__wsrx_piece(ms_wsrx_t *rx, const ms_dialect_ops_t *d, void *dstate,
                              size_t max_bytes, const void *in, size_t len, int binary, int first,
                              int final, int *code, char *reason, size_t reasonlen) {
    /* lws marks every piece of a message with the message's type; the first
     * piece decides, so a message cannot change type half way. */
    if (first)
        rx->binary = binary != 0;
    if (rx->binary)
        return binary_piece(rx, d, dstate, max_bytes, in, len, first, final, code, reason,
                            reasonlen);
    if (rx->text.len + len > max_bytes) {
        ms_buf_free(&rx->text);
        return close_with(code, 1009, reason, reasonlen, "message too big");
    }
    ms_buf_append(&rx->text, in, len);
    return final ? MS_RX_TEXT : MS_RX_MORE;
}
