/* The workflows (src/workflow), each stage on its own, with worked cases
 * written by hand from the sources: NEWS2 from the RCP 2017 chart (Chart 1
 * and Chart 2), the symptom synonym table, request bounds and plausibility,
 * and, with ../shared/data/drugs imported (skipped when absent), the
 * allergy classes (DrugCentral), NDF-RT interactions and openFDA labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/ms.h"
#include "kb/kb.h"
#include "workflow/wf_internal.h"
#include "workflow/workflow.h"

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- NEWS2 ------------------------------------------------------------------ */

typedef struct {
    double rr, spo2;
    int oxygen; /* 1 supplemental oxygen, 0 air */
    double sbp, pulse;
    int alert; /* 1 alert, 0 new confusion / V / P / U */
    double temp;
    int scale;
    int want[MS_NEWS2_NPARAMS];
    int aggregate;
    const char *urgency, *risk;
} news2_case_t;

static ms_news2_t score_full(const news2_case_t *c) {
    ms_news2_input_t in = {0};
    double v[MS_NEWS2_NPARAMS] = {c->rr, c->spo2, c->oxygen, c->sbp, c->pulse, c->alert, c->temp};
    for (int p = 0; p < MS_NEWS2_NPARAMS; p++) {
        in.have[p] = 1;
        in.value[p] = v[p];
    }
    in.spo2_scale = c->scale ? c->scale : 1;
    ms_news2_t s;
    ms_news2_score(&in, &s);
    return s;
}

/* Every row read off RCP 2017 Chart 1 cell by cell (order: respiration,
 * SpO2, air/oxygen, systolic, pulse, consciousness, temperature) and its
 * aggregate against Chart 2. */
