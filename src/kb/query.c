/* Query analysis: tokenizing with the index's own tokenizer, the FTS5 MATCH
 * expression, and question-type detection (the stop-words and the cues are
 * words.c's, shared with the offline answerer).
 *
 * Tokens come from FTS5's porter + unicode61 tokenizer (looked up through
 * the fts5_api of the connection), so the stems compared while re-ranking
 * are exactly those in the index. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokenizer ---------------------------------------------------------- */

struct ms_kb__tok {
    fts5_tokenizer api;
    Fts5Tokenizer *t;
};

static fts5_api *fts5_api_of(sqlite3 *db) {
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api;
}

int ms_kb__tok_open(sqlite3 *db, ms_kb__tok_t **out) {
    fts5_api *api = fts5_api_of(db);
    void *ud = NULL;
    ms_kb__tok_t *k = ms_xcalloc(1, sizeof *k);
    /* Must match the tokenize= option of kb_fts in schema.c. */
    const char *args[] = {"unicode61", "remove_diacritics", "2"};
    if (!api || api->iVersion < 2 ||
        api->xFindTokenizer(api, "porter", &ud, &k->api) != SQLITE_OK ||
        k->api.xCreate(ud, args, 3, &k->t) != SQLITE_OK) {
        free(k);
        return MS_EIO;
    }
    *out = k;
    return 0;
}

void ms_kb__tok_close(ms_kb__tok_t *k) {
    if (!k)
        return;
    if (k->t)
        k->api.xDelete(k->t);
    free(k);
}

typedef struct {
    ms_kb__tok_cb cb;
    void *ctx;
    const char *text;
} tok_run_t;

static int tok_trampoline(void *p, int tflags, const char *tok, int ntok, int start, int end) {
    tok_run_t *r = p;
    if (tflags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    return r->cb(r->ctx, tok, (size_t)ntok, r->text + start, (size_t)(end - start)) ? SQLITE_DONE
                                                                                    : SQLITE_OK;
}

void ms_kb__tok_run(ms_kb__tok_t *k, const char *text, size_t n, ms_kb__tok_cb cb, void *ctx) {
    tok_run_t r = {cb, ctx, text};
    if (n > INT32_MAX)
        n = INT32_MAX;
    k->api.xTokenize(k->t, &r, FTS5_TOKENIZE_DOCUMENT, text, (int)n, tok_trampoline);
}

/* ---- query parsing ------------------------------------------------------ */

typedef struct {
    ms_kb__query_t *q;
    ms_kb_word_t *words; /* every word, lower-cased, for cue matching */
    size_t nwords;
} parse_ctx_t;

static int parse_token(void *p, const char *stem, size_t ns, const char *raw, size_t nr) {
    parse_ctx_t *c = p;
    ms_kb__query_t *q = c->q;
    if (c->nwords < MS_KB_WORDS_MAX && nr < MS_KB_WORD_MAX) {
        for (size_t i = 0; i < nr; i++)
            c->words[c->nwords].w[i] = (char)tolower((unsigned char)raw[i]);
        c->words[c->nwords].w[nr] = '\0';
        c->words[c->nwords].off = 0;
        c->nwords++;
    }
    if (ns >= MS_KB_WORD_MAX || nr >= MS_KB_WORD_MAX || ms_kb_is_stopword(raw, nr))
        return 0;
    size_t t = 0;
    while (t < q->nterms &&
           !(strlen(q->terms[t].stem) == ns && memcmp(q->terms[t].stem, stem, ns) == 0))
        t++;
    if (t == q->nterms) {
        if (q->nterms == MS_KB_TERMS_MAX)
            return 0;
        memcpy(q->terms[t].stem, stem, ns);
        q->terms[t].stem[ns] = '\0';
        for (size_t i = 0; i < nr; i++)
            q->terms[t].word[i] = (char)tolower((unsigned char)raw[i]);
        q->terms[t].word[nr] = '\0';
        q->nterms++;
    }
    return 0;
}

int ms_kb__query_parse(ms_kb__tok_t *tok, const char *text, ms_kb__query_t *q) {
    ms_kb_word_t *words = ms_xmalloc(MS_KB_WORDS_MAX * sizeof *words);
    parse_ctx_t c = {q, words, 0};
    memset(q, 0, sizeof *q);
    ms_kb__tok_run(tok, text, strlen(text), parse_token, &c);
    q->qtypes = ms_kb_qtype_detect(words, c.nwords, NULL);
    free(words);
    return 0;
}

void ms_kb__query_match(const ms_kb__query_t *q, const int *use, ms_buf_t *out) {
    ms_buf_reset(out);
    for (size_t i = 0; i < q->nterms; i++) {
        if (use && !use[i])
            continue;
        if (out->len)
            ms_buf_puts(out, " OR ");
        /* An FTS5 string: double quotes, with '"' doubled
         * (https://sqlite.org/fts5.html#fts5_strings). Tokenizer output
         * never holds one today, but the guarantee must not depend on it. */
        ms_buf_putc(out, '"');
        for (const char *s = q->terms[i].word; *s; s++) {
            if (*s == '"')
                ms_buf_putc(out, '"');
            ms_buf_putc(out, *s);
        }
        ms_buf_putc(out, '"');
    }
}

int ms_kb_query_build(sqlite3 *db, const char *query, char **match) {
    ms_kb__tok_t *tok = NULL;
    ms_kb__query_t *q = NULL;
    ms_buf_t b;
    if (!db || !query || !match)
        return MS_EINVAL;
    *match = NULL;
    if (ms_kb__tok_open(db, &tok) != 0)
        return MS_EIO;
    q = ms_xmalloc(sizeof *q);
    ms_kb__query_parse(tok, query, q);
    ms_buf_init(&b);
    ms_kb__query_match(q, NULL, &b);
    if (b.len)
        *match = ms_buf_take(&b);
    ms_buf_free(&b);
    free(q);
    ms_kb__tok_close(tok);
    return 0;
}
