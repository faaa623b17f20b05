/* libFuzzer target: a JSON configuration file (--config) as ms_config_load
 * reads it (a temporary file: the loader takes a path).
 *
 * Properties: the file is either applied (0) or refused with MS_EINVAL and
 * exactly one line "medstream: ..." on the error stream; an applied file
 * leaves a configuration the server can use (listen splits into host and
 * port, the provider is known, a secret is at least 32 bytes) that dumps as
 * a JSON object. */
#include "fuzz_util.h"

#include "core/config.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64], flag[80];

static void cleanup(void) {
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/medstream-fuzz-config-%d.json", (int)getpid());
    snprintf(flag, sizeof flag, "--config=%s", path);
    unsetenv("MEDSTREAM_CONFIG");
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    FZ_ASSERT(f && fwrite(data, 1, size, f) == size && fclose(f) == 0, "writing %s", path);
    char *err = NULL, *out = NULL;
    size_t elen = 0, olen = 0;
    FILE *ef = open_memstream(&err, &elen), *of = open_memstream(&out, &olen);
    char *argv[] = {"serve", flag, NULL};
    ms_config_t c;
    ms_config_defaults(&c);
    int rc = ms_config_load(&c, 2, argv, of, ef);
    fclose(ef);
    fclose(of);
    FZ_ASSERT(rc == 0 || rc == MS_EINVAL, "ms_config_load returned %d", rc);
    if (rc) {
        FZ_ASSERT(elen > 11 && !strncmp(err, "medstream: ", 11), "no message: %s", err);
        FZ_ASSERT(strchr(err, '\n') == err + elen - 1, "not one line: %s", err);
    } else {
        FZ_ASSERT(elen == 0, "applied with a message: %s", err);
        char host[256];
        int port;
        FZ_ASSERT(ms_config_listen(&c, host, sizeof host, &port) == 0, "listen %s", c.listen);
        FZ_ASSERT(!strcmp(c.provider, "offline") || !strcmp(c.provider, "synthetic"), "provider");
        FZ_ASSERT(!c.jwt_secret || !*c.jwt_secret || strlen(c.jwt_secret) >= 32, "short secret");
        char *d = NULL;
        size_t dlen = 0;
        FILE *df = open_memstream(&d, &dlen);
        ms_config_dump(&c, df);
        fclose(df);
        json_t *j = json_loadb(d, dlen, 0, NULL);
        FZ_ASSERT(json_is_object(j), "dump is not a JSON object: %s", d);
        json_decref(j);
        free(d);
    }
    ms_config_free(&c);
    free(err);
    free(out);
    return 0;
}
