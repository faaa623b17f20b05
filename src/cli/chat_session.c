/* Protocol v1 logic of `medstream chat` (see chat_session.h). */
#include "cli/chat_session.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Retryable errors (`busy`) are retried this many times for one question. */
#define SESSION_MAX_RETRIES 6
/* Requests for one answer (message or resume on a fresh connection) that
 * brought no new text before the connection died again. A server that
 * closes every connection on which this question is asked would
 * otherwise be asked forever. */
#define SESSION_MAX_FRUITLESS 8
/* Connection attempts in a row before the run gives up. */
#define SESSION_MAX_ATTEMPTS 10

void ms_cli_chat_answer_reset(ms_cli_chat_answer_t *a) {
    free(a->question);
    free(a->message_id);
    ms_buf_free(&a->printed);
    memset(a, 0, sizeof *a);
}

int64_t ms_cli_chat_session_backoff_ms(int attempt) {
    int64_t d = 250;
    for (int i = 0; i < attempt && d < 8000; i++)
        d *= 2;
    if (d > 8000)
        d = 8000;
    return d + (int64_t)randombytes_uniform((uint32_t)(d / 4 + 1));
}

void ms_cli_chat_session_quit(ms_cli_chat_t *c, int exit_code) {
    if (c->quitting)
        return;
    c->quitting = true;
    c->exit_code = exit_code;
    /* A normal close (1000) is polite but not worth waiting long for. */
    c->quit_deadline_ms = ms_mono_ms() + 2000;
    if (ms_cli_chat_ws_active(c->ws))
        ms_cli_chat_ws_close(c->ws);
    else
        c->done = true;
}

static void send_json(ms_cli_chat_t *c, json_t *msg) {
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (s)
        ms_cli_chat_ws_send(c->ws, s);
    free(s);
}

static void send_cancel(ms_cli_chat_t *c) {
    ms_cli_chat_answer_t *a = &c->ans;
    if (!c->ready || !a->message_id || a->cancel_sent)
        return;
    send_json(c, json_pack("{s:s, s:s}", "type", "cancel", "message_id", a->message_id));
    a->cancel_sent = true;
}

void ms_cli_chat_session_request(ms_cli_chat_t *c) {
    ms_cli_chat_answer_t *a = &c->ans;
    if (!a->active || !c->ready || a->requested)
        return;
    if (a->message_id) {
        send_json(c, json_pack("{s:s, s:s, s:I}", "type", "resume", "message_id", a->message_id,
                               "last_seq", (json_int_t)a->last_seq));
    } else {
        json_t *m = json_pack("{s:s, s:s, s:s}", "type", "message", "text", a->question,
                              "client_message_id", a->client_message_id);
        if (c->conversation_id)
            json_object_set_new(m, "conversation_id", json_string(c->conversation_id));
        send_json(c, m);
    }
    a->requested = true;
    a->retry_at_ms = 0;
    a->fruitless++;
    if (a->cancel_wanted)
        send_cancel(c);
}

void ms_cli_chat_session_next(ms_cli_chat_t *c) {
    if (c->ans.active || c->npending == 0 || c->quitting)
        return;
    ms_cli_chat_answer_t *a = &c->ans;
    ms_cli_chat_answer_reset(a);
    a->active = true;
    a->question = c->pending[0];
    memmove(c->pending, c->pending + 1, (c->npending - 1) * sizeof *c->pending);
    c->npending--;
    ms_id_new(a->client_message_id);
    ms_cli_chat_session_request(c);
}

void ms_cli_chat_session_interrupt(ms_cli_chat_t *c) {
    ms_cli_chat_answer_t *a = &c->ans;
    if (!a->active || a->cancel_wanted) {
        if (c->tty_in)
            fputc('\n', c->out);
        ms_cli_chat_session_quit(c, 0);
        return;
    }
    a->cancel_wanted = true;
    send_cancel(c);
}

/* Ends the current question with an error printed on stderr. */
static void fail_answer(ms_cli_chat_t *c, const char *code, const char *message) {
    if (c->ans.printed.len > 0)
        fputc('\n', c->out);
    fflush(c->out);
    fprintf(stderr, "medstream chat: %s%s%s\n", code, message ? ": " : "", message ? message : "");
    c->failed_any = true;
    ms_cli_chat_answer_reset(&c->ans);
    c->prompt_shown = false;
}

static void set_conversation(ms_cli_chat_t *c, const char *id) {
    if (!id || (c->conversation_id && strcmp(c->conversation_id, id) == 0))
        return;
    free(c->conversation_id);
    c->conversation_id = ms_xstrdup(id);
}

