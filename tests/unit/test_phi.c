/* The PHI detector (phi/phi.h): what it must find, what it must leave
 * alone (clinical terms, years, ages under 90), the verdicts, redaction and
 * the streaming restorer at every split point; and the phi stage of the
 * turn (chat/stage_phi.c) through the turn fields it sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_util.h"

#include "chat/chat.h"
#include "chat/internal.h"
#include "chat/work.h"
#include "core/buf.h"
#include "phi/phi.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------ */

/* The span of type covering the first occurrence of needle in text, or NULL. */
static const ms_phi_span_t *span_over(const ms_phi_result_t *r, const char *text,
                                      const char *needle) {
    const char *p = strstr(text, needle);
    assert_non_null(p);
    size_t a = (size_t)(p - text), b = a + strlen(needle);
    for (size_t i = 0; i < r->nspans; i++)
        if (r->spans[i].start < b && a < r->spans[i].end)
            return &r->spans[i];
    return NULL;
}

static void expect_type(const char *text, const char *needle, ms_phi_type_t type) {
    ms_phi_result_t r;
    ms_phi_detect(text, strlen(text), &r);
    const ms_phi_span_t *s = span_over(&r, text, needle);
    if (!s) {
        fail_msg("\"%s\" in \"%s\": want %s, got nothing", needle, text, ms_phi_type_name(type));
        return;
    }
    if (s->type != type)
        fail_msg("\"%s\" in \"%s\": want %s, got %s", needle, text, ms_phi_type_name(type),
                 ms_phi_type_name(s->type));
    assert_true(s->confidence >= MS_PHI_SURE);
    ms_phi_result_free(&r);
}

static void expect_none_over(const char *text, const char *needle) {
    ms_phi_result_t r;
    ms_phi_detect(text, strlen(text), &r);
    const ms_phi_span_t *s = span_over(&r, text, needle);
    if (s)
        fail_msg("\"%s\" in \"%s\" taken as %s (%.2f)", needle, text, ms_phi_type_name(s->type),
                 s->confidence);
    ms_phi_result_free(&r);
}

static ms_phi_verdict_t verdict_of(const char *text) {
    ms_phi_result_t r;
    ms_phi_detect(text, strlen(text), &r);
    ms_phi_verdict_t v = r.verdict;
    ms_phi_result_free(&r);
    return v;
}

/* ---- detection ---------------------------------------------------------------- */

static void test_structured_identifiers(void **state) {
    (void)state;
    expect_type("Follow-up for pt (MRN: #SF-998877) next week.", "SF-998877",
                MS_PHI_MEDICAL_RECORD_NUMBER);
    expect_type("MRN 123-45-6789 on file", "123-45-6789", MS_PHI_MEDICAL_RECORD_NUMBER);
    expect_type("His SSN: 123-45-6789.", "123-45-6789", MS_PHI_SSN);
    expect_type("ref 784-55-2943", "784-55-2943", MS_PHI_SSN); /* the shape names it */
    expect_type("call 555-123-4567 after 5", "555-123-4567", MS_PHI_PHONE);
    expect_type("phone: (555) 123-4567", "(555) 123-4567", MS_PHI_PHONE);
    expect_type("Fax: 345-899-3560x4587", "345-899-3560", MS_PHI_FAX);
    expect_type("+46 (0)8 928 571 38 fax", "928 571 38", MS_PHI_FAX);
    expect_type("mail sarah.p@medsite.com today", "sarah.p@medsite.com", MS_PHI_EMAIL);
    expect_type("from 86.121.97.248 at night", "86.121.97.248", MS_PHI_IP);
    expect_type("host 2001:db8::8a2e:370:7334 down", "2001:db8::8a2e:370:7334", MS_PHI_IP);
    expect_type("see https://example.org/chart?id=7 now", "https://example.org/chart", MS_PHI_URL);
    expect_type("insurance ID: ABC123", "ABC123", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER);
    expect_type("HICN: B123456789", "B123456789", MS_PHI_HEALTH_PLAN_BENEFICIARY_NUMBER);
    expect_type("driver's license S99998934", "S99998934", MS_PHI_CERTIFICATE_LICENSE);
    expect_type("record 68cd1181-6359-4047-a77f-a165d7912480 here",
                "68cd1181-6359-4047-a77f-a165d7912480", MS_PHI_MEDICAL_RECORD_NUMBER);
}

