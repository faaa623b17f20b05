/* A bench worker: one libwebsockets client context on one libuv loop
 * driving its share of the connections (see bench.h for the phases).
 *
 * Per connection the worker keeps a small struct with the first bytes of
 * the event being received (enough for "type" and "seq"), so its memory
 * stays in the hundreds of bytes; lws' own receive buffer is kept small
 * (rx_buffer_size) for the same reason. Events are read with the scanner
 * in scan.c, not parsed into trees. Timers (ramp, think time) are libuv
 * timers, whose heap stays cheap with tens of thousands of them. */
#include "bench/internal.h"
#include "bench/scan.h"
#include "core/buf.h"
#include "core/ms.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* Bytes of each event kept for the scanner: a native chunk's "seq" comes
 * after about 80 bytes, a message_complete's after about 130. */
#define RX_KEEP 256
/* lws' receive buffer per connection, which is also how much one recv()
 * asks for: a whole 64-chunk answer (~4.5 KB) in one or two calls instead
 * of nine (strace: 19 recv calls per answer at 512, 3 at 4096). 18,000
 * connections cost the load generator 72 MiB for it, not the server. */
#define RX_BUFFER 4096

typedef enum {
    C_NEW,        /* not started yet */
    C_CONNECTING, /* connect started, no upgrade yet */
    C_OPEN,       /* upgraded, waiting for `connected` */
    C_READY,      /* connected, waiting for the go (or a ramp timer) */
    C_SENDING,    /* a question is waiting for the socket to be writable */
    C_ANSWER,     /* waiting for the answer's message_complete */
    C_THINK,      /* pausing between questions */
    C_DONE,       /* every question answered; held open until quit */
    C_FAILED,     /* closed or never connected */
} cstate_t;

typedef struct worker worker_t;

/* One connection. Lives in the worker's array from start to exit; the
 * timer is initialised only when ramp or think time needs it. */
typedef struct {
    worker_t *w;
    struct lws *wsi;
    uv_timer_t timer;
    int idx; /* global index: source address, client_message_id */
    uint8_t state;
    uint8_t final;      /* counted in n_final */
    uint8_t answer_bad; /* this answer already had a protocol error */
    uint8_t has_timer;
    uint8_t rx_trunc;
    uint16_t rx_len;
    uint16_t close_code;
    int answered;   /* answers finished (complete or error) */
    int64_t chunks; /* chunks of the current answer */
    int64_t t0;     /* connect started, then question sent (us) */
    int64_t t_last; /* last chunk (us) */
    size_t msg_bytes;
    char conv[MS_ID_LEN];
    char rx[RX_KEEP];
} conn_t;

enum { PH_CONNECT, PH_RUN, PH_QUIT };

struct worker {
    const ms_bench_config_t *cfg;
    const ms_bench_shard_t *sh;
    uv_loop_t loop;
    struct lws_context *ctx;
    uv_timer_t pump, tick;
    uv_poll_t ctl;
    conn_t *conns;
    int n, next, inflight, settled, n_final;
    int phase, sent_ready, sent_done;
    int64_t interval_us;
    double cpu0;
    char (*src)[INET_ADDRSTRLEN];
    int nsrc;
    char path[2048];
    char host_hdr[300];
    char *auth;      /* "Bearer <token>" (native) or NULL */
    char *text_json; /* the question as a JSON string literal */
    ms_buf_t out;
    ms_bench_stats_t *st;
    json_t *samples;
};

