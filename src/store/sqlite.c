/* The SQLite connection: opening with the pragmas the rest of the store
 * relies on, the per-connection prepared-statement cache, transactions and
 * error mapping. Schema lives in migrations.c, rows in users.c,
 * conversations.c and messages.c. */
#include "store/sqlite.h"
#include "store/store_int.h"

#include "core/buf.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a writer waits for another connection's write lock before the
 * statement fails with SQLITE_BUSY. Long enough to ride out any group commit. */
#define MS_STORE_BUSY_TIMEOUT_MS 5000

/* Logs an event with one escaped string member; only static text or paths. */
static void log_str(ms_log_level_t lvl, const char *event, const char *key, const char *val) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_json_str(&b, val, strlen(val));
    ms_log(lvl, event, "\"%s\":%s", key, ms_buf_cstr(&b));
    ms_buf_free(&b);
}

int ms__store_err(sq_store_t *st, int rc, const char *what) {
    int prim = rc & 0xff;
    /* A unique or primary key violation is an expected outcome (an email
     * or id already taken), not a fault: no log line. */
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return MS_EEXIST;
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_json_str(&b, what, strlen(what));
    ms_buf_puts(&b, ",\"sqlite\":");
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    ms_buf_json_str(&b, msg, strlen(msg));
    ms_log(MS_LOG_ERROR, "store_error", "\"what\":%s,\"code\":%d", ms_buf_cstr(&b), rc);
    ms_buf_free(&b);
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return MS_EBUSY;
    /* Other constraints (CHECK, NOT NULL, foreign key) mean a caller passed
     * something the checks before the statement let through. */
    return prim == SQLITE_CONSTRAINT ? MS_EINVAL : MS_EIO;
}

sqlite3_stmt *ms__store_stmt(sq_store_t *st, const char *sql) {
    for (size_t i = 0; i < st->nstmts; i++) {
        if (st->stmts[i].sql == sql)
            return st->stmts[i].stmt;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        ms__store_err(st, rc, "prepare");
        return NULL;
    }
    if (st->nstmts == st->capstmts) {
        st->capstmts = st->capstmts ? st->capstmts * 2 : 32;
        st->stmts = ms_xrealloc(st->stmts, st->capstmts * sizeof *st->stmts);
    }
    st->stmts[st->nstmts].sql = sql;
    st->stmts[st->nstmts].stmt = s;
    st->nstmts++;
    return s;
}

void ms__store_done(sqlite3_stmt *s) {
    if (!s)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Runs one cached statement that returns no rows. */
static int exec_cached(sq_store_t *st, const char *sql, const char *what) {
    sqlite3_stmt *s = ms__store_stmt(st, sql);
    if (!s)
        return MS_EIO;
    int rc = sqlite3_step(s);
    ms__store_done(s);
    if (rc != SQLITE_DONE)
        return ms__store_err(st, rc, what);
    return 0;
}

/* The outermost level is a real BEGIN IMMEDIATE only when the connection is
 * in autocommit mode; inside someone else's transaction (the DB writer's
 * batch) every level is a savepoint. */
int ms__store_begin(sq_store_t *st) {
    int rc;
    if (st->tx_depth == 0 && sqlite3_get_autocommit(st->db)) {
        if ((rc = exec_cached(st, "BEGIN IMMEDIATE", "begin")) != 0)
            return rc;
        st->tx_began = 1;
    } else {
        if ((rc = exec_cached(st, "SAVEPOINT ms_store", "savepoint")) != 0)
            return rc;
        if (st->tx_depth == 0)
            st->tx_began = 0;
    }
    st->tx_depth++;
    return 0;
}

/* Ends the innermost level without keeping its changes. The statements are
 * not cached: this runs on error paths only. If SQLite already rolled the
 * whole transaction back by itself (an I/O error, SQLITE_FULL), the
 * savepoint is gone and there is nothing left to undo. */
static void end_level_rollback(sq_store_t *st) {
    int outer = st->tx_depth == 1 && st->tx_began;
    st->tx_depth--;
    if (sqlite3_get_autocommit(st->db))
        return;
    if (outer) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        /* ROLLBACK TO keeps the savepoint open; RELEASE then ends it. */
        sqlite3_exec(st->db, "ROLLBACK TO ms_store", NULL, NULL, NULL);
        sqlite3_exec(st->db, "RELEASE ms_store", NULL, NULL, NULL);
    }
}

