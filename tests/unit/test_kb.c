/* Unit tests of the knowledge base: query building, the importers (jsonl,
 * text, MedQuAD XML and archive, PubMedQA), replacement on re-import,
 * ranking, the starter knowledge base and error reporting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/ms.h"
#include "kb/fts5.h"
#include "kb/kb.h"
#include "kb/words.h"

#include <archive.h>
#include <archive_entry.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    sqlite3 *db;
    char dir[64];
} fx_t;

static int setup(void **state) {
    fx_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ms-test-kb-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    if (sqlite3_open(":memory:", &fx->db) != SQLITE_OK)
        return -1;
    if (ms_kb_init(fx->db) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state) {
    fx_t *fx = *state;
    sqlite3_close(fx->db);
    if (nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", fx->dir);
    free(fx);
    return 0;
}

/* Writes a file under the fixture dir; returns its path (static buffer
 * rotation is not needed: callers copy it). */
static char *write_file(fx_t *fx, const char *name, const char *content) {
    char *path = malloc(256);
    snprintf(path, 256, "%s/%s", fx->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static int64_t count(fx_t *fx) {
    int64_t n = -1;
    assert_int_equal(ms_kb_count(fx->db, &n), 0);
    return n;
}

static int import1(fx_t *fx, ms_kb_format_t fmt, const char *path, ms_kb_import_stats_t *st) {
    const char *paths[] = {path};
    return ms_kb_import(fx->db, fmt, paths, 1, NULL, NULL, st);
}

/* Whether a passage id exists. */
static int has_passage(fx_t *fx, const char *id) {
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(fx->db, "SELECT 1 FROM kb_passages WHERE id = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Runs a MATCH expression; returns the SQLite result code of the query. */
static int run_match(fx_t *fx, const char *match) {
    sqlite3_stmt *st;
    int rc =
        sqlite3_prepare_v2(fx->db, "SELECT rowid FROM kb_fts WHERE kb_fts MATCH ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void test_query_build_or_and_stopwords(void **state) {
    fx_t *fx = *state;
    char *m = NULL;
    assert_int_equal(ms_kb_query_build(fx->db, "What are the symptoms of Diabetes?", &m), 0);
    assert_non_null(m);
    assert_string_equal(m, "\"symptoms\" OR \"diabetes\"");
    free(m);
    /* One term per stem: "treat" and "treatment" differ, "symptom(s)" do not. */
    assert_int_equal(ms_kb_query_build(fx->db, "symptom symptoms SYMPTOMS", &m), 0);
    assert_string_equal(m, "\"symptom\"");
    free(m);
    /* Nothing but stop-words: no expression, and not an error. */
    m = (char *)1;
    assert_int_equal(ms_kb_query_build(fx->db, "what is it and how do I", &m), 0);
    assert_null(m);
    assert_int_equal(ms_kb_query_build(fx->db, "", &m), 0);
    assert_null(m);
    /* Words from across the (binary-searched) list, in any case. */
    assert_int_equal(ms_kb_query_build(fx->db,
                                       "A about Kind KNOW just ourselves out please question "
                                       "re thanks wondering won yourselves hello sir",
                                       &m),
                     0);
    assert_null(m);
}

static void test_query_build_quotes_fts_syntax(void **state) {
    fx_t *fx = *state;
    static const char *const nasty[] = {
        "\"unbalanced quote",
        "fever* OR cough AND NOT (rash",
        "title:diabetes {focus text}: insulin",
        "-minus +plus ^caret NEAR(a b, 3)",
        "a\"b\"\"c \" \" ' ` ; -- /* */",
        "col:val AND) OR( NOT NOT",
        "\xff\xfe invalid utf8 \xc3\x28 caf\xc3\xa9",
        "NEAR NEAR NEAR OR OR AND",
    };
    for (size_t i = 0; i < MS_COUNTOF(nasty); i++) {
        char *m = NULL;
        assert_int_equal(ms_kb_query_build(fx->db, nasty[i], &m), 0);
        if (m) {
            /* Every term is a quoted string joined by OR. */
            assert_int_equal(m[0], '"');
            assert_int_equal(run_match(fx, m), SQLITE_OK);
        }
        free(m);
        ms_kb_hit_t *h = NULL;
        size_t n = 99;
        assert_int_equal(ms_kb_search(fx->db, nasty[i], 5, &h, &n), 0);
        ms_kb_hits_free(h, n);
    }
    char *m = NULL;
    assert_int_equal(ms_kb_query_build(fx->db, "fever* (rash) -cough col:val", &m), 0);
    assert_string_equal(m, "\"fever\" OR \"rash\" OR \"cough\" OR \"col\" OR \"val\"");
    free(m);
}

static void test_query_random_bytes_never_fail(void **state) {
    fx_t *fx = *state;
    uint32_t seed = 12345;
    char buf[200];
    for (int round = 0; round < 300; round++) {
        size_t len = 1 + round % (sizeof buf - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)(1 + (seed >> 16) % 255);
        }
        buf[len] = '\0';
        char *m = NULL;
        assert_int_equal(ms_kb_query_build(fx->db, buf, &m), 0);
        if (m)
            assert_int_equal(run_match(fx, m), SQLITE_OK);
        free(m);
    }
}

static const char jsonl3[] =
    "{\"id\":\"a1\",\"title\":\"Asthma\",\"text\":\"Asthma is a chronic disease of the airways "
    "that causes wheezing and shortness of breath.\",\"url\":\"https://medlineplus.gov/"
    "asthma.html\",\"source\":\"MedlinePlus\",\"authors\":[\"NLM\"],\"year\":2020}\n"
    "\n"
    "{\"id\":\"g1\",\"title\":\"Gout\",\"text\":\"Gout is a painful form of arthritis caused by "
    "uric acid crystals in a joint, often the big toe.\",\"pmid\":12345,\"source\":\"NIH\"}\n"
    "{\"id\":\"m1\",\"title\":\"Migraine\",\"text\":\"Migraines are recurring attacks of "
    "throbbing headache pain, often with sensitivity to light.\",\"doi\":\"10.1/x\"}\n";

static void test_import_jsonl_and_replace(void **state) {
    fx_t *fx = *state;
    char *p = write_file(fx, "a.jsonl", jsonl3);
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_JSONL, p, &st), 0);
    assert_int_equal(st.documents, 3);
    assert_int_equal(st.passages, 3);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(count(fx), 3);
    /* The same ids again: replaced, never duplicated. */
    assert_int_equal(import1(fx, MS_KB_JSONL, p, &st), 0);
    assert_int_equal(st.passages, 3);
    assert_int_equal(count(fx), 3);
    /* A changed text under the same id replaces the old one in the index. */
    char *p2 = write_file(fx, "b.jsonl",
                          "{\"id\":\"g1\",\"title\":\"Gout\",\"text\":\"Gout flares respond "
                          "to colchicine.\"}\n{\"id\":\"e1\",\"text\":\"   \"}\n");
    assert_int_equal(import1(fx, MS_KB_JSONL, p2, &st), 0);
    assert_int_equal(st.passages, 1);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(count(fx), 3);
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_search(fx->db, "uric acid crystals", 5, &h, &n), 0);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(h[i].id, "g1");
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_search(fx->db, "colchicine for gout", 5, &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "g1");
    ms_kb_hits_free(h, n);
    /* Citation fields come back. */
    assert_int_equal(ms_kb_search(fx->db, "asthma wheezing", 1, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, "a1");
    assert_string_equal(h[0].url, "https://medlineplus.gov/asthma.html");
    assert_string_equal(h[0].source, "MedlinePlus");
    assert_string_equal(h[0].source_type, "jsonl");
    assert_string_equal(h[0].authors_json, "[\"NLM\"]");
    assert_int_equal(h[0].year, 2020);
    assert_null(h[0].pmid);
    ms_kb_hits_free(h, n);
    free(p);
    free(p2);
}

static void test_import_jsonl_errors(void **state) {
    fx_t *fx = *state;
    char *p =
        write_file(fx, "bad.jsonl",
                   "{\"id\":\"x1\",\"text\":\"fine line\"}\n{\"id\":\"x2\",\"text\": oops}\n");
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_JSONL, p, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "bad.jsonl:2:"));
    /* The file is one transaction: its good first line was rolled back. */
    assert_int_equal(count(fx), 0);
    char *q = write_file(fx, "noid.jsonl", "{\"text\":\"no id here\"}\n");
    assert_int_equal(import1(fx, MS_KB_JSONL, q, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "noid.jsonl:1: missing \"id\""));
    char *r = write_file(fx, "type.jsonl", "{\"id\":\"t\",\"text\":\"x\",\"title\":[1]}\n");
    assert_int_equal(import1(fx, MS_KB_JSONL, r, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "\"title\""));
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope.jsonl", fx->dir);
    assert_int_equal(import1(fx, MS_KB_JSONL, missing, &st), MS_EIO);
    assert_int_equal(count(fx), 0);
    free(p);
    free(q);
    free(r);
}

