/* Chicago author-date references (The Chicago Manual of Style, 17th ed.,
 * 2017, chapter 15):
 *
 *   Family, Given, and Given Family. 2014. “Title.” Journal 24 (4): 325–50.
 *     https://doi.org/...                                   (15.9, 15.47)
 *   Organisation. n.d. “Title.” Site. Accessed May 15, 2017. URL.  (15.51)
 *
 * The first author inverted, the others not; up to ten all named, more
 * than ten the first seven and "et al." (15.9, 14.76). No author: the
 * organisation that owns a site stands in, else the title (15.12, 15.51).
 * No date: "n.d." and an access date (15.44, 15.50). A month or season
 * goes in parentheses after the issue as "24, no. 4 (Spring)" (15.47).
 * Titles in headline style and quotation marks, journal and site titles
 * in italics; inclusive numbers per 9.61 with an en dash. */
#include "cite/cite_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void chicago_name(const cite_name_t *n, int inverted, rt_t *rt) {
    cite_name_full(n, inverted, " ", rt);
}

static void chicago_authors(const cite_item_t *it, rt_t *rt) {
    size_t n = it->nnames, shown = it->nnames_total > 10 ? 7 : n;
    if (shown > n)
        shown = n;
    for (size_t i = 0; i < shown; i++) {
        if (i)
            rt_put(rt, i + 1 == shown && shown == it->nnames_total ? ", and " : ", ");
        chicago_name(&it->names[i], i == 0, rt);
    }
    if (shown < it->nnames_total)
        rt_put(rt, ", et al");
    rt_stop(rt, 1);
}

static void quoted(const char *title, rt_t *rt) {
    ms_buf_t h;
    ms_buf_init(&h);
    cite_headline(title, &h);
    rt_put(rt, "\xe2\x80\x9c");
    rt_put(rt, ms_buf_cstr(&h));
    rt_stop(rt, 0);
    rt_put(rt, "\xe2\x80\x9d ");
    ms_buf_free(&h);
}

static void full_date(const ms_cite_date_t *d, rt_t *rt) {
    if (d->day)
        rt_printf(rt, "%s %d, %d", cite_month_full(d->month), d->day, d->year);
    else if (d->month)
        rt_printf(rt, "%s %d", cite_month_full(d->month), d->year);
    else
        rt_printf(rt, "%d", d->year);
}

static void chicago_link(const cite_item_t *it, rt_t *rt) {
    if (it->doi) {
        ms_buf_t u;
        ms_buf_init(&u);
        cite_doi_url(it->doi, &u);
        rt_link(rt, ms_buf_cstr(&u), NULL);
        ms_buf_free(&u);
    } else if (it->url) {
        rt_link(rt, it->url, NULL);
    } else {
        return;
    }
    rt_put(rt, ".");
}

static void chicago_article(const cite_item_t *it, rt_t *rt) {
    ms_buf_t h;
    ms_buf_init(&h);
    cite_headline(it->journal, &h);
    rt_ital(rt, ms_buf_cstr(&h));
    ms_buf_free(&h);
    const char *when = it->season       ? it->season
                       : it->date.month ? cite_month_full(it->date.month)
                                        : NULL;
    if (it->volume) {
        rt_printf(rt, " %s", it->volume);
        if (when && it->issue)
            rt_printf(rt, ", no. %s (%s)", it->issue, when);
        else if (when)
            rt_printf(rt, " (%s)", when);
        else if (it->issue)
            rt_printf(rt, " (%s)", it->issue);
    } else if (it->issue) {
        rt_printf(rt, ", no. %s", it->issue);
        if (when)
            rt_printf(rt, " (%s)", when);
    }
    if (it->pages) {
        ms_buf_t p;
        ms_buf_init(&p);
        cite_pages(it->pages, PAGES_CHICAGO, &p);
        rt_printf(rt, "%s %s", it->volume || it->issue ? ":" : ",", ms_buf_cstr(&p));
        ms_buf_free(&p);
    }
    rt_stop(rt, 1);
    chicago_link(it, rt);
}

static void chicago_page(const cite_item_t *it, const char *author, rt_t *rt) {
    if (it->site && !(author && !strcasecmp(author, it->site))) {
        rt_ital(rt, it->site);
        rt_stop(rt, 1);
    }
    if (it->updated.year) {
        rt_put(rt, "Last modified ");
        full_date(&it->updated, rt);
        rt_put(rt, ". ");
    } else if (it->date.month) {
        full_date(&it->date, rt);
        rt_put(rt, ". ");
    } else if (!it->date.year && it->accessed.year) {
        rt_put(rt, "Accessed ");
        full_date(&it->accessed, rt);
        rt_put(rt, ". ");
    }
    chicago_link(it, rt);
}

void cite_chicago(const cite_item_t *it, rt_t *rt) {
    const char *author = NULL;
    int title_first = 0;
    if (cite_item_has_authors(it)) {
        chicago_authors(it, rt);
        if (it->nnames == 1 && it->names[0].literal)
            author = it->names[0].literal;
    } else if ((author = cite_item_group(it)) != NULL) {
        rt_put(rt, author);
        rt_stop(rt, 1);
    } else {
        quoted(it->title ? it->title : "Untitled", rt);
        title_first = 1;
    }
    if (it->date.year)
        rt_printf(rt, "%d. ", it->date.year);
    else
        rt_put(rt, "n.d. ");
    if (!title_first) {
        if (it->kind == ITEM_DOCUMENT) {
            ms_buf_t h;
            ms_buf_init(&h);
            cite_headline(it->title ? it->title : "Untitled", &h);
            rt_ital(rt, ms_buf_cstr(&h));
            rt_stop(rt, 1);
            ms_buf_free(&h);
        } else {
            quoted(it->title ? it->title : "Untitled", rt);
        }
    }
    if (it->kind == ITEM_ARTICLE)
        chicago_article(it, rt);
    else
        chicago_page(it, author, rt);
}
