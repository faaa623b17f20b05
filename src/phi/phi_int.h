/* Private to src/phi: the scan every recogniser adds candidates to, the
 * recognisers, and the word lists' lookups. */
#ifndef MS_PHI_PHI_INT_H
#define MS_PHI_PHI_INT_H

#include "phi/phi.h"

#include <stddef.h>

/* How a candidate was found; the stronger evidence names the category when
 * candidates overlap ("MRN: 123-45-6789" is an MRN, not an SSN). */
enum {
    PRIO_LEXICAL = 1, /* capitalisation, name lists, place context */
    PRIO_SHAPE = 2,   /* a pattern (with its checksum where it has one) */
    PRIO_CONTEXT = 3, /* a keyword that names the identifier ("MRN:", "SSN") */
};

typedef struct {
    ms_phi_type_t type;
    size_t start, end;
    double conf;
    int prio;
} phi_cand_t;

typedef struct {
    const char *s;
    size_t len;
    phi_cand_t *c;
    size_t n, cap;
    int incomplete; /* a pattern gave up (match limit): not known to be PHI-free */
    /* Bytes covered by candidates of priority >= cov_prio when cov is set
     * (phi_cover_build), so phi_covered is O(span) instead of O(candidates). */
    unsigned char *cov;
    int cov_prio;
} phi_scan_t;

/* Adds a candidate [start, end) (trimmed of surrounding spaces). */
void phi_add(phi_scan_t *sc, ms_phi_type_t type, size_t start, size_t end, double conf, int prio);
/* Whether [start, end) overlaps a candidate of prio >= min_prio already added
 * (or, after phi_cover_build(sc, min_prio), one added before that call). */
int phi_covered(const phi_scan_t *sc, size_t start, size_t end, int min_prio);
/* Snapshots the bytes covered by candidates of prio >= min_prio. */
void phi_cover_build(phi_scan_t *sc, int min_prio);

/* The recognisers, run in this order by ms_phi_detect. */
int phi_formats_init(void);        /* 0, or -1 when a pattern does not compile (a bug) */
void phi_formats(phi_scan_t *sc);  /* formats.c: fixed shapes (PCRE2) */
void phi_keywords(phi_scan_t *sc); /* keywords.c: identifiers named by a keyword */
void phi_names(phi_scan_t *sc);    /* names.c: names, places, facilities */

/* ---- lists.c: word-list lookups (case-insensitive; a possessive "'s" or a
 * trailing "'" is ignored) ---- */
typedef enum {
    L_CLINICAL,   /* eponyms and clinical proper nouns: never a person alone */
    L_CLIN_HEAD,  /* words that make a preceding proper noun a clinical term */
    L_DRUG_BRAND, /* capitalised drug brand names */
    L_FACILITY,   /* words that make a capitalised run a facility */
    L_TITLE,      /* Dr, Mrs, Prof ... */
    L_NAME_CUE,   /* words before a name: named, patient, son ... */
    L_NAME_WEAK,  /* weaker cues before a name: for, like, with, by ... */
    L_NAME_AFTER, /* verbs after a name: lives, presented, reports ... */
    L_PLACE_PREP, /* in, from, near, at ... */
    L_PLACE_VERB, /* verbs that make "to X" a place: admitted, moved ... */
    L_STATE,      /* US states and territories, names and USPS codes */
    L_COUNTRY,    /* countries (not PHI: larger than a state) */
    L_NATION,     /* nationalities, ethnicities, languages */
    L_MONTH,      /* month and weekday names */
    L_NOT_NAME,   /* capitalised words that are no name (acronyms read as words) */
    L_NLISTS
} phi_list_id_t;

int phi_lists_init(void);
int phi_in(phi_list_id_t list, const char *w, size_t n);
/* Census first names / surnames: the frequency (thousandths of a per
 * cent, >= 1) or 0. */
int phi_given(const char *w, size_t n);
int phi_surname(const char *w, size_t n);
/* Whether the lower-case form of w is a common English word. */
int phi_word(const char *w, size_t n);
/* Whether w looks like a generic drug name (USAN stems: -pril, -sartan ...). */
int phi_drug_stem(const char *w, size_t n);
/* Word length without a possessive ending. */
size_t phi_strip_possessive(const char *w, size_t n);

#endif
