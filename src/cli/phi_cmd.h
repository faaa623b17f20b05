/* `medstream phi`: PHI detection and de-identification from the command line. */
#ifndef MS_CLI_PHI_CMD_H
#define MS_CLI_PHI_CMD_H

/** Runs `medstream phi detect [--redact] [--max-line-bytes N] [--timing]`;
 * argv[0] is "phi".
 *
 * Reads JSON lines {"id": any, "text": string} on stdin and writes one
 * line per input line on stdout:
 *   {"id":…,"phi":[{"type","start","end","confidence"}],"verdict":"phi|unsure|none"}
 * with start/end in Unicode code points of text (end exclusive), or with
 * --redact {"id":…,"text":"…[NAME_1]…","verdict":…}. A line that cannot be
 * read gives {"id":…|null,"error":"why"} on stdout and
 * "medstream phi detect: line N: why" on stderr, and the others go on.
 * Blank lines are skipped. Returns the exit status: 0 when every line was
 * read, 1 when some line was not, 2 on a usage error. */
int ms_cli_phi(int argc, char **argv);

#endif
