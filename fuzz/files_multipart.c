/* libFuzzer target: the streaming multipart/form-data parser
 * (src/files/multipart.h) on any body, fed whole and again in pieces.
 *
 * Input: byte 0 picks the piece size (1..64), byte 1 the boundary (one of
 * a few, so the fuzzer finds delimiters quickly); the rest is the body.
 * The parser promises that the split never matters: the same calls, the
 * same bytes and the same result whatever the pieces. It also never hands
 * out more content bytes than it was given, nor an empty piece.
 *
 * Built by `make fuzz` (fuzz/CMakeLists.txt); or by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     fuzz/files_multipart.c src/files/multipart.c src/core/ms.c \
 *     $(pkg-config --cflags --libs jansson libsodium libuv) -o fuzz_files_multipart
 * or, with the fuzz infrastructure (MS_FUZZ):
 *   ms_fuzz(files_multipart files_multipart.c LIBS ms_files) */
#include "files/multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the callbacks delivered, as length-prefixed records; consecutive
 * data pieces are merged into one record as they come (they are one
 * stream of bytes), so the logs of two splits compare byte for byte. */
typedef struct {
    char *log;
    size_t len, cap;
    size_t content;
    size_t last_data; /* offset of the open data record's length, or 0 */
} rec_t;

static void put(rec_t *r, const void *p, size_t n) {
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->log = realloc(r->log, r->cap);
        if (!r->log)
            abort();
    }
    memcpy(r->log + r->len, p, n);
    r->len += n;
}

static void put_str(rec_t *r, const char *s) {
    size_t n = s ? strlen(s) : SIZE_MAX;
    put(r, &n, sizeof n);
    if (s)
        put(r, s, strlen(s));
}

static int on_begin(void *ctx, const ms_mp_part_t *p) {
    rec_t *r = ctx;
    r->last_data = 0;
    put(r, "B", 1);
    put_str(r, p->name);
    put_str(r, p->filename);
    put_str(r, p->content_type);
    return 0;
}

static int on_data(void *ctx, const char *p, size_t n) {
    rec_t *r = ctx;
    if (n == 0)
        abort(); /* an empty piece */
    r->content += n;
    if (!r->last_data) {
        put(r, "D", 1);
        r->last_data = r->len;
        size_t zero = 0;
        put(r, &zero, sizeof zero);
    }
    size_t len;
    memcpy(&len, r->log + r->last_data, sizeof len);
    len += n;
    put(r, p, n);
    memcpy(r->log + r->last_data, &len, sizeof len);
    return 0;
}

static int on_end(void *ctx) {
    rec_t *r = ctx;
    r->last_data = 0;
    put(r, "E", 1);
    return 0;
}

static const ms_mp_callbacks_t cbs = {on_begin, on_data, on_end};

static int parse(const char *boundary, const char *body, size_t n, size_t step, rec_t *r) {
    ms_multipart_t *m = ms_multipart_new(boundary, &cbs, r);
    if (!m)
        abort();
    int rc = 0;
    for (size_t at = 0; at < n && !rc; at += step)
        rc = ms_multipart_feed(m, body + at, n - at < step ? n - at : step);
    if (!rc)
        rc = ms_multipart_finish(m);
    ms_multipart_free(m);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const boundaries[] = {"b", "frontier", "----WebKitFormBoundary7MA4YWxk",
                                             "a'()+_,-./:=?"};
    if (size < 2)
        return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    const char *boundary = boundaries[data[1] % 4];
    const char *body = (const char *)data + 2;
    size_t n = size - 2;
    rec_t whole = {0}, pieces = {0};
    int rc1 = parse(boundary, body, n, n ? n : 1, &whole);
    int rc2 = parse(boundary, body, n, step, &pieces);
    if (rc1 != rc2) {
        fprintf(stderr, "whole: %d, in pieces of %zu: %d\n", rc1, step, rc2);
        abort();
    }
    if (whole.content > n || pieces.content != whole.content)
        abort();
    if (whole.len != pieces.len || (whole.len && memcmp(whole.log, pieces.log, whole.len) != 0)) {
        fprintf(stderr, "the split changed what the parser delivered (pieces of %zu)\n", step);
        abort();
    }
    free(whole.log);
    free(pieces.log);
    return 0;
}
