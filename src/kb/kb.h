/* The knowledge base: import of medical sources into SQLite FTS5 and ranked
 * retrieval with citation fields.
 *
 * All functions take a SQLite connection owned by the caller (the server's
 * per-thread store connection, or the CLI's) and may block: never call them
 * on the event-loop thread. */
#ifndef MS_KB_KB_H
#define MS_KB_KB_H

#include "kb/followup.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/** Creates the knowledge-base tables (documents, passages, FTS5 index with
 * the porter + unicode61 tokenizer) if missing. Idempotent and cheap; call
 * once per connection before any other kb function. */
int ms_kb_init(sqlite3 *db);

/** Number of passages indexed. */
int ms_kb_count(sqlite3 *db, int64_t *out);

/** If the knowledge base is empty, imports the starter passages compiled
 * into the binary (kb/starter.jsonl). *imported gets how many (0 if the kb
 * already had passages). */
int ms_kb_load_starter(sqlite3 *db, int *imported);

typedef enum { MS_KB_MEDQUAD, MS_KB_PUBMEDQA, MS_KB_JSONL, MS_KB_TEXT } ms_kb_format_t;
/** Parses "medquad|pubmedqa|jsonl|text"; 0 or MS_EINVAL. */
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

/** Imports paths (files, directories, or for medquad a .tar.gz) in one
 * transaction per file. A passage whose id already exists is replaced,
 * never duplicated. Returns 0, MS_EFORMAT (with the bad path logged) or MS_EIO. */
int ms_kb_import(sqlite3 *db, ms_kb_format_t format, const char *const *paths, size_t npaths,
                 ms_kb_progress_cb progress, void *ctx, ms_kb_import_stats_t *stats);

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
} ms_kb_hit_t;

/** Ranked search: the best k passages for a natural-language query (k is
 * clamped to 1..100). Never fails for lack of matches: *n may be 0.
 * *hits is an array the caller frees with ms_kb_hits_free. */
int ms_kb_search(sqlite3 *db, const char *query, int k, ms_kb_hit_t **hits, size_t *n);
void ms_kb_hits_free(ms_kb_hit_t *hits, size_t n);

/** Builds the FTS5 MATCH expression ms_kb_search uses for a natural-language
 * query: the words as the index tokenizes them (porter + unicode61), minus
 * stop-words, one per stem, each quoted (a '"' inside is doubled, so no user
 * text can form FTS5 syntax such as NEAR, column filters, '*' or '-') and
 * joined with OR so that documents rank by how many terms they hold instead
 * of having to hold all of them. At most 48 terms. *match is a heap string
 * the caller frees, or NULL when nothing searchable is left (not an error).
 * Needs a connection on which ms_kb_init ran. 0, MS_EINVAL or MS_EIO. */
int ms_kb_query_build(sqlite3 *db, const char *query, char **match);

/** The citation objects of an answer (docs/protocol.md "Citation"): one for
 * each marker [k], k = 1..ncited, from hits[cited[k-1]]. The title is the
 * document's name (a MedQuAD focus such as "Gout"; else the passage or
 * document title) and "subtitle" the question type the passage answers
 * ("Symptoms"), when known. A document appears once: a marker naming a
 * passage of a document already cited gets no second object (the offline
 * answerer never writes one). Entries of cited outside 0..nhits-1 are
 * skipped. Returns a new JSON array (never NULL). */
json_t *ms_kb_citations(const ms_kb_hit_t *hits, size_t nhits, const size_t *cited, size_t ncited);

/** A human-readable detail of the last failed kb call on this thread (the
 * path and line of a malformed input, or the SQLite message), or "" when
 * none. Valid until the next kb call on this thread. */
const char *ms_kb_errmsg(void);

#endif
