/* The workflows' stage tables, the run's life, the result and its text. */
#include "workflow/wf_internal.h"

#include <stdlib.h>
#include <string.h>

/* Seed 004's stages and percentages ("StreamingDiagnosisHandler",
 * "StreamingPrescriptionHandler"). */
static const ms_wf_stage_t dx_stages[] = {
    {"symptoms_analysis", 10, "Analyzing symptoms...", 0},
    {"vitals_evaluation", 30, "Evaluating vital signs...", 0},
    {"history_review", 50, "Reviewing patient history...", 0},
    {"differential_diagnosis", 70, "Generating differential diagnosis...", 1},
    {"primary_diagnosis", 90, "Determining primary diagnosis...", 1},
};

static const ms_wf_stage_t rx_stages[] = {
    {"allergy_check", 10, "Checking allergies...", 1},
    {"medication_selection", 30, "Selecting medications...", 1},
    {"interaction_check", 60, "Checking drug interactions...", 1},
    {"monitoring_advice", 80, "Generating monitoring advice...", 0},
    {"finalization", 95, "Finalizing recommendations...", 0},
};

const ms_wf_stage_t *ms_wf_stages(ms_wf_kind_t kind, size_t *n) {
    if (kind == MS_WF_PRESCRIPTION) {
        *n = MS_COUNTOF(rx_stages);
        return rx_stages;
    }
    *n = MS_COUNTOF(dx_stages);
    return dx_stages;
}

void ms__wf_init(ms_wf_t *wf) {
    json_t **arrays[] = {&wf->red_flags,   &wf->differential,      &wf->allergy_check,
                         &wf->medications, &wf->excluded,          &wf->interactions,
                         &wf->monitoring,  &wf->contraindications, &wf->compliance,
                         &wf->follow_up,   &wf->symptoms};
    for (size_t i = 0; i < MS_COUNTOF(arrays); i++)
        *arrays[i] = json_array();
}

int ms_wf_run_stage(ms_wf_t *wf, size_t i, ms_kb_t *kb, json_t *items) {
    size_t n;
    const ms_wf_stage_t *st = ms_wf_stages(wf->kind, &n);
    if (i >= n)
        return MS_EINVAL;
    int rc = wf->kind == MS_WF_DIAGNOSIS ? ms__wf_dx_stage(wf, i, kb, items)
                                         : ms__wf_rx_stage(wf, i, kb, items);
    if (rc == 0) {
        wf->stages_done = i + 1;
        wf->last_stage = st[i].name;
    } else {
        json_array_append_new(wf->notes,
                              json_sprintf("the %s stage could not read the knowledge base: its "
                                           "part of the result is missing",
                                           st[i].name));
    }
    return rc;
}

json_t *ms_wf_result(ms_wf_t *wf, const char *disclaimer, const char *status) {
    json_t *r = wf->kind == MS_WF_DIAGNOSIS ? ms__wf_dx_result(wf) : ms__wf_rx_result(wf);
    size_t n;
    ms_wf_stages(wf->kind, &n);
    json_object_set_new(r, "workflow", json_string(ms_wf_kind_name(wf->kind)));
    json_object_set_new(r, "status", json_string(status ? status : "complete"));
    json_object_set_new(r, "stages_completed", json_integer((json_int_t)wf->stages_done));
    json_object_set_new(r, "stages_total", json_integer((json_int_t)n));
    json_object_set(r, "from_context", wf->from_context);
    json_object_set(r, "unused", wf->unused);
    json_object_set(r, "notes", wf->notes);
    json_object_set(r, "citations", wf->citations);
    json_object_set_new(r, "disclaimer", json_string(disclaimer ? disclaimer : ""));
    return r;
}

static void put_names(ms_buf_t *b, const json_t *list, const char *key, size_t max) {
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (i == max) {
            ms_buf_printf(b, " and %zu more", json_array_size(list) - max);
            break;
        }
        const char *s = json_string_value(json_object_get(e, key));
        ms_buf_printf(b, "%s%s", i ? ", " : "", s ? s : "?");
    }
}

