/* Citations of an assistant message: JSON objects in, rows of the
 * citations table, the same JSON objects out.
 *
 * Object shape: {index, source_id, source_type, title, url, source_name,
 * relevance_score, quoted_text} (each null when unknown) plus pmid, doi,
 * authors (array of strings), journal and year, which are omitted when
 * unknown. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>

/* The text members, in column order after (message_id, idx). */
static const char *const text_keys[] = {"source_id", "source_type", "title", "url", "source_name"};

/* Binds member key of c as text: string, or NULL when absent or null.
 * MS_EINVAL for any other JSON type. */
static int bind_str(sqlite3_stmt *s, int col, json_t *c, const char *key) {
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v))
        return sqlite3_bind_null(s, col) == SQLITE_OK ? 0 : MS_EIO;
    if (!json_is_string(v))
        return MS_EINVAL;
    sqlite3_bind_text(s, col, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
    return 0;
}

/* Binds one citation object to the insert statement; MS_EINVAL when a
 * member has the wrong type. position is its place in the array (0-based). */
static int bind_citation(sqlite3_stmt *s, const char *msg_id, json_t *c, size_t position) {
    int rc;
    if (!json_is_object(c))
        return MS_EINVAL;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    /* The index is what the answer text refers to ("[2]"); when the
     * producer gives none, citations are numbered 1.. in array order. */
    json_t *idx = json_object_get(c, "index");
    if (idx && !json_is_null(idx)) {
        if (!json_is_integer(idx) || json_integer_value(idx) < 0)
            return MS_EINVAL;
        sqlite3_bind_int64(s, 2, json_integer_value(idx));
    } else {
        sqlite3_bind_int64(s, 2, (sqlite3_int64)position + 1);
    }
    for (size_t i = 0; i < MS_COUNTOF(text_keys); i++) {
        if ((rc = bind_str(s, 3 + (int)i, c, text_keys[i])) != 0)
            return rc;
    }
    json_t *score = json_object_get(c, "relevance_score");
    if (score && !json_is_null(score)) {
        if (!json_is_number(score))
            return MS_EINVAL;
        sqlite3_bind_double(s, 8, json_number_value(score));
    }
    if ((rc = bind_str(s, 9, c, "quoted_text")) != 0)
        return rc;
    /* PMIDs are decimal numbers; producers send them as strings or ints. */
    json_t *pmid = json_object_get(c, "pmid");
    if (pmid && json_is_integer(pmid)) {
        char num[32];
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(pmid));
        sqlite3_bind_text(s, 10, num, -1, SQLITE_TRANSIENT);
    } else if ((rc = bind_str(s, 10, c, "pmid")) != 0) {
        return rc;
    }
    if ((rc = bind_str(s, 11, c, "doi")) != 0)
        return rc;
    json_t *authors = json_object_get(c, "authors");
    if (authors && !json_is_null(authors)) {
        size_t i;
        json_t *a;
        if (!json_is_array(authors))
            return MS_EINVAL;
        json_array_foreach(authors, i, a) {
            if (!json_is_string(a))
                return MS_EINVAL;
        }
        char *txt = json_dumps(authors, JSON_COMPACT);
        sqlite3_bind_text(s, 12, txt, -1, SQLITE_TRANSIENT);
        free(txt);
    }
    if ((rc = bind_str(s, 13, c, "journal")) != 0)
        return rc;
    json_t *year = json_object_get(c, "year");
    if (year && !json_is_null(year)) {
        if (!json_is_integer(year))
            return MS_EINVAL;
        sqlite3_bind_int64(s, 14, json_integer_value(year));
    }
    return 0;
}

int ms__store_citations_put(sq_store_t *st, const char *msg_id, json_t *citations) {
    static const char del[] = "DELETE FROM citations WHERE message_id = ?1";
    static const char ins[] =
        "INSERT INTO citations (message_id, idx, source_id, source_type, title, url, source_name,"
        " relevance_score, quoted_text, pmid, doi, authors, journal, year)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
    if (!json_is_array(citations))
        return MS_EINVAL;
    sqlite3_stmt *s = ms__store_stmt(st, del);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, "citations delete");
    if (!(s = ms__store_stmt(st, ins)))
        return MS_EIO;
    size_t i;
    json_t *c;
    json_array_foreach(citations, i, c) {
        if ((rc = bind_citation(s, msg_id, c, i)) != 0) {
            ms__store_done(s);
            return rc;
        }
        rc = sqlite3_step(s);
        ms__store_done(s);
        if (rc != SQLITE_DONE) {
            /* A repeated index breaks the primary key: the caller's bug. */
            return (rc & 0xff) == SQLITE_CONSTRAINT ? MS_EINVAL
                                                    : ms__store_err(st, rc, "citation insert");
        }
    }
    return 0;
}

/* Sets key to the column's value unless it is SQL NULL (optional members). */
static void set_optional(json_t *c, const char *key, json_t *v) {
    if (json_is_null(v))
        json_decref(v);
    else
        json_object_set_new(c, key, v);
}

static json_t *citation_from_row(sqlite3_stmt *s) {
    json_t *c = json_object();
    json_object_set_new(c, "index", json_integer(sqlite3_column_int64(s, 0)));
    for (size_t i = 0; i < MS_COUNTOF(text_keys); i++)
        json_object_set_new(c, text_keys[i], ms__store_col_json_str(s, 1 + (int)i));
    json_object_set_new(c, "relevance_score",
                        sqlite3_column_type(s, 6) == SQLITE_NULL
                            ? json_null()
                            : json_real(sqlite3_column_double(s, 6)));
    json_object_set_new(c, "quoted_text", ms__store_col_json_str(s, 7));
    set_optional(c, "pmid", ms__store_col_json_str(s, 8));
    set_optional(c, "doi", ms__store_col_json_str(s, 9));
    if (sqlite3_column_type(s, 10) != SQLITE_NULL) {
        json_t *a = json_loads((const char *)sqlite3_column_text(s, 10), JSON_DECODE_ANY, NULL);
        if (a)
            json_object_set_new(c, "authors", a);
    }
    set_optional(c, "journal", ms__store_col_json_str(s, 11));
    if (sqlite3_column_type(s, 12) != SQLITE_NULL)
        json_object_set_new(c, "year", json_integer(sqlite3_column_int64(s, 12)));
    return c;
}

int ms__store_citations_get(sq_store_t *st, const char *msg_id, json_t **out) {
    static const char sql[] =
        "SELECT idx, source_id, source_type, title, url, source_name, relevance_score,"
        " quoted_text, pmid, doi, authors, journal, year"
        " FROM citations WHERE message_id = ?1 ORDER BY idx";
    *out = NULL;
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, citation_from_row(s));
    ms__store_done(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return ms__store_err(st, rc, "citations get");
    }
    *out = arr;
    return 0;
}
