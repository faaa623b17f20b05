/* Unit tests of the store's folders and share links (store.h), each on a
 * fresh data directory. The concurrency tests open a second connection on
 * the same file, as a second gateway process would. */
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
#include <unistd.h>

typedef struct {
    char dir[64];
    ms_store_t *st;
    ms_user_t alice, bob;
} fx_t;

static const ms_folder_limits_t LIM = {.max_depth = 64, .max_per_user = 1000};

static void rm_rf(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
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

static int setup(void **state) {
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/ms-test-folders-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(ms_store_open(fx->dir, &fx->st), 0);
    assert_int_equal(
        ms_store_user_create(fx->st, "alice@example.com", "$argon2id$x", "clinician", &fx->alice),
        0);
    assert_int_equal(
        ms_store_user_create(fx->st, "bob@example.com", "$argon2id$y", "clinician", &fx->bob), 0);
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

static const char *jstr(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

/* Creates a folder (parent NULL: top level) and copies its id; returns the
 * store's result so a test can also expect a refusal. */
static int mkfolder(ms_store_t *st, const ms_user_t *u, const char *name, const char *parent,
                    const ms_folder_limits_t *lim, char id[MS_ID_LEN]) {
    ms_folder_fields_t f = {.name = name, .parent_id = parent};
    json_t *o = NULL;
    int rc = ms_store_folder_create(st, u->id, &f, lim ? lim : &LIM, &o);
    if (rc == 0 && id)
        snprintf(id, MS_ID_LEN, "%s", jstr(o, "id"));
    json_decref(o);
    return rc;
}

static int move(ms_store_t *st, const ms_user_t *u, const char *id, const char *parent,
                const ms_folder_limits_t *lim) {
    ms_folder_fields_t f = {.set_parent = 1, .parent_id = parent};
    return ms_store_folder_update(st, u->id, id, &f, lim ? lim : &LIM, NULL);
}

/* The parent id of folder id ("" at the top level). */
static void parent_of(fx_t *fx, const char *id, char out[MS_ID_LEN]) {
    json_t *o = NULL;
    assert_int_equal(ms_store_folder_get(fx->st, fx->alice.id, id, &o), 0);
    const char *p = jstr(o, "parent_folder_id");
    snprintf(out, MS_ID_LEN, "%s", p ? p : "");
    json_decref(o);
}

static void new_conv(fx_t *fx, const ms_user_t *u, char id[MS_ID_LEN]) {
    json_t *c = NULL;
    assert_int_equal(ms_store_conversation_create(fx->st, u->id, "c", &c), 0);
    snprintf(id, MS_ID_LEN, "%s", jstr(c, "id"));
    json_decref(c);
}

/* ---- folders ------------------------------------------------------------- */

static void test_folder_field_rules(void **state) {
    (void)state;
    assert_true(ms_folder_name_valid("Cardiology"));
    assert_true(ms_folder_name_valid("  Ménière  "));
    assert_false(ms_folder_name_valid(""));
    assert_false(ms_folder_name_valid("   "));
    assert_false(ms_folder_name_valid("a\tb"));
    assert_false(ms_folder_name_valid("bad\xff"));
    char name[202];
    memset(name, 'x', 100);
    name[100] = '\0';
    assert_true(ms_folder_name_valid(name));
    snprintf(name + 100, sizeof name - 100, "y");
    assert_false(ms_folder_name_valid(name));
    assert_true(ms_folder_color_valid("#abc"));
    assert_true(ms_folder_color_valid("#A0b1C2"));
    assert_false(ms_folder_color_valid("abc"));
    assert_false(ms_folder_color_valid("#abcd"));
    assert_false(ms_folder_color_valid("#ggg"));
    assert_false(ms_folder_color_valid("red"));
    assert_true(ms_folder_icon_valid("folder"));
    assert_true(ms_folder_icon_valid("heart-pulse"));
    assert_true(ms_folder_icon_valid("folder_open"));
    assert_false(ms_folder_icon_valid("-x"));
    assert_false(ms_folder_icon_valid("Folder"));
    assert_false(ms_folder_icon_valid("a b"));
    assert_false(ms_folder_icon_valid(""));
    assert_false(ms_folder_icon_valid("abcdefghijklmnopqrstuvwxyz0123456"));
}

static void test_folder_create_and_unique_names(void **state) {
    fx_t *fx = *state;
    char a[MS_ID_LEN], b[MS_ID_LEN], c[MS_ID_LEN];
    ms_folder_fields_t f = {.name = "  Cardiology ", .color = "#AbC", .icon = "heart"};
    json_t *o = NULL;
    assert_int_equal(ms_store_folder_create(fx->st, fx->alice.id, &f, &LIM, &o), 0);
    assert_string_equal(jstr(o, "name"), "Cardiology");
    assert_string_equal(jstr(o, "color"), "#abc");
    assert_string_equal(jstr(o, "icon"), "heart");
    assert_true(json_is_null(json_object_get(o, "parent_folder_id")));
    assert_int_equal(json_integer_value(json_object_get(o, "conversation_count")), 0);
    snprintf(a, sizeof a, "%s", jstr(o, "id"));
    json_decref(o);
    /* Top-level names are unique although their parent is NULL, with
     * ASCII case folded; another user has a namespace of their own. */
    assert_int_equal(mkfolder(fx->st, &fx->alice, "cardiology", NULL, NULL, NULL), MS_EEXIST);
    assert_int_equal(mkfolder(fx->st, &fx->bob, "Cardiology", NULL, NULL, NULL), 0);
    /* The same name under a parent is fine, once. */
    assert_int_equal(mkfolder(fx->st, &fx->alice, "Cardiology", a, NULL, b), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "CARDIOLOGY", a, NULL, NULL), MS_EEXIST);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "Arrhythmia", a, NULL, c), 0);
    /* Renaming into a sibling's name is refused too. */
    ms_folder_fields_t rn = {.set_name = 1, .name = "cardiology"};
    assert_int_equal(ms_store_folder_update(fx->st, fx->alice.id, c, &rn, &LIM, NULL), MS_EEXIST);
    /* Bad fields. */
    ms_folder_fields_t bad = {.name = "x", .color = "blue"};
    assert_int_equal(ms_store_folder_create(fx->st, fx->alice.id, &bad, &LIM, NULL), MS_EINVAL);
    bad.color = NULL;
    bad.icon = "Bad Icon";
    assert_int_equal(ms_store_folder_create(fx->st, fx->alice.id, &bad, &LIM, NULL), MS_EINVAL);
    /* Lists are by name; the parent's count of children shows in the tree. */
    json_t *list = NULL;
    assert_int_equal(ms_store_folder_list(fx->st, fx->alice.id, a, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(jstr(json_array_get(list, 0), "name"), "Arrhythmia");
    json_decref(list);
    assert_int_equal(ms_store_folder_list(fx->st, fx->alice.id, NULL, &list), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
}

static void test_folder_ownership(void **state) {
    fx_t *fx = *state;
    char a[MS_ID_LEN], mine[MS_ID_LEN], conv[MS_ID_LEN];
    assert_int_equal(mkfolder(fx->st, &fx->alice, "A", NULL, NULL, a), 0);
    assert_int_equal(mkfolder(fx->st, &fx->bob, "Mine", NULL, NULL, mine), 0);
    json_t *o = NULL;
    assert_int_equal(ms_store_folder_get(fx->st, fx->bob.id, a, &o), MS_ENOENT);
    assert_null(o);
    assert_int_equal(ms_store_folder_list(fx->st, fx->bob.id, a, &o), MS_ENOENT);
    assert_int_equal(mkfolder(fx->st, &fx->bob, "child", a, NULL, NULL), MS_ENOENT);
    ms_folder_fields_t rn = {.set_name = 1, .name = "pwned"};
    assert_int_equal(ms_store_folder_update(fx->st, fx->bob.id, a, &rn, &LIM, NULL), MS_ENOENT);
    /* Bob cannot move his folder under Alice's, nor file into it. */
    assert_int_equal(move(fx->st, &fx->bob, mine, a, NULL), MS_ENOENT);
    new_conv(fx, &fx->bob, conv);
    assert_int_equal(ms_store_conversation_set_folder(fx->st, fx->bob.id, conv, a, NULL),
                     MS_ENOENT);
    assert_int_equal(ms_store_conversation_list_folder(fx->st, fx->bob.id, a, NULL, 50, 0, &o),
                     MS_ENOENT);
    assert_int_equal(ms_store_folder_delete(fx->st, fx->bob.id, a), MS_ENOENT);
    assert_int_equal(ms_store_folder_get(fx->st, fx->alice.id, a, &o), 0);
    assert_string_equal(jstr(o, "name"), "A");
    json_decref(o);
    json_t *tree = NULL;
    assert_int_equal(ms_store_folder_tree(fx->st, fx->bob.id, &tree), 0);
    assert_int_equal(json_array_size(tree), 1);
    assert_string_equal(jstr(json_array_get(tree, 0), "name"), "Mine");
    json_decref(tree);
}

/* a > b > c: c and b are a's descendants, so a cannot move under them nor
 * under itself; each refusal leaves the tree as it was. */
static void test_folder_cycles_are_refused(void **state) {
    fx_t *fx = *state;
    char a[MS_ID_LEN], b[MS_ID_LEN], c[MS_ID_LEN], d[MS_ID_LEN], p[MS_ID_LEN];
    assert_int_equal(mkfolder(fx->st, &fx->alice, "a", NULL, NULL, a), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "b", a, NULL, b), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "c", b, NULL, c), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "d", NULL, NULL, d), 0);
    assert_int_equal(move(fx->st, &fx->alice, a, a, NULL), MS_EINVAL);
    assert_int_equal(move(fx->st, &fx->alice, a, b, NULL), MS_EINVAL);
    assert_int_equal(move(fx->st, &fx->alice, a, c, NULL), MS_EINVAL);
    assert_int_equal(move(fx->st, &fx->alice, b, c, NULL), MS_EINVAL);
    parent_of(fx, a, p);
    assert_string_equal(p, "");
    parent_of(fx, b, p);
    assert_string_equal(p, a);
    /* Moves that close no cycle go through: under a sibling, back to the
     * top, and a move to where it already is. */
    assert_int_equal(move(fx->st, &fx->alice, a, d, NULL), 0);
    parent_of(fx, a, p);
    assert_string_equal(p, d);
    assert_int_equal(move(fx->st, &fx->alice, d, c, NULL), MS_EINVAL); /* c is now under d */
    assert_int_equal(move(fx->st, &fx->alice, c, NULL, NULL), 0);
    assert_int_equal(move(fx->st, &fx->alice, c, NULL, NULL), 0);
    assert_int_equal(move(fx->st, &fx->alice, d, c, NULL), 0);
    json_t *tree = NULL;
    assert_int_equal(ms_store_folder_tree(fx->st, fx->alice.id, &tree), 0);
    /* c > d > a > b */
    assert_int_equal(json_array_size(tree), 1);
    json_t *n = json_array_get(tree, 0);
    const char *want[] = {"c", "d", "a", "b"};
    for (int i = 0; i < 4; i++) {
        assert_non_null(n);
        assert_string_equal(jstr(n, "name"), want[i]);
        json_t *kids = json_object_get(n, "children");
        assert_int_equal(json_array_size(kids), i < 3 ? 1 : 0);
        n = json_array_get(kids, 0);
    }
    json_decref(tree);
}

