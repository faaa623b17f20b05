/* Text utilities of the offline answerer: sentence splitting that copes with
 * the shapes of real consumer-health text (MedQuAD answers run bullet lists
 * together, glue footnote numbers to full stops and put headings on lines of
 * their own), and a small tokeniser with stemming-lite over the stop-words
 * retrieval uses (kb/words.h). */
#include "llm/llm_int.h"

#include "kb/words.h"

#include "core/ms.h"

#include <stdlib.h>
#include <string.h>

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_upper(unsigned char c) {
    return c >= 'A' && c <= 'Z';
}

static int is_lower(unsigned char c) {
    return c >= 'a' && c <= 'z';
}

static int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c) {
    return is_upper(c) || is_lower(c);
}

static unsigned char at(const char *t, size_t i) {
    return (unsigned char)t[i];
}

/* A growable array of spans. */
typedef struct {
    ms_llm_span_t *v;
    size_t n, cap;
} spans_t;

static void spans_push(spans_t *a, size_t off, size_t len, ms_llm_span_kind_t kind) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = ms_xrealloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n++] = (ms_llm_span_t){.off = off, .len = len, .kind = kind};
}

/* Length of a UTF-8 bullet or dash used as a list marker at t[i] (U+2022
 * bullet, U+2013 en dash), 0 if none. */
static size_t utf8_bullet(const char *t, size_t i, size_t len) {
    if (i + 2 < len && at(t, i) == 0xE2 && at(t, i + 1) == 0x80 &&
        (at(t, i + 2) == 0xA2 || at(t, i + 2) == 0x93))
        return 3;
    return 0;
}

/* If a list marker starts at t[i], returns its length including the white
 * space after it, else 0. Numbered markers ("1. ", "2) ") only count at the
 * start of a line, where they cannot be a decimal or a sentence's end. */
static size_t bullet_len(const char *t, size_t i, size_t len, int line_start) {
    size_t m = 0;
    unsigned char c = at(t, i);
    if (c == '-' || c == '*') {
        m = 1;
    } else if ((m = utf8_bullet(t, i, len)) != 0) {
        /* m set */
    } else if (line_start && is_digit(c)) {
        size_t j = i;
        while (j < len && j - i < 2 && is_digit(at(t, j)))
            j++;
        if (j < len && (t[j] == '.' || t[j] == ')'))
            m = j + 1 - i;
    }
    if (m == 0 || i + m >= len || (t[i + m] != ' ' && t[i + m] != '\t'))
        return 0;
    while (i + m < len && (t[i + m] == ' ' || t[i + m] == '\t'))
        m++;
    return m;
}

/* Whether a mid-line marker at t[i] is placed like a bullet: inside a list
 * item after a space (MedQuAD runs items together as "- a  - b", which
 * importers may squeeze to "- a - b"); in prose, after two or more spaces
 * or after a colon ("the following: - x"). A dash after one space in prose
 * is punctuation. */
static int bullet_context(const char *t, size_t i, size_t len, int item) {
    if (i == 0 || (t[i - 1] != ' ' && t[i - 1] != '\t'))
        return 0;
    if (item || (i >= 2 && (t[i - 2] == ' ' || t[i - 2] == '\t')))
        return 1;
    size_t j = i;
    while (j > 0 && (t[j - 1] == ' ' || t[j - 1] == '\t'))
        j--;
    /* After a colon, or after a sentence's end when a capital follows the
     * marker: "keep these tips in mind. - When your child is born". */
    if (j > 0 && t[j - 1] == ':')
        return 1;
    if (!(i + 2 < len && t[i + 1] == ' ' && is_upper(at(t, i + 2))))
        return 0;
    if (j > 0 && t[j - 1] == '.')
        return 1;
    /* A run of items in prose, "you may have - A fever - A headache -
     * Muscle aches": two more " - " and a capital on the same line. */
    size_t more = 0;
    for (size_t k = i + 2; k + 3 < len && t[k] != '\n' && more < 2; k++)
        more += t[k] == ' ' && t[k + 1] == '-' && t[k + 2] == ' ' && is_upper(at(t, k + 3));
    return more >= 2;
}

