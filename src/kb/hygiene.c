/* Text that belongs to a web page, not to an answer, removed at import.
 *
 * MedQuAD answers were scraped from NIH pages and keep the page's furniture:
 * video instructions ("(Watch the video to learn more ... press the Escape
 * (Esc) button on your keyboard.)"), link prompts ("click here", "click on
 * the links below" followed by the link titles run together), "see also"
 * and "see \"Key Words\"" pointers. Quoted in an answer they read as
 * nonsense, so each such sentence is dropped (with, for a link prompt, the
 * rest of its line: the link titles) and counted in the import statistics.
 * The rest of the text is kept byte for byte, so answers quoting it stay
 * verbatim. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <string.h>
#include <strings.h>

/* A sentence holding one of these is page navigation. Compared without
 * regard to ASCII case. */
static const char *const nav_phrases[] = {
    "watch the video",
    "to enlarge the video",
    "to reduce the video",
    "click here",
    "click on the",
    "clicking on",
    "clicking here",
    "click the link",
    "by clicking",
    "see \"key words\"",
    "see also",
    "links below",
    "link below",
    "following links",
    "following link:",
    "view a diagram",
    "press the escape",
    "has more information about",
    "for more information",
    "more information is available",
};

/* Link prompts: the link titles follow on the same line. */
static const char *const list_phrases[] = {"links below", "following links",
                                           "following link:", "click on the links"};

static int has_phrase(const char *s, size_t n, const char *const *list, size_t nlist) {
    for (size_t p = 0; p < nlist; p++) {
        size_t k = strlen(list[p]);
        for (size_t i = 0; i + k <= n; i++)
            if (strncasecmp(s + i, list[p], k) == 0)
                return 1;
    }
    return 0;
}

static int is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}

/* The end of the sentence starting at s: after its end punctuation (and
 * closing quotes or brackets) where white space and a capital, a digit, a
 * bracket or the end follow; or at a line break. */
static size_t sentence_end(const char *t, size_t s, size_t n) {
    for (size_t i = s; i < n; i++) {
        if (t[i] == '\n')
            return i;
        if (t[i] != '.' && t[i] != '!' && t[i] != '?')
            continue;
        size_t j = i + 1;
        while (j < n && (t[j] == ')' || t[j] == '"' || t[j] == '\''))
            j++;
        if (j >= n)
            return n;
        if (t[j] != ' ')
            continue;
        size_t k = j;
        while (k < n && t[k] == ' ')
            k++;
        if (k >= n || is_upper(t[k]) || (t[k] >= '0' && t[k] <= '9') || t[k] == '(' || t[k] == '-')
            return j;
    }
    return n;
}

/* A "(Watch the video ...)" aside: its length from t[i] if one starts
 * there, else 0. It ends at the ')' closing the one at t[i]. */
static size_t video_aside(const char *t, size_t i, size_t n) {
    static const char open[] = "(watch the video";
    if (t[i] != '(' || n - i < sizeof open - 1 || strncasecmp(t + i, open, sizeof open - 1) != 0)
        return 0;
    int depth = 0;
    for (size_t j = i; j < n; j++) {
        if (t[j] == '(')
            depth++;
        else if (t[j] == ')' && --depth == 0)
            return j + 1 - i;
        else if (t[j] == '\n')
            return j - i;
    }
    return n - i;
}

char *ms_kb__strip_navigation(const char *text, int64_t *dropped) {
    size_t n = strlen(text);
    ms_buf_t out;
    ms_buf_init(&out);
    size_t i = 0;
    while (i < n) {
        if (text[i] == '\n') {
            while (out.len > 0 && out.data[out.len - 1] == ' ')
                out.len--;
            ms_buf_putc(&out, text[i++]);
            continue;
        }
        /* A sentence owns the blanks before it: dropping it drops them. */
        size_t s = i;
        while (s < n && text[s] == ' ')
            s++;
        size_t v = s < n ? video_aside(text, s, n) : 0;
        if (v) {
            (*dropped)++;
            i = s + v;
            continue;
        }
        size_t e = sentence_end(text, s, n);
        if (e > s && has_phrase(text + s, e - s, nav_phrases, MS_COUNTOF(nav_phrases))) {
            (*dropped)++;
            if (has_phrase(text + s, e - s, list_phrases, MS_COUNTOF(list_phrases)))
                while (e < n && text[e] != '\n')
                    e++; /* the link titles */
            i = e;
            continue;
        }
        if (out.len == 0 || out.data[out.len - 1] == '\n')
            i = s; /* no blanks at the start of a line */
        ms_buf_append(&out, text + i, e - i);
        i = e > i ? e : i + 1;
    }
    while (out.len > 0 && (out.data[out.len - 1] == ' ' || out.data[out.len - 1] == '\n'))
        out.len--;
    ms_buf_putc(&out, '\0');
    out.len--;
    return ms_buf_take(&out);
}
