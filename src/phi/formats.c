/* Identifiers with a fixed shape, found by PCRE2 patterns over the whole
 * text: e-mail, URLs, IP addresses, phone numbers, SSNs, dates, ages over
 * 89, ZIP codes after a state, street addresses.
 *
 * Every repetition in every pattern is bounded ({1,64}, never + or *), so
 * a match attempt costs at most a constant number of steps and a scan is
 * linear in the text; a match limit (MATCH_LIMIT) stops a pattern that
 * would still cost too much, and the scan then reports itself incomplete
 * (the verdict becomes at least "unsure"). Patterns run on bytes (no UTF
 * mode): they begin and end on ASCII characters, so a span never cuts a
 * code point, and invalid UTF-8 cannot make a match fail. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "phi/phi_int.h"

#include <arpa/inet.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MATCH_LIMIT 200000
#define DEPTH_LIMIT 2000

/* A validator looks at a match (ovector pairs) and returns the confidence
 * to record (0 rejects), and may change the span or the category. */
typedef double (*validate_fn)(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *start,
                              size_t *end, ms_phi_type_t *type);

typedef struct {
    const char *name;
    const char *re;
    ms_phi_type_t type;
    double conf;
    int group; /* capture group that is the span (0: the whole match) */
    validate_fn validate;
} pattern_t;

#define MONTHS                                                                                     \
    "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"             \
    "Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
#define MONTHS_FULL                                                                                \
    "(?:January|February|March|April|May|June|July|August|September|Sept|October|November|"        \
    "December)"
#define STATES_CODE                                                                                \
    "(?:A[KLRSZ]|C[AOT]|D[CE]|FL|G[AU]|HI|I[ADLN]|K[SY]|LA|M[ADEINOPST]|N[CDEHJMVY]|O[HKR]|"       \
    "P[AR]|RI|S[CD]|T[NX]|UT|V[AIT]|W[AIVY])"
#define STATES_NAME                                                                                \
    "(?:Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|"         \
    "Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|"         \
    "Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New "           \
    "Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|"   \
    "Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|"          \
    "Virginia|Washington|West Virginia|Wisconsin|Wyoming|Puerto Rico)"
/* USPS Publication 28, Appendix C1 (street suffixes), common forms. */
#define STREET_SUFFIX                                                                              \
    "(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"    \
    "Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail|Trl|Alley|Aly|Bend|Bluff|"    \
    "Bluffs|Branch|Bridge|Brook|Brooks|Bypass|Camp|Canyon|Cape|Causeway|Center|Centre|Club|"       \
    "Common|Commons|Corner|Corners|Course|Cove|Coves|Creek|Crescent|Crest|Crossing|Crossroad|"     \
    "Curve|Dale|Dam|Divide|Estate|Estates|Expressway|Expy|Extension|Ext|Falls|Ferry|Field|"        \
    "Fields|Flat|Flats|Ford|Forest|Forge|Fork|Fort|Freeway|Fwy|Garden|Gardens|Gateway|Glen|"       \
    "Glens|Green|Greens|Grove|Groves|Harbor|Harbors|Haven|Heights|Hts|Hill|Hills|Hollow|Inlet|"    \
    "Island|Islands|Isle|Junction|Junctions|Key|Keys|Knoll|Knolls|Lake|Lakes|Landing|Light|"       \
    "Lights|Loaf|Lock|Locks|Lodge|Loop|Mall|Manor|Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|"  \
    "Motorway|Mount|Mountain|Mountains|Neck|Orchard|Oval|Overpass|Park|Parks|Pass|Passage|Path|"   \
    "Pike|Pine|Pines|Plain|Plains|Plaza|Point|Points|Port|Ports|Prairie|Radial|Ramp|Ranch|"        \
    "Rapid|Rapids|Rest|Ridge|Ridges|River|Route|Row|Rue|Run|Shoal|Shoals|Shore|Shores|Skyway|"     \
    "Spring|Springs|Spur|Spurs|Station|Stravenue|Stream|Summit|Trace|Track|Trafficway|Tunnel|"     \
    "Turnpike|Underpass|Union|Unions|Valley|Valleys|Viaduct|View|Views|Village|Villages|Ville|"    \
    "Vista|Walk|Walks|Wall|Well|Wells)"