static void test_checksums(void **state) {
    (void)state;
    /* Luhn-valid card; the same digits with the last one changed are not a
     * card (they are still a long number: an identifier, not an account). */
    expect_type("paid with 4111111111111111 yesterday", "4111111111111111", MS_PHI_ACCOUNT);
    ms_phi_result_t r;
    const char *bad = "paid with 4111111111111112 yesterday";
    ms_phi_detect(bad, strlen(bad), &r);
    const ms_phi_span_t *s = span_over(&r, bad, "4111111111111112");
    assert_non_null(s);
    assert_int_not_equal(s->type, MS_PHI_ACCOUNT);
    ms_phi_result_free(&r);
    expect_type("IBAN GB82WEST12345698765432 please", "GB82WEST12345698765432", MS_PHI_ACCOUNT);
    expect_type("transfer from GB82WEST12345698765432", "GB82WEST12345698765432", MS_PHI_ACCOUNT);
    /* VIN with a valid check digit (49 CFR 565.15): 1M8GDM9AXKP042788 */
    expect_type("car 1M8GDM9AXKP042788 parked", "1M8GDM9AXKP042788", MS_PHI_VEHICLE_IDENTIFIER);
}

static void test_dates_and_ages(void **state) {
    (void)state;
    expect_type("seen on April 12, 2023 at noon", "April 12, 2023", MS_PHI_DATE);
    expect_type("seen Jan 9th '23", "Jan 9th '23", MS_PHI_DATE);
    expect_type("seen 9/14/2020", "9/14/2020", MS_PHI_DATE);
    expect_type("seen 2006-04-07 09:00:27", "2006-04-07", MS_PHI_DATE);
    expect_type("the 3rd of March, 2021", "3rd of March", MS_PHI_DATE);
    expect_type("diagnosed in March 2022", "March 2022", MS_PHI_DATE);
    expect_type("a 92-year-old woman", "92-year-old", MS_PHI_AGE_OVER_89);
    expect_type("aged 95 with CHF", "aged 95", MS_PHI_AGE_OVER_89);
    /* Years alone, ages under 90 and blood pressures are not PHI. */
    expect_none_over("diagnosed in 2021 with CKD", "2021");
    expect_none_over("a 65-year-old man", "65-year-old");
    expect_none_over("BP 120/80 today", "120/80");
    expect_none_over("you may 5 times a day", "may 5");
}

static void test_places(void **state) {
    (void)state;
    expect_type("treated at Methodist Hospital on Monday", "Methodist Hospital",
                MS_PHI_GEOGRAPHIC_LOCATION);
    expect_type("lives in Atlanta, GA with his wife", "Atlanta, GA", MS_PHI_GEOGRAPHIC_LOCATION);
    expect_type("lives at 1234 Elm St, Boston", "1234 Elm St", MS_PHI_GEOGRAPHIC_LOCATION);
    expect_type("Easton, Massachusetts 02334", "02334", MS_PHI_GEOGRAPHIC_LOCATION);
    expect_type("seen at UCSF last year", "UCSF", MS_PHI_GEOGRAPHIC_LOCATION);
    expect_type("visited our New York clinic", "New York clinic", MS_PHI_GEOGRAPHIC_LOCATION);
    expect_none_over("moved here from Texas", "Texas"); /* a state: not PHI */
    expect_none_over("admitted to the ICU at night", "ICU");
}

static void test_names_and_clinical_terms(void **state) {
    (void)state;
    expect_type("a 34-year-old woman like Anna S., seen", "Anna S.", MS_PHI_NAME);
    expect_type("referred by Dr. Graves for tremor", "Graves", MS_PHI_NAME);
    expect_type("patients like John Smith respond", "John Smith", MS_PHI_NAME);
    expect_type("a 60-year-old male with COPD, Robert Brown, who", "Robert Brown", MS_PHI_NAME);
    expect_type("seen by Mrs. Labrie today", "Labrie", MS_PHI_NAME);
    /* Philter's point: eponyms in disease names are not people. */
    expect_none_over("history of Parkinson's disease and tremor", "Parkinson");
    expect_none_over("treated for Graves' disease last year", "Graves");
    expect_none_over("a high Wells score and a D-dimer", "Wells");
    expect_none_over("with Stevens-Johnson syndrome after lamotrigine", "Stevens");
    expect_none_over("with a positive Chaddock reflex", "Chaddock");
    expect_none_over("based on Framingham Heart Study findings", "Framingham");
    expect_none_over("Is Jardiance safe with Lisinopril?", "Jardiance");
    expect_none_over("Is Jardiance safe with Lisinopril?", "Lisinopril");
    /* A name found once is found again. */
    const char *t = "Faina D. Yefremova wrote it; early Yefremova is best.";
    ms_phi_result_t r;
    ms_phi_detect(t, strlen(t), &r);
    const char *second = strstr(strstr(t, "Yefremova") + 1, "Yefremova");
    const ms_phi_span_t *s = span_over(&r, second, "Yefremova");
    (void)s;
    int found = 0;
    size_t at = (size_t)(second - t);
    for (size_t i = 0; i < r.nspans; i++)
        found |= r.spans[i].start <= at && at < r.spans[i].end && r.spans[i].type == MS_PHI_NAME;
    assert_true(found);
    ms_phi_result_free(&r);
}

