/* Patient/{id}/$everything from a FHIR server (clinical.h,
 * ms_clinical_fhir_fetch): libcurl, one easy handle reused across the
 * result's pages, a byte budget over all of them, and "next" links kept on
 * the server the caller named (a server-supplied link elsewhere is refused,
 * so a hostile server cannot point the fetch at another host). */
#include "clinical/clinical.h"

#include "core/buf.h"
#include "core/ms.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_buf_t body;
    size_t budget; /* bytes still allowed, all pages */
    int over;
} page_t;

static size_t write_cb(char *p, size_t size, size_t n, void *ctx) {
    page_t *pg = ctx;
    size_t len = size * n;
    if (len > pg->budget) {
        pg->over = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    pg->budget -= len;
    ms_buf_append(&pg->body, p, len);
    return len;
}

/* The FHIR id rule (R4 datatypes: [A-Za-z0-9\-\.]{1,64}). */
static int fhir_id_valid(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* "scheme://host[:port]" of url, into out; 0 or -1. */
static int origin_of(const char *url, char *out, size_t n) {
    const char *s = strstr(url, "://");
    if (!s || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return -1;
    size_t len = (size_t)(s + 3 - url) + strcspn(s + 3, "/?#");
    if (len >= n)
        return -1;
    memcpy(out, url, len);
    out[len] = '\0';
    return 0;
}

/* The Bundle's link with relation "next", or NULL. */
static const char *next_link(json_t *bundle) {
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(bundle, "link"), i, l) {
        const char *rel = json_string_value(json_object_get(l, "relation"));
        if (rel && !strcmp(rel, "next"))
            return json_string_value(json_object_get(l, "url"));
    }
    return NULL;
}

static int get_page(CURL *h, const char *url, page_t *pg, const ms_clinical_fetch_opts_t *o,
                    char *err, size_t errlen) {
    ms_buf_reset(&pg->body);
    curl_easy_setopt(h, CURLOPT_URL, url);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (pg->over) {
        snprintf(err, errlen, "the FHIR server's answer is larger than %zu bytes", o->max_bytes);
        return MS_ETOOBIG;
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "fetching from the FHIR server failed: %s", curl_easy_strerror(cc));
        return MS_EIO;
    }
    if (status != 200) {
        snprintf(err, errlen, "the FHIR server answered HTTP %ld", status);
        return status == 404 ? MS_ENOENT : MS_EIO;
    }
    return 0;
}

static CURL *open_handle(page_t *pg, struct curl_slist **hdrs, const ms_clinical_fetch_opts_t *o) {
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    *hdrs = curl_slist_append(NULL, "Accept: application/fhir+json");
    if (o->bearer && *o->bearer) {
        ms_buf_t a;
        ms_buf_init(&a);
        ms_buf_printf(&a, "Authorization: Bearer %s", o->bearer);
        *hdrs = curl_slist_append(*hdrs, ms_buf_cstr(&a));
        ms_buf_free(&a);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, pg);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    return h;
}

int ms_clinical_fhir_fetch(const char *base, const char *patient_id,
                           const ms_clinical_fetch_opts_t *o, json_t **out, char *err,
                           size_t errlen) {
    char origin[512], next_origin[512];
    *out = NULL;
    if (!base || origin_of(base, origin, sizeof origin) != 0) {
        snprintf(err, errlen, "the FHIR server must be an http:// or https:// URL");
        return MS_EINVAL;
    }
    if (!fhir_id_valid(patient_id)) {
        snprintf(err, errlen, "a patient id is 1 to 64 letters, digits, '-' or '.' (FHIR id)");
        return MS_EINVAL;
    }
    page_t pg = {.budget = o->max_bytes};
    ms_buf_init(&pg.body);
    struct curl_slist *hdrs = NULL;
    CURL *h = open_handle(&pg, &hdrs, o);
    if (!h) {
        snprintf(err, errlen, "libcurl could not start");
        return MS_EIO;
    }
    ms_buf_t url;
    ms_buf_init(&url);
    size_t bl = strlen(base);
    ms_buf_printf(&url, "%.*s/Patient/%s/$everything",
                  (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base, patient_id);
    json_t *all =
        json_pack("{s:s, s:s, s:[]}", "resourceType", "Bundle", "type", "searchset", "entry");
    int rc = 0, pages = 0;
    char *next = ms_buf_take(&url);
    while (next) {
        if (++pages > o->max_pages) {
            snprintf(err, errlen, "the FHIR server's answer has more than %d pages", o->max_pages);
            rc = MS_ETOOBIG;
            break;
        }
        if ((rc = get_page(h, next, &pg, o, err, errlen)) != 0)
            break;
        json_error_t je;
        json_t *b = json_loadb(pg.body.data ? pg.body.data : "", pg.body.len, 0, &je);
        const char *rt = json_string_value(json_object_get(b, "resourceType"));
        if (!rt || strcmp(rt, "Bundle") != 0) {
            snprintf(err, errlen, "page %d from the FHIR server is not a Bundle", pages);
            json_decref(b);
            rc = MS_EFORMAT;
            break;
        }
        json_array_extend(json_object_get(all, "entry"), json_object_get(b, "entry"));
        const char *nl = next_link(b);
        free(next);
        next = NULL;
        if (nl && (origin_of(nl, next_origin, sizeof next_origin) != 0 ||
                   strcmp(next_origin, origin) != 0)) {
            snprintf(err, errlen, "the FHIR server's next page is on another server: refused");
            json_decref(b);
            rc = MS_EFORMAT;
            break;
        }
        if (nl)
            next = ms_xstrdup(nl);
        json_decref(b);
    }
    free(next);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    ms_buf_free(&pg.body);
    if (rc) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}
