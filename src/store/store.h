/* Persistence: users, refresh tokens, conversations, messages, citations.
 *
 * One ms_store_t is one database connection and must be used by one thread
 * at a time (the server keeps one per worker thread). Every function is
 * synchronous and may block on disk; never call it on the event-loop thread.
 * The default backend is SQLite in WAL mode at <data_dir>/medstream.db;
 * the same interface is meant for a PostgreSQL backend later.
 *
 * Row shapes returned as JSON (jansson) match docs/protocol.md and the REST
 * API exactly, so handlers pass them through. Caller owns returned json_t
 * references (json_decref) and heap strings (free). */
#ifndef MS_STORE_STORE_H
#define MS_STORE_STORE_H

#include "core/ms.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

typedef struct ms_store ms_store_t;

/** Opens (creating if needed) <data_dir>/medstream.db: creates data_dir
 * (mode 0700) if missing, sets WAL, foreign_keys=ON, busy_timeout 5000 ms,
 * and applies pending migrations (tracked in PRAGMA user_version).
 * Returns 0, or MS_EIO with a message logged. */
int ms_store_open(const char *data_dir, ms_store_t **out);
/** Closes the connection; NULL-safe. */
void ms_store_close(ms_store_t *st);
/** The underlying SQLite handle (the knowledge base shares the file). */
sqlite3 *ms_store_db(ms_store_t *st);

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

/** Conversation JSON: {"id","title","created_at","updated_at","message_count"}
 * (times are RFC 3339 strings). */
int ms_store_conversation_create(ms_store_t *st, const char *user_id, const char *title,
                                 json_t **out);
/** The conversation with this id (a UUID chosen by the caller) if it is
 * user_id's, else creates it for user_id with title. MS_EPERM if it belongs
 * to another user; MS_EINVAL if id is not a UUID. Safe against a
 * concurrent create of the same id. */
int ms_store_conversation_get_or_create(ms_store_t *st, const char *user_id, const char *id,
                                        const char *title, json_t **out);
/** Fetches a conversation. MS_ENOENT if absent or deleted; MS_EPERM if it
 * belongs to another user (callers must not reveal which to clients when
 * that would leak existence: the REST API answers 404 for both). */
int ms_store_conversation_get(ms_store_t *st, const char *user_id, const char *id, json_t **out);
/** The user's conversations, newest updated first: a JSON array. */
int ms_store_conversation_list(ms_store_t *st, const char *user_id, int limit, int offset,
                               json_t **out);
/** Renames; same errors as get. */
int ms_store_conversation_rename(ms_store_t *st, const char *user_id, const char *id,
                                 const char *title, json_t **out);
/** Deletes the conversation with its messages and citations; same errors as get. */
int ms_store_conversation_delete(ms_store_t *st, const char *user_id, const char *id);

/** Message status values (docs/protocol.md). */
#define MS_MSG_STREAMING "streaming"
#define MS_MSG_COMPLETE "complete"
#define MS_MSG_CANCELLED "cancelled"
#define MS_MSG_INTERRUPTED "interrupted"
#define MS_MSG_ERROR "error"

/** Inserts a user message (status complete) and the assistant message that
 * answers it (status streaming, empty content) in one transaction, and bumps
 * the conversation's updated_at. client_message_id may be NULL; when given it
 * is unique per conversation (MS_EEXIST if it already exists: the caller then
 * uses ms_store_message_by_client_id). */
int ms_store_turn_begin(ms_store_t *st, const char *conversation_id, const char *user_msg_id,
                        const char *assistant_msg_id, const char *client_message_id,
                        const char *user_text);

/** Checkpoints or finalises an assistant message: content, status and, when
 * non-NULL, finish_reason, usage (JSON object) and citations (JSON array of
 * citation objects, replacing any stored). Does not touch unrelated rows. */
int ms_store_message_update(ms_store_t *st, const char *msg_id, const char *content,
                            const char *status, const char *finish_reason, json_t *usage,
                            json_t *citations);

/** Message JSON: {"id","conversation_id","role","content","status",
 * "client_message_id"|null,"reply_to"|null,"finish_reason"|null,"usage"|null,
 * "citations":[...],"created_at","updated_at"}. MS_ENOENT if absent. */
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
/** Start-up recovery: every message still 'streaming' becomes 'interrupted'
 * (content kept). *count gets the number changed. */
int ms_store_mark_interrupted(ms_store_t *st, int *count);

#endif
