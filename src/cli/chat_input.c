/* The stdin and Ctrl-C reader of `medstream chat` (see chat_input.h). */
#include "cli/chat_input.h"

#include "core/buf.h"
#include "core/ms.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A line longer than this is handed over in pieces rather than growing the
 * buffer without bound; the server refuses questions past 8000 characters
 * anyway (max_message_chars). */
#define INPUT_MAX_LINE ((size_t)1024 * 1024)

/* Bytes written to the self-pipe. */
#define PIPE_INTERRUPT 'I'
#define PIPE_QUIT 'Q'

typedef struct input_event {
    ms_cli_input_kind_t kind;
    char *line;
    struct input_event *next;
} input_event_t;

struct ms_cli_input {
    int fd;
    int pipe_rd, pipe_wr;
    ms_buf_t rbuf; /* read, not yet returned; touched by one thread at a time */
    size_t rpos;
    bool eof;
    bool started;
    pthread_t thread;
    pthread_mutex_t mu; /* guards head and tail */
    input_event_t *head, *tail;
    void (*wake)(void *arg);
    void *wake_arg;
    struct sigaction old_sigint;
};

/* The write end of the self-pipe, for the signal handler. */
static volatile int g_pipe_wr = -1;

static void sigint_cb(int sig) {
    (void)sig;
    int saved = errno;
    char c = PIPE_INTERRUPT;
    if (g_pipe_wr >= 0)
        (void)!write(g_pipe_wr, &c, 1);
    errno = saved;
}

ms_cli_input_t *ms_cli_input_new(int fd) {
    ms_cli_input_t *in = ms_xcalloc(1, sizeof *in);
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(in);
        return NULL;
    }
    in->fd = fd;
    in->pipe_rd = p[0];
    in->pipe_wr = p[1];
    ms_buf_init(&in->rbuf);
    pthread_mutex_init(&in->mu, NULL);
    g_pipe_wr = in->pipe_wr;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sigint_cb;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &in->old_sigint);
    return in;
}

/* Returns the next complete line from the buffer, or NULL. */
static char *take_buffered_line(ms_cli_input_t *in, bool at_eof) {
    size_t avail = in->rbuf.len - in->rpos;
    if (avail == 0)
        return NULL;
    const char *start = in->rbuf.data + in->rpos;
    const char *nl = memchr(start, '\n', avail);
    size_t n;
    if (nl)
        n = (size_t)(nl - start);
    else if (at_eof || avail >= INPUT_MAX_LINE)
        n = avail;
    else
        return NULL;
    in->rpos += n + (nl ? 1 : 0);
    if (n > 0 && start[n - 1] == '\r')
        n--;
    char *line = ms_xstrndup(start, n);
    if (in->rpos == in->rbuf.len) {
        ms_buf_reset(&in->rbuf);
        in->rpos = 0;
    }
    return line;
}

/* Waits for a line, end of input or a pipe byte. Returns 0 (line),
 * MS_ENOENT (end of input), MS_ECANCELED (interrupt) or MS_EIO (quit). */
static int read_line(ms_cli_input_t *in, char **line) {
    for (;;) {
        if ((*line = take_buffered_line(in, in->eof)) != NULL)
            return 0;
        struct pollfd pfd[2] = {{.fd = in->pipe_rd, .events = POLLIN},
                                {.fd = in->fd, .events = POLLIN}};
        int n = poll(pfd, in->eof ? 1 : 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return MS_EIO;
        if (pfd[0].revents & POLLIN) {
            char c;
            if (read(in->pipe_rd, &c, 1) == 1)
                return c == PIPE_QUIT ? MS_EIO : MS_ECANCELED;
        }
        if (!in->eof && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char tmp[4096];
            ssize_t r = read(in->fd, tmp, sizeof tmp);
            if (r > 0)
                ms_buf_append(&in->rbuf, tmp, (size_t)r);
            else if (r == 0 || (errno != EINTR && errno != EAGAIN))
                in->eof = true;
        }
        if (in->eof && in->rpos == in->rbuf.len)
            return MS_ENOENT;
    }
}

int ms_cli_input_read_line(ms_cli_input_t *in, char **line) {
    int rc = read_line(in, line);
    return rc == MS_EIO ? MS_ECANCELED : rc;
}

static void push(ms_cli_input_t *in, ms_cli_input_kind_t kind, char *line) {
    input_event_t *ev = ms_xcalloc(1, sizeof *ev);
    ev->kind = kind;
    ev->line = line;
    pthread_mutex_lock(&in->mu);
    if (in->tail)
        in->tail->next = ev;
    else
        in->head = ev;
    in->tail = ev;
    pthread_mutex_unlock(&in->mu);
    in->wake(in->wake_arg);
}

static void *reader_main(void *arg) {
    ms_cli_input_t *in = arg;
    bool eof_sent = false;
    for (;;) {
        char *line = NULL;
        int rc = read_line(in, &line);
        if (rc == 0) {
            push(in, MS_CLI_INPUT_LINE, line);
        } else if (rc == MS_ENOENT) {
            /* After the end of input only the pipe is watched. */
            if (!eof_sent)
                push(in, MS_CLI_INPUT_EOF, NULL);
            eof_sent = true;
        } else if (rc == MS_ECANCELED) {
            push(in, MS_CLI_INPUT_INTERRUPT, NULL);
        } else {
            return NULL;
        }
    }
}

int ms_cli_input_start(ms_cli_input_t *in, void (*wake)(void *arg), void *arg) {
    in->wake = wake;
    in->wake_arg = arg;
    if (pthread_create(&in->thread, NULL, reader_main, in) != 0)
        return MS_EIO;
    in->started = true;
    return 0;
}

int ms_cli_input_next(ms_cli_input_t *in, ms_cli_input_kind_t *kind, char **line) {
    pthread_mutex_lock(&in->mu);
    input_event_t *ev = in->head;
    if (ev) {
        in->head = ev->next;
        if (!in->head)
            in->tail = NULL;
    }
    pthread_mutex_unlock(&in->mu);
    if (!ev)
        return MS_ENOENT;
    *kind = ev->kind;
    *line = ev->line;
    free(ev);
    return 0;
}

void ms_cli_input_free(ms_cli_input_t *in) {
    if (!in)
        return;
    sigaction(SIGINT, &in->old_sigint, NULL);
    g_pipe_wr = -1;
    if (in->started) {
        char c = PIPE_QUIT;
        /* The pipe is non-blocking and nearly empty; a full one means the
         * thread already has a byte to wake on. */
        (void)!write(in->pipe_wr, &c, 1);
        pthread_join(in->thread, NULL);
    }
    input_event_t *ev = in->head;
    while (ev) {
        input_event_t *next = ev->next;
        free(ev->line);
        free(ev);
        ev = next;
    }
    close(in->pipe_rd);
    close(in->pipe_wr);
    ms_buf_free(&in->rbuf);
    pthread_mutex_destroy(&in->mu);
    free(in);
}
