/* `medstream kb import --format drugs DIR`: the drug knowledge the
 * prescription workflow reads (docs/workflows.md "Drug knowledge"), from the
 * files of ../shared/data/drugs (never committed; its README gives them):
 *
 *  - drugcentral-pharm-class.tsv: DRUG_ID, DRUG_NAME, TYPE, CLASS_SOURCE_ID,
 *    CLASS, SOURCE. DrugCentral 2016, Ursu et al., Nucleic Acids Res
 *    2017;45:D932 (CC BY 4.0): ingredient -> class (FDA EPC, MoA, PE,
 *    Chemical/Ingredient; MeSH PA; ChEBI roles);
 *  - drugcentral-identifiers.tsv: DRUG_ID, DRUG_NAME, ID_TYPE, IDENTIFIER
 *    (RXNORM and UNII are kept: interactions and labels are joined on them);
 *  - ndfrt-interactions-2014.tsv: interaction_nui, label, severity, drug1_nui,
 *    drug1_name, drug1_rxcui, drug2_nui, drug2_name, drug2_rxcui (the VA's
 *    NDF-RT, July 2014 pull, Ayvaz et al., J Biomed Inform 2015;55:206);
 *  - openfda-labels.jsonl: openFDA /drug/label records (CC0).
 *
 * The import replaces all drug tables in one transaction: a reader sees the
 * old knowledge or the new, never a mix. A file whose header is not the one
 * above is refused with the columns it has. */
#include "kb/kb_internal.h"

#include "core/log.h"
#include "core/ms.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The four inputs, by file name. */
enum { F_CLASSES, F_IDS, F_NDFRT, F_LABELS, F_COUNT };
static const char *const file_names[F_COUNT] = {
    "drugcentral-pharm-class.tsv", "drugcentral-identifiers.tsv", "ndfrt-interactions-2014.tsv",
    "openfda-labels.jsonl"};
static const char *const headers[F_COUNT] = {
    "DRUG_ID\tDRUG_NAME\tTYPE\tCLASS_SOURCE_ID\tCLASS\tSOURCE",
    "DRUG_ID\tDRUG_NAME\tID_TYPE\tIDENTIFIER",
    "interaction_nui\tlabel\tseverity\tdrug1_nui\tdrug1_name\tdrug1_rxcui\tdrug2_nui\tdrug2_"
    "name\tdrug2_rxcui",
    NULL};

/* US adopted names that differ from the INN DrugCentral uses (USP
 * Dictionary of USAN and International Drug Names; WHO INN lists), so a
 * clinician's "acetaminophen" finds DrugCentral's paracetamol. */
static const char *const usan_inn[][2] = {
    {"acetaminophen", "paracetamol"},
    {"aspirin", "acetylsalicylic acid"},
    {"albuterol", "salbutamol"},
    {"glyburide", "glibenclamide"},
    {"rifampin", "rifampicin"},
    {"meperidine", "pethidine"},
    {"cephalexin", "cefalexin"},
    {"meclizine", "meclozine"},
    {"amphetamine", "amfetamine"},
    {"penicillin g", "benzylpenicillin"},
    {"penicillin v", "phenoxymethylpenicillin"},
    {"sulfisoxazole", "sulfafurazole"},
    {"cyclosporine", "ciclosporin"},
    {"nitroglycerin", "glyceryl trinitrate"},
    {"isoproterenol", "isoprenaline"},
};

/* Salt and hydrate words a label's substance names carry after the active
 * moiety ("WARFARIN SODIUM", "METFORMIN HYDROCHLORIDE"); stripped to find
 * the ingredient (USP salt nomenclature policy). */
static const char *const salt_words[] = {
    "sodium",       "potassium", "calcium",     "magnesium",    "hydrochloride",   "hcl",
    "hydrobromide", "sulfate",   "sulphate",    "bisulfate",    "citrate",         "maleate",
    "mesylate",     "tartrate",  "bitartrate",  "succinate",    "fumarate",        "acetate",
    "phosphate",    "besylate",  "bromide",     "chloride",     "monohydrate",     "dihydrate",
    "trihydrate",   "anhydrous", "hyclate",     "dipropionate", "propionate",      "nitrate",
    "lactate",      "gluconate", "hemihydrate", "disodium",     "dihydrochloride", "valerate",
    "xinafoate",    "pamoate",   "tosylate",    "ditosylate",   "napsylate",       "benzoate",
    "oxalate",      "malate",    "mandelate",   "olamine",      "heptahydrate",    "hydrate",
    "decanoate",    "enanthate", "cypionate",   "furoate",      "hemifumarate",    "dimesylate",
};

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *put_drug, *put_name, *put_class, *put_id, *find_id, *find_name, *put_inter,
        *put_label, *put_label_drug;
    ms_kb_import_stats_t *stats;
    ms_kb_progress_cb progress;
    void *ctx;
    int64_t done, total, last_us;
} drugs_imp_t;

