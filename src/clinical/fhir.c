/* FHIR R4 Bundle -> clinical context (clinical.h, ms_clinical_from_fhir).
 *
 * One pass over the entries finds the Patient; a second maps the resources
 * that point at it. References resolve inside the bundle as R4 section
 * 2.36.4 says (http://hl7.org/fhir/R4/bundle.html#references): a reference
 * equal to an entry's fullUrl (Synthea writes urn:uuid: ones), or a
 * relative "Type/id" naming an entry's resource. Nothing here trusts the
 * bundle: every member is type-checked, and a value that the context would
 * refuse is left out with a warning rather than failing the import. */
#include "clinical/clinical.h"

#include "core/buf.h"
#include "core/ms.h"
#include "core/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOINC "http://loinc.org"
#define MAX_WARNINGS 50

/* The vitals we read, by LOINC code (FHIR R4 vital signs profile,
 * http://hl7.org/fhir/R4/observation-vitalsigns.html). */
typedef enum { V_TEMP, V_HR, V_RR, V_SPO2, V_HEIGHT, V_WEIGHT, V_BP, V_COUNT } vital_t;

static const struct {
    const char *code;
    vital_t v;
} loinc_codes[] = {
    {"8310-5", V_TEMP},   {"8331-1", V_TEMP}, /* oral temperature, as Synthea writes it */
    {"8867-4", V_HR},     {"9279-1", V_RR},      {"59408-5", V_SPO2}, {"2708-6", V_SPO2},
    {"8302-2", V_HEIGHT}, {"29463-7", V_WEIGHT}, {"55284-4", V_BP},
};

typedef struct {
    int set;
    int64_t t; /* effective time, ms */
    double v, v2;
} slot_t;

typedef struct {
    json_t *entries;
    json_t *patient;
    const ms_clinical_limits_t *lim;
    json_t *problems, *medications, *allergies;
    slot_t slots[V_COUNT];
    json_t *warnings;
    int nwarn;
    ms_clinical_import_counts_t n;
} fhir_t;

static void warn(fhir_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(fhir_t *f, const char *fmt, ...) {
    f->nwarn++;
    if (f->nwarn > MAX_WARNINGS)
        return;
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* msg may have been cut inside a UTF-8 sequence of a bundle string. */
    size_t n = strlen(msg);
    while (n && !ms_utf8_valid(msg, n))
        n--;
    json_array_append_new(f->warnings, json_stringn(msg, n));
}

static const char *str_of(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

static int str_is(json_t *o, const char *key, const char *want) {
    const char *s = str_of(o, key);
    return s && !strcmp(s, want);
}

/* ---- references ----------------------------------------------------------- */

/* The resource ref names within the bundle, or NULL. */
static json_t *resolve(const fhir_t *f, const char *ref) {
    if (!ref || !*ref)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(f->entries, i, e) {
        if (str_is(e, "fullUrl", ref))
            return json_object_get(e, "resource");
    }
    /* A relative reference "Type/id" (optionally with "/_history/v"). */
    if (strstr(ref, "://") || !strncmp(ref, "urn:", 4))
        return NULL;
    const char *slash = strchr(ref, '/');
    if (!slash)
        return NULL;
    size_t tlen = (size_t)(slash - ref);
    const char *id = slash + 1;
    size_t idlen = strcspn(id, "/");
    json_array_foreach(f->entries, i, e) {
        json_t *r = json_object_get(e, "resource");
        const char *rt = str_of(r, "resourceType"), *rid = str_of(r, "id");
        if (rt && rid && strlen(rt) == tlen && !strncmp(rt, ref, tlen) && strlen(rid) == idlen &&
            !strncmp(rid, id, idlen))
            return r;
    }
    return NULL;
}

/* Whether the resource's `key` reference ("subject" or "patient") is our Patient. */
static int about_patient(const fhir_t *f, json_t *res, const char *key) {
    const char *ref = str_of(json_object_get(res, key), "reference");
    return resolve(f, ref) == f->patient;
}

/* ---- codes ---------------------------------------------------------------- */

/* A CodeableConcept's words: its text, else the first coding's display. */
static const char *concept_text(json_t *cc) {
    const char *t = str_of(cc, "text");
    if (t && *t)
        return t;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(cc, "coding"), i, c) {
        const char *d = str_of(c, "display");
        if (d && *d)
            return d;
    }
    return NULL;
}

/* The code of a CodeableConcept status (clinicalStatus, verificationStatus). */
static const char *status_code(json_t *cc) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(cc, "coding"), i, c) {
        const char *code = str_of(c, "code");
        if (code)
            return code;
    }
    return NULL;
}

