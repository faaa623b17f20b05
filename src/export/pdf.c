/* The PDF export, typeset with Pango on a cairo PDF surface (A4, ISO 216).
 *
 * Layout is a flow of blocks down the page: each paragraph is a
 * PangoLayout as wide as the text column, drawn line by line so that a
 * long message continues on the next page; a heading keeps at least its
 * first lines with it; table rows never split. Every page gets a running
 * header (the export's name and the conversation's title) and a footer
 * with the export time and "Page n of N". N is known because the body of
 * each page is first drawn into a cairo recording surface (shaping and
 * line breaking, the costly part, happen once); the PDF pages are then
 * those recordings with their header and footer. Layout stops as soon as
 * the count passes max_pages, which bounds the work a huge conversation
 * costs.
 *
 * Text is real text in embedded fonts (DejaVu Sans, broad Unicode
 * coverage; fontconfig falls back for scripts it lacks), so pdftotext and
 * screen readers read it and it can be searched. */
#include "export/export.h"

#include "core/ms.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A4 in PostScript points, 2 cm side margins. */
#define PAGE_W 595.276
#define PAGE_H 841.890
#define MARGIN_X 56.7
#define TOP 78.0
#define BOTTOM (PAGE_H - 66.0)
#define TEXT_W (PAGE_W - 2 * MARGIN_X)

#define FONT "DejaVu Sans"
#define MONO "DejaVu Sans Mono"

typedef struct {
    double r, g, b;
} rgb_t;

static const rgb_t INK = {0.10, 0.11, 0.13}, MUTED = {0.38, 0.41, 0.46},
                   ACCENT = {0.12, 0.31, 0.47}, RULE = {0.80, 0.83, 0.87},
                   SHADE = {0.95, 0.96, 0.97}, USER = {0.27, 0.33, 0.40}, NOTE = {0.99, 0.97, 0.91},
                   NOTE_EDGE = {0.84, 0.73, 0.42};

typedef struct {
    const ms_export_doc_t *doc;
    cairo_t *cr; /* the current page's recording (or, at the end, the PDF) */
    PangoContext *pctx;
    cairo_surface_t **pages; /* one recording surface per page */
    size_t npages, cap;
    double y;
    int page;
    int total; /* set once the body is laid out */
    int too_many;
    char title[256];
    char exported[40];
} pdf_t;

static void color(pdf_t *p, rgb_t c) {
    cairo_set_source_rgb(p->cr, c.r, c.g, c.b);
}

