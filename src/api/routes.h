/* Private to the API module: handler signatures shared by the resource files. */
#ifndef MS_API_ROUTES_H
#define MS_API_ROUTES_H

#include "api/api.h"
#include "cite/cite.h"

/* Pool-thread handlers (storage). */
void ms_api_register(ms_http_req_t *r, ms_store_t *st);
void ms_api_login(ms_http_req_t *r, ms_store_t *st);
void ms_api_refresh(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_list(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_create(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_get(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_patch(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_delete(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_messages(ms_http_req_t *r, ms_store_t *st);
void ms_api_kb_search(ms_http_req_t *r, ms_store_t *st);
void ms_api_logout(ms_http_req_t *r, ms_store_t *st);
void ms_api_feedback_put(ms_http_req_t *r, ms_store_t *st);
void ms_api_feedback_get(ms_http_req_t *r, ms_store_t *st);
void ms_api_feedback_delete(ms_http_req_t *r, ms_store_t *st);

/* Citations and exports (citations.c, export.c). */
void ms_api_message_citations(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_export(ms_http_req_t *r, ms_store_t *st);
void ms_api_session_export_markdown(ms_http_req_t *r, ms_store_t *st);
void ms_api_session_export_pdf(ms_http_req_t *r, ms_store_t *st);

/* Loop-thread handlers. */
void ms_api_ws_ticket(ms_http_req_t *r);
void ms_api_chat(ms_http_req_t *r);
void ms_api_health(ms_http_req_t *r);
void ms_api_ready(ms_http_req_t *r);
void ms_api_models(ms_http_req_t *r);
/* The embedded web client: "/" and its files (assets.c). */
void ms_api_asset(ms_http_req_t *r);
/* Whether an Accept-Encoding value accepts gzip (assets.c; exposed for tests). */
int ms__api_accepts_gzip(const char *accept_encoding);

/* Maps a store error to the REST error (404 for both absent and not-owned). */
void ms_api_store_error(ms_http_req_t *r, int err);

/* Sets a response of body (malloc'd, stolen; len bytes) with content_type
 * (a static string). Any thread, like ms_http_respond_json. */
void ms_api_respond_bytes(ms_http_req_t *r, int status, const char *content_type, char *body,
                          size_t len);
/* The ?style= argument (default apa); on a bad one the 400 is set and
 * MS_EINVAL returned. */
int ms_api_style_arg(ms_http_req_t *r, ms_cite_style_t *out);
/* The message {id} if its conversation is the caller's: 0, MS_ENOENT or
 * MS_EPERM (both answered 404), or a storage error. */
int ms_api_owned_message(ms_http_req_t *r, ms_store_t *st, json_t **msg);

#endif
