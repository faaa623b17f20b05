/* The turn pipeline: persist → retrieve → generate → persist, with events to
 * every subscriber of the stream. See chat.h. */
#include "chat/internal.h"
#include "chat/work.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* ---- persistence of the user turn --------------------------------------- */

typedef struct {
    ms_stream_t *s;
    char conversation_id[MS_ID_LEN]; /* in: given id or ""; out: the id used */
    int create;                      /* MS_ASK_CREATE_CONVERSATION: the given id on first use */
    int err;
    json_t *existing; /* stored assistant message when the turn existed */
    json_t *history;
    int history_turns;
} persist_job_t;

/* Title of a new conversation: the first 60 characters of the question,
 * cut at a UTF-8 boundary. */
static char *title_from(const char *q) {
    size_t n = 0, chars = 0, len = strlen(q);
    while (n < len && chars < 60) {
        unsigned char c = (unsigned char)q[n];
        n += c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        chars++;
    }
    if (n > len)
        n = len;
    char *t = ms_xstrndup(q, n);
    for (char *p = t; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return t;
}

static void persist_run(ms_store_t *st, void *arg) {
    persist_job_t *j = arg;
    ms_stream_t *s = j->s;
    json_t *conv = NULL;
    if (!st) {
        j->err = MS_EIO;
        return;
    }
    if (j->conversation_id[0] && j->create) {
        char *title = title_from(s->question);
        j->err =
            ms_store_conversation_get_or_create(st, s->user_id, j->conversation_id, title, &conv);
        free(title);
        json_decref(conv);
        if (j->err)
            return;
    } else if (j->conversation_id[0]) {
        j->err = ms_store_conversation_get(st, s->user_id, j->conversation_id, &conv);
        json_decref(conv);
        if (j->err)
            return;
    } else {
        char *title = title_from(s->question);
        j->err = ms_store_conversation_create(st, s->user_id, title, &conv);
        free(title);
        if (j->err)
            return;
        snprintf(j->conversation_id, MS_ID_LEN, "%s",
                 json_string_value(json_object_get(conv, "id")));
        json_decref(conv);
    }
    int rc = ms_store_turn_begin(st, j->conversation_id, s->user_message_id, s->message_id,
                                 s->client_message_id, s->question);
    if (rc == MS_EEXIST) {
        j->err = ms_store_message_by_client_id(st, j->conversation_id, s->client_message_id, NULL,
                                               &j->existing);
        return;
    }
    if (rc) {
        j->err = rc;
        return;
    }
    json_t *turns = NULL;
    if (ms_store_recent_turns(st, j->conversation_id, j->history_turns + 1, &turns) == 0) {
        /* The last entry is the question just stored: it is not history. */
        size_t n = json_array_size(turns);
        if (n > 0)
            json_array_remove(turns, n - 1);
        j->history = turns;
    }
}

static void retrieve_start(ms_stream_t *s);
static void generate_start(ms_stream_t *s);

static void fail_stream(ms_stream_t *s, int err) {
    const char *code = err == MS_EPERM    ? "forbidden"
                       : err == MS_ENOENT ? "not_found"
                                          : "internal_error";
    const char *msg = err == MS_EPERM    ? "this conversation belongs to another user"
                      : err == MS_ENOENT ? "no such conversation"
                                         : "could not store the message; try again";
    ms_event_t ev = {.kind = MS_EV_ERROR};
    json_t *data =
        json_pack("{s:s, s:s, s:b}", "code", code, "message", msg, "retryable", err == MS_EIO);
    ev.data = data;
    ms__stream_emit(s, &ev);
    json_decref(data);
    ms__stream_drop(s);
}

static void persist_done(void *arg) {
    persist_job_t *j = arg;
    ms_stream_t *s = j->s;
    ms_chat_t *c = s->chat;
    if (c->shutting_down || s->dropped) {
        ms__stream_drop(s);
    } else if (j->err) {
        if (j->err == MS_EIO)
            ms_log(MS_LOG_ERROR, "turn_persist_failed", "\"code\":%d", j->err);
        fail_stream(s, j->err);
    } else if (j->existing) {
        /* The same client_message_id was used before (another node, a restart,
         * or an expired replay buffer): follow that answer instead. */
        const char *mid = json_string_value(json_object_get(j->existing, "id"));
        json_object_set_new(j->existing, "user_client_message_id",
                            json_string(s->client_message_id));
        ms_stream_t *other = NULL;
        HASH_FIND(hh, c->by_id, mid, strlen(mid), other);
        for (ms_sub_t *sub = s->subs, *next; sub; sub = next) {
            next = sub->next;
            if (other)
                ms__stream_attach(other, sub, 0);
            else
                ms__emit_stored(c, sub, j->existing);
        }
        ms__stream_drop(s);
    } else {
        snprintf(s->conversation_id, MS_ID_LEN, "%s", j->conversation_id);
        s->history = j->history;
        j->history = NULL;
        ms__stream_register_id(s);
        if (s->new_conversation) {
            /* A retry may now name the conversation it learnt from message_start. */
            size_t n =
                strlen(s->user_id) + strlen(s->conversation_id) + strlen(s->client_message_id) + 3;
            s->idem_key2 = ms_xmalloc(n);
            snprintf(s->idem_key2, n, "%s|%s|%s", s->user_id, s->conversation_id,
                     s->client_message_id);
            HASH_ADD_KEYPTR(hh_idem2, c->by_idem2, s->idem_key2, strlen(s->idem_key2), s);
        }
        s->state = ST_RETRIEVING;
        ms_event_t ev = {.kind = MS_EV_MESSAGE_START,
                         .message_id = s->message_id,
                         .conversation_id = s->conversation_id,
                         .user_message_id = s->user_message_id,
                         .client_message_id = s->client_message_id};
        ms__stream_emit(s, &ev);
        c->turns_total++;
        if (c->provider->ops->uses_retrieval)
            retrieve_start(s);
        else
            generate_start(s); /* e.g. synthetic: nothing to ground, nothing to search */
    }
    json_decref(j->existing);
    json_decref(j->history);
    ms__stream_unref(s);
    free(j);
}

static ms_stream_t *find_idem(ms_chat_t *c, const char *key) {
    ms_stream_t *s = NULL;
    HASH_FIND(hh_idem, c->by_idem, key, strlen(key), s);
    if (!s)
        HASH_FIND(hh_idem2, c->by_idem2, key, strlen(key), s);
    return s;
}

void ms_chat_ask(ms_chat_t *c, const char *user_id, const char *conversation_id,
                 const char *client_message_id, const char *text, ms_sub_t *sub) {
    ms_chat_ask_ex(c, user_id, conversation_id, client_message_id, text, 0, sub);
}

void ms_chat_ask_ex(ms_chat_t *c, const char *user_id, const char *conversation_id,
                    const char *client_message_id, const char *text, unsigned flags,
                    ms_sub_t *sub) {
    size_t n = strlen(user_id) + (conversation_id ? strlen(conversation_id) : 0) +
               strlen(client_message_id) + 3;
    char *key = ms_xmalloc(n);
    snprintf(key, n, "%s|%s|%s", user_id, conversation_id ? conversation_id : "",
             client_message_id);
    ms_stream_t *s = find_idem(c, key);
    if (s) {
        free(key);
        ms__stream_attach(s, sub, 0);
        return;
    }
    s = ms__stream_new(c, user_id, client_message_id, text);
    s->idem_key = key;
    s->new_conversation = conversation_id == NULL;
    /* Time-ordered: the user turn sorts before its answer, and inserts stay
     * on the right edge of the messages' primary key. */
    ms_id_new_v7(s->user_message_id);
    ms_id_new_v7(s->message_id);
    HASH_ADD_KEYPTR(hh_idem, c->by_idem, s->idem_key, strlen(s->idem_key), s);
    ms__stream_attach(s, sub, 0);

    persist_job_t *j = ms_xcalloc(1, sizeof *j);
    j->s = s;
    j->history_turns = (int)c->cfg->history_turns;
    j->create = conversation_id && (flags & MS_ASK_CREATE_CONVERSATION);
    snprintf(j->conversation_id, MS_ID_LEN, "%s", conversation_id ? conversation_id : "");
    ms__stream_ref(s);
    if (ms_work_submit_write(c->loop, persist_run, persist_done, j) != 0) {
        ms__stream_unref(s);
        free(j);
        fail_stream(s, MS_EIO);
    }
}

/* ---- retrieval ------------------------------------------------------------ */

typedef struct {
    ms_stream_t *s;
    char *query;
    int k;
    ms_kb_hit_t *hits;
    size_t nhits;
    int rc;
    int64_t us;
} retrieve_job_t;

/* The search query: the question, plus for a follow-up ("How is it
 * treated?", "What are the complications?") the conversation's focus from
 * the recent user turns (kb/followup.h, the detector the answerer uses). */
static char *build_query(ms_stream_t *s) {
    size_t n = json_array_size(s->history);
    const char **roles = ms_xcalloc(n ? n : 1, sizeof *roles);
    const char **texts = ms_xcalloc(n ? n : 1, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(s->history, i);
        roles[i] = json_string_value(json_object_get(t, "role"));
        texts[i] = json_string_value(json_object_get(t, "content"));
    }
    char *q = ms_kb_followup_query(s->question, roles, texts, n);
    free(roles);
    free(texts);
    return q;
}

static void retrieve_run(ms_store_t *st, void *arg) {
    retrieve_job_t *j = arg;
    int64_t t0 = ms_mono_us();
    j->rc = st ? ms_kb_search(ms_store_db(st), j->query, j->k, &j->hits, &j->nhits) : MS_EIO;
    j->us = ms_mono_us() - t0;
}

static void finish_stream(ms_stream_t *s, const char *finish_reason, json_t *citations,
                          json_t *usage);

static void retrieve_done(void *arg) {
    retrieve_job_t *j = arg;
    ms_stream_t *s = j->s;
    if (s->chat->shutting_down || s->dropped) {
        ms_kb_hits_free(j->hits, j->nhits);
        goto out;
    }
    s->hits = j->hits;
    s->nhits = j->nhits;
    s->retrieve_us = j->us;
    json_t *top = json_array();
    for (size_t i = 0; i < s->nhits && i < 5; i++)
        json_array_append_new(top, json_pack("{s:s, s:s, s:f}", "id", s->hits[i].id, "title",
                                             s->hits[i].title ? s->hits[i].title : "", "score",
                                             s->hits[i].score));
    s->tool_result = json_pack("{s:s, s:s, s:{s:i, s:o}, s:f}", "tool_call_id",
                               json_string_value(json_object_get(s->tool_call, "tool_call_id")),
                               "name", "kb_search", "result", "count", (json_int_t)s->nhits, "top",
                               top, "duration_ms", (double)j->us / 1000.0);
    if (j->rc)
        json_object_set_new(s->tool_result, "error", json_string(ms_strerror(j->rc)));
    ms_event_t ev = {
        .kind = MS_EV_TOOL_RESULT, .message_id = s->message_id, .data = s->tool_result};
    ms__stream_emit(s, &ev);
    if (s->cancel_requested)
        finish_stream(s, "cancelled", NULL, NULL);
    else
        generate_start(s);
out:
    free(j->query);
    ms__stream_unref(s);
    free(j);
}

static void retrieve_start(ms_stream_t *s) {
    retrieve_job_t *j = ms_xcalloc(1, sizeof *j);
    j->s = s;
    j->query = build_query(s);
    j->k = (int)s->chat->cfg->kb_top_k;
    char tcid[MS_ID_LEN];
    ms_id_new(tcid);
    s->tool_call = json_pack("{s:s, s:s, s:{s:s, s:i}}", "tool_call_id", tcid, "name", "kb_search",
                             "arguments", "query", j->query, "k", (json_int_t)j->k);
    ms_event_t ev = {.kind = MS_EV_TOOL_CALL, .message_id = s->message_id, .data = s->tool_call};
    ms__stream_emit(s, &ev);
    ms__stream_ref(s);
    if (ms_work_submit(s->chat->loop, retrieve_run, retrieve_done, j) != 0) {
        ms__stream_unref(s);
        free(j->query);
        free(j);
        finish_stream(s, "error", NULL, NULL);
    }
}

/* ---- generation --------------------------------------------------------- */

static void gen_delta_cb(void *ctx, const char *text, size_t len) {
    ms_stream_t *s = ctx;
    if (len)
        ms__stream_append_chunk(s, text, len);
}

/* Provider telemetry (MS_EV_LLM_CALL / MS_EV_LLM_RESULT): live only, not
 * replayed; dialects that report model calls (Epic 003) encode them. */
static void emit_llm(ms_stream_t *s, const ms_gen_result_t *r) {
    const char *provider = s->chat->provider->ops->name;
    json_t *data;
    if (!r) {
        data = json_pack("{s:s}", "provider", provider);
    } else {
        int64_t ms = (ms_mono_us() - s->gen_started_us + 500) / 1000;
        data = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "provider", provider, "prompt_tokens",
                         (json_int_t)r->prompt_tokens, "completion_tokens",
                         (json_int_t)r->completion_tokens, "total_tokens",
                         (json_int_t)r->prompt_tokens + (json_int_t)r->completion_tokens,
                         "duration_ms", (json_int_t)ms, "finish_reason",
                         r->finish_reason ? r->finish_reason : "stop");
    }
    ms_event_t ev = {
        .kind = r ? MS_EV_LLM_RESULT : MS_EV_LLM_CALL, .message_id = s->message_id, .data = data};
    ms__stream_emit(s, &ev);
    json_decref(data);
}

