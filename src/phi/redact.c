/* De-identification by typed placeholders, and the streaming restorer
 * that puts the originals back into a model's answer.
 *
 * A placeholder is "[" TYPE "_" n "]" (ms_phi_type_name, n from 1 per
 * type and map): models copy bracketed tokens verbatim far more reliably
 * than they copy invented names, and the type keeps the sentence readable
 * to the model ("[NAME_1], seen at [GEOGRAPHIC_LOCATION_1] on [DATE_1]"). */
#include "core/ms.h"
#include "phi/phi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_phi_type_t type;
    char *placeholder;
    char *original;
    size_t plen, olen;
} entry_t;

struct ms_phi_map {
    entry_t *e;
    size_t n, cap;
    unsigned next[MS_PHI_NTYPES]; /* last number used per type */
    size_t longest;               /* longest placeholder */
};

ms_phi_map_t *ms_phi_map_new(void) {
    return ms_xcalloc(1, sizeof(ms_phi_map_t));
}

void ms_phi_map_free(ms_phi_map_t *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        explicit_bzero(m->e[i].original, m->e[i].olen);
        free(m->e[i].original);
        free(m->e[i].placeholder);
    }
    free(m->e);
    free(m);
}

size_t ms_phi_map_count(const ms_phi_map_t *m) {
    return m ? m->n : 0;
}

void ms_phi_map_entry(const ms_phi_map_t *m, size_t i, const char **placeholder,
                      const char **original, ms_phi_type_t *type) {
    const entry_t *e = &m->e[i];
    if (placeholder)
        *placeholder = e->placeholder;
    if (original)
        *original = e->original;
    if (type)
        *type = e->type;
}

static int contains(const char *hay, size_t n, const char *needle, size_t k) {
    return k <= n && memmem(hay, n, needle, k) != NULL;
}

/* The entry for original, created with a fresh placeholder (one that does
 * not occur in text) when the map has none. */
static const entry_t *entry_for(ms_phi_map_t *m, ms_phi_type_t type, const char *orig, size_t olen,
                                const char *text, size_t len) {
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].olen == olen && !memcmp(m->e[i].original, orig, olen))
            return &m->e[i];
    char ph[64];
    int n;
    do {
        n = snprintf(ph, sizeof ph, "[%s_%u]", ms_phi_type_name(type), ++m->next[type]);
    } while (contains(text, len, ph, (size_t)n));
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->e = ms_xrealloc(m->e, m->cap * sizeof *m->e);
    }
    entry_t *e = &m->e[m->n++];
    e->type = type;
    e->placeholder = ms_xstrdup(ph);
    e->plen = (size_t)n;
    e->original = ms_xstrndup(orig, olen);
    e->olen = olen;
    if ((size_t)n > m->longest)
        m->longest = (size_t)n;
    return e;
}

void ms_phi_redact(ms_phi_map_t *m, const char *text, size_t len, const ms_phi_result_t *res,
                   char **out, size_t *out_len) {
    ms_buf_t b;
    ms_buf_init(&b);
    size_t at = 0;
    for (size_t i = 0; i < res->nspans; i++) {
        const ms_phi_span_t *sp = &res->spans[i];
        if (sp->start < at || sp->end > len || sp->end <= sp->start)
            continue; /* not from this text: ignored rather than trusted */
        ms_buf_append(&b, text + at, sp->start - at);
        const entry_t *e = entry_for(m, sp->type, text + sp->start, sp->end - sp->start, text, len);
        ms_buf_append(&b, e->placeholder, e->plen);
        at = sp->end;
    }
    ms_buf_append(&b, text + at, len - at);
    if (out_len)
        *out_len = b.len;
    ms_buf_cstr(&b);
    *out = ms_buf_take(&b);
    if (!*out)
        *out = ms_xstrdup("");
}

void ms_phi_redact_text(ms_phi_map_t *m, const char *text, size_t len, char **out, size_t *out_len,
                        ms_phi_verdict_t *verdict) {
    ms_phi_result_t r;
    ms_phi_detect(text, len, &r);
    ms_phi_redact(m, text, len, &r, out, out_len);
    if (verdict)
        *verdict = r.verdict;
    ms_phi_result_free(&r);
}

static int alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

