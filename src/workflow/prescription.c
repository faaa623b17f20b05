/* The prescription workflow's stages (seed 004: allergy_check 10 %,
 * medication_selection 30 %, interaction_check 60 %, monitoring_advice
 * 80 %, finalization 95 %) and its result (docs/workflows.md
 * "Prescription").
 *
 * Decision support only: candidates are the ingredients the diagnosis'
 * MedQuAD treatment passages name (or the clinician proposes), every one
 * checked against the allergies, every pair against NDF-RT and the labels,
 * every label's warnings quoted. No dose is ever computed: a label's
 * dosage text is quoted as it stands. */
#include "workflow/wf_internal.h"

#include <stdlib.h>
#include <string.h>

#define NO_DRUGS_NOTE                                                                              \
    "no drug knowledge on file: import it with `medstream kb import --format drugs "               \
    "../shared/data/drugs` (DrugCentral, NDF-RT, openFDA); medications, allergies and "            \
    "interactions cannot be checked without it"

/* ---- labels ------------------------------------------------------------------------ */

static const char *section(const json_t *label, const char *key) {
    return json_string_value(json_array_get(json_object_get(label, key), 0));
}

static const char *label_title(const json_t *label) {
    json_t *o = json_object_get(label, "openfda");
    const char *b = json_string_value(json_array_get(json_object_get(o, "brand_name"), 0));
    const char *g = json_string_value(json_array_get(json_object_get(o, "generic_name"), 0));
    return b ? b : g ? g : "FDA label";
}

/* A citation of one label section: DailyMed shows the label of a set id. */
static json_t *label_cite(ms_wf_t *wf, const json_t *label, const char *key, const char *pretty,
                          const char *quote) {
    const char *set_id = json_string_value(json_object_get(label, "set_id"));
    char id[128], url[160];
    snprintf(id, sizeof id, "openfda:%s#%s", set_id ? set_id : "?", key);
    snprintf(url, sizeof url, "https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid=%s",
             set_id ? set_id : "");
    json_t *c = ms__wf_citation(id, "drug_label", label_title(label), url,
                                "openFDA drug label (U.S. FDA)", quote, pretty);
    return ms__wf_cite(wf, c);
}

static json_t *drug_cite(ms_wf_t *wf, const ms__wf_drug_t *d) {
    char id[64], url[96], q[256];
    snprintf(id, sizeof id, "drugcentral:%lld", (long long)d->id);
    snprintf(url, sizeof url, "https://drugcentral.org/drugcard/%lld", (long long)d->id);
    snprintf(q, sizeof q, "%s (DrugCentral ingredient %lld)", d->ingredient, (long long)d->id);
    json_t *c = ms__wf_citation(id, "drugcentral", d->ingredient, url,
                                "DrugCentral 2016 (Ursu et al., Nucleic Acids Res 2017)", q,
                                "Ingredient and classes");
    return ms__wf_cite(wf, c);
}

/* The EPC class names of a drug, for display. */
static json_t *epc_names(const ms__wf_drug_t *d) {
    json_t *a = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(d->classes, i, c) {
        if (!strcmp(json_string_value(json_object_get(c, "type")), "EPC"))
            json_array_append(a, json_object_get(c, "name"));
    }
    return a;
}

/* Resolves a drug (ingredient, classes, label) once its id is known. */
static int drug_load(ms_kb_t *kb, ms__wf_drug_t *d) {
    if (!d->id)
        return 0;
    if (!d->classes && ms_kb_drug_classes(kb, d->id, &d->classes) != 0)
        return MS_EIO;
    if (!d->label) {
        int rc = ms_kb_drug_label(kb, d->id, &d->label);
        if (rc && rc != MS_ENOENT)
            return MS_EIO;
    }
    return 0;
}

static ms__wf_drug_t *add_drug(ms__wf_drug_t **v, size_t *n, const char *name, int64_t id,
                               const char *ingredient, const char *origin) {
    for (size_t i = 0; i < *n; i++) {
        if ((id && (*v)[i].id == id) || (!id && !strcasecmp((*v)[i].name, name))) {
            if (strcmp((*v)[i].origin, origin) != 0 && !strstr((*v)[i].origin, "+")) {
                char both[64];
                snprintf(both, sizeof both, "%s+%s", (*v)[i].origin, origin);
                free((*v)[i].origin);
                (*v)[i].origin = ms_xstrdup(both);
            }
            return NULL; /* already there */
        }
    }
    *v = ms_xrealloc(*v, (*n + 1) * sizeof **v);
    ms__wf_drug_t *d = &(*v)[(*n)++];
    memset(d, 0, sizeof *d);
    d->name = ms_xstrdup(name);
    d->id = id;
    d->ingredient = ingredient ? ms_xstrdup(ingredient) : NULL;
    d->origin = ms_xstrdup(origin);
    return d;
}

