/* BibTeX and RIS exports of a citation list.
 *
 * BibTeX (Patashnik, "BibTeXing", 1988; biblatex manual 2.2 for urldate,
 * doi and the verbatim fields): @article for journal articles, @misc for
 * web pages and documents (howpublished with \url, note with the access
 * date; urldate for biblatex). Names "Family, Given" joined by "and";
 * organisations in braces so BibTeX does not split them. Text fields have
 * the LaTeX specials escaped; titles are braced to keep their case. doi
 * and url are verbatim fields (biblatex), so they are not escaped, but
 * braces are dropped from them to keep the entry balanced.
 *
 * RIS (the Research Information Systems tagged format, RefMan
 * specification): "TY  - JOUR" first and "ER  - " last, each line "XX  - "
 * and a value, CRLF line ends; AU one per author, PY year, DA
 * YYYY/MM/DD/, SP/EP pages, DO, UR, Y2 access date, AN the PMID with DB
 * PubMed. */
#include "cite/cite_int.h"

#include "core/ms.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tex_escape(ms_buf_t *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
        case '%':
        case '$':
        case '#':
        case '_':
        case '{':
        case '}':
            ms_buf_putc(b, '\\');
            ms_buf_putc(b, *s);
            break;
        case '~':
            ms_buf_puts(b, "\\textasciitilde{}");
            break;
        case '^':
            ms_buf_puts(b, "\\textasciicircum{}");
            break;
        case '\\':
            ms_buf_puts(b, "\\textbackslash{}");
            break;
        case '\n':
        case '\r':
        case '\t':
            ms_buf_putc(b, ' ');
            break;
        default:
            ms_buf_putc(b, *s);
        }
    }
}

static void field(ms_buf_t *b, const char *name, const char *value, int braced) {
    if (!value || !*value)
        return;
    ms_buf_printf(b, ",\n  %s = {%s", name, braced ? "{" : "");
    tex_escape(b, value);
    ms_buf_puts(b, braced ? "}}" : "}");
}

static void verbatim(ms_buf_t *b, const char *name, const char *value) {
    if (!value || !*value)
        return;
    ms_buf_printf(b, ",\n  %s = {", name);
    for (const char *p = value; *p; p++)
        if (*p != '{' && *p != '}' && *p != '\n' && *p != '\r')
            ms_buf_putc(b, *p);
    ms_buf_putc(b, '}');
}

static void bib_names(ms_buf_t *b, const cite_item_t *it) {
    if (!it->nnames)
        return;
    ms_buf_puts(b, ",\n  author = {");
    for (size_t i = 0; i < it->nnames; i++) {
        const cite_name_t *n = &it->names[i];
        if (i)
            ms_buf_puts(b, " and ");
        if (n->literal) {
            ms_buf_putc(b, '{');
            tex_escape(b, n->literal);
            ms_buf_putc(b, '}');
            continue;
        }
        tex_escape(b, n->family);
        if (n->suffix) {
            ms_buf_puts(b, ", ");
            tex_escape(b, n->suffix);
        }
        if (n->given && *n->given) {
            ms_buf_t g;
            ms_buf_init(&g);
            cite_given_full(n->given, &g);
            ms_buf_puts(b, ", ");
            tex_escape(b, ms_buf_cstr(&g));
            ms_buf_free(&g);
        }
    }
    ms_buf_putc(b, '}');
}

/* The key: the first author's family name (ASCII letters) and the year,
 * "ref<index>" when there is neither, then a, b, ... on collisions. */
