/* Private to the chat module: the stream and subscriber structures. */
#ifndef MS_CHAT_INTERNAL_H
#define MS_CHAT_INTERNAL_H

#include "chat/chat.h"
#include "core/buf.h"
#include "core/ms.h"

#include <uthash.h>

typedef enum {
    ST_PENDING,    /* persisting the user message */
    ST_RETRIEVING, /* message_start sent; searching the knowledge base */
    ST_GENERATING, /* provider streaming */
    ST_FINALIZING, /* provider done; final write in flight */
    ST_DONE,       /* message_complete sent; kept for replay until expiry */
} stream_state_t;

/* A subscriber. Referenced by its owner until ms_sub_close, by the stream it
 * follows while attached, and by database work that will emit to it. */
struct ms_sub {
    ms_sub_emit_cb emit; /* NULL once the owner closed it */
    void *ctx;
    int refs;
    int finished;
    struct ms_stream *stream; /* attached to, or NULL */
    ms_sub_t *next;           /* in stream->subs */
};

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
    char *question;
    int new_conversation;
    stream_state_t state;
    int registered; /* in by_id */
    int refs;       /* held by the registry and by work in flight */
    int dropped;    /* removed from the registry */

    /* The replay buffer: the text so far and where each chunk ends. */
    ms_buf_t text;
    size_t *chunk_end;
    int64_t nchunks;
    size_t chunk_cap;
    json_t *tool_call; /* event data, kept for replay */
    json_t *tool_result;
    json_t *complete; /* message_complete data once done */

    ms_sub_t *subs;

    /* Pipeline state. */
    json_t *history; /* recent turns [{role, content}] */
    ms_kb_hit_t *hits;
    size_t nhits;
    int64_t retrieve_us;
    ms_gen_t *gen;
    int64_t gen_started_us; /* provider start, for llm_result's duration_ms */
    int cancel_requested;
    int checkpoint_inflight;
    size_t checkpointed_len;
    int64_t checkpoint_due; /* mono ms: the next checkpoint, checkpoint_ms after the last */
    int err;                /* MS_E* from persistence */
    char *err_msg;
    json_t *existing; /* the stored assistant message when the turn already existed */
    json_t *final_usage;
    json_t *final_citations;
    const char *finish_reason;
    const char *final_status;

    struct ms_stream *live_prev, *live_next; /* chat->live (generating) */
    struct ms_stream *done_next;             /* chat->done FIFO */
    int64_t done_at;
} ms_stream_t;

struct ms_chat {
    uv_loop_t *loop;
    const ms_config_t *cfg;
    ms_provider_t *provider;
    ms_stream_t *by_id;
    ms_stream_t *by_idem;
    ms_stream_t *by_idem2;
    ms_stream_t *live;
    ms_stream_t *done_head, *done_tail;
    uv_timer_t sweep_timer;
    uv_timer_t checkpoint_timer;
    int handles_open;
    int shutting_down;
    int64_t replay_bytes;
    int64_t nlive, nbuffered, turns_total;
};

/* chat_stream.c */
ms_stream_t *ms__stream_new(ms_chat_t *c, const char *user_id, const char *client_message_id,
                            const char *question);
void ms__stream_ref(ms_stream_t *s);
void ms__stream_unref(ms_stream_t *s);
void ms__stream_register_id(ms_stream_t *s);
void ms__stream_drop(ms_stream_t *s);
void ms__stream_emit(ms_stream_t *s, const ms_event_t *ev);
void ms__stream_finish_subs(ms_stream_t *s);
void ms__stream_attach(ms_stream_t *s, ms_sub_t *sub, int64_t last_seq);
void ms__stream_append_chunk(ms_stream_t *s, const char *text, size_t len);
void ms__stream_mark_done(ms_stream_t *s);
void ms__live_add(ms_stream_t *s);
void ms__live_remove(ms_stream_t *s);
void ms__sub_ref(ms_sub_t *sub);
void ms__sub_unref(ms_sub_t *sub);
void ms__sub_emit(ms_sub_t *sub, const ms_event_t *ev);
void ms__emit_error(ms_sub_t *sub, const char *message_id, const char *code, const char *msg,
                    int retryable);
void ms__emit_stored(ms_chat_t *c, ms_sub_t *sub, json_t *msg);
void ms__sweep_cb(uv_timer_t *t);

#endif
