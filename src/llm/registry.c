/* The provider registry (llm/registry.h): a table of kinds, the providers
 * and routes of the configuration, their counters and breakers. */
#include "llm/registry.h"
#include "llm/llm_config.h"
#include "llm/remote.h"

#include "core/ms.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef struct {
    ms_provider_t *p;
    int owned;
    char *name;
    char *title;
    char *description;
    ms_llm_stats_t stats;
    ms_breaker_t breaker;
    ms_llm_probe_cache_t probe;
} slot_t;

struct ms_llm {
    slot_t *slots;
    size_t n;
    ms_llm_route_t *routes;
    size_t nroutes;
    size_t default_route;
    ms_llm_http_t *http;
};

struct ms_llm_kind {
    const char *name;
    int remote;        /* talks to a model server: base_url and model required */
    const char *title; /* of the built-in provider of this kind, or NULL */
    const char *description;
    ms_provider_t *(*create)(json_t *entry, const ms_llm_env_t *env, ms_llm_t *llm, char *err,
                             size_t errlen);
};

static int errf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return MS_EINVAL;
}

/* ---- the kinds ------------------------------------------------------------ */

static ms_provider_t *make_offline(json_t *e, const ms_llm_env_t *env, ms_llm_t *llm, char *err,
                                   size_t errlen) {
    (void)e, (void)llm, (void)err, (void)errlen;
    const ms_config_t *cfg = env->cfg;
    ms_offline_config_t oc = {.word_interval_ms = (int)cfg->word_interval_ms,
                              .min_score = cfg->kb_min_score,
                              .max_sentences = 5,
                              .pool = env->kb_pool};
    return ms_provider_offline_new(&oc);
}

static ms_provider_t *make_synthetic(json_t *e, const ms_llm_env_t *env, ms_llm_t *llm, char *err,
                                     size_t errlen) {
    (void)e, (void)llm, (void)err, (void)errlen;
    const ms_config_t *cfg = env->cfg;
    ms_synthetic_config_t sc = {.chunks = (int)cfg->syn_chunks,
                                .chunk_bytes = (int)cfg->syn_chunk_bytes,
                                .interval_ms = (int)cfg->syn_interval_ms};
    return ms_provider_synthetic_new(&sc);
}

static char *str_or_null(json_t *e, const char *key) {
    const char *s = json_string_value(json_object_get(e, key));
    return s ? ms_xstrdup(s) : NULL;
}

