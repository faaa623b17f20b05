/* `medstream serve`: everything that is not one subsystem's own: the data
 * directory, the JWT key, storage start-up (migrations, integrity check,
 * the node lease, crash recovery), the knowledge base's starter passages,
 * the thread pools, the provider registry, the listener, signals and
 * graceful shutdown (architecture.md, app/). */
#ifndef MS_APP_APP_H
#define MS_APP_APP_H

#include "core/config.h"

/** Runs the gateway until SIGINT/SIGTERM. Returns a process exit code:
 * 0 after a graceful shutdown, 1 when it could not start (the reason is
 * printed on stderr: port in use, unreadable or corrupt database, ...). */
int ms_app_serve(const ms_config_t *cfg);

#endif
