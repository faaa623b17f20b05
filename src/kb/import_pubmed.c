/* PubMed/MEDLINE XML import: a <PubmedArticleSet> of <PubmedArticle>
 * records, as PubMed's E-utilities efetch (retmode=xml) and the MEDLINE
 * baseline files give them (NLM, "PubMed XML Element Descriptions and their
 * Attributes", and the DTD pubmed_240101.dtd):
 *
 *   <PubmedArticle><MedlineCitation><PMID>...</PMID>
 *     <Article><Journal><JournalIssue><Volume/><Issue/>
 *         <PubDate><Year/><Month/><Day/> | <MedlineDate/> | <Season/></PubDate>
 *       </JournalIssue><Title/><ISOAbbreviation/></Journal>
 *       <ArticleTitle/><Pagination><MedlinePgn/></Pagination>
 *       <ELocationID EIdType="doi"/>
 *       <Abstract><AbstractText Label="BACKGROUND">...</AbstractText>...</Abstract>
 *       <AuthorList><Author><LastName/><ForeName/><Initials/><Suffix/>
 *                   | <CollectiveName/></Author>...</AuthorList>
 *       <Language/></Article>
 *     <MedlineJournalInfo><MedlineTA/></MedlineJournalInfo>
 *     <MeshHeadingList><MeshHeading><DescriptorName/>...</MeshHeadingList>
 *   </MedlineCitation>
 *   <PubmedData><ArticleIdList><ArticleId IdType="doi|pmc"/>...</PubmedData>
 *   </PubmedArticle>
 *
 * Each article with an abstract becomes one document ("pubmed:<PMID>", the
 * id the PubMedQA importer gives the same article, so a PubMed record
 * replaces a PubMedQA one) with one passage, id <PMID>, whose text is the
 * abstract's sections in order, separated by blank lines. Authors are kept
 * as "LastName, ForeName" (", Suffix" when there is one), a collective
 * author by its name; the rest of the bibliographic data (full date,
 * volume, issue, pages, NLM and ISO journal abbreviations, MeSH
 * descriptors, language, PMC id) goes into the document's biblio JSON.
 * Articles without an abstract, book records and records without a PMID
 * are counted as skipped.
 *
 * The file is read with libxml2's streaming reader (xmlTextReader), never
 * whole: memory is bounded by the limits below whatever the file's size,
 * which also bounds a hostile record. No network, no DTD loading, no
 * entity substitution (no XXE, no entity expansion). A malformed file
 * keeps the whole articles read before the fault (committed in quarter
 * second batches, as the MedQuAD archive importer does) and is reported. */
#include "kb/kb_internal.h"

#include "core/buf.h"
#include "core/ms.h"

#include <ctype.h>
#include <libxml/xmlreader.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PM_MAX_DEPTH 48             /* element nesting followed */
#define PM_MAX_TITLE 8192           /* bytes of an article title */
#define PM_MAX_ABSTRACT (256 << 10) /* bytes of an abstract */
#define PM_MAX_FIELD 2048           /* bytes of any other field */
#define PM_MAX_AUTHORS 200          /* kept: the first 199 and the last */
#define PM_MAX_MESH 100
#define PM_BATCH_US 250000

typedef enum {
    F_NONE,
    F_PMID,
    F_TITLE,
    F_ABSTRACT,
    F_LAST,
    F_FORE,
    F_INITIALS,
    F_SUFFIX,
    F_COLLECTIVE,
    F_JOURNAL,
    F_ISO,
    F_MEDLINETA,
    F_VOLUME,
    F_ISSUE,
    F_YEAR,
    F_MONTH,
    F_DAY,
    F_SEASON,
    F_MEDLINEDATE,
    F_PGN,
    F_STARTPAGE,
    F_ENDPAGE,
    F_ELOC_DOI,
    F_LANGUAGE,
    F_MESH,
    F_AID_DOI,
    F_AID_PMC,
    NFIELDS
} pm_field_t;

#define MC "MedlineCitation/"
#define ART MC "Article/"
#define JI ART "Journal/JournalIssue/"
#define AU ART "AuthorList/Author"

