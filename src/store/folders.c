/* Folders (store.h, "folders"): a per-user tree of named folders that
 * conversations are filed in.
 *
 * Each write that depends on the shape of the tree reads it inside its own
 * write transaction (BEGIN IMMEDIATE, or a savepoint inside one): the
 * ancestors of a move's target (the cycle check and its depth), the height
 * of the subtree that moves, the user's folder count, the names a delete
 * moves into the parent. Under SQLite that transaction holds the write lock
 * from its first statement, so a second process cannot change the tree
 * between the check and the change. The walks are recursive CTEs bounded by
 * the depth limit, so even a damaged table (a cycle written by hand) cannot
 * make them run forever. */
#include "store/store_int.h"

#include "core/utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- field rules (backend-independent) ---------------------------------- */

/* The trimmed span of s: surrounding ASCII whitespace removed. */
static void trim(const char *s, const char **b, const char **e) {
    *b = s;
    *e = s + strlen(s);
    while (*b < *e && strchr(" \t\r\n", **b))
        (*b)++;
    while (*e > *b && strchr(" \t\r\n", (*e)[-1]))
        (*e)--;
}

int ms_folder_name_valid(const char *name) {
    if (!name)
        return 0;
    const char *b, *e;
    trim(name, &b, &e);
    size_t n = (size_t)(e - b);
    if (n == 0 || !ms_utf8_valid(b, n))
        return 0;
    for (const char *p = b; p < e; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return ms_utf8_count(b, n) <= MS_FOLDER_MAX_NAME_CHARS;
}

int ms_folder_color_valid(const char *color) {
    if (!color || color[0] != '#')
        return 0;
    size_t n = strlen(color + 1);
    if (n != 3 && n != 6)
        return 0;
    for (size_t i = 1; i <= n; i++)
        if (!isxdigit((unsigned char)color[i]))
            return 0;
    return 1;
}

int ms_folder_icon_valid(const char *icon) {
    if (!icon || !*icon || strlen(icon) > MS_FOLDER_MAX_ICON_BYTES)
        return 0;
    for (const char *p = icon; *p; p++) {
        int alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == icon || (*p != '-' && *p != '_')))
            return 0;
    }
    return 1;
}

/* The stored form of a valid name (trimmed), malloc'd. */
static char *name_norm(const char *name) {
    const char *b, *e;
    trim(name, &b, &e);
    return ms_xstrndup(b, (size_t)(e - b));
}

/* The stored form of a valid colour (lower case), malloc'd; NULL for none. */
static char *color_norm(const char *color) {
    if (!color)
        return NULL;
    char *c = ms_xstrdup(color);
    for (char *p = c; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return c;
}

/* Every given field is valid; ids are UUIDs. */
static int fields_valid(const ms_folder_fields_t *f, int create) {
    if ((create || f->set_name) && !ms_folder_name_valid(f->name))
        return 0;
    if ((create || f->set_color) && f->color && !ms_folder_color_valid(f->color))
        return 0;
    if ((create || f->set_icon) && f->icon && !ms_folder_icon_valid(f->icon))
        return 0;
    if ((create || f->set_parent) && f->parent_id && !ms_id_valid(f->parent_id))
        return 0;
    return 1;
}

static int limits_valid(const ms_folder_limits_t *lim) {
    return lim && lim->max_depth >= 1 && lim->max_per_user >= 1;
}

/* ---- rows ------------------------------------------------------------------ */

/* The owner is the last column (8). */
#define FOLDER_SELECT                                                                              \
    "SELECT f.id, f.name, f.parent_id, f.color, f.icon, f.created_at, f.updated_at,"               \
    " (SELECT count(*) FROM conversations c WHERE c.folder_id = f.id), f.user_id "                 \
    "FROM folders f "

static json_t *folder_from_row(sqlite3_stmt *s) {
    json_t *f = json_object();
    json_object_set_new(f, "id", ms__store_col_json_str(s, 0));
    json_object_set_new(f, "name", ms__store_col_json_str(s, 1));
    json_object_set_new(f, "parent_folder_id", ms__store_col_json_str(s, 2));
    json_object_set_new(f, "color", ms__store_col_json_str(s, 3));
    json_object_set_new(f, "icon", ms__store_col_json_str(s, 4));
    json_object_set_new(f, "conversation_count", json_integer(sqlite3_column_int64(s, 7)));
    json_object_set_new(f, "created_at", ms__store_col_json_time(s, 5));
    json_object_set_new(f, "updated_at", ms__store_col_json_time(s, 6));
    return f;
}

/* Loads folder id of user_id: *out (may be NULL) gets its JSON and
 * parent (may be NULL, MS_ID_LEN + 1 bytes) its parent id or "". MS_ENOENT
 * when absent or another user's: the two are never told apart. */
static int folder_load(sq_store_t *st, const char *user_id, const char *id, json_t **out,
                       char *parent) {
    static const char sql[] = FOLDER_SELECT "WHERE f.id = ?1";
    if (!user_id || !id)
        return MS_ENOENT;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        ms__store_done(s);
        return rc == SQLITE_DONE ? MS_ENOENT : ms__store_err(st, rc, "folder get");
    }
    const char *owner = (const char *)sqlite3_column_text(s, 8);
    if (!owner || strcmp(owner, user_id) != 0) {
        ms__store_done(s);
        return MS_ENOENT;
    }
    if (out)
        *out = folder_from_row(s);
    if (parent)
        ms__store_col_copy(s, 2, parent, MS_ID_LEN + 1);
    ms__store_done(s);
    return 0;
}