static bool is_ours(const ms_cli_chat_t *c, const char *message_id) {
    return c->ans.active && c->ans.message_id && message_id &&
           strcmp(c->ans.message_id, message_id) == 0;
}

static void on_connected(ms_cli_chat_t *c) {
    c->ready = true;
    c->ever_ready = true;
    c->attempts = 0;
    if (c->notice_shown) {
        fprintf(stderr, "medstream chat: reconnected\n");
        c->notice_shown = false;
    }
    ms_cli_chat_session_request(c);
}

static void on_message_start(ms_cli_chat_t *c, json_t *ev) {
    ms_cli_chat_answer_t *a = &c->ans;
    const char *mid = json_string_value(json_object_get(ev, "message_id"));
    const char *cmid = json_string_value(json_object_get(ev, "client_message_id"));
    if (!a->active || !mid)
        return;
    bool match =
        is_ours(c, mid) || (!a->message_id && cmid && strcmp(cmid, a->client_message_id) == 0);
    if (!match)
        return;
    if (!a->message_id)
        a->message_id = ms_xstrdup(mid);
    set_conversation(c, json_string_value(json_object_get(ev, "conversation_id")));
    if (a->cancel_wanted)
        send_cancel(c);
}

/* Prints a delta unless it was printed already: after a resume the server
 * replays from last_seq + 1, and seq tells which text the client has. */
static void on_chunk(ms_cli_chat_t *c, json_t *ev) {
    ms_cli_chat_answer_t *a = &c->ans;
    if (!is_ours(c, json_string_value(json_object_get(ev, "message_id"))))
        return;
    json_t *jseq = json_object_get(ev, "seq");
    const char *delta = json_string_value(json_object_get(ev, "delta"));
    if (!json_is_integer(jseq) || !delta)
        return;
    int64_t seq = json_integer_value(jseq);
    if (seq <= a->last_seq)
        return;
    /* seq is gapless (protocol.md); a jump means lost text, which the
     * final text from message_complete repairs below. */
    size_t n = json_string_length(json_object_get(ev, "delta"));
    fwrite(delta, 1, n, c->out);
    fflush(c->out);
    ms_buf_append(&a->printed, delta, n);
    a->last_seq = seq;
    a->fruitless = 0;
}

static void print_citations(ms_cli_chat_t *c, json_t *cits) {
    if (!json_is_array(cits) || json_array_size(cits) == 0)
        return;
    fputc('\n', c->out);
    size_t i;
    json_t *cit;
    json_array_foreach(cits, i, cit) {
        json_int_t index = json_integer_value(json_object_get(cit, "index"));
        const char *title = json_string_value(json_object_get(cit, "title"));
        const char *url = json_string_value(json_object_get(cit, "url"));
        fprintf(c->out, "[%lld] %s", (long long)(index ? index : (json_int_t)i + 1),
                title ? title : "(untitled)");
        if (url && *url)
            fprintf(c->out, " \xe2\x80\x94 %s", url); /* U+2014 em dash */
        fputc('\n', c->out);
    }
}

static void on_complete(ms_cli_chat_t *c, json_t *ev) {
    ms_cli_chat_answer_t *a = &c->ans;
    if (!is_ours(c, json_string_value(json_object_get(ev, "message_id"))))
        return;
    json_t *jtext = json_object_get(ev, "text");
    const char *text = json_string_value(jtext);
    size_t tlen = json_string_length(jtext);
    const char *shown = a->printed.data ? a->printed.data : "";
    char last = '\n';
    if (a->printed.len)
        last = shown[a->printed.len - 1];
    if (text && tlen >= a->printed.len && memcmp(shown, text, a->printed.len) == 0) {
        /* The missing tail: all of it when the replay buffer had expired
         * and only the stored message came back. */
        fwrite(text + a->printed.len, 1, tlen - a->printed.len, c->out);
        if (tlen > a->printed.len)
            last = text[tlen - 1];
    } else if (text && (tlen > a->printed.len || memcmp(shown, text, tlen) != 0)) {
        /* What was streamed is not a prefix of the stored answer: show the
         * authoritative text rather than a corrupted one. (A stored text
         * shorter than what was shown is the last checkpoint of an
         * interrupted answer; nothing to add then.) */
        fprintf(c->out, "\n[the stream was incomplete; the full answer follows]\n");
        fwrite(text, 1, tlen, c->out);
        last = '\n';
        if (tlen)
            last = text[tlen - 1];
    }
    if (last != '\n')
        fputc('\n', c->out);
    const char *status = json_string_value(json_object_get(ev, "status"));
    if (status && strcmp(status, "complete") != 0)
        fprintf(c->out, "[answer %s]\n", status);
    if (status && strcmp(status, "error") == 0)
        c->failed_any = true;
    print_citations(c, json_object_get(ev, "citations"));
    if (c->tty_in)
        fputc('\n', c->out);
    fflush(c->out);
    set_conversation(c, json_string_value(json_object_get(ev, "conversation_id")));
    ms_cli_chat_answer_reset(a);
    c->prompt_shown = false;
}

