/* The "providers" and "routes" of the JSON configuration file (--config),
 * checked field by field. core/config.c reads the file's flat settings and
 * leaves these two keys to this file; every error names the file, the
 * entry and the field, and says why. */
#include "llm/llm_config.h"

#include "core/ms.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum { F_STR, F_BOOL, F_INT, F_NUM } ftype_t;

/* One field of a provider entry (a declarative table, as core/config.c's). */
typedef struct {
    const char *key;
    ftype_t type;
    int remote; /* only for kinds that talk to a model server */
    double min, max;
} field_t;

static const field_t fields[] = {
    {"name", F_STR, 0, 0, 0},
    {"kind", F_STR, 0, 0, 0},
    {"description", F_STR, 0, 0, 0},
    {"base_url", F_STR, 1, 0, 0},
    {"model", F_STR, 1, 0, 0},
    {"api_key_env", F_STR, 1, 0, 0},
    {"local", F_BOOL, 1, 0, 0},
    {"connect_timeout_ms", F_INT, 1, 1, 600000},
    {"first_token_timeout_ms", F_INT, 1, 1, 3600000},
    {"idle_timeout_ms", F_INT, 1, 1, 3600000},
    {"max_tokens", F_INT, 1, 1, 1000000},
    {"temperature", F_NUM, 1, 0, 2},
    {"azure_deployment", F_STR, 1, 0, 0},
    {"api_version", F_STR, 1, 0, 0},
    {"stream_usage", F_BOOL, 1, 0, 0},
    {"phi_mode", F_STR, 1, 0, 0}, /* "refuse" | "redact" (registry.c checks) */
};

static int errf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return MS_EINVAL;
}

int ms__llm_name_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.' || *s == ':'))
            return 0;
    return 1;
}

static int env_name_ok(const char *s) {
    if (!s || !*s || strlen(s) > 128 || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static int url_ok(const char *u) {
    return (!strncmp(u, "http://", 7) && u[7]) || (!strncmp(u, "https://", 8) && u[8]);
}

int ms__llm_config_read(const char *path, json_t **providers, json_t **routes, char *err,
                        size_t errlen) {
    *providers = *routes = NULL;
    if (!path || !*path)
        return 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return errf(err, errlen, "config %s: %s (line %d)", path,
                    root ? "not a JSON object" : je.text, je.line);
    }
    json_t *p = json_object_get(root, "providers");
    json_t *r = json_object_get(root, "routes");
    int rc = 0;
    if (p && !json_is_array(p))
        rc = errf(err, errlen, "config %s: \"providers\" must be an array of objects", path);
    else if (r && !json_is_object(r))
        rc =
            errf(err, errlen, "config %s: \"routes\" must be an object (alias: [providers])", path);
    if (!rc) {
        *providers = json_incref(p);
        *routes = json_incref(r);
    }
    json_decref(root);
    return rc;
}

int ms__llm_check_provider(json_t *e, size_t i, int remote, const char *path, char *err,
                           size_t errlen) {
    const char *name = json_string_value(json_object_get(e, "name"));
    char who[96];
    if (name && ms__llm_name_ok(name))
        snprintf(who, sizeof who, "providers[%zu] (\"%s\")", i, name);
    else
        snprintf(who, sizeof who, "providers[%zu]", i);
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) {
        const field_t *f = NULL;
        for (size_t k = 0; k < MS_COUNTOF(fields) && !f; k++)
            if (!strcmp(fields[k].key, key))
                f = &fields[k];
        if (!f)
            return errf(err, errlen, "config %s: %s: unknown field \"%.40s\"", path, who, key);
        if (f->remote && !remote)
            return errf(err, errlen, "config %s: %s: \"%s\" does not apply to kind %s", path, who,
                        key, json_string_value(json_object_get(e, "kind")));
        switch (f->type) {
        case F_STR:
            if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 2048)
                return errf(err, errlen,
                            "config %s: %s: \"%s\" must be a non-empty string (up to 2048 bytes)",
                            path, who, key);
            break;
        case F_BOOL:
            if (!json_is_boolean(v))
                return errf(err, errlen, "config %s: %s: \"%s\" must be true or false", path, who,
                            key);
            break;
        case F_INT:
            if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)f->min ||
                json_integer_value(v) > (json_int_t)f->max)
                return errf(err, errlen,
                            "config %s: %s: \"%s\" must be an integer from %.0f to %.0f", path, who,
                            key, f->min, f->max);
            break;
        case F_NUM:
            if (!json_is_number(v) || json_number_value(v) < f->min ||
                json_number_value(v) > f->max)
                return errf(err, errlen, "config %s: %s: \"%s\" must be a number from %g to %g",
                            path, who, key, f->min, f->max);
            break;
        }
    }
    if (!name || !ms__llm_name_ok(name))
        return errf(err, errlen,
                    "config %s: %s: \"name\" is required: 1 to 64 of A-Z a-z 0-9 - _ . :", path,
                    who);
    if (!remote)
        return 0;
    const char *url = json_string_value(json_object_get(e, "base_url"));
    if (!url)
        return errf(err, errlen, "config %s: %s: \"base_url\" is required", path, who);
    if (!url_ok(url))
        return errf(err, errlen, "config %s: %s: \"base_url\" must start with http:// or https://",
                    path, who);
    if (!json_object_get(e, "model"))
        return errf(err, errlen, "config %s: %s: \"model\" is required", path, who);
    const char *env = json_string_value(json_object_get(e, "api_key_env"));
    if (env && !env_name_ok(env))
        return errf(err, errlen,
                    "config %s: %s: \"api_key_env\" must name an environment variable "
                    "(letters, digits, _), not hold the key",
                    path, who);
    int azure = json_object_get(e, "azure_deployment") != NULL;
    if (json_object_get(e, "api_version") && !azure)
        return errf(err, errlen, "config %s: %s: \"api_version\" needs \"azure_deployment\"", path,
                    who);
    return 0;
}