static void test_news2_chart(void **state) {
    (void)state;
    static const news2_case_t cases[] = {
        /* A well adult: every parameter in its 0 band. */
        {16, 97, 0, 120, 70, 1, 37.0, 1, {0, 0, 0, 0, 0, 0, 0}, 0, "low", "low"},
        /* Lower edges of the 0 bands: 12/min, 96 %, 111 mmHg, 51/min, 36.1. */
        {12, 96, 0, 111, 51, 1, 36.1, 1, {0, 0, 0, 0, 0, 0, 0}, 0, "low", "low"},
        /* Upper edges of the 0 bands: 20/min, 219 mmHg, 90/min, 38.0. */
        {20, 100, 0, 219, 90, 1, 38.0, 1, {0, 0, 0, 0, 0, 0, 0}, 0, "low", "low"},
        /* 22/min 2, 95 % 1, 105 mmHg 1, 95/min 1, 38.5 1: aggregate 6, medium. */
        {22, 95, 0, 105, 95, 1, 38.5, 1, {2, 1, 0, 1, 1, 0, 1}, 6, "high", "medium"},
        /* The worst cell of every parameter: 26, 90 %, oxygen, 88, 135, V, 34.8. */
        {26, 90, 1, 88, 135, 0, 34.8, 1, {3, 3, 2, 3, 3, 3, 3}, 20, "emergency", "high"},
        /* New confusion alone: a red score at aggregate 3 (low-medium). */
        {18, 96, 0, 125, 80, 0, 37.0, 1, {0, 0, 0, 0, 0, 3, 0}, 3, "moderate", "low-medium"},
        /* 10/min 1, 93 % 2, 220 mmHg 3, 45/min 1, 35.5 1: aggregate 8. */
        {10, 93, 0, 220, 45, 1, 35.5, 1, {1, 2, 0, 3, 1, 0, 1}, 8, "emergency", "high"},
        /* 94 % 1 on oxygen 2: aggregate 3, no red score. */
        {12, 94, 1, 111, 51, 1, 36.1, 1, {0, 1, 2, 0, 0, 0, 0}, 3, "low", "low"},
        /* 92 % 2, 101 mmHg 1, 110/min 1, 39.1 2: aggregate 6. */
        {20, 92, 0, 101, 110, 1, 39.1, 1, {0, 2, 0, 1, 1, 0, 2}, 6, "high", "medium"},
        /* 24/min 2, 91 % 3, 100 mmHg 2, 111/min 2, 38.0 0: aggregate 9. */
        {24, 91, 0, 100, 111, 1, 38.0, 1, {2, 3, 0, 2, 2, 0, 0}, 9, "emergency", "high"},
        /* Band edges: 8/min 3, 40/min 3, 90 mmHg 3, 35.0 3. */
        {8, 96, 0, 90, 40, 1, 35.0, 1, {3, 0, 0, 3, 3, 0, 3}, 12, "emergency", "high"},
        /* The next cells: 9/min 1, 41/min 1, 91 mmHg 2, 35.1 1, 130/min is 2. */
        {9, 96, 0, 91, 41, 1, 35.1, 1, {1, 0, 0, 2, 1, 0, 1}, 5, "high", "medium"},
        /* 21/min 2, 25/min would be 3; 131/min 3: a red score at aggregate 5. */
        {21, 96, 0, 120, 131, 1, 39.0, 1, {2, 0, 0, 0, 3, 0, 1}, 6, "high", "medium"},
        /* Aggregate 4 from four 1s: still low. */
        {11, 95, 0, 110, 50, 1, 37.0, 1, {1, 1, 0, 1, 1, 0, 0}, 4, "low", "low"},
        /* SpO2 scale 2 (target 88-92 %): 86 % on air 1. */
        {16, 86, 0, 120, 70, 1, 37.0, 2, {0, 1, 0, 0, 0, 0, 0}, 1, "low", "low"},
        /* Scale 2: 97 % on air 0; on scale 1 the same would also be 0. */
        {16, 97, 0, 120, 70, 1, 37.0, 2, {0, 0, 0, 0, 0, 0, 0}, 0, "low", "low"},
        /* Scale 2: 95 % on oxygen 2, plus oxygen 2. */
        {16, 95, 1, 120, 70, 1, 37.0, 2, {0, 2, 2, 0, 0, 0, 0}, 4, "low", "low"},
        /* Scale 2: 97 % on oxygen 3 (a red score), 83 % would be 3 too. */
        {16, 97, 1, 120, 70, 1, 37.0, 2, {0, 3, 2, 0, 0, 0, 0}, 5, "high", "medium"},
        /* Scale 2: 83 % 3 on air. */
        {16, 83, 0, 120, 70, 1, 37.0, 2, {0, 3, 0, 0, 0, 0, 0}, 3, "moderate", "low-medium"},
    };
    for (size_t i = 0; i < MS_COUNTOF(cases); i++) {
        ms_news2_t s = score_full(&cases[i]);
        for (int p = 0; p < MS_NEWS2_NPARAMS; p++) {
            if (s.score[p] != cases[i].want[p])
                fprintf(stderr, "case %zu, %s: got %d, want %d\n", i,
                        ms_news2_param_name((ms_news2_param_t)p), s.score[p], cases[i].want[p]);
            assert_int_equal(s.score[p], cases[i].want[p]);
        }
        assert_int_equal(s.aggregate, cases[i].aggregate);
        assert_int_equal(s.npresent, MS_NEWS2_NPARAMS);
        assert_string_equal(ms_news2_urgency(&s), cases[i].urgency);
        assert_string_equal(ms_news2_risk(&s), cases[i].risk);
    }
}

/* Only what is present is scored; the rest are -1 and not counted. */
static void test_news2_partial(void **state) {
    (void)state;
    ms_news2_input_t in = {0};
    in.have[MS_NEWS2_PULSE] = 1;
    in.value[MS_NEWS2_PULSE] = 120; /* 111-130: 2 */
    in.have[MS_NEWS2_TEMPERATURE] = 1;
    in.value[MS_NEWS2_TEMPERATURE] = 38.2; /* 38.1-39.0: 1 */
    in.spo2_scale = 1;
    ms_news2_t s;
    ms_news2_score(&in, &s);
    assert_int_equal(s.aggregate, 3);
    assert_int_equal(s.npresent, 2);
    assert_int_equal(s.score[MS_NEWS2_RESP_RATE], -1);
    assert_int_equal(s.score[MS_NEWS2_SPO2], -1);
    assert_false(s.red);
    /* Scale 2 from 93 % needs to know air or oxygen: not scored without. */
    ms_news2_input_t in2 = {0};
    in2.have[MS_NEWS2_SPO2] = 1;
    in2.value[MS_NEWS2_SPO2] = 95;
    in2.spo2_scale = 2;
    ms_news2_score(&in2, &s);
    assert_int_equal(s.score[MS_NEWS2_SPO2], -1);
    assert_int_equal(s.npresent, 0);
}

