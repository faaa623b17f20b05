/* The little HTTP the bench needs before the load starts: log in (or
 * register) once through the REST API, and probe whether a WebSocket path
 * exists. A blocking HTTP/1.1 exchange with "Connection: close" and a time
 * limit is all that takes; it runs before any worker starts. */
#include "bench/bench.h"
#include "core/buf.h"
#include "core/ms.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_TIMEOUT_MS 10000
#define HTTP_MAX_RESPONSE (1 << 20)

/* Connects to host:port (an IPv4 address) within the time limit. */
static int tcp_connect(const char *host, int port, char *err, size_t errlen) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "%s is not an IPv4 address", host);
        return MS_EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return MS_EIO;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        int e = 0;
        socklen_t el = sizeof e;
        if (poll(&pf, 1, HTTP_TIMEOUT_MS) != 1)
            e = ETIMEDOUT;
        else
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        errno = e;
        rc = e ? -1 : 0;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot connect to %s:%d: %s (is the server running?)", host, port,
                 strerror(errno));
        close(fd);
        return MS_EIO;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads a response until the body is complete (Content-Length), the peer
 * closes, or stop_after_headers and the headers are in. Returns the status
 * and leaves the body in body; MS_EIO on a timeout or a malformed reply. */
static int read_response(int fd, int stop_after_headers, int *status, ms_buf_t *body) {
    ms_buf_t in;
    ms_buf_init(&in);
    long clen = -1;
    size_t hdr_end = 0;
    int rc = MS_EIO;
    for (;;) {
        if (!hdr_end) {
            const char *e = in.len ? strstr(ms_buf_cstr(&in), "\r\n\r\n") : NULL;
            if (e) {
                hdr_end = (size_t)(e - in.data) + 4;
                /* "HTTP/1.x NNN ...": the three digits after the first space. */
                const char *sp = strchr(in.data, ' ');
                char *end = NULL;
                long code = sp && !strncmp(in.data, "HTTP/1.", 7) ? strtol(sp + 1, &end, 10) : -1;
                if (code < 100 || code > 999 || !end || (*end != ' ' && *end != '\r'))
                    goto out;
                *status = (int)code;
                for (const char *h = strstr(in.data, "\r\n"); h && h < e; h = strstr(h + 2, "\r\n"))
                    if (!strncasecmp(h + 2, "content-length:", 15))
                        clen = strtol(h + 17, NULL, 10);
                if (stop_after_headers) {
                    rc = 0;
                    goto out;
                }
            }
        }
        if (hdr_end && clen >= 0 && in.len - hdr_end >= (size_t)clen)
            break;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, HTTP_TIMEOUT_MS) != 1 || in.len > HTTP_MAX_RESPONSE)
            goto out;
        char buf[4096];
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        ms_buf_append(&in, buf, (size_t)k);
    }
    if (!hdr_end)
        goto out;
    ms_buf_append(body, in.data + hdr_end, clen >= 0 ? (size_t)clen : in.len - hdr_end);
    rc = 0;
out:
    ms_buf_free(&in);
    return rc;
}

static int post_json(const char *host, int port, const char *path, const char *json, int *status,
                     ms_buf_t *body, char *err, size_t errlen) {
    int fd = tcp_connect(host, port, err, errlen);
    if (fd < 0)
        return fd;
    ms_buf_t req;
    ms_buf_init(&req);
    ms_buf_printf(&req,
                  "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                  path, host, port, strlen(json), json);
    int rc = send_all(fd, req.data, req.len) == 0 ? read_response(fd, 0, status, body) : MS_EIO;
    explicit_bzero(req.data, req.len);
    ms_buf_free(&req);
    close(fd);
    if (rc)
        snprintf(err, errlen, "%s:%d did not answer %s with HTTP (is it the right server?)", host,
                 port, path);
    return rc;
}

/* The error code of a {"error":{"code"}} body, or "?". */
static void error_code(const ms_buf_t *body, char *out, size_t len) {
    json_error_t je;
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, &je);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(out, len, "%s", c ? c : "(no error code)");
    json_decref(j);
}

static int take_token(const ms_buf_t *body, char **token) {
    json_error_t je;
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, &je);
    const char *t = json_string_value(json_object_get(j, "access_token"));
    *token = t ? ms_xstrdup(t) : NULL;
    json_decref(j);
    return t ? 0 : MS_EINVAL;
}

int ms_bench_login(const char *host, int port, const char *email, const char *password,
                   int register_first, char **token, char *err, size_t errlen) {
    *token = NULL;
    json_t *cred = json_pack("{ssss}", "email", email, "password", password);
    char *body_json = json_dumps(cred, JSON_COMPACT);
    json_decref(cred);
    ms_buf_t body;
    ms_buf_init(&body);
    int status = 0, rc;
    char code[64];
    if (register_first) {
        rc = post_json(host, port, "/api/auth/register", body_json, &status, &body, err, errlen);
        if (rc)
            goto out;
        if (status == 201 && take_token(&body, token) == 0)
            goto out;
        if (status != 409) {
            error_code(&body, code, sizeof code);
            snprintf(err, errlen, "registration failed: HTTP %d %s", status, code);
            rc = status == 403 ? MS_EAUTH : MS_EINVAL;
            goto out;
        }
        ms_buf_reset(&body); /* 409: the user exists already; log in */
    }
    rc = post_json(host, port, "/api/auth/login", body_json, &status, &body, err, errlen);
    if (rc)
        goto out;
    if (status == 200 && take_token(&body, token) == 0)
        goto out;
    error_code(&body, code, sizeof code);
    snprintf(err, errlen, "login failed: HTTP %d %s%s", status, code,
             status == 401   ? " (wrong email or password; --register creates the user)"
             : status == 429 ? " (rate limited; see serve --login-rate-per-min)"
             : status == 404 ? " (no /api/auth/login: not medstream? --dialect voiceassist "
                               "needs no login)"
                             : "");
    rc = status == 401 ? MS_EAUTH : status == 429 ? MS_EBUSY : MS_EINVAL;
out:
    explicit_bzero(body_json, strlen(body_json));
    free(body_json);
    ms_buf_free(&body);
    return rc;
}

int ms_bench_probe(const char *host, int port, const char *path, const char *token, char *err,
                   size_t errlen) {
    int fd = tcp_connect(host, port, err, errlen);
    if (fd < 0)
        return MS_EIO;
    ms_buf_t req, body;
    ms_buf_init(&req);
    ms_buf_init(&body);
    ms_buf_printf(&req,
                  "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
                  path, host, port);
    if (token)
        ms_buf_printf(&req, "Authorization: Bearer %s\r\n", token);
    ms_buf_puts(&req, "\r\n");
    int status = 0;
    int rc = send_all(fd, req.data, req.len) == 0 ? read_response(fd, 1, &status, &body) : MS_EIO;
    explicit_bzero(req.data, req.len);
    ms_buf_free(&req);
    ms_buf_free(&body);
    close(fd);
    if (rc) {
        snprintf(err, errlen, "%s:%d did not answer the upgrade with HTTP", host, port);
        return MS_EIO;
    }
    return status == 101;
}
