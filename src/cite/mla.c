/* MLA 9 works-cited entries (MLA Handbook, 9th ed., 2021, chapter 5): the
 * core elements in order, each ended by its punctuation,
 *
 *   Author. “Title of Source.” Title of Container, vol. 1, no. 2,
 *     Publisher, Date, Location.
 *
 * Authors (5.6-5.8): one "Family, Given"; two "Family, Given, and Given
 * Family"; three or more the first and "et al.". No author: the entry
 * starts with the title (5.9); an organisation that is both author and
 * publisher is given as publisher only (5.11). Titles in headline style,
 * a part in quotation marks, a container in italics (5.22-5.25).
 * Publisher left out when it is the site's own name (5.48). Dates day
 * month year with MLA's month abbreviations (5.69, appendix 1); no date,
 * no "n.d.": an online work without one gets an access date at the end
 * (5.111). Location: a DOI as https://doi.org/..., a URL without its
 * protocol (5.93, 5.95); pages "pp." with MLA's inclusive numbers. */
#include "cite/cite_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* "Family, Given" (inverted) or "Given Family". */
static void mla_name(const cite_name_t *n, int inverted, rt_t *rt) {
    cite_name_full(n, inverted, ", ", rt);
}

static void mla_authors(const cite_item_t *it, rt_t *rt) {
    mla_name(&it->names[0], 1, rt);
    if (it->nnames_total == 2 && it->nnames == 2) {
        rt_put(rt, ", and ");
        mla_name(&it->names[1], 0, rt);
    } else if (it->nnames_total > 2) {
        rt_put(rt, ", et al");
    }
    rt_stop(rt, 1);
}

static void quoted_title(const char *title, rt_t *rt) {
    ms_buf_t h;
    ms_buf_init(&h);
    cite_headline(title, &h);
    rt_put(rt, "\xe2\x80\x9c");
    rt_put(rt, ms_buf_cstr(&h));
    rt_stop(rt, 0);
    rt_put(rt, "\xe2\x80\x9d ");
    ms_buf_free(&h);
}

static void ital_title(const char *title, rt_t *rt) {
    ms_buf_t h;
    ms_buf_init(&h);
    cite_headline(title, &h);
    rt_ital(rt, ms_buf_cstr(&h));
    rt_stop(rt, 1);
    ms_buf_free(&h);
}

/* Seasons are lower case in MLA 9 ("spring 2020", 5.70). */
static void mla_season(const char *s, rt_t *rt) {
    char low[24];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[i] = '\0';
    rt_put(rt, low);
    rt_put(rt, " ");
}

static void mla_date(const ms_cite_date_t *d, const char *season, int with_day, rt_t *rt) {
    if (with_day && d->day)
        rt_printf(rt, "%d %s %d", d->day, cite_month_mla(d->month), d->year);
    else if (d->month)
        rt_printf(rt, "%s %d", cite_month_mla(d->month), d->year);
    else {
        if (season)
            mla_season(season, rt);
        rt_printf(rt, "%d", d->year);
    }
}

/* The location: the DOI, else the URL without its protocol. */
static int mla_location(const cite_item_t *it, rt_t *rt) {
    if (it->doi) {
        ms_buf_t u;
        ms_buf_init(&u);
        cite_doi_url(it->doi, &u);
        rt_link(rt, ms_buf_cstr(&u), NULL);
        ms_buf_free(&u);
        return 1;
    }
    if (it->url) {
        rt_link(rt, it->url, cite_url_bare(it->url));
        return 1;
    }
    return 0;
}

static void mla_article(const cite_item_t *it, rt_t *rt) {
    ms_buf_t h;
    ms_buf_init(&h);
    cite_headline(it->journal, &h);
    rt_ital(rt, ms_buf_cstr(&h));
    ms_buf_free(&h);
    if (it->volume)
        rt_printf(rt, ", vol. %s", it->volume);
    if (it->issue)
        rt_printf(rt, ", no. %s", it->issue);
    if (it->date.year) {
        rt_put(rt, ", ");
        mla_date(&it->date, it->season, 0, rt);
    }
    if (it->pages) {
        ms_buf_t p;
        ms_buf_init(&p);
        cite_pages(it->pages, PAGES_MLA, &p);
        rt_printf(rt, ", %s %s", cite_pages_is_range(it->pages) ? "pp." : "p.", ms_buf_cstr(&p));
        ms_buf_free(&p);
    }
    if (it->doi || it->url) {
        rt_put(rt, ", ");
        mla_location(it, rt);
    }
    rt_stop(rt, 0);
}

static void mla_page(const cite_item_t *it, rt_t *rt) {
    int any = 0;
    if (it->site) {
        rt_ital(rt, it->site);
        any = 1;
    }
    if (it->publisher && !(it->site && !strcasecmp(it->publisher, it->site))) {
        if (any)
            rt_put(rt, ", ");
        rt_put(rt, it->publisher);
        any = 1;
    }
    if (it->date.year) {
        if (any)
            rt_put(rt, ", ");
        mla_date(&it->date, it->season, 1, rt);
        any = 1;
    }
    if (it->doi || it->url) {
        if (any)
            rt_put(rt, ", ");
        mla_location(it, rt);
        any = 1;
    }
    if (any)
        rt_stop(rt, 0);
    if (!it->date.year && it->accessed.year && (it->url || it->doi)) {
        rt_printf(rt, " Accessed %d %s %d.", it->accessed.day, cite_month_mla(it->accessed.month),
                  it->accessed.year);
    }
}

void cite_mla(const cite_item_t *it, rt_t *rt) {
    if (cite_item_has_authors(it))
        mla_authors(it, rt);
    const char *t = it->title ? it->title : "Untitled";
    if (it->kind == ITEM_DOCUMENT)
        ital_title(t, rt);
    else
        quoted_title(t, rt);
    if (it->kind == ITEM_ARTICLE)
        mla_article(it, rt);
    else
        mla_page(it, rt);
}
