/* The providers and routes a server has (the provider registry).
 *
 * Provider kinds are a table (registry.c), never an if/else on a name:
 * offline, synthetic, ollama, openai. Providers are declared in the JSON
 * configuration file (--config) under "providers", routes under "routes"
 * (docs/protocol.md "Providers and routes"; README "Language models"):
 *
 *   "providers": [{"name": "ollama-local", "kind": "ollama",
 *                  "base_url": "http://127.0.0.1:11434", "model": "llama3.2",
 *                  "local": true}, ...],
 *   "routes": {"clinical": ["ollama-local", "openai"],
 *              "cloud": {"providers": ["openai"], "title": "...",
 *                        "description": "..."}}
 *
 * The built-in providers "offline" and "synthetic" exist unless the file
 * declares providers of those names; every provider is also a route of its
 * own name (not listed in GET /api/models unless it is the default). The
 * default route is --default-route, else --provider ("offline"), so a
 * server without a configuration file needs no network.
 *
 * A route is a model alias naming an ordered list of providers: the first
 * that is allowed (PHI, circuit breaker) answers; failures before the first
 * token move on to the next (chat/generate.c). Keys are read from the
 * environment variable each provider names (api_key_env) and never appear
 * in logs, errors, responses or health output.
 *
 * Loop thread only, except ms_llm_new/free (start-up and shutdown). */
#ifndef MS_LLM_REGISTRY_H
#define MS_LLM_REGISTRY_H

#include "core/config.h"
#include "llm/breaker.h"
#include "llm/provider.h"

#include <stdio.h>
#include <uv.h>

typedef struct ms_llm ms_llm_t;

/** A route: alias, description and its providers (indices, in order). */
typedef struct {
    char *alias;
    char *title; /**< what a model picker shows ("title" in the file; else the alias) */
    char *description;
    size_t *providers;
    size_t nproviders;
    int listed; /**< declared in the file (or the default): GET /api/models lists it */
    /** "retrieval": false in the file: no knowledge-base search for this
     * route (the model answers from the question and history alone, e.g.
     * the overhead benchmark's gateway-only route). Default 0: searched. */
    int no_retrieval;
    /** phi_mode "redact": a question with PHI may go to the route's
     * providers that are not local, with placeholders (docs/phi.md). */
    int phi_redact;
} ms_llm_route_t;

/** What start-up gives the registry. */
typedef struct {
    uv_loop_t *loop;
    const ms_config_t *cfg;
    /** The pool the offline answerer composes on (chat/work.h MS_WORK_KB),
     * or NULL for libuv's. */
    struct ms_pool *kb_pool;
} ms_llm_env_t;

/** Builds the providers and routes of cfg (its config_file's "providers"
 * and "routes", and the built-ins). On a bad configuration returns
 * MS_EINVAL with one line in err naming the file, the entry and the field
 * and saying why ("config medstream.json: providers[1] (\"openai\"):
 * api_key_env OPENAI_API_KEY is not set"). */
int ms_llm_new(const ms_llm_env_t *env, ms_llm_t **out, char *err, size_t errlen);

/** A registry of one provider (borrowed: not freed with the registry), one
 * route of its name: for tests and embedders that build a provider
 * themselves. */
ms_llm_t *ms_llm_single(ms_provider_t *p, const ms_breaker_config_t *breaker);

/** A registry of n providers (borrowed) and one route "all" naming them in
 * order (the default), plus each provider's own route: for tests. */
ms_llm_t *ms_llm_of(ms_provider_t *const *ps, size_t n, const ms_breaker_config_t *breaker);

/** Frees every provider, the transport (its handles close on the loop:
 * run the loop once more before closing it). NULL-safe. */
void ms_llm_free(ms_llm_t *llm);

size_t ms_llm_nproviders(const ms_llm_t *llm);
ms_provider_t *ms_llm_provider(const ms_llm_t *llm, size_t i);
/** The counters and breaker of provider i (for /metrics, /health). */
ms_llm_stats_t *ms_llm_provider_stats(ms_llm_t *llm, size_t i);
ms_breaker_t *ms_llm_provider_breaker(ms_llm_t *llm, size_t i);
/** The last health probe of a provider and the requests waiting for the
 * next (GET /health/providers, api/health.c, keeps it; loop thread). */
typedef struct {
    int valid;
    int64_t at_ms; /**< mono ms the probe ended */
    ms_probe_result_t res;
    int inflight;
    void *waiters; /**< the health route's list of waiting requests */
} ms_llm_probe_cache_t;
/** Provider i's probe cache (zeroed at start), NULL past the end. */
ms_llm_probe_cache_t *ms_llm_provider_probe_cache(ms_llm_t *llm, size_t i);
/** What the configuration says provider i is (or its kind's description). */
const char *ms_llm_provider_description(const ms_llm_t *llm, size_t i);

size_t ms_llm_nroutes(const ms_llm_t *llm);
const ms_llm_route_t *ms_llm_route_at(const ms_llm_t *llm, size_t i);
/** The route of alias; NULL or "" is the default route; NULL when there
 * is no such route. */
const ms_llm_route_t *ms_llm_route(const ms_llm_t *llm, const char *alias);
const ms_llm_route_t *ms_llm_default_route(const ms_llm_t *llm);
/** Whether any provider of r reads the knowledge base / the prompt. A
 * route with "retrieval": false (no_retrieval) reads no knowledge base. */
int ms_llm_route_uses_retrieval(const ms_llm_t *llm, const ms_llm_route_t *r);
int ms_llm_route_uses_prompt(const ms_llm_t *llm, const ms_llm_route_t *r);

/** A provider kind: its name, whether it talks to a model server (then
 * base_url and model are required), and its constructor from a parsed
 * entry (llm/remote.h for the remote kinds). */
typedef struct ms_llm_kind ms_llm_kind_t;
const ms_llm_kind_t *ms_llm_kind(const char *name);
/** The kinds' names, comma-separated, for messages ("offline, synthetic, ..."). */
const char *ms_llm_kind_names(void);

#endif
