/* Unit tests of the SQLite store: each test gets a fresh data directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "store/sqlite.h"
#include "store/store.h"

#include <sqlite3.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    ms_store_t *st;
    ms_user_t alice, bob;
} fx_t;

static void rm_rf(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state) {
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/ms-test-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(ms_store_open(fx->dir, &fx->st), 0);
    /* The store keeps whatever hash it is given; a fixed string will do. */
    assert_int_equal(
        ms_store_user_create(fx->st, "alice@example.com", "$argon2id$x", "clinician", &fx->alice),
        0);
    assert_int_equal(
        ms_store_user_create(fx->st, "bob@example.com", "$argon2id$y", "admin", &fx->bob), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fx_t *fx = *state;
    ms_store_close(fx->st);
    rm_rf(fx->dir);
    free(fx);
    return 0;
}

static int64_t query_int(ms_store_t *st, const char *sql) {
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(ms_store_sqlite_db(st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int query_text_is(ms_store_t *st, const char *sql, const char *want) {
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(ms_store_sqlite_db(st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int eq = strcmp((const char *)sqlite3_column_text(s, 0), want) == 0;
    sqlite3_finalize(s);
    return eq;
}

static const char *jstr(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

/* Creates a conversation of user and returns its id (static buffer per call site). */
static void new_conv(fx_t *fx, const ms_user_t *u, const char *title, char id[MS_ID_LEN]) {
    json_t *c = NULL;
    assert_int_equal(ms_store_conversation_create(fx->st, u->id, title, &c), 0);
    snprintf(id, MS_ID_LEN, "%s", jstr(c, "id"));
    json_decref(c);
}

static void turn(fx_t *fx, const char *conv, const char *cmid, const char *text,
                 char uid[MS_ID_LEN], char aid[MS_ID_LEN]) {
    ms_id_new(uid);
    ms_id_new(aid);
    assert_int_equal(ms_store_turn_begin(fx->st, conv, uid, aid, cmid, text, NULL), 0);
}

static void test_migrations_idempotent(void **state) {
    fx_t *fx = *state;
    int64_t v1 = query_int(fx->st, "PRAGMA user_version");
    assert_true(v1 >= 1);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                                       "name IN ('users','refresh_tokens','conversations',"
                                       "'messages','citations')"),
                     5);
    assert_string_equal((const char *)sqlite3_db_filename(ms_store_sqlite_db(fx->st), "main") +
                            strlen(fx->dir),
                        "/medstream.db");
    ms_store_close(fx->st);
    fx->st = NULL;
    /* Reopening applies nothing twice and keeps the data; so does a second
     * connection open at the same time. */
    ms_store_t *a = NULL, *b = NULL;
    assert_int_equal(ms_store_open(fx->dir, &a), 0);
    assert_int_equal(ms_store_open(fx->dir, &b), 0);
    assert_int_equal(query_int(a, "PRAGMA user_version"), v1);
    assert_true(query_text_is(a, "PRAGMA journal_mode", "wal"));
    assert_int_equal(query_int(b, "PRAGMA foreign_keys"), 1);
    int64_t n = 0;
    assert_int_equal(ms_store_user_count(b, &n), 0);
    assert_int_equal(n, 2);
    ms_store_close(b);
    fx->st = a;
}

static void test_open_refuses_newer_schema_and_bad_dir(void **state) {
    fx_t *fx = *state;
    assert_int_equal(sqlite3_exec(ms_store_sqlite_db(fx->st), "PRAGMA user_version=9999", 0, 0, 0),
                     SQLITE_OK);
    ms_store_close(fx->st);
    fx->st = NULL;
    ms_store_t *st = NULL;
    assert_int_equal(ms_store_open(fx->dir, &st), MS_EIO);
    assert_null(st);

    /* A data dir below a regular file cannot be created. */
    char bad[128];
    snprintf(bad, sizeof bad, "%s/file", fx->dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "/sub");
    assert_int_equal(ms_store_open(bad, &st), MS_EIO);

    /* Missing directories are created, private to the service user. */
    char fresh[128];
    snprintf(fresh, sizeof fresh, "%s/a/b", fx->dir);
    assert_int_equal(ms_store_open(fresh, &st), 0);
    struct stat sb;
    assert_int_equal(stat(fresh, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    ms_store_close(st);
}

static void test_user_create_and_lookup(void **state) {
    fx_t *fx = *state;
    ms_user_t u, got;
    assert_int_equal(
        ms_store_user_create(fx->st, "Carol.O'Brien@Example.COM", "$argon2id$z", "clinician", &u),
        0);
    assert_string_equal(u.email, "carol.o'brien@example.com");
    assert_true(ms_id_valid(u.id));
    assert_int_equal(ms_store_user_create(fx->st, "carol.o'brien@example.com", "h", "admin", NULL),
                     MS_EEXIST);
    assert_int_equal(ms_store_user_create(fx->st, "CAROL.O'BRIEN@EXAMPLE.COM", "h", "admin", NULL),
                     MS_EEXIST);
    assert_int_equal(ms_store_user_by_email(fx->st, "carol.O'Brien@example.com", &got), 0);
    assert_string_equal(got.id, u.id);
    assert_string_equal(got.password_hash, "$argon2id$z");
    assert_string_equal(got.role, "clinician");
    assert_int_equal(got.created_at, u.created_at);
    assert_int_equal(ms_store_user_by_id(fx->st, u.id, &got), 0);
    assert_string_equal(got.email, u.email);
    assert_int_equal(ms_store_user_by_email(fx->st, "nobody@example.com", &got), MS_ENOENT);
    assert_int_equal(ms_store_user_by_id(fx->st, "00000000-0000-4000-8000-000000000000", &got),
                     MS_ENOENT);
    assert_int_equal(ms_store_user_create(fx->st, "d@example.com", "h", "root", NULL), MS_EINVAL);
    assert_int_equal(ms_store_user_create(fx->st, "", "h", "admin", NULL), MS_EINVAL);

    int64_t n = 0;
    assert_int_equal(ms_store_user_count(fx->st, &n), 0);
    assert_int_equal(n, 3);
    json_t *list = NULL;
    assert_int_equal(ms_store_user_list(fx->st, &list), 0);
    assert_int_equal(json_array_size(list), 3);
    json_t *first = json_array_get(list, 0);
    if (strcmp(jstr(first, "email"), "alice@example.com") != 0)
        first = json_array_get(list, 1); /* created in the same millisecond */
    assert_string_equal(jstr(first, "email"), "alice@example.com");
    assert_null(json_object_get(first, "password_hash"));
    json_decref(list);
}

static void test_refresh_rotation_and_replay(void **state) {
    fx_t *fx = *state;
    const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *h2 = "2222222222222222222222222222222222222222222222222222222222222222";
    const char *hb = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const char *hx = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    char uid[MS_ID_LEN];
    int64_t later = ms_now_ms() + 3600LL * 1000;

    assert_int_equal(ms_store_refresh_put(fx->st, h1, fx->alice.id, later), 0);
    assert_int_equal(ms_store_refresh_put(fx->st, hb, fx->bob.id, later), 0);
    assert_int_equal(ms_store_refresh_put(fx->st, hx, fx->alice.id, ms_now_ms() - 1), 0);
    assert_int_equal(ms_store_refresh_consume(fx->st, hx, uid), MS_EAUTH); /* expired */
    assert_int_equal(ms_store_refresh_consume(fx->st, "unknown", uid), MS_EAUTH);

    assert_int_equal(ms_store_refresh_consume(fx->st, h1, uid), 0);
    assert_string_equal(uid, fx->alice.id);
    /* The client rotates to h2 ... */
    assert_int_equal(ms_store_refresh_put(fx->st, h2, fx->alice.id, later), 0);
    /* ... then someone replays h1: refused, and h2 is revoked with it. */
    assert_int_equal(ms_store_refresh_consume(fx->st, h1, uid), MS_EAUTH);
    assert_int_equal(ms_store_refresh_consume(fx->st, h2, uid), MS_EAUTH);
    /* Other users' sessions are untouched. */
    assert_int_equal(ms_store_refresh_consume(fx->st, hb, uid), 0);
    assert_string_equal(uid, fx->bob.id);
    /* A token for a user that does not exist is refused. */
    assert_int_equal(ms_store_refresh_put(fx->st, "cc", "no-such-user", later), MS_EINVAL);
}

static void test_conversation_crud_and_ownership(void **state) {
    fx_t *fx = *state;
    json_t *c = NULL, *list = NULL;
    char a1[MS_ID_LEN], a2[MS_ID_LEN];

    assert_int_equal(ms_store_conversation_create(fx->st, fx->alice.id, NULL, &c), 0);
    assert_string_equal(jstr(c, "title"), "New conversation");
    assert_int_equal(json_integer_value(json_object_get(c, "message_count")), 0);
    assert_non_null(strstr(jstr(c, "created_at"), "Z"));
    snprintf(a1, sizeof a1, "%s", jstr(c, "id"));
    json_decref(c);
    new_conv(fx, &fx->alice, "  ", a2);
    assert_int_equal(ms_store_conversation_get(fx->st, fx->alice.id, a2, &c), 0);
    assert_string_equal(jstr(c, "title"), "New conversation");
    json_decref(c);

    /* Long titles are cut at 200 code points, never inside one. */
    char longt[700] = "";
    for (int i = 0; i < 300; i++)
        memcpy(longt + (size_t)2 * i, "\xc3\xa9", 3); /* é, then the NUL */
    assert_int_equal(ms_store_conversation_rename(fx->st, fx->alice.id, a2, longt, &c), 0);
    assert_int_equal(strlen(jstr(c, "title")), 400);
    json_decref(c);
    assert_int_equal(ms_store_conversation_rename(fx->st, fx->alice.id, a2, "bad \xff", &c),
                     MS_EINVAL);
    assert_int_equal(ms_store_conversation_create(fx->st, fx->alice.id, "\xc3", &c), MS_EINVAL);
    assert_int_equal(ms_store_conversation_create(fx->st, "no-such-user", "x", &c), MS_ENOENT);

    /* Bob can neither see nor touch Alice's conversations. */
    assert_int_equal(ms_store_conversation_get(fx->st, fx->bob.id, a1, &c), MS_EPERM);
    assert_null(c);
    assert_int_equal(ms_store_conversation_rename(fx->st, fx->bob.id, a1, "mine", &c), MS_EPERM);
    assert_int_equal(ms_store_conversation_delete(fx->st, fx->bob.id, a1), MS_EPERM);
    assert_int_equal(ms_store_conversation_list(fx->st, fx->bob.id, 50, 0, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(
        ms_store_conversation_get(fx->st, fx->alice.id, "00000000-0000-4000-8000-000000000000", &c),
        MS_ENOENT);

    /* Newest updated first: renaming a1 moves it to the top. */
    sleep_ms(3);
    const char *evil = "x'); DROP TABLE conversations; --";
    assert_int_equal(ms_store_conversation_rename(fx->st, fx->alice.id, a1, evil, &c), 0);
    assert_string_equal(jstr(c, "title"), evil);
    json_decref(c);
    assert_int_equal(ms_store_conversation_list(fx->st, fx->alice.id, 50, 0, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(jstr(json_array_get(list, 0), "id"), a1);
    assert_string_equal(jstr(json_array_get(list, 1), "id"), a2);
    json_decref(list);
    assert_int_equal(ms_store_conversation_list(fx->st, fx->alice.id, 1, 1, &list), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(jstr(json_array_get(list, 0), "id"), a2);
    json_decref(list);

    /* Delete removes the conversation with its messages and citations. */
    char uid[MS_ID_LEN], aid[MS_ID_LEN];
    turn(fx, a1, "c1", "question", uid, aid);
    json_t *cits = json_pack("[{s:s}]", "title", "t");
    assert_int_equal(
        ms_store_message_update(fx->st, aid, "answer", MS_MSG_COMPLETE, "stop", NULL, cits), 0);
    json_decref(cits);
    assert_int_equal(ms_store_conversation_delete(fx->st, fx->alice.id, a1), 0);
    assert_int_equal(ms_store_conversation_get(fx->st, fx->alice.id, a1, &c), MS_ENOENT);
    assert_int_equal(ms_store_message_get(fx->st, uid, &c), MS_ENOENT);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM citations"), 0);
    assert_int_equal(ms_store_conversation_delete(fx->st, fx->alice.id, a1), MS_ENOENT);
}

static void test_turn_begin_and_client_id(void **state) {
    fx_t *fx = *state;
    char a[MS_ID_LEN], b[MS_ID_LEN], uid[MS_ID_LEN], aid[MS_ID_LEN], u2[MS_ID_LEN], a2[MS_ID_LEN];
    json_t *list = NULL, *um = NULL, *am = NULL, *c = NULL;
    new_conv(fx, &fx->alice, "A", a);
    sleep_ms(3);
    new_conv(fx, &fx->alice, "B", b);
    sleep_ms(3);

    turn(fx, a, "c1", "What is the dose?", uid, aid);
    /* The turn bumped A above the newer B. */
    assert_int_equal(ms_store_conversation_list(fx->st, fx->alice.id, 10, 0, &list), 0);
    assert_string_equal(jstr(json_array_get(list, 0), "id"), a);
    json_decref(list);
    assert_int_equal(ms_store_conversation_get(fx->st, fx->alice.id, a, &c), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "message_count")), 2);
    json_decref(c);

    /* Same client id again: refused, nothing written. */
    ms_id_new(u2);
    ms_id_new(a2);
    assert_int_equal(ms_store_turn_begin(fx->st, a, u2, a2, "c1", "again", NULL), MS_EEXIST);
    assert_int_equal(ms_store_message_get(fx->st, u2, &um), MS_ENOENT);
    /* The same client id in another conversation is a different message. */
    assert_int_equal(ms_store_turn_begin(fx->st, b, u2, a2, "c1", "again", NULL), 0);
    turn(fx, a, NULL, "no id", uid, aid);
    turn(fx, a, NULL, "no id either", uid, aid);
    assert_int_equal(ms_store_turn_begin(fx->st, "no-such-conv", u2, a2, "c9", "x", NULL),
                     MS_ENOENT);
    /* Message ids are unique too. */
    assert_int_equal(ms_store_turn_begin(fx->st, a, u2, a2, "c7", "x", NULL), MS_EEXIST);
    assert_int_equal(ms_store_turn_begin(fx->st, a, u2, u2, "c8", "x", NULL), MS_EINVAL);
    /* client_message_id is 1..128 characters (not bytes). */
    char cmid[600] = "";
    for (int i = 0; i < 128; i++)
        memcpy(cmid + (size_t)3 * i, "\xe2\x82\xac", 4); /* euro sign, 3 bytes, then the NUL */
    turn(fx, b, cmid, "long id", uid, aid);
    snprintf(cmid + strlen(cmid), sizeof cmid - strlen(cmid), "x");
    assert_int_equal(ms_store_turn_begin(fx->st, b, "m1", "m2", cmid, "x", NULL), MS_EINVAL);
    assert_int_equal(ms_store_turn_begin(fx->st, b, "m1", "m2", "", "x", NULL), MS_EINVAL);
    assert_int_equal(ms_store_turn_begin(fx->st, a, "m1", "m2", "c8", "bad \xc0\xaf", NULL),
                     MS_EINVAL);

    assert_int_equal(ms_store_message_by_client_id(fx->st, a, "c1", &um, &am), 0);
    assert_string_equal(jstr(um, "role"), "user");
    assert_string_equal(jstr(um, "content"), "What is the dose?");
    assert_string_equal(jstr(um, "status"), MS_MSG_COMPLETE);
    assert_string_equal(jstr(um, "client_message_id"), "c1");
    assert_true(json_is_null(json_object_get(um, "reply_to")));
    assert_string_equal(jstr(am, "role"), "assistant");
    assert_string_equal(jstr(am, "status"), MS_MSG_STREAMING);
    assert_string_equal(jstr(am, "content"), "");
    assert_string_equal(jstr(am, "reply_to"), jstr(um, "id"));
    assert_string_equal(jstr(am, "conversation_id"), a);
    assert_true(json_is_null(json_object_get(am, "usage")));
    assert_int_equal(json_array_size(json_object_get(am, "citations")), 0);
    json_decref(um);
    json_decref(am);
    assert_int_equal(ms_store_message_by_client_id(fx->st, a, "nope", &um, NULL), MS_ENOENT);
    assert_null(um);
}

/* An answer's tool calls are kept with it (for exports), replaced as a
 * whole, listed by conversation in order, and deleted with it. */
static void test_message_tools(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], uid[MS_ID_LEN], aid[MS_ID_LEN], aid2[MS_ID_LEN];
    new_conv(fx, &fx->alice, NULL, conv);
    turn(fx, conv, "t1", "What is gout?", uid, aid);
    turn(fx, conv, "t2", "How is it treated?", uid, aid2);
    json_t *tools =
        json_pack("[{s:s,s:s,s:{s:s,s:i},s:{s:i,s:[{s:s,s:s,s:f}]}}]", "tool_call_id", "tc-1",
                  "name", "kb_search", "arguments", "query", "What is gout?", "k", 5, "result",
                  "count", 1, "top", "id", "GHR_1_Sec1", "title", "Gout", "score", 1.5);
    assert_int_equal(ms_store_message_tools_put(fx->st, aid, tools), 0);
    assert_int_equal(ms_store_message_tools_put(fx->st, aid2, tools), 0);
    assert_int_equal(ms_store_message_tools_put(fx->st, aid2, tools), 0); /* replaces */
    json_t *by = NULL;
    assert_int_equal(ms_store_tools_by_conversation(fx->st, conv, &by), 0);
    assert_int_equal(json_object_size(by), 2);
    json_t *list = json_object_get(by, aid2);
    assert_int_equal(json_array_size(list), 1);
    assert_true(json_equal(json_array_get(list, 0), json_array_get(tools, 0)));
    json_decref(by);
    json_t *bad = json_pack("[{s:i}]", "name", 3);
    assert_int_equal(ms_store_message_tools_put(fx->st, aid, bad), MS_EINVAL);
    json_decref(bad);
    bad = json_pack("[{s:s,s:s}]", "name", "kb_search", "arguments", "not an object");
    assert_int_equal(ms_store_message_tools_put(fx->st, aid, bad), MS_EINVAL);
    json_decref(bad);
    assert_int_equal(ms_store_message_tools_put(fx->st, "no-such-message", tools), MS_ENOENT);
    /* The refused writes changed nothing. */
    assert_int_equal(ms_store_tools_by_conversation(fx->st, conv, &by), 0);
    assert_int_equal(json_array_size(json_object_get(by, aid)), 1);
    json_decref(by);
    assert_int_equal(ms_store_conversation_delete(fx->st, fx->alice.id, conv), 0);
    assert_int_equal(ms_store_tools_by_conversation(fx->st, conv, &by), 0);
    assert_int_equal(json_object_size(by), 0);
    json_decref(by);
    json_decref(tools);
}

/* A workflow's result (migration 9) is stored with its answer and read
 * back in the message JSON; an answer to a question has none. */
static void test_message_workflow_result(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], uid[MS_ID_LEN], aid[MS_ID_LEN], uid2[MS_ID_LEN], aid2[MS_ID_LEN];
    new_conv(fx, &fx->alice, NULL, conv);
    turn(fx, conv, "w1", "Diagnosis request: cough", uid, aid);
    turn(fx, conv, "w2", "a question", uid2, aid2);
    json_t *res = json_pack("{s:s, s:s, s:f, s:[{s:s}]}", "workflow", "diagnosis",
                            "primary_diagnosis", "Acute bronchitis", "confidence", 0.5,
                            "differential", "diagnosis", "Acute bronchitis");
    assert_int_equal(ms_store_message_set_workflow(fx->st, aid, res), 0);
    json_t *m = NULL;
    assert_int_equal(ms_store_message_get(fx->st, aid, &m), 0);
    assert_true(json_equal(json_object_get(m, "workflow"), res));
    json_decref(m);
    assert_int_equal(ms_store_message_get(fx->st, aid2, &m), 0);
    assert_true(json_is_null(json_object_get(m, "workflow")));
    json_decref(m);
    json_t *arr = json_array();
    assert_int_equal(ms_store_message_set_workflow(fx->st, aid, arr), MS_EINVAL);
    assert_int_equal(ms_store_message_set_workflow(fx->st, "no-such-message", res), MS_ENOENT);
    json_decref(arr);
    json_decref(res);
}

static void test_message_update_citations_roundtrip(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], uid[MS_ID_LEN], aid[MS_ID_LEN];
    new_conv(fx, &fx->alice, NULL, conv);
    turn(fx, conv, "c1", "q", uid, aid);

    /* Every member of seed 002's structured citation, and the extras. */
    json_t *full = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:s,s:f,s:s,s:s,s:s,s:[s,s],s:s,s:i,s:s,s:s,s:s,s:s,s:s,"
        "s:{s:s,s:[s]}}",
        "index", 1, "source_id", "kb:42", "source_type", "pubmed", "title",
        "Metformin and lactic acidosis", "url", "https://pubmed.example/1", "source_name", "PubMed",
        "relevance_score", 87.5, "quoted_text", "Rare \"quoted\" text \xe2\x80\x94 with UTF-8",
        "pmid", "12345678", "doi", "10.1000/xyz", "authors", "Smith J", "Doe A", "journal", "BMJ",
        "year", 2021, "publication_date", "2021-03-04", "volume", "372", "issue", "8", "pages",
        "n123", "subtitle", "Treatment", "context", "journal_abbrev", "BMJ", "mesh", "Metformin");
    json_t *bare = json_pack("{s:i,s:s,s:s}", "index", 2, "source_id", "kb:7", "title", "Leaflet");
    json_t *cits = json_pack("[O,O]", full, bare);
    json_t *usage = json_pack("{s:i,s:i}", "prompt_tokens", 120, "completion_tokens", 48);
    assert_int_equal(ms_store_message_update(fx->st, aid, "Answer [1][2].", MS_MSG_COMPLETE, "stop",
                                             usage, cits),
                     0);

    json_t *m = NULL;
    assert_int_equal(ms_store_message_get(fx->st, aid, &m), 0);
    assert_string_equal(jstr(m, "content"), "Answer [1][2].");
    assert_string_equal(jstr(m, "status"), MS_MSG_COMPLETE);
    assert_string_equal(jstr(m, "finish_reason"), "stop");
    assert_true(json_equal(json_object_get(m, "usage"), usage));
    json_t *got = json_object_get(m, "citations");
    assert_int_equal(json_array_size(got), 2);
    assert_true(json_equal(json_array_get(got, 0), full)); /* every field, same types */
    json_t *g2 = json_array_get(got, 1);
    assert_string_equal(jstr(g2, "title"), "Leaflet");
    /* Seed 002's members are present, null when unknown (authors []);
     * subtitle and year only when known. */
    assert_true(json_is_null(json_object_get(g2, "url")));
    assert_true(json_is_null(json_object_get(g2, "relevance_score")));
    assert_true(json_is_null(json_object_get(g2, "source_type")));
    assert_true(json_is_null(json_object_get(g2, "pmid")));
    assert_true(json_is_null(json_object_get(g2, "volume")));
    assert_true(json_is_null(json_object_get(g2, "context")));
    assert_int_equal(json_array_size(json_object_get(g2, "authors")), 0);
    assert_null(json_object_get(g2, "year"));
    assert_null(json_object_get(g2, "subtitle"));
    assert_int_equal(json_object_size(g2), 17);
    json_decref(m);

    /* A checkpoint without citations keeps them; an invalid update changes
     * nothing (one transaction). */
    assert_int_equal(ms_store_message_update(fx->st, aid, "Answer, edited", NULL, NULL, NULL, NULL),
                     0);
    json_t *dup = json_pack("[{s:i},{s:i}]", "index", 1, "index", 1);
    assert_int_equal(ms_store_message_update(fx->st, aid, "lost", MS_MSG_ERROR, NULL, NULL, dup),
                     MS_EINVAL);
    json_decref(dup);
    json_t *wrong = json_pack("[{s:i}]", "year", 0);
    json_object_set_new(json_array_get(wrong, 0), "authors", json_string("not an array"));
    assert_int_equal(ms_store_message_update(fx->st, aid, "lost", NULL, NULL, NULL, wrong),
                     MS_EINVAL);
    json_decref(wrong);
    /* relevance_score is 0-100 (seed 002); context an object. */
    wrong = json_pack("[{s:f}]", "relevance_score", 100.5);
    assert_int_equal(ms_store_message_update(fx->st, aid, "lost", NULL, NULL, NULL, wrong),
                     MS_EINVAL);
    json_decref(wrong);
    wrong = json_pack("[{s:s}]", "context", "not an object");
    assert_int_equal(ms_store_message_update(fx->st, aid, "lost", NULL, NULL, NULL, wrong),
                     MS_EINVAL);
    json_decref(wrong);
    assert_int_equal(ms_store_message_get(fx->st, aid, &m), 0);
    assert_string_equal(jstr(m, "content"), "Answer, edited");
    assert_string_equal(jstr(m, "status"), MS_MSG_COMPLETE);
    assert_int_equal(json_array_size(json_object_get(m, "citations")), 2);
    json_decref(m);

    /* New citations replace the old ones; without an index they number 1... */
    json_t *repl = json_pack("[{s:s,s:i}]", "title", "Only", "pmid", 987);
    assert_int_equal(ms_store_message_update(fx->st, aid, NULL, NULL, NULL, NULL, repl), 0);
    json_decref(repl);
    assert_int_equal(ms_store_message_get(fx->st, aid, &m), 0);
    got = json_object_get(m, "citations");
    assert_int_equal(json_array_size(got), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 0), "index")), 1);
    assert_string_equal(jstr(json_array_get(got, 0), "pmid"), "987");
    json_decref(m);

    assert_int_equal(ms_store_message_update(fx->st, aid, "x", "done", NULL, NULL, NULL),
                     MS_EINVAL);
    assert_int_equal(
        ms_store_message_update(fx->st, "nope", "x", MS_MSG_COMPLETE, NULL, NULL, NULL), MS_ENOENT);
    /* The user message was not touched by any of this. */
    assert_int_equal(ms_store_message_get(fx->st, uid, &m), 0);
    assert_string_equal(jstr(m, "content"), "q");
    assert_int_equal(json_array_size(json_object_get(m, "citations")), 0);
    json_decref(m);
    /* An integral score comes back as an integer. */
    json_t *whole = json_pack("[{s:i,s:i}]", "index", 1, "relevance_score", 50);
    assert_int_equal(ms_store_message_update(fx->st, aid, NULL, NULL, NULL, NULL, whole), 0);
    json_t *am2 = NULL;
    assert_int_equal(ms_store_message_get(fx->st, aid, &am2), 0);
    assert_true(json_is_integer(
        json_object_get(json_array_get(json_object_get(am2, "citations"), 0), "relevance_score")));
    json_decref(am2);
    json_decref(whole);
    json_decref(full);
    json_decref(bare);
    json_decref(cits);
    json_decref(usage);
}

static void test_list_order_and_recent_turns(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], uid[MS_ID_LEN], aid[MS_ID_LEN];
    const char *qs[] = {"q1", "q2", "q3"}, *as[] = {"a1", "a2", NULL};
    new_conv(fx, &fx->alice, NULL, conv);
    for (int i = 0; i < 3; i++) {
        turn(fx, conv, NULL, qs[i], uid, aid);
        if (as[i])
            assert_int_equal(
                ms_store_message_update(fx->st, aid, as[i], MS_MSG_COMPLETE, "stop", NULL, NULL),
                0);
    }
    json_t *list = NULL;
    assert_int_equal(ms_store_message_list(fx->st, conv, &list), 0);
    assert_int_equal(json_array_size(list), 6);
    const char *want[] = {"q1", "a1", "q2", "a2", "q3", ""};
    for (size_t i = 0; i < 6; i++) {
        json_t *m = json_array_get(list, i);
        assert_string_equal(jstr(m, "content"), want[i]);
        assert_string_equal(jstr(m, "role"), i % 2 ? "assistant" : "user");
    }
    json_decref(list);

    /* Recent context: oldest first, without the reply still streaming. */
    assert_int_equal(ms_store_recent_turns(fx->st, conv, 3, &list), 0);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(jstr(json_array_get(list, 0), "content"), "q2");
    assert_string_equal(jstr(json_array_get(list, 1), "content"), "a2");
    assert_string_equal(jstr(json_array_get(list, 1), "role"), "assistant");
    assert_string_equal(jstr(json_array_get(list, 2), "content"), "q3");
    json_decref(list);
    assert_int_equal(ms_store_recent_turns(fx->st, conv, 0, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

static ms_node_t node_at(const char *name, int64_t lease_expires) {
    ms_node_t n;
    memset(&n, 0, sizeof n);
    ms_id_new(n.id);
    snprintf(n.name, sizeof n.name, "%s", name);
    n.started_at = ms_now_ms();
    n.lease_expires = lease_expires;
    return n;
}

static const char *status_of(fx_t *fx, const char *id) {
    static char buf[32];
    json_t *m = NULL;
    assert_int_equal(ms_store_message_get(fx->st, id, &m), 0);
    snprintf(buf, sizeof buf, "%s", jstr(m, "status"));
    json_decref(m);
    return buf;
}

/* Recovery is bounded by leases: a message streamed by a node whose lease
 * still runs is never touched (another live process is streaming it);
 * once the lease has expired it becomes interrupted, its text kept and the
 * disclaimer appended (every assistant message a client sees carries it). */
static void test_recover_respects_leases(void **state) {
    fx_t *fx = *state;
    int64_t now = ms_now_ms();
    ms_node_t live = node_at("host-a:8080", now + 60000);
    ms_node_t dead = node_at("host-b:8080", now - 1);
    assert_int_equal(ms_store_node_register(fx->st, &live), 0);
    assert_int_equal(ms_store_node_register(fx->st, &dead), 0);
    char conv[MS_ID_LEN], u1[MS_ID_LEN], a1[MS_ID_LEN], u2[MS_ID_LEN], a2[MS_ID_LEN];
    char u3[MS_ID_LEN], a3[MS_ID_LEN], u4[MS_ID_LEN], a4[MS_ID_LEN];
    new_conv(fx, &fx->alice, NULL, conv);
    ms_id_new(u1), ms_id_new(a1), ms_id_new(u2), ms_id_new(a2);
    ms_id_new(u3), ms_id_new(a3), ms_id_new(u4), ms_id_new(a4);
    assert_int_equal(ms_store_turn_begin(fx->st, conv, u1, a1, NULL, "q1", live.id), 0);
    assert_int_equal(ms_store_turn_begin(fx->st, conv, u2, a2, NULL, "q2", dead.id), 0);
    assert_int_equal(ms_store_turn_begin(fx->st, conv, u3, a3, NULL, "q3", NULL), 0);
    assert_int_equal(ms_store_turn_begin(fx->st, conv, u4, a4, NULL, "q4", dead.id), 0);
    assert_int_equal(
        ms_store_message_update(fx->st, a2, "partial ans", MS_MSG_STREAMING, NULL, NULL, NULL), 0);
    assert_int_equal(
        ms_store_message_update(fx->st, a4, "done", MS_MSG_COMPLETE, "stop", NULL, NULL), 0);
    int n = -1;
    assert_int_equal(ms_store_recover(fx->st, now, "DISCLAIMER", &n), 0);
    assert_int_equal(n, 2); /* the dead node's streaming one, and the one with no node */
    assert_string_equal(status_of(fx, a1), MS_MSG_STREAMING);
    assert_string_equal(status_of(fx, a4), MS_MSG_COMPLETE);
    json_t *m = NULL;
    assert_int_equal(ms_store_message_get(fx->st, a2, &m), 0);
    assert_string_equal(jstr(m, "status"), MS_MSG_INTERRUPTED);
    assert_string_equal(jstr(m, "content"), "partial ans\n\nDISCLAIMER");
    assert_string_equal(jstr(m, "finish_reason"), "interrupted");
    json_decref(m);
    assert_int_equal(ms_store_message_get(fx->st, a3, &m), 0);
    assert_string_equal(jstr(m, "content"), "DISCLAIMER"); /* nothing streamed yet */
    json_decref(m);
    /* The dead node's row is gone; renewing it now fails. */
    assert_int_equal(ms_store_node_renew(fx->st, dead.id, now + 60000), MS_ENOENT);
    assert_int_equal(ms_store_node_renew(fx->st, live.id, now + 60000), 0);
    /* Nothing left to do: a second recovery changes nothing. */
    assert_int_equal(ms_store_recover(fx->st, now, "DISCLAIMER", &n), 0);
    assert_int_equal(n, 0);
    /* The live node's lease runs out: then its message is recovered. */
    assert_int_equal(ms_store_recover(fx->st, now + 120000, NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(status_of(fx, a1), MS_MSG_INTERRUPTED);
}

/* A node that starts under the name of a node whose lease still runs is
 * that node's next life: the old lease ends at once, so its streaming
 * answers are recovered immediately instead of after the lease. Releasing
 * a lease (graceful shutdown) does the same for a node's own leftovers. */
static void test_node_takeover_and_release(void **state) {
    fx_t *fx = *state;
    int64_t now = ms_now_ms();
    ms_node_t old = node_at("host-a:8080", now + 60000);
    assert_int_equal(ms_store_node_register(fx->st, &old), 0);
    char conv[MS_ID_LEN], u[MS_ID_LEN], a[MS_ID_LEN];
    new_conv(fx, &fx->alice, NULL, conv);
    ms_id_new(u), ms_id_new(a);
    assert_int_equal(ms_store_turn_begin(fx->st, conv, u, a, NULL, "q", old.id), 0);
    int n = -1;
    assert_int_equal(ms_store_recover(fx->st, now, NULL, &n), 0);
    assert_int_equal(n, 0);
    ms_node_t next = node_at("host-a:8080", now + 60000);
    assert_int_equal(ms_store_node_register(fx->st, &next), 0);
    assert_int_equal(ms_store_recover(fx->st, now, NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ms_store_node_renew(fx->st, old.id, now + 60000), MS_ENOENT);

    ms_id_new(u), ms_id_new(a);
    assert_int_equal(ms_store_turn_begin(fx->st, conv, u, a, NULL, "q2", next.id), 0);
    assert_int_equal(ms_store_node_release(fx->st, next.id), 0);
    assert_int_equal(ms_store_recover(fx->st, now, NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(status_of(fx, a), MS_MSG_INTERRUPTED);
    assert_int_equal(ms_store_node_register(fx->st, &(ms_node_t){.name = "x"}), MS_EINVAL);
}

/* The database holds PHI: its file is created 0600, and an existing file
 * readable by others is tightened when opened. */
static void test_database_file_is_private(void **state) {
    fx_t *fx = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/medstream.db", fx->dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    ms_store_close(fx->st);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(ms_store_open(fx->dir, &fx->st), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

/* The integrity check passes on a sound file and names the problem on a
 * damaged one (a page of an index overwritten with garbage). */
static void test_integrity_check(void **state) {
    fx_t *fx = *state;
    char problem[256] = "";
    assert_int_equal(ms_store_check(fx->st, problem, sizeof problem), 0);
    /* Enough rows that the messages table spans many pages. */
    char conv[MS_ID_LEN], u[MS_ID_LEN], a[MS_ID_LEN];
    new_conv(fx, &fx->alice, NULL, conv);
    for (int i = 0; i < 300; i++) {
        ms_id_new(u), ms_id_new(a);
        assert_int_equal(ms_store_turn_begin(fx->st, conv, u, a, NULL,
                                             "a question long enough to fill the pages of the "
                                             "table and its indexes quickly, again and again",
                                             NULL),
                         0);
    }
    assert_int_equal(
        sqlite3_exec(ms_store_sqlite_db(fx->st), "PRAGMA wal_checkpoint(TRUNCATE)", 0, 0, 0),
        SQLITE_OK);
    ms_store_close(fx->st);
    fx->st = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/medstream.db", fx->dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    assert_true(size > 16L * 4096);
    /* Page 10 onwards: past the schema, inside table and index b-trees. */
    fseek(f, 10L * 4096, SEEK_SET);
    for (int i = 0; i < 4096 * 4; i++)
        fputc(0x5a, f);
    fclose(f);
    ms_store_t *st = NULL;
    int rc = ms_store_open(fx->dir, &st);
    if (rc == 0) {
        assert_int_equal(ms_store_check(st, problem, sizeof problem), MS_EIO);
        assert_true(problem[0] != '\0');
        assert_null(strchr(problem, '\n'));
        ms_store_close(st);
    } else {
        assert_int_equal(rc, MS_EIO); /* so damaged it does not even open */
    }
}

#define WRITER_TURNS 60

typedef struct {
    const char *dir;
    char conv[MS_ID_LEN];
    pthread_barrier_t *start;
    int failures;
} writer_t;

/* One worker thread with its own connection, as the server runs them. */
static void *writer_main(void *arg) {
    writer_t *w = arg;
    ms_store_t *st = NULL;
    if (ms_store_open(w->dir, &st) != 0) {
        w->failures = -1;
        return NULL;
    }
    pthread_barrier_wait(w->start);
    for (int i = 0; i < WRITER_TURNS; i++) {
        char uid[MS_ID_LEN], aid[MS_ID_LEN], cmid[32];
        ms_id_new(uid);
        ms_id_new(aid);
        snprintf(cmid, sizeof cmid, "c%d", i);
        if (ms_store_turn_begin(st, w->conv, uid, aid, cmid, "question", NULL) != 0)
            w->failures++;
        json_t *cits = json_pack("[{s:s}]", "title", "source");
        if (ms_store_message_update(st, aid, "partial", MS_MSG_STREAMING, NULL, NULL, NULL) != 0 ||
            ms_store_message_update(st, aid, "answer", MS_MSG_COMPLETE, "stop", NULL, cits) != 0)
            w->failures++;
        json_decref(cits);
    }
    ms_store_close(st);
    return NULL;
}

/* Search matches titles and message text, escapes LIKE's wildcards and
 * never returns another user's conversations. */
static void test_conversation_search(void **state) {
    fx_t *fx = *state;
    char a[MS_ID_LEN], b[MS_ID_LEN], c[MS_ID_LEN], uid[MS_ID_LEN], aid[MS_ID_LEN];
    json_t *r = NULL;
    new_conv(fx, &fx->alice, "Ward round 7B", a);
    new_conv(fx, &fx->alice, "Other", b);
    new_conv(fx, &fx->bob, "Ward round 7B", c);
    turn(fx, b, NULL, "Dose of 50%_strength saline?", uid, aid);
    assert_int_equal(ms_store_conversation_search(fx->st, fx->alice.id, "WARD", 10, 0, &r), 0);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(jstr(json_array_get(r, 0), "id"), a);
    json_decref(r);
    assert_int_equal(ms_store_conversation_search(fx->st, fx->alice.id, "50%_str", 10, 0, &r), 0);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(jstr(json_array_get(r, 0), "id"), b);
    json_decref(r);
    /* "%" alone is a literal percent sign, not "anything". */
    assert_int_equal(ms_store_conversation_search(fx->st, fx->alice.id, "0%", 10, 0, &r), 0);
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    assert_int_equal(ms_store_conversation_search(fx->st, fx->alice.id, "x_y", 10, 0, &r), 0);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    assert_int_equal(ms_store_conversation_search(fx->st, fx->alice.id, "", 10, 0, &r), MS_EINVAL);
}

/* Feedback: owner only, assistant messages only, replaced on a second put,
 * gone with its conversation. */
static void test_feedback(void **state) {
    fx_t *fx = *state;
    char a[MS_ID_LEN], uid[MS_ID_LEN], aid[MS_ID_LEN];
    json_t *f = NULL, *all = NULL;
    new_conv(fx, &fx->alice, "A", a);
    turn(fx, a, NULL, "q", uid, aid);
    assert_int_equal(ms_store_feedback_get(fx->st, fx->alice.id, aid, &f), MS_ENOENT);
    assert_int_equal(ms_store_feedback_put(fx->st, fx->alice.id, aid, -1, "missed it", &f), 0);
    assert_string_equal(jstr(f, "rating"), "down");
    assert_string_equal(jstr(f, "comment"), "missed it");
    json_decref(f);
    assert_int_equal(ms_store_feedback_put(fx->st, fx->alice.id, aid, 1, "", &f), 0);
    assert_string_equal(jstr(f, "rating"), "up");
    assert_true(json_is_null(json_object_get(f, "comment")));
    json_decref(f);
    assert_int_equal(ms_store_feedback_put(fx->st, fx->alice.id, aid, 0, NULL, NULL), MS_EINVAL);
    assert_int_equal(ms_store_feedback_put(fx->st, fx->alice.id, uid, 1, NULL, NULL), MS_EINVAL);
    assert_int_equal(ms_store_feedback_put(fx->st, fx->bob.id, aid, 1, NULL, NULL), MS_ENOENT);
    assert_int_equal(ms_store_feedback_get(fx->st, fx->bob.id, aid, &f), MS_ENOENT);
    assert_int_equal(ms_store_feedback_delete(fx->st, fx->bob.id, aid), MS_ENOENT);
    char *long_comment = malloc(MS_FEEDBACK_MAX_COMMENT_CHARS + 2);
    memset(long_comment, 'x', MS_FEEDBACK_MAX_COMMENT_CHARS + 1);
    long_comment[MS_FEEDBACK_MAX_COMMENT_CHARS + 1] = '\0';
    assert_int_equal(ms_store_feedback_put(fx->st, fx->alice.id, aid, 1, long_comment, NULL),
                     MS_EINVAL);
    free(long_comment);
    assert_int_equal(ms_store_feedback_by_conversation(fx->st, a, &all), 0);
    assert_int_equal(json_object_size(all), 1);
    assert_non_null(json_object_get(all, aid));
    json_decref(all);
    assert_int_equal(ms_store_conversation_delete(fx->st, fx->alice.id, a), 0);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM message_feedback"), 0);
}

static void test_two_threads_write_concurrently(void **state) {
    fx_t *fx = *state;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    writer_t w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].dir = fx->dir;
        w[i].start = &start;
        new_conv(fx, i ? &fx->bob : &fx->alice, NULL, w[i].conv);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    assert_int_equal(w[0].failures, 0);
    assert_int_equal(w[1].failures, 0);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM messages"), 2 * 2 * WRITER_TURNS);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM messages WHERE status='complete'"),
                     2 * 2 * WRITER_TURNS);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM citations"), 2 * WRITER_TURNS);
}

/* Clinical contexts: create, bind, current, update (patch), delete, and
 * every call scoped to the owner; deleting a context unbinds its
 * conversations. */
static void test_clinical_contexts(void **state) {
    fx_t *fx = *state;
    const char *a = fx->alice.id, *b = fx->bob.id;
    json_t *conv = NULL, *conv2 = NULL, *bobconv = NULL, *ctx = NULL, *got = NULL;
    assert_int_equal(ms_store_conversation_create(fx->st, a, "one", &conv), 0);
    assert_int_equal(ms_store_conversation_create(fx->st, a, "two", &conv2), 0);
    assert_int_equal(ms_store_conversation_create(fx->st, b, "bob's", &bobconv), 0);
    const char *c1 = json_string_value(json_object_get(conv, "id"));
    const char *c2 = json_string_value(json_object_get(conv2, "id"));
    const char *cb = json_string_value(json_object_get(bobconv, "id"));
    json_t *fields =
        json_pack("{s:i, s:s, s:[s], s:{s:s}}", "age", 70, "gender", "female", "allergies",
                  "Allergy to penicillin", "vitals", "blood_pressure", "150/95");
    /* Nothing yet. */
    assert_int_equal(ms_store_clinical_current(fx->st, a, NULL, &got), MS_ENOENT);
    assert_int_equal(ms_store_clinical_current(fx->st, a, c1, &got), MS_ENOENT);
    /* Bound to someone else's conversation: as if it did not exist. */
    assert_int_equal(ms_store_clinical_create(fx->st, a, fields, "manual", cb, &ctx), MS_ENOENT);
    assert_int_equal(ms_store_clinical_create(fx->st, a, fields, "nonsense", NULL, &ctx),
                     MS_EINVAL);
    assert_int_equal(ms_store_clinical_create(fx->st, a, fields, "manual", c1, &ctx), 0);
    const char *id = json_string_value(json_object_get(ctx, "id"));
    assert_true(ms_id_valid(id));
    assert_int_equal(json_integer_value(json_object_get(ctx, "age")), 70);
    assert_true(json_is_null(json_object_get(ctx, "weight_kg")));
    assert_string_equal(json_string_value(json_object_get(ctx, "source")), "manual");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ctx, "allergies"), 0)),
                        "Allergy to penicillin");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ctx, "vitals"), "blood_pressure")),
        "150/95");
    assert_int_equal(json_array_size(json_object_get(ctx, "problems")), 0);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(ctx, "conversation_ids"), 0)), c1);
    /* One context per conversation. */
    assert_int_equal(ms_store_clinical_create(fx->st, a, fields, "manual", c1, &got), MS_EEXIST);
    /* Bob sees none of it. */
    assert_int_equal(ms_store_clinical_get(fx->st, b, id, &got), MS_ENOENT);
    assert_int_equal(ms_store_clinical_current(fx->st, b, NULL, &got), MS_ENOENT);
    assert_int_equal(ms_store_clinical_current(fx->st, b, c1, &got), MS_ENOENT);
    assert_int_equal(ms_store_clinical_update(fx->st, b, id, fields, NULL, &got), MS_ENOENT);
    assert_int_equal(ms_store_clinical_bind(fx->st, b, cb, id), MS_ENOENT);
    assert_int_equal(ms_store_clinical_bind(fx->st, a, cb, id), MS_ENOENT);
    assert_int_equal(ms_store_clinical_delete(fx->st, b, id), MS_ENOENT);
    /* current: by conversation, and the latest. */
    assert_int_equal(ms_store_clinical_current(fx->st, a, c1, &got), 0);
    assert_string_equal(json_string_value(json_object_get(got, "id")), id);
    json_decref(got);
    assert_int_equal(ms_store_clinical_current(fx->st, a, NULL, &got), 0);
    assert_string_equal(json_string_value(json_object_get(got, "id")), id);
    json_decref(got);
    /* A second conversation about the same patient. */
    assert_int_equal(ms_store_clinical_bind(fx->st, a, c2, id), 0);
    assert_int_equal(ms_store_clinical_bind(fx->st, a, c2, id), 0); /* idempotent */
    assert_int_equal(ms_store_clinical_get(fx->st, a, id, &got), 0);
    assert_int_equal(json_array_size(json_object_get(got, "conversation_ids")), 2);
    json_decref(got);
    /* A patch replaces what it names and keeps the rest. */
    json_t *patch = json_pack("{s:f, s:n, s:[s, s]}", "weight_kg", 61.5, "gender", "problems",
                              "Asthma", "Gout");
    assert_int_equal(ms_store_clinical_update(fx->st, a, id, patch, "fhir", &got), 0);
    assert_true(json_real_value(json_object_get(got, "weight_kg")) == 61.5);
    assert_true(json_is_null(json_object_get(got, "gender")));
    assert_int_equal(json_integer_value(json_object_get(got, "age")), 70);
    assert_int_equal(json_array_size(json_object_get(got, "problems")), 2);
    assert_int_equal(json_array_size(json_object_get(got, "allergies")), 1);
    assert_string_equal(json_string_value(json_object_get(got, "source")), "fhir");
    json_decref(got);
    json_decref(patch);
    /* Deleting it unbinds both conversations, which stay. */
    assert_int_equal(ms_store_clinical_delete(fx->st, a, id), 0);
    assert_int_equal(ms_store_clinical_get(fx->st, a, id, &got), MS_ENOENT);
    assert_int_equal(ms_store_clinical_current(fx->st, a, c1, &got), MS_ENOENT);
    assert_int_equal(ms_store_conversation_get(fx->st, a, c2, &got), 0);
    json_decref(got);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM conversations WHERE "
                                       "clinical_context_id IS NOT NULL"),
                     0);
    /* Now c1 may have a new one. */
    assert_int_equal(ms_store_clinical_create(fx->st, a, fields, "manual", c1, &got), 0);
    json_decref(got);
    json_decref(fields);
    json_decref(ctx);
    json_decref(conv);
    json_decref(conv2);
    json_decref(bobconv);
}

