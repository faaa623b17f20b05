/* symptoms_analysis: each symptom's name normalised through a small table
 * of common symptoms and their synonyms, its severity as a weight, its
 * duration kept as given.
 *
 * The table is ours (docs/workflows.md "Symptoms"): each canonical name is
 * the symptom as MeSH (NLM Medical Subject Headings) heads it where a
 * heading exists (the "mesh" column), the variants are the lay and
 * clinical words for it (MeSH entry terms and everyday English), and the
 * search terms are the words MedQuAD's symptom passages use for it. A
 * symptom the table does not know is searched as written and reported as
 * "not in the synonym table".
 *
 * Red flags are the symptoms the NHS lists under "When to call 999"
 * (https://www.nhs.uk/nhs-services/urgent-and-emergency-care-services/when-to-call-999/):
 * chest pain, sudden confusion, a seizure, loss of consciousness, signs of
 * a stroke (face drooping, difficulty speaking), severe difficulty
 * breathing, heavy bleeding. RED_ALWAYS marks those that are flags at any
 * severity; RED_SEVERE those the NHS qualifies as severe or heavy. */
#include "workflow/wf_internal.h"

#include <stdlib.h>
#include <string.h>

enum { RED_NONE, RED_SEVERE, RED_ALWAYS };

typedef struct {
    const char *name;
    const char *mesh; /* the MeSH heading, or NULL where none fits */
    int red;
    const char *variants[12];
    const char *search[6];
} symptom_row_t;