static void test_import_text(void **state) {
    fx_t *fx = *state;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/notes", fx->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    char *p = write_file(fx, "notes/kidney.md",
                         "# Kidney stones\n\nA kidney stone is a hard deposit that forms in the "
                         "kidney.\n\n## Symptoms\n\nSevere pain in the side or back.\nBlood in "
                         "the urine.\n\nNausea and vomiting.\n\n## Treatment\n\nDrinking water "
                         "helps small stones pass.\n");
    char *q = write_file(fx, "notes/sleep.txt",
                         "Sleep hygiene\n=============\n\nKeep a regular bedtime.\n\nAvoid "
                         "caffeine late in the day.\n");
    char *skip = write_file(fx, "notes/ignored.csv", "a,b\n");
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_TEXT, sub, &st), 0);
    assert_int_equal(st.documents, 2);
    assert_int_equal(st.passages, 4); /* intro, Symptoms, Treatment; one for sleep */
    int64_t n0 = count(fx);
    assert_int_equal(n0, 4);
    assert_int_equal(import1(fx, MS_KB_TEXT, p, &st), 0);
    assert_int_equal(count(fx), n0);
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_search(fx->db, "what are the symptoms of kidney stones", 3, &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].title, "Symptoms");
    assert_string_equal(h[0].source_type, "text");
    assert_non_null(strstr(h[0].text, "Blood in the urine"));
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_search(fx->db, "caffeine bedtime", 3, &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].title, "Sleep hygiene");
    ms_kb_hits_free(h, n);
    free(p);
    free(q);
    free(skip);
}