static void test_verdicts(void **state) {
    (void)state;
    assert_int_equal(verdict_of("Guidelines for a 67-year-old with CKD diagnosed in 2021?"),
                     MS_PHI_NONE);
    assert_int_equal(verdict_of("What is the first-line therapy for Crohn's disease?"),
                     MS_PHI_NONE);
    assert_int_equal(verdict_of("pt MRN 22334455 needs a statin"), MS_PHI_FOUND);
    /* Five digits without a keyword or a unit, a week: not known either way. */
    assert_int_equal(verdict_of("lab result 48213 came back"), MS_PHI_UNSURE);
    assert_int_equal(verdict_of("she had the biopsy last week"), MS_PHI_UNSURE);
    assert_int_equal(verdict_of(""), MS_PHI_NONE);
    /* Too long to examine whole: not known to be free of PHI. */
    size_t big = MS_PHI_MAX_INPUT + 10;
    char *s = malloc(big);
    memset(s, 'a', big);
    ms_phi_result_t r;
    ms_phi_detect(s, big, &r);
    assert_int_equal(r.verdict, MS_PHI_UNSURE);
    ms_phi_result_free(&r);
    free(s);
}

static void test_spans_keep_code_points_whole(void **state) {
    (void)state;
    const char *t = "Ünïcödé “Dr. Kyle Kuefer” — née à Zürich; tél. +33 1 23 45 67 89 ✓";
    ms_phi_result_t r;
    ms_phi_detect(t, strlen(t), &r);
    assert_true(r.nspans >= 2);
    for (size_t i = 0; i < r.nspans; i++) {
        assert_true(r.spans[i].start < r.spans[i].end);
        assert_true(r.spans[i].end <= strlen(t));
        assert_int_not_equal((unsigned char)t[r.spans[i].start] & 0xC0, 0x80);
        if (r.spans[i].end < strlen(t))
            assert_int_not_equal((unsigned char)t[r.spans[i].end] & 0xC0, 0x80);
        if (i)
            assert_true(r.spans[i - 1].end <= r.spans[i].start); /* sorted, disjoint */
    }
    ms_phi_result_free(&r);
}

static void test_type_names(void **state) {
    (void)state;
    for (int i = 0; i < MS_PHI_NTYPES; i++)
        assert_int_equal(ms_phi_type_parse(ms_phi_type_name((ms_phi_type_t)i)), i);
    assert_int_equal(ms_phi_type_parse("PHONE_NUMBER"), MS_PHI_PHONE);
    assert_int_equal(ms_phi_type_parse("SOCIAL_SECURITY_NUMBER"), MS_PHI_SSN);
    assert_int_equal(ms_phi_type_parse("nope"), -1);
    assert_int_equal(ms_phi_type_parse(NULL), -1);
}

/* Odd inputs end, and give well-formed spans (the fuzz target does this at scale). */
static void test_hostile_inputs(void **state) {
    (void)state;
    static const char *pieces[] = {"a",   "@",      "1-",   "12 ",  "Aa ",      "Dr. ",
                                   "A. ", "May 1 ", "MRN ", "\xff", "\xe2\x80", "[NAME_1",
                                   ":",   "ab:",    "#",    "\n"};
    char buf[8001];
    for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        size_t n = 0, k = strlen(pieces[p]);
        while (n + k < sizeof buf - 1) {
            memcpy(buf + n, pieces[p], k);
            n += k;
        }
        ms_phi_result_t r;
        ms_phi_detect(buf, n, &r);
        for (size_t i = 0; i < r.nspans; i++)
            assert_true(r.spans[i].start < r.spans[i].end && r.spans[i].end <= n);
        ms_phi_result_free(&r);
    }
    ms_phi_result_t r;
    ms_phi_detect(NULL, 0, &r);
    assert_int_equal(r.nspans, 0);
    ms_phi_detect("a\0b 555-123-4567", 16, &r); /* NUL bytes are text */
    assert_int_equal(r.verdict, MS_PHI_FOUND);
    ms_phi_result_free(&r);
}

