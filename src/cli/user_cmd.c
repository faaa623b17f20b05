/* `medstream user add|list|delete`. The password never appears on the command
 * line (it would be visible in ps and shell history): it is piped on stdin
 * or typed at a prompt with echo off. */
#include "cli/user_cmd.h"
#include "cli/opt.h"

#include "auth/auth.h"
#include "core/ms.h"
#include "store/store.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_BUF 1100 /* > the 1024-byte maximum, to detect overlong input */

static const char usage_user[] = "usage: medstream user <command> [options]\n"
                                 "\n"
                                 "commands:\n"
                                 "  add    create a user (password read from stdin or a prompt)\n"
                                 "  list   list users (email, role, created)\n"
                                 "  delete delete a user and all their conversations\n"
                                 "\n"
                                 "Run 'medstream user <command> --help' for its options.\n";

static const char usage_add[] =
    "usage: medstream user add --email EMAIL [--role clinician|admin] [--data-dir DIR]\n"
    "\n"
    "Creates a user. The password (8 to 1024 bytes) is read from the first line\n"
    "of stdin when it is piped, otherwise prompted for twice with echo off.\n"
    "\n"
    "  --email EMAIL    login email (stored lower-case, unique)\n"
    "  --role ROLE      clinician (default) or admin\n"
    "  --data-dir DIR   data directory (default $MEDSTREAM_DATA_DIR or ./medstream-data)\n";

static const char usage_list[] = "usage: medstream user list [--data-dir DIR]\n"
                                 "\n"
                                 "Lists users: email, role and creation time (UTC).\n"
                                 "\n"
                                 "  --data-dir DIR   data directory (default $MEDSTREAM_DATA_DIR "
                                 "or ./medstream-data)\n";

static const char usage_delete[] =
    "usage: medstream user delete --email EMAIL [--data-dir DIR]\n"
    "\n"
    "Deletes the user and everything that is theirs: conversations, messages,\n"
    "citations and refresh tokens. It cannot be undone. A running server refuses\n"
    "the user's access tokens from the next request on (401).\n"
    "\n"
    "  --email EMAIL    the user's login email (case-insensitive)\n"
    "  --data-dir DIR   data directory (default $MEDSTREAM_DATA_DIR or ./medstream-data)\n";

static const char *default_data_dir(void) {
    const char *d = getenv("MEDSTREAM_DATA_DIR");
    return d && *d ? d : "./medstream-data";
}

/* A deliberately small check (one '@', non-empty local part, a dot in the
 * domain, printable ASCII or UTF-8, no spaces): it catches typos such as a
 * missing '@' without rejecting real addresses RFC 5321 allows. */
static int email_valid(const char *e) {
    size_t n = strlen(e);
    const char *at = strchr(e, '@');
    if (n < 3 || n > 254 || !at || at == e || strchr(at + 1, '@'))
        return 0;
    const char *dot = strchr(at + 1, '.');
    if (!dot || dot == at + 1 || e[n - 1] == '.')
        return 0;
    for (const unsigned char *p = (const unsigned char *)e; *p; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == ',')
            return 0;
    }
    return 1;
}

static struct termios saved_tio;
static volatile sig_atomic_t echo_off;

/* Puts the echo back if the user interrupts at the password prompt, then
 * dies of the same signal (tcsetattr is async-signal-safe). */
static void restore_tty_cb(int sig) {
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads one line into buf (size n) without its newline. Returns 0, or -1
 * on EOF before any input, or -2 when the line does not fit. */
static int read_line(FILE *f, char *buf, size_t n) {
    if (!fgets(buf, (int)n, f))
        return -1;
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '\n') {
        buf[--len] = '\0';
        if (len && buf[len - 1] == '\r')
            buf[--len] = '\0';
        return 0;
    }
    if (len == n - 1 && !feof(f))
        return -2;
    return 0;
}

