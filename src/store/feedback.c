/* Feedback on assistant messages (store/feedback.h). Ownership goes through
 * the message's conversation, so a user can neither read nor set feedback
 * on another user's messages; both answer MS_ENOENT, as absent ones do. */
#include "store/store_int.h"

#include "core/utf8.h"

#include <string.h>

/* Checks that message_id exists and belongs to user_id; *is_assistant
 * tells its role. MS_ENOENT otherwise. */
static int owned_message(sq_store_t *st, const char *user_id, const char *message_id,
                         int *is_assistant) {
    static const char sql[] = "SELECT m.role = 'assistant', c.user_id FROM messages m"
                              " JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?1";
    if (!user_id || !message_id)
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        ms__store_done(s);
        return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "feedback message");
    }
    const char *owner = (const char *)sqlite3_column_text(s, 1);
    int mine = owner && !strcmp(owner, user_id);
    if (is_assistant)
        *is_assistant = sqlite3_column_int(s, 0);
    ms__store_done(s);
    return mine ? 0 : MS_ENOENT;
}

#define FB_SELECT                                                                                  \
    "SELECT message_id, rating, comment, created_at, updated_at FROM message_feedback "

static json_t *feedback_from_row(sqlite3_stmt *s) {
    json_t *f = json_object();
    json_object_set_new(f, "message_id", ms__store_col_json_str(s, 0));
    json_object_set_new(f, "rating", json_string(sqlite3_column_int(s, 1) > 0 ? "up" : "down"));
    json_object_set_new(f, "comment", ms__store_col_json_str(s, 2));
    json_object_set_new(f, "created_at", ms__store_col_json_time(s, 3));
    json_object_set_new(f, "updated_at", ms__store_col_json_time(s, 4));
    return f;
}

/* The row for message_id, without an ownership check. */
static int load(sq_store_t *st, const char *message_id, json_t **out) {
    static const char sql[] = FB_SELECT "WHERE message_id = ?1";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = feedback_from_row(s);
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "feedback get");
}

static int comment_valid(const char *c) {
    size_t n = strlen(c), chars = 0;
    if (!ms_utf8_valid(c, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)c[i] & 0xc0) != 0x80;
    return chars <= MS_FEEDBACK_MAX_COMMENT_CHARS;
}

int ms__sq_feedback_put(ms_store_t *base, const char *user_id, const char *message_id, int rating,
                        const char *comment, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "INSERT INTO message_feedback (message_id, user_id, rating, comment, created_at,"
        " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (message_id) DO UPDATE SET"
        " user_id = excluded.user_id, rating = excluded.rating, comment = excluded.comment,"
        " updated_at = excluded.updated_at";
    if (out)
        *out = NULL;
    if ((rating != 1 && rating != -1) || (comment && !comment_valid(comment)))
        return MS_EINVAL;
    if (comment && !*comment)
        comment = NULL;
    int assistant = 0;
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = owned_message(st, user_id, message_id, &assistant)) != 0)
        goto fail;
    if (!assistant) {
        rc = MS_EINVAL;
        goto fail;
    }
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, rating);
    ms__store_bind_text(s, 4, comment);
    sqlite3_bind_int64(s, 5, ms_now_ms());
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "feedback put");
        goto fail;
    }
    if ((rc = ms__store_commit(st)) != 0)
        goto fail;
    return out ? load(st, message_id, out) : 0;
fail:
    ms__store_rollback(st);
    return rc;
}

int ms__sq_feedback_get(ms_store_t *base, const char *user_id, const char *message_id,
                        json_t **out) {
    sq_store_t *st = SQ(base);
    *out = NULL;
    int rc = owned_message(st, user_id, message_id, NULL);
    return rc ? rc : load(st, message_id, out);
}

int ms__sq_feedback_delete(ms_store_t *base, const char *user_id, const char *message_id) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "DELETE FROM message_feedback WHERE message_id = ?1";
    int rc = owned_message(st, user_id, message_id, NULL);
    if (rc)
        return rc;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    ms__store_done(s);
    return rc == SQLITE_DONE ? 0 : ms__store_err(st, rc, "feedback delete");
}

int ms__sq_feedback_by_conversation(ms_store_t *base, const char *conversation_id, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "SELECT f.message_id, f.rating, f.comment, f.created_at,"
        " f.updated_at FROM message_feedback f"
        " JOIN messages m ON m.id = f.message_id WHERE m.conversation_id = ?1";
    *out = NULL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    json_t *o = json_object();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_object_set_new(o, (const char *)sqlite3_column_text(s, 0), feedback_from_row(s));
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(o);
        return ms__store_err(st, rc, "feedback list");
    }
    *out = o;
    return 0;
}