static void gen_done_cb(void *ctx, const ms_gen_result_t *r) {
    ms_stream_t *s = ctx;
    s->gen = NULL;
    if (s->chat->shutting_down) {
        ms__stream_unref(s);
        return;
    }
    emit_llm(s, r);
    json_t *citations = ms_chat_citations(s->hits, s->nhits, r->cited, r->ncited);
    json_t *usage = json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens,
                              "completion_tokens", (json_int_t)r->completion_tokens);
    if (r->error)
        ms_log(MS_LOG_WARN, "provider_error", "\"provider\":\"%s\"", s->chat->provider->ops->name);
    finish_stream(s, r->finish_reason ? r->finish_reason : "stop", citations, usage);
    ms__stream_unref(s); /* the generation's reference */
}

static void generate_start(ms_stream_t *s) {
    static const ms_gen_sink_t sink = {gen_delta_cb, gen_done_cb};
    size_t nh = json_array_size(s->history);
    const char **roles = ms_xcalloc(nh ? nh : 1, sizeof *roles);
    const char **texts = ms_xcalloc(nh ? nh : 1, sizeof *texts);
    for (size_t i = 0; i < nh; i++) {
        json_t *t = json_array_get(s->history, i);
        roles[i] = json_string_value(json_object_get(t, "role")) ?: "user";
        texts[i] = json_string_value(json_object_get(t, "content")) ?: "";
    }
    ms_gen_request_t req = {.question = s->question,
                            .history_roles = roles,
                            .history_texts = texts,
                            .nhistory = nh,
                            .hits = s->hits,
                            .nhits = s->nhits};
    s->state = ST_GENERATING;
    s->checkpoint_due = ms_mono_ms() + s->chat->cfg->checkpoint_ms;
    ms__live_add(s);
    ms__stream_ref(s);
    ms_provider_t *p = s->chat->provider;
    s->gen_started_us = ms_mono_us();
    emit_llm(s, NULL);
    int rc = p->ops->start(p, s->chat->loop, &req, &sink, s, &s->gen);
    free(roles);
    free(texts);
    if (rc != 0) {
        ms_gen_result_t failed = {.finish_reason = "error"};
        emit_llm(s, &failed);
        ms__stream_unref(s);
        finish_stream(s, "error", NULL, NULL);
    }
}

