/* Declarations shared by the knowledge-base source files (not public: the
 * ms_kb__ prefix follows libuv's uv__ convention for module internals). */
#ifndef MS_KB_KB_INTERNAL_H
#define MS_KB_KB_INTERNAL_H

#include "kb/fts5.h"
#include "kb/kb.h"
#include "kb/words.h"

#include "core/buf.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* A document as the importers hand it to the writer. Strings are borrowed
 * for the duration of the call; NULL means absent. */
typedef struct {
    const char *id;
    const char *source_type; /* "medquad", "pubmed", "jsonl", "text", "starter" */
    const char *source;
    const char *title;
    const char *url;
    const char *focus;
    const char *cuis_json;
    const char *pmid;
    const char *doi;
    const char *authors_json;
    const char *journal;
    int year;
    const char *biblio_json; /* kb.h ms_kb_hit_t.biblio_json */
} ms_kb__doc_t;

/* One passage of a document. Borrowed strings; text is required. */
typedef struct {
    const char *id;
    const char *title;
    const char *focus;
    const char *qtype;
    const char *text;
} ms_kb__passage_t;

/* The state of one ms_kb_import call, shared by the format parsers. Owns
 * its prepared statements (ms_kb__imp_close). */
typedef struct {
    sqlite3 *db;
    sqlite3_stmt *del_doc;     /* passages of a document */
    sqlite3_stmt *del_passage; /* one passage by id */
    sqlite3_stmt *put_doc;     /* document row, replacing */
    sqlite3_stmt *put_passage; /* passage row */
    sqlite3_stmt *del_names;   /* names of a document */
    sqlite3_stmt *put_name;    /* one name (MS_KB__PUT_NAME_SQL) */
    sqlite3_stmt *put_gap;     /* a document known without its text */
    ms_kb_import_stats_t *stats;
    ms_kb_progress_cb progress;
    void *ctx;
    int64_t done;  /* bytes of input finished before the current file */
    int64_t total; /* bytes of input in all files */
    int64_t last_report_us;
    int64_t bad_inputs;    /* malformed files or archive entries seen */
    char first_error[512]; /* the detail of the first of them */
} ms_kb__imp_t;

int ms_kb__imp_open(ms_kb__imp_t *imp, sqlite3 *db);
void ms_kb__imp_close(ms_kb__imp_t *imp);
/* Reports progress (done bytes within the current file), at most every 50 ms
 * unless force is set. */
void ms_kb__imp_progress(ms_kb__imp_t *imp, int64_t file_done, int force);

/* Notes a malformed input (a file or archive entry) whose detail was just
 * recorded with ms_kb__fail; the import goes on and returns MS_EFORMAT at
 * the end. */
void ms_kb__imp_bad(ms_kb__imp_t *imp);

/* Writes a document and its passages, replacing the document's earlier
 * passages and any passage with the same id. Runs inside the caller's
 * transaction. Counts the document and passages in imp->stats. */
int ms_kb__put(ms_kb__imp_t *imp, const ms_kb__doc_t *doc, const ms_kb__passage_t *ps, size_t n);

int ms_kb__exec(sqlite3 *db, const char *sql);
int ms_kb__begin(sqlite3 *db);
int ms_kb__commit(sqlite3 *db);
void ms_kb__rollback(sqlite3 *db);

/* Records a human-readable detail for the last failure on this thread
 * (returned by ms_kb_errmsg) and logs it with the path. */