static void bib_key(const cite_item_t *it, int index, char keys[][64], size_t nkeys, char *out) {
    char base[48] = "";
    size_t k = 0;
    const char *name = it->nnames
                           ? (it->names[0].literal ? it->names[0].literal : it->names[0].family)
                           : cite_item_group(it);
    for (const char *p = name ? name : ""; *p && k + 1 < 32; p++)
        if (isalpha((unsigned char)*p))
            base[k++] = *p;
    base[k] = '\0';
    if (!k)
        snprintf(base, sizeof base, "ref%d", index);
    if (it->date.year)
        snprintf(base + strlen(base), sizeof base - strlen(base), "%d", it->date.year);
    snprintf(out, 64, "%s", base);
    for (int suffix = 0;; suffix++) {
        int clash = 0;
        for (size_t i = 0; i < nkeys && !clash; i++)
            clash = !strcmp(keys[i], out);
        if (!clash)
            return;
        snprintf(out, 64, "%s%c", base, 'a' + suffix % 26);
        if (suffix >= 25)
            snprintf(out, 64, "%s-%d", base, suffix);
    }
}

static const char *const bib_months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};

char *ms_cite_bibtex(json_t *citations, const ms_cite_date_t *accessed) {
    ms_buf_t b;
    ms_buf_init(&b);
    size_t n = json_array_size(citations), i, nk = 0;
    char(*keys)[64] = ms_xcalloc(n ? n : 1, sizeof *keys);
    json_t *c;
    json_array_foreach(citations, i, c) {
        if (!json_is_object(c))
            continue;
        cite_item_t it;
        cite_item_read(c, accessed, &it);
        bib_key(&it, it.index ? it.index : (int)i + 1, keys, nk, keys[nk]);
        int article = it.kind == ITEM_ARTICLE;
        ms_buf_printf(&b, "%s@%s{%s", nk ? "\n" : "", article ? "article" : "misc", keys[nk]);
        nk++;
        bib_names(&b, &it);
        if (!it.nnames && cite_item_group(&it)) {
            ms_buf_puts(&b, ",\n  author = {{");
            tex_escape(&b, cite_item_group(&it));
            ms_buf_puts(&b, "}}");
        }
        field(&b, "title", it.title, 1);
        if (article) {
            field(&b, "journal", it.journal, 0);
            field(&b, "shortjournal", it.journal_abbrev, 0);
        } else {
            field(&b, "organization", it.site, 0);
            field(&b, "publisher", it.publisher, 0);
        }
        if (it.date.year) {
            ms_buf_printf(&b, ",\n  year = {%d}", it.date.year);
            if (it.date.month)
                ms_buf_printf(&b, ",\n  month = %s", bib_months[it.date.month - 1]);
        }
        field(&b, "volume", it.volume, 0);
        field(&b, "number", it.issue, 0);
        if (it.pages) {
            ms_buf_t p;
            ms_buf_init(&p);
            cite_pages(it.pages, PAGES_FULL_HYPHEN, &p);
            /* BibTeX's page ranges take "--" (an en dash in print). */
            char *dash = strchr(p.data ? p.data : "", '-');
            if (dash) {
                size_t at = (size_t)(dash - p.data);
                ms_buf_t q;
                ms_buf_init(&q);
                ms_buf_append(&q, p.data, at);
                ms_buf_puts(&q, "--");
                ms_buf_puts(&q, p.data + at + 1);
                field(&b, "pages", ms_buf_cstr(&q), 0);
                ms_buf_free(&q);
            } else {
                field(&b, "pages", ms_buf_cstr(&p), 0);
            }
            ms_buf_free(&p);
        }
        verbatim(&b, "doi", it.doi);
        if (it.pmid) {
            verbatim(&b, "pmid", it.pmid);
            verbatim(&b, "eprint", it.pmid);
            ms_buf_puts(&b, ",\n  eprinttype = {pubmed}");
        }
        verbatim(&b, "url", it.url);
        if (!article && it.url)
            ms_buf_printf(&b, ",\n  howpublished = {\\url{%s}}", it.url);
        if (it.url && it.accessed.year) {
            ms_buf_printf(&b, ",\n  urldate = {%04d-%02d-%02d}", it.accessed.year,
                          it.accessed.month, it.accessed.day);
            ms_buf_printf(&b, ",\n  note = {Accessed %04d-%02d-%02d}", it.accessed.year,
                          it.accessed.month, it.accessed.day);
        }
        ms_buf_puts(&b, "\n}\n");
        cite_item_free(&it);
    }
    free(keys);
    return ms_buf_take(&b);
}

