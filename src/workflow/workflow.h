/* The diagnosis and prescription workflows (docs/workflows.md): staged
 * decision support for a clinician, grounded in the patient's record, the
 * knowledge base (MedQuAD) and the drug knowledge imported into it
 * (DrugCentral classes, NDF-RT interactions, openFDA labels).
 *
 * A workflow is data plus a list of stages. The chat module runs each stage
 * as a stage of a turn (chat/turn.c declares the chains), on the knowledge-
 * base pool when the stage reads the knowledge base; this module knows
 * nothing of loops, streams or storage. Every stage appends the items it
 * produced (the objects a client is streamed, seed 004's stream_chunk
 * content) to an array; ms_wf_result builds the final result.
 *
 * Nothing here is a diagnosis or a prescription: every item carries its
 * evidence and citations, every result the disclaimer, and what a
 * workflow could not use (an unknown symptom, an implausible value, a
 * drug without a label) is said in the result, never silently dropped.
 *
 * Thread safety: an ms_wf_t is used by one thread at a time (the chat
 * module hands it to a pool thread for a stage and takes it back). The
 * tables (NEWS2, vital-sign rules, symptom synonyms, allergy codes) are
 * constant. */
#ifndef MS_WORKFLOW_WORKFLOW_H
#define MS_WORKFLOW_WORKFLOW_H

#include "kb/kb.h"

#include <jansson.h>
#include <stddef.h>

typedef enum { MS_WF_DIAGNOSIS, MS_WF_PRESCRIPTION } ms_wf_kind_t;

/** "diagnosis" | "prescription" -> kind; 0 or MS_EINVAL. */
int ms_wf_parse_kind(const char *s, ms_wf_kind_t *out);
/** The wire name of a kind. */
const char *ms_wf_kind_name(ms_wf_kind_t kind);

/** Bounds on one request (config rows workflow_*; docs/workflows.md
 * "Limits"). A request past a bound is refused with an error naming it. */
typedef struct {
    size_t max_symptoms;    /**< entries of data.symptoms (default 30) */
    size_t max_items;       /**< entries of any other list: allergies, medications ... (50) */
    size_t max_chars;       /**< Unicode code points of one string (200) */
    size_t differential_k;  /**< candidate conditions streamed (5) */
    size_t max_medications; /**< medication candidates considered (12) */
} ms_wf_limits_t;

/** The defaults above. */
void ms_wf_limits_default(ms_wf_limits_t *lim);

/* ---- NEWS2 (news2.c) -------------------------------------------------------
 * National Early Warning Score 2, Royal College of Physicians, "National
 * Early Warning Score (NEWS) 2: Standardising the assessment of acute-
 * illness severity in the NHS", December 2017, Chart 1 (the scoring
 * system) and Chart 2 (thresholds and triggers). */

/** The seven NEWS2 parameters, in Chart 1's order. */
typedef enum {
    MS_NEWS2_RESP_RATE,     /**< respiration rate, breaths per minute */
    MS_NEWS2_SPO2,          /**< SpO2, %, on scale 1 or 2 */
    MS_NEWS2_AIR_OXYGEN,    /**< breathing air (0) or supplemental oxygen (2) */
    MS_NEWS2_SYSTOLIC_BP,   /**< systolic blood pressure, mmHg */
    MS_NEWS2_PULSE,         /**< pulse, beats per minute */
    MS_NEWS2_CONSCIOUSNESS, /**< ACVPU: alert (0) or new confusion, voice, pain, unresponsive (3) */
    MS_NEWS2_TEMPERATURE,   /**< degrees Celsius */
    MS_NEWS2_NPARAMS
} ms_news2_param_t;

/** One set of observations; a parameter is used only when its have[] is
 * set. value[MS_NEWS2_AIR_OXYGEN] is 1 for oxygen, 0 for air;
 * value[MS_NEWS2_CONSCIOUSNESS] is 1 for alert, 0 for any of C, V, P, U.
 * spo2_scale is 1, or 2 for a patient whose prescribed target range is
 * 88-92% (hypercapnic respiratory failure), a clinician's decision (RCP
 * 2017, "SpO2 Scale 2"). On scale 2 the oxygen flag changes the SpO2 score
 * from 93% up, so it is read when present. */
typedef struct {
    int have[MS_NEWS2_NPARAMS];
    double value[MS_NEWS2_NPARAMS];
    int spo2_scale;
} ms_news2_input_t;

/** A score: each present parameter's 0..3, the aggregate over the present
 * ones, whether any single parameter scored 3 (Chart 2's "red score"). */
typedef struct {
    int score[MS_NEWS2_NPARAMS]; /**< -1 for a parameter not present */
    int aggregate;
    int npresent;
    int red; /**< some parameter scored 3 */
} ms_news2_t;

