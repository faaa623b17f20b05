/* The `medstream` command: serve, user, apikey, kb, chat, bench, phi, fhir. A command table drives
 * dispatch (redis style). */
#include "app/app.h"
#include "cli/apikey_cmd.h"
#include "cli/bench_cmd.h"
#include "cli/chat_cmd.h"
#include "cli/fhir_cmd.h"
#include "cli/kb_cmd.h"
#include "cli/phi_cmd.h"
#include "cli/user_cmd.h"
#include "core/config.h"
#include "core/log.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MS_VERSION
#define MS_VERSION "0.1.0"
#endif

static int cmd_serve(int argc, char **argv) {
    ms_config_t cfg;
    ms_config_defaults(&cfg);
    int rc = ms_config_load(&cfg, argc, argv, stdout, stderr);
    if (rc != 0) {
        ms_config_free(&cfg);
        return rc == 1 ? 0 : 2;
    }
    rc = ms_app_serve(&cfg);
    ms_config_free(&cfg);
    return rc;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "run the gateway (HTTP + WebSocket)"},
    {"user", ms_cli_user, "manage users: add, list, delete"},
    {"apikey", ms_cli_apikey, "API keys for the OpenAI-compatible API: create, list, revoke"},
    {"kb", ms_cli_kb, "knowledge base: import, search"},
    {"chat", ms_cli_chat, "terminal client: ask questions, stream answers"},
    {"bench", ms_cli_bench, "load generator: connections, throughput, latency"},
    {"phi", ms_cli_phi, "PHI detection and de-identification of JSON lines"},
    {"fhir", ms_cli_fhir, "FHIR R4: import a patient's clinical context"},
};

static void usage(FILE *out) {
    fprintf(out,
            "medstream %s: a real-time gateway for clinical AI assistants\n\n"
            "usage: medstream <command> [options]   (medstream <command> --help)\n\n",
            MS_VERSION);
    for (size_t i = 0; i < MS_COUNTOF(commands); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("medstream %s\n", MS_VERSION);
        return 0;
    }
    /* The tools print their own summaries; their JSON log shows warnings and
     * errors only unless MEDSTREAM_LOG_LEVEL asks for more (serve has --log-level). */
    ms_log_level_t level = MS_LOG_WARN;
    const char *env = getenv("MEDSTREAM_LOG_LEVEL");
    if (env)
        ms_log_parse_level(env, &level);
    ms_log_set_level(level);
    for (size_t i = 0; i < MS_COUNTOF(commands); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "medstream: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