void ms__wf_drugs_free(ms__wf_drug_t *d, size_t n) {
    for (size_t i = 0; d && i < n; i++) {
        free(d[i].name);
        free(d[i].ingredient);
        json_decref(d[i].classes);
        json_decref(d[i].label);
        free(d[i].origin);
        json_decref(d[i].evidence);
    }
    free(d);
}

/* ---- allergy_check ---------------------------------------------------------------- */

static int allergy_check(ms_wf_t *wf, ms_kb_t *kb) {
    ms_kb_drug_stats_t ds;
    if (ms_kb_drug_stats(kb, &ds) != 0)
        return MS_EIO;
    wf->drugs_on_file = ds.ingredients > 0;
    if (!wf->drugs_on_file)
        json_array_append_new(wf->notes, json_string(NO_DRUGS_NOTE));
    ms__wf_allergies_resolve(wf, kb);
    return 0;
}

/* ---- medication_selection --------------------------------------------------------- */

/* The diagnosis' MedQuAD treatment passages: of a document named exactly
 * so, else of the best search hit about it. */
static void treatment_passages(ms_wf_t *wf, ms_kb_t *kb, const char *dx, ms_kb_hit_t **h,
                               size_t *n) {
    char **ids = NULL;
    size_t nid = 0;
    *h = NULL;
    *n = 0;
    ms_kb_evidence_named(kb, dx, "treatment", &ids, &nid);
    for (size_t i = 0; i < nid && !*n; i++)
        ms_kb_evidence_doc(kb, ids[i], "treatment", h, n);
    for (size_t i = 0; i < nid; i++)
        free(ids[i]);
    free(ids);
    if (*n)
        return;
    char q[320];
    snprintf(q, sizeof q, "how is %s treated", dx);
    ms_kb_hit_t *s = NULL;
    size_t ns = 0;
    if (ms_kb_find(kb, q, 10, &s, &ns) == 0) {
        for (size_t i = 0; i < ns && !*n; i++)
            if (s[i].qtype && !strcmp(s[i].qtype, "treatment") && s[i].focus_match >= 0.5 &&
                s[i].doc_id)
                ms_kb_evidence_doc(kb, s[i].doc_id, "treatment", h, n);
    }
    ms_kb_hits_free(s, ns);
    (void)wf;
}

/* Candidates the passages name: each with the sentence that names it. */
static void from_passages(ms_wf_t *wf, ms_kb_t *kb, const ms_kb_hit_t *h, size_t n) {
    for (size_t p = 0; p < n && wf->ncands < wf->lim.max_medications; p++) {
        ms_kb_mention_t *m = NULL;
        size_t nm = 0;
        ms_kb_drug_mentions(kb, h[p].text, wf->lim.max_medications - wf->ncands, &m, &nm);
        for (size_t i = 0; i < nm; i++) {
            char *name = ms_xstrndup(h[p].text + m[i].off, m[i].len);
            ms_kb_drug_t d = {0};
            char idq[32];
            snprintf(idq, sizeof idq, "%lld", (long long)m[i].id);
            char *lname = ms__wf_norm(name);
            ms_kb_drug_find(kb, lname, &d);
            ms__wf_drug_t *c = add_drug(&wf->cands, &wf->ncands, lname, m[i].id,
                                        d.name ? d.name : lname, "medquad");
            if (c) {
                const char *needle[] = {name};
                char *sent = ms__wf_sentences_with(h[p].text, needle, 1, 1);
                char *focus = ms_xstrndup(h[p].focus ? h[p].focus : "",
                                          strcspn(h[p].focus ? h[p].focus : "", ";"));
                json_t *cit = ms__wf_citation(h[p].id, h[p].source_type, focus, h[p].url,
                                              h[p].source, sent ? sent : name, "Treatment");
                c->evidence = json_incref(ms__wf_cite(wf, cit));
                free(sent);
                free(focus);
            }
            ms_kb_drug_clear(&d);
            free(lname);
            free(name);
        }
        free(m);
    }
}

