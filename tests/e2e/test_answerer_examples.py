"""The examples of issue 11, asked of the offline answerer with MedQuAD
imported, as a new user would: each must behave as a careful clinician
expects. Skipped when ../shared/data/medquad is not next to the repo."""

import re

import pytest

from medstream_e2e import REPO_ROOT, ask, connect, run

MEDQUAD = REPO_ROOT.parent / "shared" / "data" / "medquad" / "medquad-xml.tar.gz"
MARKER = re.compile(r" \[(\d+)\]")


@pytest.fixture(scope="module")
def mq(_module_servers):
    if not MEDQUAD.is_file():
        pytest.skip(f"MedQuAD archive not found at {MEDQUAD}: the shared data set is not "
                    "installed next to the repo, so the answerer's MedQuAD examples cannot run")
    srv = _module_servers.start(word_interval_ms=0, kb=[("medquad", MEDQUAD)])
    return srv, srv.register()["access_token"]


def conversation(mq, *questions):
    """Asks the questions in one conversation; returns the message_complete
    events."""
    srv, tok = mq

    async def go():
        ws, _ = await connect(srv, tok)
        out, cid = [], None
        for q in questions:
            st = await ask(ws, q, cid)
            cid = st.start["conversation_id"]
            out.append(st.complete)
        await ws.close()
        return out

    return run(go())


def body(c):
    """The answer without the disclaimer."""
    t = c["text"]
    d = c.get("disclaimer") or ""
    return t[: -len(d)].rstrip() if d and t.endswith(d) else t


def check_citations(c):
    """Markers match the citations' indexes; one citation per document; the
    title is the document's name, not MedQuAD's raw question."""
    cites = c["citations"]
    assert {int(m) for m in MARKER.findall(body(c))} == {x["index"] for x in cites}, c
    docs = [re.sub(r"_Sec\d+$", "", x["source_id"]) for x in cites]
    assert len(docs) == len(set(docs)), docs
    for x in cites:
        assert not x["title"].startswith(("What ", "Who ", "How ", "Is ")), x["title"]
        assert "?" not in x["title"], x["title"]
        assert x.get("subtitle"), x


@pytest.mark.parametrize("question", [
    "How do I fix my car?",
    "How do I treat a red wine stain on a carpet?",
    "What causes a computer virus to spread?",
    "Who won the FIFA World Cup in 2014?",
])
def test_off_topic_questions_are_not_answered(mq, question):
    (c,) = conversation(mq, question)
    assert c["finish_reason"] == "no_context", body(c)
    assert c["citations"] == []
    # A helpful line: what the knowledge base covers, and what to do.
    assert "knowledge base" in body(c) and "clinician" in body(c), body(c)


@pytest.mark.parametrize("question, drug, what", [
    ("What are the side effects of metformin?", "Metformin", "side effects"),
    ("What is the amoxicillin dose for a child?", "Amoxicillin", "dose"),
])
def test_drug_questions_without_drug_text_say_so(mq, question, drug, what):
    (c,) = conversation(mq, question)
    assert c["finish_reason"] == "no_context", body(c)
    assert c["citations"] == []
    t = body(c)
    assert drug in t and what in t and "does not hold" in t, t
    # Nothing quoted from a neighbouring topic (diabetes prevention, a
    # child's toothpaste), and where to look instead.
    assert "[1]" not in t and "diabetes" not in t.lower() and "fluoride" not in t, t
    assert "medlineplus" in t.lower() and "pharmacist" in t, t


def test_shingles_treatment_has_no_video_instructions(mq):
    (c,) = conversation(mq, "What are the treatments for shingles?")
    assert c["finish_reason"] == "stop"
    t = body(c)
    assert "shingles" in t.lower()
    assert "video" not in t.lower() and "click" not in t.lower(), t
    check_citations(c)
    assert any(x["title"].lower() == "shingles" for x in c["citations"]), c["citations"]


def test_gout_answers_quote_no_navigation_or_dangling_reference(mq):
    what, risk = conversation(mq, "What is gout?", "What are the risk factors for gout?")
    for c in (what, risk):
        assert c["finish_reason"] == "stop", body(c)
        t = body(c)
        assert "Key Words" not in t and "more information" not in t, t
        check_citations(c)
    # "These risk factors are associated with gout." only as the lead-in
    # of the factors it names.
    t = body(risk)
    i = t.find("These risk factors")
    assert i < 0 or t[i:].split("\n")[1].startswith("- "), t
    assert any(x["title"] == "Gout" for x in what["citations"]), what["citations"]


def test_graves_answer_opens_with_a_sentence(mq):
    (c,) = conversation(mq, "What are the symptoms of Graves disease?")
    assert c["finish_reason"] == "stop"
    first = body(c).split("\n")[0]
    assert first.rstrip(" [0123456789]").endswith((".", ":")) and "Graves" in first, first
    check_citations(c)


def test_lyme_answer_has_no_unresolved_reference(mq):
    (c,) = conversation(mq, "How is Lyme disease diagnosed?")
    assert c["finish_reason"] == "stop"
    t = body(c)
    i = t.find("a different lab test")
    assert i < 0 or "test" in t[:i].replace("a different lab test", ""), t
    check_citations(c)


def test_follow_ups_remember_the_condition(mq):
    sym, treat, comp = conversation(mq, "What are the symptoms of acromegaly?",
                                    "How is it treated?", "What are the complications?")
    for c in (sym, treat, comp):
        assert c["finish_reason"] == "stop", body(c)
        check_citations(c)
        assert all(x["title"] == "Acromegaly" for x in c["citations"]), c["citations"]
        assert "acromegaly" in body(c).lower() or "pituitary" in body(c).lower(), body(c)
    assert "AIDS" not in body(comp)