static void test_search_ranks_right_passage_first(void **state) {
    fx_t *fx = *state;
    char *p = write_file(
        fx, "kb.jsonl",
        "{\"id\":\"d-sym\",\"title\":\"What are the symptoms of diabetes?\",\"focus\":"
        "\"Diabetes\",\"qtype\":\"symptoms\",\"text\":\"Thirst, frequent urination and "
        "fatigue are common signs.\"}\n"
        "{\"id\":\"d-tx\",\"title\":\"What are the treatments for diabetes?\",\"focus\":"
        "\"Diabetes\",\"qtype\":\"treatment\",\"text\":\"Insulin, metformin, diet and "
        "exercise.\"}\n"
        "{\"id\":\"h-sym\",\"title\":\"What are the symptoms of hypertension?\",\"focus\":"
        "\"Hypertension\",\"qtype\":\"symptoms\",\"text\":\"Usually none; it is found by "
        "measuring blood pressure.\"}\n"
        "{\"id\":\"noise\",\"title\":\"Diet\",\"text\":\"A diet for people with diabetes, "
        "diabetes, diabetes and more diabetes.\"}\n");
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_JSONL, p, &st), 0);
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_search(fx->db,
                                  "my mother has diabetes, what signs and symptoms should "
                                  "we watch for?",
                                  10, &h, &n),
                     0);
    assert_true(n >= 2);
    assert_string_equal(h[0].id, "d-sym");
    for (size_t i = 1; i < n; i++)
        assert_true(h[i - 1].score >= h[i].score);
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_search(fx->db, "how is diabetes treated", 10, &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "d-tx");
    ms_kb_hits_free(h, n);
    /* A misspelt word is matched to the index's spelling. */
    assert_int_equal(ms_kb_search(fx->db, "hypertention", 10, &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "h-sym");
    ms_kb_hits_free(h, n);
    /* No match is not an error; k is clamped. */
    assert_int_equal(ms_kb_search(fx->db, "zebra xylophone", 10, &h, &n), 0);
    assert_int_equal(n, 0);
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_search(fx->db, "diabetes", 0, &h, &n), 0);
    assert_int_equal(n, 1);
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_search(fx->db, "diabetes", 1000, &h, &n), 0);
    assert_int_equal(n, 3);
    ms_kb_hits_free(h, n);
    free(p);
}

static const char mq_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Document id=\"0000123\" source=\"GHR\" url=\"https://ghr.nlm.nih.gov/condition/x\">\n"
    "<Focus>Xeroderma pigmentosum</Focus>\n"
    "<FocusAnnotations><UMLS><CUIs><CUI>C0043346</CUI></CUIs></UMLS></FocusAnnotations>\n"
    "<QAPairs>\n"
    "<QAPair pid=\"1\"><Question qid=\"0000123-1\" qtype=\"information\">What is (are) "
    "Xeroderma pigmentosum ?</Question><Answer>Xeroderma pigmentosum is a genetic disorder of "
    "DNA repair &amp; extreme sensitivity to sunlight.</Answer></QAPair>\n"
    "<QAPair pid=\"2\"><Question qid=\"0000123-2\" qtype=\"frequency\">How many people are "
    "affected by Xeroderma pigmentosum ?</Question><Answer></Answer></QAPair>\n"
    "<QAPair pid=\"3\"><Question qid=\"0000123-3\" qtype=\"inheritance\">Is Xeroderma "
    "pigmentosum inherited ?</Question><Answer>This condition is inherited in an autosomal "
    "recessive pattern.</Answer></QAPair>\n"
    "</QAPairs></Document>\n";

static const char mq_herb[] =
    "<?xml version=\"1.0\"?><Document id=\"0000007\" source=\"MPlusHerbsSupplements\" "
    "url=\"u\"><Focus>Ginkgo</Focus><QAPairs><QAPair pid=\"4\"><Question qtype=\"usage\">"
    "How is Ginkgo used?</Question><Answer>Ginkgo leaf extract is taken by mouth."
    "</Answer></QAPair></QAPairs></Document>\n";