/* A layout of markup (Pango markup, text escaped) in font at size. */
static PangoLayout *layout(pdf_t *p, const char *markup, const char *font, double size,
                           double width) {
    PangoLayout *l = pango_layout_new(p->pctx);
    PangoFontDescription *fd = pango_font_description_from_string(font);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    pango_layout_set_width(l, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_markup(l, markup, -1);
    return l;
}

static char *esc(const char *s) {
    gchar *e = g_markup_escape_text(s ? s : "", -1);
    char *out = ms_xstrdup(e);
    g_free(e);
    return out;
}

/* ---- pages ------------------------------------------------------------------- */

static void header_footer(pdf_t *p) {
    char left[128], right[64];
    PangoLayout *l =
        layout(p, "<b>medstream</b>  \xc2\xb7  Conversation export", FONT, 8, TEXT_W / 2);
    color(p, MUTED);
    cairo_move_to(p->cr, MARGIN_X, 36);
    pango_cairo_show_layout(p->cr, l);
    g_object_unref(l);
    char *t = esc(p->title);
    l = layout(p, t, FONT, 8, TEXT_W / 2);
    free(t);
    pango_layout_set_alignment(l, PANGO_ALIGN_RIGHT);
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    cairo_move_to(p->cr, MARGIN_X + TEXT_W / 2, 36);
    pango_cairo_show_layout(p->cr, l);
    g_object_unref(l);
    color(p, RULE);
    cairo_set_line_width(p->cr, 0.6);
    cairo_move_to(p->cr, MARGIN_X, 52);
    cairo_line_to(p->cr, PAGE_W - MARGIN_X, 52);
    cairo_move_to(p->cr, MARGIN_X, BOTTOM + 22);
    cairo_line_to(p->cr, PAGE_W - MARGIN_X, BOTTOM + 22);
    cairo_stroke(p->cr);
    snprintf(left, sizeof left, "Exported %s  \xc2\xb7  Confidential clinical record", p->exported);
    if (p->total)
        snprintf(right, sizeof right, "Page %d of %d", p->page, p->total);
    else
        snprintf(right, sizeof right, "Page %d", p->page);
    color(p, MUTED);
    l = layout(p, left, FONT, 7.5, TEXT_W * 0.75);
    cairo_move_to(p->cr, MARGIN_X, BOTTOM + 28);
    pango_cairo_show_layout(p->cr, l);
    g_object_unref(l);
    l = layout(p, right, FONT, 7.5, TEXT_W * 0.25);
    pango_layout_set_alignment(l, PANGO_ALIGN_RIGHT);
    cairo_move_to(p->cr, MARGIN_X + TEXT_W * 0.75, BOTTOM + 28);
    pango_cairo_show_layout(p->cr, l);
    g_object_unref(l);
}

/* Starts the next page's recording. */
static void page_begin(pdf_t *p) {
    p->page++;
    if (p->doc->max_pages > 0 && p->page > p->doc->max_pages)
        p->too_many = 1;
    if (p->npages == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are surface pointers
        p->pages = ms_xrealloc(p->pages, p->cap * sizeof *p->pages);
    }
    cairo_rectangle_t r = {0, 0, PAGE_W, PAGE_H};
    p->pages[p->npages++] = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &r);
    if (p->cr)
        cairo_destroy(p->cr);
    p->cr = cairo_create(p->pages[p->npages - 1]);
    p->y = TOP;
}

/* Makes room for h points, starting a new page when the rest is too small. */
static void need(pdf_t *p, double h) {
    if (p->y + h <= BOTTOM || p->y <= TOP)
        return;
    page_begin(p);
}

/* Draws l line by line at x, across page breaks. shade (or NULL) fills
 * behind each line from x - pad to the column's end; bar draws a rule at
 * x - bar_gap beside each line (a blockquote). */
