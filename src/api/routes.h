/* Private to the API module: handler signatures shared by the resource files. */
#ifndef MS_API_ROUTES_H
#define MS_API_ROUTES_H

#include "api/api.h"

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

/* Loop-thread handlers. */
/* Share links (shares.c): creating one hashes its password and viewing one
 * verifies it, so both queue their work on the auth pool themselves. */
void ms_api_share_create(ms_http_req_t *r);
void ms_api_shared_view(ms_http_req_t *r);
void ms_api_ws_ticket(ms_http_req_t *r);
void ms_api_chat(ms_http_req_t *r);
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

/* Maps a store error to the REST error (404 for both absent and not-owned). */
void ms_api_store_error(ms_http_req_t *r, int err);

#endif
