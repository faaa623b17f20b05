/* Citation objects (docs/protocol.md "Citation") for the passages an answer
 * cites: seed 002's structured citation (source_id, source_type, title,
 * url; authors, publication_date, journal, volume, issue, pages, doi,
 * pmid; relevance_score 0-100, quoted_text, context), readable titles, one
 * object per document. */
#include "kb/kb.h"

#include "cite/cite.h"
#include "core/ms.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The knowledge base's re-ranked score lies in 0..2.15 (src/kb/search.c:
 * BM25 over the pool's best, plus coverage 0.5, focus 0.5, question type
 * 0.15); a citation's relevance_score is 0-100 (seed 002). */
#define KB_SCORE_MAX 2.15

/* The document's name: the first name of the focus ("Gout" of "Gout;
 * Gouty arthritis"), else the passage title, else the source id. */
static char *doc_name(const ms_kb_hit_t *h) {
    const char *f = h->focus;
    if (f && *f) {
        size_t n = strcspn(f, ";");
        while (n > 0 && f[n - 1] == ' ')
            n--;
        if (n > 0)
            return ms_xstrndup(f, n);
    }
    return ms_xstrdup(h->title && *h->title ? h->title : h->id ? h->id : "");
}

/* The question type as a subtitle: "exams and tests" -> "Exams and tests";
 * MedQuAD's general "information" pairs are the overview of the topic. */
static char *subtitle(const char *qtype) {
    if (!qtype || !*qtype)
        return NULL;
    if (strcmp(qtype, "information") == 0)
        return ms_xstrdup("Overview");
    char *s = ms_xstrdup(qtype);
    s[0] = (char)toupper((unsigned char)s[0]);
    return s;
}

static const char *doc_key(const ms_kb_hit_t *h) {
    return h->doc_id && *h->doc_id ? h->doc_id : h->id ? h->id : "";
}

static json_t *str_or_null(const char *s) {
    return s && *s ? json_string(s) : json_null();
}

/* relevance_score: the re-ranked score as a share of its maximum, 0-100. */
static json_int_t relevance(double score) {
    double r = score / KB_SCORE_MAX;
    return (json_int_t)lround(100.0 * (r < 0 ? 0 : r > 1 ? 1 : r));
}

/* The members the document's biblio JSON carries (PubMed import) at the
 * top level, and its extras under context. */
static void add_biblio(json_t *o, json_t *ctx, const ms_kb_hit_t *h) {
    json_t *b = h->biblio_json ? json_loads(h->biblio_json, 0, NULL) : NULL;
    static const char *const top[] = {"volume", "issue", "pages"};
    for (size_t i = 0; i < MS_COUNTOF(top); i++) {
        json_t *v = json_object_get(b, top[i]);
        if (json_is_string(v))
            json_object_set(o, top[i], v);
        else if (!json_object_get(o, top[i])) /* an attachment's page stays */
            json_object_set_new(o, top[i], json_null());
    }
    json_t *date = json_object_get(b, "publication_date");
    if (json_is_string(date)) {
        json_object_set(o, "publication_date", date);
    } else if (h->year > 0) {
        char y[16];
        snprintf(y, sizeof y, "%04d", h->year);
        json_object_set_new(o, "publication_date", json_string(y));
    } else {
        json_object_set_new(o, "publication_date", json_null());
    }
    static const char *const extra[] = {"journal_abbrev", "season", "language", "pmcid"};
    for (size_t i = 0; i < MS_COUNTOF(extra); i++) {
        json_t *v = json_object_get(b, extra[i]);
        if (json_is_string(v))
            json_object_set(ctx, extra[i], v);
    }
    json_t *mesh = json_object_get(b, "mesh");
    if (json_is_array(mesh))
        json_object_set(ctx, "mesh", mesh);
    json_decref(b);
}

static json_t *citation(const ms_kb_hit_t *h, size_t index) {
    /* quoted_text: the passage's opening, cut at a word boundary near 300
     * bytes and never inside a UTF-8 sequence. */
    const char *txt = h->text ? h->text : "";
    size_t n = strlen(txt);
    if (n > 300) {
        n = 300;
        while (n > 200 && txt[n] != ' ')
            n--;
        while (n > 0 && ((unsigned char)txt[n] & 0xc0) == 0x80)
            n--;
    }
    char *title = doc_name(h);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s%}", "index", (json_int_t)index,
                          "source_id", h->id ? h->id : "", "source_type",
                          h->source_type ? h->source_type : "", "title", title, "url",
                          h->url ? h->url : "", "source_name", h->source ? h->source : "",
                          "relevance_score", relevance(h->score), "quoted_text", txt, n);
    free(title);
    json_t *ctx = json_object();
    char *sub = subtitle(h->qtype);
    if (h->page > 0 || h->section) {
        /* A scoped document (an attachment): where in it the passage is. */
        char where[320];
        if (h->page > 0 && h->section)
            snprintf(where, sizeof where, "Page %d: %s", h->page, h->section);
        else if (h->page > 0)
            snprintf(where, sizeof where, "Page %d", h->page);
        else
            snprintf(where, sizeof where, "%s", h->section);
        free(sub);
        sub = ms_xstrdup(where);
        if (h->page > 0) {
            char pages[16];
            snprintf(pages, sizeof pages, "%d", h->page);
            json_object_set_new(o, "page", json_integer(h->page));
            json_object_set_new(o, "pages", json_string(pages));
        }
        if (h->section)
            json_object_set_new(o, "section", json_string(h->section));
    }
    if (sub) {
        json_object_set_new(o, "subtitle", json_string(sub));
        json_object_set_new(ctx, "section", json_string(sub));
    }
    free(sub);
    json_t *authors = h->authors_json ? json_loads(h->authors_json, 0, NULL) : NULL;
    if (!json_is_array(authors)) {
        json_decref(authors);
        authors = json_array();
    }
    json_object_set_new(o, "authors", authors);
    json_object_set_new(o, "journal", str_or_null(h->journal));
    json_object_set_new(o, "doi", str_or_null(h->doi));
    json_object_set_new(o, "pmid", str_or_null(h->pmid));
    if (h->year)
        json_object_set_new(o, "year", json_integer(h->year));
    add_biblio(o, ctx, h);
    /* Who runs the site a web page is on (MedQuAD's source codes), for the
     * styles that name it. */
    const ms_cite_source_t *src = ms_cite_source(h->source);
    if (src && !h->journal) {
        json_object_set_new(ctx, "site", json_string(src->site));
        json_object_set_new(ctx, "publisher", json_string(src->publisher));
        json_object_set_new(ctx, "place", json_string(src->place));
        if (src->country)
            json_object_set_new(ctx, "country", json_string(src->country));
    }
    json_object_set_new(o, "context", ctx);
    return o;
}

json_t *ms_kb_citations(const ms_kb_hit_t *hits, size_t nhits, const size_t *cited, size_t ncited) {
    json_t *arr = json_array();
    if (!hits || !cited)
        return arr;
    for (size_t k = 0; k < ncited; k++) {
        if (cited[k] >= nhits)
            continue;
        const ms_kb_hit_t *h = &hits[cited[k]];
        int seen = 0;
        for (size_t j = 0; j < k && !seen; j++)
            seen = cited[j] < nhits && strcmp(doc_key(&hits[cited[j]]), doc_key(h)) == 0;
        if (!seen)
            json_array_append_new(arr, citation(h, k + 1));
    }
    return arr;
}
