/* The storage seam's dispatch: each public ms_store_* function calls its
 * connection's backend (store/backend.h), and ms_store_open picks the
 * backend from the location's scheme. */
#include "store/backend.h"

#include <string.h>

static const ms_store_backend_t *const backends[] = {&ms_store_backend_sqlite};

int ms_store_open(const char *location, ms_store_t **out) {
    *out = NULL;
    if (!location || !*location)
        return MS_EINVAL;
    const char *colon = strchr(location, ':');
    const char *slash = strchr(location, '/');
    /* A bare path (no "scheme:" before the first '/') is a SQLite data
     * directory, as it always was. */
    if (!colon || (slash && slash < colon))
        return ms_store_backend_sqlite.open(location, out);
    size_t n = (size_t)(colon - location);
    for (size_t i = 0; i < MS_COUNTOF(backends); i++)
        if (strlen(backends[i]->scheme) == n && !strncmp(backends[i]->scheme, location, n))
            return backends[i]->open(colon + 1, out);
    return MS_EINVAL;
}

void ms_store_close(ms_store_t *st) {
    if (st)
        st->ops->close(st);
}

const char *ms_store_backend(const ms_store_t *st) {
    return st->ops->name;
}

int ms_store_check(ms_store_t *st, char *problem, size_t problemlen) {
    return st->ops->check(st, problem, problemlen);
}

int ms_store_batch_begin(ms_store_t *st) {
    return st->ops->batch_begin(st);
}

int ms_store_batch_commit(ms_store_t *st) {
    return st->ops->batch_commit(st);
}

void ms_store_batch_rollback(ms_store_t *st) {
    st->ops->batch_rollback(st);
}

int ms_store_batch_open(ms_store_t *st) {
    return st->ops->batch_open(st);
}

uint64_t ms_store_commits(ms_store_t *st) {
    return st->ops->commits(st);
}

int ms_store_user_create(ms_store_t *st, const char *email, const char *password_hash,
                         const char *role, ms_user_t *out) {
    return st->ops->user_create(st, email, password_hash, role, out);
}

int ms_store_user_by_email(ms_store_t *st, const char *email, ms_user_t *out) {
    return st->ops->user_by_email(st, email, out);
}

int ms_store_user_by_id(ms_store_t *st, const char *id, ms_user_t *out) {
    return st->ops->user_by_id(st, id, out);
}

int ms_store_user_count(ms_store_t *st, int64_t *out) {
    return st->ops->user_count(st, out);
}

int ms_store_user_list(ms_store_t *st, json_t **out) {
    return st->ops->user_list(st, out);
}

int ms_store_user_delete(ms_store_t *st, const char *email, ms_user_t *out) {
    return st->ops->user_delete(st, email, out);
}

int ms_store_refresh_put(ms_store_t *st, const char *token_hash_hex, const char *user_id,
                         int64_t expires_at_ms) {
    return st->ops->refresh_put(st, token_hash_hex, user_id, expires_at_ms);
}

int ms_store_refresh_consume(ms_store_t *st, const char *token_hash_hex,
                             char user_id_out[MS_ID_LEN]) {
    return st->ops->refresh_consume(st, token_hash_hex, user_id_out);
}

int ms_store_conversation_create(ms_store_t *st, const char *user_id, const char *title,
                                 json_t **out) {
    return st->ops->conversation_create(st, user_id, title, out);
}

int ms_store_conversation_get_or_create(ms_store_t *st, const char *user_id, const char *id,
                                        const char *title, json_t **out) {
    return st->ops->conversation_get_or_create(st, user_id, id, title, out);
}

int ms_store_conversation_get(ms_store_t *st, const char *user_id, const char *id, json_t **out) {
    return st->ops->conversation_get(st, user_id, id, out);
}

int ms_store_conversation_list(ms_store_t *st, const char *user_id, int limit, int offset,
                               json_t **out) {
    return st->ops->conversation_list(st, user_id, limit, offset, out);
}

int ms_store_conversation_search(ms_store_t *st, const char *user_id, const char *query, int limit,
                                 int offset, json_t **out) {
    return st->ops->conversation_search(st, user_id, query, limit, offset, out);
}

int ms_store_conversation_rename(ms_store_t *st, const char *user_id, const char *id,
                                 const char *title, json_t **out) {
    return st->ops->conversation_rename(st, user_id, id, title, out);
}

int ms_store_conversation_delete(ms_store_t *st, const char *user_id, const char *id) {
    return st->ops->conversation_delete(st, user_id, id);
}

int ms_store_turn_begin(ms_store_t *st, const char *conversation_id, const char *user_msg_id,
                        const char *assistant_msg_id, const char *client_message_id,
                        const char *user_text, const char *node_id) {
    return st->ops->turn_begin(st, conversation_id, user_msg_id, assistant_msg_id,
                               client_message_id, user_text, node_id);
}

