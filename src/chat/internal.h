/* Private to the chat module: the stream registry entry, the turn and its
 * stage table, and the subscriber.
 *
 * Three things that used to be one 46-field struct:
 * - the replay buffer (replay/replay.h): what a resuming client is sent;
 * - the registry entry (ms_stream_t): how an answer is found (by message
 *   id, by idempotency key), who follows it, how long it stays;
 * - the turn (ms_turn_t): the work of producing the answer, driven through
 *   the stage table (turn.c), gone once the answer is final. */
#ifndef MS_CHAT_INTERNAL_H
#define MS_CHAT_INTERNAL_H

#include "chat/chat.h"
#include "core/buf.h"
#include "core/ms.h"
#include "llm/cite.h"
#include "llm/prompt.h"
#include "llm/registry.h"
#include "obs/metrics.h"
#include "replay/replay.h"

#include <uthash.h>

typedef enum {
    ST_PENDING,    /* persisting the user message: no message id yet */
    ST_STREAMING,  /* message_start sent; the turn is working */
    ST_FINALIZING, /* the answer is complete; its final write is in flight */
    ST_DONE,       /* message_complete (or a final error) sent; kept for replay */
} stream_state_t;

typedef struct ms_turn ms_turn_t;
struct ms_wf;

/* A subscriber. Referenced by its owner until ms_sub_close, by the stream it
 * follows while attached, and by work in flight that will emit to it. */
struct ms_sub {
    ms_sub_emit_cb emit; /* NULL once the owner closed it */
    void *ctx;
    int refs;
    int finished;
    struct ms_stream *stream; /* attached to, or NULL */
    ms_sub_t *next;           /* in stream->subs */
    size_t backlog;           /* bytes waiting in the owner's outbound queue (ms_sub_backlog) */
};

/* Per-user admission state (turn.c): live turns and the rate window. In
 * chat->users while the user has live turns or a window still open. */
typedef struct ms_user_load {
    UT_hash_handle hh;
    char user_id[MS_ID_LEN];
    int64_t live;   /* turns in progress */
    int64_t window; /* minute number of count */
    int64_t count;  /* questions accepted in that minute */
} ms_user_load_t;

/* A registry entry: one answer being produced or recently finished. Held by
 * the registry (until dropped) and by work in flight (refs). */
typedef struct ms_stream {
    ms_chat_t *chat;
    UT_hash_handle hh;       /* chat->by_id, keyed by message_id (once known) */
    UT_hash_handle hh_idem;  /* chat->by_idem, keyed by idem_key */
    UT_hash_handle hh_idem2; /* chat->by_idem2: the key with the new conversation's id */
    char message_id[MS_ID_LEN];
    char user_message_id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN];
    char user_id[MS_ID_LEN];
    char *client_message_id;
    char *idem_key;
    char *idem_key2;
    stream_state_t state;
    int registered; /* in by_id */
    int refs;
    int dropped; /* removed from the registry */

    ms_replay_t *replay;
    json_t *final_error; /* the error event's data when the answer could not be stored */
    ms_sub_t *subs;
    ms_turn_t *turn; /* while the answer is being produced */

    size_t bytes;                /* counted in chat->mem_bytes: replay, turn, keys */
    struct ms_stream *done_next; /* chat->done FIFO */
    int64_t done_at;
} ms_stream_t;

/* One stage of the turn (house style: *_ops). run starts the stage on the
 * loop thread; the stage ends, now or later, by exactly one of
 * ms__turn_next (go on to the next stage), ms__turn_finish (the answer is
 * decided: skip to the last stage) or ms__turn_fail (an error event; the
 * turn ends). cancel (optional) asks a running stage to end early; it still
 * ends through one of the three. */
typedef struct ms_stage_ops {
    const char *name;
    void (*run)(ms_turn_t *t);
    void (*cancel)(ms_turn_t *t);
} ms_stage_ops_t;

/* The turn: what the stages share. Each stage owns the fields under its
 * name; the rest are the turn's inputs and outcome. */
