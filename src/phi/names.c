/* Names, places and facilities: runs of capitalised words, read with the
 * evidence around them (Philter's approach, Norgeot et al. 2020, with
 * context rules as in Sweeney's Scrub, 1996):
 * - a title before a run makes it a person ("Dr. Patel");
 * - an initial ("Anna S.", "Jane A. Doe"), a census first name or surname,
 *   a cue word before it ("named", "patient", "son") or a verb after it
 *   ("lives", "presented") is evidence of a person;
 * - a facility word in the run ("Hospital", "Clinic", "Med Ctr"), a place
 *   preposition before it ("in", "from", "at") or a state after it
 *   ("Atlanta, GA") is evidence of a place;
 * - a clinical term wins over both: an eponym, a word a clinical head word
 *   follows ("Wells score", "Parkinson's disease"), a drug (brand list or
 *   USAN stem), an acronym, a common English word, a state or a country
 *   (states and countries are not PHI: Safe Harbor removes subdivisions
 *   smaller than a state).
 * Evidence adds up to a confidence; a run with only weak evidence (an
 * unknown capitalised word mid-sentence) is reported unsure. A name found
 * with confidence is then looked for again elsewhere in the text. */
#include "phi/phi_int.h"
#include "phi/tokens.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- word evidence ----------------------------------------------------------- */

struct feat {
    int given, surname, dict;
    int clinical; /* eponym, drug, clinical head */
    int facility, title, state, country, nation, month, not_name;
};

static feat_t compute_features(const toks_t *tk, size_t k) {
    const tok_t *t = &tk->t[k];
    const char *w = tk->s + t->s;
    size_t n = t->e - t->s;
    feat_t f = {0};
    f.given = phi_given(w, n);
    f.surname = phi_surname(w, n);
    f.dict = phi_word(w, n);
    f.clinical = phi_in(L_CLINICAL, w, n) || phi_in(L_DRUG_BRAND, w, n) ||
                 phi_in(L_CLIN_HEAD, w, n) || phi_drug_stem(w, n);
    /* Hyphenated eponyms: "Stevens-Johnson", "Guillain-Barre". */
    const char *dash = memchr(w, '-', n);
    if (!f.clinical && dash) {
        size_t a = (size_t)(dash - w);
        f.clinical = phi_in(L_CLINICAL, w, a) || phi_in(L_CLINICAL, dash + 1, n - a - 1);
        if (!f.dict)
            f.dict = phi_word(w, a) && phi_word(dash + 1, n - a - 1);
    }
    f.facility = phi_in(L_FACILITY, w, n);
    f.title = phi_in(L_TITLE, w, n);
    f.state = phi_in(L_STATE, w, n) && ((t->f & W_ALLCAP) || n > 2);
    f.country = phi_in(L_COUNTRY, w, n);
    f.nation = phi_in(L_NATION, w, n);
    f.month = phi_in(L_MONTH, w, n);
    f.not_name = phi_in(L_NOT_NAME, w, n);
    return f;
}

/* The word lists are looked up once per token: a run is examined several
 * times (facility, clinical, name and place evidence). */
static feat_t features(const toks_t *tk, size_t k) {
    if (!tk->known[k]) {
        tk->feat[k] = compute_features(tk, k);
        tk->known[k] = 1;
    }
    return tk->feat[k];
}

static int word_is(const toks_t *tk, size_t k, const char *w) {
    const tok_t *t = &tk->t[k];
    return !(t->f & W_PUNCT) && strlen(w) == t->e - t->s &&
           !strncasecmp(tk->s + t->s, w, t->e - t->s);
}

static int punct_is(const toks_t *tk, size_t k, char c) {
    return k < tk->n && (tk->t[k].f & W_PUNCT) && tk->s[tk->t[k].s] == c;
}

static int in_list(const toks_t *tk, size_t k, phi_list_id_t l) {
    const tok_t *t = &tk->t[k];
    return !(t->f & W_PUNCT) && phi_in(l, tk->s + t->s, t->e - t->s);
}

/* A word that can be part of a name or place run. */
static int runnable(const tok_t *t) {
    return !(t->f & (W_PUNCT | W_DIGIT)) && (t->f & W_CAP);
}

