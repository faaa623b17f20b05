/* GET /api/models: what can answer on this server, for the web client's
 * model picker. Today a server has exactly one provider, the configured
 * one (--provider); per-request routing between several models comes with
 * the LLM provider work, and will list each route here. Nothing is listed
 * that the server cannot really use. */
#include "api/routes.h"

#include <string.h>

/* What the client shows for each provider medstream has. */
static const struct {
    const char *id, *name, *description;
} known[] = {
    {"offline", "Offline (grounded extractive)",
     "Answers from the knowledge base's own sentences, on this server; nothing leaves it."},
    {"synthetic", "Synthetic (benchmark)",
     "Fixed-size filler chunks for load tests; not an answer to the question."},
};

void ms_api_models(ms_http_req_t *r) {
    const char *id = r->api->cfg->provider;
    const char *name = id, *desc = "";
    for (size_t i = 0; i < MS_COUNTOF(known); i++) {
        if (!strcmp(known[i].id, id)) {
            name = known[i].name;
            desc = known[i].description;
        }
    }
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "id", id, "name", name, "description",
                          desc, "provider", id, "local", 1, "default", 1);
    /* The disclaimer every answer ends with, so a client can show it apart
     * from the answer while it streams in. */
    ms_http_respond_json(r, 200,
                         json_pack("{s:[o], s:s, s:s}", "models", m, "default", id, "disclaimer",
                                   r->api->cfg->disclaimer ? r->api->cfg->disclaimer : ""));
    ms_http_finish(r);
}
