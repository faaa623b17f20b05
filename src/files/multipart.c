/* The streaming multipart/form-data parser (multipart.h).
 *
 * The delimiter "CRLF--boundary" is found with the Knuth-Morris-Pratt
 * automaton, so a byte is looked at once whatever the split of the input:
 * the state q is how many delimiter bytes end the input so far. Those q
 * bytes are not yet content (they may start the delimiter); when the next
 * byte shows they cannot, the bytes that fall out of the match are
 * delivered, rebuilt from the delimiter itself, so no input is buffered.
 * The very first delimiter may open the body without a CRLF before it
 * (RFC 2046 section 5.1.1: the preamble may be empty): the parser starts
 * as if a CRLF had just been read. */
#include "files/multipart.h"

#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    MP_PREAMBLE, /* looking for the first delimiter; bytes dropped */
    MP_AFTER,    /* just after a delimiter: "--", padding or CRLF */
    MP_DASH2,    /* saw "-", expecting the second */
    MP_PAD,      /* transport padding before CRLF */
    MP_PAD_LF,   /* saw CR, expecting LF */
    MP_HEADERS,  /* a part's header block */
    MP_BODY,     /* a part's content */
    MP_EPILOGUE, /* after the closing delimiter; bytes dropped */
    MP_ERROR,
};

struct ms_multipart {
    const ms_mp_callbacks_t *cbs;
    void *ctx;
    char delim[MS_MP_MAX_BOUNDARY + 4]; /* "\r\n--" boundary */
    size_t dlen;
    size_t fail[MS_MP_MAX_BOUNDARY + 4]; /* KMP failure function of delim */
    size_t q;                            /* delimiter bytes matched, pending */
    int state;
    int in_part; /* part_begin was called and part_end not yet */
    int parts;
    int err;
    const char *why;
    char hdr[MS_MP_MAX_HEADER_BYTES];
    size_t hlen;
};

/* RFC 2046 section 5.1.1 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space
 * (not last). */
static int bchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

/* Skips optional white space. */
static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Reads a parameter value (a token or an RFC 7230 quoted-string with
 * backslash escapes) from *sp into out (size cap, truncated); advances *sp. */
static void param_value(const char **sp, char *out, size_t cap) {
    const char *s = *sp;
    size_t k = 0;
    if (*s == '"') {
        s++;
        while (*s && *s != '"') {
            if (*s == '\\' && s[1])
                s++;
            if (k + 1 < cap)
                out[k++] = *s;
            s++;
        }
        if (*s == '"')
            s++;
    } else {
        while (*s && *s != ';' && *s != ' ' && *s != '\t') {
            if (k + 1 < cap)
                out[k++] = *s;
            s++;
        }
    }
    out[k] = '\0';
    *sp = s;
}

int ms_multipart_boundary(const char *ct, char out[MS_MP_MAX_BOUNDARY + 1]) {
    out[0] = '\0';
    if (!ct)
        return MS_EINVAL;
    ct = skip_ws(ct);
    static const char type[] = "multipart/form-data";
    if (strncasecmp(ct, type, sizeof type - 1) != 0)
        return MS_EINVAL;
    const char *s = ct + sizeof type - 1;
    char name[32], value[MS_MP_MAX_BOUNDARY + 2];
    while (*(s = skip_ws(s))) {
        if (*s != ';')
            return MS_EINVAL;
        s = skip_ws(s + 1);
        size_t k = 0;
        while (*s && *s != '=' && *s != ';' && *s != ' ' && k + 1 < sizeof name)
            name[k++] = *s++;
        name[k] = '\0';
        s = skip_ws(s);
        if (*s != '=')
            continue;
        s = skip_ws(s + 1);
        param_value(&s, value, sizeof value);
        if (strcasecmp(name, "boundary") != 0)
            continue;
        size_t n = strlen(value);
        if (n == 0 || n > MS_MP_MAX_BOUNDARY || value[n - 1] == ' ')
            return MS_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (!bchar((unsigned char)value[i]))
                return MS_EINVAL;
        memcpy(out, value, n + 1);
        return 0;
    }
    return MS_EINVAL;
}

ms_multipart_t *ms_multipart_new(const char *boundary, const ms_mp_callbacks_t *cbs, void *ctx) {
    size_t bl = boundary ? strlen(boundary) : 0;
    if (bl == 0 || bl > MS_MP_MAX_BOUNDARY)
        return NULL;
    ms_multipart_t *m = ms_xcalloc(1, sizeof *m);
    m->cbs = cbs;
    m->ctx = ctx;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, bl);
    m->dlen = bl + 4;
    /* fail[i]: the longest proper prefix of delim[0..i] that is also its
     * suffix. */
    m->fail[0] = 0;
    for (size_t i = 1, k = 0; i < m->dlen; i++) {
        while (k > 0 && m->delim[i] != m->delim[k])
            k = m->fail[k - 1];
        if (m->delim[i] == m->delim[k])
            k++;
        m->fail[i] = k;
    }
    m->q = 2; /* as if the body began with CRLF */
    m->state = MP_PREAMBLE;
    return m;
}

