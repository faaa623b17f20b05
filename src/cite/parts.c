/* Pieces every style shares: months, page ranges, headline-style titles,
 * URLs and DOIs. */
#include "cite/cite_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const months_full[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
/* Citing Medicine abbreviates months to their first three letters. */
static const char *const months_nlm[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
/* MLA 9 appendix 1: months of more than four letters are abbreviated,
 * September to "Sept.". */
static const char *const months_mla[] = {"Jan.", "Feb.", "Mar.",  "Apr.", "May",  "June",
                                         "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."};

const char *cite_month_full(int m) {
    return m >= 1 && m <= 12 ? months_full[m - 1] : "";
}

const char *cite_month_nlm(int m) {
    return m >= 1 && m <= 12 ? months_nlm[m - 1] : "";
}

const char *cite_month_mla(int m) {
    return m >= 1 && m <= 12 ? months_mla[m - 1] : "";
}

/* ---- page ranges -------------------------------------------------------------- */

typedef struct {
    char prefix[8];           /* letters before the number: "S", "e" */
    char first[24], last[24]; /* digits; last expanded to first's length */
    int range;
} pages_t;

/* Reads "[P]digits[-[P]digits]". 0 when pages is something else (a list,
 * "121-6; quiz 127", roman numerals), which is then printed as given. */
static int pages_read(const char *s, pages_t *p) {
    memset(p, 0, sizeof *p);
    size_t i = 0, k = 0;
    while (isalpha((unsigned char)s[i]) && k + 1 < sizeof p->prefix)
        p->prefix[k++] = s[i++];
    k = 0;
    while (isdigit((unsigned char)s[i]) && k + 1 < sizeof p->first)
        p->first[k++] = s[i++];
    if (!k)
        return 0;
    if (!s[i])
        return 1;
    if (s[i] == '-')
        i++;
    else if (!strncmp(s + i, "\xe2\x80\x93", 3))
        i += 3;
    else
        return 0;
    size_t pl = strlen(p->prefix);
    if (pl && !strncmp(s + i, p->prefix, pl))
        i += pl;
    k = 0;
    char last[24];
    while (isdigit((unsigned char)s[i]) && k + 1 < sizeof last)
        last[k++] = s[i++];
    last[k] = '\0';
    if (!k || s[i])
        return 0;
    size_t lf = strlen(p->first);
    if (k < lf) {
        /* MEDLINE abbreviates the last page ("284-7"): take the missing
         * leading digits from the first page. */
        memcpy(p->last, p->first, lf - k);
        memcpy(p->last + lf - k, last, k + 1);
    } else {
        memcpy(p->last, last, k + 1);
    }
    size_t ll = strlen(p->last);
    if (ll < lf || (ll == lf && strcmp(p->last, p->first) < 0))
        return 0; /* a range that runs backwards: print as given */
    p->range = strcmp(p->last, p->first) != 0;
    return 1;
}

/* Digits the last page needs when it repeats the first page's leading
 * digits: its length minus the common prefix, at least min_digits. */
static size_t changed_digits(const char *a, const char *b, size_t min_digits) {
    size_t n = strlen(b), common = 0;
    while (common < n && a[common] == b[common])
        common++;
    size_t k = n - common;
    return k < min_digits ? (min_digits < n ? min_digits : n) : k;
}

int cite_pages_is_range(const char *pages) {
    pages_t p;
    if (pages_read(pages, &p))
        return p.range;
    return strchr(pages, '-') || strchr(pages, ',') || strstr(pages, "\xe2\x80\x93");
}

void cite_pages(const char *pages, pages_style_t style, ms_buf_t *out) {
    pages_t p;
    if (!pages_read(pages, &p)) {
        ms_buf_puts(out, pages);
        return;
    }
    ms_buf_puts(out, p.prefix);
    ms_buf_puts(out, p.first);
    if (!p.range)
        return;
    int endash = style == PAGES_FULL_ENDASH || style == PAGES_CHICAGO;
    ms_buf_puts(out, endash ? "\xe2\x80\x93" : "-");
    size_t la = strlen(p.first), lb = strlen(p.last);
    long a = strtol(p.first, NULL, 10);
    size_t k = lb; /* digits of the last page to print */
    switch (style) {
    case PAGES_FULL_ENDASH:
    case PAGES_FULL_HYPHEN:
        break;
    case PAGES_NLM:
        /* Citing Medicine, chapter 1 "Location (Pagination)": repeated
         * digits are dropped from the last page, 123-125 as 123-5. */
        k = changed_digits(p.first, p.last, 1);
        break;
    case PAGES_MLA:
        /* MLA 9 (numbers, "inclusive numbers"): the second number in full
         * through ninety-nine; above, its last two digits, or more when
         * needed: 21-48, 103-04, 395-401, 1608-774. */
        if (a >= 100 && la == lb)
            k = changed_digits(p.first, p.last, 2);
        break;
    case PAGES_CHICAGO:
        /* CMOS 17, 9.61: under 100 and at multiples of 100 all digits; 101
         * through 109 (in any hundred) only the changed part, without
         * zeros (101-8, 1103-4); 110 through 199 two digits or more
         * (321-28, 1496-500). */
        if (a >= 100 && a % 100 != 0 && la == lb) {
            k = changed_digits(p.first, p.last, a % 100 < 10 ? 1 : 2);
            if (a % 100 < 10)
                while (k > 1 && p.last[lb - k] == '0')
                    k--;
        }
        break;
    }
    if (style == PAGES_FULL_ENDASH || style == PAGES_FULL_HYPHEN)
        ms_buf_puts(out, p.prefix);
    ms_buf_puts(out, p.last + lb - k);
}

/* ---- headline style ------------------------------------------------------------ */

/* Articles, coordinating conjunctions, "to", "as" and prepositions stay
 * lower case inside a headline-style title (CMOS 17, 8.159; MLA 9, 2.90). */
static int minor_word(const char *w, size_t n) {
    static const char *const minor[] = {
        "a",       "an",      "the",    "and",     "but",     "or",         "nor",        "for",
        "so",      "yet",     "as",     "to",      "at",      "by",         "in",         "of",
        "on",      "up",      "off",    "per",     "via",     "vs",         "with",       "from",
        "into",    "onto",    "over",   "about",   "above",   "after",      "against",    "along",
        "among",   "around",  "before", "behind",  "below",   "beneath",    "beside",     "between",
        "beyond",  "during",  "except", "inside",  "like",    "near",       "outside",    "since",
        "than",    "through", "toward", "towards", "under",   "until",      "upon",       "within",
        "without", "versus",  "amid",   "across",  "despite", "throughout", "underneath",
    };
    for (size_t i = 0; i < sizeof minor / sizeof *minor; i++)
        if (strlen(minor[i]) == n && !strncmp(minor[i], w, n))
            return 1;
    return 0;
}

/* Whether w[0..n) is lower-case letters (with apostrophes) only. */
static int all_lower(const char *w, size_t n) {
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((w[i] >= 'a' && w[i] <= 'z') || w[i] == '\''))
            return 0;
    return 1;
}

