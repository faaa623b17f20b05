/* Schema migrations, tracked in PRAGMA user_version (the store owns that
 * header field; the knowledge base, which shares the file, keeps its own
 * kb_* tables and must track its schema elsewhere).
 *
 * Each migration runs in one BEGIN IMMEDIATE transaction together with the
 * user_version bump, so a crash or a concurrent opener never sees a half
 * applied schema; a second connection opening at the same time waits for
 * the lock, re-reads user_version and finds nothing left to do. Migrations
 * are append-only: never edit one that has shipped, add the next. */
#include "store/store_int.h"

#include "core/log.h"

#include <stdio.h>

static const char *const migrations[] = {
    /* 1: users, refresh tokens, conversations, messages, citations. Times
     * are integer ms since the epoch. */
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  email TEXT NOT NULL COLLATE NOCASE UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('clinician', 'admin')),"
    "  password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ");"
    /* Only the SHA-256 of a refresh token is stored, so a copy of the
     * database does not hand out sessions. Used rows stay until they expire
     * so a replayed token can be recognised (RFC 6819 section 5.2.2.3). */
    "CREATE TABLE refresh_tokens ("
    "  token_hash TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER,"
    "  revoked INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);"
    "CREATE TABLE conversations ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  title TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX conversations_user_updated ON conversations(user_id, updated_at DESC);"
    /* seq orders messages within a conversation: created_at can tie (a
     * turn inserts two rows in the same millisecond) and rowids of a table
     * without an INTEGER PRIMARY KEY may change on VACUUM. */
    "CREATE TABLE messages ("
    "  id TEXT PRIMARY KEY,"
    "  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),"
    "  content TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL"
    "    CHECK (status IN ('streaming', 'complete', 'cancelled', 'interrupted', 'error')),"
    "  client_message_id TEXT,"
    "  reply_to TEXT REFERENCES messages(id) ON DELETE CASCADE,"
    "  finish_reason TEXT,"
    "  usage_json TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE UNIQUE INDEX messages_conversation_seq ON messages(conversation_id, seq);"
    /* Only user messages carry client_message_id; NULLs never collide. */
    "CREATE UNIQUE INDEX messages_client_id ON messages(conversation_id, client_message_id);"
    "CREATE INDEX messages_reply_to ON messages(reply_to) WHERE reply_to IS NOT NULL;"
    /* Start-up recovery looks for the few rows still streaming. */
    "CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';"
    "CREATE TABLE citations ("
    "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  source_id TEXT,"
    "  source_type TEXT,"
    "  title TEXT,"
    "  url TEXT,"
    "  source_name TEXT,"
    "  relevance_score REAL,"
    "  quoted_text TEXT,"
    "  pmid TEXT,"
    "  doi TEXT,"
    "  authors TEXT," /* JSON array of strings */
    "  journal TEXT,"
    "  year INTEGER,"
    "  PRIMARY KEY (message_id, idx)"
    ") WITHOUT ROWID;",
    /* 2: gateway nodes and their leases (store.h, "nodes, leases and crash
     * recovery"); each assistant message records the node streaming it.
     * Rows streaming from before this migration have no node and are
     * recovered at once. */
    "CREATE TABLE nodes ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  started_at INTEGER NOT NULL,"
    "  lease_expires INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX nodes_name ON nodes(name);"
    "ALTER TABLE messages ADD COLUMN node_id TEXT;",
    /* 3: a clinician's thumbs up (1) or down (-1) on an assistant message,
     * with an optional comment (src/store/feedback.c). One row per message:
     * a conversation has one owner, so the owner's verdict is the one. */
    "CREATE TABLE message_feedback ("
    "  message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),"
    "  comment TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    /* 4: folders (src/store/folders.c). Sibling names are unique per user
     * and parent; SQL never finds two NULLs equal, so the top level (NULL
     * parent) is indexed as '' through coalesce, which no folder id is.
     * Names compare with ASCII case folded (NOCASE). A parent's deletion
     * cascades only as the user's account goes: folders.c moves children
     * to the grandparent before it deletes a folder. A conversation whose
     * folder goes is unfiled (SET NULL), never deleted. */
    "CREATE TABLE folders ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  parent_id TEXT REFERENCES folders(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  color TEXT,"
    "  icon TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE UNIQUE INDEX folders_sibling_name ON folders(user_id, coalesce(parent_id, ''), name);"
    "CREATE INDEX folders_parent ON folders(parent_id) WHERE parent_id IS NOT NULL;"
    "ALTER TABLE conversations ADD COLUMN folder_id TEXT REFERENCES folders(id) ON DELETE SET NULL;"
    "CREATE INDEX conversations_folder ON conversations(folder_id, updated_at DESC)"
    "  WHERE folder_id IS NOT NULL;",
    /* 5: share links and their access log (src/store/shares.c). Only the
     * SHA-256 of a link's token is stored, and an argon2id hash of its
     * password; the log holds when, from which address and with what
     * outcome, never content. Revoked links keep their row, so they answer
     * "revoked" rather than "not found", and their log stays readable. */
    "CREATE TABLE conversation_shares ("
    "  id TEXT PRIMARY KEY,"
    "  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  max_views INTEGER CHECK (max_views IS NULL OR max_views > 0),"
    "  view_count INTEGER NOT NULL DEFAULT 0,"
    "  denied_count INTEGER NOT NULL DEFAULT 0,"
    "  last_access_at INTEGER,"
    "  revoked_at INTEGER"
    ");"
    "CREATE INDEX conversation_shares_conversation ON conversation_shares(conversation_id);"
    "CREATE TABLE share_accesses ("
    "  id INTEGER PRIMARY KEY,"
    "  share_id TEXT NOT NULL REFERENCES conversation_shares(id) ON DELETE CASCADE,"
    "  at INTEGER NOT NULL,"
    "  client_address TEXT NOT NULL,"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('viewed', 'password_required',"
    "    'wrong_password', 'expired', 'revoked', 'view_limit'))"
    ");"
    "CREATE INDEX share_accesses_share ON share_accesses(share_id, id);",
    /* 6: the grounding signal of a model's answer (llm/cite.h): the share
     * (0..1) of its sentences with lexical support in the passages they
     * cite; NULL when not measured (the offline answerer quotes its
     * passages verbatim, an answer with no sentence). */
    "ALTER TABLE messages ADD COLUMN grounding REAL"
    "  CHECK (grounding IS NULL OR (grounding >= 0 AND grounding <= 1));",
    /* 7: clinical contexts (src/store/clinical.c; seed 002 "Clinical Context
     * Persistence"): a patient's demographics, problems, medications,
     * allergies and vitals, owned by one user. A conversation is bound to
     * at most one context (conversations.clinical_context_id); a context
     * may serve several conversations about the same patient. Deleting a
     * context unbinds its conversations; deleting the user deletes both.
     * Lists and vitals are JSON text, validated before they are stored
     * (src/clinical/context.c). */
    "CREATE TABLE clinical_contexts ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'fhir')),"
    "  age INTEGER,"
    "  gender TEXT,"
    "  weight_kg REAL,"
    "  height_cm REAL,"
    "  chief_complaint TEXT,"
    "  problems TEXT NOT NULL DEFAULT '[]',"
    "  medications TEXT NOT NULL DEFAULT '[]',"
    "  allergies TEXT NOT NULL DEFAULT '[]',"
    "  vitals TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX clinical_contexts_user_updated ON clinical_contexts(user_id, updated_at DESC);"
    "ALTER TABLE conversations ADD COLUMN clinical_context_id TEXT"
    "  REFERENCES clinical_contexts(id) ON DELETE SET NULL;"
    "CREATE INDEX conversations_clinical_context ON conversations(clinical_context_id)"
    "  WHERE clinical_context_id IS NOT NULL;",
    /* 8: files attached
     * to a message (src/store/attachments.c). The bytes live behind the
     * blob seam under the row's id; conversation_id and user_id are the
     * message's, kept here so ownership checks and the cascade on a
     * conversation or user delete need no join. */
    "CREATE TABLE attachments ("
    "  id TEXT PRIMARY KEY,"
    "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  file_name TEXT NOT NULL,"
    "  file_type TEXT NOT NULL,"
    "  mime_type TEXT NOT NULL,"
    "  file_size INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'extracting', 'ready', 'failed')),"
    "  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),"
    "  error_code TEXT,"
    "  error_message TEXT,"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX attachments_message ON attachments(message_id, created_at);"
    "CREATE INDEX attachments_conversation ON attachments(conversation_id);",
    /* 9 (issue 12, structured citations and export): seed 002's citation
     * in full (publication date, volume, issue, pages, context) and the
     * section a passage answers (subtitle); relevance_score becomes 0-100
     * (rows written before held the re-ranked score, 0..2.15, the scale
     * the VoiceAssist dialect mapped from). message_tools keeps the tool
     * calls of an answer (the knowledge-base search: its query, and a
     * summary of what it found) so an export can show them. */
    "ALTER TABLE citations ADD COLUMN publication_date TEXT;"
    "ALTER TABLE citations ADD COLUMN volume TEXT;"
    "ALTER TABLE citations ADD COLUMN issue TEXT;"
    "ALTER TABLE citations ADD COLUMN pages TEXT;"
    "ALTER TABLE citations ADD COLUMN context TEXT;" /* JSON object */
    "ALTER TABLE citations ADD COLUMN subtitle TEXT;"
    "UPDATE citations SET relevance_score ="
    "  round(100.0 * min(1.0, max(0.0, relevance_score / 2.15)))"
    "  WHERE relevance_score IS NOT NULL;"
    "CREATE TABLE message_tools ("
    "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  tool_call_id TEXT,"
    "  name TEXT NOT NULL,"
    "  arguments TEXT," /* JSON object */
    "  result TEXT,"    /* JSON object */
    "  PRIMARY KEY (message_id, idx)"
    ") WITHOUT ROWID;",
    /* 10: the result of a diagnosis or prescription workflow
     * (docs/workflows.md), stored with the assistant message that answers
     * it, as the JSON object message_complete carried. NULL for an answer
     * to a question. */
    "ALTER TABLE messages ADD COLUMN workflow TEXT"
    "  CHECK (workflow IS NULL OR json_type(workflow) = 'object');",
    /* 11: API keys for the OpenAI-compatible API (src/store/apikeys.c).
     * Only the SHA-256 of a key is stored (a 256-bit random key needs no
     * slow hash); prefix is its first characters, for telling keys apart
     * in a listing. A revoked key keeps its row, so it answers "revoked". */
    "CREATE TABLE api_keys ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  name TEXT,"
    "  key_hash TEXT NOT NULL UNIQUE,"
    "  prefix TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER"
    ");"
    "CREATE INDEX api_keys_user ON api_keys(user_id);",
};

