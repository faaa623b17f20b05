/* When the offline answerer says "not found" instead of answering.
 *
 * Retrieval always returns something: an OR query over the words of "How
 * do I fix my car?" finds a hypoglycemia passage that says to keep
 * quick-fix foods in the car. A fixed score threshold cannot tell that
 * apart from a real answer (scores are comparable within one search only),
 * so the decision weighs evidence about the question and what was found:
 *
 *  - medical: the share of the question's topic words that belong to a
 *    medical name the knowledge base knows (kb names.c);
 *  - focus: how much of the best passages' focus (the condition they are
 *    about) the question names;
 *  - agreement: the share of the top passages about one and the same
 *    focus: passages found by accident scatter over unrelated conditions;
 *  - coverage: the share of the question's topic words found in the chosen
 *    sentences and the titles of their passages.
 *
 * The weights of the logistic model below were fitted on the development
 * half of bench/answerer.py's sets (everyday questions, LiveQA, MedQuAD;
 * docs/retrieval.md "Abstention"), and the other half was reported once. */
#include "llm/llm_int.h"

#include "kb/words.h"

#include "core/buf.h"
#include "core/ms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Fitted on the development half (bench/answerer.py --fit): L2-regularised
 * logistic regression over the questions that reach the decision, on-topic
 * questions whose relevant passage retrieval finds weighted 2 to 1 (a
 * wrong "not found" costs a user more than a wrong answer is likely). */
static const double W_BIAS = -3.92;
static const double W_MEDICAL = 1.60;
static const double W_NAMED = 2.21;
static const double W_VOCAB = 0.54;
static const double W_FOCUS = 1.61;
static const double W_AGREE = 1.25;
static const double W_COVERED = 1.00;
#define AGREE_TOP 5

double ms_llm_answer_logit(const ms_llm_evidence_t *e) {
    double medical = e->medical < 0 ? 0 : e->medical;
    return W_BIAS + W_MEDICAL * medical + W_NAMED * e->named + W_VOCAB * e->vocab +
           W_FOCUS * e->focus + W_AGREE * e->agree + W_COVERED * e->covered;
}

/* A knowledge base that names no documents (PubMedQA abstracts, text
 * files, jsonl without "focus", or hits not from ms_kb_search) gives none
 * of the evidence the model was fitted on: the answerer then answers
 * whenever it found sentences, as before the model existed. */
int ms_llm_should_answer(const ms_llm_evidence_t *e) {
    if (e->medical < 0)
        return 1;
    return ms_llm_answer_logit(e) > 0;
}

/* The first name of a focus ("Gout" of "Gout; gouty arthritis"). */
static size_t first_name(const char *f) {
    size_t n = strcspn(f, ";");
    while (n > 0 && f[n - 1] == ' ')
        n--;
    return n;
}

double ms_llm_focus_agreement(const ms_kb_hit_t *hits, size_t n) {
    if (n > AGREE_TOP)
        n = AGREE_TOP;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = hits[i].focus;
        if (!a || !*a)
            continue;
        size_t na = first_name(a), same = 0;
        for (size_t j = 0; j < n; j++) {
            const char *b = hits[j].focus;
            same += b && first_name(b) == na && strncasecmp(a, b, na) == 0;
        }
        if (same > best)
            best = same;
    }
    return n ? (double)best / (double)n : 0;
}

double ms_llm_focus_named(const ms_kb_hit_t *hits, size_t n) {
    double best = 0;
    for (size_t i = 0; i < n && i < 3; i++)
        if (hits[i].focus_match > best)
            best = hits[i].focus_match;
    return best;
}

static const char not_found_msg[] =
    "I could not find information about this in the knowledge base, which covers medical "
    "conditions, their symptoms, causes, tests and treatments. Try rephrasing the question or "
    "naming the condition or medication, and ask a clinician about a specific patient.";

/* What the groups of a drug question are called in a sentence. */
static const struct {
    uint32_t bit;
    const char *what;
} drug_aspects[] = {
    {MS_KB_QT_SIDE_EFFECTS, "side effects"}, {MS_KB_QT_DOSE, "dose"},
    {MS_KB_QT_INTERACTIONS, "interactions"}, {MS_KB_QT_STORAGE, "storage"},
    {MS_KB_QT_OVERDOSE, "overdose"},         {MS_KB_QT_MISSED_DOSE, "missed doses"},
    {MS_KB_QT_BRANDS, "brand names"},
};

/* "MedlinePlus" for the MedQuAD MedlinePlus subsets, else the source. */
static const char *source_label(const char *s) {
    if (!s)
        return NULL;
    if (strncmp(s, "MPlus", 5) == 0)
        return "MedlinePlus";
    if (strcmp(s, "ADAM") == 0)
        return "the A.D.A.M. Medical Encyclopedia";
    return s;
}

/* The sentence naming a document the knowledge base lists without its text,
 * appended to b. */
static void gap_sentence(ms_buf_t *b, const ms_kb_hit_t *h, uint32_t asked) {
    const char *src = source_label(h->gap_source);
    ms_buf_printf(b, "The knowledge base lists %s", h->gap_name);
    if (src)
        ms_buf_printf(b, " (from %s)", src);
    ms_buf_puts(b, " but does not hold its text");
    const char *what = NULL;
    for (size_t i = 0; i < MS_COUNTOF(drug_aspects) && !what; i++)
        if (asked & drug_aspects[i].bit)
            what = drug_aspects[i].what;
    if (what)
        ms_buf_printf(b, ", so it cannot say anything about its %s", what);
    ms_buf_puts(b, ".");
    if (h->gap_url && *h->gap_url)
        ms_buf_printf(b, " The source's page is %s.", h->gap_url);
}

char *ms_llm_not_found(const char *question, const ms_kb_hit_t *hits, size_t n) {
    ms_buf_t b;
    ms_buf_init(&b);
    if (n > 0 && hits[0].gap_name && *hits[0].gap_name) {
        uint32_t asked = question ? ms_kb_qtype_of_text(question, strlen(question)) : 0;
        gap_sentence(&b, &hits[0], asked & MS_KB_QT_DRUG);
        ms_buf_puts(&b, " For a medicine's dose, side effects or interactions, check its label or"
                        " ask a pharmacist or clinician.");
        return ms_buf_take(&b);
    }
    ms_buf_puts(&b, not_found_msg);
    return ms_buf_take(&b);
}

int ms_llm_gated(const char *question, const ms_kb_hit_t *hits, size_t n) {
    if (!question || n == 0 || !hits[0].gap_name || !*hits[0].gap_name)
        return 0;
    uint32_t asked = ms_kb_qtype_of_text(question, strlen(question)) & MS_KB_QT_DRUG;
    if (!asked)
        return 0;
    /* A passage of the asked kind about something the question names (a
     * judged drug page imported as jsonl) answers it after all. */
    for (size_t i = 0; i < n; i++)
        if (hits[i].focus_match >= 0.5 && (ms_kb_qtype_bits(hits[i].qtype) & asked))
            return 0;
    return 1;
}
