/* The diagnosis workflow's stages (seed 004: symptoms_analysis 10 %,
 * vitals_evaluation 30 %, history_review 50 %, differential_diagnosis
 * 70 %, primary_diagnosis 90 %) and its result.
 *
 * The differential (docs/workflows.md "Differential"): for each symptom i
 * (weight w_i: mild 1, moderate 2, severe 3) the MedQuAD "symptoms"
 * passages whose text holds one of its search terms, each with its Okapi
 * BM25 score b(d, i) for those terms (FTS5 bm25(): rarer terms and shorter
 * passages score higher). A condition d (one MedQuAD document; of two
 * documents with the same focus the better is kept) scores
 *     S(d) = f_sex(d) * f_age(d) * sum over matched i of w_i * b(d, i)
 * where f_sex is 0 for a condition whose name is about the other sex's
 * anatomy and f_age is 0.5 for an adult when the passage says the signs
 * begin in infancy or early childhood (1 otherwise). The k best
 * (workflow_differential_k) are the differential, and each one's
 * "probability" is S(d) divided by the sum of S over those k: a relative
 * score that sums to 1 over the list shown, not a calibrated probability
 * of disease. */
#include "workflow/wf_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVIDENCE_MAX 2000 /* passages kept per symptom */
#define RESCORE_POOL 4    /* candidates re-read for age and sex, per one shown */

/* ---- history_review ------------------------------------------------------------ */

static const char *norm_sex(const char *s) {
    if (!s)
        return NULL;
    static const char *const male[] = {"m", "male", "man", "boy"};
    static const char *const female[] = {"f", "female", "woman", "girl"};
    for (size_t i = 0; i < MS_COUNTOF(male); i++)
        if (!strcasecmp(s, male[i]))
            return "male";
    for (size_t i = 0; i < MS_COUNTOF(female); i++)
        if (!strcasecmp(s, female[i]))
            return "female";
    return NULL;
}

static void history_review(ms_wf_t *wf) {
    json_t *h = json_object_get(wf->request, "history");
    json_t *out = json_object();
    double age = ms__wf_age(json_object_get(h, "age"));
    json_t *av = json_object_get(h, "age");
    if (age >= 0)
        json_object_set_new(out, "age", json_real(age));
    else if (av && !json_is_null(av))
        ms__wf_unused(wf, "history.age", av, "not a number of years from 0 to 130");
    const char *sex_in = json_string_value(json_object_get(h, "sex"));
    const char *sex = norm_sex(sex_in);
    if (sex)
        json_object_set_new(out, "sex", json_string(sex));
    else if (sex_in)
        ms__wf_unused(wf, "history.sex", json_object_get(h, "sex"),
                      "not male or female: the sex rules of the differential are not applied");
    static const char *const lists[] = {"conditions", "medications", "allergies"};
    for (size_t k = 0; k < MS_COUNTOF(lists); k++) {
        json_t *l = json_object_get(h, lists[k]);
        json_object_set_new(out, lists[k], l ? json_deep_copy(l) : json_array());
    }
    json_t *missing = json_array();
    if (age < 0)
        json_array_append_new(missing, json_string("age"));
    if (!sex)
        json_array_append_new(missing, json_string("sex"));
    json_object_set_new(out, "missing", missing);
    json_decref(wf->history);
    wf->history = out;
}

/* ---- differential_diagnosis ------------------------------------------------------ */

typedef struct {
    char *doc_id, *passage_id, *focus, *title, *url, *source, *source_type;
    double *sym; /* b(d, i) per symptom, 0 = not matched */
    double raw, score;
    double f_sex, f_age;
    char *against;
} cand_t;

static void cand_free(cand_t *c) {
    free(c->doc_id);
    free(c->passage_id);
    free(c->focus);
    free(c->title);
    free(c->url);
    free(c->source);
    free(c->source_type);
    free(c->sym);
    free(c->against);
}

