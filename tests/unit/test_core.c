/* Unit tests of src/core: byte buffers, the configuration directive table
 * (defaults, file / environment / flag precedence, bad values, --help),
 * structured logging, error names, ids and time formatting.
 *
 * The configuration tests read the directive table through --help and the
 * error messages, as a user would, so every row other modules add is
 * checked too: each must be settable by its flag, its MEDSTREAM_* variable
 * and its JSON key, and must refuse a bad value with a message naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/ms.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* Output captured from a FILE * the code under test writes to. */
typedef struct {
    char *data;
    size_t len;
    FILE *f;
} capture_t;

static FILE *cap_open(capture_t *c) {
    c->data = NULL;
    c->len = 0;
    c->f = open_memstream(&c->data, &c->len);
    assert_non_null(c->f);
    return c->f;
}

/* Closes the stream; c->data stays valid (free with cap_free). */
static const char *cap_text(capture_t *c) {
    if (c->f) {
        fclose(c->f);
        c->f = NULL;
    }
    return c->data ? c->data : "";
}

static void cap_free(capture_t *c) {
    if (c->f)
        fclose(c->f);
    free(c->data);
    c->data = NULL;
}

/* Runs ms_config_load on a fresh config with argv = {"serve", args...}.
 * Returns its result; *c stays loaded (free it); out and err receive what
 * it printed. */
static int load_args(ms_config_t *c, capture_t *out, capture_t *err, int argc, char **args) {
    char *argv[32];
    assert_true(argc < 31);
    argv[0] = "serve";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = args[i];
    argv[argc + 1] = NULL;
    ms_config_defaults(c);
    return ms_config_load(c, argc + 1, argv, cap_open(out), cap_open(err));
}

/* The effective configuration as JSON (ms_config_dump). */
static json_t *dump(const ms_config_t *c) {
    capture_t d;
    ms_config_dump(c, cap_open(&d));
    json_t *j = json_loads(cap_text(&d), 0, NULL);
    cap_free(&d);
    assert_non_null(j);
    return j;
}

/* Writes text to a new temporary file; returns its path (static buffer
 * per slot). */
static const char *temp_file(int slot, const char *text) {
    static char paths[4][64];
    snprintf(paths[slot], sizeof paths[slot], "/tmp/ms-test-core-%d-%d.json", (int)getpid(), slot);
    FILE *f = fopen(paths[slot], "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return paths[slot];
}

/* One row of the directive table, as --help and the errors describe it. */
typedef enum { KIND_STR, KIND_BOOL, KIND_INT, KIND_DOUBLE } kind_t;
typedef struct {
    char name[48];
    kind_t kind;
    char def[128]; /* the default shown by --help, or "" */
    long long lo, hi;
} directive_t;

/* Reads every option --help lists (but --config). */
static size_t read_directives(directive_t *d, size_t max) {
    ms_config_t c;
    capture_t out, err;
    char *args[] = {"--help"};
    assert_int_equal(load_args(&c, &out, &err, 1, args), 1);
    size_t n = 0;
    const char *text = cap_text(&out);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char name[48], type[8];
        if (sscanf(line, "  --%47s %7s", name, type) != 2 || !strcmp(name, "config"))
            continue;
        assert_true(n < max);
        directive_t *x = &d[n++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", name);
        x->kind = !strcmp(type, "S") ? KIND_STR : !strcmp(type, "BOOL") ? KIND_BOOL : KIND_INT;
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len && line[len - 1] == ']') {
            const char *open = line + len - 1;
            while (open > line && *open != '[')
                open--;
            snprintf(x->def, sizeof x->def, "%.*s", (int)(line + len - 1 - open - 1), open + 1);
        }
    }
    cap_free(&out);
    cap_free(&err);
    ms_config_free(&c);
    /* Numbers: an integer directive names its bounds when refused. */
    for (size_t i = 0; i < n; i++) {
        if (d[i].kind != KIND_INT)
            continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s=notanumber", d[i].name);
        char *a[] = {flag};
        assert_int_equal(load_args(&c, &out, &err, 1, a), MS_EINVAL);
        const char *e = cap_text(&err);
        const char *from = strstr(e, "from ");
        char *end = NULL, *end2 = NULL;
        if (from) {
            d[i].lo = strtoll(from + 5, &end, 10);
            if (strncmp(end, " to ", 4) == 0)
                d[i].hi = strtoll(end + 4, &end2, 10);
        }
        d[i].kind = end2 && end2 != end + 4 ? KIND_INT : KIND_DOUBLE;
        assert_non_null(strstr(e, d[i].name));
        cap_free(&out);
        cap_free(&err);
        ms_config_free(&c);
    }
    return n;
}