/* ---- runs -------------------------------------------------------------------- */

typedef struct {
    size_t a, b; /* tokens [a, b) */
} run_t;

/* Whether token k+1 continues the run that has token k: adjacent on the
 * same line, separated by spaces only, or by the '.' of an abbreviation. */
static int continues(const toks_t *tk, size_t k) {
    const tok_t *t = &tk->t[k], *u = &tk->t[k + 1];
    if (!runnable(u) || (u->f & W_NL))
        return 0;
    if ((t->f & W_DOT) && !(t->f & W_ABBR))
        return 0;
    size_t gap = t->e + ((t->f & W_DOT) ? 1 : 0);
    for (size_t i = gap; i < u->s; i++)
        if (tk->s[i] != ' ' && tk->s[i] != '\t')
            return 0;
    return u->s > gap || (t->f & W_DOT);
}

static int lower_facility_after(const toks_t *tk, size_t b, size_t *end_tok) {
    /* "our New York clinic", "the Chicago downtown clinic" */
    for (size_t k = b; k < tk->n && k < b + 3; k++) {
        const tok_t *t = &tk->t[k];
        if ((t->f & W_PUNCT) || !(t->f & W_LOWER))
            return 0;
        if (word_is(tk, k, "clinic") || word_is(tk, k, "hospital") || word_is(tk, k, "office") ||
            word_is(tk, k, "practice") || word_is(tk, k, "center") || word_is(tk, k, "centre") ||
            word_is(tk, k, "clinics")) {
            *end_tok = k + 1;
            return 1;
        }
    }
    return 0;
}

/* The token before run start a, skipping "the", "our", "a", "his", "her". */
static size_t before(const toks_t *tk, size_t a, size_t *skipped) {
    size_t k = a;
    *skipped = 0;
    while (k > 0) {
        k--;
        if (word_is(tk, k, "the") || word_is(tk, k, "our") || word_is(tk, k, "a") ||
            word_is(tk, k, "his") || word_is(tk, k, "her") || word_is(tk, k, "their") ||
            word_is(tk, k, "downtown")) {
            (*skipped)++;
            continue;
        }
        return k;
    }
    return (size_t)-1;
}

static size_t span_end(const toks_t *tk, size_t last) {
    const tok_t *t = &tk->t[last];
    /* An initial keeps its dot: "Sarah P." */
    return t->e + (((t->f & W_DOT) && (t->f & W_ABBR)) ? 1 : 0);
}

/* After a place run ending at token b: ", GA", " TX", ", Texas", ", Boston",
 * " in Detroit, MI" are part of the same place. Returns the new end token. */
static size_t extend_place(const toks_t *tk, size_t b, int *state_seen) {
    size_t k = b;
    for (int rounds = 0; rounds < 3; rounds++) {
        size_t j = k;
        if (punct_is(tk, j, ',') ||
            (j < tk->n && word_is(tk, j, "in") && j + 1 < tk->n && runnable(&tk->t[j + 1])))
            j++;
        if (j >= tk->n || !runnable(&tk->t[j]) || (tk->t[j].f & W_NL))
            break;
        size_t e = j + 1;
        while (e < tk->n && continues(tk, e - 1) && e - j < 4)
            e++;
        feat_t f = features(tk, j);
        if (f.state || f.country) {
            *state_seen = 1;
            k = e;
            continue;
        }
        /* Another capitalised run after a comma: a city, unless it looks
         * like a person ("…, John Smith"). */
        if (f.given && !f.dict)
            break;
        if (f.clinical || f.month || f.nation || f.dict)
            break;
        k = e;
    }
    return k;
}

/* ---- deciding a run ------------------------------------------------------------ */

static int descriptor(const toks_t *tk, size_t k) {
    static const char *const d[] = {
        "male", "female",  "man", "woman", "boy", "girl", "patient",   "pt",   "child", "infant",
        "baby", "veteran", "yo",  "old",   "m",   "f",    "gentleman", "lady", "adult"};
    if (k >= tk->n || (tk->t[k].f & W_PUNCT))
        return 0;
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (word_is(tk, k, d[i]))
            return 1;
    /* "34yo", "64yo" */
    const tok_t *t = &tk->t[k];
    size_t n = t->e - t->s;
    return n > 2 && !strncasecmp(tk->s + t->e - 2, "yo", 2) && (t->f & W_DIGIT);
}