static void test_import_medquad_xml(void **state) {
    fx_t *fx = *state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/mq", fx->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    char *a = write_file(fx, "mq/0000123.xml", mq_doc);
    char *b = write_file(fx, "mq/0000007.xml", mq_herb);
    char *c = write_file(fx, "mq/broken.xml", "<Document id=\"1\" source=\"GHR\"><QAPairs>");
    ms_kb_import_stats_t st;
    /* The broken file is reported and skipped; the good ones still import. */
    assert_int_equal(import1(fx, MS_KB_MEDQUAD, dir, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "broken.xml"));
    assert_int_equal(st.documents, 2);
    assert_int_equal(st.passages, 3);
    assert_int_equal(st.skipped, 2); /* the answerless pair and the broken file */
    assert_true(has_passage(fx, "GHR_0000123_Sec1"));
    assert_false(has_passage(fx, "GHR_0000123_Sec2"));
    assert_true(has_passage(fx, "GHR_0000123_Sec3"));
    assert_true(has_passage(fx, "MPlusHerbsSuppls_0000007_Sec4"));
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_search(fx->db, "is xeroderma pigmentosum inherited?", 3, &h, &n), 0);
    assert_true(n >= 2);
    assert_string_equal(h[0].id, "GHR_0000123_Sec3");
    assert_string_equal(h[0].title, "Is Xeroderma pigmentosum inherited ?");
    assert_string_equal(h[0].focus, "Xeroderma pigmentosum");
    assert_string_equal(h[0].qtype, "inheritance");
    assert_string_equal(h[0].source, "GHR");
    assert_string_equal(h[0].source_type, "medquad");
    assert_string_equal(h[0].url, "https://ghr.nlm.nih.gov/condition/x");
    assert_non_null(strstr(h[1].text, "DNA repair & extreme"));
    ms_kb_hits_free(h, n);
    /* Re-import of the file alone: same passages, no duplicates. */
    assert_int_equal(import1(fx, MS_KB_MEDQUAD, a, &st), 0);
    assert_int_equal(count(fx), 3);
    free(a);
    free(b);
    free(c);
}

/* Writes a .tar.gz with the given entries using libarchive. */
static void write_tgz(const char *path, const char *const *names, const char *const *data,
                      size_t n) {
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)strlen(data[i]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, data[i], strlen(data[i])),
                         (la_ssize_t)strlen(data[i]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static void progress_count(void *ctx, int64_t done, int64_t total) {
    int *calls = ctx;
    assert_true(done <= total);
    (*calls)++;
}

static void test_import_medquad_archive(void **state) {
    fx_t *fx = *state;
    static const char cancer[] =
        "<Document id=\"0000013_2\" source=\"CancerGov\" url=\"u\"><Focus>Polycythemia Vera"
        "</Focus><QAPairs><QAPair pid=\"1\"><Question qtype=\"treatment\">What are the "
        "treatments for Polycythemia Vera ?</Question><Answer>Phlebotomy.</Answer></QAPair>"
        "</QAPairs></Document>";
    const char *names[] = {"3_GHR_QA/0000123.xml", "1_CancerGov_QA/0000013_2_1.xml", "readme.txt"};
    const char *data[] = {mq_doc, cancer, "not xml"};
    char path[300];
    snprintf(path, sizeof path, "%s/mq.tar.gz", fx->dir);
    write_tgz(path, names, data, 3);
    ms_kb_import_stats_t st;
    int calls = 0;
    const char *paths[] = {path};
    assert_int_equal(ms_kb_import(fx->db, MS_KB_MEDQUAD, paths, 1, progress_count, &calls, &st), 0);
    assert_true(calls >= 1);
    assert_int_equal(st.documents, 2);
    assert_int_equal(st.passages, 3);
    assert_int_equal(st.skipped, 1);
    /* A split CancerGov file keeps its own id: its name extends the id. */
    assert_true(has_passage(fx, "CancerGov_0000013_2_1_Sec1"));
    assert_true(has_passage(fx, "GHR_0000123_Sec3"));
    assert_int_equal(ms_kb_import(fx->db, MS_KB_MEDQUAD, paths, 1, NULL, NULL, &st), 0);
    assert_int_equal(count(fx), 3);

    /* A truncated archive and one that is not an archive: reported with
     * their path, never a crash, and the counts say what was kept. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char cut[300], junk[300];
    snprintf(cut, sizeof cut, "%s/cut.tar.gz", fx->dir);
    snprintf(junk, sizeof junk, "%s/junk.tgz", fx->dir);
    f = fopen(cut, "wb");
    assert_non_null(f);
    fwrite(buf, 1, len / 2, f);
    fclose(f);
    f = fopen(junk, "wb");
    assert_non_null(f);
    fputs("this is not a tar archive", f);
    fclose(f);
    const char *bad[] = {cut, junk};
    assert_int_equal(ms_kb_import(fx->db, MS_KB_MEDQUAD, bad, 2, NULL, NULL, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "cut.tar.gz"));
    assert_non_null(strstr(ms_kb_errmsg(), "2 malformed inputs"));
    assert_int_equal(count(fx), 3);
}

static void test_import_pubmedqa(void **state) {
    fx_t *fx = *state;
    char *p = write_file(
        fx, "pq.jsonl",
        "{\"pmid\":\"111\",\"question\":\"Does zanzibarine improve outcomes?\",\"contexts\":"
        "[\"We studied statins in 40 patients.\",\"Cholesterol fell.\"],\"year\":\"2011\"}\n"
        "{\"pmid\":222,\"question\":\"Is coffee safe?\",\"contexts\":[\"Coffee intake and "
        "liver enzymes in adults.\"]}\n");
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_PUBMEDQA, p, &st), 0);
    assert_int_equal(st.passages, 2);
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    /* The question is not indexed. */
    assert_int_equal(ms_kb_search(fx->db, "zanzibarine", 5, &h, &n), 0);
    assert_int_equal(n, 0);
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_search(fx->db, "statins and cholesterol", 5, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].id, "111");
    assert_string_equal(h[0].pmid, "111");
    assert_string_equal(h[0].url, "https://pubmed.ncbi.nlm.nih.gov/111/");
    assert_string_equal(h[0].source, "PubMed");
    assert_int_equal(h[0].year, 2011);
    ms_kb_hits_free(h, n);
    char *bad = write_file(fx, "pqbad.jsonl", "{\"pmid\":\"12x\",\"contexts\":[\"a\"]}\n");
    assert_int_equal(import1(fx, MS_KB_PUBMEDQA, bad, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "pqbad.jsonl:1:"));
    free(p);
    free(bad);
}