/* Element paths below <PubmedArticle> and the field each one fills. */
static const struct {
    const char *path;
    pm_field_t field;
} pm_paths[] = {
    {MC "PMID", F_PMID},
    {ART "ArticleTitle", F_TITLE},
    {ART "Abstract/AbstractText", F_ABSTRACT},
    {AU "/LastName", F_LAST},
    {AU "/ForeName", F_FORE},
    {AU "/Initials", F_INITIALS},
    {AU "/Suffix", F_SUFFIX},
    {AU "/CollectiveName", F_COLLECTIVE},
    {ART "Journal/Title", F_JOURNAL},
    {ART "Journal/ISOAbbreviation", F_ISO},
    {MC "MedlineJournalInfo/MedlineTA", F_MEDLINETA},
    {JI "Volume", F_VOLUME},
    {JI "Issue", F_ISSUE},
    {JI "PubDate/Year", F_YEAR},
    {JI "PubDate/Month", F_MONTH},
    {JI "PubDate/Day", F_DAY},
    {JI "PubDate/Season", F_SEASON},
    {JI "PubDate/MedlineDate", F_MEDLINEDATE},
    {ART "Pagination/MedlinePgn", F_PGN},
    {ART "Pagination/StartPage", F_STARTPAGE},
    {ART "Pagination/EndPage", F_ENDPAGE},
    {ART "ELocationID", F_ELOC_DOI},
    {ART "Language", F_LANGUAGE},
    {MC "MeshHeadingList/MeshHeading/DescriptorName", F_MESH},
    {"PubmedData/ArticleIdList/ArticleId", F_AID_DOI},
};

/* The article being read. */
typedef struct {
    ms_buf_t f[NFIELDS];  /* single-valued fields: the first value wins */
    ms_buf_t abstract;    /* sections so far, "\n\n" between them */
    ms_buf_t au[NFIELDS]; /* the current author's parts (F_LAST..F_COLLECTIVE) */
    json_t *authors, *mesh, *labels;
    size_t authors_total;
} pm_article_t;

typedef struct {
    ms_kb__imp_t *imp;
    const char *name;
    xmlTextReaderPtr reader;
    int batch;
    int64_t batch_start;
    char stack[PM_MAX_DEPTH][40]; /* element names by reader depth */
    int in_article;
    pm_field_t capture; /* field being captured, F_NONE when none */
    int capture_depth;
    ms_buf_t cur;
    size_t cap;
    char label[64]; /* the AbstractText's Label */
    int author_depth;
    pm_article_t a;
    char err[300];
    int err_line;
} pm_t;

static void article_reset(pm_article_t *a) {
    for (int i = 0; i < NFIELDS; i++) {
        ms_buf_reset(&a->f[i]);
        ms_buf_reset(&a->au[i]);
    }
    ms_buf_reset(&a->abstract);
    json_decref(a->authors);
    json_decref(a->mesh);
    json_decref(a->labels);
    a->authors = json_array();
    a->mesh = json_array();
    a->labels = json_array();
    a->authors_total = 0;
}

static void article_free(pm_article_t *a) {
    for (int i = 0; i < NFIELDS; i++) {
        ms_buf_free(&a->f[i]);
        ms_buf_free(&a->au[i]);
    }
    ms_buf_free(&a->abstract);
    json_decref(a->authors);
    json_decref(a->mesh);
    json_decref(a->labels);
}

/* The first error the parser reports, with its line. */
static void on_error(void *arg, xmlErrorPtr e) {
    pm_t *p = arg;
    if (p->err[0] || !e)
        return;
    const char *msg = e->message ? e->message : "parse error";
    snprintf(p->err, sizeof p->err, "%.*s", (int)strcspn(msg, "\n"), msg);
    p->err_line = e->line;
}

static const char *attr(pm_t *p, const char *name, char *buf, size_t n) {
    xmlChar *v = xmlTextReaderGetAttribute(p->reader, (const xmlChar *)name);
    if (!v)
        return NULL;
    snprintf(buf, n, "%s", (const char *)v);
    xmlFree(v);
    return buf;
}