/* Chart 2's triggers as the workflow's urgency: 0-4 low, a single 3 at
 * 0-4 moderate, 5-6 high, 7 or more emergency. */
static void test_urgency_thresholds(void **state) {
    (void)state;
    struct {
        int aggregate, red;
        const char *urgency;
    } t[] = {{0, 0, "low"},  {4, 0, "low"},  {3, 1, "moderate"},  {4, 1, "moderate"},
             {5, 0, "high"}, {6, 1, "high"}, {7, 0, "emergency"}, {15, 1, "emergency"}};
    for (size_t i = 0; i < MS_COUNTOF(t); i++) {
        ms_news2_t s = {.aggregate = t[i].aggregate, .red = t[i].red, .npresent = 7};
        assert_string_equal(ms_news2_urgency(&s), t[i].urgency);
    }
}

/* ---- requests, symptoms, vitals (no knowledge base needed) ------------------ */

static ms_wf_t *new_wf(ms_wf_kind_t kind, const char *data_json) {
    json_error_t je;
    json_t *data = json_loads(data_json, 0, &je);
    assert_non_null(data);
    ms_wf_limits_t lim;
    ms_wf_limits_default(&lim);
    ms_wf_t *wf = NULL;
    char err[256] = "";
    int rc = ms_wf_new(kind, data, &lim, &wf, err, sizeof err);
    json_decref(data);
    if (rc)
        fprintf(stderr, "ms_wf_new: %s\n", err);
    assert_int_equal(rc, 0);
    return wf;
}

static void test_symptom_synonyms(void **state) {
    (void)state;
    struct {
        const char *written, *canonical;
    } t[] = {{"high temperature", "fever"},       {"pyrexia", "fever"},
             {"dyspnoea", "shortness of breath"}, {"breathlessness", "shortness of breath"},
             {"stomach ache", "abdominal pain"},  {"myalgia", "muscle aches"},
             {"rhinorrhea", "runny nose"},        {"slurred speech", "difficulty speaking"}};
    for (size_t i = 0; i < MS_COUNTOF(t); i++) {
        const char *const *ph;
        size_t n;
        int red;
        const char *c = ms__wf_symptom_lookup(t[i].written, &ph, &n, &red);
        assert_non_null(c);
        assert_string_equal(c, t[i].canonical);
        assert_true(n >= 1);
    }
    const char *const *ph;
    size_t n;
    int red;
    assert_null(ms__wf_symptom_lookup("glowing ears", &ph, &n, &red));

    /* Through the stage: case and blanks do not matter, severity and
     * duration are kept, an unknown symptom is said to be unknown. */
    ms_wf_t *wf = new_wf(MS_WF_DIAGNOSIS,
                         "{\"symptoms\":[{\"name\":\"  High   Temperature \",\"severity\":"
                         "\"severe\",\"duration\":\"3 days\"},{\"name\":\"glowing ears\"}]}");
    json_t *items = json_array();
    assert_int_equal(ms_wf_run_stage(wf, 0, NULL, items), 0);
    json_t *first = json_array_get(wf->symptoms, 0);
    assert_non_null(first);
    char *dump = json_dumps(wf->symptoms, 0);
    assert_non_null(strstr(dump, "\"fever\""));
    assert_non_null(strstr(dump, "\"severe\""));
    assert_non_null(strstr(dump, "\"3 days\""));
    free(dump);
    /* Not in the table: searched as written, and marked as not known. */
    json_t *second = json_array_get(wf->symptoms, 1);
    assert_string_equal(json_string_value(json_object_get(second, "name")), "glowing ears");
    assert_true(json_is_false(json_object_get(second, "known")));
    assert_true(json_is_true(json_object_get(first, "known")));
    json_decref(items);
    ms_wf_free(wf);
}

