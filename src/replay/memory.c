/* The in-memory replay buffer: the stream's text in one growable buffer,
 * the end offset of every chunk, and the events' JSON. */
#include "replay/replay.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdlib.h>
#include <string.h>

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

/* Adds json's compact serialisation length to *ser and its values to
 * *values, by walking it: no serialisation, so the cost is one step per
 * value whatever the strings' lengths (json_dumpb here cost ~100
 * instructions per byte, and a turn's history is counted at every stage:
 * 1,680 instructions per streamed chunk in the callgrind pair of
 * docs/performance.md). Strings count their bytes plus quotes, unescaped:
 * what jansson stores. */
static void json_walk(const json_t *j, size_t *ser, size_t *values) {
    *values += 1;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        *ser += 2;
        json_object_foreach((json_t *)j, k, v) {
            *ser += strlen(k) + 4; /* "k": and a comma */
            json_walk(v, ser, values);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        *ser += 2;
        json_array_foreach(j, i, v) {
            *ser += 1;
            json_walk(v, ser, values);
        }
        break;
    }
    case JSON_STRING:
        *ser += json_string_length(j) + 2;
        break;
    case JSON_INTEGER: {
        json_int_t v = json_integer_value(j);
        *ser += v < 0 ? 2 : 1;
        while (v /= 10)
            *ser += 1;
        break;
    }
    case JSON_REAL:
        *ser += 24; /* jansson writes %.17g */
        break;
    case JSON_TRUE:
    case JSON_NULL:
        *ser += 4;
        break;
    case JSON_FALSE:
        *ser += 5;
        break;
    }
}

size_t ms_json_bytes(const json_t *json) {
    if (!json)
        return 0;
    size_t ser = 0, values = 0;
    json_walk(json, &ser, &values);
    /* A jansson value is a 16..48-byte struct plus malloc overhead. */
    return 2 * ser + 48 * values;
}
