/* `medstream kb import` and `medstream kb search`.
 *
 * The CLI opens the database itself (the server's store is not involved):
 * <data-dir>/medstream.db in WAL mode, the same file and settings the store
 * module uses, so an import can run while the server is up. */
#include "cli/kb_cmd.h"
#include "cli/opt.h"

#include "core/buf.h"
#include "core/ms.h"
#include "kb/kb.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KB_EXIT_OK 0
#define KB_EXIT_FAIL 1
#define KB_EXIT_USAGE 2

static const char kb_usage[] = "usage: medstream kb <command> [options]\n"
                               "\n"
                               "Commands:\n"
                               "  import   import documents into the knowledge base\n"
                               "  search   search the knowledge base\n"
                               "\n"
                               "Run 'medstream kb <command> --help' for a command's options.\n";

static const char kb_import_usage[] =
    "usage: medstream kb import [--data-dir DIR] --format FORMAT [--quiet] PATH...\n"
    "\n"
    "Imports PATHs (files or directories) into the knowledge base in DIR/medstream.db.\n"
    "A passage whose id is already there is replaced, never duplicated.\n"
    "\n"
    "Options:\n"
    "  --data-dir DIR   data directory (default: $MEDSTREAM_DATA_DIR, else ./medstream-data)\n"
    "  --format FORMAT  one of:\n"
    "      medquad    MedQuAD XML files, directories of them, or medquad-xml.tar.gz\n"
    "      pubmedqa   PubMedQA JSON lines (pmid, contexts); questions are not indexed\n"
    "      pubmed     PubMed/MEDLINE XML (PubmedArticleSet; .xml or .xml.gz): abstracts\n"
    "                 with title, authors, journal, volume, issue, pages, date, DOI,\n"
    "                 PMID and MeSH\n"
    "      jsonl      one object a line: id, text (required), title, url, pmid, doi,\n"
    "                 authors [..], journal, year, source, focus, qtype\n"
    "      text       .txt and .md files, split into passages at headings and paragraphs\n"
    "  -q, --quiet      no progress bar\n"
    "  -h, --help       this help\n";

static const char kb_search_usage[] =
    "usage: medstream kb search [--data-dir DIR] [-k N] [--json] QUERY\n"
    "\n"
    "Prints the passages that best answer QUERY, best first, with their citation.\n"
    "An empty knowledge base is first given the built-in starter passages.\n"
    "\n"
    "Options:\n"
    "  --data-dir DIR   data directory (default: $MEDSTREAM_DATA_DIR, else ./medstream-data)\n"
    "  -k N             number of passages, 1..100 (default 5)\n"
    "  --json           one JSON array of {id, score, title, url, source, text}\n"
    "  --timing         report the search time on stderr\n"
    "  -h, --help       this help\n";

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir) {
    char *p = ms_xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0700) != 0 && errno != EEXIST)
        rc = -1;
    struct stat st;
    if (rc == 0 && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = -1;
    if (rc)
        fprintf(stderr, "medstream kb: cannot create data directory %s: %s\n", dir,
                strerror(errno));
    free(p);
    return rc;
}

/* Opens the data directory's database (the store creates it, mode 0600,
 * with its schema) and its knowledge base. */
static int open_kb(const char *dir, ms_kb_t **out) {
    if (!dir || !*dir) {
        dir = getenv("MEDSTREAM_DATA_DIR");
        if (!dir || !*dir)
            dir = "./medstream-data";
    }
    if (make_dirs(dir) != 0)
        return KB_EXIT_FAIL;
    ms_store_t *st = NULL;
    if (ms_store_open(dir, &st) != 0) {
        fprintf(stderr, "medstream kb: cannot open the database in %s (see the log above)\n", dir);
        return KB_EXIT_FAIL;
    }
    ms_store_close(st);
    int e = ms_kb_open(dir, out);
    if (e) {
        fprintf(stderr, "medstream kb: cannot set up the knowledge base in %s: %s (%s)\n", dir,
                ms_strerror(e), ms_kb_errmsg());
        return KB_EXIT_FAIL;
    }
    return KB_EXIT_OK;
}

