/* Attachments (seed 002 "File Upload in Chat Messages"; docs/protocol.md
 * "Attachments"):
 *   POST   /api/messages/{message_id}/attachments   multipart/form-data upload
 *   GET    /api/messages/{message_id}/attachments   the message's attachments
 *   DELETE /api/attachments/{id}
 *   GET    /api/attachments/{id}/download
 *
 * An upload is never held whole in memory: the network layer hands the
 * body to ms_api_attachment_sink as it arrives (loop thread), the
 * multipart parser (files/multipart.h) finds the file part, its first
 * bytes decide its type (files.h: content, never the name), and the rest
 * goes straight to the blob store under a new UUID. Writes to the local
 * backend are plain write(2) calls of at most UPLOAD_FLUSH bytes into the
 * page cache, as nginx writes request bodies to its temporary files from
 * its event loop; the fsync happens in the handler, on a pool thread.
 * Once the last byte is in, the handler (storage pool) checks the message
 * is the user's (404 otherwise: the blob is dropped), stores the row
 * (status "pending") and the loop queues the extraction on the files pool
 * (chat/work.h MS_WORK_FILES), which moves status and progress and puts
 * the text into the knowledge base scoped to the message's conversation. */
#include "api/routes.h"

#include "chat/work.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/utf8.h"
#include "files/blob.h"
#include "files/extract.h"
#include "files/files.h"
#include "files/multipart.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (INT64_C(1) << 20)
/* Multipart framing and form fields besides the file. */
#define UPLOAD_SLACK (INT64_C(64) * 1024)
/* File bytes gathered before a write(2). */
#define UPLOAD_FLUSH ((size_t)64 * 1024)
/* Passage size for the knowledge base (about a paragraph or two). */
#define PASSAGE_BYTES 1200

/* ---- the blob store --------------------------------------------------------- */

static pthread_mutex_t blobs_lock = PTHREAD_MUTEX_INITIALIZER;
static ms_blob_store_t *blobs;

/* The process's blob store for the data directory, opened on first use. */
static ms_blob_store_t *blob_store(const ms_config_t *cfg) {
    pthread_mutex_lock(&blobs_lock);
    if (!blobs && ms_blob_open(cfg->data_dir, &blobs) != 0)
        ms_log(MS_LOG_ERROR, "blob_store_unavailable", NULL);
    ms_blob_store_t *b = blobs;
    pthread_mutex_unlock(&blobs_lock);
    return b;
}

/* ---- the upload sink (loop thread) ------------------------------------------ */

/* When this process first took an upload or listed attachments (ms since
 * the epoch): what it queued is younger (fail_abandoned). */
static _Atomic int64_t started_ms;

typedef struct {
    ms_http_req_t *r;
    ms_multipart_t *mp;
    char boundary[MS_MP_MAX_BOUNDARY + 1];
    int64_t max_file; /* bytes */
    int in_file;      /* the current part is the file */
    int have_file;    /* a file part was seen */
    int file_done;    /* its content is complete */
    char *file_name;  /* made safe */
    ms_file_type_t type;
    int decided;         /* type decided and the blob open */
    unsigned char *head; /* the first MS_FILES_SNIFF_BYTES, until decided */
    size_t nhead;
    ms_buf_t pending; /* file bytes not yet written (< UPLOAD_FLUSH) */
    int64_t size;
    ms_utf8_state_t utf8; /* text files are UTF-8 throughout */
    char id[MS_ID_LEN];
    ms_blob_writer_t *w;
    json_t *row; /* the stored attachment, for the loop handler */
} upload_t;

static void upload_free(void *p) {
    upload_t *u = p;
    if (!u)
        return;
    ms_multipart_free(u->mp);
    ms_blob_abort(u->w);
    free(u->file_name);
    free(u->head);
    ms_buf_free(&u->pending);
    json_decref(u->row);
    free(u);
}

