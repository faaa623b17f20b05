/* A WebSocket session's bounded outbound queue, with coalescing of the
 * deltas of one message (private to net/). Pure logic: no socket, no lws
 * call, unit-tested in tests/unit/test_netws.c. */
#ifndef MS_NET_WSQUEUE_H
#define MS_NET_WSQUEUE_H

#include "core/buf.h"
#include "core/ms.h"
#include "proto/event.h"

#include <stddef.h>
#include <stdint.h>

/** Bytes of headroom in front of every queued frame: libwebsockets' LWS_PRE
 * (lws_write() may write the frame header there). ws.c checks at build time
 * that it is at least LWS_PRE. */
#define MS_WSQ_PRE 16

/** Most delta text one merged frame carries, in bytes. Past it the next
 * delta starts a new merged frame, so no frame grows beyond what clients
 * accept by default (Python websockets: 1 MiB; the encoding may escape a
 * byte into six) while a reader that is far behind still gets one frame
 * per 16 KiB instead of one per chunk. A single delta larger than this is
 * never cut. */
#define MS_WSQ_MERGE_MAX ((size_t)16 * 1024)

/** What each queued delta group costs against the bound besides its text:
 * the item itself and the envelope its encoding will add (a VoiceAssist or
 * native chunk frame is about 100 bytes around its text). */
#define MS_WSQ_CHUNK_COST 128

typedef enum {
    MS_WSQ_FRAME, /**< one encoded frame, written as it is */
    MS_WSQ_CHUNK, /**< deltas of one message not yet encoded, merged */
} ms_wsq_kind_t;

/** One queued item. Frame items carry data[MS_WSQ_PRE + len]; chunk items
 * the merged delta. Owned by the queue. */
typedef struct ms_wsq_item {
    struct ms_wsq_item *next;
    ms_wsq_kind_t kind;
    size_t cost; /**< what it counts against the bound (frame: len) */
    /* MS_WSQ_CHUNK */
    int64_t seq;                /**< the last merged delta's seq */
    uint32_t merged;            /**< deltas merged into it (>= 1) */
    char message_id[MS_ID_LEN]; /**< whose deltas they are */
    ms_buf_t text;              /**< the deltas, concatenated in arrival order */
    /* MS_WSQ_FRAME */
    size_t len;
    unsigned char data[]; /**< MS_WSQ_PRE bytes of headroom, then the frame */
} ms_wsq_item_t;

/** The queue: 24 bytes in every session. Zero-initialised: empty. */
typedef struct {
    ms_wsq_item_t *head, *tail;
    size_t bytes; /**< the sum of the items' cost */
} ms_wsq_t;

/** Appends one encoded frame (data[0..len), copied). Returns 0, or
 * MS_EOVERLOAD when bytes + len would pass max (nothing is queued; the
 * caller closes the connection with 1008). */
int ms__wsq_frame(ms_wsq_t *q, const char *data, size_t len, size_t max);

/** Appends one delta of message_id (text[0..len), copied, its seq): merged
 * into the tail when the tail holds deltas of the same message with room
 * under MS_WSQ_MERGE_MAX, else as a new chunk item (MS_WSQ_CHUNK_COST more).
 * Returns 0; MS_EOVERLOAD when the bound would be passed (nothing is
 * queued: close with 1008); MS_EINVAL when message_id is NULL or longer than
 * an id (the caller queues the encoded frame instead). */
int ms__wsq_chunk(ms_wsq_t *q, const char *message_id, int64_t seq, const char *text, size_t len,
                  size_t max);

/** The MS_EV_MESSAGE_CHUNK a chunk item stands for: its message id, its
 * last seq and the merged text (borrowed from the item until it is
 * dropped or replaced). */
void ms__wsq_chunk_event(const ms_wsq_item_t *it, ms_event_t *ev);

/** Replaces the head (a chunk item) by one frame item for each frame of
 * its encoding, in order (none: the head is just dropped), for dialects
 * that encode a delta into several frames. The cost becomes the frames'
 * length even when that passes the bound: the deltas were admitted already. */
void ms__wsq_expand_head(ms_wsq_t *q, const ms_frames_t *frames);

/** Drops the head item (after it was written). */
void ms__wsq_drop_head(ms_wsq_t *q);

/** Drops everything (overflow, or the session's end). */
void ms__wsq_clear(ms_wsq_t *q);

#endif
