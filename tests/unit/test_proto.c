/* The dialect codecs: native protocol v1 and the seed dialects, what their
 * clients rely on (docs/protocol.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/ms.h"
#include "proto/event.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const ms_decode_limits_t lim = {.max_message_chars = 10};

static json_t *encode(const ms_event_t *ev) {
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    ms_dialect_native.encode(NULL, ev, &f);
    assert_int_equal(f.n, 1); /* one frame per event */
    json_error_t je;
    json_t *o = json_loadb(f.buf.data, f.buf.len, 0, &je);
    ms_frames_free(&f);
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
    json_t *data = json_pack("{s:[{s:i}], s:s, s:s}", "citations", "index", 1, "disclaimer", "D",
                             "finish_reason", "stop");
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
    return ms_dialect_native.decode(NULL, s, strlen(s), &lim, m, err, 160);
}

static void test_decode_message(void **state) {
    (void)state;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(
        decode("{\"type\":\"message\",\"text\":\"h\xc3\xa9llo\",\"client_message_id\":\"x\"}", &m,
               err),
        0);
    assert_int_equal(m.kind, MS_CMSG_MESSAGE);
    assert_string_equal(m.text, "h\xc3\xa9llo");
    assert_string_equal(m.client_message_id, "x");
    assert_null(m.conversation_id);
    ms_client_msg_clear(&m);
    /* 10 characters in 20 bytes is within a 10-character limit... */
    assert_int_equal(
        decode("{\"type\":\"message\",\"text\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
               "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"client_message_id\":\"x\"}",
               &m, err),
        0);
    ms_client_msg_clear(&m);
    /* ...and 11 is not. */
    assert_int_equal(
        decode("{\"type\":\"message\",\"text\":\"abcdefghijk\",\"client_message_id\":\"x\"}", &m,
               err),
        MS_EINVAL);
}

/* message.clinical_context_id: a context id (UUID) to bind, lower-cased;
 * anything else is an invalid message naming the field. */
static void test_decode_clinical_context_id(void **state) {
    (void)state;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"hi\",\"client_message_id\":\"x\","
                            "\"clinical_context_id\":\"01A234AE-91E7-7000-94B9-BE91C6842D0D\"}",
                            &m, err),
                     0);
    assert_string_equal(m.clinical_context_id, "01a234ae-91e7-7000-94b9-be91c6842d0d");
    ms_client_msg_clear(&m);
    assert_int_equal(
        decode("{\"type\":\"message\",\"text\":\"hi\",\"client_message_id\":\"x\"}", &m, err), 0);
    assert_null(m.clinical_context_id);
    ms_client_msg_clear(&m);
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"hi\",\"client_message_id\":\"x\","
                            "\"clinical_context_id\":\"patient-7\"}",
                            &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "clinical_context_id"));
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"hi\",\"client_message_id\":\"x\","
                            "\"clinical_context_id\":7}",
                            &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "clinical_context_id"));
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
    assert_int_equal(
        decode("{\"type\":\"message\",\"text\":5,\"client_message_id\":\"x\"}", &m, err),
        MS_EINVAL);
    assert_int_equal(
        decode("{\"type\":\"message\",\"text\":\"\",\"client_message_id\":\"x\"}", &m, err),
        MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"a\",\"client_message_id\":\"x\","
                            "\"conversation_id\":\"../etc\"}",
                            &m, err),
                     MS_EINVAL);
    assert_int_equal(decode("{\"type\":\"fly\"}", &m, err), MS_EINVAL);
    assert_non_null(strstr(err, "fly"));
    assert_int_equal(
        decode("{\"type\":\"resume\",\"message_id\":\"nope\",\"last_seq\":1}", &m, err), MS_EINVAL);
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
    assert_int_equal(ms_utf8_count("\xc3", 1), -1);     /* truncated */
    assert_int_equal(ms_utf8_count("\xc3\x41", 2), -1); /* bad continuation */
    assert_int_equal(ms_utf8_count("\xff", 1), -1);
}

/* ---- shared by the seed dialects ------------------------------------------ */

static const char *const UID = "11111111-2222-4333-8444-555555555555";
static const char *const MID = "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab";
static const char *const CID = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3";

/* A fake handshake: path parameter and query arguments. */
typedef struct {
    const char *session_id;
    const char *telemetry;
} fake_query_t;

static const char *fake_query_arg(const ms_dialect_conn_t *c, const char *name, char *buf,
                                  size_t len) {
    const fake_query_t *q = c->impl;
    const char *v = !q                            ? NULL
                    : !strcmp(name, "session_id") ? q->session_id
                    : !strcmp(name, "telemetry")  ? q->telemetry
                                                  : NULL;
    if (!v)
        return NULL;
    snprintf(buf, len, "%s", v);
    return buf;
}