#define UNIT "(?:Apt|Apartment|Suite|Ste|Unit|Rm|Room|Fl|Floor|Bldg|Building|#)"

static double v_email(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                      ms_phi_type_t *t);
static double v_url(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                    ms_phi_type_t *t);
static double v_ipv6(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                     ms_phi_type_t *t);
static double v_ssn(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                    ms_phi_type_t *t);
static double v_phone_nanp(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                           ms_phi_type_t *t);
static double v_phone_digits(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                             ms_phi_type_t *t);
static double v_date_num(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                         ms_phi_type_t *t);
static double v_date_iso(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                         ms_phi_type_t *t);
static double v_day(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                    ms_phi_type_t *t);
static double v_month_year(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                           ms_phi_type_t *t);

static const pattern_t patterns[] = {
    {"email", "[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63}){1,8}",
     MS_PHI_EMAIL, 0.97, 0, v_email},
    {"url", "(?i)\\b(?:(?:https?|ftp)://|www\\.)[^\\s<>\"'`{}|\\\\^]{1,2048}", MS_PHI_URL, 0.95, 0,
     v_url},
    {"domain",
     "(?i)(?<![@\\w.-])(?:[a-z0-9][a-z0-9-]{0,62}\\.){1,5}(?:com|org|net|edu|gov|io|info|biz|"
     "health|care|us|uk|de|fr|nl|be|se|no|dk|fi|pl|hu|ee|br|au|ca|it|es|ch|at|jp|cn|ru|in|me|co)"
     "(?:\\.[a-z]{2})?(?![\\w-])(?:/[^\\s<>\"']{0,2048})?",
     MS_PHI_URL, 0.8, 0, v_url},
    {"ipv4",
     "(?<![\\d.])(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|"
     "[1-9]?\\d)(?![\\d]|\\.\\d)",
     MS_PHI_IP, 0.95, 0, NULL},
    {"ipv6", "(?i)(?<![0-9a-f:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![0-9a-f:])", MS_PHI_IP, 0.95,
     0, v_ipv6},
    {"ssn", "(?<![\\d-])\\d{3}([- ])\\d{2}\\1\\d{4}(?![\\d-])", MS_PHI_SSN, 0.9, 0, v_ssn},
    {"phone_nanp",
     "(?<![\\d+])(?:\\+?1[ .-]?)?(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}(?:\\s{0,2}"
     "(?:x|ext\\.?|extension)\\s{0,2}\\d{1,6})?(?!\\d)",
     MS_PHI_PHONE, 0.92, 0, v_phone_nanp},
    {"phone_plus", "(?<![\\w+])\\+\\d{1,3}(?:[ .-]?\\(\\d{1,4}\\))?(?:[ .-]?\\d{1,6}){1,6}(?!\\d)",
     MS_PHI_PHONE, 0.85, 0, v_phone_digits},
    {"phone_trunk", "(?<![\\w.,])\\(?0\\d{1,4}\\)?(?:[ .-]\\d{2,4}){2,5}(?![\\w])", MS_PHI_PHONE,
     0.6, 0, v_phone_digits},
    /* National layouts without a '+' or a trunk 0 ("(99) 645-791", "20 45 67
     * 89", "416 60 039"): a parenthesised area code is a phone number; bare
     * digit groups of a phone's length are less sure (unsure alone). */
    {"phone_paren", "(?<![\\w(])\\(\\d{2,4}\\)\\s?\\d{2,4}[-. ]\\d{2,4}(?:[-. ]\\d{2,4})?(?![\\w])",
     MS_PHI_PHONE, 0.75, 0, v_phone_digits},
    {"phone_groups", "(?<![\\w.,/:-])\\d{2,4}(?:[ .-]\\d{2,4}){2,5}(?![\\w/:-]|[.,]\\d)",
     MS_PHI_PHONE, 0.45, 0, v_phone_digits},
    {"date_num", "(?<![\\d/.-])(\\d{1,2})([/.-])(\\d{1,2})\\2(\\d{4}|\\d{2})(?![\\d/-]|\\.\\d)",
     MS_PHI_DATE, 0.92, 0, v_date_num},
    {"date_iso",
     "(?<![\\d-])(\\d{4})([/-])(\\d{1,2})\\2(\\d{1,2})(?:[T ]\\d{1,2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,"
     "6})?)?(?:Z|[+-]\\d{2}:?\\d{2})?)?(?![\\d-])",
     MS_PHI_DATE, 0.95, 0, v_date_iso},
    {"date_mdy",
     "(?i)\\b(" MONTHS ")\\.?\\s{1,3}(\\d{1,2})(?:st|nd|rd|th)?\\b(?:,?\\s{0,3}(?:'\\d{2}|\\d{4})"
     "\\b)?",
     MS_PHI_DATE, 0.92, 0, v_day},
    {"date_dmy",
     "(?i)\\b(\\d{1,2})(?:st|nd|rd|th)?\\s{1,3}(?:of\\s{1,3})?(" MONTHS
     ")\\b\\.?(?:,?\\s{0,3}(?:'\\d{2}|\\d{4})\\b)?",
     MS_PHI_DATE, 0.9, 0, v_day},
    {"date_my", "\\b(" MONTHS ")\\.?,?\\s{1,3}(?:of\\s{1,3})?(\\d{4}|'\\d{2})\\b", MS_PHI_DATE,
     0.85, 0, v_month_year},
    {"date_month",
     "\\b(?:in|on|since|during|until|till|from|through|early|late|mid|last|next|this|of|In|On|"
     "Since|During|Until|From|Last|Early|Late)\\s{1,3}((?:early\\s|late\\s|mid-)?" MONTHS_FULL
     ")\\b",
     MS_PHI_DATE, 0.6, 1, NULL},
    /* Relative dates ASQ-PHI's annotators mark as dates: a weekday pins a
     * day ("last Friday"); a week or a month is less sure. */
    {"date_rel_day",
     "(?i)\\b(?:last|this|next|past)\\s{1,3}(?:monday|tuesday|wednesday|thursday|friday|"
     "saturday|sunday)\\b|\\b(?:yesterday|day before yesterday)\\b",
     MS_PHI_DATE, 0.6, 0, NULL},
    {"date_rel", "(?i)\\b(?:last|this|next|past)\\s{1,3}(?:week|weekend|month)\\b", MS_PHI_DATE,
     0.35, 0, NULL},
    {"age_years",
     "(?i)\\b(9\\d|1[0-4]\\d)(?:\\s{0,2}|-)(?:years?|yrs?|y\\.?o\\.?|yo|y/o)(?:[\\s-]{0,2}old)?"
     "(?![a-z])",
     MS_PHI_AGE_OVER_89, 0.92, 0, NULL},
    {"age_aged", "(?i)\\b(?:aged?|age:)\\s{0,3}(9\\d|1[0-4]\\d)\\b", MS_PHI_AGE_OVER_89, 0.9, 0,
     NULL},
    {"age_word", "(?i)\\b(?:nonagenarian|centenarian|supercentenarian)s?\\b", MS_PHI_AGE_OVER_89,
     0.7, 0, NULL},
    {"zip_state", "\\b(?:" STATES_CODE "|" STATES_NAME ")\\.?,?\\s{1,3}(\\d{5}(?:-\\d{4})?)\\b",
     MS_PHI_GEOGRAPHIC_LOCATION, 0.9, 1, NULL},
    {"zip_cue",
     "(?i)\\b(?:zip\\s?code|postal\\s?code|post\\s?code|postcode|zip)\\s{0,3}(?:is|:|#)?\\s{0,3}"
     "((?=[A-Z]{0,4}\\d)[A-Z0-9]{2,5}(?:[ -][A-Z0-9]{2,4})?)\\b",
     MS_PHI_GEOGRAPHIC_LOCATION, 0.9, 1, NULL},
    {"street",
     "\\b\\d{1,6}[A-Za-z]?\\s{1,3}(?:(?:[NSEW]|North|South|East|West|N\\.|S\\.|E\\.|W\\.)\\s{1,3})?"
     "(?:(?:[A-Z][A-Za-z'-]{0,30}|\\d{1,3}(?:st|nd|rd|th))\\.?\\s{1,3}){1,4}" STREET_SUFFIX
     "\\b\\.?(?:,?\\s{0,3}" UNIT "\\.?\\s{0,3}#?[A-Za-z0-9-]{1,8})?",
     MS_PHI_GEOGRAPHIC_LOCATION, 0.9, 0, NULL},
    {"po_box",
     "(?i)\\b(?:p\\.?\\s?o\\.?\\s{0,2}box|psc\\s{1,2}\\d{1,5},?\\s{0,2}box)\\s{1,3}\\d{1,6}\\b",
     MS_PHI_GEOGRAPHIC_LOCATION, 0.88, 0, NULL},
    {"apo", "\\b(?:APO|FPO|DPO)\\s{1,3}(?:AA|AE|AP)\\s{1,3}\\d{5}\\b", MS_PHI_GEOGRAPHIC_LOCATION,
     0.88, 0, NULL},
    {"unit", "\\b" UNIT "\\.?\\s{0,3}#?\\d{1,6}[A-Za-z]?\\b", MS_PHI_GEOGRAPHIC_LOCATION, 0.55, 0,
     NULL},
    /* Streets outside the US: a name ending in a street word, then a house
     * number ("Koskikatu 25", "Søndergade 52"), or a street word first
     * ("Rua do Arenque 1634"). */
    {"street_eu",
     "(?<![\\w\\x80-\\xff])(?:\\d{1,6}\\s{1,3})?[A-Z\\xc3\\xc5][\\w\\x80-\\xff]{1,30}(?:katu|gatan|"
     "gade|vej|veien|"
     "v\\xc3\\xa4gen|stra\\xc3\\x9fe|strasse|str\\.|weg|gasse|laan|tie|utca|ulica|plein|kuja|"
     "polku|vegen)\\s{1,3}\\d{1,5}[A-Za-z]?\\b",
     MS_PHI_GEOGRAPHIC_LOCATION, 0.8, 0, NULL},
    {"street_lat",
     "\\b(?:\\d{1,6}\\s{1,3})?(?:Rua|Rue|Via|Viale|Calle|Avenida|Avda\\.|Piazza|Plaza|Largo|"
     "Travessa|Alameda|Ulica|"
     "Carrer|Paseo|Strada)\\s{1,3}(?:[\\w\\x80-\\xff'.-]{1,30}\\s{1,3}){0,4}\\d{1,5}\\b",
     MS_PHI_GEOGRAPHIC_LOCATION, 0.75, 0, NULL},
};

