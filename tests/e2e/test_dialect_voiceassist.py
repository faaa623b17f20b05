"""VoiceAssist realtime dialect at WS /api/realtime/ws (docs/protocol.md,
"VoiceAssist realtime"), from ../shared/seeds/000_5294604a9c03af26.txt
(Phase 4, "Message Streaming Protocol") with the structured citations of
../shared/seeds/002_16d50485ef34fdcf.txt ("Structured Citations"), and the
frames of the reference peers in ../shared/peers."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from dialect_util import (OVERFLOW_SERVER, assert_quiet, check_auth_policy, check_origin_policy,
                          dopen, is_uuid, overflow_queue, recv, recv_until, send, send_oversized)
from medstream_e2e import expect_close, free_port, markers, run

PATH = "/api/realtime/ws"
QUESTION = "What are the symptoms of acromegaly?"


def _done(ev):
    return ev["type"] in ("message_complete", "error")


async def _connect(server, token, **kw):
    ws = await dopen(server, PATH, token, **kw)
    hello = await recv(ws)
    assert hello["type"] == "connected", hello
    return ws, hello


async def _ask(ws, content, **fields):
    await send(ws, {"type": "message", "content": content, **fields})
    return await recv_until(ws, _done)


def _check_answer(frames):
    """message_start, then message_chunk with chunk_index 0, 1, 2 ..., then
    message_complete whose content is the chunks' content joined."""
    start, chunks, done = frames[0], frames[1:-1], frames[-1]
    assert start["type"] == "message_start", frames[:3]
    assert is_uuid(start["message_id"]) and is_uuid(start["session_id"]), start
    assert done["type"] == "message_complete", done
    assert [c["type"] for c in chunks] == ["message_chunk"] * len(chunks), (
        "only message_chunk between message_start and message_complete: "
        f"{sorted({c['type'] for c in chunks})}")
    assert chunks, "no message_chunk"
    assert [c["chunk_index"] for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert set(c) == {"type", "message_id", "content", "chunk_index"}, c
        assert c["message_id"] == start["message_id"]
    assert done["message_id"] == start["message_id"]
    assert set(done) == {"type", "message_id", "content", "citations"}, sorted(done)
    assert "".join(c["content"] for c in chunks) == done["content"]
    return start, chunks, done


def test_connected_with_each_credential_form(server, user):
    """connected {client_id, protocol_version: "1.0", capabilities}."""
    async def go():
        for via in ("query", "bearer", "ticket"):
            ws, hello = await _connect(server, user["access_token"], via=via)
            assert set(hello) == {"type", "client_id", "protocol_version", "capabilities"}, hello
            assert is_uuid(hello["client_id"])
            assert hello["protocol_version"] == "1.0"
            assert hello["capabilities"] == ["text_streaming"]
            await ws.close()
    run(go())


def test_message_streams_start_chunks_complete(server, user):
    tok = user["access_token"]

    async def go():
        ws, _ = await _connect(server, tok)
        frames = await _ask(ws, QUESTION)
        await assert_quiet(ws)
        await ws.close()
        return frames
    start, chunks, done = _check_answer(run(go()))
    disclaimer = done["content"].rsplit("\n\n", 1)[-1]
    assert disclaimer.lower().startswith("medical disclaimer"), done["content"][-300:]
    assert "acromegaly" in done["content"].lower()
    assert done["citations"], "a grounded answer cites its sources"
    assert markers(done["content"]) <= {c["index"] for c in done["citations"]}
    # Persisted: the session's conversation holds the question and the answer.
    msgs = server.messages(tok, start["session_id"])
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[0]["content"] == QUESTION
    assert msgs[1]["id"] == start["message_id"]
    assert msgs[1]["content"] == done["content"] and msgs[1]["status"] == "complete"


def test_ping_pong_and_errors_keep_the_connection(server, user):
    cases = [
        ({"type": "nope"}, "Unknown message type"),
        ({"type": "message"}, "content"),
        ({"type": "message", "content": ""}, "content"),
        ({"type": "message", "content": 7}, "content"),
        ({"type": "message", "content": "a" * 8001}, "content"),
        ({"type": "message", "content": "What is asthma?", "session_id": 5}, "session_id"),
    ]

    async def go():
        ws, _ = await _connect(server, user["access_token"])
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        for msg, word in cases:
            await send(ws, msg)
            err = await recv(ws)
            assert err["type"] == "error", (msg, err)
            assert set(err["error"]) == {"code", "message"}, err
            assert err["error"]["code"] == "INVALID_MESSAGE", err
            assert word in err["error"]["message"], (msg, err)
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        _check_answer(await _ask(ws, "What is asthma?"))
        await ws.close()
    run(go())


def test_session_id_is_a_conversation_created_on_first_use(server):
    a, b = server.register(), server.register()
    ta, tb = a["access_token"], b["access_token"]

    async def go():
        ws, _ = await _connect(server, ta)
        s1, _c, d1 = _check_answer(await _ask(ws, "What is asthma?", session_id="ward-7"))
        s2, _c, _d = _check_answer(await _ask(ws, "And how is it treated?", session_id="ward-7"))
        assert s1["session_id"] == s2["session_id"], "one session, one conversation"
        # A conversation's own id works as a session id.
        conv = server.create_conversation(ta, "from REST")
        s3, _c, _d = _check_answer(await _ask(ws, "What is asthma?", session_id=conv["id"]))
        assert s3["session_id"] == conv["id"]
        await ws.close()
        # The same free-form name is another conversation for another user.
        wb, _ = await _connect(server, tb)
        s4, _c, _d = _check_answer(await _ask(wb, "What is asthma?", session_id="ward-7"))
        assert s4["session_id"] != s1["session_id"]
        # Another user's conversation id as a session name: only a name for
        # Bob, mapped to his own conversation; Alice's is neither reached nor
        # taken (session squatting is impossible).
        s5, _c, _d = _check_answer(await _ask(wb, "What is asthma?", session_id=conv["id"]))
        assert s5["session_id"] not in (conv["id"], s1["session_id"], s4["session_id"])
        await wb.close()
        return s1, conv
    s1, conv = run(go())
    msgs = server.messages(ta, s1["session_id"])
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 2
    assert len(server.messages(ta, conv["id"])) == 2
    r = server.api("GET", f"/api/conversations/{s1['session_id']}", b["access_token"])
    assert r.status_code == 404


def test_session_squatting_is_impossible(server):
    """Bob knows Alice's user id and uses her session names first (and a
    UUID she will use next): Alice is still served, in conversations of her
    own, and Bob's turns never reach them."""
    a, b = server.register(), server.register()
    future = str(uuid.uuid4())

    async def go():
        wb, _ = await _connect(server, b["access_token"])
        for name in ("default", a["user"]["id"], future):
            _check_answer(await _ask(wb, "What is asthma?", session_id=name))
        await wb.close()
        wa, _ = await _connect(server, a["access_token"])
        got = [_check_answer(await _ask(wa, "What is gout?", session_id=name))[0]
               for name in ("default", future)]
        await wa.close()
        return got
    starts = run(go())
    for st in starts:
        msgs = server.messages(a["access_token"], st["session_id"])
        assert [m["content"] for m in msgs if m["role"] == "user"] == ["What is gout?"], msgs
    mine = {c["id"] for c in server.api("GET", "/api/conversations",
                                        a["access_token"]).json()["conversations"]}
    theirs = {c["id"] for c in server.api("GET", "/api/conversations",
                                          b["access_token"]).json()["conversations"]}
    assert len(mine) == 2 and len(theirs) == 3 and not mine & theirs


def test_messages_without_session_share_the_connections_conversation(server, user):
    # clinical_context_id names one of the user's clinical contexts
    # (docs/protocol.md, "Clinical context"): it binds, and does not change
    # which conversation the message goes to.
    ctx = server.api("POST", "/api/clinical-contexts", user["access_token"],
                     json={"problems": ["Asthma"]}).json()

    async def go():
        ws, _ = await _connect(server, user["access_token"])
        s1, _c, _d = _check_answer(await _ask(ws, "What is asthma?"))
        s2, _c, _d = _check_answer(await _ask(ws, "What are its symptoms?",
                                              clinical_context_id=ctx["id"]))
        await ws.close()
        ws, _ = await _connect(server, user["access_token"])
        s3, _c, _d = _check_answer(await _ask(ws, "What is asthma?"))
        await ws.close()
        return s1, s2, s3
    s1, s2, s3 = run(go())
    assert s1["session_id"] == s2["session_id"]
    assert s3["session_id"] != s1["session_id"], "a new connection starts a new conversation"


def test_structured_citations(start_server, tmp_path):
    doc = {"id": "va-pubmed-1", "title": "Metformin-associated lactic acidosis",
           "text": ("Metformin-associated lactic acidosis is a rare but serious adverse effect "
                    "of metformin therapy. The risk of lactic acidosis with metformin rises in "
                    "patients with severe kidney impairment, liver disease or sepsis. Metformin "
                    "should be stopped when the estimated glomerular filtration rate falls "
                    "below 30 mL/min."),
           "url": "https://pubmed.ncbi.nlm.nih.gov/12345678/", "source": "PubMed",
           "pmid": "12345678", "doi": "10.1000/e2e.2021.42",
           "authors": ["Smith J", "Doe A"], "journal": "Journal of E2E Medicine", "year": 2021}
    kb = tmp_path / "va_kb.jsonl"
    kb.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    srv = start_server(word_interval_ms=0, kb=[("jsonl", kb)])
    u = srv.register()

    async def go():
        ws, _ = await _connect(srv, u["access_token"])
        frames = await _ask(ws, "What is the risk of lactic acidosis with metformin?")
        await ws.close()
        return frames
    _s, _c, done = _check_answer(run(go()))
    cites = [c for c in done["citations"] if c["source_id"] == "va-pubmed-1"]
    assert cites, done["citations"]
    c = cites[0]
    assert set(c) >= {"source_id", "source_type", "title", "url", "authors", "publication_date",
                      "journal", "volume", "issue", "pages", "doi", "pmid", "relevance_score",
                      "quoted_text", "context"}, sorted(c)
    assert c["title"] == doc["title"] and c["url"] == doc["url"]
    assert c["pmid"] == "12345678" and c["doi"] == doc["doi"]
    assert c["authors"] == ["Smith J", "Doe A"] and c["journal"] == doc["journal"]
    assert c["publication_date"] == "2021"
    assert c["volume"] is None and c["issue"] is None and c["pages"] is None
    assert isinstance(c["relevance_score"], int) and 0 <= c["relevance_score"] <= 100
    assert c["quoted_text"] and c["quoted_text"] in doc["text"]
    assert isinstance(c["context"], dict)
    assert f"[{c['index']}]" in done["content"]


def test_handshake_policy_is_the_native_one(server, user):
    check_auth_policy(server, user, PATH)
    check_origin_policy(server, user, PATH)

    async def go():
        ws, _ = await _connect(server, user["access_token"])
        await ws.send("this is not json")
        code, events = await expect_close(ws)
        assert code == 4000, (code, events)
        ws, _ = await _connect(server, user["access_token"])
        assert await send_oversized(ws) == 1009
    run(go())


def test_slow_reader_is_closed_1008(start_server):
    srv = start_server(**OVERFLOW_SERVER)
    u = srv.register()

    async def go():
        ws, _ = await _connect(srv, u["access_token"])
        return await overflow_queue(ws, {"type": "message", "content": "What is asthma?"})
    assert run(go()) == 1008


# ---- the same client against the reference peer ------------------------------

PEER = Path(__file__).resolve().parents[3] / "shared" / "peers" / "fastapi" / "server.py"


async def _peer_style_session(url):
    """What the benchmark client and the peers' users rely on, recorded as
    the sequence of (type, keys) with consecutive chunks collapsed."""
    import websockets
    seen = []
    ws = await websockets.connect(url, ping_interval=None, close_timeout=5)
    try:
        hello = await recv(ws)
        seen.append(hello)
        await send(ws, {"type": "message", "content": "What is asthma?"})
        frames = await recv_until(ws, _done)
        assert frames[-1]["type"] == "message_complete", frames[-1]
        idx = [f["chunk_index"] for f in frames if f["type"] == "message_chunk"]
        assert idx == list(range(len(idx)))
        text = "".join(f["content"] for f in frames if f["type"] == "message_chunk")
        assert text == frames[-1]["content"]
        seen += frames
        await send(ws, {"type": "ping"})
        seen.append(await recv(ws))
        await send(ws, {"type": "message"})
        seen.append(await recv(ws))
    finally:
        await ws.close()
    shape = []
    for f in seen:
        item = (f["type"], frozenset(f), frozenset(f["error"]) if f["type"] == "error" else None)
        if not shape or shape[-1][0] != "message_chunk" or item[0] != "message_chunk":
            shape.append(item)
    return shape


def test_frames_have_the_reference_peers_shape(start_server, tmp_path):
    if not PEER.exists():
        pytest.skip(f"no reference peer at {PEER}")
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "SYN_CHUNKS": "8", "SYN_CHUNK_BYTES": "16"}
    log = open(tmp_path / "peer.log", "wb")
    peer = subprocess.Popen([sys.executable, str(PEER)], env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert peer.poll() is None and time.monotonic() < deadline, "peer did not start"
            time.sleep(0.1)
        theirs = run(_peer_style_session(f"ws://127.0.0.1:{port}{PATH}"))
    finally:
        peer.terminate()
        peer.wait(timeout=10)
        log.close()
    srv = start_server(provider="synthetic", syn_chunks=8, syn_chunk_bytes=16)
    tok = srv.register()["access_token"]
    ours = run(_peer_style_session(f"{srv.ws_url}{PATH}?token={tok}"))
    assert [t for t, _k, _e in ours] == [t for t, _k, _e in theirs], (ours, theirs)
    for (t, our_keys, our_err), (_t, their_keys, their_err) in zip(ours, theirs):
        assert their_keys <= our_keys, f"{t}: the peer sends {sorted(their_keys - our_keys)} too"
        if t == "error":
            assert their_err <= our_err, (our_err, their_err)
