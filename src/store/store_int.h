/* Internal to the SQLite backend: the connection struct, a per-connection
 * prepared-statement cache, transaction helpers, SQLite error mapping, and
 * the backend's implementations of the ops (store/backend.h). Not part of
 * the public interface (store.h); only src/store/ includes it. */
#ifndef MS_STORE_STORE_INT_H
#define MS_STORE_STORE_INT_H

#include "store/backend.h"

#include <sqlite3.h>
#include <stddef.h>

/* One cached statement: sql is the address of a static string literal, so
 * the cache compares pointers, not text. */
typedef struct {
    const char *sql;
    sqlite3_stmt *stmt;
} ms_store_stmt_t;

/* One SQLite connection. Owned by whoever called ms_store_open; freed by
 * ms_store_close, which finalises every cached statement first. */
typedef struct sq_store {
    ms_store_t base; /* first: the ops table */
    sqlite3 *db;
    ms_store_stmt_t *stmts;
    size_t nstmts, capstmts;
    /* Transaction levels opened by ms__store_begin and not yet ended by
     * ms__store_commit or ms__store_rollback; tx_began is 1 when the
     * outermost of them is a real BEGIN (the rest are savepoints). */
    unsigned tx_depth;
    int tx_began;
    uint64_t commits; /* COMMITs seen by the commit hook */
} sq_store_t;

/* The SQLite connection behind a store handle (every handle the SQLite ops
 * receive is one of ours). */
#define SQ(base) ((sq_store_t *)(base))

/* The cached prepared statement for sql (a string literal), prepared on
 * first use. NULL (logged) if SQLite refuses it. The caller binds, steps
 * and then calls ms__store_done, on every path. */
sqlite3_stmt *ms__store_stmt(sq_store_t *st, const char *sql);
/* Resets the statement and clears its bindings so it is ready for reuse
 * and holds no read transaction open. NULL-safe. */
void ms__store_done(sqlite3_stmt *s);

/* Write transactions start with BEGIN IMMEDIATE: the write lock is taken
 * up front (waiting up to busy_timeout), so a transaction never has to
 * upgrade from read to write and fail with SQLITE_BUSY half-way.
 *
 * They nest: when the connection is already inside a transaction (the DB
 * writer thread's group commit, chat/work.c, or an outer begin), begin opens
 * a SAVEPOINT instead, commit RELEASEs it and rollback rolls back to it, so
 * a failing store call undoes only its own changes and leaves the enclosing
 * transaction open for its owner to commit.
 *
 * Every successful begin must be ended by exactly one commit or rollback.
 * A failed commit rolls its level back before returning the error. */
int ms__store_begin(sq_store_t *st);
int ms__store_commit(sq_store_t *st);
/* Rolls back the level the last successful begin opened, if any is open;
 * harmless otherwise (it never touches a transaction the store did not
 * open, so calling it after a failed begin is safe). */
void ms__store_rollback(sq_store_t *st);

/* Maps an SQLite result code to MS_E*: unique/primary key violations to
 * MS_EEXIST (not logged), other constraints to MS_EINVAL, busy/locked to
 * MS_EBUSY, the rest to MS_EIO; all but the first are logged with what (a
 * static description, never user data). */
int ms__store_err(sq_store_t *st, int rc, const char *what);

/* Applies pending schema migrations (PRAGMA user_version). */
int ms__store_migrate(sq_store_t *st);
/* The schema version this build creates (the newest migration). */
int ms__store_schema_version(void);

/* Replaces the citations of a message with the JSON array citations
 * (inside the caller's transaction). MS_EINVAL when an element is not a
 * citation object or two share an index. */
int ms__store_citations_put(sq_store_t *st, const char *msg_id, json_t *citations);
/* The citations of a message as a JSON array ordered by index. */
int ms__store_citations_get(sq_store_t *st, const char *msg_id, json_t **out);

