/* The tokenizer of the name and place recogniser (names.c): UTF-8 words
 * with their capitalisation, and punctuation, with sentence starts. */
#include "phi/tokens.h"
#include "phi/phi_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- UTF-8 and character classes --------------------------------------------- */

/* Decodes one code point at s[i]; *n is its length (1 for an invalid byte,
 * which is then taken as a letter). */
static unsigned decode(const char *s, size_t len, size_t i, size_t *n) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (k == 0 || i + k > len) {
        *n = 1;
        return 0xFFFD;
    }
    unsigned cp = c & (0x7F >> k);
    for (size_t j = 1; j < k; j++) {
        unsigned char cc = (unsigned char)s[i + j];
        if ((cc & 0xC0) != 0x80) {
            *n = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    *n = k;
    return cp;
}

static int cp_space(unsigned cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' ||
           cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x3000;
}

static int cp_letter(unsigned cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    /* Not letters: Latin-1 punctuation and signs, general punctuation. */
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
        return 0;
    if (cp >= 0x2000 && cp <= 0x206F)
        return 0;
    if (cp >= 0x3000 && cp <= 0x303F)
        return 0;
    return 1;
}

static int cp_upper(unsigned cp) {
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z';
    if (cp >= 0xC0 && cp <= 0xDE)
        return cp != 0xD7;
    if (cp >= 0x100 && cp <= 0x17F)
        return (cp & 1) == 0; /* Latin Extended-A pairs: upper case first */
    if (cp >= 0x391 && cp <= 0x3A9)
        return 1;
    if (cp >= 0x400 && cp <= 0x42F)
        return 1;
    return 0;
}

static int cp_digit(unsigned cp) {
    return cp >= '0' && cp <= '9';
}

static int cp_apostrophe(unsigned cp) {
    return cp == '\'' || cp == 0x2019;
}

/* ---- tokens ------------------------------------------------------------------ */

static void push(toks_t *tk, size_t s, size_t e, unsigned f) {
    if (tk->n == tk->cap) {
        tk->cap = tk->cap ? tk->cap * 2 : 128;
        tk->t = realloc(tk->t, tk->cap * sizeof *tk->t);
        if (!tk->t)
            abort();
    }
    tk->t[tk->n++] = (tok_t){s, e, f};
}

static const char *const abbreviations[] = {
    "approx", "assoc", "ave",  "blvd", "co",  "corp", "ctr", "dept", "dr",   "e.g", "etc",
    "fr",     "ft",    "hosp", "i.e",  "inc", "jr",   "lt",  "ltd",  "med",  "mr",  "mrs",
    "ms",     "mt",    "no",   "prof", "rd",  "rev",  "sr",  "st",   "univ", "vs",
};

static int is_abbreviation(const char *w, size_t n) {
    for (size_t i = 0; i < sizeof abbreviations / sizeof abbreviations[0]; i++)
        if (strlen(abbreviations[i]) == n && !strncasecmp(w, abbreviations[i], n))
            return 1;
    return 0;
}

/* Word flags from its letters. */
static unsigned word_flags(const char *s, size_t a, size_t b) {
    unsigned f = 0;
    size_t n, letters = 0, upper = 0;
    int first = 1;
    for (size_t i = a; i < b; i += n) {
        unsigned cp = decode(s, b, i, &n);
        if (cp_digit(cp))
            f |= W_DIGIT;
        if (cp_letter(cp)) {
            letters++;
            if (cp_upper(cp))
                upper++;
            if (first)
                f |= cp_upper(cp) ? W_CAP : W_LOWER;
        }
        if (first && (cp_letter(cp) || cp_digit(cp)))
            first = 0;
    }
    if (letters >= 2 && upper == letters)
        f |= W_ALLCAP;
    if (letters == 1 && upper == 1 && b - a <= 2)
        f |= W_INITIAL;
    return f;
}

void phi_tokenize(toks_t *tk) {
    const char *s = tk->s;
    size_t len = tk->len, i = 0, n;
    int nl = 0;
    while (i < len) {
        unsigned cp = decode(s, len, i, &n);
        if (cp_space(cp)) {
            if (cp == '\n' || cp == '\r')
                nl = 1;
            i += n;
            continue;
        }
        if (!cp_letter(cp) && !cp_digit(cp)) {
            push(tk, i, i + n, W_PUNCT | (nl ? W_NL : 0));
            nl = 0;
            i += n;
            continue;
        }
        size_t a = i;
        while (i < len) {
            cp = decode(s, len, i, &n);
            if (cp_letter(cp) || cp_digit(cp)) {
                i += n;
                continue;
            }
            size_t m;
            if ((cp_apostrophe(cp) || cp == '-') && i + n < len) {
                unsigned next = decode(s, len, i + n, &m);
                if (cp_letter(next) || (cp == '-' && cp_digit(next))) {
                    i += n;
                    continue;
                }
            }
            break;
        }
        unsigned f = word_flags(s, a, i) | (nl ? W_NL : 0);
        nl = 0;
        size_t e = i;
        if (i < len && s[i] == '.') {
            f |= W_DOT;
            /* The '.' of an initial or an abbreviation belongs to the word
             * and ends no sentence. */
            if ((f & W_INITIAL) || is_abbreviation(s + a, i - a) || phi_in(L_TITLE, s + a, i - a)) {
                f |= W_ABBR;
                i++;
            }
        }
        push(tk, a, e, f);
    }
    /* Sentence starts: the first word, and a word after . ? ! : ; or a
     * line break (a '.' after an initial or an abbreviation ends nothing). */
    int start = 1;
    for (size_t k = 0; k < tk->n; k++) {
        tok_t *t = &tk->t[k];
        if (t->f & W_NL)
            start = 1;
        if (t->f & W_PUNCT) {
            char c = s[t->s];
            if (c == '.' || c == '?' || c == '!' || c == ':' || c == ';')
                start = 1;
            continue;
        }
        if (start)
            t->f |= W_SENT;
        start = 0;
    }
}