static const symptom_row_t table[] = {
    {"fever",
     "Fever",
     RED_NONE,
     {"fever", "high temperature", "pyrexia", "febrile", "feverish", "high fever", "hyperthermia",
      NULL},
     {"fever", "pyrexia", "febrile", "high temperature", NULL}},
    {"chills",
     "Chills",
     RED_NONE,
     {"chills", "shivering", "rigors", "rigor", NULL},
     {"chills", "rigors", "shivering", NULL}},
    {"cough",
     "Cough",
     RED_NONE,
     {"cough", "coughing", "dry cough", "productive cough", "wet cough", "persistent cough", NULL},
     {"cough", NULL}},
    {"shortness of breath",
     "Dyspnea",
     RED_SEVERE,
     {"shortness of breath", "dyspnea", "dyspnoea", "breathlessness", "difficulty breathing",
      "breathing difficulty", "trouble breathing", "short of breath", "breathless", NULL},
     {"shortness of breath", "dyspnea", "breathlessness", "difficulty breathing", "short of breath",
      NULL}},
    {"chest pain",
     "Chest Pain",
     RED_ALWAYS,
     {"chest pain", "chest tightness", "chest pressure", "pain in the chest", NULL},
     {"chest pain", "chest tightness", NULL}},
    {"headache",
     "Headache",
     RED_NONE,
     {"headache", "head ache", "head pain", "headaches", NULL},
     {"headache", NULL}},
    {"sore throat",
     "Pharyngitis",
     RED_NONE,
     {"sore throat", "throat pain", "pharyngitis", NULL},
     {"sore throat", "throat pain", NULL}},
    {"runny nose",
     "Rhinorrhea",
     RED_NONE,
     {"runny nose", "rhinorrhea", "rhinorrhoea", NULL},
     {"runny nose", "rhinorrhea", NULL}},
    {"nasal congestion",
     "Nasal Obstruction",
     RED_NONE,
     {"nasal congestion", "stuffy nose", "blocked nose", "stuffy", NULL},
     {"nasal congestion", "stuffy nose", NULL}},
    {"sneezing", "Sneezing", RED_NONE, {"sneezing", "sneeze", NULL}, {"sneezing", NULL}},
    {"wheezing", NULL, RED_NONE, {"wheezing", "wheeze", NULL}, {"wheezing", "wheeze", NULL}},
    {"fatigue",
     "Fatigue",
     RED_NONE,
     {"fatigue", "tiredness", "tired", "exhaustion", "lack of energy", "lethargy", NULL},
     {"fatigue", "tiredness", "exhaustion", NULL}},
    {"weakness",
     "Muscle Weakness",
     RED_NONE,
     {"weakness", "muscle weakness", "weak", NULL},
     {"weakness", NULL}},
    {"muscle aches",
     "Myalgia",
     RED_NONE,
     {"muscle aches", "muscle ache", "muscle pain", "myalgia", "body aches", "body ache", NULL},
     {"muscle pain", "myalgia", "muscle aches", "body aches", NULL}},
    {"joint pain",
     "Arthralgia",
     RED_NONE,
     {"joint pain", "arthralgia", "painful joints", NULL},
     {"joint pain", "arthralgia", NULL}},
    {"back pain",
     "Back Pain",
     RED_NONE,
     {"back pain", "backache", "low back pain", NULL},
     {"back pain", NULL}},
    {"abdominal pain",
     "Abdominal Pain",
     RED_NONE,
     {"abdominal pain", "stomach pain", "stomach ache", "stomachache", "belly pain", "tummy pain",
      "abdominal cramps", NULL},
     {"abdominal pain", "stomach pain", NULL}},
    {"nausea",
     "Nausea",
     RED_NONE,
     {"nausea", "feeling sick", "queasy", "nauseous", NULL},
     {"nausea", NULL}},
    {"vomiting",
     "Vomiting",
     RED_NONE,
     {"vomiting", "throwing up", "emesis", "vomit", NULL},
     {"vomiting", NULL}},
    {"diarrhea",
     "Diarrhea",
     RED_NONE,
     {"diarrhea", "diarrhoea", "loose stools", NULL},
     {"diarrhea", NULL}},
    {"constipation",
     "Constipation",
     RED_NONE,
     {"constipation", "constipated", NULL},
     {"constipation", NULL}},
    {"dizziness",
     "Dizziness",
     RED_NONE,
     {"dizziness", "dizzy", "lightheadedness", "light-headed", "lightheaded", NULL},
     {"dizziness", "lightheadedness", NULL}},
    {"fainting",
     "Syncope",
     RED_ALWAYS,
     {"fainting", "faint", "syncope", "passed out", "loss of consciousness", "unconscious", NULL},
     {"fainting", "syncope", "loss of consciousness", NULL}},
    {"confusion",
     "Confusion",
     RED_ALWAYS,
     {"confusion", "confused", "disorientation", "disoriented", "altered mental status", NULL},
     {"confusion", "disorientation", NULL}},
    {"seizure",
     "Seizures",
     RED_ALWAYS,
     {"seizure", "seizures", "convulsion", "convulsions", "fit", NULL},
     {"seizures", "convulsions", NULL}},
    {"rash",
     "Exanthema",
     RED_NONE,
     {"rash", "skin rash", "exanthem", "rashes", NULL},
     {"rash", NULL}},
    {"itching",
     "Pruritus",
     RED_NONE,
     {"itching", "itch", "itchy", "pruritus", NULL},
     {"itching", "pruritus", NULL}},
    {"swelling",
     "Edema",
     RED_NONE,
     {"swelling", "edema", "oedema", "swollen", NULL},
     {"swelling", "edema", NULL}},
    {"weight loss",
     "Weight Loss",
     RED_NONE,
     {"weight loss", "losing weight", "unintentional weight loss", NULL},
     {"weight loss", NULL}},
    {"loss of appetite",
     "Anorexia",
     RED_NONE,
     {"loss of appetite", "poor appetite", "appetite loss", "anorexia", NULL},
     {"loss of appetite", "poor appetite", NULL}},
    {"coughing up blood",
     "Hemoptysis",
     RED_NONE,
     {"coughing up blood", "hemoptysis", "haemoptysis", "blood in sputum", NULL},
     {"hemoptysis", "coughing up blood", NULL}},
    {"blood in urine",
     "Hematuria",
     RED_NONE,
     {"blood in urine", "hematuria", "haematuria", NULL},
     {"hematuria", "blood in the urine", NULL}},
    {"painful urination",
     "Dysuria",
     RED_NONE,
     {"painful urination", "dysuria", "burning urination", "burning when urinating", NULL},
     {"dysuria", "painful urination", NULL}},
    {"frequent urination",
     NULL,
     RED_NONE,
     {"frequent urination", "urinary frequency", NULL},
     {"frequent urination", NULL}},
    {"palpitations",
     NULL,
     RED_NONE,
     {"palpitations", "racing heart", "heart racing", "pounding heart", NULL},
     {"palpitations", NULL}},
    {"numbness",
     "Hypesthesia",
     RED_NONE,
     {"numbness", "tingling", "pins and needles", NULL},
     {"numbness", "tingling", NULL}},
    {"difficulty speaking",
     "Dysarthria",
     RED_ALWAYS,
     {"difficulty speaking", "slurred speech", "dysarthria", "speech problems", NULL},
     {"slurred speech", "difficulty speaking", NULL}},
    {"facial drooping",
     "Facial Paralysis",
     RED_ALWAYS,
     {"facial drooping", "face drooping", "facial droop", "facial weakness", NULL},
     {"facial weakness", "facial paralysis", NULL}},
    {"blurred vision",
     "Vision Disorders",
     RED_NONE,
     {"blurred vision", "blurry vision", "vision loss", "vision changes", NULL},
     {"blurred vision", "vision loss", NULL}},
    {"stiff neck", NULL, RED_NONE, {"stiff neck", "neck stiffness", NULL}, {"stiff neck", NULL}},
    {"bleeding",
     "Hemorrhage",
     RED_SEVERE,
     {"bleeding", "hemorrhage", "haemorrhage", NULL},
     {"bleeding", NULL}},
    {"jaundice",
     "Jaundice",
     RED_NONE,
     {"jaundice", "yellow skin", "yellowing of the skin", NULL},
     {"jaundice", NULL}},
    {"night sweats",
     NULL,
     RED_NONE,
     {"night sweats", "sweating at night", NULL},
     {"night sweats", NULL}},
    {"ear pain", "Earache", RED_NONE, {"ear pain", "earache", NULL}, {"ear pain", "earache", NULL}},
};