void ms_phi_map_apply(const ms_phi_map_t *m, const char *text, size_t len, char **out,
                      size_t *out_len) {
    /* Longest original first, so "John Smith" is replaced before "John". */
    size_t *order = ms_xcalloc(m->n ? m->n : 1, sizeof *order);
    for (size_t i = 0; i < m->n; i++)
        order[i] = i;
    for (size_t i = 1; i < m->n; i++)
        for (size_t j = i; j > 0 && m->e[order[j]].olen > m->e[order[j - 1]].olen; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    ms_buf_t b;
    ms_buf_init(&b);
    size_t i = 0, copied = 0;
    while (i < len) {
        const entry_t *hit = NULL;
        int left = i == 0 || !alnum((unsigned char)text[i - 1]);
        for (size_t k = 0; k < m->n && left; k++) {
            const entry_t *e = &m->e[order[k]];
            if (e->olen == 0 || e->olen > len - i || memcmp(text + i, e->original, e->olen) != 0)
                continue;
            size_t j = i + e->olen;
            if (j == len || !alnum((unsigned char)text[j]) ||
                !alnum((unsigned char)e->original[e->olen - 1])) {
                hit = e;
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        ms_buf_append(&b, text + copied, i - copied);
        ms_buf_append(&b, hit->placeholder, hit->plen);
        i += hit->olen;
        copied = i;
    }
    ms_buf_append(&b, text + copied, len - copied);
    free(order);
    if (out_len)
        *out_len = b.len;
    ms_buf_cstr(&b);
    *out = ms_buf_take(&b);
    if (!*out)
        *out = ms_xstrdup("");
}

/* ---- the restorer ------------------------------------------------------------ */

struct ms_phi_restorer {
    const ms_phi_map_t *m;
    char hold[72]; /* a possible placeholder's start: "[NAME_" */
    size_t nhold;
};

ms_phi_restorer_t *ms_phi_restorer_new(const ms_phi_map_t *m) {
    ms_phi_restorer_t *r = ms_xcalloc(1, sizeof *r);
    r->m = m;
    return r;
}

void ms_phi_restorer_free(ms_phi_restorer_t *r) {
    if (!r)
        return;
    explicit_bzero(r, sizeof *r);
    free(r);
}

size_t ms_phi_restorer_holdback(const ms_phi_map_t *m) {
    return m && m->longest ? m->longest - 1 : 0;
}

size_t ms_phi_restorer_pending(const ms_phi_restorer_t *r) {
    return r->nhold;
}

/* 2: hold[0..n) is a whole placeholder (*e set); 1: a proper prefix of
 * one; 0: neither. */
static int classify(const ms_phi_map_t *m, const char *h, size_t n, const entry_t **e) {
    int prefix = 0;
    for (size_t i = 0; m && i < m->n; i++) {
        const entry_t *x = &m->e[i];
        if (n > x->plen || memcmp(x->placeholder, h, n) != 0)
            continue;
        if (n == x->plen) {
            *e = x;
            return 2;
        }
        prefix = 1;
    }
    return prefix;
}

static void feed_byte(ms_phi_restorer_t *r, char c, ms_buf_t *out);

/* hold[0] cannot start a placeholder: release it and look again at the
 * bytes after it, which may begin one. */
static void release_first(ms_phi_restorer_t *r, ms_buf_t *out) {
    char rest[sizeof r->hold];
    size_t n = r->nhold - 1;
    memcpy(rest, r->hold + 1, n);
    ms_buf_putc(out, r->hold[0]);
    r->nhold = 0;
    for (size_t i = 0; i < n; i++)
        feed_byte(r, rest[i], out);
}

static void feed_byte(ms_phi_restorer_t *r, char c, ms_buf_t *out) {
    if (r->nhold == 0 && c != '[') {
        ms_buf_putc(out, c);
        return;
    }
    r->hold[r->nhold++] = c;
    const entry_t *e = NULL;
    int k = classify(r->m, r->hold, r->nhold, &e);
    if (k == 2) {
        ms_buf_append(out, e->original, e->olen);
        r->nhold = 0;
    } else if (k == 0 || r->nhold == sizeof r->hold) {
        /* No placeholder starts here (a full hold cannot happen: every
         * placeholder is shorter than the hold buffer). */
        release_first(r, out);
    }
}

size_t ms_phi_restorer_feed(ms_phi_restorer_t *r, const char *chunk, size_t len, ms_buf_t *out) {
    size_t before = out->len, i = 0;
    while (i < len) {
        if (r->nhold == 0) {
            /* Fast path: everything up to the next '[' passes through. */
            const char *br = memchr(chunk + i, '[', len - i);
            size_t n = br ? (size_t)(br - (chunk + i)) : len - i;
            ms_buf_append(out, chunk + i, n);
            i += n;
            if (i == len)
                break;
        }
        feed_byte(r, chunk[i++], out);
    }
    return out->len - before;
}

size_t ms_phi_restorer_flush(ms_phi_restorer_t *r, ms_buf_t *out) {
    size_t n = r->nhold;
    ms_buf_append(out, r->hold, n);
    explicit_bzero(r->hold, sizeof r->hold);
    r->nhold = 0;
    return n;
}
