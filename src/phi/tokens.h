/* Private to src/phi: the word tokens names.c reads (tokens.c). */
#ifndef MS_PHI_TOKENS_H
#define MS_PHI_TOKENS_H

#include <stddef.h>

enum {
    W_CAP = 1 << 0,     /* starts with an upper-case letter */
    W_ALLCAP = 1 << 1,  /* two or more letters, all upper case */
    W_DIGIT = 1 << 2,   /* contains a digit */
    W_SENT = 1 << 3,    /* first word of a sentence */
    W_DOT = 1 << 4,     /* a '.' follows directly */
    W_INITIAL = 1 << 5, /* one upper-case letter */
    W_PUNCT = 1 << 6,   /* a punctuation token */
    W_NL = 1 << 7,      /* a line break precedes it */
    W_LOWER = 1 << 8,   /* starts with a lower-case letter */
    W_ABBR = 1 << 9,    /* an abbreviation whose '.' does not end a sentence */
};

typedef struct {
    size_t s, e; /* bytes of the word, or of the punctuation character */
    unsigned f;
} tok_t;

typedef struct feat feat_t; /* names.c */

typedef struct {
    const char *s;
    size_t len;
    tok_t *t;
    size_t n, cap;
    feat_t *feat;         /* per token, computed on first use */
    unsigned char *known; /* feat[k] computed */
} toks_t;

/* Splits tk->s[0..tk->len) into words and punctuation tokens with their
 * flags (tk->t, tk->n; free(tk->t)). Words keep inner apostrophes and
 * hyphens; the '.' of an initial or an abbreviation belongs to its word. */
void phi_tokenize(toks_t *tk);

#endif