/* dopen with a telemetry= query argument. */
static int dopen_q(const ms_dialect_ops_t *d, const char *session, const char *telemetry,
                   ms_dialect_open_t *o) {
    fake_query_t q = {session, telemetry};
    ms_dialect_conn_t c = {.user_id = UID, .query_arg = fake_query_arg, .impl = &q};
    char err[120] = "";
    memset(o, 0, sizeof *o);
    return d->open(&c, o, err, sizeof err);
}

static int dopen(const ms_dialect_ops_t *d, const char *param, const char *session,
                 ms_dialect_open_t *o) {
    fake_query_t q = {session, NULL};
    ms_dialect_conn_t c = {
        .user_id = UID, .path_param = param, .query_arg = fake_query_arg, .impl = &q};
    char err[120] = "";
    memset(o, 0, sizeof *o);
    int rc = d->open(&c, o, err, sizeof err);
    if (rc)
        assert_true(err[0] != '\0'); /* a refusal always says why (close reason) */
    return rc;
}

/* Encodes ev; returns the frames parsed (a JSON array, one object each). */
static json_t *enc(const ms_dialect_ops_t *d, void *st, const ms_event_t *ev) {
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    d->encode(st, ev, &f);
    json_t *arr = json_array();
    for (size_t i = 0; i < f.n; i++) {
        size_t len;
        const char *p = ms_frames_get(&f, i, &len);
        json_error_t je;
        json_t *o = json_loadb(p, len, 0, &je);
        assert_non_null(o);
        assert_true(json_is_object(o));
        json_array_append_new(arr, o);
    }
    ms_frames_free(&f);
    return arr;
}

static json_t *enc1(const ms_dialect_ops_t *d, void *st, const ms_event_t *ev) {
    json_t *arr = enc(d, st, ev);
    assert_int_equal(json_array_size(arr), 1);
    json_t *o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return o;
}

static void assert_no_frames(const ms_dialect_ops_t *d, void *st, const ms_event_t *ev) {
    json_t *arr = enc(d, st, ev);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
}

