/* The hand-written word lists of the PHI detector, and the lookups over
 * them and over the generated census and dictionary lists (lexicon.h).
 *
 * Sources: the clinical allowlist follows Philter's idea of a safe list
 * (Norgeot et al. 2020), filled with eponyms and scores named in clinical
 * references (MeSH eponymic disease names; the scores in MDCalc's index);
 * the street suffixes are USPS Publication 28, Appendix C1; the states
 * and codes USPS Publication 28, Appendix B; titles and cue words are the
 * ones Philter's and Presidio's English recognisers use. Each list is
 * sorted once (lower case) and searched by bsearch. */
#include "phi/lexicon.h"
#include "phi/phi_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const clinical[] = {
    "addison",     "alzheimer",   "apgar",     "asperger",      "babinski",    "barre",
    "barré",       "bartter",     "behcet",    "behçet",        "bence",       "bouchard",
    "brudzinski",  "brugada",     "budd",      "buerger",       "burkitt",     "caprini",
    "centor",      "chaddock",    "charcot",   "cheyne",        "chiari",      "colles",
    "creutzfeldt", "crigler",     "crohn",     "cushing",       "danlos",      "digeorge",
    "duchenne",    "dupuytren",   "ebstein",   "ehlers",        "eisenmenger", "epstein",
    "ewing",       "fabry",       "fallot",    "fanconi",       "finkelstein", "framingham",
    "friedreich",  "galeazzi",    "gaucher",   "gehrig",        "gitelman",    "glasgow",
    "gleason",     "goodpasture", "graves",    "guillain",      "hallpike",    "hashimoto",
    "heberden",    "heimlich",    "henoch",    "hirschsprung",  "hodgkin",     "homans",
    "huntington",  "hurler",      "jakob",     "kaposi",        "kawasaki",    "kernig",
    "killip",      "klinefelter", "korotkoff", "korsakoff",     "krabbe",      "kussmaul",
    "lachman",     "legionnaire", "lisfranc",  "lyme",          "maisonneuve", "mallampati",
    "mallory",     "marfan",      "mcardle",   "mcburney",      "mcisaac",     "mcmurray",
    "meckel",      "medicaid",    "medicare",  "meniere",       "ménière",     "monteggia",
    "munchausen",  "niemann",     "noonan",    "nyhan",         "osgood",      "paget",
    "parkinson",   "perthes",     "peyronie",  "phalen",        "pompe",       "prader",
    "ranson",      "raynaud",     "reye",      "romberg",       "schlatter",   "schonlein",
    "schönlein",   "sjogren",     "sjögren",   "snellen",       "sturge",      "takayasu",
    "tinel",       "tourette",    "treacher",  "trendelenburg", "valsalva",    "virchow",
    "waldenstrom", "waldenström", "wegener",   "wernicke",      "whipple",     "willebrand",
    "wilms",       "zenker",      "zollinger",
};

/* After a capitalised word these make it a clinical term ("Wells score",
 * "Barrett's esophagus", "Stevens-Johnson syndrome"), never a person. */
static const char *const clin_head[] = {
    "anomaly",       "aneurysm",       "ataxia",    "bodies",      "body",      "cell",
    "cells",         "classification", "criteria",  "criterion",   "cyst",      "disease",
    "diseases",      "disorder",       "duct",      "dystrophy",   "effect",    "encephalopathy",
    "equation",      "esophagus",      "exam",      "examination", "formula",   "fracture",
    "gland",         "hernia",         "index",     "inventory",   "law",       "ligament",
    "lymphoma",      "maneuver",       "manoeuvre", "method",      "nerve",     "node",
    "nodes",         "oesophagus",     "palsy",     "phenomenon",  "procedure", "protocol",
    "questionnaire", "ratio",          "reflex",    "reflexes",    "rule",      "rules",
    "sarcoma",       "scale",          "score",     "scores",      "sign",      "signs",
    "stain",         "study",          "syndrome",  "syndromes",   "test",      "tests",
    "triad",         "tumor",          "tumour",    "ulcer",       "units",
};

