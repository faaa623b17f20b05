/* Top-level member scanner for server events (see scan.h). A recursive
 * descent over RFC 8259 that validates only as much as it needs to find
 * member boundaries: strings with their escapes, and nesting depth. */
#include "bench/scan.h"

#include <string.h>

typedef struct {
    const char *s;
    size_t len, pos;
} cur_t;

/* Whether ch ends a number or literal (a NUL never does). */
static int is_delim(char ch) {
    return ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\t' || ch == '\r' ||
           ch == '\n';
}

static void skip_ws(cur_t *c) {
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            return;
        c->pos++;
    }
}

/* Reads a string starting at its opening quote. Copies up to cap-1 raw
 * bytes (escapes are kept as written: the values the bench compares never
 * contain any) into out when out is given, and reports through *fits
 * whether the whole value fitted. Returns 0, or -1 when the string is not
 * terminated within the input. */
static int read_string(cur_t *c, char *out, size_t cap, int *fits) {
    size_t n = 0;
    int ok = 1;
    c->pos++; /* the opening quote */
    while (c->pos < c->len) {
        char ch = c->s[c->pos++];
        if (ch == '"') {
            if (out)
                out[n] = '\0';
            if (fits)
                *fits = ok;
            return 0;
        }
        if (ch == '\\') {
            if (c->pos >= c->len)
                return -1;
            ok = 0; /* an escaped value is never one we compare */
            c->pos++;
            continue;
        }
        if (out) {
            if (n + 1 < cap)
                out[n++] = ch;
            else
                ok = 0;
        }
    }
    return -1;
}

/* Skips one value of any kind. Returns 0, or -1 at the end of the input or
 * on a character that cannot start a value. */
static int skip_value(cur_t *c) {
    skip_ws(c);
    if (c->pos >= c->len)
        return -1;
    char ch = c->s[c->pos];
    if (ch == '"')
        return read_string(c, NULL, 0, NULL);
    if (ch == '{' || ch == '[') {
        int depth = 0;
        while (c->pos < c->len) {
            ch = c->s[c->pos];
            if (ch == '"') {
                if (read_string(c, NULL, 0, NULL) != 0)
                    return -1;
                continue;
            }
            c->pos++;
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return 0;
        }
        return -1;
    }
    /* A number or a literal: everything up to a delimiter. */
    size_t start = c->pos;
    while (c->pos < c->len && !is_delim(c->s[c->pos]))
        c->pos++;
    return c->pos > start && c->pos < c->len ? 0 : -1;
}

/* Reads an integer value; returns 0 and *v, or -1 when the value is not a
 * plain integer (it is then skipped when possible). */
static int read_int(cur_t *c, int64_t *v) {
    skip_ws(c);
    size_t p = c->pos;
    int neg = 0;
    if (p < c->len && c->s[p] == '-')
        neg = 1, p++;
    int64_t x = 0;
    size_t digits = 0;
    while (p < c->len && c->s[p] >= '0' && c->s[p] <= '9' && digits < 18)
        x = x * 10 + (c->s[p++] - '0'), digits++;
    if (!digits || p >= c->len || !is_delim(c->s[p]))
        return skip_value(c) == 0 ? -2 : -1;
    c->pos = p;
    *v = neg ? -x : x;
    return 0;
}

static ms_bench_ev_kind_t kind_of(const char *t) {
    static const struct {
        const char *name;
        ms_bench_ev_kind_t kind;
    } kinds[] = {
        {"message_chunk", MS_BENCH_EV_CHUNK},
        {"message_start", MS_BENCH_EV_START},
        {"message_complete", MS_BENCH_EV_COMPLETE},
        {"connected", MS_BENCH_EV_CONNECTED},
        {"error", MS_BENCH_EV_ERROR},
    };
    for (size_t i = 0; i < MS_COUNTOF(kinds); i++)
        if (!strcmp(t, kinds[i].name))
            return kinds[i].kind;
    return MS_BENCH_EV_OTHER;
}

/* Handles the value of one member whose key is in key. Returns 0 to go on,
 * -1 when the input ends or is malformed. */
static int member(cur_t *c, const char *key, ms_bench_event_t *ev, int *have_type) {
    skip_ws(c);
    if (c->pos >= c->len)
        return -1;
    int is_str = c->s[c->pos] == '"';
    int fits = 0;
    if (!*have_type && is_str && !strcmp(key, "type")) {
        char t[24];
        if (read_string(c, t, sizeof t, &fits) != 0)
            return -1;
        ev->kind = fits ? kind_of(t) : MS_BENCH_EV_OTHER;
        *have_type = 1;
        return 0;
    }
    if (ev->seq < 0 && !is_str && (!strcmp(key, "seq") || !strcmp(key, "chunk_index"))) {
        int64_t v;
        int rc = read_int(c, &v);
        if (rc == 0)
            ev->seq = v;
        return rc == -1 ? -1 : 0;
    }
    if (is_str && !ev->conversation_id[0] && !strcmp(key, "conversation_id")) {
        if (read_string(c, ev->conversation_id, sizeof ev->conversation_id, &fits) != 0)
            return -1;
        if (!fits)
            ev->conversation_id[0] = '\0';
        return 0;
    }
    if (is_str && !ev->code[0] && !strcmp(key, "code"))
        return read_string(c, ev->code, sizeof ev->code, &fits);
    return skip_value(c);
}

int ms_bench_scan(const char *s, size_t len, ms_bench_event_t *ev) {
    memset(ev, 0, sizeof *ev);
    ev->seq = -1;
    cur_t c = {s, len, 0};
    int have_type = 0;
    skip_ws(&c);
    if (c.pos >= c.len || s[c.pos] != '{')
        return MS_EFORMAT;
    c.pos++;
    for (;;) {
        skip_ws(&c);
        if (c.pos >= c.len || s[c.pos] == '}')
            break;
        if (s[c.pos] != '"')
            break;
        /* Keys longer than the buffer cannot be one we want. */
        char key[24];
        int fits = 0;
        if (read_string(&c, key, sizeof key, &fits) != 0)
            break;
        if (!fits)
            key[0] = '\0';
        skip_ws(&c);
        if (c.pos >= c.len || s[c.pos] != ':')
            break;
        c.pos++;
        if (member(&c, key, ev, &have_type) != 0)
            break;
        skip_ws(&c);
        if (c.pos >= c.len || s[c.pos] != ',')
            break;
        c.pos++;
    }
    return have_type ? 0 : MS_EFORMAT;
}