/* Context before a run: a cue for a person. */
static double person_cue(const toks_t *tk, size_t a) {
    if (a == 0)
        return 0;
    size_t p = a - 1;
    if (punct_is(tk, p, ':') && p > 0 && word_is(tk, p - 1, "name"))
        return 0.45;
    if (word_is(tk, p, "is") && p > 0 && word_is(tk, p - 1, "name"))
        return 0.45;
    if (word_is(tk, p, "name") || word_is(tk, p, "named") || word_is(tk, p, "called"))
        return 0.45;
    if (in_list(tk, p, L_NAME_CUE))
        return 0.35;
    if (punct_is(tk, p, ',') && p > 0 && descriptor(tk, p - 1))
        return 0.35;
    if (in_list(tk, p, L_NAME_WEAK))
        return 0.1;
    return 0;
}

static double person_after(const toks_t *tk, size_t b) {
    size_t k = b;
    if (punct_is(tk, k, ','))
        k++;
    if (k < tk->n && in_list(tk, k, L_NAME_AFTER))
        return 0.1;
    /* "Mary K., age 72", "John Smith, a 60-year-old" */
    if (k > b && k < tk->n && (word_is(tk, k, "age") || word_is(tk, k, "aged")))
        return 0.2;
    return 0;
}

/* Place context before a run: 0, or the confidence it gives. */
static double place_cue(const toks_t *tk, size_t a, int *at) {
    size_t skipped;
    size_t p = before(tk, a, &skipped);
    *at = 0;
    if (p != (size_t)-1 && punct_is(tk, p, '@')) {
        *at = 1;
        return 0.6;
    }
    if (p == (size_t)-1 || (tk->t[p].f & W_PUNCT))
        return 0;
    if (word_is(tk, p, "at")) {
        *at = 1;
        return 0.6;
    }
    if (word_is(tk, p, "in") || word_is(tk, p, "from") || word_is(tk, p, "near") ||
        word_is(tk, p, "outside"))
        return 0.65;
    if (word_is(tk, p, "to") && p > 0 && in_list(tk, p - 1, L_PLACE_VERB)) {
        *at = 1;
        return 0.6;
    }
    if (in_list(tk, p, L_PLACE_VERB) && !word_is(tk, p, "presented"))
        return 0.5; /* "visited Cedar Falls", "discharged Boston"? weak */
    return 0;
}

/* Whether the run [a, b) is a line of its own right after a line with an
 * address on it (a street, a unit, a PO box): a city in an address block. */
static int address_line(const phi_scan_t *sc, const toks_t *tk, size_t a, size_t b) {
    if (!(tk->t[a].f & W_NL) || b - a > 4)
        return 0;
    if (b < tk->n && !(tk->t[b].f & W_NL) && !punct_is(tk, b, ',') && !(tk->t[b].f & W_DIGIT))
        return 0;
    size_t line = tk->t[a].s;
    while (line > 0 &&
           (tk->s[line - 1] == ' ' || tk->s[line - 1] == '\t' || tk->s[line - 1] == '\n' ||
            tk->s[line - 1] == '\r' || tk->s[line - 1] == '>'))
        line--;
    size_t prev = line;
    while (prev > 0 && tk->s[prev - 1] != '\n')
        prev--;
    for (size_t i = 0; i < sc->n; i++) {
        const phi_cand_t *c = &sc->c[i];
        if (c->type == MS_PHI_GEOGRAPHIC_LOCATION && c->prio >= PRIO_SHAPE && c->start < line &&
            c->end > prev)
            return 1;
    }
    return 0;
}

/* Names written in lower case ("follow up with patricia desrosiers"): a
 * census first name that is no English word, before a word that is none
 * either. Less sure alone. */
