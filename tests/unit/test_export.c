/* Unit tests of src/export: the Markdown writer's structure and escaping,
 * the PDF writer's pages and limits, and the shared model (sources,
 * access dates, tool summaries). The PDF's text is read back with poppler
 * in tests/e2e/test_export.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/ms.h"
#include "export/export.h"

#include <stdlib.h>
#include <string.h>

static json_t *conversation(void) {
    return json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", "01a2f0f0-0000-7000-8000-000000000001",
                     "title", "Gout | follow-up", "created_at", "2026-03-04T05:06:07.089Z",
                     "updated_at", "2026-03-04T06:00:00.000Z", "message_count", 2);
}

static json_t *messages(void) {
    json_t *cite = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "index", 1,
        "source_id", "10808977", "source_type", "pubmed", "title", "A trial.", "url",
        "https://pubmed.ncbi.nlm.nih.gov/10808977/", "journal", "Journal of tests", "authors",
        "Rivera, Ana M", "volume", "18", "issue", "4", "pages", "284-7", "publication_date",
        "2000-05-09", "pmid", "10808977", "doi", json_null(), "context", json_object());
    return json_pack("[{s:s, s:s, s:s, s:s, s:s, s:[]}, {s:s, s:s, s:s, s:s, s:s, s:[o]}]", "id",
                     "u1", "role", "user", "content", "Is ```code``` | safe?", "status", "complete",
                     "created_at", "2026-03-04T05:06:07.089Z", "citations", "id", "a1", "role",
                     "assistant", "content",
                     "Counseling helped [1].\n\n- a list item\n\nMedical disclaimer: D.", "status",
                     "cancelled", "created_at", "2026-03-04T05:06:08.000Z", "citations", cite);
}

static json_t *tools(void) {
    return json_pack("{s:[{s:s, s:s, s:{s:s, s:i}, s:{s:f, s:{s:i, s:[{s:s, s:s, s:f}]}}}]}", "a1",
                     "tool_call_id", "t1", "name", "kb_search", "arguments", "query",
                     "Is counseling useful?", "k", 5, "result", "duration_ms", 1.25, "result",
                     "count", 1, "top", "id", "10808977", "title", "A trial.", "score", 1.5);
}

static void test_markdown(void **state) {
    (void)state;
    json_t *c = conversation(), *m = messages(), *t = tools();
    ms_export_doc_t d = {.conversation = c,
                         .messages = m,
                         .tools = t,
                         .user_email = "ana@example.org",
                         .disclaimer = "Medical disclaimer: D.",
                         .style = MS_CITE_VANCOUVER,
                         .exported_at_ms = 1772600000000};
    ms_buf_t b;
    ms_buf_init(&b);
    assert_int_equal(ms_export_markdown(&d, &b), 0);
    const char *s = ms_buf_cstr(&b);
    /* A heading and table cells with '|' escaped. */
    assert_non_null(strstr(s, "# Gout \\| follow-up\n"));
    assert_non_null(strstr(s, "| User | ana@example.org |\n"));
    assert_non_null(strstr(s, "| Created | 2026-03-04 05:06:07 UTC |\n"));
    assert_non_null(strstr(s, "| Messages | 2 |\n"));
    assert_non_null(strstr(s, "| Citation style | Vancouver (ICMJE/NLM) |\n"));
    /* The question quoted as typed; the answer's status when not complete. */
    assert_non_null(strstr(s, "### 1. User \xe2\x80\x94 2026-03-04 05:06:07 UTC\n\n> Is "));
    assert_non_null(strstr(s, "### 2. Assistant \xe2\x80\x94 2026-03-04 05:06:08 UTC (cancelled)"));
    /* The tool call, its arguments and result as JSON, the summary. */
    assert_non_null(strstr(s, "**Tool call:** `kb_search` (query: Is counseling useful?)"));
    assert_non_null(strstr(s, "**Result:** 1 passage found in 1.2 ms: A trial. (10808977, "
                              "score 1.50)"));
    assert_non_null(strstr(s, "```json\n{\n  \"duration_ms\": 1.25,"));
    /* The reference numbered as the marker, dated by the answer. */
    assert_non_null(strstr(s, "**References** (Vancouver (ICMJE/NLM))\n\n1. Rivera AM. A trial. "
                              "Journal of tests. 2000 May 9;18(4):284-7.\n"));
    assert_non_null(strstr(s, "## Bibliography\n\nVancouver (ICMJE/NLM), 1 source.\n\n1. Rivera"));
    assert_non_null(strstr(s, "## Disclaimer\n\nMedical disclaimer: D.\n"));
    ms_buf_free(&b);
    json_decref(c);
    json_decref(m);
    json_decref(t);
}

