/* Conversation exports (docs/protocol.md "Exports"; seed 002 "Export
 * API"): GET /api/conversations/{id}/export?format=markdown|pdf, and the
 * seed's spellings GET /api/sessions/{id}/export/markdown and /export/pdf
 * (a session is a conversation id). ?style= picks the citation style
 * (default apa). Another user's conversation is a 404, as an absent one.
 *
 * Bounded (core/config.h): at most export_max_messages messages and
 * export_max_bytes of message text, and a PDF at most export_max_pages
 * pages; a conversation over a bound gets 413 too_large saying which,
 * before (or, for pages, instead of) any rendering. */
#include "api/routes.h"

#include "export/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { EXPORT_MARKDOWN, EXPORT_PDF } export_kind_t;

/* The export's limits; 0 when within them, else the 413 is set. */
static int within_limits(ms_http_req_t *r, json_t *msgs) {
    const ms_config_t *cfg = r->api->cfg;
    size_t n = json_array_size(msgs), bytes = 0, i;
    json_t *m;
    json_array_foreach(msgs, i, m) bytes += json_string_length(json_object_get(m, "content"));
    char why[200];
    if ((int64_t)n > cfg->export_max_messages)
        snprintf(why, sizeof why,
                 "the conversation has %zu messages; an export holds at most %lld "
                 "(export_max_messages)",
                 n, (long long)cfg->export_max_messages);
    else if ((int64_t)bytes > cfg->export_max_bytes)
        snprintf(why, sizeof why,
                 "the conversation has %zu bytes of text; an export holds at most %lld "
                 "(export_max_bytes)",
                 bytes, (long long)cfg->export_max_bytes);
    else
        return 0;
    ms_http_respond_error(r, 413, "too_large", why);
    return MS_ETOOBIG;
}

static void run_export(ms_http_req_t *r, ms_store_t *st, export_kind_t kind) {
    ms_cite_style_t style;
    if (ms_api_style_arg(r, &style))
        return;
    json_t *conv = NULL, *msgs = NULL, *tools = NULL;
    ms_user_t user;
    int rc = ms_id_valid(r->param) ? ms_store_conversation_get(st, r->user.sub, r->param, &conv)
                                   : MS_ENOENT;
    if (!rc)
        rc = ms_store_user_by_id(st, r->user.sub, &user);
    if (!rc)
        rc = ms_store_message_list(st, r->param, &msgs);
    if (!rc)
        rc = ms_store_tools_by_conversation(st, r->param, &tools);
    if (rc) {
        ms_api_store_error(r, rc);
        goto done;
    }
    if (within_limits(r, msgs))
        goto done;
    ms_export_doc_t doc = {.conversation = conv,
                           .messages = msgs,
                           .tools = tools,
                           .user_email = user.email,
                           .disclaimer = r->api->cfg->disclaimer,
                           .style = style,
                           .exported_at_ms = ms_now_ms(),
                           .max_pages = r->api->cfg->export_max_pages};
    char disp[128];
    if (kind == EXPORT_MARKDOWN) {
        ms_buf_t b;
        ms_buf_init(&b);
        ms_export_markdown(&doc, &b);
        size_t len = b.len;
        ms_api_respond_bytes(r, 200, "text/markdown; charset=utf-8", ms_buf_take(&b), len);
        snprintf(disp, sizeof disp, "attachment; filename=\"conversation-%s.md\"", r->param);
    } else {
        char *pdf = NULL;
        size_t len = 0;
        int pages = 0;
        rc = ms_export_pdf(&doc, &pdf, &len, &pages);
        if (rc == MS_ETOOBIG) {
            char why[160];
            snprintf(why, sizeof why, "the PDF would have more than %lld pages (export_max_pages)",
                     (long long)r->api->cfg->export_max_pages);
            ms_http_respond_error(r, 413, "too_large", why);
            goto done;
        }
        if (rc) {
            ms_api_store_error(r, rc);
            goto done;
        }
        ms_api_respond_bytes(r, 200, "application/pdf", pdf, len);
        snprintf(disp, sizeof disp, "attachment; filename=\"conversation-%s.pdf\"", r->param);
        char n[24];
        snprintf(n, sizeof n, "%d", pages);
        ms_http_add_header(r, "x-export-pages", n);
    }
    ms_http_add_header(r, "content-disposition", disp);
done:
    json_decref(conv);
    json_decref(msgs);
    json_decref(tools);
}

void ms_api_conv_export(ms_http_req_t *r, ms_store_t *st) {
    char *f = ms_http_query_arg(r, "format");
    export_kind_t kind = EXPORT_MARKDOWN;
    int ok = !f || !strcmp(f, "markdown") || !strcmp(f, "md") || !strcmp(f, "pdf");
    if (f && !strcmp(f, "pdf"))
        kind = EXPORT_PDF;
    free(f);
    if (!ok) {
        ms_http_respond_error(r, 400, "invalid_request", "format must be markdown or pdf");
        return;
    }
    run_export(r, st, kind);
}

void ms_api_session_export_markdown(ms_http_req_t *r, ms_store_t *st) {
    run_export(r, st, EXPORT_MARKDOWN);
}

void ms_api_session_export_pdf(ms_http_req_t *r, ms_store_t *st) {
    run_export(r, st, EXPORT_PDF);
}