static const char *sget(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static int ddec(const ms_dialect_ops_t *d, void *st, const char *s, ms_client_msg_t *m, char *err) {
    return d->decode(st, s, strlen(s), &lim, m, err, 160);
}

/* Encoding a chunk into a warm buffer never grows it: no allocation per chunk. */
static void assert_chunk_does_not_allocate(const ms_dialect_ops_t *d, void *st) {
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    ms_buf_reserve(&f.buf, 4096);
    ms_event_t ev = {
        .kind = MS_EV_MESSAGE_CHUNK, .message_id = MID, .seq = 3, .text = "word ", .text_len = 5};
    d->encode(st, &ev, &f);
    const char *data = f.buf.data;
    size_t cap = f.buf.cap;
    for (int i = 0; i < 100; i++) {
        ms_frames_reset(&f);
        ev.seq = 1000000 + i;
        d->encode(st, &ev, &f);
        assert_int_equal(f.n, 1);
    }
    assert_ptr_equal(f.buf.data, data);
    assert_int_equal(f.buf.cap, cap);
    ms_frames_free(&f);
}

static void test_frames_and_session_ids(void **state) {
    (void)state;
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    ms_buf_puts(&f.buf, "{\"a\":1}");
    ms_frames_end(&f);
    ms_frames_end(&f); /* an empty frame is still a frame */
    ms_buf_puts(&f.buf, "[2]");
    ms_frames_end(&f);
    size_t len;
    assert_int_equal(f.n, 3);
    assert_memory_equal(ms_frames_get(&f, 0, &len), "{\"a\":1}", 7);
    assert_int_equal(len, 7);
    ms_frames_get(&f, 1, &len);
    assert_int_equal(len, 0);
    assert_memory_equal(ms_frames_get(&f, 2, &len), "[2]", 3);
    ms_frames_free(&f);

    char a[MS_ID_LEN], b[MS_ID_LEN], c[MS_ID_LEN], d[MS_ID_LEN];
    /* A session name: a stable UUIDv8, different per user, keyed: the same
     * name under another server key maps elsewhere (so nobody without the
     * key can compute, and take first, another user's session). */
    static const unsigned char key1[32] = {1}, key2[32] = {2};
    ms_dialect_set_session_key(key1, sizeof key1);
    ms_dialect_session_conversation(UID, "ward-7", a);
    ms_dialect_session_conversation(UID, "ward-7", b);
    ms_dialect_session_conversation(MID, "ward-7", c);
    assert_true(ms_id_valid(a));
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(a[14], '8');
    assert_true(strchr("89ab", a[19]) != NULL);
    ms_dialect_set_session_key(key2, sizeof key2);
    ms_dialect_session_conversation(UID, "ward-7", d);
    assert_string_not_equal(a, d);
    ms_dialect_set_session_key(key1, sizeof key1);
    /* A UUID session is hashed too: it is not its own conversation unless
     * the pipeline finds it is one of the user's (conversation_alias). */
    ms_dialect_session_conversation(UID, "6F1C2D3E-4B5A-4C6D-8E7F-0123456789AB", a);
    assert_string_not_equal(a, MID);
}

/* Row ids (RFC 9562 section 5.7): version 7, the variant, the creation
 * millisecond up front, and strictly increasing within the process even
 * when many are made in one millisecond, so text order is creation order. */
static void test_id_v7_ordered(void **state) {
    (void)state;
    char prev[MS_ID_LEN] = "", id[MS_ID_LEN], v4[MS_ID_LEN];
    int64_t before = ms_now_ms();
    for (int i = 0; i < 5000; i++) {
        ms_id_new_v7(id);
        assert_true(ms_id_valid(id));
        assert_int_equal(id[14], '7');
        assert_true(strchr("89ab", id[19]) != NULL);
        assert_true(strcmp(prev, id) < 0);
        memcpy(prev, id, MS_ID_LEN);
    }
    /* The first 48 bits are the Unix time in ms: 12 hex digits. */
    char hex[13];
    memcpy(hex, id, 8);
    memcpy(hex + 8, id + 9, 4);
    hex[12] = 0;
    int64_t ms = (int64_t)strtoll(hex, NULL, 16);
    assert_true(ms >= before && ms <= ms_now_ms() + 1000);
    ms_id_new(v4);
    assert_int_equal(v4[14], '4');
}

/* llm_call, llm_result and routing go out with their data and the message
 * id; a connection that said ?telemetry=0 gets none of them, and still
 * gets everything else. */
static void test_native_telemetry_and_opt_out(void **state) {
    (void)state;
    json_t *data = json_pack("{s:s, s:s, s:b, s:i}", "provider", "ollama-local", "model",
                             "llama3.2", "local", 1, "attempt", 1);
    ms_event_t ev = {.kind = MS_EV_LLM_CALL, .message_id = MID, .data = data};
    ms_dialect_open_t on, off;
    assert_int_equal(dopen_q(&ms_dialect_native, NULL, NULL, &on), 0);
    assert_int_equal(dopen_q(&ms_dialect_native, NULL, "0", &off), 0);
    static const ms_event_kind_t kinds[] = {MS_EV_LLM_CALL, MS_EV_LLM_RESULT, MS_EV_ROUTING};
    static const char *const names[] = {"llm_call", "llm_result", "routing"};
    for (size_t i = 0; i < 3; i++) {
        ev.kind = kinds[i];
        json_t *o = enc1(&ms_dialect_native, on.state, &ev);
        assert_string_equal(sget(o, "type"), names[i]);
        assert_string_equal(sget(o, "message_id"), MID);
        assert_string_equal(sget(o, "model"), "llama3.2");
        assert_true(json_is_true(json_object_get(o, "local")));
        json_decref(o);
        assert_no_frames(&ms_dialect_native, off.state, &ev);
        /* No state (a caller without a connection): telemetry on. */
        json_decref(enc1(&ms_dialect_native, NULL, &ev));
    }
    ms_event_t ch = {
        .kind = MS_EV_MESSAGE_CHUNK, .message_id = MID, .seq = 1, .text = "Hi", .text_len = 2};
    json_decref(enc1(&ms_dialect_native, off.state, &ch));
    json_decref(data);
    assert_chunk_does_not_allocate(&ms_dialect_native, on.state);
    ms_dialect_native.close(on.state);
    ms_dialect_native.close(off.state);
}

/* The native message's optional model (a route alias). */
static void test_native_decode_model(void **state) {
    (void)state;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"hi\",\"client_message_id\":\"c\","
                            "\"model\":\"clinical\"}",
                            &m, err),
                     0);
    assert_string_equal(m.model, "clinical");
    ms_client_msg_clear(&m);
    assert_int_equal(
        decode("{\"type\":\"message\",\"text\":\"hi\",\"client_message_id\":\"c\"}", &m, err), 0);
    assert_null(m.model);
    ms_client_msg_clear(&m);
    assert_int_equal(decode("{\"type\":\"message\",\"text\":\"hi\",\"client_message_id\":\"c\","
                            "\"model\":7}",
                            &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "model"));
}

/* ---- VoiceAssist realtime (seed 000 + 002) ------------------------------------ */

