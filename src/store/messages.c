/* Messages: the turn (user message + streaming assistant reply), assistant
 * checkpoints, reads in conversation order, and crash recovery. */
#include "store/store_int.h"

#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

/** client_message_id is an opaque client idempotency key of 1..128
 * characters (docs/protocol.md); bounded so a client cannot store
 * arbitrary data in it. */
#define MAX_CLIENT_ID_CHARS 128
/** finish_reason is a short provider word ("stop", "length", ...). */
#define MAX_FINISH_REASON_BYTES 64
/** Upper bound on ms_store_recent_turns n. */
#define MAX_RECENT_TURNS 200

static int valid_text(const char *s) {
    return s && ms_utf8_valid(s, strlen(s));
}

static int valid_status(const char *s) {
    static const char *const all[] = {MS_MSG_STREAMING, MS_MSG_COMPLETE, MS_MSG_CANCELLED,
                                      MS_MSG_INTERRUPTED, MS_MSG_ERROR};
    for (size_t i = 0; i < MS_COUNTOF(all); i++) {
        if (strcmp(s, all[i]) == 0)
            return 1;
    }
    return 0;
}

/* Steps a statement expected to return one integer row; *found 0 if none. */
static int one_int(sq_store_t *st, sqlite3_stmt *s, int64_t *v, int *found, const char *what) {
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(s, 0);
    ms__store_done(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ms__store_err(st, rc, what);
}

static int insert_message(sq_store_t *st, const char *id, const char *conversation_id, int64_t seq,
                          const char *role, const char *content, const char *status,
                          const char *client_message_id, const char *reply_to, int64_t now,
                          const char *node_id) {
    static const char sql[] =
        "INSERT INTO messages (id, conversation_id, seq, role, content, status,"
        " client_message_id, reply_to, created_at, updated_at, node_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, seq);
    sqlite3_bind_text(s, 4, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, content, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, status, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 7, client_message_id);
    ms__store_bind_text(s, 8, reply_to);
    sqlite3_bind_int64(s, 9, now);
    ms__store_bind_text(s, 10, node_id);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    return rc == SQLITE_DONE ? 0 : ms__store_err(st, rc, "message insert");
}

int ms__sq_turn_begin(ms_store_t *base, const char *conversation_id, const char *user_msg_id,
                      const char *assistant_msg_id, const char *client_message_id,
                      const char *user_text, const char *node_id) {
    sq_store_t *st = SQ(base);
    static const char conv_sql[] = "SELECT 1 FROM conversations WHERE id = ?1";
    static const char dup_sql[] =
        "SELECT 1 FROM messages WHERE conversation_id = ?1 AND client_message_id = ?2";
    static const char seq_sql[] =
        "SELECT coalesce(max(seq), 0) FROM messages WHERE conversation_id = ?1";
    static const char bump_sql[] = "UPDATE conversations SET updated_at = ?2 WHERE id = ?1";
    int64_t v = 0, seq = 0, now = ms_now_ms();
    int found, rc;
    sqlite3_stmt *s;

    if (!conversation_id || !user_msg_id || !*user_msg_id || !assistant_msg_id ||
        !*assistant_msg_id || strcmp(user_msg_id, assistant_msg_id) == 0 || !valid_text(user_text))
        return MS_EINVAL;
    if (client_message_id &&
        (!*client_message_id || !valid_text(client_message_id) ||
         ms_utf8_count(client_message_id, strlen(client_message_id)) > MAX_CLIENT_ID_CHARS))
        return MS_EINVAL;
    if ((rc = ms__store_begin(st)) != 0)
        return rc;

    if (!(s = ms__store_stmt(st, conv_sql))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    if ((rc = one_int(st, s, &v, &found, "turn conversation")) != 0)
        goto fail;
    if (!found) {
        rc = MS_ENOENT;
        goto fail;
    }
    if (client_message_id) {
        if (!(s = ms__store_stmt(st, dup_sql))) {
            rc = MS_EIO;
            goto fail;
        }
        sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, client_message_id, -1, SQLITE_STATIC);
        if ((rc = one_int(st, s, &v, &found, "turn duplicate")) != 0)
            goto fail;
        if (found) {
            rc = MS_EEXIST;
            goto fail;
        }
    }
    /* The write lock is held (BEGIN IMMEDIATE), so max(seq) cannot race. */
    if (!(s = ms__store_stmt(st, seq_sql))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    if ((rc = one_int(st, s, &seq, &found, "turn seq")) != 0)
        goto fail;
    if ((rc = insert_message(st, user_msg_id, conversation_id, seq + 1, "user", user_text,
                             MS_MSG_COMPLETE, client_message_id, NULL, now, NULL)) != 0 ||
        (rc = insert_message(st, assistant_msg_id, conversation_id, seq + 2, "assistant", "",
                             MS_MSG_STREAMING, NULL, user_msg_id, now, node_id)) != 0)
        goto fail; /* a reused message id gives MS_EEXIST */
    if (!(s = ms__store_stmt(st, bump_sql))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "turn bump");
        goto fail;
    }
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}

/* The UPDATE of one message row; MS_ENOENT when no row has that id. */
static int update_row(sq_store_t *st, const char *msg_id, const char *content, const char *status,
                      const char *finish_reason, const char *usage_txt) {
    static const char sql[] =
        "UPDATE messages SET content = coalesce(?2, content), status = coalesce(?3, status),"
        " finish_reason = coalesce(?4, finish_reason), usage_json = coalesce(?5, usage_json),"
        " updated_at = ?6 WHERE id = ?1";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 2, content);
    ms__store_bind_text(s, 3, status);
    ms__store_bind_text(s, 4, finish_reason);
    ms__store_bind_text(s, 5, usage_txt);
    sqlite3_bind_int64(s, 6, ms_now_ms());
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, "message update");
    return sqlite3_changes(st->db) > 0 ? 0 : MS_ENOENT;
}

