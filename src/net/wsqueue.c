/* The outbound queue of a WebSocket session that fell behind
 * (architecture.md: "coalesce queued deltas of one message into one frame
 * when a client falls behind").
 *
 * While a client reads as fast as answers stream, nothing is queued: ws.c
 * hands each frame to the write batch. Once its socket backs up, every
 * further event waits here until lws reports the socket writable. Deltas
 * (MS_EV_MESSAGE_CHUNK) are not encoded on arrival: a delta of the message
 * whose deltas are already waiting at the tail is appended to their text,
 * and only its seq is kept, so a reader that fell behind by a thousand
 * chunks gets them as one frame (or a few, MS_WSQ_MERGE_MAX apart) in its
 * dialect's encoding, written when the socket takes it, at the cost of one
 * memcpy per chunk instead of an encode and an allocation each. Every
 * other event is encoded at once and queued as its frame, and nothing ever
 * merges across it, so the order of events is what it was. Deltas of two
 * answers interleaved on one connection merge while they arrive in runs.
 *
 * Merging keeps the wire's promises (docs/protocol.md, "Backpressure"):
 * the concatenation of the deltas a client receives is still the whole
 * text, each delta exactly once; a merged delta carries the seq of the last
 * delta in it, so seq only grows and resuming with it continues exactly
 * after it. */
#include "net/wsqueue.h"

#include <stdlib.h>
#include <string.h>

static void append(ms_wsq_t *q, ms_wsq_item_t *it) {
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->bytes += it->cost;
}

static ms_wsq_item_t *frame_item(const char *data, size_t len) {
    ms_wsq_item_t *it = ms_xmalloc(sizeof *it + MS_WSQ_PRE + len);
    memset(it, 0, sizeof *it);
    it->kind = MS_WSQ_FRAME;
    it->len = len;
    it->cost = len;
    memcpy(it->data + MS_WSQ_PRE, data, len);
    return it;
}

static void item_free(ms_wsq_item_t *it) {
    if (it->kind == MS_WSQ_CHUNK)
        ms_buf_free(&it->text);
    free(it);
}

int ms__wsq_frame(ms_wsq_t *q, const char *data, size_t len, size_t max) {
    if (len > max || q->bytes > max - len)
        return MS_EOVERLOAD;
    append(q, frame_item(data, len));
    return 0;
}

int ms__wsq_chunk(ms_wsq_t *q, const char *message_id, int64_t seq, const char *text, size_t len,
                  size_t max) {
    if (!message_id || strnlen(message_id, MS_ID_LEN) >= MS_ID_LEN)
        return MS_EINVAL;
    ms_wsq_item_t *t = q->tail;
    if (t && t->kind == MS_WSQ_CHUNK && !strcmp(t->message_id, message_id) &&
        t->text.len + len <= MS_WSQ_MERGE_MAX) {
        if (len > max || q->bytes > max - len)
            return MS_EOVERLOAD;
        ms_buf_append(&t->text, text, len);
        t->seq = seq;
        t->merged++;
        t->cost += len;
        q->bytes += len;
        return 0;
    }
    size_t cost = len + MS_WSQ_CHUNK_COST;
    if (cost > max || q->bytes > max - cost)
        return MS_EOVERLOAD;
    ms_wsq_item_t *it = ms_xcalloc(1, sizeof *it);
    it->kind = MS_WSQ_CHUNK;
    it->cost = cost;
    it->seq = seq;
    it->merged = 1;
    memcpy(it->message_id, message_id, strlen(message_id) + 1);
    ms_buf_init(&it->text);
    ms_buf_append(&it->text, text, len);
    append(q, it);
    return 0;
}

void ms__wsq_chunk_event(const ms_wsq_item_t *it, ms_event_t *ev) {
    memset(ev, 0, sizeof *ev);
    ev->kind = MS_EV_MESSAGE_CHUNK;
    ev->message_id = it->message_id;
    ev->seq = it->seq;
    ev->text = it->text.len ? it->text.data : "";
    ev->text_len = it->text.len;
}

void ms__wsq_expand_head(ms_wsq_t *q, const ms_frames_t *frames) {
    ms_wsq_item_t *old = q->head;
    if (!old)
        return;
    ms_wsq_item_t *first = NULL, *last = NULL;
    size_t cost = 0;
    for (size_t i = 0; i < frames->n; i++) {
        size_t len;
        const char *data = ms_frames_get(frames, i, &len);
        ms_wsq_item_t *it = frame_item(data, len);
        if (last)
            last->next = it;
        else
            first = it;
        last = it;
        cost += len;
    }
    if (!first) {
        ms__wsq_drop_head(q);
        return;
    }
    last->next = old->next;
    q->head = first;
    if (q->tail == old)
        q->tail = last;
    q->bytes = q->bytes - old->cost + cost;
    item_free(old);
}

void ms__wsq_drop_head(ms_wsq_t *q) {
    ms_wsq_item_t *it = q->head;
    if (!it)
        return;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= it->cost;
    item_free(it);
}

void ms__wsq_clear(ms_wsq_t *q) {
    for (ms_wsq_item_t *it = q->head, *next; it; it = next) {
        next = it->next;
        item_free(it);
    }
    q->head = q->tail = NULL;
    q->bytes = 0;
}
