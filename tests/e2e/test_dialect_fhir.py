"""FHIR clinical agent dialect (Epic 003) at WS /ws?session_id=...
(docs/protocol.md, "FHIR clinical agent"), from
../shared/seeds/003_92d045eceafba133.txt ("WebSocket Message Protocol",
"Session isolation", test_multiple_concurrent_sessions,
test_websocket_session_isolation)."""

import asyncio
import json
import re
import uuid
from urllib.parse import quote

from dialect_util import (conversation_of, OVERFLOW_SERVER, assert_quiet, check_auth_policy, check_origin_policy,
                          closed_with, dopen, is_timestamp, is_uuid, overflow_queue, recv,
                          recv_until, send, send_oversized)
from medstream_e2e import expect_close, run


def _path(session):
    return f"/ws?session_id={quote(session, safe='')}"


def _final(ev):
    return (ev["type"] == "assistant" and ev["streaming"] is False) or ev["type"] == "error"


async def _connect(server, token, session, **kw):
    ws = await dopen(server, _path(session), token, **kw)
    hello = await recv(ws)
    assert hello == {"type": "connection", "status": "connected", "session_id": session}, hello
    return ws


async def _ask(ws, session, content):
    await send(ws, {"type": "message", "session_id": session, "content": content})
    return await recv_until(ws, _final)


def _check_turn(frames, session):
    """tool_call, tool_result, openai_call, assistant (streaming) ...,
    openai_response, assistant (streaming) ..., assistant (final)."""
    for f in frames:
        assert f["session_id"] == session, f"frame of another session: {f}"
    letters = "".join({"tool_call": "c", "tool_result": "r", "openai_call": "o",
                       "openai_response": "p", "assistant": "a"}.get(f["type"], "?")
                      for f in frames)
    assert re.fullmatch(r"croa+pa+", letters), f"event order {letters}: {frames[:4]}"
    call, result, ocall = frames[0], frames[1], frames[2]
    assert set(call) == {"type", "session_id", "tool_call_id", "tool_name", "arguments",
                         "timestamp"}, call
    assert call["tool_name"] == "kb_search" and isinstance(call["arguments"], dict)
    assert set(result) == {"type", "session_id", "tool_call_id", "tool_name", "result",
                           "duration_ms", "timestamp"}, result
    assert result["tool_call_id"] == call["tool_call_id"]
    assert isinstance(result["result"], str) and "count" in json.loads(result["result"])
    assert isinstance(result["duration_ms"], int) and result["duration_ms"] >= 0
    keys = {"type", "session_id", "model", "prompt_tokens", "completion_tokens", "total_tokens",
            "duration_ms", "timestamp"}
    assert set(ocall) == keys and ocall["model"] == "offline", ocall
    assert ocall["prompt_tokens"] is None and ocall["duration_ms"] is None
    oresp = next(f for f in frames if f["type"] == "openai_response")
    assert set(oresp) == keys and oresp["model"] == "offline", oresp
    assert oresp["prompt_tokens"] > 0 and oresp["completion_tokens"] > 0
    assert oresp["total_tokens"] == oresp["prompt_tokens"] + oresp["completion_tokens"]
    assert isinstance(oresp["duration_ms"], int) and oresp["duration_ms"] >= 0
    for f in (call, result, ocall, oresp):
        assert is_timestamp(f["timestamp"]), f
    parts = [f for f in frames if f["type"] == "assistant"]
    final = parts[-1]
    assert all(p["streaming"] is True for p in parts[:-1])
    for p in parts[:-1]:
        assert set(p) == {"type", "session_id", "content", "streaming"}, p
    assert "".join(p["content"] for p in parts[:-1]) == final["content"]
    assert is_uuid(final["message_id"]) and isinstance(final["citations"], list)
    return final


def test_connection_and_message_event_by_event(server, user):
    tok = user["access_token"]
    session = str(uuid.uuid4())

    async def go():
        ws = await _connect(server, tok, session)
        frames = await _ask(ws, session, "What are the symptoms of asthma?")
        await assert_quiet(ws)
        await ws.close()
        return frames
    final = _check_turn(run(go()), session)
    assert "asthma" in final["content"].lower() and final["citations"]
    assert final["content"].rstrip().split("\n\n")[-1].lower().startswith("medical disclaimer")
    # The session's conversation (derived with the server's key) holds it.
    msgs = server.messages(tok, conversation_of(server, tok, final["message_id"]))
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[1]["id"] == final["message_id"] and msgs[1]["content"] == final["content"]


def test_message_sent_before_the_greeting_is_answered_after_it(server, user):
    """The session is checked before the greeting; a message sent at once
    waits for it (the server reads nothing meanwhile)."""
    session = str(uuid.uuid4())

    async def go():
        ws = await dopen(server, _path(session), user["access_token"])
        await send(ws, {"type": "message", "session_id": session, "content": "What is asthma?"})
        hello = await recv(ws)
        frames = await recv_until(ws, _final)
        await ws.close()
        return hello, frames
    hello, frames = run(go())
    assert hello == {"type": "connection", "status": "connected", "session_id": session}, hello
    _check_turn(frames, session)


