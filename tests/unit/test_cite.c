/* Unit tests of src/cite: each style against worked examples published for
 * it, written here exactly as printed (quotation marks as typeset: curly;
 * the plain-text form has no italics, the Markdown form marks them), with
 * the source of each example beside it. Where no published example has
 * exactly the fields medstream holds, the test says which rule of the
 * manual it checks instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "unit_util.h"

#include "cite/cite.h"
#include "cite/cite_int.h"
#include "core/ms.h"

#include "kb/kb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Formats c (a JSON text) in style; accessed "YYYY-MM-DD" or NULL. */
static ms_cite_ref_t fmt(const char *json, ms_cite_style_t style, const char *accessed) {
    json_error_t je;
    json_t *c = json_loads(json, 0, &je);
    if (!c)
        fail_msg("bad test JSON: %s", je.text);
    ms_cite_date_t acc, *ap = NULL;
    if (accessed) {
        assert_int_equal(ms_cite_parse_date(accessed, &acc), 0);
        ap = &acc;
    }
    ms_cite_ref_t r;
    assert_int_equal(ms_cite_format(c, style, ap, &r), 0);
    json_decref(c);
    return r;
}

static void expect(const char *json, ms_cite_style_t style, const char *accessed, const char *text,
                   const char *markdown) {
    ms_cite_ref_t r = fmt(json, style, accessed);
    assert_string_equal(r.text, text);
    if (markdown)
        assert_string_equal(r.markdown, markdown);
    ms_cite_ref_free(&r);
}

static void expect_in_text(const char *json, ms_cite_style_t style, int n, const char *want) {
    json_t *c = json_loads(json, 0, NULL);
    assert_non_null(c);
    char *s = ms_cite_in_text(c, style, n);
    assert_string_equal(s, want);
    free(s);
    json_decref(c);
}

/* ---- APA 7 ----------------------------------------------------------------- */

static const char mccauley[] =
    "{\"index\":1,\"source_type\":\"pubmed\",\"authors\":[\"McCauley, Stewart M.\","
    "\"Christiansen, Morten H.\"],\"title\":\"Language learning as language use: A "
    "crosslinguistic model of child language development\",\"journal\":\"Psychological "
    "Review\",\"volume\":\"126\",\"issue\":\"1\",\"pages\":\"1-51\",\"doi\":\"10.1037/"
    "rev0000126\",\"publication_date\":\"2019\"}";

/* Publication Manual of the APA, 7th ed. (2020), "Common References at a
 * Glance", Journal article (Example 1). */
static void test_apa_journal_article(void **state) {
    (void)state;
    expect(mccauley, MS_CITE_APA, NULL,
           "McCauley, S. M., & Christiansen, M. H. (2019). Language learning as language use: A "
           "crosslinguistic model of child language development. Psychological Review, 126(1), "
           "1\xe2\x80\x93"
           "51. https://doi.org/10.1037/rev0000126",
           "McCauley, S. M., & Christiansen, M. H. (2019). Language learning as language use: A "
           "crosslinguistic model of child language development. *Psychological Review*, "
           "*126*(1), 1\xe2\x80\x93"
           "51. https://doi.org/10.1037/rev0000126");
    expect_in_text(mccauley, MS_CITE_APA, 1, "(McCauley & Christiansen, 2019)");
}

/* The same manual, "Common References at a Glance", Government webpage or
 * website (Example 111): the agency is the author, so the site name is
 * left out (10.16). */
static void test_apa_government_webpage(void **state) {
    (void)state;
    static const char cdc[] =
        "{\"index\":2,\"title\":\"People at high risk of developing flu-related complications\","
        "\"url\":\"https://www.cdc.gov/flu/about/disease/high_risk.htm\",\"publication_date\":"
        "\"2018-01-23\",\"context\":{\"kind\":\"webpage\",\"publisher\":\"Centers for Disease "
        "Control and Prevention\",\"site\":\"Centers for Disease Control and Prevention\"}}";
    expect(
        cdc, MS_CITE_APA, "2024-05-01",
        "Centers for Disease Control and Prevention. (2018, January 23). People at high risk of "
        "developing flu-related complications. https://www.cdc.gov/flu/about/disease/"
        "high_risk.htm",
        "Centers for Disease Control and Prevention. (2018, January 23). *People at high risk of "
        "developing flu-related complications*. https://www.cdc.gov/flu/about/disease/"
        "high_risk.htm");
    expect_in_text(cdc, MS_CITE_APA, 2, "(Centers for Disease Control and Prevention, 2018)");
}

/* USC Libraries, "APA Style 7th Edition: Websites" (libguides.usc.edu/
 * APA7th/website), "Webpage on a website with a retrieval date", adapted
 * there from the Publication Manual: no date is (n.d.), and a page that
 * changes gets its retrieval date (9.16). */
static void test_apa_undated_webpage(void **state) {
    (void)state;
    static const char census[] =
        "{\"title\":\"U.S. and world population clock\",\"url\":\"https://www.census.gov/"
        "popclock/\",\"context\":{\"kind\":\"webpage\",\"publisher\":\"U.S. Census Bureau\","
        "\"site\":\"U.S. Department of Commerce\"}}";
    expect(census, MS_CITE_APA, "2020-01-15",
           "U.S. Census Bureau. (n.d.). U.S. and world population clock. U.S. Department of "
           "Commerce. Retrieved January 15, 2020, from https://www.census.gov/popclock/",
           NULL);
    expect_in_text(census, MS_CITE_APA, 1, "(U.S. Census Bureau, n.d.)");
}

/* APA 9.12: a work with no author moves its title to the author position
 * (a rule; the fields are a MedQuAD-like page without a known owner). */
static void test_apa_no_author(void **state) {
    (void)state;
    expect("{\"title\":\"Gout\",\"url\":\"https://example.org/gout\",\"source_type\":\"medquad\"}",
           MS_CITE_APA, "2024-05-01",
           "Gout. (n.d.). Retrieved May 1, 2024, from https://example.org/gout", NULL);
    expect("{\"title\":\"Twenty-first century heart solution\",\"journal\":\"BMJ\",\"volume\":"
           "\"325\",\"pages\":\"184\",\"publication_date\":\"2002\"}",
           MS_CITE_APA, NULL, "Twenty-first century heart solution. (2002). BMJ, 325, 184.", NULL);
}

