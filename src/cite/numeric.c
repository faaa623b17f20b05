/* The numbered medical styles.
 *
 * Vancouver: the ICMJE Recommendations point to NLM's Citing Medicine
 * (2nd ed.) for reference form:
 *   Halpern SD, Ubel PA, Caplan AL. Solid-organ transplantation in
 *     HIV-infected patients. N Engl J Med. 2002 Jul 25;347(4):284-7.
 *   (chapter 1: surname and initials, up to six then "et al."; the NLM
 *   journal abbreviation; year, month and day; repeated page digits
 *   dropped), and for web sites (chapter 25)
 *   Title [Internet]. Place: Publisher; date [updated ...; cited ...].
 *     Available from: URL
 *   with "[place unknown]" / "[publisher unknown]" when the site does not
 *   say, "(US)" after a national body's name, the part cited after the
 *   homepage's data, and a period after the URL only when it ends in "/".
 *
 * AMA 11 (AMA Manual of Style, 11th ed., 2020, 3.11 and 3.15):
 *   Lempke LB, Schmidt JD, Lynall RC. Title. J Athl Train.
 *     2020;55(1):17-26. doi:10.4085/1062-6050-322-18
 *   Author or organisation. Title. Website name. Published date. Updated
 *     date. Accessed date. URL
 *   surnames and initials, all up to six, more than six the first three
 *   and "et al"; abbreviated journal in italics; full page numbers; no
 *   period after a DOI or URL; "website" after a site name that is its
 *   owner's name. */
#include "cite/cite_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* "Halpern SD", "Smith JA Jr". */
static void initials_name(const cite_name_t *n, rt_t *rt) {
    if (n->literal) {
        rt_put(rt, n->literal);
        return;
    }
    rt_put(rt, n->family);
    if (n->given && *n->given) {
        ms_buf_t ini;
        ms_buf_init(&ini);
        cite_initials(n->given, "", 0, 0, &ini);
        rt_put(rt, " ");
        rt_put(rt, ms_buf_cstr(&ini));
        ms_buf_free(&ini);
    }
    if (n->suffix) {
        rt_put(rt, " ");
        rt_put(rt, n->suffix);
    }
}

/* All names up to max_all; more than that: the first shown and et_al. */
static void initials_list(const cite_item_t *it, size_t max_all, size_t shown, const char *et_al,
                          rt_t *rt) {
    size_t k = it->nnames_total > max_all ? shown : it->nnames;
    if (k > it->nnames)
        k = it->nnames;
    for (size_t i = 0; i < k; i++) {
        if (i)
            rt_put(rt, ", ");
        initials_name(&it->names[i], rt);
    }
    if (k < it->nnames_total) {
        rt_put(rt, ", ");
        rt_put(rt, et_al);
    }
    rt_stop(rt, 1);
}

static void nlm_date(const ms_cite_date_t *d, const char *season, rt_t *rt) {
    rt_printf(rt, "%d", d->year);
    if (d->month)
        rt_printf(rt, " %s", cite_month_nlm(d->month));
    else if (season)
        rt_printf(rt, " %s", season);
    if (d->month && d->day)
        rt_printf(rt, " %d", d->day);
}

/* ";347(4):284-7" after the date, NLM and AMA alike but for the pages. */
static void vol_issue_pages(const cite_item_t *it, pages_style_t ps, rt_t *rt) {
    if (it->volume || it->issue || it->pages)
        rt_put(rt, ";");
    if (it->volume)
        rt_put(rt, it->volume);
    if (it->issue)
        rt_printf(rt, "(%s)", it->issue);
    if (it->pages) {
        ms_buf_t p;
        ms_buf_init(&p);
        cite_pages(it->pages, ps, &p);
        rt_printf(rt, ":%s", ms_buf_cstr(&p));
        ms_buf_free(&p);
    }
}

static void vancouver_article(const cite_item_t *it, rt_t *rt) {
    rt_put(rt, it->journal_abbrev ? it->journal_abbrev : it->journal);
    rt_stop(rt, 1);
    if (it->date.year)
        nlm_date(&it->date, it->season, rt);
    vol_issue_pages(it, PAGES_NLM, rt);
    rt_stop(rt, 0);
    if (it->doi)
        rt_printf(rt, " doi: %s.", it->doi);
}

static void publisher_nlm(const cite_item_t *it, rt_t *rt) {
    rt_put(rt, it->place ? it->place : "[place unknown]");
    rt_put(rt, ": ");
    if (it->publisher) {
        rt_put(rt, it->publisher);
        if (it->country)
            rt_printf(rt, " (%s)", it->country);
    } else {
        rt_put(rt, "[publisher unknown]");
    }
}

