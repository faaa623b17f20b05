/* The turn pipeline and the stream registry.
 *
 * A turn is a declared table of stages (turn.c, the only place that orders
 * them): persist (the user message and an empty assistant message, then
 * message_start) → context (the conversation's clinical context) →
 * retrieve (tool_call / tool_result) → prompt → route → generate (llm_call,
 * message_chunk ..., llm_result) → finalise (disclaimer, final write,
 * message_complete).
 *
 * Every answer being generated, or finished less than replay_ttl_ms ago, is
 * a stream in the registry: its replay buffer (replay/replay.h) is what
 * resume and idempotent retries are served from. Clients follow a stream
 * through a subscriber (ms_sub_t). Admission is bounded: turns in progress
 * per process (max_live_turns) and per user (max_turns_per_user), questions
 * per user per minute (user_turns_per_min), the memory all streams hold
 * (replay_max_bytes) and the length of one answer (max_answer_bytes).
 * Everything here runs on the loop thread; blocking work goes through the
 * pools of chat/work.h. */
#ifndef MS_CHAT_CHAT_H
#define MS_CHAT_CHAT_H

#include "core/config.h"
#include "llm/provider.h"
#include "llm/registry.h"
#include "proto/event.h"

#include <jansson.h>
#include <uv.h>

typedef struct ms_chat ms_chat_t;
typedef struct ms_sub ms_sub_t;

/** Receives the events of one stream, on the loop thread. An MS_EV_ERROR
 * whose data code is "forbidden" means the message or conversation belongs
 * to another user (WebSocket dialects close with 4003). After
 * MS_EV_MESSAGE_COMPLETE or MS_EV_ERROR nothing more is emitted. */
typedef void (*ms_sub_emit_cb)(void *ctx, const ms_event_t *ev);

/** Creates a subscriber owned by the caller, who must ms_sub_close it
 * (before ctx goes away). */
ms_sub_t *ms_sub_new(ms_sub_emit_cb emit, void *ctx);
/** The owner lets go: no more events are delivered; memory is released
 * once the pipeline lets go too. NULL-safe. */
void ms_sub_close(ms_sub_t *sub);
/** Whether the subscriber has received its final event. */
int ms_sub_finished(const ms_sub_t *sub);

/** Pull flow control (the owner's side): bytes now waiting in the owner's
 * outbound queue for this subscriber's connection (net/ws.c reports its
 * queue after every change). While any subscriber of an answer has more
 * than upstream_pause_bytes waiting, the answer's model transfer is paused
 * (CURLPAUSE_RECV); it resumes once every one is at half of it or less, or
 * after upstream_pause_max_ms (then the slow reader's queue may overflow
 * and close with 1008, and the answer goes on, resumable). Providers
 * without a pause op (offline, synthetic) are not paused. Loop thread. */
void ms_sub_backlog(ms_sub_t *sub, size_t bytes);

/** Creates the chat service on loop. cfg and provider are borrowed and must
 * outlive it; node_id is this process's node (store.h), recorded on every
 * answer it streams (NULL: none). Starts the replay-expiry and checkpoint
 * timers. */
ms_chat_t *ms_chat_new(uv_loop_t *loop, const ms_config_t *cfg, ms_provider_t *provider,
                       const char *node_id);
/** ms_chat_new over a registry of providers and routes (llm/registry.h),
 * borrowed: it must outlive the service. */
ms_chat_t *ms_chat_new_llm(uv_loop_t *loop, const ms_config_t *cfg, ms_llm_t *llm,
                           const char *node_id);
/** The service's providers and routes (GET /api/models). */
ms_llm_t *ms_chat_llm(const ms_chat_t *c);
/** The service's metrics (obs/metrics.h), series indexed by the
 * registry's route and provider indices; owned by the service. */
struct ms_metrics *ms_chat_metrics(const ms_chat_t *c);
/** Stops the timers, cancels generation and, synchronously, stores every
 * unfinished answer as 'interrupted' with its text (graceful shutdown).
 * The loop must be run afterwards until ms_chat_closed() so handles close;
 * then ms_chat_free. */
void ms_chat_shutdown(ms_chat_t *c);
int ms_chat_closed(const ms_chat_t *c);
void ms_chat_free(ms_chat_t *c);

