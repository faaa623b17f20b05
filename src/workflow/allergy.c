/* allergy_check: each recorded allergy resolved to the drug classes and
 * ingredients it rules out (docs/workflows.md "Allergies").
 *
 * In order:
 *  1. the hand-written table below, by SNOMED CT code (as Synthea and most
 *     EHRs record allergies) or by its words ("penicillin", "sulfa",
 *     "NSAIDs"): the DrugCentral classes and the INN stems the allergy
 *     covers. No open dataset maps SNOMED CT allergy codes to drug classes
 *     (../shared/data/README.md), so this table is ours; each row cites
 *     where its code and its classes come from;
 *  2. an ingredient DrugCentral knows ("amoxicillin", "aspirin"): that
 *     ingredient, and the FDA Chemical/Ingredient classes it belongs to
 *     (an allergy to amoxicillin rules out the penicillins);
 *  3. a class DrugCentral knows by that name ("Cephalosporins");
 *  4. otherwise the allergy is "not checked", and the result says so: an
 *     allergy is never passed silently. Food and environmental allergies
 *     (pollen, nuts, latex) are "not checked" too: no drug class stands
 *     for them, and excipients are not on file. */
#include "workflow/wf_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    ms_buf_t b;
    ms_buf_init(&b);
    va_list ap;
    va_start(ap, f);
    ms_buf_vprintf(&b, f, ap);
    va_end(ap);
    ms_buf_cstr(&b);
    return ms_buf_take(&b);
}

typedef enum { KIND_DRUG, KIND_FOOD, KIND_ENVIRONMENT } allergy_kind_t;

typedef struct {
    const char *code;    /* SNOMED CT concept id, or NULL for a words-only row */
    const char *display; /* the concept's preferred term */
    allergy_kind_t kind;
    const char *words[8];   /* how an allergy entry names it, lower case */
    const char *classes[4]; /* DrugCentral class names it covers */
    const char *stems[3];   /* INN/USAN stems: "-cillin" suffix, "cef-" prefix */
    const char *source;
} allergy_row_t;

/* Class names and ids: DrugCentral 2016 (drugcentral-pharm-class.tsv:
 * FDA EPC and Chemical/Ingredient rows from NDF-RT, MeSH pharmacological
 * actions). Stems: WHO, "The use of stems in the selection of International
 * Nonproprietary Names (INN)", 2018 (WHO/EMP/RHT/TSN/2018.1), and the USAN
 * Council's stem list for -thromycin. Codes of food and environmental
 * allergies: as the Synthea records in ../shared/data/fhir write them. */
