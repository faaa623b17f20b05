/* The public face of the styles: names, one reference, in-text markers and
 * the bibliography. */
#include "cite/cite_int.h"

#include "core/ms.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name, *label, *list;
    int numeric;
    void (*write)(const cite_item_t *, rt_t *);
} styles[] = {
    [MS_CITE_APA] = {"apa", "APA 7", "References", 0, cite_apa},
    [MS_CITE_MLA] = {"mla", "MLA 9", "Works Cited", 0, cite_mla},
    [MS_CITE_CHICAGO] = {"chicago", "Chicago 17 (author-date)", "References", 0, cite_chicago},
    [MS_CITE_VANCOUVER] = {"vancouver", "Vancouver (ICMJE/NLM)", "References", 1, cite_vancouver},
    [MS_CITE_AMA] = {"ama", "AMA 11", "References", 1, cite_ama},
};

int ms_cite_parse_style(const char *s, ms_cite_style_t *out) {
    if (!s)
        return MS_EINVAL;
    for (size_t i = 0; i < MS_COUNTOF(styles); i++)
        if (!strcasecmp(s, styles[i].name)) {
            *out = (ms_cite_style_t)i;
            return 0;
        }
    return MS_EINVAL;
}

const char *ms_cite_style_name(ms_cite_style_t style) {
    return styles[style].name;
}

const char *ms_cite_style_label(ms_cite_style_t style) {
    return styles[style].label;
}

const char *ms_cite_list_title(ms_cite_style_t style) {
    return styles[style].list;
}

int ms_cite_numeric(ms_cite_style_t style) {
    return styles[style].numeric;
}

int ms_cite_format(json_t *citation, ms_cite_style_t style, const ms_cite_date_t *accessed,
                   ms_cite_ref_t *out) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(citation) || (unsigned)style >= MS_COUNTOF(styles))
        return MS_EINVAL;
    cite_item_t it;
    cite_item_read(citation, accessed, &it);
    rt_t rt;
    rt_init(&rt);
    styles[style].write(&it, &rt);
    rt_trim(&rt);
    rt_take(&rt, out);
    cite_item_free(&it);
    return 0;
}

void ms_cite_ref_free(ms_cite_ref_t *ref) {
    if (!ref)
        return;
    free(ref->text);
    free(ref->markdown);
    free(ref->html);
    memset(ref, 0, sizeof *ref);
}

/* ---- in-text citations ------------------------------------------------------ */

/* The name an in-text citation uses for a person or an organisation. */
static const char *short_name(const cite_name_t *n) {
    return n->literal ? n->literal : n->family;
}

/* "Smith", "Smith & Jones" / "Smith and Jones", "Smith et al.", and for
 * Chicago three names in full ("A, B, and C"). */
static void in_text_names(const cite_item_t *it, const char *and, size_t max_listed, ms_buf_t *b) {
    size_t n = it->nnames;
    if (it->nnames_total > max_listed) {
        ms_buf_printf(b, "%s et al.", short_name(&it->names[0]));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i && i + 1 == n)
            ms_buf_printf(b, "%s %s ", n > 2 ? "," : "", and);
        else if (i)
            ms_buf_puts(b, ", ");
        ms_buf_puts(b, short_name(&it->names[i]));
    }
}

/* The author element of an author-date citation, or the title. */
static void who(const cite_item_t *it, ms_cite_style_t style, ms_buf_t *b) {
    if (cite_item_has_authors(it)) {
        in_text_names(it, style == MS_CITE_APA ? "&" : "and", style == MS_CITE_CHICAGO ? 3 : 2, b);
        return;
    }
    const char *g = cite_item_group(it);
    if (g && style != MS_CITE_MLA) {
        ms_buf_puts(b, g);
        return;
    }
    const char *t = it->title ? it->title : "Untitled";
    if (style == MS_CITE_APA && it->kind != ITEM_ARTICLE)
        ms_buf_puts(b, t); /* italic in print; plain here */
    else
        ms_buf_printf(b, "\xe2\x80\x9c%s\xe2\x80\x9d", t);
}

static const char *const superscripts[] = {
    "\xe2\x81\xb0", "\xc2\xb9",     "\xc2\xb2",     "\xc2\xb3",     "\xe2\x81\xb4",
    "\xe2\x81\xb5", "\xe2\x81\xb6", "\xe2\x81\xb7", "\xe2\x81\xb8", "\xe2\x81\xb9"};