/* The medication item a client is streamed. */
static json_t *med_item(ms_wf_t *wf, ms__wf_drug_t *d, const char *status, const char *reason) {
    json_t *cits = json_array();
    if (d->evidence)
        json_array_append(cits, d->evidence);
    if (d->id)
        json_array_append(cits, drug_cite(wf, d));
    json_t *item = json_pack("{s:s, s:s?, s:s, s:s, s:s?, s:o}", "medication",
                             d->ingredient ? d->ingredient : d->name, "ingredient", d->ingredient,
                             "status", status, "origin", d->origin, "reason", reason, "classes",
                             d->id ? epc_names(d) : json_array());
    if (d->evidence)
        json_object_set(item, "source_sentence", json_object_get(d->evidence, "quoted_text"));
    if (d->label) {
        const char *ind = section(d->label, "indications_and_usage");
        const char *dose = section(d->label, "dosage_and_administration");
        char *qi = ms__wf_excerpt(ind, 400), *qd = ms__wf_excerpt(dose, 600);
        json_t *ci =
            ind ? label_cite(wf, d->label, "indications_and_usage", "Indications and usage", qi)
                : NULL;
        json_t *cd = dose ? label_cite(wf, d->label, "dosage_and_administration",
                                       "Dosage and administration", qd)
                          : NULL;
        if (ci)
            json_array_append(cits, ci);
        if (cd)
            json_array_append(cits, cd);
        json_object_set_new(
            item, "label",
            json_pack("{s:s, s:O?, s:O?, s:s?, s:s?}", "title", label_title(d->label), "set_id",
                      json_object_get(d->label, "set_id"), "effective_time",
                      json_object_get(d->label, "effective_time"), "indications", ind ? qi : NULL,
                      "url", json_string_value(json_object_get(cd ? cd : ci, "url"))));
        json_object_set_new(item, "dosage",
                            dose ? json_pack("{s:s, s:s, s:b}", "quoted_text", qd, "source",
                                             "FDA label, Dosage and administration (quoted)",
                                             "computed", 0)
                                 : json_null());
        free(qi);
        free(qd);
    } else {
        json_object_set_new(item, "label", json_null());
        json_object_set_new(item, "dosage", json_null());
        json_object_set_new(item, "label_note",
                            json_sprintf("no FDA label on file for %s (the openFDA labels on "
                                         "file cover 350 ingredients chosen by pharmacogenomics)",
                                         d->ingredient ? d->ingredient : d->name));
    }
    json_object_set_new(item, "citations", cits);
    return item;
}

static int selection(ms_wf_t *wf, ms_kb_t *kb, json_t *items) {
    const char *dx = json_string_value(json_object_get(wf->request, "diagnosis"));
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    if (dx) {
        treatment_passages(wf, kb, dx, &h, &n);
        if (!n)
            json_array_append_new(wf->notes,
                                  json_sprintf("the knowledge base holds no MedQuAD treatment "
                                               "passage for \"%s\": the knowledge on file does "
                                               "not cover this diagnosis",
                                               dx));
        else
            wf->diagnosis_doc = ms_xstrdup(h[0].doc_id ? h[0].doc_id : h[0].id);
        if (n && wf->drugs_on_file) {
            size_t before = wf->ncands;
            from_passages(wf, kb, h, n);
            if (wf->ncands == before)
                json_array_append_new(
                    wf->notes,
                    json_sprintf("the MedQuAD treatment passage for %s names no medicine "
                                 "DrugCentral knows: propose medications with data.medications",
                                 h[0].focus ? h[0].focus : dx));
        }
    } else {
        json_array_append_new(wf->notes,
                              json_string("no diagnosis given (nor a chief complaint or problem "
                                          "in a clinical context): candidates come only from "
                                          "data.medications"));
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(wf->request, "medications"), i, m) {
        const char *name = json_string_value(m);
        ms_kb_drug_t d = {0};
        if (wf->drugs_on_file)
            ms_kb_drug_find(kb, name, &d);
        add_drug(&wf->cands, &wf->ncands, name, d.id, d.name, "request");
        ms_kb_drug_clear(&d);
    }
    for (size_t k = 0; k < wf->ncands; k++) {
        ms__wf_drug_t *d = &wf->cands[k];
        if (drug_load(kb, d) != 0) {
            ms_kb_hits_free(h, n);
            return MS_EIO;
        }
        char *why = NULL;
        const char *status = "candidate";
        /* The allergy check comes first: an INN stem ("-cillin") still
         * excludes a name the drug tables do not resolve. */
        if (ms__wf_allergy_hit(wf, d, &why)) {
            status = "excluded";
            d->excluded = 1;
        } else if (!d->id) {
            status = "not checked";
            why = ms_xstrdup(wf->drugs_on_file
                                 ? "no ingredient of that name is on file: only the allergies' "
                                   "INN stems were checked, not its classes or interactions"
                                 : NO_DRUGS_NOTE);
        }
        json_t *item = med_item(wf, d, status, why);
        json_array_append(d->excluded ? wf->excluded : wf->medications, item);
        json_array_append_new(items, item);
        free(why);
    }
    ms_kb_hits_free(h, n);
    return 0;
}

