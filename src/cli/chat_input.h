/* Terminal input for `medstream chat`: lines from stdin and Ctrl-C, read on
 * a thread of their own so that a blocking read never stalls the WebSocket
 * service loop. The thread hands each event over through a locked queue and
 * wakes the loop with a caller-supplied function (lws_cancel_service, the one
 * libwebsockets call that is safe from another thread). */
#ifndef MS_CLI_CHAT_INPUT_H
#define MS_CLI_CHAT_INPUT_H

#include <stddef.h>

/** What the reader saw. */
typedef enum {
    MS_CLI_INPUT_LINE,      /**< one line, without its "\n" or "\r\n" */
    MS_CLI_INPUT_EOF,       /**< end of input; nothing follows but interrupts */
    MS_CLI_INPUT_INTERRUPT, /**< SIGINT (Ctrl-C) */
} ms_cli_input_kind_t;

/** The reader: owns the stdin buffer, the SIGINT self-pipe and the thread.
 * One per process (the signal handler is process-wide). */
typedef struct ms_cli_input ms_cli_input_t;

/** Creates the reader for fd and installs the SIGINT handler (which only
 * writes a byte to a pipe, as async-signal-safety requires). */
ms_cli_input_t *ms_cli_input_new(int fd);

/** Reads one line synchronously, before the thread runs (for the email and
 * password). Returns 0 with *line (free() it), MS_ENOENT at end of input or
 * MS_ECANCELED on Ctrl-C. Bytes read past the line stay buffered for the
 * thread. */
int ms_cli_input_read_line(ms_cli_input_t *in, char **line);

/** Starts the reader thread; wake(arg) is called after each event is queued. */
int ms_cli_input_start(ms_cli_input_t *in, void (*wake)(void *arg), void *arg);

/** Takes the oldest queued event: 0 with *kind and (for lines) *line, which
 * the caller frees; MS_ENOENT when the queue is empty. Thread-safe. */
int ms_cli_input_next(ms_cli_input_t *in, ms_cli_input_kind_t *kind, char **line);

/** Stops and joins the thread, restores SIGINT and frees everything. NULL-safe. */
void ms_cli_input_free(ms_cli_input_t *in);

#endif