struct ms_turn {
    ms_chat_t *chat;
    ms_stream_t *s;
    const ms_stage_ops_t *const *chain;
    size_t nstages, stage;
    int in_stage; /* a stage's run is active */
    int cancel_requested;
    int shutdown;
    int64_t started_us; /* mono us the turn started (the overhead metric) */

    /* Inputs. */
    char *question;
    const ms_llm_route_t *route;     /* the model alias the client named, or the default route */
    char conversation_id[MS_ID_LEN]; /* given, or "" for a new conversation */
    char *conversation_alias;
    int create_conversation;
    char clinical_context_id[MS_ID_LEN]; /* to bind before the turn, or "" */

    /* persist */
    json_t *history; /* recent turns [{role, content}], oldest first */
    /* context (context.c): the clinical context the conversation is bound
     * to, or NULL when it has none. A JSON object in the REST shape of
     * store.h ("clinical contexts"; members and units in
     * clinical/clinical.h): age, gender, weight_kg, height_cm,
     * chief_complaint (null when unknown), problems, medications, allergies
     * (arrays of strings), vitals {temperature (Celsius), heart_rate,
     * blood_pressure "S/D" (mmHg), respiratory_rate, spo2 (%)}, plus id,
     * source and times. It is PHI: non-NULL means the turn carries a
     * patient's record (the PHI stage routes it so). Owned by the turn
     * (freed with it); stages read it and must not change it. */
    json_t *context;
    /* phi (the PHI stage fills these before route; zero = no PHI): whether
     * the question holds protected health information, whether the
     * detector was unsure (treated as PHI), and the ASQ-PHI type names it
     * found (a JSON array of strings, owned; NULL = none). */
    int phi_detected;
    int phi_unsure;
    json_t *phi_categories; /* array of ASQ-PHI type names */
    int phi_unscanned;      /* 1: every provider of the route is local, nothing was scanned */
    /* retrieve */
    ms_kb_hit_t *hits;
    size_t nhits;
    /* prompt: the provider request built from the above */
    ms_gen_request_t req;
    const char **req_roles, **req_texts;
    ms_llm_prompt_t prompt; /* the model prompt (routes with a language model) */
    const char **doc_keys;  /* per numbered passage: its document (citation filter) */
    /* route: the providers this turn may use, in the route's order (PHI
     * filtered), as registry indices */
    size_t cand[16];
    size_t ncand;
    ms_provider_t *provider; /* the attempt's provider */
    /* generate */
    ms_gen_t *gen;
    int64_t gen_started_us;
    size_t cand_next;       /* the next candidate to try */
    size_t cur;             /* registry index of the attempt's provider */
    int attempt;            /* attempts made (1 = the first) */
    struct ms_retry *retry; /* the backoff timer between attempts, or NULL */
    int streamed;           /* some text of this answer was shown */
    int64_t first_token_us; /* mono us of the attempt's first delta, 0 = none */
    int cite_on;            /* the filter reads this attempt's markers */
    ms_cite_t cite;
    ms_buf_t scratch;  /* the filter's output for one delta */
    double grounding;  /* -1: not measured */
    int paused;        /* the upstream is paused for a slow reader */
    int flow_off;      /* a pause ran out: no more pausing this turn */
    int64_t paused_at; /* mono ms */
    int length_cut;    /* stopped at max_answer_bytes */
    int red_built;     /* redact mode: red_* below are built */
    size_t *cited;
    size_t ncited;
    int64_t prompt_tokens, completion_tokens;
    int checkpoint_inflight;
    size_t checkpointed_len;
    int64_t checkpoint_due;                /* mono ms */
    struct ms_turn *live_prev, *live_next; /* chat->generating */
    /* finalise */
    const char *finish_reason;
    const char *final_status;
    int final_attempts;
    int64_t final_retry_at; /* mono ms; 0 = none pending */
    struct ms_turn *retry_next;

