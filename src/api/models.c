/* GET /api/models: what can answer on this server, for the web client's
 * model picker and any client that names a model in its message: the
 * routes of the configuration (llm/registry.h), the default first. A
 * route's id is the alias a client sends as "model"; its providers are
 * named with their kind, model and whether they are local (a question
 * with PHI only goes to local ones). Nothing secret is listed: no URL, no
 * key, no key variable. */
#include "api/routes.h"

#include "chat/chat.h"
#include "llm/registry.h"

#include <string.h>

static json_t *route_json(ms_llm_t *llm, const ms_llm_route_t *r, int is_default) {
    json_t *provs = json_array();
    int all_local = 1;
    for (size_t i = 0; i < r->nproviders; i++) {
        ms_provider_t *p = ms_llm_provider(llm, r->providers[i]);
        all_local &= p->local != 0;
        json_array_append_new(provs, json_pack("{s:s, s:s, s:s, s:b}", "name", ms_provider_name(p),
                                               "kind", p->ops->name, "model", ms_provider_model(p),
                                               "local", p->local != 0));
    }
    const char *desc = r->description;
    if (!desc && r->nproviders == 1)
        desc = ms_llm_provider_description(llm, r->providers[0]);
    ms_provider_t *first = ms_llm_provider(llm, r->providers[0]);
    /* "provider": the first provider's kind, as the one-provider list had. */
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "id", r->alias, "name", r->title,
                     "description", desc ? desc : "", "provider", first->ops->name, "local",
                     all_local, "default", is_default, "providers", provs);
}

void ms_api_models(ms_http_req_t *r) {
    ms_llm_t *llm = ms_chat_llm(r->api->chat);
    const ms_llm_route_t *def = ms_llm_default_route(llm);
    json_t *models = json_array();
    json_array_append_new(models, route_json(llm, def, 1));
    for (size_t i = 0; i < ms_llm_nroutes(llm); i++) {
        const ms_llm_route_t *rt = ms_llm_route_at(llm, i);
        if (rt != def && rt->listed)
            json_array_append_new(models, route_json(llm, rt, 0));
    }
    /* The disclaimer every answer ends with, so a client can show it apart
     * from the answer while it streams in. */
    ms_http_respond_json(r, 200,
                         json_pack("{s:o, s:s, s:s}", "models", models, "default", def->alias,
                                   "disclaimer",
                                   r->api->cfg->disclaimer ? r->api->cfg->disclaimer : ""));
    ms_http_finish(r);
}
