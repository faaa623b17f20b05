/* Persistence: users, refresh tokens, conversations, messages, citations,
 * clinical contexts, and the gateway nodes that share one database.
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

/** Conversation JSON: {"id","title","created_at","updated_at","message_count",
 * "folder_id"|null} (times are RFC 3339 strings; folder_id: the folder it is
 * filed in, see "folders" below). */
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

/** Records the grounding signal of an assistant message (0..1, llm/cite.h
 * ms_llm_grounding). MS_EINVAL outside 0..1, MS_ENOENT when no such row. */
int ms_store_message_set_grounding(ms_store_t *st, const char *msg_id, double grounding);

/** Records the result of the workflow an assistant message answers
 * (docs/workflows.md: a JSON object, copied; the message JSON's
 * "workflow"). MS_EINVAL when result is not an object, MS_ENOENT when no
 * such row. */
int ms_store_message_set_workflow(ms_store_t *st, const char *msg_id, json_t *result);

/** Message JSON: {"id","conversation_id","role","content","status",
 * "client_message_id"|null,"reply_to"|null,"finish_reason"|null,"usage"|null,
 * "grounding"|null,"workflow"|null (a workflow's result object),"citations":[...],
 * "created_at","updated_at"}; citations as docs/protocol.md "Citation"
 * (store/citations.c). MS_ENOENT if absent. */
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

/* ---- clinical contexts ------------------------------------------------------
 * A patient's clinical context (src/clinical/clinical.h gives the members,
 * their units and ranges; the caller validates with ms_clinical_check before
 * any write: the store keeps what it is given). Owned by one user; another
 * user's context answers MS_ENOENT exactly like a missing one. A
 * conversation is bound to at most one context; one context may be bound to
 * several of its owner's conversations. */

/** Context JSON: {"id","user_id","source":"manual"|"fhir","conversation_ids":
 * [ids bound, oldest conversation first],"age","gender","weight_kg",
 * "height_cm","chief_complaint" (each null when unknown),"problems",
 * "medications","allergies" (arrays of strings),"vitals" (object),
 * "created_at","updated_at"} (RFC 3339 times). */

/** Creates a context for user_id from fields (members absent are unknown;
 * source "manual" or "fhir"). With conversation_id (else NULL) the
 * conversation is bound to it in the same transaction: MS_ENOENT when that
 * conversation is not user_id's, MS_EEXIST when it is already bound to a
 * context. *out (may be NULL) gets the row. */
int ms_store_clinical_create(ms_store_t *st, const char *user_id, json_t *fields,
                             const char *source, const char *conversation_id, json_t **out);
/** The context id of user_id's. MS_ENOENT if absent or another user's. */
int ms_store_clinical_get(ms_store_t *st, const char *user_id, const char *id, json_t **out);
/** With conversation_id: the context that conversation is bound to
 * (MS_ENOENT when it is not user_id's or has none). Without (NULL): user_id's
 * most recently updated context (MS_ENOENT when there is none). */
int ms_store_clinical_current(ms_store_t *st, const char *user_id, const char *conversation_id,
                              json_t **out);
/** Updates the members of patch (each present member replaces the stored
 * one; null clears it; absent members are kept) and, when source is not
 * NULL, the source. MS_ENOENT as get. *out (may be NULL) gets the row. */
int ms_store_clinical_update(ms_store_t *st, const char *user_id, const char *id, json_t *patch,
                             const char *source, json_t **out);
/** Deletes the context; its conversations are unbound. MS_ENOENT as get. */
int ms_store_clinical_delete(ms_store_t *st, const char *user_id, const char *id);
/** Binds conversation_id to context_id (replacing any earlier binding),
 * both user_id's: MS_ENOENT when either is absent or another user's.
 * Writes nothing when the binding is already so. */
int ms_store_clinical_bind(ms_store_t *st, const char *user_id, const char *conversation_id,
                           const char *context_id);
