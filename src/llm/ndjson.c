/* Newline-delimited JSON lines (Ollama's streaming responses, docs/api.md
 * "Streaming responses": "a stream of JSON objects", application/x-ndjson).
 * Contract: llm/stream.h. The parser only finds lines; the provider parses
 * each as JSON. */
#include "llm/stream.h"

#include "core/ms.h"

#include <string.h>

#define DEFAULT_MAX_LINE (1u << 20)

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Hands a complete line to cb without surrounding white space (a CR before
 * the LF included); blank lines are skipped. */
static int deliver(ms_ndjson_t *p, ms_ndjson_line_cb cb, void *ctx) {
    char *s = p->line.data;
    if (!s) /* nothing buffered yet (an empty line) */
        return 0;
    size_t a = 0, b = p->line.len;
    while (a < b && is_ws(s[a]))
        a++;
    while (b > a && is_ws(s[b - 1]))
        b--;
    int rc = 0;
    if (b > a) {
        p->lines++;
        s[b] = '\0';
        rc = cb(ctx, s + a, b - a);
    }
    ms_buf_reset(&p->line);
    return rc;
}

int ms_ndjson_feed(ms_ndjson_t *p, const char *buf, size_t n, ms_ndjson_line_cb cb, void *ctx) {
    size_t max = p->max_line ? p->max_line : DEFAULT_MAX_LINE;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t j = nl ? (size_t)(nl - buf) : n;
        if (p->line.len + (j - i) > max)
            return MS_ETOOBIG;
        if (j > i)
            ms_buf_append(&p->line, buf + i, j - i);
        if (!nl)
            break;
        i = j + 1;
        int rc = deliver(p, cb, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

int ms_ndjson_end(ms_ndjson_t *p, ms_ndjson_line_cb cb, void *ctx) {
    return p->line.len ? deliver(p, cb, ctx) : 0;
}

void ms_ndjson_reset(ms_ndjson_t *p) {
    size_t max = p->max_line;
    ms_buf_free(&p->line);
    memset(p, 0, sizeof *p);
    p->max_line = max;
}