int64_t ms_api_attachment_body_limit(const ms_config_t *cfg) {
    return cfg->max_file_size_mb * MIB + UPLOAD_SLACK;
}

/* Refuses the upload: what was written is thrown away before the client
 * can read the answer. */
static int refuse(upload_t *u, int status, const char *code, const char *message, int rc) {
    ms_blob_abort(u->w);
    u->w = NULL;
    ms_http_respond_error(u->r, status, code, message);
    return rc;
}

static int refuse_too_large(upload_t *u) {
    char msg[128];
    snprintf(msg, sizeof msg, "the file is larger than %lld MiB (max_file_size_mb)",
             (long long)u->r->api->cfg->max_file_size_mb);
    return refuse(u, 413, "too_large", msg, MS_ETOOBIG);
}

static int flush(upload_t *u) {
    if (!u->pending.len)
        return 0;
    int rc = ms_blob_write(u->w, u->pending.data, u->pending.len);
    ms_buf_reset(&u->pending);
    return rc ? refuse(u, 500, "internal_error", "the file could not be stored", MS_EIO) : 0;
}

static int store_bytes(upload_t *u, const char *p, size_t n) {
    if (u->type == MS_FILE_TEXT || u->type == MS_FILE_MARKDOWN) {
        if (ms_utf8_feed(&u->utf8, p, n) != 0)
            return refuse(u, 415, "unsupported_media_type",
                          "the file looks like text but is not valid UTF-8", MS_EFORMAT);
    }
    if (u->pending.len + n > UPLOAD_FLUSH) {
        int rc = flush(u);
        if (rc)
            return rc;
    }
    if (n >= UPLOAD_FLUSH) {
        int rc = ms_blob_write(u->w, p, n);
        return rc ? refuse(u, 500, "internal_error", "the file could not be stored", MS_EIO) : 0;
    }
    ms_buf_append(&u->pending, p, n);
    return 0;
}

/* The first bytes are in (or the whole file): decide the type, refuse
 * what is not accepted, open the blob and write what was held back. */
static int decide(upload_t *u, int whole) {
    u->type = ms_files_sniff(u->head, u->nhead, whole);
    if (!ms_file_type_accepted(u->type) && u->type != MS_FILE_ZIP)
        return refuse(u, 415, "unsupported_media_type", ms_file_type_refusal(u->type), MS_EFORMAT);
    ms_blob_store_t *bs = blob_store(u->r->api->cfg);
    ms_id_new(u->id);
    if (!bs || ms_blob_create(bs, u->id, &u->w) != 0)
        return refuse(u, 500, "internal_error", "the file could not be stored", MS_EIO);
    u->decided = 1;
    int rc = store_bytes(u, (const char *)u->head, u->nhead);
    free(u->head);
    u->head = NULL;
    return rc;
}

static int on_part_begin(void *ctx, const ms_mp_part_t *part) {
    upload_t *u = ctx;
    u->in_file = 0;
    if (!part->filename)
        return 0; /* another form field: read and ignored */
    if (u->have_file)
        return refuse(u, 400, "invalid_request", "one file per request", MS_EINVAL);
    u->have_file = u->in_file = 1;
    u->file_name = ms_files_safe_name(part->filename);
    u->head = ms_xmalloc(MS_FILES_SNIFF_BYTES);
    return 0;
}

static int on_part_data(void *ctx, const char *p, size_t n) {
    upload_t *u = ctx;
    if (!u->in_file)
        return 0;
    u->size += (int64_t)n;
    if (u->size > u->max_file)
        return refuse_too_large(u);
    if (u->decided)
        return store_bytes(u, p, n);
    size_t take = MS_FILES_SNIFF_BYTES - u->nhead;
    if (take > n)
        take = n;
    memcpy(u->head + u->nhead, p, take);
    u->nhead += take;
    if (u->nhead < MS_FILES_SNIFF_BYTES)
        return 0;
    int rc = decide(u, 0);
    return rc || take == n ? rc : store_bytes(u, p + take, n - take);
}