static void test_voiceassist_encode(void **state) {
    (void)state;
    ms_dialect_open_t o;
    assert_int_equal(dopen(&ms_dialect_voiceassist, NULL, NULL, &o), 0);
    json_t *data = json_pack("{s:s, s:s}", "client_id", "c-1", "user_id", UID);
    ms_event_t ev = {.kind = MS_EV_CONNECTED, .data = data};
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    ms_dialect_voiceassist.encode(o.state, &ev, &f);
    assert_string_equal(f.buf.data, "{\"type\":\"connected\",\"client_id\":\"c-1\","
                                    "\"protocol_version\":\"1.0\",\"capabilities\":"
                                    "[\"text_streaming\"]}");
    json_decref(data);
    /* The chunk, byte for byte (chunk_index is 0-based: seq - 1). */
    ms_frames_reset(&f);
    ms_event_t ch = {
        .kind = MS_EV_MESSAGE_CHUNK, .message_id = MID, .seq = 7, .text = "a\"b\n", .text_len = 4};
    ms_dialect_voiceassist.encode(o.state, &ch, &f);
    assert_string_equal(f.buf.data, "{\"type\":\"message_chunk\",\"message_id\":"
                                    "\"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab\",\"content\":"
                                    "\"a\\\"b\\n\",\"chunk_index\":6}");
    ms_frames_free(&f);
    assert_chunk_does_not_allocate(&ms_dialect_voiceassist, o.state);

    ms_event_t st = {.kind = MS_EV_MESSAGE_START, .message_id = MID, .conversation_id = CID};
    json_t *s = enc1(&ms_dialect_voiceassist, o.state, &st);
    assert_string_equal(sget(s, "message_id"), MID);
    assert_string_equal(sget(s, "session_id"), CID);
    json_decref(s);
    json_t *err =
        json_pack("{s:s, s:s, s:b}", "code", "invalid_message", "message", "bad", "retryable", 0);
    ms_event_t e = {.kind = MS_EV_ERROR, .data = err};
    json_t *eo = enc1(&ms_dialect_voiceassist, o.state, &e);
    json_t *inner = json_object_get(eo, "error");
    assert_string_equal(sget(inner, "code"), "INVALID_MESSAGE");
    assert_string_equal(sget(inner, "message"), "bad");
    assert_null(json_object_get(eo, "message_id"));
    json_decref(eo);
    json_decref(err);
    ms_event_t tc = {.kind = MS_EV_TOOL_CALL, .message_id = MID};
    assert_no_frames(&ms_dialect_voiceassist, o.state, &tc);
    tc.kind = MS_EV_LLM_RESULT;
    assert_no_frames(&ms_dialect_voiceassist, o.state, &tc);
    ms_event_t pong = {.kind = MS_EV_PONG};
    json_t *po = enc1(&ms_dialect_voiceassist, o.state, &pong);
    assert_int_equal(json_object_size(po), 1);
    json_decref(po);
    ms_dialect_voiceassist.close(o.state);
}

static void test_voiceassist_citations(void **state) {
    (void)state;
    json_t *data = json_pack(
        "{s:[{s:i, s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:s, s:[s,s], s:s, s:i}, "
        "{s:i, s:s, s:s, s:s, s:s, s:s, s:f, s:s}]}",
        "citations", "index", 1, "source_id", "p1", "source_type", "pubmed", "title", "T", "url",
        "https://x.test/1", "source_name", "PubMed", "relevance_score", 50.4, "quoted_text", "Q",
        "pmid", "123", "doi", "10.1/x", "authors", "A", "B", "journal", "J", "year", 2021, "index",
        2, "source_id", "s2", "source_type", "starter", "title", "U", "url", "https://x.test/2",
        "source_name", "S", "relevance_score", 250.0, "quoted_text", "R");
    /* The native citation's own seed-002 members pass through. */
    json_t *c1in = json_array_get(json_object_get(data, "citations"), 0);
    json_object_set_new(c1in, "volume", json_string("12"));
    json_object_set_new(c1in, "publication_date", json_string("2021-03-04"));
    json_object_set_new(c1in, "context", json_pack("{s:s}", "section", "Treatment"));
    ms_event_t ev = {.kind = MS_EV_MESSAGE_COMPLETE,
                     .message_id = MID,
                     .conversation_id = CID,
                     .text = "Answer [1] [2].",
                     .text_len = 15,
                     .data = data};
    json_t *o = enc1(&ms_dialect_voiceassist, NULL, &ev);
    assert_int_equal(json_object_size(o), 4); /* type, message_id, content, citations */
    assert_string_equal(sget(o, "content"), "Answer [1] [2].");
    json_t *c1 = json_array_get(json_object_get(o, "citations"), 0);
    json_t *c2 = json_array_get(json_object_get(o, "citations"), 1);
    assert_string_equal(sget(c1, "pmid"), "123");
    assert_string_equal(sget(c1, "doi"), "10.1/x");
    assert_string_equal(sget(c1, "publication_date"), "2021-03-04");
    assert_string_equal(sget(c1, "volume"), "12");
    assert_string_equal(sget(json_object_get(c1, "context"), "section"), "Treatment");
    assert_int_equal(json_array_size(json_object_get(c1, "authors")), 2);
    assert_int_equal(json_integer_value(json_object_get(c1, "relevance_score")), 50);
    assert_true(json_is_null(json_object_get(c1, "issue")));
    assert_string_equal(sget(json_object_get(c1, "context"), "source_name"), "PubMed");
    /* Unknown academic fields are null, authors an empty list, score clamped. */
    assert_true(json_is_null(json_object_get(c2, "pmid")));
    assert_true(json_is_null(json_object_get(c2, "publication_date")));
    assert_int_equal(json_array_size(json_object_get(c2, "authors")), 0);
    assert_int_equal(json_integer_value(json_object_get(c2, "relevance_score")), 100);
    json_decref(o);
    json_decref(data);
}

