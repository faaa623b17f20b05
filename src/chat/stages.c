/* The stages before generation: persist, context, retrieve, prompt, route.
 * Each is one ms_stage_ops_t; the order is turn.c's. */
#include "chat/internal.h"
#include "chat/work.h"
#include "clinical/clinical.h"
#include "core/log.h"
#include "core/utf8.h"
#include "kb/followup.h"
#include "workflow/workflow.h"

#include <stdlib.h>
#include <string.h>

/* ---- persist ----------------------------------------------------------------
 * The user message and an empty assistant message are stored in one write
 * (the group-committing writer) before message_start, so an acknowledged
 * question is never lost. A repeated client_message_id finds the answer
 * that exists instead (idempotency across restarts and nodes). */

typedef struct {
    ms_turn_t *t;
    char conversation_id[MS_ID_LEN]; /* in: given id or ""; out: the id used */
    char *alias;                     /* in: a session's UUID the client named */
    int create;
    char *question, *client_message_id;
    char user_message_id[MS_ID_LEN], message_id[MS_ID_LEN], user_id[MS_ID_LEN];
    char clinical_context_id[MS_ID_LEN]; /* to bind, or "" */
    const char *node_id;
    int history_turns;
    int err;
    const char *errmsg; /* a static sentence for err, or NULL for the usual one */
    json_t *existing;   /* stored assistant message when the turn existed */
    json_t *history;
} persist_job_t;

