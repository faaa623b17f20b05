/* A patient's clinical context: the record a conversation about that patient
 * is bound to (seed 002, VoiceAssist Phase 8, "Clinical Context
 * Persistence"), its validation, its import from FHIR R4, and what the
 * answer pipeline reads from it (the problem list for retrieval, an allergy
 * to the class of a drug the question names).
 *
 * A context is a JSON object (jansson) with these members, every one of them
 * optional (null or absent when unknown):
 *   age              integer, completed years, 0..130
 *   gender           "male" | "female" | "other" | "unknown" (FHIR R4
 *                    AdministrativeGender,
 * http://hl7.org/fhir/R4/valueset-administrative-gender.html) weight_kg        number, kilograms,
 * 0.2..700 height_cm        number, centimetres, 20..300 chief_complaint  string problems array of
 * strings (diagnoses, active conditions) medications      array of strings (active medicines)
 *   allergies        array of strings (allergies and intolerances)
 *   vitals           object: temperature (number, degrees Celsius, 10..47),
 *                    heart_rate (integer, beats per minute, 10..350),
 *                    blood_pressure (string "systolic/diastolic" in mmHg,
 *                    systolic 40..300 above diastolic 10..200),
 *                    respiratory_rate (integer, breaths per minute, 1..120),
 *                    spo2 (number, percent, 50..100)
 * The ranges are plausibility bounds, not clinical norms: they let through
 * every value a living patient can be measured with and stop unit mix-ups
 * (98.6 as a temperature, 1.75 as a height) and typos. docs/protocol.md
 * ("Clinical context") gives their sources.
 *
 * Everything here is pure computation on its inputs (no storage, no
 * globals), safe on any thread, except ms_clinical_fhir_fetch, which does
 * network I/O and blocks. */
#ifndef MS_CLINICAL_CLINICAL_H
#define MS_CLINICAL_CLINICAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/** Size limits of one context (config: clinical_max_items,
 * clinical_max_chars). */
typedef struct {
    size_t max_items; /**< entries in each of problems, medications, allergies */
    size_t max_chars; /**< Unicode code points in one string (an entry, the chief complaint) */
} ms_clinical_limits_t;

/** The defaults: 100 entries a list, 500 code points a string. */
#define MS_CLINICAL_MAX_ITEMS 100
#define MS_CLINICAL_MAX_CHARS 500

/* ---- validation ----------------------------------------------------------- */

/** Checks a client's context object in and writes its normalised form into
 * *out (new reference): strings trimmed (an empty one becomes null), gender
 * lower-cased, list entries trimmed and de-duplicated (case-insensitively,
 * first kept), blood pressure as "S/D". Only members present in `in` appear
 * in *out (null stays null: "clear this field"), so the same call checks a
 * whole context (POST) and a partial update (PUT). vitals is replaced as a
 * whole. Members outside the list above are refused (a misspelt "weight"
 * must not vanish silently); callers remove their own members
 * (conversation_id) first.
 * Returns 0, or MS_EINVAL with a sentence in err (size errlen) that names
 * the field, its unit and its range, e.g. "vitals.temperature must be a
 * number of degrees Celsius from 10 to 47 (98.6 looks like Fahrenheit)". */
int ms_clinical_check(json_t *in, const ms_clinical_limits_t *lim, json_t **out, char *err,
                      size_t errlen);

/* ---- FHIR R4 import (fhir.c) ---------------------------------------------- */

/** How close to the record's newest vital sign an acute sign must be to
 * count as current: 24 hours. */
#define MS_CLINICAL_ACUTE_WINDOW_MS (INT64_C(24) * 3600 * 1000)

/** What an import found, for the caller to show (not stored). */
typedef struct {
    int entries;     /**< Bundle entries read */
    int conditions;  /**< active Conditions used as problems */
    int medications; /**< active MedicationRequests used */
    int allergies;   /**< AllergyIntolerances used */
    int vitals;      /**< vital-sign values used (height, weight, blood pressure ...) */
    int skipped;     /**< resources about another patient, or unusable */
} ms_clinical_import_counts_t;