/* The path below <PubmedArticle> of the element at depth d. */
static void path_at(pm_t *p, int d, char *out, size_t n) {
    size_t k = 0;
    out[0] = '\0';
    for (int i = 2; i <= d && i < PM_MAX_DEPTH; i++) {
        int w = snprintf(out + k, n - k, "%s%s", i > 2 ? "/" : "", p->stack[i]);
        if (w < 0 || (size_t)w >= n - k)
            return;
        k += (size_t)w;
    }
}

static void start_element(pm_t *p, int depth) {
    char path[PM_MAX_DEPTH * 41], v[64];
    path_at(p, depth, path, sizeof path);
    if (!strcmp(path, AU)) {
        for (int i = F_LAST; i <= F_COLLECTIVE; i++)
            ms_buf_reset(&p->a.au[i]);
        p->author_depth = depth;
        return;
    }
    if (p->capture != F_NONE)
        return; /* inline markup inside a captured field: its text joins it */
    for (size_t i = 0; i < MS_COUNTOF(pm_paths); i++) {
        if (strcmp(path, pm_paths[i].path) != 0)
            continue;
        pm_field_t f = pm_paths[i].field;
        if (f == F_ELOC_DOI) {
            const char *t = attr(p, "EIdType", v, sizeof v);
            if (!t || strcmp(t, "doi") != 0)
                return;
            if ((t = attr(p, "ValidYN", v, sizeof v)) && !strcmp(t, "N"))
                return;
        } else if (f == F_AID_DOI) {
            const char *t = attr(p, "IdType", v, sizeof v);
            if (t && !strcmp(t, "pmc"))
                f = F_AID_PMC;
            else if (!t || strcmp(t, "doi") != 0)
                return;
        } else if (f == F_ABSTRACT) {
            const char *t = attr(p, "Label", v, sizeof v);
            snprintf(p->label, sizeof p->label, "%s", t ? t : "");
        }
        p->capture = f;
        p->capture_depth = depth;
        p->cap = f == F_TITLE ? PM_MAX_TITLE : f == F_ABSTRACT ? PM_MAX_ABSTRACT : PM_MAX_FIELD;
        ms_buf_reset(&p->cur);
        return;
    }
}

static void text(pm_t *p) {
    if (p->capture == F_NONE)
        return;
    const char *v = (const char *)xmlTextReaderConstValue(p->reader);
    if (!v)
        return;
    size_t n = strlen(v);
    if (p->cur.len >= p->cap)
        return;
    if (p->cur.len + n > p->cap)
        n = p->cap - p->cur.len;
    /* Cut on a code point: the reader hands out UTF-8. */
    while (n && ((unsigned char)v[n] & 0xc0) == 0x80)
        n--;
    ms_buf_append(&p->cur, v, n);
}

/* A captured field is complete. */
static void end_capture(pm_t *p) {
    pm_field_t f = p->capture;
    p->capture = F_NONE;
    char *t = ms_kb__clean_text(p->cur.data ? p->cur.data : "", p->cur.len);
    pm_article_t *a = &p->a;
    if (!*t) {
        free(t);
        return;
    }
    if (f == F_ABSTRACT) {
        /* Sections past the limit are cut at a word, then dropped. */
        size_t sep = a->abstract.len ? 2 : 0, n = strlen(t);
        if (a->abstract.len + sep < PM_MAX_ABSTRACT) {
            size_t room = PM_MAX_ABSTRACT - a->abstract.len - sep;
            if (n > room) {
                n = room;
                while (n > 0 && t[n] != ' ')
                    n--;
            }
            if (n) {
                if (sep)
                    ms_buf_puts(&a->abstract, "\n\n");
                ms_buf_append(&a->abstract, t, n);
                if (p->label[0] && json_array_size(a->labels) < 64)
                    json_array_append_new(a->labels, json_string(p->label));
            }
        }
    } else if (f == F_MESH) {
        if (json_array_size(a->mesh) < PM_MAX_MESH)
            json_array_append_new(a->mesh, json_string(t));
    } else if (f >= F_LAST && f <= F_COLLECTIVE) {
        if (!a->au[f].len)
            ms_buf_puts(&a->au[f], t);
    } else if (!a->f[f].len) {
        ms_buf_puts(&a->f[f], t);
    }
    free(t);
}

