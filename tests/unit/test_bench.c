/* The load generator's statistics: the log-linear histogram (accuracy,
 * percentiles, merging across processes through JSON) and the event
 * scanner that replaces a JSON parse per chunk. */
/* cmocka needs these first (clang-format off keeps the order). */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "bench/hist.h"
#include "bench/internal.h"
#include "bench/scan.h"

#include <stdlib.h>
#include <string.h>

static ms_bench_hist_t *hist_new(void) {
    ms_bench_hist_t *h = malloc(sizeof *h);
    assert_non_null(h);
    ms_bench_hist_init(h);
    return h;
}

/* Every value maps to a bucket whose range contains it, and the bucket is
 * at most 1/128 of the value wide: the precision promised in hist.h. */
static void test_hist_buckets_bound_the_error(void **state) {
    (void)state;
    for (uint64_t v = 0; v < 5000000; v += 1 + v / 97) {
        int i = ms_bench_hist_index(v);
        assert_true(i >= 0 && i < MS_BENCH_HIST_BUCKETS);
        uint64_t hi = ms_bench_hist_bucket_high(i);
        uint64_t lo = i ? ms_bench_hist_bucket_high(i - 1) + 1 : 0;
        assert_true(lo <= v && v <= hi);
        assert_true((hi - lo) * 128 <= v || v < 256);
    }
    /* Exact below 256, monotonic, and clamped at the top. */
    for (uint64_t v = 0; v < 256; v++)
        assert_int_equal(ms_bench_hist_bucket_high(ms_bench_hist_index(v)), v);
    assert_int_equal(ms_bench_hist_index(MS_BENCH_HIST_MAX), MS_BENCH_HIST_BUCKETS - 1);
    assert_int_equal(ms_bench_hist_index(UINT64_MAX), MS_BENCH_HIST_BUCKETS - 1);
    assert_int_equal(ms_bench_hist_bucket_high(MS_BENCH_HIST_BUCKETS - 1), MS_BENCH_HIST_MAX);
}

/* Percentiles of 1..100000 us against the exact order statistics. */
static void test_hist_percentiles(void **state) {
    (void)state;
    ms_bench_hist_t *h = hist_new();
    assert_int_equal(ms_bench_hist_percentile(h, 99), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        ms_bench_hist_record(h, v);
    const double ps[] = {50, 90, 99, 99.9, 100};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        double exact = ps[k] / 100.0 * 100000.0;
        double got = (double)ms_bench_hist_percentile(h, ps[k]);
        assert_true(got >= exact && got <= exact * (1.0 + 1.0 / 128.0) + 1.0);
    }
    assert_int_equal(ms_bench_hist_percentile(h, 100), 100000);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->count, 100000);
    assert_true(ms_bench_hist_mean(h) > 50000.0 && ms_bench_hist_mean(h) < 50001.0);
    free(h);
}

/* A single outlier shows up at p99.9 only when it is in the top 0.1 %. */
static void test_hist_tail(void **state) {
    (void)state;
    ms_bench_hist_t *h = hist_new();
    for (int i = 0; i < 999; i++)
        ms_bench_hist_record(h, 1000);
    ms_bench_hist_record(h, 250000);
    /* 1000 is reported as the top of its bucket, 1000..1003. */
    uint64_t b1000 = ms_bench_hist_bucket_high(ms_bench_hist_index(1000));
    assert_int_equal(b1000, 1003);
    assert_int_equal(ms_bench_hist_percentile(h, 99), b1000);
    assert_int_equal(ms_bench_hist_percentile(h, 99.9), b1000);
    assert_int_equal(ms_bench_hist_percentile(h, 99.95), 250000);
    free(h);
}

/* Two workers' histograms merged through their JSON form equal one
 * histogram of all the samples. */
static void test_hist_merge_through_json(void **state) {
    (void)state;
    ms_bench_hist_t *a = hist_new(), *b = hist_new(), *all = hist_new(), *m = hist_new();
    for (uint64_t v = 0; v < 20000; v++) {
        uint64_t x = (v * 2654435761u) % 3000000;
        ms_bench_hist_record(v % 3 ? a : b, x);
        ms_bench_hist_record(all, x);
    }
    json_t *ja = ms_bench_hist_to_json(a), *jb = ms_bench_hist_to_json(b);
    char *sa = json_dumps(ja, JSON_COMPACT);
    json_error_t je;
    json_t *back = json_loads(sa, 0, &je);
    assert_int_equal(ms_bench_hist_merge_json(m, back), 0);
    assert_int_equal(ms_bench_hist_merge_json(m, jb), 0);
    assert_memory_equal(m, all, sizeof *m);
    ms_bench_hist_merge(a, b);
    assert_memory_equal(a, all, sizeof *a);
    /* A count that does not match the buckets is refused. */
    json_object_set_new(back, "n", json_integer(1));
    assert_int_equal(ms_bench_hist_merge_json(m, back), MS_EINVAL);
    json_t *x = json_string("x");
    assert_int_equal(ms_bench_hist_merge_json(m, x), MS_EINVAL);
    json_decref(x);
    free(sa);
    json_decref(ja);
    json_decref(jb);
    json_decref(back);
    free(a), free(b), free(all), free(m);
}

