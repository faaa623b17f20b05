/* libFuzzer target: the offline answerer (ms_offline_compose) and the text
 * utilities it is built from, on a client's question (and previous turn)
 * and on passages as an importer stored them.
 *
 * Input:
 *   "@<previous user turn>\n" (optional; makes the question a follow-up)
 *   "<question>\n"
 *   then passages separated by lines "%%": each "<title>\n<text>".
 *
 * Properties: ms_llm_split_sentences returns ordered, disjoint, trimmed,
 * non-empty spans inside the text; ms_llm_terms gives NUL-terminated terms
 * of at most MS_LLM_MAX_TERM bytes; the answer exists, is UTF-8 whenever
 * the passages are (it is streamed to clients as text frames), cites only
 * passages it was given, each once, and its markers [k] name only cited
 * passages; MS_ENOENT comes with no citation. */
#include "fuzz_util.h"

#include "core/ms.h"
#include "llm/llm_int.h"
#include "llm/provider.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HITS 12

static void term_cb(void *ctx, const char *term, size_t len) {
    (void)ctx;
    FZ_ASSERT(strlen(term) == len, "term length %zu, strlen %zu", len, strlen(term));
    FZ_ASSERT(len >= 1 && len <= MS_LLM_MAX_TERM, "term of %zu bytes", len);
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void check_spans(const char *text, size_t len) {
    ms_llm_span_t *sp = NULL;
    size_t n = 0;
    FZ_ASSERT(ms_llm_split_sentences(text, len, &sp, &n) == 0, "split failed");
    size_t end = 0;
    for (size_t i = 0; i < n; i++) {
        FZ_ASSERT(sp[i].len > 0, "empty span %zu", i);
        FZ_ASSERT(sp[i].off >= end && sp[i].off + sp[i].len <= len,
                  "span %zu [%zu, +%zu) overlaps or leaves the text (%zu bytes)", i, sp[i].off,
                  sp[i].len, len);
        FZ_ASSERT(!is_space(text[sp[i].off]) && !is_space(text[sp[i].off + sp[i].len - 1]),
                  "span %zu not trimmed", i);
        FZ_ASSERT(sp[i].kind <= MS_LLM_SPAN_ITEM_MORE, "span kind %d", (int)sp[i].kind);
        end = sp[i].off + sp[i].len;
    }
    free(sp);
}

/* Every "[k]" in the answer names a cited passage (1..ncited), and every
 * cited passage is named. Only meaningful when no passage holds a '[' of
 * its own (the caller checks). */
static void check_markers(const char *a, size_t ncited) {
    int seen[MAX_HITS + 1] = {0};
    for (const char *p = strchr(a, '['); p; p = strchr(p + 1, '[')) {
        char *end;
        if (!isdigit((unsigned char)p[1]))
            continue;
        long k = strtol(p + 1, &end, 10);
        if (*end != ']')
            continue;
        FZ_ASSERT(k >= 1 && (size_t)k <= ncited, "marker [%ld] with %zu citations: %s", k, ncited,
                  a);
        seen[k] = 1;
    }
    for (size_t k = 1; k <= ncited; k++)
        FZ_ASSERT(seen[k], "citation %zu has no marker: %s", k, a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memchr(data, '\0', size))
        return 0; /* every input here is a C string */
    char *prev;
    const uint8_t *rest;
    size_t rlen;
    fz_split_head(data, size, &prev, &rest, &rlen);
    char *all = fz_strndup(rest, rlen);
    char *nl = strchr(all, '\n');
    char *question = all;
    char *body = nl ? nl + 1 : all + strlen(all);
    if (nl)
        *nl = '\0';
    ms_kb_hit_t hits[MAX_HITS];
    memset(hits, 0, sizeof hits);
    char ids[MAX_HITS][8];
    size_t nhits = 0;
    int passages_utf8 = 1, brackets = strchr(question, '[') != NULL;
    while (*body && nhits < MAX_HITS) {
        char *sep = strstr(body, "\n%%\n");
        if (sep)
            *sep = '\0';
        char *tl = strchr(body, '\n');
        ms_kb_hit_t *h = &hits[nhits];
        snprintf(ids[nhits], sizeof ids[nhits], "P%zu", nhits);
        h->id = ids[nhits];
        h->score = 2.0 - 0.1 * (double)nhits;
        h->source = "GHR";
        h->source_type = "medquad";
        h->title = body;
        h->text = tl ? tl + 1 : "";
        if (tl)
            *tl = '\0';
        passages_utf8 &=
            fz_utf8_valid(h->text, strlen(h->text)) && fz_utf8_valid(h->title, strlen(h->title));
        brackets |= strchr(h->text, '[') || strchr(h->title, '[');
        check_spans(h->text, strlen(h->text));
        nhits++;
        body = sep ? sep + 4 : body + strlen(body);
    }
    ms_llm_terms(question, strlen(question), term_cb, NULL);
    const char *roles[] = {"user", "assistant"};
    const char *texts[] = {prev ? prev : "", "Earlier answer [1]."};
    ms_gen_request_t req = {.question = question,
                            .history_roles = roles,
                            .history_texts = texts,
                            .nhistory = prev ? 2 : 0,
                            .hits = hits,
                            .nhits = nhits};
    ms_offline_config_t cfg = {.word_interval_ms = 0, .min_score = 0.5, .max_sentences = 5};
    char *answer = NULL;
    size_t *cited = NULL, ncited = 0;
    int rc = ms_offline_compose(&cfg, &req, &answer, &cited, &ncited);
    FZ_ASSERT(rc == 0 || rc == MS_ENOENT, "compose returned %d", rc);
    FZ_ASSERT(answer != NULL, "no answer");
    if (rc == MS_ENOENT)
        FZ_ASSERT(ncited == 0, "nothing found, yet %zu citations", ncited);
    if (passages_utf8)
        FZ_ASSERT(fz_utf8_valid(answer, strlen(answer)), "answer not UTF-8: %s", answer);
    for (size_t i = 0; i < ncited; i++) {
        FZ_ASSERT(cited[i] < nhits, "cites passage %zu of %zu", cited[i], nhits);
        for (size_t j = 0; j < i; j++)
            FZ_ASSERT(cited[i] != cited[j], "passage %zu cited twice", cited[i]);
    }
    if (!brackets)
        check_markers(answer, ncited);
    free(answer);
    free(cited);
    free(all);
    free(prev);
    return 0;
}
