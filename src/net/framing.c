/* Request-body framing and the chunked decoder (see framing.h). */
#include "net/framing.h"

#include "core/ms.h"

#include <string.h>
#include <strings.h>

static int ows(char c) {
    return c == ' ' || c == '\t';
}

/* The next comma-separated list element of the string at *p with optional
 * whitespace trimmed (RFC 9110 section 5.6.1); *p is NULL after the last.
 * 0 when the list is over. */
static int next_element(const char **p, const char **s, size_t *n) {
    if (!*p)
        return 0;
    const char *b = *p, *e = b + strcspn(b, ",");
    *p = *e ? e + 1 : NULL;
    while (b < e && ows(*b))
        b++;
    while (e > b && ows(e[-1]))
        e--;
    *s = b;
    *n = (size_t)(e - b);
    return 1;
}

static int refuse(ms_framing_t *out, int status, const char *code, const char *message) {
    out->kind = MS_BODY_NONE;
    out->length = 0;
    out->status = status;
    out->code = code;
    out->message = message;
    return status;
}

/* 1*DIGIT within int64_t (RFC 9110 section 8.6), or -1. */
static int64_t parse_length(const char *s, size_t n) {
    if (n == 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    return v;
}

static int te_framing(const char *const *te, size_t nte, ms_framing_t *out) {
    int codings = 0, chunked = 0, other = 0, last_chunked = 0;
    for (size_t i = 0; i < nte; i++) {
        const char *p = te[i] ? te[i] : "", *s;
        size_t n;
        while (next_element(&p, &s, &n)) {
            if (n == 0)
                continue; /* empty list elements are ignored (section 5.6.1) */
            codings++;
            last_chunked = n == 7 && strncasecmp(s, "chunked", 7) == 0;
            if (last_chunked)
                chunked++;
            else
                other++;
        }
    }
    if (!codings || !last_chunked)
        return refuse(out, 400, "invalid_request",
                      "Transfer-Encoding must end with chunked (RFC 9112 section 6.3)");
    if (chunked > 1)
        return refuse(out, 400, "invalid_request", "chunked may be applied only once");
    if (other)
        return refuse(out, 501, "not_implemented",
                      "the only transfer coding accepted is chunked alone");
    out->kind = MS_BODY_CHUNKED;
    out->length = -1;
    return 0;
}

int ms_http_framing(const char *const *cl, size_t ncl, const char *const *te, size_t nte,
                    int http10, ms_framing_t *out) {
    memset(out, 0, sizeof *out);
    if (nte) {
        if (http10)
            return refuse(out, 400, "invalid_request",
                          "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        if (ncl)
            return refuse(out, 400, "invalid_request",
                          "a request may not carry both Content-Length and Transfer-Encoding");
        return te_framing(te, nte, out);
    }
    if (!ncl) {
        out->kind = MS_BODY_NONE;
        return 0;
    }
    int64_t length = -1;
    for (size_t i = 0; i < ncl; i++) {
        const char *p = cl[i] ? cl[i] : "", *s;
        size_t n;
        while (next_element(&p, &s, &n)) {
            int64_t v = parse_length(s, n);
            if (v < 0)
                return refuse(out, 400, "invalid_request",
                              "Content-Length must be a decimal number of bytes");
            if (length >= 0 && v != length)
                return refuse(out, 400, "invalid_request", "conflicting Content-Length values");
            length = v;
        }
    }
    out->kind = MS_BODY_LENGTH;
    out->length = length;
    return 0;
}

/* ---- chunked (RFC 9112 section 7.1) -------------------------------------- */

enum {
    CK_SIZE,         /* chunk-size hex digits */
    CK_EXT,          /* chunk-ext until CR */
    CK_SIZE_LF,      /* LF after the size line */
    CK_DATA,         /* chunk-data */
    CK_DATA_CR,      /* CR after chunk-data */
    CK_DATA_LF,      /* LF after chunk-data */
    CK_TRAILER,      /* start of a trailer line, or the final CRLF */
    CK_TRAILER_LINE, /* a field line until CR */
    CK_TRAILER_LF,   /* LF after a field line */
    CK_END_LF,       /* LF of the final CRLF */
    CK_DONE,
};

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Characters allowed in an extension or a trailer field line: visible
 * ASCII, obs-text and whitespace; no other control characters. */
static int line_char(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* One framing byte (not chunk-data). 0, or MS_EINVAL. */
static int step(ms_chunked_t *c, char ch) {
    unsigned char u = (unsigned char)ch;
    switch (c->state) {
    case CK_SIZE: {
        int h = hexval(ch);
        if (h >= 0) {
            if (c->remaining >> 56) /* keeps sizes below 2^60 */
                return MS_EINVAL;
            c->remaining = c->remaining << 4 | (uint64_t)h;
            c->digits++;
            break;
        }
        if (!c->digits)
            return MS_EINVAL;
        if (ch == '\r')
            c->state = CK_SIZE_LF;
        else if (ch == ';' || ows(ch))
            c->state = CK_EXT;
        else
            return MS_EINVAL;
        break;
    }
    case CK_EXT:
        if (ch == '\r')
            c->state = CK_SIZE_LF;
        else if (!line_char(u))
            return MS_EINVAL;
        break;
    case CK_SIZE_LF:
        if (ch != '\n')
            return MS_EINVAL;
        c->line = 0;
        c->digits = 0;
        c->state = c->remaining ? CK_DATA : CK_TRAILER;
        break;
    case CK_DATA_CR:
        if (ch != '\r')
            return MS_EINVAL;
        c->state = CK_DATA_LF;
        break;
    case CK_DATA_LF:
        if (ch != '\n')
            return MS_EINVAL;
        c->state = CK_SIZE;
        break;
    case CK_TRAILER:
        if (ch == '\r') {
            c->state = CK_END_LF;
            break;
        }
        if (!line_char(u) || ows(ch)) /* obs-fold is not accepted */
            return MS_EINVAL;
        c->state = CK_TRAILER_LINE;
        break;
    case CK_TRAILER_LINE:
        if (ch == '\r')
            c->state = CK_TRAILER_LF;
        else if (!line_char(u))
            return MS_EINVAL;
        break;
    case CK_TRAILER_LF:
        if (ch != '\n')
            return MS_EINVAL;
        c->state = CK_TRAILER;
        break;
    case CK_END_LF:
        if (ch != '\n')
            return MS_EINVAL;
        c->state = CK_DONE;
        break;
    default:
        return MS_EINVAL;
    }
    if (c->state == CK_SIZE || c->state == CK_EXT || c->state == CK_SIZE_LF) {
        if (++c->line > MS_CHUNKED_MAX_LINE)
            return MS_EINVAL;
    } else if (c->state >= CK_TRAILER_LINE && c->state <= CK_END_LF) {
        if (++c->trailer > MS_CHUNKED_MAX_TRAILER)
            return MS_EINVAL;
    }
    return 0;
}

int ms_chunked_feed(ms_chunked_t *c, const char *in, size_t len, size_t *used,
                    ms_chunked_sink_fn sink, void *ctx) {
    size_t i = 0;
    int rc = 0;
    while (i < len && c->state != CK_DONE) {
        if (c->state == CK_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > c->remaining)
                n = (size_t)c->remaining;
            if (sink && (rc = sink(ctx, in + i, n)) != 0)
                break;
            c->total += n;
            c->remaining -= n;
            i += n;
            if (!c->remaining)
                c->state = CK_DATA_CR;
            continue;
        }
        if ((rc = step(c, in[i])) != 0)
            break;
        i++;
    }
    if (used)
        *used = i;
    if (rc)
        return rc;
    return c->state == CK_DONE ? 1 : 0;
}

/* ---- deadlines ----------------------------------------------------------- */

void ms_deadline_remove(ms_deadline_list_t *l, ms_deadline_t *d) {
    if (!d->linked)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        l->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        l->tail = d->prev;
    d->prev = d->next = NULL;
    d->linked = 0;
    l->count--;
}

void ms_deadline_push(ms_deadline_list_t *l, ms_deadline_t *d, int64_t due) {
    ms_deadline_remove(l, d);
    d->due = due;
    ms_deadline_t *after = l->tail;
    while (after && after->due > due)
        after = after->prev;
    d->prev = after;
    d->next = after ? after->next : l->head;
    if (d->next)
        d->next->prev = d;
    else
        l->tail = d;
    if (after)
        after->next = d;
    else
        l->head = d;
    d->linked = 1;
    l->count++;
}

ms_deadline_t *ms_deadline_pop_due(ms_deadline_list_t *l, int64_t now) {
    ms_deadline_t *d = l->head;
    if (!d || d->due > now)
        return NULL;
    ms_deadline_remove(l, d);
    return d;
}

int64_t ms_deadline_next(const ms_deadline_list_t *l) {
    return l->head ? l->head->due : -1;
}