/* Worker stats survive the pipe format, errors and samples included. */
static void test_stats_merge(void **state) {
    (void)state;
    ms_bench_stats_t *w = ms__bench_stats_new(), *sum = ms__bench_stats_new();
    w->connected = 7;
    w->chunks = 640;
    w->errors[MS_BENCH_ERR_TIMEOUT] = 2;
    ms_bench_hist_record(&w->ttfc, 1234);
    json_t *samples = json_array();
    ms__bench_sample_add(samples, "timeout: x");
    ms__bench_sample_add(samples, "timeout: x");
    assert_int_equal(json_array_size(samples), 1);
    json_t *j = ms__bench_stats_to_json(w, samples);
    json_t *merged = json_array();
    assert_int_equal(ms__bench_stats_merge_json(sum, merged, j), 0);
    assert_int_equal(ms__bench_stats_merge_json(sum, merged, j), 0);
    assert_int_equal(sum->connected, 14);
    assert_int_equal(sum->chunks, 1280);
    assert_int_equal(sum->errors[MS_BENCH_ERR_TIMEOUT], 4);
    assert_int_equal(sum->ttfc.count, 2);
    assert_int_equal(json_array_size(merged), 1);
    assert_string_equal(ms_bench_error_name(MS_BENCH_ERR_HANDSHAKE), "handshake");
    json_decref(j);
    json_decref(samples);
    json_decref(merged);
    free(w);
    free(sum);
}

static void test_scan_native_events(void **state) {
    (void)state;
    ms_bench_event_t ev;
    const char *chunk = "{\"type\":\"message_chunk\",\"message_id\":\"0b6e\",\"seq\":42,"
                        "\"delta\":\"lorem \\\"ipsum\\\" {not} [json]\"}";
    assert_int_equal(ms_bench_scan(chunk, strlen(chunk), &ev), 0);
    assert_int_equal(ev.kind, MS_BENCH_EV_CHUNK);
    assert_int_equal(ev.seq, 42);
    const char *start = "{\"type\":\"message_start\",\"conversation_id\":"
                        "\"5f0c7a57-5d1e-4a44-9e02-4c1c1b0e8f11\",\"message_id\":\"m\"}";
    assert_int_equal(ms_bench_scan(start, strlen(start), &ev), 0);
    assert_int_equal(ev.kind, MS_BENCH_EV_START);
    assert_string_equal(ev.conversation_id, "5f0c7a57-5d1e-4a44-9e02-4c1c1b0e8f11");
    const char *err = "{\"type\":\"error\",\"code\":\"busy\",\"message\":\"x\",\"retryable\":true}";
    assert_int_equal(ms_bench_scan(err, strlen(err), &ev), 0);
    assert_int_equal(ev.kind, MS_BENCH_EV_ERROR);
    assert_string_equal(ev.code, "busy");
}

/* Member order, nesting and whitespace do not matter; nested members of
 * the same name are not taken for top-level ones. */
static void test_scan_order_and_nesting(void **state) {
    (void)state;
    ms_bench_event_t ev;
    const char *s = " { \"data\" : {\"type\":\"x\",\"seq\":9}, \"list\":[1,{\"seq\":3},\"]\"],"
                    "\"chunk_index\" : 5 , \"n\":-1.5e3, \"ok\":true, \"type\" : "
                    "\"message_chunk\" } ";
    assert_int_equal(ms_bench_scan(s, strlen(s), &ev), 0);
    assert_int_equal(ev.kind, MS_BENCH_EV_CHUNK);
    assert_int_equal(ev.seq, 5);
    const char *va = "{\"type\":\"message_complete\",\"message_id\":\"m\",\"content\":\"abc\","
                     "\"citations\":[]}";
    assert_int_equal(ms_bench_scan(va, strlen(va), &ev), 0);
    assert_int_equal(ev.kind, MS_BENCH_EV_COMPLETE);
    assert_int_equal(ev.seq, -1);
    const char *other = "{\"type\":\"tool_result\"}";
    assert_int_equal(ms_bench_scan(other, strlen(other), &ev), 0);
    assert_int_equal(ev.kind, MS_BENCH_EV_OTHER);
}

/* A prefix is enough when "type" is in it; malformed input is refused
 * without reading past its end. */
static void test_scan_prefix_and_garbage(void **state) {
    (void)state;
    ms_bench_event_t ev;
    const char *full = "{\"type\":\"message_complete\",\"seq\":65,\"text\":\"a long answer\"}";
    for (size_t n = 0; n <= strlen(full); n++) {
        int rc = ms_bench_scan(full, n, &ev);
        if (n >= strlen("{\"type\":\"message_complete\"")) {
            assert_int_equal(rc, 0);
            assert_int_equal(ev.kind, MS_BENCH_EV_COMPLETE);
        } else {
            assert_int_equal(rc, MS_EFORMAT);
        }
    }
    const char *bad[] = {"",         "[]",          "\"type\"",   "{\"type\":1}", "{type:\"x\"}",
                         "{\"a\":}", "{\"a\":\"\\", "{\"a\":[1,2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ms_bench_scan(bad[i], strlen(bad[i]), &ev), MS_EFORMAT);
    /* An escaped or over-long type is "other", never a false match. */
    const char *esc = "{\"type\":\"message\\u005fchunk\"}";
    assert_int_equal(ms_bench_scan(esc, strlen(esc), &ev), 0);
    assert_int_equal(ev.kind, MS_BENCH_EV_OTHER);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets_bound_the_error),
        cmocka_unit_test(test_hist_percentiles),
        cmocka_unit_test(test_hist_tail),
        cmocka_unit_test(test_hist_merge_through_json),
        cmocka_unit_test(test_stats_merge),
        cmocka_unit_test(test_scan_native_events),
        cmocka_unit_test(test_scan_order_and_nesting),
        cmocka_unit_test(test_scan_prefix_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
