/* The requests (seed 004's "data" objects, docs/workflows.md "Requests"):
 * their validation, the stored form, the line that stands for them in the
 * conversation, and the clinical context filling what they leave out.
 *
 * A shape error is refused before anything is stored; a value that parses
 * but cannot be used is kept, and the stage that reads it says why it was
 * not used ("unused" in the result). */
#include "workflow/wf_internal.h"

#include "core/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms_wf_limits_default(ms_wf_limits_t *lim) {
    lim->max_symptoms = 30;
    lim->max_items = 50;
    lim->max_chars = 200;
    lim->differential_k = 5;
    lim->max_medications = 12;
}

int ms_wf_parse_kind(const char *s, ms_wf_kind_t *out) {
    if (s && !strcmp(s, "diagnosis")) {
        *out = MS_WF_DIAGNOSIS;
        return 0;
    }
    if (s && !strcmp(s, "prescription")) {
        *out = MS_WF_PRESCRIPTION;
        return 0;
    }
    return MS_EINVAL;
}

const char *ms_wf_kind_name(ms_wf_kind_t kind) {
    return kind == MS_WF_PRESCRIPTION ? "prescription" : "diagnosis";
}

void ms__wf_unused(ms_wf_t *wf, const char *field, const json_t *value, const char *fmt, ...) {
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    json_t *u = json_pack("{s:s, s:s}", "field", field, "reason", why);
    if (value)
        json_object_set_new(u, "value", json_deep_copy(value));
    json_array_append_new(wf->unused, u);
}

int ms__wf_number(const json_t *v, double *out) {
    if (json_is_integer(v) || json_is_real(v)) {
        *out = json_number_value(v);
        return isfinite(*out);
    }
    return 0;
}

double ms__wf_age(const json_t *v) {
    double a;
    return ms__wf_number(v, &a) && a >= 0 && a <= 130 ? a : -1;
}

int ms__wf_get_str(const json_t *obj, const char *key, const char *path, size_t max_chars,
                   char **out, char *err, size_t errlen) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s must be a string", path);
        return MS_EINVAL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        snprintf(err, errlen, "%s must not contain NUL characters", path);
        return MS_EINVAL;
    }
    if ((size_t)ms_utf8_count(s, strlen(s)) > max_chars) {
        snprintf(err, errlen, "%s is longer than %zu characters (workflow_max_chars)", path,
                 max_chars);
        return MS_ETOOBIG;
    }
    *out = ms__wf_norm(s);
    if (!**out) {
        free(*out);
        *out = NULL;
    }
    return 0;
}

/* A list of strings (or, where objects are allowed, of objects whose
 * "name", "display", "text" or "substance" is the string and "code" a
 * code), normalised to [{"text", "code"?}] or plain strings. */
static int get_list(const json_t *obj, const char *key, const char *path, const ms_wf_limits_t *lim,
                    int objects, json_t **out, char *err, size_t errlen) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        /* One entry given as a string: "penicillin". */
        json_t *wrap = json_pack("{s:[O]}", "x", v);
        int rc = get_list(wrap, "x", path, lim, objects, out, err, errlen);
        json_decref(wrap);
        return rc;
    }
    if (!json_is_array(v)) {
        snprintf(err, errlen, "%s must be a list", path);
        return MS_EINVAL;
    }
    if (json_array_size(v) > lim->max_items) {
        snprintf(err, errlen, "%s has %zu entries; at most %zu are accepted (workflow_max_items)",
                 path, json_array_size(v), lim->max_items);
        return MS_ETOOBIG;
    }
    json_t *list = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char where[96], *text = NULL, *code = NULL;
        snprintf(where, sizeof where, "%s[%zu]", path, i);
        int rc = 0;
        if (json_is_string(e)) {
            json_t *w = json_pack("{s:O}", "text", e);
            rc = ms__wf_get_str(w, "text", where, lim->max_chars, &text, err, errlen);
            json_decref(w);
        } else if (objects && json_is_object(e)) {
            static const char *const keys[] = {"name", "display", "text", "substance"};
            for (size_t k = 0; k < MS_COUNTOF(keys) && !text && !rc; k++)
                rc = ms__wf_get_str(e, keys[k], where, lim->max_chars, &text, err, errlen);
            if (!rc)
                rc = ms__wf_get_str(e, "code", where, 32, &code, err, errlen);
        } else {
            snprintf(err, errlen, "%s must be a string%s", where, objects ? " or an object" : "");
            rc = MS_EINVAL;
        }
        if (rc) {
            free(text);
            free(code);
            json_decref(list);
            return rc;
        }
        if (text || code) {
            if (objects) {
                json_t *o = json_pack("{s:s}", "text", text ? text : code);
                if (code)
                    json_object_set_new(o, "code", json_string(code));
                json_array_append_new(list, o);
            } else {
                json_array_append_new(list, json_string(text));
            }
        }
        free(text);
        free(code);
    }
    *out = list;
    return 0;
}

