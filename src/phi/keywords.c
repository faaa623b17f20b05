/* Identifiers whose shape says little, named by the words before them
 * ("MRN: #SF-998877", "insurance ID: ABC123", "Phone:\n780 6326"), phone
 * numbers named by a word after them ("+1-984-182-0190 mobile"), and bare
 * identifiers recognised by a checksum (payment cards: Luhn, ISO/IEC
 * 7812-1 Annex B; IBAN: ISO 13616 mod 97-10, ISO 7064; VIN: 49 CFR 565.15
 * check digit), by their layout (UUIDs, RFC 9562), or by being long runs of
 * digits and letters that no clinical code takes. */
#include "phi/phi_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

typedef enum { V_ID, V_PHONE } value_kind_t;

typedef struct {
    const char *phrase; /* lower case; one space between words */
    ms_phi_type_t type;
    value_kind_t kind;
    /* A generic word ("ref", "case", "id"): the value's own shape (an SSN,
     * a phone number) names its category when it has one. */
    int generic;
} keyword_t;

/* Longer phrases before their prefixes, so "medical record number" wins
 * over "medical record". */
static const keyword_t keywords[] = {
    {"medical record number", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"medical record no", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"medical record", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"med rec", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"medrec", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"mrn", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"mr number", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"mr#", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"record number", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"record no", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"record", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"chart number", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"chart", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"patient id", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"patient number", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"patient no", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"pt id", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"hospital number", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"hospital no", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"unit number", MS_PHI_MEDICAL_RECORD_NUMBER, V_ID, 0},
    {"social security number", MS_PHI_SSN, V_ID, 0},
    {"social security no", MS_PHI_SSN, V_ID, 0},
    {"social security", MS_PHI_SSN, V_ID, 0},
    {"soc sec", MS_PHI_SSN, V_ID, 0},
    {"ssn", MS_PHI_SSN, V_ID, 0},
    {"ss#", MS_PHI_SSN, V_ID, 0},
    {"itin", MS_PHI_SSN, V_ID, 0},
    {"health plan beneficiary number", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"health plan", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"insurance", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"insurer", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"member id", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"member number", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"member no", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"member", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"membership", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"policy", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"subscriber", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"beneficiary", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"group number", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"medicare", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"medicaid", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"hicn", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"mbi", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"account number", MS_PHI_ACCOUNT, V_ID, 0},
    {"account", MS_PHI_ACCOUNT, V_ID, 0},
    {"acct", MS_PHI_ACCOUNT, V_ID, 0},
    {"a/c", MS_PHI_ACCOUNT, V_ID, 0},
    {"billing number", MS_PHI_ACCOUNT, V_ID, 0},
    {"invoice", MS_PHI_ACCOUNT, V_ID, 0},
    {"credit card", MS_PHI_ACCOUNT, V_ID, 0},
    {"card number", MS_PHI_ACCOUNT, V_ID, 0},
    {"card", MS_PHI_ACCOUNT, V_ID, 0},
    {"cc", MS_PHI_ACCOUNT, V_ID, 0},
    {"iban", MS_PHI_ACCOUNT, V_ID, 0},
    {"routing number", MS_PHI_ACCOUNT, V_ID, 0},
    {"driver's license", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"driver's licence", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"drivers license", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"driver license", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"license plate", MS_PHI_VEHICLE_IDENTIFIER, V_ID, 0},
    {"licence plate", MS_PHI_VEHICLE_IDENTIFIER, V_ID, 0},
    {"license", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"licence", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"dl", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"dea", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"certificate", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"permit", MS_PHI_CERTIFICATE_LICENSE, V_ID, 0},
    {"passport", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 0},
    {"case", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"ref", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"reference", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"identifier", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"id", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"specimen", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"accession", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"encounter", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"visit", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"claim", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER, V_ID, 0},
    {"employee", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 1},
    {"npi", MS_PHI_UNIQUE_IDENTIFIER, V_ID, 0},
    {"vin", MS_PHI_VEHICLE_IDENTIFIER, V_ID, 0},
    {"plate", MS_PHI_VEHICLE_IDENTIFIER, V_ID, 0},
    {"serial number", MS_PHI_DEVICE_IDENTIFIER, V_ID, 0},
    {"serial no", MS_PHI_DEVICE_IDENTIFIER, V_ID, 0},
    {"serial", MS_PHI_DEVICE_IDENTIFIER, V_ID, 0},
    {"s/n", MS_PHI_DEVICE_IDENTIFIER, V_ID, 0},
    {"device", MS_PHI_DEVICE_IDENTIFIER, V_ID, 0},
    {"imei", MS_PHI_DEVICE_IDENTIFIER, V_ID, 0},
    {"udi", MS_PHI_DEVICE_IDENTIFIER, V_ID, 0},
    {"fax number", MS_PHI_FAX, V_PHONE, 0},
    {"facsimile", MS_PHI_FAX, V_PHONE, 0},
    {"fax", MS_PHI_FAX, V_PHONE, 0},
    {"phone number", MS_PHI_PHONE, V_PHONE, 0},
    {"phone", MS_PHI_PHONE, V_PHONE, 0},
    {"telephone", MS_PHI_PHONE, V_PHONE, 0},
    {"tel", MS_PHI_PHONE, V_PHONE, 0},
    {"cell", MS_PHI_PHONE, V_PHONE, 0},
    {"mobile", MS_PHI_PHONE, V_PHONE, 0},
    {"contact", MS_PHI_PHONE, V_PHONE, 0},
    {"call me on", MS_PHI_PHONE, V_PHONE, 0},
    {"call me at", MS_PHI_PHONE, V_PHONE, 0},
    {"call", MS_PHI_PHONE, V_PHONE, 0},
    {"reach me at", MS_PHI_PHONE, V_PHONE, 0},
    {"text me at", MS_PHI_PHONE, V_PHONE, 0},
    {"pager", MS_PHI_PHONE, V_PHONE, 0},
    {"desk", MS_PHI_PHONE, V_PHONE, 0},
    {"office", MS_PHI_PHONE, V_PHONE, 0},
    {"home", MS_PHI_PHONE, V_PHONE, 0},
};

