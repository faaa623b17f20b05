/* What the answer pipeline reads from a context: the problem list as search
 * words, and the drug-class allergy check (clinical.h).
 *
 * The class table is small on purpose: the classes most often behind a
 * recorded drug allergy, for the offline answerer's note. The full
 * ingredient -> class table (DrugCentral, ../shared/data/drugs) belongs to
 * the prescription workflows, which will replace this one. Every member
 * below is an ingredient DrugCentral 2016 (Ursu et al., Nucleic Acids Res
 * 2017;45:D932, CC BY 4.0) files under the class id given: an FDA
 * Established Pharmacologic Class (EPC, an NDF-RT N... id) or, where the
 * EPC rows are incomplete, the MeSH pharmacological action (D... id). US
 * adopted names are added where they differ from DrugCentral's INN
 * (cephalexin / cefalexin, meperidine / pethidine, aspirin /
 * acetylsalicylic acid, sulfisoxazole / sulfafurazole, penicillin G and V);
 * piperacillin is added by hand (a penicillin that DrugCentral 2016's class
 * rows miss, as ../shared/data/README.md notes). Aliases are the words an
 * allergy entry uses for the class itself ("Sulfa allergy", "PCN"). */
#include "clinical/clinical.h"

#include "core/buf.h"
#include "core/ms.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;   /* the class as DrugCentral names it */
    const char *source; /* its id there */
    const char *label;  /* how the note names the allergy's class */
    const char *members[40];
    const char *aliases[6];
} drug_class_t;

static const drug_class_t classes[] = {
    {"Penicillin-class Antibacterial",
     "FDA EPC N0000175497",
     "penicillins",
     {"amoxicillin", "ampicillin", "benzylpenicillin", "carbenicillin", "dicloxacillin",
      "nafcillin", "oxacillin", "phenoxymethylpenicillin", "ticarcillin", "piperacillin",
      "penicillin g", "penicillin v", "penicillin", NULL},
     {"penicillins", "pcn", NULL}},
    {"Cephalosporin Antibacterial",
     "FDA EPC N0000175488",
     "cephalosporins",
     {"cefalexin", "cephalexin", "cefazolin", "cefdinir", "cefditoren", "cefepime", "cefoperazone",
      "cefotaxime", "cefotetan", "cefoxitin", "cefpodoxime", "cefprozil", "ceftaroline",
      "ceftibuten", "ceftizoxime", "ceftolozane", "ceftriaxone", "cefuroxime", NULL},
     {"cephalosporin", "cephalosporins", NULL}},
    {"Sulfonamide Antimicrobial",
     "FDA EPC N0000175504, N0000175503",
     "sulfonamide antibiotics",
     {"sulfamethoxazole", "sulfafurazole", "sulfisoxazole", "sulfadiazine", "sulfacetamide", NULL},
     {"sulfa", "sulpha", "sulfonamide", "sulfonamides", NULL}},
    {"Nonsteroidal Anti-inflammatory Drug",
     "FDA EPC N0000175722",
     "NSAIDs",
     {"acetylsalicylic acid",
      "aspirin",
      "bromfenac",
      "celecoxib",
      "diclofenac",
      "diflunisal",
      "etodolac",
      "fenoprofen",
      "flurbiprofen",
      "ibuprofen",
      "indomethacin",
      "ketoprofen",
      "ketorolac",
      "mefenamic acid",
      "meloxicam",
      "nabumetone",
      "naproxen",
      "oxaprozin",
      "piroxicam",
      "sulindac",
      "tolmetin",
      NULL},
     {"nsaid", "nsaids", "nonsteroidal anti inflammatory", "non steroidal anti inflammatory",
      NULL}},
    {"Analgesics, Opioid",
     "MeSH D000701",
     "opioids",
     {"codeine",       "morphine",       "oxycodone",   "hydrocodone",
      "hydromorphone", "fentanyl",       "tramadol",    "methadone",
      "pethidine",     "meperidine",     "oxymorphone", "buprenorphine",
      "butorphanol",   "dihydrocodeine", "levorphanol", "pentazocine",
      "nalbuphine",    "remifentanil",   "sufentanil",  "alfentanil",
      "diamorphine",   "heroin",         NULL},
     {"opioid", "opioids", "opiate", "opiates", NULL}},
    {"Macrolide Antimicrobial",
     "FDA EPC N0000175935",
     "macrolides",
     {"azithromycin", "clarithromycin", "erythromycin", NULL},
     {"macrolide", "macrolides", NULL}},
    {"Quinolone Antimicrobial",
     "FDA EPC N0000175937",
     "quinolones",
     {"ciprofloxacin", "levofloxacin", "moxifloxacin", "norfloxacin", "ofloxacin", "gemifloxacin",
      "besifloxacin", "finafloxacin", NULL},
     {"quinolone", "quinolones", "fluoroquinolone", "fluoroquinolones", NULL}},
    {"Tetracyclines",
     "FDA Chemical/Ingredient N0000007948",
     "tetracyclines",
     {"tetracycline", "doxycycline", "minocycline", "demeclocycline", "oxytetracycline",
      "tigecycline", NULL},
     {"tetracyclines", NULL}},
    {"Angiotensin-Converting Enzyme Inhibitors",
     "MeSH D000806",
     "ACE inhibitors",
     {"lisinopril", "enalapril", "ramipril", "captopril", "benazepril", "fosinopril", "quinapril",
      "perindopril", "trandolapril", "moexipril", "cilazapril", NULL},
     {"ace inhibitor", "ace inhibitors", NULL}},
};

