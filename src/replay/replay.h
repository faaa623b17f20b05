/* The replay buffer seam (architecture.md, replay/): what a stream keeps so
 * that a client can resume it (every chunk since its start, the retrieval
 * events, and the final event once it is done), behind ms_replay_ops_t.
 * Memory is the default backend; Redis Streams come with scale-out, so the
 * operations are appends by sequence number and reads from a sequence
 * number, which map onto XADD and XRANGE.
 *
 * A buffer belongs to one stream and is used on the loop thread only.
 * Sequence numbers start at 1 and are gapless: chunk k is the k-th append. */
#ifndef MS_REPLAY_REPLAY_H
#define MS_REPLAY_REPLAY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ms_replay ms_replay_t;

/** The events a buffer keeps besides chunks (replayed to a client that
 * resumes from the start, in this order). */
typedef enum {
    MS_REPLAY_TOOL_CALL,
    MS_REPLAY_TOOL_RESULT,
    MS_REPLAY_COMPLETE, /**< message_complete's data, once the stream is done */
    MS_REPLAY_NEVENTS
} ms_replay_event_t;

/** A replay backend's buffer operations. */
typedef struct ms_replay_ops {
    const char *name;
    /** Appends a chunk (copied) as the next sequence number; returns it. */
    int64_t (*append)(ms_replay_t *r, const char *text, size_t len);
    /** Stores an event's data (a new reference is taken; replaces any). */
    void (*put_event)(ms_replay_t *r, ms_replay_event_t which, json_t *data);
    /** The event's data (borrowed), or NULL. */
    json_t *(*event)(ms_replay_t *r, ms_replay_event_t which);
    /** Number of chunks appended. */
    int64_t (*chunks)(const ms_replay_t *r);
    /** Chunk seq (1..chunks): its bytes (borrowed until the next append). */
    int (*chunk)(const ms_replay_t *r, int64_t seq, const char **text, size_t *len);
    /** Every chunk's text together (borrowed until the next append). */
    const char *(*text)(const ms_replay_t *r, size_t *len);
    /** Bytes this buffer holds (text, chunk index, events' JSON). */
    size_t (*bytes)(const ms_replay_t *r);
    /** Frees the buffer. */
    void (*close)(ms_replay_t *r);
} ms_replay_ops_t;

/** The base every backend buffer starts with. */
struct ms_replay {
    const ms_replay_ops_t *ops;
};

/** A new, empty in-memory buffer. */
ms_replay_t *ms_replay_memory_new(void);

/* Dispatch helpers (each calls the op of the same name). */
static inline int64_t ms_replay_append(ms_replay_t *r, const char *t, size_t n) {
    return r->ops->append(r, t, n);
}
static inline void ms_replay_put_event(ms_replay_t *r, ms_replay_event_t w, json_t *d) {
    r->ops->put_event(r, w, d);
}
static inline json_t *ms_replay_event(ms_replay_t *r, ms_replay_event_t w) {
    return r->ops->event(r, w);
}
static inline int64_t ms_replay_chunks(const ms_replay_t *r) {
    return r->ops->chunks(r);
}
static inline int ms_replay_chunk(const ms_replay_t *r, int64_t seq, const char **t, size_t *n) {
    return r->ops->chunk(r, seq, t, n);
}
static inline const char *ms_replay_text(const ms_replay_t *r, size_t *n) {
    return r->ops->text(r, n);
}
static inline size_t ms_replay_bytes(const ms_replay_t *r) {
    return r->ops->bytes(r);
}
static inline void ms_replay_close(ms_replay_t *r) {
    if (r)
        r->ops->close(r);
}

/** An estimate of the memory json holds: its compact serialisation's size
 * times two plus a per-value overhead (jansson keeps each value in a small
 * struct, each object in a hash table). Used wherever memory is counted
 * against a bound. */
size_t ms_json_bytes(const json_t *json);

#endif