void ms_kb__fail(const char *path, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ms_kb__clear_error(void);
/* Records the detail without logging it. */
void ms_kb__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format importers. Each imports one file inside the transaction the
 * caller opened for it (the archive importer commits in batches). Return
 * 0, MS_EFORMAT (the caller rolls the file back) or MS_EIO. */
int ms_kb__import_medquad_file(ms_kb__imp_t *imp, const char *path);
int ms_kb__import_medquad_archive(ms_kb__imp_t *imp, const char *path);
/* Parses one MedQuAD XML document held in memory; name is the entry's file
 * name (its stem disambiguates split CancerGov documents). */
int ms_kb__medquad_parse(ms_kb__imp_t *imp, const char *data, size_t len, const char *name);
int ms_kb__import_jsonl(ms_kb__imp_t *imp, FILE *f, const char *path, const char *source_type);
int ms_kb__import_pubmedqa(ms_kb__imp_t *imp, FILE *f, const char *path);
int ms_kb__import_text(ms_kb__imp_t *imp, const char *path);
/* PubMed/MEDLINE XML (import_pubmed.c): a PubmedArticleSet file (.xml or
 * .xml.gz), which commits and reopens the caller's transaction every
 * quarter second as the MedQuAD archive importer does; or the same held in
 * memory (name for messages), inside the caller's one transaction. */
int ms_kb__import_pubmed(ms_kb__imp_t *imp, const char *path);
int ms_kb__pubmed_parse(ms_kb__imp_t *imp, const char *data, size_t len, const char *name);

/* The text without its page navigation (hygiene.c); adds the sentences
 * removed to *dropped. malloc'd. */
char *ms_kb__strip_navigation(const char *text, int64_t *dropped);

/* Normalises whitespace: runs of blanks become one space, runs containing a
 * line break become one newline (two if they held a blank line); trims. */
char *ms_kb__clean_text(const char *s, size_t n);

/* ---- names (names.c) ---- */

#define MS_KB__PUT_NAME_SQL                                                                        \
    "INSERT INTO kb_names(name, doc_id, has_text, acronym) VALUES (?1, ?2, ?3, ?4)"                \
    " ON CONFLICT(name, doc_id) DO UPDATE SET has_text = max(has_text, excluded.has_text),"        \
    " acronym = min(acronym, excluded.acronym)"

/* Adds the names in "name; synonym; ..." of a document to kb_names with put
 * (a statement of MS_KB__PUT_NAME_SQL). 0 or MS_EIO. */
int ms_kb__names_put(sqlite3 *db, sqlite3_stmt *put, const char *doc_id, const char *names,
                     int has_text);
/* Records a document the source lists without text (kb_gaps), with its
 * names and the '|'-separated question types it would answer. */
int ms_kb__gap_put(ms_kb__imp_t *imp, const ms_kb__doc_t *doc, const char *names,
                   const char *qtypes);
/* Fills kb_names from the passages' focus when it is empty (a database
 * imported before names were kept). */
int ms_kb__names_backfill(sqlite3 *db);

/* What a question names (names.c). Strings owned (ms_kb__qnames_clear). */
typedef struct {
    double medical; /* share of topic words inside a known name; -1 when no names are known */
    int named;      /* topic words inside a known name */
    char *gap_name, *gap_source, *gap_url; /* a named document known without text */
} ms_kb__qnames_t;

int ms_kb__names_scan(sqlite3 *db, const char *question, ms_kb__qnames_t *out);
void ms_kb__qnames_clear(ms_kb__qnames_t *q);

/* ---- query analysis (query.c) ---- */

#define MS_KB_TERMS_MAX 48  /* distinct query terms kept */
#define MS_KB_WORDS_MAX 512 /* query words looked at for question types */

/* One distinct query term. */
typedef struct {
    char word[MS_KB_WORD_MAX]; /* lower-cased as typed: the MATCH phrase */
    char stem[MS_KB_WORD_MAX]; /* as the index stores it */
    double idf;                /* filled in by the search */
    int64_t df;                /* passages holding the term, ditto */
} ms_kb__term_t;

/* An analysed query. */
typedef struct {
    ms_kb__term_t terms[MS_KB_TERMS_MAX];
    size_t nterms;
    uint32_t qtypes; /* question-type groups detected (ms_kb_qtype_bits) */
} ms_kb__query_t;

/* The index's tokenizer (porter over unicode61), owned by the caller. */
typedef struct ms_kb__tok ms_kb__tok_t;
/* Per token: the stem and the raw text it came from. Non-zero stops. */
typedef int (*ms_kb__tok_cb)(void *ctx, const char *stem, size_t ns, const char *raw, size_t nr);

int ms_kb__tok_open(sqlite3 *db, ms_kb__tok_t **out);
void ms_kb__tok_close(ms_kb__tok_t *tok);
void ms_kb__tok_run(ms_kb__tok_t *tok, const char *text, size_t n, ms_kb__tok_cb cb, void *ctx);

int ms_kb__query_parse(ms_kb__tok_t *tok, const char *text, ms_kb__query_t *q);
/* The OR of the quoted terms whose use[i] is set (all when use is NULL). */
void ms_kb__query_match(const ms_kb__query_t *q, const int *use, ms_buf_t *out);
/* Replaces a term the index lacks by the closest index term (spell.c).
 * Returns 1 and that term's passage count in *df if it did, 0 if nothing
 * is close enough, or MS_EIO. */
int ms_kb__spell_correct(sqlite3 *db, ms_kb__tok_t *tok, ms_kb__term_t *term, int64_t *df);

#endif