/* The condition's display name: the first name of its focus. */
static char *cond_name(const char *focus, const char *title) {
    const char *f = focus && *focus ? focus : title ? title : "";
    size_t n = strcspn(f, ";");
    while (n && f[n - 1] == ' ')
        n--;
    return ms_xstrndup(f, n);
}

static cand_t *find_cand(cand_t *c, size_t n, const char *doc_id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(c[i].doc_id, doc_id))
            return &c[i];
    return NULL;
}

/* Adds symptom i's evidence to the candidates (one per document; a
 * document's best passage for the symptom counts). */
static void add_evidence(cand_t **cands, size_t *n, size_t *cap, size_t nsym, size_t i,
                         const ms_kb_hit_t *h, size_t nh) {
    for (size_t k = 0; k < nh; k++) {
        const char *doc = h[k].doc_id ? h[k].doc_id : h[k].id;
        cand_t *c = find_cand(*cands, *n, doc);
        if (!c) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 256;
                *cands = ms_xrealloc(*cands, *cap * sizeof **cands);
            }
            c = &(*cands)[(*n)++];
            memset(c, 0, sizeof *c);
            c->doc_id = ms_xstrdup(doc);
            c->passage_id = ms_xstrdup(h[k].id);
            c->focus = cond_name(h[k].focus, h[k].title);
            c->title = h[k].title ? ms_xstrdup(h[k].title) : NULL;
            c->url = h[k].url ? ms_xstrdup(h[k].url) : NULL;
            c->source = h[k].source ? ms_xstrdup(h[k].source) : NULL;
            c->source_type = h[k].source_type ? ms_xstrdup(h[k].source_type) : NULL;
            c->sym = ms_xcalloc(nsym, sizeof *c->sym);
            c->f_sex = c->f_age = 1;
        }
        if (h[k].score > c->sym[i])
            c->sym[i] = h[k].score;
    }
}

static int cmp_cand(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->doc_id, y->doc_id);
}

/* Of candidates with the same condition name (MedQuAD has "Pneumonia"
 * from several NIH sites), the best scoring is kept. */
static size_t dedupe(cand_t *c, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++)
            dup = !strcasecmp(c[j].focus, c[i].focus);
        if (dup)
            cand_free(&c[i]);
        else
            c[k++] = c[i];
    }
    return k;
}

/* The condition name is about one sex's anatomy. */
static const char *sex_of_condition(const char *focus) {
    static const char *const female[] = {"pregnan", "menstrua",  "ovar",     "uter",      "vagin",
                                         "cervix",  "endometri", "menopaus", "eclampsia", "vulv"};
    static const char *const male[] = {"prostat", "testic", "testis",
                                       "scrot",   "penile", "erectile"};
    char *f = ms__wf_norm(focus);
    const char *r = NULL;
    for (size_t i = 0; i < MS_COUNTOF(female) && !r; i++)
        if (strstr(f, female[i]))
            r = "female";
    for (size_t i = 0; i < MS_COUNTOF(male) && !r; i++)
        if (strstr(f, male[i]))
            r = "male";
    free(f);
    return r;
}

/* The passage says the signs begin in infancy or early childhood. */
static int infant_onset(const char *text) {
    static const char *const cues[] = {
        "begin in infancy", "appear in infancy", "begin in early childhood",  "apparent at birth",
        "present at birth", "in newborns",       "appear in early childhood", "during infancy"};
    for (size_t i = 0; text && i < MS_COUNTOF(cues); i++)
        if (ms__wf_has_words(text, cues[i]))
            return 1;
    return 0;
}

static void hit_clear(ms_kb_hit_t *p) {
    free(p->id);
    free(p->doc_id);
    free(p->focus);
    free(p->title);
    free(p->url);
    free(p->source);
    free(p->source_type);
    free(p->qtype);
    free(p->text);
    memset(p, 0, sizeof *p);
}

