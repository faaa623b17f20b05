/* The listener: the lws context on the caller's libuv loop, its protocol
 * callback (HTTP to http.c, WebSocket to ws.c), and its teardown. */
#include "core/log.h"
#include "net/internal.h"
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ms_net {
    struct lws_context *lws; /* NULLed by lws itself once destroyed (info.pcontext) */
    int port;
    int stopping; /* the first lws_context_destroy was called */
};

static int protocol_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len) {
    ms_pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        return ms__http_cb(wsi, reason, pss, in, len);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        return ms__ws_cb(wsi, reason, pss, in, len);
    default:
        return 0;
    }
}

/* Routes lws' own log lines into our JSON log. A client can make lws log
 * (a request head over its buffer is one error line), so at most 20 lines
 * go out every 10 s and the rest are counted. */
static void lws_log_cb(int level, const char *line) {
    static ms_log_throttle_t throttle;
    if (!ms__log_allow(&throttle, ms_mono_ms(), 20, 10000))
        return;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_json_str(&b, line, n);
    ms_log(level == LLL_ERR ? MS_LOG_ERROR : MS_LOG_WARN, "lws", "\"msg\":%s", ms_buf_cstr(&b));
    ms_buf_free(&b);
}

/* lws 4.1 logs a failed bind and carries on (it retries the listen socket
 * later), so a second medstream on a taken port would print that it serves
 * and never would. The address is therefore tried first, with the options
 * lws itself uses (SO_REUSEADDR, IPv4), and a failure is reported plainly.
 * The window between this probe and lws' own bind is a few microseconds at
 * start-up; lws' listen port is checked afterwards as well. */