/* ---- redaction and the restorer --------------------------------------------- */

static void test_redact_consistent_placeholders(void **state) {
    (void)state;
    ms_phi_map_t *m = ms_phi_map_new();
    const char *q = "Mary Johnson, MRN 22334455, seen 3/4/2023. Is Mary Johnson on a statin?";
    char *out;
    size_t n;
    ms_phi_verdict_t v;
    ms_phi_redact_text(m, q, strlen(q), &out, &n, &v);
    assert_int_equal(v, MS_PHI_FOUND);
    assert_string_equal(out, "[NAME_1], MRN [MEDICAL_RECORD_NUMBER_1], seen [DATE_1]. Is "
                             "[NAME_1] on a statin?");
    assert_int_equal(n, strlen(out));
    free(out);
    /* The same map on the history: the same value keeps its placeholder. */
    const char *h = "Earlier: Mary Johnson called from 555-123-4567.";
    ms_phi_redact_text(m, h, strlen(h), &out, NULL, NULL);
    assert_string_equal(out, "Earlier: [NAME_1] called from [PHONE_1].");
    free(out);
    /* Text built later is redacted by the map alone, at word boundaries. */
    const char *p = "Question about Mary Johnson (Mary Johnsonville is not her).";
    ms_phi_map_apply(m, p, strlen(p), &out, &n);
    assert_string_equal(out, "Question about [NAME_1] (Mary Johnsonville is not her).");
    free(out);
    assert_int_equal(ms_phi_map_count(m), 4);
    ms_phi_map_free(m);

    /* A placeholder the user typed is never reused for a value. */
    m = ms_phi_map_new();
    const char *lit = "What does [NAME_1] mean next to Mary Johnson?";
    ms_phi_redact_text(m, lit, strlen(lit), &out, NULL, NULL);
    assert_string_equal(out, "What does [NAME_1] mean next to [NAME_2]?");
    free(out);
    ms_phi_map_free(m);
}

/* The originals back: "[NAME_1] … [DATE_1] …" with brackets that are no
 * placeholder, and a placeholder prefix at the very end. */
static const char *restore_in = "Hello [NAME_1]; [x] [NAME_] [[DATE_1]] ok [NAME_12] "
                                "[MEDICAL_RECORD_NUMBER_1]. [NAME_1][NAME_1] end [NAM";
static const char *restore_out = "Hello Mary Johnson; [x] [NAME_] [3/4/2023] ok [NAME_12] "
                                 "22334455. Mary JohnsonMary Johnson end [NAM";

static ms_phi_map_t *restore_map(void) {
    ms_phi_map_t *m = ms_phi_map_new();
    const char *q = "Mary Johnson, MRN 22334455, seen 3/4/2023.";
    char *out;
    ms_phi_redact_text(m, q, strlen(q), &out, NULL, NULL);
    free(out);
    return m;
}

static void check_pieces(const ms_phi_map_t *m, const size_t *cuts, size_t ncuts) {
    ms_phi_restorer_t *r = ms_phi_restorer_new(m);
    ms_buf_t out;
    ms_buf_init(&out);
    size_t len = strlen(restore_in), at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        ms_phi_restorer_feed(r, restore_in + at, to - at, &out);
        assert_true(ms_phi_restorer_pending(r) <= ms_phi_restorer_holdback(m));
        at = to;
    }
    ms_phi_restorer_flush(r, &out);
    assert_int_equal(ms_phi_restorer_pending(r), 0);
    if (out.len != strlen(restore_out) || memcmp(out.data, restore_out, out.len) != 0)
        fail_msg("cuts at %zu/%zu: got \"%.*s\"", ncuts ? cuts[0] : 0, ncuts > 1 ? cuts[1] : 0,
                 (int)out.len, out.data);
    ms_buf_free(&out);
    ms_phi_restorer_free(r);
}