static void lower_names(phi_scan_t *sc, const toks_t *tk) {
    for (size_t k = 0; k < tk->n; k++) {
        const tok_t *t = &tk->t[k];
        if (!(t->f & W_LOWER) || (t->f & W_DIGIT) || t->e - t->s < 3)
            continue;
        const char *w = tk->s + t->s;
        size_t n = t->e - t->s;
        int freq = phi_given(w, n);
        static const char *const particles[] = {"von", "van", "der", "den", "del", "della",
                                                "das", "dos", "ten", "ter", "bin", "ibn"};
        int particle = 0;
        for (size_t i = 0; i < sizeof particles / sizeof particles[0]; i++)
            particle |= strlen(particles[i]) == n && !strncasecmp(w, particles[i], n);
        if (!freq || particle || phi_word(w, n) || phi_in(L_CLINICAL, w, n) ||
            phi_drug_stem(w, n) || phi_in(L_DRUG_BRAND, w, n) || phi_in(L_MONTH, w, n) ||
            phi_in(L_COUNTRY, w, n))
            continue;
        size_t end = t->e;
        double conf = 0.3;
        if (k + 1 < tk->n) {
            const tok_t *u = &tk->t[k + 1];
            size_t un = u->e - u->s;
            if ((u->f & W_LOWER) && !(u->f & W_DIGIT) && un >= 3 && u->s == t->e + 1 &&
                !phi_word(tk->s + u->s, un) && !phi_in(L_CLINICAL, tk->s + u->s, un) &&
                !phi_drug_stem(tk->s + u->s, un)) {
                end = u->e;
                conf = 0.55;
                k++;
            }
        }
        phi_add(sc, MS_PHI_NAME, t->s, end, conf, PRIO_LEXICAL);
    }
}

#define COMMON_NAME 100

/* A run being decided: tokens [a, b) after its title and leading common
 * words; a name span starts at start_tok (its title), a place span at
 * place_tok (the whole run: "at Cedar Sinai"). */
typedef struct {
    size_t a, b, start_tok, place_tok;
    int title, inverted;
} run_ctx_t;

/* Evidence gathered over a run's words. */
typedef struct {
    double name;
    int facility, words, all_allcap, unknown, initials;
} evidence_t;

/* Titles lead the run ("Dr. Sarah P.", "Mrs. Labrie"); a sentence's first
 * word is capitalised because it is first. 0 when nothing is left. */
static int trim_run(const toks_t *tk, run_ctx_t *r) {
    while (r->a < r->b && r->b - r->a >= 2 && features(tk, r->a).title) {
        r->title = 1;
        r->a++;
    }
    if (!r->title && r->a < r->b && (tk->t[r->a].f & W_SENT)) {
        feat_t f = features(tk, r->a);
        const tok_t *t = &tk->t[r->a];
        if ((f.dict && !(f.given && !phi_word(tk->s + t->s, t->e - t->s))) || f.month || f.not_name)
            r->a++;
    }
    r->place_tok = r->a;
    return r->a < r->b;
}

/* "…, Canton, Massachusetts 02021", "Atlanta, GA": a run a state follows
 * is a place, even when its words are common ones. Returns the token after
 * the place (its state included), or 0 when this does not apply; *drop is
 * set when the run is a clinical term or a month instead. */
static size_t state_place(phi_scan_t *sc, const toks_t *tk, const run_ctx_t *r, int *drop) {
    int state_seen = 0;
    size_t pend = extend_place(tk, r->b, &state_seen);
    *drop = 0;
    if (!state_seen || r->title || r->b - r->a > 4)
        return 0;
    int ok = 0;
    for (size_t k = r->a; k < r->b; k++) {
        feat_t f = features(tk, k);
        if (f.clinical || f.month || f.nation || f.title) {
            *drop = 1;
            return 0;
        }
        if (!(tk->t[k].f & W_ALLCAP) && !f.state && !f.country)
            ok = 1;
    }
    if (!ok)
        return 0;
    int at;
    double cue = place_cue(tk, r->a, &at);
    phi_add(sc, MS_PHI_GEOGRAPHIC_LOCATION, tk->t[r->a].s, span_end(tk, pend - 1),
            cue > 0 ? 0.9 : 0.85, PRIO_LEXICAL);
    return pend;
}

/* "Toy, Alexis": one word, a comma, then a common first name that ends
 * its run ("COPD, Robert Brown" is an apposition, not an inversion). */
