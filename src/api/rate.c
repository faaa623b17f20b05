/* Fixed-window rate limiter for login attempts, keyed by client address. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct {
    UT_hash_handle hh;
    int64_t window; /* minute number */
    int count;
    char key[];
} rate_entry_t;

struct ms_rate {
    int per_minute;
    rate_entry_t *map;
    size_t size;
};

struct ms_rate *ms_rate_new(int per_minute) {
    struct ms_rate *rl = ms_xcalloc(1, sizeof *rl);
    rl->per_minute = per_minute;
    return rl;
}

void ms_rate_free(struct ms_rate *rl) {
    if (!rl)
        return;
    rate_entry_t *e, *tmp;
    HASH_ITER(hh, rl->map, e, tmp) {
        HASH_DEL(rl->map, e);
        free(e);
    }
    free(rl);
}

int ms_rate_hit(struct ms_rate *rl, const char *key) {
    int64_t window = ms_mono_ms() / 60000;
    rate_entry_t *e = NULL;
    HASH_FIND_STR(rl->map, key, e);
    if (!e) {
        /* Bound memory: when the table is large, forget windows that are over. */
        if (rl->size >= 100000) {
            rate_entry_t *x, *tmp;
            HASH_ITER(hh, rl->map, x, tmp) {
                if (x->window != window) {
                    HASH_DEL(rl->map, x);
                    free(x);
                    rl->size--;
                }
            }
        }
        size_t n = strlen(key);
        e = ms_xcalloc(1, sizeof *e + n + 1);
        memcpy(e->key, key, n + 1);
        e->window = window;
        HASH_ADD_STR(rl->map, key, e);
        rl->size++;
    }
    if (e->window != window) {
        e->window = window;
        e->count = 0;
    }
    return ++e->count > rl->per_minute ? MS_EBUSY : 0;
}