static void flow(pdf_t *p, PangoLayout *l, double x, const rgb_t *ink, const rgb_t *shade,
                 double pad, const rgb_t *bar) {
    PangoLayoutIter *it = pango_layout_get_iter(l);
    do {
        PangoRectangle log;
        pango_layout_iter_get_line_extents(it, NULL, &log);
        double h = (double)log.height / PANGO_SCALE;
        double base = (double)(pango_layout_iter_get_baseline(it) - log.y) / PANGO_SCALE;
        need(p, h);
        if (shade) {
            color(p, *shade);
            cairo_rectangle(p->cr, x - pad, p->y, PAGE_W - MARGIN_X - (x - pad), h);
            cairo_fill(p->cr);
        }
        if (bar) {
            color(p, *bar);
            cairo_rectangle(p->cr, x - 9, p->y, 2.2, h);
            cairo_fill(p->cr);
        }
        color(p, ink ? *ink : INK);
        cairo_move_to(p->cr, x + (double)log.x / PANGO_SCALE, p->y + base);
        pango_cairo_show_layout_line(p->cr, pango_layout_iter_get_line_readonly(it));
        p->y += h;
    } while (!p->too_many && pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
}

static void para(pdf_t *p, const char *markup, const char *font, double size, double indent,
                 const rgb_t *ink, double after) {
    PangoLayout *l = layout(p, markup, font, size, TEXT_W - indent);
    flow(p, l, MARGIN_X + indent, ink, NULL, 0, NULL);
    g_object_unref(l);
    p->y += after;
}

/* A heading, kept with at least `keep` points of what follows. */
static void heading(pdf_t *p, const char *text, double size, double keep) {
    char *e = esc(text);
    char *m = g_strdup_printf("<b>%s</b>", e);
    PangoLayout *l = layout(p, m, FONT, size, TEXT_W);
    int w, h;
    pango_layout_get_pixel_size(l, &w, &h);
    p->y += size * 0.6;
    need(p, h + keep);
    flow(p, l, MARGIN_X, &ACCENT, NULL, 0, NULL);
    g_object_unref(l);
    free(e);
    g_free(m);
    p->y += 4;
}

/* ---- the metadata table ---------------------------------------------------------- */

static void table_row(pdf_t *p, const char *key, const char *value, int odd) {
    const double kw = 120, padx = 6, pady = 4;
    char *ke = esc(key), *ve = esc(value);
    char *km = g_strdup_printf("<b>%s</b>", ke);
    PangoLayout *kl = layout(p, km, FONT, 9, kw - 2 * padx);
    PangoLayout *vl = layout(p, ve, FONT, 9, TEXT_W - kw - 2 * padx);
    int w, kh, vh;
    pango_layout_get_pixel_size(kl, &w, &kh);
    pango_layout_get_pixel_size(vl, &w, &vh);
    double h = (kh > vh ? kh : vh) + 2 * pady;
    need(p, h);
    if (odd) {
        color(p, SHADE);
        cairo_rectangle(p->cr, MARGIN_X, p->y, TEXT_W, h);
        cairo_fill(p->cr);
    }
    color(p, RULE);
    cairo_set_line_width(p->cr, 0.5);
    cairo_move_to(p->cr, MARGIN_X, p->y + h);
    cairo_line_to(p->cr, MARGIN_X + TEXT_W, p->y + h);
    cairo_stroke(p->cr);
    color(p, MUTED);
    cairo_move_to(p->cr, MARGIN_X + padx, p->y + pady);
    pango_cairo_show_layout(p->cr, kl);
    color(p, INK);
    cairo_move_to(p->cr, MARGIN_X + kw + padx, p->y + pady);
    pango_cairo_show_layout(p->cr, vl);
    p->y += h;
    g_object_unref(kl);
    g_object_unref(vl);
    free(ke);
    free(ve);
    g_free(km);
}

static void metadata(pdf_t *p) {
    const ms_export_doc_t *d = p->doc;
    json_t *conv = d->conversation;
    char created[40], updated[40], count[32];
    ms_export_time(json_string_value(json_object_get(conv, "created_at")), created, sizeof created);
    ms_export_time(json_string_value(json_object_get(conv, "updated_at")), updated, sizeof updated);
    snprintf(count, sizeof count, "%zu", json_array_size(d->messages));
    const char *rows[][2] = {
        {"User", d->user_email ? d->user_email : ""},
        {"Conversation", json_string_value(json_object_get(conv, "id"))},
        {"Created", created},
        {"Last updated", updated},
        {"Messages", count},
        {"Exported", p->exported},
        {"Citation style", ms_cite_style_label(d->style)},
    };
    color(p, RULE);
    cairo_set_line_width(p->cr, 0.8);
    cairo_move_to(p->cr, MARGIN_X, p->y);
    cairo_line_to(p->cr, MARGIN_X + TEXT_W, p->y);
    cairo_stroke(p->cr);
    for (size_t i = 0; i < MS_COUNTOF(rows); i++)
        table_row(p, rows[i][0], rows[i][1] ? rows[i][1] : "", (int)(i % 2 == 0));
    p->y += 14;
}

/* ---- message text ---------------------------------------------------------------- */

/* Markdown's inline **bold** and `code` as Pango markup, the rest escaped. */
static char *inline_markup(const char *s, size_t n) {
    ms_buf_t b;
    ms_buf_init(&b);
    int bold = 0, code = 0;
    for (size_t i = 0; i < n; i++) {
        if (!code && s[i] == '*' && i + 1 < n && s[i + 1] == '*') {
            ms_buf_puts(&b, bold ? "</b>" : "<b>");
            bold = !bold;
            i++;
            continue;
        }
        if (s[i] == '`') {
            ms_buf_puts(&b, code ? "</tt>" : "<tt>");
            code = !code;
            continue;
        }
        gchar *e = g_markup_escape_text(s + i, 1);
        ms_buf_puts(&b, e);
        g_free(e);
    }
    if (code)
        ms_buf_puts(&b, "</tt>");
    if (bold)
        ms_buf_puts(&b, "</b>");
    return ms_buf_take(&b);
}

/* One line of a message: a heading, a list item or text. */
static void text_line(pdf_t *p, const char *s, size_t n, double indent, const rgb_t *bar) {
    const char *bullet = NULL;
    size_t skip = 0;
    if (n > 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && s[1] == ' ') {
        bullet = "\xe2\x80\xa2";
        skip = 2;
    } else if (n > 0 && s[0] == '#') {
        while (skip < n && s[skip] == '#')
            skip++;
        while (skip < n && s[skip] == ' ')
            skip++;
        char *m = inline_markup(s + skip, n - skip);
        char *h = g_strdup_printf("<b>%s</b>", m);
        PangoLayout *l = layout(p, h, FONT, 10.5, TEXT_W - indent);
        need(p, 40);
        flow(p, l, MARGIN_X + indent, &INK, NULL, 0, bar);
        g_object_unref(l);
        free(m);
        g_free(h);
        return;
    }
    char *m = inline_markup(s + skip, n - skip);
    double ind = indent + (bullet ? 12 : 0);
    PangoLayout *l = layout(p, m, FONT, 9.5, TEXT_W - ind);
    pango_layout_set_spacing(l, PANGO_SCALE * 3 / 2); /* 1.5 pt */
    if (bullet) {
        PangoLayout *bl = layout(p, bullet, FONT, 9.5, 10);
        PangoLayoutIter *it = pango_layout_get_iter(l);
        PangoRectangle log;
        pango_layout_iter_get_line_extents(it, NULL, &log);
        need(p, (double)log.height / PANGO_SCALE);
        color(p, ACCENT);
        cairo_move_to(p->cr, MARGIN_X + indent + 2, p->y);
        pango_cairo_show_layout(p->cr, bl);
        pango_layout_iter_free(it);
        g_object_unref(bl);
    }
    flow(p, l, MARGIN_X + ind, &INK, NULL, 0, bar);
    g_object_unref(l);
    free(m);
}

/* A message's text: paragraphs at blank lines, lines within them. The
 * disclaimer paragraph an answer ends with is set apart, smaller and
 * muted. */
static void message_text(pdf_t *p, const char *text, double indent, const rgb_t *bar) {
    const char *disc = p->doc->disclaimer;
    const char *s = text ? text : "";
    while (*s) {
        const char *end = strstr(s, "\n\n");
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (disc && *disc && n == strlen(disc) && !strncmp(s, disc, n)) {
            char *e = esc(disc);
            char *m = g_strdup_printf("<i>%s</i>", e);
            para(p, m, FONT, 8, indent, &MUTED, 4);
            free(e);
            g_free(m);
        } else {
            for (const char *q = s; q < s + n;) {
                const char *nl = memchr(q, '\n', (size_t)(s + n - q));
                size_t ln = nl ? (size_t)(nl - q) : (size_t)(s + n - q);
                if (ln)
                    text_line(p, q, ln, indent, bar);
                q += ln + (nl ? 1 : 0);
            }
            p->y += 6;
        }
        if (!end)
            break;
        s = end + 2;
        while (*s == '\n')
            s++;
    }
}

/* ---- tools and references --------------------------------------------------------- */

static void tools_block(pdf_t *p, json_t *tools) {
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *args = json_object_get(t, "arguments");
        const char *q = json_string_value(json_object_get(args, "query"));
        ms_buf_t sum;
        ms_buf_init(&sum);
        ms_export_tool_summary(t, &sum);
        ms_buf_t qs;
        ms_buf_init(&qs);
        ms_export_short(q, 160, &qs);
        char *ne = esc(name ? name : "tool"), *qe = esc(ms_buf_cstr(&qs)), *se = esc(sum.data);
        ms_buf_free(&qs);
        char *m = g_strdup_printf("<b>Tool call</b>  <tt>%s</tt>%s%s%s\n<b>Result</b>  %s", ne,
                                  q ? "  \xc2\xb7  query \xe2\x80\x9c" : "", qe,
                                  q ? "\xe2\x80\x9d" : "", se);
        PangoLayout *l = layout(p, m, FONT, 8, TEXT_W - 16);
        p->y += 2;
        flow(p, l, MARGIN_X + 8, &MUTED, &SHADE, 8, NULL);
        p->y += 6;
        g_object_unref(l);
        g_free(m);
        free(ne);
        free(qe);
        free(se);
        ms_buf_free(&sum);
    }
}