/* A member that must be an object when present. */
static int get_object(const json_t *obj, const char *key, const char *path, json_t **out, char *err,
                      size_t errlen) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        snprintf(err, errlen, "%s must be an object", path);
        return MS_EINVAL;
    }
    *out = v;
    return 0;
}

/* One symptom: {name, severity?, duration?} or a string. */
static int parse_symptom(const json_t *e, size_t i, const ms_wf_limits_t *lim, json_t *out,
                         char *err, size_t errlen) {
    char where[64];
    snprintf(where, sizeof where, "data.symptoms[%zu]", i);
    json_t *o = json_is_string(e) ? json_pack("{s:O}", "name", e) : json_incref((json_t *)e);
    if (!json_is_object(o)) {
        json_decref(o);
        snprintf(err, errlen, "%s must be an object {name, severity, duration} or a string", where);
        return MS_EINVAL;
    }
    char *name = NULL, *sev = NULL, *dur = NULL, path[96];
    snprintf(path, sizeof path, "%s.name", where);
    int rc = ms__wf_get_str(o, "name", path, lim->max_chars, &name, err, errlen);
    if (!rc && !name) {
        snprintf(err, errlen, "%s.name is required", where);
        rc = MS_EINVAL;
    }
    snprintf(path, sizeof path, "%s.severity", where);
    json_t *sv = json_object_get(o, "severity");
    if (!rc && sv && !json_is_null(sv) && !json_is_string(sv)) {
        snprintf(err, errlen, "%s must be a string (mild, moderate or severe)", path);
        rc = MS_EINVAL;
    }
    if (!rc)
        rc = ms__wf_get_str(o, "severity", path, 32, &sev, err, errlen);
    json_t *dv = json_object_get(o, "duration");
    if (!rc && json_is_integer(dv)) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld days", (long long)json_integer_value(dv));
        dur = ms_xstrdup(tmp);
    } else if (!rc) {
        snprintf(path, sizeof path, "%s.duration", where);
        rc = ms__wf_get_str(o, "duration", path, 64, &dur, err, errlen);
    }
    if (!rc)
        json_array_append_new(
            out, json_pack("{s:s, s:s?, s:s?}", "name", name, "severity", sev, "duration", dur));
    free(name);
    free(sev);
    free(dur);
    json_decref(o);
    return rc;
}

static int parse_diagnosis(const json_t *data, const ms_wf_limits_t *lim, json_t *req, char *err,
                           size_t errlen) {
    json_t *sym = json_object_get(data, "symptoms");
    json_t *list = json_array();
    json_object_set_new(req, "symptoms", list);
    if (sym && !json_is_null(sym)) {
        if (!json_is_array(sym)) {
            snprintf(err, errlen, "data.symptoms must be a list of {name, severity, duration}");
            return MS_EINVAL;
        }
        if (json_array_size(sym) > lim->max_symptoms) {
            snprintf(err, errlen,
                     "data.symptoms has %zu entries; at most %zu are accepted "
                     "(workflow_max_symptoms)",
                     json_array_size(sym), lim->max_symptoms);
            return MS_ETOOBIG;
        }
        size_t i;
        json_t *e;
        json_array_foreach(sym, i, e) {
            int rc = parse_symptom(e, i, lim, list, err, errlen);
            if (rc)
                return rc;
        }
    }
    json_t *vitals, *history;
    int rc = get_object(data, "vitals", "data.vitals", &vitals, err, errlen);
    if (!rc)
        rc = get_object(data, "history", "data.history", &history, err, errlen);
    if (rc)
        return rc;
    /* Vitals are kept as sent: vitals_evaluation says which it could use. */
    json_object_set_new(req, "vitals", vitals ? json_deep_copy(vitals) : json_object());
    json_t *h = json_object();
    json_object_set_new(req, "history", h);
    if (history) {
        json_t *age = json_object_get(history, "age");
        if (age)
            json_object_set(h, "age", age);
        char *sex = NULL;
        rc = ms__wf_get_str(history, "sex", "data.history.sex", 32, &sex, err, errlen);
        if (!rc && !sex)
            rc = ms__wf_get_str(history, "gender", "data.history.gender", 32, &sex, err, errlen);
        if (sex)
            json_object_set_new(h, "sex", json_string(sex));
        free(sex);
        static const char *const lists[][2] = {{"allergies", "data.history.allergies"},
                                               {"conditions", "data.history.conditions"},
                                               {"medications", "data.history.medications"}};
        for (size_t k = 0; k < MS_COUNTOF(lists) && !rc; k++) {
            json_t *l = NULL;
            rc = get_list(history, lists[k][0], lists[k][1], lim, k == 0, &l, err, errlen);
            if (l)
                json_object_set_new(h, lists[k][0], l);
        }
    }
    return rc;
}

