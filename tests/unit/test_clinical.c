/* Unit tests of the clinical context (src/clinical): validation of every
 * member (types, units, ranges, the error naming the field), the FHIR R4
 * mapping on small hand-made bundles (references, statuses, units, latest
 * vitals, staleness, refusals), FHIR dates, the drug-class allergy note
 * and the problem terms; then the 20 Synthea patients of
 * ../shared/data/fhir: every one imports and matches an independent reading
 * of its bundle, and four are checked against contexts written by hand
 * from reading their JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clinical/clinical.h"
#include "core/ms.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2025-01-01T00:00:00Z: ages in the Synthea checks are as of this day. */
#define AS_OF_2025 INT64_C(1735689600000)

static json_t *parse(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", e.text, s);
    return j;
}

/* ms_clinical_check on text; returns rc, *out the result (or NULL). */
static int check(const char *in, json_t **out, char *err) {
    json_t *j = parse(in);
    ms_clinical_limits_t lim = {3, 20};
    int rc = ms_clinical_check(j, &lim, out, err, 256);
    json_decref(j);
    return rc;
}

static void assert_refused(const char *in, const char *needle) {
    json_t *out = NULL;
    char err[256] = "";
    assert_int_equal(check(in, &out, err), MS_EINVAL);
    assert_null(out);
    if (!strstr(err, needle))
        fail_msg("error for %s is \"%s\", which does not say \"%s\"", in, err, needle);
}

