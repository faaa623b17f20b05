/* tcp-floor: what the kernel alone costs to deliver small messages over
 * loopback TCP, one send() each, on this machine. No WebSocket, no server:
 * a sender process writes a `--bytes` message on each of `--connections`
 * connections in turn (TCP_NODELAY, one send() per message, or
 * `--per-send` messages per send()), and a receiver process reads them with
 * epoll. It is the ceiling for any server that writes each chunk of a paced
 * stream as its own TCP segment, with the load generator on the same cores.
 *
 *   tcp-floor [--connections N] [--seconds S] [--bytes B] [--per-send K]
 *             [--source-base 127.0.254.1] [--json]
 *
 * Prints messages per second delivered (bytes received / B, timed from the
 * receiver's first to its last read) and the CPU time (user + system,
 * getrusage) both processes spent per delivered message. Exit status: 0,
 * 1 on a system error, 2 on bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    long long bytes;
    double first, last; /* monotonic seconds of the first and last read */
    double cpu_s;
} recv_report_t;

static double mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

static void usage(FILE *f) {
    fputs("usage: tcp-floor [--connections N] [--seconds S] [--bytes B] [--per-send K]\n"
          "                 [--source-base ADDR] [--json]\n"
          "Kernel cost of small messages over loopback TCP (see bench/tcp_floor.c).\n"
          "  --connections N   connections, each message goes to the next one [9000]\n"
          "  --seconds S       how long the sender sends [3]\n"
          "  --bytes B         message size in bytes, 1..65536 [70]\n"
          "  --per-send K      messages per send() call, 1..64 [1]\n"
          "  --source-base A   first client source address (127.x.y.z) [127.0.254.1]\n"
          "  --json            print one JSON object instead of text\n",
          f);
}

static int die(const char *what) {
    fprintf(stderr, "tcp-floor: %s: %s\n", what, strerror(errno));
    return 1;
}

/* The receiver: reads every connection until each has reported EOF, then
 * writes its report to fd out. Runs in the child. */
static int receive_all(int *fds, int n, int out) {
    int ep = epoll_create1(0);
    if (ep < 0)
        return die("epoll_create1");
    for (int i = 0; i < n; i++) {
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) != 0)
            return die("epoll_ctl");
    }
    recv_report_t r = {0};
    static char buf[1 << 16];
    struct epoll_event ev[1024];
    int open = n;
    while (open > 0) {
        int k = epoll_wait(ep, ev, 1024, 30000);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return die("epoll_wait (no data for 30 s)");
        for (int i = 0; i < k; i++) {
            ssize_t got = read(ev[i].data.fd, buf, sizeof buf);
            if (got > 0) {
                double t = mono_s();
                if (r.bytes == 0)
                    r.first = t;
                r.last = t;
                r.bytes += got;
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
                close(ev[i].data.fd);
                open--;
            }
        }
    }
    r.cpu_s = cpu_s();
    if (write(out, &r, sizeof r) != (ssize_t)sizeof r)
        return die("write report");
    return 0;
}