static const char *const drug_brand[] = {
    "abilify",   "adderall",   "advair",    "advil",     "aimovig",    "aldactone", "aleve",
    "allegra",   "ambien",     "aricept",   "ativan",    "augmentin",  "avastin",   "bactrim",
    "benadryl",  "biktarvy",   "boniva",    "botox",     "brilinta",   "celebrex",  "celexa",
    "cialis",    "cipro",      "claritin",  "copaxone",  "coreg",      "cosentyx",  "coumadin",
    "cozaar",    "crestor",    "cymbalta",  "depakote",  "descovy",    "dilantin",  "dilaudid",
    "diovan",    "dupixent",   "effexor",   "eliquis",   "enbrel",     "entresto",  "entyvio",
    "epclusa",   "estrace",    "farxiga",   "flagyl",    "flomax",     "flonase",   "flovent",
    "fosamax",   "genvoya",    "gilenya",   "gleevec",   "glucophage", "harvoni",   "herceptin",
    "humalog",   "humira",     "imbruvica", "imitrex",   "invokana",   "januvia",   "jardiance",
    "keflex",    "keppra",     "keytruda",  "klonopin",  "lamictal",   "lanoxin",   "lantus",
    "lasix",     "levaquin",   "levemir",   "levoxyl",   "lexapro",    "lipitor",   "lopressor",
    "lovenox",   "lyrica",     "medrol",    "mirapex",   "mirena",     "motrin",    "mounjaro",
    "mucinex",   "namenda",    "narcan",    "neurontin", "nexium",     "nexplanon", "norco",
    "norvasc",   "novolog",    "nurtec",    "ocrevus",   "opdivo",     "otezla",    "oxycontin",
    "ozempic",   "paxil",      "paxlovid",  "pepcid",    "percocet",   "plavix",    "pradaxa",
    "premarin",  "prilosec",   "prinivil",  "proair",    "prolia",     "proscar",   "protonix",
    "provera",   "prozac",     "reglan",    "remicade",  "requip",     "revlimid",  "rinvoq",
    "risperdal", "ritalin",    "rituxan",   "seroquel",  "sinemet",    "singulair", "skyrizi",
    "sovaldi",   "spiriva",    "stelara",   "suboxone",  "sudafed",    "symbicort", "synthroid",
    "tamiflu",   "tecfidera",  "tegretol",  "topamax",   "toprol",     "tradjenta", "tremfya",
    "tresiba",   "trulicity",  "truvada",   "tylenol",   "ubrelvy",    "ultram",    "valium",
    "valtrex",   "vasotec",    "ventolin",  "viagra",    "vicodin",    "victoza",   "vivitrol",
    "wegovy",    "wellbutrin", "xanax",     "xarelto",   "xeljanz",    "yervoy",    "zantac",
    "zestril",   "zithromax",  "zocor",     "zofran",    "zoloft",     "zyprexa",   "zyrtec",
};

/* A capitalised run with one of these is a facility ("Methodist
 * Hospital", "UCLA Med Ctr", "Houston Heart Institute"). */
static const char *const facility[] = {
    "associates",     "baptist",    "cardiology",   "center",     "centers",
    "centre",         "clinic",     "clinics",      "cntr",       "ctr",
    "dialysis",       "general",    "healthcare",   "hosp",       "hospice",
    "hospital",       "hospitals",  "infirmary",    "institute",  "lab",
    "laboratories",   "laboratory", "labs",         "med",        "medical",
    "medicine",       "memorial",   "methodist",    "neurology",  "nursing",
    "office",         "oncology",   "orthopedics",  "pediatrics", "pharmacy",
    "physicians",     "practice",   "presbyterian", "radiology",  "rehab",
    "rehabilitation", "sanatorium", "surgery",      "surgical",   "university",
    "urgent",         "va",         "vamc",         "wellness",
};

static const char *const title[] = {
    "dame",  "doctor", "dr",        "father", "fr",  "frau", "herr", "lady",
    "lord",  "miss",   "mlle",      "mme",    "mr",  "mrs",  "ms",   "mx",
    "nurse", "prof",   "professor", "rev",    "sir", "sr",   "sra",
};