/* API keys: stored by hash, looked up, listed without the hash, revoked
 * (once; the first time stays), gone with their user. */
static void test_apikeys(void **state) {
    fx_t *fx = *state;
    static const char HA[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char HB[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    json_t *k = NULL, *list = NULL;
    assert_int_equal(ms_store_apikey_create(fx->st, fx->alice.id, "app", HA, "msk-abcdefgh", &k),
                     0);
    char id[MS_ID_LEN];
    snprintf(id, sizeof id, "%s", jstr(k, "id"));
    json_decref(k);
    assert_int_equal(ms_store_apikey_create(fx->st, fx->bob.id, NULL, HB, "msk-bbbbbbbb", NULL), 0);
    /* Bad arguments and a second key with the same hash are refused. */
    assert_int_equal(ms_store_apikey_create(fx->st, fx->alice.id, NULL, HA, "p", NULL), MS_EEXIST);
    assert_int_equal(ms_store_apikey_create(fx->st, fx->alice.id, NULL, "nothex", "p", NULL),
                     MS_EINVAL);
    assert_int_equal(
        ms_store_apikey_create(fx->st, "00000000-0000-4000-8000-000000000000", NULL,
                               "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
                               "p", NULL),
        MS_ENOENT);
    ms_apikey_t got;
    assert_int_equal(ms_store_apikey_lookup(fx->st, HA, &got), 0);
    assert_string_equal(got.user_id, fx->alice.id);
    assert_string_equal(got.id, id);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(ms_store_apikey_lookup(fx->st, "nothex", &got), MS_ENOENT);
    assert_int_equal(ms_store_apikey_list(fx->st, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0);
    if (strcmp(jstr(first, "email"), "alice@example.com") != 0)
        first = json_array_get(list, 1); /* created in the same millisecond */
    assert_string_equal(jstr(first, "email"), "alice@example.com");
    assert_string_equal(jstr(first, "name"), "app");
    assert_null(json_object_get(first, "key_hash"));
    assert_true(json_is_null(json_object_get(first, "revoked_at")));
    json_decref(list);
    assert_int_equal(ms_store_apikey_revoke(fx->st, id, 1000), 0);
    assert_int_equal(ms_store_apikey_revoke(fx->st, id, 2000), 0);
    assert_int_equal(ms_store_apikey_lookup(fx->st, HA, &got), 0);
    assert_int_equal(got.revoked_at, 1000);
    assert_int_equal(ms_store_apikey_revoke(fx->st, "00000000-0000-4000-8000-000000000000", 1),
                     MS_ENOENT);
    assert_int_equal(ms_store_user_delete(fx->st, "bob@example.com", NULL), 0);
    assert_int_equal(ms_store_apikey_lookup(fx->st, HB, &got), MS_ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_workflow_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema_and_bad_dir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_user_create_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_rotation_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversation_crud_and_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turn_begin_and_client_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_update_citations_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_tools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_order_and_recent_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_respects_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_takeover_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_file_is_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integrity_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_threads_write_concurrently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversation_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feedback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clinical_contexts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apikeys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