static void test_folder_depth_and_count_limits(void **state) {
    fx_t *fx = *state;
    ms_folder_limits_t lim = {.max_depth = 3, .max_per_user = 5};
    char l1[MS_ID_LEN], l2[MS_ID_LEN], l3[MS_ID_LEN], x[MS_ID_LEN], y[MS_ID_LEN];
    assert_int_equal(mkfolder(fx->st, &fx->alice, "1", NULL, &lim, l1), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "2", l1, &lim, l2), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "3", l2, &lim, l3), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "4", l3, &lim, NULL), MS_ETOOBIG);
    /* x > y (height 1) fits under l1 (depth 1 -> 3) but not under l2. */
    assert_int_equal(mkfolder(fx->st, &fx->alice, "x", NULL, &lim, x), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "y", x, &lim, y), 0);
    assert_int_equal(move(fx->st, &fx->alice, x, l2, &lim), MS_ETOOBIG);
    assert_int_equal(move(fx->st, &fx->alice, x, l1, &lim), 0);
    assert_int_equal(move(fx->st, &fx->alice, x, NULL, &lim), 0);
    /* Five folders now (the refused one was not made): a sixth is refused,
     * for Alice only. */
    assert_int_equal(mkfolder(fx->st, &fx->alice, "6", NULL, &lim, NULL), MS_ETOOBIG);
    assert_int_equal(mkfolder(fx->st, &fx->bob, "6", NULL, &lim, NULL), 0);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM folders"), 6);
}