static int64_t int_or(json_t *e, const char *key, int64_t dflt) {
    json_t *v = json_object_get(e, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* A remote provider's settings: the entry's, else the server-wide
 * defaults (llm_* settings); the key from its environment variable. */
static ms_provider_t *make_remote(const ms_remote_wire_t *wire, json_t *e, const ms_llm_env_t *env,
                                  ms_llm_t *llm, char *err, size_t errlen) {
    const ms_config_t *cfg = env->cfg;
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *key_env = json_string_value(json_object_get(e, "api_key_env"));
    const char *key = key_env ? getenv(key_env) : NULL;
    if (key_env && (!key || !*key)) {
        errf(err, errlen, "provider \"%s\": the environment variable %s (api_key_env) is not set",
             name, key_env);
        return NULL;
    }
    const char *phi_mode = json_string_value(json_object_get(e, "phi_mode"));
    if (phi_mode && strcmp(phi_mode, "refuse") != 0 && strcmp(phi_mode, "redact") != 0) {
        errf(err, errlen, "provider \"%s\": \"phi_mode\" must be \"refuse\" or \"redact\"", name);
        return NULL;
    }
    if (!wire->azure && json_object_get(e, "azure_deployment")) {
        errf(err, errlen, "provider \"%s\": \"azure_deployment\" is for kind openai", name);
        return NULL;
    }
    ms_remote_spec_t *s = ms_xcalloc(1, sizeof *s);
    s->name = ms_xstrdup(name);
    s->base_url = str_or_null(e, "base_url");
    s->model = str_or_null(e, "model");
    s->api_key = key ? ms_xstrdup(key) : NULL;
    s->azure_deployment = str_or_null(e, "azure_deployment");
    s->api_version = str_or_null(e, "api_version");
    json_t *local = json_object_get(e, "local");
    s->local = json_is_true(local); /* not said: not local (PHI never goes there) */
    json_t *su = json_object_get(e, "stream_usage");
    s->stream_usage = su ? json_is_true(su) : 1;
    s->connect_timeout_ms = int_or(e, "connect_timeout_ms", cfg->llm_connect_timeout_ms);
    s->first_token_timeout_ms =
        int_or(e, "first_token_timeout_ms", cfg->llm_first_token_timeout_ms);
    s->idle_timeout_ms = int_or(e, "idle_timeout_ms", cfg->llm_idle_timeout_ms);
    s->max_tokens = int_or(e, "max_tokens", cfg->llm_max_tokens);
    json_t *t = json_object_get(e, "temperature");
    s->temperature = json_is_number(t) ? json_number_value(t) : -1;
    s->max_line_bytes = (size_t)cfg->llm_max_line_bytes;
    if (!llm->http)
        llm->http = ms_llm_http_new(env->loop);
    ms_provider_t *p = ms__remote_provider_new(wire, s, llm->http);
    p->phi_redact = phi_mode && !strcmp(phi_mode, "redact");
    return p;
}

static ms_provider_t *make_ollama(json_t *e, const ms_llm_env_t *env, ms_llm_t *llm, char *err,
                                  size_t errlen) {
    return make_remote(&ms__wire_ollama, e, env, llm, err, errlen);
}

static ms_provider_t *make_openai(json_t *e, const ms_llm_env_t *env, ms_llm_t *llm, char *err,
                                  size_t errlen) {
    return make_remote(&ms__wire_openai, e, env, llm, err, errlen);
}

static const ms_llm_kind_t kinds[] = {
    {"offline", 0, "Offline (grounded extractive)",
     "Answers from the knowledge base's own sentences, on this server; nothing leaves it.",
     make_offline},
    {"synthetic", 0, "Synthetic (benchmark)",
     "Fixed-size filler chunks for load tests; not an answer to the question.", make_synthetic},
    {"ollama", 1, NULL, "A model served by Ollama (POST /api/chat).", make_ollama},
    {"openai", 1, NULL, "A model served over OpenAI's chat completions API.", make_openai},
};

const ms_llm_kind_t *ms_llm_kind(const char *name) {
    for (size_t i = 0; name && i < MS_COUNTOF(kinds); i++)
        if (!strcmp(kinds[i].name, name))
            return &kinds[i];
    return NULL;
}

const char *ms_llm_kind_names(void) {
    return "offline, synthetic, ollama, openai";
}

/* ---- building ----------------------------------------------------------- */

static ms_breaker_config_t breaker_cfg(const ms_config_t *cfg) {
    return (ms_breaker_config_t){.failures = (int)cfg->breaker_failures,
                                 .window_ms = cfg->breaker_window_ms,
                                 .cooldown_ms = cfg->breaker_cooldown_ms};
}

static slot_t *add_slot(ms_llm_t *llm, ms_provider_t *p, const char *name, const char *title,
                        const char *desc, const ms_breaker_config_t *bc, int owned) {
    llm->slots = ms_xrealloc(llm->slots, (llm->n + 1) * sizeof *llm->slots);
    slot_t *s = &llm->slots[llm->n++];
    memset(s, 0, sizeof *s);
    s->p = p;
    s->owned = owned;
    s->name = ms_xstrdup(name);
    s->title = ms_xstrdup(title ? title : name);
    s->description = ms_xstrdup(desc ? desc : "");
    ms_breaker_init(&s->breaker, bc);
    if (owned)
        p->name = s->name;
    return s;
}

static ssize_t find_slot(const ms_llm_t *llm, const char *name) {
    for (size_t i = 0; i < llm->n; i++)
        if (!strcmp(llm->slots[i].name, name))
            return (ssize_t)i;
    return -1;
}

static ms_llm_route_t *add_route(ms_llm_t *llm, const char *alias, const char *title,
                                 const char *desc, int listed) {
    llm->routes = ms_xrealloc(llm->routes, (llm->nroutes + 1) * sizeof *llm->routes);
    ms_llm_route_t *r = &llm->routes[llm->nroutes++];
    memset(r, 0, sizeof *r);
    r->alias = ms_xstrdup(alias);
    r->title = ms_xstrdup(title ? title : alias);
    r->description = desc ? ms_xstrdup(desc) : NULL;
    r->listed = listed;
    return r;
}

static int add_providers(ms_llm_t *llm, const ms_llm_env_t *env, json_t *arr, const char *path,
                         char *err, size_t errlen) {
    ms_breaker_config_t bc = breaker_cfg(env->cfg);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_object(e))
            return errf(err, errlen, "config %s: providers[%zu] must be an object", path, i);
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const ms_llm_kind_t *k = ms_llm_kind(kind);
        if (!k)
            return errf(err, errlen, "config %s: providers[%zu]: \"kind\" must be one of %s", path,
                        i, ms_llm_kind_names());
        if (ms__llm_check_provider(e, i, k->remote, path, err, errlen))
            return MS_EINVAL;
        const char *name = json_string_value(json_object_get(e, "name"));
        if (find_slot(llm, name) >= 0)
            return errf(err, errlen, "config %s: providers[%zu]: the name \"%s\" is taken", path, i,
                        name);
        char sub[200] = "";
        ms_provider_t *p = k->create(e, env, llm, sub, sizeof sub);
        if (!p)
            return errf(err, errlen, "config %s: %s", path, sub);
        const char *desc = json_string_value(json_object_get(e, "description"));
        add_slot(llm, p, name, NULL, desc ? desc : k->description, &bc, 1);
        if (!k->remote)
            p->local = 1;
    }
    return 0;
}

