/* APA 7 references (Publication Manual of the American Psychological
 * Association, 7th ed., 2020):
 *
 *   Author, A. A., & Author, B. B. (2019). Title of article. Journal,
 *     Volume(Issue), pages. https://doi.org/...            (10.1, 9.34)
 *   Group Author. (2018, January 23). Title of page. Site. URL  (10.16)
 *
 * Authors (9.8): surname and initials; up to 20 all named, with "&"
 * before the last; 21 or more: the first 19, an ellipsis, the last. A work
 * with no author starts with its title (9.12); no date is "(n.d.)" (9.17),
 * and an undated page that changes gets "Retrieved Month D, YYYY, from"
 * (9.16). The site name is left out when it is the author's (10.16).
 * Journal and volume in italics; a web page's title in italics. Page
 * ranges take an en dash (6.6). */
#include "cite/cite_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void apa_name(const cite_name_t *n, rt_t *rt) {
    if (n->literal) {
        rt_put(rt, n->literal);
        return;
    }
    rt_put(rt, n->family);
    if (n->given && *n->given) {
        ms_buf_t ini;
        ms_buf_init(&ini);
        cite_initials(n->given, ".", 1, 1, &ini);
        rt_put(rt, ", ");
        rt_put(rt, ms_buf_cstr(&ini));
        ms_buf_free(&ini);
    }
    if (n->suffix) {
        rt_put(rt, ", ");
        rt_put(rt, n->suffix);
    }
}

static void apa_authors(const cite_item_t *it, rt_t *rt) {
    size_t total = it->nnames_total, n = it->nnames;
    if (total <= 20) {
        for (size_t i = 0; i < n; i++) {
            if (i)
                rt_put(rt, i + 1 == n ? ", & " : ", ");
            apa_name(&it->names[i], rt);
        }
        return;
    }
    for (size_t i = 0; i < 19 && i + 1 < n; i++) {
        if (i)
            rt_put(rt, ", ");
        apa_name(&it->names[i], rt);
    }
    rt_put(rt, ", . . . ");
    apa_name(&it->names[n - 1], rt);
}

/* "(2019)", "(2018, January 23)", "(n.d.)"; journal articles give the
 * year alone (10.1). */
static void apa_date(const cite_item_t *it, rt_t *rt) {
    const ms_cite_date_t *d = &it->date;
    if (!d->year) {
        rt_put(rt, "(n.d.)");
    } else if (it->kind == ITEM_ARTICLE || !d->month) {
        rt_printf(rt, "(%d)", d->year);
    } else if (!d->day) {
        rt_printf(rt, "(%d, %s)", d->year, cite_month_full(d->month));
    } else {
        rt_printf(rt, "(%d, %s %d)", d->year, cite_month_full(d->month), d->day);
    }
    rt_put(rt, ". ");
}

/* Titles keep the source's case (sentence case in PubMed), except that
 * the first word after a colon is capitalised (APA 6.17). */
static void apa_title(const cite_item_t *it, rt_t *rt) {
    ms_buf_t t;
    ms_buf_init(&t);
    ms_buf_puts(&t, it->title ? it->title : "Untitled");
    for (size_t i = 0; i + 2 < t.len; i++)
        if (t.data[i] == ':' && t.data[i + 1] == ' ' && t.data[i + 2] >= 'a' &&
            t.data[i + 2] <= 'z')
            t.data[i + 2] = (char)(t.data[i + 2] - 'a' + 'A');
    if (it->kind == ITEM_ARTICLE)
        rt_put(rt, ms_buf_cstr(&t));
    else
        rt_ital(rt, ms_buf_cstr(&t));
    ms_buf_free(&t);
    rt_stop(rt, 1);
}

static void apa_link(const cite_item_t *it, rt_t *rt) {
    if (it->doi) {
        ms_buf_t u;
        ms_buf_init(&u);
        cite_doi_url(it->doi, &u);
        rt_link(rt, ms_buf_cstr(&u), NULL);
        ms_buf_free(&u);
    } else if (it->url) {
        rt_link(rt, it->url, NULL);
    }
}

static void apa_article(const cite_item_t *it, rt_t *rt) {
    rt_ital(rt, it->journal);
    if (it->volume) {
        rt_put(rt, ", ");
        rt_ital(rt, it->volume);
    }
    if (it->issue)
        rt_printf(rt, "(%s)", it->issue);
    if (it->pages) {
        ms_buf_t p;
        ms_buf_init(&p);
        cite_pages(it->pages, PAGES_FULL_ENDASH, &p);
        rt_put(rt, ", ");
        rt_put(rt, ms_buf_cstr(&p));
        ms_buf_free(&p);
    }
    rt_put(rt, ".");
    if (it->doi || it->url)
        rt_put(rt, " ");
    apa_link(it, rt);
}

static void apa_page(const cite_item_t *it, const char *author, rt_t *rt) {
    if (it->site && !(author && !strcasecmp(author, it->site))) {
        rt_put(rt, it->site);
        rt_stop(rt, 1);
    }
    if (!it->url && !it->doi)
        return;
    if (!it->date.year && it->accessed.year && it->url) {
        rt_printf(rt, "Retrieved %s %d, %d, from ", cite_month_full(it->accessed.month),
                  it->accessed.day, it->accessed.year);
        rt_link(rt, it->url, NULL);
        return;
    }
    apa_link(it, rt);
}

void cite_apa(const cite_item_t *it, rt_t *rt) {
    const char *author = NULL;
    int title_first = 0;
    if (cite_item_has_authors(it)) {
        apa_authors(it, rt);
        if (it->nnames == 1 && it->names[0].literal)
            author = it->names[0].literal;
        rt_stop(rt, 1);
    } else if ((author = cite_item_group(it)) != NULL) {
        rt_put(rt, author);
        rt_stop(rt, 1);
    } else {
        apa_title(it, rt);
        title_first = 1;
    }
    apa_date(it, rt);
    if (!title_first)
        apa_title(it, rt);
    if (it->kind == ITEM_ARTICLE)
        apa_article(it, rt);
    else
        apa_page(it, author, rt);
}