static const char *const name_cue[] = {
    "asked",    "attn",      "aunt",  "baby",          "boy",         "brother",
    "called",   "caregiver", "child", "client",        "cousin",      "daughter",
    "dear",     "father",    "girl",  "granddaughter", "grandfather", "grandmother",
    "grandson", "hello",     "hi",    "husband",       "kid",         "mother",
    "named",    "nephew",    "niece", "partner",       "patient",     "pt",
    "regards",  "said",      "says",  "signed",        "sincerely",   "sister",
    "son",      "spouse",    "thank", "thanks",        "uncle",       "wife",
};

static const char *const name_weak[] = {
    "by", "for", "like", "to", "under", "with",
};

static const char *const name_after[] = {
    "admits",  "asked", "began", "complained", "complains", "denied",   "denies",  "flew",  "had",
    "has",     "is",    "lives", "presented",  "presents",  "reported", "reports", "said",  "says",
    "shouted", "spent", "told",  "visited",    "was",       "who",      "will",    "wrote",
};

static const char *const place_prep[] = {
    "at", "from", "in", "near", "outside", "to",
};

static const char *const place_verb[] = {
    "admitted",    "brought",  "discharged", "drove",    "flew", "moved",
    "presented",   "referred", "relocated",  "returned", "sent", "transferred",
    "transported", "traveled", "travelled",  "went",
};

static const char *const state[] = {
    "ak",        "al",          "alabama",      "alaska",
    "ar",        "arizona",     "arkansas",     "as",
    "az",        "ca",          "california",   "co",
    "colorado",  "connecticut", "ct",           "dc",
    "de",        "delaware",    "fl",           "florida",
    "ga",        "georgia",     "gu",           "guam",
    "hawaii",    "hi",          "ia",           "id",
    "idaho",     "il",          "illinois",     "in",
    "indiana",   "iowa",        "kansas",       "kentucky",
    "ks",        "ky",          "la",           "louisiana",
    "ma",        "maine",       "maryland",     "massachusetts",
    "md",        "me",          "mi",           "michigan",
    "minnesota", "mississippi", "missouri",     "mn",
    "mo",        "montana",     "mp",           "ms",
    "mt",        "nc",          "nd",           "ne",
    "nebraska",  "nevada",      "nh",           "nj",
    "nm",        "nv",          "ny",           "oh",
    "ohio",      "ok",          "oklahoma",     "or",
    "oregon",    "pa",          "pennsylvania", "pr",
    "ri",        "sc",          "sd",           "tennessee",
    "texas",     "tn",          "tx",           "ut",
    "utah",      "va",          "vermont",      "vi",
    "virginia",  "vt",          "wa",           "washington",
    "wi",        "wisconsin",   "wv",           "wy",
    "wyoming",
};

static const char *const country[] = {
    "afghanistan", "albania",     "algeria",     "argentina", "australia", "austria",  "bangladesh",
    "belgium",     "bolivia",     "brazil",      "bulgaria",  "cambodia",  "canada",   "chile",
    "china",       "colombia",    "croatia",     "cuba",      "cyprus",    "czechia",  "denmark",
    "ecuador",     "egypt",       "england",     "estonia",   "ethiopia",  "europe",   "finland",
    "france",      "germany",     "ghana",       "greece",    "guatemala", "haiti",    "honduras",
    "hungary",     "iceland",     "india",       "indonesia", "iran",      "iraq",     "ireland",
    "israel",      "italy",       "jamaica",     "japan",     "jordan",    "kenya",    "korea",
    "latvia",      "lebanon",     "liberia",     "lithuania", "malaysia",  "mexico",   "morocco",
    "nepal",       "netherlands", "nicaragua",   "nigeria",   "norway",    "pakistan", "panama",
    "peru",        "philippines", "poland",      "portugal",  "romania",   "russia",   "scotland",
    "senegal",     "serbia",      "singapore",   "slovakia",  "slovenia",  "somalia",  "spain",
    "sudan",       "sweden",      "switzerland", "syria",     "taiwan",    "thailand", "turkey",
    "uganda",      "ukraine",     "uruguay",     "venezuela", "vietnam",   "wales",    "yemen",
    "zimbabwe",
};

