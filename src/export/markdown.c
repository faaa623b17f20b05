/* The Markdown export: CommonMark, with GitHub Flavored Markdown tables
 * for the metadata. Answers are Markdown already and go in as they are;
 * a question is quoted (a blockquote), so whatever the user typed reads as
 * their words. Tool calls are fenced JSON. */
#include "export/export.h"

#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A table cell: one line, '|' escaped (GFM tables, "Inlines"). */
static void cell(ms_buf_t *b, const char *s) {
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '|')
            ms_buf_puts(b, "\\|");
        else if (*p == '\n' || *p == '\r')
            ms_buf_putc(b, ' ');
        else
            ms_buf_putc(b, *p);
    }
}

static void row(ms_buf_t *b, const char *k, const char *v) {
    ms_buf_printf(b, "| %s | ", k);
    cell(b, v);
    ms_buf_puts(b, " |\n");
}

/* Inline text for a heading or an emphasis: CommonMark punctuation
 * escaped, one line. */
static void inline_text(ms_buf_t *b, const char *s) {
    for (const char *p = s ? s : ""; *p; p++) {
        if (strchr("\\`*_[]<>#|", *p))
            ms_buf_putc(b, '\\');
        ms_buf_putc(b, (char)(*p == '\n' || *p == '\r' ? ' ' : *p));
    }
}

/* A fence longer than any run of backticks in s (CommonMark 4.5). */
static void fenced(ms_buf_t *b, const char *info, const char *s) {
    size_t longest = 0, run = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    size_t n = longest >= 3 ? longest + 1 : 3;
    for (size_t i = 0; i < n; i++)
        ms_buf_putc(b, '`');
    ms_buf_printf(b, "%s\n%s\n", info, s);
    for (size_t i = 0; i < n; i++)
        ms_buf_putc(b, '`');
    ms_buf_puts(b, "\n\n");
}

static void quoted(ms_buf_t *b, const char *s) {
    ms_buf_puts(b, "> ");
    for (const char *p = s ? s : ""; *p; p++) {
        ms_buf_putc(b, *p);
        if (*p == '\n')
            ms_buf_puts(b, "> ");
    }
    ms_buf_puts(b, "\n\n");
}

static void tools_md(ms_buf_t *b, json_t *tools) {
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        ms_buf_puts(b, "**Tool call:** `");
        for (const char *c = name ? name : "tool"; *c; c++)
            if (*c != '`' && *c != '\n')
                ms_buf_putc(b, *c); /* a code span shows its text as it is */
        ms_buf_puts(b, "`");
        const char *q =
            json_string_value(json_object_get(json_object_get(t, "arguments"), "query"));
        if (q) {
            ms_buf_t qs;
            ms_buf_init(&qs);
            ms_export_short(q, 160, &qs);
            ms_buf_puts(b, " (query: ");
            inline_text(b, ms_buf_cstr(&qs));
            ms_buf_puts(b, ")");
            ms_buf_free(&qs);
        }
        ms_buf_puts(b, "\n\n");
        char *args = json_dumps(json_object_get(t, "arguments"),
                                JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
        if (args)
            fenced(b, "json", args);
        free(args);
        ms_buf_t sum;
        ms_buf_init(&sum);
        ms_export_tool_summary(t, &sum);
        ms_buf_puts(b, "**Result:** ");
        inline_text(b, ms_buf_cstr(&sum));
        ms_buf_puts(b, "\n\n");
        ms_buf_free(&sum);
        char *res = json_dumps(json_object_get(t, "result"),
                               JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
        if (res)
            fenced(b, "json", res);
        free(res);
    }
}

static void references_md(ms_buf_t *b, json_t *msg, ms_cite_style_t style) {
    json_t *cits = ms_export_citations(msg);
    if (!json_array_size(cits)) {
        json_decref(cits);
        return;
    }
    ms_buf_printf(b, "**References** (%s)\n\n", ms_cite_style_label(style));
    size_t i;
    json_t *c;
    json_array_foreach(cits, i, c) {
        ms_cite_ref_t r;
        if (ms_cite_format(c, style, NULL, &r) != 0)
            continue;
        /* The number is the answer's marker [n], whatever the style. */
        ms_buf_printf(b, "%lld. %s\n", (long long)json_integer_value(json_object_get(c, "index")),
                      r.markdown);
        ms_cite_ref_free(&r);
    }
    ms_buf_puts(b, "\n");
    json_decref(cits);
}

int ms_export_markdown(const ms_export_doc_t *d, ms_buf_t *b) {
    if (!json_is_array(d->messages))
        return MS_EINVAL;
    json_t *conv = d->conversation;
    const char *title = json_string_value(json_object_get(conv, "title"));
    char created[40], updated[40], exported[40], iso[40], count[32];
    ms_export_time(json_string_value(json_object_get(conv, "created_at")), created, sizeof created);
    ms_export_time(json_string_value(json_object_get(conv, "updated_at")), updated, sizeof updated);
    ms_time_iso(d->exported_at_ms, iso, sizeof iso);
    ms_export_time(iso, exported, sizeof exported);
    snprintf(count, sizeof count, "%zu", json_array_size(d->messages));

    ms_buf_puts(b, "# ");
    inline_text(b, title && *title ? title : "Conversation");
    ms_buf_puts(b, "\n\nConversation export from medstream.\n\n| Field | Value |\n| --- | --- |\n");
    row(b, "User", d->user_email);
    row(b, "Conversation", json_string_value(json_object_get(conv, "id")));
    row(b, "Created", created);
    row(b, "Last updated", updated);
    row(b, "Messages", count);
    row(b, "Exported", exported);
    row(b, "Citation style", ms_cite_style_label(d->style));
    ms_buf_puts(b, "\n## Messages\n\n");

    size_t i;
    json_t *m;
    json_array_foreach(d->messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *status = json_string_value(json_object_get(m, "status"));
        const char *content = json_string_value(json_object_get(m, "content"));
        const char *id = json_string_value(json_object_get(m, "id"));
        char when[40];
        ms_export_time(json_string_value(json_object_get(m, "created_at")), when, sizeof when);
        int answer = role && !strcmp(role, "assistant");
        ms_buf_printf(b, "### %zu. %s \xe2\x80\x94 %s", i + 1, answer ? "Assistant" : "User", when);
        if (answer && status && strcmp(status, "complete") != 0)
            ms_buf_printf(b, " (%s)", status);
        ms_buf_puts(b, "\n\n");
        if (answer) {
            tools_md(b, json_object_get(d->tools, id ? id : ""));
            ms_buf_puts(b, content && *content ? content : "*(no text)*");
            ms_buf_puts(b, "\n\n");
            references_md(b, m, d->style);
        } else {
            quoted(b, content);
        }
    }

    json_t *sources = ms_export_sources(d->messages);
    if (json_array_size(sources)) {
        json_t *bib = ms_cite_bibliography(sources, d->style, NULL);
        ms_buf_printf(b, "## Bibliography\n\n%s, %zu source%s.\n\n", ms_cite_style_label(d->style),
                      json_array_size(sources), json_array_size(sources) == 1 ? "" : "s");
        ms_buf_puts(b, json_string_value(json_object_get(bib, "markdown")));
        ms_buf_puts(b, "\n");
        json_decref(bib);
    }
    json_decref(sources);
    ms_buf_puts(b, "## Disclaimer\n\n");
    ms_buf_puts(b, d->disclaimer && *d->disclaimer ? d->disclaimer
                                                   : "This export is not medical advice.");
    ms_buf_printf(b, "\n\n---\n\n*Exported %s by medstream.*\n", exported);
    return 0;
}