static void test_starter_loads_once(void **state) {
    fx_t *fx = *state;
    int imported = -1;
    assert_int_equal(ms_kb_load_starter(fx->db, &imported), 0);
    assert_true(imported >= 30);
    int64_t n = count(fx);
    assert_int_equal(n, imported);
    assert_int_equal(ms_kb_load_starter(fx->db, &imported), 0);
    assert_int_equal(imported, 0);
    assert_int_equal(count(fx), n);
    ms_kb_hit_t *h = NULL;
    size_t nh = 0;
    assert_int_equal(ms_kb_search(fx->db, "what are the warning signs of a stroke", 3, &h, &nh), 0);
    assert_true(nh >= 1);
    assert_string_equal(h[0].id, "starter-stroke-signs");
    assert_string_equal(h[0].source_type, "starter");
    assert_non_null(h[0].url);
    assert_int_equal(strncmp(h[0].url, "https://", 8), 0);
    ms_kb_hits_free(h, nh);
}

static void test_starter_not_loaded_when_kb_has_data(void **state) {
    fx_t *fx = *state;
    char *p = write_file(fx, "one.jsonl", "{\"id\":\"only\",\"text\":\"one passage\"}\n");
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_JSONL, p, &st), 0);
    int imported = -1;
    assert_int_equal(ms_kb_load_starter(fx->db, &imported), 0);
    assert_int_equal(imported, 0);
    assert_int_equal(count(fx), 1);
    free(p);
}

static void test_parse_format_and_init_idempotent(void **state) {
    fx_t *fx = *state;
    ms_kb_format_t f;
    assert_int_equal(ms_kb_parse_format("medquad", &f), 0);
    assert_int_equal(f, MS_KB_MEDQUAD);
    assert_int_equal(ms_kb_parse_format("pubmedqa", &f), 0);
    assert_int_equal(f, MS_KB_PUBMEDQA);
    assert_int_equal(ms_kb_parse_format("jsonl", &f), 0);
    assert_int_equal(f, MS_KB_JSONL);
    assert_int_equal(ms_kb_parse_format("text", &f), 0);
    assert_int_equal(f, MS_KB_TEXT);
    assert_int_equal(ms_kb_parse_format("csv", &f), MS_EINVAL);
    assert_int_equal(ms_kb_parse_format("MEDQUAD", &f), MS_EINVAL);
    assert_int_equal(ms_kb_init(fx->db), 0);
    assert_int_equal(ms_kb_init(fx->db), 0);
    assert_int_equal(count(fx), 0);
}

/* The real MedQuAD archive, when ../shared/data is there: ids must be the
 * ones the LiveQA qrels use. */
static void test_real_medquad_ids_match_qrels(void **state) {
    fx_t *fx = *state;
    const char *data = getenv("MS_SHARED_DATA");
    char tgz[512], qrels[512];
    snprintf(tgz, sizeof tgz, "%s/medquad/medquad-xml.tar.gz", data ? data : "../shared/data");
    snprintf(qrels, sizeof qrels, "%s/liveqa/qrels.txt", data ? data : "../shared/data");
    if (access(tgz, R_OK) != 0 || access(qrels, R_OK) != 0) {
        fprintf(stderr, "skipping: MedQuAD/LiveQA data not found (set MS_SHARED_DATA)\n");
        skip();
    }
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_MEDQUAD, tgz, &st), 0);
    assert_true(st.passages > 16000);
    assert_true(st.skipped > 30000); /* the answerless A.D.A.M., Drugs and Herbs pairs */
    /* Every qrels id of the subsets whose numbering the released XML kept
     * must be found under exactly that id. (CDC, NHLBI, NIDDK and
     * NIHSeniorHealth pairs were renumbered after judging, and A.D.A.M.,
     * Drugs and Herbs ship no answers.) */
    assert_true(has_passage(fx, "GHR_0000804_Sec1"));
    assert_true(has_passage(fx, "GARD_0004450_Sec4"));
    assert_true(has_passage(fx, "CancerGov_0000007_3_Sec1"));
    assert_true(has_passage(fx, "NHLBI_0000008_Sec1"));
    FILE *f = fopen(qrels, "r");
    assert_non_null(f);
    char line[256];
    int found = 0, total = 0;
    while (fgets(line, sizeof line, f)) {
        char id[128];
        if (sscanf(line, "%*s %*s %127s", id) != 1)
            continue;
        char *dot = strstr(id, ".txt");
        if (dot)
            *dot = '\0';
        static const char *const kept[] = {"GHR_", "GARD_", "MPlusHealthTopics_", "NINDS_",
                                           "CancerGov_"};
        int keep = 0;
        for (size_t i = 0; i < MS_COUNTOF(kept); i++)
            keep |= strncmp(id, kept[i], strlen(kept[i])) == 0;
        if (!keep)
            continue;
        total++;
        found += has_passage(fx, id);
    }
    fclose(f);
    assert_true(total > 150);
    assert_int_equal(found, total);
}