static void test_restorer_every_split(void **state) {
    (void)state;
    ms_phi_map_t *m = restore_map();
    size_t len = strlen(restore_in);
    check_pieces(m, NULL, 0);
    for (size_t i = 0; i <= len; i++) {
        size_t c1[1] = {i};
        check_pieces(m, c1, 1);
        for (size_t j = i; j <= len; j++) {
            size_t c2[2] = {i, j};
            check_pieces(m, c2, 2);
        }
    }
    /* One byte at a time. */
    size_t *every = malloc((len ? len : 1) * sizeof *every);
    for (size_t i = 0; i < len; i++)
        every[i] = i;
    check_pieces(m, every, len);
    free(every);
    assert_int_equal(ms_phi_restorer_holdback(m), strlen("[MEDICAL_RECORD_NUMBER_1]") - 1);
    ms_phi_map_free(m);
}

static void test_restorer_without_placeholders(void **state) {
    (void)state;
    ms_phi_map_t *m = ms_phi_map_new(); /* empty: nothing is held */
    ms_phi_restorer_t *r = ms_phi_restorer_new(m);
    ms_buf_t out;
    ms_buf_init(&out);
    assert_int_equal(ms_phi_restorer_feed(r, "a [NAME_1] b", 12, &out), 12);
    assert_int_equal(ms_phi_restorer_pending(r), 0);
    assert_string_equal(ms_buf_cstr(&out), "a [NAME_1] b");
    ms_buf_free(&out);
    ms_phi_restorer_free(r);
    ms_phi_map_free(m);
}

/* ---- the phi stage ------------------------------------------------------------ */

static void prov_free(ms_provider_t *p) {
    (void)p;
}

static int never_start(ms_provider_t *p, uv_loop_t *loop, const ms_gen_request_t *req,
                       const ms_gen_sink_t *sink, void *ctx, ms_gen_t **out) {
    (void)p, (void)loop, (void)req, (void)sink, (void)ctx, (void)out;
    fail_msg("generation must not start in the phi stage tests");
    return -1;
}

static const ms_provider_ops_t none_ops = {
    .name = "none", .uses_retrieval = 0, .start = never_start, .free = prov_free};
static ms_provider_t none_provider = {.ops = &none_ops};

typedef struct {
    char dir[64];
    uv_loop_t loop;
    ms_config_t cfg;
    ms_chat_t *chat;
    char user[MS_ID_LEN];
} fx_t;

static struct {
    int ran, detected, unsure, map_entries;
    char categories[256];
    char redacted[512];
} seen;
static int bind_context;

static void ctx_stage(ms_turn_t *t) {
    if (bind_context)
        t->context = json_pack("{s:s}", "patient", "synthetic");
    ms__turn_next(t);
}

static void seen_stage(ms_turn_t *t) {
    seen.ran++;
    seen.detected = t->phi_detected;
    seen.unsure = t->phi_unsure;
    seen.map_entries = t->phi_map ? (int)ms_phi_map_count(t->phi_map) : 0;
    char *c = json_dumps(t->phi_categories, JSON_COMPACT);
    snprintf(seen.categories, sizeof seen.categories, "%s", c ? c : "null");
    free(c);
    seen.redacted[0] = '\0';
    if (t->phi_map) {
        char *out;
        ms_phi_map_apply(t->phi_map, t->question, strlen(t->question), &out, NULL);
        snprintf(seen.redacted, sizeof seen.redacted, "%s", out);
        free(out);
    }
    ms__turn_fail(t, MS_ECANCELED, "stopped by the test");
}

static const ms_stage_ops_t ctx_ops = {.name = "ctx", .run = ctx_stage};
static const ms_stage_ops_t seen_ops = {.name = "seen", .run = seen_stage};
static const ms_stage_ops_t *const chain[] = {&ms_stage_persist, &ctx_ops, &ms_stage_prompt,
                                              &ms_stage_phi, &seen_ops};

