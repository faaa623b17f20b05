/* Unit tests of the llm module: sentence splitting, the offline answerer
 * (grounding, citations, novelty, no-context), and both providers streaming
 * on a real libuv loop, including cancellation at awkward moments. Every
 * loop test ends with uv_loop_close() == 0: no handle or request left. */
#include "llm/llm_int.h"
#include "llm/provider.h"

#include "core/buf.h"
#include "core/ms.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- Helpers. ---- */

static char *squeeze(const char *s, size_t n) {
    ms_buf_t b = {0};
    ms_llm_put_squeezed(&b, s, n);
    ms_buf_cstr(&b);
    return b.data ? ms_buf_take(&b) : ms_xstrdup("");
}

/* The spans of text, each squeezed, and their kinds. */
typedef struct {
    char *s[64];
    ms_llm_span_kind_t k[64];
    size_t n;
} split_t;

static void split(const char *text, split_t *out) {
    ms_llm_span_t *sp;
    size_t n;
    assert_int_equal(ms_llm_split_sentences(text, strlen(text), &sp, &n), 0);
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        out->s[i] = squeeze(text + sp[i].off, sp[i].len);
        out->k[i] = sp[i].kind;
    }
    out->n = n;
    free(sp);
}

static void split_free(split_t *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->s[i]);
}

/* ---- Sentence splitting. ---- */

enum {
    S = MS_LLM_SPAN_SENTENCE,
    H = MS_LLM_SPAN_HEADING,
    L = MS_LLM_SPAN_LEAD,
    I = MS_LLM_SPAN_ITEM
};

/* Splits text and expects exactly the spans want (squeezed) of kinds. */
static void expect_split(const char *text, const char *const *want, const int *kinds, size_t n) {
    split_t s;
    split(text, &s);
    for (size_t i = 0; i < s.n && i < n; i++) {
        assert_string_equal(s.s[i], want[i]);
        assert_int_equal(s.k[i], kinds[i]);
    }
    assert_int_equal(s.n, n);
    split_free(&s);
}

#define EXPECT_SPLIT(text, want, kinds)                                                            \
    do {                                                                                           \
        _Static_assert(MS_COUNTOF(want) == MS_COUNTOF(kinds), "one kind per span");                \
        expect_split(text, want, kinds, MS_COUNTOF(want));                                         \
    } while (0)

static void test_split_abbreviations_and_decimals(void **state) {
    const char *want[] = {"Dr. Smith gave 2.5 mg of the drug with food, e.g. with breakfast.",
                          "The U.S. Food and Drug Administration approved it in 2001.",
                          "Is it safe?",
                          "Yes!",
                          "Doses vs. effects were measured (see Fig. 3).",
                          "It is hepatitis B.",
                          "Then it stopped.",
                          "John F. Kennedy was president."};
    const int kinds[] = {S, S, S, S, S, S, S, S};
    EXPECT_SPLIT("Dr. Smith gave 2.5 mg of the drug with food, e.g. with breakfast. The U.S. "
                 "Food and Drug Administration approved it in 2001. Is it safe? Yes! Doses vs. "
                 "effects were measured (see Fig. 3). It is hepatitis B. Then it stopped. John "
                 "F. Kennedy was president.",
                 want, kinds);
}

static void test_split_quotes_footnotes_paragraphs(void **state) {
    const char *want[] = {"Adenomas are common, affecting about 17 percent of the population.1",
                          "However, most cause no symptoms.",
                          "He said \"stop.\"",
                          "Then he left.",
                          "Surgery",
                          "Surgery is the first option."};
    const int kinds[] = {S, S, S, S, H, S};
    EXPECT_SPLIT("Adenomas are common, affecting about 17 percent of the population.1 However, "
                 "most cause no symptoms. He said \"stop.\" Then he left.\n\n   Surgery\n   \n"
                 "Surgery is the first option.",
                 want, kinds);
    /* A heading line is not glued to the sentence that follows it; a
     * hard-wrapped sentence stays one sentence. */
    const char *want2[] = {"Pituitary Tumors",
                           "In most cases a benign tumor of the pituitary gland produces too much "
                           "growth hormone."};
    const int kinds2[] = {H, S};
    EXPECT_SPLIT("Pituitary Tumors\nIn most cases a benign tumor of the pituitary gland\nproduces "
                 "too much growth hormone.",
                 want2, kinds2);
}

static void test_split_bullets(void **state) {
    /* MedQuAD style: items run together after two spaces, after a colon,
     * or after the end of the previous item's sentence. */
    const char *want[] = {"Other symptoms of acromegaly include",
                          "joint aches",
                          "thick, coarse, oily skin",
                          "skin tags",
                          "Key Points",
                          "Adult ALL is a type of cancer.",
                          "Leukemia may affect red blood cells.",
                          "Possible risk factors include the following:",
                          "Being male.",
                          "Being older than 70.",
                          "These and other factors may matter."};
    const int kinds[] = {L, I, I, I, H, I, I, L, I, I, S};
    EXPECT_SPLIT("Other symptoms of acromegaly include\n                \n- joint aches  - "
                 "thick, coarse, oily skin  - skin tags\n\nKey Points\n    - Adult ALL is a type "
                 "of cancer.    - Leukemia may affect red blood cells.\nPossible risk factors "
                 "include the following: - Being male. - Being older than 70.        These and "
                 "other factors may matter.",
                 want, kinds);
    /* Numbered items and U+2022 bullets on their own lines; a dash after a
     * single space is punctuation, not a list. */
    const char *want2[] = {
        "Steps:", "Rest the joint.", "Apply ice.", "Take pain relievers as needed.",
        "The growth plates - areas near the ends of bones - fuse after puberty."};
    const int kinds2[] = {L, I, I, I, S};
    EXPECT_SPLIT("Steps:\n1. Rest the joint.\n2. Apply ice.\n\xE2\x80\xA2 Take pain relievers as "
                 "needed.\nThe growth plates - areas near the ends of bones - fuse after puberty.",
                 want2, kinds2);
    /* The same list after an importer squeezed its spaces. */
    const char *want3[] = {"Other symptoms include", "joint aches", "skin tags", "headaches",
                           "Surgery is the first option."};
    const int kinds3[] = {L, I, I, I, S};
    EXPECT_SPLIT(
        "Other symptoms include\n\n- joint aches - skin tags - headaches\n\nSurgery is the "
        "first option.",
        want3, kinds3);
}