static int code_in(const char *code, const char *const *set, size_t n) {
    for (size_t i = 0; code && i < n; i++)
        if (!strcmp(code, set[i]))
            return 1;
    return 0;
}

/* Appends text to a list unless already there (case folded) or the list is
 * full; cuts it at max_chars code points. */
static void list_add(fhir_t *f, json_t *list, const char *what, const char *text) {
    size_t n = strlen(text);
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
        n--;
    while (n && (*text == ' ' || *text == '\t'))
        text++, n--;
    if (!n || !ms_utf8_valid(text, n))
        return;
    size_t cut = ms_utf8_prefix(text, n, f->lim->max_chars);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (json_string_length(e) == cut && !strncasecmp(json_string_value(e), text, cut))
            return;
    }
    if (json_array_size(list) >= f->lim->max_items) {
        warn(f, "more %s than a context holds (%zu): the rest were left out", what,
             f->lim->max_items);
        return;
    }
    if (cut < n)
        warn(f, "a %s name longer than %zu characters was shortened", what, f->lim->max_chars);
    json_array_append_new(list, json_stringn(text, cut));
}

/* ---- resources ------------------------------------------------------------ */

static void map_condition(fhir_t *f, json_t *r) {
    static const char *const active[] = {"active", "recurrence", "relapse"};
    static const char *const refuted[] = {"refuted", "entered-in-error"};
    if (!code_in(status_code(json_object_get(r, "clinicalStatus")), active, MS_COUNTOF(active)) ||
        code_in(status_code(json_object_get(r, "verificationStatus")), refuted,
                MS_COUNTOF(refuted)))
        return;
    const char *t = concept_text(json_object_get(r, "code"));
    if (!t) {
        warn(f, "an active Condition without a code text or display was left out");
        f->n.skipped++;
        return;
    }
    list_add(f, f->problems, "problems", t);
    f->n.conditions++;
}

static void map_medication(fhir_t *f, json_t *r) {
    if (!str_is(r, "status", "active"))
        return;
    const char *t = concept_text(json_object_get(r, "medicationCodeableConcept"));
    if (!t) {
        json_t *ref = json_object_get(r, "medicationReference");
        json_t *med = resolve(f, str_of(ref, "reference"));
        if (med && str_is(med, "resourceType", "Medication"))
            t = concept_text(json_object_get(med, "code"));
        if (!t)
            t = str_of(ref, "display");
    }
    if (!t) {
        warn(f, "an active MedicationRequest naming no medication was left out");
        f->n.skipped++;
        return;
    }
    list_add(f, f->medications, "medications", t);
    f->n.medications++;
}

static void map_allergy(fhir_t *f, json_t *r) {
    static const char *const gone[] = {"inactive", "resolved"};
    static const char *const refuted[] = {"refuted", "entered-in-error"};
    if (code_in(status_code(json_object_get(r, "clinicalStatus")), gone, MS_COUNTOF(gone)) ||
        code_in(status_code(json_object_get(r, "verificationStatus")), refuted,
                MS_COUNTOF(refuted)))
        return;
    const char *t = concept_text(json_object_get(r, "code"));
    if (!t) {
        warn(f, "an AllergyIntolerance without a code text or display was left out");
        f->n.skipped++;
        return;
    }
    list_add(f, f->allergies, "allergies", t);
    f->n.allergies++;
}

/* The observation's time: effective[x], else issued; 0 when it has none. */
static int64_t obs_time(json_t *r) {
    const char *s = str_of(r, "effectiveDateTime");
    if (!s)
        s = str_of(r, "effectiveInstant");
    json_t *p = json_object_get(r, "effectivePeriod");
    if (!s && p)
        s = str_of(p, "end") ? str_of(p, "end") : str_of(p, "start");
    if (!s)
        s = str_of(r, "issued");
    int64_t t = 0;
    if (s && ms_clinical_fhir_time(s, &t) != 0)
        t = 0;
    return t;
}

/* A Quantity in the vital's unit: UCUM code first, then the unit text; a
 * quantity without either is taken in the profile's unit. 0 or -1. */
