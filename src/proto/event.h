/* The one internal event model (architecture.md): everything a client can be
 * told is an ms_event_t; a dialect encoder turns it into its wire bytes, and
 * a dialect decoder turns client frames into ms_client_msg_t. Adding a
 * dialect never touches the chat pipeline. */
#ifndef MS_PROTO_EVENT_H
#define MS_PROTO_EVENT_H

#include "core/buf.h"

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
} ms_event_kind_t;

/** One event. Every pointer is borrowed for the duration of an encode call.
 * Which fields are used, by kind (names as in docs/protocol.md):
 * - CONNECTED: data {client_id, user_id, capabilities}
 * - MESSAGE_START: message_id, conversation_id, user_message_id, client_message_id
 * - TOOL_CALL / TOOL_RESULT: message_id, data {tool_call_id, name, arguments | result, duration_ms}
 * - MESSAGE_CHUNK: message_id, seq, text/text_len (the delta)
 * - MESSAGE_COMPLETE: message_id, conversation_id, seq (last chunk), text/text_len (whole
 *   answer), data {citations, disclaimer, finish_reason, usage, status}
 * - ERROR: message_id (optional), data {code, message, retryable}
 * - PONG: data {ts} */
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

typedef struct {
    ms_cmsg_kind_t kind;
    char *conversation_id;   /**< MESSAGE: optional */
    char *text;              /**< MESSAGE */
    char *client_message_id; /**< MESSAGE */
    char *message_id;        /**< RESUME, CANCEL */
    int64_t last_seq;        /**< RESUME */
} ms_client_msg_t;

void ms_client_msg_clear(ms_client_msg_t *m);

/** Limits a decoder enforces. */
typedef struct {
    size_t max_message_chars; /**< longest question, in Unicode code points */
} ms_decode_limits_t;

/** A wire dialect (house style: *_ops tables). */
typedef struct {
    const char *name;
    /** Appends the encoding of ev to out (one WebSocket text message). */
    void (*encode)(const ms_event_t *ev, ms_buf_t *out);
    /** Decodes one complete client message. Returns 0; MS_EFORMAT when the frame
     * is not a JSON object with a string "type" (close 4000); MS_EINVAL when it
     * parses but is invalid (send an error event with errmsg; stay open). */
    int (*decode)(const char *frame, size_t len, const ms_decode_limits_t *lim,
                  ms_client_msg_t *out, char *errmsg, size_t errlen);
} ms_dialect_ops_t;

/** Native protocol v1 (docs/protocol.md). */
extern const ms_dialect_ops_t ms_dialect_native;

/** Number of Unicode code points in valid UTF-8 s, or -1 if s is not valid UTF-8. */
long ms_utf8_count(const char *s, size_t len);

#endif
