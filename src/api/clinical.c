/* /api/clinical-contexts: a patient's clinical context (seed 002, Phase 8,
 * "Clinical Context Persistence"), and its import from a FHIR R4 Bundle.
 *
 * Bodies are checked by src/clinical (types, units, ranges: a 400 names the
 * field); the store scopes every call to the token's user, so another
 * user's context or conversation is a 404 exactly like a missing one. A
 * context may be bound to conversations: by conversation_id (or seed 002's
 * session_id) on POST, PUT and import, and by a chat message's
 * clinical_context_id (src/chat). */
#include "clinical/clinical.h"
#include "api/routes.h"

#include <stdlib.h>
#include <string.h>

static ms_clinical_limits_t limits_of(const ms_http_req_t *r) {
    ms_clinical_limits_t lim = {(size_t)r->api->cfg->clinical_max_items,
                                (size_t)r->api->cfg->clinical_max_chars};
    return lim;
}

static void not_found(ms_http_req_t *r, const char *what) {
    ms_http_respond_error(r, 404, "not_found", what);
}

/* The conversation a request names: conversation_id, or seed 002's
 * session_id, from the body (json, may be NULL) or else the query. *out is
 * NULL when none is named; the id is copied into buf. 0, or MS_EINVAL with
 * the 400 already set. */
static int named_conversation(ms_http_req_t *r, json_t *json, char buf[MS_ID_LEN],
                              const char **out) {
    static const char *const names[] = {"conversation_id", "session_id"};
    char id[MS_ID_LEN];
    *out = NULL;
    for (size_t i = 0; i < MS_COUNTOF(names); i++) {
        json_t *v = json_object_get(json, names[i]);
        char *q = json ? NULL : ms_http_query_arg(r, names[i]);
        const char *s = v ? json_string_value(v) : q;
        int bad = v && !json_is_null(v) && !json_is_string(v);
        if (s && !bad) {
            /* Ids are stored lower-case (ms_id_new). */
            size_t n = strlen(s);
            for (size_t k = 0; k < n && k < MS_ID_LEN - 1; k++)
                id[k] = (char)(s[k] >= 'A' && s[k] <= 'F' ? s[k] + 32 : s[k]);
            id[n < MS_ID_LEN - 1 ? n : MS_ID_LEN - 1] = '\0';
            bad = n != MS_ID_LEN - 1 || !ms_id_valid(id) || (*out && strcmp(id, *out) != 0);
            if (!bad && !*out) {
                memcpy(buf, id, MS_ID_LEN);
                *out = buf;
            }
        }
        free(q);
        if (bad) {
            ms_http_respond_error(r, 400, "invalid_request",
                                  "conversation_id (or session_id) must be the id of one of your "
                                  "conversations");
            return MS_EINVAL;
        }
    }
    return 0;
}

/* The context members of the request body, checked: a copy without the
 * conversation members. 0, or MS_EINVAL with the 400 set. */
static int checked_fields(ms_http_req_t *r, json_t **out) {
    json_t *in = json_deep_copy(r->json);
    json_object_del(in, "conversation_id");
    json_object_del(in, "session_id");
    char err[256];
    ms_clinical_limits_t lim = limits_of(r);
    int rc = ms_clinical_check(in, &lim, out, err, sizeof err);
    json_decref(in);
    if (rc)
        ms_http_respond_error(r, 400, "invalid_request", err);
    return rc;
}

static void store_failed(ms_http_req_t *r, int rc, const char *missing) {
    if (rc == MS_ENOENT)
        not_found(r, missing);
    else
        ms_api_store_error(r, rc);
}

void ms_api_clinical_create(ms_http_req_t *r, ms_store_t *st) {
    char cbuf[MS_ID_LEN];
    const char *conv;
    json_t *fields = NULL, *out = NULL;
    if (named_conversation(r, r->json, cbuf, &conv) || checked_fields(r, &fields))
        return;
    int rc = ms_store_clinical_create(st, r->user.sub, fields, "manual", conv, &out);
    json_decref(fields);
    if (rc == MS_EEXIST) {
        ms_http_respond_error(r, 409, "conflict",
                              "this conversation already has a clinical context; change it with "
                              "PUT /api/clinical-contexts/{id}");
        return;
    }
    if (rc) {
        store_failed(r, rc, "no such conversation");
        return;
    }
    ms_http_respond_json(r, 201, out);
}

void ms_api_clinical_current(ms_http_req_t *r, ms_store_t *st) {
    char cbuf[MS_ID_LEN];
    const char *conv;
    json_t *out = NULL;
    if (named_conversation(r, NULL, cbuf, &conv))
        return;
    int rc = ms_store_clinical_current(st, r->user.sub, conv, &out);
    if (rc) {
        store_failed(r, rc,
                     conv ? "that conversation has no clinical context"
                          : "you have no clinical context yet");
        return;
    }
    ms_http_respond_json(r, 200, out);
}

