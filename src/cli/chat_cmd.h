/* `medstream chat`: a terminal client for the native WebSocket protocol v1
 * (docs/protocol.md). */
#ifndef MS_CLI_CHAT_CMD_H
#define MS_CLI_CHAT_CMD_H

/** Runs `medstream chat [--url URL] [--email E] [--conversation ID]`;
 * argv[0] is "chat". Signs in with POST /api/auth/login (the password comes
 * from $MEDSTREAM_PASSWORD, else the first line of a piped stdin, else a
 * prompt with echo off), opens /api/ws with a Bearer token, then asks each
 * line of stdin as a question and streams the answer to stdout, followed by
 * its citations as "[n] title — url". Survives dropped connections with
 * `resume`. When stdin is not a terminal it exits after the end of input
 * once the last answer is complete, which makes it scriptable.
 *
 * Returns the process exit status: 0 on success, 1 on an error (server
 * unreachable, bad credentials, a failed answer), 2 on a usage error,
 * 130 when interrupted while signing in. */
int ms_cli_chat(int argc, char **argv);

#endif
