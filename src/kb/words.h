/* Word classes shared by retrieval (src/kb) and the offline answerer
 * (src/llm): the one English stop-word list, a plain word tokenizer, and the
 * question-type cues that say what a question asks about a condition
 * ("symptoms", "treatment", "side effects", ...). Pure functions of text:
 * no database, safe on any thread. */
#ifndef MS_KB_WORDS_H
#define MS_KB_WORDS_H

#include <stddef.h>
#include <stdint.h>

/** Longest word the tokenizer keeps (bytes, NUL included); longer words
 * are skipped. */
#define MS_KB_WORD_MAX 48

/** Whether w[0, n) is an English stop-word: function words (after the
 * SMART and Lucene lists) plus the courtesy and filler words of consumer
 * health questions ("please", "thanks", "wondering"), which match
 * everywhere and mean nothing to ranking or to an answer. ASCII case is
 * ignored; n == 0 counts as a stop-word. */
int ms_kb_is_stopword(const char *w, size_t n);

/** One word of a text: lower-cased ASCII letters and digits (bytes >= 0x80
 * are kept as they are, so UTF-8 words stay whole), and its byte offset. */
typedef struct {
    char w[MS_KB_WORD_MAX];
    size_t off;
} ms_kb_word_t;

/** Splits text[0, len) into at most max words (separators: everything but
 * letters, digits, bytes >= 0x80 and an apostrophe inside a word, which is
 * dropped: "Graves'" -> "graves", "don't" -> "dont"). Returns the count. */
size_t ms_kb_words(const char *text, size_t len, ms_kb_word_t *out, size_t max);

/** Question-type groups: the intents a consumer question can show, over the
 * question types (qtype) of MedQuAD (Ben Abacha & Demner-Fushman, BMC
 * Bioinformatics 20:511, 2019, table 2, and the MedlinePlus drug pages).
 * One bit each. */
enum {
    MS_KB_QT_SYMPTOMS = 1u << 0,
    MS_KB_QT_TREATMENT = 1u << 1,
    MS_KB_QT_CAUSES = 1u << 2,
    MS_KB_QT_INHERITANCE = 1u << 3,
    MS_KB_QT_GENES = 1u << 4,
    MS_KB_QT_OUTLOOK = 1u << 5,
    MS_KB_QT_TESTS = 1u << 6,
    MS_KB_QT_PREVENTION = 1u << 7,
    MS_KB_QT_RISK = 1u << 8,
    MS_KB_QT_FREQUENCY = 1u << 9,
    MS_KB_QT_COMPLICATIONS = 1u << 10,
    MS_KB_QT_SIDE_EFFECTS = 1u << 11,
    MS_KB_QT_DOSE = 1u << 12,
    MS_KB_QT_STORAGE = 1u << 13,
    MS_KB_QT_INTERACTIONS = 1u << 14,
    MS_KB_QT_OVERDOSE = 1u << 15,
    MS_KB_QT_MISSED_DOSE = 1u << 16,
    MS_KB_QT_SUPPORT = 1u << 17,
    MS_KB_QT_RESEARCH = 1u << 18,
    MS_KB_QT_STAGES = 1u << 19,
    MS_KB_QT_BRANDS = 1u << 20,
    MS_KB_QT_INFORMATION = 1u << 21,
};

/** The groups only a medicine's own page answers (MedlinePlus Drugs and
 * Herbs): a dose, side effects, interactions, storage, overdose, a missed
 * dose, brand names. */
#define MS_KB_QT_DRUG                                                                              \
    (MS_KB_QT_SIDE_EFFECTS | MS_KB_QT_DOSE | MS_KB_QT_STORAGE | MS_KB_QT_INTERACTIONS |            \
     MS_KB_QT_OVERDOSE | MS_KB_QT_MISSED_DOSE | MS_KB_QT_BRANDS)

/** The group bits a MedQuAD qtype ("symptoms", "exams and tests", ...)
 * belongs to; 0 for NULL or an unknown type. */
uint32_t ms_kb_qtype_bits(const char *qtype);

/** The groups the words of a question show. Cues match as prefixes of
 * words ("treat" matches "treated", "treatments") or as two-word prefixes
 * ("side effect", "how many"). When marks is not NULL, marks[i] gets the
 * groups whose cue covers word i (both words of a two-word cue). */
uint32_t ms_kb_qtype_detect(const ms_kb_word_t *words, size_t n, uint32_t *marks);

/** ms_kb_qtype_detect over the words of a text. */
uint32_t ms_kb_qtype_of_text(const char *text, size_t len);

#endif
