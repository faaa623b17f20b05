/* Gateway nodes, their leases, and lease-bounded crash recovery (store.h,
 * "nodes, leases and crash recovery"), for the SQLite backend. */
#include "store/store_int.h"

#include <string.h>

/* Runs one cached statement with text/integer bindings given by the
 * caller's bind function; *changes gets sqlite3_changes when not NULL. */
static int run(sq_store_t *st, sqlite3_stmt *s, const char *what, int *changes) {
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, what);
    if (changes)
        *changes = sqlite3_changes(st->db);
    return 0;
}

int ms__sq_node_register(ms_store_t *base, const ms_node_t *node) {
    sq_store_t *st = SQ(base);
    static const char end_sql[] = "UPDATE nodes SET lease_expires = 0 WHERE name = ?1 AND id <> ?2";
    static const char ins_sql[] =
        "INSERT INTO nodes (id, name, host, pid, started_at, lease_expires)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    if (!node || !ms_id_valid(node->id) || !node->name[0])
        return MS_EINVAL;
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    sqlite3_stmt *s = ms__store_stmt(st, end_sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, node->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, node->id, -1, SQLITE_STATIC);
    if ((rc = run(st, s, "node takeover", NULL)) != 0)
        goto fail;
    if (!(s = ms__store_stmt(st, ins_sql))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, node->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, node->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, node->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, node->pid);
    sqlite3_bind_int64(s, 5, node->started_at);
    sqlite3_bind_int64(s, 6, node->lease_expires);
    if ((rc = run(st, s, "node insert", NULL)) != 0 || (rc = ms__store_commit(st)) != 0)
        goto fail;
    return 0;
fail:
    ms__store_rollback(st);
    return rc;
}

int ms__sq_node_list(ms_store_t *base, int64_t now_ms, ms_node_t **out, size_t *n) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "SELECT id, name, host, pid, started_at, lease_expires FROM nodes"
                              " WHERE lease_expires >= ?1 ORDER BY started_at";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_int64(s, 1, now_ms);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = ms_xrealloc(*out, cap * sizeof **out);
        }
        ms_node_t *nd = &(*out)[(*n)++];
        memset(nd, 0, sizeof *nd);
        ms__store_col_copy(s, 0, nd->id, sizeof nd->id);
        ms__store_col_copy(s, 1, nd->name, sizeof nd->name);
        ms__store_col_copy(s, 2, nd->host, sizeof nd->host);
        nd->pid = sqlite3_column_int64(s, 3);
        nd->started_at = sqlite3_column_int64(s, 4);
        nd->lease_expires = sqlite3_column_int64(s, 5);
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return ms__store_err(st, rc, "node list");
    }
    return 0;
}

/* Sets a node's lease; MS_ENOENT when its row is gone. */
static int set_lease(sq_store_t *st, const char *node_id, int64_t lease_expires) {
    static const char sql[] = "UPDATE nodes SET lease_expires = ?2 WHERE id = ?1";
    if (!node_id)
        return MS_EINVAL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, lease_expires);
    int changes = 0;
    int rc = run(st, s, "node lease", &changes);
    return rc ? rc : changes ? 0 : MS_ENOENT;
}

int ms__sq_node_renew(ms_store_t *base, const char *node_id, int64_t lease_expires) {
    return set_lease(SQ(base), node_id, lease_expires);
}

int ms__sq_node_release(ms_store_t *base, const char *node_id) {
    int rc = set_lease(SQ(base), node_id, 0);
    return rc == MS_ENOENT ? 0 : rc;
}

int ms__sq_recover(ms_store_t *base, int64_t now_ms, const char *suffix, int *count) {
    sq_store_t *st = SQ(base);
    /* finish_reason too, so a recovered message reads like any other
     * finished one ("interrupted" is a protocol finish_reason). The suffix
     * follows the text after a blank line, or stands alone. */
    static const char upd_sql[] =
        "UPDATE messages SET status = 'interrupted', updated_at = ?1,"
        " finish_reason = coalesce(finish_reason, 'interrupted'),"
        " content = CASE WHEN ?2 IS NULL THEN content WHEN content = '' THEN ?2"
        "   ELSE content || char(10) || char(10) || ?2 END"
        " WHERE status = 'streaming' AND (node_id IS NULL OR node_id NOT IN"
        "   (SELECT id FROM nodes WHERE lease_expires >= ?1))";
    static const char del_sql[] = "DELETE FROM nodes WHERE lease_expires < ?1";
    if (count)
        *count = 0;
    int changed = 0, rc = ms__store_begin(st);
    if (rc)
        return rc;
    sqlite3_stmt *s = ms__store_stmt(st, upd_sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_int64(s, 1, now_ms);
    ms__store_bind_text(s, 2, suffix && *suffix ? suffix : NULL);
    if ((rc = run(st, s, "recover messages", &changed)) != 0)
        goto fail;
    if (!(s = ms__store_stmt(st, del_sql))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_int64(s, 1, now_ms);
    if ((rc = run(st, s, "expired nodes", NULL)) != 0 || (rc = ms__store_commit(st)) != 0)
        goto fail;
    if (count)
        *count = changed;
    return 0;
fail:
    ms__store_rollback(st);
    return rc;
}
