/* Drug knowledge lookups (kb.h "drug knowledge"): the tables that
 * `medstream kb import --format drugs` fills (drugs_import.c), read by the
 * prescription workflow. */
#include "kb/kb_internal.h"

#include "core/log.h"
#include "core/ms.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The drug tables. kb_drug_names holds every name an ingredient is known
 * by, normalised (drugs_import.c ms_kb__drug_norm): DrugCentral's, NDF-RT's,
 * the US adopted name, and a single-ingredient label's generic and brand
 * names. Interactions keep NDF-RT's names and the ingredients they were
 * resolved to (0: none). A label is stored as openFDA gave it. */
static const char drugs_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS kb_drugs(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS kb_drug_names(name TEXT NOT NULL, drug_id INTEGER NOT NULL,"
    " source TEXT NOT NULL, PRIMARY KEY(name, drug_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS kb_drug_names_drug ON kb_drug_names(drug_id);"
    "CREATE TABLE IF NOT EXISTS kb_drug_ids(type TEXT NOT NULL, value TEXT NOT NULL,"
    " drug_id INTEGER NOT NULL, PRIMARY KEY(type, value, drug_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS kb_drug_classes(drug_id INTEGER NOT NULL, type TEXT NOT NULL,"
    " class_id TEXT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kb_drug_classes_drug ON kb_drug_classes(drug_id);"
    "CREATE INDEX IF NOT EXISTS kb_drug_classes_name ON kb_drug_classes(name COLLATE NOCASE);"
    "CREATE TABLE IF NOT EXISTS kb_drug_interactions(nui TEXT PRIMARY KEY, label TEXT,"
    " severity TEXT NOT NULL, drug1 INTEGER NOT NULL, name1 TEXT, drug2 INTEGER NOT NULL,"
    " name2 TEXT);"
    "CREATE INDEX IF NOT EXISTS kb_drug_interactions_12 ON kb_drug_interactions(drug1, drug2);"
    "CREATE INDEX IF NOT EXISTS kb_drug_interactions_21 ON kb_drug_interactions(drug2, drug1);"
    "CREATE TABLE IF NOT EXISTS kb_drug_labels(set_id TEXT PRIMARY KEY, effective_time TEXT,"
    " title TEXT, ningredients INTEGER NOT NULL, record TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS kb_drug_label_drugs(drug_id INTEGER NOT NULL, set_id TEXT NOT NULL,"
    " PRIMARY KEY(drug_id, set_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS kb_drug_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);";

static int sqlfail(sqlite3 *db, const char *what) {
    ms_kb__set_error("%s: %s", what, sqlite3_errmsg(db));
    ms_log(MS_LOG_ERROR, "kb_sql_error", "\"what\":\"%s\",\"code\":%d", what,
           sqlite3_extended_errcode(db));
    return MS_EIO;
}

int ms_kb__drugs_init(sqlite3 *db) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'kb_drug_meta'", -1, &st,
                           NULL) != SQLITE_OK)
        return sqlfail(db, "drugs init");
    int have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return have ? 0 : ms_kb__exec(db, drugs_schema_sql);
}

static int64_t count_of(sqlite3 *db, const char *sql, int *rc) {
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    if (*rc)
        return 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        *rc = sqlfail(db, "drug stats");
        return 0;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int ms_kb_drugs_stats(sqlite3 *db, ms_kb_drug_stats_t *out) {
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->ingredients = count_of(db, "SELECT count(*) FROM kb_drugs", &rc);
    out->names = count_of(db, "SELECT count(*) FROM kb_drug_names", &rc);
    out->classes = count_of(db, "SELECT count(*) FROM kb_drug_classes", &rc);
    out->interactions = count_of(db, "SELECT count(*) FROM kb_drug_interactions", &rc);
    out->labels = count_of(db, "SELECT count(*) FROM kb_drug_labels", &rc);
    out->imported_at_ms = count_of(
        db, "SELECT CAST(value AS INTEGER) FROM kb_drug_meta WHERE key = 'imported_at'", &rc);
    return rc;
}

void ms_kb_drug_clear(ms_kb_drug_t *d) {
    if (!d)
        return;
    free(d->name);
    d->name = NULL;
    d->id = 0;
}

static char *col_dup(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? ms_xstrdup((const char *)s) : NULL;
}

/* Looks a normalised name up; 0, MS_ENOENT or MS_EIO. Names DrugCentral
 * gives win over other sources when two ingredients share one. */
static int find_exact(sqlite3 *db, const char *name, ms_kb_drug_t *out) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT d.id, d.name FROM kb_drug_names n JOIN kb_drugs d ON d.id ="
                           " n.drug_id WHERE n.name = ?1 ORDER BY n.source <> 'drugcentral',"
                           " n.source <> 'usan', d.id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "drug find");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int rc = MS_ENOENT;
    if (r == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->name = col_dup(st, 1);
        rc = 0;
    } else if (r != SQLITE_DONE) {
        rc = sqlfail(db, "drug find");
    }
    sqlite3_finalize(st);
    return rc;
}

int ms_kb_drugs_find(sqlite3 *db, const char *name, ms_kb_drug_t *out) {
    memset(out, 0, sizeof *out);
    if (!name)
        return MS_EINVAL;
    char *n = ms_kb__drug_norm(name, strlen(name));
    int rc = *n ? find_exact(db, n, out) : MS_ENOENT;
    free(n);
    return rc;
}

/* Words of text for the mention scanner: lower-cased runs of letters,
 * digits and hyphens (drug names hold hyphens: "co-trimoxazole"). */
typedef struct {
    size_t off, len;
} word_t;

