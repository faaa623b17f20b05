/* Users and refresh tokens. */
#include "store/store_int.h"

#include "core/utf8.h"

#include "core/log.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Lower-cases an email (ASCII only, like SQLite's NOCASE collation, so the
 * stored form and the unique index agree) into out; MS_EINVAL when empty or
 * too long for ms_user_t.email. */
static int email_norm(const char *email, char out[256]) {
    if (!email)
        return MS_EINVAL;
    size_t n = strlen(email);
    if (n == 0 || n >= 256 || !ms_utf8_valid(email, n))
        return MS_EINVAL;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)tolower((unsigned char)email[i]);
    return 0;
}

static void user_from_row(sqlite3_stmt *s, ms_user_t *u) {
    ms__store_col_copy(s, 0, u->id, sizeof u->id);
    ms__store_col_copy(s, 1, u->email, sizeof u->email);
    ms__store_col_copy(s, 2, u->role, sizeof u->role);
    ms__store_col_copy(s, 3, u->password_hash, sizeof u->password_hash);
    u->created_at = sqlite3_column_int64(s, 4);
}

int ms__sq_user_create(ms_store_t *base, const char *email, const char *password_hash,
                       const char *role, ms_user_t *out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "INSERT INTO users (id, email, role, password_hash, created_at) VALUES (?1,?2,?3,?4,?5)";
    ms_user_t u;
    memset(&u, 0, sizeof u);
    if (email_norm(email, u.email) != 0 || !password_hash || !*password_hash ||
        strlen(password_hash) >= sizeof u.password_hash || !role ||
        (strcmp(role, "clinician") != 0 && strcmp(role, "admin") != 0))
        return MS_EINVAL;
    ms_id_new_v7(u.id);
    snprintf(u.role, sizeof u.role, "%s", role);
    snprintf(u.password_hash, sizeof u.password_hash, "%s", password_hash);
    u.created_at = ms_now_ms();

    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, u.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, u.email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, u.role, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, u.password_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, u.created_at);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, "user insert"); /* unique email: MS_EEXIST */
    if (out)
        *out = u;
    return 0;
}

/* Runs a one-row user lookup by a single text key. */
static int user_lookup(sq_store_t *st, const char *sql, const char *key, ms_user_t *out) {
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (out)
            user_from_row(s, out);
        ms__store_done(s);
        return 0;
    }
    ms__store_done(s);
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "user lookup");
}

int ms__sq_user_by_email(ms_store_t *base, const char *email, ms_user_t *out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "SELECT id, email, role, password_hash, created_at FROM users "
                              "WHERE email = ?1";
    char norm[256];
    if (email_norm(email, norm) != 0)
        return MS_ENOENT; /* cannot exist: it could never have been stored */
    return user_lookup(st, sql, norm, out);
}

int ms__sq_user_by_id(ms_store_t *base, const char *id, ms_user_t *out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "SELECT id, email, role, password_hash, created_at FROM users "
                              "WHERE id = ?1";
    if (!id)
        return MS_ENOENT;
    return user_lookup(st, sql, id, out);
}

int ms__sq_user_count(ms_store_t *base, int64_t *out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "SELECT count(*) FROM users";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    ms__store_done(s);
    return rc == SQLITE_ROW ? 0 : ms__store_err(st, rc, "user count");
}

int ms__sq_user_list(ms_store_t *base, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "SELECT id, email, role, created_at FROM users ORDER BY created_at, "
                              "email";
    *out = NULL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *u = json_object();
        json_object_set_new(u, "id", ms__store_col_json_str(s, 0));
        json_object_set_new(u, "email", ms__store_col_json_str(s, 1));
        json_object_set_new(u, "role", ms__store_col_json_str(s, 2));
        json_object_set_new(u, "created_at", ms__store_col_json_time(s, 3));
        json_array_append_new(arr, u);
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "user list");
    }
    *out = arr;
    return 0;
}

/* The account and, through ON DELETE CASCADE, its refresh tokens,
 * conversations, messages and citations. One statement: atomic. */
