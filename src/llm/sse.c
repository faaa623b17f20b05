/* Server-Sent Events parser: WHATWG HTML Living Standard, section 9.2.5
 * "Parsing an event stream" (the line grammar: end-of-line = CRLF / LF /
 * CR, an optional leading BOM) and 9.2.6 "Interpreting an event stream"
 * (fields, comments, dispatch on a blank line). Contract: llm/stream.h. */
#include "llm/stream.h"

#include "core/ms.h"

#include <string.h>

#define DEFAULT_MAX_LINE (1u << 20)

static size_t max_line(const ms_sse_t *p) {
    return p->max_line ? p->max_line : DEFAULT_MAX_LINE;
}

/* "Dispatch the event" (9.2.6): nothing when the data buffer is empty; else
 * its last LF goes and the callback gets the type (default "message"). */
static int dispatch(ms_sse_t *p, ms_sse_event_cb cb, void *ctx) {
    int rc = 0;
    if (p->data.len > 0) {
        size_t len = p->data.len;
        if (p->data.data[len - 1] == '\n')
            len--;
        p->data.data[len] = '\0';
        p->events++;
        rc = cb(ctx, p->type[0] ? p->type : "message", p->data.data, len);
    }
    ms_buf_reset(&p->data);
    p->type[0] = '\0';
    return rc;
}

/* One complete line (its end already removed). */
static int process_line(ms_sse_t *p, ms_sse_event_cb cb, void *ctx) {
    const char *line = p->line.data ? p->line.data : "";
    size_t len = p->line.len;
    if (!p->started) {
        p->started = 1;
        /* "The stream must then be parsed ... ignoring a leading BOM". */
        if (len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
            line += 3;
            len -= 3;
        }
    }
    int rc = 0;
    if (len == 0) {
        rc = dispatch(p, cb, ctx);
    } else if (line[0] != ':') {
        /* Field name up to the first colon; the value after it, minus one
         * leading space. No colon: the whole line names a field whose value
         * is empty. */
        const char *colon = memchr(line, ':', len);
        size_t flen = colon ? (size_t)(colon - line) : len;
        const char *val = colon ? colon + 1 : line + len;
        size_t vlen = (size_t)(line + len - val);
        if (vlen && *val == ' ') {
            val++;
            vlen--;
        }
        if (flen == 4 && !memcmp(line, "data", 4)) {
            if (p->data.len + vlen + 1 > max_line(p))
                rc = MS_ETOOBIG;
            else {
                ms_buf_append(&p->data, val, vlen);
                ms_buf_putc(&p->data, '\n');
            }
        } else if (flen == 5 && !memcmp(line, "event", 5)) {
            size_t k = vlen < MS_SSE_EVENT_MAX ? vlen : MS_SSE_EVENT_MAX;
            memcpy(p->type, val, k);
            p->type[k] = '\0';
        }
        /* "id" and "retry" only matter to a client that reconnects; every
         * other field is ignored, as the standard says. */
    }
    /* A comment line (':' first) is ignored: servers send them as
     * keep-alives. */
    ms_buf_reset(&p->line);
    return rc;
}

int ms_sse_feed(ms_sse_t *p, const char *buf, size_t n, ms_sse_event_cb cb, void *ctx) {
    size_t i = 0;
    while (i < n) {
        if (p->cr) {
            /* CR LF is one line end even when the two bytes arrive apart. */
            p->cr = 0;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && buf[j] != '\r' && buf[j] != '\n')
            j++;
        if (p->line.len + (j - i) > max_line(p))
            return MS_ETOOBIG;
        if (j > i)
            ms_buf_append(&p->line, buf + i, j - i);
        if (j == n)
            break;
        p->cr = buf[j] == '\r';
        i = j + 1;
        int rc = process_line(p, cb, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

int ms_sse_end(ms_sse_t *p) {
    int pending = p->line.len > 0 || p->data.len > 0;
    ms_buf_reset(&p->line);
    ms_buf_reset(&p->data);
    p->type[0] = '\0';
    return pending;
}

void ms_sse_reset(ms_sse_t *p) {
    size_t max = p->max_line;
    ms_buf_free(&p->line);
    ms_buf_free(&p->data);
    memset(p, 0, sizeof *p);
    p->max_line = max;
}
