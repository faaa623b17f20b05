/* The PHI detector's word lists (private to src/phi).
 *
 * Generated at build time (cmake/phi_lexicon.cmake) from two Debian data
 * packages, so nothing here is a list we made up:
 * - ms_phi_lex_given / ms_phi_lex_surnames: the 1990 US Census lists of
 *   common first names (male and female merged) and the 1,000 commonest
 *   surnames, as libtext-names-perl ships them (Text/Names.pm), upper
 *   case, sorted by strcmp, each with its frequency in thousandths of a
 *   per cent of the population;
 * - ms_phi_lex_words: the lower-case entries of wamerican (SCOWL size 50),
 *   the common English words, sorted by strcmp.
 * The hand-written lists (clinical terms, facility words, states, street
 * suffixes, titles) are in lists.c, each with its source. */
#ifndef MS_PHI_LEXICON_H
#define MS_PHI_LEXICON_H

#include <stddef.h>

typedef struct {
    const char *name; /* upper case */
    int freq;         /* thousandths of a per cent (3318 = 3.318 %) */
} ms_phi_lex_name_t;

extern const ms_phi_lex_name_t ms_phi_lex_given[];
extern const size_t ms_phi_lex_given_n;
extern const ms_phi_lex_name_t ms_phi_lex_surnames[];
extern const size_t ms_phi_lex_surnames_n;
extern const char *const ms_phi_lex_words[];
extern const size_t ms_phi_lex_words_n;

#endif