static int sqlerr(sqlite3 *db, const char *what) {
    ms_kb__set_error("%s: %s", what, sqlite3_errmsg(db));
    ms_log(MS_LOG_ERROR, "kb_sql_error", "\"what\":\"%s\",\"code\":%d", what,
           sqlite3_extended_errcode(db));
    return MS_EIO;
}

static void report(drugs_imp_t *imp, int64_t file_done, int force) {
    if (!imp->progress)
        return;
    int64_t now = ms_mono_us();
    if (!force && now - imp->last_us < 50000)
        return;
    imp->last_us = now;
    imp->progress(imp->ctx, imp->done + file_done, imp->total);
}

/* Lower-cases, trims and collapses blanks; strips surrounding quotes (the
 * identifiers file quotes its names). malloc'd. */
char *ms_kb__drug_norm(const char *s, size_t n) {
    while (n && (*s == '"' || isspace((unsigned char)*s)))
        s++, n--;
    while (n && (s[n - 1] == '"' || isspace((unsigned char)s[n - 1])))
        n--;
    char *o = ms_xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isspace(c)) {
            if (k && o[k - 1] != ' ')
                o[k++] = ' ';
            continue;
        }
        o[k++] = (char)tolower(c);
    }
    while (k && o[k - 1] == ' ')
        k--;
    o[k] = '\0';
    return o;
}

/* Strips one trailing salt word; 1 if it did. */
static int strip_salt(char *s) {
    char *sp = strrchr(s, ' ');
    if (!sp)
        return 0;
    for (size_t i = 0; i < MS_COUNTOF(salt_words); i++) {
        if (strcmp(sp + 1, salt_words[i]) == 0) {
            *sp = '\0';
            return 1;
        }
    }
    return 0;
}

static int step_done(drugs_imp_t *imp, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sqlerr(imp->db, what);
}

