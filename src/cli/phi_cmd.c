/* `medstream phi detect`: the detector over JSON lines, for
 * de-identification work and for the evaluation (docs/phi.md). */
#include "cli/phi_cmd.h"
#include "cli/opt.h"

#include "core/buf.h"
#include "core/ms.h"
#include "phi/phi.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char phi_usage[] = "usage: medstream phi <command> [options]\n"
                                "\n"
                                "Commands:\n"
                                "  detect   find the HIPAA Safe Harbor identifiers in JSON lines\n"
                                "\n"
                                "Run 'medstream phi detect --help' for its options.\n";

static const char detect_usage[] =
    "usage: medstream phi detect [--redact] [--max-line-bytes N] [--timing] < in.jsonl\n"
    "\n"
    "Reads one JSON object a line, {\"id\": ..., \"text\": \"...\"}, and writes one line for\n"
    "each: {\"id\", \"phi\": [{\"type\", \"start\", \"end\", \"confidence\"}], \"verdict\"}.\n"
    "start and end count Unicode code points of text (end exclusive); types are\n"
    "ASQ-PHI's (NAME, DATE, GEOGRAPHIC_LOCATION, MEDICAL_RECORD_NUMBER, PHONE, SSN,\n"
    "EMAIL, ...); confidence is 0..1, and spans below 0.5 are \"unsure\". The verdict is\n"
    "\"phi\" (some span >= 0.5), \"unsure\" (only spans below it: treated as PHI) or \"none\".\n"
    "A line that cannot be read gives {\"id\", \"error\"} and a message on stderr.\n"
    "\n"
    "Options:\n"
    "  --redact            write {\"id\", \"text\", \"verdict\"} with each identifier\n"
    "                      replaced by a typed placeholder ([NAME_1], [DATE_1], ...)\n"
    "  --max-line-bytes N  longest input line, 1..1073741824 (default 1048576)\n"
    "  --timing            report the detection time on stderr\n"
    "  -h, --help          this help\n";

typedef struct {
    int redact, timing;
    size_t max_line;
    int64_t us_total, us_max;
    size_t bytes_total, lines;
} detect_opts_t;

/* Code points in s[0..n) (s is valid UTF-8: jansson checked it). */
static size_t cp_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static void emit(json_t *o) {
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(3));
    if (line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        free(line);
    }
}

static const char *verdict_name(ms_phi_verdict_t v) {
    return v == MS_PHI_FOUND ? "phi" : v == MS_PHI_UNSURE ? "unsure" : "none";
}

static void line_error(size_t lineno, json_t *id, const char *why) {
    fprintf(stderr, "medstream phi detect: line %zu: %s\n", lineno, why);
    json_t *o = json_pack("{s:O?, s:s}", "id", id, "error", why);
    if (o && !json_object_get(o, "id"))
        json_object_set_new(o, "id", json_null());
    emit(o);
    json_decref(o);
}

