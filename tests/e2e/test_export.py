"""Conversation exports (issue 12; ../shared/seeds/002_16d50485ef34fdcf.txt,
"Export API"): GET /api/conversations/{id}/export?format=markdown|pdf and
the seed's GET /api/sessions/{id}/export/markdown and /export/pdf
(docs/protocol.md "Exports"). The PDF is read back with poppler's pdftotext
and pdfinfo: its text must be real text, non-Latin and accented names
included, with page numbers on every page."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from medstream_e2e import assert_error

DATA = Path(__file__).resolve().parent.parent / "data"
PUBMED = DATA / "pubmed_sample.xml"
TITLE = "Дмитрий Иванов — Ελένη Παπαδοπούλου: José’s follow-up"
QUESTIONS = ["Can tailored telephone counseling increase mammography use among HMO women?",
             "What is double-balloon enteroscopy used for in community hospitals?"]
HAVE_POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
needs_poppler = pytest.mark.skipif(not HAVE_POPPLER, reason="poppler-utils (pdftotext, pdfinfo) "
                                   "is not installed: apt-get install poppler-utils")


@pytest.fixture(scope="module")
def exp_server(_module_servers):
    return _module_servers.start(word_interval_ms=0, kb=[("pubmed", PUBMED)])


def chat(srv, token, conv_id, text):
    r = srv.api("POST", f"/api/conversations/{conv_id}/messages/chat", token,
                json={"text": text})
    assert r.status_code == 200, r.text[:500]
    return r.json()


@pytest.fixture(scope="module")
def convo(exp_server):
    u = exp_server.register()
    conv = exp_server.create_conversation(u["access_token"], TITLE)
    answers = [chat(exp_server, u["access_token"], conv["id"], q) for q in QUESTIONS]
    return {"user": u, "conv": conv, "answers": answers}


def pdf_text(data: bytes, tmp_path: Path, layout=True) -> str:
    p = tmp_path / "export.pdf"
    p.write_bytes(data)
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(p), "-"]
    return subprocess.run(args, capture_output=True, check=True, timeout=60).stdout.decode()


def pdf_pages(data: bytes, tmp_path: Path) -> int:
    p = tmp_path / "info.pdf"
    p.write_bytes(data)
    out = subprocess.run(["pdfinfo", str(p)], capture_output=True, check=True, timeout=60)
    return int(re.search(r"^Pages:\s+(\d+)", out.stdout.decode(), re.M).group(1))


def test_markdown_both_spellings(exp_server, convo):
    tok, cid = convo["user"]["access_token"], convo["conv"]["id"]
    a = exp_server.api("GET", f"/api/conversations/{cid}/export?format=markdown", tok)
    b = exp_server.api("GET", f"/api/sessions/{cid}/export/markdown", tok)
    for r in (a, b):
        assert r.status_code == 200, r.text[:300]
        assert r.headers["content-type"] == "text/markdown; charset=utf-8"
        assert r.headers["content-disposition"] == f'attachment; filename="conversation-{cid}.md"'
        assert r.headers["cache-control"] == "no-store"
    text = a.content.decode("utf-8")
    # Same document apart from the export time.
    strip = lambda t: re.sub(r"Exported.*UTC", "", t)
    assert strip(text) == strip(b.content.decode("utf-8"))
    # The metadata table.
    assert text.startswith("# " + TITLE.replace(":", ":") + "\n")
    for row in (f"| User | {convo['user']['email']} |", f"| Conversation | {cid} |",
                "| Messages | 4 |", "| Citation style | APA 7 |"):
        assert row in text, row
    assert re.search(r"\| Created \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \|", text)
    # Messages in order with their times; questions quoted.
    heads = re.findall(r"^### (\d+)\. (User|Assistant) — (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC",
                       text, re.M)
    assert [(h[0], h[1]) for h in heads] == [("1", "User"), ("2", "Assistant"), ("3", "User"),
                                             ("4", "Assistant")]
    assert "> " + QUESTIONS[0] in text
    # The tool calls and their results (the retrieval), kept with each answer.
    assert text.count("**Tool call:** `kb_search`") == 2
    assert f"(query: {QUESTIONS[0]})" in text
    assert re.search(r"\*\*Result:\*\* \d+ passages? found in [\d.]+ ms: ", text)
    assert '"query": "Can tailored telephone counseling' in text
    # References under the answers, numbered as their markers, and the list.
    assert "**References** (APA 7)" in text
    assert "1. Rivera, A. M., Müller, J., Παπαδοπούλου, Ε., & Okafor, C., Jr. (2000)." in text
    assert "## Bibliography" in text and "APA 7, 2 sources." in text
    # The disclaimer.
    assert "## Disclaimer\n\nMedical disclaimer: this information is for education only" in text


def test_markdown_style(exp_server, convo):
    tok, cid = convo["user"]["access_token"], convo["conv"]["id"]
    text = exp_server.api("GET", f"/api/sessions/{cid}/export/markdown?style=vancouver",
                          tok).content.decode()
    assert "| Citation style | Vancouver (ICMJE/NLM) |" in text
    assert ("1. Rivera AM, Müller J, Παπαδοπούλου Ε, Okafor C Jr. Tailored telephone counseling "
            "& print materials") in text
    # The bibliography numbers every source once, in order of first citation.
    bib = text.split("## Bibliography", 1)[1].split("## Disclaimer")[0]
    assert re.findall(r"^(\d+)\. ", bib, re.M) == ["1", "2"]


@needs_poppler
def test_pdf_both_spellings(exp_server, convo, tmp_path):
    tok, cid = convo["user"]["access_token"], convo["conv"]["id"]
    a = exp_server.api("GET", f"/api/conversations/{cid}/export?format=pdf&style=ama", tok)
    b = exp_server.api("GET", f"/api/sessions/{cid}/export/pdf?style=ama", tok)
    for r in (a, b):
        assert r.status_code == 200, r.text[:300]
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"] == f'attachment; filename="conversation-{cid}.pdf"'
        assert r.content.startswith(b"%PDF-1.")
    pages = pdf_pages(a.content, tmp_path)
    assert pages == int(a.headers["x-export-pages"]) >= 1
    flat = " ".join(pdf_text(a.content, tmp_path).split())
    # Real text: the title in three scripts, the user, the table, the
    # messages, tool calls, references, the disclaimer, page numbers.
    for want in ("Дмитрий Иванов", "Ελένη Παπαδοπούλου", "José’s follow-up",
                 convo["user"]["email"], "Citation style AMA 11", "Messages 4",
                 QUESTIONS[0], "Tool call kb_search", "Result",
                 "Rivera AM, Müller J, Παπαδοπούλου Ε, Okafor C Jr.",
                 "Bibliography", "Disclaimer", "Medical disclaimer: this information is for",
                 f"Page 1 of {pages}", f"Page {pages} of {pages}"):
        assert want in flat, want
    assert re.search(r"1 · User 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", flat)


@needs_poppler
def test_long_conversation_pages(start_server, tmp_path):
    """Many long messages: the text flows across page breaks, every page has
    its header and "Page n of N", and the export stays within its bounds."""
    srv = start_server(word_interval_ms=0, kb=[("pubmed", PUBMED)])
    u = srv.register()
    conv = srv.create_conversation(u["access_token"], "Long visit — Ærøskøbing clinic")
    para = ("Patient Zoë Ångström reports intermittent headaches with photophobia and nausea; "
            "she asks whether tailored telephone counseling would help her mammography "
            "follow-up. ") * 40
    marker = "ZZMARK{}ZZ"
    for i in range(12):
        chat(srv, u["access_token"], conv["id"], marker.format(i) + " " + para[:7000])
    r = srv.api("GET", f"/api/sessions/{conv['id']}/export/pdf", u["access_token"])
    assert r.status_code == 200, r.text[:300]
    pages = pdf_pages(r.content, tmp_path)
    assert pages >= 8, pages
    text = pdf_text(r.content, tmp_path, layout=False)
    per_page = text.split("\f")[:pages]
    assert len(per_page) == pages
    for n, page in enumerate(per_page, 1):
        assert f"Page {n} of {pages}" in page, n
        assert "Conversation export" in page
    flat = " ".join(text.split())
    for i in range(12):
        assert marker.format(i) in flat
    assert "Zoë Ångström" in flat and "Ærøskøbing" in flat
    md = srv.api("GET", f"/api/conversations/{conv['id']}/export", u["access_token"])
    assert md.status_code == 200 and md.content.decode().count("\n> ZZMARK") == 12


def test_limits(start_server, tmp_path):
    """Each bound is configurable and enforced with a 413 that names it."""
    srv = start_server(word_interval_ms=0, kb=[("pubmed", PUBMED)], export_max_messages=4,
                       export_max_pages=1, export_max_bytes=12000)
    u = srv.register()
    tok = u["access_token"]
    conv = srv.create_conversation(tok, "Bounds")
    chat(srv, tok, conv["id"], QUESTIONS[0])
    ok = srv.api("GET", f"/api/conversations/{conv['id']}/export?format=markdown", tok)
    assert ok.status_code == 200
    # A PDF over export_max_pages: a long question makes the second page.
    chat(srv, tok, conv["id"], "headache " * 850)
    err = assert_error(srv.api("GET", f"/api/sessions/{conv['id']}/export/pdf", tok), 413,
                       "too_large")
    assert "export_max_pages" in err["message"]
    assert srv.api("GET", f"/api/sessions/{conv['id']}/export/markdown", tok).status_code == 200
    # Over export_max_messages (4): six messages.
    chat(srv, tok, conv["id"], QUESTIONS[1])
    for path in (f"/api/sessions/{conv['id']}/export/markdown",
                 f"/api/conversations/{conv['id']}/export?format=pdf"):
        err = assert_error(srv.api("GET", path, tok), 413, "too_large")
        assert "6 messages" in err["message"] and "export_max_messages" in err["message"]
    # Over export_max_bytes.
    c2 = srv.create_conversation(tok, "Bytes")
    chat(srv, tok, c2["id"], "x" * 7000 + " headache")
    chat(srv, tok, c2["id"], "y" * 7000 + " migraine")
    err = assert_error(srv.api("GET", f"/api/sessions/{c2['id']}/export/markdown", tok), 413,
                       "too_large")
    assert "export_max_bytes" in err["message"]


def test_another_users_conversation_is_not_found(exp_server, convo):
    bob = exp_server.register()
    cid = convo["conv"]["id"]
    for path in (f"/api/conversations/{cid}/export", f"/api/conversations/{cid}/export?format=pdf",
                 f"/api/sessions/{cid}/export/markdown", f"/api/sessions/{cid}/export/pdf"):
        assert_error(exp_server.api("GET", path, bob["access_token"]), 404, "not_found")
        assert_error(exp_server.api("GET", path), 401, "unauthorized")


def test_bad_input(exp_server, convo):
    tok, cid = convo["user"]["access_token"], convo["conv"]["id"]
    err = assert_error(exp_server.api("GET", f"/api/conversations/{cid}/export?format=docx", tok),
                       400, "invalid_request")
    assert "markdown or pdf" in err["message"]
    for path in (f"/api/conversations/{cid}/export?style=harvard",
                 f"/api/sessions/{cid}/export/pdf?style=nope"):
        err = assert_error(exp_server.api("GET", path, tok), 400, "invalid_request")
        assert "apa, mla, chicago, vancouver, ama" in err["message"]
    for bad in ("not-a-uuid", "01a2f0f0-0000-7000-8000-000000000000"):
        assert_error(exp_server.api("GET", f"/api/sessions/{bad}/export/markdown", tok), 404,
                     "not_found")
    assert_error(exp_server.api("POST", f"/api/sessions/{cid}/export/pdf", tok), 405)


def test_empty_conversation(exp_server, convo, tmp_path):
    """A conversation with no messages still exports: metadata, no
    bibliography, the disclaimer."""
    tok = convo["user"]["access_token"]
    c = exp_server.create_conversation(tok, "Empty")
    md = exp_server.api("GET", f"/api/sessions/{c['id']}/export/markdown", tok).content.decode()
    assert "| Messages | 0 |" in md and "## Bibliography" not in md and "## Disclaimer" in md
    if HAVE_POPPLER:
        pdf = exp_server.api("GET", f"/api/sessions/{c['id']}/export/pdf", tok)
        assert pdf.status_code == 200 and pdf_pages(pdf.content, tmp_path) == 1