int ms__store_commit(sq_store_t *st) {
    if (st->tx_depth == 0)
        return ms__store_err(st, SQLITE_MISUSE, "commit without begin");
    int outer = st->tx_depth == 1 && st->tx_began;
    int rc = outer ? exec_cached(st, "COMMIT", "commit")
                   : exec_cached(st, "RELEASE ms_store", "release");
    if (rc == 0) {
        st->tx_depth--;
        return 0;
    }
    /* A failed COMMIT (SQLITE_BUSY, a deferred constraint) leaves the
     * transaction open; end it here so callers that simply return the
     * error do not leave the connection holding the write lock. */
    end_level_rollback(st);
    return rc;
}

void ms__store_rollback(sq_store_t *st) {
    if (st->tx_depth > 0)
        end_level_rollback(st);
}

int ms__store_bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (!v)
        return sqlite3_bind_null(s, i);
    return sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

json_t *ms__store_col_json_str(sqlite3_stmt *s, int i) {
    const unsigned char *v = sqlite3_column_text(s, i);
    if (!v)
        return json_null();
    json_t *j = json_stringn((const char *)v, (size_t)sqlite3_column_bytes(s, i));
    /* Every text is validated on the way in; a row edited by hand with bad
     * UTF-8 becomes null rather than a crash. */
    return j ? j : json_null();
}

json_t *ms__store_col_json_time(sqlite3_stmt *s, int i) {
    char iso[40];
    ms_time_iso(sqlite3_column_int64(s, i), iso, sizeof iso);
    return json_string(iso);
}

void ms__store_col_copy(sqlite3_stmt *s, int i, char *out, size_t n) {
    const unsigned char *v = sqlite3_column_text(s, i);
    snprintf(out, n, "%s", v ? (const char *)v : "");
}

/* mkdir -p with mode 0700 for each directory it creates: the database holds
 * PHI, so nobody but the service user should list or read it. */
static int make_dirs(const char *path) {
    char *p = ms_xstrdup(path);
    int rc = 0;
    for (char *q = p + 1;; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        char saved = *q;
        *q = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rc = MS_EIO;
            break;
        }
        *q = saved;
        if (saved == '\0')
            break;
    }
    free(p);
    if (rc == 0) {
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            rc = MS_EIO;
    }
    return rc;
}

/* Runs a pragma and checks the single text value it returns, if expected. */
static int pragma(sq_store_t *st, const char *sql, const char *expect) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return ms__store_err(st, rc, "pragma");
    rc = sqlite3_step(s);
    int ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
    if (ok && expect) {
        const unsigned char *v = rc == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
        ok = v && strcmp((const char *)v, expect) == 0;
    }
    sqlite3_finalize(s);
    if (!ok) {
        log_str(MS_LOG_ERROR, "store_pragma_failed", "pragma", sql);
        return MS_EIO;
    }
    return 0;
}

/* Creates the database file with mode 0600 if it does not exist, and
 * tightens an existing one that group or others could read: it holds PHI.
 * SQLite gives the -wal and -shm files the main file's permissions.
 *
 * An existing file is never opened here: closing any descriptor of a file
 * drops every POSIX advisory lock this process holds on it (fcntl(2)), so
 * an open()/close() while other connections of this process have the
 * database open would silently drop their locks. Another process (a second
 * gateway, `medstream kb import`, `medstream fhir import`) could then take
 * the exclusive lock, take itself for the last connection, checkpoint and
 * delete the WAL, and every later write of this process would go to the
 * unlinked WAL file and be lost ("How To Corrupt An SQLite Database File",
 * https://sqlite.org/howtocorrupt.html section 2.2). */
static int secure_file(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return MS_EIO;
        /* New: nobody can hold a lock on it yet. */
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (errno != EEXIST || stat(path, &sb) != 0)
            return MS_EIO;
    }
    if (!S_ISREG(sb.st_mode))
        return MS_EIO;
    if ((sb.st_mode & 077) && chmod(path, sb.st_mode & 0700) != 0)
        return MS_EIO;
    return 0;
}

static int commit_hook(void *p) {
    ((sq_store_t *)p)->commits++;
    return 0; /* non-zero would turn the COMMIT into a rollback */
}

static const ms_store_ops_t sqlite_ops;

