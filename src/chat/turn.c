/* The turn as a table of stages, and its driver; admission of new turns.
 *
 * ms__turn_chain below is the only place that orders a turn. A stage knows
 * nothing of its neighbours: it ends with ms__turn_next, ms__turn_finish or
 * ms__turn_fail, and the driver moves on. The provider, PHI and clinical-
 * record work add stages here without touching the others. */
#include "chat/internal.h"
#include "core/log.h"
#include "phi/phi.h"
#include "workflow/workflow.h"

#include <stdlib.h>
#include <string.h>

const ms_stage_ops_t *const ms__turn_chain[] = {
    &ms_stage_persist,  /* the user message and an empty answer are durable; message_start */
    &ms_stage_context,  /* the conversation's clinical context */
    &ms_stage_retrieve, /* knowledge-base passages: tool_call / tool_result */
    &ms_stage_prompt,   /* the provider request: question, history, passages, context */
    &ms_stage_phi,      /* PHI in what the prompt carries: phi_detected, phi_unsure, phi_map */
    &ms_stage_route,    /* which provider answers */
    &ms_stage_generate, /* the answer streams: llm_call, message_chunk ..., llm_result */
    &ms_stage_finalise, /* disclaimer, citations, final write, message_complete */
};
const size_t ms__turn_nstages = MS_COUNTOF(ms__turn_chain);

/* ---- the driver ------------------------------------------------------------ */

static void run_stage(ms_turn_t *t) {
    t->in_stage = 1;
    t->chain[t->stage]->run(t);
}

void ms__turn_start(ms_turn_t *t, const ms_stage_ops_t *const *chain, size_t n) {
    t->chain = chain;
    t->nstages = n;
    t->stage = 0;
    t->started_us = ms_mono_us();
    run_stage(t);
}

void ms__turn_next(ms_turn_t *t) {
    t->in_stage = 0;
    if (t->stage + 1 >= t->nstages) {
        ms__turn_free(t);
        return;
    }
    t->stage++;
    /* A cancel that arrived before generation started decides the answer:
     * nothing was generated, the rest of the chain has nothing to do. */
    if (t->cancel_requested && t->stage + 1 < t->nstages && !t->finish_reason) {
        ms__turn_finish(t, "cancelled");
        return;
    }
    run_stage(t);
}

void ms__turn_finish(ms_turn_t *t, const char *finish_reason) {
    t->in_stage = 0;
    if (!t->finish_reason)
        t->finish_reason = finish_reason;
    t->stage = t->nstages - 1;
    run_stage(t);
}

void ms__turn_fail(ms_turn_t *t, int err, const char *msg) {
    ms_stream_t *s = t->s;
    t->in_stage = 0;
    const ms_error_info_t *ei = ms_error_info(err);
    json_t *data = json_pack("{s:s, s:s, s:b}", "code", ei->event_code, "message",
                             msg ? msg : ei->message, "retryable", ei->retryable);
    ms_event_t ev = {
        .kind = MS_EV_ERROR, .message_id = s->registered ? s->message_id : NULL, .data = data};
    ms__stream_emit(s, &ev);
    json_decref(data);
    ms__stream_drop(s);
    ms__turn_free(t);
}

/* ---- admission ------------------------------------------------------------- */

static ms_user_load_t *user_load(ms_chat_t *c, const char *user_id, int create) {
    ms_user_load_t *u = NULL;
    HASH_FIND_STR(c->users, user_id, u);
    if (!u && create) {
        u = ms_xcalloc(1, sizeof *u);
        snprintf(u->user_id, sizeof u->user_id, "%s", user_id);
        HASH_ADD_STR(c->users, user_id, u);
    }
    return u;
}

/* Forgets a user's entry once it has nothing to remember: no live turn and
 * a rate window that is over. Keeps the table as small as the active users. */
static void user_release(ms_chat_t *c, ms_user_load_t *u, int64_t minute) {
    if (u->live == 0 && u->window != minute) {
        HASH_DEL(c->users, u);
        free(u);
    }
}

/* Drops finished streams, oldest first, until everything held plus need
 * fits the memory bound again (the sweep would, a moment later). */
static void make_room(ms_chat_t *c, size_t need) {
    while (c->mem_bytes + (int64_t)need > c->cfg->replay_max_bytes && c->done_head) {
        ms_stream_t *s = c->done_head;
        c->done_head = s->done_next;
        if (!c->done_head)
            c->done_tail = NULL;
        c->nbuffered--;
        ms__stream_drop(s);
    }
}