/** Asks a question for user_id. conversation_id NULL starts a new
 * conversation. Idempotent on (user, conversation, client_message_id): a
 * repeat follows the existing answer from its start. Events go to sub.
 * All failures (not found, forbidden, storage) arrive as an error event. */
void ms_chat_ask(ms_chat_t *c, const char *user_id, const char *conversation_id,
                 const char *client_message_id, const char *text, ms_sub_t *sub);

/** ms_chat_ask flag: conversation_id names a conversation to create for
 * user_id when it does not exist yet (a dialect's session id, see
 * ms_dialect_session_conversation); one that is another user's still fails
 * with "forbidden". */
#define MS_ASK_CREATE_CONVERSATION 1u

/** ms_chat_ask with flags (MS_ASK_*). */
void ms_chat_ask_ex(ms_chat_t *c, const char *user_id, const char *conversation_id,
                    const char *client_message_id, const char *text, unsigned flags, ms_sub_t *sub);

/** A question, as the dialects decode it (proto/event.h ms_client_msg_t). */
typedef struct {
    const char *user_id;
    const char *conversation_id; /**< NULL: a new conversation */
    /** With MS_ASK_CREATE_CONVERSATION: a UUID the client named as its
     * session; used instead of conversation_id when it is one of the
     * user's own conversations. NULL otherwise. */
    const char *conversation_alias;
    const char *client_message_id;
    const char *text;
    /** A clinical context of the user's (store.h, a UUID) to bind the
     * conversation to before the turn: the persist stage stores the binding
     * and the context stage then loads it. Another user's, or a missing one,
     * fails the turn with not_found before message_start. NULL keeps the
     * conversation's binding. */
    const char *clinical_context_id;
    unsigned flags; /**< MS_ASK_* */
    /** A workflow request instead of a question (borrowed): {"workflow":
     * "diagnosis" | "prescription", "data": {...}} as docs/workflows.md
     * gives it. It is validated first (an invalid one is an
     * invalid_message error event naming the field and the limit); text is
     * then ignored: the stored user message is the request's summary. */
    const json_t *workflow;
    /** The route (model alias, GET /api/models) the client asked for;
     * NULL: the default route. An unknown one is refused with
     * invalid_message before anything is stored. */
    const char *model;
    /** Recent turns the client supplies itself, [{"role":"user"|"assistant",
     * "content"}] oldest first (the OpenAI-compatible API's earlier
     * messages): used instead of the conversation's stored turns. Borrowed
     * (copied). NULL: the stored turns, as always. */
    json_t *history;
} ms_ask_t;

/** The general form of ms_chat_ask. Refusals arrive as an error event:
 * "overloaded" (retryable: a bound on turns or memory is reached),
 * "rate_limited" (retryable: the user's questions per minute). */
void ms_chat_ask_req(ms_chat_t *c, const ms_ask_t *ask, ms_sub_t *sub);

/** Follows message_id from after last_seq: message_start, the buffered chunks,
 * then live events or message_complete; from storage when no longer buffered.
 * Another user's message is answered exactly like one that does not exist
 * (not_found), and a last_seq past the answer's chunks is invalid_message. */
void ms_chat_resume(ms_chat_t *c, const char *user_id, const char *message_id, int64_t last_seq,
                    ms_sub_t *sub);

/** Cancels generation of message_id. Returns 0, MS_ENOENT (not generating
 * here) or MS_EPERM (another user's; callers answer it as MS_ENOENT). */
int ms_chat_cancel(ms_chat_t *c, const char *user_id, const char *message_id);

/** Counters for /health and logs. */
typedef struct {
    int64_t streams_live;       /**< turns in progress */
    int64_t streams_buffered;   /**< finished, still in the replay buffer */
    int64_t replay_bytes;       /**< everything all streams hold (the replay_max_bytes bound) */
    int64_t turns_total;        /**< turns started (message_start sent) */
    int64_t refused_overloaded; /**< questions refused: a bound was reached */
    int64_t refused_rate;       /**< questions refused: a user's rate */
} ms_chat_stats_t;
void ms_chat_stats(const ms_chat_t *c, ms_chat_stats_t *out);

/** Builds the citation objects (docs/protocol.md "Citation") for the hits
 * cited, in marker order. Exposed for tests. */
json_t *ms_chat_citations(const ms_kb_hit_t *hits, size_t nhits, const size_t *cited,
                          size_t ncited);

#endif