/* Words that may stand between a keyword and its value. */
static const char *const fillers[] = {
    "number", "num", "no",     "nbr",  "id",   "identifier", "code",  "is",
    "was",    "of",  "policy", "plan", "card", "his",        "her",   "their",
    "the",    "a",   "are",    "be",   "it",   "lists",      "reads",
};

/* Codes that identify no person (a trial, an article, a concept). */
static const char *const public_prefixes[] = {
    "nct", "pmid",  "pmc",    "doi", "isbn",  "issn", "loinc", "snomed", "icd",  "cpt",
    "ndc", "rxcui", "rxnorm", "atc", "hcpcs", "mesh", "cui",   "omim",   "hgnc", "rs",
};

static int is_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static int word_start(const char *s, size_t i) {
    return i == 0 || !is_alnum((unsigned char)s[i - 1]);
}

/* Matches phrase at s[i..] case-insensitively, where a space in the phrase
 * matches one to three spaces or tabs; returns the end or 0. */
static size_t match_phrase(const char *s, size_t len, size_t i, const char *phrase) {
    size_t j = i;
    for (const char *p = phrase; *p; p++) {
        if (*p == ' ') {
            size_t k = 0;
            while (j < len && (s[j] == ' ' || s[j] == '\t') && k < 3)
                j++, k++;
            if (k == 0)
                return 0;
            continue;
        }
        if (j >= len || tolower((unsigned char)s[j]) != *p)
            return 0;
        j++;
    }
    /* The keyword ends a word ("mrn" is not the start of "mrna"). */
    if (j < len && is_alnum((unsigned char)s[j]) &&
        is_alnum((unsigned char)phrase[strlen(phrase) - 1]))
        return 0;
    return j;
}