/* ---- attachments --------------------------------------------------------
 * Files attached to a message (seed 002 "File Upload in Chat Messages"):
 * the metadata lives here, the bytes behind the blob seam (files/blob.h),
 * under the attachment's id. Ownership goes through the message's
 * conversation: another user's attachment or message answers MS_ENOENT,
 * like an absent one. Deleting a message, conversation or user deletes
 * the rows (ON DELETE CASCADE); the caller removes blobs and passages. */

/** Attachment status values (docs/protocol.md "Attachments"). */
#define MS_ATT_PENDING "pending"       /**< stored, waiting for the extraction pool */
#define MS_ATT_EXTRACTING "extracting" /**< text extraction running (progress moves) */
#define MS_ATT_READY "ready"           /**< text extracted and searchable */
#define MS_ATT_FAILED "failed"         /**< extraction refused or failed (error says why) */

/** What an upload stores. */
typedef struct {
    char id[MS_ID_LEN];    /**< the attachment id, also its blob key (a UUID) */
    const char *file_name; /**< the client's name, made safe (files.h ms_files_safe_name) */
    const char *file_type; /**< "pdf", "txt", "md", "png", "jpeg", "gif", "docx" (sniffed) */
    const char *mime_type; /**< the media type served on download */
    int64_t file_size;     /**< bytes */
} ms_attachment_new_t;

/** Attachment JSON: {"id","message_id","conversation_id","file_name",
 * "file_type","mime_type","file_size","file_url","status","progress"
 * (0..100),"error":null|{"code","message"},"metadata":{...},"created_at",
 * "updated_at"}. */

/** Stores a new attachment (status pending) on message_id. MS_ENOENT when
 * the message does not exist or is not user_id's; MS_EEXIST when the id is
 * taken. *out (may be NULL) gets the row. */
int ms_store_attachment_create(ms_store_t *st, const char *user_id, const char *message_id,
                               const ms_attachment_new_t *a, json_t **out);
/** The attachment; MS_ENOENT when absent or not user_id's. */
int ms_store_attachment_get(ms_store_t *st, const char *user_id, const char *id, json_t **out);
/** The message's attachments, oldest first; MS_ENOENT when the message is
 * absent or not user_id's. */
int ms_store_attachment_list(ms_store_t *st, const char *user_id, const char *message_id,
                             json_t **out);
/** Deletes the attachment; *out (may be NULL) gets the row it was.
 * MS_ENOENT when absent or not user_id's. */
int ms_store_attachment_delete(ms_store_t *st, const char *user_id, const char *id, json_t **out);
/** The extraction's progress or outcome (no ownership check: the
 * extraction pool's own write). status is one of MS_ATT_*; error_code and
 * error_message NULL unless failed; metadata a JSON object or NULL to keep
 * the stored one. MS_ENOENT when the row is gone (deleted meanwhile). */
int ms_store_attachment_update(ms_store_t *st, const char *id, const char *status, int progress,
                               const char *error_code, const char *error_message, json_t *metadata);

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

/* ---- folders ----------------------------------------------------------------
 * A user's conversations can be filed in folders, nested to any depth the
 * configuration allows (folder_max_depth), each with an optional colour and
 * icon. Names are unique among siblings (the same parent, or the top level
 * for folders without one), compared with ASCII case folded. A conversation
 * is in at most one folder (its folder_id).
 *
 * Every write that reads the tree to decide (the cycle check of a move, the
 * depth and count limits, the sibling names of a delete) does so inside the
 * same write transaction as its change, so two processes sharing the
 * database cannot together build a cycle or break a limit. Another user's
 * folder is MS_ENOENT, exactly like an absent one. */

/** Longest folder name, in Unicode code points (after trimming). */
#define MS_FOLDER_MAX_NAME_CHARS 100
/** Longest icon name, in bytes. */
#define MS_FOLDER_MAX_ICON_BYTES 32

/** Limits the caller takes from configuration (folder_max_depth,
 * max_folders_per_user). A top-level folder is at depth 1. */
