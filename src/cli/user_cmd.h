/* `medstream user`: account administration from the command line. */
#ifndef MS_CLI_USER_CMD_H
#define MS_CLI_USER_CMD_H

/** Runs `medstream user <add|list> ...`; argv[0] is "user".
 *
 *   medstream user add --email E [--role clinician|admin] [--data-dir DIR]
 *   medstream user list [--data-dir DIR]
 *
 * add reads the password from the first line of stdin when stdin is not a
 * terminal, otherwise prompts twice with echo off. The data directory
 * defaults to $MEDSTREAM_DATA_DIR, then ./medstream-data. Errors print one
 * line on stderr. Returns the process exit status: 0 on success, 1 on a
 * failure (invalid email, short password, duplicate email, storage), 2 on
 * a usage error. */
int ms_cli_user(int argc, char **argv);

#endif