/* ---- completion ----------------------------------------------------------- */

typedef struct {
    ms_stream_t *s;
    char *content;
    const char *status;
    const char *finish_reason;
    json_t *usage;
    json_t *citations;
    int final;
    int rc;
} update_job_t;

static void update_run(ms_store_t *st, void *arg) {
    update_job_t *j = arg;
    j->rc = st ? ms_store_message_update(st, j->s->message_id, j->content, j->status,
                                         j->finish_reason, j->usage, j->citations)
               : MS_EIO;
}

static void submit_final(ms_stream_t *s);

static void update_done(void *arg) {
    update_job_t *j = arg;
    ms_stream_t *s = j->s;
    if (j->rc)
        ms_log(MS_LOG_ERROR, "message_update_failed", "\"final\":%d,\"code\":%d", j->final, j->rc);
    if (!j->final) {
        s->checkpoint_inflight = 0;
        if (s->state == ST_FINALIZING)
            submit_final(s);
    } else if (!s->chat->shutting_down && !s->dropped) {
        ms__stream_mark_done(s);
    }
    free(j->content);
    ms__stream_unref(s);
    free(j);
}

static void submit_update(ms_stream_t *s, int final) {
    update_job_t *j = ms_xcalloc(1, sizeof *j);
    j->s = s;
    j->content = ms_xstrndup(s->text.data ? s->text.data : "", s->text.len);
    j->final = final;
    if (final) {
        j->status = s->final_status;
        j->finish_reason = s->finish_reason;
        j->usage = s->final_usage;
        j->citations = s->final_citations;
    } else {
        j->status = MS_MSG_STREAMING;
        s->checkpoint_inflight = 1;
        s->checkpointed_len = s->text.len;
    }
    ms__stream_ref(s);
    if (ms_work_submit_write(s->chat->loop, update_run, update_done, j) != 0) {
        j->rc = MS_EIO;
        update_done(j);
    }
}

