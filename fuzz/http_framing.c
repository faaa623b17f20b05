/* libFuzzer target: HTTP/1.1 request-body framing and the chunked coding
 * (net/framing.h: ms_http_framing, ms_chunked_feed; RFC 9112 sections 6.3
 * and 7.1), the functions that decide, on the headers alone, how much of a
 * client's bytes are its body.
 *
 * Input: header lines, then an empty line, then body bytes. A line "C:<v>"
 * is one Content-Length field line, "T:<v>" one Transfer-Encoding field
 * line, "1.0" makes the request HTTP/1.0, "E" makes the body the chunked
 * encoding (built by the harness) of the bytes that follow instead of the
 * bytes themselves.
 *
 * Properties: the framing is either refused (400 or 501, with a code and a
 * message) or one kind; Content-Length is accepted only as 1*DIGIT values
 * (RFC 9110 section 8.6), all equal, and its length is that number;
 * Transfer-Encoding and Content-Length together are refused (a smuggling
 * vector); chunked decoding gives the same result, the same bytes and the
 * same end whatever the split of its input into reads; a body encoded by
 * the harness decodes to exactly what was encoded. */
#include "fuzz_util.h"

#include "core/ms.h"
#include "net/framing.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 8

typedef struct {
    char *data;
    size_t len, cap, limit;
} sink_t;

static int sink(void *ctx, const char *d, size_t n) {
    sink_t *s = ctx;
    if (s->len + n > s->limit)
        return MS_ETOOBIG;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, d, n);
    s->len += n;
    return 0;
}

/* Whether every comma-separated value of the fields is 1*DIGIT (around
 * optional whitespace) and they are all the same number, stored in *out. */
static int ref_length(char **cl, size_t ncl, int64_t *out) {
    int have = 0;
    int64_t v = 0;
    for (size_t i = 0; i < ncl; i++) {
        const char *p = cl[i];
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            const char *start = p;
            int64_t x = 0;
            while (*p >= '0' && *p <= '9') {
                if (x > (INT64_MAX - (*p - '0')) / 10)
                    return 0;
                x = x * 10 + (*p++ - '0');
            }
            if (p == start)
                return 0;
            while (*p == ' ' || *p == '\t')
                p++;
            if (have && x != v)
                return 0;
            v = x;
            have = 1;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p)
                return 0;
            break;
        }
    }
    *out = v;
    return have;
}

/* Decodes body[0..n) in reads of pseudo-random sizes. */
static int feed_split(const char *body, size_t n, unsigned seed, size_t *end, sink_t *s) {
    ms_chunked_t c;
    memset(&c, 0, sizeof c);
    size_t done = 0;
    int rc = 0;
    *end = 0;
    while (done < n) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 23;
        if (k > n - done)
            k = n - done;
        size_t used = 0;
        rc = ms_chunked_feed(&c, body + done, k, &used, sink, s);
        if (rc == 1) {
            FZ_ASSERT(used <= k, "used %zu of %zu", used, k);
            *end = done + used;
            break;
        }
        done += k;
        if (rc != 0)
            break;
    }
    FZ_ASSERT(rc != 1 || c.total == s->len, "total %llu, %zu bytes decoded",
              (unsigned long long)c.total, s->len);
    return rc;
}