/* A valid value for d that differs from its default, as text. */
static void other_value(const directive_t *d, char *out, size_t n) {
    switch (d->kind) {
    case KIND_BOOL:
        snprintf(out, n, "%s", !strcmp(d->def, "true") ? "false" : "true");
        break;
    case KIND_INT: {
        /* The lowest value that is not the default: the highest can break a
         * rule between two settings (a default TTL above its maximum). */
        long long def = strtoll(d->def, NULL, 10);
        snprintf(out, n, "%lld", d->lo != def ? d->lo : d->hi);
        break;
    }
    case KIND_DOUBLE:
        snprintf(out, n, "%g", strtod(d->def, NULL) + 0.5);
        break;
    case KIND_STR:
        if (!strcmp(d->name, "listen"))
            snprintf(out, n, "0.0.0.0:18099");
        else if (!strcmp(d->name, "provider"))
            snprintf(out, n, "%s", !strcmp(d->def, "synthetic") ? "offline" : "synthetic");
        else
            snprintf(out, n, "value-of-%s-at-least-thirty-two-bytes-long", d->name);
        break;
    }
}

/* Whether the dumped configuration holds value (as text) for d. */
static int dumped_as(const ms_config_t *c, const directive_t *d, const char *value) {
    json_t *j = dump(c);
    json_t *v = json_object_get(j, d->name);
    int ok = 0;
    if (json_is_string(v))
        ok = !strcmp(json_string_value(v), value) || !strcmp(json_string_value(v), "<redacted>");
    else if (json_is_boolean(v))
        ok = json_is_true(v) == !strcmp(value, "true");
    else if (json_is_integer(v))
        ok = json_integer_value(v) == strtoll(value, NULL, 10);
    else if (json_is_real(v))
        ok = json_real_value(v) == strtod(value, NULL);
    json_decref(j);
    return ok;
}

static void env_name(const char *name, char *out, size_t n) {
    size_t k = (size_t)snprintf(out, n, "MEDSTREAM_");
    for (const char *p = name; *p && k + 1 < n; p++)
        out[k++] = (char)(*p == '-' ? '_' : toupper((unsigned char)*p));
    out[k] = '\0';
}

static void key_name(const char *name, char *out, size_t n) {
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < n; p++)
        out[k++] = (char)(*p == '-' ? '_' : *p);
    out[k] = '\0';
}

static int clear_env(void **state) {
    (void)state;
    directive_t d[128];
    unsetenv("MEDSTREAM_CONFIG");
    size_t n = read_directives(d, 128);
    for (size_t i = 0; i < n; i++) {
        char env[96];
        env_name(d[i].name, env, sizeof env);
        unsetenv(env);
    }
    return 0;
}

/* ---- buf ---------------------------------------------------------------- */

static void test_buf_append_grow_reset_take(void **state) {
    (void)state;
    ms_buf_t b;
    ms_buf_init(&b);
    assert_string_equal(ms_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        ms_buf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 1000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[1000], '\0');
    assert_int_equal(b.data[27], 'b');
    size_t cap = b.cap;
    ms_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap); /* reset keeps the storage */
    assert_string_equal(ms_buf_cstr(&b), "");
    ms_buf_puts(&b, "hello");
    ms_buf_append(&b, ", world", 7);
    ms_buf_append(&b, NULL, 0);
    assert_string_equal(ms_buf_cstr(&b), "hello, world");
    char *taken = ms_buf_take(&b);
    assert_string_equal(taken, "hello, world");
    free(taken);
    assert_null(b.data); /* take empties the buffer */
    assert_int_equal(b.len, 0);
    taken = ms_buf_take(&b); /* an empty buffer hands over "" */
    assert_string_equal(taken, "");
    free(taken);
    ms_buf_append(&b, "x\0y", 3); /* binary-safe */
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "x\0y", 3);
    ms_buf_free(&b);
    ms_buf_free(&b); /* free twice is harmless: it leaves an empty buffer */
    assert_null(b.data);
}

