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
    if (c->nhold) {
        ms_buf_append(out, c->hold, c->nhold);
        c->last = 0;
    }
    c->nhold = c->nspace = 0;
    c->in_mark = 0;
}

/* A held "[1, 2" that another '[' interrupts, or that grew too long, is
 * not a marker; shown as it was, what follows could close it into one
 * whose numbers are the model's, not citations ("[1" + "[9]" dropped +
 * "]"). So it goes out without its '['. */
static void emit_hold_open(ms_cite_t *c, ms_buf_t *out) {
    if (c->in_mark && c->nhold > c->nspace) {
        ms_buf_append(out, c->hold, c->nspace);
        ms_buf_append(out, c->hold + c->nspace + 1, c->nhold - c->nspace - 1);
        c->last = 0;
        c->nhold = c->nspace = 0;
        c->in_mark = 0;
        return;
    }
    emit_hold(c, out);
}

/* White space as a marker list may hold it (the web client's pattern:
 * digits separated by commas, white space around them). */
static int is_ws(char b) {
    return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v';
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
    int want_number = 1; /* D (ws* "," ws* D)*: no leading, trailing or doubled comma */
    while (s < end) {
        while (s < end && is_ws(*s))
            s++;
        if (s == end)
            break;
        if (*s == ',') {
            if (want_number)
                return 0;
            want_number = 1;
            s++;
            continue;
        }
        if (!want_number)
            return 0; /* "[1 2]" */
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
        want_number = 0;
    }
    if (n == 0 || want_number || !(c->hold[c->nspace + 1] >= '0' && c->hold[c->nspace + 1] <= '9'))
        return 0; /* "[]", "[1,]", "[ 1]" */
    size_t ks[MS_CITE_HOLD_MAX];
    size_t nk = 0;
    int valid = 0;
    for (size_t i = 0; i < n; i++) {
        if (nums[i] < 1 || nums[i] > c->npassages)
            continue;
        valid = 1;
        size_t k = cite_index(c, nums[i] - 1);
        int dup = nk == 0 && k == c->last; /* right after the same marker */
        for (size_t j = 0; j < nk && !dup; j++)
            dup = ks[j] == k;
        if (!dup)
            ks[nk++] = k;
    }
    if (nk == 0) {
        /* Names no passage (or repeats the one just written): gone, with
         * the spaces before it. */
        c->dropped += !valid;
    } else {
        ms_buf_append(out, c->hold, c->nspace);
        for (size_t j = 0; j < nk; j++)
            ms_buf_printf(out, "[%zu]", ks[j]);
        c->last = ks[nk - 1];
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
            if ((b >= '0' && b <= '9') || b == ',' || is_ws(b)) {
                if (c->nhold < MS_CITE_HOLD_MAX) {
                    c->hold[c->nhold++] = b;
                    i++;
                    continue;
                }
                emit_hold_open(c, out); /* too long for a marker */
                continue;               /* b again, as text */
            }
            if (b == ']') {
                i++;
                if (!resolve(c, out)) {
                    emit_hold(c, out);
                    ms_buf_putc(out, ']');
                }
                continue;
            }
            if (b == '[')
                emit_hold_open(c, out); /* "[1[": the first is no marker */
            else
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
        c->last = 0;
        i = j;
    }
}

void ms_cite_flush(ms_cite_t *c, ms_buf_t *out) {
    emit_hold(c, out);
}