/* "; c2000-01 [updated 2002 May 16; cited 2002 Jul 9]. " */
static void dates_nlm(const cite_item_t *it, rt_t *rt) {
    int any = 0;
    if (it->copyright) {
        rt_printf(rt, "; c%s", it->copyright);
        any = 1;
    } else if (it->date.year) {
        rt_put(rt, "; ");
        nlm_date(&it->date, it->season, rt);
        any = 1;
    }
    if (it->updated.year || it->accessed.year) {
        rt_put(rt, any ? " [" : "; [");
        if (it->updated.year) {
            rt_put(rt, "updated ");
            nlm_date(&it->updated, NULL, rt);
        }
        if (it->accessed.year) {
            if (it->updated.year)
                rt_put(rt, "; ");
            rt_put(rt, "cited ");
            nlm_date(&it->accessed, NULL, rt);
        }
        rt_put(rt, "]");
    }
    rt_put(rt, ". ");
}

static void available_nlm(const cite_item_t *it, rt_t *rt) {
    if (!it->url)
        return;
    rt_put(rt, "Available from: ");
    rt_link(rt, it->url, NULL);
    size_t n = strlen(it->url);
    if (n && it->url[n - 1] == '/')
        rt_put(rt, ".");
}

static void vancouver_page(const cite_item_t *it, rt_t *rt) {
    const char *title = it->title ? it->title : "Untitled";
    int homepage = !it->site || !strcasecmp(it->site, title);
    if (homepage && cite_item_has_authors(it))
        initials_list(it, 6, 6, "et al", rt);
    rt_put(rt, homepage ? title : it->site);
    rt_put(rt, " [Internet]. ");
    publisher_nlm(it, rt);
    dates_nlm(it, rt);
    if (!homepage) {
        if (cite_item_has_authors(it))
            initials_list(it, 6, 6, "et al", rt);
        rt_put(rt, title);
        rt_stop(rt, 1);
    }
    available_nlm(it, rt);
}

void cite_vancouver(const cite_item_t *it, rt_t *rt) {
    if (it->kind == ITEM_WEBPAGE) {
        vancouver_page(it, rt);
        return;
    }
    if (cite_item_has_authors(it))
        initials_list(it, 6, 6, "et al", rt);
    rt_put(rt, it->title ? it->title : "Untitled");
    rt_stop(rt, 1);
    if (it->kind == ITEM_ARTICLE) {
        vancouver_article(it, rt);
        return;
    }
    if (it->site) {
        rt_put(rt, it->site);
        rt_stop(rt, 1);
    }
    if (it->date.year) {
        nlm_date(&it->date, it->season, rt);
        rt_stop(rt, 1);
    }
    available_nlm(it, rt);
}

/* ---- AMA ---------------------------------------------------------------------- */

static void ama_date(const char *label, const ms_cite_date_t *d, rt_t *rt) {
    rt_put(rt, label);
    if (d->day)
        rt_printf(rt, "%s %d, %d. ", cite_month_full(d->month), d->day, d->year);
    else if (d->month)
        rt_printf(rt, "%s %d. ", cite_month_full(d->month), d->year);
    else
        rt_printf(rt, "%d. ", d->year);
}

static void ama_article(const cite_item_t *it, rt_t *rt) {
    rt_ital(rt, it->journal_abbrev ? it->journal_abbrev : it->journal);
    rt_stop(rt, 1);
    if (it->date.year)
        rt_printf(rt, "%d", it->date.year);
    vol_issue_pages(it, PAGES_FULL_HYPHEN, rt);
    rt_stop(rt, 0);
    if (it->doi) {
        rt_printf(rt, " doi:%s", it->doi);
    } else if (it->url) {
        rt_put(rt, " ");
        if (it->accessed.year)
            ama_date("Accessed ", &it->accessed, rt);
        rt_link(rt, it->url, NULL);
    }
}

static void ama_page(const cite_item_t *it, const char *group, rt_t *rt) {
    if (it->site) {
        rt_put(rt, it->site);
        if (group && !strcasecmp(group, it->site))
            rt_put(rt, " website");
        rt_stop(rt, 1);
    }
    if (it->date.year)
        ama_date("Published ", &it->date, rt);
    if (it->updated.year)
        ama_date("Updated ", &it->updated, rt);
    if (it->accessed.year)
        ama_date("Accessed ", &it->accessed, rt);
    if (it->url)
        rt_link(rt, it->url, NULL);
}

void cite_ama(const cite_item_t *it, rt_t *rt) {
    const char *group = NULL;
    if (cite_item_has_authors(it)) {
        initials_list(it, 6, 3, "et al", rt);
        if (it->nnames == 1 && it->names[0].literal)
            group = it->names[0].literal;
    } else if ((group = cite_item_group(it)) != NULL) {
        rt_put(rt, group);
        rt_stop(rt, 1);
    }
    rt_put(rt, it->title ? it->title : "Untitled");
    rt_stop(rt, 1);
    if (it->kind == ITEM_ARTICLE)
        ama_article(it, rt);
    else
        ama_page(it, group, rt);
}
