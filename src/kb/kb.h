/* The knowledge base (architecture.md, kb/): import of medical sources and
 * ranked retrieval with citation fields, behind the ms_kb_ops_t seam.
 *
 * Callers outside src/kb hold an ms_kb_t handle (one connection, one thread
 * at a time) and call the ms_kb_* functions below; every one may block
 * (never call them on the event-loop thread). The FTS5 index is the default
 * and, for now, the only backend (kb/fts5.h, private to src/kb). */
#ifndef MS_KB_KB_H
#define MS_KB_KB_H

#include "kb/followup.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MS_KB_MEDQUAD, MS_KB_PUBMEDQA, MS_KB_JSONL, MS_KB_TEXT, MS_KB_PUBMED } ms_kb_format_t;
/** Parses "medquad|pubmedqa|jsonl|text|pubmed"; 0 or MS_EINVAL. */
int ms_kb_parse_format(const char *s, ms_kb_format_t *out);

/** Import totals. */
typedef struct {
    int64_t documents;
    int64_t passages;
    int64_t skipped; /**< records without usable text (e.g. MedQuAD pairs with no answer) */
    /** Sentences of page navigation removed from passage text: video
     * instructions, "click here" and link lists, "see also" (hygiene.c). */
    int64_t dropped;
    double seconds;
} ms_kb_import_stats_t;

/** Progress callback: done and total in units of the format's choosing
 * (files or bytes); total 0 when unknown. */
typedef void (*ms_kb_progress_cb)(void *ctx, int64_t done, int64_t total);

/** One retrieved passage with its citation fields. Strings are owned by the
 * hit (ms_kb_hits_free); absent optional fields are NULL, year 0. */
typedef struct {
    char *id;     /**< passage id, e.g. "GHR_0000123_Sec2", or "<pmid>" for PubMedQA */
    double score; /**< higher is better; comparable within one search only */
    char *title;  /**< document title or MedQuAD question */
    char *url;
    char *source;      /**< source name, e.g. "GHR", "MedlinePlus", "PubMed" */
    char *source_type; /**< "medquad", "pubmed", "jsonl", "text", "starter" */
    char *text;        /**< the passage text (the answer, for MedQuAD) */
    char *focus;       /**< MedQuAD focus (the condition), if any */
    char *qtype;       /**< MedQuAD question type, if any */
    char *pmid;
    char *doi;
    char *authors_json; /**< JSON array of strings, or NULL */
    char *journal;
    int year;
    char *doc_id; /**< the document the passage belongs to: one citation per document */
    /** The document's other bibliographic data as a JSON object, or NULL:
     * {"publication_date":"YYYY[-MM[-DD]]","season","volume","issue",
     * "pages","journal_abbrev","mesh":[...],"language","pmcid",
     * "authors_total"} (each member optional; PubMed import). */
    char *biblio_json;
    /** Share (0..1) of the words of the passage's focus (or of its
     * best-matching synonym) that the question holds: 1 when the question
     * names the condition the passage is about. */
    double focus_match;
    /** What the search found about the question itself; the same on every
     * hit of one search. The share (0..1) of the question's topic words
     * (stop-words and question-type cues such as "symptoms" left out) that
     * belong to a medical name the knowledge base knows: a condition, test,
     * drug or supplement named by a document focus or synonym, whether or
     * not the knowledge base holds its text. -1 when the knowledge base
     * knows no names at all (no document has a focus). */
    double q_medical;
    /** How many of the question's topic words are inside such a name. */
    int q_named;
    /** The question's topic words' presence in the knowledge base's
     * vocabulary: the mean over them of min(1, ln(1 + df) / ln(1 + 100)),
     * df the passages holding the word (after spelling correction). Words
     * from another domain ("mortgage", "carpet") are rare or absent in
     * medical text. 0..1; the same on every hit of one search. */
    double q_vocab;
    /** When the question names a medicine or topic the knowledge base knows
     * only by name (a MedQuAD document whose text is not distributed, e.g.
     * MedlinePlus Drugs), that name, its source and URL; else NULL. The
     * same on every hit of one search. */
    char *gap_name;
    char *gap_source;
    char *gap_url;
    /** A scoped passage's place in its document (an attachment): the
     * 1-based page (0 when unknown) and the section heading (or NULL). */
    int page;
    char *section;
} ms_kb_hit_t;

/** Frees hits returned by a search. NULL-safe. */
void ms_kb_hits_free(ms_kb_hit_t *hits, size_t n);

/** The citation objects of an answer (docs/protocol.md "Citation"): one for
 * each marker [k], k = 1..ncited, from hits[cited[k-1]], with every member
 * of seed 002's structured citation (unknown ones null, authors [] when
 * none): source_id, source_type, title, url, source_name, authors,
 * publication_date, journal, volume, issue, pages, doi, pmid,
 * relevance_score (the re-ranked score as an integer 0-100), quoted_text
 * and context (section, and for web pages the site, publisher and place of
 * a known source; journal_abbrev, season, mesh, language, pmcid from a
 * PubMed record). The title is the document's name (a MedQuAD focus such
 * as "Gout"; else the passage or document title, the article title for
 * PubMed) and "subtitle" the question type the passage answers
 * ("Symptoms"), when known; "year" when known. A document appears once: a
 * marker naming a passage of a document already cited gets no second
 * object (the offline answerer never writes one). Entries of cited outside
 * 0..nhits-1 are skipped. Returns a new JSON array (never NULL). */
