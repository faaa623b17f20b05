/* vitals_evaluation: the request's vital signs read, checked for
 * plausibility, flagged when abnormal (each flag names its rule and
 * source), and scored with NEWS2 (news2.c).
 *
 * Rules (docs/workflows.md "Vital signs"):
 *  - plausibility: the bounds of a clinical context (clinical/clinical.h:
 *    temperature 10-47 °C, heart rate 10-350/min, systolic 40-300 above
 *    diastolic 10-200 mmHg, respiration 1-120/min, SpO2 50-100 %): values
 *    a living patient can be measured with. A value outside is not used,
 *    and the result says so;
 *  - every parameter: its NEWS2 band (RCP 2017, Chart 1); a value outside
 *    the 0-score band is flagged with its score;
 *  - blood pressure: the ACC/AHA 2017 categories (Whelton et al.,
 *    Hypertension 2018;71:e13-e115, section 3.2 table 6): normal < 120 and
 *    < 80; elevated 120-129 and < 80; stage 1 130-139 or 80-89; stage 2
 *    >= 140 or >= 90; above 180 and/or 120 the guideline's hypertensive
 *    crisis (section 11);
 *  - findings for the differential: fever at 38 °C or more (NHS, "Fever in
 *    adults": "a high temperature is usually considered to be 38C or
 *    above"); a rapid heartbeat above 100 beats a minute (American Heart
 *    Association, "Tachycardia: fast heart rate"). */
#include "workflow/wf_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;
    double lo, hi;
    const char *unit;
} bound_t;

static const bound_t bounds[] = {
    {"temperature", 10, 47, "degrees Celsius"},
    {"heart_rate", 10, 350, "beats per minute"},
    {"respiratory_rate", 1, 120, "breaths per minute"},
    {"spo2", 50, 100, "percent"},
};

#define NEWS2_SOURCE "NEWS2, Royal College of Physicians 2017, Chart 1"
#define ACC_AHA_SOURCE "ACC/AHA 2017 blood pressure categories (Whelton et al., Hypertension 2018)"

/* A number, or a string holding one with an optional unit ("38.5 C",
 * "101.3 F"); a Fahrenheit temperature is converted and noted. */
static int read_value(ms_wf_t *wf, const char *key, const json_t *v, double *out) {
    if (ms__wf_number(v, out))
        return 1;
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    char *end;
    double d = strtod(s, &end);
    if (end == s || !isfinite(d))
        return 0;
    while (*end == ' ')
        end++;
    if (!strcmp(key, "temperature") && (!strcasecmp(end, "f") || !strcasecmp(end, "°f"))) {
        *out = round((d - 32.0) * 5.0 / 9.0 * 10.0) / 10.0;
        char field[40];
        snprintf(field, sizeof field, "vitals.%s", key);
        ms__wf_unused(wf, field, v, "read as %.1f degrees Celsius (converted from Fahrenheit)",
                      *out);
        return 1;
    }
    if (*end && strcasecmp(end, "c") != 0 && strcasecmp(end, "°c") != 0 &&
        strcasecmp(end, "%") != 0 && strcasecmp(end, "bpm") != 0 && strcasecmp(end, "/min") != 0)
        return 0;
    *out = d;
    return 1;
}

/* Reads one bounded vital; 1 when usable. */
static int bounded(ms_wf_t *wf, const json_t *vitals, const bound_t *b, double *out) {
    json_t *v = json_object_get(vitals, b->key);
    char field[40];
    snprintf(field, sizeof field, "vitals.%s", b->key);
    if (!v || json_is_null(v))
        return 0;
    if (!read_value(wf, b->key, v, out)) {
        ms__wf_unused(wf, field, v, "not a number of %s", b->unit);
        return 0;
    }
    if (*out < b->lo || *out > b->hi) {
        const char *hint = "";
        if (!strcmp(b->key, "temperature") && *out >= 90 && *out <= 113)
            hint = " (it looks like Fahrenheit: send degrees Celsius, or \"101.3 F\")";
        else if (!strcmp(b->key, "spo2") && *out > 0 && *out <= 1)
            hint = " (it looks like a fraction: send a percentage)";
        ms__wf_unused(wf, field, v,
                      "outside %g-%g %s, the range a living patient can be measured with: not "
                      "used%s",
                      b->lo, b->hi, b->unit, hint);
        return 0;
    }
    return 1;
}

