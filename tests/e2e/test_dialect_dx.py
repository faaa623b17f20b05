"""Diagnosis streamer dialect at WS /ws/{user_id} (docs/protocol.md,
"Diagnosis streamer"), from ../shared/seeds/004_16d64397806ba63d.txt
("Message Routing", "Message Formats": progress, stream_chunk, complete,
error; the frontend example's switch on message.type)."""

from dialect_util import (OVERFLOW_SERVER, assert_quiet, check_auth_policy, check_origin_policy,
                          closed_with, dopen, is_timestamp, is_uuid, overflow_queue, recv,
                          recv_until, send, send_oversized)
from medstream_e2e import expect_close, run

# The seed's own example requests.
DIAGNOSIS = {"type": "diagnosis", "data": {
    "symptoms": [{"name": "fever", "severity": "moderate", "duration": "3 days"}],
    "vitals": {"temperature": 38.5, "heart_rate": 95, "blood_pressure": "130/80"},
    "history": {"age": 45, "sex": "male", "allergies": ["penicillin"]}}}
PRESCRIPTION = {"type": "prescription", "data": {
    "diagnosis": "Community-acquired pneumonia",
    "patient_info": {"age": 45, "weight": 75, "sex": "male"}, "allergies": ["penicillin"]}}


def _path(user):
    return f"/ws/{user['user']['id']}"


def _done(ev):
    return ev["type"] in ("complete", "error")


async def _chat(ws, question, **payload):
    await send(ws, {"type": "chat", "data": {"message": question, **payload}})
    return await recv_until(ws, _done)


def _check_chat(frames):
    """progress (received 5, knowledge_search 10, answer_generation 30),
    stream_chunk ..., progress (complete 100), complete {result}; every
    frame has a timestamp, as in the seed's examples."""
    for f in frames:
        assert is_timestamp(f.get("timestamp")), f
    progress = [f for f in frames if f["type"] == "progress"]
    assert [(p["stage"], p["progress"]) for p in progress] == [
        ("received", 5), ("knowledge_search", 10), ("answer_generation", 30), ("complete", 100)]
    for p in progress:
        assert set(p) == {"type", "stage", "progress", "message", "timestamp"}, p
        assert isinstance(p["message"], str) and p["message"]
    kinds = [f["type"] for f in frames]
    first_chunk = kinds.index("stream_chunk")
    assert kinds[:first_chunk] == ["progress"] * 3
    assert kinds[-2:] == ["progress", "complete"]
    chunks = frames[first_chunk:-2]
    assert all(c["type"] == "stream_chunk" and set(c) == {"type", "content", "timestamp"}
               for c in chunks), chunks[:3]
    result = frames[-1]["result"]
    assert set(frames[-1]) == {"type", "result", "timestamp"}
    assert "".join(c["content"] for c in chunks) == result["content"]
    assert is_uuid(result["message_id"]) and is_uuid(result["conversation_id"])
    assert result["content"].endswith(result["disclaimer"]) and result["disclaimer"]
    assert result["status"] == "complete" and isinstance(result["citations"], list)
    return result


def test_chat_event_by_event(server, user):
    async def go():
        ws = await dopen(server, _path(user), user["access_token"])
        r1 = _check_chat(await _chat(ws, "What are the symptoms of asthma?"))
        r2 = _check_chat(await _chat(ws, "How is it treated?"))
        await send(ws, {"type": "ping"})
        pong = await recv(ws)
        assert pong["type"] == "pong" and is_timestamp(pong["timestamp"])
        await assert_quiet(ws)
        await ws.close()
        return r1, r2
    r1, r2 = run(go())
    assert "asthma" in r1["content"].lower() and r1["citations"]
    assert r1["conversation_id"] == r2["conversation_id"], "one connection, one conversation"
    msgs = server.messages(user["access_token"], r1["conversation_id"])
    assert [m["id"] for m in msgs if m["role"] == "assistant"] == [r1["message_id"],
                                                                  r2["message_id"]]


