/* Private to the network layer. */
#ifndef MS_NET_INTERNAL_H
#define MS_NET_INTERNAL_H

#include "api/api.h"
#include "core/path.h"
#include "net/rxcheck.h"
#include "net/wslimit.h"
#include "net/wsqueue.h"
#include "net/wsrx.h"
#include "proto/event.h"

#include <libwebsockets.h>

/** One WebSocket connection (mosquitto's central per-client struct). Owned
 * by the network layer; freed at LWS_CALLBACK_CLOSED after every
 * subscriber is closed, so no pipeline callback can reach a freed session. */
typedef struct ms_session {
    struct lws *wsi;
    ms_api_t *api;
    const ms_dialect_ops_t *dialect;
    void *dstate;             /* the dialect's per-connection state (its open/close) */
    int open_rc;              /* the dialect's open(): 0, MS_EPERM (4003), MS_EINVAL (4000) */
    char *open_err;           /* its reason (heap, only on failure), sent as the close reason */
    char *bound_conversation; /* heap, until checked at connect (ms_dialect_open_t) */
    unsigned bound_must_exist : 1;
    unsigned authed : 1;
    unsigned close_started : 1; /* the close frame is written */
    unsigned flush_pending : 1; /* in batch.c's flush list */
    unsigned pong_due : 1;      /* a ping came: lws' pong goes before our next batch */
    unsigned rx_failed : 1;     /* rxcheck failed the stream: close 1002 when writable */
    uint8_t rx_msgs;            /* client messages received (wraps; rxcheck's data_end) */
    int fd;                     /* the socket, while in rxguard.c's table; else -1 */
    struct ms_gate *gate;       /* the user / conversation check, while in flight */
    char client_id[MS_ID_LEN];
    char user_id[MS_ID_LEN];
    int close_code; /* pending close, sent when writable */
    const char *close_reason;
    ms_rxcheck_t rxc;               /* where the client's byte stream is (rxcheck.c) */
    ms_ws_rate_t rate;              /* the message rate limit (wslimit.c) */
    ms_wsrx_t rx;                   /* the message being received (wsrx.c) */
    ms_wsq_t q;                     /* the bounded outbound queue, deltas merged (wsqueue.c) */
    struct ms_session *prev, *next; /* every open session, for shutdown */
    ms_buf_t out;                   /* framed messages of this loop iteration (batch.c) */
    struct ms_session *flush_next;  /* in batch.c's pending list */
    struct sub_link {
        struct sub_link *next;
        struct ms_sub *sub;
        struct ms_session *sess;
        unsigned by_message_id : 1; /* a resume: "forbidden" is answered as not_found */
    } * subs;
} ms_session_t;

/** Per-connection user space given to lws (small: the heavy parts are heap). */
typedef struct {
    ms_http_req_t *req;    /* HTTP: the request in progress */
    struct ms_http_rx *rx; /* HTTP: its body framing and deadline (http.c) */
    ms_session_t *sess;    /* WebSocket: the session */
} ms_pss_t;

/** A log line budget: at most per_interval lines each interval, the rest
 * counted and reported in one line when the next interval starts, so that
 * what a client can provoke cannot flood the log. Zero-initialise. */
typedef struct {
    int64_t window_start;
    int64_t lines;
    int64_t suppressed;
} ms_log_throttle_t;

/** Whether one more line may be logged now (loop thread). */
int ms__log_allow(ms_log_throttle_t *t, int64_t now, int per_interval, int64_t interval_ms);

/** Adds the security headers every response carries (Content-Security-
 * Policy, X-Content-Type-Options, X-Frame-Options, Referrer-Policy) with
 * lws_add_http_header_by_name. 0, or -1 when they do not fit before end. */
int ms__http_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end);

/** Closes the HTTP body-deadline timer (at shutdown). */
void ms__http_stop(void);

/** Whether the session follows an answer that is not finished. */
int ms__session_streaming(const ms_session_t *s);

/** Write batching (batch.c): appends one framed text message to the
 * session's batch, written at the end of the loop iteration. */
void ms__batch_append(ms_session_t *s, const char *data, size_t len);
/** Writes the session's batch now (before anything else is written to it).
 * 0, or -1 when the connection broke (lws closes it). */
int ms__batch_flush(ms_session_t *s);
/** ms__batch_flush, and out of the flush list: for answers to a client's
 * message, written before lws parses the rest of what arrived (which may
 * make lws fail the connection and write its close frame at once). */
int ms__batch_flush_now(ms_session_t *s);
/** Drops the session's batch and its place in the flush list (at free). */
void ms__batch_forget(ms_session_t *s);
/** Closes the flush handle (at shutdown). */
void ms__batch_stop(void);

/** rxguard.c: puts the session's socket in the table recv() consults, so
 * its bytes pass rxcheck before lws parses them (at ESTABLISHED). */
void ms__rxguard_add(ms_session_t *s, int fd);
/** Takes it out again (before the session is freed). */
void ms__rxguard_remove(ms_session_t *s);
/** ws.c: runs rxcheck on n bytes just received for s; returns how many of
 * them lws may parse (the rest is discarded). Loop thread, inside lws. */
size_t ms__ws_rx_filter(ms_session_t *s, const unsigned char *buf, size_t n);

/** wshandshake.c: the dialect of path (without its query), its "{name}"
 * segment copied into param (plen >= MS_PATH_PARAM_MAX + 1 takes any), or
 * NULL when no endpoint matches (core/path.h's ms_path_match). */
const ms_dialect_ops_t *ms__ws_dialect_for(const char *path, char *param, size_t plen);
/** Most subprotocol names ws_subprotocols may list, and their longest name. */
#define MS_WS_MAX_SUBPROTOCOLS 8
#define MS_WS_SUBPROTOCOL_MAX 64
/** The next name of a comma-separated subprotocol list at *p (the
 * configuration's ws_subprotocols, or a client's Sec-WebSocket-Protocol),
 * blanks around names skipped: 1 with the name copied into name (len >=
 * MS_WS_SUBPROTOCOL_MAX + 1), 0 at the end, -1 when the list is not a list
 * of RFC 7230 tokens of 1 to MS_WS_SUBPROTOCOL_MAX bytes (RFC 6455 section
 * 4.1: subprotocol values are tokens). */
int ms__ws_subprotocol_next(const char **p, char *name, size_t len);
/** Reads the credentials of the handshake into s (authed, user_id). */
void ms__ws_authenticate(struct lws *wsi, ms_session_t *s);
/** LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: path, Origin and readiness; 0 to go on. */
int ms__ws_confirm_upgrade(struct lws *wsi);

/** Asks every open session to close with code (e.g. 1001 at shutdown).
 * Returns how many were open. */
int ms__ws_close_all(int code, const char *reason);

int ms__http_cb(struct lws *wsi, enum lws_callback_reasons reason, ms_pss_t *pss, void *in,
                size_t len);
int ms__ws_cb(struct lws *wsi, enum lws_callback_reasons reason, ms_pss_t *pss, void *in,
              size_t len);

#endif
