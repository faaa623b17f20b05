#include "cli/opt.h"

#include <stdio.h>
#include <string.h>

int ms_cli_opt(int argc, char **argv, int *i, const char *name, const char **val, const char *cmd) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        if (cmd)
            fprintf(stderr, "medstream %s: %s needs a value\n", cmd, name);
        *val = NULL;
        return -1;
    }
    *val = argv[++*i];
    return 1;
}