static int sq_open(const char *data_dir, ms_store_t **out) {
    sq_store_t *st = NULL;
    char *path = NULL;
    int rc;
    *out = NULL;
    if (!data_dir || !*data_dir)
        return MS_EINVAL;
    if (make_dirs(data_dir) != 0) {
        log_str(MS_LOG_ERROR, "store_data_dir_failed", "data_dir", data_dir);
        return MS_EIO;
    }
    ms_buf_t pb;
    ms_buf_init(&pb);
    ms_buf_printf(&pb, "%s/medstream.db", data_dir);
    path = ms_buf_take(&pb);
    if (secure_file(path) != 0) {
        log_str(MS_LOG_ERROR, "store_open_failed", "path", path);
        free(path);
        return MS_EIO;
    }

    st = ms_xcalloc(1, sizeof *st);
    st->base.ops = &sqlite_ops;
    /* NOMUTEX: a connection is used by one thread at a time (store.h), so
     * SQLite's per-connection mutex would be pure overhead. */
    rc = sqlite3_open_v2(path, &st->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_str(MS_LOG_ERROR, "store_open_failed", "path", path);
        rc = MS_EIO;
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, MS_STORE_BUSY_TIMEOUT_MS);
    sqlite3_commit_hook(st->db, commit_hook, st);
    /* WAL lets readers run alongside the one writer; synchronous=FULL keeps
     * a committed user message durable across power loss, not only across a
     * process crash (architecture: durable before message_start). */
    if ((rc = pragma(st, "PRAGMA journal_mode=WAL", "wal")) != 0 ||
        (rc = pragma(st, "PRAGMA synchronous=FULL", NULL)) != 0 ||
        (rc = pragma(st, "PRAGMA foreign_keys=ON", NULL)) != 0 ||
        /* Savepoints (nested store transactions, and every job inside the
         * writer's group commit) keep a sub-journal of the pages they
         * change so they can roll back alone. On a temporary file that was
         * a 4-byte and a 4 KiB write() per page: more write calls than the
         * WAL itself. It is only needed until the transaction ends. */
        (rc = pragma(st, "PRAGMA temp_store=MEMORY", NULL)) != 0)
        goto fail;
    if ((rc = ms__store_migrate(st)) != 0)
        goto fail;
    free(path);
    *out = &st->base;
    return 0;
fail:
    free(path);
    ms__sq_close(&st->base);
    return rc == MS_EINVAL ? MS_EINVAL : MS_EIO;
}

void ms__sq_close(ms_store_t *base) {
    sq_store_t *st = SQ(base);
    if (!st)
        return;
    for (size_t i = 0; i < st->nstmts; i++)
        sqlite3_finalize(st->stmts[i].stmt);
    free(st->stmts);
    /* close_v2 defers the close if a statement was left unfinalised,
     * instead of failing and leaking the handle. */
    sqlite3_close_v2(st->db);
    free(st);
}

/* PRAGMA quick_check: O(N) structure checks of every table and index,
 * without the (slower) index-content cross-check of integrity_check. */
static int sq_check(ms_store_t *base, char *problem, size_t problemlen) {
    sq_store_t *st = SQ(base);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    const unsigned char *v = rc == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
    int ok = v && !strcmp((const char *)v, "ok");
    if (!ok)
        snprintf(problem, problemlen, "%s",
                 v ? (const char *)v : sqlite3_errstr(rc == SQLITE_ROW ? SQLITE_CORRUPT : rc));
    for (char *p = problem; *p; p++)
        if (*p == '\n')
            *p = ' '; /* one line, for the start-up message */
    sqlite3_finalize(s);
    return ok ? 0 : MS_EIO;
}

/* ---- group commit --------------------------------------------------------
 * The batch is a real BEGIN IMMEDIATE outside the store's own levels: the
 * store calls inside it see a transaction already open and nest as
 * savepoints (ms__store_begin). */

static int sq_batch_begin(ms_store_t *base) {
    sq_store_t *st = SQ(base);
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    return ms__store_err(st, rc, "batch begin");
}

static int sq_batch_commit(ms_store_t *base) {
    sq_store_t *st = SQ(base);
    int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    /* A failed COMMIT may leave the transaction open (SQLITE_BUSY, a
     * deferred constraint): end it, so nothing of the batch survives. */
    ms__store_err(st, rc, "batch commit");
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return MS_EIO;
}

