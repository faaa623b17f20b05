/* The state of one `medstream chat` run and the native protocol v1 logic
 * that drives it (docs/protocol.md): questions go out as `message`, answers
 * come back as message_start / message_chunk / message_complete, and a
 * dropped connection is picked up again with `resume`. chat_cmd.c owns the
 * process side (arguments, credentials, the loop); this file owns what is
 * said on the wire and what is printed. */
#ifndef MS_CLI_CHAT_SESSION_H
#define MS_CLI_CHAT_SESSION_H

#include "cli/chat_http.h"
#include "cli/chat_input.h"
#include "cli/chat_ws.h"
#include "core/buf.h"
#include "core/ms.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/** The answer being waited for. Owned by ms_cli_chat_t. */
typedef struct {
    bool active;
    char client_message_id[MS_ID_LEN]; /**< idempotency key of the question */
    char *question;                    /**< the question text, to send again */
    char *message_id;                  /**< the assistant message, from message_start */
    int64_t last_seq;                  /**< highest message_chunk seq printed */
    ms_buf_t printed;                  /**< every delta printed, to check the final text */
    bool requested;                    /**< message or resume sent on this connection */
    bool cancel_wanted;                /**< Ctrl-C was pressed during this answer */
    bool cancel_sent;                  /**< cancel sent on this connection */
    int retries;                       /**< retryable errors seen so far */
    int fruitless;                     /**< requests sent since the answer last advanced */
    int64_t retry_at_ms;               /**< monotonic time to ask again, 0 when not waiting */
} ms_cli_chat_answer_t;

/** One run of `medstream chat`. Owns every pointer in it. */
typedef struct {
    char *base_url; /**< without a trailing slash */
    char *email;
    char *password; /**< kept to sign in again when the refresh token is refused */
    bool tty_in;    /**< stdin is a terminal: prompt, echo control */
    FILE *out;      /**< where answers go (stdout) */

    ms_cli_chat_tokens_t tokens;
    ms_cli_chat_ws_t *ws;
    ms_cli_input_t *input;

    char *conversation_id; /**< for follow-ups; NULL starts a new one */
    char **pending;        /**< questions typed but not asked yet (FIFO) */
    size_t npending, cappending;
    bool input_eof;

    ms_cli_chat_answer_t ans;
    bool ready;            /**< `connected` received on the current connection */
    bool ever_ready;       /**< a connection was ready at least once */
    bool need_refresh;     /**< the server refused the access token (4001 / 401) */
    int attempts;          /**< failed connection attempts in a row */
    int64_t connect_at_ms; /**< monotonic time of the next connection attempt */
    bool notice_shown;     /**< "reconnecting" was printed */
    bool prompt_shown;
    bool quitting;
    int64_t quit_deadline_ms;
    bool done;
    int exit_code;
    bool failed_any; /**< a question ended in an error */
} ms_cli_chat_t;

/** The ms_cli_chat_ws_ops that route connection events into c. */
extern const ms_cli_chat_ws_ops ms_cli_chat_session_ops;

/** Starts the next pending question if none is in progress. */
void ms_cli_chat_session_next(ms_cli_chat_t *c);

/** Sends the request for the answer in progress on a ready connection:
 * `resume {message_id, last_seq}` once message_start was seen, otherwise
 * the `message` again with the same client_message_id (the server's
 * idempotency makes that safe), then a pending `cancel`. */
void ms_cli_chat_session_request(ms_cli_chat_t *c);

/** Handles Ctrl-C: cancels the answer in progress (sending `cancel` now or
 * once its message_id is known), or quits when there is none or when a
 * cancel was already asked for. */
void ms_cli_chat_session_interrupt(ms_cli_chat_t *c);

/** Ends the run with exit_code once the connection is closed. */
void ms_cli_chat_session_quit(ms_cli_chat_t *c, int exit_code);

/** Reconnection delay after `attempt` failures, in ms: 250 ms doubling to
 * 8 s, plus up to 25 % jitter so that many clients do not return at once. */
int64_t ms_cli_chat_session_backoff_ms(int attempt);

/** Forgets the answer in progress. */
void ms_cli_chat_answer_reset(ms_cli_chat_answer_t *a);

#endif
