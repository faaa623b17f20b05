/* The storage seam for backend implementers: the function table behind
 * every ms_store_* call (store.h), and the registry of backends by
 * location scheme. Only src/store/ includes this header.
 *
 * A backend's connection struct embeds struct ms_store as its first member;
 * every op receives that base pointer. Each op has exactly the contract of
 * the ms_store_* function of the same name in store.h. Argument checks that
 * do not depend on the backend are the backend's too for now (they live in
 * the SQLite files), so a second backend must apply the same ones. */
#ifndef MS_STORE_BACKEND_H
#define MS_STORE_BACKEND_H

#include "store/store.h"

typedef struct ms_store_ops {
    const char *name;
    void (*close)(ms_store_t *st);
    int (*check)(ms_store_t *st, char *problem, size_t problemlen);

    int (*batch_begin)(ms_store_t *st);
    int (*batch_commit)(ms_store_t *st);
    void (*batch_rollback)(ms_store_t *st);
    int (*batch_open)(ms_store_t *st);
    uint64_t (*commits)(ms_store_t *st);

    int (*user_create)(ms_store_t *st, const char *email, const char *password_hash,
                       const char *role, ms_user_t *out);
    int (*user_by_email)(ms_store_t *st, const char *email, ms_user_t *out);
    int (*user_by_id)(ms_store_t *st, const char *id, ms_user_t *out);
    int (*user_count)(ms_store_t *st, int64_t *out);
    int (*user_list)(ms_store_t *st, json_t **out);
    int (*user_delete)(ms_store_t *st, const char *email, ms_user_t *out);
    int (*refresh_put)(ms_store_t *st, const char *token_hash_hex, const char *user_id,
                       int64_t expires_at_ms);
    int (*refresh_consume)(ms_store_t *st, const char *token_hash_hex, char user_id_out[MS_ID_LEN]);

    int (*conversation_create)(ms_store_t *st, const char *user_id, const char *title,
                               json_t **out);
    int (*conversation_get_or_create)(ms_store_t *st, const char *user_id, const char *id,
                                      const char *title, json_t **out);
    int (*conversation_get)(ms_store_t *st, const char *user_id, const char *id, json_t **out);
    int (*conversation_list)(ms_store_t *st, const char *user_id, int limit, int offset,
                             json_t **out);
    int (*conversation_search)(ms_store_t *st, const char *user_id, const char *query, int limit,
                               int offset, json_t **out);
    int (*conversation_rename)(ms_store_t *st, const char *user_id, const char *id,
                               const char *title, json_t **out);
    int (*conversation_delete)(ms_store_t *st, const char *user_id, const char *id);

    int (*turn_begin)(ms_store_t *st, const char *conversation_id, const char *user_msg_id,
                      const char *assistant_msg_id, const char *client_message_id,
                      const char *user_text, const char *node_id);
    int (*message_update)(ms_store_t *st, const char *msg_id, const char *content,
                          const char *status, const char *finish_reason, json_t *usage,
                          json_t *citations);
    int (*message_set_grounding)(ms_store_t *st, const char *msg_id, double grounding);
    int (*message_set_workflow)(ms_store_t *st, const char *msg_id, json_t *result);
    int (*message_get)(ms_store_t *st, const char *msg_id, json_t **out);
    int (*message_by_client_id)(ms_store_t *st, const char *conversation_id,
                                const char *client_message_id, json_t **user_msg,
                                json_t **assistant_msg);
    int (*message_list)(ms_store_t *st, const char *conversation_id, json_t **out);
    int (*recent_turns)(ms_store_t *st, const char *conversation_id, int n, json_t **out);

    int (*feedback_put)(ms_store_t *st, const char *user_id, const char *message_id, int rating,
                        const char *comment, json_t **out);
    int (*feedback_get)(ms_store_t *st, const char *user_id, const char *message_id, json_t **out);
    int (*feedback_delete)(ms_store_t *st, const char *user_id, const char *message_id);
    int (*feedback_by_conversation)(ms_store_t *st, const char *conversation_id, json_t **out);

    int (*clinical_create)(ms_store_t *st, const char *user_id, json_t *fields, const char *source,
                           const char *conversation_id, json_t **out);
    int (*clinical_get)(ms_store_t *st, const char *user_id, const char *id, json_t **out);
    int (*clinical_current)(ms_store_t *st, const char *user_id, const char *conversation_id,
                            json_t **out);
    int (*clinical_update)(ms_store_t *st, const char *user_id, const char *id, json_t *patch,
                           const char *source, json_t **out);
    int (*clinical_delete)(ms_store_t *st, const char *user_id, const char *id);
    int (*clinical_bind)(ms_store_t *st, const char *user_id, const char *conversation_id,
                         const char *context_id);
    int (*attachment_create)(ms_store_t *st, const char *user_id, const char *message_id,
                             const ms_attachment_new_t *a, json_t **out);
    int (*attachment_get)(ms_store_t *st, const char *user_id, const char *id, json_t **out);
    int (*attachment_list)(ms_store_t *st, const char *user_id, const char *message_id,
                           json_t **out);
    int (*attachment_delete)(ms_store_t *st, const char *user_id, const char *id, json_t **out);
    int (*attachment_update)(ms_store_t *st, const char *id, const char *status, int progress,
                             const char *error_code, const char *error_message, json_t *metadata);

    int (*node_register)(ms_store_t *st, const ms_node_t *node);
    int (*node_list)(ms_store_t *st, int64_t now_ms, ms_node_t **out, size_t *n);
    int (*node_renew)(ms_store_t *st, const char *node_id, int64_t lease_expires);
    int (*node_release)(ms_store_t *st, const char *node_id);
    int (*recover)(ms_store_t *st, int64_t now_ms, const char *suffix, int *count);

    /* Folders. A backend must run each write's reads of the tree (cycle
     * check, depth, counts, sibling names) in the transaction of its change
     * and serialise such writes of one user: SQLite's BEGIN IMMEDIATE does;
     * PostgreSQL needs SERIALIZABLE or a row lock on the user first. */
    int (*folder_create)(ms_store_t *st, const char *user_id, const ms_folder_fields_t *f,
                         const ms_folder_limits_t *lim, json_t **out);
    int (*folder_get)(ms_store_t *st, const char *user_id, const char *id, json_t **out);
    int (*folder_list)(ms_store_t *st, const char *user_id, const char *parent_id, json_t **out);
    int (*folder_tree)(ms_store_t *st, const char *user_id, json_t **out);
    int (*folder_update)(ms_store_t *st, const char *user_id, const char *id,
                         const ms_folder_fields_t *f, const ms_folder_limits_t *lim, json_t **out);
    int (*folder_delete)(ms_store_t *st, const char *user_id, const char *id);
    int (*conversation_set_folder)(ms_store_t *st, const char *user_id, const char *id,
                                   const char *folder_id, json_t **out);
    int (*conversation_list_folder)(ms_store_t *st, const char *user_id, const char *folder_id,
                                    const char *query, int limit, int offset, json_t **out);

    /* Share links. share_record's state check and view count must be one
     * transaction (the view cap under concurrent views). */
    int (*share_create)(ms_store_t *st, const char *user_id, const char *conversation_id,
                        const char *token_hash_hex, const char *password_hash,
                        int64_t expires_at_ms, int64_t max_views, int max_links, json_t **out);
    int (*share_list)(ms_store_t *st, const char *user_id, const char *conversation_id,
                      int64_t now_ms, json_t **out);
    int (*share_revoke)(ms_store_t *st, const char *user_id, const char *conversation_id,
                        const char *key, int64_t now_ms);
    int (*share_lookup)(ms_store_t *st, const char *token_hash_hex, ms_share_t *out);
    int (*share_record)(ms_store_t *st, const char *share_id, int64_t now_ms,
                        const char *client_address, const char *outcome, int log_max,
                        const char **result);
    int (*share_accesses)(ms_store_t *st, const char *user_id, const char *conversation_id,
                          const char *share_id, int limit, json_t **out);
    int (*message_tools_put)(ms_store_t *st, const char *msg_id, json_t *tools);
    int (*tools_by_conversation)(ms_store_t *st, const char *conversation_id, json_t **out);

    int (*apikey_create)(ms_store_t *st, const char *user_id, const char *name,
                         const char *key_hash_hex, const char *prefix, json_t **out);
    int (*apikey_list)(ms_store_t *st, json_t **out);
    int (*apikey_revoke)(ms_store_t *st, const char *id, int64_t now_ms);
    int (*apikey_lookup)(ms_store_t *st, const char *key_hash_hex, ms_apikey_t *out);
} ms_store_ops_t;

/** The base every backend connection starts with. */
struct ms_store {
    const ms_store_ops_t *ops;
};

/** A backend: the location scheme it serves ("sqlite") and its opener,
 * which receives the location without "scheme:". */
typedef struct {
    const char *scheme;
    int (*open)(const char *location, ms_store_t **out);
} ms_store_backend_t;

/** SQLite (sqlite.c): location is the data directory. */
extern const ms_store_backend_t ms_store_backend_sqlite;

#endif
