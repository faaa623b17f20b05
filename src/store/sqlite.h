/* The SQLite backend's own handle, for tests that reach past the seam
 * (fault injection into the group commit) and for the knowledge base's
 * shared file. Nothing outside src/store, src/kb and tests includes it. */
#ifndef MS_STORE_SQLITE_H
#define MS_STORE_SQLITE_H

#include "store/store.h"

#include <sqlite3.h>

/** The SQLite connection behind st, or NULL when st is another backend's. */
sqlite3 *ms_store_sqlite_db(ms_store_t *st);

#endif