/* Severity weights: mild 1, moderate 2, severe 3 (an ordinal scale, not a
 * measured quantity); unspecified counts as moderate. */
static double severity_weight(const char *sev, int *known) {
    static const struct {
        const char *word;
        double w;
    } w[] = {{"mild", 1}, {"slight", 1}, {"moderate", 2}, {"severe", 3}, {"serious", 3}};
    *known = 1;
    for (size_t i = 0; sev && i < MS_COUNTOF(w); i++)
        if (!strcmp(sev, w[i].word))
            return w[i].w;
    *known = 0;
    return 2;
}

static size_t count_variants(const symptom_row_t *r) {
    size_t n = 0;
    while (n < MS_COUNTOF(r->variants) && r->variants[n])
        n++;
    return n;
}

static size_t count_search(const symptom_row_t *r) {
    size_t n = 0;
    while (n < MS_COUNTOF(r->search) && r->search[n])
        n++;
    return n;
}

/* The table row for a normalised name: an exact variant first, else the
 * longest variant the name holds as whole words ("persistent dry cough"). */
static const symptom_row_t *lookup(const char *name) {
    const symptom_row_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < MS_COUNTOF(table); i++) {
        for (size_t k = 0; k < count_variants(&table[i]); k++) {
            const char *v = table[i].variants[k];
            if (!strcmp(name, v))
                return &table[i];
            if (strlen(v) > best_len && strlen(v) > 3 && ms__wf_has_words(name, v)) {
                best = &table[i];
                best_len = strlen(v);
            }
        }
    }
    return best;
}

const char *ms__wf_symptom_lookup(const char *name, const char *const **phrases, size_t *n,
                                  int *red_flag) {
    const symptom_row_t *r = lookup(name);
    if (!r) {
        *phrases = NULL;
        *n = 0;
        *red_flag = RED_NONE;
        return NULL;
    }
    *phrases = r->search;
    *n = count_search(r);
    *red_flag = r->red;
    return r->name;
}

/* Merges a repeated symptom into the one already listed: the higher
 * severity is kept. Returns 1 when s was a repeat. */
static int merge_repeat(ms_wf_t *wf, json_t *out, const char *canon, json_t *s) {
    size_t i;
    json_t *have;
    json_array_foreach(out, i, have) {
        if (strcmp(json_string_value(json_object_get(have, "name")), canon) != 0)
            continue;
        double w = json_number_value(json_object_get(s, "weight"));
        if (w > json_number_value(json_object_get(have, "weight"))) {
            json_object_set(have, "weight", json_object_get(s, "weight"));
            json_object_set(have, "severity", json_object_get(s, "severity"));
        }
        ms__wf_unused(wf, "symptoms", json_object_get(s, "input"),
                      "the same symptom as \"%s\", listed again: counted once", canon);
        return 1;
    }
    return 0;
}

void ms__wf_symptoms(ms_wf_t *wf) {
    json_t *out = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(wf->request, "symptoms"), i, s) {
        const char *input = json_string_value(json_object_get(s, "name"));
        const char *sev = json_string_value(json_object_get(s, "severity"));
        const symptom_row_t *r = lookup(input);
        int sev_known;
        double w = severity_weight(sev, &sev_known);
        if (sev && !sev_known) {
            char field[48];
            snprintf(field, sizeof field, "symptoms[%zu].severity", i);
            ms__wf_unused(wf, field, json_object_get(s, "severity"),
                          "not one of mild, moderate, severe: weighted as moderate");
        }
        const char *canon = r ? r->name : input;
        int red = r && (r->red == RED_ALWAYS || (r->red == RED_SEVERE && w >= 3));
        json_t *terms = json_array();
        if (r)
            for (size_t k = 0; k < count_search(r); k++)
                json_array_append_new(terms, json_string(r->search[k]));
        else
            json_array_append_new(terms, json_string(input));
        json_t *n = json_pack("{s:s, s:s, s:s?, s:f, s:O?, s:b, s:s?, s:b, s:o, s:s}", "name",
                              canon, "input", input, "severity", sev_known ? sev : NULL, "weight",
                              w, "duration", json_object_get(s, "duration"), "known", r != NULL,
                              "mesh", r ? r->mesh : NULL, "red_flag", red, "search_terms", terms,
                              "source", "request");
        if (!merge_repeat(wf, out, canon, n))
            json_array_append(out, n);
        if (red)
            json_array_append_new(wf->red_flags, json_pack("{s:s, s:s}", "symptom", canon, "source",
                                                           "NHS, When to call 999 (nhs.uk)"));
        json_decref(n);
    }
    json_decref(wf->symptoms);
    wf->symptoms = out;
}
