/* Validation of a clinical context (clinical.h): every member's type, unit
 * and plausibility range, with an error sentence naming the field.
 *
 * The bounds (docs/protocol.md, "Clinical context", gives the sources) are
 * wide on purpose: a context is what a clinician recorded, and refusing a
 * real but extreme value would be worse than useless. What they catch is
 * the wrong unit (Fahrenheit, metres, a fraction for SpO2) and the typo. */
#include "clinical/clinical.h"

#include "core/buf.h"
#include "core/ms.h"
#include "core/utf8.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A numeric member: its name, unit, bounds and whether it must be whole. */
typedef struct {
    const char *name;
    const char *what; /* "a number of kilograms" */
    double lo, hi;
    int integer;
} num_rule_t;

static const num_rule_t age_rule = {"age", "a whole number of years", 0, 130, 1};
static const num_rule_t weight_rule = {"weight_kg", "a number of kilograms", 0.2, 700, 0};
static const num_rule_t height_rule = {"height_cm", "a number of centimetres", 20, 300, 0};
static const num_rule_t vital_rules[] = {
    {"temperature", "a number of degrees Celsius", 10, 47, 0},
    {"heart_rate", "a whole number of beats per minute", 10, 350, 1},
    {"respiratory_rate", "a whole number of breaths per minute", 1, 120, 1},
    {"spo2", "a percentage", 50, 100, 0},
};

#define BP_SYS_LO 40
#define BP_SYS_HI 300
#define BP_DIA_LO 10
#define BP_DIA_HI 200

static const char *const genders[] = {"male", "female", "other", "unknown"};
static const char *const lists[] = {"problems", "medications", "allergies"};

/* Why a value is probably in another unit, for the error message. */
static const char *unit_hint(const char *name, double v) {
    if (!strcmp(name, "temperature") && v >= 86 && v <= 113)
        return " (that looks like Fahrenheit)";
    if (!strcmp(name, "height_cm") && v > 0.2 && v < 3)
        return " (that looks like metres)";
    if (!strcmp(name, "spo2") && v > 0 && v <= 1)
        return " (that looks like a fraction, not a percentage)";
    return "";
}

static void fmt_num(char *out, size_t n, double v) {
    snprintf(out, n, "%g", v);
}

static int check_num(json_t *v, const num_rule_t *r, const char *prefix, json_t **out, char *err,
                     size_t errlen) {
    char lo[32], hi[32];
    fmt_num(lo, sizeof lo, r->lo);
    fmt_num(hi, sizeof hi, r->hi);
    if (json_is_null(v)) {
        *out = json_null();
        return 0;
    }
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    int ok = json_is_number(v) && isfinite(d) && d >= r->lo && d <= r->hi &&
             (!r->integer || d == floor(d));
    if (!ok) {
        snprintf(err, errlen, "%s%s must be %s from %s to %s%s", prefix, r->name, r->what, lo, hi,
                 json_is_number(v) ? unit_hint(r->name, d) : "");
        return MS_EINVAL;
    }
    *out = r->integer ? json_integer((json_int_t)d) : json_real(d);
    return 0;
}

/* A string with no NUL, trimmed of ASCII white space; "" after trimming is
 * null. max code points. */
static int check_str(json_t *v, const char *field, size_t max, json_t **out, char *err,
                     size_t errlen) {
    if (json_is_null(v)) {
        *out = json_null();
        return 0;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!s || strlen(s) != n) {
        snprintf(err, errlen, "%s must be a string of at most %zu characters", field, max);
        return MS_EINVAL;
    }
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (ms_utf8_count(s, n) > (long)max) {
        snprintf(err, errlen, "%s must be a string of at most %zu characters", field, max);
        return MS_EINVAL;
    }
    *out = n ? json_stringn(s, n) : json_null();
    return 0;
}

static int check_gender(json_t *v, json_t **out, char *err, size_t errlen) {
    if (json_is_null(v)) {
        *out = json_null();
        return 0;
    }
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < MS_COUNTOF(genders); i++) {
        if (!strcasecmp(s, genders[i])) {
            *out = json_string(genders[i]);
            return 0;
        }
    }
    snprintf(err, errlen,
             "gender must be one of \"male\", \"female\", \"other\" or \"unknown\" (FHIR "
             "AdministrativeGender)");
    return MS_EINVAL;
}

/* A list of strings: each entry trimmed, non-empty, within max_chars;
 * case-insensitive duplicates dropped (first kept); at most max_items. */