/* "130/80" or {systolic, diastolic}. */
static int blood_pressure(ms_wf_t *wf, const json_t *vitals, double *sys, double *dia) {
    json_t *v = json_object_get(vitals, "blood_pressure");
    if (!v || json_is_null(v))
        return 0;
    int ok = 0;
    if (json_is_string(v)) {
        char *end;
        const char *s = json_string_value(v);
        *sys = strtod(s, &end);
        ok = end != s && *end == '/';
        if (ok) {
            const char *d = end + 1;
            *dia = strtod(d, &end);
            ok = end != d && isfinite(*sys) && isfinite(*dia);
            while (ok && *end == ' ')
                end++;
            ok = ok && (!*end || !strcasecmp(end, "mmhg"));
        }
    } else if (json_is_object(v)) {
        ok = ms__wf_number(json_object_get(v, "systolic"), sys) &&
             ms__wf_number(json_object_get(v, "diastolic"), dia);
    }
    if (!ok) {
        ms__wf_unused(wf, "vitals.blood_pressure", v,
                      "not \"systolic/diastolic\" in mmHg (\"130/80\") nor {systolic, diastolic}");
        return 0;
    }
    if (*sys < 40 || *sys > 300 || *dia < 10 || *dia > 200 || *dia >= *sys) {
        ms__wf_unused(wf, "vitals.blood_pressure", v,
                      "outside systolic 40-300 above diastolic 10-200 mmHg: not used");
        return 0;
    }
    return 1;
}

/* ACVPU: alert, or new confusion, voice, pain, unresponsive. */
static int consciousness(ms_wf_t *wf, const json_t *vitals, double *alert) {
    json_t *v = json_object_get(vitals, "consciousness");
    if (!v || json_is_null(v))
        return 0;
    static const char *const cvpu[] = {
        "c",     "confusion", "new confusion", "confused", "v",
        "voice", "p",         "pain",          "u",        "unresponsive"};
    const char *s = json_string_value(v);
    if (s && (!strcasecmp(s, "a") || !strcasecmp(s, "alert"))) {
        *alert = 1;
        return 1;
    }
    for (size_t i = 0; s && i < MS_COUNTOF(cvpu); i++) {
        if (!strcasecmp(s, cvpu[i])) {
            *alert = 0;
            return 1;
        }
    }
    ms__wf_unused(wf, "vitals.consciousness", v,
                  "not one of ACVPU: alert, confusion, voice, pain, unresponsive");
    return 0;
}

/* Air or oxygen: on_oxygen / supplemental_oxygen (true/false) or
 * air_or_oxygen ("air" | "oxygen"). */
static int oxygen(ms_wf_t *wf, const json_t *vitals, double *on) {
    static const char *const keys[] = {"on_oxygen", "supplemental_oxygen", "oxygen"};
    for (size_t i = 0; i < MS_COUNTOF(keys); i++) {
        json_t *v = json_object_get(vitals, keys[i]);
        if (json_is_boolean(v)) {
            *on = json_is_true(v);
            return 1;
        }
    }
    json_t *v = json_object_get(vitals, "air_or_oxygen");
    const char *s = json_string_value(v);
    if (s && (!strcasecmp(s, "air") || !strcasecmp(s, "oxygen"))) {
        *on = !strcasecmp(s, "oxygen");
        return 1;
    }
    if (v)
        ms__wf_unused(wf, "vitals.air_or_oxygen", v, "not \"air\" or \"oxygen\"");
    return 0;
}

static void flag(ms_wf_t *wf, const char *vital, double value, const char *finding,
                 const char *rule, const char *source) {
    json_array_append_new(json_object_get(wf->vitals, "flags"),
                          json_pack("{s:s, s:f, s:s, s:s, s:s}", "vital", vital, "value", value,
                                    "finding", finding, "rule", rule, "source", source));
}

/* The NEWS2 flag of one parameter scoring above 0. */
static void news2_flag(ms_wf_t *wf, ms_news2_param_t p, double v) {
    static const char *const band0[] = {
        [MS_NEWS2_RESP_RATE] = "12-20 per minute",
        [MS_NEWS2_SPO2] = "96% or more (scale 1)",
        [MS_NEWS2_AIR_OXYGEN] = "air",
        [MS_NEWS2_SYSTOLIC_BP] = "111-219 mmHg",
        [MS_NEWS2_PULSE] = "51-90 per minute",
        [MS_NEWS2_CONSCIOUSNESS] = "alert",
        [MS_NEWS2_TEMPERATURE] = "36.1-38.0 degrees Celsius",
    };
    int s = wf->news2.score[p];
    if (s <= 0)
        return;
    char rule[160], finding[64];
    const char *band = band0[p];
    if (p == MS_NEWS2_SPO2 && json_integer_value(json_object_get(wf->vitals, "spo2_scale")) == 2)
        band = "88-92% on scale 2, or 93% or more on air";
    snprintf(rule, sizeof rule, "outside the NEWS2 0-score band (%s): scores %d", band, s);
    snprintf(finding, sizeof finding, "NEWS2 %s %d", ms_news2_param_name(p), s);
    flag(wf, ms_news2_param_name(p), v, finding, rule, NEWS2_SOURCE);
}