def test_chat_payload_forms(server, user):
    async def go():
        ws = await dopen(server, _path(user), user["access_token"], via="bearer")
        for msg in ({"type": "chat", "data": {"content": "What is asthma?"}},
                    {"type": "chat", "message": "What is asthma?"},
                    {"type": "chat", "text": "What is asthma?"}):
            await send(ws, msg)
            _check_chat(await recv_until(ws, _done))
        await ws.close()
    run(go())


def test_diagnosis_and_prescription_run_the_workflows(server, user):
    """The seed's own requests are served (test_workflows.py checks them in
    depth); an unknown type and an empty chat still get the seed's error."""
    async def go():
        ws = await dopen(server, _path(user), user["access_token"])
        finals = []
        for msg in (DIAGNOSIS, PRESCRIPTION):
            await send(ws, msg)
            finals.append((await recv_until(ws, _done))[-1])
        errors = []
        # The seed's error example: an unknown type.
        await send(ws, {"type": "invalid_type"})
        errors.append(await recv(ws))
        await send(ws, {"type": "chat", "data": {}})
        errors.append(await recv(ws))
        # Still serving chat.
        _check_chat(await _chat(ws, "What is asthma?"))
        await ws.close()
        return finals, errors
    (diag, presc), (unknown, empty) = run(go())
    for done, word in ((diag, "diagnosis"), (presc, "prescription")):
        assert done["type"] == "complete", done
        assert done["result"]["workflow"] == word and done["result"]["disclaimer"]
        assert is_timestamp(done["timestamp"])
    assert unknown["type"] == "error" and unknown["error"] == "Unknown message type: invalid_type"
    assert empty["type"] == "error" and "message" in empty["error"]


def test_path_user_must_be_the_token_user(server):
    a, b = server.register(), server.register()
    closed_with(server, _path(a), 4003, b["access_token"])  # another user's id
    closed_with(server, "/ws/00000000-0000-4000-8000-000000000000", 4003, a["access_token"])
    closed_with(server, _path(a), 4001)
    closed_with(server, "/ws/user_123", 4001)  # an alias needs a token too


def test_seed_path_alias_acts_as_the_token_user(server):
    """The seed's client connects to /ws/user_123: not a user id, so an
    alias of the token's user. Its answers are stored as that user's, and
    another user's alias connection sees none of them."""
    a, b = server.register(), server.register()

    async def go(user):
        ws = await dopen(server, "/ws/user_123", user["access_token"])
        r = _check_chat(await _chat(ws, "What are the symptoms of asthma?"))
        await ws.close()
        return r
    ra = run(go(a))
    msgs = server.messages(a["access_token"], ra["conversation_id"])
    assert [m["id"] for m in msgs if m["role"] == "assistant"] == [ra["message_id"]]
    r = server.api("GET", f"/api/conversations/{ra['conversation_id']}", b["access_token"])
    assert r.status_code == 404
    rb = run(go(b))
    assert rb["conversation_id"] != ra["conversation_id"]


def test_handshake_policy_is_the_native_one(server, user):
    check_auth_policy(server, user, _path(user))
    check_origin_policy(server, user, _path(user))

    async def go():
        ws = await dopen(server, _path(user), user["access_token"], via="ticket")
        assert await send_oversized(ws) == 1009
        ws = await dopen(server, _path(user), user["access_token"])
        await ws.send("\"chat\"")
        code, events = await expect_close(ws)
        assert code == 4000, (code, events)
    run(go())


def test_slow_reader_is_closed_1008(start_server):
    srv = start_server(**OVERFLOW_SERVER)
    u = srv.register()

    async def go():
        ws = await dopen(srv, _path(u), u["access_token"])
        return await overflow_queue(ws, {"type": "chat", "data": {"message": "What is asthma?"}})
    assert run(go()) == 1008
