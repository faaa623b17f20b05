/* Private to src/app. */
#ifndef MS_APP_INTERNAL_H
#define MS_APP_INTERNAL_H

#include "api/api.h"
#include "app/app.h"
#include "chat/work.h"
#include "kb/kb.h"
#include "store/store.h"

/* startup.c */
int ms__app_jwt_key(const ms_config_t *cfg, ms_api_t *api);
int ms__app_prepare_data(const ms_config_t *cfg, ms_node_t *node, int64_t *users);
void ms__app_release_node(const ms_config_t *cfg, const char *node_id);
int ms__app_reap_local(ms_store_t *st, const ms_node_t *self);

#endif