/* One input line; 0 when it was read, -1 when it was not. */
static int detect_line(detect_opts_t *o, const char *line, size_t n, size_t lineno) {
    json_error_t jerr;
    json_t *in = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        /* jansson quotes the text near the error ("... near 'Smith'"): that
         * may be PHI, so only the reason and the column are told. */
        char reason[JSON_ERROR_TEXT_LENGTH];
        snprintf(reason, sizeof reason, "%s", jerr.text);
        char *near = strstr(reason, " near ");
        if (near)
            *near = '\0';
        char why[256];
        snprintf(why, sizeof why, "not JSON: %s (column %d)", reason, jerr.column);
        line_error(lineno, NULL, why);
        return -1;
    }
    json_t *id = json_object_get(in, "id");
    json_t *text = json_object_get(in, "text");
    int rc = 0;
    if (!json_is_object(in)) {
        line_error(lineno, NULL, "not a JSON object: expected {\"id\": ..., \"text\": \"...\"}");
        rc = -1;
    } else if (!id) {
        line_error(lineno, NULL, "no \"id\"");
        rc = -1;
    } else if (!json_is_string(text)) {
        line_error(lineno, id, text ? "\"text\" is not a string" : "no \"text\"");
        rc = -1;
    } else {
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        ms_phi_result_t r;
        int64_t t0 = ms_mono_us();
        ms_phi_detect(s, len, &r);
        int64_t us = ms_mono_us() - t0;
        o->us_total += us;
        o->us_max = us > o->us_max ? us : o->us_max;
        o->bytes_total += len;
        o->lines++;
        json_t *out = json_pack("{s:O}", "id", id);
        if (o->redact) {
            ms_phi_map_t *m = ms_phi_map_new();
            char *red;
            size_t rlen;
            ms_phi_redact(m, s, len, &r, &red, &rlen);
            json_object_set_new(out, "text", json_stringn(red, rlen));
            free(red);
            ms_phi_map_free(m);
        } else {
            json_t *arr = json_array();
            size_t cp = 0, at = 0;
            for (size_t i = 0; i < r.nspans; i++) {
                const ms_phi_span_t *sp = &r.spans[i];
                cp += cp_count(s + at, sp->start - at);
                size_t cstart = cp;
                cp += cp_count(s + sp->start, sp->end - sp->start);
                at = sp->end;
                json_array_append_new(
                    arr, json_pack("{s:s, s:I, s:I, s:f}", "type", ms_phi_type_name(sp->type),
                                   "start", (json_int_t)cstart, "end", (json_int_t)cp, "confidence",
                                   (double)(int)(sp->confidence * 100 + 0.5) / 100));
            }
            json_object_set_new(out, "phi", arr);
        }
        json_object_set_new(out, "verdict", json_string(verdict_name(r.verdict)));
        emit(out);
        json_decref(out);
        ms_phi_result_free(&r);
    }
    json_decref(in);
    return rc;
}

static int run_detect(detect_opts_t *o) {
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int failed = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len)
            continue;
        if (len > o->max_line) {
            char why[128];
            snprintf(why, sizeof why, "line is %zu bytes, longer than --max-line-bytes %zu", len,
                     o->max_line);
            line_error(lineno, NULL, why);
            failed = 1;
            continue;
        }
        if (detect_line(o, line, len, lineno) != 0)
            failed = 1;
    }
    int read_err = ferror(stdin);
    free(line);
    fflush(stdout);
    if (read_err) {
        fprintf(stderr, "medstream phi detect: reading stdin: %s\n", strerror(errno));
        return 1;
    }
    if (o->timing)
        fprintf(stderr,
                "medstream phi detect: %zu texts, %zu bytes, detection %.3f ms in all, "
                "%.1f us per text on average, %lld us at most\n",
                o->lines, o->bytes_total, (double)o->us_total / 1000.0,
                o->lines ? (double)o->us_total / (double)o->lines : 0.0, (long long)o->us_max);
    return failed ? 1 : 0;
}

int ms_cli_phi(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(phi_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "detect") != 0) {
        fprintf(stderr, "medstream phi: unknown command \"%s\"\n\n%s", argv[1], phi_usage);
        return 2;
    }
    detect_opts_t o = {.max_line = 1u << 20};
    for (int i = 2; i < argc; i++) {
        const char *v;
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(detect_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--redact")) {
            o.redact = 1;
        } else if (!strcmp(argv[i], "--timing")) {
            o.timing = 1;
        } else if ((m = ms_cli_opt(argc, argv, &i, "--max-line-bytes", &v, "phi detect")) != 0) {
            if (m < 0)
                return 2;
            char *end;
            errno = 0;
            unsigned long long x = strtoull(v, &end, 10);
            if (errno || *end || end == v || x < 1 || x > (1ull << 30) || v[0] == '-') {
                fprintf(stderr, "medstream phi detect: --max-line-bytes must be 1..1073741824\n");
                return 2;
            }
            o.max_line = (size_t)x;
        } else {
            fprintf(stderr, "medstream phi detect: unknown option \"%s\"\n\n%s", argv[i],
                    detect_usage);
            return 2;
        }
    }
    return run_detect(&o);
}
