/* The phi stage: what the PHI detector (phi/phi.h) finds in what the
 * prompt will carry, for the route stage to decide on (a message with PHI
 * goes only to providers marked local; an unsure one too).
 *
 * On a route whose providers are all local (the offline answerer's, a
 * local Ollama) it scans nothing: every provider may take PHI, so no
 * decision depends on it (phi_unscanned; the routing event's
 * phi_scanned: false). Otherwise it examines the question, the recent
 * turns (t->history, all that the prompt may carry), and the clinical context when the
 * conversation has one; a bound context is PHI by definition (a patient's
 * record), whatever the detector finds in it. It sets, on the turn:
 * - phi_detected: 1 when some span is sure PHI, or a context is bound;
 * - phi_unsure:   1 when the detector found only spans it is unsure of, or
 *                 could not run (the pool refused): treat as PHI;
 * - phi_categories: the ASQ-PHI category names found, sorted, unique (no
 *                 values: it goes into telemetry as is);
 * - phi_map: the redaction map (phi/phi.h) holding every span found in
 *   those texts, NULL when nothing was found. Redact mode applies it where
 *   the request is sent to a provider that is not local:
 *     ms_phi_map_apply(t->phi_map, text, len, &out, &out_len)
 *   on the question, each history text and the context text, and feeds the
 *   provider's deltas through ms_phi_restorer_feed (flush at on_done)
 *   before ms__stream_append_chunk (generate.c, gen_delta_cb).
 *
 * Detection costs about 0.2 us per byte of ordinary text and up to 0.35 us
 * per byte of adversarial text (docs/phi.md): a 400-character question is
 * 45 us, but with the history it can reach milliseconds, so it runs on the
 * kb pool (chat/work.h), never on the loop thread. Nothing it finds is
 * logged. */
#include "chat/internal.h"
#include "chat/work.h"
#include "core/log.h"
#include "phi/phi.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_turn_t *t;
    char **texts; /* copies: the question, the history, the context */
    size_t *lens;
    size_t ntexts;
    int has_context;
    /* out */
    int detected, unsure;
    unsigned categories;
    ms_phi_map_t *map;
} phi_job_t;

static void add_text(phi_job_t *j, const char *s, size_t len) {
    j->texts[j->ntexts] = ms_xstrndup(s ? s : "", s ? len : 0);
    j->lens[j->ntexts] = s ? len : 0;
    j->ntexts++;
}

static void phi_job_free(phi_job_t *j) {
    for (size_t i = 0; i < j->ntexts; i++) {
        explicit_bzero(j->texts[i], j->lens[i]);
        free(j->texts[i]);
    }
    free(j->texts);
    free(j->lens);
    ms_phi_map_free(j->map);
    free(j);
}

/* On a kb pool thread: only the job's own copies are touched. */
static void phi_run(ms_store_t *st, void *arg) {
    (void)st;
    phi_job_t *j = arg;
    j->map = ms_phi_map_new();
    for (size_t i = 0; i < j->ntexts; i++) {
        ms_phi_result_t r;
        ms_phi_detect(j->texts[i], j->lens[i], &r);
        if (r.verdict == MS_PHI_FOUND)
            j->detected = 1;
        else if (r.verdict == MS_PHI_UNSURE)
            j->unsure = 1;
        j->categories |= r.categories;
        char *red;
        ms_phi_redact(j->map, j->texts[i], j->lens[i], &r, &red, NULL);
        explicit_bzero(red, strlen(red));
        free(red);
        ms_phi_result_free(&r);
    }
    if (j->has_context)
        j->detected = 1; /* a patient's record: PHI by definition */
    if (j->detected)
        j->unsure = 0;
}

static json_t *category_names(unsigned categories) {
    json_t *a = json_array();
    /* By name, so the list does not depend on the enum's order. */
    const char *names[MS_PHI_NTYPES];
    size_t n = 0;
    for (int i = 0; i < MS_PHI_NTYPES; i++)
        if (categories & (1u << i))
            names[n++] = ms_phi_type_name((ms_phi_type_t)i);
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(names[k], names[k - 1]) < 0; k--) {
            const char *x = names[k];
            names[k] = names[k - 1];
            names[k - 1] = x;
        }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static void phi_set(ms_turn_t *t, int detected, int unsure, unsigned categories,
                    ms_phi_map_t *map) {
    t->phi_detected = detected;
    t->phi_unsure = unsure;
    json_decref(t->phi_categories);
    t->phi_categories = category_names(categories);
    ms_phi_map_free(t->phi_map);
    t->phi_map = map && ms_phi_map_count(map) ? map : NULL;
    if (map && !t->phi_map)
        ms_phi_map_free(map);
}

static void phi_done(void *arg) {
    phi_job_t *j = arg;
    ms_turn_t *t = j->t;
    if (t->chat->shutting_down) {
        ms__stream_drop(t->s);
        ms__turn_free(t);
    } else {
        phi_set(t, j->detected, j->unsure, j->categories, j->map);
        j->map = NULL;
        ms__turn_next(t);
    }
    phi_job_free(j);
}

/* Whether every provider of the turn's route is local: then whatever the
 * texts hold, each provider may take them, and nothing needs scanning. */