#define NPATTERNS (sizeof patterns / sizeof patterns[0])

static pcre2_code *compiled[NPATTERNS];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_failed;

static void compile_all(void) {
    for (size_t i = 0; i < NPATTERNS; i++) {
        int err;
        PCRE2_SIZE off;
        compiled[i] =
            pcre2_compile((PCRE2_SPTR)patterns[i].re, PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
        if (!compiled[i]) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            fprintf(stderr, "phi: pattern %s does not compile at %zu: %s\n", patterns[i].name,
                    (size_t)off, (const char *)msg);
            init_failed = 1;
            continue;
        }
        /* JIT is an optimisation: the interpreter gives the same answers. */
        (void)pcre2_jit_compile(compiled[i], PCRE2_JIT_COMPLETE);
    }
}

int phi_formats_init(void) {
    pthread_once(&once, compile_all);
    return init_failed ? -1 : 0;
}

void phi_formats(phi_scan_t *sc) {
    pcre2_match_context *mctx = pcre2_match_context_create(NULL);
    if (!mctx)
        abort();
    pcre2_set_match_limit(mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
    for (size_t i = 0; i < NPATTERNS; i++) {
        const pattern_t *p = &patterns[i];
        if (!compiled[i])
            continue;
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(compiled[i], NULL);
        if (!md)
            abort();
        PCRE2_SIZE at = 0;
        while (at <= sc->len) {
            int rc = pcre2_match(compiled[i], (PCRE2_SPTR)sc->s, sc->len, at, 0, md, mctx);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0) {
                sc->incomplete = 1; /* match or depth limit: this pattern stops here */
                break;
            }
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t a = ov[2 * (size_t)p->group], b = ov[2 * (size_t)p->group + 1];
            ms_phi_type_t type = p->type;
            double conf = p->conf;
            if (a != PCRE2_UNSET && p->validate)
                conf = p->validate(sc->s, sc->len, ov, &a, &b, &type);
            if (a != PCRE2_UNSET && conf > 0 && b > a)
                phi_add(sc, type, a, b, conf, PRIO_SHAPE);
            at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        }
        pcre2_match_data_free(md);
    }
    pcre2_match_context_free(mctx);
}