/** Scores in with Chart 1. Values between two bands (36.05 °C) belong to
 * the band of the value rounded to the chart's resolution (0.1 °C, whole
 * breaths, beats, mmHg and %), as the chart is read at the bedside. */
void ms_news2_score(const ms_news2_input_t *in, ms_news2_t *out);

/** Chart 2's clinical risk and the workflow's urgency: aggregate 0-4 with
 * no red score "low"; a red score with aggregate 0-4 "moderate" (RCP: low-
 * medium, urgent ward-based response); 5-6 "high" (RCP: medium, urgent
 * response threshold); 7 or more "emergency" (RCP: high, emergency
 * response). */
const char *ms_news2_urgency(const ms_news2_t *s);
/** Chart 2's words for the same band: "low", "low-medium", "medium", "high". */
const char *ms_news2_risk(const ms_news2_t *s);
/** The parameter's name in results ("respiration_rate", "spo2", ...). */
const char *ms_news2_param_name(ms_news2_param_t p);

/* ---- a workflow run ----------------------------------------------------------- */

typedef struct ms_wf ms_wf_t;

/** Validates a request (the seed's "data" object, docs/workflows.md) and
 * creates the run. Shape errors (a list that is not a list, a list past
 * its limit, a string past max_chars, a symptom without a name) are
 * refused: MS_EINVAL (or MS_ETOOBIG for a bound) with a sentence in err
 * naming the field and the limit. Values that parse but cannot be used
 * (a temperature of 60 °C, an unknown severity) are not errors: they are
 * recorded in the result's "unused". data is copied. */
int ms_wf_new(ms_wf_kind_t kind, const json_t *data, const ms_wf_limits_t *lim, ms_wf_t **out,
              char *err, size_t errlen);
void ms_wf_free(ms_wf_t *wf);
ms_wf_kind_t ms_wf_kind(const ms_wf_t *wf);

/** The request as stored: the normalised data (borrowed). */
json_t *ms_wf_request(const ms_wf_t *wf);
/** One line that stands for the request in the conversation (the user
 * message's text): "Diagnosis request: fever (moderate, 3 days); ...".
 * Borrowed; valid for the run's life. */
const char *ms_wf_summary(const ms_wf_t *wf);

/** Fills every field the request left out from a clinical context (the
 * JSON object of clinical/clinical.h: age, gender, weight_kg,
 * chief_complaint, problems, medications, allergies, vitals {temperature,
 * heart_rate, blood_pressure "S/D", respiratory_rate, spo2}); the fields
 * taken are listed in the result's "from_context". NULL context: none. */
void ms_wf_apply_context(ms_wf_t *wf, const json_t *context);

/** One stage of a workflow: its seed name, the progress percentage it
 * starts at (seed 004), the progress message, and whether it reads the
 * knowledge base (then it runs on a pool thread with a connection). */
typedef struct {
    const char *name;
    int progress;
    const char *message;
    int needs_kb;
} ms_wf_stage_t;

/** The stages of kind, in order: *n gets their count. */
const ms_wf_stage_t *ms_wf_stages(ms_wf_kind_t kind, size_t *n);

/** Runs stage i (0-based, in order; each once) and appends to items (a JSON
 * array) the objects it streams. kb may be NULL for a stage that does not
 * need it. Returns 0, or MS_EIO when the knowledge base failed (the run
 * can still produce a result saying so). */
int ms_wf_run_stage(ms_wf_t *wf, size_t i, ms_kb_t *kb, json_t *items);

/** The final result (seed 004's complete.result; docs/workflows.md gives
 * every field), with disclaimer; a new reference. status is the turn's
 * outcome ("complete", "cancelled", "interrupted", "error"): a result that
 * did not run every stage says which it reached. */
json_t *ms_wf_result(ms_wf_t *wf, const char *disclaimer, const char *status);
/** A readable summary of a result, ending with the disclaimer (the stored
 * assistant message's content): malloc'd. */
char *ms_wf_result_text(ms_wf_kind_t kind, const json_t *result, const char *disclaimer);

/* ---- the model re-rank hook -------------------------------------------------------
 * With a model configured, the model may re-order the retrieved candidates
 * and explain each; it may remove candidates but never add one the
 * evidence lacks. Not wired yet (docs/workflows.md "Model re-rank"): the
 * chat module would call this between differential_diagnosis and
 * primary_diagnosis with the model's answer. */

/** Applies a model's ordering to the differential: order lists candidate
 * names best first (names not among the candidates are ignored and
 * reported in "unused"), explanations (may be NULL) maps a name to a
 * sentence. Scores are left as computed; the order and the explanation
 * are marked as the model's. Returns the number of candidates kept. */
size_t ms_wf_rerank(ms_wf_t *wf, const json_t *order, const json_t *explanations);

#endif