/* ---- RIS ------------------------------------------------------------------------ */

static void ris(ms_buf_t *b, const char *tag, const char *value) {
    if (!value || !*value)
        return;
    ms_buf_printf(b, "%s  - ", tag);
    for (const char *p = value; *p; p++)
        ms_buf_putc(b, (char)(*p == '\r' || *p == '\n' ? ' ' : *p));
    ms_buf_puts(b, "\r\n");
}

static void ris_date(ms_buf_t *b, const char *tag, const ms_cite_date_t *d) {
    if (!d->year)
        return;
    char v[32];
    if (d->month && d->day)
        snprintf(v, sizeof v, "%04d/%02d/%02d/", d->year, d->month, d->day);
    else if (d->month)
        snprintf(v, sizeof v, "%04d/%02d//", d->year, d->month);
    else
        snprintf(v, sizeof v, "%04d///", d->year);
    ris(b, tag, v);
}

static void ris_pages(ms_buf_t *b, const char *pages) {
    ms_buf_t p;
    ms_buf_init(&p);
    cite_pages(pages, PAGES_FULL_HYPHEN, &p);
    const char *s = ms_buf_cstr(&p), *dash = strchr(s, '-');
    if (dash && !strchr(s, ',') && !strchr(s, ';')) {
        char *sp = ms_xstrndup(s, (size_t)(dash - s));
        ris(b, "SP", sp);
        ris(b, "EP", dash + 1);
        free(sp);
    } else {
        ris(b, "SP", s);
    }
    ms_buf_free(&p);
}

char *ms_cite_ris(json_t *citations, const ms_cite_date_t *accessed) {
    ms_buf_t b;
    ms_buf_init(&b);
    size_t i;
    json_t *c;
    json_array_foreach(citations, i, c) {
        if (!json_is_object(c))
            continue;
        cite_item_t it;
        cite_item_read(c, accessed, &it);
        ris(&b, "TY", it.kind == ITEM_ARTICLE ? "JOUR" : it.kind == ITEM_WEBPAGE ? "ELEC" : "GEN");
        json_t *authors = json_object_get(c, "authors");
        size_t k;
        json_t *a;
        json_array_foreach(authors, k, a) ris(&b, "AU", json_string_value(a));
        if (!it.nnames && cite_item_group(&it))
            ris(&b, "AU", cite_item_group(&it));
        ris(&b, "TI", it.title);
        if (it.kind == ITEM_ARTICLE) {
            ris(&b, "T2", it.journal);
            ris(&b, "JO", it.journal);
            ris(&b, "J2", it.journal_abbrev);
        } else {
            ris(&b, "T2", it.site);
            ris(&b, "PB", it.publisher);
            ris(&b, "CY", it.place);
        }
        if (it.date.year) {
            char y[8];
            snprintf(y, sizeof y, "%04d", it.date.year);
            ris(&b, "PY", y);
            ris_date(&b, "DA", &it.date);
        }
        ris(&b, "VL", it.volume);
        ris(&b, "IS", it.issue);
        if (it.pages)
            ris_pages(&b, it.pages);
        ris(&b, "DO", it.doi);
        if (it.pmid) {
            ris(&b, "AN", it.pmid);
            ris(&b, "DB", "PubMed");
        }
        ris(&b, "UR", it.url);
        if (it.url)
            ris_date(&b, "Y2", &it.accessed);
        json_t *mesh = json_object_get(json_object_get(c, "context"), "mesh");
        json_array_foreach(mesh, k, a) ris(&b, "KW", json_string_value(a));
        ms_buf_puts(&b, "ER  - \r\n");
        cite_item_free(&it);
    }
    return ms_buf_take(&b);
}