static int put_name(drugs_imp_t *imp, const char *name, int64_t id, const char *source) {
    if (!name || !*name)
        return 0;
    sqlite3_bind_text(imp->put_name, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(imp->put_name, 2, id);
    sqlite3_bind_text(imp->put_name, 3, source, -1, SQLITE_STATIC);
    return step_done(imp, imp->put_name, "drug name");
}

static int put_drug(drugs_imp_t *imp, int64_t id, const char *name) {
    sqlite3_bind_int64(imp->put_drug, 1, id);
    sqlite3_bind_text(imp->put_drug, 2, name, -1, SQLITE_STATIC);
    int rc = step_done(imp, imp->put_drug, "drug");
    if (!rc && sqlite3_changes(imp->db) > 0 && imp->stats)
        imp->stats->ingredients++;
    return rc ? rc : put_name(imp, name, id, "drugcentral");
}

/* The ingredient an identifier (type RXNORM or UNII) names, or 0. */
static int64_t by_id(drugs_imp_t *imp, const char *type, const char *value) {
    if (!value || !*value)
        return 0;
    sqlite3_bind_text(imp->find_id, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(imp->find_id, 2, value, -1, SQLITE_STATIC);
    int64_t id =
        sqlite3_step(imp->find_id) == SQLITE_ROW ? sqlite3_column_int64(imp->find_id, 0) : 0;
    sqlite3_reset(imp->find_id);
    return id;
}

/* The ingredient a (normalised) name names, trying it without its salt
 * words too, or 0. */
static int64_t by_name(drugs_imp_t *imp, const char *name) {
    char *s = ms_xstrdup(name);
    int64_t id = 0;
    do {
        sqlite3_bind_text(imp->find_name, 1, s, -1, SQLITE_STATIC);
        if (sqlite3_step(imp->find_name) == SQLITE_ROW)
            id = sqlite3_column_int64(imp->find_name, 0);
        sqlite3_reset(imp->find_name);
    } while (!id && strip_salt(s));
    free(s);
    return id;
}

/* Splits a TSV line in place into at most max fields; returns the count. */
static size_t split_tsv(char *line, char **f, size_t max) {
    size_t n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        f[n++] = line;
        char *tab = strchr(line, '\t');
        if (!tab)
            break;
        *tab = '\0';
        line = tab + 1;
    }
    return n;
}

/* Opens path and checks its header line; *f is left after it. */
static int open_tsv(const char *path, int which, FILE **f) {
    *f = fopen(path, "rb");
    if (!*f) {
        ms_kb__fail(path, 0, "%s", strerror(errno));
        return MS_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, *f);
    if (n > 0)
        line[strcspn(line, "\r\n")] = '\0';
    int ok = n > 0 && strcmp(line, headers[which]) == 0;
    if (!ok)
        ms_kb__fail(path, 1, "unexpected header (want the columns %s)", headers[which]);
    free(line);
    if (!ok) {
        fclose(*f);
        *f = NULL;
        return MS_EFORMAT;
    }
    return 0;
}

static int64_t parse_id(const char *s) {
    while (*s == '"')
        s++;
    char *end;
    long long v = strtoll(s, &end, 10);
    return v > 0 && end != s ? (int64_t)v : 0;
}

/* One row of a TSV file: its fields split (nfld of them), its line number
 * for errors. 0 or an error code, with ms_kb__fail said. */
typedef int (*tsv_row_fn)(drugs_imp_t *imp, const char *path, long lineno, char **fld, int nfld);

/* The TSV files: the header checked by open_tsv, then each line split into
 * at most MAX_TSV_FIELDS fields and given to row, with progress. */
#define MAX_TSV_FIELDS 10
static int import_tsv(drugs_imp_t *imp, const char *path, int which, tsv_row_fn row) {
    FILE *f;
    int rc = open_tsv(path, which, &f);
    if (rc)
        return rc;
    char *line = NULL, *fld[MAX_TSV_FIELDS];
    size_t cap = 0;
    long lineno = 1;
    ssize_t len;
    int64_t pos = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        pos += len;
        rc = row(imp, path, lineno, fld, (int)split_tsv(line, fld, MAX_TSV_FIELDS));
        report(imp, pos, 0);
    }
    free(line);
    fclose(f);
    imp->done += pos;
    return rc;
}

/* drugcentral-pharm-class.tsv: ingredients and their classes. */
static int class_row(drugs_imp_t *imp, const char *path, long lineno, char **fld, int nfld) {
    if (nfld != 6 || !parse_id(fld[0])) {
        ms_kb__fail(path, lineno, "want 6 tab-separated fields with a numeric DRUG_ID");
        return MS_EFORMAT;
    }
    int64_t id = parse_id(fld[0]);
    char *name = ms_kb__drug_norm(fld[1], strlen(fld[1]));
    int rc = put_drug(imp, id, name);
    free(name);
    if (rc)
        return rc;
    sqlite3_bind_int64(imp->put_class, 1, id);
    sqlite3_bind_text(imp->put_class, 2, fld[2], -1, SQLITE_STATIC);
    sqlite3_bind_text(imp->put_class, 3, fld[3], -1, SQLITE_STATIC);
    sqlite3_bind_text(imp->put_class, 4, fld[4], -1, SQLITE_STATIC);
    sqlite3_bind_text(imp->put_class, 5, fld[5], -1, SQLITE_STATIC);
    rc = step_done(imp, imp->put_class, "drug class");
    if (!rc && imp->stats)
        imp->stats->classes++;
    return rc;
}

/* drugcentral-identifiers.tsv: RxNorm and UNII codes (and any ingredient
 * the class file lacks). */
