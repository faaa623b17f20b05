/* Shared by the workflow module's files (not public; the ms__wf_ prefix
 * follows the uv__ convention for module internals). */
#ifndef MS_WORKFLOW_WF_INTERNAL_H
#define MS_WORKFLOW_WF_INTERNAL_H

#include "workflow/workflow.h"

#include "core/buf.h"
#include "core/ms.h"

#include <jansson.h>
#include <stdint.h>

/* One drug the prescription workflow reasons about: a candidate, a
 * medication the patient takes, or an ingredient an allergy names. */
typedef struct {
    char *name;       /* as the clinician or the passage wrote it */
    int64_t id;       /* DrugCentral ingredient id, 0 when not resolved */
    char *ingredient; /* DrugCentral's name for it */
    json_t *classes;  /* [{type, class_id, name, source}] from the drug tables */
    json_t *label;    /* the openFDA label record, or NULL */
    char *origin;     /* "medquad", "request", "context" */
    json_t *evidence; /* the citation that proposed it (MedQuAD sentence), or NULL */
    int excluded;
} ms__wf_drug_t;

/* One allergy as resolved (allergy.c). */
typedef struct {
    char *text;      /* the entry as recorded */
    char *code;      /* a SNOMED CT code, or NULL */
    json_t *classes; /* class names it covers: ["Penicillins", ...] */
    json_t *stems;   /* INN stems it covers: ["cillin"] */
    int64_t drug_id; /* a single ingredient it names, or 0 */
    char *ingredient;
    const char *status; /* "checked" | "not checked" */
    char *reason;
    char *source; /* where the mapping comes from */
} ms__wf_allergy_t;

struct ms_wf {
    ms_wf_kind_t kind;
    ms_wf_limits_t lim;
    json_t *request; /* normalised data */
    char *summary;
    json_t *from_context; /* field names filled from the clinical context */
    json_t *unused;       /* [{field, value, reason}] */
    json_t *notes;        /* sentences about the knowledge on file */
    json_t *citations;    /* every citation of the result, once each (by source_id) */
    size_t stages_done;
    const char *last_stage;

    /* diagnosis */
    json_t *symptoms; /* normalised symptoms (symptoms.c) */
    json_t *vitals;   /* {values, flags, missing} */
    ms_news2_t news2;
    int news2_scored;
    json_t *history;
    json_t *red_flags;
    json_t *differential;
    json_t *primary;
    int reranked;

    /* prescription */
    ms__wf_allergy_t *allergies;
    size_t nallergies;
    ms__wf_drug_t *cands;
    size_t ncands;
    ms__wf_drug_t *current;
    size_t ncurrent;
    json_t *allergy_check, *medications, *excluded, *interactions, *monitoring, *contraindications,
        *compliance, *follow_up;
    char *diagnosis_doc; /* the MedQuAD document the diagnosis matched */
    int drugs_on_file;   /* the drug tables were imported */
};

/* ---- workflow.c ---- */
/* Creates the result arrays of a new run. */
void ms__wf_init(ms_wf_t *wf);

/* ---- request.c ---- */
/* A string member: 0 (absent or null: *out NULL), MS_EINVAL / MS_ETOOBIG
 * with err. *out is a new copy. */
int ms__wf_get_str(const json_t *obj, const char *key, const char *path, size_t max_chars,
                   char **out, char *err, size_t errlen);
/* Appends {field, value, reason} to wf->unused. value may be NULL. */
void ms__wf_unused(ms_wf_t *wf, const char *field, const json_t *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds c to wf->citations unless one with its source_id is there;
 * returns c (borrowed). */
json_t *ms__wf_cite(ms_wf_t *wf, json_t *c);
/* The number in v when it is a JSON number (integer or real); 0/1. */
int ms__wf_number(const json_t *v, double *out);
/* The age in years when plausible (0..130), else -1. */
double ms__wf_age(const json_t *v);

/* ---- text.c ---- */
/* A citation object (docs/protocol.md "Citation"): source_id, source_type,
 * title, url, source_name, quoted_text (cut at ~400 bytes on a word). */
json_t *ms__wf_citation(const char *source_id, const char *source_type, const char *title,
                        const char *url, const char *source_name, const char *quoted,
                        const char *subtitle);
/* The sentences of text holding any of needles (ASCII case folded, whole
 * words): at most max of them, joined by a space; NULL if none. malloc'd. */
char *ms__wf_sentences_with(const char *text, const char *const *needles, size_t nneedles,
                            size_t max);
/* The opening of text, up to about max bytes, ended at a sentence or word
 * boundary, never inside a UTF-8 sequence. malloc'd. */
char *ms__wf_excerpt(const char *text, size_t max);
/* Whether hay holds needle as whole words, ASCII case folded. */
int ms__wf_has_words(const char *hay, const char *needle);
/* Lower-cased copy with runs of blanks as one space, trimmed. */
char *ms__wf_norm(const char *s);

/* ---- vitals.c ---- */
/* vitals_evaluation: parses the request's vitals, flags abnormal values
 * (each flag citing its rule), scores NEWS2; fills wf->vitals, wf->news2. */
void ms__wf_vitals(ms_wf_t *wf);
/* The NEWS2 part of a result. */
json_t *ms__wf_news2_json(const ms_wf_t *wf);

/* ---- symptoms.c ---- */
/* symptoms_analysis: normalises names and synonyms, severity weights. */
void ms__wf_symptoms(ms_wf_t *wf);
/* The canonical name and FTS phrases of a symptom name, or NULL when the
 * table does not know it (then *phrases is the name itself). */
const char *ms__wf_symptom_lookup(const char *name, const char *const **phrases, size_t *n,
                                  int *red_flag);

/* ---- diagnosis.c ---- */
int ms__wf_dx_stage(ms_wf_t *wf, size_t i, ms_kb_t *kb, json_t *items);
json_t *ms__wf_dx_result(ms_wf_t *wf);

/* ---- prescription.c / allergy.c ---- */
int ms__wf_rx_stage(ms_wf_t *wf, size_t i, ms_kb_t *kb, json_t *items);
json_t *ms__wf_rx_result(ms_wf_t *wf);
/* Resolves the allergies of the request (allergy.c). */
void ms__wf_allergies_resolve(ms_wf_t *wf, ms_kb_t *kb);
/* The allergy that excludes drug d, or NULL; *why gets the reason
 * (malloc'd) when one does. */
const ms__wf_allergy_t *ms__wf_allergy_hit(const ms_wf_t *wf, const ms__wf_drug_t *d, char **why);
void ms__wf_allergies_free(ms__wf_allergy_t *a, size_t n);
void ms__wf_drugs_free(ms__wf_drug_t *d, size_t n);

#endif