static int check_list(json_t *v, const char *field, const ms_clinical_limits_t *lim, json_t **out,
                      char *err, size_t errlen) {
    if (json_is_null(v)) {
        *out = json_array();
        return 0;
    }
    if (!json_is_array(v)) {
        snprintf(err, errlen, "%s must be an array of strings", field);
        return MS_EINVAL;
    }
    json_t *arr = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char name[48];
        snprintf(name, sizeof name, "%s[%zu]", field, i);
        json_t *s = NULL;
        if (!json_is_string(e) || check_str(e, name, lim->max_chars, &s, err, errlen) != 0 ||
            json_is_null(s)) {
            snprintf(err, errlen, "%s must be a non-empty string of at most %zu characters", name,
                     lim->max_chars);
            json_decref(s);
            json_decref(arr);
            return MS_EINVAL;
        }
        int dup = 0;
        size_t j;
        json_t *have;
        json_array_foreach(arr, j, have) dup |=
            !strcasecmp(json_string_value(have), json_string_value(s));
        if (dup) {
            json_decref(s);
            continue;
        }
        if (json_array_size(arr) >= lim->max_items) {
            json_decref(s);
            json_decref(arr);
            snprintf(err, errlen, "%s holds more than %zu entries", field, lim->max_items);
            return MS_EINVAL;
        }
        json_array_append_new(arr, s);
    }
    *out = arr;
    return 0;
}

/* "S/D" with optional spaces around the slash, whole numbers of mmHg. */
static int check_bp(json_t *v, json_t **out, char *err, size_t errlen) {
    if (json_is_null(v)) {
        *out = json_null();
        return 0;
    }
    const char *s = json_string_value(v);
    long sys = -1, dia = -1;
    if (s && strlen(s) < 32) {
        char *end;
        const char *p = s;
        while (*p == ' ')
            p++;
        if (isdigit((unsigned char)*p)) {
            sys = strtol(p, &end, 10);
            p = end;
            while (*p == ' ')
                p++;
            if (*p == '/') {
                p++;
                while (*p == ' ')
                    p++;
                if (isdigit((unsigned char)*p)) {
                    dia = strtol(p, &end, 10);
                    p = end;
                    while (*p == ' ')
                        p++;
                    if (*p)
                        dia = -1;
                }
            }
        }
    }
    if (sys < BP_SYS_LO || sys > BP_SYS_HI || dia < BP_DIA_LO || dia > BP_DIA_HI || sys <= dia) {
        snprintf(err, errlen,
                 "vitals.blood_pressure must be \"systolic/diastolic\" in mmHg, e.g. \"120/80\" "
                 "(systolic %d to %d, diastolic %d to %d, systolic above diastolic)",
                 BP_SYS_LO, BP_SYS_HI, BP_DIA_LO, BP_DIA_HI);
        return MS_EINVAL;
    }
    char bp[32];
    snprintf(bp, sizeof bp, "%ld/%ld", sys, dia);
    *out = json_string(bp);
    return 0;
}

static int check_vitals(json_t *v, json_t **out, char *err, size_t errlen) {
    if (json_is_null(v)) {
        *out = json_object();
        return 0;
    }
    if (!json_is_object(v)) {
        snprintf(err, errlen,
                 "vitals must be an object (temperature, heart_rate, "
                 "blood_pressure, respiratory_rate, spo2)");
        return MS_EINVAL;
    }
    json_t *o = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        json_t *norm = NULL;
        int rc = MS_EINVAL;
        const num_rule_t *rule = NULL;
        for (size_t i = 0; i < MS_COUNTOF(vital_rules); i++)
            if (!strcmp(key, vital_rules[i].name))
                rule = &vital_rules[i];
        if (rule)
            rc = check_num(val, rule, "vitals.", &norm, err, errlen);
        else if (!strcmp(key, "blood_pressure"))
            rc = check_bp(val, &norm, err, errlen);
        else
            snprintf(err, errlen,
                     "vitals.%.40s is not a vital sign a context records (temperature, "
                     "heart_rate, blood_pressure, respiratory_rate, spo2)",
                     key);
        if (rc) {
            json_decref(o);
            return rc;
        }
        /* A cleared vital is simply absent. */
        if (json_is_null(norm))
            json_decref(norm);
        else
            json_object_set_new(o, key, norm);
    }
    *out = o;
    return 0;
}