static int is_filler(const char *s, size_t a, size_t b) {
    for (size_t i = 0; i < sizeof fillers / sizeof fillers[0]; i++)
        if (strlen(fillers[i]) == b - a && !strncasecmp(s + a, fillers[i], b - a))
            return 1;
    return 0;
}

static int id_char(unsigned char c) {
    return is_alnum(c) || c == '-' || c == '/' || c == '.' || c == '#' || c == '_';
}

/* After a keyword: skips separators and filler words, and returns where
 * the value starts (or len). */
static size_t skip_to_value(const char *s, size_t len, size_t j) {
    for (int words = 0; j < len && words < 4;) {
        while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r' ||
                           s[j] == ':' || s[j] == '=' || s[j] == '(' || s[j] == '[' ||
                           s[j] == '-' || s[j] == '.' || s[j] == ',' || s[j] == '#'))
            j++;
        size_t w = j;
        while (w < len && ((s[w] >= 'a' && s[w] <= 'z') || (s[w] >= 'A' && s[w] <= 'Z')))
            w++;
        if (w > j && (w == len || !is_digit((unsigned char)s[w])) && is_filler(s, j, w)) {
            j = w;
            words++;
            continue;
        }
        break;
    }
    return j;
}

/* An identifier value at s[j..]: id characters, at least two digits, 3 to
 * 40 long after trimming; 0 when there is none. */
static size_t id_value(const char *s, size_t len, size_t j) {
    size_t e = j;
    while (e < len && e - j < 48 && id_char((unsigned char)s[e]))
        e++;
    while (e > j && strchr(".-/_", s[e - 1]))
        e--;
    size_t d = 0;
    for (size_t i = j; i < e; i++)
        d += is_digit((unsigned char)s[i]);
    if (e - j < 3 || e - j > 40 || d < 2)
        return 0;
    /* A year, a dose or a count is not an identifier: all digits and short. */
    if (d == e - j && d <= 4)
        return 0;
    return e;
}

/* A phone number at s[j..]: digits, spaces, dots, dashes, parentheses and
 * a leading '+', 7 to 15 digits; returns its end or 0. */
static size_t phone_value(const char *s, size_t len, size_t j) {
    size_t e = j, d = 0, last = 0;
    if (e < len && s[e] == '+')
        e++;
    for (; e < len && e - j < 32; e++) {
        unsigned char c = (unsigned char)s[e];
        if (is_digit(c)) {
            d++;
            last = e + 1;
        } else if (!(c == ' ' || c == '.' || c == '-' || c == '(' || c == ')')) {
            break;
        }
    }
    if (d < 7 || d > 15 || !last)
        return 0;
    /* "x123" extensions */
    if (last < len && (s[last] == 'x' || s[last] == 'X') && last + 1 < len &&
        is_digit((unsigned char)s[last + 1])) {
        last++;
        while (last < len && is_digit((unsigned char)s[last]))
            last++;
    }
    return last;
}