/* ---- the answerer's shared pieces: follow-ups, words, citations, names ---- */

static void test_followup_keeps_focus_over_turns(void **state) {
    (void)state;
    /* Acromegaly symptoms -> "How is it treated?" -> "What are the
     * complications?": both follow-ups are about acromegaly (issue 11). */
    const char *roles[] = {"user", "assistant", "user", "assistant"};
    const char *texts[] = {"What are the symptoms of acromegaly?", "Acromegaly is ... [1]",
                           "How is it treated?", "Surgery ... [1]"};
    char *q = ms_kb_followup_query("How is it treated?", roles, texts, 2);
    assert_string_equal(q, "How is it treated? acromegaly");
    free(q);
    q = ms_kb_followup_query("What are the complications?", roles, texts, 4);
    assert_string_equal(q, "What are the complications? acromegaly");
    free(q);
    ms_kb_followup_t f;
    assert_int_equal(ms_kb_followup("Is the condition inherited?", roles, texts, 4, &f), 0);
    assert_int_equal(f.kind, MS_KB_SAME_TOPIC);
    assert_string_equal(f.context, "acromegaly");
    ms_kb_followup_clear(&f);
    /* A question that names its own topic stands alone. */
    assert_int_equal(ms_kb_followup("What causes gout?", roles, texts, 4, &f), 0);
    assert_int_equal(f.kind, MS_KB_STANDALONE);
    assert_null(f.context);
    /* "What about ...?" keeps the aspect asked before. */
    assert_int_equal(ms_kb_followup("What about in children?", roles, texts, 2, &f), 0);
    assert_int_equal(f.kind, MS_KB_SAME_ASPECT);
    assert_non_null(strstr(f.context, "symptoms"));
    assert_non_null(strstr(f.context, "acromegaly"));
    ms_kb_followup_clear(&f);
    /* No history, or the question itself as the last turn: no context. */
    q = ms_kb_followup_query("How is it treated?", NULL, NULL, 0);
    assert_string_equal(q, "How is it treated?");
    free(q);
    const char *self[] = {"How is it treated?"};
    q = ms_kb_followup_query("How is it treated?", roles, self, 1);
    assert_string_equal(q, "How is it treated?");
    free(q);
    assert_int_equal(ms_kb_followup(NULL, NULL, NULL, 0, &f), MS_EINVAL);
}

static void test_words_stopwords_and_qtypes(void **state) {
    (void)state;
    assert_true(ms_kb_is_stopword("The", 3));
    assert_true(ms_kb_is_stopword("shall", 5)); /* from the answerer's former list */
    assert_true(ms_kb_is_stopword("wondering", 9));
    assert_false(ms_kb_is_stopword("gout", 4));
    const char *q = "What are the side effects of metformin?";
    uint32_t bits = ms_kb_qtype_of_text(q, strlen(q));
    assert_true(bits & MS_KB_QT_SIDE_EFFECTS);
    assert_true(bits & MS_KB_QT_DRUG);
    assert_false(bits & MS_KB_QT_SYMPTOMS);
    assert_int_equal(ms_kb_qtype_bits("exams and tests"), MS_KB_QT_TESTS);
    ms_kb_word_t w[4];
    assert_int_equal(ms_kb_words("Graves' don't", 13, w, 4), 2);
    assert_string_equal(w[0].w, "graves");
    assert_string_equal(w[1].w, "dont");
}