static void test_stem_and_terms(void **state) {
    const char *same[][2] = {{"treatments", "treated"}, {"treating", "treat"},
                             {"causes", "caused"},      {"diagnosis", "diagnosed"},
                             {"therapies", "therapy"},  {"symptoms", "symptom"}};
    for (size_t i = 0; i < MS_COUNTOF(same); i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%s", same[i][0]);
        snprintf(b, sizeof b, "%s", same[i][1]);
        ms_llm_stem(a, strlen(a));
        ms_llm_stem(b, strlen(b));
        assert_string_equal(a, b);
    }
}

/* ---- The offline answerer. ---- */

/* MedQuAD-like passages (written for this test): the answer pairs of one
 * condition plus an unrelated one that also talks about symptoms. */
static const char sym_text[] =
    "The most common symptom of acromegaly is the abnormal growth of the hands and feet. "
    "Swelling of the hands and feet is often an early feature \xE2\x80\x94 patients notice a "
    "change in ring or shoe size. Over time, bone changes alter the facial features: the brow "
    "and lower jaw protrude and the nose enlarges.\n                \nOther symptoms of "
    "acromegaly include\n                \n- joint aches  - thick, coarse, oily skin  - skin "
    "tags  - deepening of the voice  - sleep apnea  - excessive sweating  - fatigue and "
    "weakness  - headaches  - impaired vision";
static const char cause_text[] =
    "Acromegaly is caused by prolonged overproduction of growth hormone (GH) by the pituitary "
    "gland. In more than 95 percent of people with acromegaly, a benign tumor of the "
    "pituitary, called an adenoma, produces the excess GH. Rarely, tumors of the pancreas, "
    "lungs, or other parts of the brain cause acromegaly. Some adenomas grow slowly, and "
    "symptoms of GH excess are often not noticed for many years.";
static const char asthma_text[] =
    "Asthma is a chronic disease that inflames and narrows the airways of the lungs. Common "
    "asthma symptoms include wheezing, coughing, chest tightness, and shortness of breath. "
    "Symptoms often get worse at night or early in the morning. Not all people who have "
    "asthma have these symptoms.";
static const char treat_text[] =
    "Currently, treatment options include surgical removal of the tumor, medical therapy, and "
    "radiation therapy of the pituitary. Surgery is the first option recommended for most "
    "people with acromegaly, e.g. when the tumor is small. Somatostatin analogs such as "
    "octreotide lower GH levels in 50 to 70 percent of patients. If surgery is successful, "
    "facial appearance and soft tissue swelling improve within a few days.";
static const char asthma_treat_text[] =
    "Asthma treatment includes quick-relief inhalers for attacks and long-term control "
    "medicines such as inhaled corticosteroids. Treatment plans are adjusted to how well "
    "asthma is controlled.";

static ms_kb_hit_t mk_hit(const char *title, const char *focus, const char *text, double score) {
    ms_kb_hit_t h;
    memset(&h, 0, sizeof(h));
    h.title = (char *)title;
    h.focus = (char *)focus;
    h.text = (char *)text;
    h.score = score;
    return h;
}

/* The four acromegaly-question hits, best first: symptoms, causes, the
 * asthma decoy (ranked above treatment, as lexical retrieval might), and
 * treatment. */
static void acromegaly_hits(ms_kb_hit_t hits[4]) {
    hits[0] = mk_hit("What are the symptoms of Acromegaly ?", "Acromegaly", sym_text, 12.5);
    hits[1] = mk_hit("What causes Acromegaly ?", "Acromegaly", cause_text, 9.0);
    hits[2] = mk_hit("What are the symptoms of Asthma ?", "Asthma", asthma_text, 8.5);
    hits[3] = mk_hit("What are the treatments for Acromegaly ?", "Acromegaly", treat_text, 7.0);
}

/* An answer from ms_offline_compose. */
typedef struct {
    char *text;
    size_t *cited, ncited;
    size_t pieces; /* sentences and list lines quoted */
} ans_t;

static void ans_free(ans_t *a) {
    free(a->text);
    free(a->cited);
}

static int cites(const ans_t *a, size_t hit) {
    for (size_t i = 0; i < a->ncited; i++)
        if (a->cited[i] == hit)
            return 1;
    return 0;
}

/* Checks that an answer is grounded and its markers match cited: the
 * answer is paragraphs separated by blank lines, each ending with one
 * marker [k] (1 <= k <= ncited, first uses in order 1, 2, ...), and every
 * sentence or list line of a paragraph occurs verbatim (white space
 * squeezed) in hits[cited[k-1]]. Counts the quoted pieces. */
static void check_grounded(ans_t *a, const ms_kb_hit_t *hits, size_t nhits) {
    assert_true(a->ncited >= 1);
    for (size_t i = 0; i < a->ncited; i++)
        assert_true(a->cited[i] < nhits);
    if (getenv("LLM_TEST_VERBOSE"))
        print_message("answer:\n%s\n", a->text);
    size_t next_new = 1;
    for (const char *p = a->text; *p;) {
        const char *end = strstr(p, "\n\n");
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        char *para = ms_xstrndup(p, plen);
        char *m = strrchr(para, '['); /* the marker closes the paragraph */
        assert_true(m && m > para && m[-1] == ' ');
        char *stop;
        unsigned long k = strtoul(m + 1, &stop, 10);
        assert_string_equal(stop, "]");
        assert_true(k >= 1 && k <= a->ncited && k <= next_new);
        next_new += k == next_new;
        m[-1] = '\0';
        assert_null(strchr(para, '['));
        const char *text = hits[a->cited[k - 1]].text;
        char *src = squeeze(text, strlen(text));
        for (char *line = para; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            split_t s;
            split(strncmp(line, "- ", 2) == 0 ? line + 2 : line, &s);
            assert_true(s.n > 0);
            for (size_t i = 0; i < s.n; i++, a->pieces++)
                if (!strstr(src, s.s[i]))
                    fail_msg("not in passage %lu: \"%s\"", k, s.s[i]);
            split_free(&s);
            line = nl ? nl + 1 : NULL;
        }
        free(src);
        free(para);
        p += plen;
        while (*p == '\n')
            p++;
    }
    assert_int_equal(next_new - 1, a->ncited);
}

