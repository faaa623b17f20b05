"""A streamed, cited, disclaimed answer over the native WebSocket protocol v1,
and what is stored for it (docs/protocol.md: Server to client; Streams, seq
and the disclaimer)."""

import time

from medstream_e2e import (CAPABILITIES, E2E_TITLES, E2E_URLS, HEMO_QUESTION, HEMO_URLS,
                           MENIERE_QUESTION, MENIERE_URL, NONSENSE_QUESTION, RFC3339_MS,
                           assert_complete_consistent, ask, connect, markers, new_cmid, ping,
                           run)

CITATION_FIELDS = {"index", "source_id", "source_type", "title", "url", "source_name",
                   "relevance_score", "quoted_text"}


def _check_disclaimer_streamed_last(st):
    """The text ends with the disclaimer, which is streamed as the last
    chunk(s) and sent alone in `disclaimer`."""
    c = st.complete
    disc = c["disclaimer"]
    assert isinstance(disc, str) and disc.strip(), c
    assert c["text"].endswith(disc), (c["text"][-300:], disc)
    deltas = [ch["delta"] for ch in st.chunks]
    for k in range(len(deltas) - 1, -1, -1):
        tail = "".join(deltas[k:])
        if tail.strip() == disc.strip():
            return
        if len(tail.strip()) > len(disc.strip()):
            break
    raise AssertionError(f"disclaimer {disc!r} is not streamed as the last chunk(s): "
                         f"last deltas {deltas[-8:]!r}")


def _check_citations(citations, text):
    assert isinstance(citations, list) and citations, "no citations"
    for c in citations:
        missing = CITATION_FIELDS - set(c)
        assert not missing, f"citation lacks {missing}: {c}"
        assert isinstance(c["index"], int)
        for k in ("title", "url", "source_id"):
            assert isinstance(c[k], str) and c[k], c
    idx = sorted(c["index"] for c in citations)
    assert idx == list(range(1, len(idx) + 1)), f"citation indices {idx}"
    assert 1 in markers(text), "no [1] marker in the answer"
    assert markers(text) == set(idx), (
        f"markers in the text {sorted(markers(text))} do not match citation indices {idx}")


def test_connected_event(kb_server, kb_user):
    async def go():
        ws, ev = await connect(kb_server, kb_user["access_token"])
        assert ev["protocol_version"] == 1
        assert ev["user_id"] == kb_user["user"]["id"]
        assert isinstance(ev["client_id"], str) and ev["client_id"]
        assert CAPABILITIES <= set(ev["capabilities"]), ev["capabilities"]
        pong = await ping(ws)
        assert abs(pong["ts"] - time.time() * 1000) < 3600_000  # server clock in ms, not s
        ws2, ev2 = await connect(kb_server, kb_user["access_token"])
        assert ev2["client_id"] != ev["client_id"]
        await ws.close()
        await ws2.close()
    run(go())


def test_stream_of_a_cited_answer(kb_server, kb_user):
    tok = kb_user["access_token"]

    async def go():
        ws, _ = await connect(kb_server, tok)
        cmid = new_cmid()
        st = await ask(ws, HEMO_QUESTION, client_message_id=cmid)
        # message_start first, then the tool call and its result, chunks, complete last.
        types = [e["type"] for e in st.events]
        assert types[0] == "message_start", types
        assert types[-1] == "message_complete", types
        s = st.start
        assert s["client_message_id"] == cmid
        for k in ("conversation_id", "message_id", "user_message_id"):
            assert isinstance(s[k], str) and s[k], s
        assert s["message_id"] != s["user_message_id"]

        assert len(st.tool_calls) >= 1 and len(st.tool_results) >= 1, types
        call = next(c for c in st.tool_calls if c["name"] == "kb_search")
        assert isinstance(call["tool_call_id"], str) and call["tool_call_id"]
        assert isinstance(call["arguments"]["query"], str) and call["arguments"]["query"]
        assert isinstance(call["arguments"]["k"], int) and call["arguments"]["k"] >= 1
        res = next(r for r in st.tool_results if r["tool_call_id"] == call["tool_call_id"])
        assert res["name"] == "kb_search"
        assert isinstance(res["duration_ms"], (int, float)) and res["duration_ms"] >= 0
        assert res["result"]["count"] >= 1
        assert len(res["result"]["top"]) >= 1
        for t in res["result"]["top"]:
            assert {"id", "title", "score"} <= set(t), t
            assert t["title"] in E2E_TITLES, t
        assert types.index("tool_call") < types.index("tool_result") < types.index("message_chunk")

        assert len(st.chunks) >= 5, f"only {len(st.chunks)} chunks"
        assert_complete_consistent(st)
        c = st.complete
        assert c["conversation_id"] == s["conversation_id"]
        assert c["finish_reason"] == "stop"
        assert c["status"] == "complete"
        assert c["usage"]["prompt_tokens"] > 0 and c["usage"]["completion_tokens"] > 0
        _check_disclaimer_streamed_last(st)
        _check_citations(c["citations"], c["text"])
        for cit in c["citations"]:
            assert cit["url"] in E2E_URLS and cit["title"] in E2E_TITLES, cit
        assert {cit["url"] for cit in c["citations"]} & HEMO_URLS, c["citations"]
        assert "hemochromatosis" in c["text"].lower()

        # Nothing else arrives for this message after message_complete.
        await ping(ws)
        await ws.close()
        return st

    st = run(go())
    conv_id = st.start["conversation_id"]
    msgs = kb_server.messages(tok, conv_id)
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    user_msg, asst = msgs
    assert user_msg["id"] == st.start["user_message_id"]
    assert user_msg["content"] == HEMO_QUESTION
    assert user_msg["status"] == "complete"
    assert user_msg["client_message_id"] == st.start["client_message_id"]
    assert asst["id"] == st.message_id
    assert asst["reply_to"] == user_msg["id"]
    assert asst["conversation_id"] == conv_id
    assert asst["status"] == "complete"
    assert asst["finish_reason"] == "stop"
    assert asst["content"].encode("utf-8") == st.complete["text"].encode("utf-8")
    assert RFC3339_MS.match(asst["created_at"]) and RFC3339_MS.match(asst["updated_at"]), asst
    stored = sorted(asst["citations"], key=lambda c: c["index"])
    sent = sorted(st.complete["citations"], key=lambda c: c["index"])
    assert [(c["index"], c["url"], c["source_id"], c["title"]) for c in stored] == \
           [(c["index"], c["url"], c["source_id"], c["title"]) for c in sent]

    conv = kb_server.api("GET", f"/api/conversations/{conv_id}", tok).json()
    # The first 60 characters (surrounding whitespace may be trimmed).
    assert conv["title"] == HEMO_QUESTION[:60].strip(), conv["title"]
    assert conv["message_count"] == 2


