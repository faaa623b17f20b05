/* Attachment metadata (store.h "attachments") on SQLite. Every read and
 * delete takes user_id and matches it in the same statement, so another
 * user's row is indistinguishable from an absent one (MS_ENOENT). */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATT_COLS                                                                                   \
    "id, message_id, conversation_id, file_name, file_type, mime_type, file_size, status,"         \
    " progress, error_code, error_message, metadata, created_at, updated_at"

static json_t *att_from_row(sqlite3_stmt *s) {
    json_t *a = json_object();
    const char *id = (const char *)sqlite3_column_text(s, 0);
    json_object_set_new(a, "id", ms__store_col_json_str(s, 0));
    json_object_set_new(a, "message_id", ms__store_col_json_str(s, 1));
    json_object_set_new(a, "conversation_id", ms__store_col_json_str(s, 2));
    json_object_set_new(a, "file_name", ms__store_col_json_str(s, 3));
    json_object_set_new(a, "file_type", ms__store_col_json_str(s, 4));
    json_object_set_new(a, "mime_type", ms__store_col_json_str(s, 5));
    json_object_set_new(a, "file_size", json_integer(sqlite3_column_int64(s, 6)));
    char url[96];
    snprintf(url, sizeof url, "/api/attachments/%s/download", id ? id : "");
    json_object_set_new(a, "file_url", json_string(url));
    json_object_set_new(a, "status", ms__store_col_json_str(s, 7));
    json_object_set_new(a, "progress", json_integer(sqlite3_column_int(s, 8)));
    if (sqlite3_column_type(s, 9) == SQLITE_NULL)
        json_object_set_new(a, "error", json_null());
    else
        json_object_set_new(a, "error",
                            json_pack("{s:o, s:o}", "code", ms__store_col_json_str(s, 9), "message",
                                      ms__store_col_json_str(s, 10)));
    const char *meta = (const char *)sqlite3_column_text(s, 11);
    json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
    json_object_set_new(a, "metadata", json_is_object(m) ? m : (json_decref(m), json_object()));
    json_object_set_new(a, "created_at", ms__store_col_json_time(s, 12));
    json_object_set_new(a, "updated_at", ms__store_col_json_time(s, 13));
    return a;
}

/* The conversation of message_id when the message is user_id's. */
static int message_owner(sq_store_t *st, const char *user_id, const char *message_id,
                         char conv[MS_ID_LEN]) {
    static const char sql[] = "SELECT c.id FROM messages m JOIN conversations c"
                              " ON c.id = m.conversation_id WHERE m.id = ?1 AND c.user_id = ?2";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        ms__store_col_copy(s, 0, conv, MS_ID_LEN);
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "attachment message");
}

static int get_row(sq_store_t *st, const char *user_id, const char *id, json_t **out) {
    static const char sql[] = "SELECT " ATT_COLS " FROM attachments WHERE id = ?1 AND user_id = ?2";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && out)
        *out = att_from_row(s);
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "attachment get");
}

int ms__sq_attachment_create(ms_store_t *base, const char *user_id, const char *message_id,
                             const ms_attachment_new_t *a, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "INSERT INTO attachments (id, message_id, conversation_id, user_id, file_name, file_type,"
        " mime_type, file_size, status, progress, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9)";
    if (!user_id || !message_id || !a || !ms_id_valid(a->id) || !a->file_name || !a->file_type ||
        !a->mime_type || a->file_size < 0)
        return MS_EINVAL;
    if (out)
        *out = NULL;
    char conv[MS_ID_LEN];
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = message_owner(st, user_id, message_id, conv)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, conv, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, a->file_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, a->file_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, a->mime_type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, a->file_size);
    sqlite3_bind_int64(s, 9, ms_now_ms());
    int step = sqlite3_step(s);
    ms__store_done(s);
    if (step != SQLITE_DONE) {
        rc = ms__store_err(st, step, "attachment create");
        goto fail;
    }
    if ((rc = ms__store_commit(st)) != 0)
        return rc;
    return out ? get_row(st, user_id, a->id, out) : 0;
fail:
    ms__store_rollback(st);
    return rc;
}

int ms__sq_attachment_get(ms_store_t *base, const char *user_id, const char *id, json_t **out) {
    if (!user_id || !id)
        return MS_ENOENT;
    return get_row(SQ(base), user_id, id, out);
}

int ms__sq_attachment_list(ms_store_t *base, const char *user_id, const char *message_id,
                           json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "SELECT " ATT_COLS " FROM attachments WHERE message_id = ?1"
                              " AND user_id = ?2 ORDER BY created_at, id";
    if (!user_id || !message_id)
        return MS_ENOENT;
    char conv[MS_ID_LEN];
    int rc = message_owner(st, user_id, message_id, conv);
    if (rc)
        return rc;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, att_from_row(s));
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "attachment list");
    }
    *out = arr;
    return 0;
}

int ms__sq_attachment_delete(ms_store_t *base, const char *user_id, const char *id, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "DELETE FROM attachments WHERE id = ?1 AND user_id = ?2";
    if (!user_id || !id)
        return MS_ENOENT;
    json_t *row = NULL;
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = get_row(st, user_id, id, &row)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    ms__store_done(s);
    if (step != SQLITE_DONE) {
        rc = ms__store_err(st, step, "attachment delete");
        goto fail;
    }
    if ((rc = ms__store_commit(st)) != 0)
        goto fail_noroll;
    if (out)
        *out = row;
    else
        json_decref(row);
    return 0;
fail:
    ms__store_rollback(st);
fail_noroll:
    json_decref(row);
    return rc;
}

static int valid_status(const char *s) {
    return s && (!strcmp(s, MS_ATT_PENDING) || !strcmp(s, MS_ATT_EXTRACTING) ||
                 !strcmp(s, MS_ATT_READY) || !strcmp(s, MS_ATT_FAILED));
}

int ms__sq_attachment_update(ms_store_t *base, const char *id, const char *status, int progress,
                             const char *error_code, const char *error_message, json_t *metadata) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "UPDATE attachments SET status = ?2, progress = ?3, error_code = ?4, error_message = ?5,"
        " metadata = coalesce(?6, metadata), updated_at = ?7 WHERE id = ?1";
    if (!id || !valid_status(status) || progress < 0 || progress > 100 ||
        (metadata && !json_is_object(metadata)))
        return MS_EINVAL;
    char *meta = metadata ? json_dumps(metadata, JSON_COMPACT) : NULL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        free(meta);
        return MS_EIO;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, progress);
    ms__store_bind_text(s, 4, error_code);
    ms__store_bind_text(s, 5, error_message);
    ms__store_bind_text(s, 6, meta);
    sqlite3_bind_int64(s, 7, ms_now_ms());
    int step = sqlite3_step(s);
    ms__store_done(s);
    free(meta);
    if (step != SQLITE_DONE)
        return ms__store_err(st, step, "attachment update");
    return sqlite3_changes(st->db) ? 0 : MS_ENOENT;
}
