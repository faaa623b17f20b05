/* The model prompt (llm/prompt.h). */
#include "llm/prompt.h"

#include "core/buf.h"
#include "core/ms.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

const char ms_llm_system_prompt[] =
    "You are a clinical decision-support assistant answering a clinician. Answer only from the "
    "numbered sources below. After each sentence that uses a source, cite it by its number in "
    "square brackets, for example [1] or [1][3]; cite only numbers that are listed. If the "
    "sources do not answer the question, say so plainly, say what they do cover, and do not "
    "answer from memory. Be concise and precise. Do not make a diagnosis or a treatment decision "
    "for a specific patient: that is the clinician's.";

/* What the system message says when no passage was found (or fits). */
static const char no_sources[] =
    "\n\nSources: none were found for this question in the knowledge base. Say that the "
    "knowledge base does not cover it; do not answer from memory.";

/* Per message: role and framing tokens of the chat format. */
#define MSG_OVERHEAD 4
/* The least of a passage worth keeping when it has to be shortened. */
#define MIN_PASSAGE_TOKENS 64

int64_t ms_llm_approx_tokens(size_t n) {
    return (int64_t)((n + 3) / 4);
}

static int64_t tokens_of(const char *s) {
    return s ? ms_llm_approx_tokens(strlen(s)) : 0;
}

/* Appends at most max bytes of s (cut at a code point, "[...]" marking the
 * cut); returns whether it was cut. */
static int put_cut(ms_buf_t *b, const char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max) {
        ms_buf_append(b, s, n);
        return 0;
    }
    size_t keep = max > 6 ? ms_utf8_floor(s, n, max - 6) : 0;
    while (keep > 0 && s[keep - 1] != ' ' && keep > max / 2)
        keep--; /* at a word, when one is near */
    ms_buf_append(b, s, keep);
    ms_buf_puts(b, " [...]");
    return 1;
}

/* "[n] Gout - Symptoms (MedlinePlus)" then the text, within max bytes. */
static size_t put_passage(ms_buf_t *b, size_t n, const ms_kb_hit_t *h, size_t max) {
    size_t start = b->len;
    ms_buf_printf(b, "[%zu] ", n);
    const char *name = h->focus && *h->focus ? h->focus : h->title ? h->title : "";
    size_t nlen = strcspn(name, ";");
    ms_buf_append(b, name, nlen);
    if (h->qtype && *h->qtype)
        ms_buf_printf(b, " - %s", h->qtype);
    if (h->source && *h->source)
        ms_buf_printf(b, " (%s)", h->source);
    ms_buf_putc(b, '\n');
    size_t head = b->len - start;
    put_cut(b, h->text ? h->text : "", max > head ? max - head : 0);
    ms_buf_puts(b, "\n\n");
    return b->len - start;
}

/* An earlier answer as history: without the disclaimer at its end and
 * without its markers (their numbers named that turn's passages). */
static char *history_text(const char *role, const char *text, const char *suffix) {
    size_t n = strlen(text);
    if (suffix && *suffix && !strcmp(role, "assistant")) {
        size_t sl = strlen(suffix);
        if (n >= sl && !memcmp(text + n - sl, suffix, sl)) {
            n -= sl;
            while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
                n--;
        }
    }
    ms_buf_t b;
    ms_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '[' && !strcmp(role, "assistant")) {
            size_t j = i + 1;
            while (j < n && text[j] >= '0' && text[j] <= '9')
                j++;
            if (j < n && text[j] == ']' && j > i + 1) {
                while (b.len > 0 && b.data[b.len - 1] == ' ')
                    b.len--;
                i = j;
                continue;
            }
        }
        ms_buf_putc(&b, text[i]);
    }
    return b.len ? ms_buf_take(&b) : ms_xstrdup("");
}

static void add_msg(ms_llm_prompt_t *p, const char *role, char *content) {
    p->msgs = ms_xrealloc(p->msgs, (p->nmsgs + 1) * sizeof *p->msgs);
    p->msgs[p->nmsgs].role = role;
    p->msgs[p->nmsgs].content = content;
    p->nmsgs++;
}