/* f_sex and f_age of one candidate, from its condition name and passage. */
static void age_sex(ms_wf_t *wf, ms_kb_t *kb, cand_t *c) {
    const char *sex = json_string_value(json_object_get(wf->history, "sex"));
    double age = ms__wf_age(json_object_get(wf->history, "age"));
    const char *cs = sex_of_condition(c->focus);
    ms_buf_t why;
    ms_buf_init(&why);
    if (sex && cs && strcmp(sex, cs) != 0) {
        c->f_sex = 0;
        ms_buf_printf(&why, "%s concerns %s anatomy; the patient is %s", c->focus, cs, sex);
    }
    ms_kb_hit_t p;
    if (age >= 18 && c->f_sex > 0 && ms_kb_evidence_passage(kb, c->passage_id, &p) == 0) {
        if (infant_onset(p.text)) {
            c->f_age = 0.5;
            ms_buf_printf(&why,
                          "%sthe passage says the signs begin in infancy or early "
                          "childhood; the patient is %g",
                          why.len ? "; " : "", age);
        }
        hit_clear(&p);
    }
    c->score = c->raw * c->f_sex * c->f_age;
    if (why.len)
        c->against = ms_buf_take(&why);
    else
        ms_buf_free(&why);
}

/* The citation of a candidate: the sentences of its symptoms passage that
 * name the matched symptoms. */
static json_t *cand_citation(ms_wf_t *wf, ms_kb_t *kb, const cand_t *c) {
    ms_kb_hit_t p;
    char *quote = NULL;
    if (ms_kb_evidence_passage(kb, c->passage_id, &p) == 0) {
        const char *needles[64];
        size_t nn = 0;
        size_t i;
        json_t *s;
        json_array_foreach(wf->symptoms, i, s) {
            if (!c->sym[i])
                continue;
            size_t k;
            json_t *t;
            json_array_foreach(json_object_get(s, "search_terms"), k, t) {
                if (nn < MS_COUNTOF(needles))
                    needles[nn++] = json_string_value(t);
            }
        }
        quote = ms__wf_sentences_with(p.text, needles, nn, 3);
        if (!quote)
            quote = ms__wf_excerpt(p.text, 300);
        hit_clear(&p);
    }
    json_t *cit = ms__wf_citation(c->passage_id, c->source_type ? c->source_type : "medquad",
                                  c->focus, c->url, c->source, quote ? quote : "", "Symptoms");
    free(quote);
    return json_incref(ms__wf_cite(wf, cit));
}

static json_t *cand_item(ms_wf_t *wf, ms_kb_t *kb, const cand_t *c, double total, size_t rank) {
    json_t *matched = json_array(), *unmatched = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(wf->symptoms, i, s) {
        json_array_append(c->sym[i] ? matched : unmatched, json_object_get(s, "name"));
    }
    double p = total > 0 ? c->score / total : 0;
    json_t *item = json_pack(
        "{s:s, s:f, s:i, s:o, s:o, s:f, s:[o], s:s, s:s?, s:s?}", "diagnosis", c->focus,
        "probability", round(p * 1000.0) / 1000.0, "rank", (int)rank, "matched_symptoms", matched,
        "unmatched_symptoms", unmatched, "score", round(c->score * 1000.0) / 1000.0, "citations",
        cand_citation(wf, kb, c), "document_id", c->doc_id, "source", c->source, "url", c->url);
    if (c->against)
        json_object_set_new(item, "against", json_string(c->against));
    return item;
}