static int id_row(drugs_imp_t *imp, const char *path, long lineno, char **fld, int nfld) {
    if (nfld != 4 || !parse_id(fld[0])) {
        ms_kb__fail(path, lineno, "want 4 tab-separated fields with a numeric DRUG_ID");
        return MS_EFORMAT;
    }
    int64_t id = parse_id(fld[0]);
    char *name = ms_kb__drug_norm(fld[1], strlen(fld[1]));
    char *type = ms_kb__drug_norm(fld[2], strlen(fld[2]));
    char *value = ms_kb__drug_norm(fld[3], strlen(fld[3]));
    int rc = put_drug(imp, id, name);
    if (!rc && (!strcmp(type, "rxnorm") || !strcmp(type, "unii"))) {
        /* UNII codes are upper-case: keep them as the labels write them. */
        for (char *p = value; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        sqlite3_bind_text(imp->put_id, 1, !strcmp(type, "rxnorm") ? "RXNORM" : "UNII", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(imp->put_id, 2, value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(imp->put_id, 3, id);
        rc = step_done(imp, imp->put_id, "drug identifier");
    }
    free(name);
    free(type);
    free(value);
    return rc;
}

/* One side of an interaction: by RxNorm code, else by name; the NDF-RT
 * name (US usage, "ASPIRIN") becomes a name of the ingredient found. */
static int64_t ndfrt_side(drugs_imp_t *imp, const char *name, const char *rxcui, int *rc) {
    int64_t id = by_id(imp, "RXNORM", rxcui);
    char *n = ms_kb__drug_norm(name, strlen(name));
    if (!id)
        id = by_name(imp, n);
    if (id && !*rc)
        *rc = put_name(imp, n, id, "ndfrt");
    free(n);
    return id;
}

/* ndfrt-interactions-2014.tsv. */
static int ndfrt_row(drugs_imp_t *imp, const char *path, long lineno, char **fld, int nfld) {
    if (nfld != 9 || !*fld[0] || !*fld[2]) {
        ms_kb__fail(path, lineno, "want 9 tab-separated fields with a NUI and a severity");
        return MS_EFORMAT;
    }
    int rc = 0;
    int64_t a = ndfrt_side(imp, fld[4], fld[5], &rc);
    int64_t b = ndfrt_side(imp, fld[7], fld[8], &rc);
    if (rc)
        return rc;
    sqlite3_stmt *st = imp->put_inter;
    sqlite3_bind_text(st, 1, fld[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, fld[1], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, fld[2], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, a);
    sqlite3_bind_text(st, 5, fld[4], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, b);
    sqlite3_bind_text(st, 7, fld[7], -1, SQLITE_STATIC);
    rc = step_done(imp, st, "drug interaction");
    if (!rc && imp->stats) {
        imp->stats->interactions++;
        imp->stats->interactions_unmatched += !a || !b;
    }
    return rc;
}

/* The ingredients of one label: its UNII codes first (the salt form's code
 * often differs from the parent's, so names follow), then its substance
 * (or generic) names without their salt words. ids gets at most max. */
static size_t label_ingredients(drugs_imp_t *imp, json_t *openfda, int64_t *ids, size_t max) {
    size_t n = 0;
    size_t i;
    json_t *v;
    json_t *lists[] = {json_object_get(openfda, "unii"), json_object_get(openfda, "substance_name"),
                       json_object_get(openfda, "generic_name")};
    for (int l = 0; l < 3; l++) {
        json_array_foreach(lists[l], i, v) {
            if (!json_is_string(v))
                continue;
            int64_t id;
            if (l == 0) {
                id = by_id(imp, "UNII", json_string_value(v));
            } else {
                char *nm = ms_kb__drug_norm(json_string_value(v), json_string_length(v));
                id = by_name(imp, nm);
                free(nm);
            }
            int dup = 0;
            for (size_t k = 0; k < n; k++)
                dup |= ids[k] == id;
            if (id && !dup && n < max)
                ids[n++] = id;
        }
        if (l == 1 && n)
            break; /* substance names found them: generic names add nothing */
    }
    return n;
}

/* A single-ingredient label's generic and brand names become names of its
 * ingredient ("warfarin sodium", "coumadin"). */
static int label_names(drugs_imp_t *imp, json_t *openfda, int64_t id) {
    int rc = 0;
    size_t i;
    json_t *v;
    const char *keys[] = {"generic_name", "brand_name"};
    for (int k = 0; k < 2 && !rc; k++) {
        json_array_foreach(json_object_get(openfda, keys[k]), i, v) {
            if (!json_is_string(v) || rc)
                continue;
            char *nm = ms_kb__drug_norm(json_string_value(v), json_string_length(v));
            rc = put_name(imp, nm, id, k ? "label_brand" : "label_generic");
            if (!rc && strip_salt(nm))
                rc = put_name(imp, nm, id, "label_generic");
            free(nm);
        }
    }
    return rc;
}

static int import_label(drugs_imp_t *imp, const char *path, long lineno, const char *line,
                        size_t len) {
    json_error_t je;
    json_t *rec = json_loadb(line, len, 0, &je);
    const char *set_id = json_string_value(json_object_get(rec, "set_id"));
    if (!json_is_object(rec) || !set_id) {
        json_decref(rec);
        ms_kb__fail(path, lineno, "want a JSON object with a set_id");
        return MS_EFORMAT;
    }
    json_t *openfda = json_object_get(rec, "openfda");
    int64_t ids[16];
    size_t n = label_ingredients(imp, openfda, ids, MS_COUNTOF(ids));
    json_t *gn = json_array_get(json_object_get(openfda, "generic_name"), 0);
    json_t *bn = json_array_get(json_object_get(openfda, "brand_name"), 0);
    char title[256];
    snprintf(title, sizeof title, "%s%s%s%s", json_is_string(bn) ? json_string_value(bn) : "",
             json_is_string(bn) && json_is_string(gn) ? " (" : "",
             json_is_string(gn) ? json_string_value(gn) : "",
             json_is_string(bn) && json_is_string(gn) ? ")" : "");
    sqlite3_stmt *st = imp->put_label;
    sqlite3_bind_text(st, 1, set_id, -1, SQLITE_STATIC);
    const char *eff = json_string_value(json_object_get(rec, "effective_time"));
    if (eff)
        sqlite3_bind_text(st, 2, eff, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n);
    sqlite3_bind_text(st, 5, line, (int)len, SQLITE_STATIC);
    int rc = step_done(imp, st, "drug label");
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_int64(imp->put_label_drug, 1, ids[i]);
        sqlite3_bind_text(imp->put_label_drug, 2, set_id, -1, SQLITE_STATIC);
        rc = step_done(imp, imp->put_label_drug, "drug label ingredient");
    }
    if (!rc && n == 1)
        rc = label_names(imp, openfda, ids[0]);
    if (!rc && imp->stats) {
        imp->stats->labels++;
        imp->stats->labels_unmatched += n == 0;
    }
    json_decref(rec);
    return rc;
}

static int import_labels(drugs_imp_t *imp, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ms_kb__fail(path, 0, "%s", strerror(errno));
        return MS_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    int64_t pos = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        pos += len;
        size_t n = (size_t)len;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n)
            rc = import_label(imp, path, lineno, line, n);
        report(imp, pos, 0);
    }
    free(line);
    fclose(f);
    imp->done += pos;
    return rc;
}

static const char drop_sql[] = "DELETE FROM kb_drug_labels; DELETE FROM kb_drug_label_drugs;"
                               " DELETE FROM kb_drug_interactions; DELETE FROM kb_drug_classes;"
                               " DELETE FROM kb_drug_ids; DELETE FROM kb_drug_names;"
                               " DELETE FROM kb_drugs; DELETE FROM kb_drug_meta;";

static int prepare(drugs_imp_t *imp) {
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } s[] = {
        {&imp->put_drug, "INSERT OR IGNORE INTO kb_drugs(id, name) VALUES (?1, ?2)"},
        {&imp->put_name,
         "INSERT OR IGNORE INTO kb_drug_names(name, drug_id, source) VALUES (?1, ?2, ?3)"},
        {&imp->put_class, "INSERT INTO kb_drug_classes(drug_id, type, class_id, name, source)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&imp->put_id,
         "INSERT OR IGNORE INTO kb_drug_ids(type, value, drug_id) VALUES (?1, ?2, ?3)"},
        {&imp->find_id,
         "SELECT drug_id FROM kb_drug_ids WHERE type = ?1 AND value = ?2 ORDER BY drug_id"},
        {&imp->find_name,
         "SELECT drug_id FROM kb_drug_names WHERE name = ?1 ORDER BY source <> 'drugcentral',"
         " drug_id LIMIT 1"},
        {&imp->put_inter,
         "INSERT OR REPLACE INTO kb_drug_interactions(nui, label, severity, drug1, name1, drug2,"
         " name2) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&imp->put_label,
         "INSERT OR REPLACE INTO kb_drug_labels(set_id, effective_time, title, ningredients,"
         " record) VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&imp->put_label_drug,
         "INSERT OR IGNORE INTO kb_drug_label_drugs(drug_id, set_id) VALUES (?1, ?2)"},
    };
    for (size_t i = 0; i < MS_COUNTOF(s); i++)
        if (sqlite3_prepare_v2(imp->db, s[i].sql, -1, s[i].st, NULL) != SQLITE_OK)
            return sqlerr(imp->db, "prepare drugs");
    return 0;
}

