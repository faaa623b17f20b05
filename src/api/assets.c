/* GET / and the web client's other files, from the table compiled into the
 * binary (api/ui_assets.h). Every file is stored gzip-compressed; a client
 * that accepts gzip (RFC 9110 section 12.5.3) gets those bytes as they are
 * with Content-Encoding: gzip, any other gets them inflated.
 *
 * Caching (RFC 9111): files under /assets/ carry a content hash in their
 * name, so they never change and are immutable for a year (RFC 8246); the
 * page itself is revalidated on every load (no-cache), so a new build is
 * picked up at once. */
#include "api/routes.h"
#include "api/ui_assets.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/** The Content-Security-Policy the page is built to run under: no inline
 * script or style anywhere, WebSocket back to this server only. */
/** Largest inflated file served to a client without gzip. */
#define MAX_INFLATED (64u << 20)

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *content_type(const char *path) {
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < MS_COUNTOF(types); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* Whether Accept-Encoding lists gzip (or *) without "q=0" (RFC 9110
 * section 12.5.3: a coding with qvalue 0 is "not acceptable"). */
int ms__api_accepts_gzip(const char *ae) {
    while (ae && *ae) {
        while (*ae == ' ' || *ae == '\t' || *ae == ',')
            ae++;
        size_t n = strcspn(ae, ",");
        size_t tok = strcspn(ae, ";, \t");
        if ((tok == 4 && !strncasecmp(ae, "gzip", 4)) || (tok == 1 && *ae == '*')) {
            const char *q = ae + tok;
            const char *end = ae + n;
            int zero = 0;
            while (q < end && (q = strchr(q, ';')) && q < end) {
                q++;
                while (*q == ' ')
                    q++;
                if ((*q == 'q' || *q == 'Q') && q[1] == '=')
                    zero = strtod(q + 2, NULL) <= 0.0;
            }
            if (!zero)
                return 1;
        }
        ae += n;
    }
    return 0;
}

/* Inflates a gzip member; NULL when it is corrupt or too large. */
static unsigned char *gunzip(const unsigned char *gz, size_t len, size_t *out_len) {
    if (len < 18)
        return NULL;
    /* ISIZE, the last four bytes (RFC 1952 section 2.3.1), little endian. */
    uint32_t isize = (uint32_t)gz[len - 4] | (uint32_t)gz[len - 3] << 8 |
                     (uint32_t)gz[len - 2] << 16 | (uint32_t)gz[len - 1] << 24;
    if (isize > MAX_INFLATED)
        return NULL;
    unsigned char *out = ms_xmalloc((size_t)isize + 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (unsigned char *)gz;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = isize + 1;
    int rc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.total_out != isize) {
        free(out);
        return NULL;
    }
    *out_len = isize;
    return out;
}

void ms_api_asset(ms_http_req_t *r) {
    const char *path = strcmp(r->path, "/") ? r->path : "/index.html";
    const ms_ui_asset_t *a = NULL;
    for (size_t i = 0; i < ms_ui_assets_count; i++)
        if (!strcmp(ms_ui_assets[i].path, path))
            a = &ms_ui_assets[i];
    if (!a) {
        ms_http_respond_error(r, 404, "not_found", "no such route");
        ms_http_finish(r);
        return;
    }
    r->status = 200;
    r->content_type = content_type(a->path);
    r->cache_control =
        !strncmp(a->path, "/assets/", 8) ? "public, max-age=31536000, immutable" : "no-cache";
    ms_http_add_header(r, "vary", "Accept-Encoding");
    /* The page's CSP, X-Frame-Options and Referrer-Policy are the ones the
     * network layer sends on every response (ms__http_security_headers). */
    if (ms__api_accepts_gzip(r->accept_encoding)) {
        ms_http_add_header(r, "content-encoding", "gzip");
        r->resp_static = 1;
        r->resp_body = (char *)a->gz;
        r->resp_len = a->gz_len;
    } else {
        size_t n = 0;
        unsigned char *raw = gunzip(a->gz, a->gz_len, &n);
        if (!raw) {
            ms_http_respond_error(r, 500, "internal_error", "embedded file is corrupt");
        } else {
            r->resp_static = 0;
            r->resp_body = (char *)raw;
            r->resp_len = n;
        }
    }
    ms_http_finish(r);
}
