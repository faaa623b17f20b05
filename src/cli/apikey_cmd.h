/* `medstream apikey`: keys for the OpenAI-compatible API. */
#ifndef MS_CLI_APIKEY_CMD_H
#define MS_CLI_APIKEY_CMD_H

/** Runs `medstream apikey <create|list|revoke> ...`; argv[0] is "apikey".
 *
 *   medstream apikey create --email E [--name N] [--data-dir DIR]
 *   medstream apikey list [--data-dir DIR]
 *   medstream apikey revoke ID [--data-dir DIR]
 *
 * create prints the new key once on stdout (it is stored only as its
 * SHA-256 and cannot be shown again) and its id on stderr. Errors print
 * one line on stderr. Returns the exit status: 0 on success, 1 on a
 * failure (no such user or key, storage), 2 on a usage error. */
int ms_cli_apikey(int argc, char **argv);

#endif
