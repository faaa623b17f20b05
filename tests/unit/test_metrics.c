/* Unit tests of src/obs/metrics: the registry's addressing, histogram
 * buckets (bounds are inclusive, the last is +Inf, the exposition is
 * cumulative), the text exposition's escaping and series selection, and
 * updates from several threads (the API's handlers run on pool threads;
 * ThreadSanitizer runs this too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/buf.h"
#include "obs/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(ms_metrics_t *m, const char *const *routes, const char *const *providers) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_metrics_render(m, routes, providers, &b);
    char *s = strndup(b.data ? b.data : "", b.len);
    ms_buf_free(&b);
    return s;
}

static void test_counters_by_route_and_provider(void **state) {
    (void)state;
    ms_metrics_t *m = ms_metrics_new(2, 3);
    ms_metrics_add(m, MS_M_REQUESTS, 1, 2, 1);
    ms_metrics_add(m, MS_M_REQUESTS, 1, 2, 2);
    ms_metrics_add(m, MS_M_REQUESTS, 0, 2, 5);
    assert_int_equal(ms_metrics_value(m, MS_M_REQUESTS, 1, 2), 3);
    assert_int_equal(ms_metrics_value(m, MS_M_REQUESTS, 0, 2), 5);
    assert_int_equal(ms_metrics_value(m, MS_M_REQUESTS, 1, 1), 0);
    /* Out of range, or a histogram id: nothing happens, nothing breaks. */
    ms_metrics_add(m, MS_M_REQUESTS, 2, 0, 1);
    ms_metrics_add(m, MS_M_REQUESTS, 0, 3, 1);
    ms_metrics_add(m, MS_M_TTFT, 0, 0, 1);
    ms_metrics_add(NULL, MS_M_REQUESTS, 0, 0, 1);
    assert_int_equal(ms_metrics_value(m, MS_M_TTFT, 0, 0), 0);
    /* A provider-only family ignores the route index. */
    ms_metrics_add(m, MS_M_PROMPT_TOKENS, 99, 1, 40);
    assert_int_equal(ms_metrics_value(m, MS_M_PROMPT_TOKENS, 0, 1), 40);
    /* Gauges are set and moved both ways; counters are not set. */
    ms_metrics_set(m, MS_M_WEBSOCKETS_OPEN, 0, 0, 4);
    ms_metrics_add(m, MS_M_WEBSOCKETS_OPEN, 0, 0, -1);
    assert_int_equal(ms_metrics_value(m, MS_M_WEBSOCKETS_OPEN, 0, 0), 3);
    ms_metrics_set(m, MS_M_REQUESTS, 1, 2, 0);
    assert_int_equal(ms_metrics_value(m, MS_M_REQUESTS, 1, 2), 3);
    ms_metrics_free(m);
    ms_metrics_free(NULL);
}

