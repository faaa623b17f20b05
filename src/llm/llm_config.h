/* Private to src/llm: reading and checking the configuration file's
 * "providers" and "routes" (providers_config.c). */
#ifndef MS_LLM_LLM_CONFIG_H
#define MS_LLM_LLM_CONFIG_H

#include <jansson.h>
#include <stddef.h>

/** Reads path's "providers" array and "routes" object (new references,
 * NULL when absent or path is NULL). MS_EINVAL with err on a file that is
 * not JSON or keys of the wrong type. */
int ms__llm_config_read(const char *path, json_t **providers, json_t **routes, char *err,
                        size_t errlen);
/** Checks provider entry i: every field known and of its type and range,
 * a valid name; for remote kinds base_url, model, api_key_env's form. */
int ms__llm_check_provider(json_t *entry, size_t i, int remote, const char *path, char *err,
                           size_t errlen);
/** Whether s is a provider or route name: 1 to 64 of [A-Za-z0-9-_.:]. */
int ms__llm_name_ok(const char *s);

#endif