static void test_buf_printf(void **state) {
    (void)state;
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_printf(&b, "%d-%s", 42, "x");
    /* Longer than the first allocation: vsnprintf must measure first. */
    char big[300];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ms_buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 4 + 2 + 299);
    assert_memory_equal(b.data, "42-x[zzz", 8);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    ms_buf_free(&b);
}

static void test_buf_json_str(void **state) {
    (void)state;
    ms_buf_t b;
    ms_buf_init(&b);
    const char in[] = "a\"b\\c\n\r\t\x01\x1f/\xc3\xa9\0end";
    ms_buf_json_str(&b, in, sizeof in - 1);
    assert_string_equal(ms_buf_cstr(&b),
                        "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f/\xc3\xa9\\u0000end\"");
    /* What it writes is a JSON string that decodes to the input (RFC 8259
     * section 7), embedded NUL included. */
    json_error_t je;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    assert_non_null(v);
    assert_int_equal(json_string_length(v), sizeof in - 1);
    assert_memory_equal(json_string_value(v), in, sizeof in - 1);
    json_decref(v);
    ms_buf_reset(&b);
    ms_buf_json_str(&b, "", 0);
    assert_string_equal(ms_buf_cstr(&b), "\"\"");
    ms_buf_free(&b);
}

/* ---- ms.c: errors, allocation, ids, time -------------------------------- */

static void test_strerror_names(void **state) {
    (void)state;
    static const struct {
        int code;
        const char *name;
    } want[] = {
        {MS_OK, "ok"},
        {MS_EINVAL, "invalid_request"},
        {MS_ENOENT, "not_found"},
        {MS_EEXIST, "conflict"},
        {MS_EPERM, "forbidden"},
        {MS_EAUTH, "unauthorized"},
        {MS_EIO, "internal_error"},
        {MS_ETOOBIG, "too_large"},
        {MS_EBUSY, "busy"},
        {MS_ECANCELED, "cancelled"},
        {MS_EFORMAT, "bad_format"},
    };
    for (size_t i = 0; i < MS_COUNTOF(want); i++)
        assert_string_equal(ms_strerror(want[i].code), want[i].name);
    assert_string_equal(ms_strerror(-1000), "error");
    assert_string_equal(ms_strerror(7), "error");
}

static void test_alloc_helpers(void **state) {
    (void)state;
    void *p = ms_xmalloc(0); /* never NULL, even for 0 bytes */
    assert_non_null(p);
    free(p);
    int *z = ms_xcalloc(16, sizeof *z);
    for (int i = 0; i < 16; i++)
        assert_int_equal(z[i], 0);
    z = ms_xrealloc(z, 1024 * sizeof *z);
    assert_int_equal(z[15], 0);
    free(z);
    char *s = ms_xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = ms_xstrdup("");
    assert_string_equal(s, "");
    free(s);
}