static int inverted_name(const toks_t *tk, const run_ctx_t *r) {
    size_t a = r->a, b = r->b;
    if (r->title || b - a != 1 || (tk->t[a].f & W_ALLCAP) || !punct_is(tk, b, ',') ||
        b + 1 >= tk->n || !runnable(&tk->t[b + 1]) || (tk->t[b + 1].f & (W_NL | W_ALLCAP)))
        return 0;
    const tok_t *g = &tk->t[b + 1];
    const char *w = tk->s + g->s;
    size_t n = g->e - g->s;
    int freq = phi_given(w, n);
    feat_t f = features(tk, a);
    int alone = b + 2 >= tk->n || !continues(tk, b + 1);
    return alone && freq && (freq >= 40 || !phi_word(w, n)) && !phi_in(L_STATE, w, n) &&
           !f.clinical && !f.month && !f.nation && !f.facility;
}

/* Leading common words are no part of a name ("Comparative Efficacy",
 * "Guidelines", "Updated JNC"). 0 when nothing is left. */
static int strip_common(const toks_t *tk, run_ctx_t *r) {
    if (r->title || r->inverted)
        return 1; /* the name starts at its title (or where the run did) */
    while (r->a < r->b) {
        feat_t f = features(tk, r->a);
        if (f.facility || f.given || f.surname || !(f.dict || f.month || f.nation))
            break;
        r->a++;
    }
    r->start_tok = r->a;
    return r->a < r->b;
}

#define COMMON_NAME 100

/* Person evidence over the run's words. 0 when the run is a clinical term
 * ("Wells score", "Parkinson's disease", "Framingham Heart Study"), which
 * wins over names and places. */
static int person_evidence(const toks_t *tk, const run_ctx_t *r, evidence_t *ev) {
    size_t n = r->b - r->a;
    *ev = (evidence_t){.all_allcap = 1};
    for (size_t k = r->a; k < r->b; k++) {
        feat_t f = features(tk, k);
        const tok_t *t = &tk->t[k];
        ev->facility |= f.facility;
        if (!(t->f & W_ALLCAP))
            ev->all_allcap = 0;
        if (f.clinical && !r->title && !(f.given && k == r->a && n > 1))
            return 0;
        if (f.state || f.country || f.nation || f.month || f.not_name || f.facility)
            continue;
        if (t->f & W_INITIAL) {
            ev->initials = 1;
            continue;
        }
        /* A common English word is weaker evidence of a name, unless the
         * census says the name is common too (JOHN 3.3 %, SMITH 1.0 %):
         * COMMON_NAME is 0.1 % of the population. */
        int weak = f.dict && (f.given > f.surname ? f.given : f.surname) < COMMON_NAME;
        if (k == r->a && f.given)
            ev->name += weak ? 0.15 : 0.4;
        else if (f.surname)
            ev->name += weak ? 0.05 : 0.2;
        else if (f.given)
            ev->name += weak ? 0.05 : 0.15;
        else if (!f.dict && !(t->f & W_ALLCAP)) {
            ev->unknown++;
            ev->name += 0.15;
        }
        if (!f.dict || f.given || f.surname)
            ev->words++;
    }
    return !(r->b < tk->n && in_list(tk, r->b, L_CLIN_HEAD) && !r->title);
}

/* Facilities: "Methodist Hospital", "UCLA Med Ctr", "our New York clinic".
 * Returns the token after the facility, or 0 when the run is none. */
static size_t facility_place(phi_scan_t *sc, const toks_t *tk, const run_ctx_t *r,
                             const evidence_t *ev, double place) {
    size_t end_tok = r->b, lower_end;
    if (r->title || !(ev->facility || lower_facility_after(tk, r->b, &lower_end)))
        return 0;
    if (!ev->facility)
        end_tok = lower_end;
    else if (r->b - r->a == 1 && place == 0)
        return r->b; /* "Hospital" alone, not after a place word */
    int state_seen;
    end_tok = extend_place(tk, end_tok, &state_seen);
    phi_add(sc, MS_PHI_GEOGRAPHIC_LOCATION, tk->t[r->place_tok].s, span_end(tk, end_tok - 1), 0.85,
            PRIO_LEXICAL);
    return end_tok;
}

