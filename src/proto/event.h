/* The one internal event model (architecture.md): everything a client can be
 * told is an ms_event_t; a dialect encoder turns it into its wire frames, and
 * a dialect decoder turns client frames into ms_client_msg_t. Adding a
 * dialect never touches the chat pipeline. */
#ifndef MS_PROTO_EVENT_H
#define MS_PROTO_EVENT_H

#include "core/buf.h"
#include "core/ms.h"
#include "core/utf8.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MS_EV_CONNECTED,
    MS_EV_MESSAGE_START,
    MS_EV_TOOL_CALL,
    MS_EV_TOOL_RESULT,
    MS_EV_MESSAGE_CHUNK,
    MS_EV_MESSAGE_COMPLETE,
    MS_EV_ERROR,
    MS_EV_PONG,
    MS_EV_LLM_CALL,
    MS_EV_LLM_RESULT,
    MS_EV_ROUTING,
} ms_event_kind_t;

/** One event. Every pointer is borrowed for the duration of an encode call.
 * Which fields are used, by kind (names as in docs/protocol.md):
 * - CONNECTED: data {client_id, user_id, protocol_version, capabilities}
 * - MESSAGE_START: message_id, conversation_id, user_message_id, client_message_id
 * - TOOL_CALL / TOOL_RESULT: message_id, data {tool_call_id, name, arguments | result, duration_ms}
 * - MESSAGE_CHUNK: message_id, seq, text/text_len (the delta)
 * - MESSAGE_COMPLETE: message_id, conversation_id, seq (last chunk), text/text_len (whole
 *   answer), data {citations, disclaimer, finish_reason, usage, status}
 * - ERROR: message_id (optional), data {code, message, retryable}
 * - PONG: data {ts}
 * - LLM_CALL: message_id, data {provider, model, local, attempt, route} (a provider is
 *   about to be asked; attempt counts from 1 across failover)
 * - LLM_RESULT: message_id, data {provider, model, local, attempt, prompt_tokens,
 *   completion_tokens, total_tokens, usage ("provider" | "counted"), ttft_ms (null: no
 *   token), duration_ms (integer, provider start to done), finish_reason, grounding
 *   (0..1 or null), error?, http_status?, upstream_duration_ms?}
 * - ROUTING: message_id, data {route, phi_detected, phi_unsure, categories (ASQ-PHI type
 *   names, never the PHI), decision ("all" | "local_only" | "refused"), providers}
 * LLM_CALL, LLM_RESULT and ROUTING are telemetry: live only, never
 * replayed; a client may opt out at connect (?telemetry=0). */
typedef struct {
    ms_event_kind_t kind;
    const char *message_id;
    const char *conversation_id;
    const char *user_message_id;
    const char *client_message_id;
    int64_t seq;
    const char *text;
    size_t text_len;
    json_t *data;
} ms_event_t;

/** The wire name of an event kind ("message_chunk", ...). */
const char *ms_event_kind_name(ms_event_kind_t kind);

/** What a client asked, decoded from any dialect. Strings are owned
 * (ms_client_msg_clear frees them). */
typedef enum {
    MS_CMSG_MESSAGE,
    MS_CMSG_RESUME,
    MS_CMSG_CANCEL,
    MS_CMSG_PING,
} ms_cmsg_kind_t;

/** The largest chunk sequence number an answer can reach: a resume's
 * last_seq above it cannot name a chunk and is refused by every decoder.
 * (The pipeline's answer size cap keeps real streams far below it.) */
#define MS_PROTO_MAX_SEQ INT64_C(2147483647)

typedef struct {
    ms_cmsg_kind_t kind;
    char *conversation_id;   /**< MESSAGE: optional */
    char *text;              /**< MESSAGE */
    char *client_message_id; /**< MESSAGE */
    char *message_id;        /**< RESUME, CANCEL */
    int64_t last_seq;        /**< RESUME */
    /** MESSAGE: conversation_id names a dialect session: the conversation is
     * created for this user on first use (ms_chat_ask_ex). */
    int create_conversation;
    /** MESSAGE with a session: when the session name is itself a UUID, that
     * id lower-cased; the pipeline uses it instead of conversation_id when
     * it names one of the user's own conversations (so a client may use a
     * conversation's id as its session). NULL otherwise. */
    char *conversation_alias;
    /** MESSAGE: the model (route alias) the client asked for, or NULL. */
    char *model;
    /** MESSAGE: the clinical context (a UUID, lower-cased) the client binds
     * the conversation to before this turn (native `clinical_context_id`,
     * VoiceAssist `clinical_context_id`); NULL keeps the binding. */
    char *clinical_context_id;
} ms_client_msg_t;

void ms_client_msg_clear(ms_client_msg_t *m);

/** Limits a decoder enforces. */
typedef struct {
    size_t max_message_chars; /**< longest question, in Unicode code points */
} ms_decode_limits_t;

/** The frames one event encodes to: zero, one or several WebSocket text
 * messages written back to back into buf, frame i ending at ends[i]. An
 * encoder appends a frame's bytes to buf, then calls ms_frames_end. The
 * caller owns it and reuses it (reset, not freed), so a warm encode does
 * not allocate. */