void ms_api_clinical_get(ms_http_req_t *r, ms_store_t *st) {
    json_t *out = NULL;
    int rc =
        ms_id_valid(r->param) ? ms_store_clinical_get(st, r->user.sub, r->param, &out) : MS_ENOENT;
    if (rc) {
        store_failed(r, rc, "no such clinical context");
        return;
    }
    ms_http_respond_json(r, 200, out);
}

/* PUT: the members given replace the stored ones (null clears one; vitals is
 * replaced whole); conversation_id binds that conversation to it too. */
void ms_api_clinical_put(ms_http_req_t *r, ms_store_t *st) {
    char cbuf[MS_ID_LEN];
    const char *conv;
    json_t *fields = NULL, *out = NULL;
    if (named_conversation(r, r->json, cbuf, &conv) || checked_fields(r, &fields))
        return;
    int rc =
        ms_id_valid(r->param) ? ms_store_clinical_get(st, r->user.sub, r->param, &out) : MS_ENOENT;
    json_decref(out);
    out = NULL;
    if (rc) {
        json_decref(fields);
        store_failed(r, rc, "no such clinical context");
        return;
    }
    if (conv && (rc = ms_store_clinical_bind(st, r->user.sub, conv, r->param)) != 0) {
        json_decref(fields);
        store_failed(r, rc, "no such conversation");
        return;
    }
    rc = ms_store_clinical_update(st, r->user.sub, r->param, fields, NULL, &out);
    json_decref(fields);
    if (rc) {
        store_failed(r, rc, "no such clinical context");
        return;
    }
    ms_http_respond_json(r, 200, out);
}

void ms_api_clinical_delete(ms_http_req_t *r, ms_store_t *st) {
    int rc =
        ms_id_valid(r->param) ? ms_store_clinical_delete(st, r->user.sub, r->param) : MS_ENOENT;
    if (rc) {
        store_failed(r, rc, "no such clinical context");
        return;
    }
    ms_http_respond_json(r, 204, NULL);
}

/* ?replace=true|false (default false). 0, or MS_EINVAL with the 400 set. */
static int replace_arg(ms_http_req_t *r, int *out) {
    char *v = ms_http_query_arg(r, "replace");
    *out = v && (!strcmp(v, "true") || !strcmp(v, "1"));
    int ok = !v || *out || !strcmp(v, "false") || !strcmp(v, "0");
    free(v);
    if (!ok)
        ms_http_respond_error(r, 400, "invalid_request", "replace must be true or false");
    return ok ? 0 : MS_EINVAL;
}

/* Stores an imported context: replacing the one bound to conv when asked,
 * else as a new context. *status gets 200 or 201. */
static int store_import(ms_http_req_t *r, ms_store_t *st, json_t *ctx, const char *conv,
                        int replace, json_t **out, int *status) {
    json_t *cur = NULL;
    if (conv && replace && ms_store_clinical_current(st, r->user.sub, conv, &cur) == 0) {
        int rc = ms_store_clinical_update(
            st, r->user.sub, json_string_value(json_object_get(cur, "id")), ctx, "fhir", out);
        json_decref(cur);
        *status = 200;
        return rc;
    }
    *status = 201;
    return ms_store_clinical_create(st, r->user.sub, ctx, "fhir", conv, out);
}

/* The body is parsed here, on the pool thread, not by the dispatcher on the
 * loop: a Synthea bundle is most of a megabyte of JSON. */
void ms_api_clinical_import_fhir(ms_http_req_t *r, ms_store_t *st) {
    char cbuf[MS_ID_LEN], err[256];
    const char *conv;
    int replace, status = 0;
    if (named_conversation(r, NULL, cbuf, &conv) || replace_arg(r, &replace))
        return;
    json_error_t je;
    json_t *bundle =
        r->body.len ? json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(bundle)) {
        json_decref(bundle);
        ms_http_respond_error(r, 400, "invalid_request",
                              "the body must be a FHIR R4 Bundle (a JSON object)");
        return;
    }
    json_t *ctx = NULL, *warnings = NULL, *out = NULL;
    ms_clinical_limits_t lim = limits_of(r);
    ms_clinical_import_counts_t n;
    int rc = ms_clinical_from_fhir(bundle, ms_now_ms(), &lim, &ctx, &warnings, &n, err, sizeof err);
    json_decref(bundle);
    if (rc) {
        ms_http_respond_error(r, 400, "invalid_request", err);
        return;
    }
    rc = store_import(r, st, ctx, conv, replace, &out, &status);
    json_decref(ctx);
    if (rc == MS_EEXIST) {
        json_decref(warnings);
        ms_http_respond_error(r, 409, "conflict",
                              "this conversation already has a clinical context; import with "
                              "?replace=true to replace it");
        return;
    }
    if (rc) {
        json_decref(warnings);
        store_failed(r, rc, "no such conversation");
        return;
    }
    json_object_set_new(out, "import",
                        json_pack("{s:o, s:{s:i, s:i, s:i, s:i, s:i, s:i}}", "warnings", warnings,
                                  "counts", "entries", n.entries, "conditions", n.conditions,
                                  "medications", n.medications, "allergies", n.allergies, "vitals",
                                  n.vitals, "skipped", n.skipped));
    ms_http_respond_json(r, status, out);
}