/* Finds every symptom's evidence; *n candidates, or MS_EIO. */
static int gather(ms_wf_t *wf, ms_kb_t *kb, cand_t **out, size_t *n) {
    size_t nsym = json_array_size(wf->symptoms), cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < nsym; i++) {
        json_t *s = json_array_get(wf->symptoms, i);
        json_t *terms = json_object_get(s, "search_terms");
        const char *alts[8];
        size_t na = 0;
        for (size_t k = 0; k < json_array_size(terms) && na < MS_COUNTOF(alts); k++)
            alts[na++] = json_string_value(json_array_get(terms, k));
        ms_kb_hit_t *h = NULL;
        size_t nh = 0;
        int rc = ms_kb_evidence_search(kb, alts, na, "symptoms", EVIDENCE_MAX, &h, &nh);
        if (rc) {
            ms_kb_hits_free(h, nh);
            return MS_EIO;
        }
        json_object_set_new(s, "passages", json_integer((json_int_t)nh));
        if (!nh) {
            char field[48];
            snprintf(field, sizeof field, "symptoms[%zu]", i);
            ms__wf_unused(wf, field, json_object_get(s, "input"),
                          "no MedQuAD symptoms passage mentions it%s: not used in the "
                          "differential",
                          json_is_true(json_object_get(s, "known")) ? ""
                                                                    : " (nor is it in the "
                                                                      "synonym table)");
        }
        add_evidence(out, n, &cap, nsym, i, h, nh);
        ms_kb_hits_free(h, nh);
    }
    for (size_t k = 0; k < *n; k++) {
        cand_t *c = &(*out)[k];
        c->raw = 0;
        for (size_t i = 0; i < nsym; i++)
            c->raw += c->sym[i] *
                      json_number_value(json_object_get(json_array_get(wf->symptoms, i), "weight"));
        c->score = c->raw;
    }
    return 0;
}

static int differential(ms_wf_t *wf, ms_kb_t *kb, json_t *items) {
    cand_t *c = NULL;
    size_t n = 0;
    if (!json_array_size(wf->symptoms)) {
        json_array_append_new(wf->notes,
                              json_string("no symptoms were given: no differential diagnosis"));
        return 0;
    }
    int rc = gather(wf, kb, &c, &n);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            cand_free(&c[i]);
        free(c);
        return rc;
    }
    /* qsort's pointer must not be NULL even for no elements (C11 7.22.5):
     * no symptom matched any passage leaves c NULL (and n 0). */
    if (!c)
        n = 0;
    if (n > 1)
        qsort(c, n, sizeof *c, cmp_cand);
    n = dedupe(c, n);
    /* Age and sex can only lower a score: re-reading the best few is
     * enough to fill the list. */
    size_t pool = wf->lim.differential_k * RESCORE_POOL;
    for (size_t i = 0; c && i < n && i < pool; i++)
        age_sex(wf, kb, &c[i]);
    size_t keep = n < pool ? n : pool;
    if (keep > 1)
        qsort(c, keep, sizeof *c, cmp_cand);
    size_t k = 0;
    while (k < keep && k < wf->lim.differential_k && c[k].score > 0)
        k++;
    double total = 0;
    for (size_t i = 0; i < k; i++)
        total += c[i].score;
    for (size_t i = 0; i < k; i++) {
        json_t *item = cand_item(wf, kb, &c[i], total, i + 1);
        json_array_append(wf->differential, item);
        json_array_append_new(items, item);
    }
    for (size_t i = 0; i < keep; i++) {
        if (c[i].f_sex == 0)
            json_array_append_new(wf->notes, json_sprintf("%s was left out of the differential: %s",
                                                          c[i].focus, c[i].against));
    }
    if (!n)
        json_array_append_new(
            wf->notes,
            json_string("no MedQuAD symptoms passage mentions these symptoms: the knowledge base "
                        "may not hold MedQuAD (medstream kb import --format medquad "
                        "medquad-xml.tar.gz)"));
    for (size_t i = 0; i < n; i++)
        cand_free(&c[i]);
    free(c);
    return 0;
}

/* ---- primary_diagnosis ------------------------------------------------------------- */

static const char *const urgency_levels[] = {"low", "moderate", "high", "emergency"};

static int urgency_rank(const char *u) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(u, urgency_levels[i]))
            return i;
    return 0;
}

/* NEWS2's urgency, raised by red-flag symptoms: at least "high", and
 * "emergency" when the symptom is severe (docs/workflows.md "Urgency"). */