/* The author just closed, as "LastName, ForeName[, Suffix]". */
static void end_author(pm_t *p) {
    pm_article_t *a = &p->a;
    p->author_depth = 0;
    ms_buf_t s;
    ms_buf_init(&s);
    if (a->au[F_LAST].len) {
        ms_buf_puts(&s, a->au[F_LAST].data);
        const ms_buf_t *g = a->au[F_FORE].len ? &a->au[F_FORE] : &a->au[F_INITIALS];
        if (g->len)
            ms_buf_printf(&s, ", %s", g->data);
        if (a->au[F_SUFFIX].len)
            ms_buf_printf(&s, ", %s", a->au[F_SUFFIX].data);
    } else if (a->au[F_COLLECTIVE].len) {
        ms_buf_puts(&s, a->au[F_COLLECTIVE].data);
    }
    if (s.len) {
        a->authors_total++;
        json_t *v = json_string(s.data);
        if (json_array_size(a->authors) < PM_MAX_AUTHORS)
            json_array_append_new(a->authors, v);
        else
            json_array_set_new(a->authors, PM_MAX_AUTHORS - 1, v); /* the last one */
    }
    ms_buf_free(&s);
}

static int month_of(const char *s) {
    static const char *const m[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                    "jul", "aug", "sep", "oct", "nov", "dec"};
    if (isdigit((unsigned char)s[0])) {
        int v = atoi(s);
        return v >= 1 && v <= 12 ? v : 0;
    }
    for (int i = 0; i < 12; i++)
        if (!strncasecmp(s, m[i], 3))
            return i + 1;
    return 0;
}

