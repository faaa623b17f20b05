/* Helpers shared by the dialect codecs; private to src/proto. */
#ifndef MS_PROTO_INTERNAL_H
#define MS_PROTO_INTERNAL_H

#include "proto/event.h"

#include <jansson.h>

/** Parses a client frame: a JSON object with a string "type". Returns 0 with
 * *root (caller decrefs) and *type (owned by *root), or MS_EFORMAT. */
int ms__proto_parse(const char *frame, size_t len, json_t **root, const char **type, char *errmsg,
                    size_t errlen);
/** Decodes the fields of one client message type into out. state is the
 * dialect's per-connection state. Returns 0 or MS_EINVAL (errmsg set). */
typedef int (*ms__decode_fn)(void *state, json_t *root, const ms_decode_limits_t *lim,
                             ms_client_msg_t *out, char *errmsg, size_t errlen);
/** One row of a dialect's table of client message types (a command table
 * drives dispatch); fn NULL means a bare "ping". Tables end with {NULL}. */
typedef struct {
    const char *type;
    ms__decode_fn fn;
} ms__decode_route_t;
/** A dialect's decode (ms_dialect_ops_t.decode) through its table: parses
 * the frame (MS_EFORMAT when it is not an object with a string "type"),
 * runs the row for its type, and answers an unknown type with MS_EINVAL
 * "Unknown message type: T". out is cleared on any error. */
int ms__proto_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                     const ms__decode_route_t *routes, ms_client_msg_t *out, char *errmsg,
                     size_t errlen);

/** Copies the string member key of o (1..maxlen bytes, no NUL) into *out
 * (malloc'd). Absent or null: 0 and *out untouched unless required
 * (MS_EINVAL). Wrong type or size: MS_EINVAL with errmsg naming the field. */
int ms__proto_get_str(json_t *o, const char *key, int required, size_t maxlen, char **out,
                      char *errmsg, size_t errlen);
/** A question's text: required string member key, valid UTF-8, 1 to
 * lim->max_message_chars code points, into *out. */
int ms__proto_get_text(json_t *o, const char *key, const ms_decode_limits_t *lim, char **out,
                       char *errmsg, size_t errlen);
/** How many bytes of s (valid UTF-8, NUL-terminated) to quote in an error
 * message so that at most max bytes are taken and no code point is cut:
 * error text goes to clients in text frames, which must be UTF-8 (RFC 6455
 * section 8.1). For "%.*s". */
int ms__proto_quote_len(const char *s, int max);
/** Sets m->client_message_id to a new random id (dialects whose clients
 * send none: every message is a new turn). */
void ms__proto_new_cmid(ms_client_msg_t *m);

/** Points m at the conversation of dialect session `session` for user_id:
 * conversation_id the keyed session conversation (created on first use),
 * conversation_alias the session itself when it is a UUID. */
void ms__proto_set_session(ms_client_msg_t *m, const char *user_id, const char *session);

/** Writes ,"name":"v" (JSON-escaped) or ,"name":null. */
void ms__proto_put_str(ms_buf_t *b, const char *name, const char *v);
/** Writes ,"name":<v as compact JSON> or ,"name":null. */
void ms__proto_put_json(ms_buf_t *b, const char *name, json_t *v);
/** Appends v in decimal (no allocation, no printf). */
void ms__proto_put_int(ms_buf_t *b, int64_t v);
/** Writes ,"name":"<now as RFC 3339 UTC with milliseconds>". */
void ms__proto_put_now(ms_buf_t *b, const char *name);
/** The string member key of ev->data, or NULL. */
const char *ms__proto_data_str(const ms_event_t *ev, const char *key);
/** The integer member key of ev->data (a real is rounded), or dflt. */
int64_t ms__proto_data_int(const ms_event_t *ev, const char *key, int64_t dflt);

/** Whether the connection asked for no telemetry (llm_call, llm_result,
 * routing, and the dialects' frames for them): the query argument
 * telemetry=0, false, off or no at connect (docs/protocol.md "Telemetry"). */
int ms__proto_telemetry_off(const ms_dialect_conn_t *conn);
/** Whether kind is telemetry (live only, opt-out). */
int ms__proto_is_telemetry(ms_event_kind_t kind);

/** Per-connection strings most dialects keep: the session or conversation
 * the connection speaks for. */
#define MS_PROTO_SESSION_MAX 128

#endif
