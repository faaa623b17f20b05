/* The in-memory replay buffer: the stream's text in one growable buffer,
 * the end offset of every chunk, and the events' JSON. */
#include "replay/replay.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdlib.h>

typedef struct {
    ms_replay_t base;
    ms_buf_t text;
    size_t *chunk_end; /* chunk k (1-based) ends at chunk_end[k-1] */
    int64_t nchunks;
    size_t chunk_cap;
    json_t *events[MS_REPLAY_NEVENTS];
    size_t event_bytes[MS_REPLAY_NEVENTS];
} mem_replay_t;

#define MEM(r) ((mem_replay_t *)(r))

static int64_t mem_append(ms_replay_t *r, const char *text, size_t len) {
    mem_replay_t *m = MEM(r);
    if ((size_t)m->nchunks == m->chunk_cap) {
        m->chunk_cap = m->chunk_cap ? m->chunk_cap * 2 : 64;
        m->chunk_end = ms_xrealloc(m->chunk_end, m->chunk_cap * sizeof *m->chunk_end);
    }
    ms_buf_append(&m->text, text, len);
    m->chunk_end[m->nchunks++] = m->text.len;
    return m->nchunks;
}

static void mem_put_event(ms_replay_t *r, ms_replay_event_t which, json_t *data) {
    mem_replay_t *m = MEM(r);
    json_decref(m->events[which]);
    m->events[which] = json_incref(data);
    m->event_bytes[which] = data ? ms_json_bytes(data) : 0;
}

static json_t *mem_event(ms_replay_t *r, ms_replay_event_t which) {
    return MEM(r)->events[which];
}

static int64_t mem_chunks(const ms_replay_t *r) {
    return MEM(r)->nchunks;
}

static int mem_chunk(const ms_replay_t *r, int64_t seq, const char **text, size_t *len) {
    const mem_replay_t *m = MEM(r);
    if (seq < 1 || seq > m->nchunks)
        return MS_ENOENT;
    size_t from = seq > 1 ? m->chunk_end[seq - 2] : 0;
    *text = m->text.data + from;
    *len = m->chunk_end[seq - 1] - from;
    return 0;
}

static const char *mem_text(const ms_replay_t *r, size_t *len) {
    const mem_replay_t *m = MEM(r);
    *len = m->text.len;
    return m->text.data ? m->text.data : "";
}

static size_t mem_bytes(const ms_replay_t *r) {
    const mem_replay_t *m = MEM(r);
    size_t n = sizeof *m + m->text.cap + m->chunk_cap * sizeof *m->chunk_end;
    for (int i = 0; i < MS_REPLAY_NEVENTS; i++)
        n += m->event_bytes[i];
    return n;
}

static void mem_close(ms_replay_t *r) {
    mem_replay_t *m = MEM(r);
    ms_buf_free(&m->text);
    free(m->chunk_end);
    for (int i = 0; i < MS_REPLAY_NEVENTS; i++)
        json_decref(m->events[i]);
    free(m);
}

static const ms_replay_ops_t memory_ops = {
    .name = "memory",
    .append = mem_append,
    .put_event = mem_put_event,
    .event = mem_event,
    .chunks = mem_chunks,
    .chunk = mem_chunk,
    .text = mem_text,
    .bytes = mem_bytes,
    .close = mem_close,
};

ms_replay_t *ms_replay_memory_new(void) {
    mem_replay_t *m = ms_xcalloc(1, sizeof *m);
    m->base.ops = &memory_ops;
    ms_buf_init(&m->text);
    return &m->base;
}

/* Counts values as it walks: a scalar or string is one value, a container
 * one plus its members. */
static size_t json_values(const json_t *j) {
    size_t n = 1;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) n += json_values(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) n += json_values(v);
    }
    return n;
}

size_t ms_json_bytes(const json_t *json) {
    if (!json)
        return 0;
    size_t ser = json_dumpb(json, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    /* A jansson value is a 16..48-byte struct plus malloc overhead. */
    return 2 * ser + 48 * json_values(json);
}