static void keyword_values(phi_scan_t *sc) {
    const char *s = sc->s;
    size_t len = sc->len;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum((unsigned char)s[i]) || !word_start(s, i))
            continue;
        int c0 = tolower((unsigned char)s[i]);
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
            const keyword_t *kw = &keywords[k];
            if (kw->phrase[0] != c0)
                continue;
            size_t kend = match_phrase(s, len, i, kw->phrase);
            if (!kend)
                continue;
            int prio = kw->generic ? PRIO_LEXICAL : PRIO_CONTEXT;
            size_t start = 0, e = 0;
            if (kw->kind == V_PHONE) {
                start = skip_to_value(s, len, kend);
                e = phone_value(s, len, start);
            } else {
                /* "MRN-11335577": the keyword glued to its value; the span
                 * takes both, as people read it. */
                size_t g = kend;
                while (g < len && g - kend < 2 && (s[g] == '-' || s[g] == '#'))
                    g++;
                if (g > kend && (e = id_value(s, len, g)) != 0) {
                    start = i;
                } else {
                    size_t j = kend;
                    while (j < len && s[j] == '#')
                        j++;
                    start = skip_to_value(s, len, j);
                    e = id_value(s, len, start);
                    /* "#SF-998877": a '#' glued to the value is written with it */
                    if (e && start > kend && s[start - 1] == '#' &&
                        (start - 1 == kend || s[start - 2] == ' ' || s[start - 2] == ':'))
                        start--;
                }
            }
            if (e) {
                phi_add(sc, kw->type, start, e, 0.95, prio);
                i = e - 1; /* the value is not read again as a keyword */
            }
            break; /* the longest phrase at i decided */
        }
    }
}

/* "+1-984-182-0190 mobile", "345-899-3560x4587 fax", "21 253 109 8211-Office":
 * a digit group run named by the word after it. */
static void trailing_phone_cues(phi_scan_t *sc) {
    const char *s = sc->s;
    size_t len = sc->len;
    static const struct {
        const char *w;
        ms_phi_type_t t;
    } cues[] = {{"fax", MS_PHI_FAX},      {"mobile", MS_PHI_PHONE}, {"office", MS_PHI_PHONE},
                {"cell", MS_PHI_PHONE},   {"home", MS_PHI_PHONE},   {"work", MS_PHI_PHONE},
                {"direct", MS_PHI_PHONE}, {"phone", MS_PHI_PHONE},  {"landline", MS_PHI_PHONE}};
    for (size_t i = 0; i < len; i++) {
        if (!(is_digit((unsigned char)s[i]) || s[i] == '+' || s[i] == '(') ||
            (i > 0 && (is_alnum((unsigned char)s[i - 1]) || s[i - 1] == '+')))
            continue;
        size_t e = phone_value(s, len, i);
        if (!e) {
            continue;
        }
        size_t j = e;
        while (j < len && j - e < 3 && (s[j] == ' ' || s[j] == '-' || s[j] == '\t'))
            j++;
        for (size_t k = 0; k < sizeof cues / sizeof cues[0]; k++) {
            size_t n = strlen(cues[k].w);
            if (j + n <= len && !strncasecmp(s + j, cues[k].w, n) &&
                (j + n == len || !is_alnum((unsigned char)s[j + n]))) {
                phi_add(sc, cues[k].t, i, e, 0.85, PRIO_CONTEXT);
                break;
            }
        }
        i = e;
    }
}

/* ---- checksums -------------------------------------------------------------- */

/* Luhn (ISO/IEC 7812-1 Annex B) over the digits of s[a..b). */
static int luhn_ok(const char *s, size_t a, size_t b) {
    int sum = 0, dbl = 0, n = 0;
    for (size_t i = b; i-- > a;) {
        if (!is_digit((unsigned char)s[i]))
            continue;
        int d = s[i] - '0';
        if (dbl && (d *= 2) > 9)
            d -= 9;
        sum += d;
        dbl = !dbl;
        n++;
    }
    return n >= 13 && sum % 10 == 0;
}

/* IBAN check (ISO 13616-1 section 7: move the first four characters to the
 * end, letters to 10..35, the number mod 97 is 1). */
static int iban_ok(const char *s, size_t a, size_t b) {
    char buf[40];
    size_t n = 0;
    for (size_t i = a; i < b && n < sizeof buf; i++)
        if (s[i] != ' ')
            buf[n++] = (char)toupper((unsigned char)s[i]);
    if (n < 15 || n > 34)
        return 0;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char c = buf[(k + 4) % n];
        if (c >= '0' && c <= '9')
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else if (c >= 'A' && c <= 'Z')
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return 0;
    }
    return rem == 1;
}