typedef struct {
    int tty;
    int drawn;
} progress_t;

static void progress_cb(void *ctx, int64_t done, int64_t total) {
    progress_t *p = ctx;
    if (!p->tty)
        return;
    char bar[41];
    int pct = total > 0 ? (int)(done * 100 / total) : 0;
    int fill = total > 0 ? (int)(done * 40 / total) : 0;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %.1f / %.1f MB", bar, pct, (double)done / 1e6,
            (double)total / 1e6);
    /* End the line once complete, so later log lines start on their own. */
    p->drawn = !(total > 0 && done >= total);
    fputs(p->drawn ? "" : "\n", stderr);
    fflush(stderr);
}

static int cmd_import(int argc, char **argv) {
    const char *dir = NULL, *fmt_name = NULL;
    const char **paths = ms_xcalloc((size_t)argc, sizeof *paths);
    size_t npaths = 0;
    int quiet = 0, rc = KB_EXIT_USAGE, only_paths = 0;
    ms_kb_t *kb = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (only_paths || argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
            paths[npaths++] = argv[i];
        } else if (strcmp(argv[i], "--") == 0) {
            only_paths = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(kb_import_usage, stdout);
            rc = KB_EXIT_OK;
            goto done;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if ((m = ms_cli_opt(argc, argv, &i, "--data-dir", &v, "kb")) != 0) {
            if (m < 0)
                goto done;
            dir = v;
        } else if ((m = ms_cli_opt(argc, argv, &i, "--format", &v, "kb")) != 0) {
            if (m < 0)
                goto done;
            fmt_name = v;
        } else {
            fprintf(stderr, "medstream kb import: unknown option %s\n%s", argv[i], kb_import_usage);
            goto done;
        }
    }
    ms_kb_format_t fmt;
    if (!fmt_name || ms_kb_parse_format(fmt_name, &fmt) != 0) {
        fprintf(stderr, "medstream kb import: %s\n%s",
                fmt_name ? "--format must be medquad, pubmedqa, pubmed, jsonl or text"
                         : "--format is required",
                kb_import_usage);
        goto done;
    }
    if (npaths == 0) {
        fprintf(stderr, "medstream kb import: no PATH given\n%s", kb_import_usage);
        goto done;
    }
    if ((rc = open_kb(dir, &kb)) != 0)
        goto done;
    progress_t pr = {.tty = !quiet && isatty(STDERR_FILENO)};
    ms_kb_import_stats_t st = {0};
    int e = ms_kb_import_files(kb, fmt, paths, npaths, progress_cb, &pr, &st);
    if (pr.drawn)
        fputc('\n', stderr);
    printf("imported %lld documents, %lld passages; skipped %lld; dropped %lld navigation "
           "sentences; %.2f s\n",
           (long long)st.documents, (long long)st.passages, (long long)st.skipped,
           (long long)st.dropped, st.seconds);
    if (e) {
        fprintf(stderr, "medstream kb import: %s\n",
                *ms_kb_errmsg() ? ms_kb_errmsg() : ms_strerror(e));
        rc = KB_EXIT_FAIL;
    }
done:
    ms_kb_close(kb);
    free(paths);
    return rc;
}

/* Appends s as JSON, or null. */
static void json_field(ms_buf_t *b, const char *name, const char *s) {
    ms_buf_printf(b, "\"%s\":", name);
    if (s)
        ms_buf_json_str(b, s, strlen(s));
    else
        ms_buf_puts(b, "null");
}

static void print_json(const ms_kb_hit_t *h, size_t n) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        ms_buf_puts(&b, i ? ",{" : "{");
        json_field(&b, "id", h[i].id);
        ms_buf_printf(&b, ",\"score\":%.6g,", h[i].score);
        json_field(&b, "title", h[i].title);
        ms_buf_putc(&b, ',');
        json_field(&b, "url", h[i].url);
        ms_buf_putc(&b, ',');
        json_field(&b, "source", h[i].source);
        ms_buf_putc(&b, ',');
        json_field(&b, "text", h[i].text);
        ms_buf_putc(&b, '}');
    }
    ms_buf_puts(&b, "]\n");
    fwrite(b.data, 1, b.len, stdout);
    ms_buf_free(&b);
}