static int quantity(json_t *q, vital_t v, double *out) {
    json_t *val = json_object_get(q, "value");
    if (!json_is_number(val))
        return -1;
    double x = json_number_value(val);
    const char *u = str_of(q, "code");
    if (!u)
        u = str_of(q, "unit");
    static const struct {
        vital_t v;
        const char *unit;
        double mul, add;
    } units[] = {
        {V_TEMP, "Cel", 1, 0},
        {V_TEMP,
         "\xC2\xB0"
         "C",
         1, 0},
        {V_TEMP, "degC", 1, 0},
        {V_TEMP, "[degF]", 5.0 / 9.0, -32.0 * 5.0 / 9.0},
        {V_TEMP,
         "\xC2\xB0"
         "F",
         5.0 / 9.0, -32.0 * 5.0 / 9.0},
        {V_TEMP, "degF", 5.0 / 9.0, -32.0 * 5.0 / 9.0},
        {V_WEIGHT, "kg", 1, 0},
        {V_WEIGHT, "g", 0.001, 0},
        {V_WEIGHT, "[lb_av]", 0.45359237, 0},
        {V_WEIGHT, "lb", 0.45359237, 0},
        {V_HEIGHT, "cm", 1, 0},
        {V_HEIGHT, "m", 100, 0},
        {V_HEIGHT, "mm", 0.1, 0},
        {V_HEIGHT, "[in_i]", 2.54, 0},
        {V_HEIGHT, "in", 2.54, 0},
        {V_HR, "/min", 1, 0},
        {V_HR, "{beats}/min", 1, 0},
        {V_HR, "beats/min", 1, 0},
        {V_RR, "/min", 1, 0},
        {V_RR, "{breaths}/min", 1, 0},
        {V_RR, "breaths/min", 1, 0},
        {V_SPO2, "%", 1, 0},
        {V_BP, "mm[Hg]", 1, 0},
        {V_BP, "mmHg", 1, 0},
    };
    if (!u) {
        *out = x;
        return 0;
    }
    for (size_t i = 0; i < MS_COUNTOF(units); i++) {
        if (units[i].v == v && !strcmp(units[i].unit, u)) {
            *out = x * units[i].mul + units[i].add;
            return 0;
        }
    }
    return -1;
}

/* The component of a blood-pressure panel with LOINC code. */
static json_t *component(json_t *r, const char *code) {
    size_t i, j;
    json_t *c, *cd;
    json_array_foreach(json_object_get(r, "component"), i, c) {
        json_array_foreach(json_object_get(json_object_get(c, "code"), "coding"), j, cd) {
            if (str_is(cd, "code", code))
                return json_object_get(c, "valueQuantity");
        }
    }
    return NULL;
}

static void map_observation(fhir_t *f, json_t *r) {
    static const char *const usable[] = {"final", "amended", "corrected", "preliminary"};
    if (!code_in(str_of(r, "status"), usable, MS_COUNTOF(usable)))
        return;
    int which = -1;
    const char *loinc = NULL;
    size_t i, k;
    json_t *cd;
    json_array_foreach(json_object_get(json_object_get(r, "code"), "coding"), i, cd) {
        const char *sys = str_of(cd, "system"), *code = str_of(cd, "code");
        for (k = 0; sys && code && !strcmp(sys, LOINC) && k < MS_COUNTOF(loinc_codes); k++) {
            if (!strcmp(code, loinc_codes[k].code)) {
                which = (int)loinc_codes[k].v;
                loinc = loinc_codes[k].code;
            }
        }
    }
    if (which < 0)
        return;
    double v = 0, v2 = 0;
    int ok = which == V_BP ? quantity(component(r, "8480-6"), V_BP, &v) == 0 &&
                                 quantity(component(r, "8462-4"), V_BP, &v2) == 0
                           : quantity(json_object_get(r, "valueQuantity"), (vital_t)which, &v) == 0;
    if (!ok) {
        json_t *q = json_object_get(r, "valueQuantity");
        const char *u = str_of(q, "code") ? str_of(q, "code") : str_of(q, "unit");
        warn(f,
             "a vital-sign Observation (LOINC %s) without a value in a unit we read%s%.20s%s "
             "was left out",
             loinc, u ? " (" : "", u ? u : "", u ? ")" : "");
        f->n.skipped++;
        return;
    }
    slot_t *s = &f->slots[which];
    int64_t t = obs_time(r);
    if (!s->set || t >= s->t) {
        s->set = 1;
        s->t = t;
        s->v = v;
        s->v2 = v2;
    }
}