static void test_voiceassist_decode(void **state) {
    (void)state;
    ms_dialect_open_t o;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(dopen(&ms_dialect_voiceassist, NULL, NULL, &o), 0);
    /* No session and no conversation yet: a new conversation. */
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state,
                          "{\"type\":\"message\",\"content\":\"hi\"}", &m, err),
                     0);
    assert_int_equal(m.kind, MS_CMSG_MESSAGE);
    assert_string_equal(m.text, "hi");
    assert_null(m.conversation_id);
    assert_true(ms_id_valid(m.client_message_id)); /* generated: every message is a turn */
    ms_client_msg_clear(&m);
    /* Once message_start named it, the connection's conversation continues. */
    ms_event_t st = {.kind = MS_EV_MESSAGE_START, .message_id = MID, .conversation_id = CID};
    json_decref(enc(&ms_dialect_voiceassist, o.state, &st));
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state,
                          "{\"type\":\"message\",\"content\":\"hi\",\"clinical_context_id\":"
                          "\"8F1D5A52-0C3B-4E4B-9F0A-2B7C1D9E6A31\"}",
                          &m, err),
                     0);
    assert_string_equal(m.conversation_id, CID);
    assert_int_equal(m.create_conversation, 0);
    /* clinical_context_id names a stored context: kept, lower-cased, for the
     * pipeline to bind (src/chat/stages.c, persist). */
    assert_string_equal(m.clinical_context_id, "8f1d5a52-0c3b-4e4b-9f0a-2b7c1d9e6a31");
    ms_client_msg_clear(&m);
    /* One that cannot be a context id is refused, not silently dropped. */
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state,
                          "{\"type\":\"message\",\"content\":\"hi\",\"clinical_context_id\":\"c\"}",
                          &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "clinical_context_id"));
    /* A session id: that session's conversation, created on first use. */
    char want[MS_ID_LEN];
    ms_dialect_session_conversation(UID, "ward-7", want);
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state,
                          "{\"type\":\"message\",\"content\":\"hi\",\"session_id\":\"ward-7\"}", &m,
                          err),
                     0);
    assert_string_equal(m.conversation_id, want);
    assert_int_equal(m.create_conversation, 1);
    assert_null(m.conversation_alias);
    ms_client_msg_clear(&m);
    /* A UUID session (any case) is also offered as the conversation itself. */
    assert_int_equal(
        ddec(&ms_dialect_voiceassist, o.state,
             "{\"type\":\"message\",\"content\":\"hi\",\"session_id\":\"6F1C2D3E-4B5A-4C6D-8E7F-"
             "0123456789AB\"}",
             &m, err),
        0);
    assert_string_equal(m.conversation_alias, MID);
    ms_client_msg_clear(&m);
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state, "{\"type\":\"ping\"}", &m, err), 0);
    assert_int_equal(m.kind, MS_CMSG_PING);
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state, "{\"type\":\"message\"}", &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "content"));
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state,
                          "{\"type\":\"message\",\"content\":\"abcdefghijk\"}", &m, err),
                     MS_EINVAL);
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state, "{\"type\":\"x\"}", &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "Unknown message type"));
    assert_int_equal(ddec(&ms_dialect_voiceassist, o.state, "nope", &m, err), MS_EFORMAT);
    ms_dialect_voiceassist.close(o.state);
}

/* ---- Veda (seed 001) ---------------------------------------------------------- */