static void assert_json_equal(json_t *got, const char *want_text) {
    json_t *want = parse(want_text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
        fprintf(stderr, "got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

/* ---- validation ------------------------------------------------------------ */

static void test_check_normalises(void **state) {
    (void)state;
    json_t *out = NULL;
    char err[256];
    assert_int_equal(check("{\"age\": 42, \"gender\": \"Female\", \"weight_kg\": 61.5,"
                           " \"height_cm\": 165, \"chief_complaint\": \"  chest pain \","
                           " \"problems\": [\" Asthma \", \"asthma\", \"Gout\"],"
                           " \"medications\": [], \"allergies\": null,"
                           " \"vitals\": {\"temperature\": 37.5, \"heart_rate\": 88,"
                           " \"blood_pressure\": \" 140 / 90 \", \"respiratory_rate\": 16,"
                           " \"spo2\": 97.5}}",
                           &out, err),
                     0);
    assert_json_equal(out, "{\"age\": 42, \"gender\": \"female\", \"weight_kg\": 61.5,"
                           " \"height_cm\": 165.0, \"chief_complaint\": \"chest pain\","
                           " \"problems\": [\"Asthma\", \"Gout\"], \"medications\": [],"
                           " \"allergies\": [], \"vitals\": {\"temperature\": 37.5,"
                           " \"heart_rate\": 88, \"blood_pressure\": \"140/90\","
                           " \"respiratory_rate\": 16, \"spo2\": 97.5}}");
    json_decref(out);
    /* A partial object stays partial (PUT); nulls clear; an empty string
     * is no complaint; a cleared vital is absent. */
    assert_int_equal(check("{\"age\": null, \"chief_complaint\": \"   \","
                           " \"vitals\": {\"spo2\": null, \"heart_rate\": 60.0}}",
                           &out, err),
                     0);
    assert_json_equal(out, "{\"age\": null, \"chief_complaint\": null,"
                           " \"vitals\": {\"heart_rate\": 60}}");
    json_decref(out);
    assert_int_equal(check("{}", &out, err), 0);
    assert_json_equal(out, "{}");
    json_decref(out);
}

static void test_check_ranges_and_units(void **state) {
    (void)state;
    assert_refused("{\"age\": 131}", "age must be a whole number of years from 0 to 130");
    assert_refused("{\"age\": -1}", "age");
    assert_refused("{\"age\": 4.5}", "whole number");
    assert_refused("{\"age\": \"42\"}", "age");
    assert_refused("{\"weight_kg\": 0.1}",
                   "weight_kg must be a number of kilograms from 0.2 to 700");
    assert_refused("{\"weight_kg\": 701}", "weight_kg");
    assert_refused("{\"height_cm\": 1.75}", "(that looks like metres)");
    assert_refused("{\"height_cm\": 301}",
                   "height_cm must be a number of centimetres from 20 to 300");
    assert_refused("{\"vitals\": {\"temperature\": 98.6}}",
                   "vitals.temperature must be a number of degrees Celsius from 10 to 47 (that "
                   "looks like Fahrenheit)");
    assert_refused("{\"vitals\": {\"temperature\": 9}}", "vitals.temperature");
    assert_refused("{\"vitals\": {\"heart_rate\": 351}}",
                   "vitals.heart_rate must be a whole number of beats per minute from 10 to 350");
    assert_refused("{\"vitals\": {\"heart_rate\": 72.5}}", "vitals.heart_rate");
    assert_refused("{\"vitals\": {\"respiratory_rate\": 0}}",
                   "vitals.respiratory_rate must be a whole number of breaths per minute from 1 "
                   "to 120");
    assert_refused("{\"vitals\": {\"spo2\": 0.97}}", "not a percentage");
    assert_refused("{\"vitals\": {\"spo2\": 101}}",
                   "vitals.spo2 must be a percentage from 50 to 100");
    assert_refused("{\"vitals\": {\"blood_pressure\": \"80/120\"}}", "systolic above diastolic");
    assert_refused("{\"vitals\": {\"blood_pressure\": \"120\"}}", "vitals.blood_pressure");
    assert_refused("{\"vitals\": {\"blood_pressure\": \"120/80mm\"}}", "vitals.blood_pressure");
    assert_refused("{\"vitals\": {\"blood_pressure\": 120}}", "vitals.blood_pressure");
    assert_refused("{\"vitals\": {\"blood_pressure\": \"301/80\"}}", "mmHg");
    assert_refused("{\"vitals\": {\"pulse\": 60}}", "vitals.pulse is not a vital sign");
    assert_refused("{\"vitals\": [37]}", "vitals must be an object");
    assert_refused("{\"gender\": \"m\"}", "gender must be one of");
    assert_refused("{\"weight\": 70}", "\"weight\" is not a clinical-context field");
}

static void test_check_lists_and_limits(void **state) {
    (void)state;
    json_t *out = NULL;
    char err[256];
    /* Limits in check(): 3 entries, 20 characters (UTF-8 counted in code points). */
    assert_int_equal(check("{\"allergies\": [\"a\", \"b\", \"c\", \"A\"],"
                           " \"problems\": [\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"]}",
                           &out, err),
                     0);
    assert_int_equal(json_array_size(json_object_get(out, "allergies")), 3);
    json_decref(out);
    assert_refused("{\"allergies\": [\"a\", \"b\", \"c\", \"d\"]}",
                   "allergies holds more than 3 entries");
    assert_refused("{\"problems\": [\"123456789012345678901\"]}",
                   "problems[0] must be a non-empty string of at most 20 characters");
    assert_refused("{\"medications\": [\"x\", 5]}", "medications[1]");
    assert_refused("{\"medications\": [\"x\", \"  \"]}", "medications[1]");
    assert_refused("{\"medications\": \"aspirin\"}", "medications must be an array of strings");
    assert_refused("{\"chief_complaint\": \"123456789012345678901\"}",
                   "chief_complaint must be a string of at most 20 characters");
    assert_refused("{\"chief_complaint\": 5}", "chief_complaint");
    /* A NUL inside a string is refused (it would end the text in C); jansson
     * refuses it in parsed JSON, but not in a string built in code. */
    json_t *nul = json_pack("{s:s%}", "chief_complaint", "a\0b", (size_t)3);
    assert_int_equal(ms_clinical_check(nul, NULL, &out, err, sizeof err), MS_EINVAL);
    assert_non_null(strstr(err, "chief_complaint"));
    json_decref(nul);
    json_t *arr = json_array();
    assert_int_equal(ms_clinical_check(arr, NULL, &out, err, sizeof err), MS_EINVAL);
    json_decref(arr);
}

/* ---- FHIR dates ------------------------------------------------------------ */

static void test_fhir_time(void **state) {
    (void)state;
    int64_t t;
    assert_int_equal(ms_clinical_fhir_time("2025-01-01", &t), 0);
    assert_int_equal(t, AS_OF_2025);
    assert_int_equal(ms_clinical_fhir_time("2025", &t), 0);
    assert_int_equal(t, AS_OF_2025);
    assert_int_equal(ms_clinical_fhir_time("2025-01", &t), 0);
    assert_int_equal(t, AS_OF_2025);
    assert_int_equal(ms_clinical_fhir_time("2025-01-01T01:00:00+01:00", &t), 0);
    assert_int_equal(t, AS_OF_2025);
    assert_int_equal(ms_clinical_fhir_time("2024-12-31T23:59:59.250-00:00", &t), 0);
    assert_int_equal(t, AS_OF_2025 - 750);
    assert_int_equal(ms_clinical_fhir_time("2000-02-29T12:00:00Z", &t), 0);
    assert_int_equal(t, INT64_C(951825600000));
    assert_int_equal(ms_clinical_fhir_time("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1000);
    const char *bad[] = {"",
                         "20",
                         "2025-13-01",
                         "2025-01-32",
                         "2025-01-01T25:00:00Z",
                         "2025-01-01T10:00",
                         "2025-01-01x",
                         "yesterday",
                         NULL};
    for (int i = 0; bad[i]; i++)
        if (ms_clinical_fhir_time(bad[i], &t) == 0)
            fail_msg("\"%s\" parsed as a FHIR time", bad[i]);
    assert_int_equal(ms_clinical_fhir_time(NULL, &t), MS_EINVAL);
}

/* ---- FHIR mapping on hand-made bundles ------------------------------------- */

/* JSON written with single quotes (readable in C), as real JSON. */
static json_t *parse_sq(const char *s) {
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_t *j = parse(d);
    free(d);
    return j;
}

/* A bundle of type with the entries given (single-quoted JSON, NULL-ended). */
static int import(const char *type, const char *const *entries, json_t **ctx, json_t **warnings,
                  ms_clinical_import_counts_t *n, char *err) {
    json_t *b = json_pack("{s:s, s:s, s:[]}", "resourceType", "Bundle", "type", type, "entry");
    for (size_t i = 0; entries[i]; i++)
        json_array_append_new(json_object_get(b, "entry"), parse_sq(entries[i]));
    int rc = ms_clinical_from_fhir(b, AS_OF_2025, NULL, ctx, warnings, n, err, 256);
    json_decref(b);
    return rc;
}

#define PATIENT                                                                                    \
    "{'fullUrl':'urn:uuid:p1','resource':{'resourceType':'Patient','id':'p1','gender':'female',"   \
    "'birthDate':'1950-06-15'}}"
#define COND(status, text, subj)                                                                   \
    "{'resource':{'resourceType':'Condition','clinicalStatus':{'coding':[{'code':'" status         \
    "'}]},'code':{'text':'" text "'},'subject':{'reference':'" subj "'}}}"
#define OBS(code, time, value, unit)                                                               \
    "{'resource':{'resourceType':'Observation','status':'final','code':{'coding':[{'system':"      \
    "'http://loinc.org','code':'" code "'}]},'subject':{'reference':'urn:uuid:p1'},"               \
    "'effectiveDateTime':'" time "','valueQuantity':{'value':" value ",'code':'" unit "'}}}"

static void test_fhir_lists(void **state) {
    (void)state;
    json_t *ctx = NULL, *w = NULL;
    ms_clinical_import_counts_t n;
    char err[256];
    const char *const entries[] = {
        PATIENT, "{'fullUrl':'urn:uuid:p2','resource':{'resourceType':'Person','id':'p2'}}",
        COND("active", "Hypertension", "urn:uuid:p1"),
        COND("resolved", "Viral sinusitis", "urn:uuid:p1"),
        COND("recurrence", "Gout", "Patient/p1"),
        COND("active", "Someone else`s asthma", "urn:uuid:p2"),
        COND("active", "Nobody`s", "urn:uuid:missing"),
        COND("active", "hypertension", "urn:uuid:p1"),
        /* refuted: not a problem */
        "{'resource':{'resourceType':'Condition','clinicalStatus':{'coding':[{'code':'active'}]},"
        "'verificationStatus':{'coding':[{'code':'refuted'}]},'code':{'text':'Diabetes'},"
        "'subject':{'reference':'urn:uuid:p1'}}}",
        /* the display when there is no text */
        "{'resource':{'resourceType':'Condition','clinicalStatus':{'coding':[{'code':'relapse'}]},"
        "'code':{'coding':[{'system':'http://snomed.info/sct','code':'1'},{'display':'Asthma'}]},"
        "'subject':{'reference':'urn:uuid:p1'}}}",
        "{'resource':{'resourceType':'MedicationRequest','status':'active',"
        "'medicationCodeableConcept':{'text':'Lisinopril 10 MG'},"
        "'subject':{'reference':'urn:uuid:p1'}}}",
        "{'resource':{'resourceType':'MedicationRequest','status':'stopped',"
        "'medicationCodeableConcept':{'text':'Amoxicillin 500 MG'},"
        "'subject':{'reference':'urn:uuid:p1'}}}",
        "{'resource':{'resourceType':'MedicationRequest','status':'active',"
        "'medicationReference':{'reference':'urn:uuid:m1'},'subject':{'reference':'urn:uuid:p1'}}}",
        "{'fullUrl':'urn:uuid:m1','resource':{'resourceType':'Medication',"
        "'code':{'coding':[{'display':'Metformin 500 MG'}]}}}",
        /* AllergyIntolerance names its patient in `patient`, not `subject` */
        "{'resource':{'resourceType':'AllergyIntolerance','code':{'text':'Allergy to penicillin'},"
        "'patient':{'reference':'urn:uuid:p1'}}}",
        "{'resource':{'resourceType':'AllergyIntolerance','code':{'text':'Latex'},"
        "'subject':{'reference':'urn:uuid:p1'}}}",
        "{'resource':{'resourceType':'AllergyIntolerance','clinicalStatus':{'coding':"
        "[{'code':'resolved'}]},'code':{'text':'Eggs'},'patient':{'reference':'urn:uuid:p1'}}}",
        "{'resource':{'resourceType':'AllergyIntolerance','verificationStatus':{'coding':"
        "[{'code':'entered-in-error'}]},'code':{'text':'Fish'},'patient':{'reference':"
        "'Patient/p1'}}}",
        NULL};
    assert_int_equal(import("collection", entries, &ctx, &w, &n, err), 0);
    assert_json_equal(ctx, "{\"age\": 74, \"gender\": \"female\", \"weight_kg\": null,"
                           " \"height_cm\": null, \"chief_complaint\": null,"
                           " \"problems\": [\"Hypertension\", \"Gout\", \"Asthma\"],"
                           " \"medications\": [\"Lisinopril 10 MG\", \"Metformin 500 MG\"],"
                           " \"allergies\": [\"Allergy to penicillin\"], \"vitals\": {}}");
    assert_int_equal(n.entries, 18);
    assert_int_equal(n.conditions, 4); /* the second "hypertension" counts, de-duplicated */
    assert_int_equal(n.medications, 2);
    assert_int_equal(n.allergies, 1);
    assert_int_equal(n.skipped, 3); /* another patient's, an unresolvable one, the Latex one */
    json_decref(ctx);
    json_decref(w);
}

static void test_fhir_vitals(void **state) {
    (void)state;
    json_t *ctx = NULL, *w = NULL;
    ms_clinical_import_counts_t n;
    char err[256];
    const char *const entries[] = {
        PATIENT, OBS("29463-7", "2020-01-01", "180", "[lb_av]"),
        OBS("29463-7", "2019-01-01", "70", "kg"), OBS("8302-2", "2020-01-01", "65", "[in_i]"),
        OBS("8310-5", "2020-01-01T10:00:00Z", "100.4", "[degF]"),
        OBS("8867-4", "2020-01-01T09:00:00Z", "72.4", "/min"),
        OBS("9279-1", "2019-12-01", "18", "/min"), OBS("59408-5", "2020-01-01", "96", "%"),
        OBS("2708-6", "2019-06-01", "99", "%"),
        /* a heart rate in a unit we do not read */
        OBS("8867-4", "2021-01-01", "1.2", "Hz"),
        "{'resource':{'resourceType':'Observation','status':'final','code':{'coding':"
        "[{'system':'http://loinc.org','code':'55284-4'}]},'subject':{'reference':'urn:uuid:p1'},"
        "'effectiveDateTime':'2020-01-01','component':["
        "{'code':{'coding':[{'system':'http://loinc.org','code':'8462-4'}]},"
        "'valueQuantity':{'value':79.6,'unit':'mm[Hg]'}},"
        "{'code':{'coding':[{'system':'http://loinc.org','code':'8480-6'}]},"
        "'valueQuantity':{'value':131.5,'code':'mm[Hg]'}}]}}",
        /* entered in error: never used */
        "{'resource':{'resourceType':'Observation','status':'entered-in-error','code':{'coding':"
        "[{'system':'http://loinc.org','code':'29463-7'}]},'subject':{'reference':'urn:uuid:p1'},"
        "'effectiveDateTime':'2024-01-01','valueQuantity':{'value':20,'code':'kg'}}}",
        NULL};
    assert_int_equal(import("transaction", entries, &ctx, &w, &n, err), 0);
    /* 180 lb = 81.6 kg; 65 in = 165.1 cm; 100.4 F = 38.0 C; the heart rate an
     * hour and the SpO2 ten hours before the newest vital sign are current,
     * the respiratory rate a month before is not. */
    assert_json_equal(ctx, "{\"age\": 74, \"gender\": \"female\", \"weight_kg\": 81.6,"
                           " \"height_cm\": 165.1, \"chief_complaint\": null, \"problems\": [],"
                           " \"medications\": [], \"allergies\": [], \"vitals\":"
                           " {\"temperature\": 38.0, \"heart_rate\": 72, \"spo2\": 96.0,"
                           " \"blood_pressure\": \"132/80\"}}");
    char *ws = json_dumps(w, 0);
    assert_non_null(strstr(ws, "respiratory rate was taken 31 days before"));
    assert_non_null(strstr(ws, "(LOINC 8867-4) without a value in a unit we read (Hz)"));
    free(ws);
    json_decref(ctx);
    json_decref(w);
}

static void test_fhir_out_of_range_and_patient(void **state) {
    (void)state;
    json_t *ctx = NULL, *w = NULL;
    ms_clinical_import_counts_t n;
    char err[256];
    /* Born 1880, deceased in 2000 at 119: the age at death; a 9000 kg weight
     * is left out. */
    const char *const old[] = {
        "{'fullUrl':'http://x/fhir/Patient/p1','resource':{'resourceType':'Patient','id':'p1',"
        "'gender':'other','birthDate':'1880-07','deceasedDateTime':'2000-03-01T00:00:00Z'}}",
        "{'resource':{'resourceType':'Observation','status':'final','code':{'coding':"
        "[{'system':'http://loinc.org','code':'29463-7'}]},'subject':{'reference':'Patient/p1'},"
        "'valueQuantity':{'value':9000,'code':'kg'}}}",
        NULL};
    assert_int_equal(import("searchset", old, &ctx, &w, &n, err), 0);
    assert_int_equal(json_integer_value(json_object_get(ctx, "age")), 119);
    assert_string_equal(json_string_value(json_object_get(ctx, "gender")), "other");
    assert_true(json_is_null(json_object_get(ctx, "weight_kg")));
    char *ws = json_dumps(w, 0);
    assert_non_null(strstr(ws, "deceased (2000-03-01)"));
    assert_non_null(strstr(ws, "weight_kg must be a number of kilograms"));
    free(ws);
    json_decref(ctx);
    json_decref(w);
    /* Born after the as-of day: age unknown, with a warning. */
    const char *const unborn[] = {
        "{'resource':{'resourceType':'Patient','birthDate':'2030-01-01'}}", NULL};
    assert_int_equal(import("collection", unborn, &ctx, &w, &n, err), 0);
    assert_true(json_is_null(json_object_get(ctx, "age")));
    assert_true(json_is_null(json_object_get(ctx, "gender")));
    assert_int_equal(json_array_size(w), 1);
    json_decref(ctx);
    json_decref(w);
    /* A birthDate that is not a FHIR date (R4 "date": YYYY, YYYY-MM or
     * YYYY-MM-DD) gives no age; a partial date counts from its first day
     * (as of 2025-01-01, someone born in 1950 is 75). */
    static const struct {
        const char *birth;
        int age; /* -1: null */
    } births[] = {{"1950", 75},       {"1950-06", 74},    {"1950-6-15", -1}, {"1950-13-01", -1},
                  {"1950-06-32", -1}, {"19x0-06-15", -1}, {"1950-", -1}};
    for (size_t i = 0; i < MS_COUNTOF(births); i++) {
        char patient[160];
        snprintf(patient, sizeof patient,
                 "{'resource':{'resourceType':'Patient','birthDate':'%s'}}", births[i].birth);
        const char *const one[] = {patient, NULL};
        assert_int_equal(import("collection", one, &ctx, &w, &n, err), 0);
        json_t *age = json_object_get(ctx, "age");
        if (births[i].age < 0)
            assert_true(json_is_null(age));
        else
            assert_int_equal(json_integer_value(age), births[i].age);
        json_decref(ctx);
        json_decref(w);
    }
}

static void test_fhir_refusals(void **state) {
    (void)state;
    json_t *ctx = NULL;
    ms_clinical_import_counts_t n;
    char err[256];
    const char *const one[] = {PATIENT, NULL}, *const none[] = {NULL},
                      *const two[] = {PATIENT, PATIENT, NULL};
    assert_int_equal(import("history", one, &ctx, NULL, &n, err), MS_EINVAL);
    assert_non_null(strstr(err, "Bundle.type \"history\" is not imported"));
    assert_int_equal(import("collection", none, &ctx, NULL, &n, err), MS_EINVAL);
    assert_non_null(strstr(err, "no Patient"));
    assert_int_equal(import("collection", two, &ctx, NULL, &n, err), MS_EINVAL);
    assert_non_null(strstr(err, "2 Patient resources"));
    assert_null(ctx);
    const char *bad[] = {"[]", "{'resourceType':'Patient'}",
                         "{'resourceType':'Bundle','type':'collection'}",
                         "{'resourceType':'Bundle','entry':[]}", NULL};
    for (int i = 0; bad[i]; i++) {
        json_t *b = parse_sq(bad[i]);
        assert_int_equal(ms_clinical_from_fhir(b, AS_OF_2025, NULL, &ctx, NULL, NULL, err, 256),
                         MS_EINVAL);
        assert_null(ctx);
        assert_true(err[0] != '\0');
        json_decref(b);
    }
    /* Entries that are not objects, resources that are not either: ignored. */
    json_t *b = parse_sq("{'resourceType':'Bundle','type':'collection','entry':[1, {}, "
                         "{'resource':7}," PATIENT "]}");
    assert_int_equal(ms_clinical_from_fhir(b, AS_OF_2025, NULL, &ctx, NULL, &n, err, 256), 0);
    assert_int_equal(n.entries, 4);
    json_decref(ctx);
    json_decref(b);
}

static void test_fhir_list_limits(void **state) {
    (void)state;
    json_t *b = parse_sq("{'resourceType':'Bundle','type':'collection','entry':[" PATIENT "]}");
    for (int i = 0; i < 5; i++) {
        char cond[256];
        snprintf(cond, sizeof cond,
                 COND("active", "P%d, a problem with a long name", "urn:uuid:p1"), i);
        json_array_append_new(json_object_get(b, "entry"), parse_sq(cond));
    }
    json_t *ctx = NULL, *w = NULL;
    ms_clinical_limits_t lim = {3, 10};
    char err[256];
    assert_int_equal(ms_clinical_from_fhir(b, AS_OF_2025, &lim, &ctx, &w, NULL, err, 256), 0);
    /* Three entries of at most ten characters, and a warning for each cut. */
    assert_json_equal(json_object_get(ctx, "problems"),
                      "[\"P0, a prob\", \"P1, a prob\", \"P2, a prob\"]");
    char *ws = json_dumps(w, 0);
    assert_non_null(strstr(ws, "more problems than a context holds (3)"));
    assert_non_null(strstr(ws, "a problems name longer than 10 characters was shortened"));
    free(ws);
    json_decref(ctx);
    json_decref(w);
    json_decref(b);
}

/* ---- drug classes ------------------------------------------------------------ */

static void test_drug_class(void **state) {
    (void)state;
    assert_string_equal(ms_clinical_drug_class("Amoxicillin"), "Penicillin-class Antibacterial");
    assert_string_equal(ms_clinical_drug_class("cephalexin"), "Cephalosporin Antibacterial");
    assert_string_equal(ms_clinical_drug_class("ibuprofen"), "Nonsteroidal Anti-inflammatory Drug");
    assert_string_equal(ms_clinical_drug_class("acetylsalicylic acid"),
                        "Nonsteroidal Anti-inflammatory Drug");
    assert_string_equal(ms_clinical_drug_class("sulfamethoxazole"), "Sulfonamide Antimicrobial");
    assert_string_equal(ms_clinical_drug_class("Codeine"), "Analgesics, Opioid");
    assert_string_equal(ms_clinical_drug_class("levofloxacin"), "Quinolone Antimicrobial");
    assert_string_equal(ms_clinical_drug_class("lisinopril"),
                        "Angiotensin-Converting Enzyme Inhibitors");
    assert_null(ms_clinical_drug_class("metformin"));
    assert_null(ms_clinical_drug_class("amoxicillin tablets"));
    assert_null(ms_clinical_drug_class(NULL));
}

static void test_allergy_note(void **state) {
    (void)state;
    json_t *ctx = parse("{\"allergies\": [\"Allergy to bee venom\", \"Allergy to penicillin\","
                        " \"Sulfa drugs (rash)\", \"NSAIDs\"]}");
    char *note = ms_clinical_allergy_note(ctx, "Can I give amoxicillin for otitis media?");
    assert_non_null(note);
    assert_string_equal(note, "Allergy check: the patient's record lists an allergy (\"Allergy to "
                              "penicillin\", penicillins). Amoxicillin belongs to that class "
                              "(Penicillin-class Antibacterial; DrugCentral, FDA EPC "
                              "N0000175497).\n\n");
    free(note);
    /* Two drugs of two allergy classes: both noted, in one paragraph. */
    note = ms_clinical_allergy_note(ctx, "Is Bactrim (sulfamethoxazole/trimethoprim) safer than "
                                         "ibuprofen?");
    assert_non_null(note);
    assert_non_null(strstr(note, "(\"Sulfa drugs (rash)\", sulfonamide antibiotics). "
                                 "Sulfamethoxazole belongs"));
    assert_non_null(strstr(note, "(\"NSAIDs\", NSAIDs). Ibuprofen belongs"));
    assert_non_null(strstr(note, "). The record also lists an allergy (\"NSAIDs\""));
    assert_ptr_equal(strstr(note, "\n\n"), note + strlen(note) - 2); /* one paragraph */
    free(note);
    /* Whole words only, and no class allergy: nothing. */
    assert_null(ms_clinical_allergy_note(ctx, "What is penicillinase?"));
    assert_null(ms_clinical_allergy_note(ctx, "What are the side effects of metformin?"));
    assert_null(ms_clinical_allergy_note(ctx, "Can codeine help a cough?"));
    assert_null(ms_clinical_allergy_note(ctx, NULL));
    json_decref(ctx);
    /* An allergy written as the drug itself names its class too. */
    ctx = parse("{\"allergies\": [\"Amoxicillin 250 MG / Clavulanate 125 MG\"]}");
    note = ms_clinical_allergy_note(ctx, "dose of PIPERACILLIN?");
    assert_non_null(note);
    assert_non_null(strstr(note, "Piperacillin belongs to that class"));
    free(note);
    json_decref(ctx);
    ctx = parse("{\"problems\": [\"Asthma\"]}");
    assert_null(ms_clinical_allergy_note(ctx, "amoxicillin?"));
    json_decref(ctx);
}

static void test_problem_terms(void **state) {
    (void)state;
    json_t *ctx = parse("{\"problems\": [\"Hypertension\", \"Chronic sinusitis (disorder)\","
                        " \"Body mass index 30+ - obesity (finding)\", \"(disorder)\", 5,"
                        " \"Diabetes (type 2)\"]}");
    char *t = ms_clinical_problem_terms(ctx, 300);
    assert_string_equal(t, "Hypertension Chronic sinusitis Body mass index 30+ - obesity "
                           "(disorder) Diabetes (type 2)");
    free(t);
    t = ms_clinical_problem_terms(ctx, 40);
    assert_string_equal(t, "Hypertension Chronic sinusitis");
    free(t);
    json_decref(ctx);
    ctx = parse("{\"problems\": []}");
    assert_null(ms_clinical_problem_terms(ctx, 300));
    json_decref(ctx);
    assert_null(ms_clinical_problem_terms(NULL, 300));
}

/* ---- the Synthea patients ------------------------------------------------------ */

static char *fhir_dir(void) {
    const char *d = getenv("MS_SHARED_DATA");
    char *p = NULL;
    if (asprintf(&p, "%s/fhir", d && *d ? d : "../shared/data") < 0)
        return NULL;
    DIR *dir = opendir(p);
    if (!dir) {
        free(p);
        return NULL;
    }
    closedir(dir);
    return p;
}

static json_t *import_file(const char *dir, const char *prefix, json_t **warnings) {
    DIR *d = opendir(dir);
    struct dirent *e;
    json_t *ctx = NULL;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
            fail();
        json_error_t je;
        json_t *b = json_load_file(path, 0, &je);
        if (!b)
            fail_msg("%s: %s", path, je.text);
        char err[256];
        if (ms_clinical_from_fhir(b, AS_OF_2025, NULL, &ctx, warnings, NULL, err, 256) != 0)
            fail_msg("%s: %s", path, err);
        json_decref(b);
        free(path);
        break;
    }
    if (d)
        closedir(d);
    if (!ctx)
        fail_msg("no %s*.json in %s", prefix, dir);
    return ctx;
}

/* Written by hand from the bundles' JSON: the Patient's birthDate and
 * gender, the Conditions whose clinicalStatus is active, the
 * MedicationRequests with status active, the active AllergyIntolerances,
 * and the last height, weight and blood-pressure Observations (rounded as
 * documented). Every temperature in these bundles is years older than the
 * last vital signs, so none is current. */
static void test_synthea_by_hand(void **state) {
    (void)state;
    char *dir = fhir_dir();
    if (!dir) {
        fprintf(stderr, "skipping: ../shared/data/fhir not found (set MS_SHARED_DATA)\n");
        skip();
    }
    json_t *w = NULL;
    /* Born 1971-03-03; height 181.541 cm, weight 98.369 kg, BP 108.058 / 79.930
     * on 2020-06-10; the stopped naproxen and amoxicillin-clavulanate left out. */
    json_t *ctx = import_file(dir, "Asa_Hermiston_", &w);
    assert_json_equal(
        ctx,
        "{\"age\": 53, \"gender\": \"male\", \"weight_kg\": 98.4, \"height_cm\": 181.5,"
        " \"chief_complaint\": null, \"problems\": [\"Atopic dermatitis\", \"Chronic sinusitis "
        "(disorder)\", \"Body mass index 30+ - obesity (finding)\", \"Osteoarthritis of hip\","
        " \"Rheumatoid arthritis\"], \"medications\": [\"120 ACTUAT Fluticasone propionate "
        "0.044 MG/ACTUAT Metered Dose Inhaler\", \"200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered "
        "Dose Inhaler\", \"Naproxen sodium 220 MG Oral Tablet\", \"Naproxen 500 MG Oral "
        "Tablet\", \"Methotrexate 10 MG Oral Tablet\"], \"allergies\": [\"Dander (animal) "
        "allergy\", \"Allergy to tree pollen\", \"Allergy to nut\", \"Allergy to peanuts\"],"
        " \"vitals\": {\"blood_pressure\": \"108/80\"}}");
    assert_int_equal(json_array_size(w), 0);
    json_decref(ctx);
    json_decref(w);
    /* Born 1976-01-16 (48 on 2025-01-01, a fortnight before his birthday); nine
     * active conditions, three resolved; 185.371 cm, 103.07 kg, 106.156 / 84.333. */
    ctx = import_file(dir, "Louis_Maggio_", &w);
    assert_json_equal(
        ctx, "{\"age\": 48, \"gender\": \"male\", \"weight_kg\": 103.1, \"height_cm\": 185.4,"
             " \"chief_complaint\": null, \"problems\": [\"Seizure disorder\", \"History of single "
             "seizure (situation)\", \"Epilepsy\", \"Perennial allergic rhinitis\", \"Body mass "
             "index 30+ - obesity (finding)\", \"Diabetes\", \"Hypertriglyceridemia (disorder)\","
             " \"Metabolic syndrome X (disorder)\", \"Localized, primary osteoarthritis of the "
             "hand\"], \"medications\": [\"Diazepam [Valium]\", \"Chlorpheniramine Maleate 2 MG/ML "
             "Oral Solution\", \"Naproxen sodium 220 MG Oral Tablet\"], \"allergies\": [\"Dander "
             "(animal) allergy\"], \"vitals\": {\"blood_pressure\": \"106/84\"}}");
    json_decref(ctx);
    json_decref(w);
    /* Born 1993-06-21; hydrochlorothiazide 6.25 mg stopped, 25 mg active;
     * 178.647 cm, 71.662 kg, 188.148 / 115.470 on 2019-06-17. */
    ctx = import_file(dir, "Kermit_Trantow_", &w);
    assert_json_equal(
        ctx, "{\"age\": 31, \"gender\": \"male\", \"weight_kg\": 71.7, \"height_cm\": 178.6,"
             " \"chief_complaint\": null, \"problems\": [\"Hypertension\"], \"medications\":"
             " [\"Loratadine 5 MG Chewable Tablet\", \"NDA020800 0.3 ML Epinephrine 1 MG/ML "
             "Auto-Injector\", \"Hydrochlorothiazide 25 MG\"], \"allergies\": [\"Allergy to bee "
             "venom\", \"Shellfish allergy\", \"Allergy to peanuts\"], \"vitals\":"
             " {\"blood_pressure\": \"188/115\"}}");
    json_decref(ctx);
    json_decref(w);
    /* Born 2000-01-29; every condition resolved; a 38.2 C temperature from
     * 2013-04-16 is the latest but 2469 days before the last vital signs
     * (2020-01-19: 171.416 cm, 82.590 kg, 121.852 / 72.481). */
    ctx = import_file(dir, "Benedict_Ortiz_", &w);
    assert_json_equal(
        ctx, "{\"age\": 24, \"gender\": \"male\", \"weight_kg\": 82.6, \"height_cm\": 171.4,"
             " \"chief_complaint\": null, \"problems\": [], \"medications\": [\"Fexofenadine "
             "hydrochloride 30 MG Oral Tablet\", \"NDA020800 0.3 ML Epinephrine 1 MG/ML "
             "Auto-Injector\"], \"allergies\": [\"Shellfish allergy\"], \"vitals\":"
             " {\"blood_pressure\": \"122/72\"}}");
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(
        strstr(json_string_value(json_array_get(w, 0)), "temperature was taken 2469 days before"));
    json_decref(ctx);
    json_decref(w);
    free(dir);
}

/* Every one of the 20 imports, and each context is valid by ms_clinical_check. */
static void test_synthea_all(void **state) {
    (void)state;
    char *dir = fhir_dir();
    if (!dir) {
        fprintf(stderr, "skipping: ../shared/data/fhir not found (set MS_SHARED_DATA)\n");
        skip();
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%s", e->d_name);
        json_t *w = NULL, *ctx = import_file(dir, prefix, &w), *norm = NULL;
        char err[256];
        assert_int_equal(ms_clinical_check(ctx, NULL, &norm, err, sizeof err), 0);
        assert_true(json_equal(ctx, norm));
        assert_true(json_is_integer(json_object_get(ctx, "age")));
        assert_non_null(json_string_value(json_object_get(ctx, "gender")));
        assert_true(json_is_number(json_object_get(ctx, "weight_kg")));
        assert_non_null(
            json_string_value(json_object_get(json_object_get(ctx, "vitals"), "blood_pressure")));
        json_decref(norm);
        json_decref(ctx);
        json_decref(w);
        n++;
    }
    closedir(d);
    free(dir);
    assert_int_equal(n, 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_normalises),
        cmocka_unit_test(test_check_ranges_and_units),
        cmocka_unit_test(test_check_lists_and_limits),
        cmocka_unit_test(test_fhir_time),
        cmocka_unit_test(test_fhir_lists),
        cmocka_unit_test(test_fhir_vitals),
        cmocka_unit_test(test_fhir_out_of_range_and_patient),
        cmocka_unit_test(test_fhir_refusals),
        cmocka_unit_test(test_fhir_list_limits),
        cmocka_unit_test(test_drug_class),
        cmocka_unit_test(test_allergy_note),
        cmocka_unit_test(test_problem_terms),
        cmocka_unit_test(test_synthea_by_hand),
        cmocka_unit_test(test_synthea_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
