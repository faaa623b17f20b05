/* JSON Lines importers: the generic passage format and PubMedQA.
 *
 * Generic (--format jsonl, also kb/starter.jsonl), one object a line:
 *   {"id", "title", "text", "url", "pmid", "doi", "authors": [...],
 *    "journal", "year", "source"} plus two optional MedQuAD-style fields,
 *   "focus" (the condition or drug) and "qtype" (the question type).
 * "id" and "text" are required; every line is one document with one
 * passage of the same id.
 *
 * PubMedQA (Jin et al., EMNLP 2019; https://pubmedqa.github.io), one object
 * a line as in pqal-dev.jsonl: {"pmid", "question", "contexts": [...],
 * "year", ...}, or the original ori_pqal.json (one object keyed by PMID
 * with upper-case field names). The contexts (the abstract without its
 * conclusion) are the passage; the question is deliberately not indexed,
 * since it is what users ask. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define JL_MAX_LINE (16u << 20)

/* Reads an optional string member; MS_EFORMAT if present with another type.
 * Numbers are accepted for fields such as pmid. */
static int opt_str(json_t *o, const char *key, int allow_num, char **out, const char *path,
                   long line) {
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (*s)
            *out = ms_xstrdup(s);
        return 0;
    }
    if (allow_num && json_is_integer(v)) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        *out = ms_xstrdup(tmp);
        return 0;
    }
    ms_kb__fail(path, line, "field \"%s\" must be a string", key);
    return MS_EFORMAT;
}

static int opt_year(json_t *o, const char *key, int *out, const char *path, long line) {
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = (int)json_integer_value(v);
    } else if (json_is_string(v)) {
        /* "2011" or "2011 Mar": the leading number, if any. */
        *out = (int)strtol(json_string_value(v), NULL, 10);
    } else {
        ms_kb__fail(path, line, "field \"%s\" must be a number", key);
        return MS_EFORMAT;
    }
    if (*out < 0 || *out > 9999)
        *out = 0;
    return 0;
}

static int all_digits(const char *s) {
    if (!s || !*s || strlen(s) > 20)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Parses one line into o, or explains why not. Blank lines give *o NULL. */
static int parse_line(const char *buf, size_t len, json_t **o, const char *path, long line) {
    size_t i = 0;
    *o = NULL;
    while (i < len && isspace((unsigned char)buf[i]))
        i++;
    if (i == len)
        return 0;
    if (len > JL_MAX_LINE) {
        ms_kb__fail(path, line, "line longer than %u bytes", JL_MAX_LINE);
        return MS_EFORMAT;
    }
    json_error_t err;
    *o = json_loadb(buf, len, 0, &err);
    if (!*o) {
        ms_kb__fail(path, line, "invalid JSON: %s (column %d)", err.text, err.column);
        return MS_EFORMAT;
    }
    if (!json_is_object(*o)) {
        json_decref(*o);
        *o = NULL;
        ms_kb__fail(path, line, "expected a JSON object");
        return MS_EFORMAT;
    }
    return 0;
}

/* One generic record. */
static int put_record(ms_kb__imp_t *imp, json_t *o, const char *path, long line,
                      const char *source_type) {
    enum { ID, TITLE, TEXT, URL, PMID, DOI, JOURNAL, SOURCE, FOCUS, QTYPE, NF };
    static const char *const keys[NF] = {"id",  "title",   "text",   "url",   "pmid",
                                         "doi", "journal", "source", "focus", "qtype"};
    char *f[NF] = {0};
    char *authors = NULL, *text = NULL;
    int year = 0, rc = 0;
    for (int i = 0; i < NF && !rc; i++)
        rc = opt_str(o, keys[i], i == ID || i == PMID, &f[i], path, line);
    if (!rc)
        rc = opt_year(o, "year", &year, path, line);
    if (rc)
        goto done;
    if (!f[ID]) {
        ms_kb__fail(path, line, "missing \"id\"");
        rc = MS_EFORMAT;
        goto done;
    }
    json_t *au = json_object_get(o, "authors");
    if (au && !json_is_null(au)) {
        size_t i;
        json_t *v;
        int ok = json_is_array(au);
        json_array_foreach(au, i, v) ok = ok && json_is_string(v);
        if (!ok) {
            ms_kb__fail(path, line, "field \"authors\" must be an array of strings");
            rc = MS_EFORMAT;
            goto done;
        }
        if (json_array_size(au) > 0)
            authors = json_dumps(au, JSON_COMPACT);
    }
    text = f[TEXT] ? ms_kb__clean_text(f[TEXT], strlen(f[TEXT])) : NULL;
    if (!text || !*text) {
        if (imp->stats)
            imp->stats->skipped++;
        goto done;
    }
    ms_kb__doc_t doc = {.id = f[ID],
                        .source_type = source_type,
                        .source = f[SOURCE],
                        .title = f[TITLE],
                        .url = f[URL],
                        .focus = f[FOCUS],
                        .pmid = f[PMID],
                        .doi = f[DOI],
                        .authors_json = authors,
                        .journal = f[JOURNAL],
                        .year = year};
    ms_kb__passage_t p = {
        .id = f[ID], .title = f[TITLE], .focus = f[FOCUS], .qtype = f[QTYPE], .text = text};
    rc = ms_kb__put(imp, &doc, &p, 1);
done:
    for (int i = 0; i < NF; i++)
        free(f[i]);
    free(authors);
    free(text);
    return rc;
}

/* Drives a per-line callback over f, reporting progress by bytes read. */
typedef int (*line_fn)(ms_kb__imp_t *imp, json_t *o, const char *path, long line, const char *arg);

static int each_line(ms_kb__imp_t *imp, FILE *f, const char *path, line_fn fn, const char *arg) {
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    long line = 0;
    int64_t bytes = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&buf, &cap, f)) != -1) {
        line++;
        bytes += len;
        json_t *o;
        if ((rc = parse_line(buf, (size_t)len, &o, path, line)) != 0 || !o)
            continue;
        rc = fn(imp, o, path, line, arg);
        json_decref(o);
        ms_kb__imp_progress(imp, bytes, 0);
    }
    if (rc == 0 && ferror(f)) {
        ms_kb__fail(path, line, "read error");
        rc = MS_EIO;
    }
    free(buf);
    return rc;
}