/* The recent turns, newest first, within budget tokens: how many of the
 * last ones fit, and their texts (history[i] for the last `kept`). */
static size_t fit_history(const ms_llm_prompt_in_t *in, int64_t budget, char **texts,
                          int64_t *used) {
    size_t kept = 0;
    *used = 0;
    for (size_t i = in->nhistory; i-- > 0;) {
        const char *role = in->history_roles[i] ? in->history_roles[i] : "user";
        char *t =
            history_text(role, in->history_texts[i] ? in->history_texts[i] : "", in->strip_suffix);
        int64_t cost = tokens_of(t) + MSG_OVERHEAD;
        if (*used + cost > budget) {
            free(t);
            break;
        }
        texts[i] = t;
        *used += cost;
        kept++;
    }
    return kept;
}

int ms_llm_prompt_build(const ms_llm_prompt_in_t *in, ms_llm_prompt_t *out) {
    memset(out, 0, sizeof *out);
    const char *sys =
        in->system_prompt && *in->system_prompt ? in->system_prompt : ms_llm_system_prompt;
    /* Always in: the instructions, the question, and room for the notice
     * that no source was found (so the prompt fits whatever is found). */
    int64_t fixed = tokens_of(sys) + tokens_of(in->question) + tokens_of(no_sources) +
                    (int64_t)2 * MSG_OVERHEAD + 8 /* rounding */;
    if (in->max_prompt_tokens <= 0 || fixed > in->max_prompt_tokens)
        return MS_ETOOBIG;
    int64_t left = in->max_prompt_tokens - fixed;

    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_puts(&b, sys);
    if (in->context && *in->context) {
        ms_buf_puts(&b, "\n\nClinical context of this conversation:\n");
        size_t max = (size_t)(left / 3) * 4;
        out->context_cut = put_cut(&b, in->context, max);
        left -= ms_llm_approx_tokens(b.len) - tokens_of(sys);
    }
    int64_t reserve = in->max_history_tokens < left / 4 ? in->max_history_tokens : left / 4;
    if (reserve < 0)
        reserve = 0;
    int64_t for_passages = left - reserve;
    size_t before = b.len;
    if (in->nhits) {
        ms_buf_puts(&b, "\n\nSources:\n\n");
        for (size_t i = 0; i < in->nhits; i++) {
            int64_t room = for_passages - ms_llm_approx_tokens(b.len - before);
            if (room < MIN_PASSAGE_TOKENS)
                break;
            put_passage(&b, i + 1, &in->hits[i], (size_t)room * 4);
            out->npassages++;
        }
    }
    if (!out->npassages) {
        b.len = before;
        ms_buf_puts(&b, no_sources);
    }
    while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
        b.len--;
    int64_t sys_tokens = ms_llm_approx_tokens(b.len) + MSG_OVERHEAD;
    add_msg(out, "system", ms_buf_take(&b));

    int64_t hist_budget =
        in->max_prompt_tokens - sys_tokens - tokens_of(in->question) - MSG_OVERHEAD;
    if (hist_budget > in->max_history_tokens)
        hist_budget = in->max_history_tokens;
    char **texts = ms_xcalloc(in->nhistory ? in->nhistory : 1, sizeof *texts);
    int64_t used = 0;
    size_t kept = in->nhistory ? fit_history(in, hist_budget, texts, &used) : 0;
    for (size_t i = in->nhistory - kept; i < in->nhistory; i++) {
        const char *role = in->history_roles[i] && !strcmp(in->history_roles[i], "assistant")
                               ? "assistant"
                               : "user";
        add_msg(out, role, texts[i]);
    }
    free(texts);
    out->nhistory = kept;
    add_msg(out, "user", ms_xstrdup(in->question ? in->question : ""));
    out->tokens = sys_tokens + used + tokens_of(in->question) + MSG_OVERHEAD;
    return 0;
}

void ms_llm_prompt_free(ms_llm_prompt_t *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->nmsgs; i++)
        free(p->msgs[i].content);
    free(p->msgs);
    memset(p, 0, sizeof *p);
}
