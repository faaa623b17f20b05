/* Persistence: users, refresh tokens, conversations, messages, citations,
 * and the gateway nodes that share one database.
 *
 * This is the storage seam (architecture.md, store/): every caller sees
 * only these functions; each one dispatches through the connection's
 * ms_store_ops_t (store/backend.h) to a backend. SQLite (WAL, one file in
 * the data directory) is the default and, for now, the only backend; the
 * interface is written for PostgreSQL too, so it never relies on SQLite's
 * single-writer lock for correctness: turn numbering and idempotency are
 * decided inside turn_begin's own transaction, and crash recovery is
 * bounded by node leases (ms_store_recover), so several gateway processes
 * can share one database.
 *
 * One ms_store_t is one connection and must be used by one thread at a time
 * (the server keeps one per pool thread). Every function is synchronous and
 * may block on I/O: never call one on the event-loop thread.
 *
 * Row shapes returned as JSON (jansson) match docs/protocol.md and the REST
 * API exactly, so handlers pass them through. The caller owns returned
 * json_t references (json_decref) and heap strings (free). Functions return
 * 0 or a negative MS_E* code (core/ms.h). */
#ifndef MS_STORE_STORE_H
#define MS_STORE_STORE_H

#include "core/ms.h"

#include <jansson.h>
#include <stdint.h>

typedef struct ms_store ms_store_t;

/** Opens a connection to the database at location, creating it if needed:
 * - a directory path (or "sqlite:DIR"): SQLite at DIR/medstream.db. The
 *   directory is created with mode 0700 and the database file with 0600
 *   (it holds PHI); WAL, foreign_keys=ON, busy_timeout 5000 ms; pending
 *   migrations are applied (tracked in PRAGMA user_version).
 * Returns 0, MS_EINVAL (unknown scheme, empty location) or MS_EIO (logged). */
int ms_store_open(const char *location, ms_store_t **out);
/** Closes the connection; NULL-safe. */
void ms_store_close(ms_store_t *st);
/** The backend's name ("sqlite"), for logs and /health. */
const char *ms_store_backend(const ms_store_t *st);

/** An integrity check of the whole database (SQLite: PRAGMA quick_check).
 * 0 when sound; MS_EIO with a one-line description of the first problem in
 * problem (size problemlen) when not. Slow on big files: start-up only. */
int ms_store_check(ms_store_t *st, char *problem, size_t problemlen);

/* ---- group commit (chat/work.c's DB writer) ------------------------------
 * A batch is one transaction around many store calls: each call still runs
 * as its own nested unit (SQLite: a savepoint), so a call that fails undoes
 * only its own changes, and the batch pays one durable commit for all. */

/** Starts a batch. MS_EBUSY when the write lock stayed busy, MS_EIO. */
int ms_store_batch_begin(ms_store_t *st);
/** Commits the batch. On failure the batch is rolled back and MS_EIO
 * returned: none of its calls' changes were kept. */
int ms_store_batch_commit(ms_store_t *st);
/** Abandons the batch (rolls it back); harmless when none is open. */
void ms_store_batch_rollback(ms_store_t *st);
/** Whether the batch's transaction is still open. It can end inside a call
 * when the engine rolls back by itself (an I/O error, a full disk): the
 * caller must then treat every call of the batch so far as lost. */
int ms_store_batch_open(ms_store_t *st);
/** Transactions this connection has committed since it was opened (any
 * kind), so the writer can tell "the batch ended by a commit inside a
 * call" from "the engine rolled it back". */
uint64_t ms_store_commits(ms_store_t *st);

/* ---- users and refresh tokens ------------------------------------------ */

/** A user row. password_hash is an argon2id string (libsodium crypto_pwhash_str). */
typedef struct {
    char id[MS_ID_LEN];
    char email[256];
    char role[16]; /**< "clinician" or "admin" */
    char password_hash[128];
    int64_t created_at; /**< ms since epoch */
} ms_user_t;

/** Creates a user; email is stored lower-cased and must be unique
 * (MS_EEXIST otherwise). Fills *out (may be NULL). */
int ms_store_user_create(ms_store_t *st, const char *email, const char *password_hash,
                         const char *role, ms_user_t *out);
/** Looks a user up by email (case-insensitive) or id. MS_ENOENT if absent. */
int ms_store_user_by_email(ms_store_t *st, const char *email, ms_user_t *out);
int ms_store_user_by_id(ms_store_t *st, const char *id, ms_user_t *out);
/** Number of users (for the start-up hint "create the first user"). */
int ms_store_user_count(ms_store_t *st, int64_t *out);
/** Every user as a JSON array of {"id","email","role","created_at"} (no
 * password hashes), oldest first: for `medstream user list` and admin views. */
