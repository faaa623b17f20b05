/* The chat service: creation and shutdown, resume from storage, counters,
 * and the citation objects of an answer. */
#include "chat/internal.h"
#include "chat/work.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* ---- resume ------------------------------------------------------------------ */

typedef struct {
    ms_chat_t *chat;
    ms_sub_t *sub;
    char user_id[MS_ID_LEN];
    char message_id[MS_ID_LEN];
    int64_t last_seq;
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
    ms_stream_t *s = ms__stream_by_id(j->chat, j->message_id);
    if (!j->sub->emit || j->chat->shutting_down) {
        /* The client went away meanwhile. */
    } else if (j->err == MS_EPERM || j->err == MS_ENOENT) {
        /* Another user's message is answered exactly like a missing one:
         * no client learns which message ids exist. */
        ms__emit_error(j->sub, j->message_id, MS_ENOENT, "no such message");
    } else if (s && !j->err) {
        /* It started streaming here while we looked (unlikely but possible). */
        ms__stream_attach(s, j->sub, j->last_seq);
    } else if (j->err) {
        ms__emit_error(j->sub, j->message_id, j->err, "could not read the message");
    } else {
        ms__emit_stored(j->chat, j->sub, j->msg);
    }
    json_decref(j->msg);
    ms__sub_unref(j->sub);
    free(j);
}

void ms_chat_resume(ms_chat_t *c, const char *user_id, const char *message_id, int64_t last_seq,
                    ms_sub_t *sub) {
    if (last_seq < 0 || last_seq > MS_PROTO_MAX_SEQ) {
        ms__emit_error(sub, message_id, MS_EINVAL, "last_seq is out of range");
        return;
    }
    ms_stream_t *s = ms__stream_by_id(c, message_id);
    if (s) {
        if (strcmp(s->user_id, user_id) != 0)
            ms__emit_error(sub, message_id, MS_ENOENT, "no such message");
        else
            ms__stream_attach(s, sub, last_seq);
        return;
    }
    lookup_job_t *j = ms_xcalloc(1, sizeof *j);
    j->chat = c;
    j->sub = sub;
    snprintf(j->user_id, MS_ID_LEN, "%s", user_id);
    snprintf(j->message_id, MS_ID_LEN, "%s", message_id);
    j->last_seq = last_seq;
    ms__sub_ref(sub);
    int rc = ms_work_submit(c->loop, lookup_run, lookup_done, j);
    if (rc != 0) {
        j->err = rc;
        lookup_done(j);
    }
}

json_t *ms_chat_citations(const ms_kb_hit_t *hits, size_t nhits, const size_t *cited,
                          size_t ncited) {
    return ms_kb_citations(hits, nhits, cited, ncited);
}

ms_chat_t *ms_chat_new(uv_loop_t *loop, const ms_config_t *cfg, ms_provider_t *provider,
                       const char *node_id) {
    ms_breaker_config_t bc = {.failures = (int)cfg->breaker_failures,
                              .window_ms = cfg->breaker_window_ms,
                              .cooldown_ms = cfg->breaker_cooldown_ms};
    ms_llm_t *llm = ms_llm_single(provider, &bc);
    ms_chat_t *c = ms_chat_new_llm(loop, cfg, llm, node_id);
    c->own_llm = llm;
    return c;
}

ms_llm_t *ms_chat_llm(const ms_chat_t *c) {
    return c->llm;
}

ms_metrics_t *ms_chat_metrics(const ms_chat_t *c) {
    return c->metrics;
}

ms_chat_t *ms_chat_new_llm(uv_loop_t *loop, const ms_config_t *cfg, ms_llm_t *llm,
                           const char *node_id) {
    ms_chat_t *c = ms_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->cfg = cfg;
    c->llm = llm;
    c->metrics = ms_metrics_new(ms_llm_nroutes(llm), ms_llm_nproviders(llm));
    c->chain = ms__turn_chain;
    c->nstages = ms__turn_nstages;
    snprintf(c->node_id, sizeof c->node_id, "%s", node_id ? node_id : "");
    uv_timer_init(loop, &c->sweep_timer);
    uv_timer_init(loop, &c->checkpoint_timer);
    c->sweep_timer.data = c;
    c->checkpoint_timer.data = c;
    c->handles_open = 2;
    uint64_t sweep = cfg->replay_ttl_ms < 1000 ? (uint64_t)(cfg->replay_ttl_ms / 2 + 10) : 1000;
    uv_timer_start(&c->sweep_timer, ms__sweep_cb, sweep, sweep);
    uint64_t sweep_ms = (uint64_t)(cfg->checkpoint_ms / 8 > 10 ? cfg->checkpoint_ms / 8 : 10);
    uv_timer_start(&c->checkpoint_timer, ms__checkpoint_cb, sweep_ms, sweep_ms);
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
    /* Every answer being generated ends as interrupted, through the same
     * finalise stage as a normal completion (disclaimer, final write after
     * any checkpoint in flight). The loop keeps running until those writes
     * are done. Turns not generating yet end when their work returns; their
     * rows are recovered when this node releases its lease. Final writes
     * waiting for a retry go out once more now. */
    ms__generate_shutdown(c);
    ms__finalise_flush_retries(c);
}

int ms_chat_closed(const ms_chat_t *c) {
    return c->handles_open == 0;
}

void ms_chat_free(ms_chat_t *c) {
    if (!c)
        return;
    /* Every stream still registered is dropped (registry reference): a drop
     * takes the stream out of every table before it lets go of it. */
    /* The analyzer loses track of uthash's deletion during iteration and
     * reports uses after free in these loops; each step reads only the
     * element it is about to drop and the next one saved before. */
    // NOLINTBEGIN(clang-analyzer-unix.Malloc)
    ms_stream_t *s, *tmp;
    HASH_ITER(hh_idem, c->by_idem, s, tmp) {
        ms__stream_drop(s);
    }
    /* Every stream has an idempotency key, so by_id is empty by now; this
     * is a safety net. */
    HASH_ITER(hh, c->by_id, s, tmp) {
        ms__stream_drop(s);
    }
    ms_user_load_t *u, *utmp;
    HASH_ITER(hh, c->users, u, utmp) {
        HASH_DEL(c->users, u);
        free(u);
    }
    // NOLINTEND(clang-analyzer-unix.Malloc)
    ms_llm_free(c->own_llm);
    ms_metrics_free(c->metrics);
    free(c);
}

void ms_chat_stats(const ms_chat_t *c, ms_chat_stats_t *out) {
    out->streams_live = c->nturns;
    out->streams_buffered = c->nbuffered;
    out->replay_bytes = c->mem_bytes;
    out->turns_total = c->turns_total;
    out->refused_overloaded = c->refused_overloaded;
    out->refused_rate = c->refused_rate;
}