typedef struct {
    int max_depth;    /**< deepest level a folder may sit at, >= 1 */
    int max_per_user; /**< folders one user may have, >= 1 */
} ms_folder_limits_t;

/** Fields of a create or an update. For an update each set_* says whether
 * the field was given; for a create name is required and the set_* flags
 * are ignored (every field is taken as given, NULL meaning none). */
typedef struct {
    int set_name;
    const char *name; /**< see ms_folder_name_valid */
    int set_color;
    const char *color; /**< NULL for none; see ms_folder_color_valid */
    int set_icon;
    const char *icon; /**< NULL for none; see ms_folder_icon_valid */
    int set_parent;
    const char *parent_id; /**< NULL: the top level */
} ms_folder_fields_t;

/** Whether name is a valid folder name: UTF-8 without control characters
 * (U+0000..U+001F, U+007F), 1 to MS_FOLDER_MAX_NAME_CHARS code points once
 * surrounding ASCII whitespace is trimmed (the stored form). */
int ms_folder_name_valid(const char *name);
/** Whether color is "#rgb" or "#rrggbb" in hexadecimal digits (either
 * case; stored lower-cased), the CSS hex colour forms (CSS Color 4
 * section 5.2) without alpha. */
int ms_folder_color_valid(const char *color);
/** Whether icon is an icon name: 1 to MS_FOLDER_MAX_ICON_BYTES of a-z,
 * 0-9, '-' and '_', starting with a letter or digit ("folder",
 * "heart-pulse", "folder_open"). Clients map names to their icon set. */
int ms_folder_icon_valid(const char *icon);

/** Folder JSON: {"id","name","parent_folder_id"|null,"color"|null,
 * "icon"|null,"conversation_count","created_at","updated_at"} (RFC 3339
 * times; conversation_count counts the conversations filed directly in
 * it). */

/** Creates a folder of user_id (f->name required). MS_EINVAL for a bad
 * field; MS_ENOENT when parent_id is not one of the user's folders;
 * MS_EEXIST when a sibling has that name; MS_ETOOBIG when the folder would
 * sit deeper than lim->max_depth or the user has lim->max_per_user
 * folders already. *out (may be NULL) gets the folder. */
int ms_store_folder_create(ms_store_t *st, const char *user_id, const ms_folder_fields_t *f,
                           const ms_folder_limits_t *lim, json_t **out);
/** The folder; MS_ENOENT if absent or another user's. */
int ms_store_folder_get(ms_store_t *st, const char *user_id, const char *id, json_t **out);
/** The folders directly under parent_id (NULL: the top level), by name
 * then id, as a JSON array. MS_ENOENT when parent_id is not the user's. */
int ms_store_folder_list(ms_store_t *st, const char *user_id, const char *parent_id, json_t **out);
/** Every folder of the user as a forest: a JSON array of the top-level
 * folders, each Folder JSON with "children" (the same shape, by name). */
int ms_store_folder_tree(ms_store_t *st, const char *user_id, json_t **out);
/** Changes the given fields. Moving (set_parent) checks, in the same
 * transaction as the change: the new parent is the user's (MS_ENOENT);
 * it is neither the folder itself nor one of its descendants (MS_EINVAL,
 * also for a bad field); the folder's whole subtree stays within
 * lim->max_depth (MS_ETOOBIG); no sibling there has its name (MS_EEXIST).
 * MS_ENOENT when id is not the user's. *out (may be NULL) gets the folder. */
int ms_store_folder_update(ms_store_t *st, const char *user_id, const char *id,
                           const ms_folder_fields_t *f, const ms_folder_limits_t *lim,
                           json_t **out);
/** Deletes the folder. Its child folders and its conversations move to
 * its parent (the top level when it had none), in the same transaction;
 * MS_EEXIST (nothing changed) when a child folder's name is already taken
 * there. MS_ENOENT when id is not the user's. */