int ms_store_user_list(ms_store_t *st, json_t **out);
/** Deletes the user with this email (case-insensitive) and everything that
 * is theirs: refresh tokens, conversations, messages, citations (ON DELETE
 * CASCADE). Fills *out (may be NULL; password_hash zeroed). MS_ENOENT if
 * there is no such user. Access tokens already issued are refused from then
 * on because every authenticated request checks that its user exists. */
int ms_store_user_delete(ms_store_t *st, const char *email, ms_user_t *out);

/** Stores a refresh token by its SHA-256 hex hash (never the token itself). */
int ms_store_refresh_put(ms_store_t *st, const char *token_hash_hex, const char *user_id,
                         int64_t expires_at_ms);
/** Rotation: atomically marks the token used and returns its user.
 * MS_EAUTH if unknown, expired or already used. If an already-used token is
 * presented again (replay, RFC 6819 section 5.2.2.3), every refresh token of
 * that user is revoked and MS_EAUTH returned. */
int ms_store_refresh_consume(ms_store_t *st, const char *token_hash_hex,
                             char user_id_out[MS_ID_LEN]);

/* ---- conversations ------------------------------------------------------ */

/** Conversation JSON: {"id","title","created_at","updated_at","message_count"}
 * (times are RFC 3339 strings). */
int ms_store_conversation_create(ms_store_t *st, const char *user_id, const char *title,
                                 json_t **out);
/** The conversation with this id (a UUID chosen by the caller) if it is
 * user_id's, else creates it for user_id with title. MS_EPERM if it belongs
 * to another user; MS_EINVAL if id is not a UUID. Safe against a
 * concurrent create of the same id (by this or another process). */
int ms_store_conversation_get_or_create(ms_store_t *st, const char *user_id, const char *id,
                                        const char *title, json_t **out);
/** Fetches a conversation. MS_ENOENT if absent or deleted; MS_EPERM if it
 * belongs to another user (callers must not reveal which to clients when
 * that would leak existence: the REST API answers 404 for both). */
int ms_store_conversation_get(ms_store_t *st, const char *user_id, const char *id, json_t **out);
/** The user's conversations, newest updated first: a JSON array. */
int ms_store_conversation_list(ms_store_t *st, const char *user_id, int limit, int offset,
                               json_t **out);
/** The user's conversations whose title or any message contains query
 * (a substring, ASCII case folded; 1 or more bytes of UTF-8), newest
 * updated first, paged like list. MS_EINVAL for an empty query. */
int ms_store_conversation_search(ms_store_t *st, const char *user_id, const char *query, int limit,
                                 int offset, json_t **out);
/** Renames; same errors as get. */
int ms_store_conversation_rename(ms_store_t *st, const char *user_id, const char *id,
                                 const char *title, json_t **out);
/** Deletes the conversation with its messages and citations; same errors as get. */
int ms_store_conversation_delete(ms_store_t *st, const char *user_id, const char *id);

/* ---- messages ----------------------------------------------------------- */

/** Message status values (docs/protocol.md). */
#define MS_MSG_STREAMING "streaming"
#define MS_MSG_COMPLETE "complete"
#define MS_MSG_CANCELLED "cancelled"
#define MS_MSG_INTERRUPTED "interrupted"
#define MS_MSG_ERROR "error"

/** Inserts a user message (status complete) and the assistant message that
 * answers it (status streaming, empty content, streamed by node_id) in one
 * transaction, numbered after every message of the conversation, and bumps
 * the conversation's updated_at. client_message_id may be NULL; when given
 * it is unique per conversation (MS_EEXIST if it already exists: the caller
 * then uses ms_store_message_by_client_id). MS_ENOENT when the conversation
 * does not exist. Correct under concurrent turns on one conversation from
 * several processes: numbering and the uniqueness check happen inside the
 * same write transaction. */
int ms_store_turn_begin(ms_store_t *st, const char *conversation_id, const char *user_msg_id,
                        const char *assistant_msg_id, const char *client_message_id,
                        const char *user_text, const char *node_id);

/** Checkpoints or finalises an assistant message: content, status and, when
 * non-NULL, finish_reason, usage (JSON object) and citations (JSON array of
 * citation objects, replacing any stored). NULL content or status keeps the
 * stored value. Does not touch unrelated rows. */
int ms_store_message_update(ms_store_t *st, const char *msg_id, const char *content,
                            const char *status, const char *finish_reason, json_t *usage,
                            json_t *citations);

/** Message JSON: {"id","conversation_id","role","content","status",
 * "client_message_id"|null,"reply_to"|null,"finish_reason"|null,"usage"|null,
 * "citations":[...],"created_at","updated_at"}; citations as
 * docs/protocol.md "Citation" (store/citations.c). MS_ENOENT if absent. */
