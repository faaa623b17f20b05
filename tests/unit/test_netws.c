/* The WebSocket side of net/ behind its seams, without a socket: the raw
 * receive checks (rxcheck.c) with their UTF-8 check of close reasons, the per-connection
 * limits (wslimit.c), message reassembly and binary dispatch (wsrx.c), and
 * the outbound queue that merges a slow reader's deltas (wsqueue.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/ms.h"
#include "core/utf8.h"
#include "net/rxcheck.h"
#include "net/wslimit.h"
#include "net/wsqueue.h"
#include "net/wsrx.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* A client frame as a conforming client writes it (masked). */
static size_t frame(uint8_t *out, int b0, const void *payload, size_t n, int masked) {
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    size_t o = 0;
    out[o++] = (uint8_t)b0;
    uint8_t m = masked ? 0x80 : 0;
    if (n < 126) {
        out[o++] = (uint8_t)(m | n);
    } else if (n <= 0xffff) {
        out[o++] = m | 126;
        out[o++] = (uint8_t)(n >> 8);
        out[o++] = (uint8_t)n;
    } else {
        out[o++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[o++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (masked) {
        memcpy(out + o, key, 4);
        o += 4;
    }
    for (size_t i = 0; i < n; i++)
        out[o + i] = ((const uint8_t *)payload)[i] ^ (masked ? key[i & 3] : 0);
    return o + n;
}

static ms_rxcheck_verdict_t scan(ms_rxcheck_t *st, const uint8_t *b, size_t n) {
    ms_rxcheck_verdict_t v;
    ms__rxcheck_scan(st, b, n, &v);
    return v;
}

static void test_masked_frames_pass_whole(void **state) {
    (void)state;
    uint8_t buf[70000];
    size_t n = frame(buf, 0x81, "{\"type\":\"ping\"}", 15, 1);
    static uint8_t big[66000];
    n += frame(buf + n, 0x82, big, sizeof big, 1); /* a 64-bit length */
    n += frame(buf + n, 0x89, "hi", 2, 1);
    ms_rxcheck_t st = {0};
    ms_rxcheck_verdict_t v = scan(&st, buf, n);
    assert_int_equal(v.code, 0);
    assert_int_equal(v.ok, n);
    assert_int_equal(st.data_end, 2);
    assert_true(st.ping_seen);
    assert_int_equal(st.ping_at, 2);
}

static void test_unmasked_frame_fails_before_its_second_byte(void **state) {
    (void)state;
    uint8_t buf[64];
    size_t a = frame(buf, 0x81, "{}", 2, 1);
    size_t n = a + frame(buf + a, 0x81, "{}", 2, 0);
    ms_rxcheck_t st = {0};
    ms_rxcheck_verdict_t v = scan(&st, buf, n);
    assert_int_equal(v.code, 1002);
    assert_int_equal(v.ok, a + 1); /* lws sees the first byte only */
    assert_string_equal(v.reason, "unmasked frame");
    /* Byte by byte, the same verdict at the same byte. */
    ms_rxcheck_t st2 = {0};
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        v = scan(&st2, buf + i, 1);
        passed += v.ok;
        if (v.code)
            break;
    }
    assert_int_equal(v.code, 1002);
    assert_int_equal(passed, a + 1);
    /* Failed stays failed. */
    v = scan(&st2, buf, a);
    assert_int_equal(v.code, 1002);
    assert_int_equal(v.ok, 0);
}

static void test_oversize_control_and_top_length_bit(void **state) {
    (void)state;
    uint8_t buf[300], pad[200] = {0};
    ms_rxcheck_t st = {0};
    size_t n = frame(buf, 0x89, pad, 126, 1);
    ms_rxcheck_verdict_t v = scan(&st, buf, n);
    assert_int_equal(v.code, 1002);
    assert_int_equal(v.ok, 1);
    uint8_t top[] = {0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1};
    memset(&st, 0, sizeof st);
    v = scan(&st, top, sizeof top);
    assert_int_equal(v.code, 1002);
    assert_int_equal(v.ok, 2);
}

static void test_close_frames(void **state) {
    (void)state;
    struct {
        const char *payload;
        size_t len;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"\x03\xe8", 2, 1},                     /* 1000 */
        {"\x03\xe8normal", 8, 1},               /* with a reason */
        {"\x0f\x9f", 2, 1},                     /* 3999 */
        {"\x13\x87", 2, 1},                     /* 4999 */
        {"a", 1, 0},                            /* 1 byte */
        {"\x13\x88", 2, 0},                     /* 5000 */
        {"\xff\xff", 2, 0},                     /* 65535 */
        {"\x03\xed", 2, 0},                     /* 1005 */
        {"\x03\xe8\xce\xba\xed\xa0\x80", 7, 0}, /* surrogate in the reason */
        {"\x03\xe8\xce", 3, 0},                 /* cut off */
    };
    for (size_t i = 0; i < MS_COUNTOF(cases); i++) {
        uint8_t buf[64];
        size_t n = frame(buf, 0x88, cases[i].payload, cases[i].len, 1);
        n += frame(buf + n, 0x81, "{}", 2, 1); /* after the close: never handed on */
        ms_rxcheck_t st = {0};
        ms_rxcheck_verdict_t v = scan(&st, buf, n);
        size_t close_len = 6 + cases[i].len;
        if (cases[i].ok) {
            assert_int_equal(v.code, 0);
            assert_int_equal(v.ok, close_len);
            assert_true(st.closed);
            v = scan(&st, buf, 4);
            assert_int_equal(v.ok, 0);
            assert_int_equal(v.code, 0);
        } else {
            assert_int_equal(v.code, 1002);
            assert_true(v.ok < close_len); /* lws never completes the frame */
        }
    }
}

static void test_close_codes(void **state) {
    (void)state;
    assert_true(ms__rxcheck_close_code_ok(1000));
    assert_true(ms__rxcheck_close_code_ok(1011));
    assert_true(ms__rxcheck_close_code_ok(3000));
    assert_false(ms__rxcheck_close_code_ok(999));
    assert_false(ms__rxcheck_close_code_ok(1004));
    assert_false(ms__rxcheck_close_code_ok(1006));
    assert_false(ms__rxcheck_close_code_ok(1015));
    assert_false(ms__rxcheck_close_code_ok(2999));
    assert_false(ms__rxcheck_close_code_ok(5000));
}

/* Whether a close frame (1000) with this reason passes rxcheck, given at
 * once and then one byte per recv(): the reason is checked by core/utf8.h's
 * incremental validator, also when a code point is split between reads. */
static int close_reason_ok(const char *reason, size_t n) {
    uint8_t payload[64], buf[80];
    payload[0] = 0x03, payload[1] = 0xe8;
    memcpy(payload + 2, reason, n);
    size_t len = frame(buf, 0x88, payload, n + 2, 1);
    ms_rxcheck_t st = {0};
    ms_rxcheck_verdict_t v = scan(&st, buf, len);
    int whole = v.code == 0 && v.ok == len && st.closed;
    memset(&st, 0, sizeof st);
    int bytewise = 1;
    for (size_t i = 0; i < len && bytewise; i++) {
        v = scan(&st, buf + i, 1);
        bytewise = v.code == 0 && v.ok == 1;
    }
    assert_int_equal(whole, bytewise && st.closed);
    return whole;
}

static void test_close_reason_utf8_strict(void **state) {
    (void)state;
    assert_true(close_reason_ok("\xce\xba\xe1\xbd\xb9", 5));
    assert_true(close_reason_ok("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_true(close_reason_ok("\xef\xbf\xbf", 3));      /* U+FFFF, a noncharacter */
    assert_true(close_reason_ok("\xed\x9f\xbf", 3));      /* U+D7FF */
    assert_false(close_reason_ok("\xc0\xaf", 2));         /* overlong */
    assert_false(close_reason_ok("\xe0\x9f\xbf", 3));     /* overlong */
    assert_false(close_reason_ok("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    assert_false(close_reason_ok("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(close_reason_ok("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(close_reason_ok("\x80", 1));
    assert_false(close_reason_ok("\xe2\x82", 2)); /* incomplete */
}

/* core/utf8.h's validator (which rxcheck uses) takes runs of ASCII a word
 * at a time: an invalid or multi-byte sequence at any offset and
 * alignment is still judged byte by byte. */
static void test_utf8_ascii_runs_at_every_offset(void **state) {
    (void)state;
    static const struct {
        const char *seq;
        int ok;
    } seqs[] = {{"\xce\xba", 1}, {"\xf0\x9f\x98\x80", 1}, {"\x80", 0},
                {"\xc0\xaf", 0}, {"\xed\xa0\x80", 0},     {"\xff", 0},
                {"\xe2\x82", 0}};
    char buf[64];
    for (size_t k = 0; k < MS_COUNTOF(seqs); k++) {
        size_t sl = strlen(seqs[k].seq);
        for (size_t at = 0; at + sl <= 40; at++) {
            memset(buf, 'a', sizeof buf);
            memcpy(buf + at, seqs[k].seq, sl);
            for (size_t len = at + sl; len <= 40; len += 7) {
                /* A truncated sequence at the very end is invalid; followed
                 * by ASCII it is invalid too (a continuation was due). */
                assert_int_equal(ms_utf8_valid(buf, len), seqs[k].ok);
                ms_utf8_state_t st = {0};
                int rc = ms_utf8_feed(&st, buf, at + 1);
                rc |= ms_utf8_feed(&st, buf + at + 1, len - at - 1);
                assert_int_equal(rc == 0 && ms_utf8_complete(&st), seqs[k].ok);
            }
        }
    }
    memset(buf, 'a', sizeof buf);
    assert_true(ms_utf8_valid(buf, sizeof buf));
    assert_true(ms_utf8_valid(buf, 0));
}

/* The JSON string literal of s, byte by byte (RFC 8259 section 7): what
 * core/buf.c's writer must produce. */
static size_t ref_json_str(char *out, const char *s, size_t n) {
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = (char)(c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    return o;
}

/* core/buf.c's JSON string writer (every dialect's chunk frames) skips
 * text a word at a time: at every offset and alignment, each byte that
 * must be escaped still is, exactly as byte by byte. */
static void test_json_str_escapes_at_every_offset(void **state) {
    (void)state;
    static const char specials[] = "\"\\\n\r\t\x01\x1f\x7f\xc3\xa9 ";
    char in[48], want[48 * 6 + 2];
    ms_buf_t b;
    ms_buf_init(&b);
    for (size_t k = 0; k + 1 < sizeof specials; k++) {
        for (size_t at = 0; at < 40; at++) {
            for (size_t len = at + 1; len <= 40; len += 5) {
                memset(in, 'x', sizeof in);
                in[at] = specials[k];
                if (at + 3 < len)
                    in[at + 3] = '"';
                ms_buf_reset(&b);
                ms_buf_json_str(&b, in, len);
                size_t wl = ref_json_str(want, in, len);
                assert_int_equal(b.len, wl);
                assert_memory_equal(b.data, want, wl);
            }
        }
    }
    /* And what it writes is JSON that reads back as the input. */
    static const char text[] = "a\"b\\c\nd\x01"
                               "e\x7f"
                               "0123456789abcdef";
    ms_buf_reset(&b);
    ms_buf_json_str(&b, text, sizeof text - 1);
    json_error_t err;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, &err);
    assert_non_null(v);
    assert_int_equal(json_string_length(v), sizeof text - 1);
    assert_memory_equal(json_string_value(v), text, sizeof text - 1);
    json_decref(v);
    ms_buf_free(&b);
}

static const ms_ws_limits_t lim = {.per_s = 2, .burst = 3, .close_after = 4, .max_inflight = 2};

static void test_rate_burst_refill_and_close(void **state) {
    (void)state;
    ms_ws_rate_t r;
    ms__ws_rate_init(&r, 1000, &lim);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ms__ws_admit(&r, &lim, 1000, 0, 0), MS_WS_OK);
    assert_int_equal(ms__ws_admit(&r, &lim, 1000, 0, 0), MS_WS_REFUSE);
    /* 500 ms at 2/s is one message. */
    assert_int_equal(ms__ws_admit(&r, &lim, 1500, 0, 0), MS_WS_OK);
    assert_int_equal(ms__ws_admit(&r, &lim, 1500, 0, 0), MS_WS_REFUSE);
    assert_int_equal(ms__ws_admit(&r, &lim, 1500, 0, 0), MS_WS_REFUSE);
    assert_int_equal(ms__ws_admit(&r, &lim, 1500, 0, 0), MS_WS_REFUSE);
    assert_int_equal(ms__ws_admit(&r, &lim, 1500, 0, 0), MS_WS_CLOSE);
    /* A long pause refills to the burst, not beyond. */
    ms__ws_rate_init(&r, 0, &lim);
    assert_int_equal(ms__ws_admit(&r, &lim, UINT64_C(3600000), 0, 0), MS_WS_OK);
    assert_int_equal(ms__ws_admit(&r, &lim, UINT64_C(3600000), 0, 0), MS_WS_OK);
    assert_int_equal(ms__ws_admit(&r, &lim, UINT64_C(3600000), 0, 0), MS_WS_OK);
    assert_int_equal(ms__ws_admit(&r, &lim, UINT64_C(3600000), 0, 0), MS_WS_REFUSE);
}

static void test_rate_off_and_inflight(void **state) {
    (void)state;
    ms_ws_limits_t off = lim;
    off.per_s = 0;
    ms_ws_rate_t r;
    ms__ws_rate_init(&r, 0, &off);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ms__ws_admit(&r, &off, 0, 0, 0), MS_WS_OK);
    assert_int_equal(ms__ws_admit(&r, &off, 0, 1, 1), MS_WS_OK);
    assert_int_equal(ms__ws_admit(&r, &off, 0, 1, 2), MS_WS_REFUSE);
    /* A ping is not a stream: not refused for in-flight answers. */
    assert_int_equal(ms__ws_admit(&r, &off, 0, 0, 2), MS_WS_OK);
    /* An accepted message resets the count towards closing. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ms__ws_admit(&r, &off, 0, 1, 5), MS_WS_REFUSE);
    assert_int_equal(ms__ws_admit(&r, &off, 0, 0, 5), MS_WS_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ms__ws_admit(&r, &off, 0, 1, 5), MS_WS_REFUSE);
    assert_int_equal(ms__ws_admit(&r, &off, 0, 1, 5), MS_WS_CLOSE);
}

/* A dialect that declares binary messages (as voice will). */
static size_t bin_got;
static int bin_finals;
static int fake_binary(void *st, const void *data, size_t len, int first, int final, char *err,
                       size_t errlen) {
    (void)st;
    (void)data;
    (void)first;
    if (len == 3 && !memcmp(data, "bad", 3)) {
        snprintf(err, errlen, "not audio");
        return MS_EINVAL;
    }
    bin_got += len;
    bin_finals += final;
    return 0;
}
static const ms_dialect_ops_t binary_dialect = {.name = "fake-voice", .binary = fake_binary};
static const ms_dialect_ops_t text_dialect = {.name = "text-only"};

static void test_rx_text_reassembly_and_limit(void **state) {
    (void)state;
    ms_wsrx_t rx = {0};
    int code = 0;
    char reason[120];
    assert_int_equal(ms__wsrx_piece(&rx, &text_dialect, NULL, 10, "{\"a\"", 4, 0, 1, 0, &code,
                                    reason, sizeof reason),
                     MS_RX_MORE);
    assert_int_equal(ms__wsrx_piece(&rx, &text_dialect, NULL, 10, ":1}", 3, 0, 0, 1, &code, reason,
                                    sizeof reason),
                     MS_RX_TEXT);
    assert_memory_equal(rx.text.data, "{\"a\":1}", 7);
    ms_buf_free(&rx.text);
    assert_int_equal(ms__wsrx_piece(&rx, &text_dialect, NULL, 10, "0123456789x", 11, 0, 1, 1, &code,
                                    reason, sizeof reason),
                     MS_RX_CLOSE);
    assert_int_equal(code, 1009);
    ms_buf_free(&rx.text);
}

static void test_rx_binary_refused_without_the_capability(void **state) {
    (void)state;
    ms_wsrx_t rx = {0};
    int code = 0;
    char reason[120];
    assert_int_equal(ms__wsrx_piece(&rx, &text_dialect, NULL, 100, "\x01\x02", 2, 1, 1, 1, &code,
                                    reason, sizeof reason),
                     MS_RX_CLOSE);
    assert_int_equal(code, 1003);
    assert_non_null(strstr(reason, "binary"));
}

static void test_rx_binary_goes_to_the_dialect(void **state) {
    (void)state;
    ms_wsrx_t rx = {0};
    int code = 0;
    char reason[120];
    bin_got = 0;
    bin_finals = 0;
    assert_int_equal(ms__wsrx_piece(&rx, &binary_dialect, NULL, 10, "abcd", 4, 1, 1, 0, &code,
                                    reason, sizeof reason),
                     MS_RX_MORE);
    assert_int_equal(ms__wsrx_piece(&rx, &binary_dialect, NULL, 10, "efgh", 4, 1, 0, 1, &code,
                                    reason, sizeof reason),
                     MS_RX_MORE);
    assert_int_equal(bin_got, 8);
    assert_int_equal(bin_finals, 1);
    assert_int_equal(rx.text.len, 0); /* not buffered */
    /* The message limit holds for binary too. */
    assert_int_equal(ms__wsrx_piece(&rx, &binary_dialect, NULL, 10, "abcdefgh", 8, 1, 1, 0, &code,
                                    reason, sizeof reason),
                     MS_RX_MORE);
    assert_int_equal(ms__wsrx_piece(&rx, &binary_dialect, NULL, 10, "ijk", 3, 1, 0, 1, &code,
                                    reason, sizeof reason),
                     MS_RX_CLOSE);
    assert_int_equal(code, 1009);
    /* The dialect may refuse a message: 1003 with its reason. */
    assert_int_equal(ms__wsrx_piece(&rx, &binary_dialect, NULL, 10, "bad", 3, 1, 1, 1, &code,
                                    reason, sizeof reason),
                     MS_RX_CLOSE);
    assert_int_equal(code, 1003);
    assert_string_equal(reason, "not audio");
    /* Text still works on a binary dialect. */
    assert_int_equal(ms__wsrx_piece(&rx, &binary_dialect, NULL, 10, "{}", 2, 0, 1, 1, &code, reason,
                                    sizeof reason),
                     MS_RX_TEXT);
    ms_buf_free(&rx.text);
}

/* ---- the outbound queue (wsqueue.c) ---------------------------------- */

#define MID_A "0192a000-0000-7000-8000-00000000000a"
#define MID_B "0192a000-0000-7000-8000-00000000000b"

static size_t q_items(const ms_wsq_t *q) {
    size_t n = 0;
    for (const ms_wsq_item_t *it = q->head; it; it = it->next)
        n++;
    return n;
}

static const ms_wsq_item_t *q_at(const ms_wsq_t *q, size_t i) {
    const ms_wsq_item_t *it = q->head;
    while (it && i--)
        it = it->next;
    return it;
}

static void assert_chunk(const ms_wsq_item_t *it, const char *mid, int64_t seq, const char *text,
                         uint32_t merged) {
    assert_non_null(it);
    assert_int_equal(it->kind, MS_WSQ_CHUNK);
    assert_string_equal(it->message_id, mid);
    assert_int_equal(it->seq, seq);
    assert_int_equal(it->merged, merged);
    assert_int_equal(it->text.len, strlen(text));
    assert_memory_equal(it->text.data, text, strlen(text));
}

static void test_wsq_merges_the_deltas_of_one_message(void **state) {
    (void)state;
    ms_wsq_t q = {0};
    const size_t max = 1 << 20;
    assert_int_equal(ms__wsq_frame(&q, "{\"type\":\"message_start\"}", 24, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, "The ", 4, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 2, "quick ", 6, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 3, "fox", 3, max), 0);
    /* Another event: nothing merges across it, so order is kept. */
    assert_int_equal(ms__wsq_frame(&q, "{\"type\":\"pong\"}", 15, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 4, " jumps", 6, max), 0);
    assert_int_equal(q_items(&q), 4);
    assert_int_equal(q_at(&q, 0)->kind, MS_WSQ_FRAME);
    assert_chunk(q_at(&q, 1), MID_A, 3, "The quick fox", 3);
    assert_int_equal(q_at(&q, 2)->kind, MS_WSQ_FRAME);
    assert_memory_equal(q_at(&q, 2)->data + MS_WSQ_PRE, "{\"type\":\"pong\"}", 15);
    assert_chunk(q_at(&q, 3), MID_A, 4, " jumps", 1);
    assert_int_equal(q.bytes, 24 + 15 + 13 + 6 + 2 * MS_WSQ_CHUNK_COST);

    /* What a merged item is sent as: one delta, the last merged seq. */
    ms_event_t ev;
    ms__wsq_chunk_event(q_at(&q, 1), &ev);
    assert_int_equal(ev.kind, MS_EV_MESSAGE_CHUNK);
    assert_string_equal(ev.message_id, MID_A);
    assert_int_equal(ev.seq, 3);
    assert_int_equal(ev.text_len, 13);
    assert_memory_equal(ev.text, "The quick fox", 13);

    ms__wsq_drop_head(&q);
    assert_int_equal(q.bytes, 15 + 13 + 6 + 2 * MS_WSQ_CHUNK_COST);
    ms__wsq_clear(&q);
    assert_null(q.head);
    assert_null(q.tail);
    assert_int_equal(q.bytes, 0);
}

static void test_wsq_interleaved_answers_merge_in_runs(void **state) {
    (void)state;
    ms_wsq_t q = {0};
    const size_t max = 1 << 20;
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, "a1", 2, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_B, 1, "b1", 2, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_B, 2, "b2", 2, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 2, "a2", 2, max), 0);
    assert_int_equal(q_items(&q), 3);
    assert_chunk(q_at(&q, 0), MID_A, 1, "a1", 1);
    assert_chunk(q_at(&q, 1), MID_B, 2, "b1b2", 2);
    assert_chunk(q_at(&q, 2), MID_A, 2, "a2", 1);
    /* No usable message id: the caller queues the encoded frame instead. */
    assert_int_equal(ms__wsq_chunk(&q, NULL, 3, "x", 1, max), MS_EINVAL);
    char long_id[MS_ID_LEN + 4];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(ms__wsq_chunk(&q, long_id, 3, "x", 1, max), MS_EINVAL);
    assert_int_equal(q_items(&q), 3);
    ms__wsq_clear(&q);
}

static void test_wsq_merged_frames_stay_under_the_merge_cap(void **state) {
    (void)state;
    ms_wsq_t q = {0};
    const size_t max = 1 << 20;
    static char big[MS_WSQ_MERGE_MAX * 2];
    memset(big, 'x', sizeof big);
    size_t part = MS_WSQ_MERGE_MAX / 2 + 1;
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, big, part, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 2, big, part, max), 0); /* would pass the cap */
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 3, big, 10, max), 0);
    assert_int_equal(q_items(&q), 2);
    assert_int_equal(q_at(&q, 0)->seq, 1);
    assert_int_equal(q_at(&q, 1)->seq, 3);
    assert_int_equal(q_at(&q, 1)->text.len, part + 10);
    /* A delta larger than the cap is one item, never cut. */
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 4, big, sizeof big, max), 0);
    assert_int_equal(q_items(&q), 3);
    assert_int_equal(q_at(&q, 2)->text.len, sizeof big);
    ms__wsq_clear(&q);
}

