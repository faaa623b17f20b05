/* `medstream fhir import`: a FHIR R4 Bundle (a file, stdin, or a server's
 * Patient/{id}/$everything) to a clinical context, printed as JSON and, with
 * --data-dir and --email, stored for that user exactly as
 * POST /api/clinical-contexts/import/fhir stores it. */
#include "cli/fhir_cmd.h"
#include "cli/opt.h"

#include "clinical/clinical.h"
#include "core/buf.h"
#include "core/ms.h"
#include "store/store.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FHIR_EXIT_OK 0
#define FHIR_EXIT_FAIL 1
#define FHIR_EXIT_USAGE 2

static const char fhir_usage[] = "usage: medstream fhir <command> [options]\n"
                                 "\n"
                                 "Commands:\n"
                                 "  import   a patient's clinical context from a FHIR R4 Bundle\n"
                                 "\n"
                                 "Run 'medstream fhir import --help' for its options.\n";

static const char import_usage[] =
    "usage: medstream fhir import [options] FILE\n"
    "       medstream fhir import [options] --server URL --patient ID\n"
    "\n"
    "Builds a clinical context from a FHIR R4 Bundle (transaction, collection or\n"
    "searchset): age and gender from the Patient, active Conditions, active\n"
    "MedicationRequests, AllergyIntolerances and the latest vital signs. FILE may\n"
    "be - for stdin. Prints the context as JSON on stdout, warnings on stderr.\n"
    "\n"
    "Options:\n"
    "  --server URL       fetch URL/Patient/ID/$everything instead of reading FILE\n"
    "                     (default $MEDSTREAM_FHIR_SERVER; a bearer token may be\n"
    "                     given in $MEDSTREAM_FHIR_TOKEN, never on the command line)\n"
    "  --patient ID       the patient to fetch (a FHIR id)\n"
    "  --as-of DATE       compute the age at DATE (YYYY-MM-DD; default: today, UTC)\n"
    "  --data-dir DIR     store the context in DIR's database (with --email)\n"
    "  --email EMAIL      the user who owns the stored context\n"
    "  --conversation ID  bind the stored context to this conversation of the user's\n"
    "  --replace          with --conversation: replace the context bound there\n"
    "  --max-bytes N      largest bundle, file or all pages together (default 67108864)\n"
    "  --max-pages N      most result pages followed from a server (default 100)\n"
    "  --timeout-ms N     per request to the server (default 30000)\n"
    "  --max-items N      entries kept per list (default 100)\n"
    "  --max-chars N      characters kept per entry (default 500)\n"
    "  -q, --quiet        no warnings or summary on stderr\n"
    "  -h, --help         this help\n";

typedef struct {
    const char *file, *server, *patient, *as_of, *data_dir, *email, *conversation;
    int replace, quiet;
    long long max_bytes, max_pages, timeout_ms, max_items, max_chars;
} import_opts_t;

static int parse_num(const char *name, const char *v, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "medstream fhir import: %s must be a number from %lld to %lld\n", name, lo,
                hi);
        return -1;
    }
    *out = n;
    return 0;
}