/* VIN check digit (49 CFR 565.15(c)): transliterate, weight, mod 11. */
static int vin_ok(const char *s, size_t a) {
    static const int weight[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    static const char *translit = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ";
    static const int value[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0,
                                0, 1, 2, 3, 4, 5, 0, 7, 0, 9, 0, 0, 2, 3, 4, 5, 6, 7, 8, 9};
    int sum = 0, letters = 0, digits = 0;
    for (int i = 0; i < 17; i++) {
        char c = (char)toupper((unsigned char)s[a + (size_t)i]);
        const char *p = strchr(translit, c);
        if (!p || *p == '.')
            return 0;
        sum += value[p - translit] * weight[i];
        if (c >= 'A')
            letters++;
        else
            digits++;
    }
    if (!letters || digits < 5)
        return 0;
    int check = sum % 11;
    char want = "0123456789X"[check];
    return toupper((unsigned char)s[a + 8]) == want;
}

static int public_prefix(const char *s, size_t a, size_t b) {
    size_t w = a;
    while (w < b && ((s[w] >= 'a' && s[w] <= 'z') || (s[w] >= 'A' && s[w] <= 'Z')))
        w++;
    /* the code's own prefix ("NCT01234567"), or the word before it ("PMID 123") */
    size_t p1 = a, p2 = w;
    if (w == a) {
        size_t e = a;
        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == ':'))
            e--;
        p2 = e;
        p1 = e;
        while (p1 > 0 &&
               ((s[p1 - 1] >= 'a' && s[p1 - 1] <= 'z') || (s[p1 - 1] >= 'A' && s[p1 - 1] <= 'Z')))
            p1--;
    }
    for (size_t i = 0; i < sizeof public_prefixes / sizeof public_prefixes[0]; i++)
        if (strlen(public_prefixes[i]) == p2 - p1 &&
            !strncasecmp(s + p1, public_prefixes[i], p2 - p1))
            return 1;
    return 0;
}

static int is_uuid(const char *s, size_t a, size_t b) {
    if (b - a != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int want_dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (want_dash ? s[a + i] != '-' : !isxdigit((unsigned char)s[a + i]))
            return 0;
    }
    return 1;
}

/* Whether a unit or a counted noun follows a number ending at e
 * ("150000 cells", "10000 units", "20000 steps"). */
static int unit_after(const char *s, size_t len, size_t e) {
    static const char *const units[] = {
        "mg",     "mcg",   "ug",   "g",     "kg",      "ml",      "l",        "dl",       "units",
        "unit",   "iu",    "meq",  "mmol",  "mol",     "cells",   "cell",     "copies",   "cfu",
        "ng",     "pg",    "mm",   "cm",    "m",       "km",      "steps",    "calories", "kcal",
        "lbs",    "lb",    "oz",   "beats", "bpm",     "times",   "patients", "people",   "cases",
        "deaths", "years", "days", "hours", "minutes", "seconds", "weeks",    "months",   "dollars",
        "usd",    "per",   "x",    "/"};
    size_t j = e;
    while (j < len && s[j] == ' ')
        j++;
    size_t w = j;
    while (w < len && (isalpha((unsigned char)s[w]) || s[w] == '/'))
        w++;
    if (w == j)
        return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i]) == w - j && !strncasecmp(s + j, units[i], w - j))
            return 1;
    return s[j] == '/'; /* "/uL", "/mm3" */
}

/* Whether the word before s[a] names a country or a state. */
static int after_place(const phi_scan_t *sc, size_t a) {
    const char *s = sc->s;
    size_t e = a;
    while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == ','))
        e--;
    size_t b = e;
    while (b > 0 && (isalpha((unsigned char)s[b - 1]) || (unsigned char)s[b - 1] >= 0x80))
        b--;
    if (e <= b || e >= a)
        return 0;
    /* State codes count in capitals only ("IN 46201", not "in 2021"). */
    int caps = isupper((unsigned char)s[b]) && (e - b > 2 || isupper((unsigned char)s[b + 1]));
    return phi_in(L_COUNTRY, s + b, e - b) || (caps && phi_in(L_STATE, s + b, e - b));
}