static void test_veda(void **state) {
    (void)state;
    ms_dialect_open_t o;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(dopen(&ms_dialect_veda, "not-an-id", NULL, &o), MS_EPERM);
    assert_int_equal(dopen(&ms_dialect_veda, CID, NULL, &o), 0);
    assert_string_equal(o.conversation_id, CID);
    assert_int_equal(o.must_exist, 1);
    /* The seed's chunk, byte for byte. */
    ms_frames_t f;
    memset(&f, 0, sizeof f);
    ms_event_t ch = {
        .kind = MS_EV_MESSAGE_CHUNK, .message_id = MID, .seq = 2, .text = "Hello ", .text_len = 6};
    ms_dialect_veda.encode(o.state, &ch, &f);
    assert_string_equal(f.buf.data, "{\"type\":\"chunk\",\"messageId\":"
                                    "\"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab\","
                                    "\"data\":\"Hello \"}");
    ms_frames_free(&f);
    assert_chunk_does_not_allocate(&ms_dialect_veda, o.state);
    json_t *data = json_pack("{s:[], s:s, s:s, s:s}", "citations", "disclaimer", "D",
                             "finish_reason", "stop", "status", "complete");
    ms_event_t done = {.kind = MS_EV_MESSAGE_COMPLETE,
                       .message_id = MID,
                       .conversation_id = CID,
                       .text = "Hi. D",
                       .text_len = 5,
                       .data = data};
    json_t *d = enc1(&ms_dialect_veda, o.state, &done);
    assert_string_equal(sget(d, "type"), "done");
    assert_string_equal(sget(d, "messageId"), MID);
    json_t *msg = json_object_get(d, "message");
    assert_string_equal(sget(msg, "id"), MID);
    assert_string_equal(sget(msg, "content"), "Hi. D");
    assert_string_equal(sget(msg, "sender"), "assistant");
    assert_string_equal(sget(msg, "conversationId"), CID);
    assert_string_equal(sget(msg, "disclaimer"), "D");
    json_decref(d);
    json_decref(data);
    json_t *e = json_pack("{s:s, s:s}", "code", "not_found", "message", "no such message");
    ms_event_t ee = {.kind = MS_EV_ERROR, .data = e};
    json_t *eo = enc1(&ms_dialect_veda, o.state, &ee);
    assert_string_equal(sget(eo, "error"), "no such message");
    json_decref(eo);
    json_decref(e);
    ms_event_t st = {.kind = MS_EV_MESSAGE_START, .message_id = MID, .conversation_id = CID};
    assert_no_frames(&ms_dialect_veda, o.state, &st);
    ms_event_t con = {.kind = MS_EV_CONNECTED};
    assert_no_frames(&ms_dialect_veda, o.state, &con);

    assert_int_equal(ddec(&ms_dialect_veda, o.state,
                          "{\"type\":\"message\",\"text\":\"Hello\",\"client_message_id\":\"u1\"}",
                          &m, err),
                     0);
    assert_string_equal(m.conversation_id, CID);
    assert_string_equal(m.client_message_id, "u1");
    assert_int_equal(m.create_conversation, 0);
    ms_client_msg_clear(&m);
    assert_int_equal(
        ddec(&ms_dialect_veda, o.state, "{\"type\":\"message\",\"text\":\"Hello\"}", &m, err), 0);
    assert_true(ms_id_valid(m.client_message_id));
    ms_client_msg_clear(&m);
    char frame[300];
    snprintf(frame, sizeof frame,
             "{\"type\":\"resume\",\"conversationId\":\"%s\",\"lastMessageId\":\"%s\"}", CID, MID);
    assert_int_equal(ddec(&ms_dialect_veda, o.state, frame, &m, err), 0);
    assert_int_equal(m.kind, MS_CMSG_RESUME);
    assert_string_equal(m.message_id, MID);
    assert_int_equal(m.last_seq, 0);
    ms_client_msg_clear(&m);
    snprintf(frame, sizeof frame,
             "{\"type\":\"resume\",\"conversationId\":\"%s\",\"lastMessageId\":\"%s\"}", MID, MID);
    assert_int_equal(ddec(&ms_dialect_veda, o.state, frame, &m, err), MS_EINVAL);
    assert_non_null(strstr(err, "conversationId"));
    assert_int_equal(ddec(&ms_dialect_veda, o.state, "{\"type\":\"fly\"}", &m, err), MS_EINVAL);
    assert_int_equal(ddec(&ms_dialect_veda, o.state, "{\"text\":\"x\"}", &m, err), MS_EFORMAT);
    ms_dialect_veda.close(o.state);
}

/* ---- FHIR clinical agent, Epic 003 (seed 003) --------------------------------- */

static void test_fhir_open_and_decode(void **state) {
    (void)state;
    ms_dialect_open_t o;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(dopen(&ms_dialect_fhir, NULL, NULL, &o), MS_EINVAL);
    assert_int_equal(dopen(&ms_dialect_fhir, NULL, "s-1", &o), 0);
    char want[MS_ID_LEN];
    ms_dialect_session_conversation(UID, "s-1", want);
    assert_string_equal(o.conversation_id, ""); /* nothing to check at connect */
    assert_int_equal(ddec(&ms_dialect_fhir, o.state,
                          "{\"type\":\"message\",\"session_id\":\"s-1\",\"content\":\"hi\"}", &m,
                          err),
                     0);
    assert_string_equal(m.conversation_id, want);
    assert_int_equal(m.create_conversation, 1);
    assert_string_equal(m.text, "hi");
    ms_client_msg_clear(&m);
    assert_int_equal(ddec(&ms_dialect_fhir, o.state,
                          "{\"type\":\"message\",\"session_id\":\"s-2\",\"content\":\"hi\"}", &m,
                          err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "session"));
    assert_int_equal(
        ddec(&ms_dialect_fhir, o.state, "{\"type\":\"message\",\"content\":\"hi\"}", &m, err),
        MS_EINVAL);
    ms_dialect_fhir.close(o.state);
}