int ms_store_message_update(ms_store_t *st, const char *msg_id, const char *content,
                            const char *status, const char *finish_reason, json_t *usage,
                            json_t *citations) {
    return st->ops->message_update(st, msg_id, content, status, finish_reason, usage, citations);
}

int ms_store_message_set_grounding(ms_store_t *st, const char *msg_id, double grounding) {
    return st->ops->message_set_grounding(st, msg_id, grounding);
}

int ms_store_message_set_workflow(ms_store_t *st, const char *msg_id, json_t *result) {
    return st->ops->message_set_workflow(st, msg_id, result);
}

int ms_store_message_get(ms_store_t *st, const char *msg_id, json_t **out) {
    return st->ops->message_get(st, msg_id, out);
}

int ms_store_message_by_client_id(ms_store_t *st, const char *conversation_id,
                                  const char *client_message_id, json_t **user_msg,
                                  json_t **assistant_msg) {
    return st->ops->message_by_client_id(st, conversation_id, client_message_id, user_msg,
                                         assistant_msg);
}

int ms_store_message_list(ms_store_t *st, const char *conversation_id, json_t **out) {
    return st->ops->message_list(st, conversation_id, out);
}

int ms_store_recent_turns(ms_store_t *st, const char *conversation_id, int n, json_t **out) {
    return st->ops->recent_turns(st, conversation_id, n, out);
}

int ms_store_feedback_put(ms_store_t *st, const char *user_id, const char *message_id, int rating,
                          const char *comment, json_t **out) {
    return st->ops->feedback_put(st, user_id, message_id, rating, comment, out);
}

int ms_store_feedback_get(ms_store_t *st, const char *user_id, const char *message_id,
                          json_t **out) {
    return st->ops->feedback_get(st, user_id, message_id, out);
}

int ms_store_feedback_delete(ms_store_t *st, const char *user_id, const char *message_id) {
    return st->ops->feedback_delete(st, user_id, message_id);
}

int ms_store_feedback_by_conversation(ms_store_t *st, const char *conversation_id, json_t **out) {
    return st->ops->feedback_by_conversation(st, conversation_id, out);
}

int ms_store_clinical_create(ms_store_t *st, const char *user_id, json_t *fields,
                             const char *source, const char *conversation_id, json_t **out) {
    return st->ops->clinical_create(st, user_id, fields, source, conversation_id, out);
}

int ms_store_clinical_get(ms_store_t *st, const char *user_id, const char *id, json_t **out) {
    return st->ops->clinical_get(st, user_id, id, out);
}

int ms_store_clinical_current(ms_store_t *st, const char *user_id, const char *conversation_id,
                              json_t **out) {
    return st->ops->clinical_current(st, user_id, conversation_id, out);
}

int ms_store_clinical_update(ms_store_t *st, const char *user_id, const char *id, json_t *patch,
                             const char *source, json_t **out) {
    return st->ops->clinical_update(st, user_id, id, patch, source, out);
}

int ms_store_clinical_delete(ms_store_t *st, const char *user_id, const char *id) {
    return st->ops->clinical_delete(st, user_id, id);
}

int ms_store_clinical_bind(ms_store_t *st, const char *user_id, const char *conversation_id,
                           const char *context_id) {
    return st->ops->clinical_bind(st, user_id, conversation_id, context_id);
}

int ms_store_attachment_create(ms_store_t *st, const char *user_id, const char *message_id,
                               const ms_attachment_new_t *a, json_t **out) {
    return st->ops->attachment_create(st, user_id, message_id, a, out);
}

int ms_store_attachment_get(ms_store_t *st, const char *user_id, const char *id, json_t **out) {
    return st->ops->attachment_get(st, user_id, id, out);
}

int ms_store_attachment_list(ms_store_t *st, const char *user_id, const char *message_id,
                             json_t **out) {
    return st->ops->attachment_list(st, user_id, message_id, out);
}

int ms_store_attachment_delete(ms_store_t *st, const char *user_id, const char *id, json_t **out) {
    return st->ops->attachment_delete(st, user_id, id, out);
}

int ms_store_attachment_update(ms_store_t *st, const char *id, const char *status, int progress,
                               const char *error_code, const char *error_message,
                               json_t *metadata) {
    return st->ops->attachment_update(st, id, status, progress, error_code, error_message,
                                      metadata);
}

int ms_store_node_register(ms_store_t *st, const ms_node_t *node) {
    return st->ops->node_register(st, node);
}

int ms_store_node_list(ms_store_t *st, int64_t now_ms, ms_node_t **out, size_t *n) {
    return st->ops->node_list(st, now_ms, out, n);
}