static int check_member(const char *key, json_t *val, const ms_clinical_limits_t *lim,
                        json_t **norm, char *err, size_t errlen) {
    if (!strcmp(key, "age"))
        return check_num(val, &age_rule, "", norm, err, errlen);
    if (!strcmp(key, "weight_kg"))
        return check_num(val, &weight_rule, "", norm, err, errlen);
    if (!strcmp(key, "height_cm"))
        return check_num(val, &height_rule, "", norm, err, errlen);
    if (!strcmp(key, "gender"))
        return check_gender(val, norm, err, errlen);
    if (!strcmp(key, "chief_complaint"))
        return check_str(val, "chief_complaint", lim->max_chars, norm, err, errlen);
    if (!strcmp(key, "vitals"))
        return check_vitals(val, norm, err, errlen);
    for (size_t i = 0; i < MS_COUNTOF(lists); i++)
        if (!strcmp(key, lists[i]))
            return check_list(val, key, lim, norm, err, errlen);
    snprintf(err, errlen,
             "\"%.40s\" is not a clinical-context field (age, gender, weight_kg, height_cm, "
             "chief_complaint, problems, medications, allergies, vitals)",
             key);
    return MS_EINVAL;
}

int ms_clinical_check(json_t *in, const ms_clinical_limits_t *lim, json_t **out, char *err,
                      size_t errlen) {
    *out = NULL;
    if (!json_is_object(in)) {
        snprintf(err, errlen, "a clinical context must be a JSON object");
        return MS_EINVAL;
    }
    ms_clinical_limits_t dflt = {MS_CLINICAL_MAX_ITEMS, MS_CLINICAL_MAX_CHARS};
    if (!lim)
        lim = &dflt;
    json_t *o = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(in, key, val) {
        json_t *norm = NULL;
        int rc = check_member(key, val, lim, &norm, err, errlen);
        if (rc) {
            json_decref(o);
            return rc;
        }
        json_object_set_new(o, key, norm);
    }
    *out = o;
    return 0;
}

/* ---- the context as prompt text ------------------------------------------------ */

static void prompt_list(ms_buf_t *b, const json_t *ctx, const char *key, const char *label) {
    const json_t *a = json_object_get(ctx, key);
    if (!json_is_array(a) || json_array_size(a) == 0)
        return;
    ms_buf_printf(b, "%s: ", label);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *v = json_string_value(json_array_get(a, i));
        if (v)
            ms_buf_printf(b, "%s%s", i ? "; " : "", v);
    }
    ms_buf_puts(b, "\n");
}

static void prompt_number(ms_buf_t *b, const json_t *obj, const char *key, const char *fmt,
                          int *first) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return;
    if (!*first)
        ms_buf_puts(b, "; ");
    *first = 0;
    ms_buf_printf(b, fmt, json_number_value(v));
}

char *ms_clinical_prompt_text(const json_t *ctx) {
    if (!json_is_object(ctx))
        return NULL;
    ms_buf_t b;
    ms_buf_init(&b);
    const json_t *age = json_object_get(ctx, "age");
    if (json_is_integer(age))
        ms_buf_printf(&b, "Age: %lld years\n", (long long)json_integer_value(age));
    const char *gender = json_string_value(json_object_get(ctx, "gender"));
    if (gender)
        ms_buf_printf(&b, "Gender: %s\n", gender);
    int first = 1;
    ms_buf_t body;
    ms_buf_init(&body);
    prompt_number(&body, ctx, "weight_kg", "weight %.1f kg", &first);
    prompt_number(&body, ctx, "height_cm", "height %.0f cm", &first);
    if (body.len)
        ms_buf_printf(&b, "Body: %s\n", ms_buf_cstr(&body));
    ms_buf_free(&body);
    const char *cc = json_string_value(json_object_get(ctx, "chief_complaint"));
    if (cc)
        ms_buf_printf(&b, "Chief complaint: %s\n", cc);
    prompt_list(&b, ctx, "problems", "Problems");
    prompt_list(&b, ctx, "medications", "Medications");
    prompt_list(&b, ctx, "allergies", "Allergies");
    const json_t *vit = json_object_get(ctx, "vitals");
    if (json_is_object(vit)) {
        ms_buf_t v;
        ms_buf_init(&v);
        first = 1;
        prompt_number(&v, vit, "temperature", "temperature %.1f \u00b0C", &first);
        prompt_number(&v, vit, "heart_rate", "heart rate %.0f /min", &first);
        const char *bp = json_string_value(json_object_get(vit, "blood_pressure"));
        if (bp) {
            ms_buf_printf(&v, "%sblood pressure %s mmHg", first ? "" : "; ", bp);
            first = 0;
        }
        prompt_number(&v, vit, "respiratory_rate", "respiratory rate %.0f /min", &first);
        prompt_number(&v, vit, "spo2", "SpO2 %.0f %%", &first);
        if (v.len)
            ms_buf_printf(&b, "Vitals: %s\n", ms_buf_cstr(&v));
        ms_buf_free(&v);
    }
    if (b.len == 0) {
        ms_buf_free(&b);
        return NULL;
    }
    return ms_buf_take(&b);
}