static void finalize(drugs_imp_t *imp) {
    sqlite3_stmt *s[] = {imp->put_drug,  imp->put_name,  imp->put_class,
                         imp->put_id,    imp->find_id,   imp->find_name,
                         imp->put_inter, imp->put_label, imp->put_label_drug};
    for (size_t i = 0; i < MS_COUNTOF(s); i++)
        sqlite3_finalize(s[i]);
}

/* Which of the four files path is (or holds, for a directory). */
static int find_inputs(const char *const *paths, size_t npaths, char *found[F_COUNT],
                       int64_t *total) {
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (!paths[i] || stat(paths[i], &st) != 0) {
            ms_kb__fail(paths[i], 0, "%s", strerror(errno));
            return MS_EIO;
        }
        for (int k = 0; k < F_COUNT; k++) {
            char *p = NULL;
            if (S_ISDIR(st.st_mode)) {
                size_t n = strlen(paths[i]) + strlen(file_names[k]) + 2;
                p = ms_xmalloc(n);
                snprintf(p, n, "%s/%s", paths[i], file_names[k]);
            } else {
                const char *base = strrchr(paths[i], '/');
                if (strcmp(base ? base + 1 : paths[i], file_names[k]) == 0)
                    p = ms_xstrdup(paths[i]);
            }
            struct stat fs;
            if (p && stat(p, &fs) == 0 && S_ISREG(fs.st_mode) && !found[k]) {
                found[k] = p;
                *total += (int64_t)fs.st_size;
            } else {
                free(p);
            }
        }
    }
    if (!found[F_CLASSES] && !found[F_IDS]) {
        ms_kb__fail(npaths ? paths[0] : "-", 0,
                    "no DrugCentral files found (want %s and %s, as in ../shared/data/drugs)",
                    file_names[F_CLASSES], file_names[F_IDS]);
        return MS_EFORMAT;
    }
    return 0;
}

