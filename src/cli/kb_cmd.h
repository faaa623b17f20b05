/* `medstream kb ...`: knowledge-base import and search from the command line. */
#ifndef MS_CLI_KB_CMD_H
#define MS_CLI_KB_CMD_H

/** Runs `medstream kb <import|search> [options]`; argv[0] is "kb" and
 * argv[1] the subcommand. Opens (creating, mode 0700) the data directory
 * given by --data-dir, else $MEDSTREAM_DATA_DIR, else ./medstream-data, and
 * its medstream.db. Returns the process exit status: 0 success, 1 failure
 * (message on stderr), 2 usage error. */
int ms_cli_kb(int argc, char **argv);

#endif
