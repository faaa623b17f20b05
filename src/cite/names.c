/* Author names: the strings a citation's "authors" array holds, read into
 * family name, given names and suffix, or an organisation.
 *
 * medstream's importers store a person as "Family, Given" (PubMed's
 * <LastName>, <ForeName>), with ", Suffix" when there is one; the MEDLINE
 * display form "Smith JA" is read too, since producers send it. A comma
 * alone does not make a person: "Department of Medicine, Harvard" is an
 * organisation, told apart by words no personal name has. */
#include "cite/cite_int.h"

#include "core/ms.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes in the UTF-8 sequence that starts with c (1 for a stray byte). */
static size_t cp_len(unsigned char c) {
    return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

static char *trim_dup(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return ms_xstrndup(s, n);
}

static size_t word_count(const char *s) {
    size_t n = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

static int has_digit(const char *s) {
    for (; *s; s++)
        if (isdigit((unsigned char)*s))
            return 1;
    return 0;
}

/* Words that mark an organisation, not a person. */
static int org_word(const char *w, size_t n) {
    static const char *const words[] = {
        "of",
        "and",
        "for",
        "the",
        "&",
        "University",
        "Department",
        "Group",
        "Institute",
        "Society",
        "Association",
        "Committee",
        "Organization",
        "Organisation",
        "Consortium",
        "Network",
        "Collaboration",
        "Team",
        "Center",
        "Centre",
        "Council",
        "Foundation",
        "Agency",
        "Program",
        "Programme",
        "Board",
        "Office",
        "Task",
        "Force",
        "Study",
        "Investigators",
        "Working",
        "Panel",
        "Service",
        "Services",
        "Hospital",
    };
    for (size_t i = 0; i < MS_COUNTOF(words); i++)
        if (strlen(words[i]) == n && !strncasecmp(words[i], w, n))
            return 1;
    return 0;
}

static int any_org_word(const char *s) {
    for (const char *p = s; *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if (p > w && org_word(w, (size_t)(p - w)))
            return 1;
    }
    return 0;
}

static int is_suffix(const char *s) {
    static const char *const sfx[] = {"Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV", "2nd", "3rd"};
    for (size_t i = 0; i < MS_COUNTOF(sfx); i++)
        if (!strcmp(s, sfx[i]))
            return 1;
    return 0;
}

/* "JA", "J": a run of MEDLINE initials (1 to 3 capital letters). */
static int initials_run(const char *w, size_t n) {
    if (n < 1 || n > 3)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'A' || w[i] > 'Z')
            return 0;
    return 1;
}

static int person_parts(const char *family, const char *given) {
    return *family && word_count(family) <= 4 && !has_digit(family) && !any_org_word(family) &&
           word_count(given) <= 5 && !has_digit(given) && !any_org_word(given);
}

void cite_name_parse(const char *s, cite_name_t *out) {
    memset(out, 0, sizeof *out);
    if (!s)
        s = "";
    const char *c1 = strchr(s, ',');
    const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (c1 && (!c2 || !strchr(c2 + 1, ','))) {
        char *family = trim_dup(s, (size_t)(c1 - s));
        char *given = trim_dup(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1));
        char *suffix = c2 ? trim_dup(c2 + 1, strlen(c2 + 1)) : NULL;
        if (*given && person_parts(family, given) && (!suffix || is_suffix(suffix))) {
            out->family = family;
            out->given = given;
            out->suffix = suffix;
            return;
        }
        free(family);
        free(given);
        free(suffix);
    } else if (!c1) {
        /* "Smith JA", "Smith JA Jr", "van der Berg J". */
        char *t = trim_dup(s, strlen(s));
        char *last = strrchr(t, ' ');
        char *suffix = NULL;
        if (last && is_suffix(last + 1)) {
            suffix = ms_xstrdup(last + 1);
            *last = '\0';
            last = strrchr(t, ' ');
        }
        if (last && initials_run(last + 1, strlen(last + 1))) {
            char *family = ms_xstrndup(t, (size_t)(last - t));
            if (person_parts(family, last + 1)) {
                out->family = family;
                out->given = ms_xstrdup(last + 1);
                out->suffix = suffix;
                free(t);
                return;
            }
            free(family);
        }
        free(suffix);
        free(t);
    }
    out->literal = trim_dup(s, strlen(s));
}

void cite_name_free(cite_name_t *n) {
    if (!n)
        return;
    free(n->family);
    free(n->given);
    free(n->suffix);
    free(n->literal);
    memset(n, 0, sizeof *n);
}

/* Appends the first letter of w (a code point, ASCII upper-cased). */
static void first_letter(const char *w, ms_buf_t *out) {
    size_t n = cp_len((unsigned char)*w);
    if (n == 1)
        ms_buf_putc(out, (char)toupper((unsigned char)*w));
    else
        ms_buf_append(out, w, strnlen(w, n));
}

void cite_initials(const char *given, const char *sep, int space, int keep_hyphen, ms_buf_t *out) {
    int first = 1;
    for (const char *p = given ? given : ""; *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        size_t n = (size_t)(p - w);
        while (n && w[n - 1] == '.')
            n--;
        if (!n)
            continue;
        if (initials_run(w, n)) {
            for (size_t i = 0; i < n; i++) {
                if (!first && space)
                    ms_buf_putc(out, ' ');
                ms_buf_putc(out, w[i]);
                ms_buf_puts(out, sep);
                first = 0;
            }
            continue;
        }
        /* "Shao-Hsun": one initial per part, joined by the hyphen. */
        const char *q = w, *end = w + n;
        int part = 0;
        while (q < end) {
            while (q < end && (*q == '-' || *q == '.'))
                q++;
            if (q >= end)
                break;
            if (part && keep_hyphen)
                ms_buf_putc(out, '-');
            else if (!first && space)
                ms_buf_putc(out, ' ');
            first_letter(q, out);
            ms_buf_puts(out, sep);
            first = 0;
            part++;
            while (q < end && *q != '-')
                q++;
        }
    }
}

void cite_given_full(const char *given, ms_buf_t *out) {
    int first = 1;
    for (const char *p = given ? given : ""; *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        size_t n = (size_t)(p - w);
        if (!n)
            continue;
        if (!first)
            ms_buf_putc(out, ' ');
        first = 0;
        if (initials_run(w, n)) {
            for (size_t i = 0; i < n; i++) {
                if (i)
                    ms_buf_putc(out, ' ');
                ms_buf_putc(out, w[i]);
                ms_buf_putc(out, '.');
            }
        } else {
            ms_buf_append(out, w, n);
        }
    }
}

void cite_name_full(const cite_name_t *n, int inverted, const char *suffix_sep, rt_t *rt) {
    if (n->literal) {
        rt_put(rt, n->literal);
        return;
    }
    ms_buf_t g;
    ms_buf_init(&g);
    cite_given_full(n->given, &g);
    if (inverted) {
        rt_put(rt, n->family);
        if (g.len) {
            rt_put(rt, ", ");
            rt_put(rt, ms_buf_cstr(&g));
        }
        if (n->suffix) {
            rt_put(rt, ", ");
            rt_put(rt, n->suffix);
        }
    } else {
        if (g.len) {
            rt_put(rt, ms_buf_cstr(&g));
            rt_put(rt, " ");
        }
        rt_put(rt, n->family);
        if (n->suffix) {
            rt_put(rt, suffix_sep);
            rt_put(rt, n->suffix);
        }
    }
    ms_buf_free(&g);
}