/* ---- interaction_check ------------------------------------------------------------ */

static void current_meds(ms_wf_t *wf, ms_kb_t *kb) {
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(wf->request, "current_medications"), i, m) {
        const char *text = json_string_value(m);
        ms_kb_mention_t *mm = NULL;
        size_t nm = 0;
        ms_kb_drug_t d = {0};
        if (ms_kb_drug_find(kb, text, &d) == 0) {
            add_drug(&wf->current, &wf->ncurrent, text, d.id, d.name, "current");
        } else if (ms_kb_drug_mentions(kb, text, 8, &mm, &nm) == 0 && nm) {
            for (size_t k = 0; k < nm; k++) {
                char *nmx = ms_xstrndup(text + mm[k].off, mm[k].len);
                char *ln = ms__wf_norm(nmx);
                ms_kb_drug_t e = {0};
                ms_kb_drug_find(kb, ln, &e);
                add_drug(&wf->current, &wf->ncurrent, text, mm[k].id, e.name ? e.name : ln,
                         "current");
                ms_kb_drug_clear(&e);
                free(ln);
                free(nmx);
            }
        } else {
            char field[48];
            snprintf(field, sizeof field, "current_medications[%zu]", i);
            ms__wf_unused(wf, field, m,
                          "no ingredient on file is named in it: not checked for interactions");
        }
        free(mm);
        ms_kb_drug_clear(&d);
    }
    for (size_t k = 0; k < wf->ncurrent; k++)
        drug_load(kb, &wf->current[k]);
}

/* Sentences of a's label's drug-interactions section that name b. */
static char *label_mentions(const ms__wf_drug_t *a, const ms__wf_drug_t *b) {
    const char *t = section(a->label, "drug_interactions");
    if (!t || !b->ingredient)
        return NULL;
    const char *needles[] = {b->ingredient, b->name};
    return ms__wf_sentences_with(t, needles, strcmp(b->ingredient, b->name) ? 2 : 1, 2);
}

static void pair(ms_wf_t *wf, ms_kb_t *kb, ms__wf_drug_t *a, ms__wf_drug_t *b, json_t *items) {
    json_t *nd = NULL;
    ms_kb_drug_interactions(kb, a->id, b->id, &nd);
    char *la = a->label ? label_mentions(a, b) : NULL;
    char *lb = b->label ? label_mentions(b, a) : NULL;
    if (!json_array_size(nd) && !la && !lb) {
        json_decref(nd);
        return;
    }
    json_t *cits = json_array(), *sources = json_array();
    json_t *first = json_array_get(nd, 0);
    if (first) {
        char id[64];
        snprintf(id, sizeof id, "ndfrt:%s", json_string_value(json_object_get(first, "nui")));
        json_t *c = ms__wf_citation(
            id, "ndfrt", json_string_value(json_object_get(first, "label")), "",
            "NDF-RT (U.S. Department of Veterans Affairs), 2014 pull by dbmi-pitt/public-PDDI",
            json_string_value(json_object_get(first, "label")), "Drug interaction");
        json_array_append(cits, ms__wf_cite(wf, c));
        json_array_append_new(sources, json_string("NDF-RT"));
    }
    ms__wf_drug_t *who[] = {a, b};
    char *said[] = {la, lb};
    for (int k = 0; k < 2; k++) {
        if (!said[k])
            continue;
        json_array_append(
            cits, label_cite(wf, who[k]->label, "drug_interactions", "Drug interactions", said[k]));
        if (json_array_size(sources) < 2 || k == 0)
            json_array_append_new(sources, json_string("FDA label"));
    }
    json_t *item =
        json_pack("{s:s++, s:[s,s], s:s?, s:o, s:O?, s:o}", "interaction", a->ingredient, " + ",
                  b->ingredient, "drugs", a->ingredient, b->ingredient, "severity",
                  first ? json_string_value(json_object_get(first, "severity")) : NULL, "source",
                  sources, "ndfrt", first, "citations", cits);
    if (la || lb)
        json_object_set_new(item, "label_text", json_string(la ? la : lb));
    json_array_append(wf->interactions, item);
    json_array_append_new(items, item);
    json_decref(nd);
    free(la);
    free(lb);
}