static int on_part_end(void *ctx) {
    upload_t *u = ctx;
    if (!u->in_file)
        return 0;
    u->in_file = 0;
    if (u->size == 0)
        return refuse(u, 400, "invalid_request", "the file is empty", MS_EINVAL);
    int rc = u->decided ? 0 : decide(u, 1);
    if (!rc && (u->type == MS_FILE_TEXT || u->type == MS_FILE_MARKDOWN) &&
        !ms_utf8_complete(&u->utf8))
        rc = refuse(u, 415, "unsupported_media_type",
                    "the file looks like text but is not valid UTF-8", MS_EFORMAT);
    if (!rc)
        rc = flush(u);
    u->file_done = !rc;
    return rc;
}

static const ms_mp_callbacks_t upload_cbs = {
    .part_begin = on_part_begin,
    .part_data = on_part_data,
    .part_end = on_part_end,
};

int ms_api_attachment_begin(ms_http_req_t *r) {
    ms_api_t *api = r->api;
    int64_t zero = 0;
    atomic_compare_exchange_strong(&started_ms, &zero, ms_now_ms());
    upload_t *u = ms_xcalloc(1, sizeof *u);
    u->r = r;
    ms_buf_init(&u->pending);
    r->scratch = u;
    r->scratch_free = upload_free;
    if (ms_multipart_boundary(r->req_content_type, u->boundary) != 0) {
        if (r->req_content_type && !strncasecmp(r->req_content_type, "multipart/form-data", 19))
            ms_http_respond_error(r, 400, "invalid_request",
                                  "multipart/form-data needs a boundary of 1 to 70 characters "
                                  "(RFC 2046 section 5.1.1)");
        else
            ms_http_respond_error(r, 415, "unsupported_media_type",
                                  "upload the file as multipart/form-data (RFC 7578)");
        return r->status;
    }
    if (api->body_inflight + MS_HTTP_SINK_RESERVE > api->cfg->body_budget_bytes) {
        ms_http_respond_error(r, 503, "busy", "server busy; retry later");
        return r->status;
    }
    api->body_inflight += MS_HTTP_SINK_RESERVE;
    r->body_reserved += MS_HTTP_SINK_RESERVE;
    u->max_file = api->cfg->max_file_size_mb * MIB;
    u->mp = ms_multipart_new(u->boundary, &upload_cbs, u);
    return 0;
}

static int sink_data(ms_http_req_t *r, const char *p, size_t n) {
    upload_t *u = r->scratch;
    int rc = ms_multipart_feed(u->mp, p, n);
    if (rc) {
        ms_blob_abort(u->w);
        u->w = NULL;
    }
    if (rc == MS_EFORMAT && !r->status) {
        char msg[160];
        snprintf(msg, sizeof msg, "malformed multipart/form-data body: %s",
                 ms_multipart_error(u->mp));
        ms_http_respond_error(r, 400, "invalid_request", msg);
    }
    return rc;
}

const ms_http_sink_t ms_api_attachment_sink = {.data = sink_data};

/* ---- POST: the stored file becomes an attachment (storage pool) -------------- */

/* The kb document of an attachment's passages. */
static void kb_doc_id(const char *id, char out[64]) {
    snprintf(out, 64, "att:%.36s", id);
}

static void drop_blob(ms_http_req_t *r, const char *id) {
    ms_blob_store_t *bs = blob_store(r->api->cfg);
    if (bs && ms_blob_remove(bs, id) != 0)
        ms_log(MS_LOG_WARN, "attachment_blob_remove_failed", NULL);
}