/* The ACC/AHA 2017 category of a blood pressure. */
static const char *bp_category(double sys, double dia) {
    if (sys > 180 || dia > 120)
        return "hypertensive crisis";
    if (sys >= 140 || dia >= 90)
        return "stage 2 hypertension";
    if (sys >= 130 || dia >= 80)
        return "stage 1 hypertension";
    if (sys >= 120)
        return "elevated";
    return "normal";
}

/* A finding from the vitals for the differential (fever, rapid
 * heartbeat), unless the clinician already listed it. */
static void derived_finding(ms_wf_t *wf, const char *name, const char *const *terms, size_t n,
                            const char *why) {
    size_t i;
    json_t *s;
    json_array_foreach(wf->symptoms, i, s) {
        if (!strcmp(json_string_value(json_object_get(s, "name")), name))
            return;
    }
    json_t *t = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(t, json_string(terms[k]));
    json_array_append_new(
        wf->symptoms, json_pack("{s:s, s:s, s:n, s:f, s:n, s:b, s:n, s:b, s:o, s:s}", "name", name,
                                "input", why, "severity", "weight", 1.0, "duration", "known", 1,
                                "mesh", "red_flag", 0, "search_terms", t, "source", "vitals"));
}

static void read_news2_input(ms_wf_t *wf, const json_t *vitals, ms_news2_input_t *in,
                             json_t *values) {
    double v;
    memset(in, 0, sizeof *in);
    in->spo2_scale = 1;
    json_t *scale = json_object_get(vitals, "spo2_scale");
    if (json_is_integer(scale) && json_integer_value(scale) == 2)
        in->spo2_scale = 2;
    else if (scale && !(json_is_integer(scale) && json_integer_value(scale) == 1))
        ms__wf_unused(wf, "vitals.spo2_scale", scale, "not 1 or 2: SpO2 scale 1 used");
    json_object_set_new(wf->vitals, "spo2_scale", json_integer(in->spo2_scale));
    const int map[] = {MS_NEWS2_TEMPERATURE, MS_NEWS2_PULSE, MS_NEWS2_RESP_RATE, MS_NEWS2_SPO2};
    for (size_t i = 0; i < MS_COUNTOF(bounds); i++) {
        if (bounded(wf, vitals, &bounds[i], &v)) {
            in->have[map[i]] = 1;
            in->value[map[i]] = v;
            json_object_set_new(values, bounds[i].key, json_real(v));
        }
    }
    double sys, dia;
    if (blood_pressure(wf, vitals, &sys, &dia)) {
        in->have[MS_NEWS2_SYSTOLIC_BP] = 1;
        in->value[MS_NEWS2_SYSTOLIC_BP] = sys;
        json_object_set_new(values, "blood_pressure",
                            json_pack("{s:f, s:f}", "systolic", sys, "diastolic", dia));
    }
    if (consciousness(wf, vitals, &v)) {
        in->have[MS_NEWS2_CONSCIOUSNESS] = 1;
        in->value[MS_NEWS2_CONSCIOUSNESS] = v;
        json_object_set_new(values, "consciousness", json_string(v ? "alert" : "CVPU"));
    }
    if (oxygen(wf, vitals, &v)) {
        in->have[MS_NEWS2_AIR_OXYGEN] = 1;
        in->value[MS_NEWS2_AIR_OXYGEN] = v;
        json_object_set_new(values, "air_or_oxygen", json_string(v ? "oxygen" : "air"));
    }
    static const char *const known[] = {"temperature",   "heart_rate",          "respiratory_rate",
                                        "spo2",          "blood_pressure",      "consciousness",
                                        "on_oxygen",     "supplemental_oxygen", "oxygen",
                                        "air_or_oxygen", "spo2_scale"};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)vitals, key, val) {
        int k = 0;
        for (size_t i = 0; i < MS_COUNTOF(known) && !k; i++)
            k = !strcmp(key, known[i]);
        if (!k) {
            char field[96];
            snprintf(field, sizeof field, "vitals.%.80s", key);
            ms__wf_unused(wf, field, val, "not a vital sign this workflow reads");
        }
    }
}

