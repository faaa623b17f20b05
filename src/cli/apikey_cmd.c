/* `medstream apikey create|list|revoke`: API keys for POST
 * /v1/chat/completions (docs/protocol.md "OpenAI-compatible API"). A key
 * is "msk-" and 43 URL-safe base64 characters of 32 random bytes
 * (libsodium randombytes); only its SHA-256 is stored. The key is printed
 * once, on stdout alone, so `KEY=$(medstream apikey create ...)` works and
 * nothing else (logs included) ever sees it. */
#include "cli/apikey_cmd.h"
#include "cli/opt.h"

#include "auth/auth.h"
#include "core/ms.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** "msk-" + the 43-character token + NUL. */
#define KEY_LEN (4 + MS_TOKEN_LEN)
/** How much of a key a listing shows ("msk-" and 8 characters). */
#define PREFIX_LEN 12

static const char usage_apikey[] =
    "usage: medstream apikey <command> [options]\n"
    "\n"
    "commands:\n"
    "  create  create a key for a user (printed once; stored hashed)\n"
    "  list    list keys (id, user, name, prefix, created, revoked)\n"
    "  revoke  revoke a key by its id\n"
    "\n"
    "Keys authenticate the OpenAI-compatible API (POST /v1/chat/completions):\n"
    "  Authorization: Bearer msk-...\n"
    "Run 'medstream apikey <command> --help' for its options.\n";

static const char usage_create[] =
    "usage: medstream apikey create --email EMAIL [--name NAME] [--data-dir DIR]\n"
    "\n"
    "Creates an API key for the user with this email. The key is printed once\n"
    "on stdout; only its SHA-256 is stored, so it cannot be shown again.\n"
    "\n"
    "  --email EMAIL    the user the key acts as (its answers are their conversations)\n"
    "  --name NAME      a label for the listing (up to 200 bytes)\n"
    "  --data-dir DIR   data directory (default $MEDSTREAM_DATA_DIR or ./medstream-data)\n";

static const char usage_list[] = "usage: medstream apikey list [--data-dir DIR]\n"
                                 "\n"
                                 "Lists keys: id, user, name, prefix, created and revoked times.\n"
                                 "\n"
                                 "  --data-dir DIR   data directory (default $MEDSTREAM_DATA_DIR "
                                 "or ./medstream-data)\n";

static const char usage_revoke[] =
    "usage: medstream apikey revoke ID [--data-dir DIR]\n"
    "\n"
    "Revokes the key with this id (from 'medstream apikey list'). A running\n"
    "server refuses it from the next request on (401).\n"
    "\n"
    "  --data-dir DIR   data directory (default $MEDSTREAM_DATA_DIR or ./medstream-data)\n";

static const char *default_data_dir(void) {
    const char *d = getenv("MEDSTREAM_DATA_DIR");
    return d && *d ? d : "./medstream-data";
}

/* Opens the existing database (never creates one). 0 or exit status 1. */
static int open_existing(const char *cmd, const char *data_dir, ms_store_t **st) {
    char path[4096];
    snprintf(path, sizeof path, "%s/medstream.db", data_dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "medstream apikey %s: no database in '%s'\n", cmd, data_dir);
        return 1;
    }
    if (ms_store_open(data_dir, st) != 0) {
        fprintf(stderr, "medstream apikey %s: cannot open the database in '%s'\n", cmd, data_dir);
        return 1;
    }
    return 0;
}

/* Parses --data-dir and the options in names (values into vals); the one
 * positional argument, if pos is not NULL. 0, or an exit status. */
static int parse(int argc, char **argv, const char *cmd, const char *usage,
                 const char *const *names, const char **vals, size_t n, const char **data_dir,
                 const char **pos) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return -1;
        }
        int r = ms_cli_opt(argc, argv, &i, "--data-dir", data_dir, NULL);
        for (size_t k = 0; k < n && r == 0; k++)
            r = ms_cli_opt(argc, argv, &i, names[k], &vals[k], NULL);
        if (r < 0) {
            fprintf(stderr, "medstream apikey %s: %s needs a value\n", cmd, argv[i]);
            return 2;
        }
        if (r > 0)
            continue;
        if (pos && !*pos && argv[i][0] != '-') {
            *pos = argv[i];
            continue;
        }
        fprintf(stderr, "medstream apikey %s: unknown argument '%s' (see --help)\n", cmd, argv[i]);
        return 2;
    }
    return 0;
}

