/* Feedback on assistant messages: a thumbs up or down with an optional
 * comment, one per message, set and read by the owner of the conversation.
 * Same rules as store.h: one connection per thread, synchronous, caller
 * owns returned JSON. */
#ifndef MS_STORE_FEEDBACK_H
#define MS_STORE_FEEDBACK_H

#include "store/store.h"

/** Longest comment, in Unicode code points. */
#define MS_FEEDBACK_MAX_COMMENT_CHARS 2000

/** Feedback JSON: {"message_id","rating":"up"|"down","comment"|null,
 * "created_at","updated_at"} (RFC 3339 times). */

/** Sets (or replaces) the feedback on message_id: rating 1 (up) or -1
 * (down), comment NULL or valid UTF-8 of at most
 * MS_FEEDBACK_MAX_COMMENT_CHARS code points (an empty one is stored as
 * NULL). MS_ENOENT if the message does not exist or its conversation is not
 * user_id's (no existence leak); MS_EINVAL for a bad rating or comment, or a
 * message that is not the assistant's. *out (may be NULL) gets the row. */
int ms_store_feedback_put(ms_store_t *st, const char *user_id, const char *message_id, int rating,
                          const char *comment, json_t **out);
/** The feedback on message_id; MS_ENOENT if none, or if the message is not
 * user_id's. */
int ms_store_feedback_get(ms_store_t *st, const char *user_id, const char *message_id,
                          json_t **out);
/** Removes the feedback on message_id (0 also when there was none);
 * MS_ENOENT if the message is not user_id's. */
int ms_store_feedback_delete(ms_store_t *st, const char *user_id, const char *message_id);
/** Every feedback row of a conversation's messages as a JSON object keyed
 * by message id. The caller has checked that the conversation is the
 * user's. */
int ms_store_feedback_by_conversation(ms_store_t *st, const char *conversation_id, json_t **out);

#endif