static void submit_final(ms_stream_t *s) {
    submit_update(s, 1);
}

/* Appends the disclaimer, records the outcome and writes the final message;
 * message_complete goes out once it is stored (ms__stream_mark_done). */
static void finish_stream(ms_stream_t *s, const char *finish_reason, json_t *citations,
                          json_t *usage) {
    const char *disclaimer = s->chat->cfg->disclaimer;
    if (disclaimer && *disclaimer) {
        ms_buf_t d;
        ms_buf_init(&d);
        if (s->text.len)
            ms_buf_puts(&d, "\n\n");
        ms_buf_puts(&d, disclaimer);
        ms__stream_append_chunk(s, d.data, d.len);
        ms_buf_free(&d);
    }
    s->finish_reason = finish_reason;
    s->final_status = !strcmp(finish_reason, "cancelled") ? MS_MSG_CANCELLED
                      : !strcmp(finish_reason, "error")   ? MS_MSG_ERROR
                                                          : MS_MSG_COMPLETE;
    s->final_citations = citations ? citations : json_array();
    s->final_usage =
        usage ? usage : json_pack("{s:i, s:i}", "prompt_tokens", 0, "completion_tokens", 0);
    s->complete = json_pack("{s:O, s:s, s:s, s:O, s:s}", "citations", s->final_citations,
                            "disclaimer", disclaimer ? disclaimer : "", "finish_reason",
                            finish_reason, "usage", s->final_usage, "status", s->final_status);
    s->state = ST_FINALIZING;
    ms__live_remove(s);
    if (!s->checkpoint_inflight)
        submit_final(s);
}