/* APA 9.8: 21 or more authors, the first 19, an ellipsis, the last. */
static void test_apa_many_authors(void **state) {
    (void)state;
    ms_buf_t j;
    ms_buf_init(&j);
    ms_buf_puts(&j, "{\"title\":\"T\",\"journal\":\"J\",\"publication_date\":\"2020\","
                    "\"authors\":[");
    for (int i = 0; i < 22; i++)
        ms_buf_printf(&j, "%s\"Author%c, A\"", i ? "," : "", 'A' + i);
    ms_buf_puts(&j, "]}");
    ms_cite_ref_t r = fmt(ms_buf_cstr(&j), MS_CITE_APA, NULL);
    assert_non_null(strstr(r.text, "AuthorS, A., . . . AuthorV, A. (2020)."));
    assert_null(strstr(r.text, "AuthorT"));
    assert_null(strstr(r.text, "&"));
    ms_cite_ref_free(&r);
    ms_buf_free(&j);
}

/* ---- MLA 9 ------------------------------------------------------------------ */

/* Australian Catholic University Library, "A guide to using MLA 9th
 * referencing style: Journal article in print" (libguides.acu.edu.au/mla/
 * articles). The title is given in sentence case, as PubMed holds titles,
 * to check the headline style; the pages use MLA's inclusive numbers. */
static void test_mla_journal_article(void **state) {
    (void)state;
    static const char piper[] =
        "{\"authors\":[\"Piper, Andrew\"],\"title\":\"Rethinking the print object: Goethe and "
        "the book of everything\",\"journal\":\"PMLA\",\"volume\":\"121\",\"issue\":\"1\","
        "\"pages\":\"124-138\",\"publication_date\":\"2006\"}";
    expect(piper, MS_CITE_MLA, NULL,
           "Piper, Andrew. \xe2\x80\x9cRethinking the Print Object: Goethe and the Book of "
           "Everything.\xe2\x80\x9d PMLA, vol. 121, no. 1, 2006, pp. 124-38.",
           "Piper, Andrew. \xe2\x80\x9cRethinking the Print Object: Goethe and the Book of "
           "Everything.\xe2\x80\x9d *PMLA*, vol. 121, no. 1, 2006, pp. 124-38.");
    expect_in_text(piper, MS_CITE_MLA, 1, "(Piper)");
}

/* University of Nevada, Reno Libraries, "MLA citation: Articles" (guides.
 * library.unr.edu/mlacitation/articles), print journal article. */
static void test_mla_journal_article_short_pages(void **state) {
    (void)state;
    expect("{\"authors\":[\"Ki, Eyun-Jung\"],\"title\":\"A Measure of Relationship Cultivation "
           "Strategies\",\"journal\":\"Journal of Public Relations Research\",\"volume\":\"21\","
           "\"issue\":\"1\",\"pages\":\"1-24\",\"publication_date\":\"2009\"}",
           MS_CITE_MLA, NULL,
           "Ki, Eyun-Jung. \xe2\x80\x9c"
           "A Measure of Relationship Cultivation Strategies."
           "\xe2\x80\x9d Journal of Public Relations Research, vol. 21, no. 1, 2009, pp. 1-24.",
           NULL);
}

/* Douglas College Library, "MLA (9th ed.) Citation Style: Websites"
 * (guides.douglascollege.ca/MLA-9/Websites), website with a named author:
 * the URL without its protocol (MLA 9, 5.95). */
static void test_mla_webpage(void **state) {
    (void)state;
    static const char npr[] =
        "{\"authors\":[\"Galewitz, Phil\"],\"title\":\"In Depressed Rural Kentucky, Worries "
        "Mount Over Medicaid Cutbacks\",\"url\":\"https://www.npr.org/sections/health-shots/2016/"
        "11/19/202580120/in-depressed-rural-kentucky-worries-mount-over-medicaid-cutbacks\","
        "\"publication_date\":\"2016-11-19\",\"context\":{\"kind\":\"webpage\",\"site\":\"NPR\"}}";
    expect(npr, MS_CITE_MLA, "2024-05-01",
           "Galewitz, Phil. \xe2\x80\x9cIn Depressed Rural Kentucky, Worries Mount Over Medicaid "
           "Cutbacks.\xe2\x80\x9d NPR, 19 Nov. 2016, www.npr.org/sections/health-shots/2016/11/19/"
           "202580120/in-depressed-rural-kentucky-worries-mount-over-medicaid-cutbacks.",
           "Galewitz, Phil. \xe2\x80\x9cIn Depressed Rural Kentucky, Worries Mount Over Medicaid "
           "Cutbacks.\xe2\x80\x9d *NPR*, 19 Nov. 2016, www.npr.org/sections/health-shots/2016/11/"
           "19/202580120/in-depressed-rural-kentucky-worries-mount-over-medicaid-cutbacks.");
    expect_in_text(npr, MS_CITE_MLA, 1, "(Galewitz)");
}

/* Federation University, "FedCite: MLA, Website" (federation.edu.au/
 * library/fedcite/content/mla/webpages/website), a page with no author and
 * no date, which starts with its title; the access date that MLA 9 then
 * recommends at the end ("Accessed 6 Dec. 2021.", Moorpark College Library,
 * "MLA 9th ed.: Works Cited changes", citing MLA Handbook 9th ed. p. 211). */
static void test_mla_undated_webpage(void **state) {
    (void)state;
    static const char page[] =
        "{\"title\":\"Literary Analysis: Using Elements of Literature\",\"url\":\"http://"
        "www.roanestate.edu/owl/elementslit.html\",\"context\":{\"kind\":\"webpage\",\"site\":"
        "\"Roanne State Community College\"}}";
    expect(page, MS_CITE_MLA, "2021-12-06",
           "\xe2\x80\x9cLiterary Analysis: Using Elements of Literature.\xe2\x80\x9d Roanne State "
           "Community College, www.roanestate.edu/owl/elementslit.html. Accessed 6 Dec. 2021.",
           NULL);
    expect_in_text(page, MS_CITE_MLA, 1,
                   "(\xe2\x80\x9cLiterary Analysis: Using Elements of Literature\xe2\x80\x9d)");
}

/* MLA: two authors "Family, Given, and Given Family"; three or more, the
 * first and "et al." (MLA 9, 5.7-5.8; rule). */