/* What ms_kb_search says about a question that names a condition the
 * knowledge base knows: its topic words are medical names and vocabulary.
 * Hits built by hand in these tests carry it unless a test sets its own. */
static void searched(const ms_gen_request_t *req) {
    ms_kb_hit_t *h = (ms_kb_hit_t *)req->hits;
    for (size_t i = 0; i < req->nhits; i++) {
        if (h[i].q_medical != 0 || h[i].q_named != 0 || h[i].q_vocab != 0)
            return;
    }
    for (size_t i = 0; i < req->nhits; i++) {
        h[i].q_medical = 1.0;
        h[i].q_named = 1;
        h[i].q_vocab = 1.0;
    }
}

/* Composes an answer to req, expecting want; a grounded one when 0. */
static ans_t compose(const ms_offline_config_t *cfg, const ms_gen_request_t *req, int want) {
    ans_t a = {0};
    searched(req);
    assert_int_equal(ms_offline_compose(cfg, req, &a.text, &a.cited, &a.ncited), want);
    if (want == 0)
        check_grounded(&a, req->hits, req->nhits);
    return a;
}

static ans_t ask(const char *question, ms_kb_hit_t *hits, size_t nhits, int max_sentences) {
    ms_gen_request_t req = {.question = question, .hits = hits, .nhits = nhits};
    ms_offline_config_t cfg = {.max_sentences = max_sentences};
    return compose(&cfg, &req, 0);
}

static void compose_symptoms(ms_kb_hit_t hits[4], int max_sentences) {
    ans_t a = ask("What are the symptoms of acromegaly?", hits, 4, max_sentences);
    /* The symptoms passage comes first, with symptom sentences and its list. */
    assert_int_equal(a.cited[0], 0);
    assert_non_null(strstr(a.text, "abnormal growth of the hands and feet"));
    assert_non_null(strstr(a.text, "Other symptoms of acromegaly include\n- joint aches\n"));
    assert_non_null(strstr(a.text, "- impaired vision [1]"));
    /* Never the asthma passage, whatever it says about symptoms. */
    assert_false(cites(&a, 2));
    assert_null(strstr(a.text, "sthma"));
    /* No disclaimer: the pipeline adds the configured one. */
    assert_null(strstr(a.text, "medical advice"));
    ans_free(&a);
}

static void test_compose_symptoms(void **state) {
    /* With MedQuAD's focus field, and without (other sources have none);
     * with room for more sentences than the acromegaly passages offer. */
    for (int with_focus = 1; with_focus >= 0; with_focus--) {
        ms_kb_hit_t hits[4];
        acromegaly_hits(hits);
        for (size_t i = 0; i < 4 && !with_focus; i++)
            hits[i].focus = NULL;
        compose_symptoms(hits, 5);
        compose_symptoms(hits, 20);
    }
}

/* Passages without title or focus (plain text or JSONL imports): the one
 * about another condition is still left out, even with room to spare. */
static void test_compose_untitled_off_topic(void **state) {
    static const char asthma_causes[] =
        "The symptoms of asthma have many causes. Allergens and exercise cause symptoms in "
        "many people with asthma.";
    ms_kb_hit_t hits[2] = {mk_hit(NULL, NULL, asthma_causes, 5.0),
                           mk_hit(NULL, NULL, cause_text, 4.9)};
    ans_t a = ask("What are the symptoms and causes of acromegaly?", hits, 2, 20);
    assert_int_equal(a.ncited, 1);
    assert_int_equal(a.cited[0], 1);
    assert_null(strstr(a.text, "sthma"));
    ans_free(&a);
}

/* A passage answering another aspect ("Is X inherited?") mentions the asked
 * one only in passing: that mention is not an answer. */
static void test_compose_other_aspect(void **state) {
    static const char info[] =
        "Kallmann syndrome is a condition characterized by delayed or absent puberty and an "
        "impaired sense of smell. Kallmann syndrome may also cause a failure of one kidney to "
        "develop.";
    static const char inherit[] =
        "Kallmann syndrome can be inherited in several patterns. Some relatives who carry the "
        "altered gene never develop signs and symptoms of the condition.";
    ms_kb_hit_t hits[2] = {
        mk_hit("Is Kallmann syndrome inherited ?", "Kallmann syndrome", inherit, 10.0),
        mk_hit("What is (are) Kallmann syndrome ?", "Kallmann syndrome", info, 9.0),
    };
    ans_t a = ask("What are the signs and symptoms of Kallmann syndrome?", hits, 2, 0);
    assert_non_null(strstr(a.text, "delayed or absent puberty"));
    assert_null(strstr(a.text, "never develop signs and symptoms"));
    ans_free(&a);
}

/* A passage about another condition (its MedQuAD focus shares no term with
 * the question) is left out even when its text names the asked one. */
static void test_compose_other_focus(void **state) {
    static const char gigantism[] =
        "Gigantism is closely related to acromegaly but begins in childhood. Symptoms of "
        "gigantism include very tall stature, delayed puberty, and double vision.";
    ms_kb_hit_t hits[2] = {
        mk_hit("What are the symptoms of Gigantism ?", "Gigantism", gigantism, 9.0),
        mk_hit("What are the symptoms of Acromegaly ?", "Acromegaly", sym_text, 8.0),
    };
    ans_t a = ask("What are the symptoms of acromegaly?", hits, 2, 0);
    assert_int_equal(a.ncited, 1);
    assert_int_equal(a.cited[0], 1);
    assert_null(strstr(a.text, "igantism"));
    ans_free(&a);
}