/* The name score from the run's context: initials, unknown words, a
 * sentence opener, cue words around it. */
static double name_score(const toks_t *tk, const run_ctx_t *r, const evidence_t *ev) {
    size_t a = r->a, b = r->b, n = b - a;
    double name = ev->name + (r->inverted ? 0.4 : 0);
    if (ev->initials && n >= 2 && n <= 4)
        name += 0.45;
    if ((size_t)ev->unknown == n && n >= 2)
        name += 0.1; /* two unknown capitalised words together */
    /* One unknown word opening a sentence is a name when a verb, a colon or
     * a comma follows ("Mehrudin shouted", "Koppány:"), and more likely a
     * heading word otherwise ("Contraindications for", "Mgmt. of"). */
    int opener_named =
        b >= tk->n || punct_is(tk, b, ',') || punct_is(tk, b, ':') || in_list(tk, b, L_NAME_AFTER);
    if ((tk->t[a].f & W_SENT) && ev->unknown == 1 && n == 1 && opener_named &&
        !(tk->t[a].f & W_DOT))
        name += 0.1;
    else if (tk->t[a].f & W_SENT)
        name -= 0.05;
    return name + person_cue(tk, r->start_tok) + person_after(tk, b);
}

/* Decides one run [a, b): a person, a place, a facility or nothing; adds
 * at most two candidates. Returns the token after what it consumed. */
static size_t decide(phi_scan_t *sc, const toks_t *tk, size_t a, size_t b) {
    run_ctx_t r = {.a = a, .b = b, .start_tok = a};
    if (!trim_run(tk, &r))
        return b;
    int drop;
    size_t next = state_place(sc, tk, &r, &drop);
    if (next || drop)
        return next ? next : b;
    r.inverted = inverted_name(tk, &r);
    evidence_t ev;
    if (!strip_common(tk, &r) || !person_evidence(tk, &r, &ev))
        return b;
    int at = 0;
    double place = place_cue(tk, r.place_tok, &at);
    if ((next = facility_place(sc, tk, &r, &ev, place)) != 0)
        return next;
    size_t last = b - 1;
    if (r.title) {
        phi_add(sc, MS_PHI_NAME, tk->t[r.start_tok].s, span_end(tk, last), 0.95, PRIO_LEXICAL);
        return b;
    }
    if (ev.words == 0 && !r.inverted)
        return b; /* only common words, acronyms, states, months */
    double name = name_score(tk, &r, &ev);

    /* Places: "from Chicago", "at UCSF", a line of an address block. */
    if (place == 0 && address_line(sc, tk, r.place_tok, b))
        place = 0.7;
    if (ev.all_allcap && !at)
        place = 0; /* "in COPD", "from ACC": acronyms after in/from are not places */
    if (ev.all_allcap && name < 0.5)
        name = 0;
    if (place > 0 && place >= name - 0.2 && !(ev.initials && name >= 0.5) && !r.inverted) {
        int state_seen;
        size_t pend = extend_place(tk, b, &state_seen);
        phi_add(sc, MS_PHI_GEOGRAPHIC_LOCATION, tk->t[r.place_tok].s, span_end(tk, pend - 1), place,
                PRIO_LEXICAL);
        return pend;
    }
    if (name >= 0.2)
        phi_add(sc, MS_PHI_NAME, tk->t[r.start_tok].s, span_end(tk, last),
                name > 0.97 ? 0.97 : name, PRIO_LEXICAL);
    if (r.inverted && name >= MS_PHI_SURE) {
        phi_add(sc, MS_PHI_NAME, tk->t[b + 1].s, span_end(tk, b + 1), 0.8, PRIO_LEXICAL);
        return b + 2;
    }
    return b;
}

/* Joins runs around "of", "and", "&" when one side is a facility:
 * "Children's Hospital of Atlanta", "Brigham and Women's Hospital". */