static void test_mla_author_counts(void **state) {
    (void)state;
    expect("{\"authors\":[\"Best, David\",\"Marcus, Sharon\"],\"title\":\"Surface reading: an "
           "introduction\",\"journal\":\"Representations\",\"volume\":\"108\",\"issue\":\"1\","
           "\"pages\":\"1-21\",\"publication_date\":\"2009\"}",
           MS_CITE_MLA, NULL,
           "Best, David, and Sharon Marcus. \xe2\x80\x9cSurface Reading: An Introduction."
           "\xe2\x80\x9d Representations, vol. 108, no. 1, 2009, pp. 1-21.",
           NULL);
    expect("{\"authors\":[\"Wood, Carla L\",\"Schatschneider, Christopher\",\"Veldink, Allyssa\"],"
           "\"title\":\"T\",\"journal\":\"J\",\"publication_date\":\"2021-01\"}",
           MS_CITE_MLA, NULL, "Wood, Carla L., et al. \xe2\x80\x9cT.\xe2\x80\x9d J, Jan. 2021.",
           NULL);
}

/* ---- Chicago 17 author-date --------------------------------------------------- */

/* Grafiati, "Chicago Style - author-date (17th ed.): journal article"
 * (grafiati.com/en/info/chicago-17-author-date/journal-article), with
 * CMOS 9.61's inclusive numbers (325-50). */
static void test_chicago_journal_article(void **state) {
    (void)state;
    static const char esher[] =
        "{\"authors\":[\"Esher, Louise\"],\"title\":\"Autonomous Morphology and "
        "Extramorphological Coherence\",\"journal\":\"Morphology\",\"volume\":\"24\",\"issue\":"
        "\"4\",\"pages\":\"325-350\",\"doi\":\"10.1007/s11525-014-9246-8\",\"publication_date\":"
        "\"2014\"}";
    expect(esher, MS_CITE_CHICAGO, NULL,
           "Esher, Louise. 2014. \xe2\x80\x9c"
           "Autonomous Morphology and Extramorphological "
           "Coherence.\xe2\x80\x9d Morphology 24 (4): 325\xe2\x80\x93"
           "50. "
           "https://doi.org/10.1007/s11525-014-9246-8.",
           "Esher, Louise. 2014. \xe2\x80\x9c"
           "Autonomous Morphology and Extramorphological "
           "Coherence.\xe2\x80\x9d *Morphology* 24 (4): 325\xe2\x80\x93"
           "50. "
           "https://doi.org/10.1007/s11525-014-9246-8.");
    expect_in_text(esher, MS_CITE_CHICAGO, 1, "(Esher 2014)");
}

/* SMU Libraries, "Cite in Chicago Style AD: Other web content" (guides.
 * smu.edu), "No Date": the owner as author, n.d. and an access date
 * (CMOS 17, 15.51). */
static void test_chicago_undated_webpage(void **state) {
    (void)state;
    static const char columbia[] =
        "{\"title\":\"History\",\"url\":\"http://www.columbia.edu/content/history.html\","
        "\"context\":{\"kind\":\"webpage\",\"publisher\":\"Columbia University\"}}";
    expect(columbia, MS_CITE_CHICAGO, "2017-05-15",
           "Columbia University. n.d. \xe2\x80\x9cHistory.\xe2\x80\x9d Accessed May 15, 2017. "
           "http://www.columbia.edu/content/history.html.",
           NULL);
    expect_in_text(columbia, MS_CITE_CHICAGO, 1, "(Columbia University n.d.)");
}

/* CMOS 17, 14.76 / 15.9: more than ten authors, the first seven and "et
 * al."; a month goes in parentheses after the issue (15.47). Rules. */
static void test_chicago_many_authors_and_month(void **state) {
    (void)state;
    ms_buf_t j;
    ms_buf_init(&j);
    ms_buf_puts(&j, "{\"title\":\"effects of x\",\"journal\":\"journal of y\",\"volume\":\"3\","
                    "\"issue\":\"9\",\"pages\":\"1-9\",\"publication_date\":\"2008-09\","
                    "\"authors\":[");
    for (int i = 0; i < 11; i++)
        ms_buf_printf(&j, "%s\"Author%c, Ann\"", i ? "," : "", 'A' + i);
    ms_buf_puts(&j, "]}");
    ms_cite_ref_t r = fmt(ms_buf_cstr(&j), MS_CITE_CHICAGO, NULL);
    assert_string_equal(r.text, "AuthorA, Ann, Ann AuthorB, Ann AuthorC, Ann AuthorD, Ann AuthorE, "
                                "Ann AuthorF, Ann AuthorG, et al. 2008. \xe2\x80\x9c"
                                "Effects of "
                                "X.\xe2\x80\x9d Journal of Y 3, no. 9 (September): 1\xe2\x80\x93"
                                "9.");
    ms_cite_ref_free(&r);
    ms_buf_free(&j);
}

/* ---- Vancouver (ICMJE / NLM Citing Medicine) ---------------------------------- */

/* NLM, "Samples of Formatted References for Authors of Journal Articles"
 * (the ICMJE sample references, www.nlm.nih.gov/bsd/uniform_requirements
 * .html), 1. Standard journal article. */
static void test_vancouver_journal_article(void **state) {
    (void)state;
    static const char halpern[] =
        "{\"index\":3,\"authors\":[\"Halpern, Scott D\",\"Ubel, Peter A\",\"Caplan, Arthur L\"],"
        "\"title\":\"Solid-organ transplantation in HIV-infected patients.\",\"journal\":\"The "
        "New England journal of medicine\",\"volume\":\"347\",\"issue\":\"4\",\"pages\":\"284-"
        "287\",\"publication_date\":\"2002-07-25\",\"context\":{\"journal_abbrev\":\"N Engl J "
        "Med\"}}";
    expect(halpern, MS_CITE_VANCOUVER, NULL,
           "Halpern SD, Ubel PA, Caplan AL. Solid-organ transplantation in HIV-infected patients. "
           "N Engl J Med. 2002 Jul 25;347(4):284-7.",
           NULL);
    expect_in_text(halpern, MS_CITE_VANCOUVER, 3, "(3)");
}

/* The same samples, "More than six authors" (the first six and "et al."). */
static void test_vancouver_more_than_six(void **state) {
    (void)state;
    expect("{\"authors\":[\"Rose, Mark E\",\"Huerbin, Monica B\",\"Melick, John\",\"Marion, "
           "Donald W\",\"Palmer, Anthony M\",\"Schiding, Joanne K\",\"Kochanek, Patrick M\","
           "\"Graham, Steven H\"],\"title\":\"Regulation of interstitial excitatory amino acid "
           "concentrations after cortical contusion injury\",\"journal\":\"Brain research\","
           "\"volume\":\"935\",\"issue\":\"1-2\",\"pages\":\"40-46\",\"publication_date\":\"2002\","
           "\"context\":{\"journal_abbrev\":\"Brain Res\"}}",
           MS_CITE_VANCOUVER, NULL,
           "Rose ME, Huerbin MB, Melick J, Marion DW, Palmer AM, Schiding JK, et al. Regulation of "
           "interstitial excitatory amino acid concentrations after cortical contusion injury. "
           "Brain Res. 2002;935(1-2):40-6.",
           NULL);
}