/* Each stream is checkpointed checkpoint_ms after its previous checkpoint
 * (or its start), and the sweep runs several times per interval: streams
 * that started together are not all copied and written in one burst, which
 * would delay every stream's next chunk on the loop. */
static void checkpoint_cb(uv_timer_t *t) {
    ms_chat_t *c = t->data;
    int64_t now = ms_mono_ms();
    for (ms_stream_t *s = c->live; s; s = s->live_next) {
        if (s->state != ST_GENERATING || s->checkpoint_inflight || now < s->checkpoint_due)
            continue;
        s->checkpoint_due = now + c->cfg->checkpoint_ms;
        if (s->text.len > s->checkpointed_len)
            submit_update(s, 0);
    }
}

/* ---- resume and cancel ---------------------------------------------------- */

typedef struct {
    ms_chat_t *chat;
    ms_sub_t *sub;
    char user_id[MS_ID_LEN];
    char message_id[MS_ID_LEN];
    json_t *msg;
    int err;
} lookup_job_t;

static void lookup_run(ms_store_t *st, void *arg) {
    lookup_job_t *j = arg;
    if (!st) {
        j->err = MS_EIO;
        return;
    }
    j->err = ms_store_message_get(st, j->message_id, &j->msg);
    if (j->err)
        return;
    json_t *conv = NULL;
    const char *cid = json_string_value(json_object_get(j->msg, "conversation_id"));
    j->err = ms_store_conversation_get(st, j->user_id, cid, &conv);
    json_decref(conv);
    if (!j->err && strcmp(json_string_value(json_object_get(j->msg, "role")), "assistant") != 0)
        j->err = MS_ENOENT;
    if (!j->err) {
        /* The client_message_id lives on the user message the answer replies to. */
        json_t *um = NULL;
        const char *rt = json_string_value(json_object_get(j->msg, "reply_to"));
        if (rt && ms_store_message_get(st, rt, &um) == 0)
            json_object_set(j->msg, "user_client_message_id",
                            json_object_get(um, "client_message_id"));
        json_decref(um);
    }
}