void ms_api_attachment_upload(ms_http_req_t *r, ms_store_t *st) {
    upload_t *u = r->scratch;
    if (!u || !u->mp) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "a multipart/form-data body with a file part is required");
        return;
    }
    /* Every refusal drops the partial file before it is answered. */
    if (ms_multipart_finish(u->mp) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "malformed multipart/form-data body: %s",
                 ms_multipart_error(u->mp));
        refuse(u, 400, "invalid_request", msg, 0);
        return;
    }
    if (!u->have_file || !u->file_done) {
        refuse(u, 400, "invalid_request",
               "no file in the body: send one part with a filename (RFC 7578 section 4.2), e.g. "
               "name=\"file\"",
               0);
        return;
    }
    if (!ms_id_valid(r->param)) {
        ms_blob_abort(u->w);
        u->w = NULL;
        ms_api_store_error(r, MS_ENOENT);
        return;
    }
    int rc = ms_blob_commit(u->w);
    u->w = NULL;
    if (rc) {
        ms_http_respond_error(r, 500, "internal_error", "the file could not be stored");
        return;
    }
    if (u->type == MS_FILE_ZIP) {
        char *path = NULL;
        ms_blob_store_t *bs = blob_store(r->api->cfg);
        int docx = bs && ms_blob_local_path(bs, u->id, &path) == 0 ? ms_files_docx_probe(path) : 0;
        free(path);
        if (docx != 1) {
            drop_blob(r, u->id);
            ms_http_respond_error(r, 415, "unsupported_media_type",
                                  ms_file_type_refusal(MS_FILE_ZIP));
            return;
        }
        u->type = MS_FILE_DOCX;
    }
    ms_attachment_new_t a = {.file_name = u->file_name,
                             .file_type = ms_file_type_name(u->type),
                             .mime_type = ms_file_type_mime(u->type),
                             .file_size = u->size};
    memcpy(a.id, u->id, MS_ID_LEN);
    rc = ms_store_attachment_create(st, r->user.sub, r->param, &a, &u->row);
    if (rc) {
        drop_blob(r, u->id);
        ms_api_store_error(r, rc); /* another user's message is a 404 */
    }
    /* Success leaves the answer to ms_api_attachment_queue, on the loop. */
}

/* ---- extraction (files pool) ------------------------------------------------- */

typedef struct {
    char id[MS_ID_LEN], user_id[MS_ID_LEN], conversation_id[MS_ID_LEN];
    ms_file_type_t type;
    char *file_name;
    const ms_config_t *cfg;
    ms_extract_limits_t lim;
    ms_store_t *st; /* while running */
    int reported;   /* the last percent written */
    int64_t reported_at;
} extract_job_t;

/* Progress goes to the row at most once a second or every 5 points, so a
 * client polling GET sees it move without a write per page. */
static void on_progress(void *ctx, int pct) {
    extract_job_t *j = ctx;
    int64_t now = ms_mono_ms();
    if (pct >= 100 || (pct - j->reported < 5 && now - j->reported_at < 1000))
        return;
    j->reported = pct;
    j->reported_at = now;
    ms_store_attachment_update(j->st, j->id, MS_ATT_EXTRACTING, pct, NULL, NULL, NULL);
}

static json_t *metadata_of(const ms_extract_result_t *res, size_t passages, int64_t ms) {
    json_t *m = json_object();
    if (res->pages)
        json_object_set_new(m, "pages", json_integer(res->pages));
    if (res->title)
        json_object_set_new(m, "title", json_string(res->title));
    if (res->author)
        json_object_set_new(m, "author", json_string(res->author));
    if (res->width)
        json_object_set_new(m, "width", json_integer(res->width));
    if (res->height)
        json_object_set_new(m, "height", json_integer(res->height));
    json_object_set_new(m, "characters", json_integer(res->chars));
    json_object_set_new(m, "passages", json_integer((json_int_t)passages));
    json_object_set_new(m, "truncated", json_boolean(res->truncated));
    json_object_set_new(m, "extraction_ms", json_integer(ms));
    return m;
}