static const char *const nation[] = {
    "african",       "american",  "americans", "arab",       "arabic",   "ashkenazi", "asian",
    "black",         "brazilian", "british",   "cambodian",  "canadian", "caribbean", "caucasian",
    "chinese",       "cuban",     "dutch",     "english",    "european", "filipino",  "french",
    "german",        "greek",     "haitian",   "hispanic",   "indian",   "irish",     "islander",
    "italian",       "japanese",  "jewish",    "korean",     "latina",   "latino",    "latinx",
    "mediterranean", "mexican",   "muslim",    "native",     "pacific",  "polish",    "portuguese",
    "russian",       "somali",    "spanish",   "vietnamese", "white",
};

static const char *const month[] = {
    "apr",     "april",    "aug",      "august",  "dec",    "december",  "feb",      "february",
    "fri",     "friday",   "jan",      "january", "jul",    "july",      "jun",      "june",
    "mar",     "march",    "may",      "mon",     "monday", "nov",       "november", "oct",
    "october", "sat",      "saturday", "sep",     "sept",   "september", "sun",      "sunday",
    "thu",     "thursday", "tue",      "tuesday", "wed",    "wednesday",
};

/* Capitalised words that are read as words, not as names, in clinical
 * questions (sentence-case headings, abbreviations written as words). */
static const char *const not_name[] = {
    "afib", "ambulatory", "ccu",      "christmas", "covid",        "cvicu", "easter", "ed",  "er",
    "god",  "icu",        "internet", "micu",      "nicu",         "or",    "pacu",   "pap", "picu",
    "pt",   "rx",         "sicu",     "stage",     "thanksgiving", "tx",    "type",
};

/* USAN stems of generic drug names (USAN Council, "stem list"), longest
 * first is not needed: any match of a suffix of length >= 3 counts. */
static const char *const drug_stems[] = {
    "afil",    "aline",    "amivir",   "apine",    "azepam",    "azole",   "bicin",     "buvir",
    "caine",   "cillin",   "citabine", "conazole", "coxib",     "cycline", "dipine",    "dronate",
    "fenac",   "floxacin", "flurane",  "gatran",   "gliflozin", "gliptin", "glitazone", "glutide",
    "idone",   "ipramine", "lukast",   "micin",    "mycin",     "navir",   "nib",       "olol",
    "olone",   "onide",    "oxetine",  "pamil",    "parin",     "peridol", "platin",    "prazole",
    "previr",  "pril",     "profen",   "prost",    "rubicin",   "sartan",  "semide",    "setron",
    "statin",  "taxel",    "tegravir", "terol",    "thiazide",  "tiazem",  "tidine",    "trexate",
    "triptan", "tropium",  "vir",      "xaban",    "zepam",     "zolam",   "zosin",     "mab",
};

typedef struct {
    const char *const *items;
    size_t n;
    char **sorted;
} list_t;

#define LIST(a)                                                                                    \
    { a, MS_PHI_COUNTOF(a), NULL }
#define MS_PHI_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

static list_t lists[L_NLISTS] = {
    [L_CLINICAL] = LIST(clinical),     [L_CLIN_HEAD] = LIST(clin_head),
    [L_DRUG_BRAND] = LIST(drug_brand), [L_FACILITY] = LIST(facility),
    [L_TITLE] = LIST(title),           [L_NAME_CUE] = LIST(name_cue),
    [L_NAME_WEAK] = LIST(name_weak),   [L_NAME_AFTER] = LIST(name_after),
    [L_PLACE_PREP] = LIST(place_prep), [L_PLACE_VERB] = LIST(place_verb),
    [L_STATE] = LIST(state),           [L_COUNTRY] = LIST(country),
    [L_NATION] = LIST(nation),         [L_MONTH] = LIST(month),
    [L_NOT_NAME] = LIST(not_name),
};

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static pthread_once_t lists_once = PTHREAD_ONCE_INIT;

static void lists_build(void) {
    for (int i = 0; i < L_NLISTS; i++) {
        list_t *l = &lists[i];
        l->sorted = malloc(l->n * sizeof *l->sorted);
        if (!l->sorted)
            abort();
        for (size_t k = 0; k < l->n; k++)
            l->sorted[k] = (char *)l->items[k];
        qsort(l->sorted, l->n, sizeof *l->sorted, cmp_str);
    }
}