/* The chunked coding of d[0..n) in chunks of sizes from the seed. */
static char *encode(const uint8_t *d, size_t n, unsigned seed, size_t *outlen) {
    char *out = malloc(n * 14 + 64); /* a 1-byte chunk takes 12 */
    size_t o = 0, i = 0;
    while (i < n) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 40;
        if (k > n - i)
            k = n - i;
        o += (size_t)sprintf(out + o, "%zx%s\r\n", k, seed & 0x100 ? ";ext=1" : "");
        memcpy(out + o, d + i, k);
        o += k;
        memcpy(out + o, "\r\n", 2);
        o += 2;
        i += k;
    }
    o += (size_t)sprintf(out + o, "0\r\n%s\r\n", seed & 0x200 ? "X-Trailer: 1\r\n" : "");
    *outlen = o;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *all = fz_strndup(data, size);
    char *cl[MAX_FIELDS], *te[MAX_FIELDS];
    size_t ncl = 0, nte = 0;
    int http10 = 0, enc = 0;
    char *p = all, *body = NULL;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (!*p) {
            body = nl ? nl + 1 : NULL;
            break;
        }
        if (!strncmp(p, "C:", 2) && ncl < MAX_FIELDS)
            cl[ncl++] = p + 2;
        else if (!strncmp(p, "T:", 2) && nte < MAX_FIELDS)
            te[nte++] = p + 2;
        else if (!strcmp(p, "1.0"))
            http10 = 1;
        else if (!strcmp(p, "E"))
            enc = 1;
        p = nl ? nl + 1 : NULL;
    }
    ms_framing_t f;
    memset(&f, 0x5a, sizeof f);
    int rc =
        ms_http_framing((const char *const *)cl, ncl, (const char *const *)te, nte, http10, &f);
    FZ_ASSERT(rc == f.status, "returned %d, status %d", rc, f.status);
    if (rc) {
        FZ_ASSERT(rc == 400 || rc == 501, "refused with %d", rc);
        FZ_ASSERT(f.code && f.message, "a refusal without code or message");
    } else {
        FZ_ASSERT(f.kind == MS_BODY_NONE || f.kind == MS_BODY_LENGTH || f.kind == MS_BODY_CHUNKED,
                  "kind %d", (int)f.kind);
        FZ_ASSERT(!(ncl && nte), "Content-Length and Transfer-Encoding both accepted");
        FZ_ASSERT(!(nte && http10), "Transfer-Encoding accepted in HTTP/1.0");
        FZ_ASSERT((f.kind == MS_BODY_NONE) == (ncl == 0 && nte == 0), "kind %d for %zu CL, %zu TE",
                  (int)f.kind, ncl, nte);
        if (f.kind == MS_BODY_LENGTH) {
            int64_t want;
            FZ_ASSERT(ref_length(cl, ncl, &want) && want == f.length,
                      "Content-Length \"%s\" accepted as %lld", cl[0], (long long)f.length);
        }
    }
    /* The chunked decoder, on the body. */
    size_t blen = body ? size - (size_t)(body - all) : 0;
    const char *in = body;
    char *encoded = NULL;
    if (enc && body) {
        encoded = encode((const uint8_t *)body, blen, (unsigned)size, &blen);
        in = encoded;
    }
    if (in) {
        sink_t a = {.limit = 1 << 20}, b = {.limit = 1 << 20};
        ms_chunked_t c;
        memset(&c, 0, sizeof c);
        size_t used = 0, end_b;
        int ra = ms_chunked_feed(&c, in, blen, &used, sink, &a);
        FZ_ASSERT(ra == 0 || ra == 1 || ra == MS_EINVAL || ra == MS_ETOOBIG, "feed returned %d",
                  ra);
        int rb = feed_split(in, blen, (unsigned)blen, &end_b, &b);
        FZ_ASSERT(ra == rb, "one read gave %d, split reads %d", ra, rb);
        if (ra == 1) {
            FZ_ASSERT(used == end_b, "body ended at %zu in one read, %zu split", used, end_b);
            FZ_ASSERT(a.len == b.len && (!a.len || !memcmp(a.data, b.data, a.len)),
                      "decoded bytes depend on the reads");
        }
        if (encoded) {
            FZ_ASSERT(ra == 1 && used == blen, "valid chunked body refused (%d, used %zu of %zu)",
                      ra, used, blen);
            size_t orig = size - (size_t)(body - all);
            FZ_ASSERT(a.len == orig && (!orig || !memcmp(a.data, body, orig)),
                      "decoded %zu bytes, encoded %zu", a.len, orig);
        }
        free(a.data);
        free(b.data);
    }
    free(encoded);
    free(all);
    return 0;
}
