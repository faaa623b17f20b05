/* Clinical contexts (store.h, "clinical contexts"), SQLite backend. Every
 * call is scoped to the owner: a context or conversation of another user is
 * MS_ENOENT, as a missing one is, so the REST API never reveals which ids
 * exist. Values arrive validated (src/clinical/context.c); lists and vitals
 * are stored as compact JSON text. */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define CTX_COLUMNS                                                                                \
    "id, user_id, source, age, gender, weight_kg, height_cm, chief_complaint, problems,"           \
    " medications, allergies, vitals, created_at, updated_at"

/* The JSON-text members, with what an absent one is. */
static const struct {
    const char *key;
    int object;
} json_members[] = {{"problems", 0}, {"medications", 0}, {"allergies", 0}, {"vitals", 1}};

static json_t *col_json_doc(sqlite3_stmt *s, int i, int object) {
    const char *t = (const char *)sqlite3_column_text(s, i);
    json_t *v = t ? json_loads(t, 0, NULL) : NULL;
    if (object ? json_is_object(v) : json_is_array(v))
        return v;
    json_decref(v);
    return object ? json_object() : json_array();
}

static json_t *col_number(sqlite3_stmt *s, int i, int integer) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return json_null();
    return integer ? json_integer(sqlite3_column_int64(s, i))
                   : json_real(sqlite3_column_double(s, i));
}

/* The ids of the conversations bound to context id, oldest first. */
static int bound_conversations(sq_store_t *st, const char *id, json_t **out) {
    static const char sql[] =
        "SELECT id FROM conversations WHERE clinical_context_id = ?1 ORDER BY created_at, id";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, ms__store_col_json_str(s, 0));
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "clinical conversations");
    }
    *out = arr;
    return 0;
}

/* Loads context id if it is user_id's. out may be NULL (ownership only). */
static int ctx_load(sq_store_t *st, const char *user_id, const char *id, json_t **out) {
    static const char sql[] = "SELECT " CTX_COLUMNS " FROM clinical_contexts WHERE id = ?1";
    if (!user_id || !id)
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        ms__store_done(s);
        return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "clinical get");
    }
    const char *owner = (const char *)sqlite3_column_text(s, 1);
    if (!owner || strcmp(owner, user_id) != 0) {
        ms__store_done(s);
        return MS_ENOENT;
    }
    json_t *c = NULL;
    if (out) {
        c = json_object();
        json_object_set_new(c, "id", ms__store_col_json_str(s, 0));
        json_object_set_new(c, "user_id", ms__store_col_json_str(s, 1));
        json_object_set_new(c, "source", ms__store_col_json_str(s, 2));
        json_object_set_new(c, "age", col_number(s, 3, 1));
        json_object_set_new(c, "gender", ms__store_col_json_str(s, 4));
        json_object_set_new(c, "weight_kg", col_number(s, 5, 0));
        json_object_set_new(c, "height_cm", col_number(s, 6, 0));
        json_object_set_new(c, "chief_complaint", ms__store_col_json_str(s, 7));
        for (size_t i = 0; i < MS_COUNTOF(json_members); i++)
            json_object_set_new(c, json_members[i].key,
                                col_json_doc(s, 8 + (int)i, json_members[i].object));
        json_object_set_new(c, "created_at", ms__store_col_json_time(s, 12));
        json_object_set_new(c, "updated_at", ms__store_col_json_time(s, 13));
    }
    ms__store_done(s);
    if (!out)
        return 0;
    json_t *convs = NULL;
    if ((rc = bound_conversations(st, id, &convs)) != 0) {
        json_decref(c);
        return rc;
    }
    json_object_set_new(c, "conversation_ids", convs);
    *out = c;
    return 0;
}

/* Whether conversation_id is user_id's; *bound (may be NULL) gets its
 * context id or "". MS_ENOENT otherwise. */