/* 0, 1 (--help printed) or -1 (usage error printed). */
static int parse_opts(int argc, char **argv, import_opts_t *o) {
    const char *env = getenv("MEDSTREAM_FHIR_SERVER");
    *o = (import_opts_t){.server = env && *env ? env : NULL,
                         .max_bytes = 64 << 20,
                         .max_pages = 100,
                         .timeout_ms = 30000,
                         .max_items = MS_CLINICAL_MAX_ITEMS,
                         .max_chars = MS_CLINICAL_MAX_CHARS};
    int server_flag = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        const char *a = argv[i];
#define STR_OPT(flag, field)                                                                       \
    if ((m = ms_cli_opt(argc, argv, &i, flag, &v, "fhir import")) != 0) {                          \
        if (m < 0)                                                                                 \
            return -1;                                                                             \
        o->field = v;                                                                              \
        continue;                                                                                  \
    }
#define NUM_OPT(flag, field, lo, hi)                                                               \
    if ((m = ms_cli_opt(argc, argv, &i, flag, &v, "fhir import")) != 0) {                          \
        if (m < 0 || parse_num(flag, v, lo, hi, &o->field))                                        \
            return -1;                                                                             \
        continue;                                                                                  \
    }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(import_usage, stdout);
            return 1;
        }
        if (!strcmp(a, "--replace")) {
            o->replace = 1;
            continue;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if ((m = ms_cli_opt(argc, argv, &i, "--server", &v, "fhir import")) != 0) {
            if (m < 0)
                return -1;
            o->server = v;
            server_flag = 1;
            continue;
        }
        STR_OPT("--patient", patient)
        STR_OPT("--as-of", as_of)
        STR_OPT("--data-dir", data_dir)
        STR_OPT("--email", email)
        STR_OPT("--conversation", conversation)
        NUM_OPT("--max-bytes", max_bytes, 1024, 1LL << 32)
        NUM_OPT("--max-pages", max_pages, 1, 100000)
        NUM_OPT("--timeout-ms", timeout_ms, 100, 3600000)
        NUM_OPT("--max-items", max_items, 1, 100000)
        NUM_OPT("--max-chars", max_chars, 1, 1000000)
#undef STR_OPT
#undef NUM_OPT
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "medstream fhir import: unknown option %s\n", a);
            return -1;
        }
        if (o->file) {
            fprintf(stderr, "medstream fhir import: one FILE at a time\n");
            return -1;
        }
        o->file = a;
    }
    /* A FILE wins over $MEDSTREAM_FHIR_SERVER, not over --server. */
    if (o->file && !server_flag)
        o->server = NULL;
    const char *why = NULL;
    if (o->file && o->server)
        why = "give FILE or --server, not both";
    else if (o->patient && !o->server)
        why = "--patient needs --server URL (or $MEDSTREAM_FHIR_SERVER)";
    else if (!o->file && !o->server)
        why = "no FILE given (or --server URL --patient ID)";
    else if (o->server && !o->patient)
        why = "--server needs --patient ID";
    else if (!o->data_dir != !o->email)
        why = "--data-dir and --email go together";
    else if ((o->conversation || o->replace) && !o->email)
        why = "--conversation and --replace need --data-dir and --email";
    else if (o->replace && !o->conversation)
        why = "--replace needs --conversation";
    if (why) {
        fprintf(stderr, "medstream fhir import: %s\n%s", why, import_usage);
        return -1;
    }
    return 0;
}

/* Reads path ("-": stdin) up to max bytes and parses it. */
static int read_bundle(const char *path, size_t max, json_t **out) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "medstream fhir import: %s: %s\n", path, strerror(errno));
        return -1;
    }
    ms_buf_t b;
    ms_buf_init(&b);
    char chunk[65536];
    size_t n;
    int over = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > max) {
            over = 1;
            break;
        }
        ms_buf_append(&b, chunk, n);
    }
    int failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (over || failed) {
        fprintf(stderr, "medstream fhir import: %s: %s\n", path,
                over ? "larger than --max-bytes" : "read error");
        ms_buf_free(&b);
        return -1;
    }
    json_error_t je;
    *out = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &je);
    ms_buf_free(&b);
    if (!*out) {
        fprintf(stderr, "medstream fhir import: %s: not JSON (line %d: %s)\n", path, je.line,
                je.text);
        return -1;
    }
    return 0;
}

static int fetch_bundle(const import_opts_t *o, json_t **out) {
    char err[256];
    const char *token = getenv("MEDSTREAM_FHIR_TOKEN");
    ms_clinical_fetch_opts_t fo = {.max_bytes = (size_t)o->max_bytes,
                                   .max_pages = (int)o->max_pages,
                                   .timeout_ms = (long)o->timeout_ms,
                                   .bearer = token && *token ? token : NULL};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = ms_clinical_fhir_fetch(o->server, o->patient, &fo, out, err, sizeof err);
    curl_global_cleanup();
    if (rc) {
        fprintf(stderr, "medstream fhir import: %s\n", err);
        return -1;
    }
    return 0;
}