static void test_fhir_encode(void **state) {
    (void)state;
    ms_dialect_open_t o;
    assert_int_equal(dopen(&ms_dialect_fhir, NULL, "s-1", &o), 0);
    ms_event_t con = {.kind = MS_EV_CONNECTED};
    json_t *c = enc1(&ms_dialect_fhir, o.state, &con);
    assert_string_equal(sget(c, "type"), "connection");
    assert_string_equal(sget(c, "status"), "connected");
    assert_string_equal(sget(c, "session_id"), "s-1");
    json_decref(c);
    json_t *tr = json_pack("{s:s, s:s, s:{s:i, s:[]}, s:f}", "tool_call_id", "t1", "name",
                           "kb_search", "result", "count", 0, "top", "duration_ms", 2.6);
    ms_event_t ev = {.kind = MS_EV_TOOL_RESULT, .message_id = MID, .data = tr};
    json_t *r = enc1(&ms_dialect_fhir, o.state, &ev);
    assert_string_equal(sget(r, "tool_name"), "kb_search");
    assert_string_equal(sget(r, "result"), "{\"count\":0,\"top\":[]}");
    assert_int_equal(json_integer_value(json_object_get(r, "duration_ms")), 3);
    assert_non_null(sget(r, "timestamp"));
    json_decref(r);
    json_decref(tr);
    json_t *call = json_pack("{s:s}", "provider", "offline");
    ms_event_t lc = {.kind = MS_EV_LLM_CALL, .message_id = MID, .data = call};
    json_t *oc = enc1(&ms_dialect_fhir, o.state, &lc);
    assert_string_equal(sget(oc, "type"), "openai_call");
    assert_string_equal(sget(oc, "model"), "offline");
    assert_true(json_is_null(json_object_get(oc, "total_tokens")));
    /* Exactly the seed's OpenAIEvent fields. */
    static const char *const keys[] = {"type",          "session_id",        "model",
                                       "prompt_tokens", "completion_tokens", "total_tokens",
                                       "duration_ms",   "timestamp"};
    assert_int_equal(json_object_size(oc), MS_COUNTOF(keys));
    for (size_t i = 0; i < MS_COUNTOF(keys); i++)
        assert_non_null(json_object_get(oc, keys[i]));
    json_decref(oc);
    json_decref(call);
    /* The model a provider asks for wins over its name. */
    call = json_pack("{s:s, s:s}", "provider", "azure-east", "model", "gpt-4o-mini");
    lc.data = call;
    oc = enc1(&ms_dialect_fhir, o.state, &lc);
    assert_string_equal(sget(oc, "model"), "gpt-4o-mini");
    json_decref(oc);
    json_decref(call);
    /* The routing decision has no frame here. */
    ms_event_t rt = {.kind = MS_EV_ROUTING, .message_id = MID};
    assert_no_frames(&ms_dialect_fhir, o.state, &rt);
    ms_dialect_open_t quiet;
    assert_int_equal(dopen_q(&ms_dialect_fhir, "s-1", "off", &quiet), 0);
    lc.data = NULL;
    assert_no_frames(&ms_dialect_fhir, quiet.state, &lc);
    ms_dialect_fhir.close(quiet.state);
    json_t *res = json_pack("{s:s, s:i, s:i, s:i, s:i}", "provider", "offline", "prompt_tokens", 10,
                            "completion_tokens", 5, "total_tokens", 15, "duration_ms", 42);
    ms_event_t lr = {.kind = MS_EV_LLM_RESULT, .message_id = MID, .data = res};
    json_t *orr = enc1(&ms_dialect_fhir, o.state, &lr);
    assert_string_equal(sget(orr, "type"), "openai_response");
    assert_int_equal(json_integer_value(json_object_get(orr, "total_tokens")), 15);
    assert_int_equal(json_integer_value(json_object_get(orr, "duration_ms")), 42);
    json_decref(orr);
    json_decref(res);
    ms_event_t ch = {
        .kind = MS_EV_MESSAGE_CHUNK, .message_id = MID, .seq = 1, .text = "Hi", .text_len = 2};
    json_t *a = enc1(&ms_dialect_fhir, o.state, &ch);
    assert_string_equal(sget(a, "type"), "assistant");
    assert_string_equal(sget(a, "content"), "Hi");
    assert_true(json_is_true(json_object_get(a, "streaming")));
    json_decref(a);
    assert_chunk_does_not_allocate(&ms_dialect_fhir, o.state);
    ms_event_t done = {
        .kind = MS_EV_MESSAGE_COMPLETE, .message_id = MID, .text = "Hi there", .text_len = 8};
    json_t *fin = enc1(&ms_dialect_fhir, o.state, &done);
    assert_true(json_is_false(json_object_get(fin, "streaming")));
    assert_string_equal(sget(fin, "content"), "Hi there");
    json_decref(fin);
    ms_event_t st = {.kind = MS_EV_MESSAGE_START, .message_id = MID};
    assert_no_frames(&ms_dialect_fhir, o.state, &st);
    json_t *e = json_pack("{s:s, s:s}", "code", "invalid_message", "message", "bad");
    ms_event_t ee = {.kind = MS_EV_ERROR, .data = e};
    json_t *eo = enc1(&ms_dialect_fhir, o.state, &ee);
    assert_string_equal(sget(eo, "error"), "bad");
    assert_string_equal(sget(eo, "session_id"), "s-1");
    json_decref(eo);
    json_decref(e);
    ms_dialect_fhir.close(o.state);
}