static int four_digits(const char *s) {
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* The publication date: <Year>/<Month>/<Day>, or the start of
 * <MedlineDate> ("1998 Dec-1999 Jan", "2000 Spring"). */
static void pub_date(const pm_article_t *a, int *year, char *date, size_t n, const char **season,
                     char *season_buf, size_t sn) {
    int y = 0, m = 0, d = 0;
    *season = NULL;
    const char *yr = a->f[F_YEAR].len ? a->f[F_YEAR].data : NULL;
    if (yr && four_digits(yr)) {
        y = atoi(yr);
        if (a->f[F_MONTH].len)
            m = month_of(a->f[F_MONTH].data);
        if (m && a->f[F_DAY].len) {
            d = atoi(a->f[F_DAY].data);
            if (d < 1 || d > 31)
                d = 0;
        }
        if (a->f[F_SEASON].len) {
            snprintf(season_buf, sn, "%s", a->f[F_SEASON].data);
            *season = season_buf;
        }
    } else if (a->f[F_MEDLINEDATE].len && four_digits(a->f[F_MEDLINEDATE].data)) {
        const char *md = a->f[F_MEDLINEDATE].data;
        y = atoi(md);
        const char *rest = md + 4;
        while (*rest == ' ')
            rest++;
        if (isalpha((unsigned char)*rest)) {
            m = month_of(rest);
            if (!m) {
                size_t k = 0;
                while (isalpha((unsigned char)rest[k]) && k + 1 < sn)
                    k++;
                snprintf(season_buf, sn, "%.*s", (int)k, rest);
                *season = season_buf;
            }
        }
    }
    *year = y;
    if (!y)
        date[0] = '\0';
    else if (d)
        snprintf(date, n, "%04d-%02d-%02d", y, m, d);
    else if (m)
        snprintf(date, n, "%04d-%02d", y, m);
    else
        snprintf(date, n, "%04d", y);
}

static int digits_only(const char *s) {
    if (!*s || strlen(s) > 20)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static void set_str(json_t *o, const char *key, const ms_buf_t *b) {
    if (b->len)
        json_object_set_new(o, key, json_string(b->data));
}

/* The article just closed: stored, or counted as skipped. */
static int end_article(pm_t *p) {
    pm_article_t *a = &p->a;
    ms_kb__imp_t *imp = p->imp;
    const char *pmid = a->f[F_PMID].len ? a->f[F_PMID].data : "";
    if (!digits_only(pmid) || !a->abstract.len) {
        if (imp->stats)
            imp->stats->skipped++;
        return 0;
    }
    int year;
    char date[16], season_buf[24];
    const char *season;
    pub_date(a, &year, date, sizeof date, &season, season_buf, sizeof season_buf);
    ms_buf_t pages;
    ms_buf_init(&pages);
    if (a->f[F_PGN].len)
        ms_buf_puts(&pages, a->f[F_PGN].data);
    else if (a->f[F_STARTPAGE].len)
        ms_buf_printf(&pages, "%s%s%s", a->f[F_STARTPAGE].data, a->f[F_ENDPAGE].len ? "-" : "",
                      a->f[F_ENDPAGE].len ? a->f[F_ENDPAGE].data : "");
    json_t *bib = json_object();
    if (date[0])
        json_object_set_new(bib, "publication_date", json_string(date));
    if (season)
        json_object_set_new(bib, "season", json_string(season));
    set_str(bib, "volume", &a->f[F_VOLUME]);
    set_str(bib, "issue", &a->f[F_ISSUE]);
    set_str(bib, "pages", &pages);
    /* Citing Medicine and AMA use the NLM abbreviation (MedlineTA, no
     * periods); the ISO form is kept too. */
    set_str(bib, "journal_abbrev", a->f[F_MEDLINETA].len ? &a->f[F_MEDLINETA] : &a->f[F_ISO]);
    set_str(bib, "journal_iso", &a->f[F_ISO]);
    set_str(bib, "language", &a->f[F_LANGUAGE]);
    set_str(bib, "pmcid", &a->f[F_AID_PMC]);
    if (json_array_size(a->mesh))
        json_object_set(bib, "mesh", a->mesh);
    if (json_array_size(a->labels))
        json_object_set(bib, "abstract_sections", a->labels);
    if (a->authors_total > json_array_size(a->authors))
        json_object_set_new(bib, "authors_total", json_integer((json_int_t)a->authors_total));
    char *bib_txt = json_dumps(bib, JSON_COMPACT);
    char *authors = json_array_size(a->authors) ? json_dumps(a->authors, JSON_COMPACT) : NULL;
    ms_buf_t id, url;
    ms_buf_init(&id);
    ms_buf_init(&url);
    ms_buf_printf(&id, "pubmed:%s", pmid);
    ms_buf_printf(&url, "https://pubmed.ncbi.nlm.nih.gov/%s/", pmid);
    const char *title = a->f[F_TITLE].len ? a->f[F_TITLE].data : NULL;
    const ms_buf_t *doi = a->f[F_ELOC_DOI].len ? &a->f[F_ELOC_DOI] : &a->f[F_AID_DOI];
    ms_kb__doc_t doc = {.id = id.data,
                        .source_type = "pubmed",
                        .source = "PubMed",
                        .title = title,
                        .url = url.data,
                        .pmid = pmid,
                        .doi = doi->len ? doi->data : NULL,
                        .authors_json = authors,
                        .journal = a->f[F_JOURNAL].len ? a->f[F_JOURNAL].data
                                   : a->f[F_ISO].len   ? a->f[F_ISO].data
                                                       : NULL,
                        .year = year,
                        .biblio_json = bib_txt};
    ms_kb__passage_t ps = {.id = pmid, .title = title, .text = a->abstract.data};
    int rc = ms_kb__put(imp, &doc, &ps, 1);
    free(bib_txt);
    free(authors);
    json_decref(bib);
    ms_buf_free(&id);
    ms_buf_free(&url);
    ms_buf_free(&pages);
    if (rc)
        return rc;
    ms_kb__imp_progress(imp, (int64_t)xmlTextReaderByteConsumed(p->reader), 0);
    if (p->batch && ms_mono_us() - p->batch_start > PM_BATCH_US) {
        if ((rc = ms_kb__commit(imp->db)) != 0 || (rc = ms_kb__begin(imp->db)) != 0)
            return rc;
        p->batch_start = ms_mono_us();
    }
    return 0;
}

static int end_element(pm_t *p, int depth) {
    if (p->capture != F_NONE && depth == p->capture_depth)
        end_capture(p);
    if (p->author_depth && depth == p->author_depth)
        end_author(p);
    if (depth == 1 && p->in_article) {
        p->in_article = 0;
        return end_article(p);
    }
    return 0;
}

/* Reads the whole document. 0, MS_EFORMAT (the detail recorded) or MS_EIO. */
static int run(pm_t *p) {
    int r, rc = 0, seen_root = 0;
    xmlTextReaderSetStructuredErrorHandler(p->reader, on_error, p);
    while ((r = xmlTextReaderRead(p->reader)) == 1) {
        int type = xmlTextReaderNodeType(p->reader);
        int depth = xmlTextReaderDepth(p->reader);
        if (type == XML_READER_TYPE_ELEMENT) {
            const char *name = (const char *)xmlTextReaderConstLocalName(p->reader);
            if (depth == 0) {
                if (!name || strcmp(name, "PubmedArticleSet") != 0) {
                    ms_kb__fail(p->name, xmlTextReaderGetParserLineNumber(p->reader),
                                "not a PubMed file (the root element is <%.40s>, not "
                                "<PubmedArticleSet>)",
                                name ? name : "?");
                    return MS_EFORMAT;
                }
                seen_root = 1;
            } else if (depth == 1) {
                p->in_article = name && !strcmp(name, "PubmedArticle");
                if (p->in_article)
                    article_reset(&p->a);
                else if (p->imp->stats && name && !strcmp(name, "PubmedBookArticle"))
                    p->imp->stats->skipped++;
            } else if (p->in_article && depth < PM_MAX_DEPTH) {
                snprintf(p->stack[depth], sizeof p->stack[depth], "%s", name ? name : "");
                start_element(p, depth);
            }
            if (xmlTextReaderIsEmptyElement(p->reader) && (rc = end_element(p, depth)) != 0)
                return rc;
        } else if (type == XML_READER_TYPE_END_ELEMENT) {
            if ((rc = end_element(p, depth)) != 0)
                return rc;
        } else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
                   type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
                   type == XML_READER_TYPE_WHITESPACE) {
            text(p);
        }
    }
    if (r < 0 || !seen_root) {
        if (!seen_root && !p->err[0])
            snprintf(p->err, sizeof p->err, "no <PubmedArticleSet> element");
        ms_kb__fail(p->name, p->err_line, "malformed PubMed XML: %s",
                    p->err[0] ? p->err : "parse error");
        return MS_EFORMAT;
    }
    return 0;
}

static const int pm_options =
    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;

static int parse(ms_kb__imp_t *imp, xmlTextReaderPtr reader, const char *name, int batch) {
    if (!reader) {
        ms_kb__fail(name, 0, "cannot read the file");
        return MS_EIO;
    }
    pm_t *p = ms_xcalloc(1, sizeof *p);
    p->imp = imp;
    p->name = name;
    p->reader = reader;
    p->batch = batch;
    p->batch_start = ms_mono_us();
    article_reset(&p->a);
    int rc = run(p);
    xmlFreeTextReader(reader);
    article_free(&p->a);
    ms_buf_free(&p->cur);
    free(p);
    return rc;
}

int ms_kb__pubmed_parse(ms_kb__imp_t *imp, const char *data, size_t len, const char *name) {
    xmlInitParser();
    if (len > INT32_MAX) {
        ms_kb__fail(name, 0, "input too large");
        return MS_EFORMAT;
    }
    return parse(imp, xmlReaderForMemory(data, (int)len, name, NULL, pm_options), name, 0);
}

int ms_kb__import_pubmed(ms_kb__imp_t *imp, const char *path) {
    xmlInitParser();
    int64_t stored = imp->stats ? imp->stats->documents : 0;
    int rc = parse(imp, xmlReaderForFile(path, NULL, pm_options), path, 1);
    /* Articles committed before a fault stay; the file is still reported
     * as malformed (ms_kb_import returns MS_EFORMAT at the end). A file
     * that yielded nothing is rolled back by the caller as usual. */
    if (rc == MS_EFORMAT && imp->stats && imp->stats->documents > stored) {
        ms_kb__imp_bad(imp);
        return 0;
    }
    return rc;
}
