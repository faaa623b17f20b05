/* Conversations: create, get, list, rename, delete, all scoped to their
 * owner. Deletion is real (rows removed, messages and citations with them
 * by ON DELETE CASCADE): a clinician deleting a conversation expects the
 * PHI in it to be gone, not hidden. */
#include "store/store_int.h"

#include "core/buf.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_TITLE "New conversation"
/** Titles are cut to this many Unicode code points. */
#define MAX_TITLE_CHARS 200

/* Normalises a title into a malloc'd string: surrounding ASCII whitespace
 * trimmed, "New conversation" when NULL or empty, truncated to
 * MAX_TITLE_CHARS code points at a UTF-8 boundary. NULL (MS_EINVAL) if
 * the title is not valid UTF-8. */
static char *title_norm(const char *title) {
    if (!title)
        return ms_xstrdup(DEFAULT_TITLE);
    size_t n = strlen(title);
    if (!ms_utf8_valid(title, n))
        return NULL;
    const char *b = title, *e = title + n;
    while (b < e && strchr(" \t\r\n", *b))
        b++;
    while (e > b && strchr(" \t\r\n", e[-1]))
        e--;
    if (b == e)
        return ms_xstrdup(DEFAULT_TITLE);
    return ms_xstrndup(b, ms_utf8_prefix(b, (size_t)(e - b), MAX_TITLE_CHARS));
}

/* Columns shared by get and list; the owner is column 5. */
#define CONV_SELECT                                                                                \
    "SELECT c.id, c.title, c.created_at, c.updated_at,"                                            \
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id), c.user_id,"                \
    " c.folder_id "                                                                                \
    "FROM conversations c "

static json_t *conv_from_row(sqlite3_stmt *s) {
    json_t *c = json_object();
    json_object_set_new(c, "id", ms__store_col_json_str(s, 0));
    json_object_set_new(c, "title", ms__store_col_json_str(s, 1));
    json_object_set_new(c, "created_at", ms__store_col_json_time(s, 2));
    json_object_set_new(c, "updated_at", ms__store_col_json_time(s, 3));
    json_object_set_new(c, "message_count", json_integer(sqlite3_column_int64(s, 4)));
    json_object_set_new(c, "folder_id", ms__store_col_json_str(s, 6));
    return c;
}

/* Loads a conversation row; MS_ENOENT if absent, MS_EPERM if another
 * user's. out may be NULL (ownership check only). */
static int conv_load(sq_store_t *st, const char *user_id, const char *id, json_t **out) {
    static const char sql[] = CONV_SELECT "WHERE c.id = ?1";
    if (!user_id || !id)
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        ms__store_done(s);
        return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "conversation get");
    }
    const char *owner = (const char *)sqlite3_column_text(s, 5);
    if (!owner || strcmp(owner, user_id) != 0) {
        ms__store_done(s);
        return MS_EPERM;
    }
    if (out)
        *out = conv_from_row(s);
    ms__store_done(s);
    return 0;
}

/* Inserts a conversation row with the given id. */
static int conv_insert(sq_store_t *st, const char *user_id, const char *id, const char *title) {
    static const char sql[] = "INSERT INTO conversations (id, user_id, title, created_at, "
                              "updated_at) VALUES (?1, ?2, ?3, ?4, ?4)";
    char *t = title_norm(title);
    if (!t)
        return MS_EINVAL;
    int rc;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        free(t);
        return MS_EIO;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, t, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, ms_now_ms());
    rc = sqlite3_step(s);
    ms__store_done(s);
    free(t);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return MS_EEXIST;
    /* A foreign-key failure means the user does not exist. */
    return (rc & 0xff) == SQLITE_CONSTRAINT ? MS_ENOENT
                                            : ms__store_err(st, rc, "conversation insert");
}

int ms__sq_conversation_create(ms_store_t *base, const char *user_id, const char *title,
                               json_t **out) {
    sq_store_t *st = SQ(base);
    char id[MS_ID_LEN];
    if (out)
        *out = NULL;
    if (!user_id)
        return MS_EINVAL;
    ms_id_new_v7(id);
    int rc = conv_insert(st, user_id, id, title);
    if (rc)
        return rc;
    return out ? conv_load(st, user_id, id, out) : 0;
}

int ms__sq_conversation_get_or_create(ms_store_t *base, const char *user_id, const char *id,
                                      const char *title, json_t **out) {
    sq_store_t *st = SQ(base);
    if (out)
        *out = NULL;
    if (!user_id || !ms_id_valid(id))
        return MS_EINVAL;
    int rc = conv_load(st, user_id, id, out);
    if (rc != MS_ENOENT)
        return rc;
    rc = conv_insert(st, user_id, id, title);
    if (rc && rc != MS_EEXIST)
        return rc;
    /* Created now, or by someone else meanwhile (then it may be theirs). */
    return conv_load(st, user_id, id, out);
}

int ms__sq_conversation_get(ms_store_t *base, const char *user_id, const char *id, json_t **out) {
    sq_store_t *st = SQ(base);
    *out = NULL;
    return conv_load(st, user_id, id, out);
}

int ms__sq_conversation_list(ms_store_t *base, const char *user_id, int limit, int offset,
                             json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = CONV_SELECT "WHERE c.user_id = ?1 "
                                          "ORDER BY c.updated_at DESC, c.created_at DESC, c.id "
                                          "LIMIT ?2 OFFSET ?3";
    *out = NULL;
    if (!user_id)
        return MS_EINVAL;
    /* Out-of-range paging is clamped, not refused: limit to 1..200
     * (default 50 when <= 0), offset to >= 0. */
    if (limit <= 0)
        limit = 50;
    if (limit > 200)
        limit = 200;
    if (offset < 0)
        offset = 0;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, limit);
    sqlite3_bind_int(s, 3, offset);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, conv_from_row(s));
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "conversation list");
    }
    *out = arr;
    return 0;
}