/* Exactly n decimal digits at *p: their value, *p moved past them; -1 when
 * there are fewer. */
static int fixed_digits(const char **p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

/* "-" or ":" then n digits; -1 when absent. */
static int sep_digits(const char **p, char sep, int n) {
    if (**p != sep)
        return -1;
    const char *q = *p + 1;
    int v = fixed_digits(&q, n);
    if (v >= 0)
        *p = q;
    return v;
}

/* ---- the Patient ---------------------------------------------------------- */

/* Completed years from birth to at_ms. birth is a FHIR date (R4 datatypes,
 * "date": YYYY, YYYY-MM or YYYY-MM-DD; anything after is ignored); -1 when it
 * is not one, or is before 1800. */
static int age_at(const char *birth, int64_t at_ms, long *age) {
    const char *p = birth;
    int by = birth ? fixed_digits(&p, 4) : -1, bm = 1, bd = 1;
    if (by < 1800)
        return -1;
    if (*p == '-' && (bm = sep_digits(&p, '-', 2)) < 0)
        return -1;
    if (*p == '-' && (bd = sep_digits(&p, '-', 2)) < 0)
        return -1;
    if (bm < 1 || bm > 12 || bd < 1 || bd > 31)
        return -1;
    time_t at = (time_t)(at_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&at, &tm))
        return -1;
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1, d = tm.tm_mday;
    *age = y - by - ((m < bm || (m == bm && d < bd)) ? 1 : 0);
    return 0;
}

static void map_patient(fhir_t *f, json_t *out, int64_t as_of_ms) {
    json_t *p = f->patient;
    const char *g = str_of(p, "gender");
    json_object_set_new(out, "gender", g ? json_string(g) : json_null());
    const char *dead = str_of(p, "deceasedDateTime");
    int64_t dead_ms = 0, at = as_of_ms;
    if (dead && ms_clinical_fhir_time(dead, &dead_ms) == 0) {
        warn(f, "the patient is recorded as deceased (%.10s): age is the age at death", dead);
        if (dead_ms < at)
            at = dead_ms;
    } else if (json_is_true(json_object_get(p, "deceasedBoolean"))) {
        warn(f, "the patient is recorded as deceased");
    }
    long age;
    const char *birth = str_of(p, "birthDate");
    if (birth && age_at(birth, at, &age) == 0)
        json_object_set_new(out, "age", json_integer(age));
    else
        json_object_set_new(out, "age", json_null());
    if (!birth)
        warn(f, "the Patient has no birthDate: age is unknown");
}

/* ---- assembling ----------------------------------------------------------- */

/* v to one decimal: the double nearest the decimal (816 / 10.0 is 81.6;
 * 816 * 0.1 is not). */
static double round1(double v) {
    return round(v * 10.0) / 10.0;
}

/* Sets key in obj to v unless ms_clinical_check refuses it (warned). */
static void put_checked(fhir_t *f, json_t *obj, const char *key, json_t *v, int in_vitals) {
    json_t *probe = json_object(), *norm = NULL;
    char err[256];
    if (in_vitals)
        json_object_set_new(probe, "vitals", json_pack("{s:o}", key, v));
    else
        json_object_set_new(probe, key, v);
    if (ms_clinical_check(probe, f->lim, &norm, err, sizeof err) != 0) {
        warn(f, "left out of the context: %s", err);
        f->n.skipped++;
        if (!in_vitals)
            json_object_set_new(obj, key, json_null());
    } else if (in_vitals) {
        json_object_update(obj, json_object_get(norm, "vitals"));
        f->n.vitals++;
    } else {
        json_object_set(obj, key, json_object_get(norm, key));
        if (!json_is_null(json_object_get(norm, key)))
            f->n.vitals += !strcmp(key, "weight_kg") || !strcmp(key, "height_cm");
    }
    json_decref(probe);
    json_decref(norm);
}