static int parse_prescription(const json_t *data, const ms_wf_limits_t *lim, json_t *req, char *err,
                              size_t errlen) {
    char *dx = NULL;
    int rc = ms__wf_get_str(data, "diagnosis", "data.diagnosis", lim->max_chars, &dx, err, errlen);
    if (rc)
        return rc;
    if (dx)
        json_object_set_new(req, "diagnosis", json_string(dx));
    free(dx);
    json_t *pi;
    if ((rc = get_object(data, "patient_info", "data.patient_info", &pi, err, errlen)) != 0)
        return rc;
    json_t *p = json_object();
    json_object_set_new(req, "patient_info", p);
    if (pi) {
        static const char *const keep[] = {"age", "weight", "weight_kg", "pregnant"};
        for (size_t k = 0; k < MS_COUNTOF(keep); k++)
            if (json_object_get(pi, keep[k]))
                json_object_set(p, keep[k], json_object_get(pi, keep[k]));
        char *sex = NULL;
        rc = ms__wf_get_str(pi, "sex", "data.patient_info.sex", 32, &sex, err, errlen);
        if (!rc && !sex)
            rc = ms__wf_get_str(pi, "gender", "data.patient_info.gender", 32, &sex, err, errlen);
        if (sex)
            json_object_set_new(p, "sex", json_string(sex));
        free(sex);
        if (rc)
            return rc;
        json_t *cond = NULL;
        rc = get_list(pi, "conditions", "data.patient_info.conditions", lim, 0, &cond, err, errlen);
        if (cond)
            json_object_set_new(p, "conditions", cond);
        if (rc)
            return rc;
    }
    static const char *const lists[][2] = {{"allergies", "data.allergies"},
                                           {"medications", "data.medications"},
                                           {"current_medications", "data.current_medications"},
                                           {"conditions", "data.conditions"}};
    for (size_t k = 0; k < MS_COUNTOF(lists) && !rc; k++) {
        json_t *l = NULL;
        rc = get_list(data, lists[k][0], lists[k][1], lim, k == 0, &l, err, errlen);
        if (l)
            json_object_set_new(req, lists[k][0], l);
    }
    return rc;
}

/* ---- the summary line ------------------------------------------------------ */

static void put_list(ms_buf_t *b, const char *label, const json_t *list) {
    size_t i;
    json_t *e;
    if (!json_array_size(list))
        return;
    ms_buf_printf(b, "; %s: ", label);
    json_array_foreach(list, i, e) {
        const char *s = json_is_string(e) ? json_string_value(e)
                                          : json_string_value(json_object_get(e, "text"));
        ms_buf_printf(b, "%s%s", i ? ", " : "", s ? s : "?");
    }
}

static void put_num(ms_buf_t *b, const char *label, const json_t *v, const char *unit, int *first) {
    double d;
    if (ms__wf_number(v, &d))
        ms_buf_printf(b, "%s%s %g%s", *first ? "" : ", ", label, d, unit);
    else if (json_is_string(v))
        ms_buf_printf(b, "%s%s %s%s", *first ? "" : ", ", label, json_string_value(v), unit);
    else
        return;
    *first = 0;
}