static void test_wsq_bound_counts_the_merged_bytes(void **state) {
    (void)state;
    ms_wsq_t q = {0};
    const size_t max = 1000;
    static char text[1000];
    memset(text, 't', sizeof text);
    assert_int_equal(ms__wsq_frame(&q, text, 500, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, text, 300, max), 0);
    assert_int_equal(q.bytes, 500 + 300 + MS_WSQ_CHUNK_COST);
    size_t room = max - q.bytes;
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 2, text, room, max), 0);
    assert_int_equal(q.bytes, max);
    /* Full: one more merged byte is refused, and nothing changes. */
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 3, "x", 1, max), MS_EOVERLOAD);
    assert_int_equal(ms__wsq_frame(&q, "x", 1, max), MS_EOVERLOAD);
    assert_int_equal(ms__wsq_chunk(&q, MID_B, 1, "x", 1, max), MS_EOVERLOAD);
    assert_int_equal(q.bytes, max);
    assert_int_equal(q_items(&q), 2);
    assert_int_equal(q_at(&q, 1)->seq, 2);
    assert_int_equal(q_at(&q, 1)->text.len, 300 + room);
    /* A frame or a delta larger than the bound on its own is refused too. */
    ms__wsq_clear(&q);
    assert_int_equal(ms__wsq_frame(&q, text, sizeof text, sizeof text - 1), MS_EOVERLOAD);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, text, 999 - MS_WSQ_CHUNK_COST + 1, 999),
                     MS_EOVERLOAD);
    assert_null(q.head);
    assert_int_equal(q.bytes, 0);
}

