"""The real MedQuAD collection (NIH question-answer pairs): import it, ask,
and get an answer that cites an NIH page. Skipped when the archive is not
there (../shared/data/medquad/medquad-xml.tar.gz next to the repo)."""

from urllib.parse import urlparse

import pytest

from medstream_e2e import REPO_ROOT, assert_complete_consistent, ask, connect, run

MEDQUAD = REPO_ROOT.parent / "shared" / "data" / "medquad" / "medquad-xml.tar.gz"


def _gov(url):
    host = (urlparse(url).hostname or "").lower()
    return host.endswith("nih.gov") or host.endswith(".gov")


@pytest.fixture(scope="module")
def medquad_server(_module_servers):
    if not MEDQUAD.is_file():
        pytest.skip(f"MedQuAD archive not found at {MEDQUAD}: the shared data set is not "
                    "installed next to the repo, so the MedQuAD end-to-end test cannot run")
    # Importing ~47k pairs takes a while (longer under ASan): one import per module.
    return _module_servers.start(word_interval_ms=0, kb=[("medquad", MEDQUAD)])


def test_kb_search_finds_nih_pages(medquad_server):
    tok = medquad_server.register()["access_token"]
    r = medquad_server.api("GET", "/api/kb/search", tok, params={"q": "acromegaly symptoms", "k": 10})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert res
    hits = [x for x in res if _gov(x["url"]) and
            "acromegaly" in (x["title"] + " " + x["text"]).lower()]
    assert hits, [(x["title"], x["url"]) for x in res]


def test_acromegaly_answer_cites_an_nih_page(medquad_server):
    tok = medquad_server.register()["access_token"]

    async def go():
        ws, _ = await connect(medquad_server, tok)
        st = await ask(ws, "What are the symptoms of acromegaly?")
        await ws.close()
        return st

    st = run(go())
    assert_complete_consistent(st)
    c = st.complete
    assert c["finish_reason"] == "stop", c["finish_reason"]
    assert c["citations"], "no citations"
    nih = [x for x in c["citations"]
           if _gov(x["url"]) and "acromegaly" in
           (x["title"] + " " + (x.get("quoted_text") or "")).lower()]
    assert nih, "no citation of a .gov / nih.gov page about acromegaly: " + repr(
        [(x["title"], x["url"]) for x in c["citations"]])
    assert "acromegaly" in c["text"].lower()
    # The stored message is the same answer.
    stored = medquad_server.message(tok, st.start["conversation_id"], st.message_id)
    assert stored["content"] == c["text"]
    assert stored["status"] == "complete"