/* Title of a new conversation: the first 60 characters of the question. */
static char *title_from(const char *q) {
    char *t = ms_xstrndup(q, ms_utf8_prefix(q, strlen(q), 60));
    for (char *p = t; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return t;
}

/* The conversation the turn goes to, created when it is new or a session's
 * first use. A session UUID naming one of the user's own conversations
 * wins over the session's derived conversation; one naming anyone else's
 * (or nothing) is ignored, so nobody can take another user's session. */
static int persist_conversation(ms_store_t *st, persist_job_t *j) {
    json_t *conv = NULL;
    int rc;
    if (j->conversation_id[0] && j->create) {
        if (j->alias && ms_store_conversation_get(st, j->user_id, j->alias, &conv) == 0) {
            snprintf(j->conversation_id, MS_ID_LEN, "%s", j->alias);
            json_decref(conv);
            return 0;
        }
        char *title = title_from(j->question);
        rc = ms_store_conversation_get_or_create(st, j->user_id, j->conversation_id, title, &conv);
        free(title);
    } else if (j->conversation_id[0]) {
        rc = ms_store_conversation_get(st, j->user_id, j->conversation_id, &conv);
    } else {
        char *title = title_from(j->question);
        rc = ms_store_conversation_create(st, j->user_id, title, &conv);
        free(title);
        if (!rc)
            snprintf(j->conversation_id, MS_ID_LEN, "%s",
                     json_string_value(json_object_get(conv, "id")));
    }
    json_decref(conv);
    return rc;
}

/* The clinical context the client names must be the user's before anything
 * is written: a turn that would silently answer without the patient's
 * allergies must not start. */
static int persist_context_check(ms_store_t *st, persist_job_t *j) {
    json_t *ctx = NULL;
    int rc = ms_store_clinical_get(st, j->user_id, j->clinical_context_id, &ctx);
    json_decref(ctx);
    if (rc == MS_ENOENT)
        j->errmsg = "no such clinical context";
    return rc;
}

static void persist_run(ms_store_t *st, void *arg) {
    persist_job_t *j = arg;
    j->errmsg = NULL;
    if (!st) {
        j->err = MS_EIO;
        return;
    }
    if (j->clinical_context_id[0] && (j->err = persist_context_check(st, j)) != 0)
        return;
    if ((j->err = persist_conversation(st, j)) != 0)
        return;
    /* The binding is stored before the turn, so the context stage (and any
     * later turn of the conversation) reads it. */
    if (j->clinical_context_id[0] &&
        (j->err = ms_store_clinical_bind(st, j->user_id, j->conversation_id,
                                         j->clinical_context_id)) != 0)
        return;
    int rc = ms_store_turn_begin(st, j->conversation_id, j->user_message_id, j->message_id,
                                 j->client_message_id, j->question, j->node_id);
    if (rc == MS_EEXIST) {
        j->err = ms_store_message_by_client_id(st, j->conversation_id, j->client_message_id, NULL,
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
        json_decref(j->history);
        j->history = turns;
    }
}

static void persist_job_free(persist_job_t *j) {
    json_decref(j->existing);
    json_decref(j->history);
    free(j->alias);
    free(j->question);
    free(j->client_message_id);
    free(j);
}

/* The same client_message_id was used before (another node, a restart, or
 * an expired replay buffer): its subscribers follow that answer instead. */
static void follow_existing(ms_turn_t *t, json_t *existing) {
    ms_chat_t *c = t->chat;
    ms_stream_t *s = t->s;
    const char *mid = json_string_value(json_object_get(existing, "id"));
    json_object_set_new(existing, "user_client_message_id", json_string(s->client_message_id));
    ms_stream_t *other = mid ? ms__stream_by_id(c, mid) : NULL;
    /* A snapshot: attaching elsewhere unlinks a subscriber from s. */
    size_t n = 0;
    for (ms_sub_t *sub = s->subs; sub; sub = sub->next)
        n++;
    ms_sub_t **subs = ms_xcalloc(n ? n : 1, sizeof(void *));
    n = 0;
    for (ms_sub_t *sub = s->subs; sub; sub = sub->next) {
        ms__sub_ref(sub);
        subs[n++] = sub;
    }
    for (size_t i = 0; i < n; i++) {
        if (other)
            ms__stream_attach(other, subs[i], 0);
        else
            ms__emit_stored(c, subs[i], existing);
        ms__sub_unref(subs[i]);
    }
    free(subs);
    ms__stream_drop(s); /* lets go of the subscribers still listed */
    ms__turn_free(t);
}

static void persist_done(void *arg) {
    persist_job_t *j = arg;
    ms_turn_t *t = j->t;
    ms_stream_t *s = t->s;
    ms_chat_t *c = t->chat;
    if (c->shutting_down || s->dropped) {
        ms__stream_drop(s);
        ms__turn_free(t);
    } else if (j->err) {
        if (j->err != MS_EPERM && j->err != MS_ENOENT)
            ms_log(MS_LOG_ERROR, "turn_persist_failed", "\"code\":%d", j->err);
        ms__turn_fail(t, j->err,
                      j->errmsg             ? j->errmsg
                      : j->err == MS_EPERM  ? "this conversation belongs to another user"
                      : j->err == MS_ENOENT ? "no such conversation"
                                            : "could not store the message; try again");
    } else if (j->existing) {
        follow_existing(t, j->existing);
    } else {
        snprintf(s->conversation_id, MS_ID_LEN, "%s", j->conversation_id);
        if (!t->history) { /* the client's own history (ms_ask_t) wins */
            t->history = j->history;
            j->history = NULL;
        }
        ms__stream_register_id(s);
        if (!t->conversation_id[0]) {
            /* A retry may now name the conversation it learnt from message_start. */
            size_t n =
                strlen(s->user_id) + strlen(s->conversation_id) + strlen(s->client_message_id) + 3;
            s->idem_key2 = ms_xmalloc(n);
            snprintf(s->idem_key2, n, "%s|%s|%s", s->user_id, s->conversation_id,
                     s->client_message_id);
            HASH_ADD_KEYPTR(hh_idem2, c->by_idem2, s->idem_key2, strlen(s->idem_key2), s);
        }
        s->state = ST_STREAMING;
        /* A workflow's start says which workflow (seed 004's clients see
         * its stages, not the question's). */
        json_t *wf =
            t->wf ? json_pack("{s:s}", "workflow", ms_wf_kind_name(ms_wf_kind(t->wf))) : NULL;
        ms_event_t ev = {.kind = MS_EV_MESSAGE_START,
                         .message_id = s->message_id,
                         .conversation_id = s->conversation_id,
                         .user_message_id = s->user_message_id,
                         .client_message_id = s->client_message_id,
                         .data = wf};
        ms__stream_emit(s, &ev);
        json_decref(wf);
        c->turns_total++;
        ms__turn_account(t);
        ms__turn_next(t);
    }
    persist_job_free(j);
}

static void persist_stage(ms_turn_t *t) {
    ms_stream_t *s = t->s;
    ms_chat_t *c = t->chat;
    persist_job_t *j = ms_xcalloc(1, sizeof *j);
    j->t = t;
    j->history_turns = (int)c->cfg->history_turns;
    j->create = t->create_conversation;
    j->alias = t->conversation_alias ? ms_xstrdup(t->conversation_alias) : NULL;
    j->question = ms_xstrdup(t->question);
    j->client_message_id = ms_xstrdup(s->client_message_id);
    j->node_id = c->node_id[0] ? c->node_id : NULL;
    memcpy(j->user_id, s->user_id, MS_ID_LEN);
    memcpy(j->message_id, s->message_id, MS_ID_LEN);
    memcpy(j->user_message_id, s->user_message_id, MS_ID_LEN);
    memcpy(j->clinical_context_id, t->clinical_context_id, MS_ID_LEN);
    snprintf(j->conversation_id, MS_ID_LEN, "%s", t->conversation_id);
    int rc = ms_work_submit_write(c->loop, persist_run, persist_done, j);
    if (rc != 0) {
        persist_job_free(j);
        ms__turn_fail(t, rc, "could not store the message; try again");
    }
}

const ms_stage_ops_t ms_stage_persist = {.name = "persist", .run = persist_stage};

/* ---- context: context.c ------------------------------------------------------ */

/* ---- retrieve ---------------------------------------------------------------
 * The knowledge-base search, on the retrieval pool (not the storage pool, so
 * a burst of REST reads or logins cannot delay it), shown to the client as
 * the kb_search tool. */

typedef struct {
    ms_turn_t *t;
    char *query;
    char *problems; /* the clinical context's problems as search words, or NULL */
    int k;
    char conversation_id[MS_ID_LEN], user_id[MS_ID_LEN]; /* the search's scope */
    ms_kb_hit_t *hits;
    size_t nhits;
    int rc;
    int64_t us;
} retrieve_job_t;

/* Passages searched for a turn with the patient's problems, before the
 * fusion keeps kb_top_k of them (context.c): deep enough that a passage
 * about the question and the patient can rise from well below the top. */
#define RETRIEVE_POOL_MIN 20
#define RETRIEVE_POOL_MAX 100
/* Longest problem list added to the second search, in bytes. */
#define RETRIEVE_PROBLEM_BYTES 300

/* The search query: the question, plus for a follow-up ("How is it
 * treated?", "What are the complications?") the conversation's focus from
 * the recent user turns (kb/followup.h, the detector the answerer uses). */
static char *build_query(const char *question, json_t *history) {
    size_t n = json_array_size(history);
    const char **roles = ms_xcalloc(n ? n : 1, sizeof *roles);
    const char **texts = ms_xcalloc(n ? n : 1, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(history, i);
        roles[i] = json_string_value(json_object_get(t, "role"));
        texts[i] = json_string_value(json_object_get(t, "content"));
    }
    char *q = ms_kb_followup_query(question, roles, texts, n);
    free(roles);
    free(texts);
    return q;
}

/* With the patient's problems, the least invasive weighting there is: the
 * knowledge base ranks as it always does, twice (the question; the problem
 * list), and the two searches are fused with the problems' one weighted
 * lower (context.c). The question's own search alone decides which passages
 * may be used. */
static int retrieve_with_problems(ms_kb_t *kb, const ms_kb_scope_t *scope, retrieve_job_t *j) {
    int pool_k = j->k * 4 < RETRIEVE_POOL_MIN   ? RETRIEVE_POOL_MIN
                 : j->k * 4 > RETRIEVE_POOL_MAX ? RETRIEVE_POOL_MAX
                                                : j->k * 4;
    ms_kb_hit_t *pool = NULL, *boost = NULL;
    size_t npool = 0, nboost = 0;
    int rc = ms_kb_find_in(kb, scope, j->query, pool_k, &pool, &npool);
    if (rc)
        return rc;
    rc = ms_kb_find_in(kb, scope, j->problems, pool_k, &boost, &nboost);
    if (rc) {
        /* The second ranking only re-orders: without it, the question's. */
        ms_kb_hits_free(boost, nboost);
        boost = NULL;
        nboost = 0;
    }
    ms__context_fuse(pool, npool, boost, nboost, (size_t)j->k, &j->hits, &j->nhits);
    ms_kb_hits_free(boost, nboost);
    return 0;
}

static void retrieve_run(ms_store_t *st, void *arg) {
    (void)st;
    retrieve_job_t *j = arg;
    int64_t t0 = ms_mono_us();
    ms_kb_t *kb = ms_work_thread_kb();
    /* The conversation's attachments rank with the knowledge base. */
    ms_kb_scope_t scope = {.conversation_id = j->conversation_id, .user_id = j->user_id};
    if (!kb)
        j->rc = MS_EIO;
    else if (j->problems)
        j->rc = retrieve_with_problems(kb, &scope, j);
    else
        j->rc = ms_kb_find_in(kb, &scope, j->query, j->k, &j->hits, &j->nhits);
    j->us = ms_mono_us() - t0;
}

/* tool_result: the count and the best few, as the client shows them. */
static void retrieve_result(ms_turn_t *t, int rc, int64_t us) {
    ms_stream_t *s = t->s;
    json_t *call = ms_replay_event(s->replay, MS_REPLAY_TOOL_CALL);
    json_t *top = json_array();
    for (size_t i = 0; i < t->nhits && i < 5; i++)
        json_array_append_new(top, json_pack("{s:s, s:s, s:f}", "id", t->hits[i].id, "title",
                                             t->hits[i].title ? t->hits[i].title : "", "score",
                                             t->hits[i].score));
    json_t *result = json_pack("{s:s, s:s, s:{s:i, s:o}, s:f}", "tool_call_id",
                               json_string_value(json_object_get(call, "tool_call_id")), "name",
                               "kb_search", "result", "count", (json_int_t)t->nhits, "top", top,
                               "duration_ms", (double)us / 1000.0);
    if (rc)
        json_object_set_new(result, "error", json_string(ms_strerror(rc)));
    ms_replay_put_event(s->replay, MS_REPLAY_TOOL_RESULT, result);
    ms_event_t ev = {.kind = MS_EV_TOOL_RESULT, .message_id = s->message_id, .data = result};
    ms__stream_emit(s, &ev);
    json_decref(result);
}

static void retrieve_done(void *arg) {
    retrieve_job_t *j = arg;
    ms_turn_t *t = j->t;
    if (t->chat->shutting_down) {
        ms_kb_hits_free(j->hits, j->nhits);
        ms__stream_drop(t->s);
        ms__turn_free(t);
    } else {
        t->hits = j->hits;
        t->nhits = j->nhits;
        retrieve_result(t, j->rc, j->us);
        ms__turn_account(t);
        ms__turn_next(t);
    }
    free(j->query);
    free(j->problems);
    free(j);
}

static void retrieve_stage(ms_turn_t *t) {
    ms_chat_t *c = t->chat;
    ms_stream_t *s = t->s;
    /* A route whose providers ground nothing (synthetic) gets no search. */
    if (!ms_llm_route_uses_retrieval(c->llm, t->route)) {
        ms__turn_next(t);
        return;
    }
    retrieve_job_t *j = ms_xcalloc(1, sizeof *j);
    j->t = t;
    j->query = build_query(t->question, t->history);
    j->problems = ms_clinical_problem_terms(t->context, RETRIEVE_PROBLEM_BYTES);
    j->k = (int)c->cfg->kb_top_k;
    memcpy(j->conversation_id, s->conversation_id, MS_ID_LEN);
    memcpy(j->user_id, s->user_id, MS_ID_LEN);
    char tcid[MS_ID_LEN];
    ms_id_new(tcid);
    json_t *call = json_pack("{s:s, s:s, s:{s:s, s:i}}", "tool_call_id", tcid, "name", "kb_search",
                             "arguments", "query", j->query, "k", (json_int_t)j->k);
    if (j->problems)
        json_object_set_new(
            json_object_get(call, "arguments"), "patient_problems",
            json_pack("{s:s, s:f}", "terms", j->problems, "weight", MS_CONTEXT_PROBLEM_WEIGHT));
    ms_replay_put_event(s->replay, MS_REPLAY_TOOL_CALL, call);
    ms_event_t ev = {.kind = MS_EV_TOOL_CALL, .message_id = s->message_id, .data = call};
    ms__stream_emit(s, &ev);
    json_decref(call);
    int rc = ms_work_submit_on(MS_WORK_KB, c->loop, retrieve_run, retrieve_done, j);
    if (rc != 0) {
        /* No grounding means no answer: a clinical answer is never written
         * without its sources. The client is told and may retry. */
        ms_log(MS_LOG_WARN, "retrieval_refused", "\"code\":\"%s\"", ms_strerror(rc));
        free(j->query);
        free(j->problems);
        free(j);
        retrieve_result(t, rc, 0);
        ms__turn_finish(t, "error");
    }
}

const ms_stage_ops_t ms_stage_retrieve = {.name = "retrieve", .run = retrieve_stage};

/* ---- prompt -----------------------------------------------------------------
 * The provider request: the question, the recent turns, the passages; for a
 * route with a language model also the model prompt (llm/prompt.h: the
 * instructions, the clinical context, the numbered passages, the recent
 * turns within history_max_tokens, the question, all within
 * prompt_max_tokens) and the answer's token limit (llm_max_tokens, or the
 * provider's max_tokens). */

/* The clinical context as prompt text: a string as it is, a context
 * object as clinical.h renders it (members with their units, no ids). */
static char *context_text(json_t *ctx) {
    if (!ctx || json_is_null(ctx))
        return NULL;
    if (json_is_string(ctx))
        return json_string_length(ctx) ? ms_xstrdup(json_string_value(ctx)) : NULL;
    return ms_clinical_prompt_text(ctx);
}

static int build_model_prompt(ms_turn_t *t) {
    const ms_config_t *cfg = t->chat->cfg;
    char *ctx = context_text(t->context);
    ms_llm_prompt_in_t in = {.system_prompt = cfg->system_prompt,
                             .context = ctx,
                             .hits = t->hits,
                             .nhits = t->nhits,
                             .history_roles = t->req_roles,
                             .history_texts = t->req_texts,
                             .nhistory = t->req.nhistory,
                             .question = t->question,
                             .strip_suffix = cfg->disclaimer,
                             .max_prompt_tokens = cfg->prompt_max_tokens,
                             .max_history_tokens = cfg->history_max_tokens};
    int rc = ms_llm_prompt_build(&in, &t->prompt);
    free(ctx);
    if (rc)
        return rc;
    t->doc_keys = ms_xcalloc(t->prompt.npassages ? t->prompt.npassages : 1, sizeof *t->doc_keys);
    for (size_t i = 0; i < t->prompt.npassages; i++) {
        const ms_kb_hit_t *h = &t->hits[i];
        t->doc_keys[i] = h->doc_id && *h->doc_id ? h->doc_id : h->id ? h->id : "";
    }
    t->req.messages = t->prompt.msgs;
    t->req.nmessages = t->prompt.nmsgs;
    /* The answer's token limit is each provider's max_tokens (default
     * llm_max_tokens); a turn sets none of its own. */
    t->req.max_tokens = 0;
    return 0;
}

static void prompt_stage(ms_turn_t *t) {
    size_t nh = json_array_size(t->history);
    t->req_roles = ms_xcalloc(nh ? nh : 1, sizeof *t->req_roles);
    t->req_texts = ms_xcalloc(nh ? nh : 1, sizeof *t->req_texts);
    for (size_t i = 0; i < nh; i++) {
        json_t *h = json_array_get(t->history, i);
        t->req_roles[i] = json_string_value(json_object_get(h, "role")) ?: "user";
        t->req_texts[i] = json_string_value(json_object_get(h, "content")) ?: "";
    }
    t->req = (ms_gen_request_t){.question = t->question,
                                .history_roles = t->req_roles,
                                .history_texts = t->req_texts,
                                .nhistory = nh,
                                .hits = t->hits,
                                .nhits = t->nhits};
    if (ms_llm_route_uses_prompt(t->chat->llm, t->route) && build_model_prompt(t) != 0) {
        /* The instructions and the question alone exceed the prompt limit
         * (a long question in a script of many bytes per character). */
        ms__stream_set_final_error(t->s, "too_large",
                                   "the question is too long for the model's prompt limit "
                                   "(prompt_max_tokens); shorten it",
                                   0);
        ms__turn_finish(t, "error");
        return;
    }
    ms__turn_account(t);
    ms__turn_next(t);
}

const ms_stage_ops_t ms_stage_prompt = {.name = "prompt", .run = prompt_stage};

/* ---- route ------------------------------------------------------------------
 * Which providers may answer: the route's, in its order, and for a question
 * with PHI (or one the PHI stage was unsure about) only those marked local,
 * so protected health information never reaches a model that is not. With
 * no local provider on the route the question is refused
 * (phi_requires_local_provider) and sent to no model. The decision is told
 * to the client as a routing event, without the PHI itself: its categories
 * only. Which of the allowed providers answers, and failover between them,
 * is the generate stage's (circuit breakers, Retry-After). */

static void emit_routing(ms_turn_t *t, int phi, const char *decision) {
    ms_llm_t *llm = t->chat->llm;
    json_t *names = json_array();
    for (size_t i = 0; i < t->ncand; i++)
        json_array_append_new(names,
                              json_string(ms_provider_name(ms_llm_provider(llm, t->cand[i]))));
    json_t *cats = json_is_array(t->phi_categories) ? json_copy(t->phi_categories) : json_array();
    json_t *data =
        json_pack("{s:s, s:b, s:b, s:b, s:o, s:s, s:o}", "route", t->route->alias, "phi_detected",
                  phi, "phi_unsure", t->phi_unsure != 0, "phi_scanned", !t->phi_unscanned,
                  "categories", cats, "decision", decision, "providers", names);
    ms_event_t ev = {.kind = MS_EV_ROUTING, .message_id = t->s->message_id, .data = data};
    ms__stream_emit(t->s, &ev);
    json_decref(data);
}

static void route_stage(ms_turn_t *t) {
    ms_llm_t *llm = t->chat->llm;
    const ms_llm_route_t *r = t->route;
    int phi = t->phi_detected || t->phi_unsure;
    int redacted = 0;
    t->ncand = 0;
    /* A provider that is not local takes a question with PHI only in
     * redact mode, with placeholders (stage_phi.c, docs/phi.md). */
    for (size_t i = 0; i < r->nproviders && t->ncand < MS_COUNTOF(t->cand); i++) {
        ms_provider_t *p = ms_llm_provider(llm, r->providers[i]);
        int redact = phi && !p->local && ms__phi_may_redact(t, p);
        if (!phi || p->local || redact)
            t->cand[t->ncand++] = r->providers[i];
        redacted |= redact;
    }
    const char *decision = !phi       ? "all"
                           : redacted ? "redacted"
                           : t->ncand ? "local_only"
                                      : "refused";
    emit_routing(t, phi, decision);
    ms_metric_id_t counted = redacted   ? MS_M_PHI_REDACTED
                             : t->ncand ? MS_M_PHI_ROUTED
                                        : MS_M_PHI_REFUSED;
    if (phi)
        ms_metrics_add(t->chat->metrics, counted, ms__turn_route_ix(t), 0, 1);
    if (!t->ncand) {
        ms_log(MS_LOG_INFO, "phi_refused", "\"route\":\"%s\"", r->alias);
        char msg[320];
        snprintf(msg, sizeof msg,
                 "this question contains protected health information and the model \"%.64s\" "
                 "has no local provider, so it was not sent to any model; remove the identifiers "
                 "or choose a model that runs locally",
                 r->alias);
        ms__stream_set_final_error(t->s, "phi_requires_local_provider", msg, 0);
        ms__turn_finish(t, "error");
        return;
    }
    if (phi)
        ms_log(MS_LOG_INFO, "phi_routed_local", "\"route\":\"%s\",\"providers\":%zu", r->alias,
               t->ncand);
    t->provider = ms_llm_provider(llm, t->cand[0]);
    ms__turn_next(t);
}

const ms_stage_ops_t ms_stage_route = {.name = "route", .run = route_stage};
