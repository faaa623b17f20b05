/* What every dialect codec shares: the frame list an encoder fills, JSON
 * field helpers for decoders and encoders, and the mapping from a dialect's
 * session id to a conversation. */
#include "proto/internal.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms_frames_reset(ms_frames_t *f) {
    ms_buf_reset(&f->buf);
    f->n = 0;
}

void ms_frames_end(ms_frames_t *f) {
    if (f->n == MS_FRAMES_MAX) {
        fprintf(stderr, "medstream: an encoder wrote more than %d frames for one event\n",
                MS_FRAMES_MAX);
        abort();
    }
    f->ends[f->n++] = f->buf.len;
}

const char *ms_frames_get(const ms_frames_t *f, size_t i, size_t *len) {
    size_t from = i ? f->ends[i - 1] : 0;
    *len = f->ends[i] - from;
    return f->buf.data + from;
}

void ms_frames_free(ms_frames_t *f) {
    ms_buf_free(&f->buf);
    f->n = 0;
}

/* The session-mapping key: set once at start-up from the server's secret
 * (ms_dialect_set_session_key), read-only afterwards. Until then a random
 * key, so an unset key is never a known one. */
static unsigned char session_key[crypto_generichash_KEYBYTES];
static int session_key_set;

void ms_dialect_set_session_key(const unsigned char *secret, size_t len) {
    /* A sub-key, so the JWT signing key itself is never used for anything
     * else (domain separation). */
    static const char label[] = "medstream dialect session key v2";
    crypto_generichash(session_key, sizeof session_key, (const unsigned char *)label,
                       sizeof label - 1, secret,
                       len < crypto_generichash_KEYBYTES_MIN   ? crypto_generichash_KEYBYTES_MIN
                       : len > crypto_generichash_KEYBYTES_MAX ? crypto_generichash_KEYBYTES_MAX
                                                               : len);
    session_key_set = 1;
}

void ms_dialect_session_conversation(const char *user_id, const char *session,
                                     char out[MS_ID_LEN]) {
    if (!session_key_set) {
        randombytes_buf(session_key, sizeof session_key);
        session_key_set = 1;
    }
    /* Keyed BLAKE2b (a MAC) over (user id, NUL, session): without the key
     * nobody can compute which conversation id a user's session will get,
     * so nobody can create it first (session squatting), and two users'
     * sessions of the same name never meet. */
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, session_key, sizeof session_key, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)user_id, strlen(user_id) + 1);
    crypto_generichash_update(&st, (const unsigned char *)session, strlen(session));
    crypto_generichash_final(&st, h, sizeof h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x80); /* version 8 (RFC 9562 section 5.8) */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* variant 10 */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
}

void ms__proto_set_session(ms_client_msg_t *m, const char *user_id, const char *session) {
    char conv[MS_ID_LEN];
    ms_dialect_session_conversation(user_id, session, conv);
    free(m->conversation_id);
    m->conversation_id = ms_xstrdup(conv);
    m->create_conversation = 1;
    free(m->conversation_alias);
    m->conversation_alias = NULL;
    size_t n = strlen(session);
    if (n == MS_ID_LEN - 1) {
        char lower[MS_ID_LEN];
        for (size_t i = 0; i <= n; i++)
            lower[i] =
                (char)(session[i] >= 'A' && session[i] <= 'F' ? session[i] + 32 : session[i]);
        if (ms_id_valid(lower))
            m->conversation_alias = ms_xstrdup(lower);
    }
}

int ms__proto_parse(const char *frame, size_t len, json_t **root, const char **type, char *errmsg,
                    size_t errlen) {
    json_error_t je;
    json_t *r = json_loadb(frame, len, JSON_REJECT_DUPLICATES, &je);
    json_t *t = r ? json_object_get(r, "type") : NULL;
    if (!r || !json_is_object(r) || !json_is_string(t)) {
        snprintf(errmsg, errlen, "frame is not a JSON object with a string \"type\"");
        json_decref(r);
        return MS_EFORMAT;
    }
    *root = r;
    *type = json_string_value(t);
    return 0;
}

