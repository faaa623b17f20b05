/* Unit tests of the network layer's pure parts (no socket, no lws): the
 * request-body framing decision (RFC 9112 section 6.3), the chunked
 * decoder (section 7.1) and the deadline list behind the body timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/ms.h"
#include "net/framing.h"

#include <stdio.h>
#include <string.h>

/* ---- framing ------------------------------------------------------------- */

static int framing(const char *cl1, const char *cl2, const char *te1, const char *te2, int http10,
                   ms_framing_t *f) {
    const char *cl[2] = {NULL, NULL}, *te[2] = {NULL, NULL};
    size_t ncl = 0, nte = 0;
    if (cl1)
        cl[ncl++] = cl1;
    if (cl2)
        cl[ncl++] = cl2;
    if (te1)
        te[nte++] = te1;
    if (te2)
        te[nte++] = te2;
    return ms_http_framing(cl, ncl, te, nte, http10, f);
}

static void test_framing_accepts(void **state) {
    ms_framing_t f;
    assert_int_equal(framing(NULL, NULL, NULL, NULL, 0, &f), 0);
    assert_int_equal(f.kind, MS_BODY_NONE);
    assert_int_equal(framing("42", NULL, NULL, NULL, 0, &f), 0);
    assert_int_equal(f.kind, MS_BODY_LENGTH);
    assert_int_equal(f.length, 42);
    assert_int_equal(framing("0", NULL, NULL, NULL, 1, &f), 0);
    assert_int_equal(f.length, 0);
    /* Identical duplicates, as two lines or as a list (section 6.3 rule 5). */
    assert_int_equal(framing("42", "42", NULL, NULL, 0, &f), 0);
    assert_int_equal(f.length, 42);
    assert_int_equal(framing(" 42 , 42\t", NULL, NULL, NULL, 0, &f), 0);
    assert_int_equal(f.length, 42);
    assert_int_equal(framing("9223372036854775807", NULL, NULL, NULL, 0, &f), 0);
    assert_int_equal(f.length, INT64_MAX);
    /* chunked, case-insensitive, with empty list elements ignored. */
    assert_int_equal(framing(NULL, NULL, "chunked", NULL, 0, &f), 0);
    assert_int_equal(f.kind, MS_BODY_CHUNKED);
    assert_int_equal(framing(NULL, NULL, " ChUnKeD ", NULL, 0, &f), 0);
    assert_int_equal(framing(NULL, NULL, ", chunked,", NULL, 0, &f), 0);
    assert_int_equal(f.kind, MS_BODY_CHUNKED);
}

static void expect_refusal(const char *cl1, const char *cl2, const char *te1, const char *te2,
                           int http10, int status, const char *code) {
    ms_framing_t f;
    int rc = framing(cl1, cl2, te1, te2, http10, &f);
    if (rc != status || f.status != status || strcmp(f.code, code) != 0 || !f.message ||
        !*f.message)
        fail_msg("CL=%s/%s TE=%s/%s http10=%d: got %d (%s), wanted %d (%s)", cl1 ? cl1 : "-",
                 cl2 ? cl2 : "-", te1 ? te1 : "-", te2 ? te2 : "-", http10, rc,
                 f.code ? f.code : "-", status, code);
}

static void test_framing_refuses(void **state) {
    /* Defect 15: these were treated as 0 (lws' atoll) and ran twice. */
    const char *bad[] = {"abc",
                         "0x15",
                         "-1",
                         "+5",
                         "1.5",
                         "",
                         " ",
                         "5 5",
                         "5;",
                         "1e3",
                         "٣",
                         "5,",
                         ",5",
                         "18446744073709551616",
                         "9223372036854775808",
                         "99999999999999999999999"};
    for (size_t i = 0; i < MS_COUNTOF(bad); i++)
        expect_refusal(bad[i], NULL, NULL, NULL, 0, 400, "invalid_request");
    /* Differing duplicates. */
    expect_refusal("5", "6", NULL, NULL, 0, 400, "invalid_request");
    expect_refusal("5, 6", NULL, NULL, NULL, 0, 400, "invalid_request");
    /* Both framings (a smuggling vector), in either order of lines. */
    expect_refusal("5", NULL, "chunked", NULL, 0, 400, "invalid_request");
    expect_refusal("0", NULL, "chunked", NULL, 0, 400, "invalid_request");
    /* chunked not last, twice, or absent; unknown codings; HTTP/1.0. */
    expect_refusal(NULL, NULL, "chunked, gzip", NULL, 0, 400, "invalid_request");
    expect_refusal(NULL, NULL, "gzip", NULL, 0, 400, "invalid_request");
    expect_refusal(NULL, NULL, "", NULL, 0, 400, "invalid_request");
    expect_refusal(NULL, NULL, "chunked", "chunked", 0, 400, "invalid_request");
    expect_refusal(NULL, NULL, "chunked, chunked", NULL, 0, 400, "invalid_request");
    expect_refusal(NULL, NULL, "gzip, chunked", NULL, 0, 501, "not_implemented");
    expect_refusal(NULL, NULL, "gzip", "chunked", 0, 501, "not_implemented");
    expect_refusal(NULL, NULL, "chunked;q=1", NULL, 0, 400, "invalid_request");
    expect_refusal(NULL, NULL, "chunkedx", NULL, 0, 400, "invalid_request");
    expect_refusal(NULL, NULL, "chunked", NULL, 1, 400, "invalid_request");
}