static void summarise(ms_wf_t *wf) {
    ms_buf_t b;
    ms_buf_init(&b);
    json_t *r = wf->request;
    if (wf->kind == MS_WF_DIAGNOSIS) {
        ms_buf_puts(&b, "Diagnosis request: ");
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(r, "symptoms"), i, s) {
            const char *sev = json_string_value(json_object_get(s, "severity"));
            const char *dur = json_string_value(json_object_get(s, "duration"));
            ms_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(json_object_get(s, "name")));
            if (sev || dur)
                ms_buf_printf(&b, " (%s%s%s)", sev ? sev : "", sev && dur ? ", " : "",
                              dur ? dur : "");
        }
        if (!json_array_size(json_object_get(r, "symptoms")))
            ms_buf_puts(&b, "no symptoms given");
        json_t *v = json_object_get(r, "vitals");
        if (json_object_size(v)) {
            int first = 1;
            ms_buf_puts(&b, "; vitals: ");
            put_num(&b, "temperature", json_object_get(v, "temperature"), "", &first);
            put_num(&b, "heart rate", json_object_get(v, "heart_rate"), "", &first);
            put_num(&b, "blood pressure", json_object_get(v, "blood_pressure"), "", &first);
            put_num(&b, "respiratory rate", json_object_get(v, "respiratory_rate"), "", &first);
            put_num(&b, "SpO2", json_object_get(v, "spo2"), "", &first);
        }
        json_t *h = json_object_get(r, "history");
        double age = ms__wf_age(json_object_get(h, "age"));
        const char *sex = json_string_value(json_object_get(h, "sex"));
        if (age >= 0)
            ms_buf_printf(&b, "; age %g", age);
        if (sex)
            ms_buf_printf(&b, "%s%s", age >= 0 ? ", " : "; ", sex);
        put_list(&b, "allergies", json_object_get(h, "allergies"));
    } else {
        const char *dx = json_string_value(json_object_get(r, "diagnosis"));
        ms_buf_printf(&b, "Prescription request: %s", dx ? dx : "no diagnosis given");
        json_t *p = json_object_get(r, "patient_info");
        double age = ms__wf_age(json_object_get(p, "age")), w;
        const char *sex = json_string_value(json_object_get(p, "sex"));
        if (age >= 0)
            ms_buf_printf(&b, "; age %g", age);
        if (sex)
            ms_buf_printf(&b, "%s%s", age >= 0 ? ", " : "; ", sex);
        if (ms__wf_number(json_object_get(p, "weight"), &w))
            ms_buf_printf(&b, ", %g kg", w);
        put_list(&b, "allergies", json_object_get(r, "allergies"));
        put_list(&b, "proposed", json_object_get(r, "medications"));
        put_list(&b, "current medications", json_object_get(r, "current_medications"));
    }
    /* The conversation's title is its first 60 characters; keep the line
     * readable, not the whole request (which is stored with the message). */
    ms_buf_cstr(&b);
    size_t keep = ms_utf8_prefix(b.data, b.len, 600);
    if (keep < b.len) {
        b.len = keep;
        ms_buf_puts(&b, "...");
    }
    ms_buf_cstr(&b);
    wf->summary = ms_buf_take(&b);
}

int ms_wf_new(ms_wf_kind_t kind, const json_t *data, const ms_wf_limits_t *lim, ms_wf_t **out,
              char *err, size_t errlen) {
    *out = NULL;
    if (!json_is_object(data)) {
        snprintf(err, errlen, "\"data\" must be an object");
        return MS_EINVAL;
    }
    ms_wf_t *wf = ms_xcalloc(1, sizeof *wf);
    wf->kind = kind;
    if (lim)
        wf->lim = *lim;
    else
        ms_wf_limits_default(&wf->lim);
    wf->request = json_object();
    wf->from_context = json_array();
    wf->unused = json_array();
    wf->notes = json_array();
    wf->citations = json_array();
    ms__wf_init(wf);
    int rc = kind == MS_WF_DIAGNOSIS ? parse_diagnosis(data, &wf->lim, wf->request, err, errlen)
                                     : parse_prescription(data, &wf->lim, wf->request, err, errlen);
    if (rc) {
        ms_wf_free(wf);
        return rc;
    }
    summarise(wf);
    *out = wf;
    return 0;
}

ms_wf_kind_t ms_wf_kind(const ms_wf_t *wf) {
    return wf->kind;
}

json_t *ms_wf_request(const ms_wf_t *wf) {
    return wf->request;
}

const char *ms_wf_summary(const ms_wf_t *wf) {
    return wf->summary;
}

/* ---- the clinical context ---------------------------------------------------- */

/* Sets obj[key] from the context's ctx_key when obj lacks it; records the
 * field. */