/* The same samples, "No author given". */
static void test_vancouver_no_author(void **state) {
    (void)state;
    expect("{\"title\":\"21st century heart solution may have a sting in the tail\",\"journal\":"
           "\"BMJ\",\"volume\":\"325\",\"issue\":\"7357\",\"pages\":\"184\",\"publication_date\":"
           "\"2002\"}",
           MS_CITE_VANCOUVER, NULL,
           "21st century heart solution may have a sting in the tail. BMJ. 2002;325(7357):184.",
           NULL);
}

/* The same samples, "Homepage/Web site" (Citing Medicine ch. 25A): a
 * c-date, the update and citation dates in brackets, a period after a URL
 * that ends with "/". */
static void test_vancouver_homepage(void **state) {
    (void)state;
    expect("{\"title\":\"Cancer-Pain.org\",\"url\":\"http://www.cancer-pain.org/\",\"context\":{"
           "\"kind\":\"webpage\",\"place\":\"New York\",\"publisher\":\"Association of Cancer "
           "Online Resources, Inc.\",\"copyright\":\"2000-01\",\"updated\":\"2002-05-16\"}}",
           MS_CITE_VANCOUVER, "2002-07-09",
           "Cancer-Pain.org [Internet]. New York: Association of Cancer Online Resources, Inc.; "
           "c2000-01 [updated 2002 May 16; cited 2002 Jul 9]. Available from: "
           "http://www.cancer-pain.org/.",
           NULL);
}

/* Citing Medicine ch. 25B, part of a web site, with the rules for what the
 * site does not say: a national body's name with "(US)", no date given
 * (only the citation date), no period after a URL that does not end in
 * "/"; [place unknown] and [publisher unknown] when unknown (rules; the
 * first fields are MedQuAD's GHR, from the source table). */
static void test_vancouver_part_of_site(void **state) {
    (void)state;
    expect("{\"title\":\"Aarskog-Scott syndrome\",\"url\":\"https://ghr.nlm.nih.gov/condition/"
           "aarskog-scott-syndrome\",\"source_type\":\"medquad\",\"source_name\":\"GHR\"}",
           MS_CITE_VANCOUVER, "2024-05-01",
           "Genetics Home Reference [Internet]. Bethesda (MD): National Library of Medicine (US); "
           "[cited 2024 May 1]. Aarskog-Scott syndrome. Available from: "
           "https://ghr.nlm.nih.gov/condition/aarskog-scott-syndrome",
           NULL);
    expect("{\"title\":\"A page\",\"url\":\"https://x.example/p\",\"context\":{\"kind\":"
           "\"webpage\",\"site\":\"Example Site\"}}",
           MS_CITE_VANCOUVER, NULL,
           "Example Site [Internet]. [place unknown]: [publisher unknown]. A page. Available from: "
           "https://x.example/p",
           NULL);
}

/* ---- AMA 11 ----------------------------------------------------------------- */

/* Sheridan College Library, "AMA Citation Style: Journals" (sheridan
 * college.libguides.com/ama/Journals), online journal article with
 * personal authors, citing AMA 11, 3.11. */
static void test_ama_journal_article(void **state) {
    (void)state;
    static const char lempke[] =
        "{\"authors\":[\"Lempke, Landon B\",\"Schmidt, Julianne D\",\"Lynall, Robert C\"],"
        "\"title\":\"Athletic trainers' concussion-assessment and concussion-management "
        "practices: an update\",\"journal\":\"Journal of athletic training\",\"volume\":\"55\","
        "\"issue\":\"1\",\"pages\":\"17-26\",\"doi\":\"10.4085/1062-6050-322-18\","
        "\"publication_date\":\"2020-01\",\"context\":{\"journal_abbrev\":\"J Athl Train\"}}";
    expect(lempke, MS_CITE_AMA, NULL,
           "Lempke LB, Schmidt JD, Lynall RC. Athletic trainers' concussion-assessment and "
           "concussion-management practices: an update. J Athl Train. 2020;55(1):17-26. "
           "doi:10.4085/1062-6050-322-18",
           "Lempke LB, Schmidt JD, Lynall RC. Athletic trainers' concussion-assessment and "
           "concussion-management practices: an update. *J Athl Train*. 2020;55(1):17-26. "
           "doi:10.4085/1062-6050-322-18");
    expect_in_text(lempke, MS_CITE_AMA, 12, "\xc2\xb9\xc2\xb2");
}

/* University of Northern Colorado Libraries, "AMA Style - 11th Edition:
 * Authors" (libguides.unco.edu), "No author": the reference starts with
 * the title. */
static void test_ama_no_author(void **state) {
    (void)state;
    expect("{\"title\":\"Incorrect percentages in the abstract\",\"journal\":\"JAMA oncology\","
           "\"volume\":\"3\",\"issue\":\"12\",\"pages\":\"1742\",\"doi\":\"10.1001/"
           "jamaoncol.2017.4368\",\"publication_date\":\"2017\",\"context\":{\"journal_abbrev\":"
           "\"JAMA Oncol\"}}",
           MS_CITE_AMA, NULL,
           "Incorrect percentages in the abstract. JAMA Oncol. 2017;3(12):1742. "
           "doi:10.1001/jamaoncol.2017.4368",
           NULL);
}

/* University of Southern Indiana, "Citing Sources: AMA" (usi.libguides.
 * com/citingsources/ama), website with an organisation as author whose
 * site bears its name ("website" added, AMA 11 3.15). */
static void test_ama_website(void **state) {
    (void)state;
    expect("{\"title\":\"Understanding drug use and addiction\",\"context\":{\"kind\":\"webpage\","
           "\"publisher\":\"National Institute on Drug Abuse\",\"site\":\"National Institute on "
           "Drug Abuse\",\"updated\":\"2018-06-06\"}}",
           MS_CITE_AMA, "2018-09-04",
           "National Institute on Drug Abuse. Understanding drug use and addiction. National "
           "Institute on Drug Abuse website. Updated June 6, 2018. Accessed September 4, 2018.",
           NULL);
}

/* Nova Southeastern University, "11th Edition AMA Citation Style Basics:
 * Website" (libguides.nova.edu): no author, a published month, the access
 * date. */
