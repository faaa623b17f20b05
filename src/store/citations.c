/* Citations of an assistant message: JSON objects in, rows of the
 * citations table, the same JSON objects out.
 *
 * Object shape (docs/protocol.md "Citation", seed 002's structured
 * citation): {index, source_id, source_type, title, url, source_name,
 * authors, publication_date, journal, volume, issue, pages, doi, pmid,
 * relevance_score, quoted_text, context} are always present on the way
 * out (null when unknown, authors [] when none); subtitle and year only
 * when known. relevance_score is a number 0..100 (an integer comes back
 * as an integer); context a JSON object; authors an array of strings. */
#include "store/store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text members and their columns (insert and select in this order). */
static const char *const text_keys[] = {
    "source_id", "source_type",      "title",  "url",   "source_name", "quoted_text", "doi",
    "journal",   "publication_date", "volume", "issue", "pages",       "subtitle"};

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

/* Binds a member that must be a JSON value of the type check accepts,
 * stored as its compact text. */
static int bind_json(sqlite3_stmt *s, int col, json_t *c, const char *key,
                     int (*check)(const json_t *)) {
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v))
        return 0;
    if (!check(v))
        return MS_EINVAL;
    char *txt = json_dumps(v, JSON_COMPACT);
    sqlite3_bind_text(s, col, txt, -1, SQLITE_TRANSIENT);
    free(txt);
    return 0;
}

static int strings_array(const json_t *a) {
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return 0;
    json_array_foreach((json_t *)a, i, v) {
        if (!json_is_string(v))
            return 0;
    }
    return 1;
}

static int is_object(const json_t *o) {
    return json_is_object(o);
}

/* Binds one citation object to the insert statement; MS_EINVAL when a
 * member has the wrong type or range. position is its place in the array
 * (0-based). Columns: 1 message_id, 2 idx, 3.. text_keys, then pmid,
 * relevance_score, authors, year, context. */
static int bind_citation(sqlite3_stmt *s, const char *msg_id, json_t *c, size_t position) {
    int rc;
    const int base = 3, nt = (int)MS_COUNTOF(text_keys);
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
    for (int i = 0; i < nt; i++) {
        if ((rc = bind_str(s, base + i, c, text_keys[i])) != 0)
            return rc;
    }
    /* PMIDs are decimal numbers; producers send them as strings or ints. */
    json_t *pmid = json_object_get(c, "pmid");
    if (pmid && json_is_integer(pmid)) {
        char num[32];
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(pmid));
        sqlite3_bind_text(s, base + nt, num, -1, SQLITE_TRANSIENT);
    } else if ((rc = bind_str(s, base + nt, c, "pmid")) != 0) {
        return rc;
    }
    /* relevance_score is 0-100 (seed 002). */
    json_t *score = json_object_get(c, "relevance_score");
    if (score && !json_is_null(score)) {
        double v = json_number_value(score);
        if (!json_is_number(score) || !(v >= 0 && v <= 100))
            return MS_EINVAL;
        sqlite3_bind_double(s, base + nt + 1, v);
    }
    if ((rc = bind_json(s, base + nt + 2, c, "authors", strings_array)) != 0)
        return rc;
    json_t *year = json_object_get(c, "year");
    if (year && !json_is_null(year)) {
        if (!json_is_integer(year))
            return MS_EINVAL;
        sqlite3_bind_int64(s, base + nt + 3, json_integer_value(year));
    }
    return bind_json(s, base + nt + 4, c, "context", is_object);
}

#define CITE_COLS                                                                                  \
    "source_id, source_type, title, url, source_name, quoted_text, doi, journal,"                  \
    " publication_date, volume, issue, pages, subtitle, pmid, relevance_score, authors, year,"     \
    " context"

int ms__store_citations_put(sq_store_t *st, const char *msg_id, json_t *citations) {
    static const char del[] = "DELETE FROM citations WHERE message_id = ?1";
    static const char ins[] =
        "INSERT INTO citations (message_id, idx, " CITE_COLS ")"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20)";
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

static json_t *col_json(sqlite3_stmt *s, int i) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    return json_loads((const char *)sqlite3_column_text(s, i), JSON_DECODE_ANY, NULL);
}

static json_t *citation_from_row(sqlite3_stmt *s) {
    const int nt = (int)MS_COUNTOF(text_keys);
    json_t *c = json_object();
    json_object_set_new(c, "index", json_integer(sqlite3_column_int64(s, 0)));
    for (int i = 0; i < nt; i++) {
        json_t *v = ms__store_col_json_str(s, 1 + i);
        if (json_is_null(v) && !strcmp(text_keys[i], "subtitle"))
            json_decref(v); /* optional: left out when unknown */
        else
            json_object_set_new(c, text_keys[i], v);
    }
    json_object_set_new(c, "pmid", ms__store_col_json_str(s, 1 + nt));
    if (sqlite3_column_type(s, 2 + nt) == SQLITE_NULL) {
        json_object_set_new(c, "relevance_score", json_null());
    } else {
        double v = sqlite3_column_double(s, 2 + nt);
        json_object_set_new(c, "relevance_score",
                            v == floor(v) ? json_integer((json_int_t)v) : json_real(v));
    }
    json_t *a = col_json(s, 3 + nt);
    json_object_set_new(c, "authors", json_is_array(a) ? a : (json_decref(a), json_array()));
    if (sqlite3_column_type(s, 4 + nt) != SQLITE_NULL)
        json_object_set_new(c, "year", json_integer(sqlite3_column_int64(s, 4 + nt)));
    json_t *ctx = col_json(s, 5 + nt);
    json_object_set_new(c, "context", json_is_object(ctx) ? ctx : (json_decref(ctx), json_null()));
    return c;
}

int ms__store_citations_get(sq_store_t *st, const char *msg_id, json_t **out) {
    static const char sql[] =
        "SELECT idx, " CITE_COLS " FROM citations WHERE message_id = ?1 ORDER BY idx";
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