/* ---- chunked ------------------------------------------------------------- */

static int sink_buf(void *ctx, const char *data, size_t len) {
    ms_buf_append(ctx, data, len);
    return 0;
}

/* Decodes in whole, then one byte at a time: both must give the same. */
static int decode(const char *in, size_t len, ms_buf_t *out, size_t *used) {
    ms_chunked_t c;
    memset(&c, 0, sizeof c);
    int rc = ms_chunked_feed(&c, in, len, used, sink_buf, out);
    ms_buf_t b2;
    ms_buf_init(&b2);
    ms_chunked_t c2;
    memset(&c2, 0, sizeof c2);
    int rc2 = 0;
    size_t i = 0;
    for (; i < len && rc2 == 0; i++)
        rc2 = ms_chunked_feed(&c2, in + i, 1, NULL, sink_buf, &b2);
    assert_int_equal(rc, rc2);
    if (rc == 1) {
        assert_int_equal(i, *used);
        assert_int_equal(out->len, b2.len);
        assert_memory_equal(ms_buf_cstr(out), ms_buf_cstr(&b2), out->len);
        assert_int_equal(c.total, out->len);
    }
    ms_buf_free(&b2);
    return rc;
}

static void test_chunked_decodes(void **state) {
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"0\r\n\r\n", ""},
        {"5\r\nhello\r\n0\r\n\r\n", "hello"},
        {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
        {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
        {"00005\r\nhello\r\n000\r\n\r\n", "hello"},
        /* Extensions and trailer fields are checked and dropped. */
        {"5;name=value;flag\r\nhello\r\n0;last\r\n\r\n", "hello"},
        {"5 ;x=\"quoted;\"\r\nhello\r\n0\r\n\r\n", "hello"},
        {"5\r\nhello\r\n0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n", "hello"},
        /* Data may contain CRLF and anything else. */
        {"4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
    };
    for (size_t i = 0; i < MS_COUNTOF(ok); i++) {
        ms_buf_t b;
        ms_buf_init(&b);
        size_t used = 0;
        int rc = decode(ok[i].in, strlen(ok[i].in), &b, &used);
        if (rc != 1)
            fail_msg("case %zu: rc %d", i, rc);
        assert_int_equal(used, strlen(ok[i].in));
        assert_string_equal(ms_buf_cstr(&b), ok[i].out);
        ms_buf_free(&b);
    }
    /* What follows the last chunk is the next request: not consumed. */
    const char *two = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    ms_buf_t b;
    ms_buf_init(&b);
    size_t used = 0;
    assert_int_equal(decode(two, strlen(two), &b, &used), 1);
    assert_int_equal(used, strlen("3\r\nabc\r\n0\r\n\r\n"));
    assert_string_equal(ms_buf_cstr(&b), "abc");
    ms_buf_free(&b);
    /* Incomplete input asks for more. */
    ms_buf_init(&b);
    assert_int_equal(decode("5\r\nhel", 6, &b, &used), 0);
    ms_buf_free(&b);
}

static void test_chunked_refuses(void **state) {
    static const char *bad[] = {
        "\r\n",                               /* no size */
        "g\r\n",                              /* not hex */
        "-5\r\nhello\r\n0\r\n\r\n",           /* sign */
        "0x5\r\nhello\r\n0\r\n\r\n",          /* 0x prefix */
        "5\nhello\r\n0\r\n\r\n",              /* bare LF after the size */
        "5\r\nhelloX\r\n0\r\n\r\n",           /* data longer than its size */
        "5\r\nhello\n0\r\n\r\n",              /* bare LF after data */
        "5\r\nhello\r\n0\r\n\n",              /* bare LF at the end */
        "5;ext\x01\r\nhello\r\n0\r\n\r\n",    /* control character in an extension */
        "5\r\nhello\r\n0\r\n folded\r\n\r\n", /* obs-fold in the trailer */
        "1000000000000000\r\n",               /* 2^60: over the size bound */
        "ffffffffffffffffff\r\n",             /* would overflow 64 bits */
    };
    for (size_t i = 0; i < MS_COUNTOF(bad); i++) {
        ms_buf_t b;
        ms_buf_init(&b);
        size_t used;
        int rc = decode(bad[i], strlen(bad[i]), &b, &used);
        if (rc != MS_EINVAL)
            fail_msg("case %zu (%s): rc %d, wanted MS_EINVAL", i, bad[i], rc);
        ms_buf_free(&b);
    }
    /* A size line or trailer section that never ends is bounded. */
    ms_buf_t big;
    ms_buf_init(&big);
    ms_buf_puts(&big, "5;");
    for (int i = 0; i < MS_CHUNKED_MAX_LINE; i++)
        ms_buf_putc(&big, 'a');
    ms_chunked_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(ms_chunked_feed(&c, big.data, big.len, NULL, NULL, NULL), MS_EINVAL);
    ms_buf_reset(&big);
    ms_buf_puts(&big, "0\r\n");
    for (int i = 0; i < MS_CHUNKED_MAX_TRAILER; i++)
        ms_buf_puts(&big, "a:b\r\n");
    memset(&c, 0, sizeof c);
    assert_int_equal(ms_chunked_feed(&c, big.data, big.len, NULL, NULL, NULL), MS_EINVAL);
    /* A run of leading zeros is a line like any other. */
    ms_buf_reset(&big);
    for (int i = 0; i < MS_CHUNKED_MAX_LINE + 10; i++)
        ms_buf_putc(&big, '0');
    memset(&c, 0, sizeof c);
    assert_int_equal(ms_chunked_feed(&c, big.data, big.len, NULL, NULL, NULL), MS_EINVAL);
    ms_buf_free(&big);
}

static int sink_limit(void *ctx, const char *data, size_t len) {
    (void)data;
    size_t *left = ctx;
    if (len > *left)
        return MS_ETOOBIG;
    *left -= len;
    return 0;
}

static void test_chunked_sink_stops(void **state) {
    const char *in = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    ms_chunked_t c;
    memset(&c, 0, sizeof c);
    size_t left = 7, used = 0;
    assert_int_equal(ms_chunked_feed(&c, in, strlen(in), &used, sink_limit, &left), MS_ETOOBIG);
    assert_int_equal(c.total, 5);
    /* Without a sink the data is only counted (a body being discarded). */
    memset(&c, 0, sizeof c);
    assert_int_equal(ms_chunked_feed(&c, in, strlen(in), &used, NULL, NULL), 1);
    assert_int_equal(c.total, 10);
}

/* ---- deadlines ----------------------------------------------------------- */

static void test_deadlines(void **state) {
    ms_deadline_list_t l;
    memset(&l, 0, sizeof l);
    ms_deadline_t d[5];
    memset(d, 0, sizeof d);
    assert_int_equal(ms_deadline_next(&l), -1);
    assert_null(ms_deadline_pop_due(&l, 1000000));
    ms_deadline_push(&l, &d[0], 100);
    ms_deadline_push(&l, &d[1], 200);
    ms_deadline_push(&l, &d[2], 300);
    ms_deadline_push(&l, &d[3], 150); /* out of order: placed between */
    assert_int_equal(l.count, 4);
    assert_int_equal(ms_deadline_next(&l), 100);
    ms_deadline_remove(&l, &d[0]);
    ms_deadline_remove(&l, &d[0]); /* twice: a no-op */
    ms_deadline_remove(&l, &d[4]); /* never linked: a no-op */
    assert_int_equal(l.count, 3);
    assert_null(ms_deadline_pop_due(&l, 149));
    assert_ptr_equal(ms_deadline_pop_due(&l, 150), &d[3]);
    assert_null(ms_deadline_pop_due(&l, 150));
    /* Pushing a linked one moves it. */
    ms_deadline_push(&l, &d[2], 50);
    assert_int_equal(l.count, 2);
    assert_ptr_equal(ms_deadline_pop_due(&l, 1000), &d[2]);
    assert_ptr_equal(ms_deadline_pop_due(&l, 1000), &d[1]);
    assert_null(ms_deadline_pop_due(&l, 1000));
    assert_int_equal(l.count, 0);
    assert_null(l.head);
    assert_null(l.tail);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing_accepts),    cmocka_unit_test(test_framing_refuses),
        cmocka_unit_test(test_chunked_decodes),    cmocka_unit_test(test_chunked_refuses),
        cmocka_unit_test(test_chunked_sink_stops), cmocka_unit_test(test_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