/* Chest pain is a red flag at any severity (NHS "When to call 999"). */
static void test_red_flag_raises_urgency(void **state) {
    (void)state;
    const char *const *ph;
    size_t n;
    int red = 0;
    assert_non_null(ms__wf_symptom_lookup("chest pain", &ph, &n, &red));
    assert_true(red);
    red = 0;
    assert_non_null(ms__wf_symptom_lookup("cough", &ph, &n, &red));
    assert_false(red);
}

/* The seed's vitals: 38.5 °C scores 1, 95/min 1, 130/80 systolic 0; the
 * rest are reported missing; ACC/AHA 2017 puts 130/80 in stage 1. */
static void test_vitals_seed_example(void **state) {
    (void)state;
    ms_wf_t *wf =
        new_wf(MS_WF_DIAGNOSIS, "{\"symptoms\":[{\"name\":\"fever\",\"severity\":\"moderate\"}],"
                                "\"vitals\":{\"temperature\":38.5,\"heart_rate\":95,"
                                "\"blood_pressure\":\"130/80\"}}");
    json_t *items = json_array();
    assert_int_equal(ms_wf_run_stage(wf, 0, NULL, items), 0);
    assert_int_equal(ms_wf_run_stage(wf, 1, NULL, items), 0);
    assert_int_equal(wf->news2.aggregate, 2);
    assert_int_equal(wf->news2.npresent, 3);
    assert_int_equal(wf->news2.score[MS_NEWS2_TEMPERATURE], 1);
    assert_int_equal(wf->news2.score[MS_NEWS2_PULSE], 1);
    assert_int_equal(wf->news2.score[MS_NEWS2_SYSTOLIC_BP], 0);
    json_t *n2 = ms__wf_news2_json(wf);
    char *dump = json_dumps(n2, 0);
    assert_non_null(strstr(dump, "respiration_rate"));
    free(dump);
    json_decref(n2);
    dump = json_dumps(wf->vitals, 0);
    assert_non_null(strstr(dump, "ACC/AHA"));
    assert_non_null(strstr(dump, "fever"));
    free(dump);
    json_decref(items);
    ms_wf_free(wf);
}

/* 60 °C and a heart rate of -5 are not scored: the result says why. */
static void test_vitals_absurd_values(void **state) {
    (void)state;
    ms_wf_t *wf = new_wf(MS_WF_DIAGNOSIS, "{\"symptoms\":[{\"name\":\"fever\"}],"
                                          "\"vitals\":{\"temperature\":60,\"heart_rate\":-5}}");
    json_t *items = json_array();
    assert_int_equal(ms_wf_run_stage(wf, 0, NULL, items), 0);
    assert_int_equal(ms_wf_run_stage(wf, 1, NULL, items), 0);
    assert_int_equal(wf->news2.npresent, 0);
    assert_int_equal(wf->news2.score[MS_NEWS2_TEMPERATURE], -1);
    assert_int_equal(wf->news2.score[MS_NEWS2_PULSE], -1);
    char *dump = json_dumps(wf->unused, 0);
    assert_non_null(strstr(dump, "vitals.temperature"));
    assert_non_null(strstr(dump, "vitals.heart_rate"));
    free(dump);
    json_decref(items);
    ms_wf_free(wf);
}

