/* libFuzzer target: the citation filter (llm/cite.h) on any answer text,
 * streamed in deltas of any size.
 *
 * Input: one byte giving the number of passages (0..15) and one the delta
 * size k (1..64), then the text.
 *
 * Properties: the output does not depend on how the text was cut; every
 * marker "[k]" that the filter wrote names a citation it returned (1 <=
 * k <= ncited), and every citation names a passage given; each passage's
 * document is cited once; text without '[' or ' ' passes unchanged; valid
 * UTF-8 stays valid. */
#include "fuzz_util.h"

#include "core/buf.h"
#include "llm/cite.h"

#include <stdlib.h>
#include <string.h>

static const char *const keys[16] = {"d0", "d1", "d0", "d3",  "d4",  "d1",  "d6",  "d7",
                                     "d8", "d9", "d9", "d11", "d12", "d13", "d14", "d15"};

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The web client's marker pattern (ui/src/markdown.ts):
 * ^\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\] on p[0..n). Returns whether it
 * matches, with its numbers. */
static int ui_marker(const char *p, size_t n, size_t *nums, size_t *cnt) {
    size_t j = 1;
    *cnt = 0;
    for (;;) {
        size_t v = 0, nd = 0;
        while (j < n && nd < 3 && p[j] >= '0' && p[j] <= '9')
            v = v * 10 + (size_t)(p[j++] - '0'), nd++;
        if (!nd || *cnt == 64)
            return 0;
        nums[(*cnt)++] = v;
        size_t k = j;
        while (k < n && is_ws(p[k]))
            k++;
        if (k < n && p[k] == ',') {
            k++;
            while (k < n && is_ws(p[k]))
                k++;
            j = k;
            continue;
        }
        return j < n && p[j] == ']';
    }
}

static char *filter(const char *s, size_t n, size_t k, size_t npass, ms_cite_t *c, size_t *len) {
    ms_cite_init(c, npass, keys);
    ms_buf_t out = {0};
    for (size_t i = 0; i < n; i += k)
        ms_cite_feed(c, s + i, n - i < k ? n - i : k, &out);
    ms_cite_flush(c, &out);
    *len = out.len;
    ms_buf_cstr(&out);
    return ms_buf_take(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    size_t npass = data[0] % 16, k = (size_t)(data[1] % 64) + 1;
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    ms_cite_t a, b;
    size_t la, lb;
    char *oa = filter(s, n, n ? n : 1, npass, &a, &la);
    char *ob = filter(s, n, k, npass, &b, &lb);
    FZ_ASSERT(la == lb && !memcmp(oa, ob, la), "deltas of %zu bytes changed the output", k);
    FZ_ASSERT(a.ncited == b.ncited, "citations differ");
    for (size_t i = 0; i < a.ncited; i++) {
        FZ_ASSERT(a.cited[i] < npass, "citation %zu names passage %zu of %zu", i + 1, a.cited[i],
                  npass);
        for (size_t j = 0; j < i; j++)
            FZ_ASSERT(strcmp(keys[a.cited[i]], keys[a.cited[j]]) != 0, "a document cited twice");
    }
    if (!memchr(s, '[', n) && !memchr(s, ' ', n))
        FZ_ASSERT(la == n && !memcmp(oa, s, n), "plain text changed");
    if (fz_utf8_valid(s, n))
        FZ_ASSERT(fz_utf8_valid(oa, la), "output is not UTF-8");
    /* Anything in the output a client would take for a marker names
     * citations the filter returned. */
    for (size_t i = 0; i < la; i++) {
        size_t nums[64], cnt = 0;
        if (oa[i] == '[' && ui_marker(oa + i, la - i, nums, &cnt))
            for (size_t q = 0; q < cnt; q++)
                FZ_ASSERT(nums[q] >= 1 && nums[q] <= a.ncited,
                          "a marker in the output names no citation: [%zu] with %zu cited", nums[q],
                          a.ncited);
    }
    ms_cite_free(&a);
    ms_cite_free(&b);
    free(oa);
    free(ob);
    return 0;
}