/* Binds a C string or NULL (as SQL NULL) as text. */
int ms__store_bind_text(sqlite3_stmt *s, int i, const char *v);
/* A text column as a JSON string, or JSON null when SQL NULL. */
json_t *ms__store_col_json_str(sqlite3_stmt *s, int i);
/* An integer ms column as an RFC 3339 JSON string. */
json_t *ms__store_col_json_time(sqlite3_stmt *s, int i);
/* Copies a text column into out (size n), truncating; "" when NULL. */
void ms__store_col_copy(sqlite3_stmt *s, int i, char *out, size_t n);

/* The ops (backend.h), one per public ms_store_* function. */
int ms__sq_user_create(ms_store_t *base, const char *email, const char *password_hash,
                       const char *role, ms_user_t *out);
int ms__sq_user_by_email(ms_store_t *base, const char *email, ms_user_t *out);
int ms__sq_user_by_id(ms_store_t *base, const char *id, ms_user_t *out);
int ms__sq_user_count(ms_store_t *base, int64_t *out);
int ms__sq_user_list(ms_store_t *base, json_t **out);
int ms__sq_user_delete(ms_store_t *base, const char *email, ms_user_t *out);
int ms__sq_refresh_put(ms_store_t *base, const char *token_hash_hex, const char *user_id,
                       int64_t expires_at_ms);
int ms__sq_refresh_consume(ms_store_t *base, const char *token_hash_hex,
                           char user_id_out[MS_ID_LEN]);
int ms__sq_conversation_create(ms_store_t *base, const char *user_id, const char *title,
                               json_t **out);
int ms__sq_conversation_get_or_create(ms_store_t *base, const char *user_id, const char *id,
                                      const char *title, json_t **out);
int ms__sq_conversation_get(ms_store_t *base, const char *user_id, const char *id, json_t **out);
int ms__sq_conversation_list(ms_store_t *base, const char *user_id, int limit, int offset,
                             json_t **out);
int ms__sq_conversation_rename(ms_store_t *base, const char *user_id, const char *id,
                               const char *title, json_t **out);
int ms__sq_conversation_delete(ms_store_t *base, const char *user_id, const char *id);
int ms__sq_turn_begin(ms_store_t *base, const char *conversation_id, const char *user_msg_id,
                      const char *assistant_msg_id, const char *client_message_id,
                      const char *user_text, const char *node_id);
int ms__sq_message_set_grounding(ms_store_t *base, const char *msg_id, double grounding);
int ms__sq_message_set_workflow(ms_store_t *base, const char *msg_id, json_t *result);
int ms__sq_message_update(ms_store_t *base, const char *msg_id, const char *content,
                          const char *status, const char *finish_reason, json_t *usage,
                          json_t *citations);
int ms__sq_message_get(ms_store_t *base, const char *msg_id, json_t **out);
int ms__sq_message_by_client_id(ms_store_t *base, const char *conversation_id,
                                const char *client_message_id, json_t **user_msg,
                                json_t **assistant_msg);
int ms__sq_message_list(ms_store_t *base, const char *conversation_id, json_t **out);
int ms__sq_recent_turns(ms_store_t *base, const char *conversation_id, int n, json_t **out);
void ms__sq_close(ms_store_t *base);
int ms__sq_conversation_search(ms_store_t *base, const char *user_id, const char *query, int limit,
                               int offset, json_t **out);
int ms__sq_feedback_put(ms_store_t *base, const char *user_id, const char *message_id, int rating,
                        const char *comment, json_t **out);
int ms__sq_feedback_get(ms_store_t *base, const char *user_id, const char *message_id,
                        json_t **out);
int ms__sq_feedback_delete(ms_store_t *base, const char *user_id, const char *message_id);
int ms__sq_feedback_by_conversation(ms_store_t *base, const char *conversation_id, json_t **out);
int ms__sq_clinical_create(ms_store_t *base, const char *user_id, json_t *fields,
                           const char *source, const char *conversation_id, json_t **out);
int ms__sq_clinical_get(ms_store_t *base, const char *user_id, const char *id, json_t **out);
int ms__sq_clinical_current(ms_store_t *base, const char *user_id, const char *conversation_id,
                            json_t **out);
int ms__sq_clinical_update(ms_store_t *base, const char *user_id, const char *id, json_t *patch,
                           const char *source, json_t **out);