/* A 10,000-item symptom list is refused with the limit named. */
static void test_request_limits(void **state) {
    (void)state;
    json_t *data = json_object();
    json_t *list = json_array();
    for (int i = 0; i < 10000; i++)
        json_array_append_new(list, json_pack("{s:s}", "name", "cough"));
    json_object_set_new(data, "symptoms", list);
    ms_wf_limits_t lim;
    ms_wf_limits_default(&lim);
    ms_wf_t *wf = NULL;
    char err[256] = "";
    assert_int_equal(ms_wf_new(MS_WF_DIAGNOSIS, data, &lim, &wf, err, sizeof err), MS_ETOOBIG);
    assert_null(wf);
    assert_non_null(strstr(err, "data.symptoms"));
    assert_non_null(strstr(err, "30"));
    json_decref(data);

    /* Shape errors: a list that is not a list, a symptom without a name. */
    data = json_loads("{\"symptoms\":\"fever\"}", 0, NULL);
    int rc = ms_wf_new(MS_WF_DIAGNOSIS, data, &lim, &wf, err, sizeof err);
    json_decref(data);
    if (rc == 0) { /* a single string may be read as a one-item list */
        ms_wf_free(wf);
        wf = NULL;
    } else {
        assert_int_equal(rc, MS_EINVAL);
    }
    data = json_loads("{\"symptoms\":[{\"severity\":\"mild\"}]}", 0, NULL);
    assert_int_equal(ms_wf_new(MS_WF_DIAGNOSIS, data, &lim, &wf, err, sizeof err), MS_EINVAL);
    assert_non_null(strstr(err, "name"));
    json_decref(data);
    data = json_loads("{\"diagnosis\":42}", 0, NULL);
    assert_int_equal(ms_wf_new(MS_WF_PRESCRIPTION, data, &lim, &wf, err, sizeof err), MS_EINVAL);
    assert_non_null(strstr(err, "data.diagnosis"));
    json_decref(data);
}

/* Every result carries the disclaimer and its status. */
static void test_result_disclaimer(void **state) {
    (void)state;
    ms_wf_t *wf = new_wf(MS_WF_DIAGNOSIS, "{\"symptoms\":[{\"name\":\"cough\"}]}");
    json_t *items = json_array();
    assert_int_equal(ms_wf_run_stage(wf, 0, NULL, items), 0);
    json_t *r = ms_wf_result(wf, "For clinician review only.", "cancelled");
    assert_string_equal(json_string_value(json_object_get(r, "disclaimer")),
                        "For clinician review only.");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "cancelled");
    assert_int_equal(json_integer_value(json_object_get(r, "stages_completed")), 1);
    char *text = ms_wf_result_text(MS_WF_DIAGNOSIS, r, "For clinician review only.");
    assert_non_null(strstr(text, "For clinician review only."));
    assert_non_null(strstr(text, "ended early"));
    free(text);
    json_decref(r);
    json_decref(items);
    ms_wf_free(wf);
}

/* ---- with the drug knowledge of ../shared/data/drugs ------------------------- */