/* "alias": ["p1", "p2"] or "alias": {"providers": [...], "description": "..."}. */
static int add_routes(ms_llm_t *llm, json_t *obj, const char *path, char *err, size_t errlen) {
    const char *alias;
    json_t *v;
    json_object_foreach(obj, alias, v) {
        if (!ms__llm_name_ok(alias))
            return errf(err, errlen,
                        "config %s: routes: the alias \"%.40s\" must be 1 to 64 of "
                        "A-Z a-z 0-9 - _ . :",
                        path, alias);
        json_t *list = v;
        const char *desc = NULL, *title = NULL, *phi_mode = NULL;
        if (json_is_object(v)) {
            const char *k;
            json_t *x;
            json_object_foreach(v, k, x) {
                if (strcmp(k, "providers") != 0 && strcmp(k, "description") != 0 &&
                    strcmp(k, "title") != 0 && strcmp(k, "retrieval") != 0 &&
                    strcmp(k, "phi_mode") != 0)
                    return errf(err, errlen, "config %s: routes.%s: unknown field \"%.40s\"", path,
                                alias, k);
                if (!strcmp(k, "retrieval")) {
                    if (!json_is_boolean(x))
                        return errf(err, errlen,
                                    "config %s: routes.%s: \"retrieval\" must be true or false",
                                    path, alias);
                    continue;
                }
                if (strcmp(k, "providers") != 0 &&
                    (!json_is_string(x) || json_string_length(x) > 200))
                    return errf(err, errlen,
                                "config %s: routes.%s: \"%s\" must be a string of up to 200 bytes",
                                path, alias, k);
            }
            list = json_object_get(v, "providers");
            phi_mode = json_string_value(json_object_get(v, "phi_mode"));
            if (phi_mode && strcmp(phi_mode, "refuse") != 0 && strcmp(phi_mode, "redact") != 0)
                return errf(err, errlen,
                            "config %s: routes.%s: \"phi_mode\" must be \"refuse\" or \"redact\"",
                            path, alias);
            desc = json_string_value(json_object_get(v, "description"));
            title = json_string_value(json_object_get(v, "title"));
        }
        if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 16)
            return errf(err, errlen,
                        "config %s: routes.%s: must be a list of 1 to 16 provider names", path,
                        alias);
        ms_llm_route_t *r = add_route(llm, alias, title, desc, 1);
        r->no_retrieval = json_is_false(json_object_get(v, "retrieval"));
        r->phi_redact = phi_mode && !strcmp(phi_mode, "redact");
        r->providers = ms_xcalloc(json_array_size(list), sizeof *r->providers);
        size_t i;
        json_t *name;
        json_array_foreach(list, i, name) {
            const char *n = json_string_value(name);
            ssize_t s = n ? find_slot(llm, n) : -1;
            if (s < 0)
                return errf(err, errlen, "config %s: routes.%s[%zu]: no provider named \"%.64s\"",
                            path, alias, i, n ? n : "(not a string)");
            for (size_t j = 0; j < r->nproviders; j++)
                if (r->providers[j] == (size_t)s)
                    return errf(err, errlen, "config %s: routes.%s: \"%s\" is listed twice", path,
                                alias, n);
            r->providers[r->nproviders++] = (size_t)s;
        }
    }
    return 0;
}

