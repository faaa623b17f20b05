/* The FTS5 backend of the knowledge base: the SQLite functions behind
 * ms_kb_ops_t (kb/kbase.c). Private to src/kb (and its tests): every other
 * module goes through kb.h's ms_kb_t handle.
 *
 * All functions take a SQLite connection owned by the caller and may block. */
#ifndef MS_KB_FTS5_H
#define MS_KB_FTS5_H

#include "kb/kb.h"

#include <sqlite3.h>

/** Creates the knowledge-base tables (documents, passages, FTS5 index with
 * the porter + unicode61 tokenizer) if missing. Idempotent and cheap; call
 * once per connection before any other kb function. */
int ms_kb_init(sqlite3 *db);

/** Number of passages indexed. */
int ms_kb_count(sqlite3 *db, int64_t *out);

/** If the knowledge base is empty, imports the starter passages compiled
 * into the binary (kb/starter.jsonl). *imported gets how many (0 if the kb
 * already had passages). */
int ms_kb_load_starter(sqlite3 *db, int *imported);

/** Imports paths (files, directories, or for medquad a .tar.gz) in one
 * transaction per file. A passage whose id already exists is replaced,
 * never duplicated. Returns 0, MS_EFORMAT (with the bad path logged) or MS_EIO. */
int ms_kb_import(sqlite3 *db, ms_kb_format_t format, const char *const *paths, size_t npaths,
                 ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats);

/** Ranked search: the best k passages for a natural-language query (k is
 * clamped to 1..100). Never fails for lack of matches: *n may be 0.
 * *hits is an array the caller frees with ms_kb_hits_free. */
int ms_kb_search(sqlite3 *db, const char *query, int k, ms_kb_hit_t **hits, size_t *n);

/** ms_kb_search with a scope (kb.h ms_kb_find_in); scope may be NULL. */
int ms_kb_search_in(sqlite3 *db, const ms_kb_scope_t *scope, const char *query, int k,
                    ms_kb_hit_t **hits, size_t *n);

/** The scoped documents (kb.h ms_kb_scoped_put, ms_kb_scoped_delete). */
int ms_kb_scoped_store(sqlite3 *db, const ms_kb_scope_t *scope, const ms_kb_scoped_doc_t *doc,
                       const ms_kb_scoped_passage_t *ps, size_t n);
int ms_kb_scoped_remove(sqlite3 *db, const char *doc_id);

/** Builds the FTS5 MATCH expression ms_kb_search uses for a natural-language
 * query: the words as the index tokenizes them (porter + unicode61), minus
 * stop-words, one per stem, each quoted (a '"' inside is doubled, so no user
 * text can form FTS5 syntax such as NEAR, column filters, '*' or '-') and
 * joined with OR so that documents rank by how many terms they hold instead
 * of having to hold all of them. At most 48 terms. *match is a heap string
 * the caller frees, or NULL when nothing searchable is left (not an error).
 * Needs a connection on which ms_kb_init ran. 0, MS_EINVAL or MS_EIO. */
int ms_kb_query_build(sqlite3 *db, const char *query, char **match);

#endif