def test_non_ascii_text_is_byte_exact(kb_server, kb_user):
    """UTF-8 survives chunking: deltas never split a code point and the
    reassembled text equals complete.text and the stored content."""
    tok = kb_user["access_token"]

    async def go():
        ws, _ = await connect(kb_server, tok)
        st = await ask(ws, MENIERE_QUESTION)
        await ws.close()
        return st

    st = run(go())
    assert_complete_consistent(st)
    text = st.complete["text"]
    assert "Ménière" in text, text
    assert MENIERE_URL in {c["url"] for c in st.complete["citations"]}
    stored = kb_server.message(tok, st.start["conversation_id"], st.message_id)
    assert stored["content"].encode("utf-8") == text.encode("utf-8")
    conv = kb_server.api("GET", f"/api/conversations/{st.start['conversation_id']}", tok).json()
    # 60 characters, not bytes: no code point cut in half.
    assert conv["title"] == MENIERE_QUESTION[:60].strip(), conv["title"]


def test_follow_up_in_the_same_conversation(kb_server, kb_user):
    tok = kb_user["access_token"]

    async def go():
        ws, _ = await connect(kb_server, tok)
        first = await ask(ws, HEMO_QUESTION)
        conv = first.start["conversation_id"]
        second = await ask(ws, "How is hemochromatosis diagnosed with blood tests?",
                           conversation_id=conv)
        await ws.close()
        return first, second

    first, second = run(go())
    conv = first.start["conversation_id"]
    assert second.start["conversation_id"] == conv
    assert second.message_id != first.message_id
    assert_complete_consistent(second)
    msgs = kb_server.messages(tok, conv)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert [m["id"] for m in msgs] == [first.start["user_message_id"], first.message_id,
                                      second.start["user_message_id"], second.message_id]
    assert msgs[3]["content"] == second.complete["text"]
    assert kb_server.api("GET", f"/api/conversations/{conv}", tok).json()["message_count"] == 4


def test_question_without_matching_passages(kb_server, kb_user):
    async def go():
        ws, _ = await connect(kb_server, kb_user["access_token"])
        st = await ask(ws, NONSENSE_QUESTION)
        await ws.close()
        return st

    st = run(go())
    assert_complete_consistent(st)
    c = st.complete
    assert c["finish_reason"] == "no_context", c
    assert c["citations"] == []
    assert c["text"].endswith(c["disclaimer"])
    assert c["text"].strip() != c["disclaimer"].strip(), "says nothing besides the disclaimer"
    stored = kb_server.message(kb_user["access_token"], st.start["conversation_id"], st.message_id)
    assert stored["content"] == c["text"]


def test_permessage_deflate_client(kb_server, kb_user):
    """Browsers offer permessage-deflate: the stream works whether or not the
    server accepts it."""
    async def go():
        ws, _ = await connect(kb_server, kb_user["access_token"], compression="deflate")
        st = await ask(ws, HEMO_QUESTION)
        await ws.close()
        return st

    st = run(go())
    assert_complete_consistent(st)
    assert st.complete["finish_reason"] == "stop"
