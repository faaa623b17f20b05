/* The context stage: the clinical context the conversation is bound to
 * (store.h, "clinical contexts"), loaded on the storage pool into
 * t->context for the stages after it:
 * - retrieve weighs the patient's problems (ms__context_fuse below);
 * - prompt puts the context in the model's prompt (the provider work);
 * - the PHI stage routes a turn with a context as PHI;
 * - and here, before any answer text, a drug the question names whose class
 *   the patient's recorded allergies name is noted (clinical/clinical.h,
 *   ms_clinical_allergy_note): the note is the answer's first words, so
 *   every provider's answer carries it, the offline answerer's included.
 * A bound context that cannot be read ends the turn as an error: answering
 * as if the patient had no allergies would be worse than not answering. */
#include "chat/internal.h"
#include "chat/work.h"
#include "clinical/clinical.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_turn_t *t;
    char user_id[MS_ID_LEN];
    char conversation_id[MS_ID_LEN];
    json_t *context;
    int rc;
} context_job_t;

static void context_run(ms_store_t *st, void *arg) {
    context_job_t *j = arg;
    if (!st) {
        j->rc = MS_EIO;
        return;
    }
    j->rc = ms_store_clinical_current(st, j->user_id, j->conversation_id, &j->context);
    if (j->rc == MS_ENOENT)
        j->rc = 0; /* no context bound: the turn has none */
}

/* The turn cannot know the patient's record: it ends as an error, saying
 * so in its text (the disclaimer follows, as on every answer). */
static void context_unavailable(ms_turn_t *t, int rc) {
    static const char msg[] = "The patient's clinical context could not be read, so no answer "
                              "was written. Please ask again.";
    ms_log(MS_LOG_WARN, "context_unavailable", "\"code\":\"%s\"", ms_strerror(rc));
    ms__stream_append_chunk(t->s, msg, sizeof msg - 1);
    ms__turn_finish(t, "error");
}

static void context_done(void *arg) {
    context_job_t *j = arg;
    ms_turn_t *t = j->t;
    if (t->chat->shutting_down) {
        json_decref(j->context);
        ms__stream_drop(t->s);
        ms__turn_free(t);
    } else if (j->rc) {
        context_unavailable(t, j->rc);
    } else {
        t->context = j->context;
        char *note = t->context ? ms_clinical_allergy_note(t->context, t->question) : NULL;
        if (note)
            ms__stream_append_chunk(t->s, note, strlen(note));
        free(note);
        ms__turn_account(t);
        ms__turn_next(t);
    }
    free(j);
}

static void context_stage(ms_turn_t *t) {
    ms_stream_t *s = t->s;
    context_job_t *j = ms_xcalloc(1, sizeof *j);
    j->t = t;
    memcpy(j->user_id, s->user_id, MS_ID_LEN);
    memcpy(j->conversation_id, s->conversation_id, MS_ID_LEN);
    int rc = ms_work_submit(t->chat->loop, context_run, context_done, j);
    if (rc != 0) {
        free(j);
        context_unavailable(t, rc);
    }
}

const ms_stage_ops_t ms_stage_context = {.name = "context", .run = context_stage};

/* ---- retrieval with the patient's problems ----------------------------------
 * Weighted CombSUM (Fox & Shaw, "Combination of multiple searches", TREC-2,
 * 1994) over scores normalised by each search's best (scores are comparable
 * within one search only, kb.h): score = s_q / best_q + w * s_p / best_p,
 * s_q a passage's score for the question, s_p for the problem list alone
 * (0 when that search did not find it), w = MS_CONTEXT_PROBLEM_WEIGHT.
 * Where the question's own ranking is close ("What exercise advice should I
 * give?": several passages about as good), a passage about the patient's
 * problems wins; where it is clear ("symptoms of gout?"), the problems
 * rarely change it. A passage only the problems find is never added: the
 * question alone decides what may be used.
 *
 * The problems are searched alone, not appended to the question: appended,
 * they outweighed the question's own cues on MedQuAD ("What are signs of a
 * stroke?" for a patient with hypertension ranked the stroke overview, which
 * names hypertension, above the stroke symptoms page), and the whole turn's
 * retrieval took about six times the question's search alone instead of
 * about three (16,421 MedQuAD passages, 4 problems: median 76 ms and 28 ms
 * against 9 to 13 ms). */

typedef struct {
    size_t i;
    double score;
} fused_t;

static int cmp_fused(const void *a, const void *b) {
    const fused_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static double best_score(const ms_kb_hit_t *h, size_t n) {
    double best = 0;
    for (size_t i = 0; i < n; i++)
        if (h[i].score > best)
            best = h[i].score;
    return best;
}

void ms__context_fuse(ms_kb_hit_t *pool, size_t npool, const ms_kb_hit_t *boost, size_t nboost,
                      size_t k, ms_kb_hit_t **out, size_t *nout) {
    fused_t *f = ms_xcalloc(npool ? npool : 1, sizeof *f);
    double bq = best_score(pool, npool), bp = best_score(boost, nboost);
    for (size_t i = 0; i < npool; i++) {
        f[i].i = i;
        f[i].score = bq > 0 ? pool[i].score / bq : 0;
        for (size_t r = 0; bp > 0 && r < nboost; r++) {
            if (pool[i].id && boost[r].id && !strcmp(pool[i].id, boost[r].id)) {
                f[i].score += MS_CONTEXT_PROBLEM_WEIGHT * boost[r].score / bp;
                break;
            }
        }
    }
    qsort(f, npool, sizeof *f, cmp_fused);
    size_t keep = npool < k ? npool : k;
    ms_kb_hit_t *kept = ms_xcalloc(keep ? keep : 1, sizeof *kept);
    ms_kb_hit_t *rest = ms_xcalloc(npool - keep ? npool - keep : 1, sizeof *rest);
    for (size_t i = 0; i < npool; i++) {
        if (i < keep)
            kept[i] = pool[f[i].i];
        else
            rest[i - keep] = pool[f[i].i];
    }
    ms_kb_hits_free(rest, npool - keep);
    free(pool);
    free(f);
    if (!keep) {
        free(kept);
        kept = NULL;
    }
    *out = kept;
    *nout = keep;
}