static void test_compose_max_sentences(void **state) {
    ms_kb_hit_t hits[4];
    acromegaly_hits(hits);
    for (int max = 1; max <= 3; max++) {
        ans_t a = ask("What causes acromegaly?", hits, 4, max);
        assert_true(a.pieces >= 1 && a.pieces <= (size_t)max);
        assert_non_null(strstr(a.text, "Acromegaly is caused by prolonged overproduction"));
        ans_free(&a);
    }
}

static void test_compose_follow_up(void **state) {
    ms_kb_hit_t hits[3];
    hits[0] = mk_hit("What are the treatments for Asthma ?", "Asthma", asthma_treat_text, 11.0);
    hits[1] = mk_hit("What are the treatments for Acromegaly ?", "Acromegaly", treat_text, 10.0);
    hits[2] = mk_hit("What are the symptoms of Acromegaly ?", "Acromegaly", sym_text, 6.0);
    const char *roles[] = {"user", "assistant", "user"};
    const char *texts[] = {"What are the symptoms of acromegaly?",
                           "Swelling of the hands and feet is often an early feature. [1]",
                           "What about treatment?"};
    /* The pipeline may or may not include the current question in the
     * history; both must work. */
    for (size_t nhistory = 2; nhistory <= 3; nhistory++) {
        ms_gen_request_t req = {.question = "What about treatment?",
                                .history_roles = roles,
                                .history_texts = texts,
                                .nhistory = nhistory,
                                .hits = hits,
                                .nhits = 3};
        ans_t a = compose(NULL, &req, 0);
        assert_int_equal(a.cited[0], 1);
        assert_false(cites(&a, 0));
        assert_non_null(strstr(a.text, "treatment options include surgical removal"));
        ans_free(&a);
    }
    /* Without the history the same question matches asthma's treatment
     * too: the expansion is what made the difference. */
    ans_t a = ask("What about treatment?", hits, 3, 0);
    assert_true(cites(&a, 0));
    ans_free(&a);
}

/* A "symptoms" question is answered by a sentence that says "signs": the
 * words of the aspect the question names count for each other. */
static void test_compose_aspect_synonyms(void **state) {
    (void)state;
    static const char text[] =
        "Acromegaly is a hormonal disorder that results from too much growth hormone in the "
        "body. It is most often diagnosed in middle-aged adults. Early signs include swelling "
        "of the hands and feet, such as a change in ring or shoe size.";
    ms_kb_hit_t hits[1] = {mk_hit("Acromegaly", "Acromegaly", text, 5.0)};
    ans_t a = ask("What are the symptoms of acromegaly?", hits, 1, 0);
    assert_non_null(strstr(a.text, "Early signs include swelling of the hands and feet"));
    ans_free(&a);
    /* Without the aspect ("what is acromegaly?") the signs sentence has no claim. */
    ans_t b = ask("What is acromegaly?", hits, 1, 0);
    assert_non_null(strstr(b.text, "hormonal disorder"));
    ans_free(&b);
}

static void test_compose_novelty(void **state) {
    static const char dup[] = "Metformin is the first medicine most people with type 2 "
                              "diabetes take.";
    char a1[512], b1[512];
    snprintf(a1, sizeof(a1), "%s Metformin lowers the amount of glucose the liver releases.", dup);
    snprintf(b1, sizeof(b1), "%s Metformin can cause an upset stomach when treatment starts.", dup);
    ms_kb_hit_t hits[2] = {
        mk_hit("What is metformin used for ?", "Metformin", a1, 5.0),
        mk_hit("What are the side effects of metformin ?", "Metformin", b1, 4.0),
    };
    ans_t a = ask("What does metformin do?", hits, 2, 0);
    const char *first = strstr(a.text, dup);
    assert_non_null(first);
    assert_null(strstr(first + 1, dup));
    /* Both passages contributed, so the duplicate was really skipped. */
    assert_int_equal(a.ncited, 2);
    assert_non_null(strstr(a.text, "liver releases"));
    assert_non_null(strstr(a.text, "upset stomach"));
    ans_free(&a);
}

static const char no_context_text[] =
    "I could not find information about this in the knowledge base, which covers medical "
    "conditions, their symptoms, causes, tests and treatments. Try rephrasing the question or "
    "naming the condition or medication, and ask a clinician about a specific patient.";

static void expect_no_context(const ms_offline_config_t *cfg, const ms_gen_request_t *req) {
    ans_t a = compose(cfg, req, MS_ENOENT);
    assert_string_equal(a.text, no_context_text);
    assert_int_equal(a.ncited, 0);
    assert_null(a.cited);
    ans_free(&a);
}

static void test_compose_no_context(void **state) {
    ms_kb_hit_t hits[4];
    acromegaly_hits(hits);
    /* No hits at all. */
    ms_gen_request_t none = {.question = "What are the symptoms of acromegaly?"};
    expect_no_context(NULL, &none);
    /* Hits, but the best scores below min_score (12.5 is enough). */
    ms_gen_request_t req = {
        .question = "What are the symptoms of acromegaly?", .hits = hits, .nhits = 4};
    ms_offline_config_t strict = {.min_score = 20.0}, edge = {.min_score = 12.5};
    expect_no_context(&strict, &req);
    ans_t a = compose(&edge, &req, 0);
    ans_free(&a);
    /* Hits that share no term with the question; only stop words. */
    ms_gen_request_t off = {.question = "How do I renew my passport?", .hits = hits, .nhits = 4};
    expect_no_context(NULL, &off);
    ms_gen_request_t empty = {.question = "What is it?", .hits = hits, .nhits = 4};
    expect_no_context(NULL, &empty);
    /* Invalid arguments. */
    ms_gen_request_t noq = {.question = NULL};
    assert_int_equal(ms_offline_compose(NULL, &noq, &a.text, &a.cited, &a.ncited), MS_EINVAL);
}

/* Evidence as ms_kb_search reports it, on every hit. */
static void set_evidence(ms_kb_hit_t *h, size_t n, double medical, int named, double vocab) {
    for (size_t i = 0; i < n; i++) {
        h[i].q_medical = medical;
        h[i].q_named = named;
        h[i].q_vocab = vocab;
    }
}