static const char *urgency(ms_wf_t *wf, json_t *basis) {
    int u = 0;
    if (wf->news2_scored && wf->news2.npresent) {
        u = urgency_rank(ms_news2_urgency(&wf->news2));
        json_array_append_new(
            basis, json_sprintf("NEWS2 aggregate %d over %d of 7 parameters%s: %s",
                                wf->news2.aggregate, wf->news2.npresent,
                                wf->news2.red ? " (a parameter scored 3)" : "", urgency_levels[u]));
    } else {
        json_array_append_new(basis, json_string("no vital signs: NEWS2 not scored"));
    }
    size_t i;
    json_t *s;
    json_array_foreach(wf->symptoms, i, s) {
        if (!json_is_true(json_object_get(s, "red_flag")))
            continue;
        int severe = json_number_value(json_object_get(s, "weight")) >= 3;
        int r = severe ? 3 : 2;
        json_array_append_new(basis,
                              json_sprintf("red flag: %s%s (NHS, When to call 999): at least %s",
                                           json_string_value(json_object_get(s, "name")),
                                           severe ? ", severe" : "", urgency_levels[r]));
        if (r > u)
            u = r;
    }
    return urgency_levels[u];
}

/* The condition's "exams and tests" passages: of its own document, else of
 * a document with the same name. */
static json_t *tests_for(ms_wf_t *wf, ms_kb_t *kb, const char *doc_id, const char *name) {
    json_t *tests = json_array();
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    ms_kb_evidence_doc(kb, doc_id, "exams and tests", &h, &n);
    if (!n) {
        char **ids = NULL;
        size_t nid = 0;
        ms_kb_evidence_named(kb, name, "exams and tests", &ids, &nid);
        for (size_t i = 0; i < nid && !n; i++)
            ms_kb_evidence_doc(kb, ids[i], "exams and tests", &h, &n);
        for (size_t i = 0; i < nid; i++)
            free(ids[i]);
        free(ids);
    }
    for (size_t i = 0; i < n && i < 2; i++) {
        char *q = ms__wf_excerpt(h[i].text, 600);
        json_t *c = ms__wf_citation(h[i].id, h[i].source_type, name, h[i].url, h[i].source, q,
                                    "Exams and tests");
        json_t *cit = ms__wf_cite(wf, c);
        json_array_append_new(
            tests, json_pack("{s:s, s:s, s:[O]}", "condition", name, "text", q, "citations", cit));
        free(q);
    }
    if (!n)
        json_array_append_new(wf->notes,
                              json_sprintf("the knowledge base holds no \"exams and tests\" "
                                           "passage for %s: no tests are recommended from it",
                                           name));
    ms_kb_hits_free(h, n);
    return tests;
}

static json_t *reasoning(ms_wf_t *wf, json_t *top) {
    json_t *sup = json_array(), *against = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(top, "matched_symptoms"), i, m) {
        json_array_append_new(sup, json_sprintf("%s is named in the condition's MedQuAD "
                                                "symptoms passage",
                                                json_string_value(m)));
    }
    json_array_foreach(json_object_get(wf->vitals, "flags"), i, m) {
        json_array_append_new(sup, json_sprintf("finding: %s (%s; %s)",
                                                json_string_value(json_object_get(m, "finding")),
                                                json_string_value(json_object_get(m, "rule")),
                                                json_string_value(json_object_get(m, "source"))));
    }
    json_array_foreach(json_object_get(top, "unmatched_symptoms"), i, m) {
        json_array_append_new(against, json_sprintf("%s is not named in the condition's MedQuAD "
                                                    "symptoms passage",
                                                    json_string_value(m)));
    }
    const char *ag = json_string_value(json_object_get(top, "against"));
    if (ag)
        json_array_append_new(against, json_string(ag));
    json_t *next = json_array_get(wf->differential, 1);
    if (next) {
        double d = json_number_value(json_object_get(top, "probability")) -
                   json_number_value(json_object_get(next, "probability"));
        if (d < 0.05)
            json_array_append_new(
                against, json_sprintf("%s scores almost as high (relative score %.3f against "
                                      "%.3f): the evidence does not separate them",
                                      json_string_value(json_object_get(next, "diagnosis")),
                                      json_number_value(json_object_get(next, "probability")),
                                      json_number_value(json_object_get(top, "probability"))));
    }
    return json_pack("{s:o, s:o}", "supporting", sup, "against", against);
}

