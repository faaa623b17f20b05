/* libFuzzer target: query-string arguments (ms_http_query_arg) and their
 * application/x-www-form-urlencoded decoding (WHATWG URL, section 5.1).
 *
 * Input: "<name>\n<query string>". The result is compared with a
 * straightforward reference: the first '&'-separated pair whose name is
 * exactly <name>, its value with '+' as space and "%XX" (two hex digits)
 * as that byte, everything else (a lone '%') kept; a bare "<name>" gives "". */
#include "fuzz_util.h"

#include "api/api.h"

#include <stdlib.h>
#include <string.h>

static int hex(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The reference decoding of v[0..n) into out; returns its length. */
static size_t ref_decode(const char *v, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '+') {
            out[k++] = ' ';
        } else if (v[i] == '%' && i + 2 < n && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
            out[k++] = (char)(hex(v[i + 1]) * 16 + hex(v[i + 2]));
            i += 2;
        } else {
            out[k++] = v[i];
        }
    }
    out[k] = '\0';
    return k;
}

/* The reference lookup: heap string or NULL. */
static char *ref_arg(const char *query, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= nl && !memcmp(p, name, nl) && (len == nl || p[nl] == '=')) {
            size_t vl = len == nl ? 0 : len - nl - 1;
            char *out = malloc(vl + 1);
            ref_decode(p + nl + (len > nl), vl, out);
            return out;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || memchr(data, '\0', size))
        return 0;
    char *name = fz_strndup(data, (size_t)(nl - data));
    char *query = fz_strndup(nl + 1, size - (size_t)(nl + 1 - data));
    ms_http_req_t r;
    memset(&r, 0, sizeof r);
    r.query = query;
    char *got = ms_http_query_arg(&r, name);
    char *want = ref_arg(query, name);
    FZ_ASSERT((got == NULL) == (want == NULL), "presence of \"%s\" in \"%s\": got %s", name, query,
              got ? "a value" : "none");
    if (got)
        FZ_ASSERT(!strcmp(got, want), "\"%s\" in \"%s\": got \"%s\", want \"%s\"", name, query, got,
                  want);
    if (got)
        FZ_ASSERT(strlen(got) <= strlen(query), "decoded value longer than the query");
    free(got);
    free(want);
    r.query = NULL;
    FZ_ASSERT(ms_http_query_arg(&r, "q") == NULL, "an argument of no query");
    free(name);
    free(query);
    return 0;
}