static int probe_bind(const char *host, int port, char *err, size_t errlen) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (!host[0] || !strcmp(host, "0.0.0.0"))
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (!strcmp(host, "localhost"))
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "\"%s\" is not an IPv4 address", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host[0] ? host : "0.0.0.0", port,
                 e == EADDRINUSE ? "the address is already in use (another server running?)"
                                 : strerror(e));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* The lws protocol table: "medstream" (the default, for handshakes that
 * offer no subprotocol), then one entry per name of ws_subprotocols, all
 * served alike: a name is only what the handshake agrees to (RFC 6455
 * section 1.9), the messages are the endpoint's dialect either way. The
 * receive buffer is allocated per WebSocket connection: it is most of what
 * an idle connection costs (lws' default is 8 KiB). Messages larger than it
 * arrive in pieces and are reassembled up to max_frame_bytes. tx_packet_size
 * must be set, or lws caps each send() at the rx size. */
static int set_protocols(struct lws_protocols *tab, const ms_config_t *cfg, char *err,
                         size_t errlen) {
    static char names[MS_WS_MAX_SUBPROTOCOLS][MS_WS_SUBPROTOCOL_MAX + 1];
    memset(tab, 0, sizeof(struct lws_protocols) * (MS_WS_MAX_SUBPROTOCOLS + 2));
    tab[0].name = "medstream";
    tab[0].callback = protocol_cb;
    tab[0].per_session_data_size = sizeof(ms_pss_t);
    tab[0].rx_buffer_size = (size_t)cfg->rx_buffer_bytes;
    tab[0].tx_packet_size = (size_t)512 * 1024; /* above batch.c's BATCH_MAX: one send() a batch */
    const char *p = cfg->ws_subprotocols ? cfg->ws_subprotocols : "";
    char name[MS_WS_SUBPROTOCOL_MAX + 1];
    size_t n = 0;
    int rc;
    while ((rc = ms__ws_subprotocol_next(&p, name, sizeof name)) == 1) {
        int dup = !strcmp(name, "medstream");
        for (size_t i = 0; i < n && !dup; i++)
            dup = !strcmp(names[i], name);
        if (dup)
            continue;
        if (n == MS_WS_MAX_SUBPROTOCOLS) {
            snprintf(err, errlen, "--ws-subprotocols lists more than %d names",
                     MS_WS_MAX_SUBPROTOCOLS);
            return -1;
        }
        memcpy(names[n], name, sizeof name);
        tab[n + 1] = tab[0];
        tab[n + 1].name = names[n];
        n++;
    }
    if (rc < 0) {
        snprintf(err, errlen,
                 "--ws-subprotocols must be comma-separated names of 1 to %d token characters "
                 "(RFC 7230), got \"%.80s\"",
                 MS_WS_SUBPROTOCOL_MAX, cfg->ws_subprotocols);
        return -1;
    }
    return 0;
}

int ms_net_start(uv_loop_t *loop, const ms_config_t *cfg, ms_api_t *api, ms_net_t **out, char *err,
                 size_t errlen) {
    *out = NULL;
    static struct lws_protocols protocols[MS_WS_MAX_SUBPROTOCOLS + 2];
    if (set_protocols(protocols, cfg, err, errlen) != 0)
        return MS_EINVAL;
    /* No per-connection validity timers: lws 4.1 keeps timers in one sorted
     * list, so each would cost O(connections) to insert. Dead peers are found
     * by TCP keepalive in the kernel instead. */
    static const lws_retry_bo_t idle_policy = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};
    char host[256];
    int port;
    if (ms_config_listen(cfg, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "--listen must be HOST:PORT (got \"%s\")", cfg->listen);
        return MS_EINVAL;
    }
    if (port != 0 && probe_bind(host, port, err, errlen) != 0)
        return MS_EIO;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_cb);
    ms_net_t *n = ms_xcalloc(1, sizeof *n);
    *out = n;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign_loops[1] = {loop};
    info.port = port;
    info.iface = host[0] && strcmp(host, "0.0.0.0") != 0 ? host : NULL;
    info.protocols = protocols;
    /* VALIDATE_UTF8: lws checks text messages as they arrive and fails the
     * connection with 1007 (RFC 6455 section 8.1); see net/rxcheck.c. */
    info.options =
        LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = foreign_loops;
    info.user = api;
    info.pcontext = &n->lws;
    info.fd_limit_per_thread = (unsigned int)cfg->max_connections + 64;
    info.pt_serv_buf_size = 8192;
    /* lws' header buffer holds twice our limit, so that a head over
     * max_header_bytes is still parsed and answered 431 (http.c); only one
     * that overflows lws' buffer is closed without an answer (lws 4.1 has
     * no hook there). The buffer is malloc'd per head being read and freed
     * after; four times cost ~0.08 KiB per idle connection in the idle
     * bench (6,000 connections, 200 handshakes at once), twice ~0.04. */
    int64_t header_buf = 2 * cfg->max_header_bytes;
    info.max_http_header_data = (unsigned short)(header_buf > 65535 ? 65535 : header_buf);
    /* Each header lws knows is cut at max_header_bytes instead of filling
     * the buffer, so one huge Cookie or Authorization still gets its 431. */
    static struct lws_token_limits token_limits;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        token_limits.token_limit[t] = (unsigned short)cfg->max_header_bytes;
    info.token_limits = &token_limits;
    /* The whole request head must arrive within this (set once when the
     * connection gets its header table, not per byte: slowloris). */
    info.timeout_secs_ah_idle = (unsigned int)cfg->header_timeout_s;
    info.timeout_secs = 30;
    info.retry_and_idle_policy = &idle_policy;
    info.ka_time = 60; /* TCP keepalive: idle seconds, then probes every ka_interval */
    info.ka_probes = 3;
    info.ka_interval = 10;
    n->lws = lws_create_context(&info);
    struct lws_vhost *vh = n->lws ? lws_get_vhost_by_name(n->lws, "default") : NULL;
    n->port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (!n->lws || n->port <= 0) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not a local address?)", cfg->listen);
        ms_net_stop(n); /* the caller runs the loop, then ms_net_free finishes */
        return MS_EIO;
    }
    return 0;
}

int ms_net_port(const ms_net_t *n) {
    return n->port;
}

int ms_net_close_sessions(ms_net_t *n, int code, const char *reason) {
    (void)n;
    int open = ms__ws_close_all(code, reason);
    ms__batch_stop();
    ms__http_stop();
    return open;
}

/* With a foreign libuv loop lws tears its context down over two calls:
 * the first closes its handles (they finish on the loop), the second,
 * after the loop has run, frees the context (lws issues #1969, #2595;
 * minimal-http-server-eventlib-foreign does the same). */
void ms_net_stop(ms_net_t *n) {
    if (n && n->lws && !n->stopping) {
        n->stopping = 1;
        lws_context_destroy(n->lws);
    }
}

void ms_net_free(ms_net_t *n) {
    if (!n)
        return;
    ms_net_stop(n);
    if (n->lws)
        lws_context_destroy(n->lws); /* the loop has run: completes the destroy */
    free(n);
}