static int prompt_hidden(const char *prompt, char *buf, size_t n) {
    struct termios tio;
    fputs(prompt, stderr);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &saved_tio) != 0)
        return -1;
    tio = saved_tio;
    tio.c_lflag &= ~(tcflag_t)ECHO;
    tio.c_lflag |= ECHONL;
    void (*old_int)(int) = signal(SIGINT, restore_tty_cb);
    void (*old_term)(int) = signal(SIGTERM, restore_tty_cb);
    echo_off = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio);
    int rc = read_line(stdin, buf, n);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
    echo_off = 0;
    signal(SIGINT, old_int);
    signal(SIGTERM, old_term);
    return rc;
}

/* Gets the new password into pw (size PASSWORD_BUF). 0 or an exit status
 * (a message already printed). */
static int get_password(char *pw) {
    if (!isatty(STDIN_FILENO)) {
        int rc = read_line(stdin, pw, PASSWORD_BUF);
        if (rc == -1) {
            fprintf(stderr, "medstream user add: no password on stdin\n");
            return 1;
        }
        if (rc == -2) {
            fprintf(stderr, "medstream user add: password longer than 1024 bytes\n");
            return 1;
        }
        return 0;
    }
    char again[PASSWORD_BUF];
    int rc = prompt_hidden("Password: ", pw, PASSWORD_BUF);
    if (rc == 0)
        rc = prompt_hidden("Repeat password: ", again, sizeof again);
    int status = 0;
    if (rc == -2) {
        fprintf(stderr, "medstream user add: password longer than 1024 bytes\n");
        status = 1;
    } else if (rc != 0) {
        fprintf(stderr, "medstream user add: no password entered\n");
        status = 1;
    } else if (strcmp(pw, again) != 0) {
        fprintf(stderr, "medstream user add: passwords do not match\n");
        status = 1;
    }
    sodium_memzero(again, sizeof again);
    return status;
}

static int user_add(int argc, char **argv) {
    const char *email = NULL, *role = "clinician", *data_dir = default_data_dir();
    char pw[PASSWORD_BUF], hash[MS_PASSWORD_HASH_LEN];
    ms_store_t *st = NULL;
    int status = 1, r;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_add, stdout);
            return 0;
        }
        if ((r = ms_cli_opt(argc, argv, &i, "--email", &email, NULL)) == 0 &&
            (r = ms_cli_opt(argc, argv, &i, "--role", &role, NULL)) == 0 &&
            (r = ms_cli_opt(argc, argv, &i, "--data-dir", &data_dir, NULL)) == 0) {
            fprintf(stderr, "medstream user add: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (r < 0) {
            fprintf(stderr, "medstream user add: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (!email) {
        fprintf(stderr, "medstream user add: --email is required (see --help)\n");
        return 2;
    }
    if (!email_valid(email)) {
        fprintf(stderr, "medstream user add: invalid email address '%s'\n", email);
        return 1;
    }
    if (strcmp(role, "clinician") != 0 && strcmp(role, "admin") != 0) {
        fprintf(stderr, "medstream user add: role must be 'clinician' or 'admin'\n");
        return 2;
    }
    if ((status = get_password(pw)) != 0)
        goto done;
    status = 1;
    r = ms_password_hash(pw, hash);
    if (r == MS_EINVAL) {
        fprintf(stderr, "medstream user add: password must be 8 to 1024 bytes long\n");
        goto done;
    } else if (r != 0) {
        fprintf(stderr, "medstream user add: cannot hash password (%s)\n", ms_strerror(r));
        goto done;
    }
    if (ms_store_open(data_dir, &st) != 0) {
        fprintf(stderr, "medstream user add: cannot open the database in '%s'\n", data_dir);
        goto done;
    }
    ms_user_t u;
    r = ms_store_user_create(st, email, hash, role, &u);
    if (r == MS_EEXIST) {
        fprintf(stderr, "medstream user add: a user with email '%s' already exists\n", email);
        goto done;
    } else if (r != 0) {
        fprintf(stderr, "medstream user add: cannot create user (%s)\n", ms_strerror(r));
        goto done;
    }
    printf("created %s user %s (id %s)\n", u.role, u.email, u.id);
    status = 0;
done:
    sodium_memzero(pw, sizeof pw);
    sodium_memzero(hash, sizeof hash);
    ms_store_close(st);
    return status;
}

static int user_list(int argc, char **argv) {
    const char *data_dir = default_data_dir();
    ms_store_t *st = NULL;
    json_t *users = NULL;
    int status = 1, r;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_list, stdout);
            return 0;
        }
        if ((r = ms_cli_opt(argc, argv, &i, "--data-dir", &data_dir, NULL)) <= 0) {
            fprintf(stderr, "medstream user list: %s '%s' (see --help)\n",
                    r < 0 ? "missing value for" : "unknown option", argv[i]);
            return 2;
        }
    }
    /* Listing must not create an empty database as a side effect. */
    char path[4096];
    snprintf(path, sizeof path, "%s/medstream.db", data_dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "medstream user list: no database in '%s'\n", data_dir);
        goto done;
    }
    if (ms_store_open(data_dir, &st) != 0) {
        fprintf(stderr, "medstream user list: cannot open the database in '%s'\n", data_dir);
        goto done;
    }
    if ((r = ms_store_user_list(st, &users)) != 0) {
        fprintf(stderr, "medstream user list: cannot list users (%s)\n", ms_strerror(r));
        goto done;
    }
    printf("%-40s %-10s %s\n", "EMAIL", "ROLE", "CREATED");
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        printf("%-40s %-10s %s\n", json_string_value(json_object_get(u, "email")),
               json_string_value(json_object_get(u, "role")),
               json_string_value(json_object_get(u, "created_at")));
    }
    status = 0;
