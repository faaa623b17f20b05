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

/* Loop-thread handlers. */
void ms_api_ws_ticket(ms_http_req_t *r);
void ms_api_chat(ms_http_req_t *r);
/* POST /api/workflows/{diagnosis|prescription} (workflow_route.c). */
void ms_api_workflow(ms_http_req_t *r);
void ms_api_health(ms_http_req_t *r);
void ms_api_ready(ms_http_req_t *r);
void ms_api_models(ms_http_req_t *r);
/* The embedded web client: "/" and its files (assets.c). */
void ms_api_asset(ms_http_req_t *r);
/* Whether an Accept-Encoding value accepts gzip (assets.c; exposed for tests). */
int ms__api_accepts_gzip(const char *accept_encoding);

/* Maps a store error to the REST error (404 for both absent and not-owned). */
void ms_api_store_error(ms_http_req_t *r, int err);

#endif