static void test_citations_one_per_document(void **state) {
    (void)state;
    ms_kb_hit_t h[3] = {
        {.id = "NIHSeniorHealth_0000028_Sec10",
         .doc_id = "NIHSeniorHealth_0000028",
         .title = "Who is at risk for Gout? ?",
         .focus = "Gout",
         .qtype = "susceptibility",
         .text = "Risk factors.",
         .source = "NIHSeniorHealth",
         .source_type = "medquad"},
        {.id = "NIHSeniorHealth_0000028_Sec18",
         .doc_id = "NIHSeniorHealth_0000028",
         .title = "What is (are) Gout ?",
         .focus = "Gout",
         .qtype = "information",
         .text = "x"},
        {.id = "MPlusHealthTopics_0000409_Sec1",
         .doc_id = "MPlusHealthTopics_0000409",
         .title = "What is (are) Gout ?",
         .focus = "Gout; Gouty arthritis",
         .qtype = "information",
         .text = "Gout is a common, painful form of arthritis."},
    };
    size_t cited[] = {0, 2, 1};
    json_t *c = ms_kb_citations(h, 3, cited, 3);
    assert_int_equal(json_array_size(c), 2); /* the third marker repeats a document */
    json_t *a = json_array_get(c, 0), *b = json_array_get(c, 1);
    assert_int_equal(json_integer_value(json_object_get(a, "index")), 1);
    assert_string_equal(json_string_value(json_object_get(a, "title")), "Gout");
    assert_string_equal(json_string_value(json_object_get(a, "subtitle")), "Susceptibility");
    assert_string_equal(json_string_value(json_object_get(a, "source_id")),
                        "NIHSeniorHealth_0000028_Sec10");
    assert_int_equal(json_integer_value(json_object_get(b, "index")), 2);
    assert_string_equal(json_string_value(json_object_get(b, "title")), "Gout");
    assert_string_equal(json_string_value(json_object_get(b, "subtitle")), "Overview");
    json_decref(c);
    /* No focus or type (a jsonl passage): the title as given, no subtitle. */
    ms_kb_hit_t plain = {.id = "p1", .title = "A guide", .text = "t"};
    size_t one = 0;
    c = ms_kb_citations(&plain, 1, &one, 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "title")),
                        "A guide");
    assert_null(json_object_get(json_array_get(c, 0), "subtitle"));
    json_decref(c);
}

static const char nav_doc[] =
    "<?xml version=\"1.0\"?><Document id=\"0000062\" source=\"NIHSeniorHealth\" url=\"u\">"
    "<Focus>Shingles</Focus><QAPairs><QAPair pid=\"5\"><Question qtype=\"treatment\">What are "
    "the treatments for Shingles ?</Question><Answer>Antiviral drugs reduce the severity of an "
    "attack. (Watch the video to learn more about shingles treatments. To enlarge the video, "
    "click the brackets in the lower right-hand corner. To reduce the video, press the Escape "
    "(Esc) button on your keyboard.) Pain medicines may help. Also, see \"Key Words\" related "
    "to shingles. To read more, click on the links below. Shingles vaccine Postherpetic "
    "neuralgia\nThe vaccine is a preventive therapy.</Answer></QAPair></QAPairs></Document>";

static const char drug_doc[] =
    "<?xml version=\"1.0\"?><Document id=\"0000768\" source=\"MPlusDrugs\" "
    "url=\"https://medlineplus.gov/druginfo/meds/a696005.html\"><Focus>Metformin</Focus>"
    "<QAPairs><QAPair pid=\"7\"><Question qtype=\"side effects\">What are the side effects of "
    "Metformin ?</Question><Answer></Answer></QAPair></QAPairs></Document>";

static void test_import_drops_navigation_and_keeps_gaps(void **state) {
    fx_t *fx = *state;
    char *a = write_file(fx, "nav.xml", nav_doc);
    char *b = write_file(fx, "drug.xml", drug_doc);
    ms_kb_import_stats_t st;
    assert_int_equal(import1(fx, MS_KB_MEDQUAD, a, &st), 0);
    assert_int_equal(st.dropped, 3); /* the video aside, "see Key Words", the link prompt */
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_search(fx->db, "shingles treatments", 3, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].text, "Antiviral drugs reduce the severity of an attack. Pain "
                                   "medicines may help.\nThe vaccine is a preventive therapy.");
    assert_string_equal(h[0].doc_id, "NIHSeniorHealth_0000062");
    assert_true(h[0].focus_match > 0.99);
    assert_true(h[0].q_medical > 0.99); /* "shingles" is a known name */
    assert_null(h[0].gap_name);
    ms_kb_hits_free(h, n);
    /* A drug MedQuAD lists without text: known by name, flagged as a gap. */
    assert_int_equal(import1(fx, MS_KB_MEDQUAD, b, &st), 0);
    assert_int_equal(st.passages, 0);
    assert_int_equal(ms_kb_search(fx->db, "shingles and metformin side effects", 3, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].gap_name, "Metformin");
    assert_string_equal(h[0].gap_source, "MPlusDrugs");
    assert_string_equal(h[0].gap_url, "https://medlineplus.gov/druginfo/meds/a696005.html");
    assert_true(h[0].q_medical > 0.99 && h[0].q_named == 2);
    ms_kb_hits_free(h, n);
    /* Everyday words are not medical names; "CAR" (an acronym synonym)
     * only matches in capitals. */
    char *c = write_file(fx, "car.jsonl",
                         "{\"id\":\"cc\",\"title\":\"Carney complex\",\"focus\":\"Carney "
                         "complex; CAR\",\"text\":\"Carney complex causes tumors in the car "
                         "region.\"}\n");
    assert_int_equal(import1(fx, MS_KB_JSONL, c, &st), 0);
    assert_int_equal(ms_kb_search(fx->db, "How do I fix my car?", 3, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_true(h[0].q_medical == 0 && h[0].q_named == 0);
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_search(fx->db, "What is CAR?", 3, &h, &n), 0);
    assert_true(n == 1 && h[0].q_named == 1);
    ms_kb_hits_free(h, n);
    free(a);
    free(b);
    free(c);
}