char *cite_in_text_item(const cite_item_t *it, ms_cite_style_t style, int number) {
    ms_buf_t b;
    ms_buf_init(&b);
    char year[16];
    if (it->date.year)
        snprintf(year, sizeof year, "%d", it->date.year);
    else
        snprintf(year, sizeof year, "n.d.");
    switch (style) {
    case MS_CITE_VANCOUVER:
        ms_buf_printf(&b, "(%d)", number);
        break;
    case MS_CITE_AMA: {
        char digits[16];
        snprintf(digits, sizeof digits, "%d", number < 0 ? 0 : number);
        for (const char *p = digits; *p; p++)
            ms_buf_puts(&b, superscripts[*p - '0']);
        break;
    }
    case MS_CITE_APA:
        ms_buf_putc(&b, '(');
        who(it, style, &b);
        ms_buf_printf(&b, ", %s)", year);
        break;
    case MS_CITE_MLA:
        ms_buf_putc(&b, '(');
        who(it, style, &b);
        ms_buf_putc(&b, ')');
        break;
    case MS_CITE_CHICAGO:
        ms_buf_putc(&b, '(');
        who(it, style, &b);
        ms_buf_printf(&b, " %s)", year);
        break;
    }
    return ms_buf_take(&b);
}

char *ms_cite_in_text(json_t *citation, ms_cite_style_t style, int number) {
    cite_item_t it;
    cite_item_read(json_is_object(citation) ? citation : NULL, NULL, &it);
    char *s = cite_in_text_item(&it, style, number);
    cite_item_free(&it);
    return s;
}

/* ---- the bibliography ------------------------------------------------------------ */

typedef struct {
    int index;
    char *sort;
    int year;
    char *in_text;
    ms_cite_ref_t ref;
} entry_t;

/* The alphabetising key: the first element of the entry, letters and
 * digits only, ASCII case folded (CMOS 15.16, APA 9.44, MLA 5.124 sort
 * letter by letter on what comes first). */
static char *sort_key(const char *text) {
    ms_buf_t b;
    ms_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (isalnum(*p) || *p >= 0x80)
            ms_buf_putc(&b, (char)tolower(*p));
    return ms_buf_take(&b);
}

static int by_key(const void *a, const void *b) {
    const entry_t *x = a, *y = b;
    int c = strcmp(x->sort, y->sort);
    if (c)
        return c;
    if (x->year != y->year)
        return x->year - y->year;
    return x->index - y->index;
}

json_t *ms_cite_bibliography(json_t *citations, ms_cite_style_t style,
                             const ms_cite_date_t *accessed) {
    size_t n = json_array_size(citations), ne = 0, i;
    entry_t *e = ms_xcalloc(n ? n : 1, sizeof *e);
    json_t *c;
    json_array_foreach(citations, i, c) {
        if (!json_is_object(c))
            continue;
        entry_t *x = &e[ne];
        if (ms_cite_format(c, style, accessed, &x->ref) != 0)
            continue;
        int dup = 0;
        for (size_t k = 0; k < ne && !dup; k++)
            dup = !strcmp(e[k].ref.text, x->ref.text);
        if (dup) {
            ms_cite_ref_free(&x->ref);
            continue;
        }
        json_t *idx = json_object_get(c, "index");
        x->index = json_is_integer(idx) ? (int)json_integer_value(idx) : (int)i + 1;
        cite_item_t it;
        cite_item_read(c, accessed, &it);
        x->year = it.date.year;
        x->in_text = cite_in_text_item(&it, style, x->index);
        cite_item_free(&it);
        x->sort = sort_key(x->ref.text);
        ne++;
    }
    int numbered = ms_cite_numeric(style);
    if (!numbered && ne > 1)
        qsort(e, ne, sizeof *e, by_key);
    json_t *entries = json_array();
    ms_buf_t text, md, html;
    ms_buf_init(&text);
    ms_buf_init(&md);
    ms_buf_init(&html);
    ms_buf_puts(&html, numbered ? "<ol>" : "<ul>");
    for (size_t k = 0; k < ne; k++) {
        entry_t *x = &e[k];
        json_array_append_new(entries,
                              json_pack("{s:i, s:o, s:s, s:s, s:s, s:s}", "index", x->index,
                                        "number", numbered ? json_integer(x->index) : json_null(),
                                        "in_text", x->in_text, "text", x->ref.text, "markdown",
                                        x->ref.markdown, "html", x->ref.html));
        if (numbered) {
            ms_buf_printf(&text, "%d. ", x->index);
            ms_buf_printf(&md, "%d. ", x->index);
            ms_buf_printf(&html, "<li value=\"%d\">", x->index);
        } else {
            ms_buf_puts(&md, "- ");
            ms_buf_puts(&html, "<li>");
        }
        ms_buf_printf(&text, "%s\n", x->ref.text);
        ms_buf_printf(&md, "%s\n", x->ref.markdown);
        ms_buf_printf(&html, "%s</li>", x->ref.html);
        ms_cite_ref_free(&x->ref);
        free(x->sort);
        free(x->in_text);
    }
    ms_buf_puts(&html, numbered ? "</ol>" : "</ul>");
    free(e);
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:b, s:o, s:s, s:s, s:s}", "style", ms_cite_style_name(style),
                  "label", ms_cite_style_label(style), "title", ms_cite_list_title(style),
                  "numbered", numbered, "entries", entries, "text", ms_buf_cstr(&text), "markdown",
                  ms_buf_cstr(&md), "html", ms_buf_cstr(&html));
    ms_buf_free(&text);
    ms_buf_free(&md);
    ms_buf_free(&html);
    return out;
}