static void sq_batch_rollback(ms_store_t *base) {
    sq_store_t *st = SQ(base);
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_batch_open(ms_store_t *base) {
    return !sqlite3_get_autocommit(SQ(base)->db);
}

static uint64_t sq_commits(ms_store_t *base) {
    return SQ(base)->commits;
}

sqlite3 *ms_store_sqlite_db(ms_store_t *base) {
    return base && base->ops == &sqlite_ops ? SQ(base)->db : NULL;
}

static const ms_store_ops_t sqlite_ops = {
    .name = "sqlite",
    .close = ms__sq_close,
    .check = sq_check,
    .batch_begin = sq_batch_begin,
    .batch_commit = sq_batch_commit,
    .batch_rollback = sq_batch_rollback,
    .batch_open = sq_batch_open,
    .commits = sq_commits,
    .user_create = ms__sq_user_create,
    .user_by_email = ms__sq_user_by_email,
    .user_by_id = ms__sq_user_by_id,
    .user_count = ms__sq_user_count,
    .user_list = ms__sq_user_list,
    .user_delete = ms__sq_user_delete,
    .refresh_put = ms__sq_refresh_put,
    .refresh_consume = ms__sq_refresh_consume,
    .conversation_create = ms__sq_conversation_create,
    .conversation_get_or_create = ms__sq_conversation_get_or_create,
    .conversation_get = ms__sq_conversation_get,
    .conversation_list = ms__sq_conversation_list,
    .conversation_search = ms__sq_conversation_search,
    .conversation_rename = ms__sq_conversation_rename,
    .conversation_delete = ms__sq_conversation_delete,
    .turn_begin = ms__sq_turn_begin,
    .message_update = ms__sq_message_update,
    .message_set_grounding = ms__sq_message_set_grounding,
    .message_set_workflow = ms__sq_message_set_workflow,
    .message_get = ms__sq_message_get,
    .message_by_client_id = ms__sq_message_by_client_id,
    .message_list = ms__sq_message_list,
    .recent_turns = ms__sq_recent_turns,
    .feedback_put = ms__sq_feedback_put,
    .feedback_get = ms__sq_feedback_get,
    .feedback_delete = ms__sq_feedback_delete,
    .feedback_by_conversation = ms__sq_feedback_by_conversation,
    .clinical_create = ms__sq_clinical_create,
    .clinical_get = ms__sq_clinical_get,
    .clinical_current = ms__sq_clinical_current,
    .clinical_update = ms__sq_clinical_update,
    .clinical_delete = ms__sq_clinical_delete,
    .clinical_bind = ms__sq_clinical_bind,
    .node_register = ms__sq_node_register,
    .node_list = ms__sq_node_list,
    .node_renew = ms__sq_node_renew,
    .node_release = ms__sq_node_release,
    .attachment_create = ms__sq_attachment_create,
    .attachment_get = ms__sq_attachment_get,
    .attachment_list = ms__sq_attachment_list,
    .attachment_delete = ms__sq_attachment_delete,
    .attachment_update = ms__sq_attachment_update,
    .recover = ms__sq_recover,
    .folder_create = ms__sq_folder_create,
    .folder_get = ms__sq_folder_get,
    .folder_list = ms__sq_folder_list,
    .folder_tree = ms__sq_folder_tree,
    .folder_update = ms__sq_folder_update,
    .folder_delete = ms__sq_folder_delete,
    .conversation_set_folder = ms__sq_conversation_set_folder,
    .conversation_list_folder = ms__sq_conversation_list_folder,
    .share_create = ms__sq_share_create,
    .share_list = ms__sq_share_list,
    .share_revoke = ms__sq_share_revoke,
    .share_lookup = ms__sq_share_lookup,
    .share_record = ms__sq_share_record,
    .share_accesses = ms__sq_share_accesses,
    .message_tools_put = ms__sq_message_tools_put,
    .tools_by_conversation = ms__sq_tools_by_conversation,
    .apikey_create = ms__sq_apikey_create,
    .apikey_list = ms__sq_apikey_list,
    .apikey_revoke = ms__sq_apikey_revoke,
    .apikey_lookup = ms__sq_apikey_lookup,
};

const ms_store_backend_t ms_store_backend_sqlite = {"sqlite", sq_open};
