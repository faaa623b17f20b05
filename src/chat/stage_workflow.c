/* The workflow stage: a diagnosis or prescription request (workflow/
 * workflow.h, docs/workflows.md) run as one stage of a turn.
 *
 * A workflow turn is persist (the request's summary as the user message,
 * an empty assistant message, message_start) → context (the clinical
 * context, which fills what the request left out) → workflow → finalise
 * (the disclaimer, the final write, message_complete with the result).
 *
 * The workflow stage walks the workflow's own stages in order. For each it
 * emits workflow_progress (seed 004's stage name, percentage and message),
 * runs it — on the knowledge-base pool when it reads the knowledge base,
 * like retrieval, else here on the loop (pure computation over a few
 * dozen values) — and emits each object it produced as a workflow_item.
 * A cancel is honoured between stages. When every stage has run, the
 * result is built and its readable summary becomes the assistant
 * message's text (message_chunk events tagged with the workflow, which
 * seed 004's dialect leaves out: its clients see objects only), so the
 * stored conversation holds it and a resume gets message_complete with
 * the whole result again. */
#include "chat/internal.h"
#include "chat/work.h"
#include "core/log.h"
#include "workflow/workflow.h"

#include <stdlib.h>
#include <string.h>

const ms_stage_ops_t *const ms__wf_chain[] = {
    &ms_stage_persist,  /* the request's summary and an empty answer are durable */
    &ms_stage_context,  /* the conversation's clinical context */
    &ms_stage_workflow, /* workflow_progress, workflow_item ... per workflow stage */
    &ms_stage_finalise, /* disclaimer, citations, result, final write, message_complete */
};
const size_t ms__wf_nstages = MS_COUNTOF(ms__wf_chain);

typedef struct {
    ms_turn_t *t;
    ms_wf_t *wf;
    size_t i;
    json_t *items;
    int rc;
} wf_job_t;

static void wf_step(ms_turn_t *t);
static void wf_end(ms_turn_t *t, const char *finish_reason) {
    ms__wf_turn_end(t, finish_reason, NULL);
}

static void emit_progress(ms_turn_t *t, const ms_wf_stage_t *st) {
    ms_stream_t *s = t->s;
    json_t *d = json_pack("{s:s, s:s, s:i, s:s}", "workflow", ms_wf_kind_name(ms_wf_kind(t->wf)),
                          "stage", st->name, "progress", st->progress, "message", st->message);
    ms_event_t ev = {.kind = MS_EV_WORKFLOW_PROGRESS, .message_id = s->message_id, .data = d};
    ms__stream_emit(s, &ev);
    json_decref(d);
}

static void emit_items(ms_turn_t *t, const ms_wf_stage_t *st, json_t *items) {
    ms_stream_t *s = t->s;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        json_t *d = json_pack("{s:s, s:s, s:O}", "workflow", ms_wf_kind_name(ms_wf_kind(t->wf)),
                              "stage", st->name, "content", item);
        ms_event_t ev = {.kind = MS_EV_WORKFLOW_ITEM, .message_id = s->message_id, .data = d};
        ms__stream_emit(s, &ev);
        json_decref(d);
    }
}

/* A stage has run (rc 0, or MS_EIO when the knowledge base failed: the
 * workflow records it and the result says which part is missing). */
static void stage_ran(ms_turn_t *t, json_t *items, int rc) {
    size_t n;
    const ms_wf_stage_t *st = ms_wf_stages(ms_wf_kind(t->wf), &n);
    if (rc) {
        t->wf_kb_failed = 1;
        ms_log(MS_LOG_WARN, "workflow_stage_failed", "\"stage\":\"%s\",\"code\":\"%s\"",
               st[t->wf_stage].name, ms_strerror(rc));
    }
    emit_items(t, &st[t->wf_stage], items);
    t->wf_stage++;
    wf_step(t);
}

static void job_run(ms_store_t *store, void *arg) {
    (void)store;
    wf_job_t *j = arg;
    j->rc = ms_wf_run_stage(j->wf, j->i, ms_work_thread_kb(), j->items);
}

static void job_done(void *arg) {
    wf_job_t *j = arg;
    ms_turn_t *t = j->t;
    if (t->chat->shutting_down) {
        ms__stream_drop(t->s);
        ms__turn_free(t);
    } else {
        stage_ran(t, j->items, j->rc);
    }
    json_decref(j->items);
    free(j);
}

void ms__wf_turn_end(ms_turn_t *t, const char *finish_reason, const char *note) {
    const ms_config_t *cfg = t->chat->cfg;
    const char *status = finish_reason ? finish_reason : "complete";
    t->wf_result = ms_wf_result(t->wf, cfg->disclaimer, status);
    if (note)
        json_array_append_new(json_object_get(t->wf_result, "notes"), json_string(note));
    /* The disclaimer is appended by finalise, as to every answer. */
    char *text = ms_wf_result_text(ms_wf_kind(t->wf), t->wf_result, NULL);
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n')
        len--;
    json_t *tag = json_pack("{s:s}", "workflow", ms_wf_kind_name(ms_wf_kind(t->wf)));
    ms__stream_append_chunk_data(t->s, text, len, tag);
    json_decref(tag);
    free(text);
    ms__turn_account(t);
    if (finish_reason)
        ms__turn_finish(t, finish_reason);
    else
        ms__turn_next(t);
}

static void wf_step(ms_turn_t *t) {
    size_t n;
    const ms_wf_stage_t *st = ms_wf_stages(ms_wf_kind(t->wf), &n);
    if (t->wf_stage >= n) {
        wf_end(t, NULL);
        return;
    }
    if (t->cancel_requested) {
        wf_end(t, "cancelled");
        return;
    }
    emit_progress(t, &st[t->wf_stage]);
    json_t *items = json_array();
    if (!st[t->wf_stage].needs_kb) {
        int rc = ms_wf_run_stage(t->wf, t->wf_stage, NULL, items);
        stage_ran(t, items, rc);
        json_decref(items);
        return;
    }
    wf_job_t *j = ms_xcalloc(1, sizeof *j);
    j->t = t;
    j->wf = t->wf;
    j->i = t->wf_stage;
    j->items = items;
    int rc = ms_work_submit_on(MS_WORK_KB, t->chat->loop, job_run, job_done, j);
    if (rc != 0) {
        /* The pool is saturated: the workflow is not run half-grounded. It
         * ends as an error whose result says which stages ran, stored like
         * any answer (message_start was sent: the row exists). */
        ms_log(MS_LOG_WARN, "workflow_refused", "\"code\":\"%s\"", ms_strerror(rc));
        json_decref(items);
        free(j);
        ms__wf_turn_end(t, "error",
                        "the knowledge base was busy: the workflow stopped; send it again");
    }
}

static void workflow_stage(ms_turn_t *t) {
    if (!t->wf) {
        ms__turn_next(t);
        return;
    }
    ms_wf_apply_context(t->wf, t->context);
    t->wf_stage = 0;
    wf_step(t);
}

const ms_stage_ops_t ms_stage_workflow = {.name = "workflow", .run = workflow_stage};