static void test_ama_website_no_author(void **state) {
    (void)state;
    expect("{\"title\":\"Information for physical therapy consumers\",\"publication_date\":"
           "\"2007-11\",\"context\":{\"kind\":\"webpage\",\"site\":\"The American Physical Therapy "
           "Association\"}}",
           MS_CITE_AMA, "2008-09-17",
           "Information for physical therapy consumers. The American Physical Therapy "
           "Association. Published November 2007. Accessed September 17, 2008.",
           NULL);
}

/* AMA 11, 3.11.1: more than six authors, the first three and "et al"
 * (rule; no period after "al" before the group's own period). */
static void test_ama_more_than_six(void **state) {
    (void)state;
    expect("{\"authors\":[\"Adams, P\",\"Altes, A\",\"Brissot, P\",\"Butzeck, B\",\"Cabantchik, "
           "I\",\"Cançado, R\",\"Distante, S\"],\"title\":\"Therapeutic recommendations\","
           "\"journal\":\"Hepatology international\",\"volume\":\"12\",\"issue\":\"2\",\"pages\":"
           "\"83-86\",\"publication_date\":\"2018\",\"context\":{\"journal_abbrev\":\"Hepatol "
           "Int\"}}",
           MS_CITE_AMA, NULL,
           "Adams P, Altes A, Brissot P, et al. Therapeutic recommendations. Hepatol Int. "
           "2018;12(2):83-86.",
           NULL);
}

/* ---- the parts ------------------------------------------------------------------ */

static void page(const char *in, pages_style_t st, const char *want) {
    ms_buf_t b;
    ms_buf_init(&b);
    cite_pages(in, st, &b);
    assert_string_equal(ms_buf_cstr(&b), want);
    ms_buf_free(&b);
}

/* CMOS 17, 9.61 table of inclusive numbers, every example. */
static void test_chicago_inclusive_numbers(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"3-10", "3\xe2\x80\x93"
                 "10"},
        {"71-72", "71\xe2\x80\x93"
                  "72"},
        {"96-117", "96\xe2\x80\x93"
                   "117"},
        {"100-104", "100\xe2\x80\x93"
                    "104"},
        {"1100-1113", "1100\xe2\x80\x93"
                      "1113"},
        {"101-108", "101\xe2\x80\x93"
                    "8"},
        {"808-833", "808\xe2\x80\x93"
                    "33"},
        {"1103-1104", "1103\xe2\x80\x93"
                      "4"},
        {"321-328", "321\xe2\x80\x93"
                    "28"},
        {"498-532", "498\xe2\x80\x93"
                    "532"},
        {"1087-1089", "1087\xe2\x80\x93"
                      "89"},
        {"1496-1500", "1496\xe2\x80\x93"
                      "500"},
        {"11564-11615", "11564\xe2\x80\x93"
                        "615"},
        {"12991-13001", "12991\xe2\x80\x93"
                        "3001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        page(cases[i][0], PAGES_CHICAGO, cases[i][1]);
}

/* MLA Handbook, "Inclusive numbers" (8th ed. 1.4.3, kept in the 9th): the
 * second number in full through ninety-nine, then its last two digits or
 * more as needed. */
static void test_mla_inclusive_numbers(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"2-3", "2-3"},           {"10-12", "10-12"},       {"21-48", "21-48"},
        {"89-114", "89-114"},     {"103-104", "103-04"},    {"395-401", "395-401"},
        {"923-1003", "923-1003"}, {"1003-1005", "1003-05"}, {"1608-1774", "1608-774"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        page(cases[i][0], PAGES_MLA, cases[i][1]);
}

/* MEDLINE's abbreviated last page is read back in full, then written in
 * each style; text that is not a plain range is left as it is. */
static void test_pages_forms(void **state) {
    (void)state;
    page("284-7", PAGES_FULL_HYPHEN, "284-287");
    page("284-7", PAGES_NLM, "284-7");
    page("1200-1205", PAGES_NLM, "1200-5");
    page("S93-S99", PAGES_NLM, "S93-9");
    page("S93-S99", PAGES_FULL_ENDASH, "S93\xe2\x80\x93S99");
    page("e007391", PAGES_CHICAGO, "e007391");
    page("121-6; quiz 127", PAGES_CHICAGO, "121-6; quiz 127");
    page("40-30", PAGES_NLM, "40-30");
    assert_true(cite_pages_is_range("1-51"));
    assert_false(cite_pages_is_range("1742"));
}

static void name_case(const char *in, const char *apa, const char *nlm) {
    cite_name_t n;
    cite_name_parse(in, &n);
    ms_buf_t b;
    ms_buf_init(&b);
    if (n.literal) {
        ms_buf_puts(&b, n.literal);
    } else {
        ms_buf_printf(&b, "%s, ", n.family);
        cite_initials(n.given, ".", 1, 1, &b);
    }
    assert_string_equal(ms_buf_cstr(&b), apa);
    ms_buf_reset(&b);
    if (!n.literal) {
        ms_buf_printf(&b, "%s ", n.family);
        cite_initials(n.given, "", 0, 0, &b);
        assert_string_equal(ms_buf_cstr(&b), nlm);
    }
    ms_buf_free(&b);
    cite_name_free(&n);
}

/* Names as stored ("Family, Given"), as MEDLINE shows them ("Smith JA"),
 * hyphenated given names (APA 9.8: "S.-H."), non-Latin and accented
 * letters, and organisations with a comma. */
static void test_names(void **state) {
    (void)state;
    name_case("Keng, Shao-Hsun", "Keng, S.-H.", "Keng SH");
    name_case("Smith JA", "Smith, J. A.", "Smith JA");
    name_case("Orazem, Peter F", "Orazem, P. F.", "Orazem PF");
    name_case("Müller, Émile", "Müller, É.", "Müller É");
    name_case("Παπαδόπουλος, Αλέξανδρος", "Παπαδόπουλος, Α.", "Παπαδόπουλος Α");
    name_case("van der Berg, Jan", "van der Berg, J.", "van der Berg J");
    name_case("Department of Medicine, Harvard", "Department of Medicine, Harvard", NULL);
    name_case("WHO Study Group", "WHO Study Group", NULL);
    cite_name_t n;
    cite_name_parse("King, Martin L, Jr", &n);
    assert_string_equal(n.suffix, "Jr");
    cite_name_free(&n);
}