typedef struct {
    char dir[64];
    ms_kb_t *kb;
} kb_fx_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int drugs_setup(void **state) {
    const char *data = getenv("MS_SHARED_DATA");
    char path[512];
    snprintf(path, sizeof path, "%s/drugs/drugcentral-pharm-class.tsv", data ? data : "");
    if (!data || access(path, R_OK) != 0) {
        *state = NULL;
        return 0;
    }
    kb_fx_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ms-test-wf-XXXXXX");
    if (!mkdtemp(fx->dir) || ms_kb_open(fx->dir, &fx->kb) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/drugs", data);
    const char *paths[] = {path};
    ms_kb_import_stats_t st;
    if (ms_kb_import_files(fx->kb, MS_KB_DRUGS, paths, 1, NULL, NULL, &st) != 0) {
        fprintf(stderr, "drug import failed: %s\n", ms_kb_errmsg());
        return -1;
    }
    *state = fx;
    return 0;
}

static int drugs_teardown(void **state) {
    kb_fx_t *fx = *state;
    if (!fx)
        return 0;
    ms_kb_close(fx->kb);
    nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

#define NEED_DRUGS(fx)                                                                             \
    do {                                                                                           \
        if (!(fx)) {                                                                               \
            fprintf(stderr, "skipping: ../shared/data/drugs not found (set MS_SHARED_DATA)\n");    \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Runs every stage of a prescription request; returns the result. */
static json_t *run_rx(ms_kb_t *kb, const char *data_json) {
    ms_wf_t *wf = new_wf(MS_WF_PRESCRIPTION, data_json);
    size_t n;
    ms_wf_stages(MS_WF_PRESCRIPTION, &n);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ms_wf_run_stage(wf, i, kb, items), 0);
    json_t *r = ms_wf_result(wf, "For clinician review.", "complete");
    json_decref(items);
    ms_wf_free(wf);
    return r;
}

static int names_in(const json_t *list, const char *key, const char *name) {
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *s = json_string_value(json_object_get(e, key));
        if (s && strcasestr(s, name))
            return 1;
    }
    return 0;
}

/* A penicillin-allergic patient (by word, and by Synthea's SNOMED CT code
 * 91936005) never gets a penicillin-class drug: amoxicillin and ampicillin
 * are excluded with the reason, azithromycin stays. */
static void test_penicillin_allergy_excludes(void **state) {
    kb_fx_t *fx = *state;
    NEED_DRUGS(fx);
    static const char *const allergies[] = {
        "[\"penicillin\"]",
        "[{\"code\":\"91936005\",\"display\":\"Allergy to penicillin\"}]",
    };
    for (size_t k = 0; k < MS_COUNTOF(allergies); k++) {
        char req[512];
        snprintf(req, sizeof req,
                 "{\"diagnosis\":\"Community-acquired pneumonia\",\"patient_info\":{\"age\":45},"
                 "\"allergies\":%s,\"medications\":[\"amoxicillin\",\"ampicillin\","
                 "\"azithromycin\"]}",
                 allergies[k]);
        json_t *r = run_rx(fx->kb, req);
        json_t *meds = json_object_get(r, "medications");
        json_t *excl = json_object_get(r, "excluded");
        assert_false(names_in(meds, "medication", "amoxicillin"));
        assert_false(names_in(meds, "medication", "ampicillin"));
        assert_true(names_in(excl, "medication", "amoxicillin"));
        assert_true(names_in(excl, "medication", "ampicillin"));
        assert_true(names_in(meds, "medication", "azithromycin"));
        char *dump = json_dumps(excl, 0);
        assert_non_null(strcasestr(dump, "penicillin"));
        free(dump);
        assert_non_null(json_object_get(r, "disclaimer"));
        json_decref(r);
    }
}

/* An allergy with no drug class on file is "not checked", never passed. */
static void test_unmapped_allergy_not_checked(void **state) {
    kb_fx_t *fx = *state;
    NEED_DRUGS(fx);
    json_t *r = run_rx(fx->kb, "{\"diagnosis\":\"Hypertension\",\"allergies\":[\"glowing "
                               "moss\"],\"medications\":[\"lisinopril\"]}");
    char *dump = json_dumps(r, 0);
    assert_non_null(strstr(dump, "not checked"));
    free(dump);
    json_decref(r);
}

/* NDF-RT files warfarin + aspirin as Significant, in either order. */
static void test_warfarin_aspirin_significant(void **state) {
    kb_fx_t *fx = *state;
    NEED_DRUGS(fx);
    ms_kb_drug_t w = {0}, a = {0};
    assert_int_equal(ms_kb_drug_find(fx->kb, "warfarin", &w), 0);
    assert_int_equal(ms_kb_drug_find(fx->kb, "Aspirin", &a), 0);
    json_t *ix = NULL;
    assert_int_equal(ms_kb_drug_interactions(fx->kb, a.id, w.id, &ix), 0);
    assert_true(json_array_size(ix) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ix, 0), "severity")),
                        "Significant");
    json_decref(ix);
    ms_kb_drug_clear(&w);
    ms_kb_drug_clear(&a);

    /* Through the workflow: proposed aspirin, currently on warfarin. */
    json_t *r = run_rx(fx->kb, "{\"diagnosis\":\"Coronary artery disease\","
                               "\"medications\":[\"aspirin\"],"
                               "\"current_medications\":[\"warfarin\"]}");
    json_t *ixs = json_object_get(r, "interactions");
    int found = 0;
    size_t i;
    json_t *e;
    json_array_foreach(ixs, i, e) {
        char *d = json_dumps(e, 0);
        if (strcasestr(d, "warfarin") && strcasestr(d, "aspirin") && strstr(d, "\"Significant\""))
            found = 1;
        free(d);
    }
    if (!found) {
        char *d = json_dumps(ixs, JSON_INDENT(1));
        fprintf(stderr, "interactions: %s\n", d);
        free(d);
    }
    assert_true(found);
    json_decref(r);
}