static const allergy_row_t rows[] = {
    {"91936005",
     "Allergy to penicillin",
     KIND_DRUG,
     {"penicillin", "penicillins", "pcn", "penicillin allergy", NULL},
     {"Penicillins", "Penicillin-class Antibacterial", NULL},
     {"-cillin", NULL},
     "SNOMED CT 91936005 |Allergy to penicillin (finding)|; DrugCentral FDA Chemical/Ingredient "
     "N0000011281 Penicillins, FDA EPC N0000175497 Penicillin-class Antibacterial; INN stem "
     "-cillin"},
    {NULL,
     "Allergy to sulfonamides",
     KIND_DRUG,
     {"sulfa", "sulpha", "sulfonamide", "sulfonamides", "sulfa drugs", NULL},
     {"Sulfonamides", "Sulfonamide Antimicrobial", NULL},
     {"sulfa-", NULL},
     "DrugCentral FDA Chemical/Ingredient N0000008048 Sulfonamides, FDA EPC N0000175504 "
     "Sulfonamide Antimicrobial; INN stem sulfa-"},
    {NULL,
     "Allergy to cephalosporins",
     KIND_DRUG,
     {"cephalosporin", "cephalosporins", NULL},
     {"Cephalosporins", "Cephalosporin Antibacterial", NULL},
     {"cef-", "ceph-", NULL},
     "DrugCentral FDA Chemical/Ingredient N0000011161 Cephalosporins, FDA EPC N0000175488 "
     "Cephalosporin Antibacterial; INN stem cef-"},
    {NULL,
     "Allergy to NSAIDs",
     KIND_DRUG,
     {"nsaid", "nsaids", "nonsteroidal anti-inflammatory", "non-steroidal anti-inflammatory",
      "nonsteroidal anti-inflammatory drugs", NULL},
     {"Nonsteroidal Anti-inflammatory Compounds", "Nonsteroidal Anti-inflammatory Drug",
      "Anti-Inflammatory Agents, Non-Steroidal", NULL},
     {NULL},
     "DrugCentral FDA Chemical/Ingredient N0000175721, FDA EPC N0000175722, MeSH PA D000894"},
    {NULL,
     "Allergy to macrolides",
     KIND_DRUG,
     {"macrolide", "macrolides", NULL},
     {"Macrolides", "Macrolide Antimicrobial", NULL},
     {"-thromycin", NULL},
     "DrugCentral FDA Chemical/Ingredient N0000007529 Macrolides, FDA EPC N0000175935; USAN "
     "stem -thromycin"},
    {NULL,
     "Allergy to quinolones",
     KIND_DRUG,
     {"quinolone", "quinolones", "fluoroquinolone", "fluoroquinolones", NULL},
     {"Quinolones", "Quinolone Antimicrobial", NULL},
     {"-oxacin", NULL},
     "DrugCentral FDA Chemical/Ingredient N0000007606 Quinolones, FDA EPC N0000175937; INN stem "
     "-oxacin"},
    {NULL,
     "Allergy to tetracyclines",
     KIND_DRUG,
     {"tetracyclines", NULL},
     {"Tetracyclines", "Tetracycline-class Drug", NULL},
     {"-cycline", NULL},
     "DrugCentral FDA Chemical/Ingredient N0000007948 Tetracyclines, FDA EPC N0000175882; INN "
     "stem -cycline"},
    {NULL,
     "Allergy to opioids",
     KIND_DRUG,
     {"opioid", "opioids", "opiate", "opiates", "narcotics", NULL},
     {"Analgesics, Opioid", NULL},
     {NULL},
     "DrugCentral MeSH PA D000701 Analgesics, Opioid"},
    {NULL,
     "Allergy to ACE inhibitors",
     KIND_DRUG,
     {"ace inhibitor", "ace inhibitors", NULL},
     {"Angiotensin-Converting Enzyme Inhibitors", NULL},
     {"-pril", NULL},
     "DrugCentral MeSH PA D000806 Angiotensin-Converting Enzyme Inhibitors; INN stem -pril"},
    /* Food and environmental allergies Synthea records (../shared/data/fhir). */
    {"91935009",
     "Allergy to peanuts",
     KIND_FOOD,
     {"peanut", "peanuts", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 91935009 (as in the Synthea records)"},
    {"91934008",
     "Allergy to nut",
     KIND_FOOD,
     {"nut", "nuts", "tree nut", "tree nuts", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 91934008 (as in the Synthea records)"},
    {"417532002",
     "Allergy to fish",
     KIND_FOOD,
     {"fish", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 417532002 (as in the Synthea records)"},
    {"300913006",
     "Shellfish allergy",
     KIND_FOOD,
     {"shellfish", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 300913006 (as in the Synthea records)"},
    {"420174000",
     "Allergy to wheat",
     KIND_FOOD,
     {"wheat", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 420174000 (as in the Synthea records)"},
    {"91930004",
     "Allergy to eggs",
     KIND_FOOD,
     {"egg", "eggs", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 91930004 (as in the Synthea records)"},
    {"714035009",
     "Allergy to soya",
     KIND_FOOD,
     {"soy", "soya", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 714035009 (as in the Synthea records)"},
    {"425525006",
     "Allergy to dairy product",
     KIND_FOOD,
     {"dairy", "milk", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 425525006 (as in the Synthea records)"},
    {"419263009",
     "Allergy to tree pollen",
     KIND_ENVIRONMENT,
     {"tree pollen", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 419263009 (as in the Synthea records)"},
    {"418689008",
     "Allergy to grass pollen",
     KIND_ENVIRONMENT,
     {"grass pollen", "pollen", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 418689008 (as in the Synthea records)"},
    {"232347008",
     "Dander (animal) allergy",
     KIND_ENVIRONMENT,
     {"dander", "animal dander", "pet dander", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 232347008 (as in the Synthea records)"},
    {"232350006",
     "House dust mite allergy",
     KIND_ENVIRONMENT,
     {"house dust mite", "dust mite", "dust mites", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 232350006 (as in the Synthea records)"},
    {"419474003",
     "Allergy to mould",
     KIND_ENVIRONMENT,
     {"mould", "mold", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 419474003 (as in the Synthea records)"},
    {"424213003",
     "Allergy to bee venom",
     KIND_ENVIRONMENT,
     {"bee venom", "bee sting", "bee stings", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 424213003 (as in the Synthea records)"},
    {"300916003",
     "Latex allergy",
     KIND_ENVIRONMENT,
     {"latex", NULL},
     {NULL},
     {NULL},
     "SNOMED CT 300916003 (as in the Synthea records)"},
};

/* The substance an allergy entry names: "allergy to penicillin",
 * "penicillin allergy", "Allergy to penicillin (finding)" -> "penicillin". */
static char *substance(const char *text) {
    char *s = ms__wf_norm(text);
    char *paren = strstr(s, " (");
    if (paren)
        *paren = '\0';
    static const char *const pre[] = {"allergy to ", "allergic to ", "allergies to ",
                                      "intolerance to ", "hypersensitivity to "};
    for (size_t i = 0; i < MS_COUNTOF(pre); i++) {
        size_t n = strlen(pre[i]);
        if (!strncmp(s, pre[i], n)) {
            memmove(s, s + n, strlen(s + n) + 1);
            break;
        }
    }
    static const char *const post[] = {" allergy", " allergies", " intolerance"};
    for (size_t i = 0; i < MS_COUNTOF(post); i++) {
        size_t n = strlen(s), m = strlen(post[i]);
        if (n > m && !strcmp(s + n - m, post[i])) {
            s[n - m] = '\0';
            break;
        }
    }
    return s;
}

static const allergy_row_t *row_for(const char *code, const char *text, const char *sub) {
    for (size_t i = 0; i < MS_COUNTOF(rows); i++) {
        const allergy_row_t *r = &rows[i];
        if (code && r->code && !strcmp(code, r->code))
            return r;
        if (text && !strcasecmp(text, r->display))
            return r;
        for (size_t k = 0; k < MS_COUNTOF(r->words) && r->words[k]; k++)
            if (!strcmp(sub, r->words[k]))
                return r;
    }
    return NULL;
}

static int is_code(const char *s) {
    size_t n = strlen(s);
    if (n < 6 || n > 18)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void from_row(ms__wf_allergy_t *a, const allergy_row_t *r) {
    a->source = ms_xstrdup(r->source);
    if (r->kind != KIND_DRUG) {
        a->status = "not checked";
        a->reason = ms_xstrdup(r->kind == KIND_FOOD
                                   ? "a food allergy: no drug class stands for it, and "
                                     "excipients (such as peanut oil or egg lecithin) are not on "
                                     "file"
                                   : "an environmental allergy: no drug class stands for it");
        return;
    }
    a->status = "checked";
    for (size_t k = 0; k < MS_COUNTOF(r->classes) && r->classes[k]; k++)
        json_array_append_new(a->classes, json_string(r->classes[k]));
    for (size_t k = 0; k < MS_COUNTOF(r->stems) && r->stems[k]; k++)
        json_array_append_new(a->stems, json_string(r->stems[k]));
    a->reason = ms_xstrdup(r->display);
}

/* An ingredient the allergy names: it and its FDA Chemical/Ingredient
 * classes. */
static int from_ingredient(ms_wf_t *wf, ms_kb_t *kb, ms__wf_allergy_t *a, const char *sub) {
    ms_kb_drug_t d;
    if (!wf->drugs_on_file || ms_kb_drug_find(kb, sub, &d) != 0)
        return 0;
    a->drug_id = d.id;
    a->ingredient = d.name;
    json_t *cl = NULL;
    if (ms_kb_drug_classes(kb, d.id, &cl) == 0) {
        size_t i;
        json_t *c;
        json_array_foreach(cl, i, c) {
            if (!strcmp(json_string_value(json_object_get(c, "type")), "Chemical/Ingredient"))
                json_array_append(a->classes, json_object_get(c, "name"));
        }
    }
    json_decref(cl);
    a->status = "checked";
    a->reason = ms_xstrdup(json_array_size(a->classes)
                               ? "the ingredient and its FDA Chemical/Ingredient classes"
                               : "the ingredient (DrugCentral files no chemical class for it)");
    a->source = ms_xstrdup("DrugCentral 2016 (ingredient and classes)");
    return 1;
}

static int from_class(ms_wf_t *wf, ms_kb_t *kb, ms__wf_allergy_t *a, const char *sub) {
    json_t *cl = NULL;
    if (!wf->drugs_on_file || ms_kb_drug_class_find(kb, sub, &cl) != 0 || !json_array_size(cl)) {
        json_decref(cl);
        return 0;
    }
    size_t i;
    json_t *c;
    json_array_foreach(cl, i, c) json_array_append(a->classes, json_object_get(c, "name"));
    json_decref(cl);
    a->status = "checked";
    a->reason = ms_xstrdup("a drug class of that name");
    a->source = ms_xstrdup("DrugCentral 2016 (class names)");
    return 1;
}

void ms__wf_allergies_resolve(ms_wf_t *wf, ms_kb_t *kb) {
    json_t *list = json_object_get(wf->request, "allergies");
    size_t n = json_array_size(list);
    wf->allergies = ms_xcalloc(n ? n : 1, sizeof *wf->allergies);
    wf->nallergies = n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        ms__wf_allergy_t *a = &wf->allergies[i];
        const char *text = json_string_value(json_object_get(e, "text"));
        const char *code = json_string_value(json_object_get(e, "code"));
        if (!code && text && is_code(text))
            code = text;
        a->text = ms_xstrdup(text ? text : code);
        a->code = code ? ms_xstrdup(code) : NULL;
        a->classes = json_array();
        a->stems = json_array();
        char *sub = substance(a->text);
        const allergy_row_t *r = row_for(code, text, sub);
        if (r)
            from_row(a, r);
        else if (!from_ingredient(wf, kb, a, sub) && !from_class(wf, kb, a, sub)) {
            a->status = "not checked";
            a->reason =
                ms_xstrdup(wf->drugs_on_file
                               ? "no ingredient, drug class or coded allergy on file matches it"
                               : "no drug knowledge on file, and it is not in the allergy table");
        }
        free(sub);
        json_t *o =
            json_pack("{s:s, s:s?, s:s, s:s?, s:O, s:O, s:s?, s:s?}", "allergy", a->text, "code",
                      a->code, "status", a->status, "reason", a->reason, "classes", a->classes,
                      "stems", a->stems, "ingredient", a->ingredient, "source", a->source);
        json_array_append_new(wf->allergy_check, o);
    }
}

/* Whether an ingredient name carries a stem: "-cillin" (suffix), "cef-"
 * (prefix), "sulfa-" (prefix). */
static int has_stem(const char *name, const char *stem) {
    size_t n = strlen(name), m = strlen(stem);
    if (m < 2)
        return 0;
    if (stem[0] == '-')
        return n >= m - 1 && !strcmp(name + n - (m - 1), stem + 1);
    if (stem[m - 1] == '-')
        return n >= m - 1 && !strncmp(name, stem, m - 1);
    return strstr(name, stem) != NULL;
}

const ms__wf_allergy_t *ms__wf_allergy_hit(const ms_wf_t *wf, const ms__wf_drug_t *d, char **why) {
    const char *ing = d->ingredient ? d->ingredient : d->name;
    char *lname = ms__wf_norm(ing);
    for (size_t i = 0; i < wf->nallergies; i++) {
        const ms__wf_allergy_t *a = &wf->allergies[i];
        size_t k, j;
        json_t *c, *dc;
        if (a->drug_id && d->id == a->drug_id) {
            *why = fmt("%s is the recorded allergen (\"%s\")", ing, a->text);
            goto hit;
        }
        json_array_foreach(a->classes, k, c) {
            json_array_foreach(d->classes, j, dc) {
                const char *cn = json_string_value(json_object_get(dc, "name"));
                if (cn && !strcasecmp(cn, json_string_value(c))) {
                    *why = fmt("%s belongs to %s (%s %s, DrugCentral), a class the allergy "
                               "\"%s\" covers",
                               ing, cn, json_string_value(json_object_get(dc, "source")),
                               json_string_value(json_object_get(dc, "class_id")), a->text);
                    goto hit;
                }
            }
        }
        json_array_foreach(a->stems, k, c) {
            if (has_stem(lname, json_string_value(c))) {
                *why = fmt("%s carries the stem %s of the class the allergy \"%s\" covers "
                           "(WHO INN stems)",
                           ing, json_string_value(c), a->text);
                goto hit;
            }
        }
        continue;
    hit:
        free(lname);
        return a;
    }
    free(lname);
    *why = NULL;
    return NULL;
}

void ms__wf_allergies_free(ms__wf_allergy_t *a, size_t n) {
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].text);
        free(a[i].code);
        json_decref(a[i].classes);
        json_decref(a[i].stems);
        free(a[i].ingredient);
        free(a[i].reason);
        free(a[i].source);
    }
    free(a);
}
