/* Citation objects (docs/protocol.md "Citation") for the passages an answer
 * cites: readable titles, one object per document. */
#include "kb/kb.h"

#include "core/ms.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:f, s:s%}", "index", (json_int_t)index,
                          "source_id", h->id ? h->id : "", "source_type",
                          h->source_type ? h->source_type : "", "title", title, "url",
                          h->url ? h->url : "", "source_name", h->source ? h->source : "",
                          "relevance_score", h->score, "quoted_text", txt, n);
    free(title);
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
    if (sub)
        json_object_set_new(o, "subtitle", json_string(sub));
    free(sub);
    if (h->pmid)
        json_object_set_new(o, "pmid", json_string(h->pmid));
    if (h->doi)
        json_object_set_new(o, "doi", json_string(h->doi));
    if (h->authors_json) {
        json_t *a = json_loads(h->authors_json, 0, NULL);
        if (json_is_array(a))
            json_object_set_new(o, "authors", a);
        else
            json_decref(a);
    }
    if (h->journal)
        json_object_set_new(o, "journal", json_string(h->journal));
    if (h->year)
        json_object_set_new(o, "year", json_integer(h->year));
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
