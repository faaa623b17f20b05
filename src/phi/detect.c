/* ms_phi_detect: runs the recognisers over a text and merges what they
 * found into non-overlapping spans and a verdict. */
#include "phi/phi_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[MS_PHI_NTYPES] = {
    [MS_PHI_NAME] = "NAME",
    [MS_PHI_GEOGRAPHIC_LOCATION] = "GEOGRAPHIC_LOCATION",
    [MS_PHI_DATE] = "DATE",
    [MS_PHI_AGE_OVER_89] = "AGE_OVER_89",
    [MS_PHI_PHONE] = "PHONE",
    [MS_PHI_FAX] = "FAX",
    [MS_PHI_EMAIL] = "EMAIL",
    [MS_PHI_SSN] = "SSN",
    [MS_PHI_MEDICAL_RECORD_NUMBER] = "MEDICAL_RECORD_NUMBER",
    [MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER] = "HEALTH_PLAN_BENEFICIARY_NUMBER",
    [MS_PHI_ACCOUNT] = "ACCOUNT",
    [MS_PHI_CERTIFICATE_LICENSE] = "CERTIFICATE_LICENSE",
    [MS_PHI_VEHICLE_IDENTIFIER] = "VEHICLE_IDENTIFIER",
    [MS_PHI_DEVICE_IDENTIFIER] = "DEVICE_IDENTIFIER",
    [MS_PHI_URL] = "URL",
    [MS_PHI_IP] = "IP",
    [MS_PHI_UNIQUE_IDENTIFIER] = "UNIQUE_IDENTIFIER",
};

/* ASQ-PHI's data files spell some categories out in full. */
static const struct {
    const char *name;
    ms_phi_type_t type;
} aliases[] = {
    {"PHONE_NUMBER", MS_PHI_PHONE},     {"FAX_NUMBER", MS_PHI_FAX},
    {"EMAIL_ADDRESS", MS_PHI_EMAIL},    {"SOCIAL_SECURITY_NUMBER", MS_PHI_SSN},
    {"ACCOUNT_NUMBER", MS_PHI_ACCOUNT}, {"CERTIFICATE_LICENSE_NUMBER", MS_PHI_CERTIFICATE_LICENSE},
    {"IP_ADDRESS", MS_PHI_IP},
};

const char *ms_phi_type_name(ms_phi_type_t type) {
    return (unsigned)type < MS_PHI_NTYPES ? type_names[type] : "UNKNOWN";
}

int ms_phi_type_parse(const char *name) {
    if (!name)
        return -1;
    for (int i = 0; i < MS_PHI_NTYPES; i++)
        if (!strcmp(name, type_names[i]))
            return i;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(name, aliases[i].name))
            return (int)aliases[i].type;
    return -1;
}

void phi_add(phi_scan_t *sc, ms_phi_type_t type, size_t start, size_t end, double conf, int prio) {
    while (start < end && (sc->s[start] == ' ' || sc->s[start] == '\t' || sc->s[start] == '\n'))
        start++;
    while (end > start && (sc->s[end - 1] == ' ' || sc->s[end - 1] == '\t' ||
                           sc->s[end - 1] == '\n' || sc->s[end - 1] == '\r'))
        end--;
    if (end <= start || end > sc->len)
        return;
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? sc->cap * 2 : 32;
        sc->c = realloc(sc->c, sc->cap * sizeof *sc->c);
        if (!sc->c)
            abort();
    }
    sc->c[sc->n++] = (phi_cand_t){type, start, end, conf > 1 ? 1 : conf, prio};
}

void phi_cover_build(phi_scan_t *sc, int min_prio) {
    if (!sc->cov) {
        sc->cov = calloc(sc->len ? sc->len : 1, 1);
        if (!sc->cov)
            abort();
    } else {
        memset(sc->cov, 0, sc->len);
    }
    sc->cov_prio = min_prio;
    for (size_t i = 0; i < sc->n; i++)
        if (sc->c[i].prio >= min_prio)
            memset(sc->cov + sc->c[i].start, 1, sc->c[i].end - sc->c[i].start);
}

int phi_covered(const phi_scan_t *sc, size_t start, size_t end, int min_prio) {
    if (sc->cov && sc->cov_prio == min_prio) {
        for (size_t i = start; i < end && i < sc->len; i++)
            if (sc->cov[i])
                return 1;
        return 0;
    }
    for (size_t i = 0; i < sc->n; i++)
        if (sc->c[i].prio >= min_prio && sc->c[i].start < end && start < sc->c[i].end)
            return 1;
    return 0;
}

static int by_start(const void *a, const void *b) {
    const phi_cand_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end > y->end ? -1 : x->end < y->end;
}

/* The stronger of two overlapping candidates names the merged span: higher
 * priority (a keyword over a shape over a word list), then confidence. */
static int stronger(const phi_cand_t *x, const phi_cand_t *y) {
    if (x->prio != y->prio)
        return x->prio > y->prio;
    return x->conf > y->conf;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void) {
    phi_lists_init();
    phi_formats_init();
}

void ms_phi_detect(const char *text, size_t len, ms_phi_result_t *out) {
    memset(out, 0, sizeof *out);
    pthread_once(&init_once, init);
    int truncated = len > MS_PHI_MAX_INPUT;
    phi_scan_t sc = {.s = text ? text : "", .len = text ? (truncated ? MS_PHI_MAX_INPUT : len) : 0};
    if (sc.len) {
        phi_formats(&sc);
        phi_keywords(&sc);
        phi_names(&sc);
    }
    free(sc.cov);
    if (sc.n)
        qsort(sc.c, sc.n, sizeof *sc.c, by_start);
    /* Overlapping candidates become one span covering all of them. */
    size_t m = 0;
    for (size_t i = 0; i < sc.n; i++) {
        phi_cand_t c = sc.c[i];
        if (m > 0 && c.start < sc.c[m - 1].end) {
            phi_cand_t *p = &sc.c[m - 1];
            if (stronger(&c, p)) {
                p->type = c.type;
                p->prio = c.prio;
            }
            if (c.conf > p->conf)
                p->conf = c.conf;
            if (c.end > p->end)
                p->end = c.end;
            continue;
        }
        sc.c[m++] = c;
    }
    if (m) {
        out->spans = malloc(m * sizeof *out->spans);
        if (!out->spans)
            abort();
    }
    int sure = 0;
    for (size_t i = 0; i < m; i++) {
        out->spans[i] = (ms_phi_span_t){sc.c[i].type, sc.c[i].start, sc.c[i].end, sc.c[i].conf};
        out->categories |= 1u << sc.c[i].type;
        if (sc.c[i].conf >= MS_PHI_SURE)
            sure = 1;
    }
    out->nspans = m;
    out->verdict = sure                                ? MS_PHI_FOUND
                   : (m || sc.incomplete || truncated) ? MS_PHI_UNSURE
                                                       : MS_PHI_NONE;
    free(sc.c);
}

void ms_phi_result_free(ms_phi_result_t *r) {
    if (!r)
        return;
    free(r->spans);
    memset(r, 0, sizeof *r);
}
