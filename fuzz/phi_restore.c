/* libFuzzer target: the streaming restorer (phi/phi.h) with placeholders
 * split anywhere.
 *
 * The input's first byte seeds the chunk sizes; the rest is a text. The
 * text is redacted (ms_phi_redact_text), the redacted text is fed to a
 * restorer in chunks of 1..16 bytes, and the result must be the text
 * again, byte for byte, with never more than ms_phi_restorer_holdback()
 * bytes held back between chunks.
 *
 * Build as fuzz/phi_detect.c says, with this file. */
#include "core/buf.h"
#include "phi/phi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    ms_phi_map_t *m = ms_phi_map_new();
    char *red;
    size_t rlen;
    ms_phi_redact_text(m, s, n, &red, &rlen, NULL);
    ms_phi_restorer_t *r = ms_phi_restorer_new(m);
    size_t hold = ms_phi_restorer_holdback(m);
    ms_buf_t out;
    ms_buf_init(&out);
    for (size_t at = 0; at < rlen;) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 16;
        if (k > rlen - at)
            k = rlen - at;
        ms_phi_restorer_feed(r, red + at, k, &out);
        if (ms_phi_restorer_pending(r) > hold)
            abort();
        at += k;
    }
    ms_phi_restorer_flush(r, &out);
    if (out.len != n || (n && memcmp(out.data, s, n)))
        abort();
    ms_buf_free(&out);
    ms_phi_restorer_free(r);
    free(red);
    ms_phi_map_free(m);
    return 0;
}
