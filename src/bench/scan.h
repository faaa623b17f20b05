/* A cheap reader for server events: the load generator only needs an
 * event's "type" and, for chunks, its sequence number, so it scans the
 * top-level members of the JSON object and skips everything else without
 * building a tree or allocating. It also works on a prefix of a message
 * (the bench keeps only the first bytes of each). */
#ifndef MS_BENCH_SCAN_H
#define MS_BENCH_SCAN_H

#include "core/ms.h"

#include <stddef.h>
#include <stdint.h>

/** The event kinds the bench tells apart; both dialects use these names
 * (docs/protocol.md; ../shared/peers/README.md). */
typedef enum {
    MS_BENCH_EV_OTHER,     /**< tool_call, tool_result, pong, anything else */
    MS_BENCH_EV_CONNECTED, /**< "connected" */
    MS_BENCH_EV_START,     /**< "message_start" */
    MS_BENCH_EV_CHUNK,     /**< "message_chunk" */
    MS_BENCH_EV_COMPLETE,  /**< "message_complete" */
    MS_BENCH_EV_ERROR,     /**< "error" */
} ms_bench_ev_kind_t;

/** What ms_bench_scan found. */
typedef struct {
    ms_bench_ev_kind_t kind;
    /** "seq" (native, 1-based) or "chunk_index" (VoiceAssist, 0-based) when
     * a top-level integer; -1 when absent. */
    int64_t seq;
    /** Top-level "conversation_id" (native message_start), "" when absent
     * or not a string of at most 36 characters. */
    char conversation_id[MS_ID_LEN];
    /** Top-level "code" of a native error event (truncated to 31 bytes),
     * "" when absent. */
    char code[32];
} ms_bench_event_t;

/** Scans the JSON object in s[0, len) (possibly a truncated prefix) for the
 * members above. Escaped strings, nested values and any member order are
 * handled; duplicate members keep the first. Returns 0 when a top-level
 * string "type" was found, MS_EFORMAT otherwise (not an object, malformed
 * before "type", or "type" beyond the prefix). */
int ms_bench_scan(const char *s, size_t len, ms_bench_event_t *ev);

#endif