/** Builds a context from a FHIR R4 Bundle (http://hl7.org/fhir/R4/bundle.html)
 * of type transaction, collection or searchset, as `ms_clinical_check`
 * would accept it:
 * - Patient: gender; age in completed years at as_of_ms (ms since the epoch,
 *   UTC), or at deceasedDateTime when that is earlier, from birthDate (a
 *   partial date counts from its first day);
 * - Conditions whose clinicalStatus is active, recurrence or relapse, and
 *   whose verificationStatus is not refuted or entered-in-error: problems;
 * - MedicationRequests with status active: medications (the code's text or
 *   display, through medicationReference to a Medication entry too);
 * - AllergyIntolerances not inactive or resolved, not refuted or entered in
 *   error: allergies;
 * - vital-sign Observations (status final, amended, corrected or
 *   preliminary), the latest by effective time for each LOINC code:
 *   8310-5 (and 8331-1, oral) body temperature, 8867-4 heart rate, 9279-1
 *   respiratory rate, 59408-5 / 2708-6 SpO2, 8302-2 height, 29463-7
 *   weight, 55284-4 blood pressure from components 8480-6 / 8462-4;
 *   UCUM units converted (Cel / [degF], kg / g / [lb_av], cm / m / [in_i],
 *   mm[Hg], /min, %). Heights, weights and temperatures are rounded to 0.1,
 *   rates and pressures to whole numbers. The acute signs (temperature,
 *   heart rate, respiratory rate, SpO2) are kept only when taken within
 *   MS_CLINICAL_ACUTE_WINDOW_MS of the record's newest vital sign (the
 *   fever of a sick visit years ago is not the patient's temperature);
 *   height, weight and blood pressure are the latest whenever taken.
 * References are resolved within the bundle (R4 section 2.36.4): a
 * reference equal to an entry's fullUrl (urn:uuid:... in Synthea), or a
 * relative "Type/id". AllergyIntolerance names its patient in `patient`,
 * the others in `subject`; a resource about another patient is skipped.
 * The bundle must hold exactly one Patient. Values outside the ranges of
 * the context are left out with a warning, never imported.
 * *out gets the context (members null or [] when the bundle says nothing),
 * *warnings (may be NULL) a JSON array of sentences, counts (may be NULL)
 * the totals. Returns 0, or MS_EINVAL with err naming what is wrong with
 * the bundle (not a Bundle, another type, no Patient, two Patients). */
int ms_clinical_from_fhir(json_t *bundle, int64_t as_of_ms, const ms_clinical_limits_t *lim,
                          json_t **out, json_t **warnings, ms_clinical_import_counts_t *counts,
                          char *err, size_t errlen);

/** Parses a FHIR date or dateTime ("2019", "2019-05", "2019-05-22",
 * "2019-05-22T03:19:07+00:00", fractional seconds and "Z" too) into ms
 * since the epoch, UTC; a partial date is its first instant. 0 or
 * MS_EINVAL. */
int ms_clinical_fhir_time(const char *s, int64_t *out_ms);

/** Fetching a patient from a FHIR server (fetch.c). */
typedef struct {
    size_t max_bytes;   /**< every page together */
    int max_pages;      /**< Bundle.link "next" pages followed */
    long timeout_ms;    /**< per request */
    const char *bearer; /**< an access token for Authorization, or NULL */
} ms_clinical_fetch_opts_t;

/** GETs base/Patient/{patient_id}/$everything (FHIR R4 operation
 * http://hl7.org/fhir/R4/patient-operation-everything.html) with
 * Accept: application/fhir+json, following "next" links on the same
 * scheme, host and port as base, and returns one searchset Bundle holding
 * every entry (*out, new reference). patient_id must be a FHIR id
 * ([A-Za-z0-9.-]{1,64}). Blocks (libcurl). Returns 0, MS_EINVAL (bad base
 * or id), MS_ETOOBIG (over max_bytes or max_pages), MS_EFORMAT (a page is
 * not a Bundle) or MS_EIO (connection, timeout, HTTP status), with err. */
int ms_clinical_fhir_fetch(const char *base, const char *patient_id,
                           const ms_clinical_fetch_opts_t *opts, json_t **out, char *err,
                           size_t errlen);

/* ---- what the answer pipeline reads (drugclass.c, context.c) --------------- */

/** The context as lines for a model prompt, one member a line, units
 * spelt out ("Age: 54 years", "Problems: Hypertension; Asthma",
 * "Vitals: temperature 38.2 °C; heart rate 96 /min; blood pressure
 * 150/95 mmHg; ..."), unknown members left out, and no ids or
 * timestamps (they mean nothing to a model). malloc'd; NULL when the
 * context is NULL or records nothing. */
char *ms_clinical_prompt_text(const json_t *context);

/** The context's problems as a search phrase: the entries joined by spaces,
 * each without a trailing SNOMED CT semantic tag ("(disorder)",
 * "(finding)", "(situation)" ...), at most max_bytes long (whole entries
 * only: a cut one could name another condition).
 * malloc'd; NULL when the context has no problems. */
char *ms_clinical_problem_terms(const json_t *context, size_t max_bytes);

/** When question names a drug (by ingredient name, whole word, case
 * folded) whose class one of the context's allergies names (the class, an
 * ingredient of it, or a usual short name such as "sulfa"), a one-paragraph
 * note saying so: "Allergy check: the patient's record lists an allergy
 * (\"Allergy to penicillin\", penicillins). Amoxicillin belongs to that
 * class (Penicillin-class Antibacterial; DrugCentral, FDA EPC N0000175497)."
 * malloc'd, ending in a blank line;
 * NULL when there is nothing to note. The classes are a small table of
 * the drug classes most often behind recorded drug allergies (penicillins,
 * cephalosporins, sulfonamide antibacterials, NSAIDs, opioids, macrolides,
 * fluoroquinolones, tetracyclines, ACE inhibitors), their members and names
 * taken from DrugCentral's FDA Established Pharmacologic Classes (Ursu et
 * al., Nucleic Acids Res 2017;45:D932; CC BY 4.0), each row citing its
 * class id (drugclass.c). */
char *ms_clinical_allergy_note(const json_t *context, const char *question);

/** The class a drug name belongs to in that table ("Penicillin-class
 * Antibacterial"), or NULL. name is one word or ingredient, any case. */
const char *ms_clinical_drug_class(const char *name);

#endif
