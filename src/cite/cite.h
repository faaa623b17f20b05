/* Citation formatting: a native citation object (docs/protocol.md
 * "Citation") into a reference in one of five styles, into BibTeX and RIS,
 * with in-text markers and a bibliography.
 *
 * Styles and the manuals they follow:
 * - apa: Publication Manual of the American Psychological Association,
 *   7th ed. (2020), chapters 9-10;
 * - mla: MLA Handbook, 9th ed. (2021), chapter 5;
 * - chicago: The Chicago Manual of Style, 17th ed. (2017), author-date
 *   system (chapter 15), inclusive numbers 9.61;
 * - vancouver: ICMJE Recommendations, references as in NLM's Citing
 *   Medicine, 2nd ed. (Patrias & Wendling, 2007-), chapters 1 and 25;
 * - ama: AMA Manual of Style, 11th ed. (2020), chapter 3.
 *
 * What each style does with missing data is its manual's rule: a work with
 * no author starts with its title (an organisation responsible for a web
 * page stands in as group author where the manual says so); a missing date
 * is "n.d." in APA and Chicago, left out in MLA (with an access date
 * instead), "[cited ...]" only in Vancouver; web pages carry the access
 * date where the manual asks for one (APA only when undated). Titles are
 * kept as the source gives them, except that MLA and Chicago raise
 * lower-case words to headline style (a word that already has a capital,
 * such as "mRNA" or "pH", is never changed).
 *
 * Every function is pure (no I/O, no globals but constant tables) and may
 * run on any thread. Strings are UTF-8; returned ones are heap strings the
 * caller frees. */
#ifndef MS_CITE_CITE_H
#define MS_CITE_CITE_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    MS_CITE_APA,
    MS_CITE_MLA,
    MS_CITE_CHICAGO,
    MS_CITE_VANCOUVER,
    MS_CITE_AMA,
} ms_cite_style_t;

/** Parses "apa|mla|chicago|vancouver|ama" (ASCII case-insensitive); 0 or
 * MS_EINVAL. */
int ms_cite_parse_style(const char *s, ms_cite_style_t *out);
/** "apa", ... (the name ms_cite_parse_style reads). */
const char *ms_cite_style_name(ms_cite_style_t style);
/** The style as people name it: "APA 7", "MLA 9", "Chicago 17 (author-date)",
 * "Vancouver (ICMJE/NLM)", "AMA 11". */
const char *ms_cite_style_label(ms_cite_style_t style);
/** The heading of the style's list: "References" (APA, Chicago, Vancouver,
 * AMA) or "Works Cited" (MLA). */
const char *ms_cite_list_title(ms_cite_style_t style);
/** Whether the style numbers its references in order of citation
 * (Vancouver, AMA) rather than listing them alphabetically. */
int ms_cite_numeric(ms_cite_style_t style);

/** A calendar date; month and day 0 when unknown. */
typedef struct {
    int year, month, day;
} ms_cite_date_t;

/** Parses "YYYY", "YYYY-MM" or "YYYY-MM-DD" (an RFC 3339 date-time is cut
 * to its date). 0 or MS_EINVAL. */
int ms_cite_parse_date(const char *s, ms_cite_date_t *out);

/** One formatted reference, three ways: plain text, Markdown (italics as
 * *...*, the other Markdown punctuation escaped) and HTML (italics as
 * <i>, text escaped, links as <a>). Heap strings, freed by
 * ms_cite_ref_free. */
typedef struct {
    char *text;
    char *markdown;
    char *html;
} ms_cite_ref_t;

/** Formats citation (a native citation object) in style. accessed is the
 * date the source was consulted (the answer's date), used where the style
 * asks for an access date; NULL for none. MS_EINVAL when citation is not an
 * object; any missing member is handled as the manual says. */
int ms_cite_format(json_t *citation, ms_cite_style_t style, const ms_cite_date_t *accessed,
                   ms_cite_ref_t *out);
/** Frees the strings of a reference; NULL-safe; leaves it zeroed. */
void ms_cite_ref_free(ms_cite_ref_t *ref);

/** The in-text citation of citation in style, plain text: "(1)" Vancouver
 * (ICMJE: numerals in parentheses), "¹" AMA (superscript numerals), and
 * author-date forms for the others: "(McCauley & Christiansen, 2019)" APA,
 * "(Piper)" MLA, "(Esher 2014)" Chicago. number is the reference's number
 * in the text (the citation's "index"). Heap string. */
char *ms_cite_in_text(json_t *citation, ms_cite_style_t style, int number);

/** The citations (a JSON array of citation objects) as the style's list:
 * {"style","label","title","numbered",
 *  "entries":[{"index","number"|null,"in_text","text","markdown","html"}],
 *  "text","markdown","html"}
 * where the whole-list forms join the entries one a line ("1. ..." when
 * numbered). Numbered styles keep the citations' order (their "index"
 * order); the others sort by first author (or title), then year. Entries
 * equal in the style (the same work cited twice) appear once. Returns a new
 * object (never NULL); elements that are not objects are skipped. */
json_t *ms_cite_bibliography(json_t *citations, ms_cite_style_t style,
                             const ms_cite_date_t *accessed);

/** The citations as BibTeX (one @article / @misc entry each, keys
 * FamilyYEAR with a, b, ... on collisions; LaTeX specials escaped, UTF-8
 * kept; doi and url verbatim as biblatex reads them). Heap string. */
char *ms_cite_bibtex(json_t *citations, const ms_cite_date_t *accessed);

/** The citations as RIS (Research Information Systems tagged format: TY
 * first, ER last, "TAG  - value" lines ended by CRLF; JOUR for journal
 * articles, ELEC for web pages, GEN otherwise). Heap string. */
char *ms_cite_ris(json_t *citations, const ms_cite_date_t *accessed);

/** What is known about a source a citation names by its source_name (the
 * MedQuAD source codes, the starter's site names): its site title, the
 * organisation responsible for it, and where that organisation is. Static
 * strings; country NULL when not a national body. */
typedef struct {
    const char *code;      /**< as source_name carries it: "GHR", "MPlusHealthTopics", ... */
    const char *site;      /**< "Genetics Home Reference" */
    const char *publisher; /**< "National Library of Medicine" */
    const char *place;     /**< "Bethesda (MD)" (Citing Medicine's form) */
    const char *country;   /**< "US" for national bodies (Citing Medicine adds "(US)") */
} ms_cite_source_t;

/** The source known by code (exact match), or NULL. */
const ms_cite_source_t *ms_cite_source(const char *code);

#endif
