/* GET /api/messages/{id}/citations: a message's citations formatted in a
 * style (?style=apa|mla|chicago|vancouver|ama, default apa) with their
 * in-text markers and the bibliography, or exported (?format=bibtex|ris).
 * The message's conversation must be the caller's (404 otherwise, as for
 * an absent message). Citations are dated by the message: the answer's
 * day is when its sources were consulted. */
#include "api/routes.h"

#include "cite/cite.h"
#include "export/export.h"

#include <stdlib.h>
#include <string.h>

void ms_api_respond_bytes(ms_http_req_t *r, int status, const char *content_type, char *body,
                          size_t len) {
    if (!r->resp_static)
        free(r->resp_body);
    r->resp_static = 0;
    r->status = status;
    r->content_type = content_type;
    r->resp_body = body;
    r->resp_len = len;
}

int ms_api_style_arg(ms_http_req_t *r, ms_cite_style_t *out) {
    char *s = ms_http_query_arg(r, "style");
    *out = MS_CITE_APA;
    int rc = s ? ms_cite_parse_style(s, out) : 0;
    free(s);
    if (rc)
        ms_http_respond_error(r, 400, "invalid_request",
                              "style must be one of apa, mla, chicago, vancouver, ama");
    return rc;
}

int ms_api_owned_message(ms_http_req_t *r, ms_store_t *st, json_t **msg) {
    *msg = NULL;
    if (!ms_id_valid(r->param))
        return MS_ENOENT;
    int rc = ms_store_message_get(st, r->param, msg);
    if (rc)
        return rc;
    json_t *conv = NULL;
    rc = ms_store_conversation_get(
        st, r->user.sub, json_string_value(json_object_get(*msg, "conversation_id")), &conv);
    json_decref(conv);
    if (rc) {
        json_decref(*msg);
        *msg = NULL;
    }
    return rc;
}

static void attachment(ms_http_req_t *r, const char *id, const char *ext) {
    char v[128];
    snprintf(v, sizeof v, "attachment; filename=\"citations-%s.%s\"", id, ext);
    ms_http_add_header(r, "content-disposition", v);
}

void ms_api_message_citations(ms_http_req_t *r, ms_store_t *st) {
    ms_cite_style_t style;
    if (ms_api_style_arg(r, &style))
        return;
    char *fmt = ms_http_query_arg(r, "format");
    int kind = !fmt || !strcmp(fmt, "json") ? 0
               : !strcmp(fmt, "bibtex")     ? 1
               : !strcmp(fmt, "ris")        ? 2
                                            : -1;
    free(fmt);
    if (kind < 0) {
        ms_http_respond_error(r, 400, "invalid_request", "format must be json, bibtex or ris");
        return;
    }
    json_t *msg = NULL;
    int rc = ms_api_owned_message(r, st, &msg);
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    json_t *cits = ms_export_citations(msg);
    if (kind == 1) {
        char *bib = ms_cite_bibtex(cits, NULL);
        ms_api_respond_bytes(r, 200, "application/x-bibtex; charset=utf-8", bib, strlen(bib));
        attachment(r, r->param, "bib");
    } else if (kind == 2) {
        char *ris = ms_cite_ris(cits, NULL);
        ms_api_respond_bytes(r, 200, "application/x-research-info-systems; charset=utf-8", ris,
                             strlen(ris));
        attachment(r, r->param, "ris");
    } else {
        json_t *out = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(cits, i, c) {
            ms_cite_ref_t ref;
            if (ms_cite_format(c, style, NULL, &ref) != 0)
                continue;
            json_t *o = json_deep_copy(c);
            int n = (int)json_integer_value(json_object_get(c, "index"));
            char *it = ms_cite_in_text(c, style, n);
            json_object_set_new(o, "in_text", json_string(it));
            json_object_set_new(o, "formatted",
                                json_pack("{s:s, s:s, s:s}", "text", ref.text, "markdown",
                                          ref.markdown, "html", ref.html));
            free(it);
            ms_cite_ref_free(&ref);
            json_array_append_new(out, o);
        }
        ms_http_respond_json(r, 200,
                             json_pack("{s:s, s:s, s:s, s:o, s:o}", "message_id", r->param, "style",
                                       ms_cite_style_name(style), "label",
                                       ms_cite_style_label(style), "citations", out, "bibliography",
                                       ms_cite_bibliography(cits, style, NULL)));
    }
    json_decref(cits);
    json_decref(msg);
}