static void test_headline(void **state) {
    (void)state;
    /* Lower-case words are raised, minor words stay lower case inside the
     * title (CMOS 8.159), the last word and a word after a colon are
     * raised, each part of a hyphenated compound is a word (CMOS 8.161),
     * and a word that already holds a capital ("mRNA", "pH") is never
     * changed. */
    static const char *const cases[][2] = {
        {"the reading brain: differences between digital and print",
         "The Reading Brain: Differences between Digital and Print"},
        {"people at high risk of developing flu-related complications",
         "People at High Risk of Developing Flu-Related Complications"},
        {"mRNA vaccines and pH in the gut", "mRNA Vaccines and pH in the Gut"},
        {"what is it for", "What Is It For"},
        {"gout: an overview of self-care", "Gout: An Overview of Self-Care"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ms_buf_t b;
        ms_buf_init(&b);
        cite_headline(cases[i][0], &b);
        assert_string_equal(ms_buf_cstr(&b), cases[i][1]);
        ms_buf_free(&b);
    }
}

/* ---- lists and exports ---------------------------------------------------------- */

static json_t *two_citations(void) {
    json_t *a = json_loads(mccauley, 0, NULL);
    json_t *b = json_loads(
        "{\"index\":2,\"authors\":[\"Adams, Zoe\"],\"title\":\"Earlier & later_work\",\"journal\":"
        "\"J Test\",\"volume\":\"1\",\"pages\":\"5-9\",\"publication_date\":\"2001-03\","
        "\"pmid\":\"123\",\"context\":{\"mesh\":[\"Humans\",\"Gout\"]}}",
        0, NULL);
    json_t *c = json_loads(mccauley, 0, NULL); /* the same work again */
    json_object_set_new(c, "index", json_integer(3));
    return json_pack("[o,o,o]", a, b, c);
}

static void test_bibliography(void **state) {
    (void)state;
    json_t *cits = two_citations();
    json_t *apa = ms_cite_bibliography(cits, MS_CITE_APA, NULL);
    json_t *e = json_object_get(apa, "entries");
    assert_int_equal(json_array_size(e), 2); /* the repeated work appears once */
    /* Alphabetical: Adams before McCauley. */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "index")), 2);
    assert_true(json_is_null(json_object_get(json_array_get(e, 0), "number")));
    assert_string_equal(json_string_value(json_object_get(apa, "title")), "References");
    assert_false(json_is_true(json_object_get(apa, "numbered")));
    json_decref(apa);
    json_t *van = ms_cite_bibliography(cits, MS_CITE_VANCOUVER, NULL);
    e = json_object_get(van, "entries");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "number")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 1), "in_text")), "(2)");
    const char *text = json_string_value(json_object_get(van, "text"));
    assert_non_null(strstr(text, "1. McCauley SM, Christiansen MH."));
    assert_non_null(strstr(text, "\n2. Adams Z. Earlier & later_work. J Test. 2001 Mar;1:5-9.\n"));
    json_decref(van);
    json_t *mla = ms_cite_bibliography(cits, MS_CITE_MLA, NULL);
    assert_string_equal(json_string_value(json_object_get(mla, "title")), "Works Cited");
    json_decref(mla);
    json_decref(cits);
}

static void test_bibtex(void **state) {
    (void)state;
    json_t *cits = two_citations();
    ms_cite_date_t acc = {2024, 5, 1};
    char *bib = ms_cite_bibtex(cits, &acc);
    assert_non_null(strstr(bib, "@article{McCauley2019,\n"
                                "  author = {McCauley, Stewart M. and Christiansen, Morten H.},\n"
                                "  title = {{Language learning as language use: A crosslinguistic "
                                "model of child language development}},\n"
                                "  journal = {Psychological Review},\n  year = {2019},\n"
                                "  volume = {126},\n  number = {1},\n  pages = {1--51},\n"
                                "  doi = {10.1037/rev0000126}\n}\n"));
    /* LaTeX specials escaped; the second McCauley 2019 gets its own key. */
    assert_non_null(strstr(bib, "title = {{Earlier \\& later\\_work}}"));
    assert_non_null(strstr(bib, "month = mar"));
    assert_non_null(strstr(bib, "pmid = {123}"));
    assert_non_null(strstr(bib, "@article{McCauley2019a,"));
    int depth = 0;
    for (const char *p = bib; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
        assert_true(depth >= 0);
    }
    assert_int_equal(depth, 0);
    free(bib);
    json_decref(cits);
}

static void test_ris(void **state) {
    (void)state;
    json_t *cits = two_citations();
    char *ris = ms_cite_ris(cits, NULL);
    static const char head[] = "TY  - JOUR\r\nAU  - McCauley, Stewart M.\r\n"
                               "AU  - Christiansen, Morten H.\r\n";
    assert_true(!strncmp(ris, head, strlen(head)));
    assert_non_null(strstr(ris, "SP  - 1\r\nEP  - 51\r\nDO  - 10.1037/rev0000126\r\nER  - \r\n"));
    assert_non_null(strstr(ris, "DA  - 2001/03//\r\n"));
    assert_non_null(strstr(ris, "AN  - 123\r\nDB  - PubMed\r\n"));
    assert_non_null(strstr(ris, "KW  - Humans\r\nKW  - Gout\r\n"));
    /* Three records, each opened by TY and closed by ER. */
    int ty = 0, er = 0;
    for (const char *p = ris; (p = strstr(p, "\r\n")) != NULL; p += 2) {
        ty += !strncmp(p + 2, "TY  - ", 6);
        er += !strncmp(p - 6, "ER  - ", 6);
    }
    assert_int_equal(ty + 1, 3);
    assert_int_equal(er, 3);
    free(ris);
    json_decref(cits);
}