static void test_folder_delete_moves_children_up(void **state) {
    fx_t *fx = *state;
    char top[MS_ID_LEN], mid[MS_ID_LEN], k1[MS_ID_LEN], k2[MS_ID_LEN], other[MS_ID_LEN];
    char conv[MS_ID_LEN], p[MS_ID_LEN];
    assert_int_equal(mkfolder(fx->st, &fx->alice, "top", NULL, NULL, top), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "mid", top, NULL, mid), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "k1", mid, NULL, k1), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "k2", mid, NULL, k2), 0);
    new_conv(fx, &fx->alice, conv);
    json_t *c = NULL;
    assert_int_equal(ms_store_conversation_set_folder(fx->st, fx->alice.id, conv, mid, &c), 0);
    assert_string_equal(jstr(c, "folder_id"), mid);
    json_decref(c);
    /* A clash at the parent refuses the whole delete. */
    assert_int_equal(mkfolder(fx->st, &fx->alice, "K1", top, NULL, other), 0);
    assert_int_equal(ms_store_folder_delete(fx->st, fx->alice.id, mid), MS_EEXIST);
    parent_of(fx, k1, p);
    assert_string_equal(p, mid);
    assert_int_equal(ms_store_conversation_get(fx->st, fx->alice.id, conv, &c), 0);
    assert_string_equal(jstr(c, "folder_id"), mid);
    json_decref(c);
    assert_int_equal(ms_store_folder_delete(fx->st, fx->alice.id, other), 0);
    assert_int_equal(ms_store_folder_delete(fx->st, fx->alice.id, mid), 0);
    parent_of(fx, k1, p);
    assert_string_equal(p, top);
    parent_of(fx, k2, p);
    assert_string_equal(p, top);
    assert_int_equal(ms_store_conversation_get(fx->st, fx->alice.id, conv, &c), 0);
    assert_string_equal(jstr(c, "folder_id"), top);
    json_decref(c);
    /* The top level's children go to the top level; conversations unfiled. */
    assert_int_equal(ms_store_folder_delete(fx->st, fx->alice.id, top), 0);
    parent_of(fx, k1, p);
    assert_string_equal(p, "");
    assert_int_equal(ms_store_conversation_get(fx->st, fx->alice.id, conv, &c), 0);
    assert_true(json_is_null(json_object_get(c, "folder_id")));
    json_decref(c);
    assert_int_equal(ms_store_folder_delete(fx->st, fx->alice.id, top), MS_ENOENT);
}

