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

/* Loop-thread handlers. */
void ms_api_ws_ticket(ms_http_req_t *r);
void ms_api_chat(ms_http_req_t *r);
void ms_api_health(ms_http_req_t *r);
void ms_api_ready(ms_http_req_t *r);
void ms_api_index(ms_http_req_t *r);

/* Maps a store error to the REST error (404 for both absent and not-owned). */
void ms_api_store_error(ms_http_req_t *r, int err);

#endif
