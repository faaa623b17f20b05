/* Receive-side WebSocket checks that libwebsockets 4.1 leaves out.
 *
 * What lws 4.1.6 checks itself (lib/roles/ws/ops-ws.c, lws_ws_rx_sm, and
 * server-ws.c, lws_parse_ws), server side:
 * - RSV bits without a negotiated extension, reserved opcodes, fragmented
 *   control frames, a continuation with nothing to continue and a new
 *   message inside a fragmented one: close 1002, properly;
 * - with LWS_SERVER_OPTION_VALIDATE_UTF8, text messages (incrementally,
 *   across fragments, failing at the first bad byte, strict DFA: no
 *   overlong forms, surrogates or code points above U+10FFFF): close 1007;
 * - close status codes < 1000, 1004-1006, 1012-1015 and 1016-2999 are
 *   rewritten to 1002 in the echoed close.
 * What it does not do:
 * - it records the MASK bit (this_frame_masked) but never refuses an
 *   unmasked frame, and offers no API that tells whether a frame was masked;
 * - a control frame with a 16/64-bit length, and a 64-bit length with its
 *   top bit set, drop the TCP connection with no close frame;
 * - a close frame of 1 byte, with a code of 5000 or more, or (with the
 *   UTF-8 option) an invalid reason is echoed back, or dropped;
 * - frames after the client's close are still delivered to the protocol
 *   callback on its bulk payload path (lws_ws_frame_rest_is_payload has no
 *   state check), so a message sent after a close was answered.
 * lws exposes neither the frame header nor a hook before its parser, so
 * this scanner runs on the raw bytes as they are received (rxguard.c) and
 * keeps lws from ever seeing the byte that would make a frame invalid. */
#include "net/rxcheck.h"

enum { PH_HDR0, PH_HDR1, PH_EXT, PH_KEY, PH_PAYLOAD, PH_DONE };

#define OP_CLOSE 0x8
#define OP_PING 0x9

int ms__rxcheck_close_code_ok(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

static void fail(ms_rxcheck_t *st, ms_rxcheck_verdict_t *out, size_t at, const char *reason) {
    st->phase = PH_DONE;
    out->ok = at;
    out->code = 1002;
    out->reason = reason;
}

/* A close frame's payload is complete (the byte at index at ended it):
 * the frame passes, or the connection fails before lws sees that byte. */
static void close_complete(ms_rxcheck_t *st, ms_rxcheck_verdict_t *out, size_t at) {
    if (st->cpos == 1)
        fail(st, out, at, "close frame with a 1-byte payload");
    else if (st->cpos >= 2 && !ms__rxcheck_close_code_ok(st->code))
        fail(st, out, at, "invalid close code");
    else if (!ms_utf8_complete(&st->utf8))
        fail(st, out, at, "close reason is not UTF-8");
    else {
        st->closed = 1;
        st->phase = PH_DONE;
        out->ok = at + 1;
    }
}

/* A frame other than a close frame ended. */
static void frame_end(ms_rxcheck_t *st) {
    if ((st->b0 & 0x80) && (st->b0 & 0x0F) <= 0x2)
        st->data_end++; /* the final frame of a data message */
    st->phase = PH_HDR0;
}

/* The header is complete (byte at index at was its last). */
static void header_done(ms_rxcheck_t *st, ms_rxcheck_verdict_t *out, size_t at) {
    uint8_t op = st->b0 & 0x0F;
    st->cpos = 0;
    st->utf8 = (ms_utf8_state_t){0};
    st->code = 0;
    if (op == OP_PING && !st->ping_seen) {
        st->ping_seen = 1;
        st->ping_at = st->data_end;
    }
    if (st->left) {
        st->phase = PH_PAYLOAD;
    } else if (op == OP_CLOSE) {
        close_complete(st, out, at);
    } else {
        frame_end(st);
    }
}

/* One header byte. */
static void header_byte(ms_rxcheck_t *st, ms_rxcheck_verdict_t *out, size_t at, uint8_t c) {
    switch (st->phase) {
    case PH_HDR0:
        st->b0 = c;
        st->phase = PH_HDR1;
        break;
    case PH_HDR1: {
        unsigned n = c & 0x7F;
        if (!(c & 0x80)) {
            fail(st, out, at, "unmasked frame");
        } else if ((st->b0 & 0x08) && n > 125) {
            fail(st, out, at, "control frame over 125 bytes");
        } else if (n >= 126) {
            st->left = 0;
            st->need = n == 126 ? 2 : 8;
            st->phase = PH_EXT;
        } else {
            st->left = n;
            st->need = 4;
            st->phase = PH_KEY;
        }
        break;
    }
    case PH_EXT:
        if (st->need == 8 && (c & 0x80)) {
            fail(st, out, at, "64-bit length with the top bit set");
            break;
        }
        st->left = (st->left << 8) | c;
        if (--st->need == 0) {
            st->need = 4;
            st->phase = PH_KEY;
        }
        break;
    case PH_KEY:
        st->key[4 - st->need] = c;
        if (--st->need == 0)
            header_done(st, out, at);
        break;
    }
}

/* One byte of a close frame's payload (unmasked here: the reason is checked
 * as it arrives). */
static void close_byte(ms_rxcheck_t *st, ms_rxcheck_verdict_t *out, size_t at, uint8_t c) {
    uint8_t u = c ^ st->key[st->cpos & 3];
    if (st->cpos == 0)
        st->code_hi = u;
    else if (st->cpos == 1)
        st->code = (uint16_t)(st->code_hi << 8 | u);
    else if (ms_utf8_feed(&st->utf8, (const char *)&u, 1) != 0) {
        fail(st, out, at, "close reason is not UTF-8");
        return;
    }
    st->cpos++;
    if (--st->left == 0)
        close_complete(st, out, at);
}

void ms__rxcheck_scan(ms_rxcheck_t *st, const uint8_t *buf, size_t len, ms_rxcheck_verdict_t *out) {
    out->ok = 0;
    out->code = 0;
    out->reason = NULL;
    if (st->phase == PH_DONE) {
        if (!st->closed) {
            out->code = 1002;
            out->reason = "protocol error";
        }
        return;
    }
    size_t i = 0;
    while (i < len) {
        if (st->phase != PH_PAYLOAD) {
            header_byte(st, out, i, buf[i]);
            if (st->phase == PH_DONE)
                return;
            i++;
        } else if ((st->b0 & 0x0F) == OP_CLOSE) {
            close_byte(st, out, i, buf[i]);
            if (st->phase == PH_DONE)
                return;
            i++;
        } else {
            /* Data and other control payloads are lws' business: skip them. */
            uint64_t n = len - i < st->left ? len - i : st->left;
            i += (size_t)n;
            st->left -= n;
            if (!st->left)
                frame_end(st);
        }
    }
    out->ok = len;
}