    size_t bytes; /* what this turn holds, counted against the bound */
    /* phi (chat/stage_phi.c): the redaction map of every span found in the
     * question, the history and the context, for redact mode (phi/phi.h);
     * NULL when nothing was found. Freed with the turn. */
    struct ms_phi_map *phi_map;
    /* workflow (chat/stage_workflow.c): the run of a diagnosis or
     * prescription request (NULL for a question), the stage it is at, and
     * its result once every stage ran (given to finalise). */
    struct ms_wf *wf;
    size_t wf_stage;
    int wf_kb_failed;
    json_t *wf_result;
    /* redact mode (generate.c): the request with placeholders, built once
     * for the first non-local attempt (red_* own its strings), and the
     * restorer of the attempt's deltas (NULL when it sends originals);
     * red_built sits by length_cut, in its padding. */
    ms_gen_request_t red_req;
    ms_llm_msg_t *red_msgs;
    char **red_hist;
    char *red_question;
    struct ms_phi_restorer *restorer;
    ms_buf_t restored; /* the restorer's output for one delta */
};

struct ms_chat {
    uv_loop_t *loop;
    const ms_config_t *cfg;
    ms_llm_t *llm;     /* providers and routes (borrowed, or own_llm) */
    ms_llm_t *own_llm; /* ms_chat_new's single-provider registry */
    char node_id[MS_ID_LEN];
    const ms_stage_ops_t *const *chain;
    size_t nstages;
    ms_stream_t *by_id;
    ms_stream_t *by_idem;
    ms_stream_t *by_idem2;
    ms_turn_t *generating; /* turns in the generate stage (checkpoints) */
    ms_turn_t *retrying;   /* turns waiting to retry their final write */
    ms_stream_t *done_head, *done_tail;
    ms_user_load_t *users;
    uv_timer_t sweep_timer;
    uv_timer_t checkpoint_timer;
    int handles_open;
    int shutting_down;
    int64_t mem_bytes; /* every stream's bytes */
    int64_t nturns;    /* turns in progress */
    int64_t nbuffered, turns_total, refused_overloaded, refused_rate;
    struct ms_metrics *metrics; /* obs/metrics.h: owned */
};

/* ---- registry.c ---- */
ms_stream_t *ms__stream_new(ms_chat_t *c, const char *user_id, const char *client_message_id);
void ms__stream_ref(ms_stream_t *s);
void ms__stream_unref(ms_stream_t *s);
void ms__stream_register_id(ms_stream_t *s);
void ms__stream_drop(ms_stream_t *s);
void ms__stream_emit(ms_stream_t *s, const ms_event_t *ev);
void ms__stream_attach(ms_stream_t *s, ms_sub_t *sub, int64_t last_seq);
void ms__stream_append_chunk(ms_stream_t *s, const char *text, size_t len);
/* ms__stream_append_chunk whose live event carries data (borrowed): a
 * workflow's text is tagged {"workflow": kind}, so a dialect that shows a
 * workflow's objects only (seed 004's) can leave its text out. Replayed
 * chunks carry no data. */
void ms__stream_append_chunk_data(ms_stream_t *s, const char *text, size_t len, json_t *data);
void ms__stream_mark_done(ms_stream_t *s);
/* Re-counts s->bytes (replay + turn + keys) into chat->mem_bytes. */
void ms__stream_account(ms_stream_t *s);
void ms__sub_ref(ms_sub_t *sub);
void ms__sub_unref(ms_sub_t *sub);
void ms__sub_emit(ms_sub_t *sub, const ms_event_t *ev);
void ms__emit_error(ms_sub_t *sub, const char *message_id, int err, const char *msg);
void ms__emit_stored(ms_chat_t *c, ms_sub_t *sub, json_t *msg);
/* Sets the error event a finished answer ends with instead of
 * message_complete (the answer is still stored, with status error). */
void ms__stream_set_final_error(ms_stream_t *s, const char *code, const char *message,
                                int retryable);
void ms__sweep_cb(uv_timer_t *t);
ms_stream_t *ms__stream_by_id(ms_chat_t *c, const char *message_id);