int ms_store_node_renew(ms_store_t *st, const char *node_id, int64_t lease_expires) {
    return st->ops->node_renew(st, node_id, lease_expires);
}

int ms_store_node_release(ms_store_t *st, const char *node_id) {
    return st->ops->node_release(st, node_id);
}

int ms_store_recover(ms_store_t *st, int64_t now_ms, const char *suffix, int *count) {
    return st->ops->recover(st, now_ms, suffix, count);
}

int ms_store_folder_create(ms_store_t *st, const char *user_id, const ms_folder_fields_t *f,
                           const ms_folder_limits_t *lim, json_t **out) {
    return st->ops->folder_create(st, user_id, f, lim, out);
}

int ms_store_folder_get(ms_store_t *st, const char *user_id, const char *id, json_t **out) {
    return st->ops->folder_get(st, user_id, id, out);
}

int ms_store_folder_list(ms_store_t *st, const char *user_id, const char *parent_id, json_t **out) {
    return st->ops->folder_list(st, user_id, parent_id, out);
}

int ms_store_folder_tree(ms_store_t *st, const char *user_id, json_t **out) {
    return st->ops->folder_tree(st, user_id, out);
}

int ms_store_folder_update(ms_store_t *st, const char *user_id, const char *id,
                           const ms_folder_fields_t *f, const ms_folder_limits_t *lim,
                           json_t **out) {
    return st->ops->folder_update(st, user_id, id, f, lim, out);
}

int ms_store_folder_delete(ms_store_t *st, const char *user_id, const char *id) {
    return st->ops->folder_delete(st, user_id, id);
}

int ms_store_conversation_set_folder(ms_store_t *st, const char *user_id, const char *id,
                                     const char *folder_id, json_t **out) {
    return st->ops->conversation_set_folder(st, user_id, id, folder_id, out);
}

int ms_store_conversation_list_folder(ms_store_t *st, const char *user_id, const char *folder_id,
                                      const char *query, int limit, int offset, json_t **out) {
    return st->ops->conversation_list_folder(st, user_id, folder_id, query, limit, offset, out);
}

int ms_store_share_create(ms_store_t *st, const char *user_id, const char *conversation_id,
                          const char *token_hash_hex, const char *password_hash,
                          int64_t expires_at_ms, int64_t max_views, int max_links, json_t **out) {
    return st->ops->share_create(st, user_id, conversation_id, token_hash_hex, password_hash,
                                 expires_at_ms, max_views, max_links, out);
}

int ms_store_share_list(ms_store_t *st, const char *user_id, const char *conversation_id,
                        int64_t now_ms, json_t **out) {
    return st->ops->share_list(st, user_id, conversation_id, now_ms, out);
}

int ms_store_share_revoke(ms_store_t *st, const char *user_id, const char *conversation_id,
                          const char *key, int64_t now_ms) {
    return st->ops->share_revoke(st, user_id, conversation_id, key, now_ms);
}

int ms_store_share_lookup(ms_store_t *st, const char *token_hash_hex, ms_share_t *out) {
    return st->ops->share_lookup(st, token_hash_hex, out);
}

int ms_store_share_record(ms_store_t *st, const char *share_id, int64_t now_ms,
                          const char *client_address, const char *outcome, int log_max,
                          const char **result) {
    return st->ops->share_record(st, share_id, now_ms, client_address, outcome, log_max, result);
}

int ms_store_share_accesses(ms_store_t *st, const char *user_id, const char *conversation_id,
                            const char *share_id, int limit, json_t **out) {
    return st->ops->share_accesses(st, user_id, conversation_id, share_id, limit, out);
}

int ms_store_message_tools_put(ms_store_t *st, const char *msg_id, json_t *tools) {
    return st->ops->message_tools_put(st, msg_id, tools);
}

int ms_store_tools_by_conversation(ms_store_t *st, const char *conversation_id, json_t **out) {
    return st->ops->tools_by_conversation(st, conversation_id, out);
}

int ms_store_apikey_create(ms_store_t *st, const char *user_id, const char *name,
                           const char *key_hash_hex, const char *prefix, json_t **out) {
    return st->ops->apikey_create(st, user_id, name, key_hash_hex, prefix, out);
}

int ms_store_apikey_list(ms_store_t *st, json_t **out) {
    return st->ops->apikey_list(st, out);
}

int ms_store_apikey_revoke(ms_store_t *st, const char *id, int64_t now_ms) {
    return st->ops->apikey_revoke(st, id, now_ms);
}

int ms_store_apikey_lookup(ms_store_t *st, const char *key_hash_hex, ms_apikey_t *out) {
    return st->ops->apikey_lookup(st, key_hash_hex, out);
}