/* LIKE pattern "%q%" with q's own %, _ and \ escaped (ESCAPE '\'). */
static char *like_pattern(const char *q) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_putc(&b, '%');
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            ms_buf_putc(&b, '\\');
        ms_buf_putc(&b, *p);
    }
    ms_buf_putc(&b, '%');
    return ms_buf_take(&b);
}

/* Substring search: SQLite's LIKE folds ASCII case only, which is what a
 * sidebar filter needs; a full-text index is a later concern (the store
 * keeps no FTS table of messages). The EXISTS stops at the first matching
 * message of each conversation. */
int ms__sq_conversation_search(ms_store_t *base, const char *user_id, const char *query, int limit,
                               int offset, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        CONV_SELECT "WHERE c.user_id = ?1 AND (c.title LIKE ?2 ESCAPE '\\' OR EXISTS ("
                    "SELECT 1 FROM messages m WHERE m.conversation_id = c.id"
                    " AND m.content LIKE ?2 ESCAPE '\\')) "
                    "ORDER BY c.updated_at DESC, c.created_at DESC, c.id LIMIT ?3 OFFSET ?4";
    *out = NULL;
    if (!user_id || !query || !*query || !ms_utf8_valid(query, strlen(query)))
        return MS_EINVAL;
    if (limit <= 0)
        limit = 50;
    if (limit > 200)
        limit = 200;
    if (offset < 0)
        offset = 0;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    char *pat = like_pattern(query);
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, pat, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, limit);
    sqlite3_bind_int(s, 4, offset);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, conv_from_row(s));
    ms__store_done(s);
    free(pat);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "conversation search");
    }
    *out = arr;
    return 0;
}

int ms__sq_conversation_rename(ms_store_t *base, const char *user_id, const char *id,
                               const char *title, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "UPDATE conversations SET title = ?2, updated_at = ?3 WHERE id = ?1";
    if (out)
        *out = NULL;
    char *t = title_norm(title);
    if (!t)
        return MS_EINVAL;
    int rc = ms__store_begin(st);
    if (rc != 0) {
        free(t);
        return rc;
    }
    if ((rc = conv_load(st, user_id, id, NULL)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, ms_now_ms());
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "conversation rename");
        goto fail;
    }
    if ((rc = ms__store_commit(st)) != 0)
        goto fail;
    free(t);
    return out ? conv_load(st, user_id, id, out) : 0;
fail:
    ms__store_rollback(st);
    free(t);
    return rc;
}

int ms__sq_conversation_delete(ms_store_t *base, const char *user_id, const char *id) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "DELETE FROM conversations WHERE id = ?1";
    int rc = ms__store_begin(st);
    if (rc != 0)
        return rc;
    if ((rc = conv_load(st, user_id, id, NULL)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "conversation delete");
        goto fail;
    }
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}

/* Filing touches folder_id only: the sidebar orders by updated_at, and
 * moving a conversation into a folder is not new activity in it. */
int ms__sq_conversation_set_folder(ms_store_t *base, const char *user_id, const char *id,
                                   const char *folder_id, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "UPDATE conversations SET folder_id = ?2 WHERE id = ?1";
    if (out)
        *out = NULL;
    if (!user_id || !id)
        return MS_ENOENT;
    int rc = ms__store_begin(st);
    if (rc != 0)
        return rc;
    /* Both checks and the change in one transaction: a folder deleted by
     * another process in between cannot be filed into. */
    if ((rc = conv_load(st, user_id, id, NULL)) != 0 ||
        (folder_id && (rc = ms__store_folder_owned(st, user_id, folder_id)) != 0))
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 2, folder_id);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "conversation set folder");
        goto fail;
    }
    if ((rc = ms__store_commit(st)) != 0)
        goto fail;
    return out ? conv_load(st, user_id, id, out) : 0;
fail:
    ms__store_rollback(st);
    return rc;
}

/* One statement for both the filtered list and the filtered search: ?5 is
 * NULL for no text filter. "folder_id IS ?2" matches NULL (unfiled) too. */
int ms__sq_conversation_list_folder(ms_store_t *base, const char *user_id, const char *folder_id,
                                    const char *query, int limit, int offset, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        CONV_SELECT "WHERE c.user_id = ?1 AND c.folder_id IS ?2 AND (?5 IS NULL OR"
                    " c.title LIKE ?5 ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m"
                    " WHERE m.conversation_id = c.id AND m.content LIKE ?5 ESCAPE '\\')) "
                    "ORDER BY c.updated_at DESC, c.created_at DESC, c.id LIMIT ?3 OFFSET ?4";
    *out = NULL;
    if (!user_id || (query && (!*query || !ms_utf8_valid(query, strlen(query)))))
        return MS_EINVAL;
    if (folder_id) {
        int rc = ms__store_folder_owned(st, user_id, folder_id);
        if (rc)
            return rc;
    }
    if (limit <= 0)
        limit = 50;
    if (limit > 200)
        limit = 200;
    if (offset < 0)
        offset = 0;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    char *pat = query ? like_pattern(query) : NULL;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 2, folder_id);
    sqlite3_bind_int(s, 3, limit);
    sqlite3_bind_int(s, 4, offset);
    ms__store_bind_text(s, 5, pat);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, conv_from_row(s));
    ms__store_done(s);
    free(pat);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "conversation list folder");
    }
    *out = arr;
    return 0;
}