static void test_conversations_by_folder(void **state) {
    fx_t *fx = *state;
    char f[MS_ID_LEN], c1[MS_ID_LEN], c2[MS_ID_LEN], c3[MS_ID_LEN];
    assert_int_equal(mkfolder(fx->st, &fx->alice, "F", NULL, NULL, f), 0);
    new_conv(fx, &fx->alice, c1);
    new_conv(fx, &fx->alice, c2);
    new_conv(fx, &fx->bob, c3);
    json_t *before = NULL, *after = NULL;
    assert_int_equal(ms_store_conversation_get(fx->st, fx->alice.id, c1, &before), 0);
    assert_int_equal(ms_store_conversation_set_folder(fx->st, fx->alice.id, c1, f, &after), 0);
    /* Filing is not activity: updated_at stays. */
    assert_string_equal(jstr(before, "updated_at"), jstr(after, "updated_at"));
    json_decref(before);
    json_decref(after);
    assert_int_equal(ms_store_conversation_set_folder(fx->st, fx->bob.id, c1, NULL, NULL),
                     MS_EPERM);
    json_t *list = NULL;
    assert_int_equal(ms_store_conversation_list_folder(fx->st, fx->alice.id, f, NULL, 50, 0, &list),
                     0);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(jstr(json_array_get(list, 0), "id"), c1);
    json_decref(list);
    assert_int_equal(
        ms_store_conversation_list_folder(fx->st, fx->alice.id, NULL, NULL, 50, 0, &list), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(jstr(json_array_get(list, 0), "id"), c2);
    json_decref(list);
    /* With a text filter too (title "c"). */
    assert_int_equal(ms_store_conversation_list_folder(fx->st, fx->alice.id, f, "C", 50, 0, &list),
                     0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(
        ms_store_conversation_list_folder(fx->st, fx->alice.id, f, "zzz", 50, 0, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    json_t *fo = NULL;
    assert_int_equal(ms_store_folder_get(fx->st, fx->alice.id, f, &fo), 0);
    assert_int_equal(json_integer_value(json_object_get(fo, "conversation_count")), 1);
    json_decref(fo);
    assert_int_equal(ms_store_conversation_set_folder(fx->st, fx->alice.id, c1, NULL, NULL), 0);
    assert_int_equal(ms_store_folder_get(fx->st, fx->alice.id, f, &fo), 0);
    assert_int_equal(json_integer_value(json_object_get(fo, "conversation_count")), 0);
    json_decref(fo);
}

/* Two connections (two gateways on one database) move a under b and b
 * under a at the same moment, again and again. Each check-and-move is one
 * transaction, so one of each pair is refused and the tree never holds a
 * cycle: from every folder, walking up ends at the top level. */
#define RACE_ROUNDS 60

typedef struct {
    const char *dir, *user, *self, *target;
    pthread_barrier_t *barrier;
    int moved, refused, failed;
} racer_t;

static void *racer_main(void *arg) {
    racer_t *r = arg;
    ms_store_t *st = NULL;
    if (ms_store_open(r->dir, &st) != 0) {
        r->failed = RACE_ROUNDS;
        return NULL;
    }
    for (int i = 0; i < RACE_ROUNDS; i++) {
        pthread_barrier_wait(r->barrier);
        ms_folder_fields_t f = {.set_parent = 1, .parent_id = r->target};
        int rc = ms_store_folder_update(st, r->user, r->self, &f, &LIM, NULL);
        if (rc == 0)
            r->moved++;
        else if (rc == MS_EINVAL)
            r->refused++;
        else
            r->failed++;
        pthread_barrier_wait(r->barrier);
        /* Between rounds one thread puts both back at the top level. */
        if (r->target && strcmp(r->self, r->target) < 0) {
            ms_folder_fields_t top = {.set_parent = 1};
            ms_store_folder_update(st, r->user, r->self, &top, &LIM, NULL);
            ms_store_folder_update(st, r->user, r->target, &top, &LIM, NULL);
        }
        pthread_barrier_wait(r->barrier);
    }
    ms_store_close(st);
    return NULL;
}

static void test_concurrent_moves_never_make_a_cycle(void **state) {
    fx_t *fx = *state;
    char a[MS_ID_LEN], b[MS_ID_LEN];
    assert_int_equal(mkfolder(fx->st, &fx->alice, "a", NULL, NULL, a), 0);
    assert_int_equal(mkfolder(fx->st, &fx->alice, "b", NULL, NULL, b), 0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    racer_t r[2] = {{fx->dir, fx->alice.id, a, b, &barrier, 0, 0, 0},
                    {fx->dir, fx->alice.id, b, a, &barrier, 0, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(r[0].failed + r[1].failed, 0);
    /* Every round: exactly one move went through and one was refused. */
    assert_int_equal(r[0].moved + r[1].moved, RACE_ROUNDS);
    assert_int_equal(r[0].refused + r[1].refused, RACE_ROUNDS);
    /* And the end state has a root (the tree is still a tree). */
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM folders WHERE parent_id IS NULL"), 2);
}

/* ---- share links ------------------------------------------------------------ */

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void share(fx_t *fx, const char *conv, const char *hash, const char *pw, int64_t expires,
                  int64_t max_views, char id[MS_ID_LEN]) {
    json_t *o = NULL;
    assert_int_equal(
        ms_store_share_create(fx->st, fx->alice.id, conv, hash, pw, expires, max_views, 50, &o), 0);
    snprintf(id, MS_ID_LEN, "%s", jstr(o, "id"));
    json_decref(o);
}

static const char *record(fx_t *fx, const char *id, int64_t now, const char *outcome) {
    const char *res = NULL;
    assert_int_equal(ms_store_share_record(fx->st, id, now, "127.0.0.9", outcome, 1000, &res), 0);
    return res;
}

static void test_share_create_lookup_and_states(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], id[MS_ID_LEN];
    new_conv(fx, &fx->alice, conv);
    int64_t now = ms_now_ms(), exp = now + 60000;
    json_t *o = NULL;
    assert_int_equal(
        ms_store_share_create(fx->st, fx->alice.id, conv, HASH_A, "$argon2id$pw", exp, 2, 50, &o),
        0);
    assert_string_equal(jstr(o, "state"), "active");
    assert_true(json_is_true(json_object_get(o, "password_protected")));
    assert_int_equal(json_integer_value(json_object_get(o, "max_views")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "views_remaining")), 2);
    assert_true(json_is_null(json_object_get(o, "last_access_at")));
    snprintf(id, sizeof id, "%s", jstr(o, "id"));
    json_decref(o);
    /* Bad arguments; another user's or an absent conversation. */
    assert_int_equal(
        ms_store_share_create(fx->st, fx->alice.id, conv, "nothex", NULL, exp, 0, 50, NULL),
        MS_EINVAL);
    assert_int_equal(
        ms_store_share_create(fx->st, fx->alice.id, conv, HASH_B, NULL, exp, -1, 50, NULL),
        MS_EINVAL);
    assert_int_equal(
        ms_store_share_create(fx->st, fx->bob.id, conv, HASH_B, NULL, exp, 0, 50, NULL), MS_EPERM);
    assert_int_equal(ms_store_share_create(fx->st, fx->alice.id,
                                           "00000000-0000-4000-8000-000000000000", HASH_B, NULL,
                                           exp, 0, 50, NULL),
                     MS_ENOENT);
    ms_share_t sh;
    assert_int_equal(ms_store_share_lookup(fx->st, HASH_B, &sh), MS_ENOENT);
    assert_int_equal(ms_store_share_lookup(fx->st, HASH_A, &sh), 0);
    assert_string_equal(sh.id, id);
    assert_string_equal(sh.conversation_id, conv);
    assert_string_equal(sh.owner_id, fx->alice.id);
    assert_string_equal(sh.password_hash, "$argon2id$pw");
    assert_int_equal(sh.expires_at, exp);
    assert_null(ms_share_ended(&sh, now));
    assert_string_equal(ms_share_ended(&sh, exp), MS_SHARE_EXPIRED);
    /* Views count up to the cap, then the view is recorded as refused. */
    assert_string_equal(record(fx, id, now, MS_SHARE_VIEWED), MS_SHARE_VIEWED);
    assert_string_equal(record(fx, id, now, MS_SHARE_WRONG_PASSWORD), MS_SHARE_WRONG_PASSWORD);
    assert_string_equal(record(fx, id, now, MS_SHARE_VIEWED), MS_SHARE_VIEWED);
    assert_string_equal(record(fx, id, now, MS_SHARE_VIEWED), MS_SHARE_VIEW_LIMIT);
    assert_int_equal(ms_store_share_lookup(fx->st, HASH_A, &sh), 0);
    assert_int_equal(sh.view_count, 2);
    assert_string_equal(ms_share_ended(&sh, now), MS_SHARE_VIEW_LIMIT);
    json_t *list = NULL;
    assert_int_equal(ms_store_share_list(fx->st, fx->alice.id, conv, now, &list), 0);
    json_t *s0 = json_array_get(list, 0);
    assert_string_equal(jstr(s0, "state"), "view_limit");
    assert_int_equal(json_integer_value(json_object_get(s0, "view_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(s0, "denied_count")), 2);
    assert_true(json_is_string(json_object_get(s0, "last_access_at")));
    json_decref(list);
    assert_int_equal(ms_store_share_list(fx->st, fx->bob.id, conv, now, &list), MS_EPERM);
    assert_int_equal(ms_store_share_record(fx->st, id, now, "x", "peeked", 10, NULL), MS_EINVAL);
}

static void test_share_expiry_and_revoke(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], a[MS_ID_LEN], b[MS_ID_LEN];
    new_conv(fx, &fx->alice, conv);
    int64_t now = ms_now_ms();
    share(fx, conv, HASH_A, NULL, now + 1000, 0, a);
    share(fx, conv, HASH_B, NULL, now + 60000, 0, b);
    /* The clock is the caller's: at expires_at the link is over. */
    assert_string_equal(record(fx, a, now + 999, MS_SHARE_VIEWED), MS_SHARE_VIEWED);
    assert_string_equal(record(fx, a, now + 1000, MS_SHARE_VIEWED), MS_SHARE_EXPIRED);
    /* Revoke by token hash and by id; twice is fine; others cannot. */
    assert_int_equal(ms_store_share_revoke(fx->st, fx->bob.id, conv, b, now), MS_EPERM);
    assert_int_equal(ms_store_share_revoke(fx->st, fx->alice.id, conv, HASH_B, now), 0);
    assert_int_equal(ms_store_share_revoke(fx->st, fx->alice.id, conv, b, now + 5), 0);
    assert_int_equal(ms_store_share_revoke(fx->st, fx->alice.id, conv, "nope", now), MS_ENOENT);
    ms_share_t sh;
    assert_int_equal(ms_store_share_lookup(fx->st, HASH_B, &sh), 0);
    assert_int_equal(sh.revoked_at, now); /* the first revocation's time stays */
    assert_string_equal(record(fx, b, now, MS_SHARE_VIEWED), MS_SHARE_REVOKED);
    /* Revoked outranks expired. */
    assert_int_equal(ms_store_share_revoke(fx->st, fx->alice.id, conv, a, now), 0);
    assert_string_equal(record(fx, a, now + 5000, MS_SHARE_VIEWED), MS_SHARE_REVOKED);
    json_t *log = NULL;
    assert_int_equal(ms_store_share_accesses(fx->st, fx->alice.id, conv, a, 10, &log), 0);
    assert_int_equal(json_array_size(log), 3);
    assert_string_equal(jstr(json_array_get(log, 0), "outcome"), "revoked");
    assert_string_equal(jstr(json_array_get(log, 2), "outcome"), "viewed");
    assert_string_equal(jstr(json_array_get(log, 0), "client_address"), "127.0.0.9");
    json_decref(log);
    assert_int_equal(ms_store_share_accesses(fx->st, fx->bob.id, conv, a, 10, &log), MS_EPERM);
    /* The conversation's deletion takes its links and their logs. */
    assert_int_equal(ms_store_conversation_delete(fx->st, fx->alice.id, conv), 0);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM conversation_shares"), 0);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM share_accesses"), 0);
}

static void test_share_log_and_link_limits(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], id[MS_ID_LEN];
    new_conv(fx, &fx->alice, conv);
    int64_t now = ms_now_ms();
    share(fx, conv, HASH_A, NULL, now + 60000, 0, id);
    for (int i = 0; i < 12; i++)
        assert_int_equal(
            ms_store_share_record(fx->st, id, now + i, "10.0.0.1", MS_SHARE_VIEWED, 5, NULL), 0);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM share_accesses"), 5);
    json_t *log = NULL;
    assert_int_equal(ms_store_share_accesses(fx->st, fx->alice.id, conv, id, 1000, &log), 0);
    assert_int_equal(json_array_size(log), 5);
    json_decref(log);
    ms_share_t sh;
    assert_int_equal(ms_store_share_lookup(fx->st, HASH_A, &sh), 0);
    assert_int_equal(sh.view_count, 12); /* counts are kept whole */
    /* At most 2 links: a third is refused while both still open, and takes
     * the place of an ended one otherwise. */
    char h[65];
    memset(h, 'c', 64);
    h[64] = '\0';
    assert_int_equal(
        ms_store_share_create(fx->st, fx->alice.id, conv, HASH_B, NULL, now + 60000, 0, 2, NULL),
        0);
    assert_int_equal(
        ms_store_share_create(fx->st, fx->alice.id, conv, h, NULL, now + 60000, 0, 2, NULL),
        MS_ETOOBIG);
    assert_int_equal(ms_store_share_revoke(fx->st, fx->alice.id, conv, HASH_A, now), 0);
    assert_int_equal(
        ms_store_share_create(fx->st, fx->alice.id, conv, h, NULL, now + 60000, 0, 2, NULL), 0);
    assert_int_equal(ms_store_share_lookup(fx->st, HASH_A, &sh), MS_ENOENT);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM conversation_shares"), 2);
    assert_int_equal(query_int(fx->st, "SELECT count(*) FROM share_accesses"), 0);
}

/* Two connections record views of one link capped at CAP views, racing:
 * exactly CAP are counted, whatever the interleaving. */
#define CAP 40

typedef struct {
    const char *dir, *id;
    int viewed, refused, failed;
} viewer_t;

static void *viewer_main(void *arg) {
    viewer_t *v = arg;
    ms_store_t *st = NULL;
    if (ms_store_open(v->dir, &st) != 0) {
        v->failed = 1;
        return NULL;
    }
    for (int i = 0; i < CAP; i++) {
        const char *res = NULL;
        int rc =
            ms_store_share_record(st, v->id, ms_now_ms(), "127.0.0.1", MS_SHARE_VIEWED, 1000, &res);
        if (rc == 0 && strcmp(res, MS_SHARE_VIEWED) == 0)
            v->viewed++;
        else if (rc == 0 && strcmp(res, MS_SHARE_VIEW_LIMIT) == 0)
            v->refused++;
        else
            v->failed++;
    }
    ms_store_close(st);
    return NULL;
}

static void test_view_cap_holds_across_connections(void **state) {
    fx_t *fx = *state;
    char conv[MS_ID_LEN], id[MS_ID_LEN];
    new_conv(fx, &fx->alice, conv);
    share(fx, conv, HASH_A, NULL, ms_now_ms() + 600000, CAP, id);
    viewer_t v[2] = {{fx->dir, id, 0, 0, 0}, {fx->dir, id, 0, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, viewer_main, &v[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(v[0].failed + v[1].failed, 0);
    assert_int_equal(v[0].viewed + v[1].viewed, CAP);
    assert_int_equal(v[0].refused + v[1].refused, CAP);
    ms_share_t sh;
    assert_int_equal(ms_store_share_lookup(fx->st, HASH_A, &sh), 0);
    assert_int_equal(sh.view_count, CAP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder_field_rules),
        cmocka_unit_test_setup_teardown(test_folder_create_and_unique_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_cycles_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_depth_and_count_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_delete_moves_children_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversations_by_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_moves_never_make_a_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_create_lookup_and_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_expiry_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_log_and_link_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_cap_holds_across_connections, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