int main(int argc, char **argv) {
    long n = 9000, bytes = 70, per_send = 1;
    double seconds = 3;
    const char *source_base = "127.0.254.1";
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        /* Every other option takes a value: an integer, seconds, or an address. */
        long *integer = !strcmp(a, "--connections") ? &n
                        : !strcmp(a, "--bytes")     ? &bytes
                        : !strcmp(a, "--per-send")  ? &per_send
                                                    : NULL;
        int is_seconds = !strcmp(a, "--seconds"), is_source = !strcmp(a, "--source-base");
        if (!integer && !is_seconds && !is_source) {
            fprintf(stderr, "tcp-floor: unknown option %s (try --help)\n", a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "tcp-floor: %s needs a value\n", a);
            return 2;
        }
        i++;
        errno = 0;
        if (is_source) {
            source_base = v;
            continue;
        }
        if (integer)
            *integer = strtol(v, &end, 10);
        else
            seconds = strtod(v, &end);
        if (errno || !end || *end) {
            fprintf(stderr, "tcp-floor: %s: not a number: %s\n", a, v);
            return 2;
        }
    }
    struct in_addr src;
    if (n < 1 || n > 1000000 || bytes < 1 || bytes > 65536 || per_send < 1 || per_send > 64 ||
        !(seconds > 0 && seconds <= 600) || inet_pton(AF_INET, source_base, &src) != 1) {
        fprintf(stderr, "tcp-floor: value out of range (try --help)\n");
        return 2;
    }
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        if ((rlim_t)(2 * n + 16) > lim.rlim_cur) {
            fprintf(stderr, "tcp-floor: %ld connections need %ld open files; the limit is %llu\n",
                    n, 2 * n + 16, (unsigned long long)lim.rlim_cur);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(l, 4096) != 0 ||
        getsockname(l, (struct sockaddr *)&addr, &alen) != 0)
        return die("listen");
    int *cli = calloc((size_t)n, sizeof(int)), *srv = calloc((size_t)n, sizeof(int));
    if (!cli || !srv)
        return die("calloc");
    int one = 1;
    for (long i = 0; i < n; i++) {
        /* 20,000 connections per source address stay inside the ephemeral
         * port range. */
        struct sockaddr_in from = {.sin_family = AF_INET,
                                   .sin_addr.s_addr =
                                       htonl(ntohl(src.s_addr) + (uint32_t)(i / 20000))};
        cli[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (cli[i] < 0 || bind(cli[i], (struct sockaddr *)&from, sizeof from) != 0 ||
            connect(cli[i], (struct sockaddr *)&addr, sizeof addr) != 0)
            return die("connect");
        srv[i] = accept(l, NULL, NULL);
        if (srv[i] < 0)
            return die("accept");
        setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    close(l);

    int report[2];
    if (pipe(report) != 0)
        return die("pipe");
    pid_t child = fork();
    if (child < 0)
        return die("fork");
    if (child == 0) {
        for (long i = 0; i < n; i++)
            close(srv[i]);
        _exit(receive_all(cli, (int)n, report[1]));
    }
    for (long i = 0; i < n; i++)
        close(cli[i]);

    size_t chunk = (size_t)(bytes * per_send);
    char *msg = malloc(chunk);
    if (!msg)
        return die("malloc");
    memset(msg, 'x', chunk);
    double cpu0 = cpu_s(), t0 = mono_s(), t = t0;
    long long sends = 0;
    while (t - t0 < seconds) {
        for (long i = 0; i < n; i++) {
            /* Blocking sockets: a full receive buffer makes the sender
             * wait, as a server's queue would. */
            ssize_t w = send(srv[i], msg, chunk, 0);
            if (w < 0)
                return die("send");
            sends++;
        }
        t = mono_s();
    }
    double sender_cpu = cpu_s() - cpu0, send_s = t - t0;
    for (long i = 0; i < n; i++)
        close(srv[i]);
    recv_report_t r;
    if (read(report[0], &r, sizeof r) != (ssize_t)sizeof r) {
        fprintf(stderr, "tcp-floor: the receiver failed\n");
        return 1;
    }
    int status = 0;
    waitpid(child, &status, 0);

    double msgs = (double)r.bytes / (double)bytes;
    double span = r.last > r.first ? r.last - r.first : send_s;
    double rate = msgs / span;
    double us_per_msg = (sender_cpu + r.cpu_s) * 1e6 / msgs;
    if (json) {
        printf("{\"connections\":%ld,\"bytes\":%ld,\"per_send\":%ld,\"seconds\":%.3f,"
               "\"messages\":%.0f,\"messages_per_s\":%.0f,\"sends_per_s\":%.0f,"
               "\"sender_cpu_s\":%.3f,\"receiver_cpu_s\":%.3f,\"cpu_us_per_message\":%.3f}\n",
               n, bytes, per_send, send_s, msgs, rate, (double)sends / send_s, sender_cpu, r.cpu_s,
               us_per_msg);
    } else {
        printf(
            "%ld connections, %ld-byte messages, %ld per send(): %.0f messages/s delivered\n"
            "CPU (user+system) per delivered message: %.2f us (sender %.2f s, receiver %.2f s)\n",
            n, bytes, per_send, rate, us_per_msg, sender_cpu, r.cpu_s);
    }
    free(msg);
    free(cli);
    free(srv);
    return 0;
}