/* 0, or the MS_E* code the question is refused with. */
static int admit(ms_chat_t *c, const char *user_id, size_t question_len, const char **why) {
    const ms_config_t *cfg = c->cfg;
    int64_t minute = ms_mono_ms() / 60000;
    ms_user_load_t *u = user_load(c, user_id, 1);
    if (u->window != minute) {
        u->window = minute;
        u->count = 0;
    }
    make_room(c, question_len);
    int rc = 0;
    if (c->shutting_down) {
        rc = MS_EBUSY, *why = "the server is shutting down";
    } else if (u->count >= cfg->user_turns_per_min) {
        rc = MS_ERATELIMIT, *why = "too many questions this minute; wait a little";
    } else if (u->live >= cfg->max_turns_per_user) {
        rc = MS_EOVERLOAD, *why = "too many answers in progress for this user; wait for one";
    } else if (c->nturns >= cfg->max_live_turns ||
               c->mem_bytes + (int64_t)question_len > cfg->replay_max_bytes) {
        rc = MS_EOVERLOAD, *why = "the server is at capacity; try again shortly";
    }
    if (rc) {
        if (rc == MS_ERATELIMIT)
            c->refused_rate++;
        else
            c->refused_overloaded++;
        user_release(c, u, minute);
        return rc;
    }
    u->count++;
    u->live++;
    return 0;
}

static ms_stream_t *find_idem(ms_chat_t *c, const char *key) {
    ms_stream_t *s = NULL;
    HASH_FIND(hh_idem, c->by_idem, key, strlen(key), s);
    if (!s)
        HASH_FIND(hh_idem2, c->by_idem2, key, strlen(key), s);
    return s;
}

void ms__turn_account(ms_turn_t *t) {
    size_t n = sizeof *t + strlen(t->question) + 1;
    n += t->conversation_alias ? strlen(t->conversation_alias) + 1 : 0;
    n += ms_json_bytes(t->history) + ms_json_bytes(t->context);
    for (size_t i = 0; i < t->nhits; i++) {
        const ms_kb_hit_t *h = &t->hits[i];
        const char *f[] = {h->id,    h->title, h->url,  h->source, h->source_type,  h->text,
                           h->focus, h->qtype, h->pmid, h->doi,    h->authors_json, h->journal};
        n += sizeof *h;
        for (size_t k = 0; k < MS_COUNTOF(f); k++)
            n += f[k] ? strlen(f[k]) + 1 : 0;
    }
    n += t->req.nhistory * 2 * sizeof(char *) + t->ncited * sizeof(size_t);
    /* The model prompt copies the passages and turns it keeps. */
    for (size_t i = 0; i < t->prompt.nmsgs; i++)
        n += sizeof t->prompt.msgs[i] + strlen(t->prompt.msgs[i].content) + 1;
    n += ms_json_bytes(t->phi_categories) + t->scratch.cap + t->cite.capcited * sizeof(size_t);
    t->bytes = n;
    ms__stream_account(t->s);
}

void ms__turn_free(ms_turn_t *t) {
    ms_chat_t *c = t->chat;
    ms_stream_t *s = t->s;
    ms_user_load_t *u = user_load(c, s->user_id, 0);
    if (u) {
        u->live--;
        user_release(c, u, ms_mono_ms() / 60000);
    }
    c->nturns--;
    ms__live_remove(t);
    s->turn = NULL;
    ms__stream_account(s);
    free(t->question);
    free(t->conversation_alias);
    json_decref(t->history);
    json_decref(t->context);
    ms__generate_release(t);
    ms_llm_prompt_free(&t->prompt);
    free(t->doc_keys);
    ms_kb_hits_free(t->hits, t->nhits);
    free(t->req_roles);
    free(t->req_texts);
    free(t->cited);
    json_decref(t->phi_categories);
    ms_phi_map_free(t->phi_map);
    ms_wf_free(t->wf);
    json_decref(t->wf_result);
    free(t);
    ms__stream_unref(s); /* the turn's reference */
}

/* A workflow request validated into a run (workflow.h ms_wf_new), with the
 * configured bounds; 0, or the error was sent to sub. */
static int workflow_new(ms_chat_t *c, const json_t *req, ms_sub_t *sub, ms_wf_t **out) {
    const ms_config_t *cfg = c->cfg;
    ms_wf_limits_t lim = {.max_symptoms = (size_t)cfg->workflow_max_symptoms,
                          .max_items = (size_t)cfg->workflow_max_items,
                          .max_chars = (size_t)cfg->workflow_max_chars,
                          .differential_k = (size_t)cfg->workflow_differential_k,
                          .max_medications = (size_t)cfg->workflow_max_medications};
    ms_wf_kind_t kind;
    char err[256] = "";
    int rc = ms_wf_parse_kind(json_string_value(json_object_get(req, "workflow")), &kind);
    if (rc)
        snprintf(err, sizeof err, "workflow must be \"diagnosis\" or \"prescription\"");
    else
        rc = ms_wf_new(kind, json_object_get(req, "data"), &lim, out, err, sizeof err);
    if (rc) {
        /* A bound or a shape: the client's request is invalid either way. */
        ms__emit_error(sub, NULL, MS_EINVAL, err);
        return rc;
    }
    return 0;
}