static void test_model(void **state) {
    (void)state;
    json_t *m = messages();
    json_t *cits = ms_export_citations(json_array_get(m, 1));
    json_t *ctx = json_object_get(json_array_get(cits, 0), "context");
    assert_string_equal(json_string_value(json_object_get(ctx, "accessed")), "2026-03-04");
    json_decref(cits);
    /* The same source cited by two answers is one bibliography entry. */
    json_array_append(m, json_array_get(m, 1));
    json_t *src = ms_export_sources(m);
    assert_int_equal(json_array_size(src), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(src, 0), "index")), 1);
    json_decref(src);
    json_decref(m);
    ms_buf_t b;
    ms_buf_init(&b);
    ms_export_short("alpha beta gamma delta", 12, &b);
    assert_string_equal(ms_buf_cstr(&b), "alpha beta\xe2\x80\xa6");
    ms_buf_reset(&b);
    ms_export_short("short", 12, &b);
    assert_string_equal(ms_buf_cstr(&b), "short");
    ms_buf_reset(&b);
    json_t *failed = json_pack("{s:{s:s}}", "result", "error", "overloaded");
    ms_export_tool_summary(failed, &b);
    assert_string_equal(ms_buf_cstr(&b), "failed: overloaded");
    json_decref(failed);
    ms_buf_free(&b);
    char t[40];
    ms_export_time("2026-03-04T05:06:07.089Z", t, sizeof t);
    assert_string_equal(t, "2026-03-04 05:06:07 UTC");
}

static void test_pdf_pages_and_limit(void **state) {
    (void)state;
    json_t *c = conversation(), *m = messages(), *t = tools();
    ms_export_doc_t d = {.conversation = c,
                         .messages = m,
                         .tools = t,
                         .user_email = "\xce\x95\xce\xbb\xce\xad\xce\xbd\xce\xb7@example.org",
                         .disclaimer = "Medical disclaimer: D.",
                         .style = MS_CITE_APA,
                         .exported_at_ms = 1772600000000,
                         .max_pages = 100};
    char *pdf = NULL;
    size_t len = 0;
    int pages = 0;
    assert_int_equal(ms_export_pdf(&d, &pdf, &len, &pages), 0);
    assert_int_equal(pages, 1);
    assert_true(len > 1000 && !memcmp(pdf, "%PDF-1.", 7));
    assert_non_null(memmem(pdf, len, "%%EOF", 5));
    free(pdf);
    /* A long message flows onto more pages; past max_pages it is refused. */
    ms_buf_t big;
    ms_buf_init(&big);
    for (int i = 0; i < 3000; i++)
        ms_buf_puts(&big, "flowing text ");
    json_object_set_new(json_array_get(m, 0), "content", json_string(big.data));
    assert_int_equal(ms_export_pdf(&d, &pdf, &len, &pages), 0);
    assert_true(pages >= 3);
    free(pdf);
    d.max_pages = 2;
    assert_int_equal(ms_export_pdf(&d, &pdf, &len, &pages), MS_ETOOBIG);
    assert_null(pdf);
    json_t *notarray = json_object();
    d.messages = notarray;
    assert_int_equal(ms_export_pdf(&d, &pdf, &len, &pages), MS_EINVAL);
    ms_buf_t b;
    ms_buf_init(&b);
    assert_int_equal(ms_export_markdown(&d, &b), MS_EINVAL);
    ms_buf_free(&b);
    json_decref(notarray);
    ms_buf_free(&big);
    json_decref(c);
    json_decref(m);
    json_decref(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_pdf_pages_and_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