/* ---- Diagnosis streamer (seed 004) --------------------------------------------- */

static void test_dx(void **state) {
    (void)state;
    ms_dialect_open_t o;
    ms_client_msg_t m;
    char err[160];
    assert_int_equal(dopen(&ms_dialect_dx, "user_123", NULL, &o), MS_EPERM);
    assert_int_equal(dopen(&ms_dialect_dx, UID, NULL, &o), 0);
    assert_string_equal(o.conversation_id, "");
    assert_int_equal(
        ddec(&ms_dialect_dx, o.state, "{\"type\":\"chat\",\"data\":{\"message\":\"hi\"}}", &m, err),
        0);
    assert_string_equal(m.text, "hi");
    assert_null(m.conversation_id);
    ms_client_msg_clear(&m);
    assert_int_equal(
        ddec(&ms_dialect_dx, o.state, "{\"type\":\"chat\",\"content\":\"yo\"}", &m, err), 0);
    assert_string_equal(m.text, "yo");
    ms_client_msg_clear(&m);
    assert_int_equal(ddec(&ms_dialect_dx, o.state,
                          "{\"type\":\"diagnosis\",\"data\":{\"symptoms\":[]}}", &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "diagnosis"));
    assert_int_equal(ddec(&ms_dialect_dx, o.state, "{\"type\":\"prescription\"}", &m, err),
                     MS_EINVAL);
    assert_non_null(strstr(err, "prescription"));
    assert_int_equal(ddec(&ms_dialect_dx, o.state, "{\"type\":\"invalid_type\"}", &m, err),
                     MS_EINVAL);
    assert_string_equal(err, "Unknown message type: invalid_type");

    ms_event_t st = {.kind = MS_EV_MESSAGE_START, .message_id = MID, .conversation_id = CID};
    json_t *p = enc1(&ms_dialect_dx, o.state, &st);
    assert_string_equal(sget(p, "type"), "progress");
    json_decref(p);
    /* The connection's chats now share that conversation. */
    assert_int_equal(
        ddec(&ms_dialect_dx, o.state, "{\"type\":\"chat\",\"text\":\"again\"}", &m, err), 0);
    assert_string_equal(m.conversation_id, CID);
    ms_client_msg_clear(&m);
    json_t *data = json_pack("{s:[], s:s, s:s, s:s}", "citations", "disclaimer", "D",
                             "finish_reason", "stop", "status", "complete");
    ms_event_t done = {.kind = MS_EV_MESSAGE_COMPLETE,
                       .message_id = MID,
                       .conversation_id = CID,
                       .text = "A. D",
                       .text_len = 4,
                       .data = data};
    json_t *two = enc(&ms_dialect_dx, o.state, &done);
    assert_int_equal(json_array_size(two), 2); /* progress 100, then complete */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(two, 0), "progress")), 100);
    json_t *result = json_object_get(json_array_get(two, 1), "result");
    assert_string_equal(sget(result, "content"), "A. D");
    json_decref(two);
    json_decref(data);
    ms_event_t ch = {
        .kind = MS_EV_MESSAGE_CHUNK, .message_id = MID, .seq = 1, .text = "A", .text_len = 1};
    json_t *c = enc1(&ms_dialect_dx, o.state, &ch);
    assert_string_equal(sget(c, "type"), "stream_chunk");
    assert_string_equal(sget(c, "content"), "A");
    assert_non_null(sget(c, "timestamp"));
    json_decref(c);
    ms_dialect_dx.close(o.state);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_escapes_and_fields),
        cmocka_unit_test(test_complete_carries_data),
        cmocka_unit_test(test_start_nulls),
        cmocka_unit_test(test_decode_message),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_clinical_context_id),
        cmocka_unit_test(test_decode_resume_cancel_ping),
        cmocka_unit_test(test_utf8_count),
        cmocka_unit_test(test_frames_and_session_ids),
        cmocka_unit_test(test_native_telemetry_and_opt_out),
        cmocka_unit_test(test_native_decode_model),
        cmocka_unit_test(test_id_v7_ordered),
        cmocka_unit_test(test_voiceassist_encode),
        cmocka_unit_test(test_voiceassist_citations),
        cmocka_unit_test(test_voiceassist_decode),
        cmocka_unit_test(test_veda),
        cmocka_unit_test(test_fhir_open_and_decode),
        cmocka_unit_test(test_fhir_encode),
        cmocka_unit_test(test_dx),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