/* A reference's HTML as Pango markup: the same <i> and entities, links
 * shown as their text. */
static char *ref_markup(const char *html) {
    ms_buf_t b;
    ms_buf_init(&b);
    for (const char *s = html; *s;) {
        if (!strncmp(s, "<a ", 3)) {
            const char *gt = strchr(s, '>');
            s = gt ? gt + 1 : s + strlen(s);
            continue;
        }
        if (!strncmp(s, "</a>", 4)) {
            s += 4;
            continue;
        }
        ms_buf_putc(&b, *s++);
    }
    return ms_buf_take(&b);
}

/* A numbered (or, number < 0, unnumbered) reference with a hanging indent. */
static void reference(pdf_t *p, int number, const char *html, double indent) {
    char *m = ref_markup(html);
    PangoLayout *l = layout(p, m, FONT, 8.5, TEXT_W - indent - 20);
    if (number >= 0) {
        char num[16];
        snprintf(num, sizeof num, "%d.", number);
        PangoLayout *nl = layout(p, num, FONT, 8.5, 18);
        pango_layout_set_alignment(nl, PANGO_ALIGN_RIGHT);
        int w, h;
        pango_layout_get_pixel_size(nl, &w, &h);
        need(p, h);
        color(p, MUTED);
        cairo_move_to(p->cr, MARGIN_X + indent, p->y);
        pango_cairo_show_layout(p->cr, nl);
        g_object_unref(nl);
        flow(p, l, MARGIN_X + indent + 22, &INK, NULL, 0, NULL);
    } else {
        pango_layout_set_indent(l, -18 * PANGO_SCALE);
        flow(p, l, MARGIN_X + indent + 18, &INK, NULL, 0, NULL);
    }
    g_object_unref(l);
    free(m);
    p->y += 3;
}