static void on_error(ms_cli_chat_t *c, json_t *ev) {
    ms_cli_chat_answer_t *a = &c->ans;
    const char *code = json_string_value(json_object_get(ev, "code"));
    const char *message = json_string_value(json_object_get(ev, "message"));
    const char *mid = json_string_value(json_object_get(ev, "message_id"));
    bool retryable = json_is_true(json_object_get(ev, "retryable"));
    if (!code)
        code = "error";
    if (!a->active || (mid && !is_ours(c, mid))) {
        fprintf(stderr, "medstream chat: server error: %s\n", code);
        return;
    }
    if (retryable && a->retries < SESSION_MAX_RETRIES) {
        a->requested = false;
        a->retry_at_ms = ms_mono_ms() + ms_cli_chat_session_backoff_ms(a->retries++);
        return;
    }
    /* A cancel that raced with the end of the answer is refused; the
     * message_complete that follows tells the outcome. */
    if (a->cancel_sent && a->message_id)
        return;
    fail_answer(c, code, message);
}

static void message_cb(void *arg, const char *data, size_t len) {
    ms_cli_chat_t *c = arg;
    json_t *ev = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type)
        fprintf(stderr, "medstream chat: ignoring a malformed server message\n");
    else if (strcmp(type, "connected") == 0)
        on_connected(c);
    else if (strcmp(type, "message_start") == 0)
        on_message_start(c, ev);
    else if (strcmp(type, "message_chunk") == 0)
        on_chunk(c, ev);
    else if (strcmp(type, "message_complete") == 0)
        on_complete(c, ev);
    else if (strcmp(type, "error") == 0)
        on_error(c, ev);
    /* pong, tool_call, tool_result and future types need nothing here. */
    json_decref(ev);
}

static void open_cb(void *arg) {
    /* Nothing is sent before `connected`: the server may still refuse the
     * credentials with 4001 right after the handshake. */
    (void)arg;
}

static void closed_cb(void *arg, const ms_cli_chat_ws_close_t *why) {
    ms_cli_chat_t *c = arg;
    bool was_ready = c->ready;
    c->ready = false;
    c->ans.requested = false;
    c->ans.cancel_sent = false;
    if (c->quitting) {
        c->done = true;
        return;
    }
    /* 4001 (or a refused handshake) means the access token was not
     * accepted. A connection that closed before `connected` most likely
     * met the same fate without its close frame reaching us, and a
     * refresh costs little, so treat it alike. */
    if (why->close_code == 4001 || why->http_status == 401 || (why->established && !was_ready))
        c->need_refresh = true;
    if (why->close_code == 4003 && c->ans.active) {
        fail_answer(c, "forbidden", "that conversation belongs to another user");
        free(c->conversation_id);
        c->conversation_id = NULL;
    }
    if (c->ans.active && c->ans.fruitless >= SESSION_MAX_FRUITLESS)
        fail_answer(c, "connection closed", "the server keeps closing the connection");
    if (was_ready)
        c->attempts = 0;
    if (c->attempts >= SESSION_MAX_ATTEMPTS) {
        fprintf(stderr, "medstream chat: lost connection to %s (%s)\n", c->base_url,
                why->cause && *why->cause ? why->cause : "closed");
        ms_cli_chat_session_quit(c, 1);
        return;
    }
    /* The first retry after a working connection is quick and silent; say
     * something only when the server stays away. */
    if (c->attempts >= 2 && !c->notice_shown && (c->ans.active || c->npending)) {
        fflush(c->out);
        fprintf(stderr, "\nmedstream chat: connection lost, reconnecting...\n");
        c->notice_shown = true;
    }
    c->connect_at_ms = ms_mono_ms() + ms_cli_chat_session_backoff_ms(c->attempts);
    c->attempts++;
}

const ms_cli_chat_ws_ops ms_cli_chat_session_ops = {
    .open_cb = open_cb,
    .message_cb = message_cb,
    .closed_cb = closed_cb,
};