/* A candidate in the same FDA EPC class as a medication taken now. */
static void duplication(ms_wf_t *wf, ms__wf_drug_t *c, ms__wf_drug_t *cur, json_t *items) {
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(c->classes, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "type")), "EPC") != 0)
            continue;
        json_array_foreach(cur->classes, j, y) {
            if (strcmp(json_string_value(json_object_get(y, "type")), "EPC") != 0 ||
                strcmp(json_string_value(json_object_get(x, "name")),
                       json_string_value(json_object_get(y, "name"))) != 0)
                continue;
            json_t *item = json_pack(
                "{s:s++, s:[s,s], s:s, s:[s], s:s, s:[O]}", "interaction", c->ingredient, " + ",
                cur->ingredient, "drugs", c->ingredient, cur->ingredient, "severity", "duplication",
                "source", "DrugCentral", "note", json_string_value(json_object_get(x, "name")),
                "citations", drug_cite(wf, c));
            json_array_append(wf->interactions, item);
            json_array_append_new(items, item);
            return;
        }
    }
}

static int interactions(ms_wf_t *wf, ms_kb_t *kb, json_t *items) {
    if (!wf->drugs_on_file)
        return 0;
    current_meds(wf, kb);
    /* Every pair of the union, each once: candidates (not excluded) and
     * the medications taken now. */
    size_t n = 0;
    ms__wf_drug_t **all = ms_xcalloc(wf->ncands + wf->ncurrent + 1, sizeof(ms__wf_drug_t *));
    for (size_t i = 0; i < wf->ncands; i++)
        if (!wf->cands[i].excluded && wf->cands[i].id)
            all[n++] = &wf->cands[i];
    for (size_t i = 0; i < wf->ncurrent; i++) {
        int dup = 0;
        for (size_t k = 0; k < n; k++)
            dup |= all[k]->id == wf->current[i].id;
        if (!dup)
            all[n++] = &wf->current[i];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            pair(wf, kb, all[i], all[j], items);
    for (size_t i = 0; i < wf->ncands; i++)
        for (size_t j = 0; j < wf->ncurrent; j++)
            if (!wf->cands[i].excluded && wf->cands[i].id && wf->cands[i].id != wf->current[j].id)
                duplication(wf, &wf->cands[i], &wf->current[j], items);
    free(all);
    return 0;
}

/* ---- monitoring_advice ------------------------------------------------------------ */

static int conditions_mention(const ms_wf_t *wf, const char *const *words, size_t n) {
    json_t *p = json_object_get(wf->request, "patient_info");
    json_t *lists[] = {json_object_get(p, "conditions"),
                       json_object_get(wf->request, "conditions")};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(lists[l], i, c) {
            for (size_t k = 0; k < n; k++)
                if (json_is_string(c) && strstr(json_string_value(c), words[k]))
                    return 1;
        }
    }
    return 0;
}

static void advice(ms_wf_t *wf, ms__wf_drug_t *d, const char *key, const char *pretty, char *quote,
                   const char *why, json_t *items) {
    if (!quote)
        return;
    json_t *c = label_cite(wf, d->label, key, pretty, quote);
    json_t *item = json_pack("{s:s, s:s, s:s, s:s?, s:[O]}", "monitoring", quote, "medication",
                             d->ingredient, "section", pretty, "because", why, "citations", c);
    json_array_append(wf->monitoring, item);
    json_array_append_new(items, item);
    free(quote);
}