int ms__sq_clinical_delete(ms_store_t *base, const char *user_id, const char *id);
int ms__sq_clinical_bind(ms_store_t *base, const char *user_id, const char *conversation_id,
                         const char *context_id);
int ms__sq_node_register(ms_store_t *base, const ms_node_t *node);
int ms__sq_node_list(ms_store_t *base, int64_t now_ms, ms_node_t **out, size_t *n);
int ms__sq_node_renew(ms_store_t *base, const char *node_id, int64_t lease_expires);
int ms__sq_node_release(ms_store_t *base, const char *node_id);
int ms__sq_recover(ms_store_t *base, int64_t now_ms, const char *suffix, int *count);
int ms__sq_folder_create(ms_store_t *base, const char *user_id, const ms_folder_fields_t *f,
                         const ms_folder_limits_t *lim, json_t **out);
int ms__sq_folder_get(ms_store_t *base, const char *user_id, const char *id, json_t **out);
int ms__sq_folder_list(ms_store_t *base, const char *user_id, const char *parent_id, json_t **out);
int ms__sq_folder_tree(ms_store_t *base, const char *user_id, json_t **out);
int ms__sq_folder_update(ms_store_t *base, const char *user_id, const char *id,
                         const ms_folder_fields_t *f, const ms_folder_limits_t *lim, json_t **out);
int ms__sq_folder_delete(ms_store_t *base, const char *user_id, const char *id);
int ms__sq_conversation_set_folder(ms_store_t *base, const char *user_id, const char *id,
                                   const char *folder_id, json_t **out);
int ms__sq_conversation_list_folder(ms_store_t *base, const char *user_id, const char *folder_id,
                                    const char *query, int limit, int offset, json_t **out);
int ms__sq_share_create(ms_store_t *base, const char *user_id, const char *conversation_id,
                        const char *token_hash_hex, const char *password_hash,
                        int64_t expires_at_ms, int64_t max_views, int max_links, json_t **out);
int ms__sq_share_list(ms_store_t *base, const char *user_id, const char *conversation_id,
                      int64_t now_ms, json_t **out);
int ms__sq_share_revoke(ms_store_t *base, const char *user_id, const char *conversation_id,
                        const char *key, int64_t now_ms);
int ms__sq_share_lookup(ms_store_t *base, const char *token_hash_hex, ms_share_t *out);
int ms__sq_share_record(ms_store_t *base, const char *share_id, int64_t now_ms,
                        const char *client_address, const char *outcome, int log_max,
                        const char **result);
int ms__sq_share_accesses(ms_store_t *base, const char *user_id, const char *conversation_id,
                          const char *share_id, int limit, json_t **out);
int ms__sq_apikey_create(ms_store_t *base, const char *user_id, const char *name,
                         const char *key_hash_hex, const char *prefix, json_t **out);
int ms__sq_apikey_list(ms_store_t *base, json_t **out);
int ms__sq_apikey_revoke(ms_store_t *base, const char *id, int64_t now_ms);
int ms__sq_apikey_lookup(ms_store_t *base, const char *key_hash_hex, ms_apikey_t *out);
/* Whether folder_id is one of user_id's folders (folders.c): 0, MS_ENOENT. */
int ms__store_folder_owned(sq_store_t *st, const char *user_id, const char *folder_id);

/* Attachments (attachments.c). */
int ms__sq_attachment_create(ms_store_t *base, const char *user_id, const char *message_id,
                             const ms_attachment_new_t *a, json_t **out);
int ms__sq_attachment_get(ms_store_t *base, const char *user_id, const char *id, json_t **out);
int ms__sq_attachment_list(ms_store_t *base, const char *user_id, const char *message_id,
                           json_t **out);
int ms__sq_attachment_delete(ms_store_t *base, const char *user_id, const char *id, json_t **out);
int ms__sq_attachment_update(ms_store_t *base, const char *id, const char *status, int progress,
                             const char *error_code, const char *error_message, json_t *metadata);
int ms__sq_message_tools_put(ms_store_t *base, const char *msg_id, json_t *tools);
int ms__sq_tools_by_conversation(ms_store_t *base, const char *conversation_id, json_t **out);

#endif