/* The passages into the knowledge base, scoped to the conversation. */
static int index_text(extract_job_t *j, const ms_extract_result_t *res, size_t *npass) {
    ms_extract_passage_t *ps = NULL;
    size_t n = 0;
    ms_extract_passages(res, PASSAGE_BYTES, &ps, &n);
    *npass = n;
    ms_kb_scoped_passage_t *kp = ms_xcalloc(n ? n : 1, sizeof *kp);
    for (size_t i = 0; i < n; i++)
        kp[i] = (ms_kb_scoped_passage_t){
            .page = ps[i].page, .section = ps[i].heading, .text = ps[i].text};
    char doc_id[64], url[96];
    kb_doc_id(j->id, doc_id);
    snprintf(url, sizeof url, "/api/attachments/%s/download", j->id);
    ms_kb_scope_t scope = {.conversation_id = j->conversation_id, .user_id = j->user_id};
    ms_kb_scoped_doc_t doc = {.id = doc_id,
                              .title = j->file_name,
                              .url = url,
                              .source = "Attachment",
                              .source_type = "attachment",
                              .author = res->author};
    ms_kb_t *kb = ms_work_thread_kb();
    int rc = kb ? ms_kb_scoped_put(kb, &scope, &doc, kp, n) : MS_EIO;
    free(kp);
    ms_extract_passages_free(ps, n);
    return rc;
}

static void extract_run(ms_store_t *st, void *arg) {
    extract_job_t *j = arg;
    if (!st) {
        ms_log(MS_LOG_ERROR, "attachment_extract_no_store", NULL);
        return;
    }
    j->st = st;
    j->reported_at = ms_mono_ms();
    if (ms_store_attachment_update(st, j->id, MS_ATT_EXTRACTING, 0, NULL, NULL, NULL) != 0)
        return; /* deleted meanwhile */
    ms_blob_store_t *bs = blob_store(j->cfg);
    char *path = NULL;
    ms_extract_result_t res;
    memset(&res, 0, sizeof res);
    int64_t t0 = ms_mono_ms();
    int rc = bs ? ms_blob_local_path(bs, j->id, &path) : MS_EIO;
    if (rc)
        rc = ms__extract_fail(&res, rc, "extract_failed", "the stored file is missing");
    else
        rc = ms_extract_file(j->type, path, &j->lim, &res);
    free(path);
    size_t npass = 0;
    if (!rc && (rc = index_text(j, &res, &npass)) != 0)
        ms__extract_fail(&res, rc, "extract_failed", "the text could not be indexed");
    json_t *meta = metadata_of(&res, npass, ms_mono_ms() - t0);
    int ur =
        rc ? ms_store_attachment_update(st, j->id, MS_ATT_FAILED, 100, res.code, res.message, meta)
           : ms_store_attachment_update(st, j->id, MS_ATT_READY, 100, NULL, NULL, meta);
    json_decref(meta);
    if (ur == MS_ENOENT && !rc) {
        /* Deleted while extracting: its passages must not outlive it. */
        char doc_id[64];
        kb_doc_id(j->id, doc_id);
        ms_kb_t *kb = ms_work_thread_kb();
        if (kb)
            ms_kb_scoped_delete(kb, doc_id);
    }
    ms_log(rc ? MS_LOG_INFO : MS_LOG_DEBUG, "attachment_extracted",
           "\"type\":\"%s\",\"ok\":%d,\"code\":\"%s\",\"chars\":%lld,\"passages\":%zu,\"ms\":%lld",
           ms_file_type_name(j->type), !rc, rc ? res.code : "", (long long)res.chars, npass,
           (long long)(ms_mono_ms() - t0));
    ms_extract_result_free(&res);
}

static void extract_done(void *arg) {
    extract_job_t *j = arg;
    free(j->file_name);
    free(j);
}

/* An upload whose extraction could not be queued is not kept. */
static void discard_run(ms_store_t *st, void *arg) {
    extract_job_t *j = arg;
    if (st)
        ms_store_attachment_delete(st, j->user_id, j->id, NULL);
    ms_blob_store_t *bs = blob_store(j->cfg);
    if (bs)
        ms_blob_remove(bs, j->id);
}

