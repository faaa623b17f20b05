/* Write batching: every WebSocket message a session is sent during one loop
 * iteration goes out in one write, framed here (RFC 6455 section 5.2: FIN +
 * text opcode, unmasked, 7/16/64-bit length), and handed to lws as raw bytes
 * (lws sends LWS_WRITE_HTTP writes on a WebSocket connection unframed). A
 * stream that produces several chunks per iteration then costs one send()
 * instead of one per chunk. Flushing happens in a uv_check handle, after the
 * iteration's timers and I/O, so batching adds no waiting. */
#include "core/ms.h"
#include "net/internal.h"

#include <string.h>

static uv_check_t flush_check;
static int flush_started;
static int flush_stopped;     /* after shutdown: write at once, start nothing */
static ms_session_t *pending; /* sessions with unflushed bytes, via flush_next */

/* Bytes beyond which a session's batch is written without waiting for the
 * end of the iteration. */
#define BATCH_MAX ((size_t)256 * 1024)

int ms__batch_flush(ms_session_t *s) {
    if (s->out.len <= LWS_PRE)
        return 0;
    if (lws_get_close_length(s->wsi) > 0) {
        /* lws is failing the connection (a protocol error it found, with
         * lws_close_reason): its close frame may already be out, and nothing
         * may follow a close frame (RFC 6455 section 5.5.1). */
        ms_buf_free(&s->out);
        return -1;
    }
    size_t len = s->out.len - LWS_PRE;
    int n = lws_write(s->wsi, (unsigned char *)s->out.data + LWS_PRE, len, LWS_WRITE_HTTP);
    /* A streaming session keeps a small buffer for its next batch (no
     * allocation per chunk); an idle one gives it back, since idle
     * connections are what there are many of. */
    if (s->out.cap > (size_t)16 * 1024 || !ms__session_streaming(s))
        ms_buf_free(&s->out);
    else
        ms_buf_reset(&s->out);
    if (n < (int)len) {
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return -1;
    }
    return 0;
}

static void unlist(ms_session_t *s) {
    for (ms_session_t **pp = &pending; *pp; pp = &(*pp)->flush_next) {
        if (*pp == s) {
            *pp = s->flush_next;
            break;
        }
    }
    s->flush_next = NULL;
    s->flush_pending = 0;
}

int ms__batch_flush_now(ms_session_t *s) {
    if (s->flush_pending)
        unlist(s);
    return ms__batch_flush(s);
}

static void flush_cb(uv_check_t *h) {
    (void)h;
    while (pending) {
        ms_session_t *s = pending;
        pending = s->flush_next;
        s->flush_next = NULL;
        s->flush_pending = 0;
        ms__batch_flush(s);
    }
}

void ms__batch_append(ms_session_t *s, const char *data, size_t len) {
    int was_empty = s->out.len <= LWS_PRE;
    if (s->out.len == 0) {
        /* LWS_PRE bytes of headroom that lws may use in front of a write. */
        ms_buf_reserve(&s->out, LWS_PRE + 10 + len);
        s->out.len = LWS_PRE;
    }
    unsigned char h[10];
    size_t hl;
    h[0] = 0x81; /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)len;
        hl = 2;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    ms_buf_append(&s->out, h, hl);
    ms_buf_append(&s->out, data, len);
    if ((s->out.len - LWS_PRE > BATCH_MAX && !s->pong_due && s->api->cfg->ws_write[0] != 'w') ||
        flush_stopped) {
        if (s->flush_pending)
            unlist(s);
        ms__batch_flush(s);
        return;
    }
    if (s->pong_due || s->api->cfg->ws_write[0] == 'w') {
        /* lws has a pong to write first (it writes pongs from its writable
         * handler), or writes wait for writability (--ws-write writable):
         * the batch goes from on_writable, behind the pong. Asking once per
         * batch is enough: on_writable writes all of it. */
        if (was_empty || s->pong_due)
            lws_callback_on_writable(s->wsi);
        return;
    }
    if (!s->flush_pending) {
        s->flush_pending = 1;
        s->flush_next = pending;
        pending = s;
    }
    if (!flush_started) {
        uv_check_init(s->api->loop, &flush_check);
        uv_check_start(&flush_check, flush_cb);
        uv_unref((uv_handle_t *)&flush_check);
        flush_started = 1;
    }
}

void ms__batch_forget(ms_session_t *s) {
    if (s->flush_pending)
        unlist(s);
    ms_buf_free(&s->out);
}

void ms__batch_stop(void) {
    flush_stopped = 1;
    flush_cb(NULL);
    if (!flush_started)
        return;
    flush_started = 0;
    uv_check_stop(&flush_check);
    uv_close((uv_handle_t *)&flush_check, NULL);
}
