#include "core/path.h"

#include <string.h>

int ms_path_match(const char *pattern, const char *path, ms_path_params_t *out) {
    ms_path_params_t scratch;
    ms_path_params_t *pp = out ? out : &scratch;
    const char *p = pattern, *q = path;
    pp->n = 0;
    while (*p && *q) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t n = strcspn(q, "/");
            if (!close || n == 0 || n > MS_PATH_PARAM_MAX || pp->n == MS_PATH_MAX_PARAMS)
                return 0;
            memcpy(pp->value[pp->n], q, n);
            pp->value[pp->n][n] = '\0';
            pp->n++;
            p = close + 1;
            q += n;
        } else if (*p++ != *q++) {
            return 0;
        }
    }
    return !*p && !*q;
}