static int conv_check(sq_store_t *st, const char *user_id, const char *conversation_id,
                      char bound[MS_ID_LEN]) {
    static const char sql[] =
        "SELECT user_id, clinical_context_id FROM conversations WHERE id = ?1";
    /* Empty on every path, so a caller reading it never sees garbage. */
    if (bound)
        bound[0] = '\0';
    if (!user_id || !conversation_id)
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        ms__store_done(s);
        return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "clinical conversation");
    }
    const char *owner = (const char *)sqlite3_column_text(s, 0);
    int mine = owner && !strcmp(owner, user_id);
    if (bound)
        ms__store_col_copy(s, 1, bound, MS_ID_LEN);
    ms__store_done(s);
    return mine ? 0 : MS_ENOENT;
}

static int set_binding(sq_store_t *st, const char *conversation_id, const char *context_id) {
    static const char sql[] = "UPDATE conversations SET clinical_context_id = ?2 WHERE id = ?1";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, context_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    return rc == SQLITE_DONE ? 0 : ms__store_err(st, rc, "clinical bind");
}

/* Binds the member values of c (a full context object) to ?3.. ?12 of s:
 * source, age, gender, weight, height, complaint, 4 JSON texts; the JSON
 * texts are malloc'd into texts[4] for the caller to free after the step. */
static void bind_members(sqlite3_stmt *s, json_t *c, const char *source, char *texts[4]) {
    ms__store_bind_text(s, 3, source);
    json_t *age = json_object_get(c, "age");
    if (json_is_integer(age))
        sqlite3_bind_int64(s, 4, json_integer_value(age));
    ms__store_bind_text(s, 5, json_string_value(json_object_get(c, "gender")));
    json_t *w = json_object_get(c, "weight_kg"), *h = json_object_get(c, "height_cm");
    if (json_is_number(w))
        sqlite3_bind_double(s, 6, json_number_value(w));
    if (json_is_number(h))
        sqlite3_bind_double(s, 7, json_number_value(h));
    ms__store_bind_text(s, 8, json_string_value(json_object_get(c, "chief_complaint")));
    for (size_t i = 0; i < MS_COUNTOF(json_members); i++) {
        json_t *v = json_object_get(c, json_members[i].key);
        if (json_members[i].object ? !json_is_object(v) : !json_is_array(v))
            texts[i] = ms_xstrdup(json_members[i].object ? "{}" : "[]");
        else
            texts[i] = json_dumps(v, JSON_COMPACT);
        sqlite3_bind_text(s, 9 + (int)i, texts[i], -1, SQLITE_STATIC);
    }
}

static int ctx_write(sq_store_t *st, const char *sql, const char *id, const char *user_id,
                     json_t *c, const char *source, const char *what) {
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    char *texts[4] = {NULL, NULL, NULL, NULL};
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    bind_members(s, c, source, texts);
    sqlite3_bind_int64(s, 13, ms_now_ms());
    int rc = sqlite3_step(s);
    ms__store_done(s);
    for (size_t i = 0; i < 4; i++)
        free(texts[i]);
    if (rc == SQLITE_DONE)
        return 0;
    /* A foreign-key failure on insert: the user does not exist. */
    return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? MS_ENOENT : ms__store_err(st, rc, what);
}

static int source_valid(const char *source) {
    return source && (!strcmp(source, "manual") || !strcmp(source, "fhir"));
}

int ms__sq_clinical_create(ms_store_t *base, const char *user_id, json_t *fields,
                           const char *source, const char *conversation_id, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "INSERT INTO clinical_contexts (" CTX_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
        " ?8, ?9, ?10, ?11, ?12, ?13, ?13)";
    char id[MS_ID_LEN], bound[MS_ID_LEN];
    if (out)
        *out = NULL;
    if (!user_id || !json_is_object(fields) || !source_valid(source))
        return MS_EINVAL;
    ms_id_new_v7(id);
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if (conversation_id) {
        if ((rc = conv_check(st, user_id, conversation_id, bound)) != 0)
            goto fail;
        if (bound[0]) {
            rc = MS_EEXIST;
            goto fail;
        }
    }
    if ((rc = ctx_write(st, sql, id, user_id, fields, source, "clinical insert")) != 0)
        goto fail;
    if (conversation_id && (rc = set_binding(st, conversation_id, id)) != 0)
        goto fail;
    if ((rc = ms__store_commit(st)) != 0)
        goto fail;
    return out ? ctx_load(st, user_id, id, out) : 0;
fail:
    ms__store_rollback(st);
    return rc;
}