/* text lower-cased with every run of non-alphanumeric bytes one space, and
 * a space at both ends, so " word " finds whole words. malloc'd. */
static char *words_of(const char *text) {
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_putc(&b, ' ');
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (isalnum(*p) || *p >= 0x80)
            ms_buf_putc(&b, (char)tolower(*p));
        else if (b.data[b.len - 1] != ' ')
            ms_buf_putc(&b, ' ');
    }
    if (b.data[b.len - 1] != ' ')
        ms_buf_putc(&b, ' ');
    return ms_buf_take(&b);
}

static int has_word(const char *words, const char *w) {
    size_t n = strlen(w);
    for (const char *p = strstr(words, w); p; p = strstr(p + 1, w))
        if (p > words && p[-1] == ' ' && p[n] == ' ')
            return 1;
    return 0;
}

/* The first member of class c found in words, or NULL. */
static const char *member_in(const drug_class_t *c, const char *words) {
    for (size_t i = 0; c->members[i]; i++)
        if (has_word(words, c->members[i]))
            return c->members[i];
    return NULL;
}

static int alias_in(const drug_class_t *c, const char *words) {
    for (size_t i = 0; c->aliases[i]; i++)
        if (has_word(words, c->aliases[i]))
            return 1;
    return member_in(c, words) != NULL;
}

const char *ms_clinical_drug_class(const char *name) {
    if (!name)
        return NULL;
    char *w = words_of(name);
    const char *found = NULL;
    for (size_t i = 0; i < MS_COUNTOF(classes) && !found; i++) {
        for (size_t k = 0; classes[i].members[k] && !found; k++) {
            size_t n = strlen(classes[i].members[k]);
            if (strlen(w) == n + 2 && !strncmp(w + 1, classes[i].members[k], n))
                found = classes[i].name;
        }
    }
    free(w);
    return found;
}

/* The first allergy of the context naming class c, or NULL. */
static const char *allergy_for(const drug_class_t *c, json_t *allergies) {
    size_t i;
    json_t *a;
    json_array_foreach(allergies, i, a) {
        const char *s = json_string_value(a);
        if (!s)
            continue;
        char *w = words_of(s);
        int hit = alias_in(c, w);
        free(w);
        if (hit)
            return s;
    }
    return NULL;
}

char *ms_clinical_allergy_note(const json_t *context, const char *question) {
    json_t *allergies = json_object_get(context, "allergies");
    if (!question || !json_array_size(allergies))
        return NULL;
    char *q = words_of(question);
    ms_buf_t b;
    ms_buf_init(&b);
    for (size_t i = 0; i < MS_COUNTOF(classes); i++) {
        const char *drug = member_in(&classes[i], q);
        const char *allergy = drug ? allergy_for(&classes[i], allergies) : NULL;
        if (!allergy)
            continue;
        ms_buf_puts(&b,
                    b.len ? " The record also lists" : "Allergy check: the patient's record lists");
        ms_buf_printf(&b,
                      " an allergy (\"%s\", %s). %c%s belongs to that class (%s; DrugCentral, %s).",
                      allergy, classes[i].label, toupper((unsigned char)drug[0]), drug + 1,
                      classes[i].name, classes[i].source);
    }
    free(q);
    if (!b.len) {
        ms_buf_free(&b);
        return NULL;
    }
    ms_buf_puts(&b, "\n\n");
    return ms_buf_take(&b);
}

/* SNOMED CT semantic tags (SNOMED CT Editorial Guide, "Semantic Tags")
 * that end a fully specified name and carry no search value. */
static const char *const semantic_tags[] = {
    "(disorder)",       "(finding)", "(situation)",         "(event)",
    "(procedure)",      "(disease)", "(observable entity)", "(morphologic abnormality)",
    "(regime/therapy)",
};

char *ms_clinical_problem_terms(const json_t *context, size_t max_bytes) {
    json_t *problems = json_object_get(context, "problems");
    if (!json_array_size(problems))
        return NULL;
    ms_buf_t b;
    ms_buf_init(&b);
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p) {
        const char *s = json_string_value(p);
        if (!s)
            continue;
        size_t n = strlen(s);
        for (size_t t = 0; t < MS_COUNTOF(semantic_tags); t++) {
            size_t tl = strlen(semantic_tags[t]);
            if (n > tl && !strcmp(s + n - tl, semantic_tags[t])) {
                n -= tl;
                break;
            }
        }
        while (n && s[n - 1] == ' ')
            n--;
        if (!n)
            continue;
        if (b.len + 1 + n > max_bytes) {
            /* Whole entries only: a cut one could name another condition. */
            break;
        }
        if (b.len)
            ms_buf_putc(&b, ' ');
        ms_buf_append(&b, s, n);
    }
    if (!b.len) {
        ms_buf_free(&b);
        return NULL;
    }
    return ms_buf_take(&b);
}