int ms_store_message_get(ms_store_t *st, const char *msg_id, json_t **out);
/** The user message with this client_message_id in the conversation and its
 * assistant reply (either out may be NULL). MS_ENOENT if none. */
int ms_store_message_by_client_id(ms_store_t *st, const char *conversation_id,
                                  const char *client_message_id, json_t **user_msg,
                                  json_t **assistant_msg);
/** All messages of a conversation, oldest first, with citations. */
int ms_store_message_list(ms_store_t *st, const char *conversation_id, json_t **out);
/** The last n messages (role + content), oldest first, as a JSON array of
 * {"role","content"} for the conversation's recent-turn context. Messages
 * still streaming and messages with empty content are skipped, so calling
 * it right after ms_store_turn_begin yields history ending with the new
 * user message. n is clamped to 0..200. */
int ms_store_recent_turns(ms_store_t *st, const char *conversation_id, int n, json_t **out);

/* ---- tool calls of answers ------------------------------------------------
 * What an answer's turn asked its tools (the knowledge-base search) and a
 * summary of what came back, kept with the message so a conversation's
 * export can show them (issue 12). */

/** Replaces the tool calls of message msg_id with tools, a JSON array of
 * {"tool_call_id"|null, "name" (1..64 bytes), "arguments": object|null,
 * "result": object|null}, in call order; each object at most 64 KiB of
 * compact JSON. MS_EINVAL for another shape, MS_ENOENT when the message
 * does not exist. */
int ms_store_message_tools_put(ms_store_t *st, const char *msg_id, json_t *tools);
/** Every tool call of a conversation's messages: a JSON object keyed by
 * message id, each an array of {"tool_call_id","name","arguments",
 * "result"} in call order. The caller has checked that the conversation
 * is the user's. */
int ms_store_tools_by_conversation(ms_store_t *st, const char *conversation_id, json_t **out);

/* ---- feedback on answers ----------------------------------------------------
 * A thumbs up or down with an optional comment, one per assistant message,
 * set and read by the owner of its conversation. */

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

/* ---- nodes, leases and crash recovery ------------------------------------
 * Every gateway process is a node: an id (a new UUID each start, so a
 * restarted process is a new node), a name (stable across restarts, e.g.
 * "host:port"), and a lease it renews while it lives. An assistant message
 * is streamed by one node. When a node dies without cleaning up, its
 * messages stay 'streaming' until its lease expires; only then may another
 * node mark them 'interrupted'. A node that starts under the name of a
 * node whose lease is still running knows that node is its own previous
 * life (two live processes must not share a name) and recovers it at once. */

/** One node's row. */
typedef struct {
    char id[MS_ID_LEN];
    char name[128];        /**< stable, unique among live nodes */
    char host[128];        /**< the machine it runs on (gethostname) */
    int64_t pid;           /**< its process id there */
    int64_t started_at;    /**< ms since epoch */
    int64_t lease_expires; /**< ms since epoch */
} ms_node_t;

/** Registers node (its id must be new) with its lease, and ends the lease
 * of any earlier node with the same name (lease_expires = 0), whose
 * messages the next ms_store_recover then marks interrupted. */
int ms_store_node_register(ms_store_t *st, const ms_node_t *node);
/** Every node row whose lease has not ended (lease_expires >= now_ms), as
 * a malloc'd array (*out, free() it) of *n rows. A node on this host whose
 * process is gone is dead whatever its lease says: the caller may end its
 * lease with ms_store_node_release. */
int ms_store_node_list(ms_store_t *st, int64_t now_ms, ms_node_t **out, size_t *n);
/** Extends node_id's lease to lease_expires (ms since epoch). MS_ENOENT when
 * the node's row is gone (another node took its name over): the caller must
 * stop serving turns, since its streaming messages may now be recovered. */
int ms_store_node_renew(ms_store_t *st, const char *node_id, int64_t lease_expires);
/** Ends node_id's lease now (graceful shutdown, after its answers were
 * finalised): the next ms_store_recover marks its remaining 'streaming'
 * messages (turns that never started answering) and removes its row. */
int ms_store_node_release(ms_store_t *st, const char *node_id);
/** Crash recovery, safe to run by any node at any time: every message still
 * 'streaming' whose node's lease expired before now_ms (or whose node is
 * unknown) becomes 'interrupted' with finish_reason "interrupted", its last
 * checkpointed text kept and suffix appended (the disclaimer, so every
 * assistant message a client sees carries it; NULL for none). Messages of
 * nodes whose lease still runs are never touched. Expired node rows are
 * deleted. *count (may be NULL) gets the number of messages changed. */
int ms_store_recover(ms_store_t *st, int64_t now_ms, const char *suffix, int *count);

#endif