static void references_block(pdf_t *p, json_t *msg) {
    json_t *cits = ms_export_citations(msg);
    if (json_array_size(cits)) {
        char *h = g_strdup_printf("<b>References</b>  <span foreground=\"#5f6875\">(%s)</span>",
                                  ms_cite_style_label(p->doc->style));
        p->y += 2;
        need(p, 30);
        para(p, h, FONT, 8.5, 0, &ACCENT, 3);
        g_free(h);
        size_t i;
        json_t *c;
        json_array_foreach(cits, i, c) {
            ms_cite_ref_t r;
            if (ms_cite_format(c, p->doc->style, NULL, &r) != 0)
                continue;
            reference(p, (int)json_integer_value(json_object_get(c, "index")), r.html, 0);
            ms_cite_ref_free(&r);
        }
    }
    json_decref(cits);
}

/* ---- messages -------------------------------------------------------------------- */

static void message_bar(pdf_t *p, int answer, int number, const char *when, const char *status) {
    char *m = g_strdup_printf(
        "<b>%d  \xc2\xb7  %s</b>   <span foreground=\"#dbe5ef\">%s%s%s</span>", number,
        answer ? "Assistant" : "User", when, status ? "  \xc2\xb7  " : "", status ? status : "");
    PangoLayout *l = layout(p, m, FONT, 8.5, TEXT_W - 16);
    int w, h;
    pango_layout_get_pixel_size(l, &w, &h);
    double bh = h + 8;
    p->y += 8;
    need(p, bh + 40);
    color(p, answer ? ACCENT : USER);
    cairo_rectangle(p->cr, MARGIN_X, p->y, TEXT_W, bh);
    cairo_fill(p->cr);
    cairo_set_source_rgb(p->cr, 1, 1, 1);
    cairo_move_to(p->cr, MARGIN_X + 8, p->y + 4);
    pango_cairo_show_layout(p->cr, l);
    p->y += bh + 6;
    g_object_unref(l);
    g_free(m);
}

