/* Log-linear histogram (see hist.h). The index is the position of the
 * sample's leading bit (the power of two) and its next 7 bits (the
 * sub-bucket), which is how HdrHistogram lays out its counts array with
 * two significant decimal digits. */
#include "bench/hist.h"

#include "core/ms.h"

#include <string.h>

#define SUB (1 << MS_BENCH_HIST_SUB_BITS) /* 128 */

void ms_bench_hist_init(ms_bench_hist_t *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

int ms_bench_hist_index(uint64_t v) {
    if (v > MS_BENCH_HIST_MAX)
        v = MS_BENCH_HIST_MAX;
    if (v < 2 * (uint64_t)SUB)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);        /* 8 .. 39 */
    int shift = msb - MS_BENCH_HIST_SUB_BITS; /* 1 .. 32 */
    return 2 * SUB + (shift - 1) * SUB + (int)((v >> shift) - SUB);
}

uint64_t ms_bench_hist_bucket_high(int i) {
    if (i < 2 * SUB)
        return (uint64_t)i;
    int shift = (i - 2 * SUB) / SUB + 1;
    uint64_t mant = (uint64_t)((i - 2 * SUB) % SUB + SUB);
    return ((mant + 1) << shift) - 1;
}

void ms_bench_hist_record(ms_bench_hist_t *h, uint64_t v) {
    if (v > MS_BENCH_HIST_MAX)
        v = MS_BENCH_HIST_MAX;
    h->b[ms_bench_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void ms_bench_hist_merge(ms_bench_hist_t *dst, const ms_bench_hist_t *src) {
    if (!src->count)
        return;
    for (int i = 0; i < MS_BENCH_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t ms_bench_hist_percentile(const ms_bench_hist_t *h, double p) {
    if (!h->count)
        return 0;
    if (p > 100.0)
        p = 100.0;
    /* The rank of the sample at p, 1-based, rounded to the nearest as
     * HdrHistogram does (a ceiling would turn 99.9 % of 1000 samples, which
     * is 999.0000000000001 in binary floating point, into the 1000th). */
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < MS_BENCH_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = ms_bench_hist_bucket_high(i);
            return v > h->max ? h->max : v < h->min ? h->min : v;
        }
    }
    return h->max;
}

double ms_bench_hist_mean(const ms_bench_hist_t *h) {
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

json_t *ms_bench_hist_to_json(const ms_bench_hist_t *h) {
    json_t *b = json_array();
    for (int i = 0; i < MS_BENCH_HIST_BUCKETS; i++)
        if (h->b[i])
            json_array_append_new(b, json_pack("[iI]", i, (json_int_t)h->b[i]));
    return json_pack("{sIsIsIsIso}", "n", (json_int_t)h->count, "sum", (json_int_t)h->sum, "min",
                     (json_int_t)(h->count ? h->min : 0), "max", (json_int_t)h->max, "b", b);
}

int ms_bench_hist_merge_json(ms_bench_hist_t *h, const json_t *j) {
    json_int_t n, sum, min, max;
    json_t *b;
    if (!j ||
        json_unpack((json_t *)j, "{sIsIsIsIso}", "n", &n, "sum", &sum, "min", &min, "max", &max,
                    "b", &b) != 0 ||
        !json_is_array(b) || n < 0 || sum < 0 || min < 0 || max < 0)
        return MS_EINVAL;
    uint64_t total = 0;
    size_t k;
    json_t *pair;
    json_array_foreach(b, k, pair) {
        json_int_t i, c;
        if (json_unpack(pair, "[II]", &i, &c) != 0 || i < 0 || i >= MS_BENCH_HIST_BUCKETS || c < 0)
            return MS_EINVAL;
        h->b[i] += (uint64_t)c;
        total += (uint64_t)c;
    }
    if (total != (uint64_t)n)
        return MS_EINVAL;
    if (!n)
        return 0;
    h->count += (uint64_t)n;
    h->sum += (uint64_t)sum;
    if ((uint64_t)min < h->min)
        h->min = (uint64_t)min;
    if ((uint64_t)max > h->max)
        h->max = (uint64_t)max;
    return 0;
}