/* ---- validators ---------------------------------------------------------- */

static int num(const char *s, PCRE2_SIZE a, PCRE2_SIZE b) {
    int v = 0;
    for (PCRE2_SIZE i = a; i < b && i < a + 6; i++)
        if (s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i] - '0');
    return v;
}

static size_t digits_in(const char *s, size_t a, size_t b) {
    size_t n = 0;
    for (size_t i = a; i < b; i++)
        n += s[i] >= '0' && s[i] <= '9';
    return n;
}

static double v_email(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                      ms_phi_type_t *t) {
    (void)len, (void)ov, (void)t;
    /* Trim dots and dashes the sentence put around it. */
    while (*a < *b && (s[*a] == '.' || s[*a] == '-'))
        (*a)++;
    while (*b > *a && (s[*b - 1] == '.' || s[*b - 1] == '-'))
        (*b)--;
    /* The last label is a top-level domain: letters, at least two. */
    size_t dot = *b;
    while (dot > *a && s[dot - 1] != '.')
        dot--;
    if (*b - dot < 2)
        return 0;
    for (size_t i = dot; i < *b; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 0.97;
}

static double v_url(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                    ms_phi_type_t *t) {
    (void)len, (void)ov, (void)t;
    /* Sentence punctuation after a URL is not part of it (RFC 3986,
     * Appendix C: delimiting a URI in context). */
    while (*b > *a && strchr(".,;:!?)]'\"", s[*b - 1]))
        (*b)--;
    if (*b < *a + 4)
        return 0;
    int scheme =
        (*b - *a > 4 && (!strncasecmp(s + *a, "http", 4) || !strncasecmp(s + *a, "ftp", 3) ||
                         !strncasecmp(s + *a, "www.", 4)));
    return scheme ? 0.95 : 0.8;
}

static double v_ipv6(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                     ms_phi_type_t *t) {
    (void)len, (void)ov, (void)t;
    char buf[64];
    size_t n = *b - *a;
    if (n < 3 || n >= sizeof buf)
        return 0;
    memcpy(buf, s + *a, n);
    buf[n] = '\0';
    struct in6_addr x;
    if (inet_pton(AF_INET6, buf, &x) != 1)
        return 0;
    /* "12:30:45" never parses; "::" alone or "1::" is too little to be an address. */
    return digits_in(s, *a, *b) + (n - digits_in(s, *a, *b)) >= 6 ? 0.95 : 0;
}

/* SSA's rules for issued numbers (area 001-899 except 666, group 01-99,
 * serial 0001-9999; 20 CFR 422.103 and SSA's randomization notice, 2011).
 * A number outside them is still shaped like an SSN (ITINs, test data), so
 * it is kept, less sure. */
static double v_ssn(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                    ms_phi_type_t *t) {
    (void)len, (void)t, (void)a, (void)b;
    int area = num(s, ov[0], ov[0] + 3);
    int group = num(s, ov[0] + 4, ov[0] + 6);
    int serial = num(s, ov[0] + 7, ov[0] + 11);
    if (s[ov[0] + 3] == ' ')
        return 0.55; /* "123 45 6789": spaces make it more likely something else */
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return 0.75;
    return 0.9;
}

/* NANP numbers (ATIS-0300115): area and exchange codes start with 2-9.
 * Others ("123-456-7890") are still phone-shaped and kept, less sure. */
static double v_phone_nanp(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                           ms_phi_type_t *t) {
    (void)len, (void)t;
    size_t i = *a;
    while (i < *b && (s[i] < '0' || s[i] > '9'))
        i++;
    if (s[i] == '1' && digits_in(s, *a, *b) >= 11)
        for (i++; i < *b && (s[i] < '0' || s[i] > '9'); i++)
            ;
    (void)ov;
    return (s[i] >= '2') ? 0.92 : 0.8;
}

static double v_phone_digits(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                             ms_phi_type_t *t) {
    (void)len, (void)ov, (void)t;
    size_t d = digits_in(s, *a, *b);
    if (d < 7 || d > 15)
        return 0;
    if (s[*a] == '+')
        return d >= 8 ? 0.85 : 0;
    if (s[*a] == '(')
        return 0.75;
    if (s[*a] == '0')
        return d >= 8 ? 0.6 : 0;
    return d >= 8 ? 0.45 : 0;
}

/* m/d/y or d/m/y: groups 1 and 3 are the day and the month in either order,
 * group 2 the separator, group 4 the year. */
static double v_date_num(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                         ms_phi_type_t *t) {
    (void)len, (void)a, (void)b, (void)t;
    int first = num(s, ov[2], ov[3]), second = num(s, ov[6], ov[7]);
    int ok = (first >= 1 && first <= 12 && second >= 1 && second <= 31) ||
             (second >= 1 && second <= 12 && first >= 1 && first <= 31);
    if (!ok)
        return 0;
    char sep = s[ov[4]];
    size_t ylen = ov[9] - ov[8];
    if (sep == '.' && ylen == 2 && ov[3] - ov[2] == 1)
        return 0; /* "1.5.20" reads as a version or a dose, not a date */
    return sep == '/' ? 0.92 : 0.85;
}

static double v_date_iso(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                         ms_phi_type_t *t) {
    (void)len, (void)a, (void)b, (void)t;
    int y = num(s, ov[2], ov[3]), m = num(s, ov[6], ov[7]), d = num(s, ov[8], ov[9]);
    if (y < 1800 || y > 2199 || m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    return 0.95;
}

/* "May 5", "Mar 3rd": the month group and a day 1-31; the lower-case "may"
 * and "mar" are verbs far more often than months. */
static double v_day(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                    ms_phi_type_t *t) {
    (void)len, (void)a, (void)b, (void)t;
    int mg = (s[ov[2]] >= '0' && s[ov[2]] <= '9') ? 2 : 1; /* which group is the month */
    int dg = 3 - mg;
    PCRE2_SIZE m0 = ov[2 * (size_t)mg];
    if (s[m0] >= 'a' && s[m0] <= 'z')
        return 0; /* month names are written with a capital in dates */
    int d = num(s, ov[2 * (size_t)dg], ov[2 * (size_t)dg + 1]);
    if (d < 1 || d > 31)
        return 0;
    return mg == 1 ? 0.92 : 0.9;
}

static double v_month_year(const char *s, size_t len, const PCRE2_SIZE *ov, size_t *a, size_t *b,
                           ms_phi_type_t *t) {
    (void)len, (void)a, (void)b, (void)t;
    /* "May 2020" is a date; "may 2020" is not how one writes it. */
    return (s[ov[2]] >= 'A' && s[ov[2]] <= 'Z') ? 0.85 : 0;
}
