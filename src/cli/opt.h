/* Command-line option matching shared by the medstream tools. */
#ifndef MS_CLI_OPT_H
#define MS_CLI_OPT_H

/** Matches "NAME VALUE" or "NAME=VALUE" at argv[*i] and advances *i past the
 * value. Returns 1 on a match (*val set), 0 when argv[*i] is another
 * option, -1 when the value is missing (then, if cmd is not NULL, prints
 * "medstream CMD: NAME needs a value" on stderr). */
int ms_cli_opt(int argc, char **argv, int *i, const char *name, const char **val, const char *cmd);

#endif
