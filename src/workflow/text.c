/* Text helpers of the workflows: word matching, sentence quoting and the
 * citation objects every item carries. */
#include "workflow/wf_internal.h"

#include "core/utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *ms__wf_norm(const char *s) {
    ms_buf_t b;
    ms_buf_init(&b);
    int space = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isspace(c)) {
            space = b.len > 0;
            continue;
        }
        if (space)
            ms_buf_putc(&b, ' ');
        space = 0;
        ms_buf_putc(&b, (char)tolower(c));
    }
    ms_buf_cstr(&b);
    return ms_buf_take(&b);
}

static int is_word(unsigned char c) {
    return isalnum(c) || c >= 0x80;
}

/* Case-folded search for needle[0, n) in hay at word boundaries. */
static const char *find_words(const char *hay, size_t hn, const char *needle, size_t n) {
    if (!n || n > hn)
        return NULL;
    for (size_t i = 0; i + n <= hn; i++) {
        if (i > 0 && is_word((unsigned char)hay[i - 1]))
            continue;
        if (strncasecmp(hay + i, needle, n) != 0)
            continue;
        if (i + n < hn && is_word((unsigned char)hay[i + n])) {
            /* A plural of the needle still counts: "fevers", "rashes". */
            size_t k = i + n;
            if (tolower((unsigned char)hay[k]) == 'e' && k + 1 < hn &&
                tolower((unsigned char)hay[k + 1]) == 's')
                k++;
            if (tolower((unsigned char)hay[k]) != 's' ||
                (k + 1 < hn && is_word((unsigned char)hay[k + 1])))
                continue;
        }
        return hay + i;
    }
    return NULL;
}

int ms__wf_has_words(const char *hay, const char *needle) {
    if (!hay || !needle)
        return 0;
    return find_words(hay, strlen(hay), needle, strlen(needle)) != NULL;
}

/* The end of the sentence starting at s (exclusive): after ". ", "? ",
 * "! ", "; " or at a line break. */
static size_t sentence_len(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            return i;
        if ((s[i] == '.' || s[i] == '?' || s[i] == '!') && (i + 1 == n || s[i + 1] == ' ')) {
            /* "e.g. " and "Dr. " do not end a sentence. */
            if (s[i] == '.' && i >= 2 && (s[i - 2] == 'e' || s[i - 2] == 'i') && s[i - 1] == 'g')
                continue;
            return i + 1;
        }
    }
    return n;
}

/* Cuts n to at most max bytes on a word boundary, never inside a UTF-8
 * sequence. */
static size_t cut(const char *s, size_t n, size_t max) {
    if (n <= max)
        return n;
    size_t k = max;
    while (k > max / 2 && s[k] != ' ')
        k--;
    if (k <= max / 2)
        k = max;
    return ms_utf8_floor(s, n, k);
}

#define SENTENCE_MAX 400 /* bytes of one quoted sentence */

char *ms__wf_sentences_with(const char *text, const char *const *needles, size_t nneedles,
                            size_t max) {
    if (!text)
        return NULL;
    ms_buf_t b;
    ms_buf_init(&b);
    size_t taken = 0, n = strlen(text);
    for (size_t i = 0; i < n && taken < max;) {
        while (i < n && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t'))
            i++;
        size_t len = sentence_len(text + i, n - i);
        int hit = 0;
        for (size_t k = 0; k < nneedles && !hit; k++)
            hit = needles[k] && find_words(text + i, len, needles[k], strlen(needles[k])) != NULL;
        if (hit && len) {
            if (b.len)
                ms_buf_putc(&b, ' ');
            size_t c = cut(text + i, len, SENTENCE_MAX);
            ms_buf_append(&b, text + i, c);
            if (c < len)
                ms_buf_puts(&b, "...");
            taken++;
        }
        i += len ? len : 1;
    }
    if (!b.len) {
        ms_buf_free(&b);
        return NULL;
    }
    ms_buf_cstr(&b);
    return ms_buf_take(&b);
}

char *ms__wf_excerpt(const char *text, size_t max) {
    if (!text)
        return ms_xstrdup("");
    while (*text == ' ' || *text == '\n')
        text++;
    size_t n = strlen(text);
    if (n <= max)
        return ms_xstrdup(text);
    /* The last sentence end before max, if it keeps at least half. */
    size_t best = 0;
    for (size_t i = 0; i < max; i++)
        if ((text[i] == '.' || text[i] == '\n') && (text[i + 1] == ' ' || text[i + 1] == '\n'))
            best = i + 1;
    size_t k = best >= max / 2 ? best : cut(text, n, max);
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_append(&b, text, k);
    if (k == cut(text, n, max) && best < max / 2)
        ms_buf_puts(&b, "...");
    ms_buf_cstr(&b);
    return ms_buf_take(&b);
}

json_t *ms__wf_citation(const char *source_id, const char *source_type, const char *title,
                        const char *url, const char *source_name, const char *quoted,
                        const char *subtitle) {
    char *q = ms__wf_excerpt(quoted ? quoted : "", 600);
    json_t *c = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "index", 0, "source_id",
                          source_id ? source_id : "", "source_type", source_type ? source_type : "",
                          "title", title ? title : "", "url", url ? url : "", "source_name",
                          source_name ? source_name : "", "quoted_text", q);
    free(q);
    if (subtitle)
        json_object_set_new(c, "subtitle", json_string(subtitle));
    return c;
}

json_t *ms__wf_cite(ms_wf_t *wf, json_t *c) {
    const char *id = json_string_value(json_object_get(c, "source_id"));
    const char *q = json_string_value(json_object_get(c, "quoted_text"));
    size_t i;
    json_t *have;
    json_array_foreach(wf->citations, i, have) {
        if (!strcmp(json_string_value(json_object_get(have, "source_id")), id ? id : "") &&
            !strcmp(json_string_value(json_object_get(have, "quoted_text")), q ? q : "")) {
            json_decref(c);
            return have;
        }
    }
    json_object_set_new(c, "index", json_integer((json_int_t)json_array_size(wf->citations) + 1));
    json_array_append_new(wf->citations, c);
    return c;
}