/* Bare tokens: checksummed numbers, UUIDs, and codes long enough to
 * identify someone. Runs after the patterns, so a date or a phone number
 * already found is not taken again. */
static void bare_identifiers(phi_scan_t *sc) {
    const char *s = sc->s;
    size_t len = sc->len;
    size_t i = 0;
    phi_cover_build(sc, PRIO_SHAPE); /* tokens never overlap: one snapshot does */
    while (i < len) {
        if (!id_char((unsigned char)s[i]) || (i > 0 && id_char((unsigned char)s[i - 1]))) {
            i++;
            continue;
        }
        size_t tok = i, end = i;
        while (end < len && end - tok < 64 && id_char((unsigned char)s[end]))
            end++;
        i = end;
        size_t e = end;
        while (e > tok && strchr(".-/_#", s[e - 1]))
            e--;
        size_t a = tok;
        while (a < e && s[a] == '#')
            a++;
        size_t d = 0, al = 0;
        for (size_t k = a; k < e; k++) {
            d += is_digit((unsigned char)s[k]);
            al += (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z');
        }
        if (d == 0 || phi_covered(sc, a, e, PRIO_SHAPE))
            continue;
        size_t n = e - a;
        if (is_uuid(s, a, e)) {
            phi_add(sc, MS_PHI_UNIQUE_IDENTIFIER, a, e, 0.85, PRIO_SHAPE);
        } else if (n == 17 && vin_ok(s, a)) {
            phi_add(sc, MS_PHI_VEHICLE_IDENTIFIER, a, e, 0.9, PRIO_SHAPE);
        } else if (al >= 2 && n >= 15 && n <= 34 && isalpha((unsigned char)s[a]) &&
                   isalpha((unsigned char)s[a + 1]) && iban_ok(s, a, e)) {
            phi_add(sc, MS_PHI_ACCOUNT, a, e, 0.95, PRIO_SHAPE);
        } else if (al == 0 && d == n && d >= 13 && d <= 19 && luhn_ok(s, a, e)) {
            phi_add(sc, MS_PHI_ACCOUNT, a, e, 0.9, PRIO_SHAPE);
        } else if (public_prefix(s, a, e)) {
            continue;
        } else if (al > 0 && d >= 4 && n >= 5 && n <= 40) {
            /* "#SF-998877", "87342GH", "CHLA-556677" */
            phi_add(sc, MS_PHI_UNIQUE_IDENTIFIER, a > tok ? a - 1 : a, e, 0.6, PRIO_SHAPE);
        } else if (al == 0 && d >= 7 && d <= 20 && n - d <= 3) {
            phi_add(sc, MS_PHI_UNIQUE_IDENTIFIER, a, e, 0.55, PRIO_SHAPE);
        } else if (al == 0 && d >= 4 && d <= 6 && d == n && after_place(sc, a)) {
            /* "Denmark 35018", "Massachusetts 02021": a postal code */
            phi_add(sc, MS_PHI_GEOGRAPHIC_LOCATION, a, e, 0.8, PRIO_SHAPE);
        } else if (al == 0 && d >= 5 && d == n) {
            /* Five or six digits: a ZIP code, a record number, or a count.
             * Unsure, unless a unit follows ("150000 cells"). */
            if (unit_after(s, len, e))
                continue;
            phi_add(sc, MS_PHI_UNIQUE_IDENTIFIER, a, e, 0.3, PRIO_SHAPE);
        }
    }
}

void phi_keywords(phi_scan_t *sc) {
    keyword_values(sc);
    trailing_phone_cues(sc);
    bare_identifiers(sc);
}