int ms_llm_new(const ms_llm_env_t *env, ms_llm_t **out, char *err, size_t errlen) {
    *out = NULL;
    const ms_config_t *cfg = env->cfg;
    const char *path = cfg->config_file;
    json_t *providers = NULL, *routes = NULL;
    int rc = ms__llm_config_read(path, &providers, &routes, err, errlen);
    if (rc)
        return rc;
    ms_llm_t *llm = ms_xcalloc(1, sizeof *llm);
    if (providers && (rc = add_providers(llm, env, providers, path, err, errlen)) != 0)
        goto fail;
    /* The built-ins, unless the file named providers so. */
    ms_breaker_config_t bc = breaker_cfg(cfg);
    static const char *const builtin[] = {"offline", "synthetic"};
    for (size_t i = 0; i < MS_COUNTOF(builtin); i++) {
        if (find_slot(llm, builtin[i]) >= 0)
            continue;
        const ms_llm_kind_t *k = ms_llm_kind(builtin[i]);
        ms_provider_t *p = k->create(NULL, env, llm, err, errlen);
        p->local = 1;
        add_slot(llm, p, builtin[i], k->title, k->description, &bc, 1);
    }
    if (routes && (rc = add_routes(llm, routes, path, err, errlen)) != 0)
        goto fail;
    /* Every provider is a route of its own name, unless an alias took it. */
    for (size_t i = 0; i < llm->n; i++) {
        if (ms_llm_route(llm, llm->slots[i].name))
            continue;
        ms_llm_route_t *r =
            add_route(llm, llm->slots[i].name, llm->slots[i].title, llm->slots[i].description, 0);
        r->providers = ms_xcalloc(1, sizeof *r->providers);
        r->providers[0] = i;
        r->nproviders = 1;
    }
    const char *def =
        cfg->default_route && *cfg->default_route ? cfg->default_route : cfg->provider;
    const ms_llm_route_t *dr = ms_llm_route(llm, def);
    if (!dr) {
        rc = errf(err, errlen, "--default-route \"%.64s\" names no route or provider%s%s", def,
                  path ? " of " : "", path ? path : "");
        goto fail;
    }
    llm->default_route = (size_t)(dr - llm->routes);
    llm->routes[llm->default_route].listed = 1;
    json_decref(providers);
    json_decref(routes);
    *out = llm;
    return 0;
fail:
    json_decref(providers);
    json_decref(routes);
    ms_llm_free(llm);
    return rc ? rc : MS_EINVAL;
}

ms_llm_t *ms_llm_of(ms_provider_t *const *ps, size_t n, const ms_breaker_config_t *breaker) {
    ms_llm_t *llm = ms_xcalloc(1, sizeof *llm);
    ms_breaker_config_t bc =
        breaker ? *breaker
                : (ms_breaker_config_t){.failures = 5, .window_ms = 60000, .cooldown_ms = 30000};
    ms_llm_route_t *all = add_route(llm, "all", NULL, NULL, 1);
    all->providers = ms_xcalloc(n ? n : 1, sizeof *all->providers);
    for (size_t i = 0; i < n; i++) {
        add_slot(llm, ps[i], ms_provider_name(ps[i]), NULL, "", &bc, 0);
        llm->routes[0].providers[llm->routes[0].nproviders++] = i;
    }
    for (size_t i = 0; i < n; i++) {
        ms_llm_route_t *r = add_route(llm, llm->slots[i].name, NULL, NULL, 0);
        r->providers = ms_xcalloc(1, sizeof *r->providers);
        r->providers[0] = i;
        r->nproviders = 1;
    }
    return llm;
}