static void test_wsq_expand_head_into_frames(void **state) {
    (void)state;
    ms_wsq_t q = {0};
    const size_t max = 1 << 20;
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, "abc", 3, max), 0);
    assert_int_equal(ms__wsq_frame(&q, "after", 5, max), 0);
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    ms_buf_puts(&f.buf, "first");
    ms_frames_end(&f);
    ms_buf_puts(&f.buf, "second!");
    ms_frames_end(&f);
    ms__wsq_expand_head(&q, &f);
    assert_int_equal(q_items(&q), 3);
    assert_int_equal(q_at(&q, 0)->len, 5);
    assert_memory_equal(q_at(&q, 0)->data + MS_WSQ_PRE, "first", 5);
    assert_memory_equal(q_at(&q, 1)->data + MS_WSQ_PRE, "second!", 7);
    assert_memory_equal(q_at(&q, 2)->data + MS_WSQ_PRE, "after", 5);
    assert_int_equal(q.bytes, 5 + 7 + 5);
    /* A head that is also the tail: the tail moves to its last frame. */
    ms__wsq_clear(&q);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, "abc", 3, max), 0);
    ms__wsq_expand_head(&q, &f);
    assert_ptr_equal(q.tail, q_at(&q, 1));
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 2, "d", 1, max), 0);
    assert_int_equal(q_items(&q), 3); /* not merged into a frame */
    /* No frames: the head is dropped. */
    ms__wsq_clear(&q);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 1, "abc", 3, max), 0);
    ms_frames_reset(&f);
    ms__wsq_expand_head(&q, &f);
    assert_null(q.head);
    assert_null(q.tail);
    assert_int_equal(q.bytes, 0);
    ms_frames_free(&f);
}