int ms__store_schema_version(void) {
    return (int)MS_COUNTOF(migrations);
}

static int read_version(sq_store_t *st, int *out) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? 0 : ms__store_err(st, rc, "read user_version");
}

int ms__store_migrate(sq_store_t *st) {
    int version = 0, rc;
    const int latest = ms__store_schema_version();
    if ((rc = ms__store_begin(st)) != 0)
        return rc;
    if ((rc = read_version(st, &version)) != 0)
        goto fail;
    if (version > latest) {
        /* A newer medstream wrote this file; running old code against it
         * could corrupt data it does not understand. */
        ms_log(MS_LOG_ERROR, "store_schema_too_new", "\"version\":%d,\"supported\":%d", version,
               latest);
        rc = MS_EIO;
        goto fail;
    }
    for (int v = version; v < latest; v++) {
        char *err = NULL;
        int src = sqlite3_exec(st->db, migrations[v], NULL, NULL, &err);
        if (src != SQLITE_OK) {
            ms_log(MS_LOG_ERROR, "store_migration_failed", "\"version\":%d,\"code\":%d", v + 1,
                   src);
            sqlite3_free(err);
            rc = MS_EIO;
            goto fail;
        }
        char bump[48];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", v + 1);
        if ((src = sqlite3_exec(st->db, bump, NULL, NULL, NULL)) != SQLITE_OK) {
            rc = ms__store_err(st, src, "set user_version");
            goto fail;
        }
    }
    if ((rc = ms__store_commit(st)) != 0)
        goto fail;
    if (version < latest)
        ms_log(MS_LOG_INFO, "store_migrated", "\"from\":%d,\"to\":%d", version, latest);
    return 0;
fail:
    ms__store_rollback(st);
    return rc;
}