void ms__wf_vitals(ms_wf_t *wf) {
    const json_t *vitals = json_object_get(wf->request, "vitals");
    json_decref(wf->vitals);
    wf->vitals = json_pack("{s:o, s:o}", "values", json_object(), "flags", json_array());
    json_t *values = json_object_get(wf->vitals, "values");
    ms_news2_input_t in;
    read_news2_input(wf, vitals, &in, values);
    ms_news2_score(&in, &wf->news2);
    wf->news2_scored = 1;
    for (int p = 0; p < MS_NEWS2_NPARAMS; p++)
        if (in.have[p])
            news2_flag(wf, (ms_news2_param_t)p, in.value[p]);
    if (in.have[MS_NEWS2_SYSTOLIC_BP]) {
        json_t *bp = json_object_get(values, "blood_pressure");
        double sys = json_real_value(json_object_get(bp, "systolic"));
        double dia = json_real_value(json_object_get(bp, "diastolic"));
        const char *cat = bp_category(sys, dia);
        json_object_set_new(bp, "category", json_string(cat));
        if (strcmp(cat, "normal") != 0) {
            char rule[128];
            snprintf(rule, sizeof rule, "%.0f/%.0f mmHg is %s (ACC/AHA 2017)", sys, dia, cat);
            flag(wf, "blood_pressure", sys, cat, rule, ACC_AHA_SOURCE);
        }
    }
    if (in.have[MS_NEWS2_TEMPERATURE] && in.value[MS_NEWS2_TEMPERATURE] >= 38.0) {
        static const char *const t[] = {"fever", "pyrexia", "febrile", "high temperature"};
        flag(wf, "temperature", in.value[MS_NEWS2_TEMPERATURE], "fever",
             "38 degrees Celsius or more", "NHS, Fever in adults (nhs.uk)");
        derived_finding(wf, "fever", t, MS_COUNTOF(t), "temperature of 38 °C or more");
    }
    if (in.have[MS_NEWS2_PULSE] && in.value[MS_NEWS2_PULSE] > 100) {
        static const char *const t[] = {"tachycardia", "rapid heartbeat", "fast heart rate",
                                        "rapid heart rate"};
        flag(wf, "heart_rate", in.value[MS_NEWS2_PULSE], "tachycardia",
             "more than 100 beats a minute",
             "American Heart Association, Tachycardia: fast heart rate (heart.org)");
        derived_finding(wf, "rapid heartbeat", t, MS_COUNTOF(t), "heart rate above 100 a minute");
    }
}

json_t *ms__wf_news2_json(const ms_wf_t *wf) {
    if (!wf->news2_scored)
        return json_null();
    json_t *params = json_object(), *missing = json_array();
    json_t *values = json_object_get(wf->vitals, "values");
    static const char *const value_key[] = {
        [MS_NEWS2_RESP_RATE] = "respiratory_rate", [MS_NEWS2_SPO2] = "spo2",
        [MS_NEWS2_AIR_OXYGEN] = "air_or_oxygen",   [MS_NEWS2_SYSTOLIC_BP] = "blood_pressure",
        [MS_NEWS2_PULSE] = "heart_rate",           [MS_NEWS2_CONSCIOUSNESS] = "consciousness",
        [MS_NEWS2_TEMPERATURE] = "temperature",
    };
    for (int p = 0; p < MS_NEWS2_NPARAMS; p++) {
        const char *name = ms_news2_param_name((ms_news2_param_t)p);
        int s = wf->news2.score[p];
        if (s < 0) {
            json_array_append_new(missing, json_string(name));
            json_object_set_new(params, name, json_null());
            continue;
        }
        json_t *v = json_object_get(values, value_key[p]);
        if (p == MS_NEWS2_SYSTOLIC_BP)
            v = json_object_get(v, "systolic");
        json_object_set_new(params, name, json_pack("{s:O?, s:i}", "value", v, "score", s));
    }
    int complete = wf->news2.npresent == MS_NEWS2_NPARAMS;
    json_t *o = json_pack(
        "{s:i, s:b, s:i, s:o, s:o, s:b, s:s, s:s, s:I, s:s}", "aggregate", wf->news2.aggregate,
        "complete", complete, "parameters_scored", wf->news2.npresent, "parameters", params,
        "missing", missing, "red_score", wf->news2.red, "clinical_risk", ms_news2_risk(&wf->news2),
        "urgency", ms_news2_urgency(&wf->news2), "spo2_scale",
        json_integer_value(json_object_get(wf->vitals, "spo2_scale")), "source",
        "Royal College of Physicians, National Early Warning Score (NEWS) 2, 2017");
    if (!complete)
        json_object_set_new(o, "note",
                            json_string(wf->news2.npresent
                                            ? "scored over the parameters present: the aggregate "
                                              "is a lower bound of the full score"
                                            : "no NEWS2 parameter was given: not scored"));
    return o;
}
