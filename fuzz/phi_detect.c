/* libFuzzer target: the PHI detector (phi/phi.h) on arbitrary bytes.
 *
 * Properties checked on every input:
 * - spans are sorted, disjoint, non-empty and inside the input;
 * - on valid UTF-8, no span starts or ends inside a code point;
 * - the verdict agrees with the spans (FOUND iff a span is >= MS_PHI_SURE;
 *   NONE only without spans);
 * - redaction round-trips: restoring the redacted text with its map gives
 *   back the input, byte for byte.
 *
 * Build (until fuzz/CMakeLists.txt has a row for it):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc fuzz/phi_detect.c \
 *     build/libms_phi.a build/libms_core.a -lpcre2-8 -ljansson -lsodium -luv -lpthread -lm
 *   ./a.out fuzz/corpus/phi_detect */
#include "core/buf.h"
#include "core/utf8.h"
#include "phi/phi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    ms_phi_result_t r;
    ms_phi_detect(s, size, &r);
    int valid = ms_utf8_valid(s, size), sure = 0;
    for (size_t i = 0; i < r.nspans; i++) {
        const ms_phi_span_t *sp = &r.spans[i];
        if (sp->start >= sp->end || sp->end > size || (i && r.spans[i - 1].end > sp->start))
            abort();
        if (sp->confidence <= 0 || sp->confidence > 1 || (unsigned)sp->type >= MS_PHI_NTYPES)
            abort();
        if (valid && (((uint8_t)s[sp->start] & 0xC0) == 0x80 ||
                      (sp->end < size && ((uint8_t)s[sp->end] & 0xC0) == 0x80)))
            abort();
        sure |= sp->confidence >= MS_PHI_SURE;
    }
    if ((r.verdict == MS_PHI_FOUND) != sure || (r.verdict == MS_PHI_NONE && r.nspans))
        abort();

    ms_phi_map_t *m = ms_phi_map_new();
    char *red;
    size_t rlen;
    ms_phi_redact(m, s, size, &r, &red, &rlen);
    ms_phi_restorer_t *rs = ms_phi_restorer_new(m);
    ms_buf_t out;
    ms_buf_init(&out);
    ms_phi_restorer_feed(rs, red, rlen, &out);
    ms_phi_restorer_flush(rs, &out);
    if (out.len != size || (size && memcmp(out.data, s, size)))
        abort();
    ms_buf_free(&out);
    ms_phi_restorer_free(rs);
    free(red);
    ms_phi_map_free(m);
    ms_phi_result_free(&r);
    return 0;
}
