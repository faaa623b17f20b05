"""The built-in starter knowledge base (kb/starter.jsonl) on its own example
questions: the page's placeholder question, one per kind of question the
starter covers, a follow-up, and questions it must not answer. Needs no
shared data."""

import re

import pytest

from medstream_e2e import ask, connect, run

MARKER = re.compile(r" \[(\d+)\]")


@pytest.fixture(scope="module")
def starter(_module_servers):
    srv = _module_servers.start(word_interval_ms=0)
    return srv, srv.register()["access_token"]


def conversation(starter, *questions):
    srv, tok = starter

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


@pytest.mark.parametrize("question, focus, words", [
    # The example question the web page shows (ui/index.html).
    ("What are first-line treatments for hypertension?", "High blood pressure",
     ["first-line", "diuretics"]),
    ("What are the symptoms of type 1 diabetes?", "Type 1 diabetes", ["thirsty"]),
    ("What are the warning signs of a stroke?", "Stroke", ["numbness"]),
    ("How is asthma treated?", "Asthma", ["medicines"]),
    ("What causes migraines?", "Migraine", ["Triggers"]),
])
def test_starter_examples_answered_from_the_right_page(starter, question, focus, words):
    (c,) = conversation(starter, question)
    assert c["finish_reason"] == "stop", c["text"]
    titles = [x["title"] for x in c["citations"]]
    assert titles and titles[0] == focus, titles
    for w in words:
        assert w in c["text"], c["text"]
    assert "igraine" not in c["text"] or focus == "Migraine", c["text"]
    assert {int(m) for m in MARKER.findall(c["text"])} == {x["index"] for x in c["citations"]}


def test_starter_follow_up(starter):
    sym, treat = conversation(starter, "What are the symptoms of the flu?", "How is it treated?")
    for c in (sym, treat):
        assert c["finish_reason"] == "stop", c["text"]
        assert [x["title"] for x in c["citations"]][:1] == ["Flu"], c["citations"]


@pytest.mark.parametrize("question", [
    "How do I fix my car?",
    "What causes a computer virus to spread?",
    "Who won the FIFA World Cup in 2014?",
    "What are the side effects of metformin?",
])
def test_starter_does_not_answer_what_it_does_not_hold(starter, question):
    (c,) = conversation(starter, question)
    assert c["finish_reason"] == "no_context", c["text"]
    assert c["citations"] == []