void ms_chat_ask_req(ms_chat_t *c, const ms_ask_t *a, ms_sub_t *sub) {
    ms_wf_t *wf = NULL;
    if (a->workflow && workflow_new(c, a->workflow, sub, &wf) != 0)
        return;
    const char *text = wf ? ms_wf_summary(wf) : a->text;
    size_t n = strlen(a->user_id) + (a->conversation_id ? strlen(a->conversation_id) : 0) +
               strlen(a->client_message_id) + 3;
    char *key = ms_xmalloc(n);
    snprintf(key, n, "%s|%s|%s", a->user_id, a->conversation_id ? a->conversation_id : "",
             a->client_message_id);
    ms_stream_t *s = find_idem(c, key);
    if (s) {
        /* An idempotent retry adds no work: it follows the existing answer. */
        free(key);
        ms_wf_free(wf);
        ms__stream_attach(s, sub, 0);
        return;
    }
    /* The model the client named is a route of this server, or nothing is
     * stored (GET /api/models lists them). */
    const ms_llm_route_t *route = ms_llm_route(c->llm, a->model);
    if (!route) {
        free(key);
        ms_wf_free(wf);
        ms__emit_error(sub, NULL, MS_EINVAL,
                       "unknown model: GET /api/models lists the models of this server");
        return;
    }
    const char *why = NULL;
    int rc = admit(c, a->user_id, strlen(text), &why);
    if (rc) {
        free(key);
        ms_wf_free(wf);
        ms__emit_error(sub, NULL, rc, why);
        return;
    }
    s = ms__stream_new(c, a->user_id, a->client_message_id);
    s->idem_key = key;
    /* Time-ordered: the user turn sorts before its answer, and inserts stay
     * on the right edge of the messages' primary key. */
    ms_id_new_v7(s->user_message_id);
    ms_id_new_v7(s->message_id);
    HASH_ADD_KEYPTR(hh_idem, c->by_idem, s->idem_key, strlen(s->idem_key), s);
    ms__stream_attach(s, sub, 0);

    ms_turn_t *t = ms_xcalloc(1, sizeof *t);
    t->chat = c;
    t->s = s;
    ms__stream_ref(s); /* the turn's */
    s->turn = t;
    c->nturns++;
    t->question = ms_xstrdup(text);
    t->wf = wf;
    t->history = a->history ? json_deep_copy(a->history) : NULL;
    t->route = route;
    t->grounding = -1;
    snprintf(t->conversation_id, MS_ID_LEN, "%s", a->conversation_id ? a->conversation_id : "");
    t->create_conversation = a->conversation_id && (a->flags & MS_ASK_CREATE_CONVERSATION);
    if (t->create_conversation && a->conversation_alias && ms_id_valid(a->conversation_alias))
        t->conversation_alias = ms_xstrdup(a->conversation_alias);
    if (a->clinical_context_id && ms_id_valid(a->clinical_context_id))
        snprintf(t->clinical_context_id, MS_ID_LEN, "%s", a->clinical_context_id);
    ms__turn_account(t);
    if (wf)
        ms__turn_start(t, ms__wf_chain, ms__wf_nstages);
    else
        ms__turn_start(t, c->chain, c->nstages);
}

void ms_chat_ask_ex(ms_chat_t *c, const char *user_id, const char *conversation_id,
                    const char *client_message_id, const char *text, unsigned flags,
                    ms_sub_t *sub) {
    ms_ask_t a = {.user_id = user_id,
                  .conversation_id = conversation_id,
                  .client_message_id = client_message_id,
                  .text = text,
                  .flags = flags};
    ms_chat_ask_req(c, &a, sub);
}

void ms_chat_ask(ms_chat_t *c, const char *user_id, const char *conversation_id,
                 const char *client_message_id, const char *text, ms_sub_t *sub) {
    ms_chat_ask_ex(c, user_id, conversation_id, client_message_id, text, 0, sub);
}

int ms_chat_cancel(ms_chat_t *c, const char *user_id, const char *message_id) {
    ms_stream_t *s = ms__stream_by_id(c, message_id);
    if (!s)
        return MS_ENOENT;
    if (strcmp(s->user_id, user_id) != 0)
        return MS_EPERM;
    ms_turn_t *t = s->turn;
    if (!t || t->finish_reason)
        return 0; /* already decided: nothing to stop */
    t->cancel_requested = 1;
    const ms_stage_ops_t *st = t->chain[t->stage];
    if (t->in_stage && st->cancel)
        st->cancel(t);
    return 0;
}