static void say(worker_t *w, const char *line) {
    size_t n = strlen(line), off = 0;
    while (off < n) {
        ssize_t k = write(w->sh->to_parent, line + off, n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* the coordinator is gone; its own timeout will reap us */
        off += (size_t)k;
    }
}

static void count_error(worker_t *w, ms_bench_err_t kind, const char *detail) {
    w->st->errors[kind]++;
    char s[200];
    snprintf(s, sizeof s, "%s: %s", ms_bench_error_name(kind), detail ? detail : "");
    ms__bench_sample_add(w->samples, s);
}

static void check_phase(worker_t *w) {
    if (!w->sent_ready && w->settled >= w->n) {
        w->sent_ready = 1;
        say(w, "R\n");
    }
    if (w->phase == PH_RUN && !w->sent_done && w->n_final >= w->n) {
        w->sent_done = 1;
        say(w, "D\n");
    }
}

static void set_final(conn_t *c) {
    if (c->final)
        return;
    c->final = 1;
    c->w->n_final++;
}

/* The connection is gone (or never came). Counts it once, by the state it
 * was in; closes during the quit phase are the worker's own doing. */
static void conn_end(conn_t *c, ms_bench_err_t kind, const char *detail) {
    worker_t *w = c->w;
    int was = c->state;
    c->wsi = NULL;
    if (was == C_FAILED || w->phase == PH_QUIT)
        return;
    c->state = C_FAILED;
    if (c->has_timer)
        uv_timer_stop(&c->timer);
    if (was == C_CONNECTING || was == C_OPEN) {
        w->inflight--;
        w->settled++;
        w->st->failed++;
        count_error(w, kind, detail);
    } else {
        char d[80];
        if (c->close_code)
            snprintf(d, sizeof d, "close code %u%s", c->close_code,
                     was == C_ANSWER ? " during an answer" : "");
        else
            snprintf(d, sizeof d, "connection lost without a close frame%s",
                     was == C_ANSWER ? " during an answer" : "");
        w->st->dropped++;
        count_error(w, MS_BENCH_ERR_CLOSED, d);
    }
    set_final(c);
    check_phase(w);
}

static void want_send(conn_t *c) {
    c->state = C_SENDING;
    lws_callback_on_writable(c->wsi);
}

static void timer_cb(uv_timer_t *t) {
    conn_t *c = t->data;
    if ((c->state == C_READY || c->state == C_THINK) && c->wsi && c->w->phase == PH_RUN)
        want_send(c);
}

/* After an answer (complete, or ended by an error event): the next
 * question, a pause first, or done. */
static void next_question(conn_t *c) {
    worker_t *w = c->w;
    c->answered++;
    if (c->answered >= w->cfg->messages || w->phase != PH_RUN) {
        c->state = C_DONE;
        set_final(c);
        check_phase(w);
    } else if (w->cfg->think_ms > 0) {
        c->state = C_THINK;
        uv_timer_start(&c->timer, timer_cb, (uint64_t)w->cfg->think_ms, 0);
    } else {
        want_send(c);
    }
}

static void on_chunk(conn_t *c, const ms_bench_event_t *ev, int64_t now) {
    worker_t *w = c->w;
    ms_bench_stats_t *st = w->st;
    if (c->state != C_ANSWER) {
        count_error(w, MS_BENCH_ERR_PROTOCOL, "message_chunk outside an answer");
        return;
    }
    st->chunks++;
    c->chunks++;
    int64_t want = w->cfg->dialect == MS_BENCH_NATIVE ? c->chunks : c->chunks - 1;
    /* A long chunk may hold its index beyond the bytes kept (VoiceAssist
     * writes chunk_index after the content); it cannot be checked then. */
    int unknown = ev->seq < 0 && c->rx_trunc;
    if (ev->seq != want && !unknown && !c->answer_bad) {
        c->answer_bad = 1;
        count_error(w, MS_BENCH_ERR_PROTOCOL, "message_chunk out of sequence");
    }
    if (c->chunks == 1) {
        ms_bench_hist_record(&st->ttfc, (uint64_t)(now - c->t0));
    } else {
        int64_t gap = now - c->t_last;
        ms_bench_hist_record(&st->gap, (uint64_t)gap);
        if (w->interval_us) {
            /* Lateness: a chunk early (a burst, or the disclaimer that
             * follows the last chunk at once) is not a stall. */
            int64_t late = gap - w->interval_us;
            ms_bench_hist_record(&st->jitter, (uint64_t)(late > 0 ? late : 0));
        }
    }
    c->t_last = now;
}

/* One whole server event (its first RX_KEEP bytes in c->rx). */
static void on_event(conn_t *c, int64_t now) {
    worker_t *w = c->w;
    ms_bench_stats_t *st = w->st;
    ms_bench_event_t ev;
    st->frames++;
    st->bytes += (int64_t)c->msg_bytes;
    if (ms_bench_scan(c->rx, c->rx_len, &ev) != 0) {
        count_error(w, MS_BENCH_ERR_PROTOCOL, "event without a readable \"type\"");
        return;
    }
    switch (ev.kind) {
    case MS_BENCH_EV_CHUNK:
        on_chunk(c, &ev, now);
        break;
    case MS_BENCH_EV_CONNECTED:
        if (c->state != C_OPEN)
            break;
        c->state = C_READY;
        st->connected++;
        w->inflight--;
        w->settled++;
        check_phase(w);
        break;
    case MS_BENCH_EV_START:
        if (!c->conv[0] && ev.conversation_id[0])
            memcpy(c->conv, ev.conversation_id, sizeof c->conv);
        break;
    case MS_BENCH_EV_COMPLETE:
        if (c->state != C_ANSWER)
            break;
        st->answers++;
        ms_bench_hist_record(&st->answer, (uint64_t)(now - c->t0));
        if (w->cfg->dialect == MS_BENCH_NATIVE && ev.seq >= 0 && ev.seq != c->chunks &&
            !c->answer_bad)
            count_error(w, MS_BENCH_ERR_PROTOCOL, "message_complete seq != chunks received");
        next_question(c);
        break;
    case MS_BENCH_EV_ERROR:
        count_error(w, MS_BENCH_ERR_SERVER, ev.code[0] ? ev.code : "error event");
        if (c->state == C_ANSWER)
            next_question(c);
        break;
    case MS_BENCH_EV_OTHER:
        break;
    }
}

static int on_writable(conn_t *c, struct lws *wsi) {
    worker_t *w = c->w;
    if (c->state != C_SENDING || w->phase != PH_RUN)
        return 0;
    ms_buf_t *b = &w->out;
    ms_buf_reset(b);
    ms_buf_reserve(b, LWS_PRE + 256);
    b->len = LWS_PRE;
    if (w->cfg->dialect == MS_BENCH_NATIVE) {
        ms_buf_printf(b, "{\"type\":\"message\",\"text\":%s,\"client_message_id\":\"b%lld-%d-%d\"",
                      w->text_json, (long long)w->sh->run_id, c->idx, c->answered);
        if (c->conv[0])
            ms_buf_printf(b, ",\"conversation_id\":\"%s\"", c->conv);
        ms_buf_putc(b, '}');
    } else {
        ms_buf_printf(b, "{\"type\":\"message\",\"content\":%s}", w->text_json);
    }
    size_t len = b->len - LWS_PRE;
    if (lws_write(wsi, (unsigned char *)b->data + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
        return -1;
    c->t0 = ms__bench_now_us();
    c->chunks = 0;
    c->answer_bad = 0;
    c->state = C_ANSWER;
    w->st->questions++;
    return 0;
}

static int on_receive(conn_t *c, struct lws *wsi, const void *in, size_t len) {
    size_t room = RX_KEEP - c->rx_len;
    size_t k = len < room ? len : room;
    memcpy(c->rx + c->rx_len, in, k);
    c->rx_len = (uint16_t)(c->rx_len + k);
    c->rx_trunc |= len > room;
    c->msg_bytes += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    on_event(c, ms__bench_now_us());
    c->rx_len = 0;
    c->rx_trunc = 0;
    c->msg_bytes = 0;
    return 0;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    conn_t *c = user;
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end = *p + len;
        const char *a = c->w->auth;
        if (a && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                              (const unsigned char *)a, (int)strlen(a), p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char d[160];
        unsigned int status = wsi ? lws_http_client_http_response(wsi) : 0;
        if (status && status != 101) {
            snprintf(d, sizeof d, "HTTP %u", status);
            conn_end(c, MS_BENCH_ERR_HANDSHAKE, d);
        } else {
            snprintf(d, sizeof d, "%.150s", in ? (const char *)in : "connection failed");
            conn_end(c, MS_BENCH_ERR_CONNECT, d);
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c->state == C_CONNECTING) {
            c->state = C_OPEN;
            ms_bench_hist_record(&c->w->st->handshake, (uint64_t)(ms__bench_now_us() - c->t0));
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writable(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            c->close_code =
                (uint16_t)(((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1]);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        conn_end(c, MS_BENCH_ERR_AUTH,
                 c->close_code == 4001 ? "closed 4001 (unauthorized)"
                                       : "closed before the connected event");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c->wsi == wsi || c->state == C_CONNECTING)
            conn_end(c, MS_BENCH_ERR_CONNECT, "connection destroyed before the upgrade");
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"bench", client_cb, 0, RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* No validity (ping) timers: lws keeps every connection's timer in one
 * sorted list, so with the default policy each of N connections costs an
 * O(N) insertion (measured: 61 % of the worker's CPU at 18,000). */
static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                           .secs_since_valid_hangup = 0};

static void start_conn(worker_t *w, conn_t *c) {
    const ms_bench_config_t *cfg = w->cfg;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = w->ctx;
    ci.address = cfg->host;
    ci.port = cfg->port;
    ci.path = w->path;
    ci.host = w->host_hdr;
    ci.local_protocol_name = protocols[0].name;
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    ci.retry_and_idle_policy = &no_validity;
    ci.iface = w->nsrc ? w->src[c->idx % w->nsrc] : NULL;
    c->state = C_CONNECTING;
    c->t0 = ms__bench_now_us();
    w->inflight++;
    w->st->attempted++;
    if (!lws_client_connect_via_info(&ci) && c->state == C_CONNECTING)
        conn_end(c, MS_BENCH_ERR_CONNECT, "cannot start the connection (out of ports or fds?)");
}

/* Keeps at most `concurrency` handshakes in flight, so that the server's
 * listen backlog is never overrun however many connections are asked for. */
static void pump_cb(uv_timer_t *t) {
    worker_t *w = t->data;
    while (w->phase == PH_CONNECT && w->next < w->n && w->inflight < w->cfg->concurrency)
        start_conn(w, &w->conns[w->next++]);
    if (w->next >= w->n || w->phase != PH_CONNECT)
        uv_timer_stop(&w->pump);
}

static void tick_cb(uv_timer_t *t) {
    worker_t *w = t->data;
    char line[160];
    snprintf(line, sizeof line, "P %lld %lld %lld %lld %lld\n", (long long)w->st->attempted,
             (long long)w->st->connected, (long long)w->st->failed, (long long)w->st->answers,
             (long long)w->st->chunks);
    say(w, line);
}

/* The go: every ready connection asks its first question, at once or
 * spread evenly over ramp_ms. Idle mode has nothing to do. */
static void start_run(worker_t *w) {
    const ms_bench_config_t *cfg = w->cfg;
    w->phase = PH_RUN;
    w->cpu0 = ms__bench_self_cpu();
    for (int i = 0; i < w->n; i++) {
        conn_t *c = &w->conns[i];
        if (c->state != C_READY) {
            if (c->state != C_FAILED) /* still connecting: the coordinator's time ran out */
                set_final(c);
            continue;
        }
        if (cfg->idle || cfg->messages <= 0) {
            c->state = C_DONE;
            set_final(c);
        } else if (cfg->ramp_ms > 0) {
            uint64_t at = (uint64_t)cfg->ramp_ms * (uint64_t)(c->idx) / (uint64_t)cfg->connections;
            uv_timer_start(&c->timer, timer_cb, at, 0);
        } else {
            want_send(c);
        }
    }
    check_phase(w);
}

static void handle_close_cb(uv_handle_t *h) {
    (void)h;
}

/* The quit: counts what did not finish, reports, and tears down. lws
 * closes its connections and handles on the loop, which then ends. */
static void quit(worker_t *w) {
    if (w->phase == PH_QUIT)
        return;
    int ran = w->phase == PH_RUN;
    w->phase = PH_QUIT;
    for (int i = 0; i < w->n; i++) {
        conn_t *c = &w->conns[i];
        if (c->state == C_NEW || c->state == C_CONNECTING || c->state == C_OPEN) {
            w->st->failed++;
            w->st->errors[MS_BENCH_ERR_TIMEOUT]++;
        } else if (!w->cfg->idle && c->state != C_DONE && c->state != C_FAILED) {
            w->st->errors[MS_BENCH_ERR_TIMEOUT]++;
        }
        if (c->has_timer)
            uv_close((uv_handle_t *)&c->timer, handle_close_cb);
    }
    if (w->st->errors[MS_BENCH_ERR_TIMEOUT])
        ms__bench_sample_add(w->samples, "timeout: unfinished when the run's time ran out");
    w->st->cpu_s = ran ? ms__bench_self_cpu() - w->cpu0 : 0.0;
    json_t *j = ms__bench_stats_to_json(w->st, w->samples);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    say(w, "J ");
    say(w, s);
    say(w, "\n");
    free(s);
    uv_timer_stop(&w->pump);
    uv_timer_stop(&w->tick);
    uv_close((uv_handle_t *)&w->pump, handle_close_cb);
    uv_close((uv_handle_t *)&w->tick, handle_close_cb);
    uv_poll_stop(&w->ctl);
    uv_close((uv_handle_t *)&w->ctl, handle_close_cb);
    lws_context_destroy(w->ctx);
}

static void ctl_cb(uv_poll_t *p, int status, int events) {
    worker_t *w = p->data;
    char buf[16];
    ssize_t n = status < 0 ? 0 : read(w->sh->from_parent, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) { /* the coordinator is gone: stop */
        quit(w);
        return;
    }
    for (ssize_t i = 0; i < n && w->phase != PH_QUIT; i++) {
        if (buf[i] == 'G' && w->phase == PH_CONNECT)
            start_run(w);
        else if (buf[i] == 'Q')
            quit(w);
    }
}

/* Per-worker set-up that does not touch the network. */
static void worker_init(worker_t *w, const ms_bench_shard_t *sh) {
    const ms_bench_config_t *cfg = sh->cfg;
    w->cfg = cfg;
    w->sh = sh;
    w->n = sh->count;
    w->st = ms__bench_stats_new();
    w->samples = json_array();
    w->interval_us = (int64_t)cfg->expect_interval_ms * 1000;
    w->conns = ms_xcalloc((size_t)(w->n ? w->n : 1), sizeof *w->conns);
    for (int i = 0; i < w->n; i++) {
        w->conns[i].w = w;
        w->conns[i].idx = sh->first + i;
    }
    ms_buf_init(&w->out);
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_json_str(&b, cfg->text, strlen(cfg->text));
    w->text_json = ms_buf_take(&b);
    if (cfg->token && cfg->dialect == MS_BENCH_NATIVE) {
        size_t n = strlen(cfg->token) + 8;
        w->auth = ms_xmalloc(n);
        snprintf(w->auth, n, "Bearer %s", cfg->token);
    }
    /* VoiceAssist servers take the token from the query string. */
    snprintf(w->path, sizeof w->path, "%s%s%s%s", cfg->path,
             cfg->token && cfg->dialect != MS_BENCH_NATIVE ? (strchr(cfg->path, '?') ? "&" : "?")
                                                           : "",
             cfg->token && cfg->dialect != MS_BENCH_NATIVE ? "token=" : "",
             cfg->token && cfg->dialect != MS_BENCH_NATIVE ? cfg->token : "");
    snprintf(w->host_hdr, sizeof w->host_hdr, "%s:%d", cfg->host, cfg->port);
    if (cfg->source_addrs > 0 && cfg->source_base) {
        struct in_addr a;
        if (inet_pton(AF_INET, cfg->source_base, &a) == 1) {
            w->nsrc = cfg->source_addrs;
            w->src = ms_xcalloc((size_t)w->nsrc, sizeof *w->src);
            uint32_t base = ntohl(a.s_addr);
            for (int i = 0; i < w->nsrc; i++) {
                struct in_addr x = {.s_addr = htonl(base + (uint32_t)i)};
                inet_ntop(AF_INET, &x, w->src[i], sizeof w->src[i]);
            }
        }
    }
}

static void worker_free(worker_t *w) {
    free(w->conns);
    free(w->src);
    free(w->text_json);
    if (w->auth) {
        explicit_bzero(w->auth, strlen(w->auth));
        free(w->auth);
    }
    ms_buf_free(&w->out);
    json_decref(w->samples);
    free(w->st);
}

int ms__bench_worker(const ms_bench_shard_t *sh) {
    worker_t w;
    memset(&w, 0, sizeof w);
    worker_init(&w, sh);
    const ms_bench_config_t *cfg = sh->cfg;
    uv_loop_init(&w.loop);
    lws_set_log_level(getenv("MS_BENCH_LWS_LOG") ? LLL_ERR | LLL_WARN : 0, NULL);

    void *loops[1] = {&w.loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.pcontext = &w.ctx;
    info.user = &w;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = (unsigned int)sh->nofile;
    info.max_http_header_pool = (unsigned short)(cfg->concurrency + 8);
    info.connect_timeout_secs = (unsigned int)cfg->connect_timeout_s;
    info.timeout_secs = (unsigned int)cfg->connect_timeout_s;
    w.ctx = lws_create_context(&info);
    int rc = 0;
    if (!w.ctx) {
        say(&w, "E cannot create the client context\n");
        rc = 1;
        goto out;
    }
    for (int i = 0; i < w.n; i++) {
        if (cfg->think_ms > 0 || cfg->ramp_ms > 0) {
            uv_timer_init(&w.loop, &w.conns[i].timer);
            w.conns[i].timer.data = &w.conns[i];
            w.conns[i].has_timer = 1;
        }
    }
    uv_timer_init(&w.loop, &w.pump);
    uv_timer_init(&w.loop, &w.tick);
    w.pump.data = w.tick.data = &w;
    uv_poll_init(&w.loop, &w.ctl, sh->from_parent);
    w.ctl.data = &w;
    uv_poll_start(&w.ctl, UV_READABLE, ctl_cb);
    uv_timer_start(&w.pump, pump_cb, 0, 1);
    uv_timer_start(&w.tick, tick_cb, 250, 250);
    check_phase(&w); /* zero connections: ready at once */
    uv_run(&w.loop, UV_RUN_DEFAULT);
    lws_context_destroy(w.ctx); /* NULL once destroyed: a no-op then */
out:
    if (uv_loop_close(&w.loop) != 0)
        rc = rc ? rc : 3;
    worker_free(&w);
    return rc;
}