int phi_lists_init(void) {
    pthread_once(&lists_once, lists_build);
    return 0;
}

size_t phi_strip_possessive(const char *w, size_t n) {
    if (n > 2 && w[n - 2] == '\'' && (w[n - 1] == 's' || w[n - 1] == 'S'))
        return n - 2;
    /* U+2019 RIGHT SINGLE QUOTATION MARK + s */
    if (n > 4 && (unsigned char)w[n - 4] == 0xE2 && (unsigned char)w[n - 3] == 0x80 &&
        (unsigned char)w[n - 2] == 0x99 && (w[n - 1] == 's' || w[n - 1] == 'S'))
        return n - 4;
    if (n > 1 && w[n - 1] == '\'')
        return n - 1;
    return n;
}

/* Folds w (possessive stripped) into buf; 0 when it does not fit. */
static size_t fold(const char *w, size_t n, char *buf, size_t cap, int upper) {
    n = phi_strip_possessive(w, n);
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        buf[i] = (char)(c < 0x80 ? (upper ? toupper(c) : tolower(c)) : c);
    }
    buf[n] = '\0';
    return n;
}

int phi_in(phi_list_id_t id, const char *w, size_t n) {
    char buf[64];
    if (!fold(w, n, buf, sizeof buf, 0))
        return 0;
    const char *key = buf;
    const list_t *l = &lists[id];
    return bsearch(&key, l->sorted, l->n, sizeof *l->sorted, cmp_str) != NULL;
}

static int cmp_name(const void *k, const void *e) {
    return strcmp(k, ((const ms_phi_lex_name_t *)e)->name);
}

static int name_freq(const ms_phi_lex_name_t *tab, size_t tn, const char *w, size_t n) {
    char buf[64];
    if (!fold(w, n, buf, sizeof buf, 1))
        return 0;
    const ms_phi_lex_name_t *e = bsearch(buf, tab, tn, sizeof *tab, cmp_name);
    return e ? (e->freq > 0 ? e->freq : 1) : 0;
}

int phi_given(const char *w, size_t n) {
    return name_freq(ms_phi_lex_given, ms_phi_lex_given_n, w, n);
}

int phi_surname(const char *w, size_t n) {
    return name_freq(ms_phi_lex_surnames, ms_phi_lex_surnames_n, w, n);
}

static int dict_has(const char *key) {
    return bsearch(&key, ms_phi_lex_words, ms_phi_lex_words_n, sizeof *ms_phi_lex_words, cmp_str) !=
           NULL;
}

/* The word list has base forms and a few inflections: plurals and verb
 * forms are looked up by their stem too ("contraindications", "managed"). */
int phi_word(const char *w, size_t n) {
    char buf[64];
    size_t k = fold(w, n, buf, sizeof buf, 0);
    if (!k)
        return 0;
    if (dict_has(buf))
        return 1;
    static const struct {
        const char *suffix, *repl;
    } infl[] = {{"ies", "y"}, {"es", ""},  {"s", ""},   {"ed", ""},
                {"ed", "e"},  {"ing", ""}, {"ing", "e"}};
    for (size_t i = 0; i < MS_PHI_COUNTOF(infl); i++) {
        size_t sl = strlen(infl[i].suffix), rl = strlen(infl[i].repl);
        if (k <= sl + 2 || memcmp(buf + k - sl, infl[i].suffix, sl) != 0)
            continue;
        char stem[64];
        memcpy(stem, buf, k - sl);
        memcpy(stem + k - sl, infl[i].repl, rl + 1);
        if (dict_has(stem))
            return 1;
    }
    return 0;
}

int phi_drug_stem(const char *w, size_t n) {
    char buf[64];
    size_t k = fold(w, n, buf, sizeof buf, 0);
    if (k < 6)
        return 0;
    for (size_t i = 0; i < MS_PHI_COUNTOF(drug_stems); i++) {
        size_t sl = strlen(drug_stems[i]);
        if (sl < k && memcmp(buf + k - sl, drug_stems[i], sl) == 0)
            return 1;
    }
    return 0;
}
