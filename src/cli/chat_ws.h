/* The WebSocket side of `medstream chat`: one client connection to
 * /api/ws at a time on a libwebsockets context, a small outbound queue
 * written only when the socket is writable, and whole messages handed up
 * (fragments are joined). The owner drives it with ms_cli_chat_ws_service()
 * and decides itself when to reconnect; this file never retries. */
#ifndef MS_CLI_CHAT_WS_H
#define MS_CLI_CHAT_WS_H

#include <stddef.h>
#include <stdint.h>

/** Why a connection ended, as given to closed_cb. */
typedef struct {
    int close_code;    /**< the peer's close code (RFC 6455 section 7.4), 0 if none */
    int http_status;   /**< the handshake's HTTP status when it was refused, else 0 */
    int established;   /**< 1 when the WebSocket handshake had completed */
    const char *cause; /**< a short diagnostic from libwebsockets, or "" */
} ms_cli_chat_ws_close_t;

/** Callbacks, all run on the service loop thread from inside
 * ms_cli_chat_ws_service(). They may call ms_cli_chat_ws_send(). */
typedef struct {
    void (*open_cb)(void *arg);
    /** One whole text message (not NUL-terminated in general; len bytes). */
    void (*message_cb)(void *arg, const char *data, size_t len);
    /** The connection is gone (or never came up); called once per connect. */
    void (*closed_cb)(void *arg, const ms_cli_chat_ws_close_t *why);
} ms_cli_chat_ws_ops;

/** The connection manager. Owns the lws context, the queue and buffers. */
typedef struct ms_cli_chat_ws ms_cli_chat_ws_t;

/** Parses base_url ("http[s]://host[:port][/prefix]") and creates the lws
 * context. Returns NULL with err filled when the URL is not usable. */
ms_cli_chat_ws_t *ms_cli_chat_ws_new(const char *base_url, const ms_cli_chat_ws_ops *ops, void *arg,
                                     char *err, size_t errlen);

/** Starts connecting to <prefix>/api/ws with "Authorization: Bearer
 * <access_token>" (docs/protocol.md, "Handshake", first choice). Any
 * previous connection must have been reported closed. Returns 0 or MS_EIO;
 * after 0, exactly one closed_cb follows eventually. */
int ms_cli_chat_ws_connect(ms_cli_chat_ws_t *ws, const char *access_token);

/** Whether a connection is open or being opened. */
int ms_cli_chat_ws_active(const ms_cli_chat_ws_t *ws);

/** Queues one text message (copied) and asks for a writable callback.
 * Returns MS_EIO when no connection is open (the message is dropped). */
int ms_cli_chat_ws_send(ms_cli_chat_ws_t *ws, const char *json);

/** Closes the open connection with 1000 once the queue is written. */
void ms_cli_chat_ws_close(ms_cli_chat_ws_t *ws);

/** Runs one service iteration: waits for network activity, a timer or a
 * wake-up, then dispatches callbacks. */
void ms_cli_chat_ws_service(ms_cli_chat_ws_t *ws);

/** Makes a waiting or next ms_cli_chat_ws_service() return by delay_ms at
 * the latest. Loop thread only. */
void ms_cli_chat_ws_wake_in(ms_cli_chat_ws_t *ws, int64_t delay_ms);

/** Makes a waiting ms_cli_chat_ws_service() return now. Thread-safe. */
void ms_cli_chat_ws_wake(void *ws);

/** Destroys the context (closing any connection at once). NULL-safe. */
void ms_cli_chat_ws_free(ms_cli_chat_ws_t *ws);

#endif
