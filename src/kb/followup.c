/* The follow-up detector (followup.h): one implementation for the search
 * query (src/chat) and the offline answerer's query terms (src/llm).
 *
 * A question's words fall into four classes: stop-words, aspect words (the
 * question-type cues of words.c: "symptoms", "treated", "inherited"),
 * references ("it", "this", "the condition") and topic words (the rest:
 * "acromegaly", "children"). The conversation's focus is carried from turn
 * to turn: a question that names its topic sets it, a follow-up keeps it. */
#include "kb/followup.h"
#include "kb/words.h"

#include "core/buf.h"
#include "core/ms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FU_WORDS 128 /* words of a turn looked at */
#define FU_REF_TOPIC_MAX 4

/* Pronouns that stand for the topic of an earlier turn. */
static const char *const refs[] = {"it",   "its",  "itself", "this",  "that",
                                   "they", "them", "their",  "these", "those"};

/* Nouns that, after a determiner, refer back to the condition or medicine
 * named earlier ("the condition", "this disease", "that medicine"). */
static const char *const ref_nouns[] = {
    "condition", "conditions", "disease",    "diseases",    "disorder", "disorders",
    "syndrome",  "illness",    "infection",  "problem",     "drug",     "drugs",
    "medicine",  "medicines",  "medication", "medications", "pill",     "pills"};
static const char *const determiners[] = {"the", "this", "that", "these", "those",
                                          "my",  "his",  "her",  "your",  "their"};

static int in_list(const char *w, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(w, list[i]) == 0)
            return 1;
    return 0;
}

/* A list of distinct words, newest kept first, bounded. */
typedef struct {
    char w[MS_KB_FOLLOWUP_WORDS][MS_KB_WORD_MAX];
    size_t n;
} wordset_t;

static void set_add(wordset_t *s, const char *w) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->w[i], w) == 0)
            return;
    if (s->n < MS_KB_FOLLOWUP_WORDS)
        snprintf(s->w[s->n++], MS_KB_WORD_MAX, "%s", w);
}

/* The classes of one question's words. */
typedef struct {
    wordset_t topic, aspect;
    int ref;    /* refers back */
    int opener; /* "and ...", "what about ...", "how about ...", "what else ..." */
} turn_t;

static void analyse(const char *text, turn_t *t) {
    ms_kb_word_t *w = ms_xmalloc(FU_WORDS * sizeof *w);
    uint32_t marks[FU_WORDS];
    size_t n = ms_kb_words(text, strlen(text), w, FU_WORDS);
    memset(t, 0, sizeof *t);
    ms_kb_qtype_detect(w, n, marks);
    if (n > 0 && (strcmp(w[0].w, "and") == 0 || strcmp(w[0].w, "also") == 0))
        t->opener = 1;
    if (n > 1 && (strcmp(w[0].w, "what") == 0 || strcmp(w[0].w, "how") == 0) &&
        (strcmp(w[1].w, "about") == 0 || strcmp(w[1].w, "else") == 0))
        t->opener = 1;
    for (size_t i = 0; i < n; i++) {
        const char *x = w[i].w;
        if (in_list(x, refs, MS_COUNTOF(refs))) {
            t->ref = 1;
            continue;
        }
        if (i > 0 && in_list(x, ref_nouns, MS_COUNTOF(ref_nouns)) &&
            in_list(w[i - 1].w, determiners, MS_COUNTOF(determiners))) {
            t->ref = 1;
            continue;
        }
        if (marks[i] & ~(uint32_t)MS_KB_QT_INFORMATION) {
            set_add(&t->aspect, x);
            continue;
        }
        if (marks[i] || ms_kb_is_stopword(x, strlen(x)))
            continue;
        set_add(&t->topic, x);
    }
    free(w);
}

/* How a turn relates to a conversation that has a focus. */
static ms_kb_followup_kind_t kind_of(const turn_t *t) {
    if (t->opener)
        return t->topic.n > 0 && t->aspect.n == 0 ? MS_KB_SAME_ASPECT : MS_KB_SAME_TOPIC;
    if (t->ref && t->topic.n <= FU_REF_TOPIC_MAX)
        return MS_KB_SAME_TOPIC;
    if (t->topic.n == 0)
        return MS_KB_SAME_TOPIC;
    return MS_KB_STANDALONE;
}

/* Words of a first, then of b, distinct, bounded. */
static void set_merge(wordset_t *out, const wordset_t *a, const wordset_t *b) {
    wordset_t m = {0};
    for (size_t i = 0; i < a->n; i++)
        set_add(&m, a->w[i]);
    for (size_t i = 0; i < b->n; i++)
        set_add(&m, b->w[i]);
    *out = m;
}

int ms_kb_followup(const char *question, const char *const *roles, const char *const *texts,
                   size_t n, ms_kb_followup_t *out) {
    if (!out)
        return MS_EINVAL;
    memset(out, 0, sizeof *out);
    if (!question || (n > 0 && (!roles || !texts)))
        return MS_EINVAL;
    /* The last user turn may be the question itself. */
    size_t end = n;
    for (size_t i = n; i-- > 0;) {
        if (roles[i] && texts[i] && strcmp(roles[i], "user") == 0) {
            if (strcmp(texts[i], question) == 0)
                end = i;
            break;
        }
    }
    turn_t *t = ms_xmalloc(sizeof *t);
    wordset_t *focus = ms_xcalloc(1, sizeof *focus), *aspect = ms_xcalloc(1, sizeof *aspect);
    for (size_t i = 0; i < end; i++) {
        if (!roles[i] || !texts[i] || strcmp(roles[i], "user") != 0)
            continue;
        analyse(texts[i], t);
        ms_kb_followup_kind_t k = focus->n ? kind_of(t) : MS_KB_STANDALONE;
        if (k == MS_KB_STANDALONE && t->topic.n)
            *focus = t->topic;
        else if (k == MS_KB_SAME_ASPECT)
            set_merge(focus, &t->topic, focus);
        if (t->aspect.n)
            *aspect = t->aspect;
    }
    analyse(question, t);
    out->kind = focus->n ? kind_of(t) : MS_KB_STANDALONE;
    if (out->kind != MS_KB_STANDALONE) {
        wordset_t ctx = *focus;
        if (out->kind == MS_KB_SAME_ASPECT)
            set_merge(&ctx, aspect, focus);
        ms_buf_t b;
        ms_buf_init(&b);
        for (size_t i = 0; i < ctx.n; i++) {
            if (b.len)
                ms_buf_putc(&b, ' ');
            ms_buf_puts(&b, ctx.w[i]);
        }
        out->context = ms_buf_take(&b);
    }
    free(t);
    free(focus);
    free(aspect);
    return 0;
}

void ms_kb_followup_clear(ms_kb_followup_t *out) {
    if (!out)
        return;
    free(out->context);
    out->context = NULL;
    out->kind = MS_KB_STANDALONE;
}

char *ms_kb_followup_query(const char *question, const char *const *roles, const char *const *texts,
                           size_t n) {
    ms_kb_followup_t f;
    if (!question)
        return ms_xstrdup("");
    if (ms_kb_followup(question, roles, texts, n, &f) != 0 || !f.context) {
        ms_kb_followup_clear(&f);
        return ms_xstrdup(question);
    }
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_printf(&b, "%s %s", question, f.context);
    ms_kb_followup_clear(&f);
    return ms_buf_take(&b);
}