int ms__store_folder_owned(sq_store_t *st, const char *user_id, const char *folder_id) {
    return ms_id_valid(folder_id) ? folder_load(st, user_id, folder_id, NULL, NULL) : MS_ENOENT;
}

/* Runs a statement expected to return one row of one or two integers. */
static int step_ints(sq_store_t *st, sqlite3_stmt *s, int64_t *a, int64_t *b, const char *what) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(s, 0);
        if (b)
            *b = sqlite3_column_int64(s, 1);
    }
    ms__store_done(s);
    return rc == SQLITE_ROW ? 0 : ms__store_err(st, rc, what);
}

/* Walks up from folder from: *depth gets its level (a top-level folder is
 * 1; bound + 1 or more means "deeper than bound"), *has_self whether
 * folder self is from or one of its ancestors (moving self under from
 * would close a cycle). */
static int ancestors(sq_store_t *st, const char *from, const char *self, int bound, int64_t *depth,
                     int64_t *has_self) {
    static const char sql[] = "WITH RECURSIVE up(id, parent_id, n) AS ("
                              " SELECT id, parent_id, 1 FROM folders WHERE id = ?1"
                              " UNION ALL SELECT f.id, f.parent_id, up.n + 1 FROM folders f JOIN up"
                              " ON f.id = up.parent_id WHERE up.n <= ?3)"
                              " SELECT coalesce(max(n), 0), coalesce(max(id = ?2), 0) FROM up";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 2, self);
    sqlite3_bind_int(s, 3, bound);
    return step_ints(st, s, depth, has_self, "folder ancestors");
}

/* The levels below folder id in its subtree (0 for a leaf), counted up to
 * bound + 1 at most. */
static int subtree_height(sq_store_t *st, const char *id, int bound, int64_t *height) {
    static const char sql[] = "WITH RECURSIVE down(id, h) AS ("
                              " SELECT id, 0 FROM folders WHERE id = ?1"
                              " UNION ALL SELECT f.id, down.h + 1 FROM folders f JOIN down"
                              " ON f.parent_id = down.id WHERE down.h <= ?2)"
                              " SELECT coalesce(max(h), 0) FROM down";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, bound);
    return step_ints(st, s, height, NULL, "folder subtree");
}

/* Checks that placing a subtree of height below the node under parent
 * (NULL: the top level) stays within lim: MS_ENOENT when parent is not
 * the user's, MS_EINVAL when self (NULL on create) is parent or one of its
 * ancestors, MS_ETOOBIG when too deep. */
static int check_placement(sq_store_t *st, const char *user_id, const char *parent,
                           const char *self, int64_t height, const ms_folder_limits_t *lim) {
    int64_t depth = 0, cycle = 0;
    if (parent) {
        int rc = folder_load(st, user_id, parent, NULL, NULL);
        if (rc)
            return rc;
        if ((rc = ancestors(st, parent, self, lim->max_depth, &depth, &cycle)) != 0)
            return rc;
    }
    if (cycle)
        return MS_EINVAL;
    return depth + 1 + height > lim->max_depth ? MS_ETOOBIG : 0;
}

/* A unique violation on a folder row is a sibling's name. */
static int write_err(sq_store_t *st, int rc, const char *what) {
    return rc == SQLITE_CONSTRAINT_UNIQUE ? MS_EEXIST : ms__store_err(st, rc, what);
}