ms_llm_t *ms_llm_single(ms_provider_t *p, const ms_breaker_config_t *breaker) {
    ms_llm_t *llm = ms_xcalloc(1, sizeof *llm);
    ms_breaker_config_t bc =
        breaker ? *breaker
                : (ms_breaker_config_t){.failures = 5, .window_ms = 60000, .cooldown_ms = 30000};
    add_slot(llm, p, ms_provider_name(p), NULL, "", &bc, 0);
    ms_llm_route_t *r = add_route(llm, ms_provider_name(p), NULL, NULL, 1);
    r->providers = ms_xcalloc(1, sizeof *r->providers);
    r->nproviders = 1;
    return llm;
}

void ms_llm_free(ms_llm_t *llm) {
    if (!llm)
        return;
    for (size_t i = 0; i < llm->n; i++) {
        slot_t *s = &llm->slots[i];
        if (s->owned)
            s->p->ops->free(s->p);
        free(s->name);
        free(s->title);
        free(s->description);
    }
    free(llm->slots);
    for (size_t i = 0; i < llm->nroutes; i++) {
        free(llm->routes[i].alias);
        free(llm->routes[i].title);
        free(llm->routes[i].description);
        free(llm->routes[i].providers);
    }
    free(llm->routes);
    ms_llm_http_free(llm->http);
    free(llm);
}

/* ---- reading ------------------------------------------------------------ */

size_t ms_llm_nproviders(const ms_llm_t *llm) {
    return llm->n;
}

ms_provider_t *ms_llm_provider(const ms_llm_t *llm, size_t i) {
    return i < llm->n ? llm->slots[i].p : NULL;
}

ms_llm_stats_t *ms_llm_provider_stats(ms_llm_t *llm, size_t i) {
    return i < llm->n ? &llm->slots[i].stats : NULL;
}

ms_llm_probe_cache_t *ms_llm_provider_probe_cache(ms_llm_t *llm, size_t i) {
    return i < llm->n ? &llm->slots[i].probe : NULL;
}

ms_breaker_t *ms_llm_provider_breaker(ms_llm_t *llm, size_t i) {
    return i < llm->n ? &llm->slots[i].breaker : NULL;
}

const char *ms_llm_provider_description(const ms_llm_t *llm, size_t i) {
    return i < llm->n ? llm->slots[i].description : "";
}

size_t ms_llm_nroutes(const ms_llm_t *llm) {
    return llm->nroutes;
}

const ms_llm_route_t *ms_llm_route_at(const ms_llm_t *llm, size_t i) {
    return i < llm->nroutes ? &llm->routes[i] : NULL;
}

const ms_llm_route_t *ms_llm_route(const ms_llm_t *llm, const char *alias) {
    if (!alias || !*alias)
        return ms_llm_default_route(llm);
    for (size_t i = 0; i < llm->nroutes; i++)
        if (!strcmp(llm->routes[i].alias, alias))
            return &llm->routes[i];
    return NULL;
}

const ms_llm_route_t *ms_llm_default_route(const ms_llm_t *llm) {
    return llm->nroutes ? &llm->routes[llm->default_route] : NULL;
}

int ms_llm_route_uses_retrieval(const ms_llm_t *llm, const ms_llm_route_t *r) {
    if (r && r->no_retrieval)
        return 0;
    for (size_t i = 0; r && i < r->nproviders; i++)
        if (llm->slots[r->providers[i]].p->ops->uses_retrieval)
            return 1;
    return 0;
}

int ms_llm_route_uses_prompt(const ms_llm_t *llm, const ms_llm_route_t *r) {
    for (size_t i = 0; r && i < r->nproviders; i++)
        if (llm->slots[r->providers[i]].p->ops->uses_prompt)
            return 1;
    return 0;
}