/* content or status NULL keeps the stored value (a checkpoint may carry
 * only one of them). Text must be valid UTF-8 (MS_EINVAL otherwise), as the
 * JSON it is served in must be. */
int ms__sq_message_update(ms_store_t *base, const char *msg_id, const char *content,
                          const char *status, const char *finish_reason, json_t *usage,
                          json_t *citations) {
    sq_store_t *st = SQ(base);
    char *usage_txt = NULL;
    int rc;
    if (!msg_id || (content && !valid_text(content)) || (status && !valid_status(status)) ||
        (finish_reason &&
         (!valid_text(finish_reason) || strlen(finish_reason) > MAX_FINISH_REASON_BYTES)) ||
        (usage && !json_is_object(usage)) || (citations && !json_is_array(citations)))
        return MS_EINVAL;
    if (usage)
        usage_txt = json_dumps(usage, JSON_COMPACT);

    if (!citations) {
        /* A plain checkpoint is one statement: no explicit transaction. */
        rc = update_row(st, msg_id, content, status, finish_reason, usage_txt);
        free(usage_txt);
        return rc;
    }
    if ((rc = ms__store_begin(st)) != 0)
        goto fail;
    if ((rc = update_row(st, msg_id, content, status, finish_reason, usage_txt)) != 0 ||
        (rc = ms__store_citations_put(st, msg_id, citations)) != 0 ||
        (rc = ms__store_commit(st)) != 0)
        goto fail;
    free(usage_txt);
    return 0;
fail:
    ms__store_rollback(st);
    free(usage_txt);
    return rc;
}

int ms__sq_message_set_grounding(ms_store_t *base, const char *msg_id, double grounding) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "UPDATE messages SET grounding = ?2 WHERE id = ?1";
    if (!msg_id || !(grounding >= 0 && grounding <= 1))
        return MS_EINVAL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, grounding);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, "message grounding");
    return sqlite3_changes(st->db) > 0 ? 0 : MS_ENOENT;
}

int ms__sq_message_set_workflow(ms_store_t *base, const char *msg_id, json_t *result) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "UPDATE messages SET workflow = ?2 WHERE id = ?1";
    if (!msg_id || !json_is_object(result))
        return MS_EINVAL;
    char *txt = json_dumps(result, JSON_COMPACT);
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        free(txt);
        return MS_EIO;
    }
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, txt, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    free(txt);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, "message workflow");
    return sqlite3_changes(st->db) > 0 ? 0 : MS_ENOENT;
}

#define MSG_SELECT                                                                                 \
    "SELECT id, conversation_id, role, content, status, client_message_id, reply_to,"              \
    " finish_reason, usage_json, created_at, updated_at, grounding, workflow FROM messages "

/* Builds the message JSON of the current row, citations included. */
static int message_from_row(sq_store_t *st, sqlite3_stmt *s, json_t **out) {
    json_t *m = json_object();
    json_object_set_new(m, "id", ms__store_col_json_str(s, 0));
    json_object_set_new(m, "conversation_id", ms__store_col_json_str(s, 1));
    json_object_set_new(m, "role", ms__store_col_json_str(s, 2));
    json_object_set_new(m, "content", ms__store_col_json_str(s, 3));
    json_object_set_new(m, "status", ms__store_col_json_str(s, 4));
    json_object_set_new(m, "client_message_id", ms__store_col_json_str(s, 5));
    json_object_set_new(m, "reply_to", ms__store_col_json_str(s, 6));
    json_object_set_new(m, "finish_reason", ms__store_col_json_str(s, 7));
    json_t *usage = NULL;
    if (sqlite3_column_type(s, 8) != SQLITE_NULL)
        usage = json_loads((const char *)sqlite3_column_text(s, 8), 0, NULL);
    json_object_set_new(m, "usage", usage ? usage : json_null());
    json_object_set_new(m, "grounding",
                        sqlite3_column_type(s, 11) == SQLITE_NULL
                            ? json_null()
                            : json_real(sqlite3_column_double(s, 11)));
    json_t *wf = NULL;
    if (sqlite3_column_type(s, 12) != SQLITE_NULL)
        wf = json_loads((const char *)sqlite3_column_text(s, 12), 0, NULL);
    json_object_set_new(m, "workflow", wf ? wf : json_null());
    json_object_set_new(m, "created_at", ms__store_col_json_time(s, 9));
    json_object_set_new(m, "updated_at", ms__store_col_json_time(s, 10));
    json_t *cits = NULL;
    int rc = ms__store_citations_get(st, (const char *)sqlite3_column_text(s, 0), &cits);
    if (rc != 0) {
        json_decref(m);
        return rc;
    }
    json_object_set_new(m, "citations", cits);
    *out = m;
    return 0;
}