void ms_api_attachment_queue(ms_http_req_t *r) {
    upload_t *u = r->scratch;
    const ms_config_t *cfg = r->api->cfg;
    extract_job_t *j = ms_xcalloc(1, sizeof *j);
    memcpy(j->id, u->id, MS_ID_LEN);
    memcpy(j->user_id, r->user.sub, MS_ID_LEN);
    snprintf(j->conversation_id, MS_ID_LEN, "%s",
             json_string_value(json_object_get(u->row, "conversation_id")));
    j->type = u->type;
    j->file_name = ms_xstrdup(u->file_name);
    j->cfg = cfg;
    j->lim = (ms_extract_limits_t){.max_bytes = cfg->extract_max_bytes,
                                   .max_pages = cfg->extract_max_pages,
                                   .max_pixels = cfg->extract_max_pixels,
                                   .timeout_ms = cfg->extract_timeout_s * 1000,
                                   .max_text_bytes = cfg->extract_max_text_bytes,
                                   .progress = on_progress,
                                   .ctx = j};
    int rc = ms_work_submit_on(MS_WORK_FILES, r->api->loop, extract_run, extract_done, j);
    if (rc) {
        if (ms_work_submit_on(MS_WORK_STORE, r->api->loop, discard_run, extract_done, j) != 0)
            extract_done(j); /* the row stays pending: logged */
        ms_log(MS_LOG_WARN, "attachment_extract_refused", "\"code\":\"%s\"", ms_strerror(rc));
        ms_api_store_error(r, rc);
        ms_http_finish(r);
        return;
    }
    ms_http_respond_json(r, 201, json_incref(u->row));
    ms_http_finish(r);
}

/* ---- GET, DELETE, download (storage pool) ------------------------------------ */

/* An RFC 3339 time as the store writes it ("2026-01-02T03:04:05.678Z") in
 * ms since the epoch, or -1. */
static int64_t parse_time(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    /* Only the store's own timestamps come here, in this exact form; a
     * field out of range is normalised by timegm, never read out of bounds. */
    // NOLINTNEXTLINE(cert-err34-c): widths bound every field, the count is checked
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* An extraction that a previous process left unfinished (it stopped or
 * crashed) would stay "pending" or "extracting" for ever: a row last
 * touched before this process took its first upload or listing (started_ms:
 * every row this process queued was touched after), and longer ago than any live
 * extraction can go without an update (extract_timeout_s + 60 s), is
 * marked failed, so the client can delete it and upload again. */
static void fail_abandoned(ms_http_req_t *r, ms_store_t *st, json_t *rows) {
    int64_t now = ms_now_ms(), start = started_ms;
    int64_t quiet = (r->api->cfg->extract_timeout_s + 60) * 1000;
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a) {
        const char *status = json_string_value(json_object_get(a, "status"));
        int64_t at = parse_time(json_string_value(json_object_get(a, "updated_at")));
        if (!status ||
            (strcmp(status, MS_ATT_PENDING) != 0 && strcmp(status, MS_ATT_EXTRACTING) != 0) ||
            at < 0 || at >= start || now - at < quiet)
            continue;
        static const char why[] = "the extraction was interrupted (the server stopped); delete "
                                  "the attachment and upload it again";
        const char *id = json_string_value(json_object_get(a, "id"));
        if (ms_store_attachment_update(st, id, MS_ATT_FAILED, 100, "interrupted", why, NULL) != 0)
            continue;
        json_object_set_new(a, "status", json_string(MS_ATT_FAILED));
        json_object_set_new(a, "progress", json_integer(100));
        json_object_set_new(a, "error",
                            json_pack("{s:s, s:s}", "code", "interrupted", "message", why));
    }
}