/* Amoxicillin has no openFDA label on file (README: common antibiotics
 * are absent): the candidate says so instead of quoting nothing. */
static void test_no_label_says_so(void **state) {
    kb_fx_t *fx = *state;
    NEED_DRUGS(fx);
    ms_kb_drug_t d = {0};
    assert_int_equal(ms_kb_drug_find(fx->kb, "amoxicillin", &d), 0);
    json_t *label = NULL;
    assert_int_equal(ms_kb_drug_label(fx->kb, d.id, &label), MS_ENOENT);
    ms_kb_drug_clear(&d);
    json_t *r = run_rx(fx->kb, "{\"diagnosis\":\"Otitis media\",\"medications\":[\"amoxicillin\","
                               "\"warfarin\"]}");
    json_t *meds = json_object_get(r, "medications");
    size_t i;
    json_t *m;
    int amox = 0, warf = 0;
    json_array_foreach(meds, i, m) {
        const char *name = json_string_value(json_object_get(m, "medication"));
        if (name && strcasestr(name, "amoxicillin")) {
            amox = 1;
            assert_true(json_is_null(json_object_get(m, "label")));
            const char *note = json_string_value(json_object_get(m, "label_note"));
            assert_non_null(note);
            assert_non_null(strstr(note, "label"));
        }
        if (name && strcasestr(name, "warfarin")) {
            warf = 1;
            assert_true(json_is_object(json_object_get(m, "label")));
        }
    }
    assert_true(amox);
    assert_true(warf);
    json_decref(r);
}

/* A knowledge base without MedQuAD (here: drug tables only): the
 * differential is empty and the result says why; the primary diagnosis is
 * none, urgency still comes from NEWS2. */
static void test_differential_without_medquad(void **state) {
    kb_fx_t *fx = *state;
    NEED_DRUGS(fx);
    ms_wf_t *wf = new_wf(MS_WF_DIAGNOSIS, "{\"symptoms\":[{\"name\":\"cough\"}],"
                                          "\"vitals\":{\"heart_rate\":135}}");
    size_t n;
    ms_wf_stages(MS_WF_DIAGNOSIS, &n);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ms_wf_run_stage(wf, i, fx->kb, items), 0);
    json_t *r = ms_wf_result(wf, "D", "complete");
    assert_int_equal(json_array_size(json_object_get(r, "differential")), 0);
    assert_true(json_is_null(json_object_get(r, "primary_diagnosis")));
    /* 135/min scores 3 on its own: a red score, urgency moderate. */
    assert_string_equal(json_string_value(json_object_get(r, "urgency")), "moderate");
    char *notes = json_dumps(json_object_get(r, "notes"), 0);
    assert_non_null(strstr(notes, "MedQuAD"));
    free(notes);
    json_decref(r);
    json_decref(items);
    ms_wf_free(wf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_news2_chart),
        cmocka_unit_test(test_news2_partial),
        cmocka_unit_test(test_urgency_thresholds),
        cmocka_unit_test(test_symptom_synonyms),
        cmocka_unit_test(test_red_flag_raises_urgency),
        cmocka_unit_test(test_vitals_seed_example),
        cmocka_unit_test(test_vitals_absurd_values),
        cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_result_disclaimer),
    };
    const struct CMUnitTest drug_tests[] = {
        cmocka_unit_test(test_penicillin_allergy_excludes),
        cmocka_unit_test(test_unmapped_allergy_not_checked),
        cmocka_unit_test(test_warfarin_aspirin_significant),
        cmocka_unit_test(test_no_label_says_so),
        cmocka_unit_test(test_differential_without_medquad),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rc |= cmocka_run_group_tests_name("drugs", drug_tests, drugs_setup, drugs_teardown);
    return rc;
}
