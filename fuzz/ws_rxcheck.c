/* libFuzzer target: the WebSocket receive-side checks on the client's raw
 * bytes (net/rxcheck.h: ms__rxcheck_scan; core/utf8.h: ms_utf8_feed), RFC 6455
 * sections 5.1, 5.2, 5.5 and 7.4.
 *
 * Input: a mode byte, then
 *   even  the client's byte stream as it arrives;
 *   odd   a description the harness turns into valid masked frames (each:
 *         opcode byte, length byte, mask key, payload; control frames of
 *         at most 125 bytes, close frames with an allowed code and a UTF-8
 *         reason), which the scanner must pass whole.
 * The mode byte also seeds where the stream is split into reads.
 *
 * Properties: the verdict does not depend on how the stream is split into
 * reads (the scanner is incremental); ok never exceeds the bytes given;
 * a failure is close 1002 with a reason; once failed or closed nothing more
 * passes; valid frames are never refused; ms_utf8_feed agrees with a
 * strict RFC 3629 validator. */
#include "fuzz_util.h"

#include "core/ms.h"
#include "net/rxcheck.h"

#include <stdlib.h>
#include <string.h>

/* Scans buf in reads of pseudo-random sizes; returns the total passed and
 * the failure code (0 if none). */
static size_t scan_split(const uint8_t *buf, size_t len, unsigned seed, int *code) {
    ms_rxcheck_t st;
    memset(&st, 0, sizeof st);
    size_t done = 0;
    *code = 0;
    while (done < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 17;
        if (n > len - done)
            n = len - done;
        ms_rxcheck_verdict_t v;
        ms__rxcheck_scan(&st, buf + done, n, &v);
        FZ_ASSERT(v.ok <= n, "ok %zu of %zu bytes", v.ok, n);
        FZ_ASSERT(v.code == 0 || v.code == 1002, "close code %d", v.code);
        FZ_ASSERT(!v.code || v.reason, "failure without a reason");
        done += v.ok;
        if (v.code || v.ok < n) {
            *code = v.code;
            /* Failed or closed: the state stays so. */
            ms_rxcheck_verdict_t again;
            ms__rxcheck_scan(&st, (const uint8_t *)"\x81\x80", 2, &again);
            FZ_ASSERT(again.ok == 0, "bytes passed after a failure or a close");
            break;
        }
    }
    return done;
}

/* Builds valid masked frames from the description d[0..n) into out. */
static size_t build_frames(const uint8_t *d, size_t n, uint8_t *out, size_t cap) {
    static const uint16_t codes[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                     1009, 1010, 1011, 3000, 4999};
    size_t o = 0, i = 0;
    int closed = 0;
    while (i + 2 <= n && !closed) {
        uint8_t kind = d[i] % 6, fin = d[i] & 0x80;
        size_t len = d[i + 1];
        i += 2;
        uint8_t op = kind == 0   ? 1
                     : kind == 1 ? 2
                     : kind == 2 ? 0
                     : kind == 3 ? 9
                     : kind == 4 ? 10
                                 : 8;
        if (op >= 8) {
            fin = 0x80;
            len %= 126;
        }
        if (op == 8 && len == 1)
            len = 0;
        if (o + 14 + len > cap)
            break;
        uint8_t key[4] = {(uint8_t)i, 0x5a, 0xa5, (uint8_t)len};
        out[o++] = (uint8_t)(fin | op);
        if (len < 126) {
            out[o++] = (uint8_t)(0x80 | len);
        } else {
            out[o++] = 0x80 | 126;
            out[o++] = (uint8_t)(len >> 8);
            out[o++] = (uint8_t)len;
        }
        memcpy(out + o, key, 4);
        o += 4;
        for (size_t k = 0; k < len; k++) {
            uint8_t b = i + k < n ? d[i + k] : 'x';
            if (op == 8) { /* code, then an ASCII reason */
                uint16_t c = codes[(d[i - 1]) % MS_COUNTOF(codes)];
                b = k == 0 ? (uint8_t)(c >> 8) : k == 1 ? (uint8_t)c : (uint8_t)(0x20 + b % 0x5f);
            }
            out[o++] = b ^ key[k & 3];
        }
        i += len < n - i ? len : n - i;
        closed = op == 8;
    }
    return o;
}

/* The incremental validator (core/utf8.h), fed one byte at a time as
 * fragments may split text, against a strict reference and against the
 * whole-string validator. */
static void check_utf8_step(const uint8_t *d, size_t n) {
    ms_utf8_state_t st = {0};
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++)
        ok = ms_utf8_feed(&st, (const char *)d + i, 1) == 0;
    ok = ok && ms_utf8_complete(&st);
    FZ_ASSERT(ok == fz_utf8_valid((const char *)d, n), "ms_utf8_feed says %s",
              ok ? "valid" : "invalid");
    FZ_ASSERT(ok == (ms_utf8_valid((const char *)d, n) != 0), "ms_utf8_valid disagrees");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    unsigned seed = data[0];
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    check_utf8_step(d, n < 64 ? n : 64);
    if (data[0] & 1) {
        size_t cap = n * 3 + 64;
        uint8_t *frames = malloc(cap);
        size_t len = build_frames(d, n, frames, cap);
        int code;
        size_t ok = scan_split(frames, len, seed, &code);
        FZ_ASSERT(code == 0 && ok == len, "valid frames refused at byte %zu of %zu", ok, len);
        free(frames);
        return 0;
    }
    ms_rxcheck_t st;
    memset(&st, 0, sizeof st);
    ms_rxcheck_verdict_t whole;
    ms__rxcheck_scan(&st, d, n, &whole);
    FZ_ASSERT(whole.ok <= n, "ok beyond the input");
    int code;
    size_t ok = scan_split(d, n, seed, &code);
    FZ_ASSERT(ok == whole.ok && code == whole.code,
              "split reads gave ok %zu code %d, one read ok %zu code %d", ok, code, whole.ok,
              whole.code);
    return 0;
}