int ms__proto_decode(void *state, const char *frame, size_t len, const ms_decode_limits_t *lim,
                     const ms__decode_route_t *routes, ms_client_msg_t *out, char *errmsg,
                     size_t errlen) {
    memset(out, 0, sizeof *out);
    json_t *root;
    const char *t;
    if (ms__proto_parse(frame, len, &root, &t, errmsg, errlen))
        return MS_EFORMAT;
    const ms__decode_route_t *r = routes;
    while (r->type && strcmp(r->type, t) != 0)
        r++;
    int rc = 0;
    if (!r->type) {
        snprintf(errmsg, errlen, "Unknown message type: %.*s", ms__proto_quote_len(t, 40), t);
        rc = MS_EINVAL;
    } else if (!r->fn) {
        out->kind = MS_CMSG_PING;
    } else {
        rc = r->fn(state, root, lim, out, errmsg, errlen);
    }
    json_decref(root);
    if (rc)
        ms_client_msg_clear(out);
    return rc;
}

int ms__proto_get_str(json_t *o, const char *key, int required, size_t maxlen, char **out,
                      char *errmsg, size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(errmsg, errlen, "missing field \"%s\"", key);
            return MS_EINVAL;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(errmsg, errlen, "field \"%s\" must be a string", key);
        return MS_EINVAL;
    }
    size_t len = json_string_length(v);
    if (len == 0 || len > maxlen) {
        snprintf(errmsg, errlen, "field \"%s\" must be 1 to %zu bytes", key, maxlen);
        return MS_EINVAL;
    }
    if (memchr(json_string_value(v), '\0', len)) {
        snprintf(errmsg, errlen, "field \"%s\" contains a NUL character", key);
        return MS_EINVAL;
    }
    *out = ms_xstrndup(json_string_value(v), len);
    return 0;
}

int ms__proto_get_text(json_t *o, const char *key, const ms_decode_limits_t *lim, char **out,
                       char *errmsg, size_t errlen) {
    int rc = ms__proto_get_str(o, key, 1, lim->max_message_chars * 4, out, errmsg, errlen);
    if (rc)
        return rc;
    long chars = ms_utf8_count(*out, strlen(*out));
    if (chars < 0 || (size_t)chars > lim->max_message_chars) {
        snprintf(errmsg, errlen,
                 chars < 0 ? "%s is not valid UTF-8" : "%s is longer than %zu characters", key,
                 lim->max_message_chars);
        free(*out);
        *out = NULL;
        return MS_EINVAL;
    }
    return 0;
}

int ms__proto_quote_len(const char *s, int max) {
    int n = (int)strnlen(s, (size_t)max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

void ms__proto_new_cmid(ms_client_msg_t *m) {
    char id[MS_ID_LEN];
    ms_id_new(id);
    free(m->client_message_id);
    m->client_message_id = ms_xstrdup(id);
}

void ms__proto_put_str(ms_buf_t *b, const char *name, const char *v) {
    ms_buf_putc(b, ',');
    ms_buf_json_str(b, name, strlen(name));
    ms_buf_putc(b, ':');
    if (v)
        ms_buf_json_str(b, v, strlen(v));
    else
        ms_buf_puts(b, "null");
}

void ms__proto_put_json(ms_buf_t *b, const char *name, json_t *v) {
    ms_buf_putc(b, ',');
    ms_buf_json_str(b, name, strlen(name));
    ms_buf_putc(b, ':');
    char *enc = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    ms_buf_puts(b, enc ? enc : "null");
    free(enc);
}

void ms__proto_put_int(ms_buf_t *b, int64_t v) {
    char d[24];
    size_t i = sizeof d;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--i] = '-';
    ms_buf_append(b, d + i, sizeof d - i);
}

void ms__proto_put_now(ms_buf_t *b, const char *name) {
    char ts[40];
    ms_time_iso(ms_now_ms(), ts, sizeof ts);
    ms__proto_put_str(b, name, ts);
}

const char *ms__proto_data_str(const ms_event_t *ev, const char *key) {
    return json_string_value(json_object_get(ev->data, key));
}

int64_t ms__proto_data_int(const ms_event_t *ev, const char *key, int64_t dflt) {
    json_t *v = json_object_get(ev->data, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)llround(json_real_value(v));
    return dflt;
}

int ms__proto_telemetry_off(const ms_dialect_conn_t *conn) {
    /* Room for the longest argument before it (lws stops looking at the
     * first argument that does not fit: a ?token= is hundreds of bytes). */
    char buf[2048];
    const char *v =
        conn && conn->query_arg ? conn->query_arg(conn, "telemetry", buf, sizeof buf) : NULL;
    return v && (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "no"));
}

int ms__proto_is_telemetry(ms_event_kind_t kind) {
    return kind == MS_EV_LLM_CALL || kind == MS_EV_LLM_RESULT || kind == MS_EV_ROUTING;
}