static void test_histogram_buckets(void **state) {
    (void)state;
    ms_metrics_t *m = ms_metrics_new(1, 1);
    assert_int_equal(ms_metrics_bucket_us[0], 250); /* 0.25 ms, the floor */
    for (size_t b = 1; b < MS_METRICS_NBUCKETS; b++)
        assert_true(ms_metrics_bucket_us[b] > ms_metrics_bucket_us[b - 1]);
    ms_metrics_observe_us(m, MS_M_OVERHEAD, 0, 0, 100);       /* <= 0.25 ms */
    ms_metrics_observe_us(m, MS_M_OVERHEAD, 0, 0, 250);       /* on the bound: in it */
    ms_metrics_observe_us(m, MS_M_OVERHEAD, 0, 0, 251);       /* the next one */
    ms_metrics_observe_us(m, MS_M_OVERHEAD, 0, 0, -5);        /* clamps to 0 */
    ms_metrics_observe_us(m, MS_M_OVERHEAD, 0, 0, 999999999); /* past 120 s: +Inf */
    assert_int_equal(ms_metrics_bucket(m, MS_M_OVERHEAD, 0, 0, 0), 3);
    assert_int_equal(ms_metrics_bucket(m, MS_M_OVERHEAD, 0, 0, 1), 1);
    assert_int_equal(ms_metrics_bucket(m, MS_M_OVERHEAD, 0, 0, MS_METRICS_NBUCKETS - 1), 1);
    assert_int_equal(ms_metrics_value(m, MS_M_OVERHEAD, 0, 0), 5);
    const char *routes[] = {"r"}, *providers[] = {"p"};
    char *s = render(m, routes, providers);
    assert_non_null(strstr(s, "# TYPE medstream_overhead_seconds histogram\n"));
    assert_non_null(
        strstr(s, "medstream_overhead_seconds_bucket{route=\"r\",le=\"0.000250\"} 3\n"));
    assert_non_null(
        strstr(s, "medstream_overhead_seconds_bucket{route=\"r\",le=\"0.000500\"} 4\n"));
    assert_non_null(
        strstr(s, "medstream_overhead_seconds_bucket{route=\"r\",le=\"120.000000\"} 4\n"));
    assert_non_null(strstr(s, "medstream_overhead_seconds_bucket{route=\"r\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(s, "medstream_overhead_seconds_count{route=\"r\"} 5\n"));
    /* 100 + 250 + 251 + 0 + 999999999 us */
    assert_non_null(strstr(s, "medstream_overhead_seconds_sum{route=\"r\"} 1000.000600\n"));
    free(s);
    ms_metrics_free(m);
}

static void test_exposition(void **state) {
    (void)state;
    ms_metrics_t *m = ms_metrics_new(2, 2);
    const char *routes[] = {"clinical", "we\"ird\\\nname"}, *providers[] = {"ollama", "cloud"};
    ms_metrics_add(m, MS_M_REQUESTS, 1, 0, 7);
    ms_metrics_add(m, MS_M_PHI_REFUSED, 0, 0, 1);
    ms_metrics_set(m, MS_M_CIRCUIT_STATE, 0, 1, 2);
    char *s = render(m, routes, providers);
    /* Every family is declared once, HELP then TYPE. */
    assert_non_null(strstr(s, "# HELP medstream_requests_total "));
    assert_non_null(strstr(s, "# TYPE medstream_requests_total counter\n"));
    assert_non_null(strstr(s, "# TYPE medstream_circuit_state gauge\n"));
    assert_non_null(strstr(s, "# TYPE medstream_websockets_open gauge\n"));
    assert_non_null(strstr(s, "# TYPE medstream_time_to_first_token_seconds histogram\n"));
    assert_non_null(strstr(s, "# TYPE medstream_llm_request_duration_seconds histogram\n"));
    /* Label values escaped as the format says. */
    assert_non_null(strstr(
        s, "medstream_requests_total{route=\"we\\\"ird\\\\\\nname\",provider=\"ollama\"} 7\n"));
    /* Route x provider pairs that never counted are left out... */
    assert_null(strstr(s, "medstream_requests_total{route=\"clinical\""));
    /* ... the one-label families list every series, zeros too. */
    assert_non_null(strstr(s, "medstream_phi_refused_total{route=\"clinical\"} 1\n"));
    assert_non_null(strstr(s, "medstream_phi_routed_total{route=\"clinical\"} 0\n"));
    assert_non_null(strstr(s, "medstream_circuit_state{provider=\"cloud\"} 2\n"));
    assert_non_null(strstr(s, "medstream_circuit_state{provider=\"ollama\"} 0\n"));
    assert_non_null(strstr(s, "medstream_websockets_open 0\n"));
    /* No sample line without a family declared before it. */
    char *save = NULL, *copy = strdup(s);
    char declared[64][80];
    int nd = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "# TYPE ", 7)) {
            assert_true(nd < 64);
            sscanf(line + 7, "%79s", declared[nd++]);
            continue;
        }
        if (line[0] == '#')
            continue;
        int found = 0;
        for (int i = 0; i < nd && !found; i++)
            found = !strncmp(line, declared[i], strlen(declared[i]));
        assert_true(found);
    }
    free(copy);
    free(s);
    ms_metrics_free(m);
}

/* Several threads count at once: no update is lost. */
static void *hammer(void *arg) {
    ms_metrics_t *m = arg;
    for (int i = 0; i < 20000; i++) {
        ms_metrics_add(m, MS_M_FAILURES, 0, 1, 1);
        ms_metrics_observe_us(m, MS_M_TTFT, 0, 1, i % 3000);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    ms_metrics_t *m = ms_metrics_new(1, 2);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(ms_metrics_value(m, MS_M_FAILURES, 0, 1), 80000);
    assert_int_equal(ms_metrics_value(m, MS_M_TTFT, 0, 1), 80000);
    uint64_t total = 0;
    for (size_t b = 0; b < MS_METRICS_NBUCKETS; b++)
        total += ms_metrics_bucket(m, MS_M_TTFT, 0, 1, b);
    assert_int_equal(total, 80000);
    ms_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_by_route_and_provider),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