int ms_store_folder_delete(ms_store_t *st, const char *user_id, const char *id);

/** Files conversation id in folder_id (NULL: in no folder); updated_at is
 * not changed (filing is not a change of the conversation). MS_ENOENT when
 * the conversation (MS_EPERM: another user's) or the folder is not the
 * user's. *out (may be NULL) gets the Conversation JSON. */
int ms_store_conversation_set_folder(ms_store_t *st, const char *user_id, const char *id,
                                     const char *folder_id, json_t **out);
/** Like ms_store_conversation_list (and, with a non-NULL query, like
 * ms_store_conversation_search), restricted to the conversations filed in
 * folder_id (NULL: in no folder). MS_ENOENT when folder_id is not the
 * user's. */
int ms_store_conversation_list_folder(ms_store_t *st, const char *user_id, const char *folder_id,
                                      const char *query, int limit, int offset, json_t **out);

/* ---- share links --------------------------------------------------------------
 * A read-only link to one conversation for someone without an account. The
 * link's token is a random secret the caller makes (auth/auth.h
 * ms_token_random); the store keeps only its SHA-256 (ms_token_hash) and,
 * for a password-protected link, the password's argon2id hash. A link
 * ends when it expires, when it is revoked, or once it has been viewed
 * max_views times. Every attempt on a known link is recorded in its access
 * log with its time, the client's address and the outcome; never any
 * content, token or password. Rows go with their conversation. */

/** Access outcomes, as recorded and as shown to the owner. */
#define MS_SHARE_VIEWED "viewed"
#define MS_SHARE_PASSWORD_REQUIRED "password_required"
#define MS_SHARE_WRONG_PASSWORD "wrong_password"
#define MS_SHARE_EXPIRED "expired"
#define MS_SHARE_REVOKED "revoked"
#define MS_SHARE_VIEW_LIMIT "view_limit"

/** One link, as the viewing path needs it. */
typedef struct {
    char id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN];
    char owner_id[MS_ID_LEN]; /**< the conversation's user */
    char password_hash[128];  /**< argon2id string, "" when none */
    int64_t created_at;       /**< ms since epoch */
    int64_t expires_at;       /**< ms since epoch */
    int64_t max_views;        /**< 0: no cap */
    int64_t view_count;       /**< successful views so far */
    int64_t revoked_at;       /**< ms since epoch, 0 when not revoked */
} ms_share_t;

/** Why a link no longer opens at now_ms, checked in this order: revoked
 * (MS_SHARE_REVOKED), expired (MS_SHARE_EXPIRED: now_ms >= expires_at),
 * viewed max_views times (MS_SHARE_VIEW_LIMIT); NULL while it opens. */
const char *ms_share_ended(const ms_share_t *s, int64_t now_ms);

/** Share JSON (the owner's view): {"id","conversation_id","created_at",
 * "expires_at","password_protected","max_views"|null,"view_count",
 * "views_remaining"|null,"denied_count","last_access_at"|null,
 * "revoked_at"|null,"state":"active"|"revoked"|"expired"|"view_limit"}. */

/** Creates a link to conversation id of user_id that expires at
 * expires_at_ms, opens at most max_views times (0: no cap), keyed by
 * token_hash_hex (64 lower-case hex digits) and, when password_hash is not
 * NULL, protected by it. A conversation keeps at most max_links links:
 * when it has that many, the oldest that has ended is deleted (with its
 * log) to make room, and MS_ETOOBIG is returned when none has. MS_ENOENT
 * (MS_EPERM: another user's) for the conversation; MS_EINVAL for bad
 * arguments. *out (may be NULL) gets the Share JSON. */
int ms_store_share_create(ms_store_t *st, const char *user_id, const char *conversation_id,
                          const char *token_hash_hex, const char *password_hash,
                          int64_t expires_at_ms, int64_t max_views, int max_links, json_t **out);
/** The links of conversation id, newest first, states as of now_ms.
 * MS_ENOENT / MS_EPERM as for ms_store_conversation_get. */
