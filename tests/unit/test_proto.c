/* Native protocol v1 codec: what clients rely on (docs/protocol.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ms.h"
#include "proto/event.h"

#include <string.h>

static const ms_decode_limits_t lim = {.max_message_chars = 10};

static json_t *encode(const ms_event_t *ev) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_dialect_native.encode(ev, &b);
    json_error_t je;
    json_t *o = json_loadb(b.data, b.len, 0, &je);
    ms_buf_free(&b);
    assert_non_null(o); /* always valid JSON */
    return o;
}

static void test_chunk_escapes_and_fields(void **state) {
    (void)state;
    const char delta[] = "a \"quote\" \\ back\nline\x01 \xc3\xa9";
    ms_event_t ev = {.kind = MS_EV_MESSAGE_CHUNK,
                     .message_id = "m1",
                     .seq = 7,
                     .text = delta,
                     .text_len = strlen(delta)};
    json_t *o = encode(&ev);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "message_chunk");
    assert_string_equal(json_string_value(json_object_get(o, "message_id")), "m1");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 7);
    assert_string_equal(json_string_value(json_object_get(o, "delta")), delta);
    json_decref(o);
}

static void test_complete_carries_data(void **state) {
    (void)state;
    json_t *data = json_pack("{s:[{s:i}], s:s, s:s}", "citations", "index", 1, "disclaimer",
                             "D", "finish_reason", "stop");
    ms_event_t ev = {.kind = MS_EV_MESSAGE_COMPLETE,
                     .message_id = "m",
                     .conversation_id = "c",
                     .seq = 3,
                     .text = "abc",
                     .text_len = 3,
                     .data = data};
    json_t *o = encode(&ev);
    assert_string_equal(json_string_value(json_object_get(o, "text")), "abc");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "conversation_id")), "c");
    assert_int_equal(json_array_size(json_object_get(o, "citations")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "finish_reason")), "stop");
    json_decref(o);
    json_decref(data);
}

static void test_start_nulls(void **state) {
    (void)state;
    ms_event_t ev = {.kind = MS_EV_MESSAGE_START, .message_id = "m", .conversation_id = "c"};
    json_t *o = encode(&ev);
    assert_true(json_is_null(json_object_get(o, "client_message_id")));
    json_decref(o);
}

static int decode(const char *s, ms_client_msg_t *m, char *err) {
    return ms_dialect_native.decode(s, strlen(s), &lim, m, err, 160);
}

static void test_decode_message(void **state) {
    (void)state;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"h\xc3\xa9llo\",\"client_message_id\":\"x\"}",
                            &m, err),
                     0);
    assert_int_equal(m.kind, MS_CMSG_MESSAGE);
    assert_string_equal(m.text, "h\xc3\xa9llo");
    assert_string_equal(m.client_message_id, "x");
    assert_null(m.conversation_id);
    ms_client_msg_clear(&m);
    /* 10 characters in 20 bytes is within a 10-character limit... */
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                            "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"client_message_id\":\"x\"}",
                            &m, err),
                     0);
    ms_client_msg_clear(&m);
    /* ...and 11 is not. */
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"abcdefghijk\",\"client_message_id\":\"x\"}",
                            &m, err),
                     MS_EINVAL);
}

static void test_decode_errors(void **state) {
    (void)state;
    ms_client_msg_t m;
    char err[160];
    /* Not JSON, not an object, no type, non-string type: close 4000. */
    assert_int_equal(decode("not json", &m, err), MS_EFORMAT);
    assert_int_equal(decode("[1,2]", &m, err), MS_EFORMAT);
    assert_int_equal(decode("{\"text\":\"x\"}", &m, err), MS_EFORMAT);
    assert_int_equal(decode("{\"type\":5}", &m, err), MS_EFORMAT);
    /* Parsed but invalid: an error event, the connection stays. */
    assert_int_equal(decode("{\"type\":\"message\",\"client_message_id\":\"x\"}", &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "text"));
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"hi\"}", &m, err), MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"message\",\"text\":5,\"client_message_id\":\"x\"}", &m, err),
                     MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"\",\"client_message_id\":\"x\"}", &m,
                            err),
                     MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"a\",\"client_message_id\":\"x\","
                            "\"conversation_id\":\"../etc\"}",
                            &m, err),
                     MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"fly\"}", &m, err), MS_EINVAL);
    assert_non_null(strstr(err, "fly"));
    assert_int_equal(decode("{\"type\":\"resume\",\"message_id\":\"nope\",\"last_seq\":1}", &m, err),
                     MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"resume\",\"message_id\":"
                            "\"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab\",\"last_seq\":-1}",
                            &m, err),
                     MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"cancel\"}", &m, err), MS_EINVAL);
}

static void test_decode_resume_cancel_ping(void **state) {
    (void)state;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(decode("{\"type\":\"resume\",\"message_id\":"
                            "\"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab\",\"last_seq\":12}",
                            &m, err),
                     0);
    assert_int_equal(m.kind, MS_CMSG_RESUME);
    assert_int_equal(m.last_seq, 12);
    assert_string_equal(m.message_id, "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab");
    ms_client_msg_clear(&m);
    assert_int_equal(decode("{\"type\":\"cancel\",\"message_id\":"
                            "\"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab\"}",
                            &m, err),
                     0);
    assert_int_equal(m.kind, MS_CMSG_CANCEL);
    ms_client_msg_clear(&m);
    assert_int_equal(decode("{\"type\":\"ping\"}", &m, err), 0);
    assert_int_equal(m.kind, MS_CMSG_PING);
}

static void test_utf8_count(void **state) {
    (void)state;
    assert_int_equal(ms_utf8_count("abc", 3), 3);
    assert_int_equal(ms_utf8_count("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9), 3);
    assert_int_equal(ms_utf8_count("\xc3", 1), -1);      /* truncated */
    assert_int_equal(ms_utf8_count("\xc3\x41", 2), -1);  /* bad continuation */
    assert_int_equal(ms_utf8_count("\xff", 1), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_escapes_and_fields),
        cmocka_unit_test(test_complete_carries_data),
        cmocka_unit_test(test_start_nulls),
        cmocka_unit_test(test_decode_message),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_resume_cancel_ping),
        cmocka_unit_test(test_utf8_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