static void test_compose_abstains_off_topic(void **state) {
    (void)state;
    /* "How do I fix my car?" finds a hypoglycemia passage about quick-fix
     * foods in the car (issue 11): no word of the question is a medical
     * name, the passage's focus is not named, nothing else agrees. */
    static const char hypo[] = "People at risk for hypoglycemia should keep quick-fix foods in "
                               "the car, at work and anywhere they spend time.";
    ms_kb_hit_t hits[3] = {
        mk_hit("What to do for Hypoglycemia ?", "Hypoglycemia", hypo, 1.2),
        mk_hit("What is (are) Motion sickness ?", "Motion sickness",
               "Motion sickness happens in a car, a boat or a plane.", 1.0),
        mk_hit("What causes Back pain ?", "Back pain",
               "Lifting a heavy car battery can strain "
               "the back.",
               0.8),
    };
    set_evidence(hits, 3, 0.0, 0, 0.8);
    ms_gen_request_t req = {.question = "How do I fix my car?", .hits = hits, .nhits = 3};
    ans_t a = {0};
    assert_int_equal(ms_offline_compose(NULL, &req, &a.text, &a.cited, &a.ncited), MS_ENOENT);
    assert_int_equal(a.ncited, 0);
    assert_non_null(strstr(a.text, "could not find"));
    assert_non_null(strstr(a.text, "clinician"));
    ans_free(&a);
    /* A knowledge base that names nothing gives no evidence: answer. */
    set_evidence(hits, 3, -1.0, 0, 0.8);
    a = compose(NULL, &req, 0);
    ans_free(&a);
    /* The same passages answer a question that names the condition. */
    hits[0].focus_match = 1.0;
    set_evidence(hits, 3, 1.0, 1, 1.0);
    req.question = "What should people with hypoglycemia keep in the car?";
    a = compose(NULL, &req, 0);
    assert_int_equal(a.cited[0], 0);
    ans_free(&a);
}

static void test_compose_gates_drug_questions(void **state) {
    (void)state;
    /* MedQuAD lists metformin without its text: a side-effects question
     * must not be answered from a diabetes prevention passage. */
    ms_kb_hit_t hits[1] = {mk_hit("What to do for Insulin Resistance ?", "Insulin Resistance",
                                  "Metformin also lowers the risk of diabetes in women who had "
                                  "gestational diabetes. Other medications have side effects.",
                                  1.5)};
    set_evidence(hits, 1, 1.0, 1, 1.0);
    hits[0].gap_name = "Metformin";
    hits[0].gap_source = "MPlusDrugs";
    hits[0].gap_url = "https://medlineplus.gov/druginfo/meds/a696005.html";
    ms_gen_request_t req = {
        .question = "What are the side effects of metformin?", .hits = hits, .nhits = 1};
    ans_t a = {0};
    assert_int_equal(ms_offline_compose(NULL, &req, &a.text, &a.cited, &a.ncited), MS_ENOENT);
    assert_int_equal(a.ncited, 0);
    assert_non_null(strstr(a.text, "lists Metformin (from MedlinePlus) but does not hold its "
                                   "text, so it cannot say anything about its side effects."));
    assert_non_null(strstr(a.text, "a696005.html"));
    ans_free(&a);
    /* A passage of the asked kind about the drug answers after all. */
    ms_kb_hit_t both[2] = {hits[0], mk_hit("What are the side effects of Metformin ?", "Metformin",
                                           "Metformin may cause diarrhea and nausea.", 2.0)};
    both[1].qtype = "side effects";
    both[1].focus_match = 1.0;
    req.hits = both;
    req.nhits = 2;
    a = compose(NULL, &req, 0);
    assert_non_null(strstr(a.text, "diarrhea"));
    ans_free(&a);
}

static void test_compose_no_dangling_references(void **state) {
    (void)state;
    /* "These risk factors are associated with gout." opens its passage and
     * refers to nothing before it; "A different lab test" needs the test
     * it follows; a glued reference number is not quoted. */
    static const char risk[] = "These risk factors are associated with gout. Many people with "
                               "gout have a family history of the disease. Being overweight "
                               "increases the risk of developing gout.[5209]";
    static const char lyme[] = "Lyme disease can be hard to diagnose. A blood test can check "
                               "for antibodies to the bacteria that cause Lyme disease. In the "
                               "later stages of Lyme disease, a different lab test can confirm "
                               "whether you have it.";
    ms_kb_hit_t hits[2] = {mk_hit("Who is at risk for Gout?", "Gout", risk, 2.0),
                           mk_hit("What is Lyme disease ?", "Lyme disease", lyme, 1.0)};
    ans_t a = ask("What are the risk factors for gout?", hits, 1, 5);
    assert_null(strstr(a.text, "These risk factors"));
    assert_null(strstr(a.text, "[5209]"));
    assert_non_null(strstr(a.text, "family history"));
    ans_free(&a);
    a = ask("How is Lyme disease diagnosed with a lab test?", hits + 1, 1, 5);
    const char *diff = strstr(a.text, "a different lab test");
    if (diff) {
        const char *blood = strstr(a.text, "A blood test can check");
        assert_true(blood && blood < diff);
    }
    ans_free(&a);
}

static void test_compose_follow_up_three_turns(void **state) {
    (void)state;
    /* Acromegaly symptoms -> "How is it treated?" -> "What are the
     * complications?": the third is about acromegaly, not about the
     * complications of something else (issue 11). */
    static const char aids[] = "Neurological complications of AIDS include pain, seizures and "
                               "shingles. Other complications can occur as a result of HIV.";
    static const char acro[] = "Acromegaly increases the risk of complications such as type 2 "
                               "diabetes, high blood pressure and heart disease. Complications "
                               "of acromegaly also include sleep apnea.";
    ms_kb_hit_t hits[2] = {
        mk_hit("What are the complications of AIDS ?", "Neurological Complications of AIDS", aids,
               3.0),
        mk_hit("What are the complications of Acromegaly ?", "Acromegaly", acro, 2.0)};
    const char *roles[] = {"user", "assistant", "user", "assistant"};
    const char *texts[] = {"What are the symptoms of acromegaly?", "Swelling of the hands. [1]",
                           "How is it treated?", "Surgery. [1]"};
    ms_gen_request_t req = {.question = "What are the complications?",
                            .history_roles = roles,
                            .history_texts = texts,
                            .nhistory = 4,
                            .hits = hits,
                            .nhits = 2};
    ans_t a = compose(NULL, &req, 0);
    assert_int_equal(a.cited[0], 1);
    assert_false(cites(&a, 0));
    assert_non_null(strstr(a.text, "sleep apnea"));
    ans_free(&a);
}