static int jsonl_line(ms_kb__imp_t *imp, json_t *o, const char *path, long line,
                      const char *source_type) {
    return put_record(imp, o, path, line, source_type);
}

int ms_kb__import_jsonl(ms_kb__imp_t *imp, FILE *f, const char *path, const char *source_type) {
    return each_line(imp, f, path, jsonl_line, source_type);
}

/* One PubMedQA item; pmid_key is given when the PMID is the object's key. */
static int put_pubmed(ms_kb__imp_t *imp, json_t *o, const char *pmid_key, const char *path,
                      long line) {
    char *pmid = NULL;
    int year = 0, rc;
    ms_buf_t text, id, url;
    ms_buf_init(&text);
    ms_buf_init(&id);
    ms_buf_init(&url);
    if (pmid_key)
        pmid = ms_xstrdup(pmid_key);
    else if ((rc = opt_str(o, "pmid", 1, &pmid, path, line)) != 0)
        goto done;
    if (!all_digits(pmid)) {
        ms_kb__fail(path, line, "missing or non-numeric \"pmid\"");
        rc = MS_EFORMAT;
        goto done;
    }
    if ((rc = opt_year(o, json_object_get(o, "year") ? "year" : "YEAR", &year, path, line)))
        goto done;
    json_t *ctx = json_object_get(o, "contexts");
    if (!ctx)
        ctx = json_object_get(o, "CONTEXTS");
    if (!json_is_array(ctx)) {
        ms_kb__fail(path, line, "missing \"contexts\" array");
        rc = MS_EFORMAT;
        goto done;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ctx, i, v) {
        if (!json_is_string(v)) {
            ms_kb__fail(path, line, "\"contexts\" must hold strings");
            rc = MS_EFORMAT;
            goto done;
        }
        if (text.len)
            ms_buf_puts(&text, "\n\n");
        ms_buf_puts(&text, json_string_value(v));
    }
    char *clean = ms_kb__clean_text(text.data ? text.data : "", text.len);
    if (!*clean) {
        free(clean);
        if (imp->stats)
            imp->stats->skipped++;
        goto done;
    }
    ms_buf_printf(&id, "pubmed:%s", pmid);
    ms_buf_printf(&url, "https://pubmed.ncbi.nlm.nih.gov/%s/", pmid);
    ms_kb__doc_t doc = {.id = id.data,
                        .source_type = "pubmed",
                        .source = "PubMed",
                        .url = url.data,
                        .pmid = pmid,
                        .year = year};
    ms_kb__passage_t p = {.id = pmid, .text = clean};
    rc = ms_kb__put(imp, &doc, &p, 1);
    free(clean);
done:
    free(pmid);
    ms_buf_free(&text);
    ms_buf_free(&id);
    ms_buf_free(&url);
    return rc;
}

static int pubmed_line(ms_kb__imp_t *imp, json_t *o, const char *path, long line,
                       const char *unused) {
    (void)unused;
    return put_pubmed(imp, o, NULL, path, line);
}

int ms_kb__import_pubmedqa(ms_kb__imp_t *imp, FILE *f, const char *path) {
    size_t n = strlen(path);
    if (n < 5 || strcasecmp(path + n - 5, ".json") != 0)
        return each_line(imp, f, path, pubmed_line, NULL);
    json_error_t err;
    json_t *all = json_loadf(f, 0, &err);
    if (!all || !json_is_object(all)) {
        if (all)
            ms_kb__fail(path, 0, "expected an object keyed by PMID");
        else
            ms_kb__fail(path, err.line, "invalid JSON: %s", err.text);
        json_decref(all);
        return MS_EFORMAT;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(all, key, v) {
        if (!json_is_object(v)) {
            ms_kb__fail(path, 0, "item %s is not an object", key);
            rc = MS_EFORMAT;
            break;
        }
        if ((rc = put_pubmed(imp, v, key, path, 0)) != 0)
            break;
    }
    json_decref(all);
    return rc;
}