/* Stores ctx for the user; *stored gets the row. */
static int store_context(const import_opts_t *o, json_t *ctx, json_t **stored) {
    ms_store_t *st = NULL;
    ms_user_t u;
    int rc = ms_store_open(o->data_dir, &st);
    if (rc) {
        fprintf(stderr, "medstream fhir import: cannot open the database in %s\n", o->data_dir);
        return -1;
    }
    if ((rc = ms_store_user_by_email(st, o->email, &u)) != 0) {
        if (rc == MS_ENOENT)
            fprintf(stderr, "medstream fhir import: no user %s in %s\n", o->email, o->data_dir);
        else
            fprintf(stderr, "medstream fhir import: cannot read the users in %s (%s)\n",
                    o->data_dir, ms_strerror(rc));
        ms_store_close(st);
        return -1;
    }
    json_t *existing = NULL;
    if (o->conversation && o->replace &&
        ms_store_clinical_current(st, u.id, o->conversation, &existing) == 0) {
        rc = ms_store_clinical_update(st, u.id, json_string_value(json_object_get(existing, "id")),
                                      ctx, "fhir", stored);
        json_decref(existing);
    } else {
        rc = ms_store_clinical_create(st, u.id, ctx, "fhir", o->conversation, stored);
    }
    ms_store_close(st);
    if (rc) {
        fprintf(stderr, "medstream fhir import: %s\n",
                rc == MS_EEXIST   ? "that conversation already has a clinical context "
                                    "(--replace replaces it)"
                : rc == MS_ENOENT ? "no such conversation of that user's"
                                  : "could not store the context");
        return -1;
    }
    return 0;
}

static void report(const import_opts_t *o, json_t *warnings, const ms_clinical_import_counts_t *n) {
    if (o->quiet)
        return;
    size_t i;
    json_t *w;
    json_array_foreach(warnings, i, w)
        fprintf(stderr, "medstream fhir import: warning: %s\n", json_string_value(w));
    fprintf(stderr,
            "medstream fhir import: %d entries: %d active conditions, %d active medications, "
            "%d allergies, %d vital signs\n",
            n->entries, n->conditions, n->medications, n->allergies, n->vitals);
}

static int cmd_import(int argc, char **argv) {
    import_opts_t o;
    int p = parse_opts(argc, argv, &o);
    if (p)
        return p > 0 ? FHIR_EXIT_OK : FHIR_EXIT_USAGE;
    int64_t as_of = ms_now_ms();
    if (o.as_of && (strlen(o.as_of) != 10 || ms_clinical_fhir_time(o.as_of, &as_of) != 0)) {
        fprintf(stderr, "medstream fhir import: --as-of must be a date, YYYY-MM-DD\n");
        return FHIR_EXIT_USAGE;
    }
    json_t *bundle = NULL, *ctx = NULL, *warnings = NULL, *stored = NULL;
    int rc = o.file ? read_bundle(o.file, (size_t)o.max_bytes, &bundle) : fetch_bundle(&o, &bundle);
    if (rc)
        return FHIR_EXIT_FAIL;
    ms_clinical_limits_t lim = {(size_t)o.max_items, (size_t)o.max_chars};
    ms_clinical_import_counts_t n;
    char err[256];
    rc = ms_clinical_from_fhir(bundle, as_of, &lim, &ctx, &warnings, &n, err, sizeof err);
    json_decref(bundle);
    if (rc) {
        fprintf(stderr, "medstream fhir import: %s\n", err);
        return FHIR_EXIT_FAIL;
    }
    report(&o, warnings, &n);
    json_decref(warnings);
    if (o.email && store_context(&o, ctx, &stored) != 0) {
        json_decref(ctx);
        return FHIR_EXIT_FAIL;
    }
    char *out = json_dumps(stored ? stored : ctx,
                           JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    puts(out);
    free(out);
    json_decref(ctx);
    json_decref(stored);
    return fflush(stdout) == 0 ? FHIR_EXIT_OK : FHIR_EXIT_FAIL;
}

int ms_cli_fhir(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(fhir_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? FHIR_EXIT_USAGE : FHIR_EXIT_OK;
    }
    if (!strcmp(argv[1], "import"))
        return cmd_import(argc - 1, argv + 1);
    fprintf(stderr, "medstream fhir: unknown command \"%s\"\n\n%s", argv[1], fhir_usage);
    return FHIR_EXIT_USAGE;
}
