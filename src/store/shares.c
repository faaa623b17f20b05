/* Share links (store.h, "share links"): read-only links to a conversation,
 * stored by the SHA-256 of their token, with an access log.
 *
 * The view cap is the one rule that needs care across processes: a view
 * is counted by share_record, which re-reads the link's state and counts
 * the view in one write transaction, so two viewers racing for the last
 * view of a capped link cannot both get it. Expiry and revocation are
 * decided against the caller's clock (now_ms), so tests can move time. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** The longest client address kept in the log, in bytes. */
#define MAX_ADDRESS_BYTES 64
/** The most log rows one ms_store_share_accesses call returns. */
#define MAX_ACCESS_ROWS 1000

const char *ms_share_ended(const ms_share_t *s, int64_t now_ms) {
    if (s->revoked_at)
        return MS_SHARE_REVOKED;
    if (now_ms >= s->expires_at)
        return MS_SHARE_EXPIRED;
    if (s->max_views > 0 && s->view_count >= s->max_views)
        return MS_SHARE_VIEW_LIMIT;
    return NULL;
}

/* The canonical (static) spelling of outcome o, or NULL when it is none. */
static const char *outcome_canon(const char *o) {
    static const char *const all[] = {MS_SHARE_VIEWED,         MS_SHARE_PASSWORD_REQUIRED,
                                      MS_SHARE_WRONG_PASSWORD, MS_SHARE_EXPIRED,
                                      MS_SHARE_REVOKED,        MS_SHARE_VIEW_LIMIT};
    for (size_t i = 0; o && i < MS_COUNTOF(all); i++)
        if (!strcmp(o, all[i]))
            return all[i];
    return NULL;
}

static int hex64(const char *h) {
    if (!h || strlen(h) != 64)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Whether conversation id exists and is user_id's: 0, MS_ENOENT, MS_EPERM. */
static int conv_owned(sq_store_t *st, const char *user_id, const char *id) {
    static const char sql[] = "SELECT user_id FROM conversations WHERE id = ?1";
    if (!user_id || !ms_id_valid(id))
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int mine = rc == SQLITE_ROW && sqlite3_column_text(s, 0) &&
               !strcmp((const char *)sqlite3_column_text(s, 0), user_id);
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return mine ? 0 : MS_EPERM;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "share conversation");
}

#define SHARE_SELECT                                                                               \
    "SELECT id, conversation_id, created_at, expires_at, password_hash IS NOT NULL, max_views,"    \
    " view_count, denied_count, last_access_at, revoked_at FROM conversation_shares "

static json_t *col_time_or_null(sqlite3_stmt *s, int i) {
    return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null() : ms__store_col_json_time(s, i);
}

static json_t *share_from_row(sqlite3_stmt *s, int64_t now_ms) {
    ms_share_t sh = {.expires_at = sqlite3_column_int64(s, 3),
                     .max_views = sqlite3_column_int64(s, 5),
                     .view_count = sqlite3_column_int64(s, 6),
                     .revoked_at = sqlite3_column_int64(s, 9)};
    const char *ended = ms_share_ended(&sh, now_ms);
    json_t *o = json_object();
    json_object_set_new(o, "id", ms__store_col_json_str(s, 0));
    json_object_set_new(o, "conversation_id", ms__store_col_json_str(s, 1));
    json_object_set_new(o, "created_at", ms__store_col_json_time(s, 2));
    json_object_set_new(o, "expires_at", ms__store_col_json_time(s, 3));
    json_object_set_new(o, "password_protected", json_boolean(sqlite3_column_int(s, 4)));
    json_object_set_new(o, "max_views", sh.max_views ? json_integer(sh.max_views) : json_null());
    json_object_set_new(o, "view_count", json_integer(sh.view_count));
    json_object_set_new(
        o, "views_remaining",
        sh.max_views ? json_integer(sh.max_views > sh.view_count ? sh.max_views - sh.view_count : 0)
                     : json_null());
    json_object_set_new(o, "denied_count", json_integer(sqlite3_column_int64(s, 7)));
    json_object_set_new(o, "last_access_at", col_time_or_null(s, 8));
    json_object_set_new(o, "revoked_at", col_time_or_null(s, 9));
    json_object_set_new(o, "state", json_string(ended ? ended : "active"));
    return o;
}

static int share_json(sq_store_t *st, const char *id, int64_t now_ms, json_t **out) {
    static const char sql[] = SHARE_SELECT "WHERE id = ?1";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = share_from_row(s, now_ms);
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "share get");
}

/* Runs a statement that returns no rows; *changes (may be NULL) gets the
 * rows it changed. */
static int step_done(sq_store_t *st, sqlite3_stmt *s, int *changes, const char *what) {
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, what);
    if (changes)
        *changes = sqlite3_changes(st->db);
    return 0;
}

/* Makes room for one more link of the conversation when it already has
 * max_links: deletes the oldest links that have ended, just enough of
 * them; MS_ETOOBIG when too few have. */