static void messages(pdf_t *p) {
    size_t i;
    json_t *m;
    json_array_foreach(p->doc->messages, i, m) {
        if (p->too_many)
            return;
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *status = json_string_value(json_object_get(m, "status"));
        const char *id = json_string_value(json_object_get(m, "id"));
        int answer = role && !strcmp(role, "assistant");
        char when[40];
        ms_export_time(json_string_value(json_object_get(m, "created_at")), when, sizeof when);
        message_bar(p, answer, (int)i + 1, when,
                    answer && status && strcmp(status, "complete") != 0 ? status : NULL);
        const char *content = json_string_value(json_object_get(m, "content"));
        if (answer) {
            tools_block(p, json_object_get(p->doc->tools, id ? id : ""));
            message_text(p, content && *content ? content : "(no text)", 0, NULL);
            references_block(p, m);
        } else {
            message_text(p, content, 12, &USER);
        }
    }
}

static void bibliography(pdf_t *p) {
    json_t *sources = ms_export_sources(p->doc->messages);
    if (json_array_size(sources)) {
        json_t *bib = ms_cite_bibliography(sources, p->doc->style, NULL);
        size_t n = json_array_size(json_object_get(bib, "entries"));
        char *h = g_strdup_printf("%s  \xc2\xb7  %zu source%s", ms_cite_style_label(p->doc->style),
                                  n, n == 1 ? "" : "s");
        p->y += 10;
        heading(p, "Bibliography", 13, 50);
        char *sub = esc(h);
        para(p, sub, FONT, 8.5, 0, &MUTED, 6);
        free(sub);
        g_free(h);
        int numbered = json_is_true(json_object_get(bib, "numbered"));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(bib, "entries"), i, e) {
            if (p->too_many)
                break;
            reference(p, numbered ? (int)json_integer_value(json_object_get(e, "number")) : -1,
                      json_string_value(json_object_get(e, "html")), 0);
        }
        json_decref(bib);
    }
    json_decref(sources);
}

static void disclaimer(pdf_t *p) {
    const char *d = p->doc->disclaimer && *p->doc->disclaimer
                        ? p->doc->disclaimer
                        : "This export is not medical advice.";
    char *e = esc(d);
    char *m = g_strdup_printf("<b>Disclaimer</b>\n%s", e);
    PangoLayout *l = layout(p, m, FONT, 9, TEXT_W - 24);
    int w, h;
    pango_layout_get_pixel_size(l, &w, &h);
    p->y += 14;
    need(p, h + 20);
    color(p, NOTE);
    cairo_rectangle(p->cr, MARGIN_X, p->y, TEXT_W, h + 20);
    cairo_fill(p->cr);
    color(p, NOTE_EDGE);
    cairo_rectangle(p->cr, MARGIN_X, p->y, 3, h + 20);
    cairo_fill(p->cr);
    color(p, INK);
    cairo_move_to(p->cr, MARGIN_X + 14, p->y + 10);
    pango_cairo_show_layout(p->cr, l);
    p->y += h + 20;
    g_object_unref(l);
    g_free(m);
    free(e);
}

