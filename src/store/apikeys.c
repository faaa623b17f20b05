/* API keys (store.h, "API keys"): the SHA-256 of each key, its owner, an
 * optional name and a display prefix; revoked keys keep their row. */
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

static int hex64(const char *h) {
    if (!h || strlen(h) != 64)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static int step_done(sq_store_t *st, sqlite3_stmt *s, int *changes, const char *what) {
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, what);
    if (changes)
        *changes = sqlite3_changes(st->db);
    return 0;
}

int ms__sq_apikey_create(ms_store_t *base, const char *user_id, const char *name,
                         const char *key_hash_hex, const char *prefix, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char user_sql[] = "SELECT 1 FROM users WHERE id = ?1";
    static const char ins_sql[] = "INSERT INTO api_keys (id, user_id, name, key_hash, prefix,"
                                  " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    if (out)
        *out = NULL;
    if (!ms_id_valid(user_id) || !hex64(key_hash_hex) || !prefix || strlen(prefix) > 16 ||
        (name && (strlen(name) > MS_APIKEY_MAX_NAME || !*name)))
        return MS_EINVAL;
    sqlite3_stmt *s = ms__store_stmt(st, user_sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc == SQLITE_DONE)
        return MS_ENOENT;
    if (rc != SQLITE_ROW)
        return ms__store_err(st, rc, "apikey user");
    char id[MS_ID_LEN];
    ms_id_new_v7(id); /* time-ordered: the listing's tie-break is creation order */
    int64_t now = ms_now_ms();
    if (!(s = ms__store_stmt(st, ins_sql)))
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    if (name)
        sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_text(s, 4, key_hash_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, now);
    if ((rc = step_done(st, s, NULL, "apikey insert")) != 0)
        return rc;
    if (out)
        *out = json_pack("{s:s, s:s, s:s?, s:s, s:I}", "id", id, "user_id", user_id, "name", name,
                         "prefix", prefix, "created_at", (json_int_t)now);
    return 0;
}

int ms__sq_apikey_list(ms_store_t *base, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "SELECT k.id, u.email, k.name, k.prefix, k.created_at, k.revoked_at"
                              " FROM api_keys k JOIN users u ON u.id = k.user_id"
                              " ORDER BY k.created_at, k.id";
    *out = NULL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 2);
        json_t *o =
            json_pack("{s:s, s:s, s:s?, s:s}", "id", sqlite3_column_text(s, 0), "email",
                      sqlite3_column_text(s, 1), "name", name, "prefix", sqlite3_column_text(s, 3));
        json_object_set_new(o, "created_at", ms__store_col_json_time(s, 4));
        json_object_set_new(
            o, "revoked_at",
            sqlite3_column_type(s, 5) == SQLITE_NULL ? json_null() : ms__store_col_json_time(s, 5));
        json_array_append_new(arr, o);
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "apikey list");
    }
    *out = arr;
    return 0;
}

int ms__sq_apikey_revoke(ms_store_t *base, const char *id, int64_t now_ms) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1";
    if (!ms_id_valid(id))
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    int changes = 0;
    int rc = step_done(st, s, &changes, "apikey revoke");
    return rc ? rc : changes ? 0 : MS_ENOENT;
}

int ms__sq_apikey_lookup(ms_store_t *base, const char *key_hash_hex, ms_apikey_t *out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "SELECT id, user_id, coalesce(revoked_at, 0) FROM api_keys WHERE key_hash = ?1";
    memset(out, 0, sizeof *out);
    if (!hex64(key_hash_hex))
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, key_hash_hex, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(out->user_id, sizeof out->user_id, "%s", (const char *)sqlite3_column_text(s, 1));
        out->revoked_at = sqlite3_column_int64(s, 2);
    }
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "apikey lookup");
}