/* The first ~240 bytes of s on one line, cut at a UTF-8 boundary. */
static void print_snippet(const char *s) {
    size_t n = s ? strlen(s) : 0, cut = n > 240 ? 240 : n;
    while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    fputs("   ", stdout);
    for (size_t i = 0; i < cut; i++)
        fputc(s[i] == '\n' ? ' ' : s[i], stdout);
    fputs(cut < n ? "...\n" : "\n", stdout);
}

static void print_text(const ms_kb_hit_t *h, size_t n) {
    if (n == 0)
        printf("no matching passages\n");
    for (size_t i = 0; i < n; i++) {
        printf("%zu. %s  (score %.3f)\n", i + 1, h[i].title ? h[i].title : h[i].id, h[i].score);
        printf("   %s | %s | %s\n", h[i].source ? h[i].source : "-", h[i].url ? h[i].url : "-",
               h[i].id);
        print_snippet(h[i].text);
    }
}

static int cmd_search(int argc, char **argv) {
    const char *dir = NULL;
    int k = 5, json = 0, timing = 0, rc = KB_EXIT_USAGE, only_words = 0;
    ms_buf_t query;
    ms_kb_t *kb = NULL;
    ms_buf_init(&query);
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (only_words || argv[i][0] != '-' || argv[i][1] == '\0') {
            if (query.len)
                ms_buf_putc(&query, ' ');
            ms_buf_puts(&query, argv[i]);
        } else if (strcmp(argv[i], "--") == 0) {
            only_words = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(kb_search_usage, stdout);
            rc = KB_EXIT_OK;
            goto done;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--timing") == 0) {
            timing = 1;
        } else if ((m = ms_cli_opt(argc, argv, &i, "--data-dir", &v, "kb")) != 0) {
            if (m < 0)
                goto done;
            dir = v;
        } else if ((m = ms_cli_opt(argc, argv, &i, "-k", &v, "kb")) != 0 ||
                   (m = ms_cli_opt(argc, argv, &i, "--k", &v, "kb")) != 0) {
            char *end = NULL;
            long kv = m > 0 ? strtol(v, &end, 10) : 0;
            if (m < 0 || !end || *end || kv < 1 || kv > 100) {
                fprintf(stderr, "medstream kb search: -k must be 1..100\n");
                goto done;
            }
            k = (int)kv;
        } else {
            fprintf(stderr, "medstream kb search: unknown option %s\n%s", argv[i], kb_search_usage);
            goto done;
        }
    }
    if (query.len == 0) {
        fprintf(stderr, "medstream kb search: no QUERY given\n%s", kb_search_usage);
        goto done;
    }
    if ((rc = open_kb(dir, &kb)) != 0)
        goto done;
    int loaded = 0, e = ms_kb_starter(kb, &loaded);
    ms_kb_hit_t *hits = NULL;
    size_t n = 0;
    int64_t t0 = ms_mono_us();
    if (!e)
        e = ms_kb_find(kb, query.data, k, &hits, &n);
    if (!e && timing)
        fprintf(stderr, "search: %zu hits in %.2f ms\n", n, (double)(ms_mono_us() - t0) / 1e3);
    if (e) {
        fprintf(stderr, "medstream kb search: %s\n",
                *ms_kb_errmsg() ? ms_kb_errmsg() : ms_strerror(e));
        rc = KB_EXIT_FAIL;
        goto done;
    }
    if (json)
        print_json(hits, n);
    else
        print_text(hits, n);
    ms_kb_hits_free(hits, n);
    rc = KB_EXIT_OK;
done:
    ms_kb_close(kb);
    ms_buf_free(&query);
    return rc;
}

int ms_cli_kb(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(kb_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? KB_EXIT_USAGE : KB_EXIT_OK;
    }
    if (strcmp(argv[1], "import") == 0)
        return cmd_import(argc, argv);
    if (strcmp(argv[1], "search") == 0)
        return cmd_search(argc, argv);
    fprintf(stderr, "medstream kb: unknown command '%s'\n%s", argv[1], kb_usage);
    return KB_EXIT_USAGE;
}