static void fill(ms_wf_t *wf, json_t *obj, const char *key, const json_t *ctx, const char *ctx_key,
                 const char *field) {
    json_t *have = json_object_get(obj, key);
    json_t *v = json_object_get(ctx, ctx_key);
    int empty = !have || json_is_null(have) || (json_is_array(have) && !json_array_size(have));
    if (!empty || !v || json_is_null(v) || (json_is_array(v) && !json_array_size(v)))
        return;
    if (json_is_array(v) && json_array_size(v) > wf->lim.max_items) {
        /* The context's own limit (clinical_max_items) may be larger. */
        json_t *cut = json_array();
        for (size_t i = 0; i < wf->lim.max_items; i++)
            json_array_append(cut, json_array_get(v, i));
        json_object_set_new(obj, key, cut);
        ms__wf_unused(wf, field, NULL,
                      "the clinical context lists %zu entries; the first %zu "
                      "were used (workflow_max_items)",
                      json_array_size(v), wf->lim.max_items);
    } else {
        json_object_set_new(obj, key, json_deep_copy(v));
    }
    json_array_append_new(wf->from_context, json_string(field));
}

/* The context's allergies as the request's [{text}] list. */
static json_t *as_entries(const json_t *list) {
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (json_is_string(e))
            json_array_append_new(out, json_pack("{s:s}", "text", json_string_value(e)));
    }
    return out;
}

static void fill_allergies(ms_wf_t *wf, json_t *obj, const json_t *ctx, const char *field) {
    json_t *have = json_object_get(obj, "allergies");
    json_t *v = json_object_get(ctx, "allergies");
    if ((have && json_array_size(have)) || !json_array_size(v))
        return;
    json_t *tmp = json_pack("{s:o}", "allergies", as_entries(v));
    fill(wf, obj, "allergies", tmp, "allergies", field);
    json_decref(tmp);
}

void ms_wf_apply_context(ms_wf_t *wf, const json_t *ctx) {
    if (!json_is_object(ctx))
        return;
    json_t *r = wf->request;
    if (wf->kind == MS_WF_DIAGNOSIS) {
        json_t *h = json_object_get(r, "history");
        fill(wf, h, "age", ctx, "age", "history.age");
        fill(wf, h, "sex", ctx, "gender", "history.sex");
        fill(wf, h, "conditions", ctx, "problems", "history.conditions");
        fill(wf, h, "medications", ctx, "medications", "history.medications");
        fill_allergies(wf, h, ctx, "history.allergies");
        json_t *v = json_object_get(r, "vitals");
        json_t *cv = json_object_get(ctx, "vitals");
        static const char *const keys[] = {"temperature", "heart_rate", "blood_pressure",
                                           "respiratory_rate", "spo2"};
        for (size_t k = 0; k < MS_COUNTOF(keys); k++) {
            char field[48];
            snprintf(field, sizeof field, "vitals.%s", keys[k]);
            fill(wf, v, keys[k], cv, keys[k], field);
        }
        const char *cc = json_string_value(json_object_get(ctx, "chief_complaint"));
        if (cc && !json_array_size(json_object_get(r, "symptoms"))) {
            json_array_append_new(json_object_get(r, "symptoms"), json_pack("{s:s}", "name", cc));
            json_array_append_new(wf->from_context, json_string("symptoms"));
        }
    } else {
        json_t *p = json_object_get(r, "patient_info");
        fill(wf, p, "age", ctx, "age", "patient_info.age");
        fill(wf, p, "sex", ctx, "gender", "patient_info.sex");
        fill(wf, p, "weight", ctx, "weight_kg", "patient_info.weight");
        fill(wf, p, "conditions", ctx, "problems", "patient_info.conditions");
        fill(wf, r, "current_medications", ctx, "medications", "current_medications");
        fill_allergies(wf, r, ctx, "allergies");
        if (!json_object_get(r, "diagnosis")) {
            const char *cc = json_string_value(json_object_get(ctx, "chief_complaint"));
            json_t *probs = json_object_get(ctx, "problems");
            const char *first = json_string_value(json_array_get(probs, 0));
            if (cc || first) {
                json_object_set_new(r, "diagnosis", json_string(cc ? cc : first));
                json_array_append_new(
                    wf->from_context,
                    json_string(cc ? "diagnosis (chief_complaint)" : "diagnosis (problems[0])"));
            }
        }
    }
}