static void monitor_one(ms_wf_t *wf, ms__wf_drug_t *d, json_t *items) {
    if (!d->label) {
        json_t *item = json_pack(
            "{s:s++, s:s, s:n, s:[]}", "monitoring", "no FDA label on file for ", d->ingredient,
            ": no label monitoring advice", "medication", d->ingredient, "section", "citations");
        json_array_append(wf->monitoring, item);
        json_array_append_new(items, item);
        return;
    }
    const char *boxed = section(d->label, "boxed_warning");
    const char *warn = section(d->label, "warnings_and_cautions");
    const char *wkey = "warnings_and_cautions";
    if (!warn) {
        warn = section(d->label, "warnings");
        wkey = "warnings";
    }
    advice(wf, d, "boxed_warning", "Boxed warning", boxed ? ms__wf_excerpt(boxed, 500) : NULL, NULL,
           items);
    advice(wf, d, wkey, "Warnings and precautions", warn ? ms__wf_excerpt(warn, 500) : NULL, NULL,
           items);
    const char *prec = section(d->label, "precautions");
    if (prec && !boxed && !section(d->label, "warnings_and_cautions"))
        advice(wf, d, "precautions", "Precautions", ms__wf_excerpt(prec, 400), NULL, items);
    double age = ms__wf_age(json_object_get(json_object_get(wf->request, "patient_info"), "age"));
    const char *ger = section(d->label, "geriatric_use");
    if (age >= 65 && ger)
        advice(wf, d, "geriatric_use", "Geriatric use", ms__wf_excerpt(ger, 400),
               "the patient is 65 or older", items);
    static const char *const renal[] = {"kidney", "renal", "Kidney", "Renal"};
    if (conditions_mention(wf, renal, MS_COUNTOF(renal))) {
        const char *needles[] = {"renal", "kidney"};
        const char *keys[] = {"dosage_and_administration", "use_in_specific_populations", wkey};
        for (size_t k = 0; k < MS_COUNTOF(keys); k++) {
            char *q = ms__wf_sentences_with(section(d->label, keys[k]), needles, 2, 2);
            if (q) {
                advice(wf, d, keys[k], "Renal impairment", q,
                       "the patient's conditions record kidney disease", items);
                break;
            }
        }
    }
    static const char *const preg[] = {"pregnan", "Pregnan"};
    json_t *pregnant = json_object_get(json_object_get(wf->request, "patient_info"), "pregnant");
    if (json_is_true(pregnant) || conditions_mention(wf, preg, MS_COUNTOF(preg))) {
        const char *needles[] = {"pregnancy", "pregnant"};
        const char *keys[] = {"pregnancy", "use_in_specific_populations"};
        for (size_t k = 0; k < MS_COUNTOF(keys); k++) {
            char *q = ms__wf_sentences_with(section(d->label, keys[k]), needles, 2, 2);
            if (q) {
                advice(wf, d, keys[k], "Pregnancy", q, "the patient is pregnant", items);
                break;
            }
        }
    }
}

static int monitoring(ms_wf_t *wf, json_t *items) {
    for (size_t i = 0; i < wf->ncands; i++)
        if (!wf->cands[i].excluded && wf->cands[i].id)
            monitor_one(wf, &wf->cands[i], items);
    if (ms__wf_age(json_object_get(json_object_get(wf->request, "patient_info"), "age")) < 0)
        json_array_append_new(wf->notes, json_string("the patient's age is not known: the "
                                                     "labels' geriatric advice was not checked"));
    return 0;
}

/* ---- finalization ------------------------------------------------------------------ */

/* A condition's words worth finding in a contraindications section: the
 * whole name without its SNOMED CT tag, then its own words of 6 letters
 * or more that are not generic ("disease", "chronic"). */
static void contra_one(ms_wf_t *wf, ms__wf_drug_t *d, const char *condition) {
    const char *t = section(d->label, "contraindications");
    if (!t)
        return;
    char *c = ms__wf_norm(condition);
    char *paren = strstr(c, " (");
    if (paren)
        *paren = '\0';
    const char *needle[] = {c};
    char *q = ms__wf_sentences_with(t, needle, 1, 2);
    const char *term = c;
    char word[64] = "";
    if (!q) {
        static const char *const generic[] = {"disease",   "disorder", "chronic",   "syndrome",
                                              "condition", "history",  "finding",   "situation",
                                              "episode",   "primary",  "essential", "stage"};
        for (char *w = strtok(c, " ,-/"); w && !q; w = strtok(NULL, " ,-/")) {
            int g = strlen(w) < 6;
            for (size_t k = 0; k < MS_COUNTOF(generic) && !g; k++)
                g = !strcmp(w, generic[k]);
            if (g)
                continue;
            const char *nw[] = {w};
            q = ms__wf_sentences_with(t, nw, 1, 2);
            snprintf(word, sizeof word, "%s", w);
        }
        term = word;
    }
    if (q) {
        json_t *cit = label_cite(wf, d->label, "contraindications", "Contraindications", q);
        json_array_append_new(wf->contraindications,
                              json_pack("{s:s, s:s, s:s, s:s, s:[O], s:s}", "medication",
                                        d->ingredient, "condition", condition, "matched", term,
                                        "quoted_text", q, "citations", cit, "note",
                                        "the label's contraindications name a word of a recorded "
                                        "condition: for clinician review"));
    }
    free(q);
    free(c);
}