static int make_room(sq_store_t *st, const char *conversation_id, int64_t now, int max_links) {
    static const char count_sql[] =
        "SELECT count(*) FROM conversation_shares WHERE conversation_id = ?1";
    static const char prune_sql[] =
        "DELETE FROM conversation_shares WHERE id IN (SELECT id FROM conversation_shares"
        " WHERE conversation_id = ?1 AND (revoked_at IS NOT NULL OR expires_at <= ?2 OR"
        " (max_views IS NOT NULL AND view_count >= max_views)) ORDER BY created_at, id LIMIT ?3)";
    sqlite3_stmt *s = ms__store_stmt(st, count_sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    ms__store_done(s);
    if (rc != SQLITE_ROW)
        return ms__store_err(st, rc, "share count");
    if (n < max_links)
        return 0;
    int64_t need = n - max_links + 1;
    int pruned = 0;
    if (!(s = ms__store_stmt(st, prune_sql)))
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, need);
    if ((rc = step_done(st, s, &pruned, "share prune")) != 0)
        return rc;
    return pruned < need ? MS_ETOOBIG : 0;
}

int ms__sq_share_create(ms_store_t *base, const char *user_id, const char *conversation_id,
                        const char *token_hash_hex, const char *password_hash,
                        int64_t expires_at_ms, int64_t max_views, int max_links, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "INSERT INTO conversation_shares (id, conversation_id, token_hash, password_hash,"
        " created_at, expires_at, max_views) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    if (out)
        *out = NULL;
    if (!hex64(token_hash_hex) ||
        (password_hash && (!*password_hash || strlen(password_hash) >= 128)) ||
        expires_at_ms <= 0 || max_views < 0 || max_links < 1)
        return MS_EINVAL;
    char id[MS_ID_LEN];
    ms_id_new(id);
    int64_t now = ms_now_ms();
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = conv_owned(st, user_id, conversation_id)) != 0 ||
        (rc = make_room(st, conversation_id, now, max_links)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, token_hash_hex, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 4, password_hash);
    sqlite3_bind_int64(s, 5, now);
    sqlite3_bind_int64(s, 6, expires_at_ms);
    if (max_views > 0)
        sqlite3_bind_int64(s, 7, max_views);
    else
        sqlite3_bind_null(s, 7);
    if ((rc = step_done(st, s, NULL, "share insert")) != 0 || (rc = ms__store_commit(st)) != 0)
        goto fail;
    return out ? share_json(st, id, now, out) : 0;
fail:
    ms__store_rollback(st);
    return rc;
}

int ms__sq_share_list(ms_store_t *base, const char *user_id, const char *conversation_id,
                      int64_t now_ms, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        SHARE_SELECT "WHERE conversation_id = ?1 ORDER BY created_at DESC, id DESC";
    *out = NULL;
    int rc = conv_owned(st, user_id, conversation_id);
    if (rc)
        return rc;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, share_from_row(s, now_ms));
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "share list");
    }
    *out = arr;
    return 0;
}

int ms__sq_share_revoke(ms_store_t *base, const char *user_id, const char *conversation_id,
                        const char *key, int64_t now_ms) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "UPDATE conversation_shares SET revoked_at = coalesce(revoked_at, ?3)"
                              " WHERE conversation_id = ?1 AND (id = ?2 OR token_hash = ?2)";
    if (!key || !*key)
        return MS_ENOENT;
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = conv_owned(st, user_id, conversation_id)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now_ms);
    int changed = 0;
    if ((rc = step_done(st, s, &changed, "share revoke")) != 0)
        goto fail;
    if (!changed) {
        rc = MS_ENOENT;
        goto fail;
    }
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}

/* Fills *out from a row of: id, conversation_id, owner, password_hash,
 * created_at, expires_at, max_views, view_count, revoked_at. */
static void share_struct(sqlite3_stmt *s, ms_share_t *out) {
    memset(out, 0, sizeof *out);
    ms__store_col_copy(s, 0, out->id, sizeof out->id);
    ms__store_col_copy(s, 1, out->conversation_id, sizeof out->conversation_id);
    ms__store_col_copy(s, 2, out->owner_id, sizeof out->owner_id);
    ms__store_col_copy(s, 3, out->password_hash, sizeof out->password_hash);
    out->created_at = sqlite3_column_int64(s, 4);
    out->expires_at = sqlite3_column_int64(s, 5);
    out->max_views = sqlite3_column_int64(s, 6);
    out->view_count = sqlite3_column_int64(s, 7);
    out->revoked_at = sqlite3_column_int64(s, 8);
}

#define SHARE_STRUCT_SELECT                                                                        \
    "SELECT s.id, s.conversation_id, c.user_id, s.password_hash, s.created_at, s.expires_at,"      \
    " s.max_views, s.view_count, s.revoked_at FROM conversation_shares s"                          \
    " JOIN conversations c ON c.id = s.conversation_id "