static int apikey_create(int argc, char **argv) {
    static const char *const names[] = {"--email", "--name"};
    const char *vals[2] = {NULL, NULL}, *data_dir = default_data_dir();
    int rc = parse(argc, argv, "create", usage_create, names, vals, 2, &data_dir, NULL);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *email = vals[0], *name = vals[1];
    if (!email) {
        fprintf(stderr, "medstream apikey create: --email is required (see --help)\n");
        return 2;
    }
    if (name && (!*name || strlen(name) > MS_APIKEY_MAX_NAME)) {
        fprintf(stderr, "medstream apikey create: --name must be 1 to %d bytes\n",
                MS_APIKEY_MAX_NAME);
        return 2;
    }
    ms_store_t *st = NULL;
    if (open_existing("create", data_dir, &st))
        return 1;
    int status = 1;
    ms_user_t u;
    char key[KEY_LEN], hash[65], prefix[PREFIX_LEN + 1];
    json_t *out = NULL;
    if ((rc = ms_store_user_by_email(st, email, &u)) != 0) {
        fprintf(stderr, "medstream apikey create: %s '%s'\n",
                rc == MS_ENOENT ? "no user with email" : "cannot read the user", email);
        goto done;
    }
    char token[MS_TOKEN_LEN];
    ms_token_random(token);
    snprintf(key, sizeof key, "msk-%s", token);
    sodium_memzero(token, sizeof token);
    ms_token_hash(key, hash);
    snprintf(prefix, sizeof prefix, "%.*s", PREFIX_LEN, key);
    if ((rc = ms_store_apikey_create(st, u.id, name, hash, prefix, &out)) != 0) {
        fprintf(stderr, "medstream apikey create: cannot store the key (%s)\n", ms_strerror(rc));
        goto done;
    }
    fprintf(stderr, "created key %s for %s (shown once; store it now)\n",
            json_string_value(json_object_get(out, "id")), u.email);
    printf("%s\n", key);
    status = 0;
done:
    sodium_memzero(key, sizeof key);
    json_decref(out);
    ms_store_close(st);
    return status;
}

static int apikey_list(int argc, char **argv) {
    const char *data_dir = default_data_dir();
    int rc = parse(argc, argv, "list", usage_list, NULL, NULL, 0, &data_dir, NULL);
    if (rc)
        return rc < 0 ? 0 : rc;
    ms_store_t *st = NULL;
    if (open_existing("list", data_dir, &st))
        return 1;
    json_t *keys = NULL;
    if ((rc = ms_store_apikey_list(st, &keys)) != 0) {
        fprintf(stderr, "medstream apikey list: cannot list keys (%s)\n", ms_strerror(rc));
        ms_store_close(st);
        return 1;
    }
    printf("%-36s %-32s %-20s %-13s %-24s %s\n", "ID", "EMAIL", "NAME", "PREFIX", "CREATED",
           "REVOKED");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *name = json_string_value(json_object_get(k, "name"));
        const char *revoked = json_string_value(json_object_get(k, "revoked_at"));
        printf("%-36s %-32s %-20s %-13s %-24s %s\n", json_string_value(json_object_get(k, "id")),
               json_string_value(json_object_get(k, "email")), name ? name : "-",
               json_string_value(json_object_get(k, "prefix")),
               json_string_value(json_object_get(k, "created_at")), revoked ? revoked : "-");
    }
    json_decref(keys);
    ms_store_close(st);
    return 0;
}

static int apikey_revoke(int argc, char **argv) {
    const char *data_dir = default_data_dir(), *id = NULL;
    int rc = parse(argc, argv, "revoke", usage_revoke, NULL, NULL, 0, &data_dir, &id);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!id) {
        fprintf(stderr, "medstream apikey revoke: the key's ID is required (see --help)\n");
        return 2;
    }
    ms_store_t *st = NULL;
    if (open_existing("revoke", data_dir, &st))
        return 1;
    rc = ms_store_apikey_revoke(st, id, ms_now_ms());
    ms_store_close(st);
    if (rc == MS_ENOENT) {
        fprintf(stderr, "medstream apikey revoke: no key with id '%.64s'\n", id);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "medstream apikey revoke: cannot revoke the key (%s)\n", ms_strerror(rc));
        return 1;
    }
    printf("revoked key %s\n", id);
    return 0;
}

int ms_cli_apikey(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_apikey, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_apikey, stdout);
        return 0;
    }
    if (!strcmp(cmd, "create"))
        return apikey_create(argc - 1, argv + 1);
    if (!strcmp(cmd, "list"))
        return apikey_list(argc - 1, argv + 1);
    if (!strcmp(cmd, "revoke"))
        return apikey_revoke(argc - 1, argv + 1);
    fprintf(stderr, "medstream apikey: unknown command '%s' (see --help)\n", cmd);
    return 2;
}
