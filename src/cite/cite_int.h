/* Internal to src/cite: a citation object read into the parts the styles
 * use (item.c), a three-way text builder (text.c), and the style writers
 * (apa.c, mla.c, chicago.c, numeric.c). */
#ifndef MS_CITE_CITE_INT_H
#define MS_CITE_CITE_INT_H

#include "cite/cite.h"

#include "core/buf.h"

#include <stddef.h>

/* ---- the text builder ------------------------------------------------------
 * Writes plain text, Markdown and HTML side by side, so each style is
 * written once. */
typedef struct {
    ms_buf_t text, md, html;
} rt_t;

void rt_init(rt_t *rt);
void rt_free(rt_t *rt);
/* Appends s as ordinary text. */
void rt_put(rt_t *rt, const char *s);
void rt_putn(rt_t *rt, const char *s, size_t n);
/* Appends s in italics. */
void rt_ital(rt_t *rt, const char *s);
/* Appends a link (shown as text; a hyperlink in HTML). */
void rt_link(rt_t *rt, const char *url, const char *shown);
/* Appends a printf-formatted ordinary text. */
void rt_printf(rt_t *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ".", unless the text already ends with '.', '?' or '!' (also
 * before a closing quote or italics), then " " when space is set. */
void rt_stop(rt_t *rt, int space);
/* The last byte of the plain text, or 0. */
char rt_last(const rt_t *rt);
/* Removes trailing spaces. */
void rt_trim(rt_t *rt);
/* Hands the three strings to out. */
void rt_take(rt_t *rt, ms_cite_ref_t *out);

/* ---- names ------------------------------------------------------------------ */

/* One author. A person has family and given (either may be empty but not
 * both) and an optional suffix; an organisation is literal. Heap strings. */
typedef struct {
    char *family;
    char *given;
    char *suffix;
    char *literal;
} cite_name_t;

/* Reads an author string: "Family, Given" or "Family, Given, Suffix" (the
 * form medstream's importers store), "Family INITIALS" (MEDLINE display
 * form, "Smith JA"), anything else an organisation. */
void cite_name_parse(const char *s, cite_name_t *out);
void cite_name_free(cite_name_t *n);
/* The given names' initials. sep is what follows each initial ("." for
 * APA and MLA, "" for Vancouver and AMA) and space whether initials are
 * spaced ("S. M.") or run together ("SM"); a hyphenated name keeps its
 * hyphen ("S.-H." / "SH" with keep_hyphen 0). */
void cite_initials(const char *given, const char *sep, int space, int keep_hyphen, ms_buf_t *out);
/* The given names for styles that spell them out (MLA, Chicago): as given,
 * single letters and MEDLINE initials runs ("JA") with periods. */
void cite_given_full(const char *given, ms_buf_t *out);
/* A name spelt out (MLA, Chicago): inverted "Family, Given, Suffix" (the
 * first author), or natural "Given Family" + suffix_sep + "Suffix". The
 * styles differ only there: MLA 9 keeps the comma before "Jr." (", "),
 * Chicago 17 (6.43) drops it (" "). A literal (corporate) name as it is. */
void cite_name_full(const cite_name_t *n, int inverted, const char *suffix_sep, rt_t *rt);

/* ---- the item ----------------------------------------------------------------- */

typedef enum { ITEM_ARTICLE, ITEM_WEBPAGE, ITEM_DOCUMENT } item_kind_t;

#define ITEM_MAX_NAMES 64 /* authors read; more are counted in nnames_total */

/* The parts of one citation the styles use. Strings are borrowed from the
 * citation object (or the source table) except the names. NULL when
 * absent or empty. */
typedef struct {
    item_kind_t kind;
    int index;
    cite_name_t names[ITEM_MAX_NAMES];
    size_t nnames;       /* parsed */
    size_t nnames_total; /* in the citation */
    const char *title;
    const char *journal;
    const char *journal_abbrev;
    const char *site;
    const char *publisher; /* the organisation responsible (a web page's group author) */
    const char *place;
    const char *country;
    const char *volume, *issue, *pages;
    const char *doi; /* bare, "10.x/y" */
    const char *pmid;
    const char *url;
    const char *season;    /* "Spring", from PubMed's <Season> */
    const char *copyright; /* "2000-01", Citing Medicine's c-date */
    ms_cite_date_t date;   /* publication; year 0 when unknown */
    ms_cite_date_t updated;
    ms_cite_date_t accessed;
} cite_item_t;

void cite_item_read(json_t *c, const ms_cite_date_t *accessed, cite_item_t *it);
void cite_item_free(cite_item_t *it);
/* Whether the item has personal or organisational authors. */
int cite_item_has_authors(const cite_item_t *it);
/* The group author a web page falls back on when it has no authors: its
 * publisher (the responsible organisation), or NULL. */
const char *cite_item_group(const cite_item_t *it);

/* ---- shared pieces -------------------------------------------------------------- */

/* Month names: full ("January"), Vancouver ("Jan"), MLA ("Jan.", "May",
 * "June", "July", "Sept."). m is 1..12. */
const char *cite_month_full(int m);
const char *cite_month_nlm(int m);
const char *cite_month_mla(int m);

/* Page range styles (see pages.c for each manual's rule). */
typedef enum {
    PAGES_FULL_ENDASH, /* APA: 1–51 */
    PAGES_FULL_HYPHEN, /* AMA 11: 646-657 */
    PAGES_MLA,         /* MLA 9: 124-38 */
    PAGES_CHICAGO,     /* CMOS 9.61: 325–50, 101–8 */
    PAGES_NLM,         /* Citing Medicine: 284-7 */
} pages_style_t;
/* Writes pages (e.g. "284-7", "1-51", "e1234", "S93-S99") in the style. */
void cite_pages(const char *pages, pages_style_t style, ms_buf_t *out);
/* Whether pages is a range (MLA's "pp." versus "p."). */
int cite_pages_is_range(const char *pages);

/* A title in headline style (MLA, Chicago): lower-case words raised,
 * except articles, conjunctions and prepositions in the middle. */
void cite_headline(const char *title, ms_buf_t *out);
/* A URL without its "https://" or "http://" (MLA 9 5.95). */
const char *cite_url_bare(const char *url);
/* "https://doi.org/" + doi. */
void cite_doi_url(const char *doi, ms_buf_t *out);

/* The style writers. */
void cite_apa(const cite_item_t *it, rt_t *rt);
void cite_mla(const cite_item_t *it, rt_t *rt);
void cite_chicago(const cite_item_t *it, rt_t *rt);
void cite_vancouver(const cite_item_t *it, rt_t *rt);
void cite_ama(const cite_item_t *it, rt_t *rt);

/* In-text forms of the author-date styles (intext.c). */
char *cite_in_text_item(const cite_item_t *it, ms_cite_style_t style, int number);

#endif