static int route_all_local(const ms_turn_t *t) {
    const ms_llm_route_t *r = t->route;
    if (!r)
        return 0;
    for (size_t i = 0; i < r->nproviders; i++)
        if (!ms_llm_provider(t->chat->llm, r->providers[i])->local)
            return 0;
    return 1;
}

static void phi_stage(ms_turn_t *t) {
    if (route_all_local(t)) {
        /* The detector costs about 0.2 us a byte of the question and of the
         * whole history (long answers included): on a local-only route,
         * the offline answerer's among them, it would decide nothing. A
         * bound context still counts as PHI for telemetry and metrics. */
        t->phi_unscanned = 1;
        phi_set(t, t->context != NULL, 0, 0, NULL);
        ms__turn_next(t);
        return;
    }
    /* Every recent turn persist loaded, not only those the prompt's budget
     * keeps: a superset, so nothing the model is sent goes unexamined. */
    size_t nh = json_array_size(t->history);
    phi_job_t *j = ms_xcalloc(1, sizeof *j);
    j->t = t;
    j->texts = ms_xcalloc(nh + 2, sizeof *j->texts);
    j->lens = ms_xcalloc(nh + 2, sizeof *j->lens);
    add_text(j, t->question, strlen(t->question));
    for (size_t i = 0; i < nh; i++) {
        json_t *c = json_object_get(json_array_get(t->history, i), "content");
        add_text(j, json_string_value(c), json_string_length(c));
    }
    if (t->context) {
        char *ctx = json_dumps(t->context, JSON_COMPACT);
        add_text(j, ctx, ctx ? strlen(ctx) : 0);
        free(ctx);
        j->has_context = 1;
    }
    int rc = ms_work_submit_on(MS_WORK_KB, t->chat->loop, phi_run, phi_done, j);
    if (rc != 0) {
        /* Not examined is not known to be free of PHI: unsure, which the
         * route stage treats as PHI. */
        ms_log(MS_LOG_WARN, "phi_detection_refused", "\"code\":\"%s\"", ms_strerror(rc));
        int context = j->has_context;
        phi_job_free(j);
        phi_set(t, context, !context, 0, NULL);
        ms__turn_next(t);
    }
}

const ms_stage_ops_t ms_stage_phi = {.name = "phi", .run = phi_stage};

/* ---- redact mode ------------------------------------------------------------
 * A route or provider with phi_mode "redact" may send a question with PHI
 * to a model that is not local: every value the detector found (sure or
 * unsure) is replaced by its typed placeholder in everything the request
 * carries (ms_phi_map_apply on each message, the question and the turns),
 * and the answer's placeholders are put back as it streams (generate.c,
 * through ms_phi_restorer_feed). Local providers get the originals. */

int ms__phi_may_redact(const ms_turn_t *t, const ms_provider_t *p) {
    if (!t->phi_map || t->context)
        return 0;
    return (t->route && t->route->phi_redact) || p->phi_redact;
}

static char *apply(const ms_turn_t *t, const char *s) {
    char *out;
    ms_phi_map_apply(t->phi_map, s ? s : "", s ? strlen(s) : 0, &out, NULL);
    return out;
}

/* The redacted copy of t->req, built once: its strings are the turn's. */
static void build_redacted(ms_turn_t *t) {
    const ms_gen_request_t *q = &t->req;
    t->red_req = *q;
    t->red_question = apply(t, q->question);
    t->red_req.question = t->red_question;
    if (q->nmessages) {
        t->red_msgs = ms_xcalloc(q->nmessages, sizeof *t->red_msgs);
        for (size_t i = 0; i < q->nmessages; i++) {
            t->red_msgs[i].role = q->messages[i].role;
            t->red_msgs[i].content = apply(t, q->messages[i].content);
        }
        t->red_req.messages = t->red_msgs;
    }
    if (q->nhistory) {
        t->red_hist = ms_xcalloc(q->nhistory, sizeof *t->red_hist);
        for (size_t i = 0; i < q->nhistory; i++)
            t->red_hist[i] = apply(t, q->history_texts[i]);
        t->red_req.history_texts = (const char *const *)t->red_hist;
    }
    t->red_built = 1;
}

const ms_gen_request_t *ms__phi_request_for(ms_turn_t *t) {
    int phi = t->phi_detected || t->phi_unsure;
    if (!phi || t->provider->local)
        return &t->req;
    /* The route stage admits a provider that is not local only when it
     * may redact; anything else here is a bug, and PHI stays home. */
    if (!ms__phi_may_redact(t, t->provider))
        return NULL;
    if (!t->red_built)
        build_redacted(t);
    return &t->red_req;
}

static void wipe_free(char *s) {
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void ms__phi_release(ms_turn_t *t) {
    if (t->red_built) {
        wipe_free(t->red_question);
        for (size_t i = 0; t->red_msgs && i < t->req.nmessages; i++)
            wipe_free(t->red_msgs[i].content);
        for (size_t i = 0; t->red_hist && i < t->req.nhistory; i++)
            wipe_free(t->red_hist[i]);
        free(t->red_msgs);
        free(t->red_hist);
        t->red_msgs = NULL;
        t->red_hist = NULL;
        t->red_question = NULL;
        t->red_built = 0;
    }
    ms_phi_restorer_free(t->restorer);
    t->restorer = NULL;
    ms_buf_free(&t->restored);
}