static int share_load(sq_store_t *st, const char *sql, const char *key, ms_share_t *out) {
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        share_struct(s, out);
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "share lookup");
}

int ms__sq_share_lookup(ms_store_t *base, const char *token_hash_hex, ms_share_t *out) {
    static const char sql[] = SHARE_STRUCT_SELECT "WHERE s.token_hash = ?1";
    memset(out, 0, sizeof *out);
    if (!hex64(token_hash_hex))
        return MS_ENOENT;
    return share_load(SQ(base), sql, token_hash_hex, out);
}

/* Appends one row to the log of share_id and drops all but its newest
 * log_max rows. */
static int log_access(sq_store_t *st, const char *share_id, int64_t now, const char *addr,
                      const char *outcome, int log_max) {
    static const char ins_sql[] = "INSERT INTO share_accesses (share_id, at, client_address,"
                                  " outcome) VALUES (?1, ?2, ?3, ?4)";
    static const char trim_sql[] =
        "DELETE FROM share_accesses WHERE share_id = ?1 AND id <= (SELECT id FROM"
        " share_accesses WHERE share_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)";
    char a[MAX_ADDRESS_BYTES + 1];
    snprintf(a, sizeof a, "%s", addr ? addr : "");
    sqlite3_stmt *s = ms__store_stmt(st, ins_sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, share_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_text(s, 3, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, outcome, -1, SQLITE_STATIC);
    int rc = step_done(st, s, NULL, "share log");
    if (rc)
        return rc;
    if (!(s = ms__store_stmt(st, trim_sql)))
        return MS_EIO;
    sqlite3_bind_text(s, 1, share_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, log_max);
    return step_done(st, s, NULL, "share log trim");
}

int ms__sq_share_record(ms_store_t *base, const char *share_id, int64_t now_ms,
                        const char *client_address, const char *outcome, int log_max,
                        const char **result) {
    sq_store_t *st = SQ(base);
    static const char sql[] = SHARE_STRUCT_SELECT "WHERE s.id = ?1";
    static const char view_sql[] = "UPDATE conversation_shares SET view_count = view_count + 1,"
                                   " last_access_at = ?2 WHERE id = ?1";
    static const char deny_sql[] = "UPDATE conversation_shares SET denied_count ="
                                   " denied_count + 1, last_access_at = ?2 WHERE id = ?1";
    if (result)
        *result = NULL;
    const char *rec = outcome_canon(outcome);
    if (!share_id || !rec || log_max < 1)
        return MS_EINVAL;
    ms_share_t sh = {0};
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = share_load(st, sql, share_id, &sh)) != 0)
        goto fail;
    /* A view that passed the password check still needs the link to open
     * now, as seen inside this transaction. */
    int view = !strcmp(rec, MS_SHARE_VIEWED);
    const char *ended = view ? ms_share_ended(&sh, now_ms) : NULL;
    if (ended) {
        rec = ended;
        view = 0;
    }
    sqlite3_stmt *s = ms__store_stmt(st, view ? view_sql : deny_sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, share_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    if ((rc = step_done(st, s, NULL, "share count")) != 0 ||
        (rc = log_access(st, share_id, now_ms, client_address, rec, log_max)) != 0 ||
        (rc = ms__store_commit(st)) != 0)
        goto fail;
    if (result)
        *result = rec;
    return 0;
fail:
    ms__store_rollback(st);
    return rc;
}

int ms__sq_share_accesses(ms_store_t *base, const char *user_id, const char *conversation_id,
                          const char *share_id, int limit, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char own_sql[] =
        "SELECT 1 FROM conversation_shares WHERE id = ?1 AND conversation_id = ?2";
    static const char sql[] = "SELECT at, client_address, outcome FROM share_accesses"
                              " WHERE share_id = ?1 ORDER BY id DESC LIMIT ?2";
    *out = NULL;
    int rc = conv_owned(st, user_id, conversation_id);
    if (rc)
        return rc;
    if (!ms_id_valid(share_id))
        return MS_ENOENT;
    if (limit < 1)
        limit = 1;
    if (limit > MAX_ACCESS_ROWS)
        limit = MAX_ACCESS_ROWS;
    sqlite3_stmt *s = ms__store_stmt(st, own_sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, share_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, conversation_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "share owner");
    if (!(s = ms__store_stmt(st, sql)))
        return MS_EIO;
    sqlite3_bind_text(s, 1, share_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, limit);
    json_t *arr = json_array();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *a = json_object();
        json_object_set_new(a, "at", ms__store_col_json_time(s, 0));
        json_object_set_new(a, "client_address", ms__store_col_json_str(s, 1));
        json_object_set_new(a, "outcome", ms__store_col_json_str(s, 2));
        json_array_append_new(arr, a);
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "share accesses");
    }
    *out = arr;
    return 0;
}