static int primary(ms_wf_t *wf, ms_kb_t *kb, json_t *items) {
    json_t *basis = json_array();
    const char *u = urgency(wf, basis);
    json_t *top = json_array_get(wf->differential, 0);
    json_t *p = json_pack("{s:s, s:o}", "urgency", u, "urgency_basis", basis);
    if (top) {
        const char *name = json_string_value(json_object_get(top, "diagnosis"));
        json_object_set(p, "diagnosis", json_object_get(top, "diagnosis"));
        json_object_set(p, "probability", json_object_get(top, "probability"));
        json_object_set(p, "confidence", json_object_get(top, "probability"));
        json_object_set_new(p, "reasoning", reasoning(wf, top));
        json_object_set_new(
            p, "recommended_tests",
            tests_for(wf, kb, json_string_value(json_object_get(top, "document_id")), name));
        json_object_set(p, "citations", json_object_get(top, "citations"));
    } else {
        json_object_set_new(p, "diagnosis", json_null());
        json_object_set_new(p, "probability", json_real(0));
        json_object_set_new(p, "confidence", json_real(0));
        json_object_set_new(p, "reasoning",
                            json_pack("{s:[], s:[s]}", "supporting", "against",
                                      "no candidate condition matched the "
                                      "symptoms"));
        json_object_set_new(p, "recommended_tests", json_array());
        json_object_set_new(p, "citations", json_array());
    }
    json_object_set_new(p, "primary", json_true());
    json_decref(wf->primary);
    wf->primary = p;
    json_array_append(items, p);
    return 0;
}

int ms__wf_dx_stage(ms_wf_t *wf, size_t i, ms_kb_t *kb, json_t *items) {
    switch (i) {
    case 0:
        ms__wf_symptoms(wf);
        return 0;
    case 1:
        ms__wf_vitals(wf);
        return 0;
    case 2:
        history_review(wf);
        return 0;
    case 3:
        return kb ? differential(wf, kb, items) : MS_EIO;
    case 4:
        return kb ? primary(wf, kb, items) : MS_EIO;
    }
    return MS_EINVAL;
}

static json_t *or_empty(json_t *v, int array) {
    return v ? json_incref(v) : array ? json_array() : json_object();
}

json_t *ms__wf_dx_result(ms_wf_t *wf) {
    json_t *p = wf->primary;
    json_t *r = json_object();
    json_object_set(r, "primary_diagnosis", p ? json_object_get(p, "diagnosis") : json_null());
    json_object_set_new(r, "confidence",
                        json_real(p ? json_number_value(json_object_get(p, "confidence")) : 0));
    json_object_set_new(
        r, "urgency",
        json_string(p ? json_string_value(json_object_get(p, "urgency")) : "not assessed"));
    json_object_set_new(r, "urgency_basis",
                        or_empty(p ? json_object_get(p, "urgency_basis") : NULL, 1));
    json_object_set_new(r, "reasoning", or_empty(p ? json_object_get(p, "reasoning") : NULL, 0));
    json_object_set_new(r, "differential", or_empty(wf->differential, 1));
    json_object_set_new(r, "news2", ms__wf_news2_json(wf));
    json_object_set_new(r, "recommended_tests",
                        or_empty(p ? json_object_get(p, "recommended_tests") : NULL, 1));
    json_object_set_new(r, "red_flags", or_empty(wf->red_flags, 1));
    json_object_set_new(r, "symptoms", or_empty(wf->symptoms, 1));
    json_object_set_new(r, "vitals", or_empty(wf->vitals, 0));
    json_object_set_new(r, "history", or_empty(wf->history, 0));
    json_object_set_new(
        r, "probability_method",
        json_string("relative score: each candidate's score (the severity-weighted sum of the "
                    "BM25 scores of its MedQuAD symptoms passage for the patient's symptoms, "
                    "times the age and sex factors) divided by the sum over the candidates "
                    "listed; it sums to 1 over this list and is not a calibrated probability"));
    return r;
}
