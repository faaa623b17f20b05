"""Structured citations (issue 12; ../shared/seeds/002_16d50485ef34fdcf.txt,
"Structured Citations" and "Advanced Citation Features"): PubMed/MEDLINE
XML import (`medstream kb import --format pubmed`), seed 002's fields on
every citation (message_complete, stored messages, the VoiceAssist
dialect), and GET /api/messages/{id}/citations with styles, BibTeX and
RIS (docs/protocol.md "Citations")."""

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dialect_util import dopen, recv, recv_until, send
from medstream_e2e import assert_error, child_env, medstream_bin, run

DATA = Path(__file__).resolve().parent.parent / "data"
PUBMED = DATA / "pubmed_sample.xml"
SEED_FIELDS = {"source_id", "source_type", "title", "url", "authors", "publication_date",
               "journal", "volume", "issue", "pages", "doi", "pmid", "relevance_score",
               "quoted_text", "context"}
Q_PUBMED = "Can tailored telephone counseling increase mammography use among HMO women?"
Q_GHR = "What are the signs and symptoms of Aarskog-Scott syndrome?"

# A MedQuAD document (the <Document id source url><Focus><QAPairs> shape of
# ../shared/data/medquad), written for this test: the source code GHR is
# what medstream's citations know the site and its owner by.
GHR_DOC = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000001" source="GHR" url="https://ghr.nlm.nih.gov/condition/aarskog-scott-syndrome">
<Focus>Aarskog-Scott syndrome</Focus>
<QAPairs><QAPair pid="2"><Question qid="0000001-2" qtype="symptoms">What are the signs and
symptoms of Aarskog-Scott syndrome ?</Question><Answer>Aarskog-Scott syndrome is a genetic
disorder that affects the development of many parts of the body, mainly in males. Signs and
symptoms of Aarskog-Scott syndrome include short stature, facial abnormalities such as widely
spaced eyes, and abnormalities of the hands and genitals.</Answer></QAPair></QAPairs></Document>
"""


@pytest.fixture(scope="module")
def cite_server(_module_servers):
    return _module_servers.start(word_interval_ms=0, kb=[("pubmed", PUBMED)])


@pytest.fixture(scope="module")
def ghr_server(_module_servers, tmp_path_factory):
    """MedQuAD and PubMed apart: a knowledge base that names conditions (a
    MedQuAD focus) abstains on questions naming none, as PubMed ones do."""
    d = tmp_path_factory.mktemp("cite-kb")
    ghr = d / "ghr.xml"
    ghr.write_text(GHR_DOC, encoding="utf-8")
    return _module_servers.start(word_interval_ms=0, kb=[("medquad", ghr)])


def chat(srv, token, conv_id, text):
    r = srv.api("POST", f"/api/conversations/{conv_id}/messages/chat", token,
                json={"text": text})
    assert r.status_code == 200, r.text[:500]
    return r.json()


@pytest.fixture(scope="module")
def answered(cite_server):
    """A user with a conversation holding a PubMed-cited answer."""
    u = cite_server.register()
    conv = cite_server.create_conversation(u["access_token"], "Citations")
    a1 = chat(cite_server, u["access_token"], conv["id"], Q_PUBMED)
    return {"user": u, "conv": conv, "pubmed": a1}


@pytest.fixture(scope="module")
def ghr_answered(ghr_server):
    u = ghr_server.register()
    conv = ghr_server.create_conversation(u["access_token"], "Web page")
    return {"user": u, "conv": conv, "ghr": chat(ghr_server, u["access_token"], conv["id"], Q_GHR)}


def cit_of(answer, source_id):
    cs = [c for c in answer["assistant_message"]["citations"] if c["source_id"] == source_id]
    assert cs, answer["assistant_message"]["citations"]
    return cs[0]


def test_pubmed_import_cli(tmp_path):
    """The importer reads PubmedArticleSet files, plain or gzip-compressed,
    and says what it skipped; a file that is not PubMed is refused clearly."""
    exe = medstream_bin()
    gz = tmp_path / "sample.xml.gz"
    gz.write_bytes(gzip.compress(PUBMED.read_bytes()))
    for path in (PUBMED, gz):
        d = tmp_path / ("data-" + path.name)
        r = subprocess.run([exe, "kb", "import", "--data-dir", str(d), "--format", "pubmed",
                            "-q", str(path)], capture_output=True, text=True, env=child_env(),
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert "imported 2 documents, 2 passages; skipped 2" in r.stdout, r.stdout
    bad = tmp_path / "bad.xml"
    bad.write_text("<?xml version='1.0'?><Document id='1'/>")
    r = subprocess.run([exe, "kb", "import", "--data-dir", str(tmp_path / "bad"), "--format",
                        "pubmed", "-q", str(bad)], capture_output=True, text=True,
                       env=child_env(), timeout=120)
    assert r.returncode != 0
    assert "not a PubMed file" in r.stderr, r.stderr


def test_seed_fields_on_every_citation(cite_server, answered):
    """Every citation carries seed 002's fields; a PubMed article's come from
    its record, and the stored message returns the same objects."""
    c = cit_of(answered["pubmed"], "10808977")
    assert set(c) >= SEED_FIELDS, sorted(c)
    assert c["title"] == ("Tailored telephone counseling & print materials for mammography "
                          "screening: a randomized trial.")
    assert c["authors"] == ["Rivera, Ana M", "Müller, Jürgen", "Παπαδοπούλου, Ελένη",
                            "Okafor, Chidi, Jr"]
    assert (c["journal"], c["volume"], c["issue"], c["pages"]) == (
        "American journal of preventive medicine", "18", "4", "284-7")
    assert c["publication_date"] == "2000-05-09" and c["year"] == 2000
    assert c["doi"] == "10.5555/medstream.test.0001" and c["pmid"] == "10808977"
    assert isinstance(c["relevance_score"], int) and 0 < c["relevance_score"] <= 100
    assert c["context"]["journal_abbrev"] == "Am J Prev Med"
    assert "Health Maintenance Organizations" in c["context"]["mesh"]
    stored = {m["id"]: m for m in cite_server.messages(answered["user"]["access_token"],
                                                       answered["conv"]["id"])}
    m = answered["pubmed"]["assistant_message"]
    assert stored[m["id"]]["citations"] == m["citations"]


def test_web_page_citation(ghr_server, ghr_answered):
    """A MedQuAD page: its title is the document's name (the focus), not the
    question; the site behind the source code is named."""
    g = cit_of(ghr_answered["ghr"], "GHR_0000001_Sec2")
    assert set(g) >= SEED_FIELDS, sorted(g)
    assert g["title"] == "Aarskog-Scott syndrome" and g["subtitle"] == "Symptoms"
    assert g["authors"] == [] and g["journal"] is None and g["publication_date"] is None
    assert g["context"]["site"] == "Genetics Home Reference"
    assert g["context"]["publisher"] == "National Library of Medicine"
    m = ghr_answered["ghr"]["assistant_message"]
    stored = ghr_server.message(ghr_answered["user"]["access_token"], ghr_answered["conv"]["id"],
                                m["id"])
    assert stored["citations"] == m["citations"]


def test_message_complete_and_voiceassist_carry_the_fields(cite_server, answered):
    token = answered["user"]["access_token"]

    async def go():
        ws = await dopen(cite_server, "/api/realtime/ws", token)
        assert (await recv(ws))["type"] == "connected"
        await send(ws, {"type": "message", "content": Q_PUBMED})
        frames = await recv_until(ws, lambda e: e["type"] in ("message_complete", "error"))
        await ws.close()
        return frames[-1]
    done = run(go())
    assert done["type"] == "message_complete", done
    c = [x for x in done["citations"] if x["source_id"] == "10808977"][0]
    assert set(c) >= SEED_FIELDS
    assert (c["volume"], c["issue"], c["pages"]) == ("18", "4", "284-7")
    assert c["publication_date"] == "2000-05-09"
    assert c["context"]["source_name"] == "PubMed" and c["context"]["journal_abbrev"]
    assert isinstance(c["relevance_score"], int) and 0 <= c["relevance_score"] <= 100


EXPECTED = {
    "vancouver": ("Rivera AM, Müller J, Παπαδοπούλου Ε, Okafor C Jr. Tailored telephone "
                  "counseling & print materials for mammography screening: a randomized trial. "
                  "Am J Prev Med. 2000 May 9;18(4):284-7. doi: 10.5555/medstream.test.0001."),
    "ama": ("Rivera AM, Müller J, Παπαδοπούλου Ε, Okafor C Jr. Tailored telephone counseling & "
            "print materials for mammography screening: a randomized trial. Am J Prev Med. "
            "2000;18(4):284-287. doi:10.5555/medstream.test.0001"),
    "apa": ("Rivera, A. M., Müller, J., Παπαδοπούλου, Ε., & Okafor, C., Jr. (2000). Tailored "
            "telephone counseling & print materials for mammography screening: A randomized "
            "trial. American journal of preventive medicine, 18(4), 284–287. "
            "https://doi.org/10.5555/medstream.test.0001"),
    "mla": ("Rivera, Ana M., et al. “Tailored Telephone Counseling & Print Materials for "
            "Mammography Screening: A Randomized Trial.” American Journal of Preventive "
            "Medicine, vol. 18, no. 4, May 2000, pp. 284-87, "
            "https://doi.org/10.5555/medstream.test.0001."),
    "chicago": ("Rivera, Ana M., Jürgen Müller, Ελένη Παπαδοπούλου, and Chidi Okafor Jr. 2000. "
                "“Tailored Telephone Counseling & Print Materials for Mammography Screening: A "
                "Randomized Trial.” American Journal of Preventive Medicine 18, no. 4 (May): "
                "284–87. https://doi.org/10.5555/medstream.test.0001."),
}
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def in_text(style, n):
    """Vancouver numbers in parentheses (ICMJE), AMA superscript numbers,
    the others author-date (four authors: the first and et al.)."""
    return {"vancouver": f"({n})", "ama": str(n).translate(SUPERSCRIPT),
            "apa": "(Rivera et al., 2000)", "mla": "(Rivera et al.)",
            "chicago": "(Rivera et al. 2000)"}[style]


@pytest.mark.parametrize("style", sorted(EXPECTED))
def test_styles(cite_server, answered, style):
    m = answered["pubmed"]["assistant_message"]
    r = cite_server.api("GET", f"/api/messages/{m['id']}/citations?style={style}",
                        answered["user"]["access_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message_id"] == m["id"] and body["style"] == style
    c = [x for x in body["citations"] if x["source_id"] == "10808977"][0]
    assert c["formatted"]["text"] == EXPECTED[style]
    assert c["in_text"] == in_text(style, c["index"])
    # Journal names in italics, except in Vancouver (Citing Medicine uses none).
    italic = style != "vancouver"
    assert ("<i>" in c["formatted"]["html"]) == italic
    assert ("*" in c["formatted"]["markdown"]) == italic
    bib = body["bibliography"]
    assert bib["style"] == style and bib["numbered"] == (style in ("vancouver", "ama"))
    assert bib["title"] == ("Works Cited" if style == "mla" else "References")
    assert EXPECTED[style] in bib["text"]


def test_style_default_and_web_page(ghr_server, ghr_answered):
    """No ?style= is APA; a MedQuAD page is cited as a web page of its site."""
    cite_server = ghr_server
    m = ghr_answered["ghr"]["assistant_message"]
    tok = ghr_answered["user"]["access_token"]
    day = m["created_at"][:10]
    body = cite_server.api("GET", f"/api/messages/{m['id']}/citations", tok).json()
    assert body["style"] == "apa"
    c = [x for x in body["citations"] if x["source_id"] == "GHR_0000001_Sec2"][0]
    assert c["formatted"]["text"].startswith(
        "National Library of Medicine. (n.d.). Aarskog-Scott syndrome. Genetics Home Reference. "
        "Retrieved ")
    assert c["formatted"]["text"].endswith(
        ", from https://ghr.nlm.nih.gov/condition/aarskog-scott-syndrome")
    body = cite_server.api("GET", f"/api/messages/{m['id']}/citations?style=vancouver",
                           tok).json()
    y, mo, d = day.split("-")
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    c = [x for x in body["citations"] if x["source_id"] == "GHR_0000001_Sec2"][0]
    assert c["formatted"]["text"] == (
        "Genetics Home Reference [Internet]. Bethesda (MD): National Library of Medicine (US); "
        f"[cited {y} {months[int(mo) - 1]} {int(d)}]. Aarskog-Scott syndrome. Available from: "
        "https://ghr.nlm.nih.gov/condition/aarskog-scott-syndrome")


def test_bibtex_and_ris(cite_server, answered):
    m = answered["pubmed"]["assistant_message"]
    tok = answered["user"]["access_token"]
    r = cite_server.api("GET", f"/api/messages/{m['id']}/citations?format=bibtex", tok)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-bibtex")
    assert r.headers["content-disposition"] == f'attachment; filename="citations-{m["id"]}.bib"'
    text = r.content.decode("utf-8")
    assert "@article{Rivera2000," in text
    assert ("author = {Rivera, Ana M. and Müller, Jürgen and Παπαδοπούλου, Ελένη and "
            "Okafor, Jr, Chidi}") in text
    assert "title = {{Tailored telephone counseling \\& print materials" in text
    assert "pages = {284--287}" in text and "doi = {10.5555/medstream.test.0001}" in text
    r = cite_server.api("GET", f"/api/messages/{m['id']}/citations?format=ris", tok)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-research-info-systems")
    lines = r.content.decode("utf-8").split("\r\n")
    assert lines[0] == "TY  - JOUR"
    for want in ("AU  - Rivera, Ana M", "AU  - Okafor, Chidi, Jr", "JO  - American journal of "
                 "preventive medicine", "J2  - Am J Prev Med", "PY  - 2000",
                 "DA  - 2000/05/09/", "VL  - 18", "IS  - 4", "SP  - 284", "EP  - 287",
                 "DO  - 10.5555/medstream.test.0001", "AN  - 10808977", "KW  - Humans"):
        assert want in lines, want
    assert lines[-2] == "ER  - " and lines[-1] == ""


def test_bad_input(cite_server, answered):
    m = answered["pubmed"]["assistant_message"]
    tok = answered["user"]["access_token"]
    err = assert_error(cite_server.api("GET", f"/api/messages/{m['id']}/citations?style=harvard",
                                       tok), 400, "invalid_request")
    assert "apa, mla, chicago, vancouver, ama" in err["message"]
    assert_error(cite_server.api("GET", f"/api/messages/{m['id']}/citations?format=docx", tok),
                 400, "invalid_request")
    assert_error(cite_server.api("GET", "/api/messages/not-a-uuid/citations", tok), 404,
                 "not_found")
    assert_error(cite_server.api("GET", "/api/messages/01a2f0f0-0000-7000-8000-000000000000"
                                 "/citations", tok), 404, "not_found")
    assert_error(cite_server.api("GET", f"/api/messages/{m['id']}/citations"), 401)
    assert_error(cite_server.api("POST", f"/api/messages/{m['id']}/citations", tok), 405)


def test_another_users_message_is_not_found(cite_server, answered):
    bob = cite_server.register()
    m = answered["pubmed"]["assistant_message"]
    for q in ("", "?style=mla", "?format=bibtex", "?format=ris"):
        assert_error(cite_server.api("GET", f"/api/messages/{m['id']}/citations{q}",
                                     bob["access_token"]), 404, "not_found")


def test_a_question_has_no_citations(cite_server, answered):
    um = answered["pubmed"]["user_message"]
    body = cite_server.api("GET", f"/api/messages/{um['id']}/citations?style=ama",
                           answered["user"]["access_token"]).json()
    assert body["citations"] == [] and body["bibliography"]["entries"] == []


def test_many_citations_limit(start_server, tmp_path):
    """A knowledge base of many PubMed records: every cited one is formatted,
    numbered as the answer's markers, within the number retrieval allows
    (kb_top_k)."""
    recs = []
    for i in range(40):
        recs.append(
            f"<PubmedArticle><MedlineCitation><PMID>{900000 + i}</PMID><Article><Journal>"
            f"<JournalIssue><Volume>{i + 1}</Volume><PubDate><Year>2020</Year></PubDate>"
            f"</JournalIssue><Title>Journal of tests</Title></Journal><ArticleTitle>Statin "
            f"therapy study {i}.</ArticleTitle><Abstract><AbstractText>Statin therapy lowers "
            f"cholesterol in adults in trial {i}. Statin therapy reduced events.</AbstractText>"
            f"</Abstract><AuthorList><Author><LastName>Author{i}</LastName><ForeName>Ann"
            f"</ForeName></Author></AuthorList></Article></MedlineCitation></PubmedArticle>")
    f = tmp_path / "many.xml"
    f.write_text("<PubmedArticleSet>" + "".join(recs) + "</PubmedArticleSet>")
    srv = start_server(word_interval_ms=0, kb_top_k=8, kb=[("pubmed", f)])
    u = srv.register()
    conv = srv.create_conversation(u["access_token"])
    a = chat(srv, u["access_token"], conv["id"], "Does statin therapy lower cholesterol?")
    cits = a["assistant_message"]["citations"]
    assert 1 <= len(cits) <= 8
    body = srv.api("GET", f"/api/messages/{a['assistant_message']['id']}/citations?style="
                   "vancouver", u["access_token"]).json()
    numbers = [e["number"] for e in body["bibliography"]["entries"]]
    assert numbers == [c["index"] for c in cits]
    for c in cits:
        assert f"[{c['index']}]" in a["assistant_message"]["content"]
