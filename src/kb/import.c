/* ms_kb_import: expands the paths given into input files, then imports each
 * file in its own transaction with the parser for its format.
 *
 * A malformed file (or MedQuAD archive entry) is rolled back, logged with
 * its path and skipped, and the other inputs still import: one broken file
 * among the 11,000 of MedQuAD should not cost the rest. The call then
 * returns MS_EFORMAT so scripts notice. I/O and SQLite errors stop at once. */
#include "kb/kb_internal.h"

#include "core/log.h"
#include "core/ms.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *path;
    int64_t size;
} kb_input_t;

typedef struct {
    kb_input_t *v;
    size_t n, cap;
} kb_inputs_t;

static void inputs_add(kb_inputs_t *in, const char *path, int64_t size) {
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 64;
        in->v = ms_xrealloc(in->v, in->cap * sizeof *in->v);
    }
    in->v[in->n].path = ms_xstrdup(path);
    in->v[in->n].size = size;
    in->n++;
}

static void inputs_free(kb_inputs_t *in) {
    for (size_t i = 0; i < in->n; i++)
        free(in->v[i].path);
    free(in->v);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int is_archive(const char *path) {
    return ends_with(path, ".tar.gz") || ends_with(path, ".tgz") || ends_with(path, ".tar") ||
           ends_with(path, ".tar.bz2") || ends_with(path, ".tar.xz") || ends_with(path, ".zip");
}

/* Which files a directory walk picks up for a format. Files named
 * explicitly are always taken. */
static int wanted(ms_kb_format_t fmt, const char *name) {
    switch (fmt) {
    case MS_KB_MEDQUAD:
        return ends_with(name, ".xml") || is_archive(name);
    case MS_KB_PUBMEDQA:
    case MS_KB_JSONL:
        return ends_with(name, ".jsonl") || ends_with(name, ".json");
    case MS_KB_TEXT:
        return ends_with(name, ".txt") || ends_with(name, ".md") || ends_with(name, ".markdown");
    case MS_KB_PUBMED:
        return ends_with(name, ".xml") || ends_with(name, ".xml.gz");
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds the wanted files under dir, in name order (so imports are
 * reproducible), skipping hidden entries. */
static int walk(ms_kb_format_t fmt, const char *dir, kb_inputs_t *in, int depth) {
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!d) {
        ms_kb__fail(dir, 0, "cannot open directory: %s", strerror(errno));
        return MS_EIO;
    }
    if (depth > 32) {
        closedir(d);
        ms_kb__fail(dir, 0, "directories nested too deeply");
        return MS_EIO;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = ms_xrealloc(names, cap * sizeof *names);
        }
        names[n++] = ms_xstrdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *p = ms_xmalloc(len);
        snprintf(p, len, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk(fmt, p, in, depth + 1);
            else if (S_ISREG(st.st_mode) && wanted(fmt, names[i]))
                inputs_add(in, p, (int64_t)st.st_size);
        }
        free(p);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int collect(ms_kb_format_t fmt, const char *const *paths, size_t npaths, kb_inputs_t *in) {
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (!paths[i] || stat(paths[i], &st) != 0) {
            ms_kb__fail(paths[i], 0, "%s", strerror(errno));
            return MS_EIO;
        }
        if (S_ISDIR(st.st_mode)) {
            int rc = walk(fmt, paths[i], in, 0);
            if (rc)
                return rc;
        } else {
            inputs_add(in, paths[i], (int64_t)st.st_size);
        }
    }
    return 0;
}

void ms_kb__imp_bad(ms_kb__imp_t *imp) {
    if (imp->bad_inputs++ == 0)
        snprintf(imp->first_error, sizeof imp->first_error, "%s", ms_kb_errmsg());
    if (imp->stats)
        imp->stats->skipped++;
}

static int import_stream(ms_kb__imp_t *imp, ms_kb_format_t fmt, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ms_kb__fail(path, 0, "%s", strerror(errno));
        return MS_EIO;
    }
    int rc = fmt == MS_KB_PUBMEDQA ? ms_kb__import_pubmedqa(imp, f, path)
                                   : ms_kb__import_jsonl(imp, f, path, "jsonl");
    fclose(f);
    return rc;
}

/* Imports one input file in one transaction. */
static int import_file(ms_kb__imp_t *imp, ms_kb_format_t fmt, const char *path) {
    int rc = ms_kb__begin(imp->db);
    if (rc)
        return rc;
    switch (fmt) {
    case MS_KB_MEDQUAD:
        rc = is_archive(path) ? ms_kb__import_medquad_archive(imp, path)
                              : ms_kb__import_medquad_file(imp, path);
        break;
    case MS_KB_PUBMEDQA:
    case MS_KB_JSONL:
        rc = import_stream(imp, fmt, path);
        break;
    case MS_KB_TEXT:
        rc = ms_kb__import_text(imp, path);
        break;
    case MS_KB_PUBMED:
        rc = ms_kb__import_pubmed(imp, path);
        break;
    }
    if (rc == 0)
        rc = ms_kb__commit(imp->db);
    if (rc)
        ms_kb__rollback(imp->db);
    return rc;
}

int ms_kb_import(sqlite3 *db, ms_kb_format_t format, const char *const *paths, size_t npaths,
                 ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats) {
    ms_kb_import_stats_t local = {0};
    ms_kb__imp_t imp = {0};
    kb_inputs_t in = {0};
    int64_t t0 = ms_mono_us();
    int rc;
    if (!db || (!paths && npaths))
        return MS_EINVAL;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    ms_kb__clear_error();
    if ((rc = collect(format, paths, npaths, &in)) != 0)
        goto fail;
    if ((rc = ms_kb__imp_open(&imp, db)) != 0)
        goto fail;
    imp.stats = stats;
    imp.progress = progress;
    imp.ctx = ctx;
    for (size_t i = 0; i < in.n; i++)
        imp.total += in.v[i].size;
    ms_kb__imp_progress(&imp, 0, 1);
    for (size_t i = 0; i < in.n; i++) {
        int64_t skipped_before = stats->skipped, docs = stats->documents,
                passages = stats->passages;
        rc = import_file(&imp, format, in.v[i].path);
        if (rc == MS_EFORMAT) {
            /* The file's transaction was rolled back: undo its counts. */
            stats->skipped = skipped_before;
            stats->documents = docs;
            stats->passages = passages;
            ms_kb__imp_bad(&imp);
            rc = 0;
        }
        if (rc)
            goto fail;
        imp.done += in.v[i].size;
        ms_kb__imp_progress(&imp, 0, i + 1 == in.n);
    }
    /* Documents whose every passage was replaced by another document's
     * passage of the same id (e.g. a judged answer re-imported as jsonl)
     * no longer stand for anything. */
    rc = ms_kb__exec(db, "DELETE FROM kb_documents WHERE NOT EXISTS"
                         " (SELECT 1 FROM kb_passages p WHERE p.doc_id = kb_documents.id)");
    if (!rc)
        rc = ms_kb__exec(db, "DELETE FROM kb_names WHERE has_text = 1 AND NOT EXISTS"
                             " (SELECT 1 FROM kb_documents d WHERE d.id = kb_names.doc_id)");
    if (rc)
        goto fail;
    stats->seconds = (double)(ms_mono_us() - t0) / 1e6;
    ms_log(MS_LOG_INFO, "kb_import",
           "\"files\":%zu,\"documents\":%lld,\"passages\":%lld,\"skipped\":%lld,"
           "\"navigation_dropped\":%lld,\"seconds\":%.3f",
           in.n, (long long)stats->documents, (long long)stats->passages, (long long)stats->skipped,
           (long long)stats->dropped, stats->seconds);
    if (imp.bad_inputs) {
        ms_kb__set_error("%s (%lld malformed input%s skipped)", imp.first_error,
                         (long long)imp.bad_inputs, imp.bad_inputs == 1 ? "" : "s");
        rc = MS_EFORMAT;
    }
    ms_kb__imp_close(&imp);
    inputs_free(&in);
    return rc;
fail:
    stats->seconds = (double)(ms_mono_us() - t0) / 1e6;
    ms_kb__imp_close(&imp);
    inputs_free(&in);
    return rc;
}