static void lookup_done(void *arg) {
    lookup_job_t *j = arg;
    ms_stream_t *s = NULL;
    HASH_FIND(hh, j->chat->by_id, j->message_id, strlen(j->message_id), s);
    if (!j->sub->emit || j->chat->shutting_down) {
        /* The client went away meanwhile. */
    } else if (j->err == MS_EPERM) {
        ms__emit_error(j->sub, j->message_id, "forbidden", "this message belongs to another user",
                       0);
    } else if (s && !j->err) {
        /* It started streaming here while we looked (unlikely but possible). */
        ms__stream_attach(s, j->sub, 0);
    } else if (j->err) {
        ms__emit_error(j->sub, j->message_id, j->err == MS_ENOENT ? "not_found" : "internal_error",
                       j->err == MS_ENOENT ? "no such message" : "could not read the message",
                       j->err == MS_EIO);
    } else {
        ms__emit_stored(j->chat, j->sub, j->msg);
    }
    json_decref(j->msg);
    ms__sub_unref(j->sub);
    free(j);
}

void ms_chat_resume(ms_chat_t *c, const char *user_id, const char *message_id, int64_t last_seq,
                    ms_sub_t *sub) {
    ms_stream_t *s = NULL;
    HASH_FIND(hh, c->by_id, message_id, strlen(message_id), s);
    if (s) {
        if (strcmp(s->user_id, user_id) != 0)
            ms__emit_error(sub, message_id, "forbidden", "this message belongs to another user", 0);
        else
            ms__stream_attach(s, sub, last_seq);
        return;
    }
    lookup_job_t *j = ms_xcalloc(1, sizeof *j);
    j->chat = c;
    j->sub = sub;
    snprintf(j->user_id, MS_ID_LEN, "%s", user_id);
    snprintf(j->message_id, MS_ID_LEN, "%s", message_id);
    ms__sub_ref(sub);
    if (ms_work_submit(c->loop, lookup_run, lookup_done, j) != 0) {
        j->err = MS_EIO;
        lookup_done(j);
    }
}

