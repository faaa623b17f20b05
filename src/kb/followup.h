/* The follow-up detector shared by retrieval (chat's search query) and the
 * offline answerer (its query terms): whether a question leans on earlier
 * turns of the conversation, and what it leans on. Pure text analysis over
 * the question and the recent turns: no database, safe on the loop thread. */
#ifndef MS_KB_FOLLOWUP_H
#define MS_KB_FOLLOWUP_H

#include <stddef.h>

/** How a question relates to the conversation before it. */
typedef enum {
    MS_KB_STANDALONE = 0, /**< names its own topic */
    MS_KB_SAME_TOPIC,     /**< "How is it treated?", "What are the complications?",
                               "Is the condition inherited?": the conversation's focus */
    MS_KB_SAME_ASPECT,    /**< "What about in children?", "And for gout?": the earlier
                               question's aspect, and its focus */
} ms_kb_followup_kind_t;

/** What ms_kb_followup found. context is malloc'd (ms_kb_followup_clear). */
typedef struct {
    ms_kb_followup_kind_t kind;
    /** The words the question leaves out, from the earlier user turns: the
     * conversation's focus (the topic words of the last user question that
     * named one, followed back through the follow-ups since), plus for
     * MS_KB_SAME_ASPECT the aspect words ("symptoms") of the question
     * before. Space-separated, at most MS_KB_FOLLOWUP_WORDS words; NULL
     * when kind is MS_KB_STANDALONE. */
    char *context;
} ms_kb_followup_t;

/** Most words a context holds. */
#define MS_KB_FOLLOWUP_WORDS 12

/** Decides whether question is a follow-up of the conversation whose recent
 * turns are given oldest first (roles "user" | "assistant"; only user turns
 * are read: an answer's wording is the knowledge base's, not the user's
 * focus). A follow-up refers back ("it", "they", "this", "the condition",
 * "the disease", ...), opens with "and", "what about", "how about", "what
 * else", or names no topic of its own ("What are the complications?"); a
 * reference counts only in a short question (at most 4 topic words of its
 * own), since a long one that says "it" names its topic too. The focus is
 * resolved turn by turn over every user turn given, so a run of follow-ups
 * keeps the topic of the question that started it. A question identical to
 * the last user turn (the history may already hold it) is not its own
 * context. Returns 0 (out zeroed and filled) or MS_EINVAL. */
int ms_kb_followup(const char *question, const char *const *roles, const char *const *texts,
                   size_t n, ms_kb_followup_t *out);

/** Frees out->context; NULL-safe. */
void ms_kb_followup_clear(ms_kb_followup_t *out);

/** The search query for question: question itself, or "question context"
 * for a follow-up. malloc'd; never NULL. */
char *ms_kb_followup_query(const char *question, const char *const *roles, const char *const *texts,
                           size_t n);

#endif