int ms__sq_folder_create(ms_store_t *base, const char *user_id, const ms_folder_fields_t *f,
                         const ms_folder_limits_t *lim, json_t **out) {
    sq_store_t *st = SQ(base);
    static const char count_sql[] = "SELECT count(*) FROM folders WHERE user_id = ?1";
    static const char sql[] = "INSERT INTO folders (id, user_id, parent_id, name, color, icon,"
                              " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
    if (out)
        *out = NULL;
    if (!user_id || !f || !fields_valid(f, 1) || !limits_valid(lim))
        return MS_EINVAL;
    char id[MS_ID_LEN];
    ms_id_new_v7(id);
    char *name = name_norm(f->name), *color = color_norm(f->color);
    int64_t n = 0;
    int rc = ms__store_begin(st);
    if (rc)
        goto out;
    if ((rc = check_placement(st, user_id, f->parent_id, NULL, 0, lim)) != 0)
        goto fail;
    sqlite3_stmt *s = ms__store_stmt(st, count_sql);
    if (!s) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    if ((rc = step_ints(st, s, &n, NULL, "folder count")) != 0)
        goto fail;
    if (n >= lim->max_per_user) {
        rc = MS_ETOOBIG;
        goto fail;
    }
    if (!(s = ms__store_stmt(st, sql))) {
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user_id, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 3, f->parent_id);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
    ms__store_bind_text(s, 5, color);
    ms__store_bind_text(s, 6, f->icon);
    sqlite3_bind_int64(s, 7, ms_now_ms());
    rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        rc = write_err(st, rc, "folder insert");
        goto fail;
    }
    if ((rc = ms__store_commit(st)) != 0)
        goto out;
    rc = out ? folder_load(st, user_id, id, out, NULL) : 0;
    goto out;
fail:
    ms__store_rollback(st);
out:
    free(name);
    free(color);
    return rc;
}

int ms__sq_folder_get(ms_store_t *base, const char *user_id, const char *id, json_t **out) {
    *out = NULL;
    return ms_id_valid(id) ? folder_load(SQ(base), user_id, id, out, NULL) : MS_ENOENT;
}

/* Every folder of the user, or those under one parent ("IS" matches the
 * NULL of the top level too), by name then id. */
static int folder_rows(sq_store_t *st, const char *user_id, int all, const char *parent,
                       json_t **out) {
    static const char sql[] = FOLDER_SELECT "WHERE f.user_id = ?1 AND (?2 OR f.parent_id IS ?3)"
                                            " ORDER BY f.name, f.id";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, all);
    ms__store_bind_text(s, 3, parent);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, folder_from_row(s));
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "folder list");
    }
    *out = arr;
    return 0;
}

int ms__sq_folder_list(ms_store_t *base, const char *user_id, const char *parent_id, json_t **out) {
    sq_store_t *st = SQ(base);
    *out = NULL;
    if (!user_id)
        return MS_EINVAL;
    if (parent_id) {
        int rc = ms__store_folder_owned(st, user_id, parent_id);
        if (rc)
            return rc;
    }
    return folder_rows(st, user_id, 0, parent_id, out);
}

/* Builds the forest breadth-first from the top level, so the depth of the
 * tree costs no C stack and a folder that no top-level folder leads to (only
 * possible in a hand-damaged table) is left out rather than looped over. */
int ms__sq_folder_tree(ms_store_t *base, const char *user_id, json_t **out) {
    sq_store_t *st = SQ(base);
    json_t *all = NULL;
    *out = NULL;
    if (!user_id)
        return MS_EINVAL;
    int rc = folder_rows(st, user_id, 1, NULL, &all);
    if (rc)
        return rc;
    /* children[parent id] = array of its folders, in name order. */
    json_t *children = json_object(), *roots = json_array(), *queue = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(all, i, f) {
        json_object_set_new(f, "children", json_array());
        const char *p = json_string_value(json_object_get(f, "parent_folder_id"));
        if (!p) {
            json_array_append(roots, f);
            json_array_append(queue, f);
            continue;
        }
        json_t *list = json_object_get(children, p);
        if (!list) {
            list = json_array();
            json_object_set_new(children, p, list);
        }
        json_array_append(list, f);
    }
    for (i = 0; i < json_array_size(queue); i++) {
        f = json_array_get(queue, i);
        json_t *list = json_object_get(children, json_string_value(json_object_get(f, "id")));
        size_t k;
        json_t *c;
        json_array_foreach(list, k, c) {
            json_array_append(json_object_get(f, "children"), c);
            json_array_append(queue, c);
        }
    }
    json_decref(queue);
    json_decref(children);
    json_decref(all);
    *out = roots;
    return 0;
}