static int errors;
static char last_conversation[MS_ID_LEN];
static void rec_cb(void *ctx, const ms_event_t *ev) {
    (void)ctx;
    if (ev->kind == MS_EV_ERROR)
        errors++;
    if (ev->kind == MS_EV_MESSAGE_START)
        snprintf(last_conversation, sizeof last_conversation, "%s", ev->conversation_id);
}

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ms-test-phi-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    ms_store_t *st;
    assert_int_equal(ms_store_open(f->dir, &st), 0);
    ms_user_t u;
    assert_int_equal(ms_store_user_create(st, "a@example.org", "x", "clinician", &u), 0);
    memcpy(f->user, u.id, MS_ID_LEN);
    ms_store_close(st);
    ms_work_init(f->dir);
    uv_loop_init(&f->loop);
    ms_config_defaults(&f->cfg);
    f->chat = ms_chat_new(&f->loop, &f->cfg, &none_provider, NULL);
    f->chat->chain = chain;
    f->chat->nstages = MS_COUNTOF(chain);
    bind_context = 0;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    ms_chat_shutdown(f->chat);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(ms_chat_closed(f->chat));
    ms_chat_free(f->chat);
    ms_work_shutdown();
    assert_int_equal(uv_loop_close(&f->loop), 0);
    ms_config_free(&f->cfg);
    assert_int_equal(ms_test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

/* Asks text in conversation conv (NULL: a new one) and runs the loop until
 * the test stage has seen the turn. */
static void ask(fx_t *f, const char *conv, const char *cmid, const char *text) {
    memset(&seen, 0, sizeof seen);
    errors = 0;
    ms_sub_t *sub = ms_sub_new(rec_cb, NULL);
    ms_chat_ask(f->chat, f->user, conv, cmid, text, sub);
    for (int i = 0; i < 20000 && !errors; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(seen.ran, 1);
    ms_sub_close(sub);
}

static void test_stage_mrn(void **state) {
    fx_t *f = *state;
    ask(f, NULL, "m1", "Statin choice for pt MRN 22334455 with CKD?");
    assert_int_equal(seen.detected, 1);
    assert_int_equal(seen.unsure, 0);
    assert_string_equal(seen.categories, "[\"MEDICAL_RECORD_NUMBER\"]");
    assert_string_equal(seen.redacted, "Statin choice for pt MRN [MEDICAL_RECORD_NUMBER_1] with "
                                       "CKD?");
}

static void test_stage_name_and_dob(void **state) {
    fx_t *f = *state;
    ask(f, NULL, "n1", "Can John Smith, DOB 04/12/1950, take ibuprofen with warfarin?");
    assert_int_equal(seen.detected, 1);
    assert_string_equal(seen.categories, "[\"DATE\",\"NAME\"]");
    assert_int_equal(seen.map_entries, 2);
}

static void test_stage_unsure_and_clean(void **state) {
    fx_t *f = *state;
    ask(f, NULL, "u1", "Is the result 48213 worrying for hepatitis B?");
    assert_int_equal(seen.detected, 0);
    assert_int_equal(seen.unsure, 1);
    assert_string_equal(seen.categories, "[\"UNIQUE_IDENTIFIER\"]");
    ask(f, NULL, "c1", "What is the first-line therapy for Parkinson's disease?");
    assert_int_equal(seen.detected, 0);
    assert_int_equal(seen.unsure, 0);
    assert_string_equal(seen.categories, "[]");
    assert_int_equal(seen.map_entries, 0);
}

/* PHI in an earlier turn the prompt carries makes a clean question PHI. */
static void test_stage_history(void **state) {
    fx_t *f = *state;
    /* The first turn is stopped by the test stage after persist: its
     * question is stored, and is history for the next one. */
    ms_sub_t *sub = ms_sub_new(rec_cb, NULL);
    memset(&seen, 0, sizeof seen);
    errors = 0;
    ms_chat_ask(f->chat, f->user, NULL, "h1", "Mary Johnson (SSN 123-45-6789) has gout.", sub);
    for (int i = 0; i < 20000 && !errors; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(seen.detected, 1);
    ms_sub_close(sub);
    char cid[MS_ID_LEN];
    snprintf(cid, sizeof cid, "%s", last_conversation);
    assert_true(ms_id_valid(cid));
    ask(f, cid, "h2", "Which NSAID is safest for her?");
    assert_int_equal(seen.detected, 1);
    assert_string_equal(seen.categories, "[\"NAME\",\"SSN\"]");
}

static void test_stage_context_is_phi(void **state) {
    fx_t *f = *state;
    bind_context = 1;
    ask(f, NULL, "x1", "What is the first-line therapy for gout?");
    assert_int_equal(seen.detected, 1);
    assert_int_equal(seen.unsure, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structured_identifiers),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_dates_and_ages),
        cmocka_unit_test(test_places),
        cmocka_unit_test(test_names_and_clinical_terms),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_spans_keep_code_points_whole),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_hostile_inputs),
        cmocka_unit_test(test_redact_consistent_placeholders),
        cmocka_unit_test(test_restorer_every_split),
        cmocka_unit_test(test_restorer_without_placeholders),
        cmocka_unit_test_setup_teardown(test_stage_mrn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_name_and_dob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_unsure_and_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_context_is_phi, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
