/* Runs rxcheck.c's scanner on every byte a WebSocket client sends, before
 * libwebsockets parses it.
 *
 * Why here: lws 4.1 reads each connection with recv(2) (lws_ssl_capable_read
 * _no_ssl) and has no public hook between the socket and its frame parser;
 * the facts the missing checks need (the MASK bit, the raw close payload)
 * are private to it (struct _lws_websocket_related). We cannot change the
 * library (Debian's 4.1.6), so medstream defines recv(2) itself: the
 * dynamic linker binds lws' call to the executable's definition first
 * (symbol interposition, as sanitizers and libfaketime do), and ours calls
 * the next definition (libc's, or a sanitizer's) through dlsym(RTLD_NEXT).
 *
 * The cost for everyone else is one bounds check and one table load per
 * recv(): only sockets of established server WebSocket sessions are in the
 * table, and for those the scanner skips payload in bulk (it reads header
 * bytes, and close payloads, only). The table is written on the loop thread
 * only; any other thread's recv() finds its own fds absent.
 *
 * Alternatives weighed: reading the sockets ourselves on a dup()ed fd would
 * double the descriptors per connection (18,000 idle connections are
 * benchmarked against a 20,000 limit); duplicating lws' parser in full
 * would make two parsers that can disagree; accepting unmasked frames is
 * what RFC 6455 section 5.1 forbids.
 *
 * Limit: bytes a client sends in the same segment as its handshake request
 * are read by lws with the request, before the session exists, and are
 * checked by lws alone. RFC 6455 section 4.1 has a client wait for the
 * server's response before it sends frames, so only a non-conforming
 * client's first frames escape. */
#include "core/log.h"
#include "net/internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

typedef ssize_t (*recv_fn)(int, void *, size_t, int);

static _Atomic(recv_fn) real_recv;
static ms_session_t **_Atomic table; /* by fd; NULL entries for everything else */
static atomic_int table_cap;

static recv_fn next_recv(void) {
    recv_fn f = atomic_load_explicit(&real_recv, memory_order_acquire);
    if (!f) {
        f = (recv_fn)dlsym(RTLD_NEXT, "recv");
        if (!f)
            abort(); /* no libc recv: nothing can work */
        atomic_store_explicit(&real_recv, f, memory_order_release);
    }
    return f;
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ssize_t n = next_recv()(fd, buf, len, flags);
    if (n <= 0 || (flags & MSG_PEEK) || fd < 0 ||
        fd >= atomic_load_explicit(&table_cap, memory_order_acquire))
        return n;
    ms_session_t *s = atomic_load_explicit(&table, memory_order_relaxed)[fd];
    if (!s)
        return n;
    size_t ok = ms__ws_rx_filter(s, buf, (size_t)n);
    if (ok == 0) {
        /* Nothing lws may parse (what arrived is discarded): as if nothing
         * had arrived yet; the session closes on its own. */
        errno = EAGAIN;
        return -1;
    }
    return (ssize_t)ok;
}

void ms__rxguard_add(ms_session_t *s, int fd) {
    s->fd = -1;
    if (!atomic_load(&table)) {
        struct rlimit rl;
        rlim_t cap = 65536;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            cap = rl.rlim_cur;
        if (cap > (1u << 22))
            cap = 1u << 22;
        next_recv();
        atomic_store(&table, ms_xcalloc((size_t)cap, sizeof(ms_session_t *)));
        atomic_store_explicit(&table_cap, (int)cap, memory_order_release);
    }
    if (fd < 0 || fd >= atomic_load(&table_cap)) {
        ms_log(MS_LOG_WARN, "ws_rx_unchecked", "\"fd\":%d", fd);
        return;
    }
    atomic_load(&table)[fd] = s;
    s->fd = fd;
}

void ms__rxguard_remove(ms_session_t *s) {
    if (s->fd >= 0 && atomic_load(&table)[s->fd] == s)
        atomic_load(&table)[s->fd] = NULL;
    s->fd = -1;
}