json_t *ms_kb_citations(const ms_kb_hit_t *hits, size_t nhits, const size_t *cited, size_t ncited);

typedef struct ms_kb ms_kb_t;

/** Where a search may look besides the shared knowledge base: the scoped
 * documents (attachments) of one conversation of one user. Both set, or
 * the whole scope NULL: then only the shared knowledge base is searched. */
typedef struct {
    const char *conversation_id;
    const char *user_id;
} ms_kb_scope_t;

/** A document visible only within a scope (an attachment), with its
 * citation fields. Borrowed strings. */
typedef struct {
    const char *id;          /**< document id, e.g. "att:<attachment id>" */
    const char *title;       /**< the citation's title: the file name */
    const char *url;         /**< e.g. "/api/attachments/<id>/download" */
    const char *source;      /**< source name, e.g. "Attachment" */
    const char *source_type; /**< "attachment" */
    const char *author;      /**< the document's author, or NULL */
} ms_kb_scoped_doc_t;

/** One passage of a scoped document. Borrowed strings. */
typedef struct {
    int page;            /**< 1-based page, 0 when unknown */
    const char *section; /**< the heading it falls under, or NULL */
    const char *text;
} ms_kb_scoped_passage_t;

/** A knowledge-base backend's function table; each op has the contract of
 * the ms_kb_* function of the same name below. */
typedef struct ms_kb_ops {
    const char *name;
    void (*close)(ms_kb_t *kb);
    int (*passages)(ms_kb_t *kb, int64_t *out);
    int (*starter)(ms_kb_t *kb, int *imported);
    int (*find)(ms_kb_t *kb, const char *query, int k, ms_kb_hit_t **hits, size_t *n);
    int (*import_files)(ms_kb_t *kb, ms_kb_format_t format, const char *const *paths, size_t npaths,
                        ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats);
    int (*find_in)(ms_kb_t *kb, const ms_kb_scope_t *scope, const char *query, int k,
                   ms_kb_hit_t **hits, size_t *n);
    int (*scoped_put)(ms_kb_t *kb, const ms_kb_scope_t *scope, const ms_kb_scoped_doc_t *doc,
                      const ms_kb_scoped_passage_t *ps, size_t n);
    int (*scoped_delete)(ms_kb_t *kb, const char *doc_id);
} ms_kb_ops_t;

/** The base every backend handle starts with. */
struct ms_kb {
    const ms_kb_ops_t *ops;
};

/** Opens the knowledge base in the data directory location (FTS5 tables in
 * location/medstream.db, created if missing). 0, MS_EINVAL or MS_EIO. */
int ms_kb_open(const char *location, ms_kb_t **out);
/** Closes the handle; NULL-safe. */
void ms_kb_close(ms_kb_t *kb);
/** Number of passages indexed. */
int ms_kb_passages(ms_kb_t *kb, int64_t *out);
/** Imports the starter passages when the knowledge base is empty
 * (ms_kb_load_starter). */
int ms_kb_starter(ms_kb_t *kb, int *imported);
/** Ranked search (ms_kb_search): the best k passages for query. */
int ms_kb_find(ms_kb_t *kb, const char *query, int k, ms_kb_hit_t **hits, size_t *n);
/** ms_kb_find that also ranks, among the shared passages, those of the
 * documents scoped to scope (the conversation's attachments; NULL: none).
 * Another conversation's or user's scoped passages are never returned.
 * When the best hit is a scoped passage, the name evidence of the hits
 * (q_medical) is -1: the abstention model was fitted on the shared
 * knowledge base, and a clinician's own document is not one of its
 * named documents. */
int ms_kb_find_in(ms_kb_t *kb, const ms_kb_scope_t *scope, const char *query, int k,
                  ms_kb_hit_t **hits, size_t *n);
/** Stores doc and its passages within scope, replacing any passages doc->id
 * had; one transaction. MS_EINVAL (missing scope or id), MS_EIO. */
int ms_kb_scoped_put(ms_kb_t *kb, const ms_kb_scope_t *scope, const ms_kb_scoped_doc_t *doc,
                     const ms_kb_scoped_passage_t *ps, size_t n);
/** Removes a scoped document and its passages (0 also when absent). */
int ms_kb_scoped_delete(ms_kb_t *kb, const char *doc_id);
/** Imports files (ms_kb_import). */
int ms_kb_import_files(ms_kb_t *kb, ms_kb_format_t format, const char *const *paths, size_t npaths,
                       ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats);

/** A human-readable detail of the last failed kb call on this thread (the
 * path and line of a malformed input, or the SQLite message), or "" when
 * none. Valid until the next kb call on this thread. */
const char *ms_kb_errmsg(void);

#endif
