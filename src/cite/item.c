/* A native citation object read into the parts the styles use.
 *
 * The seed-002 members are read from the top level (title, url, authors,
 * publication_date, journal, volume, issue, pages, doi, pmid); the extras
 * a style may need from "context" (site, publisher, place, country,
 * journal_abbrev, season, updated, copyright, accessed, kind); what a source code
 * tells (ms_cite_source) fills what the citation leaves out. */
#include "cite/cite_int.h"

#include "core/ms.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ms_cite_parse_date(const char *s, ms_cite_date_t *out) {
    memset(out, 0, sizeof *out);
    if (!s)
        return MS_EINVAL;
    int y = 0, m = 0, d = 0, n = 0;
    for (int i = 0; i < 4; i++) {
        if (!isdigit((unsigned char)s[i]))
            return MS_EINVAL;
        y = y * 10 + (s[i] - '0');
    }
    n = 4;
    if (s[n] == '-' && isdigit((unsigned char)s[n + 1]) && isdigit((unsigned char)s[n + 2])) {
        m = (s[n + 1] - '0') * 10 + (s[n + 2] - '0');
        n += 3;
        if (s[n] == '-' && isdigit((unsigned char)s[n + 1]) && isdigit((unsigned char)s[n + 2])) {
            d = (s[n + 1] - '0') * 10 + (s[n + 2] - '0');
            n += 3;
        }
    }
    if (s[n] && s[n] != 'T' && s[n] != ' ')
        return MS_EINVAL;
    if (y < 1 || m > 12 || d > 31 || (d && !m))
        return MS_EINVAL;
    out->year = y;
    out->month = m;
    out->day = d;
    return 0;
}

static const char *str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

/* A bare DOI: "doi:", "https://doi.org/" and the like removed. */
static const char *bare_doi(const char *d) {
    if (!d)
        return NULL;
    static const char *const pre[] = {"https://doi.org/",
                                      "http://doi.org/",
                                      "https://dx.doi.org/",
                                      "http://dx.doi.org/",
                                      "doi:",
                                      "DOI:"};
    for (size_t i = 0; i < MS_COUNTOF(pre); i++) {
        size_t n = strlen(pre[i]);
        if (!strncasecmp(d, pre[i], n)) {
            d += n;
            break;
        }
    }
    while (*d == ' ')
        d++;
    return *d ? d : NULL;
}

/* Journal articles have a journal; MedQuAD and starter passages are web
 * pages; anything else with a URL is a web page, the rest documents
 * (attachments, imported text). context.kind ("article", "webpage",
 * "document") overrides. */
static item_kind_t kind_of(json_t *c, json_t *ctx) {
    const char *k = str(ctx, "kind");
    if (k && !strcmp(k, "article"))
        return ITEM_ARTICLE;
    if (k && !strcmp(k, "webpage"))
        return ITEM_WEBPAGE;
    if (k && !strcmp(k, "document"))
        return ITEM_DOCUMENT;
    if (str(c, "journal"))
        return ITEM_ARTICLE;
    const char *st = str(c, "source_type");
    if (st && (!strcmp(st, "medquad") || !strcmp(st, "starter")))
        return ITEM_WEBPAGE;
    return str(c, "url") ? ITEM_WEBPAGE : ITEM_DOCUMENT;
}

void cite_item_read(json_t *c, const ms_cite_date_t *accessed, cite_item_t *it) {
    memset(it, 0, sizeof *it);
    json_t *ctx = json_object_get(c, "context");
    if (!json_is_object(ctx))
        ctx = NULL;
    it->kind = kind_of(c, ctx);
    it->index = (int)json_integer_value(json_object_get(c, "index"));
    json_t *authors = json_object_get(c, "authors");
    size_t i;
    json_t *a;
    json_array_foreach(authors, i, a) {
        const char *s = json_string_value(a);
        if (!s || !*s)
            continue;
        it->nnames_total++;
        if (it->nnames < ITEM_MAX_NAMES) {
            cite_name_parse(s, &it->names[it->nnames++]);
        } else {
            /* The last slot follows the list to its end: APA names the
             * final author after an ellipsis. */
            cite_name_free(&it->names[ITEM_MAX_NAMES - 1]);
            cite_name_parse(s, &it->names[ITEM_MAX_NAMES - 1]);
        }
    }
    it->title = str(c, "title");
    it->journal = str(c, "journal");
    it->journal_abbrev = str(ctx, "journal_abbrev");
    it->volume = str(c, "volume");
    it->issue = str(c, "issue");
    it->pages = str(c, "pages");
    it->doi = bare_doi(str(c, "doi"));
    it->pmid = str(c, "pmid");
    it->url = str(c, "url");
    it->site = str(ctx, "site");
    it->publisher = str(ctx, "publisher");
    it->place = str(ctx, "place");
    it->country = str(ctx, "country");
    it->season = str(ctx, "season");
    it->copyright = str(ctx, "copyright");
    const ms_cite_source_t *src = ms_cite_source(str(c, "source_name"));
    if (src) {
        if (!it->site)
            it->site = src->site;
        if (!it->publisher) {
            it->publisher = src->publisher;
            if (!it->place)
                it->place = src->place;
            if (!it->country)
                it->country = src->country;
        }
    }
    if (!it->site && it->kind != ITEM_ARTICLE)
        it->site = str(c, "source_name");
    if (ms_cite_parse_date(str(c, "publication_date"), &it->date) != 0) {
        json_t *y = json_object_get(c, "year");
        if (json_is_integer(y) && json_integer_value(y) > 0 && json_integer_value(y) < 10000)
            it->date.year = (int)json_integer_value(y);
    }
    ms_cite_parse_date(str(ctx, "updated"), &it->updated);
    /* context.accessed, when a producer recorded when it consulted the
     * source, wins over the caller's date. */
    if (ms_cite_parse_date(str(ctx, "accessed"), &it->accessed) != 0 && accessed)
        it->accessed = *accessed;
}

void cite_item_free(cite_item_t *it) {
    for (size_t i = 0; i < it->nnames; i++)
        cite_name_free(&it->names[i]);
    it->nnames = 0;
}

int cite_item_has_authors(const cite_item_t *it) {
    return it->nnames > 0;
}

const char *cite_item_group(const cite_item_t *it) {
    return it->kind == ITEM_ARTICLE ? NULL : it->publisher;
}
