/* What the Markdown and PDF writers share: times, the citations of a
 * message with their access date, the conversation's sources, and the
 * summary of a tool call. */
#include "export/export.h"

#include "core/ms.h"

#include <stdio.h>
#include <string.h>

void ms_export_time(const char *iso, char *out, size_t n) {
    /* RFC 3339 "YYYY-MM-DDTHH:MM:SS.sssZ": the date, the time to the
     * second, and the zone said in words. */
    if (iso && strlen(iso) >= 19 && iso[10] == 'T')
        snprintf(out, n, "%.10s %.8s UTC", iso, iso + 11);
    else
        snprintf(out, n, "%s", iso ? iso : "");
}

ms_cite_date_t ms_export_day(const char *iso) {
    ms_cite_date_t d;
    if (ms_cite_parse_date(iso, &d) != 0)
        memset(&d, 0, sizeof d);
    return d;
}

json_t *ms_export_citations(json_t *message) {
    json_t *in = json_object_get(message, "citations");
    json_t *out = json_array();
    const char *when = json_string_value(json_object_get(message, "created_at"));
    char day[16] = "";
    if (when && strlen(when) >= 10)
        snprintf(day, sizeof day, "%.10s", when);
    size_t i;
    json_t *c;
    json_array_foreach(in, i, c) {
        if (!json_is_object(c))
            continue;
        json_t *copy = json_deep_copy(c);
        json_t *ctx = json_object_get(copy, "context");
        if (!json_is_object(ctx)) {
            ctx = json_object();
            json_object_set_new(copy, "context", ctx);
        }
        if (day[0] && !json_object_get(ctx, "accessed"))
            json_object_set_new(ctx, "accessed", json_string(day));
        json_array_append_new(out, copy);
    }
    return out;
}

/* What makes two citations the same source: DOI, PMID, URL, else the
 * source id, else the title. */
static void source_key(json_t *c, ms_buf_t *k) {
    static const char *const keys[] = {"doi", "pmid", "url", "source_id", "title"};
    for (size_t i = 0; i < MS_COUNTOF(keys); i++) {
        const char *v = json_string_value(json_object_get(c, keys[i]));
        if (v && *v) {
            ms_buf_printf(k, "%s:%s", keys[i], v);
            return;
        }
    }
}

json_t *ms_export_sources(json_t *messages) {
    json_t *out = json_array(), *seen = json_object();
    size_t i, j;
    json_t *m, *c;
    ms_buf_t k;
    ms_buf_init(&k);
    json_array_foreach(messages, i, m) {
        json_t *cits = ms_export_citations(m);
        json_array_foreach(cits, j, c) {
            ms_buf_reset(&k);
            source_key(c, &k);
            if (k.len && json_object_get(seen, k.data))
                continue;
            if (k.len)
                json_object_set_new(seen, k.data, json_true());
            json_t *copy = json_incref(c);
            json_object_set_new(copy, "index", json_integer((json_int_t)json_array_size(out) + 1));
            json_array_append_new(out, copy);
        }
        json_decref(cits);
    }
    ms_buf_free(&k);
    json_decref(seen);
    return out;
}

void ms_export_short(const char *s, size_t max_chars, ms_buf_t *out) {
    size_t n = strlen(s ? s : ""), chars = 0, cut = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && ++chars > max_chars) {
            cut = i;
            break;
        }
    }
    if (!cut) {
        ms_buf_append(out, s, n);
        return;
    }
    size_t at = cut;
    while (at > cut / 2 && s[at] != ' ')
        at--;
    if (s[at] != ' ')
        at = cut;
    ms_buf_append(out, s, at);
    ms_buf_puts(out, "\xe2\x80\xa6");
}

void ms_export_tool_summary(json_t *tool, ms_buf_t *out) {
    json_t *res = json_object_get(tool, "result");
    const char *err = json_string_value(json_object_get(res, "error"));
    if (!json_is_object(res)) {
        ms_buf_puts(out, "no result recorded");
        return;
    }
    if (err) {
        ms_buf_printf(out, "failed: %s", err);
        return;
    }
    json_t *inner = json_object_get(res, "result");
    json_int_t count = json_integer_value(json_object_get(inner, "count"));
    double ms = json_number_value(json_object_get(res, "duration_ms"));
    ms_buf_printf(out, "%lld passage%s found", (long long)count, count == 1 ? "" : "s");
    if (json_is_number(json_object_get(res, "duration_ms")))
        ms_buf_printf(out, " in %.1f ms", ms);
    json_t *top = json_object_get(inner, "top");
    size_t i;
    json_t *t;
    json_array_foreach(top, i, t) {
        const char *title = json_string_value(json_object_get(t, "title"));
        const char *id = json_string_value(json_object_get(t, "id"));
        ms_buf_puts(out, i ? "; " : ": ");
        ms_buf_puts(out, title && *title ? title : id ? id : "?");
        if (id && title && *title)
            ms_buf_printf(out, " (%s, score %.2f)", id,
                          json_number_value(json_object_get(t, "score")));
    }
}
