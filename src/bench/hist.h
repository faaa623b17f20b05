/* A log-linear latency histogram in the manner of HdrHistogram
 * (http://hdrhistogram.org/): fixed memory, O(1) record, mergeable across
 * processes, percentiles within 1/128 (0.8 %) of the recorded value. The
 * load generator records millions of samples (10,000 streams x 64 chunks);
 * keeping them all to sort would cost memory and time that this does not. */
#ifndef MS_BENCH_HIST_H
#define MS_BENCH_HIST_H

#include <jansson.h>
#include <stdint.h>

/** Sub-buckets per power of two: 2^7 = 128, so the width of a bucket is at
 * most 1/128 of its lower bound. Values below 256 are recorded exactly. */
#define MS_BENCH_HIST_SUB_BITS 7
/** Largest recordable value: 2^40 - 1 (in microseconds, about 12.7 days);
 * larger values are clamped to it. */
#define MS_BENCH_HIST_MAX ((UINT64_C(1) << 40) - 1)
/** Number of buckets: 256 exact ones, then 128 per power of two from 2^8
 * to 2^39. */
#define MS_BENCH_HIST_BUCKETS (256 + 32 * 128)

/** A histogram of non-negative integers (the bench records microseconds).
 * Plain data (34 KiB): the owner embeds or allocates it; no _free needed. */
typedef struct {
    uint64_t count; /**< samples recorded */
    uint64_t sum;   /**< sum of the (clamped) samples, for the mean */
    uint64_t min;   /**< smallest sample (UINT64_MAX when empty) */
    uint64_t max;   /**< largest sample (0 when empty) */
    uint64_t b[MS_BENCH_HIST_BUCKETS];
} ms_bench_hist_t;

/** Empties h. */
void ms_bench_hist_init(ms_bench_hist_t *h);

/** Records one sample (clamped to MS_BENCH_HIST_MAX). */
void ms_bench_hist_record(ms_bench_hist_t *h, uint64_t v);

/** Adds every sample of src to dst (the histogram of the union). */
void ms_bench_hist_merge(ms_bench_hist_t *dst, const ms_bench_hist_t *src);

/** The value at percentile p (0 < p <= 100): the highest value equivalent
 * to the bucket holding the sample of rank p/100 * count (rounded), as
 * HdrHistogram reports it, but never above the recorded maximum. 0 when the
 * histogram is empty. */
uint64_t ms_bench_hist_percentile(const ms_bench_hist_t *h, double p);

/** Mean of the samples, 0 when empty. */
double ms_bench_hist_mean(const ms_bench_hist_t *h);

/** The bucket index of v, and the highest value that maps to bucket i
 * (exposed for the unit test). */
int ms_bench_hist_index(uint64_t v);
uint64_t ms_bench_hist_bucket_high(int i);

/** Serialises h as {"n","sum","min","max","b":[[index,count],...]} with only
 * the non-empty buckets (new reference). */
json_t *ms_bench_hist_to_json(const ms_bench_hist_t *h);

/** Merges a serialised histogram into h. Returns 0, or MS_EINVAL when j is
 * not of the shape ms_bench_hist_to_json writes (h is then unspecified). */
int ms_bench_hist_merge_json(ms_bench_hist_t *h, const json_t *j);

#endif