#define MS_FRAMES_MAX 8
typedef struct {
    ms_buf_t buf;
    size_t ends[MS_FRAMES_MAX];
    size_t n;
} ms_frames_t;

void ms_frames_reset(ms_frames_t *f);
/** Ends the frame being written (the bytes appended since the last end).
 * More than MS_FRAMES_MAX frames for one event is a bug: aborts. */
void ms_frames_end(ms_frames_t *f);
/** Frame i: its bytes and length. */
const char *ms_frames_get(const ms_frames_t *f, size_t i, size_t *len);
void ms_frames_free(ms_frames_t *f);

/** What the network layer tells a dialect about a new connection (the
 * handshake has been authenticated). Borrowed during open() only. */
typedef struct ms_dialect_conn {
    const char *user_id;    /**< the token's user */
    const char *path_param; /**< the "{}" segment of the endpoint's pattern, or NULL */
    /** Copies the decoded value of the query argument name (without "=") into
     * buf and returns buf, or NULL when absent. */
    const char *(*query_arg)(const struct ms_dialect_conn *c, const char *name, char *buf,
                             size_t len);
    void *impl; /**< the network layer's */
} ms_dialect_conn_t;

/** What a dialect's open() decided about a connection. */
typedef struct {
    void *state; /**< per-connection state, given to encode/decode/close */
    /** The conversation the connection is bound to, or "": checked once
     * connected, before the greeting. The connection is closed with 4003
     * when it belongs to another user, and also when it does not exist
     * and must_exist is set (otherwise it is created on first use). */
    char conversation_id[MS_ID_LEN];
    int must_exist;
} ms_dialect_open_t;

/** A wire dialect (house style: *_ops tables). Every hook runs on the loop
 * thread. */
typedef struct {
    const char *name;
    /** Creates the connection's state from its path and query. Returns 0,
     * MS_EPERM (close 4003: not this user's), or MS_EINVAL (close 4000 with
     * errmsg as the reason). NULL: no state. */
    int (*open)(const ms_dialect_conn_t *conn, ms_dialect_open_t *out, char *errmsg, size_t errlen);
    /** Frees what open created; NULL-safe on state. */
    void (*close)(void *state);
    /** Appends the encoding of ev to out: zero, one or several frames. The
     * greeting is the encoding of MS_EV_CONNECTED. */
    void (*encode)(void *state, const ms_event_t *ev, ms_frames_t *out);
    /** Decodes one complete client message. Returns 0; MS_EFORMAT when the frame
     * is not a JSON object with a string "type" (close 4000); MS_EINVAL when it
     * parses but is invalid (send an error event with errmsg; stay open). */
    int (*decode)(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                  ms_client_msg_t *out, char *errmsg, size_t errlen);
    /** A "forbidden" error (another user's conversation) is sent as an error
     * event instead of closing with 4003. */
    int forbidden_as_error;
    /** Binary messages (RFC 6455 opcode 0x2). NULL: the dialect has none,
     * and a binary message closes the connection with 1003 (RFC 6455
     * section 7.4.1: a data type the endpoint cannot accept). Otherwise each
     * piece of a binary message is handed over as it arrives, unbuffered:
     * first and final mark the message's ends, data is borrowed for the
     * call, and a message over max_frame_bytes closes with 1009 before it
     * reaches the dialect. Returns 0, or MS_EINVAL to close with 1003 and
     * errmsg as the reason. Loop thread. */
    int (*binary)(void *state, const void *data, size_t len, int first, int final, char *errmsg,
                  size_t errlen);
} ms_dialect_ops_t;

/** Native protocol v1 (docs/protocol.md). */
extern const ms_dialect_ops_t ms_dialect_native;
/** VoiceAssist realtime, WS /api/realtime/ws (voiceassist.c). */
extern const ms_dialect_ops_t ms_dialect_voiceassist;
/** Veda, WS /ws/conversations/{conversation_id} (veda.c). */
extern const ms_dialect_ops_t ms_dialect_veda;
/** FHIR clinical agent (Epic 003), WS /ws?session_id= (fhir.c). */
extern const ms_dialect_ops_t ms_dialect_fhir;
/** Diagnosis streamer, WS /ws/{user_id} (dx.c). */
extern const ms_dialect_ops_t ms_dialect_dx;

/** Sets the key that maps dialect session names to conversations, derived
 * from secret (the server's JWT key: every node sharing it maps a session
 * to the same conversation). Call once at start-up, before serving. */
void ms_dialect_set_session_key(const unsigned char *secret, size_t len);

/** The conversation id a dialect session name stands for, for user_id: a
 * UUID (RFC 9562 section 5.8, version 8) made of a keyed BLAKE2b MAC of
 * (user_id, session). Without the server's key it cannot be predicted, so
 * no one can create another user's session conversation first; it is
 * scoped to its owner by construction. */
void ms_dialect_session_conversation(const char *user_id, const char *session, char out[MS_ID_LEN]);

#endif