static size_t count_words(const char *t, size_t s, size_t e) {
    size_t n = 0;
    int in = 0;
    for (size_t i = s; i < e; i++) {
        int sp = is_space(at(t, i));
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

size_t ms_llm_count_words(const char *text, size_t len) {
    return text ? count_words(text, 0, len) : 0;
}

/* The last character of t[s, e) that is not a closing quote or bracket:
 * what says whether the span ends a sentence. */
static unsigned char end_char(const char *t, size_t s, size_t e) {
    while (e > s) {
        unsigned char c = at(t, e - 1);
        if (c == '"' || c == '\'' || c == ')' || c == ']') {
            e--;
        } else if (e - s >= 3 && at(t, e - 3) == 0xE2 && at(t, e - 2) == 0x80 &&
                   (c == 0x99 || c == 0x9D)) {
            e -= 3; /* U+2019, U+201D */
        } else {
            return c;
        }
    }
    return 0;
}

/* Whether a line break between the line t[ls, nl) and the text at t[next]
 * separates blocks. A line ending in sentence punctuation or a colon does;
 * so does a short line without punctuation followed by a capital (a
 * heading such as "Pituitary Tumors"). Other breaks are hard-wrapped prose. */
static int line_break_splits(const char *t, size_t ls, size_t nl, size_t next) {
    while (nl > ls && is_space(at(t, nl - 1)))
        nl--;
    if (nl == ls)
        return 1;
    unsigned char c = end_char(t, ls, nl);
    if (c == '.' || c == '!' || c == '?' || c == ':')
        return 1;
    if (c == ',' || c == ';')
        return 0;
    return count_words(t, ls, nl) <= 8 && (is_upper(at(t, next)) || is_digit(at(t, next)));
}

static const char *const abbrevs[] = {
    "al",   "apr",  "approx", "aug", "ca",   "cf",  "co",  "col",  "corp", "dec", "dept",
    "dr",   "est",  "feb",    "fig", "figs", "gen", "inc", "jan",  "jr",   "jul", "jun",
    "lt",   "ltd",  "mar",    "mr",  "mrs",  "ms",  "mt",  "no",   "nov",  "oct", "pp",
    "prof", "resp", "rev",    "sep", "sept", "sr",  "st",  "univ", "vol",  "vs",  "wt",
};

/* Whether the full stop at t[i] ends an abbreviation rather than a
 * sentence. s is the start of the current sentence. */
static int is_abbrev(const char *t, size_t s, size_t i, size_t e) {
    size_t b = i;
    while (b > s && (is_alpha(at(t, b - 1)) || t[b - 1] == '.'))
        b--;
    size_t n = i - b;
    if (n == 0 || (b > s && is_digit(at(t, b - 1))))
        return 0;
    if (memchr(t + b, '.', n))
        return 1; /* e.g., i.e., U.S., Ph.D. */
    if (n == 1) {
        /* An initial: "Dr. A. Smith", "John F. Kennedy"; not "type B." */
        if (!is_upper(at(t, b)))
            return 0;
        size_t p = b;
        while (p > s && is_space(at(t, p - 1)))
            p--;
        if (p > s && t[p - 1] == '.')
            return 1;
        while (p > s && is_alpha(at(t, p - 1)))
            p--;
        return p < b && is_upper(at(t, p));
    }
    if (n > 6)
        return 0;
    char w[8];
    for (size_t k = 0; k < n; k++)
        w[k] = (char)(at(t, b + k) | 0x20);
    w[n] = '\0';
    for (size_t k = 0; k < MS_COUNTOF(abbrevs); k++) {
        if (strcmp(w, abbrevs[k]) != 0)
            continue;
        if (strcmp(w, "no") == 0) {
            /* "No. 5", but "the answer is no. Then" ends a sentence. */
            size_t j = i + 1;
            while (j < e && is_space(at(t, j)))
                j++;
            return j < e && is_digit(at(t, j));
        }
        return 1;
    }
    return 0;
}

/* Skips closing quotes and brackets after sentence punctuation. */
static size_t skip_closers(const char *t, size_t j, size_t e) {
    for (;;) {
        if (j < e && (t[j] == '"' || t[j] == '\'' || t[j] == ')' || t[j] == ']')) {
            j++;
        } else if (j + 2 < e && at(t, j) == 0xE2 && at(t, j + 1) == 0x80 &&
                   (at(t, j + 2) == 0x99 || at(t, j + 2) == 0x9D)) {
            j += 3;
        } else {
            return j;
        }
    }
}

/* If the sentence punctuation at t[i] ends a sentence, returns the end of
 * that sentence (after closers and glued footnote digits), else 0. */
static size_t sentence_end(const char *t, size_t s, size_t i, size_t e) {
    unsigned char c = at(t, i);
    size_t j = i + 1;
    while (j < e && (t[j] == '.' || t[j] == '!' || t[j] == '?'))
        j++;
    j = skip_closers(t, j, e);
    if (j >= e)
        return e;
    if (c == '.' && i > s && is_alpha(at(t, i - 1)) && is_digit(at(t, j))) {
        /* A footnote number glued to the stop: "population.1 However". */
        size_t k = j;
        while (k < e && k - j < 3 && is_digit(at(t, k)))
            k++;
        if (k < e && is_space(at(t, k)))
            j = k;
    }
    if (!is_space(at(t, j))) {
        /* No space after the stop: "3.5", "e.g.," or a lost space as in
         * "per liter.In people" (two lower-case letters, then a capital
         * followed by a lower-case letter). */
        if (j + 1 < e && is_upper(at(t, j)) && is_lower(at(t, j + 1)) && i >= s + 2 &&
            is_lower(at(t, i - 1)) && is_lower(at(t, i - 2)))
            return j;
        return 0;
    }
    size_t n = j;
    while (n < e && is_space(at(t, n)))
        n++;
    if (n >= e)
        return j;
    if (is_lower(at(t, n)))
        return 0; /* "e.g. the", "approx. five" */
    if (c == '.' && j == i + 1 && is_abbrev(t, s, i, e))
        return 0;
    return j;
}

/* Splits the block t[s, e) into sentences: the first gets kind first, the
 * rest kind rest. */
static void split_block(const char *t, size_t s, size_t e, ms_llm_span_kind_t first,
                        ms_llm_span_kind_t rest, spans_t *out) {
    size_t start = s;
    size_t nsent = 0;
    for (size_t i = s; i < e; i++) {
        unsigned char c = at(t, i);
        if (c != '.' && c != '!' && c != '?')
            continue;
        size_t end = sentence_end(t, start, i, e);
        if (end == 0)
            continue;
        size_t a = start, b = end;
        while (a < b && is_space(at(t, a)))
            a++;
        while (b > a && is_space(at(t, b - 1)))
            b--;
        if (b > a)
            spans_push(out, a, b - a, nsent++ ? rest : first);
        start = end;
        i = end - 1;
    }
    while (start < e && is_space(at(t, start)))
        start++;
    size_t b = e;
    while (b > start && is_space(at(t, b - 1)))
        b--;
    if (b > start)
        spans_push(out, start, b - start, nsent ? rest : first);
}

/* A block of text between hard boundaries (paragraph breaks, headings,
 * list markers). */
typedef struct {
    size_t s, e;
    int item;
} block_t;

static void blocks_push(block_t **v, size_t *n, size_t *cap, size_t s, size_t e, int item) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = ms_xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = (block_t){.s = s, .e = e, .item = item};
}

/* Cuts text into blocks. Line breaks split per line_break_splits; list
 * markers split at the start of a line or where bullet_context says. */
static block_t *find_blocks(const char *t, size_t len, size_t *nblocks) {
    block_t *v = NULL;
    size_t n = 0, cap = 0;
    size_t i = 0;
    while (i < len && is_space(at(t, i)))
        i++;
    size_t bl = i < len ? bullet_len(t, i, len, 1) : 0;
    size_t bs = i + bl; /* block start */
    int item = bl > 0;
    size_t ls = i; /* start of the current line */
    i = bs;
    while (i < len) {
        unsigned char c = at(t, i);
        if (c == '\n') {
            size_t j = i + 1;
            int blank = 0;
            while (j < len && is_space(at(t, j))) {
                if (t[j] == '\n')
                    blank = 1;
                j++;
            }
            if (j >= len)
                break;
            bl = bullet_len(t, j, len, 1);
            if (blank || bl || line_break_splits(t, ls, i, j)) {
                blocks_push(&v, &n, &cap, bs, i, item);
                bs = j + bl;
                item = bl > 0;
            }
            ls = j;
            i = j + bl;
            continue;
        }
        if (item && (c == '.' || c == '!' || c == '?')) {
            /* Prose after the last item, set off by a run of spaces:
             * "- Having many infections.        These and other signs". */
            size_t j = skip_closers(t, i + 1, len), k = j;
            while (k < len && (t[k] == ' ' || t[k] == '\t'))
                k++;
            if (k - j >= 2 && k < len && is_upper(at(t, k))) {
                blocks_push(&v, &n, &cap, bs, j, item);
                bs = k;
                item = 0;
                i = k;
                continue;
            }
        }
        if ((c == '-' || c == '*' || c == 0xE2) && i > bs && bullet_context(t, i, len, item) &&
            (bl = bullet_len(t, i, len, 0)) != 0) {
            blocks_push(&v, &n, &cap, bs, i, item);
            bs = i + bl;
            item = 1;
            i = bs;
            continue;
        }
        i++;
    }
    blocks_push(&v, &n, &cap, bs, len, item);
    *nblocks = n;
    return v;
}

int ms_llm_split_sentences(const char *text, size_t len, ms_llm_span_t **spans, size_t *n) {
    *spans = NULL;
    *n = 0;
    if (!text || len == 0)
        return 0;
    size_t nb = 0;
    block_t *blocks = find_blocks(text, len, &nb);
    spans_t out = {0};
    for (size_t b = 0; b < nb; b++) {
        size_t first = out.n;
        if (blocks[b].item)
            split_block(text, blocks[b].s, blocks[b].e, MS_LLM_SPAN_ITEM, MS_LLM_SPAN_ITEM_MORE,
                        &out);
        else
            split_block(text, blocks[b].s, blocks[b].e, MS_LLM_SPAN_SENTENCE, MS_LLM_SPAN_SENTENCE,
                        &out);
        if (out.n == first)
            continue;
        /* Classify the block's last span: a lead-in when a list follows and
         * it ends with a colon or, unpunctuated, reads like a clause ("Other
         * symptoms include", ending in a lower-case word, or of four words
         * or more); a heading when it is a short unpunctuated line standing
         * alone ("Surgery", "Key Points"). */
        ms_llm_span_t *last = &out.v[out.n - 1];
        unsigned char ec = end_char(text, last->off, last->off + last->len);
        int punct = ec == '.' || ec == '!' || ec == '?';
        size_t words = count_words(text, last->off, last->off + last->len);
        int list_follows = b + 1 < nb && blocks[b + 1].item;
        int alone = out.n - first == 1;
        size_t lw = last->off + last->len;
        while (lw > last->off && !is_space(at(text, lw - 1)))
            lw--;
        int clause = !alone || words >= 4 || is_lower(at(text, lw));
        if (list_follows && (ec == ':' || (!blocks[b].item && (!punct || ec == '.') && clause)))
            last->kind = MS_LLM_SPAN_LEAD;
        else if (alone && !blocks[b].item && !punct && ec != ':' && words <= 8)
            last->kind = MS_LLM_SPAN_HEADING;
    }
    free(blocks);
    *spans = out.v;
    *n = out.n;
    return 0;
}

void ms_llm_put_squeezed(ms_buf_t *b, const char *s, size_t n) {
    size_t i = 0;
    while (i < n && is_space(at(s, i)))
        i++;
    while (n > i && is_space(at(s, n - 1)))
        n--;
    while (i < n) {
        size_t j = i;
        while (j < n && !is_space(at(s, j)))
            j++;
        ms_buf_append(b, s + i, j - i);
        if (j >= n)
            break;
        ms_buf_putc(b, ' ');
        while (j < n && is_space(at(s, j)))
            j++;
        i = j;
    }
}

static int ends_with(const char *w, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

static int is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

/* After removing -ed or -ing: "stopp" -> "stop" (Porter step 1b). */
static size_t undouble(char *w, size_t n) {
    if (n >= 2 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 'l' &&
        w[n - 1] != 's' && w[n - 1] != 'z')
        return n - 1;
    return n;
}

size_t ms_llm_stem(char *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_lower((unsigned char)w[i]))
            return n;
    /* Plurals. */
    if (n > 4 && ends_with(w, n, "ies")) {
        n -= 2;
        w[n - 1] = 'y';
    } else if (ends_with(w, n, "sses") || (n > 5 && ends_with(w, n, "sis"))) {
        n -= 2; /* glasses -> glass; diagnosis -> diagnos, as diagnose(d) */
    } else if (n > 3 && w[n - 1] == 's' && !ends_with(w, n, "ss") && !ends_with(w, n, "us") &&
               !ends_with(w, n, "is")) {
        n -= 1;
    }
    /* Past tense and participles, keeping a stem of four letters or more. */
    if (n > 4 && ends_with(w, n, "ied")) {
        n -= 2;
        w[n - 1] = 'y';
    } else if (n >= 6 && ends_with(w, n, "ed")) {
        n = undouble(w, n - 2);
    } else if (n >= 7 && ends_with(w, n, "ing")) {
        n = undouble(w, n - 3);
    }
    if (n >= 8 && ends_with(w, n, "ment"))
        n -= 4;
    if (n > 4 && w[n - 1] == 'e')
        n -= 1;
    w[n] = '\0';
    return n;
}

/* U+2000..U+203F (dashes, curly quotes, bullets) and U+00A0 separate words. */
static size_t utf8_separator(const char *t, size_t i, size_t len) {
    if (i + 2 < len && at(t, i) == 0xE2 && at(t, i + 1) == 0x80)
        return 3;
    if (i + 1 < len && at(t, i) == 0xC2 && at(t, i + 1) == 0xA0)
        return 2;
    return 0;
}

void ms_llm_terms(const char *text, size_t len, ms_llm_term_cb cb, void *ctx) {
    char w[64];
    size_t i = 0;
    while (i < len) {
        size_t sep = utf8_separator(text, i, len);
        unsigned char c = at(text, i);
        if (sep || !(is_alpha(c) || is_digit(c) || c >= 0x80)) {
            i += sep ? sep : 1;
            continue;
        }
        size_t n = 0;
        while (i < len && utf8_separator(text, i, len) == 0) {
            c = at(text, i);
            if (!(is_alpha(c) || is_digit(c) || c >= 0x80))
                break;
            if (n < sizeof(w) - 1)
                w[n++] = (char)(is_upper(c) ? c | 0x20 : c);
            i++;
        }
        w[n] = '\0';
        if (n < 2 || ms_kb_is_stopword(w, n))
            continue;
        n = ms_llm_stem(w, n);
        if (n > MS_LLM_MAX_TERM) {
            /* Truncate on a UTF-8 character boundary. */
            n = MS_LLM_MAX_TERM;
            while (n > 0 && (at(w, n) & 0xC0) == 0x80)
                n--;
            w[n] = '\0';
            if (n == 0) /* not UTF-8: nothing but continuation bytes */
                continue;
        }
        cb(ctx, w, n);
    }
}