/* A merged delta goes out in the session's own dialect, as one chunk frame
 * with the last merged seq (native) or chunk_index (VoiceAssist: seq - 1). */
static void test_wsq_merged_delta_in_each_dialect(void **state) {
    (void)state;
    ms_wsq_t q = {0};
    const size_t max = 1 << 20;
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 7, "Asthma ", 7, max), 0);
    assert_int_equal(ms__wsq_chunk(&q, MID_A, 8, "is \"chronic\"", 12, max), 0);
    ms_event_t ev;
    ms__wsq_chunk_event(q.head, &ev);
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    ms_dialect_native.encode(NULL, &ev, &f);
    assert_int_equal(f.n, 1);
    size_t len;
    const char *fr = ms_frames_get(&f, 0, &len);
    const char *want = "{\"type\":\"message_chunk\",\"message_id\":\"" MID_A
                       "\",\"seq\":8,\"delta\":\"Asthma is \\\"chronic\\\"\"}";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(fr, want, len);
    ms_frames_reset(&f);
    ms_dialect_voiceassist.encode(NULL, &ev, &f);
    assert_int_equal(f.n, 1);
    fr = ms_frames_get(&f, 0, &len);
    want = "{\"type\":\"message_chunk\",\"message_id\":\"" MID_A
           "\",\"content\":\"Asthma is \\\"chronic\\\"\",\"chunk_index\":7}";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(fr, want, len);
    ms_frames_free(&f);
    ms__wsq_clear(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masked_frames_pass_whole),
        cmocka_unit_test(test_unmasked_frame_fails_before_its_second_byte),
        cmocka_unit_test(test_oversize_control_and_top_length_bit),
        cmocka_unit_test(test_close_frames),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_close_reason_utf8_strict),
        cmocka_unit_test(test_utf8_ascii_runs_at_every_offset),
        cmocka_unit_test(test_json_str_escapes_at_every_offset),
        cmocka_unit_test(test_rate_burst_refill_and_close),
        cmocka_unit_test(test_rate_off_and_inflight),
        cmocka_unit_test(test_rx_text_reassembly_and_limit),
        cmocka_unit_test(test_rx_binary_refused_without_the_capability),
        cmocka_unit_test(test_rx_binary_goes_to_the_dialect),
        cmocka_unit_test(test_wsq_merges_the_deltas_of_one_message),
        cmocka_unit_test(test_wsq_interleaved_answers_merge_in_runs),
        cmocka_unit_test(test_wsq_merged_frames_stay_under_the_merge_cap),
        cmocka_unit_test(test_wsq_bound_counts_the_merged_bytes),
        cmocka_unit_test(test_wsq_expand_head_into_frames),
        cmocka_unit_test(test_wsq_merged_delta_in_each_dialect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