int ms_store_share_list(ms_store_t *st, const char *user_id, const char *conversation_id,
                        int64_t now_ms, json_t **out);
/** Revokes the link of conversation id whose id is key or whose token
 * hash is key (revoked_at = now_ms; the row and its log stay, so the link
 * answers "revoked" from then on). Revoking twice is not an error.
 * MS_ENOENT when no such link of the user's conversation exists. */
int ms_store_share_revoke(ms_store_t *st, const char *user_id, const char *conversation_id,
                          const char *key, int64_t now_ms);
/** The link whose token hash is token_hash_hex; MS_ENOENT if none. */
int ms_store_share_lookup(ms_store_t *st, const char *token_hash_hex, ms_share_t *out);
/** Records one attempt on link share_id at now_ms from client_address (at
 * most 64 bytes; a longer one is cut), keeping only the newest log_max
 * rows of its log. outcome is MS_SHARE_VIEWED for a view that passed the
 * password check: the link's state is checked again and, when it still
 * opens, its view is counted, all in one write transaction (so a view cap
 * holds under concurrent views from several processes); otherwise the
 * denial it ended with is recorded instead. Any other outcome is recorded
 * as a denial. *result (may be NULL) gets the outcome recorded.
 * MS_ENOENT when the link is gone; MS_EINVAL for an unknown outcome. */
int ms_store_share_record(ms_store_t *st, const char *share_id, int64_t now_ms,
                          const char *client_address, const char *outcome, int log_max,
                          const char **result);
/** The access log of link share_id of the user's conversation id, newest
 * first, at most limit rows (1..1000): a JSON array of {"at",
 * "client_address","outcome"}. MS_ENOENT when no such link is the user's. */
int ms_store_share_accesses(ms_store_t *st, const char *user_id, const char *conversation_id,
                            const char *share_id, int limit, json_t **out);

/* ---- API keys -----------------------------------------------------------------
 * Keys for the OpenAI-compatible API (docs/protocol.md "OpenAI-compatible
 * API"): "msk-" and 43 URL-safe base64 characters of 32 random bytes. The
 * store holds only the SHA-256 of a key (ms_token_hash, auth/auth.h; a
 * 256-bit random secret needs no slow hash), never the key itself. */

/** The longest API key name, in bytes. */
#define MS_APIKEY_MAX_NAME 200

/** What a key lookup returns. */
typedef struct {
    char id[MS_ID_LEN];
    char user_id[MS_ID_LEN];
    int64_t revoked_at; /**< ms since the epoch, 0 when live */
} ms_apikey_t;

/** Stores a new key of user_id: its SHA-256 (64 lower-case hex), a
 * display prefix (up to 16 bytes) and an optional name (up to
 * MS_APIKEY_MAX_NAME bytes, NULL: none). *out (may be NULL) gets
 * {"id","user_id","name","prefix","created_at"}. MS_ENOENT when the user
 * does not exist, MS_EINVAL on a bad argument, MS_EEXIST on a hash
 * collision (never in practice). */
int ms_store_apikey_create(ms_store_t *st, const char *user_id, const char *name,
                           const char *key_hash_hex, const char *prefix, json_t **out);
/** Every key, oldest first: a JSON array of {"id","email","name"|null,
 * "prefix","created_at","revoked_at"|null} (RFC 3339 times). */
int ms_store_apikey_list(ms_store_t *st, json_t **out);
/** Revokes key id at now_ms (ms since the epoch). MS_ENOENT when there is
 * no such key; revoking twice keeps the first time and returns 0. */
int ms_store_apikey_revoke(ms_store_t *st, const char *id, int64_t now_ms);
/** The key whose SHA-256 is key_hash_hex (revoked ones too: the caller
 * tells "revoked" apart). MS_ENOENT when none. */
int ms_store_apikey_lookup(ms_store_t *st, const char *key_hash_hex, ms_apikey_t *out);

#endif
