/* `medstream chat`: arguments, sign-in and the service loop (see
 * chat_cmd.h). The protocol itself lives in chat_session.c. */
#include "cli/chat_cmd.h"
#include "cli/opt.h"

#include "cli/chat_session.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHAT_DEFAULT_URL "http://127.0.0.1:8080"
/* Refresh the access token this long before it expires. */
#define CHAT_REFRESH_MARGIN_MS 60000

static const char chat_usage[] =
    "usage: medstream chat [--url URL] [--email EMAIL] [--conversation ID]\n"
    "\n"
    "Ask questions from the terminal and watch the answers stream in.\n"
    "\n"
    "  --url URL          server address (default $MEDSTREAM_URL or " CHAT_DEFAULT_URL ")\n"
    "  --email EMAIL      account to sign in with (default $MEDSTREAM_EMAIL)\n"
    "  --conversation ID  continue an existing conversation\n"
    "  -h, --help         show this help\n"
    "\n"
    "The password comes from $MEDSTREAM_PASSWORD, else from the first line of\n"
    "stdin when it is piped, else from a prompt. Each further line of stdin is a\n"
    "question. Ctrl-C cancels the answer being written; Ctrl-C at the prompt or\n"
    "end of input (Ctrl-D) quits. With piped input, the command exits once the\n"
    "last answer is complete.\n";

typedef struct {
    const char *url;
    const char *email;
    const char *conversation;
} chat_args_t;

/* Returns 0, 1 (help shown) or 2 (usage error). */
static int parse_args(int argc, char **argv, chat_args_t *args) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(chat_usage, stdout);
            return 1;
        }
        int r = ms_cli_opt(argc, argv, &i, "--url", &args->url, NULL);
        if (r == 0)
            r = ms_cli_opt(argc, argv, &i, "--email", &args->email, NULL);
        if (r == 0)
            r = ms_cli_opt(argc, argv, &i, "--conversation", &args->conversation, NULL);
        if (r == 1)
            continue;
        if (r < 0)
            fprintf(stderr, "medstream chat: %s needs a value\n", argv[i]);
        else
            fprintf(stderr, "medstream chat: unknown argument '%s'\n", argv[i]);
        fputs(chat_usage, stderr);
        return 2;
    }
    return 0;
}

/* Reads one line from the terminal or the pipe, with echo off when asked.
 * Returns 0, MS_ENOENT (end of input) or MS_ECANCELED (Ctrl-C). */
