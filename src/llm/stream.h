/* Incremental parsers for the two streaming wire formats model servers use,
 * robust to any split of the bytes across reads: a parser keeps the partial
 * line between calls, so feeding a body in one piece or one byte at a time
 * produces the same callbacks. Both are bounded: a line (or an SSE event's
 * data) longer than max_line bytes is refused with MS_ETOOBIG, so a
 * misbehaving upstream cannot make the gateway buffer without limit.
 *
 * - Server-Sent Events, as OpenAI's chat completions stream (`stream: true`)
 *   and every OpenAI-compatible server (vLLM, llama.cpp's llama-server, LM
 *   Studio, Azure OpenAI) send it: WHATWG HTML Living Standard section 9.2
 *   "Server-sent events", 9.2.5 "Parsing an event stream" and 9.2.6
 *   "Interpreting an event stream" (https://html.spec.whatwg.org/multipage/
 *   server-sent-events.html).
 * - Newline-delimited JSON, as Ollama's POST /api/chat streams it
 *   (https://github.com/ollama/ollama/blob/main/docs/api.md, "Streaming
 *   responses"; Content-Type application/x-ndjson): one JSON object a line.
 *
 * Pure and single-threaded: no I/O, no event loop; used from the providers
 * (openai.c, ollama.c), the unit tests and the fuzz targets. */
#ifndef MS_LLM_STREAM_H
#define MS_LLM_STREAM_H

#include "core/buf.h"

#include <stddef.h>

/** Longest SSE event type kept (bytes); a longer one is cut (types are
 * compared, never echoed). */
#define MS_SSE_EVENT_MAX 63

/** One dispatched SSE event: type ("message" when the stream gave none) and
 * the data buffer without its final LF (WHATWG 9.2.6 "dispatch the
 * event"). Both borrowed for the call. Return 0 to go on; any other value
 * stops parsing and is returned by ms_sse_feed. */
typedef int (*ms_sse_event_cb)(void *ctx, const char *type, const char *data, size_t len);

/** SSE parser state. Zero-initialise, then set max_line (0 = 1 MiB). */
typedef struct {
    size_t max_line; /**< longest line and longest data buffer, bytes */
    ms_buf_t line;   /**< the line being read */
    ms_buf_t data;   /**< the event's data buffer */
    char type[MS_SSE_EVENT_MAX + 1];
    int cr;      /**< the previous byte was CR: an LF right after it ends nothing */
    int started; /**< past the optional leading BOM */
    size_t events;
} ms_sse_t;

/** Parses n more bytes of the stream. Per WHATWG 9.2.5/9.2.6: lines end in
 * CRLF, LF or CR (a CRLF split between two calls is still one line end);
 * one leading U+FEFF BOM is skipped; a line starting with ':' is a comment
 * (keep-alives); "field:value" drops one space after the colon; a line
 * without a colon is a field with an empty value; "data" appends value and
 * LF to the data buffer (so several data lines make a multi-line event);
 * "event" sets the type; "id" and "retry" are reconnection state, not used
 * here, and other fields are ignored; an empty line dispatches the event,
 * unless the data buffer is empty. Returns 0, MS_ETOOBIG (a line or data
 * buffer over max_line), or what the callback returned. After an error the
 * parser must be reset before reuse. */
int ms_sse_feed(ms_sse_t *p, const char *buf, size_t n, ms_sse_event_cb cb, void *ctx);

/** The stream ended. An event without its terminating blank line is
 * discarded, as WHATWG 9.2.6 says ("If the file ends in the middle of an
 * event, before the final empty line, the incomplete event is not
 * dispatched"). Returns whether such a partial event (or line) was pending
 * (1) or not (0). */
int ms_sse_end(ms_sse_t *p);

/** Frees the buffers; the parser can be fed again from the start. */
void ms_sse_reset(ms_sse_t *p);

/** One NDJSON line, without its line end and surrounding white space,
 * never empty. Borrowed for the call; return 0 to go on. */
typedef int (*ms_ndjson_line_cb)(void *ctx, const char *line, size_t len);

/** NDJSON parser state. Zero-initialise, then set max_line (0 = 1 MiB). */
typedef struct {
    size_t max_line;
    ms_buf_t line;
    size_t lines;
} ms_ndjson_t;

/** Parses n more bytes: lines end in LF (a CR before it is dropped), blank
 * lines are skipped. Returns 0, MS_ETOOBIG (a line over max_line) or the
 * callback's value. */
int ms_ndjson_feed(ms_ndjson_t *p, const char *buf, size_t n, ms_ndjson_line_cb cb, void *ctx);

/** The stream ended: a last line without its LF is delivered (servers
 * always end lines, but a proxy may drop the last LF). Returns 0 or the
 * callback's value. */
int ms_ndjson_end(ms_ndjson_t *p, ms_ndjson_line_cb cb, void *ctx);

void ms_ndjson_reset(ms_ndjson_t *p);

#endif