static size_t words_of(const char *t, word_t *w, size_t max) {
    size_t n = 0, i = 0, len = strlen(t);
    while (i < len && n < max) {
        while (i < len && !isalnum((unsigned char)t[i]))
            i++;
        size_t s = i;
        while (i < len && (isalnum((unsigned char)t[i]) || t[i] == '-'))
            i++;
        while (i > s && t[i - 1] == '-')
            i--;
        if (i > s)
            w[n++] = (word_t){s, i - s};
        if (i < len && t[i] == '-')
            i++;
    }
    return n;
}

/* Ingredient names as ordinary words that would be found everywhere. */
static int too_common(const char *s) {
    static const char *const words[] = {"oxygen", "water", "nitrogen", "air",
                                        "sulfur", "iron",  "caffeine", "alcohol",
                                        "salt",   "sugar", "lead",     "gold"};
    for (size_t i = 0; i < MS_COUNTOF(words); i++)
        if (!strcmp(s, words[i]))
            return 1;
    return 0;
}

#define MENTION_WORDS 8192 /* words of one text scanned */
#define MENTION_NGRAM 4    /* longest name, in words */

int ms_kb_drugs_mentions(sqlite3 *db, const char *text, size_t max, ms_kb_mention_t **out,
                         size_t *nout) {
    *out = NULL;
    *nout = 0;
    if (!text || !max)
        return 0;
    word_t *w = ms_xcalloc(MENTION_WORDS, sizeof *w);
    size_t nw = words_of(text, w, MENTION_WORDS), n = 0;
    ms_kb_mention_t *m = ms_xcalloc(max, sizeof *m);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT n.drug_id FROM kb_drug_names n WHERE n.name = ?1 ORDER BY"
                           " n.source <> 'drugcentral', n.drug_id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sqlfail(db, "drug mentions");
        goto done;
    }
    for (size_t i = 0; i < nw && n < max;) {
        size_t took = 0;
        /* Longest name first: "penicillin g" before "penicillin". */
        for (size_t k = MENTION_NGRAM; k >= 1 && !took; k--) {
            if (i + k > nw)
                continue;
            size_t off = w[i].off, len = w[i + k - 1].off + w[i + k - 1].len - off;
            char *cand = ms_kb__drug_norm(text + off, len);
            if (strlen(cand) >= 4 && !too_common(cand)) {
                sqlite3_bind_text(st, 1, cand, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW) {
                    int64_t id = sqlite3_column_int64(st, 0);
                    int dup = 0;
                    for (size_t j = 0; j < n; j++)
                        dup |= m[j].id == id;
                    if (!dup)
                        m[n++] = (ms_kb_mention_t){off, len, id};
                    took = k;
                }
                sqlite3_reset(st);
            }
            free(cand);
        }
        i += took ? took : 1;
    }
done:
    sqlite3_finalize(st);
    free(w);
    if (rc || !n) {
        free(m);
        return rc;
    }
    *out = m;
    *nout = n;
    return 0;
}

int ms_kb_drugs_classes(sqlite3 *db, int64_t id, json_t **out) {
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT type, class_id, name, source FROM kb_drug_classes WHERE drug_id"
                           " = ?1 ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "drug classes");
    sqlite3_bind_int64(st, 1, id);
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s}", "type", sqlite3_column_text(st, 0), "class_id",
                         sqlite3_column_text(st, 1), "name", sqlite3_column_text(st, 2), "source",
                         sqlite3_column_text(st, 3)));
    sqlite3_finalize(st);
    *out = a;
    return 0;
}

int ms_kb_drugs_interactions(sqlite3 *db, int64_t a, int64_t b, json_t **out) {
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT nui, label, severity, name1, name2 FROM kb_drug_interactions"
                           " WHERE (drug1 = ?1 AND drug2 = ?2) OR (drug1 = ?2 AND drug2 = ?1)"
                           " ORDER BY severity = 'Critical' DESC, nui",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "drug interactions");
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    json_t *arr = json_array();
    while (a && b && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s?, s:s, s:s?, s:s?}", "nui", sqlite3_column_text(st, 0), "label",
                      sqlite3_column_text(st, 1), "severity", sqlite3_column_text(st, 2), "name1",
                      sqlite3_column_text(st, 3), "name2", sqlite3_column_text(st, 4)));
    sqlite3_finalize(st);
    *out = arr;
    return 0;
}

/* The label of one ingredient: a single-ingredient label first (a
 * combination product's sections speak of the combination), then the
 * newest. */
int ms_kb_drugs_label(sqlite3 *db, int64_t id, json_t **out) {
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT l.record FROM kb_drug_label_drugs ld JOIN kb_drug_labels l ON"
                           " l.set_id = ld.set_id WHERE ld.drug_id = ?1 ORDER BY l.ningredients,"
                           " l.effective_time DESC, l.set_id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "drug label");
    sqlite3_bind_int64(st, 1, id);
    int rc = MS_ENOENT;
    if (sqlite3_step(st) == SQLITE_ROW) {
        json_error_t je;
        *out = json_loadb((const char *)sqlite3_column_text(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0), 0, &je);
        rc = json_is_object(*out) ? 0 : MS_EIO;
        if (rc) {
            json_decref(*out);
            *out = NULL;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int ms_kb_drugs_class_find(sqlite3 *db, const char *name, json_t **out) {
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT type, class_id, name, source FROM kb_drug_classes"
                           " WHERE name = ?1 COLLATE NOCASE OR name = ?1 || 's' COLLATE NOCASE"
                           " ORDER BY type, class_id LIMIT 20",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(db, "drug class find");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s}", "type", sqlite3_column_text(st, 0), "class_id",
                         sqlite3_column_text(st, 1), "name", sqlite3_column_text(st, 2), "source",
                         sqlite3_column_text(st, 3)));
    sqlite3_finalize(st);
    *out = a;
    return 0;
}
