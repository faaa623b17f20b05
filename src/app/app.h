/* `medstream serve`: everything that is not one subsystem's own: the data
 * directory, the JWT key, storage start-up (migrations, integrity check,
 * the node lease, crash recovery), the knowledge base's starter passages,
 * the thread pools, the provider registry, the listener, signals and
 * graceful shutdown (architecture.md, app/). */
#ifndef MS_APP_APP_H
#define MS_APP_APP_H

#include "core/config.h"
#include "llm/provider.h"

/** Runs the gateway until SIGINT/SIGTERM. Returns a process exit code:
 * 0 after a graceful shutdown, 1 when it could not start (the reason is
 * printed on stderr: port in use, unreadable or corrupt database, ...). */
int ms_app_serve(const ms_config_t *cfg);

/** A provider kind: its name (the `provider` setting) and constructor. */
typedef struct {
    const char *name;
    ms_provider_t *(*create)(const ms_config_t *cfg);
} ms_provider_kind_t;

/** The provider kinds this build knows, by name; NULL if none is called name. */
const ms_provider_kind_t *ms_app_provider_kind(const char *name);

#endif