static int hexnib(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

static void test_id_v4(void **state) {
    (void)state;
    char a[MS_ID_LEN], b[MS_ID_LEN];
    ms_id_new(a);
    ms_id_new(b);
    assert_true(ms_id_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');              /* version 4 (RFC 9562 section 5.4) */
    assert_true((hexnib(a[19]) & 0xc) == 0x8); /* variant 10 */
}

static void test_id_v7_ordered(void **state) {
    (void)state;
    char prev[MS_ID_LEN] = "", id[MS_ID_LEN];
    int64_t before = ms_now_ms();
    for (int i = 0; i < 20000; i++) {
        ms_id_new_v7(id);
        assert_true(ms_id_valid(id));
        assert_int_equal(id[14], '7');
        assert_true((hexnib(id[19]) & 0xc) == 0x8);
        /* Never goes backwards, even many within one millisecond. */
        assert_true(strcmp(prev, id) < 0);
        memcpy(prev, id, MS_ID_LEN);
    }
    /* The first 48 bits are the Unix milliseconds (RFC 9562 section 5.7). */
    ms_id_new_v7(id);
    uint64_t ms = 0;
    for (int i = 0; i < 13; i++)
        if (id[i] != '-')
            ms = ms << 4 | (uint64_t)hexnib(id[i]);
    assert_true((int64_t)ms >= before);
}

static void *v7_thread(void *arg) {
    char(*ids)[MS_ID_LEN] = arg;
    for (int i = 0; i < 2000; i++)
        ms_id_new_v7(ids[i]);
    return NULL;
}

static int cmp_id(const void *a, const void *b) {
    return strcmp(a, b);
}

static void test_id_v7_threads_unique(void **state) {
    (void)state;
    const size_t T = 4, N = 2000;
    char(*ids)[MS_ID_LEN] = calloc(T * N, MS_ID_LEN);
    pthread_t th[4];
    for (size_t t = 0; t < T; t++)
        assert_int_equal(pthread_create(&th[t], NULL, v7_thread, ids + t * N), 0);
    for (size_t t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    qsort(ids, T * N, MS_ID_LEN, cmp_id);
    for (size_t i = 1; i < T * N; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    free(ids);
}

static void test_id_valid(void **state) {
    (void)state;
    assert_true(ms_id_valid("6f1c2b5e-8d3a-4c7e-9f10-2a3b4c5d6e7f"));
    assert_false(ms_id_valid(NULL));
    assert_false(ms_id_valid(""));
    assert_false(ms_id_valid("6F1C2B5E-8D3A-4C7E-9F10-2A3B4C5D6E7F")); /* lower case only */
    assert_false(ms_id_valid("6f1c2b5e-8d3a-4c7e-9f10-2a3b4c5d6e7"));
    assert_false(ms_id_valid("6f1c2b5e-8d3a-4c7e-9f10-2a3b4c5d6e7f0"));
    assert_false(ms_id_valid("6f1c2b5e88d3a-4c7e-9f10-2a3b4c5d6e7f"));
    assert_false(ms_id_valid("6f1c2b5e-8d3a-4c7e-9f10-2a3b4c5d6e7g"));
    assert_false(ms_id_valid("../../../../../../../../../etc/passwd"));
}

static void test_time_iso(void **state) {
    (void)state;
    char out[40];
    ms_time_iso(0, out, sizeof out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    ms_time_iso(INT64_C(1700000000123), out, sizeof out);
    assert_string_equal(out, "2023-11-14T22:13:20.123Z");
    ms_time_iso(INT64_C(951782400999), out, sizeof out); /* 29 Feb 2000 */
    assert_string_equal(out, "2000-02-29T00:00:00.999Z");
    char small[8];
    ms_time_iso(0, small, sizeof small); /* truncates, never overflows */
    assert_string_equal(small, "1970-01");
}

static void test_clocks(void **state) {
    (void)state;
    int64_t wall = ms_now_ms(), t = (int64_t)time(NULL) * 1000;
    assert_true(wall > t - 5000 && wall < t + 5000);
    int64_t a = ms_mono_us(), b = ms_mono_us(), c = ms_mono_ms();
    assert_true(b >= a);
    assert_true(c >= a / 1000);
}

/* ---- log ---------------------------------------------------------------- */

/* Runs fn with stderr redirected to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void)) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/ms-test-core-log-%d", (int)getpid());
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    dup2(fileno(f), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *text = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    unlink(path);
    return text;
}

static void log_some(void) {
    ms_log(MS_LOG_INFO, "unit \"test\"", "\"conn\":%d,\"status\":%d", 7, 200);
    ms_log(MS_LOG_DEBUG, "hidden", NULL);
    ms_log(MS_LOG_ERROR, "bare", NULL);
}

static void log_filtered(void) {
    ms_log_set_level(MS_LOG_WARN);
    ms_log(MS_LOG_INFO, "quiet", NULL);
    ms_log(MS_LOG_WARN, "loud", NULL);
    ms_log_set_level(MS_LOG_INFO);
}

static void test_log_lines_are_json(void **state) {
    (void)state;
    char *text = capture_stderr(log_some);
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_t *a = json_loads(text, 0, NULL), *b = json_loads(nl + 1, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(a, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(a, "event")), "unit \"test\"");
    assert_int_equal(json_integer_value(json_object_get(a, "conn")), 7);
    assert_int_equal(json_integer_value(json_object_get(a, "status")), 200);
    const char *ts = json_string_value(json_object_get(a, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24); /* RFC 3339 with milliseconds, UTC */
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(json_string_value(json_object_get(b, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(b, "event")), "bare");
    assert_null(strstr(nl + 1, "hidden")); /* debug is below the default level */
    json_decref(a);
    json_decref(b);
    free(text);
}

static void test_log_level(void **state) {
    (void)state;
    ms_log_level_t l = MS_LOG_ERROR;
    assert_int_equal(ms_log_parse_level("debug", &l), 0);
    assert_int_equal(l, MS_LOG_DEBUG);
    assert_int_equal(ms_log_parse_level("warn", &l), 0);
    assert_int_equal(l, MS_LOG_WARN);
    assert_int_equal(ms_log_parse_level("WARN", &l), MS_EINVAL);
    assert_int_equal(ms_log_parse_level("", &l), MS_EINVAL);
    assert_int_equal(ms_log_parse_level("trace", &l), MS_EINVAL);
    char *text = capture_stderr(log_filtered);
    assert_null(strstr(text, "quiet"));
    assert_non_null(strstr(text, "\"event\":\"loud\""));
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    free(text);
}

/* ---- config ------------------------------------------------------------- */

static void test_config_defaults(void **state) {
    (void)state;
    ms_config_t c;
    capture_t out, err;
    assert_int_equal(load_args(&c, &out, &err, 0, NULL), 0);
    assert_string_equal(cap_text(&err), "");
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.provider, "offline");
    assert_int_equal(c.allow_registration, 1);
    assert_int_equal(c.max_body_bytes, 1024 * 1024);
    char host[64];
    int port = 0;
    assert_int_equal(ms_config_listen(&c, host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(ms_config_listen(&c, host, 4, &port), MS_EINVAL); /* host too long */
    cap_free(&out);
    cap_free(&err);
    ms_config_free(&c);
    ms_config_free(&c); /* NULL-safe after free */
}

static void test_config_help(void **state) {
    (void)state;
    static char *forms[] = {"--help", "-h"};
    for (size_t i = 0; i < MS_COUNTOF(forms); i++) {
        ms_config_t c;
        capture_t out, err;
        /* --help wins over anything else, even a bad option. */
        char *args[] = {"--no-such-option", forms[i]};
        assert_int_equal(load_args(&c, &out, &err, 2, args), 1);
        const char *h = cap_text(&out);
        assert_non_null(strstr(h, "usage: medstream serve"));
        assert_non_null(strstr(h, "--config FILE"));
        assert_non_null(strstr(h, "--listen S"));
        assert_non_null(strstr(h, "[127.0.0.1:8080]"));
        assert_non_null(strstr(h, "--allow-registration BOOL"));
        assert_non_null(strstr(h, "--max-body-bytes N"));
        assert_non_null(strstr(h, "Precedence: flags > environment > config file > defaults"));
        assert_null(strstr(h, "<redacted>"));
        assert_string_equal(cap_text(&err), "");
        cap_free(&out);
        cap_free(&err);
        ms_config_free(&c);
    }
    directive_t d[128];
    assert_true(read_directives(d, 128) >= 27);
}

/* Every row of the table is one setting under three names. */
static void test_config_every_directive_three_ways(void **state) {
    (void)state;
    directive_t d[128];
    size_t n = read_directives(d, 128);
    for (size_t i = 0; i < n; i++) {
        char value[128], flag[256], env[96], key[64], json[512];
        other_value(&d[i], value, sizeof value);
        ms_config_t c;
        capture_t out, err;

        snprintf(flag, sizeof flag, "--%s=%s", d[i].name, value);
        char *a1[] = {flag};
        int rc = load_args(&c, &out, &err, 1, a1);
        if (rc != 0 && d[i].kind == KIND_STR && d[i].def[0]) {
            /* A string with its own syntax (a later row): it must say
             * which option it refused, and take its default back. */
            assert_non_null(strstr(cap_text(&err), d[i].name));
            cap_free(&out), cap_free(&err), ms_config_free(&c);
            snprintf(value, sizeof value, "%s", d[i].def);
            snprintf(flag, sizeof flag, "--%s=%s", d[i].name, value);
            rc = load_args(&c, &out, &err, 1, a1);
        }
        if (rc != 0)
            fail_msg("--%s=%s refused: %s", d[i].name, value, cap_text(&err));
        assert_true(dumped_as(&c, &d[i], value));
        cap_free(&out), cap_free(&err), ms_config_free(&c);

        /* --name value (two arguments) */
        snprintf(flag, sizeof flag, "--%s", d[i].name);
        char *a2[] = {flag, value};
        assert_int_equal(load_args(&c, &out, &err, 2, a2), 0);
        assert_true(dumped_as(&c, &d[i], value));
        cap_free(&out), cap_free(&err), ms_config_free(&c);

        env_name(d[i].name, env, sizeof env);
        setenv(env, value, 1);
        assert_int_equal(load_args(&c, &out, &err, 0, NULL), 0);
        if (!dumped_as(&c, &d[i], value))
            fail_msg("%s=%s not applied", env, value);
        unsetenv(env);
        cap_free(&out), cap_free(&err), ms_config_free(&c);

        key_name(d[i].name, key, sizeof key);
        if (d[i].kind == KIND_STR)
            snprintf(json, sizeof json, "{\"%s\": \"%s\"}", key, value);
        else
            snprintf(json, sizeof json, "{\"%s\": %s}", key, value);
        char cfgflag[128];
        snprintf(cfgflag, sizeof cfgflag, "--config=%s", temp_file(0, json));
        char *a3[] = {cfgflag};
        rc = load_args(&c, &out, &err, 1, a3);
        if (rc != 0)
            fail_msg("config %s refused: %s", json, cap_text(&err));
        assert_true(dumped_as(&c, &d[i], value));
        cap_free(&out), cap_free(&err), ms_config_free(&c);
    }
}

static void test_config_precedence(void **state) {
    (void)state;
    const char *file = temp_file(0, "{\"kb_top_k\": 7, \"history_turns\": 3, \"listen\": "
                                    "\"127.0.0.1:9001\"}");
    char cfgflag[128];
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", file);
    ms_config_t c;
    capture_t out, err;

    /* file < environment < flag */
    setenv("MEDSTREAM_KB_TOP_K", "8", 1);
    setenv("MEDSTREAM_HISTORY_TURNS", "2", 1);
    char *a[] = {cfgflag, "--kb-top-k", "9"};
    assert_int_equal(load_args(&c, &out, &err, 3, a), 0);
    assert_int_equal(c.kb_top_k, 9);
    assert_int_equal(c.history_turns, 2);
    assert_string_equal(c.listen, "127.0.0.1:9001");
    cap_free(&out), cap_free(&err), ms_config_free(&c);

    /* the file named by MEDSTREAM_CONFIG, overridden by --config */
    unsetenv("MEDSTREAM_KB_TOP_K");
    unsetenv("MEDSTREAM_HISTORY_TURNS");
    setenv("MEDSTREAM_CONFIG", temp_file(1, "{\"kb_top_k\": 11}"), 1);
    assert_int_equal(load_args(&c, &out, &err, 0, NULL), 0);
    assert_int_equal(c.kb_top_k, 11);
    cap_free(&out), cap_free(&err), ms_config_free(&c);
    char *b[] = {"--config", (char *)file};
    assert_int_equal(load_args(&c, &out, &err, 2, b), 0);
    assert_int_equal(c.kb_top_k, 7);
    cap_free(&out), cap_free(&err), ms_config_free(&c);
    unsetenv("MEDSTREAM_CONFIG");

    /* the last flag wins; a value-less boolean flag means true */
    char *d[] = {"--kb-top-k=4",         "--kb-top-k=5",   "--allow-registration=no",
                 "--allow-registration", "--kb-min-score", "0.25"};
    assert_int_equal(load_args(&c, &out, &err, 6, d), 0);
    assert_int_equal(c.kb_top_k, 5);
    assert_int_equal(c.allow_registration, 1);
    assert_true(c.kb_min_score == 0.25);
    cap_free(&out), cap_free(&err), ms_config_free(&c);
    char *e[] = {"--allow-registration", "off"};
    assert_int_equal(load_args(&c, &out, &err, 2, e), 0);
    assert_int_equal(c.allow_registration, 0);
    cap_free(&out), cap_free(&err), ms_config_free(&c);
}

/* Loads args and expects MS_EINVAL with a one-line message holding want. */
static void expect_refused(int argc, char **args, const char *want) {
    ms_config_t c;
    capture_t out, err;
    int rc = load_args(&c, &out, &err, argc, args);
    const char *e = cap_text(&err);
    if (rc != MS_EINVAL || !strstr(e, want))
        fail_msg("%s ...: rc %d, message \"%s\", expected \"%s\"", args[0], rc, e, want);
    assert_true(strncmp(e, "medstream: ", 11) == 0);
    assert_non_null(strchr(e, '\n'));
    assert_int_equal(strchr(e, '\n')[1], '\0'); /* one line */
    cap_free(&out), cap_free(&err), ms_config_free(&c);
}

static void test_config_bad_values(void **state) {
    (void)state;
    char *a1[] = {"--max-body-bytes=10"};
    expect_refused(1, a1, "--max-body-bytes must be an integer from 1024 to");
    char *a2[] = {"--kb-top-k", "5x"};
    expect_refused(2, a2, "(got \"5x\")");
    char *a3[] = {"--kb-top-k="};
    expect_refused(1, a3, "--kb-top-k must be an integer");
    char *a4[] = {"--access-ttl", "99999999999999999999999"};
    expect_refused(2, a4, "--access-ttl must be an integer");
    char *a5[] = {"--allow-registration=maybe"};
    expect_refused(1, a5, "invalid value for --allow-registration: \"maybe\"");
    char *a6[] = {"--kb-min-score=high"};
    expect_refused(1, a6, "invalid value for --kb-min-score");
    char *a7[] = {"--no-such-option=1"};
    expect_refused(1, a7, "unknown option --no-such-option");
    char *a8[] = {"positional"};
    expect_refused(1, a8, "unexpected argument \"positional\"");
    char *a9[] = {"--kb-top-k"};
    expect_refused(1, a9, "--kb-top-k needs a value");
    char *a10[] = {"--provider=gpt"};
    expect_refused(1, a10, "--provider must be offline or synthetic (got \"gpt\")");
    char *a11[] = {"--listen=localhost"};
    expect_refused(1, a11, "--listen must be HOST:PORT");
    char *a12[] = {"--listen=localhost:65536"};
    expect_refused(1, a12, "--listen must be HOST:PORT");
    char *a13[] = {"--listen=localhost:"};
    expect_refused(1, a13, "--listen must be HOST:PORT");
    char *a14[] = {"--jwt-secret=short"};
    expect_refused(1, a14, "--jwt-secret must be at least 32 bytes");
    /* Underscores are the JSON keys' spelling, not the flags'. */
    char *a15[] = {"--kb_top_k=3"};
    expect_refused(1, a15, "unknown option --kb_top_k");
    setenv("MEDSTREAM_KB_TOP_K", "0", 1);
    expect_refused(0, (char *[]){NULL}, "--kb-top-k must be an integer from 1 to 50");
    unsetenv("MEDSTREAM_KB_TOP_K");
}

static void test_config_file_errors(void **state) {
    (void)state;
    char flag[160];
    char *args[] = {flag};
    struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"{\"kb_top_k\": 3, \"nope\": 1}", "unknown setting \"nope\""},
        {"{\"kb_top_k\": [3]}", "bad value for \"kb_top_k\""},
        {"{\"kb_top_k\": 0}", "--kb-top-k must be an integer from 1 to 50"},
        {"[1, 2]", "not a JSON object"},
        {"{\n  \"kb_top_k\": 3,\n  oops\n}", "(line 3"},
        {"", "(line"},
        /* What a file holds is quoted on the one line, control characters
         * escaped: a key cannot forge further lines. */
        {"{\"a\\nmedstream: ok\": 1}", "unknown setting \"a\\x0amedstream: ok\""},
        {"{\"provider\": \"x\\u001b[2J\"}", "(got \"x\\x1b[2J\")"},
    };
    for (size_t i = 0; i < MS_COUNTOF(cases); i++) {
        snprintf(flag, sizeof flag, "--config=%s", temp_file(0, cases[i].json));
        expect_refused(1, args, cases[i].want);
    }
    snprintf(flag, sizeof flag, "--config=%s", temp_file(0, "{\"kb_top_k\": 3}"));
    char *ok[] = {flag, "--kb-top-k=4"};
    ms_config_t c;
    capture_t out, err;
    assert_int_equal(load_args(&c, &out, &err, 2, ok), 0);
    assert_int_equal(c.kb_top_k, 4);
    cap_free(&out), cap_free(&err), ms_config_free(&c);
}

/* Defect 10: a --config file that cannot be read is reported as such, with
 * its path and the system's reason, not as a JSON error at "line -1". */
static void test_config_file_unreadable(void **state) {
    (void)state;
    char flag[200], want[300];
    char *args[] = {flag};
    const char *missing = "/tmp/ms-test-core-no-such-dir/medstream.json";
    snprintf(flag, sizeof flag, "--config=%s", missing);
    snprintf(want, sizeof want, "config %s: cannot read the file: %s", missing, strerror(ENOENT));
    expect_refused(1, args, want);

    ms_config_t c;
    capture_t out, err;
    assert_int_equal(load_args(&c, &out, &err, 1, args), MS_EINVAL);
    assert_null(strstr(cap_text(&err), "line -1"));
    cap_free(&out), cap_free(&err), ms_config_free(&c);

    snprintf(flag, sizeof flag, "--config=/tmp");
    snprintf(want, sizeof want, "config /tmp: cannot read the file: %s", strerror(EISDIR));
    expect_refused(1, args, want);

    setenv("MEDSTREAM_CONFIG", missing, 1);
    snprintf(want, sizeof want, "config %s: cannot read the file", missing);
    expect_refused(0, (char *[]){NULL}, want);
    unsetenv("MEDSTREAM_CONFIG");

    if (geteuid() != 0) { /* root reads anything */
        const char *p = temp_file(1, "{}");
        chmod(p, 0);
        snprintf(flag, sizeof flag, "--config=%s", p);
        snprintf(want, sizeof want, "config %s: cannot read the file: %s", p, strerror(EACCES));
        expect_refused(1, args, want);
    }
}

static void test_config_dump_redacts(void **state) {
    (void)state;
    ms_config_t c;
    capture_t out, err;
    char *a[] = {"--jwt-secret", "this-secret-must-never-be-printed-0123456789"};
    assert_int_equal(load_args(&c, &out, &err, 2, a), 0);
    assert_string_equal(c.jwt_secret, "this-secret-must-never-be-printed-0123456789");
    capture_t d;
    ms_config_dump(&c, cap_open(&d));
    const char *text = cap_text(&d);
    assert_null(strstr(text, "never-be-printed"));
    json_t *j = json_loads(text, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "jwt-secret")), "<redacted>");
    assert_string_equal(json_string_value(json_object_get(j, "listen")), "127.0.0.1:8080");
    json_decref(j);
    cap_free(&d), cap_free(&out), cap_free(&err), ms_config_free(&c);
}

static void test_config_syn_env(void **state) {
    (void)state;
    /* The peers' SYN_* variables seed the synthetic provider's defaults. */
    setenv("SYN_CHUNKS", "12", 1);
    setenv("SYN_CHUNK_BYTES", "3", 1);
    ms_config_t c;
    ms_config_defaults(&c);
    assert_int_equal(c.syn_chunks, 12);
    assert_int_equal(c.syn_chunk_bytes, 3);
    ms_config_free(&c);
    unsetenv("SYN_CHUNKS");
    unsetenv("SYN_CHUNK_BYTES");
    ms_config_defaults(&c);
    assert_int_equal(c.syn_chunks, 64);
    ms_config_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_grow_reset_take),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_json_str),
        cmocka_unit_test(test_strerror_names),
        cmocka_unit_test(test_alloc_helpers),
        cmocka_unit_test(test_id_v4),
        cmocka_unit_test(test_id_v7_ordered),
        cmocka_unit_test(test_id_v7_threads_unique),
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_time_iso),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_log_lines_are_json),
        cmocka_unit_test(test_log_level),
        cmocka_unit_test_setup(test_config_defaults, clear_env),
        cmocka_unit_test_setup(test_config_help, clear_env),
        cmocka_unit_test_setup(test_config_every_directive_three_ways, clear_env),
        cmocka_unit_test_setup(test_config_precedence, clear_env),
        cmocka_unit_test_setup(test_config_bad_values, clear_env),
        cmocka_unit_test_setup(test_config_file_errors, clear_env),
        cmocka_unit_test_setup(test_config_file_unreadable, clear_env),
        cmocka_unit_test_setup(test_config_dump_redacts, clear_env),
        cmocka_unit_test_setup(test_config_syn_env, clear_env),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        char p[64];
        snprintf(p, sizeof p, "/tmp/ms-test-core-%d-%d.json", (int)getpid(), i);
        unlink(p);
    }
    return rc;
}