char *ms_wf_result_text(ms_wf_kind_t kind, const json_t *r, const char *disclaimer) {
    ms_buf_t b;
    ms_buf_init(&b);
    if (kind == MS_WF_DIAGNOSIS) {
        const char *p = json_string_value(json_object_get(r, "primary_diagnosis"));
        ms_buf_puts(&b, "Diagnosis decision support (for clinician review).\n");
        if (p)
            ms_buf_printf(&b,
                          "Leading candidate: %s (relative score %.3f, not a calibrated "
                          "probability).\n",
                          p, json_number_value(json_object_get(r, "confidence")));
        else
            ms_buf_puts(&b, "No candidate condition matched the symptoms.\n");
        ms_buf_printf(&b, "Urgency: %s.\n", json_string_value(json_object_get(r, "urgency")));
        json_t *n2 = json_object_get(r, "news2");
        if (json_is_object(n2))
            ms_buf_printf(&b, "NEWS2: %lld over %lld of 7 parameters.\n",
                          (long long)json_integer_value(json_object_get(n2, "aggregate")),
                          (long long)json_integer_value(json_object_get(n2, "parameters_scored")));
        if (json_array_size(json_object_get(r, "differential"))) {
            ms_buf_puts(&b, "Differential: ");
            put_names(&b, json_object_get(r, "differential"), "diagnosis", 10);
            ms_buf_puts(&b, ".\n");
        }
    } else {
        const char *dx = json_string_value(json_object_get(r, "diagnosis"));
        ms_buf_printf(&b, "Prescription decision support for %s (for clinician review).\n",
                      dx ? dx : "no diagnosis");
        if (json_array_size(json_object_get(r, "medications"))) {
            ms_buf_puts(&b, "Candidates: ");
            put_names(&b, json_object_get(r, "medications"), "medication", 12);
            ms_buf_puts(&b, ".\n");
        } else {
            ms_buf_puts(&b, "No medication candidate.\n");
        }
        if (json_array_size(json_object_get(r, "excluded"))) {
            ms_buf_puts(&b, "Excluded: ");
            put_names(&b, json_object_get(r, "excluded"), "medication", 12);
            ms_buf_puts(&b, ".\n");
        }
        if (json_array_size(json_object_get(r, "interactions"))) {
            ms_buf_puts(&b, "Interactions: ");
            put_names(&b, json_object_get(r, "interactions"), "interaction", 12);
            ms_buf_puts(&b, ".\n");
        }
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r, "notes"), i, e) {
        ms_buf_printf(&b, "Note: %s.\n", json_string_value(e));
    }
    const char *st = json_string_value(json_object_get(r, "status"));
    if (st && strcmp(st, "complete") != 0)
        ms_buf_printf(&b, "The workflow ended early (%s) after %lld of %lld stages.\n", st,
                      (long long)json_integer_value(json_object_get(r, "stages_completed")),
                      (long long)json_integer_value(json_object_get(r, "stages_total")));
    if (disclaimer && *disclaimer)
        ms_buf_printf(&b, "\n%s", disclaimer);
    ms_buf_cstr(&b);
    return ms_buf_take(&b);
}

void ms_wf_free(ms_wf_t *wf) {
    if (!wf)
        return;
    json_t *all[] = {wf->request,           wf->from_context, wf->unused,       wf->notes,
                     wf->citations,         wf->symptoms,     wf->vitals,       wf->history,
                     wf->red_flags,         wf->differential, wf->primary,      wf->allergy_check,
                     wf->medications,       wf->excluded,     wf->interactions, wf->monitoring,
                     wf->contraindications, wf->compliance,   wf->follow_up};
    for (size_t i = 0; i < MS_COUNTOF(all); i++)
        json_decref(all[i]);
    free(wf->summary);
    free(wf->diagnosis_doc);
    ms__wf_allergies_free(wf->allergies, wf->nallergies);
    ms__wf_drugs_free(wf->cands, wf->ncands);
    ms__wf_drugs_free(wf->current, wf->ncurrent);
    free(wf);
}

size_t ms_wf_rerank(ms_wf_t *wf, const json_t *order, const json_t *explanations) {
    json_t *out = json_array();
    size_t i;
    json_t *name;
    json_array_foreach(order, i, name) {
        const char *s = json_string_value(name);
        size_t k;
        json_t *c, *found = NULL;
        json_array_foreach(wf->differential, k, c) {
            if (s && !strcasecmp(json_string_value(json_object_get(c, "diagnosis")), s))
                found = c;
        }
        int dup = 0;
        json_array_foreach(out, k, c) dup |= c == found;
        if (!found || dup) {
            ms__wf_unused(wf, "rerank", name,
                          "the model named a condition the evidence did not propose: ignored");
            continue;
        }
        json_t *why = json_object_get(explanations, s);
        if (json_is_string(why))
            json_object_set(found, "explanation", why);
        json_object_set_new(found, "ranked_by", json_string("model"));
        json_array_append(out, found);
    }
    if (json_array_size(out)) {
        json_decref(wf->differential);
        wf->differential = out;
        wf->reranked = 1;
    } else {
        json_decref(out);
    }
    return json_array_size(wf->differential);
}