/* Acute signs (temperature, heart and breathing rate, SpO2) describe an
 * encounter, not the patient: the latest of years ago (Synthea records a
 * temperature at sick visits only) is not the patient's temperature now. They
 * are kept only when taken within MS_CLINICAL_ACUTE_WINDOW_MS of the
 * record's newest vital sign; height, weight and blood pressure are the
 * latest whenever taken. */
static void drop_stale(fhir_t *f) {
    static const struct {
        vital_t v;
        const char *name;
    } acute[] = {{V_TEMP, "temperature"},
                 {V_HR, "heart rate"},
                 {V_RR, "respiratory rate"},
                 {V_SPO2, "SpO2"}};
    int64_t newest = 0;
    for (int i = 0; i < V_COUNT; i++)
        if (f->slots[i].set && f->slots[i].t > newest)
            newest = f->slots[i].t;
    for (size_t i = 0; i < MS_COUNTOF(acute); i++) {
        slot_t *s = &f->slots[acute[i].v];
        if (!s->set || newest - s->t <= MS_CLINICAL_ACUTE_WINDOW_MS)
            continue;
        s->set = 0;
        warn(f,
             "the latest %s was taken %lld days before the latest vital signs: left out as "
             "not current",
             acute[i].name, (long long)((newest - s->t) / 86400000));
        f->n.skipped++;
    }
}

static void put_vitals(fhir_t *f, json_t *ctx) {
    json_t *vitals = json_object();
    slot_t *s = f->slots;
    drop_stale(f);
    json_object_set_new(ctx, "weight_kg", json_null());
    json_object_set_new(ctx, "height_cm", json_null());
    if (s[V_WEIGHT].set)
        put_checked(f, ctx, "weight_kg", json_real(round1(s[V_WEIGHT].v)), 0);
    if (s[V_HEIGHT].set)
        put_checked(f, ctx, "height_cm", json_real(round1(s[V_HEIGHT].v)), 0);
    if (s[V_TEMP].set)
        put_checked(f, vitals, "temperature", json_real(round1(s[V_TEMP].v)), 1);
    if (s[V_HR].set)
        put_checked(f, vitals, "heart_rate", json_integer((json_int_t)lround(s[V_HR].v)), 1);
    if (s[V_RR].set)
        put_checked(f, vitals, "respiratory_rate", json_integer((json_int_t)lround(s[V_RR].v)), 1);
    if (s[V_SPO2].set)
        put_checked(f, vitals, "spo2", json_real(round1(s[V_SPO2].v)), 1);
    if (s[V_BP].set) {
        char bp[48];
        snprintf(bp, sizeof bp, "%ld/%ld", lround(s[V_BP].v), lround(s[V_BP].v2));
        put_checked(f, vitals, "blood_pressure", json_string(bp), 1);
    }
    json_object_set_new(ctx, "vitals", vitals);
}

/* Finds the one Patient. 0 or MS_EINVAL with err. */
static int find_patient(fhir_t *f, char *err, size_t errlen) {
    int patients = 0;
    size_t i;
    json_t *e;
    json_array_foreach(f->entries, i, e) {
        json_t *r = json_object_get(e, "resource");
        if (str_is(r, "resourceType", "Patient")) {
            patients++;
            f->patient = r;
        }
    }
    if (patients == 1)
        return 0;
    if (patients == 0)
        snprintf(err, errlen, "the Bundle holds no Patient resource");
    else
        snprintf(err, errlen, "the Bundle holds %d Patient resources; import one patient at a time",
                 patients);
    return MS_EINVAL;
}

static int check_bundle(json_t *b, char *err, size_t errlen) {
    static const char *const types[] = {"transaction", "collection", "searchset"};
    if (!json_is_object(b) || !str_is(b, "resourceType", "Bundle")) {
        snprintf(err, errlen, "not a FHIR Bundle: resourceType must be \"Bundle\"");
        return MS_EINVAL;
    }
    const char *type = str_of(b, "type");
    if (!code_in(type, types, MS_COUNTOF(types))) {
        snprintf(err, errlen,
                 "Bundle.type %s%.40s%s is not imported: use transaction, collection or "
                 "searchset",
                 type ? "\"" : "", type ? type : "(missing)", type ? "\"" : "");
        return MS_EINVAL;
    }
    if (!json_is_array(json_object_get(b, "entry"))) {
        snprintf(err, errlen, "the Bundle has no entry array");
        return MS_EINVAL;
    }
    return 0;
}