/* The UPDATE of the given fields; the stored values stay for the others. */
static int update_row(sq_store_t *st, const char *id, const ms_folder_fields_t *f, const char *name,
                      const char *color) {
    static const char sql[] =
        "UPDATE folders SET name = CASE WHEN ?2 THEN ?3 ELSE name END,"
        " color = CASE WHEN ?4 THEN ?5 ELSE color END, icon = CASE WHEN ?6 THEN ?7 ELSE icon END,"
        " parent_id = CASE WHEN ?8 THEN ?9 ELSE parent_id END, updated_at = ?10 WHERE id = ?1";
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, f->set_name);
    ms__store_bind_text(s, 3, name);
    sqlite3_bind_int(s, 4, f->set_color);
    ms__store_bind_text(s, 5, color);
    sqlite3_bind_int(s, 6, f->set_icon);
    ms__store_bind_text(s, 7, f->icon);
    sqlite3_bind_int(s, 8, f->set_parent);
    ms__store_bind_text(s, 9, f->parent_id);
    sqlite3_bind_int64(s, 10, ms_now_ms());
    int rc = sqlite3_step(s);
    ms__store_done(s);
    return rc == SQLITE_DONE ? 0 : write_err(st, rc, "folder update");
}

int ms__sq_folder_update(ms_store_t *base, const char *user_id, const char *id,
                         const ms_folder_fields_t *f, const ms_folder_limits_t *lim, json_t **out) {
    sq_store_t *st = SQ(base);
    if (out)
        *out = NULL;
    if (!ms_id_valid(id))
        return MS_ENOENT;
    if (!f || !fields_valid(f, 0) || !limits_valid(lim))
        return MS_EINVAL;
    char *name = f->set_name ? name_norm(f->name) : NULL;
    char *color = f->set_color ? color_norm(f->color) : NULL;
    int rc = ms__store_begin(st);
    if (rc)
        goto out;
    if ((rc = folder_load(st, user_id, id, NULL, NULL)) != 0)
        goto fail;
    if (f->set_parent) {
        /* The cycle check, the depth check and the move share this
         * transaction: nobody can reshape the tree in between. */
        int64_t height = 0;
        if ((f->parent_id && !strcmp(f->parent_id, id)) ||
            (rc = subtree_height(st, id, lim->max_depth, &height)) != 0 ||
            (rc = check_placement(st, user_id, f->parent_id, id, height, lim)) != 0) {
            rc = rc ? rc : MS_EINVAL;
            goto fail;
        }
    }
    if ((rc = update_row(st, id, f, name, color)) != 0)
        goto fail;
    if ((rc = ms__store_commit(st)) != 0)
        goto out;
    rc = out ? folder_load(st, user_id, id, out, NULL) : 0;
    goto out;
fail:
    ms__store_rollback(st);
out:
    free(name);
    free(color);
    return rc;
}

/* Runs one statement binding id (?1) and, when the statement has it,
 * parent (?2, NULL for the top level). */
static int exec_id_parent(sq_store_t *st, const char *sql, const char *id, const char *parent,
                          const char *what) {
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) >= 2)
        ms__store_bind_text(s, 2, parent);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    return rc == SQLITE_DONE ? 0 : write_err(st, rc, what);
}

/* Children move up one level, conversations with them. Moving the children
 * first lets the unique index itself find a name clash at the parent; the
 * whole delete is then rolled back. */
int ms__sq_folder_delete(ms_store_t *base, const char *user_id, const char *id) {
    sq_store_t *st = SQ(base);
    static const char up_sql[] = "UPDATE folders SET parent_id = ?2 WHERE parent_id = ?1";
    static const char conv_sql[] = "UPDATE conversations SET folder_id = ?2 WHERE folder_id = ?1";
    static const char del_sql[] = "DELETE FROM folders WHERE id = ?1";
    char parent[MS_ID_LEN + 1] = "";
    if (!ms_id_valid(id))
        return MS_ENOENT;
    int rc = ms__store_begin(st);
    if (rc)
        return rc;
    if ((rc = folder_load(st, user_id, id, NULL, parent)) != 0)
        goto fail;
    const char *p = parent[0] ? parent : NULL;
    if ((rc = exec_id_parent(st, up_sql, id, p, "folder delete children")) != 0 ||
        (rc = exec_id_parent(st, conv_sql, id, p, "folder delete conversations")) != 0 ||
        (rc = exec_id_parent(st, del_sql, id, NULL, "folder delete")) != 0)
        goto fail;
    return ms__store_commit(st);
fail:
    ms__store_rollback(st);
    return rc;
}