static void test_styles_and_bad_input(void **state) {
    (void)state;
    ms_cite_style_t s;
    assert_int_equal(ms_cite_parse_style("APA", &s), 0);
    assert_int_equal(s, MS_CITE_APA);
    assert_int_equal(ms_cite_parse_style("vancouver", &s), 0);
    assert_int_equal(ms_cite_parse_style("harvard", &s), MS_EINVAL);
    assert_int_equal(ms_cite_parse_style(NULL, &s), MS_EINVAL);
    ms_cite_date_t d;
    assert_int_equal(ms_cite_parse_date("2024-13-01", &d), MS_EINVAL);
    assert_int_equal(ms_cite_parse_date("2024-05-01T10:00:00.000Z", &d), 0);
    assert_int_equal(d.day, 1);
    ms_cite_ref_t r;
    json_t *notobj = json_string("x");
    assert_int_equal(ms_cite_format(notobj, MS_CITE_APA, NULL, &r), MS_EINVAL);
    json_decref(notobj);
    /* Every style copes with an empty object and with wrong member types. */
    for (int st = MS_CITE_APA; st <= MS_CITE_AMA; st++) {
        ms_cite_ref_t e = fmt("{}", (ms_cite_style_t)st, NULL);
        assert_true(strlen(e.text) > 0);
        ms_cite_ref_free(&e);
        e = fmt("{\"authors\":\"x\",\"title\":5,\"journal\":[],\"context\":7}", (ms_cite_style_t)st,
                "2024-01-01");
        ms_cite_ref_free(&e);
    }
    /* HTML output escapes what it quotes. */
    r = fmt("{\"title\":\"<script>x</script>\",\"url\":\"https://e.org/?a=1&b=\\\"2\"}",
            MS_CITE_APA, NULL);
    assert_null(strstr(r.html, "<script>"));
    assert_non_null(strstr(r.html, "&lt;script&gt;"));
    assert_non_null(strstr(r.html, "href=\"https://e.org/?a=1&amp;b=&quot;2\""));
    assert_non_null(strstr(r.markdown, "\\<script\\>"));
    ms_cite_ref_free(&r);
}

/* ---- PubMed import to citation ------------------------------------------------- */

typedef struct {
    char dir[64];
    ms_kb_t *kb;
} kbfx_t;

static int kb_setup(void **state) {
    kbfx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ms-test-cite-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(ms_kb_open(f->dir, &f->kb), 0);
    *state = f;
    return 0;
}

static int kb_teardown(void **state) {
    kbfx_t *f = *state;
    ms_kb_close(f->kb);
    assert_int_equal(ms_test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static char *write_tmp(kbfx_t *f, const char *name, const char *body, size_t n) {
    char *p = malloc(256);
    snprintf(p, 256, "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(body, 1, n, fp), n);
    fclose(fp);
    return p;
}

static int import_path(kbfx_t *f, const char *path, ms_kb_import_stats_t *st) {
    const char *paths[] = {path};
    return ms_kb_import_files(f->kb, MS_KB_PUBMED, paths, 1, NULL, NULL, st);
}

/* The one hit for query, as the answer's citation [1]. */
static json_t *cite_top(kbfx_t *f, const char *query, const char *want_id) {
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_find(f->kb, query, 3, &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, want_id);
    size_t cited = 0;
    json_t *c = ms_kb_citations(h, n, &cited, 1);
    ms_kb_hits_free(h, n);
    json_t *one = json_incref(json_array_get(c, 0));
    json_decref(c);
    return one;
}

static const char *js(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* tests/data/pubmed_sample.xml: a structured abstract, four authors (one
 * with a suffix, non-Latin and accented names), MedlinePgn, a MedlineDate,
 * a collective author, an article without an abstract and a book record. */
static void test_pubmed_import_to_citation(void **state) {
    kbfx_t *f = *state;
    ms_kb_import_stats_t st;
    assert_int_equal(import_path(f, MS_TEST_DATA "/pubmed_sample.xml", &st), 0);
    assert_int_equal(st.documents, 2);
    assert_int_equal(st.passages, 2);
    assert_int_equal(st.skipped, 2); /* no abstract; a book */

    json_t *c = cite_top(f, "tailored telephone counseling mammography HMO", "10808977");
    /* Seed 002's members, from the record. */
    assert_string_equal(js(c, "title"), "Tailored telephone counseling & print materials for "
                                        "mammography screening: a randomized trial.");
    assert_string_equal(js(c, "source_type"), "pubmed");
    assert_string_equal(js(c, "pmid"), "10808977");
    assert_string_equal(js(c, "doi"), "10.5555/medstream.test.0001");
    assert_string_equal(js(c, "journal"), "American journal of preventive medicine");
    assert_string_equal(js(c, "volume"), "18");
    assert_string_equal(js(c, "issue"), "4");
    assert_string_equal(js(c, "pages"), "284-7");
    assert_string_equal(js(c, "publication_date"), "2000-05-09");
    assert_string_equal(js(c, "url"), "https://pubmed.ncbi.nlm.nih.gov/10808977/");
    json_t *au = json_object_get(c, "authors");
    assert_int_equal(json_array_size(au), 4);
    assert_string_equal(json_string_value(json_array_get(au, 1)), "M\xc3\xbcller, J\xc3\xbcrgen");
    assert_string_equal(json_string_value(json_array_get(au, 3)), "Okafor, Chidi, Jr");
    json_int_t rel = json_integer_value(json_object_get(c, "relevance_score"));
    assert_true(rel > 0 && rel <= 100);
    assert_true(!strncmp(js(c, "quoted_text"), "Telephone counseling and tailored print", 39));
    json_t *ctx = json_object_get(c, "context");
    assert_string_equal(js(ctx, "journal_abbrev"), "Am J Prev Med");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ctx, "mesh"), 0)),
                        "Cost-Benefit Analysis");
    /* ... and the references they make. */
    ms_cite_date_t acc = {2024, 5, 1};
    ms_cite_ref_t r;
    assert_int_equal(ms_cite_format(c, MS_CITE_VANCOUVER, &acc, &r), 0);
    assert_string_equal(r.text,
                        "Rivera AM, M\xc3\xbcller J, \xce\xa0\xce\xb1\xcf\x80\xce\xb1"
                        "\xce\xb4\xce\xbf\xcf\x80\xce\xbf\xcf\x8d\xce\xbb\xce\xbf"
                        "\xcf\x85 \xce\x95, Okafor C Jr. Tailored telephone counseling & print "
                        "materials for mammography screening: a randomized trial. Am J Prev "
                        "Med. 2000 May 9;18(4):284-7. doi: 10.5555/medstream.test.0001.");
    ms_cite_ref_free(&r);
    assert_int_equal(ms_cite_format(c, MS_CITE_APA, &acc, &r), 0);
    static const char apa_head[] = "Rivera, A. M., M\xc3\xbcller, J., ";
    assert_true(!strncmp(r.text, apa_head, strlen(apa_head)));
    assert_non_null(strstr(r.text,
                           "& Okafor, C., Jr. (2000). Tailored telephone counseling & print "
                           "materials for mammography screening: A randomized trial. "
                           "American journal of preventive medicine, 18(4), 284\xe2\x80\x93"
                           "287. https://doi.org/10.5555/medstream.test.0001"));
    ms_cite_ref_free(&r);
    json_decref(c);

    c = cite_top(f, "double balloon enteroscopy community hospital", "23831910");
    assert_string_equal(js(c, "publication_date"), "2013-07"); /* MedlineDate "2013 Jul-Aug" */
    assert_string_equal(js(c, "pages"), "1103-1109");          /* StartPage, EndPage */
    assert_string_equal(js(c, "doi"), "10.5555/medstream.test.0002"); /* from ArticleIdList */
    assert_string_equal(js(json_object_get(c, "context"), "pmcid"), "PMC0000002");
    assert_int_equal(ms_cite_format(c, MS_CITE_CHICAGO, &acc, &r), 0);
    assert_string_equal(r.text, "Nakamura, Keiko, and Community Enteroscopy Study Group. 2013. "
                                "\xe2\x80\x9c"
                                "Double-Balloon Enteroscopy in a Community Hospital: A "
                                "Ten-Year Experience.\xe2\x80\x9d Journal of Community "
                                "Gastroenterology 7, no. 2 (July): 1103\xe2\x80\x93"
                                "9. "
                                "https://doi.org/10.5555/medstream.test.0002.");
    ms_cite_ref_free(&r);
    json_decref(c);
}