int ms_clinical_from_fhir(json_t *bundle, int64_t as_of_ms, const ms_clinical_limits_t *lim,
                          json_t **out, json_t **warnings, ms_clinical_import_counts_t *counts,
                          char *err, size_t errlen) {
    ms_clinical_limits_t dflt = {MS_CLINICAL_MAX_ITEMS, MS_CLINICAL_MAX_CHARS};
    fhir_t f = {.lim = lim ? lim : &dflt};
    *out = NULL;
    if (warnings)
        *warnings = NULL;
    int rc = check_bundle(bundle, err, errlen);
    if (rc)
        return rc;
    f.entries = json_object_get(bundle, "entry");
    if ((rc = find_patient(&f, err, errlen)) != 0)
        return rc;
    f.problems = json_array();
    f.medications = json_array();
    f.allergies = json_array();
    f.warnings = json_array();
    json_t *ctx = json_object();
    map_patient(&f, ctx, as_of_ms);
    size_t i;
    json_t *e;
    json_array_foreach(f.entries, i, e) {
        json_t *r = json_object_get(e, "resource");
        const char *rt = str_of(r, "resourceType");
        f.n.entries++;
        if (!rt)
            continue;
        int allergy = !strcmp(rt, "AllergyIntolerance");
        int mapped = allergy || !strcmp(rt, "Condition") || !strcmp(rt, "MedicationRequest") ||
                     !strcmp(rt, "Observation");
        if (!mapped)
            continue;
        if (!about_patient(&f, r, allergy ? "patient" : "subject")) {
            f.n.skipped++;
            continue;
        }
        if (allergy)
            map_allergy(&f, r);
        else if (!strcmp(rt, "Condition"))
            map_condition(&f, r);
        else if (!strcmp(rt, "MedicationRequest"))
            map_medication(&f, r);
        else
            map_observation(&f, r);
    }
    /* Members in the order docs/protocol.md lists them. */
    json_object_set_new(ctx, "chief_complaint", json_null());
    json_object_set_new(ctx, "problems", f.problems);
    json_object_set_new(ctx, "medications", f.medications);
    json_object_set_new(ctx, "allergies", f.allergies);
    put_checked(&f, ctx, "age", json_incref(json_object_get(ctx, "age")), 0);
    put_vitals(&f, ctx);
    if (f.nwarn > MAX_WARNINGS) {
        char more[64];
        snprintf(more, sizeof more, "... and %d more warnings", f.nwarn - MAX_WARNINGS);
        json_array_append_new(f.warnings, json_string(more));
    }
    *out = ctx;
    if (warnings)
        *warnings = f.warnings;
    else
        json_decref(f.warnings);
    if (counts)
        *counts = f.n;
    return 0;
}

/* ---- dates ---------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil, http://howardhinnant.github.io/date_algorithms.html). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int ms_clinical_fhir_time(const char *s, int64_t *out_ms) {
    int mo = 1, d = 1, h = 0, mi = 0, sec = 0;
    if (!s)
        return MS_EINVAL;
    const char *p = s;
    int y = fixed_digits(&p, 4);
    if (y < 0)
        return MS_EINVAL;
    if (*p == '-') {
        if ((mo = sep_digits(&p, '-', 2)) < 0)
            return MS_EINVAL;
        if (*p == '-' && (d = sep_digits(&p, '-', 2)) < 0)
            return MS_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return MS_EINVAL;
    int64_t frac_ms = 0, offset_s = 0;
    if (*p == 'T') {
        p++;
        if ((h = fixed_digits(&p, 2)) < 0 || (mi = sep_digits(&p, ':', 2)) < 0 ||
            (sec = sep_digits(&p, ':', 2)) < 0 || h > 23 || mi > 59 || sec > 60)
            return MS_EINVAL;
        if (*p == '.') {
            int digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
            for (; digits < 3; digits++)
                frac_ms *= 10;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            p++;
            int oh = fixed_digits(&p, 2), om = sep_digits(&p, ':', 2);
            if (oh < 0 || om < 0 || oh > 23 || om > 59)
                return MS_EINVAL;
            offset_s = (int64_t)sign * (oh * 3600 + om * 60);
        }
    }
    if (*p)
        return MS_EINVAL;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out_ms =
        ((days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec) - offset_s) * 1000 + frac_ms;
    return 0;
}