void ms_multipart_free(ms_multipart_t *m) {
    free(m);
}

static int fail(ms_multipart_t *m, int err, const char *why) {
    m->state = MP_ERROR;
    m->err = err;
    m->why = why;
    return err;
}

/* ---- a part's headers --------------------------------------------------- */

/* Decodes an RFC 8187 ext-value (charset'lang'pct-encoded) into out; only
 * UTF-8 and ISO-8859-1 (widened to UTF-8) are understood. 0 or -1. */
static int ext_value(const char *v, char *out, size_t cap) {
    const char *q1 = strchr(v, '\'');
    const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
    if (!q2)
        return -1;
    int latin1;
    if ((size_t)(q1 - v) == 5 && !strncasecmp(v, "UTF-8", 5))
        latin1 = 0;
    else if ((size_t)(q1 - v) == 10 && !strncasecmp(v, "ISO-8859-1", 10))
        latin1 = 1;
    else
        return -1;
    size_t k = 0;
    for (const char *s = q2 + 1; *s && k + 3 < cap; s++) {
        unsigned c = (unsigned char)*s;
        if (*s == '%') {
            char hex[3] = {s[1], (char)(s[1] ? s[2] : 0), 0};
            char *end;
            unsigned long x = strtoul(hex, &end, 16);
            if (!hex[0] || !hex[1] || *end)
                return -1;
            c = (unsigned)x;
            s += 2;
        }
        if (latin1 && c >= 0x80) {
            out[k++] = (char)(0xc0 | (c >> 6));
            out[k++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[k++] = (char)c;
        }
    }
    out[k] = '\0';
    return 0;
}

typedef struct {
    char name[256];
    char filename[1024];
    char filename_ext[1024];
    char content_type[256];
    int has_filename, has_ext;
} part_hdr_t;

/* Copies src into dst (size cap), truncating. */
static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void parse_disposition(const char *v, part_hdr_t *h) {
    const char *s = skip_ws(v);
    /* The disposition type ("form-data"), then parameters. */
    while (*s && *s != ';')
        s++;
    char pname[32], pval[1024];
    while (*s == ';') {
        s = skip_ws(s + 1);
        size_t k = 0;
        while (*s && *s != '=' && *s != ';' && *s != ' ' && k + 1 < sizeof pname)
            pname[k++] = *s++;
        pname[k] = '\0';
        while (*s && *s != '=' && *s != ';')
            s++;
        if (*s != '=')
            continue;
        s = skip_ws(s + 1);
        param_value(&s, pval, sizeof pval);
        s = skip_ws(s);
        while (*s && *s != ';')
            s++;
        if (!strcasecmp(pname, "name")) {
            copy_str(h->name, sizeof h->name, pval);
        } else if (!strcasecmp(pname, "filename")) {
            copy_str(h->filename, sizeof h->filename, pval);
            h->has_filename = 1;
        } else if (!strcasecmp(pname, "filename*")) {
            h->has_ext = ext_value(pval, h->filename_ext, sizeof h->filename_ext) == 0;
        }
    }
}

/* Parses the header block (CRLF-separated lines, ending with an empty
 * line) and calls part_begin. */
static int headers_done(ms_multipart_t *m) {
    part_hdr_t h;
    memset(&h, 0, sizeof h);
    m->hdr[m->hlen - 2] = '\0'; /* the final empty line's CRLF */
    char *line = m->hdr;
    while (*line) {
        char *eol = strstr(line, "\r\n");
        if (eol)
            *eol = '\0';
        char *colon = strchr(line, ':');
        if (!colon) {
            if (*line)
                return fail(m, MS_EFORMAT, "a part header line without a colon");
        } else {
            *colon = '\0';
            const char *value = skip_ws(colon + 1);
            if (!strcasecmp(line, "content-disposition"))
                parse_disposition(value, &h);
            else if (!strcasecmp(line, "content-type"))
                copy_str(h.content_type, sizeof h.content_type, value);
        }
        if (!eol)
            break;
        line = eol + 2;
    }
    if (++m->parts > MS_MP_MAX_PARTS)
        return fail(m, MS_EFORMAT, "too many parts");
    ms_mp_part_t part = {
        .name = h.name,
        .filename = h.has_ext        ? h.filename_ext
                    : h.has_filename ? h.filename
                                     : NULL,
        .content_type = h.content_type,
    };
    m->in_part = 1;
    int rc = m->cbs->part_begin ? m->cbs->part_begin(m->ctx, &part) : 0;
    return rc ? fail(m, rc, "") : 0;
}

/* ---- the byte machine ---------------------------------------------------- */

static int emit(ms_multipart_t *m, const char *p, size_t n) {
    if (!n || !m->cbs->part_data)
        return 0;
    int rc = m->cbs->part_data(m->ctx, p, n);
    return rc ? fail(m, rc, "") : 0;
}

/* Advances the delimiter match by c. Returns 1 on a full match. In the
 * body, bytes that cannot belong to a delimiter any more are delivered. */
static int match_byte(ms_multipart_t *m, char c, int deliver, int *rc) {
    size_t q0 = m->q, q = q0;
    while (q > 0 && m->delim[q] != c)
        q = m->fail[q - 1];
    if (m->delim[q] == c)
        q++;
    /* The pending bytes were delim[0..q0) + c; the last q of them stay. */
    size_t out = q0 + 1 - q;
    if (deliver && out > 0) {
        size_t from_delim = out < q0 ? out : q0;
        if ((*rc = emit(m, m->delim, from_delim)) != 0)
            return 0;
        if (out > q0 && (*rc = emit(m, &c, 1)) != 0)
            return 0;
    }
    if (q == m->dlen) {
        m->q = 0;
        return 1;
    }
    m->q = q;
    return 0;
}

/* One part's content from p[0..n): returns the bytes consumed (up to and
 * including a delimiter, or all). */
static size_t body(ms_multipart_t *m, const char *p, size_t n, int *rc) {
    size_t i = 0;
    while (i < n) {
        if (m->q == 0) {
            /* Nothing pending: everything before the next CR is content. */
            const char *cr = memchr(p + i, '\r', n - i);
            size_t run = cr ? (size_t)(cr - (p + i)) : n - i;
            if ((*rc = emit(m, p + i, run)) != 0)
                return i;
            i += run;
            if (i == n)
                break;
        }
        int full = match_byte(m, p[i++], 1, rc);
        if (*rc)
            return i;
        if (full) {
            m->in_part = 0;
            if (m->cbs->part_end && (*rc = m->cbs->part_end(m->ctx)) != 0) {
                fail(m, *rc, "");
                return i;
            }
            m->state = MP_AFTER;
            return i;
        }
    }
    return i;
}

static int step(ms_multipart_t *m, char c) {
    switch (m->state) {
    case MP_PREAMBLE: {
        int rc = 0;
        if (match_byte(m, c, 0, &rc))
            m->state = MP_AFTER;
        return rc;
    }
    case MP_AFTER:
        if (c == '-') {
            m->state = MP_DASH2;
            return 0;
        }
        m->state = MP_PAD;
        return step(m, c);
    case MP_DASH2:
        if (c != '-')
            return fail(m, MS_EFORMAT, "a boundary followed by a single '-'");
        m->state = MP_EPILOGUE;
        return 0;
    case MP_PAD:
        if (c == ' ' || c == '\t')
            return 0;
        if (c == '\r') {
            m->state = MP_PAD_LF;
            return 0;
        }
        return fail(m, MS_EFORMAT, "a boundary line with characters after the boundary");
    case MP_PAD_LF:
        if (c != '\n')
            return fail(m, MS_EFORMAT, "a boundary line not ended by CRLF");
        m->state = MP_HEADERS;
        m->hlen = 0;
        return 0;
    case MP_HEADERS:
        if (m->hlen + 1 >= sizeof m->hdr)
            return fail(m, MS_EFORMAT, "a part's headers are too long");
        m->hdr[m->hlen++] = c;
        if ((m->hlen == 2 && !memcmp(m->hdr, "\r\n", 2)) ||
            (m->hlen >= 4 && !memcmp(m->hdr + m->hlen - 4, "\r\n\r\n", 4))) {
            int rc = headers_done(m);
            if (rc)
                return rc;
            m->state = MP_BODY;
            m->q = 0;
        }
        return 0;
    default:
        return 0;
    }
}

int ms_multipart_feed(ms_multipart_t *m, const char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (m->state == MP_ERROR)
            return m->err;
        if (m->state == MP_EPILOGUE)
            return 0;
        if (m->state == MP_BODY) {
            int rc = 0;
            i += body(m, p + i, n - i, &rc);
            if (rc)
                return rc;
            continue;
        }
        int rc = step(m, p[i++]);
        if (rc)
            return rc;
    }
    return m->state == MP_ERROR ? m->err : 0;
}

int ms_multipart_finish(ms_multipart_t *m) {
    if (m->state == MP_ERROR)
        return m->err;
    if (m->state != MP_EPILOGUE)
        return fail(m, MS_EFORMAT,
                    m->state == MP_PREAMBLE ? "no boundary found in the body"
                                            : "the body ended before the closing boundary");
    return 0;
}

int ms_multipart_done(const ms_multipart_t *m) {
    return m->state == MP_EPILOGUE;
}

const char *ms_multipart_error(const ms_multipart_t *m) {
    return m->why ? m->why : "";
}