static int put_meta(drugs_imp_t *imp, char *found[F_COUNT]) {
    json_t *files = json_object();
    for (int k = 0; k < F_COUNT; k++)
        json_object_set_new(files, file_names[k], json_boolean(found[k] != NULL));
    char *txt = json_dumps(files, JSON_COMPACT);
    json_decref(files);
    char *sql = sqlite3_mprintf("INSERT INTO kb_drug_meta(key, value) VALUES"
                                " ('imported_at', '%lld'), ('files', %Q)",
                                (long long)ms_now_ms(), txt);
    free(txt);
    int rc = ms_kb__exec(imp->db, sql);
    sqlite3_free(sql);
    for (size_t i = 0; i < MS_COUNTOF(usan_inn) && !rc; i++) {
        int64_t id = by_name(imp, usan_inn[i][1]);
        if (id)
            rc = put_name(imp, usan_inn[i][0], id, "usan");
    }
    return rc;
}

int ms_kb__import_drugs(sqlite3 *db, const char *const *paths, size_t npaths,
                        ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats) {
    char *found[F_COUNT] = {0};
    drugs_imp_t imp = {.db = db, .stats = stats, .progress = progress, .ctx = ctx};
    int rc = find_inputs(paths, npaths, found, &imp.total);
    if (rc)
        goto out;
    if ((rc = prepare(&imp)) != 0)
        goto out;
    if ((rc = ms_kb__begin(db)) != 0)
        goto out;
    report(&imp, 0, 1);
    rc = ms_kb__exec(db, drop_sql);
    if (!rc && found[F_CLASSES])
        rc = import_tsv(&imp, found[F_CLASSES], F_CLASSES, class_row);
    if (!rc && found[F_IDS])
        rc = import_tsv(&imp, found[F_IDS], F_IDS, id_row);
    if (!rc && found[F_NDFRT])
        rc = import_tsv(&imp, found[F_NDFRT], F_NDFRT, ndfrt_row);
    if (!rc && found[F_LABELS])
        rc = import_labels(&imp, found[F_LABELS]);
    if (!rc)
        rc = put_meta(&imp, found);
    if (!rc)
        rc = ms_kb__commit(db);
    if (rc)
        ms_kb__rollback(db);
    else
        report(&imp, 0, 1);
out:
    finalize(&imp);
    for (int k = 0; k < F_COUNT; k++)
        free(found[k]);
    return rc;
}
