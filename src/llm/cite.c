/* The citation filter (llm/cite.h): markers renumbered by first use, one
 * per document; markers that name no passage dropped. */
#include "llm/cite.h"

#include "core/ms.h"

#include <stdlib.h>
#include <string.h>

/* Spaces held before they are let out (a marker may follow them). */
#define HOLD_SPACES 16

void ms_cite_init(ms_cite_t *c, size_t npassages, const char *const *doc_keys) {
    memset(c, 0, sizeof *c);
    c->npassages = npassages;
    c->doc_keys = doc_keys;
}

void ms_cite_free(ms_cite_t *c) {
    free(c->cited);
    c->cited = NULL;
    c->ncited = c->capcited = 0;
}

static void emit_hold(ms_cite_t *c, ms_buf_t *out) {
    if (c->nhold)
        ms_buf_append(out, c->hold, c->nhold);
    c->nhold = c->nspace = 0;
    c->in_mark = 0;
}

/* The citation number of passage p (0-based): the one its document already
 * has, else the next. */
static size_t cite_index(ms_cite_t *c, size_t p) {
    const char *key = c->doc_keys ? c->doc_keys[p] : NULL;
    for (size_t j = 0; j < c->ncited; j++) {
        size_t q = c->cited[j];
        if (q == p || (key && c->doc_keys[q] && !strcmp(key, c->doc_keys[q])))
            return j + 1;
    }
    if (c->ncited == c->capcited) {
        c->capcited = c->capcited ? c->capcited * 2 : 8;
        c->cited = ms_xrealloc(c->cited, c->capcited * sizeof *c->cited);
    }
    c->cited[c->ncited++] = p;
    return c->ncited;
}

/* The held "[...": a marker list closed by ']'. Returns 0 when it is not
 * one (the caller lets it out as text). */
static int resolve(ms_cite_t *c, ms_buf_t *out) {
    const char *s = c->hold + c->nspace + 1, *end = c->hold + c->nhold;
    size_t nums[MS_CITE_HOLD_MAX];
    size_t n = 0;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == ','))
            s++;
        if (s == end)
            break;
        size_t v = 0, digits = 0;
        while (s < end && *s >= '0' && *s <= '9') {
            v = v * 10 + (size_t)(*s - '0');
            s++;
            if (++digits > 4)
                return 0; /* "[12345]" is a number, not a passage */
        }
        if (!digits)
            return 0;
        nums[n++] = v;
    }
    if (n == 0)
        return 0; /* "[]", "[ , ]" */
    size_t ks[MS_CITE_HOLD_MAX];
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        if (nums[i] < 1 || nums[i] > c->npassages)
            continue;
        size_t k = cite_index(c, nums[i] - 1);
        int dup = 0;
        for (size_t j = 0; j < nk && !dup; j++)
            dup = ks[j] == k;
        if (!dup)
            ks[nk++] = k;
    }
    if (nk == 0) {
        /* Names no passage: gone, with the spaces before it. */
        c->dropped++;
    } else {
        ms_buf_append(out, c->hold, c->nspace);
        for (size_t j = 0; j < nk; j++)
            ms_buf_printf(out, "[%zu]", ks[j]);
    }
    c->nhold = c->nspace = 0;
    c->in_mark = 0;
    return 1;
}

void ms_cite_feed(ms_cite_t *c, const char *text, size_t len, ms_buf_t *out) {
    size_t i = 0;
    while (i < len) {
        char b = text[i];
        if (c->in_mark) {
            if ((b >= '0' && b <= '9') || b == ',' || b == ' ') {
                if (c->nhold < MS_CITE_HOLD_MAX) {
                    c->hold[c->nhold++] = b;
                    i++;
                    continue;
                }
                emit_hold(c, out); /* too long for a marker */
                continue;          /* b again, as text */
            }
            if (b == ']') {
                i++;
                if (!resolve(c, out)) {
                    emit_hold(c, out);
                    ms_buf_putc(out, ']');
                }
                continue;
            }
            emit_hold(c, out); /* "[see", "[a]": text */
            continue;
        }
        if (b == ' ') {
            if (c->nhold >= HOLD_SPACES)
                emit_hold(c, out);
            c->hold[c->nhold++] = ' ';
            c->nspace = c->nhold;
            i++;
            continue;
        }
        if (b == '[') {
            c->hold[c->nhold++] = '[';
            c->in_mark = 1;
            i++;
            continue;
        }
        emit_hold(c, out);
        size_t j = i + 1;
        while (j < len && text[j] != ' ' && text[j] != '[')
            j++;
        ms_buf_append(out, text + i, j - i);
        i = j;
    }
}

void ms_cite_flush(ms_cite_t *c, ms_buf_t *out) {
    emit_hold(c, out);
}
