/* /health, /ready, /api/kb/search. */
#include "api/routes.h"
#include "chat/work.h"
#include "kb/kb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef MS_VERSION
#define MS_VERSION "0.1.0"
#endif

void ms_api_health(ms_http_req_t *r) {
    ms_chat_stats_t s;
    ms_chat_stats(r->api->chat, &s);
    ms_http_respond_json(r, 200,
                         json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:I}}", "status", "ok", "version",
                                   MS_VERSION, "streams", "live", (json_int_t)s.streams_live,
                                   "buffered", (json_int_t)s.streams_buffered, "replay_bytes",
                                   (json_int_t)s.replay_bytes, "turns_total",
                                   (json_int_t)s.turns_total));
    ms_http_finish(r);
}

void ms_api_ready(ms_http_req_t *r) {
    if (r->api->ready)
        ms_http_respond_json(r, 200, json_pack("{s:s}", "status", "ready"));
    else
        ms_http_respond_error(r, 503, "not_ready", "starting or shutting down");
    ms_http_finish(r);
}

void ms_api_kb_search(ms_http_req_t *r, ms_store_t *st) {
    char *q = ms_http_query_arg(r, "q");
    char *ks = ms_http_query_arg(r, "k");
    long k = 5;
    if (ks) {
        char *end;
        errno = 0;
        k = strtol(ks, &end, 10);
        if (errno || end == ks || *end || k < 1 || k > 50)
            k = -1;
    }
    if (!q || !*q || strlen(q) > 1000 || k < 0) {
        ms_http_respond_error(r, 400, "invalid_request",
                              "\"q\" (1 to 1000 bytes) is required and \"k\" must be 1..50");
        goto out;
    }
    ms_kb_hit_t *hits = NULL;
    size_t n = 0;
    (void)st;
    ms_kb_t *kb = ms_work_thread_kb();
    if (!kb || ms_kb_find(kb, q, (int)k, &hits, &n) != 0) {
        ms_api_store_error(r, MS_EIO);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const ms_kb_hit_t *h = &hits[i];
        json_array_append_new(
            arr, json_pack("{s:s, s:f, s:s, s:s, s:s, s:s}", "id", h->id, "score", h->score,
                           "title", h->title ? h->title : "", "url", h->url ? h->url : "", "source",
                           h->source ? h->source : "", "text", h->text ? h->text : ""));
    }
    ms_kb_hits_free(hits, n);
    ms_http_respond_json(r, 200, json_pack("{s:o}", "results", arr));
out:
    free(q);
    free(ks);
}