/* What a file must not be able to do: a root that is not PubMed, a file
 * cut off mid-record (the whole records before it stay), entity expansion
 * ("billion laughs") and external entities (XXE), an abstract far over the
 * limit. */
static void test_pubmed_hostile_input(void **state) {
    kbfx_t *f = *state;
    ms_kb_import_stats_t st;
    static const char other[] = "<?xml version=\"1.0\"?><Document id=\"1\"/>";
    char *p = write_tmp(f, "other.xml", other, sizeof other - 1);
    assert_int_equal(import_path(f, p, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "not a PubMed file"));
    free(p);

    static const char rec[] =
        "<PubmedArticle><MedlineCitation><PMID>%d</PMID><Article><ArticleTitle>Title %d"
        "</ArticleTitle><Abstract><AbstractText>%s</AbstractText></Abstract></Article>"
        "</MedlineCitation></PubmedArticle>";
    ms_buf_t b;
    ms_buf_init(&b);
    ms_buf_puts(&b, "<PubmedArticleSet>");
    ms_buf_printf(&b, rec, 111, 1, "Whole record about zebrafish fins.");
    ms_buf_puts(&b, "<PubmedArticle><MedlineCitation><PMID>222</PMID><Article><Abst");
    p = write_tmp(f, "cut.xml", b.data, b.len);
    assert_int_equal(import_path(f, p, &st), MS_EFORMAT);
    assert_non_null(strstr(ms_kb_errmsg(), "malformed PubMed XML"));
    free(p);
    json_t *c = cite_top(f, "zebrafish fins", "111");
    json_decref(c);

    ms_buf_reset(&b);
    ms_buf_puts(&b, "<?xml version=\"1.0\"?><!DOCTYPE PubmedArticleSet ["
                    "<!ENTITY a \"lollollollollollollollollollol\">"
                    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                    "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
                    "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
                    "<!ENTITY x SYSTEM \"file:///etc/passwd\">]><PubmedArticleSet>");
    ms_buf_printf(&b, rec, 333, 3, "Laughs &d; and secrets &x; about quokka habitats.");
    ms_buf_puts(&b, "</PubmedArticleSet>");
    p = write_tmp(f, "laughs.xml", b.data, b.len);
    int rc = import_path(f, p, &st);
    assert_true(rc == 0 || rc == MS_EFORMAT);
    free(p);
    ms_kb_hit_t *h = NULL;
    size_t n = 0;
    assert_int_equal(ms_kb_find(f->kb, "quokka habitats", 3, &h, &n), 0);
    for (size_t i = 0; i < n; i++) {
        assert_null(strstr(h[i].text, "lollol"));
        assert_null(strstr(h[i].text, "root:"));
    }
    ms_kb_hits_free(h, n);

    ms_buf_reset(&b);
    ms_buf_puts(&b, "<PubmedArticleSet>");
    ms_buf_t big;
    ms_buf_init(&big);
    for (int i = 0; i < 100000; i++)
        ms_buf_puts(&big, "walrus tusk ");
    ms_buf_printf(&b, rec, 444, 4, big.data);
    ms_buf_puts(&b, "</PubmedArticleSet>");
    p = write_tmp(f, "big.xml", b.data, b.len);
    assert_int_equal(import_path(f, p, &st), 0);
    free(p);
    assert_int_equal(ms_kb_find(f->kb, "walrus tusk", 1, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_true(strlen(h[0].text) <= (size_t)256 * 1024);
    assert_true(strlen(h[0].text) > (size_t)200 * 1024);
    ms_kb_hits_free(h, n);
    ms_buf_free(&big);
    ms_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apa_journal_article),
        cmocka_unit_test(test_apa_government_webpage),
        cmocka_unit_test(test_apa_undated_webpage),
        cmocka_unit_test(test_apa_no_author),
        cmocka_unit_test(test_apa_many_authors),
        cmocka_unit_test(test_mla_journal_article),
        cmocka_unit_test(test_mla_journal_article_short_pages),
        cmocka_unit_test(test_mla_webpage),
        cmocka_unit_test(test_mla_undated_webpage),
        cmocka_unit_test(test_mla_author_counts),
        cmocka_unit_test(test_chicago_journal_article),
        cmocka_unit_test(test_chicago_undated_webpage),
        cmocka_unit_test(test_chicago_many_authors_and_month),
        cmocka_unit_test(test_vancouver_journal_article),
        cmocka_unit_test(test_vancouver_more_than_six),
        cmocka_unit_test(test_vancouver_no_author),
        cmocka_unit_test(test_vancouver_homepage),
        cmocka_unit_test(test_vancouver_part_of_site),
        cmocka_unit_test(test_ama_journal_article),
        cmocka_unit_test(test_ama_no_author),
        cmocka_unit_test(test_ama_website),
        cmocka_unit_test(test_ama_website_no_author),
        cmocka_unit_test(test_ama_more_than_six),
        cmocka_unit_test(test_chicago_inclusive_numbers),
        cmocka_unit_test(test_mla_inclusive_numbers),
        cmocka_unit_test(test_pages_forms),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_headline),
        cmocka_unit_test(test_bibliography),
        cmocka_unit_test(test_bibtex),
        cmocka_unit_test(test_ris),
        cmocka_unit_test(test_styles_and_bad_input),
        cmocka_unit_test_setup_teardown(test_pubmed_import_to_citation, kb_setup, kb_teardown),
        cmocka_unit_test_setup_teardown(test_pubmed_hostile_input, kb_setup, kb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