int ms__sq_user_delete(ms_store_t *base, const char *email, ms_user_t *out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "DELETE FROM users WHERE email = ?1 "
                              "RETURNING id, email, role, password_hash, created_at";
    char norm[256];
    if (email_norm(email, norm) != 0)
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, norm, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    ms_user_t u;
    if (rc == SQLITE_ROW) {
        user_from_row(s, &u);
        rc = sqlite3_step(s); /* runs the statement to its end */
    } else if (rc == SQLITE_DONE) {
        ms__store_done(s);
        return MS_ENOENT;
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, "user delete");
    if (out) {
        sodium_memzero(u.password_hash, sizeof u.password_hash);
        *out = u;
    }
    return 0;
}

int ms__sq_refresh_put(ms_store_t *base, const char *token_hash_hex, const char *user_id,
                       int64_t expires_at_ms) {
    sq_store_t *st = SQ(base);
    static const char purge[] = "DELETE FROM refresh_tokens WHERE user_id = ?1 AND expires_at < ?2";
    static const char ins[] = "INSERT INTO refresh_tokens (token_hash, user_id, created_at, "
                              "expires_at) VALUES (?1, ?2, ?3, ?4)";
    if (!token_hash_hex || !*token_hash_hex || !user_id)
        return MS_EINVAL;
    int64_t now = ms_now_ms();
    int rc = ms__store_begin(st);
    if (rc != 0)
        return rc;
    /* Expired rows can never be consumed again; dropping the user's old ones
     * here keeps the table bounded without a separate sweeper. */
    sqlite3_stmt *s = ms__store_stmt(st, purge);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "refresh purge");
        goto fail;
    }
    if (!(s = ms__store_stmt(st, ins))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, token_hash_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, expires_at_ms);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        /* Unknown user (foreign key) or a duplicate hash. */
        rc = (rc & 0xff) == SQLITE_CONSTRAINT ? MS_EINVAL : ms__store_err(st, rc, "refresh put");
        goto fail;
    }
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}

/* Revokes every refresh token of a user (inside the caller's transaction). */
static int revoke_all(sq_store_t *st, const char *user_id) {
    static const char sql[] = "UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ?1";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    return rc == SQLITE_DONE ? 0 : ms__store_err(st, rc, "refresh revoke");
}

int ms__sq_refresh_consume(ms_store_t *base, const char *token_hash_hex,
                           char user_id_out[MS_ID_LEN]) {
    sq_store_t *st = SQ(base);
    static const char sel[] = "SELECT user_id, expires_at, used_at IS NOT NULL, revoked "
                              "FROM refresh_tokens WHERE token_hash = ?1";
    static const char use[] = "UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1";
    char uid[MS_ID_LEN];
    if (!token_hash_hex)
        return MS_EAUTH;
    int64_t now = ms_now_ms();
    /* One write transaction: two racing refreshes with the same token see
     * each other's used_at, so exactly one wins and the other is a replay. */
    int rc = ms__store_begin(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = ms__store_stmt(st, sel);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, token_hash_hex, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        ms__store_done(s);
        rc = rc == SQLITE_DONE ? MS_EAUTH : ms__store_err(st, rc, "refresh lookup");
        goto fail;
    }
    ms__store_col_copy(s, 0, uid, sizeof uid);
    int64_t expires_at = sqlite3_column_int64(s, 1);
    int used = sqlite3_column_int(s, 2), revoked = sqlite3_column_int(s, 3);
    ms__store_done(s);

    if (used) {
        /* Replay: someone holds a copy of a rotated token. Which of the two
         * parties is legitimate is unknown, so end every session of the
         * user (RFC 6819 section 5.2.2.3). */
        if ((rc = revoke_all(st, uid)) != 0 || (rc = ms__store_commit(st)) != 0)
            goto fail;
        ms_log(MS_LOG_WARN, "refresh_token_replay", "\"user\":\"%s\"", uid);
        return MS_EAUTH;
    }
    if (revoked || expires_at <= now) {
        rc = MS_EAUTH;
        goto fail;
    }
    if (!(s = ms__store_stmt(st, use))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, token_hash_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "refresh use");
        goto fail;
    }
    if ((rc = ms__store_commit(st)) != 0)
        goto fail;
    memcpy(user_id_out, uid, MS_ID_LEN);
    return 0;
fail:
    ms__store_rollback(st);
    return rc;
}