static size_t join_facility(const toks_t *tk, size_t a, size_t b) {
    for (;;) {
        if (b + 1 >= tk->n)
            return b;
        const tok_t *c = &tk->t[b];
        int conn = word_is(tk, b, "of") || word_is(tk, b, "and") || punct_is(tk, b, '&') ||
                   word_is(tk, b, "for");
        if (!conn || !runnable(&tk->t[b + 1]) || (c->f & W_NL))
            return b;
        size_t e = b + 2;
        while (e < tk->n && continues(tk, e - 1))
            e++;
        int fac = 0;
        for (size_t k = a; k < e; k++)
            if (k != b && !(tk->t[k].f & W_PUNCT) && in_list(tk, k, L_FACILITY))
                fac = 1;
        if (!fac)
            return b;
        b = e;
    }
}

/* Name propagation: a surname or first name found with confidence is a
 * name wherever else it appears capitalised ("… Faina D. Yefremova's
 * Cautionary Tales … early Yefremova"). At most PROPAGATE_MAX words are
 * remembered, so the pass stays linear. */
#define PROPAGATE_MAX 64

static void propagate(phi_scan_t *sc, const toks_t *tk, size_t first_cand) {
    struct {
        size_t s, n;
    } words[PROPAGATE_MAX];
    size_t nw = 0;
    unsigned char *named = calloc(sc->len ? sc->len : 1, 1);
    if (!named)
        abort();
    for (size_t c = first_cand; c < sc->n; c++)
        if (sc->c[c].type == MS_PHI_NAME && sc->c[c].conf >= MS_PHI_SURE)
            memset(named + sc->c[c].start, 1, sc->c[c].end - sc->c[c].start);
    for (size_t k = 0; k < tk->n && nw < PROPAGATE_MAX; k++) {
        const tok_t *t = &tk->t[k];
        if (!runnable(t) || (t->f & (W_INITIAL | W_ALLCAP)) || t->e - t->s < 3)
            continue;
        size_t n = phi_strip_possessive(tk->s + t->s, t->e - t->s);
        if (!named[t->s] || phi_word(tk->s + t->s, n) || features(tk, k).title)
            continue;
        int dup = 0;
        for (size_t i = 0; i < nw && !dup; i++)
            dup = words[i].n == n && !strncasecmp(tk->s + words[i].s, tk->s + t->s, n);
        if (dup)
            continue;
        words[nw].s = t->s;
        words[nw].n = n;
        nw++;
    }
    free(named);
    if (!nw)
        return;
    phi_cover_build(sc, PRIO_LEXICAL);
    for (size_t k = 0; k < tk->n; k++) {
        const tok_t *t = &tk->t[k];
        if (!runnable(t) || (t->f & (W_INITIAL | W_ALLCAP)) || t->e - t->s < 3 ||
            phi_covered(sc, t->s, t->e, PRIO_LEXICAL))
            continue;
        size_t n = phi_strip_possessive(tk->s + t->s, t->e - t->s);
        for (size_t i = 0; i < nw; i++)
            if (words[i].n == n && !strncasecmp(tk->s + words[i].s, tk->s + t->s, n)) {
                phi_add(sc, MS_PHI_NAME, t->s, t->e, 0.75, PRIO_LEXICAL);
                break;
            }
    }
}

#define RUN_MAX 8

void phi_names(phi_scan_t *sc) {
    toks_t tk = {.s = sc->s, .len = sc->len};
    phi_tokenize(&tk);
    tk.feat = malloc((tk.n ? tk.n : 1) * sizeof *tk.feat);
    tk.known = calloc(tk.n ? tk.n : 1, 1);
    if (!tk.feat || !tk.known)
        abort();
    size_t first_cand = sc->n;
    size_t k = 0;
    while (k < tk.n) {
        if (!runnable(&tk.t[k])) {
            k++;
            continue;
        }
        /* A run longer than RUN_MAX words is a heading in title case, not a
         * name: it is read RUN_MAX words at a time, which keeps every step
         * below bounded by the run length. */
        size_t b = k + 1;
        while (b < tk.n && b - k < RUN_MAX && continues(&tk, b - 1))
            b++;
        b = join_facility(&tk, k, b);
        size_t next = decide(sc, &tk, k, b);
        k = next > k ? next : k + 1;
    }
    lower_names(sc, &tk);
    propagate(sc, &tk, first_cand);
    free(tk.t);
    free(tk.feat);
    free(tk.known);
}