static void title_block(pdf_t *p) {
    para(p, "<b>Conversation export</b>", FONT, 8.5, 0, &MUTED, 4);
    char *e = esc(p->title);
    char *m = g_strdup_printf("<b>%s</b>", e);
    para(p, m, FONT, 18, 0, &INK, 12);
    free(e);
    g_free(m);
}

/* ---- the document ------------------------------------------------------------------ */

static cairo_status_t keep(void *closure, const unsigned char *data, unsigned int n) {
    ms_buf_append(closure, data, n);
    return CAIRO_STATUS_SUCCESS;
}

/* The body of every page, into recordings. MS_ETOOBIG past max_pages. */
static int lay_out(pdf_t *p) {
    /* Metrics must not depend on the surface drawn to: no hinting of
     * glyph positions, as on a PDF surface. */
    cairo_surface_t *probe = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, NULL);
    cairo_t *pcr = cairo_create(probe);
    p->pctx = pango_cairo_create_context(pcr);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(p->pctx, fo);
    cairo_font_options_destroy(fo);
    cairo_destroy(pcr);
    cairo_surface_destroy(probe);
    page_begin(p);
    title_block(p);
    metadata(p);
    heading(p, "Messages", 13, 40);
    messages(p);
    if (!p->too_many)
        bibliography(p);
    if (!p->too_many)
        disclaimer(p);
    cairo_destroy(p->cr);
    p->cr = NULL;
    return p->too_many ? MS_ETOOBIG : 0;
}

/* The PDF: each recorded page with its header and footer. */
static int write_pdf(pdf_t *p, ms_buf_t *out) {
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(keep, out, PAGE_W, PAGE_H);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return MS_EIO;
    }
    char date[40];
    ms_time_iso(p->doc->exported_at_ms, date, sizeof date);
    date[19] = '\0'; /* cairo wants "YYYY-MM-DDThh:mm:ss" */
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, p->title);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "medstream");
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_SUBJECT,
                                   "Conversation export with citations");
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, date);
    p->cr = cairo_create(s);
    p->total = (int)p->npages;
    for (size_t i = 0; i < p->npages; i++) {
        p->page = (int)i + 1;
        cairo_set_source_surface(p->cr, p->pages[i], 0, 0);
        cairo_paint(p->cr);
        header_footer(p);
        cairo_show_page(p->cr);
    }
    cairo_destroy(p->cr);
    p->cr = NULL;
    cairo_surface_finish(s);
    int rc = cairo_surface_status(s) == CAIRO_STATUS_SUCCESS ? 0 : MS_EIO;
    cairo_surface_destroy(s);
    return rc;
}

int ms_export_pdf(const ms_export_doc_t *doc, char **out, size_t *len, int *pages) {
    *out = NULL;
    *len = 0;
    if (!doc || !json_is_array(doc->messages))
        return MS_EINVAL;
    pdf_t p = {.doc = doc};
    const char *t = json_string_value(json_object_get(doc->conversation, "title"));
    snprintf(p.title, sizeof p.title, "%s", t && *t ? t : "Conversation");
    char iso[40];
    ms_time_iso(doc->exported_at_ms, iso, sizeof iso);
    ms_export_time(iso, p.exported, sizeof p.exported);
    int rc = lay_out(&p);
    ms_buf_t b;
    ms_buf_init(&b);
    if (!rc)
        rc = write_pdf(&p, &b);
    for (size_t i = 0; i < p.npages; i++)
        cairo_surface_destroy(p.pages[i]);
    free(p.pages);
    g_object_unref(p.pctx);
    if (rc) {
        ms_buf_free(&b);
        return rc;
    }
    if (pages)
        *pages = p.total;
    *len = b.len;
    *out = ms_buf_take(&b);
    return 0;
}