/* Appends one hyphen-free part of a word, capitalised when it should be. */
static void headline_part(const char *w, size_t n, int force, ms_buf_t *out) {
    size_t lead = 0;
    while (lead < n && strchr("(\"'[", w[lead]))
        lead++;
    size_t core = lead;
    while (core < n && ((w[core] >= 'a' && w[core] <= 'z') || (w[core] >= 'A' && w[core] <= 'Z') ||
                        w[core] == '\''))
        core++;
    int raise = all_lower(w + lead, core - lead) && (force || !minor_word(w + lead, core - lead));
    ms_buf_append(out, w, lead);
    if (raise) {
        ms_buf_putc(out, (char)toupper((unsigned char)w[lead]));
        ms_buf_append(out, w + lead + 1, n - lead - 1);
    } else {
        ms_buf_append(out, w + lead, n - lead);
    }
}

void cite_headline(const char *title, ms_buf_t *out) {
    const char *p = title;
    int after_colon = 1; /* the first word is capitalised */
    while (*p) {
        if (*p == ' ') {
            ms_buf_putc(out, *p++);
            continue;
        }
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        size_t n = (size_t)(p - w);
        const char *rest = p;
        while (*rest == ' ')
            rest++;
        int last = !*rest;
        /* Each hyphenated part is a word of its own (CMOS 8.161). */
        const char *q = w;
        int part = 0;
        while (q < w + n) {
            const char *h = memchr(q, '-', (size_t)(w + n - q));
            size_t pn = h ? (size_t)(h - q) : (size_t)(w + n - q);
            headline_part(q, pn, (!part && after_colon) || (last && !h), out);
            q += pn;
            if (h) {
                ms_buf_putc(out, '-');
                q++;
            }
            part++;
        }
        char endc = w[n - 1];
        after_colon = endc == ':' || endc == '?' || endc == '!' ||
                      (n >= 3 && !memcmp(w + n - 3, "\xe2\x80\x94", 3));
    }
}

/* ---- URLs and DOIs --------------------------------------------------------------- */

const char *cite_url_bare(const char *url) {
    if (!strncasecmp(url, "https://", 8))
        return url + 8;
    if (!strncasecmp(url, "http://", 7))
        return url + 7;
    return url;
}

void cite_doi_url(const char *doi, ms_buf_t *out) {
    ms_buf_puts(out, "https://doi.org/");
    ms_buf_puts(out, doi);
}