/* ---- Providers on a real loop. ---- */

typedef struct {
    ms_buf_t text;
    int ndeltas, ndone;
    char finish[32];
    size_t cited[8], ncited;
    int64_t prompt_tokens, completion_tokens;
    int bad_delta;          /* a delta was not one word, or not valid UTF-8 */
    int cancel_after;       /* cancel from on_delta after this many deltas */
    int cancel_timer_after; /* or start a 1 ms timer that cancels */
    int cancel_twice;
    int probe_at, probe_seen; /* start probe (0 ms) at this delta; deltas it saw */
    uv_timer_t *probe;
    ms_provider_t *p;
    ms_gen_t *g;
    uv_timer_t cancel_timer;
    uv_loop_t *loop;
    int stall_at, stall_ms; /* block the loop this long inside this delta */
    uint64_t at[16];        /* uv_now() of the first 16 deltas */
} sink_t;

static int utf8_valid(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t k = s[i] < 0x80             ? 1
                   : (s[i] & 0xE0) == 0xC0 ? 2
                   : (s[i] & 0xF0) == 0xE0 ? 3
                   : (s[i] & 0xF8) == 0xF0 ? 4
                                           : 0;
        if (k == 0 || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static int is_ws(char c) {
    return c && strchr(" \n\t\r", c) != NULL;
}

static void probe_cb(uv_timer_t *t) {
    sink_t *c = t->data;
    c->probe_seen = c->ndeltas;
    uv_close((uv_handle_t *)t, NULL);
}

static void cancel_timer_cb(uv_timer_t *t) {
    sink_t *c = t->data;
    c->p->ops->cancel(c->g);
    assert_int_equal(c->ndone, 0); /* on_done comes later, from the loop */
    uv_close((uv_handle_t *)t, NULL);
}

static void on_delta(void *ctx, const char *text, size_t len) {
    sink_t *c = ctx;
    assert_int_equal(c->ndone, 0);
    c->ndeltas++;
    if (c->loop && c->ndeltas <= (int)MS_COUNTOF(c->at))
        c->at[c->ndeltas - 1] = uv_now(c->loop);
    if (c->stall_at && c->ndeltas == c->stall_at) {
        uint64_t until = uv_hrtime() + (uint64_t)c->stall_ms * 1000000;
        while (uv_hrtime() < until)
            ; /* a busy gateway: nothing else runs on the loop meanwhile */
    }
    ms_buf_append(&c->text, text, len);
    if (len == 0 || !utf8_valid((const unsigned char *)text, len))
        c->bad_delta = 1;
    size_t i = 0;
    while (i < len && is_ws(text[i]))
        i++;
    if (i == len)
        c->bad_delta = 1; /* white space only */
    for (; i < len; i++)
        if (is_ws(text[i]))
            c->bad_delta = 1; /* two words */
    if (c->cancel_after && c->ndeltas == c->cancel_after) {
        c->p->ops->cancel(c->g);
        if (c->cancel_twice)
            c->p->ops->cancel(c->g);
    }
    if (c->probe_at && c->ndeltas == c->probe_at)
        uv_timer_start(c->probe, probe_cb, 0, 0);
    if (c->cancel_timer_after && c->ndeltas == c->cancel_timer_after) {
        uv_timer_init(c->loop, &c->cancel_timer);
        c->cancel_timer.data = c;
        uv_timer_start(&c->cancel_timer, cancel_timer_cb, 1, 0);
    }
}

static void on_done(void *ctx, const ms_gen_result_t *r) {
    sink_t *c = ctx;
    c->ndone++;
    snprintf(c->finish, sizeof(c->finish), "%s", r->finish_reason);
    c->ncited = r->ncited;
    for (size_t i = 0; i < r->ncited && i < MS_COUNTOF(c->cited); i++)
        c->cited[i] = r->cited[i];
    c->prompt_tokens = r->prompt_tokens;
    c->completion_tokens = r->completion_tokens;
    /* Cancelling once done is ignored. */
    c->p->ops->cancel(c->g);
}

static const ms_gen_sink_t sink_ops = {on_delta, on_done};

/* Starts a generation and checks that start() delivered nothing itself. */
static void start(sink_t *c, ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req) {
    c->p = p;
    c->loop = loop;
    assert_int_equal(p->ops->start(p, loop, req, &sink_ops, c, &c->g), 0);
    assert_int_equal(c->ndeltas, 0);
    assert_int_equal(c->ndone, 0);
}

static void finish_loop(uv_loop_t *loop) {
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_offline_stream_matches_compose(void **state) {
    ms_kb_hit_t hits[4];
    acromegaly_hits(hits);
    ms_gen_request_t req = {
        .question = "What are the symptoms of acromegaly?", .hits = hits, .nhits = 4};
    for (int interval = 0; interval <= 1; interval++) {
        ms_offline_config_t cfg = {.word_interval_ms = interval, .max_sentences = 5};
        ans_t a = compose(&cfg, &req, 0);
        /* The answer quotes a non-ASCII passage: words must not split it. */
        assert_non_null(strstr(a.text, "\xE2\x80\x94"));

        uv_loop_t loop;
        uv_loop_init(&loop);
        ms_provider_t *p = ms_provider_offline_new(&cfg);
        assert_string_equal(p->ops->name, "offline");
        sink_t c = {0};
        start(&c, p, &loop, &req);
        finish_loop(&loop);
        assert_int_equal(c.ndone, 1);
        assert_string_equal(c.finish, "stop");
        assert_string_equal(ms_buf_cstr(&c.text), a.text);
        assert_int_equal(c.bad_delta, 0);
        assert_int_equal((size_t)c.ndeltas, ms_llm_count_words(a.text, strlen(a.text)));
        assert_int_equal(c.completion_tokens, c.ndeltas);
        assert_true(c.prompt_tokens > 100);
        assert_int_equal(c.ncited, a.ncited);
        assert_memory_equal(c.cited, a.cited, a.ncited * sizeof(*a.cited));
        ms_buf_free(&c.text);
        p->ops->free(p);
        ans_free(&a);
    }
}

static void test_offline_stream_no_context(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    ms_offline_config_t cfg = {0};
    ms_provider_t *p = ms_provider_offline_new(&cfg);
    ms_gen_request_t req = {.question = "What are the symptoms of acromegaly?"};
    sink_t c = {0};
    start(&c, p, &loop, &req);
    finish_loop(&loop);
    assert_int_equal(c.ndone, 1);
    assert_string_equal(c.finish, "no_context");
    assert_string_equal(ms_buf_cstr(&c.text), no_context_text);
    assert_int_equal(c.ncited, 0);
    ms_buf_free(&c.text);
    /* No question: refused, nothing started. */
    ms_gen_request_t noq = {.question = NULL};
    ms_gen_t *g = NULL;
    uv_loop_init(&loop);
    assert_int_equal(p->ops->start(p, &loop, &noq, &sink_ops, NULL, &g), MS_EINVAL);
    assert_null(g);
    finish_loop(&loop);
    p->ops->free(p);
}

/* Cancels from inside on_delta (twice, even), or from a timer between two
 * words; on_done "cancelled" once and the text a proper prefix. */
static void test_offline_cancel_mid_stream(void **state) {
    ms_kb_hit_t hits[4];
    acromegaly_hits(hits);
    ms_gen_request_t req = {
        .question = "What are the symptoms of acromegaly?", .hits = hits, .nhits = 4};
    for (int mode = 0; mode < 3; mode++) {
        ms_offline_config_t cfg = {.word_interval_ms = mode == 2 ? 20 : 0};
        ans_t a = compose(&cfg, &req, 0);
        uv_loop_t loop;
        uv_loop_init(&loop);
        ms_provider_t *p = ms_provider_offline_new(&cfg);
        sink_t c = {0};
        if (mode < 2) {
            c.cancel_after = 3;
            c.cancel_twice = mode == 1;
        } else {
            c.cancel_timer_after = 2;
        }
        start(&c, p, &loop, &req);
        finish_loop(&loop);
        assert_int_equal(c.ndone, 1);
        assert_string_equal(c.finish, "cancelled");
        assert_int_equal(c.ndeltas, mode < 2 ? 3 : 2);
        assert_true(c.text.len < strlen(a.text));
        assert_memory_equal(c.text.data, a.text, c.text.len);
        assert_int_equal(c.completion_tokens, c.ndeltas);
        /* No marker streamed yet, so nothing cited. */
        assert_int_equal(c.ncited, 0);
        ms_buf_free(&c.text);
        p->ops->free(p);
        ans_free(&a);
    }
}

/* Cancel while compose is still on the thread pool (before the loop even
 * ran): nothing synchronous, then "cancelled" once with no text. Also
 * free the provider before its generation ends. */
static void test_offline_cancel_before_compose(void **state) {
    ms_kb_hit_t hits[4];
    acromegaly_hits(hits);
    ms_gen_request_t req = {
        .question = "What are the symptoms of acromegaly?", .hits = hits, .nhits = 4};
    uv_loop_t loop;
    uv_loop_init(&loop);
    ms_offline_config_t cfg = {.word_interval_ms = 5};
    ms_provider_t *p = ms_provider_offline_new(&cfg);
    sink_t c[8];
    memset(c, 0, sizeof(c));
    for (size_t i = 0; i < MS_COUNTOF(c); i++) {
        start(&c[i], p, &loop, &req);
        p->ops->cancel(c[i].g);
        assert_int_equal(c[i].ndone, 0);
    }
    /* The generations copied what they need. */
    ms_provider_t shell = {.ops = p->ops}; /* on_done cancels through c->p */
    p->ops->free(p);
    for (size_t i = 0; i < MS_COUNTOF(c); i++)
        c[i].p = &shell;
    finish_loop(&loop);
    for (size_t i = 0; i < MS_COUNTOF(c); i++) {
        assert_int_equal(c[i].ndone, 1);
        assert_string_equal(c[i].finish, "cancelled");
        assert_int_equal(c[i].ndeltas, 0);
        assert_int_equal(c[i].ncited, 0);
        ms_buf_free(&c[i].text);
    }
}

static void run_synthetic(const ms_synthetic_config_t *cfg, sink_t *c) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    ms_provider_t *p = ms_provider_synthetic_new(cfg);
    assert_string_equal(p->ops->name, "synthetic");
    ms_gen_request_t req = {.question = "ping"};
    start(c, p, &loop, &req);
    finish_loop(&loop);
    p->ops->free(p);
}

/* For synthetic chunks "one word" does not apply; check sizes instead. */
static void test_synthetic_exact_bytes(void **state) {
    struct {
        ms_synthetic_config_t cfg;
        int chunks, bytes;
    } cases[] = {
        {{.chunks = 10, .chunk_bytes = 7}, 10, 7},
        {{0}, 64, 16}, /* defaults */
        {{.chunks = 5, .chunk_bytes = 40, .interval_ms = 2}, 5, 40},
        {{.chunks = 3, .chunk_bytes = 1}, 3, 1},
    };
    for (size_t i = 0; i < MS_COUNTOF(cases); i++) {
        sink_t c = {0};
        uint64_t t0 = uv_hrtime();
        run_synthetic(&cases[i].cfg, &c);
        uint64_t ms = (uv_hrtime() - t0) / 1000000;
        assert_int_equal(c.ndone, 1);
        assert_string_equal(c.finish, "stop");
        assert_int_equal(c.ndeltas, cases[i].chunks);
        assert_int_equal(c.text.len, (size_t)(cases[i].chunks * cases[i].bytes));
        assert_int_equal(c.ncited, 0);
        for (size_t j = 0; j < c.text.len; j++)
            assert_true(c.text.data[j] >= 0x20 && c.text.data[j] < 0x7f);
        assert_memory_equal(c.text.data, "lorem ipsum dolor sit amet lorem",
                            cases[i].bytes < 32 ? (size_t)cases[i].bytes : 32);
        assert_int_equal(c.completion_tokens, ms_llm_count_words(c.text.data, c.text.len));
        if (cases[i].cfg.interval_ms)
            assert_true(ms >= (uint64_t)(cases[i].chunks * cases[i].cfg.interval_ms) - 1);
        ms_buf_free(&c.text);
    }
}

/* At interval 0 the synthetic stream yields to the loop between batches: a
 * timer made due during the first batch fires long before 2000 chunks are
 * out. */
static void test_synthetic_yields(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    ms_synthetic_config_t cfg = {.chunks = 2000, .chunk_bytes = 8};
    ms_provider_t *p = ms_provider_synthetic_new(&cfg);
    uv_timer_t probe;
    sink_t c = {.probe_at = 1, .probe = &probe, .probe_seen = -1};
    uv_timer_init(&loop, &probe);
    probe.data = &c;
    ms_gen_request_t req = {.question = "ping"};
    start(&c, p, &loop, &req);
    finish_loop(&loop);
    assert_int_equal(c.ndeltas, 2000);
    assert_true(c.probe_seen >= 0 && c.probe_seen < 100);
    ms_buf_free(&c.text);
    p->ops->free(p);
}

/* Paced chunks keep to a fixed grid (start + k * interval): after the loop
 * was held up, the late chunks go out as soon as it is free and the stream
 * is back on its grid, instead of every later chunk shifting by the delay
 * (which is how thousands of paced streams end up firing in the same
 * millisecond). Never early: chunk k is never before start + k * interval. */
static void test_synthetic_grid(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    ms_synthetic_config_t cfg = {.chunks = 5, .chunk_bytes = 4, .interval_ms = 20};
    ms_provider_t *p = ms_provider_synthetic_new(&cfg);
    sink_t c = {.stall_at = 1, .stall_ms = 45};
    ms_gen_request_t req = {.question = "ping"};
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    start(&c, p, &loop, &req);
    finish_loop(&loop);
    assert_int_equal(c.ndeltas, 5);
    for (int k = 0; k < 5; k++)
        assert_true(c.at[k] >= t0 + 20 * (uint64_t)(k + 1));
    /* Chunks 2 and 3 (due at 40 and 60) were overdue once the 45 ms stall
     * ended at ~65 and both came right away, in the same loop iteration
     * (so in one write); 4 and 5 are on the grid (80, 100). Shifted by the
     * stall, the fifth would come at 125 or later. */
    assert_true(c.at[1] == c.at[2]);
    assert_true(c.at[4] - t0 < 118);
    ms_buf_free(&c.text);
    p->ops->free(p);
}

static void test_synthetic_cancel(void **state) {
    /* From inside on_delta, at interval 0 and with a pause. */
    for (int interval = 0; interval <= 2; interval += 2) {
        ms_synthetic_config_t cfg = {.chunks = 100, .chunk_bytes = 16, .interval_ms = interval};
        sink_t c = {.cancel_after = 5, .cancel_twice = 1};
        run_synthetic(&cfg, &c);
        assert_int_equal(c.ndone, 1);
        assert_string_equal(c.finish, "cancelled");
        assert_int_equal(c.ndeltas, 5);
        assert_int_equal(c.text.len, 80);
        ms_buf_free(&c.text);
    }
    /* From outside, before the first chunk. */
    for (int interval = 0; interval <= 50; interval += 50) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        ms_synthetic_config_t cfg = {.chunks = 10, .interval_ms = interval};
        ms_provider_t *p = ms_provider_synthetic_new(&cfg);
        sink_t c = {0};
        ms_gen_request_t req = {.question = "ping"};
        start(&c, p, &loop, &req);
        p->ops->cancel(c.g);
        assert_int_equal(c.ndone, 0);
        uint64_t t0 = uv_hrtime();
        finish_loop(&loop);
        assert_true((uv_hrtime() - t0) / 1000000 < 40); /* not after the 50 ms pause */
        assert_int_equal(c.ndone, 1);
        assert_string_equal(c.finish, "cancelled");
        assert_int_equal(c.ndeltas, 0);
        p->ops->free(p);
        ms_buf_free(&c.text);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_abbreviations_and_decimals),
        cmocka_unit_test(test_split_quotes_footnotes_paragraphs),
        cmocka_unit_test(test_split_bullets),
        cmocka_unit_test(test_stem_and_terms),
        cmocka_unit_test(test_compose_symptoms),
        cmocka_unit_test(test_compose_max_sentences),
        cmocka_unit_test(test_compose_follow_up),
        cmocka_unit_test(test_compose_abstains_off_topic),
        cmocka_unit_test(test_compose_gates_drug_questions),
        cmocka_unit_test(test_compose_no_dangling_references),
        cmocka_unit_test(test_compose_follow_up_three_turns),
        cmocka_unit_test(test_compose_other_focus),
        cmocka_unit_test(test_compose_other_aspect),
        cmocka_unit_test(test_compose_untitled_off_topic),
        cmocka_unit_test(test_compose_aspect_synonyms),
        cmocka_unit_test(test_compose_novelty),
        cmocka_unit_test(test_compose_no_context),
        cmocka_unit_test(test_offline_stream_matches_compose),
        cmocka_unit_test(test_offline_stream_no_context),
        cmocka_unit_test(test_offline_cancel_mid_stream),
        cmocka_unit_test(test_offline_cancel_before_compose),
        cmocka_unit_test(test_synthetic_exact_bytes),
        cmocka_unit_test(test_synthetic_yields),
        cmocka_unit_test(test_synthetic_cancel),
        cmocka_unit_test(test_synthetic_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