/* Scoped documents (attachments): searched only within their conversation
 * and user, ranked with the shared passages, cited with page and section;
 * a version-1 database gains the columns in place. */
static void test_scoped_documents(void **state) {
    fx_t *fx = *state;
    int n0 = 0;
    assert_int_equal(ms_kb_load_starter(fx->db, &n0), 0);
    ms_kb_scope_t mine = {.conversation_id = "conv-a", .user_id = "user-1"};
    ms_kb_scoped_doc_t doc = {.id = "att:1",
                              .title = "letter.pdf",
                              .url = "/dl/1",
                              .source = "Attachment",
                              .source_type = "attachment",
                              .author = "Dr \"Q\""};
    ms_kb_scoped_passage_t ps[] = {
        {.page = 1, .section = NULL, .text = "Clinic letter for the zorbulin trial."},
        {.page = 2, .section = "Dosing", .text = "Zorbulin was started at 40 mg daily."},
    };
    assert_int_equal(ms_kb_scoped_store(fx->db, &mine, &doc, ps, 2), 0);
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_search_in(fx->db, &mine, "zorbulin dose daily", 5, &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "att:1:2");
    assert_string_equal(h[0].source_type, "attachment");
    assert_string_equal(h[0].title, "letter.pdf");
    assert_int_equal(h[0].page, 2);
    assert_string_equal(h[0].section, "Dosing");
    assert_true(h[0].q_medical < 0); /* the name evidence does not apply */
    size_t cited[] = {0};
    json_t *c = ms_kb_citations(h, n, cited, 1);
    json_t *c0 = json_array_get(c, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "subtitle")), "Page 2: Dosing");
    assert_string_equal(json_string_value(json_object_get(c0, "pages")), "2");
    assert_int_equal(json_integer_value(json_object_get(c0, "page")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c0, "authors"), 0)),
                        "Dr \"Q\"");
    json_decref(c);
    ms_kb_hits_free(h, n);
    /* Another conversation, another user, no scope: never seen. */
    ms_kb_scope_t others[] = {{.conversation_id = "conv-b", .user_id = "user-1"},
                              {.conversation_id = "conv-a", .user_id = "user-2"}};
    for (size_t i = 0; i <= MS_COUNTOF(others); i++) {
        const ms_kb_scope_t *sc = i < MS_COUNTOF(others) ? &others[i] : NULL;
        assert_int_equal(ms_kb_search_in(fx->db, sc, "zorbulin dose daily", 5, &h, &n), 0);
        for (size_t k = 0; k < n; k++)
            assert_true(strncmp(h[k].id, "att:", 4) != 0);
        ms_kb_hits_free(h, n);
    }
    assert_int_equal(ms_kb_search(fx->db, "zorbulin", 5, &h, &n), 0);
    assert_int_equal(n, 0);
    ms_kb_hits_free(h, n);
    /* Storing again replaces; removing removes. */
    assert_int_equal(ms_kb_scoped_store(fx->db, &mine, &doc, ps, 1), 0);
    assert_int_equal(ms_kb_search_in(fx->db, &mine, "zorbulin", 5, &h, &n), 0);
    assert_int_equal(n, 1);
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_scoped_remove(fx->db, "att:1"), 0);
    assert_int_equal(ms_kb_search_in(fx->db, &mine, "zorbulin", 5, &h, &n), 0);
    assert_int_equal(n, 0);
    ms_kb_hits_free(h, n);
    assert_int_equal(ms_kb_scoped_store(fx->db, NULL, &doc, ps, 1), MS_EINVAL);
}

static void test_schema_upgrade_from_v1(void **state) {
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    /* The version-1 passages table, as databases written before scopes have it. */
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE kb_passages(pk INTEGER PRIMARY KEY, id TEXT NOT NULL"
                     " UNIQUE, doc_id TEXT NOT NULL, title TEXT, focus TEXT, qtype"
                     " TEXT, text TEXT NOT NULL);"
                     "INSERT INTO kb_passages(id, doc_id, text) VALUES ('p', 'd', 'x');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(ms_kb_init(db), 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT page, section FROM kb_passages", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);
    assert_int_equal(ms_kb_init(db), 0);
    sqlite3_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query_build_or_and_stopwords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_build_quotes_fts_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_random_bytes_never_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_jsonl_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_jsonl_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_ranks_right_passage_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_medquad_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_medquad_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_pubmedqa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_starter_loads_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_starter_not_loaded_when_kb_has_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_format_and_init_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_medquad_ids_match_qrels, setup, teardown),
        cmocka_unit_test(test_followup_keeps_focus_over_turns),
        cmocka_unit_test(test_words_stopwords_and_qtypes),
        cmocka_unit_test(test_citations_one_per_document),
        cmocka_unit_test_setup_teardown(test_import_drops_navigation_and_keeps_gaps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scoped_documents, setup, teardown),
        cmocka_unit_test(test_schema_upgrade_from_v1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