int ms_chat_cancel(ms_chat_t *c, const char *user_id, const char *message_id) {
    ms_stream_t *s = NULL;
    HASH_FIND(hh, c->by_id, message_id, strlen(message_id), s);
    if (!s)
        return MS_ENOENT;
    if (strcmp(s->user_id, user_id) != 0)
        return MS_EPERM;
    if (s->state == ST_GENERATING && s->gen)
        s->chat->provider->ops->cancel(s->gen);
    else if (s->state == ST_PENDING || s->state == ST_RETRIEVING)
        s->cancel_requested = 1;
    return 0;
}

/* ---- service -------------------------------------------------------------- */

json_t *ms_chat_citations(const ms_kb_hit_t *hits, size_t nhits, const size_t *cited,
                          size_t ncited) {
    return ms_kb_citations(hits, nhits, cited, ncited);
}

ms_chat_t *ms_chat_new(uv_loop_t *loop, const ms_config_t *cfg, ms_provider_t *provider) {
    ms_chat_t *c = ms_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->cfg = cfg;
    c->provider = provider;
    uv_timer_init(loop, &c->sweep_timer);
    uv_timer_init(loop, &c->checkpoint_timer);
    c->sweep_timer.data = c;
    c->checkpoint_timer.data = c;
    c->handles_open = 2;
    uint64_t sweep = cfg->replay_ttl_ms < 1000 ? (uint64_t)(cfg->replay_ttl_ms / 2 + 10) : 1000;
    uv_timer_start(&c->sweep_timer, ms__sweep_cb, sweep, sweep);
    uint64_t sweep_ms = (uint64_t)(cfg->checkpoint_ms / 8 > 10 ? cfg->checkpoint_ms / 8 : 10);
    uv_timer_start(&c->checkpoint_timer, checkpoint_cb, sweep_ms, sweep_ms);
    return c;
}

static void handle_closed_cb(uv_handle_t *h) {
    ms_chat_t *c = h->data;
    c->handles_open--;
}

void ms_chat_shutdown(ms_chat_t *c) {
    c->shutting_down = 1;
    uv_timer_stop(&c->sweep_timer);
    uv_timer_stop(&c->checkpoint_timer);
    uv_close((uv_handle_t *)&c->sweep_timer, handle_closed_cb);
    uv_close((uv_handle_t *)&c->checkpoint_timer, handle_closed_cb);
    /* Every answer being generated is stored as interrupted with the text it
     * has, through the same final write as a normal completion (so it lands
     * after any checkpoint in flight). The loop keeps running until those
     * writes are done. Turns not yet generating are marked at exit. */
    int n = 0;
    while (c->live) {
        ms_stream_t *s = c->live;
        ms__live_remove(s);
        s->finish_reason = "interrupted";
        s->final_status = MS_MSG_INTERRUPTED;
        s->state = ST_FINALIZING;
        if (s->gen)
            c->provider->ops->cancel(s->gen);
        if (!s->checkpoint_inflight)
            submit_final(s);
        n++;
    }
    if (n)
        ms_log(MS_LOG_INFO, "streams_interrupted", "\"count\":%d", n);
}

int ms_chat_closed(const ms_chat_t *c) {
    return c->handles_open == 0;
}

void ms_chat_free(ms_chat_t *c) {
    if (!c)
        return;
    /* Every stream still registered is dropped (registry reference). */
    while (c->by_idem)
        ms__stream_drop(c->by_idem);
    while (c->by_id)
        ms__stream_drop(c->by_id);
    free(c);
}

void ms_chat_stats(const ms_chat_t *c, ms_chat_stats_t *out) {
    out->streams_live = c->nlive;
    out->streams_buffered = c->nbuffered;
    out->replay_bytes = c->replay_bytes;
    out->turns_total = c->turns_total;
}
