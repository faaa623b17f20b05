/* The tool calls of an assistant message (message_tools): what the turn
 * asked a tool and what came back, kept so an export can show them. Today
 * the one tool is the knowledge-base search ("kb_search": arguments
 * {"query","k"}, result {"count","top":[{"id","title","score"}]} and
 * "duration_ms", as the tool_call and tool_result events carry them). */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* Longest stored arguments or result (bytes of compact JSON): a summary,
 * never the passages themselves. */
#define MAX_TOOL_JSON (64 * 1024)

static int bind_obj(sqlite3_stmt *s, int col, json_t *v) {
    if (!v || json_is_null(v))
        return sqlite3_bind_null(s, col) == SQLITE_OK ? 0 : MS_EIO;
    if (!json_is_object(v))
        return MS_EINVAL;
    char *txt = json_dumps(v, JSON_COMPACT);
    size_t n = txt ? strlen(txt) : 0;
    if (!txt || n > MAX_TOOL_JSON) {
        free(txt);
        return MS_EINVAL;
    }
    sqlite3_bind_text(s, col, txt, (int)n, SQLITE_TRANSIENT);
    free(txt);
    return 0;
}

int ms__sq_message_tools_put(ms_store_t *base, const char *msg_id, json_t *tools) {
    sq_store_t *st = SQ(base);
    static const char del[] = "DELETE FROM message_tools WHERE message_id = ?1";
    static const char ins[] = "INSERT INTO message_tools (message_id, idx, tool_call_id, name,"
                              " arguments, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    static const char exists[] = "SELECT 1 FROM messages WHERE id = ?1";
    if (!msg_id || !json_is_array(tools))
        return MS_EINVAL;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *id = json_object_get(t, "tool_call_id");
        if (!json_is_object(t) || !name || !*name || strlen(name) > 64 ||
            (id && !json_is_null(id) && !json_is_string(id)))
            return MS_EINVAL;
    }
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    sqlite3_stmt *s = ms__store_stmt(st, exists);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "tools message");
        goto fail;
    }
    if (!(s = ms__store_stmt(st, del))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "tools delete");
        goto fail;
    }
    json_array_foreach(tools, i, t) {
        if (!(s = ms__store_stmt(st, ins))) {
            rc = MS_EIO;
            goto fail;
        }
        sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)i);
        ms__store_bind_text(s, 3, json_string_value(json_object_get(t, "tool_call_id")));
        sqlite3_bind_text(s, 4, json_string_value(json_object_get(t, "name")), -1,
                          SQLITE_TRANSIENT);
        if ((rc = bind_obj(s, 5, json_object_get(t, "arguments"))) != 0 ||
            (rc = bind_obj(s, 6, json_object_get(t, "result"))) != 0) {
            ms__store_done(s);
            goto fail;
        }
        rc = sqlite3_step(s);
        ms__store_done(s);
        if (rc != SQLITE_DONE) {
            rc = ms__store_err(st, rc, "tools insert");
            goto fail;
        }
    }
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}

static json_t *obj_col(sqlite3_stmt *s, int i) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return json_null();
    json_t *v = json_loads((const char *)sqlite3_column_text(s, i), 0, NULL);
    return v ? v : json_null();
}

int ms__sq_tools_by_conversation(ms_store_t *base, const char *conversation_id, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "SELECT t.message_id, t.tool_call_id, t.name, t.arguments, t.result FROM message_tools t"
        " JOIN messages m ON m.id = t.message_id WHERE m.conversation_id = ?1"
        " ORDER BY m.seq, t.idx";
    *out = NULL;
    if (!conversation_id)
        return MS_EINVAL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    json_t *by = json_object();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *mid = (const char *)sqlite3_column_text(s, 0);
        json_t *list = json_object_get(by, mid);
        if (!list) {
            list = json_array();
            json_object_set_new(by, mid, list);
        }
        json_array_append_new(list, json_pack("{s:o, s:o, s:o, s:o}", "tool_call_id",
                                              ms__store_col_json_str(s, 1), "name",
                                              ms__store_col_json_str(s, 2), "arguments",
                                              obj_col(s, 3), "result", obj_col(s, 4)));
    }
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(by);
        return ms__store_err(st, rc, "tools by conversation");
    }
    *out = by;
    return 0;
}