def test_concurrent_sessions_are_isolated(server):
    alice, bob = server.register(), server.register()
    plan = [(alice, str(uuid.uuid4()), "What are the symptoms of asthma?", "asthma"),
            (alice, "bedside-tablet-3", "What are the symptoms of diabetes?", "diabetes"),
            (bob, str(uuid.uuid4()), "What are the symptoms of acromegaly?", "acromegaly")]

    async def one(u, session, question):
        ws = await _connect(server, u["access_token"], session)
        frames = await _ask(ws, session, question)
        await assert_quiet(ws, 0.5)
        await ws.close()
        return frames

    async def go():
        return await asyncio.gather(*(one(u, s, q) for u, s, q, _w in plan))
    results = run(go())
    finals = []
    for (u, session, question, word), frames in zip(plan, results):
        final = _check_turn(frames, session)
        # The retrieval each session saw was for its own question.
        assert frames[0]["arguments"]["query"] == question, frames[0]
        assert word in final["content"].lower(), (session, final["content"][:200])
        finals.append(final["message_id"])
    assert len(set(finals)) == 3
    conv0 = conversation_of(server, alice["access_token"], finals[0])
    stored = server.messages(alice["access_token"], conv0)
    assert [m["content"] for m in stored if m["role"] == "user"] == [plan[0][2]]
    assert stored[1]["id"] == finals[0]
    # Alice's two sessions are two conversations; Bob sees neither.
    convs = server.api("GET", "/api/conversations", alice["access_token"]).json()["conversations"]
    assert conv0 in {c["id"] for c in convs} and len(convs) == 2
    assert server.api("GET", f"/api/conversations/{conv0}",
                      bob["access_token"]).status_code == 404


def test_message_for_another_session_is_refused(server, user):
    tok = user["access_token"]
    s1, s2 = str(uuid.uuid4()), str(uuid.uuid4())

    async def go():
        w1 = await _connect(server, tok, s1)
        w2 = await _connect(server, tok, s2)
        await send(w1, {"type": "message", "session_id": s2, "content": "What is asthma?"})
        err = await recv(w1)
        assert err["type"] == "error" and err["session_id"] == s1, err
        assert "session_id" in err["error"]
        await assert_quiet(w2, 1.0)
        for msg, word in [({"type": "bogus"}, "Unknown message type"),
                          ({"type": "message", "session_id": s1}, "content"),
                          ({"type": "message", "content": "hi"}, "session_id")]:
            await send(w1, msg)
            e = await recv(w1)
            assert set(e) == {"type", "session_id", "error"} and word in e["error"], (msg, e)
        await send(w1, {"type": "ping"})
        assert (await recv(w1))["type"] == "pong"
        await w1.close()
        await w2.close()
    run(go())
    # Nothing was asked in s2: its conversation was never created.
    assert server.api("GET", f"/api/conversations/{s2}", tok).status_code == 404


def test_session_reconnects_to_its_conversation(server, user):
    tok = user["access_token"]
    session = "patient-42-review"

    async def go():
        ids = []
        for q in ("What is asthma?", "How is asthma treated?"):
            ws = await _connect(server, tok, session)
            final = _check_turn(await _ask(ws, session, q), session)
            ids.append(final["message_id"])
            await ws.close()
        return ids
    ids = run(go())
    convs = server.api("GET", "/api/conversations", tok).json()["conversations"]
    conv = next(c for c in convs if c["message_count"] == 4)
    assert [m["id"] for m in server.messages(tok, conv["id"]) if m["role"] == "assistant"] == ids


def test_same_session_for_two_users_is_two_conversations(server):
    """A session name (UUID or not) is scoped to its owner: Bob using
    Alice's session id gets a conversation of his own, Alice's is
    untouched, and Alice is never refused (no session squatting)."""
    a, b = server.register(), server.register()
    session = str(uuid.uuid4())

    async def turn(u, question):
        ws = await _connect(server, u["access_token"], session)
        final = _check_turn(await _ask(ws, session, question), session)
        await ws.close()
        return final
    fb = run(turn(b, "What is gout?"))  # Bob first, trying to take it
    fa = run(turn(a, "What is asthma?"))
    ca = conversation_of(server, a["access_token"], fa["message_id"])
    cb = conversation_of(server, b["access_token"], fb["message_id"])
    assert ca != cb
    assert [m["content"] for m in server.messages(a["access_token"], ca)
            if m["role"] == "user"] == ["What is asthma?"]
    assert server.api("GET", f"/api/conversations/{ca}", b["access_token"]).status_code == 404
    closed_with(server, "/ws", 4000, a["access_token"])  # no session_id
    closed_with(server, "/ws?session_id=", 4000, a["access_token"])


def test_handshake_policy_is_the_native_one(server, user):
    check_auth_policy(server, user, _path("s-policy"))
    check_origin_policy(server, user, _path("s-policy"))

    async def go():
        ws = await _connect(server, user["access_token"], "s-policy", via="bearer")
        assert await send_oversized(ws) == 1009
        ws = await dopen(server, _path("s-policy"), user["access_token"], via="query")
        await recv(ws)
        await ws.send("[1, 2]")
        code, events = await expect_close(ws)
        assert code == 4000, (code, events)
    run(go())


def test_slow_reader_is_closed_1008(start_server):
    srv = start_server(**OVERFLOW_SERVER)
    u = srv.register()

    async def go():
        ws = await _connect(srv, u["access_token"], "s-slow")
        return await overflow_queue(ws, {"type": "message", "session_id": "s-slow",
                                         "content": "What is asthma?"})
    assert run(go()) == 1008