int ms__sq_message_get(ms_store_t *base, const char *msg_id, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = MSG_SELECT "WHERE id = ?1";
    *out = NULL;
    if (!msg_id)
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        rc = message_from_row(st, s, out);
    else
        rc = rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "message get");
    ms__store_done(s);
    return rc;
}

/* The id (first column) of the single row a keyed query returns. */
static int lookup_id(sq_store_t *st, const char *sql, const char *k1, const char *k2,
                     char id[MS_ID_LEN + 1]) {
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, k1, -1, SQLITE_STATIC);
    if (k2)
        sqlite3_bind_text(s, 2, k2, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        ms__store_col_copy(s, 0, id, MS_ID_LEN + 1);
    ms__store_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "message lookup");
}

/* *assistant_msg is NULL (and 0 returned) if the user message somehow has
 * no reply row; sq_store_turn_begin always creates both. */
int ms__sq_message_by_client_id(ms_store_t *base, const char *conversation_id,
                                const char *client_message_id, json_t **user_msg,
                                json_t **assistant_msg) {
    sq_store_t *st = SQ(base);
    static const char user_sql[] =
        "SELECT id FROM messages WHERE conversation_id = ?1 AND client_message_id = ?2";
    static const char reply_sql[] = "SELECT id FROM messages WHERE reply_to = ?1 "
                                    "ORDER BY seq LIMIT 1";
    /* Ids are normally UUIDs; one spare byte lets a longer one fail to
     * match instead of being silently truncated into another id. */
    char uid[MS_ID_LEN + 1], aid[MS_ID_LEN + 1];
    json_t *u = NULL, *a = NULL;
    if (user_msg)
        *user_msg = NULL;
    if (assistant_msg)
        *assistant_msg = NULL;
    if (!conversation_id || !client_message_id)
        return MS_ENOENT;
    int rc = lookup_id(st, user_sql, conversation_id, client_message_id, uid);
    if (rc != 0)
        return rc;
    if (user_msg && (rc = ms__sq_message_get(base, uid, &u)) != 0)
        goto fail;
    if (assistant_msg) {
        rc = lookup_id(st, reply_sql, uid, NULL, aid);
        if (rc == 0)
            rc = ms__sq_message_get(base, aid, &a);
        if (rc != 0 && rc != MS_ENOENT)
            goto fail;
    }
    if (user_msg)
        *user_msg = u;
    if (assistant_msg)
        *assistant_msg = a;
    return 0;
fail:
    json_decref(u);
    json_decref(a);
    return rc;
}

int ms__sq_message_list(ms_store_t *base, const char *conversation_id, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] = MSG_SELECT "WHERE conversation_id = ?1 ORDER BY seq";
    *out = NULL;
    if (!conversation_id)
        return MS_EINVAL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *m;
        if ((rc = message_from_row(st, s, &m)) != 0)
            break;
        json_array_append_new(arr, m);
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return rc < 0 ? rc : ms__store_err(st, rc, "message list");
    }
    *out = arr;
    return 0;
}

/* Messages still streaming (the turn being answered right now) and empty
 * ones (an assistant reply that failed before any text) are left out: they
 * carry nothing a model should see as context. */
int ms__sq_recent_turns(ms_store_t *base, const char *conversation_id, int n, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "SELECT role, content FROM messages WHERE conversation_id = ?1"
        " AND status <> 'streaming' AND content <> '' ORDER BY seq DESC LIMIT ?2";
    *out = NULL;
    if (!conversation_id)
        return MS_EINVAL;
    if (n < 0)
        n = 0;
    if (n > MAX_RECENT_TURNS)
        n = MAX_RECENT_TURNS;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, n);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *t = json_object();
        json_object_set_new(t, "role", ms__store_col_json_str(s, 0));
        json_object_set_new(t, "content", ms__store_col_json_str(s, 1));
        json_array_insert_new(arr, 0, t); /* newest-first rows, oldest-first array */
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "recent turns");
    }
    *out = arr;
    return 0;
}