static int finalization(ms_wf_t *wf) {
    json_t *p = json_object_get(wf->request, "patient_info");
    json_t *lists[] = {json_object_get(p, "conditions"),
                       json_object_get(wf->request, "conditions")};
    size_t nolabel = 0;
    for (size_t i = 0; i < wf->ncands; i++) {
        ms__wf_drug_t *d = &wf->cands[i];
        if (d->excluded || !d->id)
            continue;
        nolabel += !d->label;
        for (int l = 0; l < 2 && d->label; l++) {
            size_t k;
            json_t *c;
            json_array_foreach(lists[l], k, c) {
                if (json_is_string(c))
                    contra_one(wf, d, json_string_value(c));
            }
        }
        if (d->label)
            json_array_append_new(
                wf->follow_up,
                json_sprintf("%s: review the label's warnings and monitoring sections quoted "
                             "above before prescribing",
                             d->ingredient));
    }
    json_array_append_new(wf->compliance,
                          json_string("for clinician review: every medication here is a candidate "
                                      "found in the sources cited, not a prescription"));
    json_array_append_new(wf->compliance,
                          json_string("no dose was computed: dosage text is quoted from the FDA "
                                      "label as it stands"));
    if (nolabel)
        json_array_append_new(wf->compliance,
                              json_sprintf("%zu candidate%s had no FDA label on file: check "
                                           "their labels before prescribing",
                                           nolabel, nolabel == 1 ? "" : "s"));
    for (size_t i = 0; i < wf->nallergies; i++)
        if (!strcmp(wf->allergies[i].status, "not checked"))
            json_array_append_new(wf->compliance,
                                  json_sprintf("allergy \"%s\" was not checked against the "
                                               "medications: %s",
                                               wf->allergies[i].text, wf->allergies[i].reason));
    if (!json_array_size(lists[0]) && !json_array_size(lists[1]))
        json_array_append_new(wf->notes,
                              json_string("no conditions recorded: contraindications were "
                                          "checked against none"));
    json_array_append_new(wf->follow_up,
                          json_string("re-run the interaction check when the medication list "
                                      "changes"));
    return 0;
}

int ms__wf_rx_stage(ms_wf_t *wf, size_t i, ms_kb_t *kb, json_t *items) {
    if (!kb && i < 3)
        return MS_EIO;
    switch (i) {
    case 0:
        return allergy_check(wf, kb);
    case 1:
        return selection(wf, kb, items);
    case 2:
        return interactions(wf, kb, items);
    case 3:
        return monitoring(wf, items);
    case 4:
        return finalization(wf);
    }
    return MS_EINVAL;
}

json_t *ms__wf_rx_result(ms_wf_t *wf) {
    json_t *r = json_object();
    json_object_set(r, "diagnosis",
                    json_object_get(wf->request, "diagnosis")
                        ? json_object_get(wf->request, "diagnosis")
                        : json_null());
    json_object_set(r, "medications", wf->medications);
    json_object_set(r, "excluded", wf->excluded);
    json_object_set(r, "interactions", wf->interactions);
    json_object_set(r, "monitoring", wf->monitoring);
    json_object_set(r, "contraindications", wf->contraindications);
    json_object_set(r, "allergy_check", wf->allergy_check);
    json_object_set(r, "compliance_notes", wf->compliance);
    json_object_set(r, "follow_up", wf->follow_up);
    json_object_set_new(r, "for_clinician_review", json_true());
    json_object_set_new(r, "drug_knowledge_on_file", json_boolean(wf->drugs_on_file));
    return r;
}