int ms__sq_clinical_get(ms_store_t *base, const char *user_id, const char *id, json_t **out) {
    *out = NULL;
    return ctx_load(SQ(base), user_id, id, out);
}

int ms__sq_clinical_current(ms_store_t *base, const char *user_id, const char *conversation_id,
                            json_t **out) {
    sq_store_t *st = SQ(base);
    static const char latest[] = "SELECT id FROM clinical_contexts WHERE user_id = ?1"
                                 " ORDER BY updated_at DESC, created_at DESC, id DESC LIMIT 1";
    char id[MS_ID_LEN] = "";
    *out = NULL;
    if (!user_id)
        return MS_ENOENT;
    if (conversation_id) {
        int rc = conv_check(st, user_id, conversation_id, id);
        if (rc)
            return rc;
    } else {
        sqlite3_stmt *s = ms__store_stmt(st, latest);
        if (!s)
            return MS_EIO;
        sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            ms__store_col_copy(s, 0, id, sizeof id);
        ms__store_done(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return ms__store_err(st, rc, "clinical current");
    }
    return id[0] ? ctx_load(st, user_id, id, out) : MS_ENOENT;
}

int ms__sq_clinical_update(ms_store_t *base, const char *user_id, const char *id, json_t *patch,
                           const char *source, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char sql[] =
        "UPDATE clinical_contexts SET source = ?3, age = ?4, gender = ?5, weight_kg = ?6,"
        " height_cm = ?7, chief_complaint = ?8, problems = ?9, medications = ?10,"
        " allergies = ?11, vitals = ?12, updated_at = ?13 WHERE id = ?1 AND user_id = ?2";
    json_t *cur = NULL;
    if (out)
        *out = NULL;
    if (!json_is_object(patch) || (source && !source_valid(source)))
        return MS_EINVAL;
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = ctx_load(st, user_id, id, &cur)) != 0)
        goto fail;
    json_object_update(cur, patch);
    if (!source)
        source = json_string_value(json_object_get(cur, "source"));
    if ((rc = ctx_write(st, sql, id, user_id, cur, source, "clinical update")) != 0)
        goto fail;
    json_decref(cur);
    cur = NULL;
    if ((rc = ms__store_commit(st)) != 0)
        goto fail;
    return out ? ctx_load(st, user_id, id, out) : 0;
fail:
    json_decref(cur);
    ms__store_rollback(st);
    return rc;
}

int ms__sq_clinical_delete(ms_store_t *base, const char *user_id, const char *id) {
    sq_store_t *st = SQ(base);
    static const char sql[] = "DELETE FROM clinical_contexts WHERE id = ?1 AND user_id = ?2";
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = ctx_load(st, user_id, id, NULL)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = ms__store_err(st, rc, "clinical delete");
        goto fail;
    }
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}

int ms__sq_clinical_bind(ms_store_t *base, const char *user_id, const char *conversation_id,
                         const char *context_id) {
    sq_store_t *st = SQ(base);
    char bound[MS_ID_LEN];
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = ctx_load(st, user_id, context_id, NULL)) != 0 ||
        (rc = conv_check(st, user_id, conversation_id, bound)) != 0)
        goto fail;
    if (strcmp(bound, context_id) != 0 && (rc = set_binding(st, conversation_id, context_id)) != 0)
        goto fail;
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}