void ms_api_attachment_list(ms_http_req_t *r, ms_store_t *st) {
    int64_t zero = 0;
    atomic_compare_exchange_strong(&started_ms, &zero, ms_now_ms());
    json_t *out = NULL;
    int rc = ms_id_valid(r->param) ? ms_store_attachment_list(st, r->user.sub, r->param, &out)
                                   : MS_ENOENT;
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    fail_abandoned(r, st, out);
    ms_http_respond_json(r, 200, out);
}

void ms_api_attachment_delete(ms_http_req_t *r, ms_store_t *st) {
    int rc = ms_id_valid(r->param) ? ms_store_attachment_delete(st, r->user.sub, r->param, NULL)
                                   : MS_ENOENT;
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    drop_blob(r, r->param);
    char doc_id[64];
    kb_doc_id(r->param, doc_id);
    ms_kb_t *kb = ms_work_thread_kb();
    if (!kb || ms_kb_scoped_delete(kb, doc_id) != 0)
        ms_log(MS_LOG_WARN, "attachment_passages_remove_failed", NULL);
    ms_http_respond_json(r, 204, NULL);
}

/* RFC 6266 section 4.1: an ASCII filename for old clients and filename*
 * (RFC 8187: UTF-8, percent-encoded beyond attr-char) for the real name. */
static char *content_disposition(const char *name) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_puts(&b, "attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int plain = *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '%';
        ms_buf_putc(&b, (char)(plain ? *p : '_')); /* ASCII either way */
    }
    ms_buf_puts(&b, "\"; filename*=UTF-8''");
    static const char attr[] = "!#$&+-.^_`|~";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            strchr(attr, *p))
            ms_buf_putc(&b, (char)*p);
        else
            ms_buf_printf(&b, "%%%02X", *p);
    }
    return ms_buf_take(&b);
}

/* Downloads are answered from memory (the network layer writes a response
 * body it holds), so the bytes of all downloads not yet written are
 * bounded by download_budget_bytes: a client that opens many slow
 * downloads gets 503 instead of the server's memory. */
static _Atomic int64_t download_bytes;

static void download_release(void *p) {
    atomic_fetch_sub(&download_bytes, (int64_t)(intptr_t)p);
}

void ms_api_attachment_download(ms_http_req_t *r, ms_store_t *st) {
    json_t *row = NULL;
    int rc = ms_id_valid(r->param) ? ms_store_attachment_get(st, r->user.sub, r->param, &row)
                                   : MS_ENOENT;
    if (rc) {
        ms_api_store_error(r, rc);
        return;
    }
    /* Reserved before the file is read; released when r is freed. */
    int64_t size = json_integer_value(json_object_get(row, "file_size"));
    if (atomic_fetch_add(&download_bytes, size) + size > r->api->cfg->download_budget_bytes) {
        atomic_fetch_sub(&download_bytes, size);
        json_decref(row);
        ms_http_respond_error(r, 503, "busy", "server busy; retry later");
        return;
    }
    r->scratch = (void *)(intptr_t)size;
    r->scratch_free = download_release;
    ms_blob_store_t *bs = blob_store(r->api->cfg);
    char *data = NULL;
    size_t n = 0;
    rc = bs ? ms_blob_read(bs, r->param, size, &data, &n) : MS_EIO;
    if (rc) {
        json_decref(row);
        ms_http_respond_error(r, 500, "internal_error", "the stored file could not be read");
        return;
    }
    ms_file_type_t type = ms_file_type_parse(json_string_value(json_object_get(row, "file_type")));
    char *cd = content_disposition(json_string_value(json_object_get(row, "file_name")));
    ms_http_add_header(r, "content-disposition", cd);
    free(cd);
    json_decref(row);
    r->status = 200;
    r->resp_body = data;
    r->resp_len = n;
    r->resp_static = 0;
    r->content_type = ms_file_type_mime(type);
    r->cache_control = "private, no-store";
}