static int ask(ms_cli_chat_t *c, const char *prompt, bool secret, char **out) {
    struct termios saved, quiet;
    bool restore = false;
    if (c->tty_in) {
        fputs(prompt, stderr);
        fflush(stderr);
        if (secret && tcgetattr(STDIN_FILENO, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    int rc = ms_cli_input_read_line(c->input, out);
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    return rc;
}

/* Fills c->email and c->password. Returns an exit status, or -1 to go on. */
static int get_credentials(ms_cli_chat_t *c, const chat_args_t *args) {
    const char *email = args->email ? args->email : getenv("MEDSTREAM_EMAIL");
    int rc = 0;
    if (email && *email) {
        c->email = ms_xstrdup(email);
    } else if (c->tty_in) {
        rc = ask(c, "Email: ", false, &c->email);
    } else {
        fprintf(stderr, "medstream chat: no account given; use --email or $MEDSTREAM_EMAIL\n");
        return 2;
    }
    const char *pw = getenv("MEDSTREAM_PASSWORD");
    if (rc == 0 && pw && *pw)
        c->password = ms_xstrdup(pw);
    else if (rc == 0)
        rc = ask(c, "Password: ", true, &c->password);
    if (rc == MS_ECANCELED)
        return 130;
    if (rc < 0 || !c->email || !*c->email || !c->password || !*c->password) {
        fprintf(stderr, "medstream chat: no %s given\n",
                c->email && *c->email ? "password" : "email");
        return 1;
    }
    return -1;
}

/* Makes sure the access token is usable before a connection attempt:
 * refresh when it is (nearly) expired or was refused, sign in again when
 * the refresh token is refused too. Returns 0, MS_EIO (try again later) or
 * MS_EAUTH (give up). */
static int ensure_token(ms_cli_chat_t *c) {
    char err[256];
    if (!c->need_refresh && ms_mono_ms() < c->tokens.expires_at_ms - CHAT_REFRESH_MARGIN_MS)
        return 0;
    int rc = ms_cli_chat_refresh(c->base_url, &c->tokens, err, sizeof err);
    if (rc == MS_EAUTH || rc == MS_EINVAL)
        rc = ms_cli_chat_login(c->base_url, c->email, c->password, &c->tokens, err, sizeof err);
    if (rc == 0) {
        c->need_refresh = false;
        return 0;
    }
    if (rc == MS_EIO || rc == MS_EBUSY)
        return MS_EIO;
    fprintf(stderr, "medstream chat: cannot sign in again: %s\n", err);
    return MS_EAUTH;
}

static void try_connect(ms_cli_chat_t *c) {
    int rc = ensure_token(c);
    if (rc == MS_EAUTH) {
        ms_cli_chat_session_quit(c, 1);
        return;
    }
    if (rc == 0 && ms_cli_chat_ws_connect(c->ws, c->tokens.access_token) == 0)
        return;
    /* The server did not answer the refresh: count it as a failed attempt. */
    if (++c->attempts >= 10) {
        fprintf(stderr, "medstream chat: cannot reach server at %s\n", c->base_url);
        ms_cli_chat_session_quit(c, 1);
        return;
    }
    c->connect_at_ms = ms_mono_ms() + ms_cli_chat_session_backoff_ms(c->attempts);
}

/* Decides what the loop should do next; runs between service iterations,
 * never inside a libwebsockets callback, so blocking HTTP calls are safe. */
static void tick(ms_cli_chat_t *c) {
    int64_t now = ms_mono_ms();
    if (c->quitting) {
        if (now >= c->quit_deadline_ms)
            c->done = true;
        else
            ms_cli_chat_ws_wake_in(c->ws, c->quit_deadline_ms - now);
        return;
    }
    if (!c->ans.active && c->npending == 0 && c->input_eof) {
        ms_cli_chat_session_quit(c, c->failed_any ? 1 : 0);
        return;
    }
    ms_cli_chat_session_next(c);
    ms_cli_chat_answer_t *a = &c->ans;
    /* Connect at start, and afterwards only when there is something to ask. */
    bool want = !c->ever_ready || a->active || c->npending > 0;
    if (want && !ms_cli_chat_ws_active(c->ws)) {
        if (now >= c->connect_at_ms)
            try_connect(c);
        if (!ms_cli_chat_ws_active(c->ws) && !c->quitting)
            ms_cli_chat_ws_wake_in(c->ws, c->connect_at_ms - now);
    }
    if (a->active && a->retry_at_ms) {
        if (now >= a->retry_at_ms)
            ms_cli_chat_session_request(c);
        else
            ms_cli_chat_ws_wake_in(c->ws, a->retry_at_ms - now);
    }
    if (c->tty_in && c->ever_ready && !a->active && c->npending == 0 && !c->input_eof &&
        !c->prompt_shown && !c->quitting) {
        fputs("> ", c->out);
        fflush(c->out);
        c->prompt_shown = true;
    }
}

static void queue_question(ms_cli_chat_t *c, char *line) {
    /* Surrounding blanks carry no meaning; a blank line asks nothing. */
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    size_t skip = strspn(line, " \t");
    if (skip == n) {
        free(line);
        return;
    }
    memmove(line, line + skip, n - skip + 1);
    if (c->npending == c->cappending) {
        c->cappending = c->cappending ? c->cappending * 2 : 8;
        c->pending = ms_xrealloc(c->pending, c->cappending * sizeof *c->pending);
    }
    c->pending[c->npending++] = line;
}

static void drain_input(ms_cli_chat_t *c) {
    ms_cli_input_kind_t kind;
    char *line;
    while (ms_cli_input_next(c->input, &kind, &line) == 0) {
        if (kind == MS_CLI_INPUT_LINE) {
            c->prompt_shown = false;
            queue_question(c, line);
        } else if (kind == MS_CLI_INPUT_EOF) {
            if (c->tty_in && c->prompt_shown)
                fputc('\n', c->out);
            c->input_eof = true;
        } else {
            ms_cli_chat_session_interrupt(c);
        }
    }
}

static void chat_free(ms_cli_chat_t *c) {
    ms_cli_chat_ws_free(c->ws);
    ms_cli_input_free(c->input);
    ms_cli_chat_tokens_clear(&c->tokens);
    if (c->password) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->email);
    free(c->base_url);
    free(c->conversation_id);
    for (size_t i = 0; i < c->npending; i++)
        free(c->pending[i]);
    free(c->pending);
    ms_cli_chat_answer_reset(&c->ans);
}

int ms_cli_chat(int argc, char **argv) {
    chat_args_t args = {0};
    int rc = parse_args(argc, argv, &args);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!args.url)
        args.url = getenv("MEDSTREAM_URL");
    if (!args.url || !*args.url)
        args.url = CHAT_DEFAULT_URL;

    ms_cli_chat_t c = {0};
    c.out = stdout;
    c.exit_code = 0;
    c.tty_in = isatty(STDIN_FILENO);
    c.base_url = ms_xstrdup(args.url);
    for (size_t n = strlen(c.base_url); n > 0 && c.base_url[n - 1] == '/'; n--)
        c.base_url[n - 1] = '\0';
    if (args.conversation && *args.conversation)
        c.conversation_id = ms_xstrdup(args.conversation);
    srand((unsigned)(time(NULL) ^ getpid()));
    curl_global_init(CURL_GLOBAL_DEFAULT);

    char err[256];
    int status = 1;
    c.input = ms_cli_input_new(STDIN_FILENO);
    if (!c.input) {
        fprintf(stderr, "medstream chat: cannot read stdin\n");
        goto done;
    }
    c.ws = ms_cli_chat_ws_new(c.base_url, &ms_cli_chat_session_ops, &c, err, sizeof err);
    if (!c.ws) {
        fprintf(stderr, "medstream chat: %s\n", err);
        status = 2;
        goto done;
    }
    if ((rc = get_credentials(&c, &args)) >= 0) {
        status = rc;
        goto done;
    }
    if (ms_cli_chat_login(c.base_url, c.email, c.password, &c.tokens, err, sizeof err) < 0) {
        fprintf(stderr, "medstream chat: %s\n", err);
        goto done;
    }
    if (ms_cli_input_start(c.input, ms_cli_chat_ws_wake, c.ws) < 0) {
        fprintf(stderr, "medstream chat: cannot start the input reader\n");
        goto done;
    }
    while (!c.done) {
        tick(&c);
        if (c.done)
            break;
        ms_cli_chat_ws_service(c.ws);
        drain_input(&c);
    }
    fflush(c.out);
    status = c.exit_code;
done:
    chat_free(&c);
    curl_global_cleanup();
    return status;
}
