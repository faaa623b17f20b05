/* libFuzzer target: the Server-Sent Events parser (llm/stream.h, WHATWG
 * HTML 9.2.5 / 9.2.6) on any bytes, cut into reads of any size.
 *
 * Input: one byte giving the read size k (1..256), then the stream.
 *
 * Properties: the stream fed whole and fed k bytes at a time dispatch the
 * same events (type and data, byte for byte) and end with the same result
 * (0 or MS_ETOOBIG); no event's data and no type is longer than the
 * limits; nothing crashes or leaks. */
#include "fuzz_util.h"

#include "core/buf.h"
#include "core/ms.h"
#include "llm/stream.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LINE 512

static int rec(void *ctx, const char *type, const char *data, size_t len) {
    ms_buf_t *b = ctx;
    FZ_ASSERT(len <= MAX_LINE, "data of %zu bytes over the %d limit", len, MAX_LINE);
    FZ_ASSERT(strlen(type) <= MS_SSE_EVENT_MAX, "type of %zu bytes", strlen(type));
    ms_buf_printf(b, "%zu:%s|%zu:", strlen(type), type, len);
    ms_buf_append(b, data, len);
    return 0;
}

static int parse(const uint8_t *d, size_t n, size_t k, ms_buf_t *out) {
    ms_sse_t p = {.max_line = MAX_LINE};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i += k)
        rc = ms_sse_feed(&p, (const char *)d + i, n - i < k ? n - i : k, rec, out);
    if (!rc)
        ms_sse_end(&p);
    ms_sse_reset(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t k = (size_t)data[0] + 1;
    ms_buf_t whole = {0}, cut = {0};
    int a = parse(data + 1, size - 1, size, &whole);
    int b = parse(data + 1, size - 1, k, &cut);
    FZ_ASSERT(a == 0 || a == MS_ETOOBIG, "result %d", a);
    FZ_ASSERT(a == b, "whole gave %d, reads of %zu gave %d", a, k, b);
    FZ_ASSERT(whole.len == cut.len && (!whole.len || !memcmp(whole.data, cut.data, whole.len)),
              "reads of %zu bytes changed the events", k);
    ms_buf_free(&whole);
    ms_buf_free(&cut);
    return 0;
}