done:
    json_decref(users);
    ms_store_close(st);
    return status;
}

static int user_delete(int argc, char **argv) {
    const char *email = NULL, *data_dir = default_data_dir();
    ms_store_t *st = NULL;
    int status = 1, r;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_delete, stdout);
            return 0;
        }
        if ((r = ms_cli_opt(argc, argv, &i, "--email", &email, NULL)) == 0 &&
            (r = ms_cli_opt(argc, argv, &i, "--data-dir", &data_dir, NULL)) == 0) {
            fprintf(stderr, "medstream user delete: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (r < 0) {
            fprintf(stderr, "medstream user delete: %s needs a value\n", argv[i]);
            return 2;
        }
    }
    if (!email) {
        fprintf(stderr, "medstream user delete: --email is required (see --help)\n");
        return 2;
    }
    /* Deleting must not create an empty database as a side effect. */
    char path[4096];
    snprintf(path, sizeof path, "%s/medstream.db", data_dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "medstream user delete: no database in '%s'\n", data_dir);
        return 1;
    }
    if (ms_store_open(data_dir, &st) != 0) {
        fprintf(stderr, "medstream user delete: cannot open the database in '%s'\n", data_dir);
        return 1;
    }
    ms_user_t u;
    r = ms_store_user_delete(st, email, &u);
    if (r == MS_ENOENT)
        fprintf(stderr, "medstream user delete: no user with email '%s'\n", email);
    else if (r != 0)
        fprintf(stderr, "medstream user delete: cannot delete the user (%s)\n", ms_strerror(r));
    else {
        printf("deleted %s user %s (id %s) and their conversations\n", u.role, u.email, u.id);
        status = 0;
    }
    ms_store_close(st);
    return status;
}

int ms_cli_user(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_user, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_user, stdout);
        return 0;
    }
    if (strcmp(cmd, "add") == 0)
        return user_add(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return user_list(argc - 1, argv + 1);
    if (strcmp(cmd, "delete") == 0)
        return user_delete(argc - 1, argv + 1);
    fprintf(stderr, "medstream user: unknown command '%s' (see --help)\n", cmd);
    return 2;
}
