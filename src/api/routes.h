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
/* Clinical contexts (clinical.c). */
void ms_api_clinical_create(ms_http_req_t *r, ms_store_t *st);
void ms_api_clinical_current(ms_http_req_t *r, ms_store_t *st);
void ms_api_clinical_get(ms_http_req_t *r, ms_store_t *st);
void ms_api_clinical_put(ms_http_req_t *r, ms_store_t *st);
void ms_api_clinical_delete(ms_http_req_t *r, ms_store_t *st);
void ms_api_clinical_import_fhir(ms_http_req_t *r, ms_store_t *st);

/* Folders (folders.c). */
void ms_api_folder_create(ms_http_req_t *r, ms_store_t *st);
void ms_api_folder_list(ms_http_req_t *r, ms_store_t *st);
void ms_api_folder_tree(ms_http_req_t *r, ms_store_t *st);
void ms_api_folder_get(ms_http_req_t *r, ms_store_t *st);
void ms_api_folder_put(ms_http_req_t *r, ms_store_t *st);
void ms_api_folder_delete(ms_http_req_t *r, ms_store_t *st);
void ms_api_folder_move(ms_http_req_t *r, ms_store_t *st);
/* Share links, the owner's side (shares.c). */
void ms_api_share_list(ms_http_req_t *r, ms_store_t *st);
void ms_api_share_revoke(ms_http_req_t *r, ms_store_t *st);
void ms_api_share_accesses(ms_http_req_t *r, ms_store_t *st);

void ms_api_attachment_upload(ms_http_req_t *r, ms_store_t *st);
void ms_api_attachment_list(ms_http_req_t *r, ms_store_t *st);
void ms_api_attachment_delete(ms_http_req_t *r, ms_store_t *st);
void ms_api_attachment_download(ms_http_req_t *r, ms_store_t *st);

/* Attachment uploads stream to this sink (attachments.c): its body limit
 * (max_file_size_mb plus the multipart framing), and the check on the
 * headers (Content-Type multipart/form-data with a boundary: 415 or 400;
 * the body budget's MS_HTTP_SINK_RESERVE: 503). 0 or r->status. */
extern const ms_http_sink_t ms_api_attachment_sink;
int64_t ms_api_attachment_body_limit(const ms_config_t *cfg);
int ms_api_attachment_begin(ms_http_req_t *r);

/* Citations and exports (citations.c, export.c). */
void ms_api_message_citations(ms_http_req_t *r, ms_store_t *st);
void ms_api_conv_export(ms_http_req_t *r, ms_store_t *st);
void ms_api_session_export_markdown(ms_http_req_t *r, ms_store_t *st);
void ms_api_session_export_pdf(ms_http_req_t *r, ms_store_t *st);

/* Loop-thread handlers. */
/* Share links (shares.c): creating one hashes its password and viewing one
 * verifies it, so both queue their work on the auth pool themselves. */
void ms_api_share_create(ms_http_req_t *r);
void ms_api_shared_view(ms_http_req_t *r);
/* After an upload's row is stored: queues its extraction, answers 201. */
void ms_api_attachment_queue(ms_http_req_t *r);
void ms_api_ws_ticket(ms_http_req_t *r);
void ms_api_chat(ms_http_req_t *r);
/* POST /api/workflows/{diagnosis|prescription} (workflow_route.c). */
void ms_api_workflow(ms_http_req_t *r);
void ms_api_health(ms_http_req_t *r);
void ms_api_ready(ms_http_req_t *r);
void ms_api_models(ms_http_req_t *r);
/* The operator's routes (health.c): loopback or the metrics token. */
void ms_api_metrics(ms_http_req_t *r);
void ms_api_health_providers(ms_http_req_t *r);
/* The embedded web client: "/" and its files (assets.c). */
void ms_api_asset(ms_http_req_t *r);
/* Whether an Accept-Encoding value accepts gzip (assets.c; exposed for tests). */
int ms__api_accepts_gzip(const char *accept_encoding);

/** Segment n (0-based; "/api/x/y": 0 is "api") of the request path into
 * out (size outlen), for routes with two ids, since the route table's
 * match keeps only the last "{id}" in r->param. MS_ENOENT when there is
 * no such segment or it does not fit. */
int ms__api_path_segment(const ms_http_req_t *r, int n, char *out, size_t outlen);
/** An optional string field of body that may be null: *present whether
 * the key is there, *value the string (NULL for absent or null).
 * MS_EINVAL when it is of another type or holds a NUL byte. */
int ms__api_opt_str(json_t *body, const char *key, int *present, const char **value);

/* The OpenAI-compatible API (openai_api.c): POST /v1/chat/completions and
 * GET /v1/models run on the loop once the API key has been checked. */
void ms_api_openai_chat(ms_http_req_t *r);
void ms_api_openai_models(ms_http_req_t *r);
/** Whether the Authorization header has the shape of a medstream API key
 * ("Bearer msk-" and 43 URL-safe base64 characters): checked on the
 * headers, before the body is read. */
int ms__api_apikey_present(const ms_http_req_t *r);
/** On a pool thread: looks the key up by its SHA-256 and sets r->user.sub
 * to its user; otherwise sets a 401 (unknown or revoked key) or the store
 * error and returns non-zero. */
int ms__api_apikey_check(ms_http_req_t *r, ms_store_t *st);

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