/* ---- turn.c: the driver ---- */
/* The chain every turn runs (declared once, in turn.c). */
extern const ms_stage_ops_t *const ms__turn_chain[];
extern const size_t ms__turn_nstages;
/* Runs t through chain[0..n). */
void ms__turn_start(ms_turn_t *t, const ms_stage_ops_t *const *chain, size_t n);
void ms__turn_next(ms_turn_t *t);
void ms__turn_finish(ms_turn_t *t, const char *finish_reason);
void ms__turn_fail(ms_turn_t *t, int err, const char *msg);
/* Frees the turn (the stream's turn pointer is cleared). */
void ms__turn_free(ms_turn_t *t);
/* Re-counts t->bytes and its stream's. */
void ms__turn_account(ms_turn_t *t);
void ms__live_add(ms_turn_t *t);
void ms__live_remove(ms_turn_t *t);

/* ---- the stages (stages.c, context.c, generate.c) ---- */
extern const ms_stage_ops_t ms_stage_persist;
extern const ms_stage_ops_t ms_stage_context;
extern const ms_stage_ops_t ms_stage_retrieve;
extern const ms_stage_ops_t ms_stage_prompt;
extern const ms_stage_ops_t ms_stage_phi; /* stage_phi.c */
extern const ms_stage_ops_t ms_stage_route;
extern const ms_stage_ops_t ms_stage_generate;
extern const ms_stage_ops_t ms_stage_finalise;
extern const ms_stage_ops_t ms_stage_workflow; /* stage_workflow.c */
/* The chain of a workflow turn (stage_workflow.c): persist, context,
 * workflow, finalise. */
extern const ms_stage_ops_t *const ms__wf_chain[];
extern const size_t ms__wf_nstages;
/* Ends a workflow turn: its result (status finish_reason, NULL for
 * "complete"; note, when given, added to its notes) and the result's text,
 * then finalise (next, or finish with finish_reason). */
void ms__wf_turn_end(ms_turn_t *t, const char *finish_reason, const char *note);
/* The retrieval pool for a turn with a clinical context (context.c): the
 * question's hits pool[0..npool) (owned: consumed) re-ordered so that
 * passages a search for the patient's problems also finds
 * (boost[0..nboost), borrowed) rise, by weighted CombSUM of scores
 * normalised per search; the first k are moved into *out (the rest freed).
 * Only the question's own passages are ever kept. */
void ms__context_fuse(ms_kb_hit_t *pool, size_t npool, const ms_kb_hit_t *boost, size_t nboost,
                      size_t k, ms_kb_hit_t **out, size_t *nout);
/* The weight of the problems' ranking in that fusion (the question's is 1). */
#define MS_CONTEXT_PROBLEM_WEIGHT 0.5
/* The checkpoint sweep over generating turns, and final-write retries. */
void ms__checkpoint_cb(uv_timer_t *timer);
/* Shutdown: ends every generating turn as interrupted. */
void ms__generate_shutdown(ms_chat_t *c);
/* Shutdown: final writes waiting for a retry go out now, for the last time. */
void ms__finalise_flush_retries(ms_chat_t *c);
/* Pull flow control: pauses or resumes the turn's upstream after a
 * subscriber's backlog changed (generate.c). */
void ms__generate_flow(ms_turn_t *t);
/* Frees what the generate stage keeps in the turn (turn.c's free). */
void ms__generate_release(ms_turn_t *t);
/* Redact mode (stage_phi.c): the request the attempt's provider is sent:
 * t->req, or for a provider that is not local while the turn has PHI, the
 * same request with every PHI value replaced by its placeholder (built
 * once per turn); NULL when the turn's PHI may not go there at all (the
 * caller then fails the attempt and sends nothing). ms__phi_release frees
 * the copy and the restorer. */
const ms_gen_request_t *ms__phi_request_for(ms_turn_t *t);
void ms__phi_release(ms_turn_t *t);
/* Whether the turn's PHI may go to a provider that is not local, with
 * placeholders: the route or the provider says phi_mode "redact", the
 * detector found spans to redact (a map) and no clinical context is bound
 * (a whole record is not redacted span by span). */
int ms__phi_may_redact(const ms_turn_t *t, const ms_provider_t *p);

/* The registry index of the turn's route (its metrics series). */
static inline size_t ms__turn_route_ix(const ms_turn_t *t) {
    const ms_llm_route_t *first = ms_llm_route_at(t->chat->llm, 0);
    return t->route && first ? (size_t)(t->route - first) : 0;
}

#endif
