/* The receive-side checks libwebsockets 4.1 does not make (private to
 * net/). See rxcheck.c for what lws 4.1.6 checks itself and why these are
 * done on the raw bytes. */
#ifndef MS_NET_RXCHECK_H
#define MS_NET_RXCHECK_H

#include "core/utf8.h"

#include <stddef.h>
#include <stdint.h>

/** Where a connection's client-to-server byte stream is, frame by frame
 * (RFC 6455 section 5.2). Zeroed: before the first frame. 40 bytes, kept in
 * every session. */
typedef struct {
    uint64_t left;        /**< payload bytes of the current frame still to come */
    ms_utf8_state_t utf8; /**< close frames: the reason so far (core/utf8.h) */
    uint8_t key[4];       /**< the current frame's masking key (kept for close frames) */
    uint16_t code;        /**< close frames: the status code */
    uint8_t phase;        /**< which part of a frame the next byte belongs to */
    uint8_t need;         /**< bytes left of the extended length or the mask key */
    uint8_t b0;           /**< the current frame's first byte (FIN, RSV, opcode) */
    uint8_t cpos;         /**< close frames: payload bytes seen */
    uint8_t code_hi;      /**< close frames: the status code's first byte */
    uint8_t closed;       /**< a valid close frame was seen: nothing after it counts */
    uint8_t data_end;     /**< data messages ended so far (wraps) */
    uint8_t ping_seen;    /**< a ping came since the reader last cleared this */
    uint8_t ping_at;      /**< data_end when the first such ping came */
} ms_rxcheck_t;

/** The verdict on a run of bytes. */
typedef struct {
    size_t ok;          /**< how many leading bytes may be handed on to lws */
    int code;           /**< 0, or the close code to fail the connection with (1002) */
    const char *reason; /**< static text for the close frame when code != 0 */
} ms_rxcheck_verdict_t;

/** Scans len bytes received from the client, continuing from st. Fails
 * (code 1002) at the first byte that makes the stream invalid in a way lws
 * 4.1 would accept or only drop without a close frame: an unmasked frame
 * (RFC 6455 section 5.1), a control frame longer than 125 bytes (5.5), a
 * 64-bit length with its top bit set (5.2), a close frame whose payload is
 * 1 byte, whose status code is not one a peer may send (7.4.1, 7.4.2) or
 * whose reason is not UTF-8 (5.5.1). out->ok then stops before the byte
 * that completed the offending header or close frame, so lws never acts on
 * it. After a valid close frame, out->ok stops at its end: what a client
 * sends after its close is ignored (5.5.1). Everything else (RSV bits,
 * opcodes, fragmentation, text UTF-8) is left to lws, which fails those
 * with 1002 or 1007 itself. Once failed or closed, st stays so. */
void ms__rxcheck_scan(ms_rxcheck_t *st, const uint8_t *buf, size_t len, ms_rxcheck_verdict_t *out);

/** Whether a client may send close status code (RFC 6455 section 7.4.1
 * and the IANA registry of 7.4.2, as lws 4.1 accepts them): 1000-1003,
 * 1007-1011, 3000-4999. */
int ms__rxcheck_close_code_ok(unsigned code);

#endif
