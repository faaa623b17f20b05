"""Veda dialect at WS /ws/conversations/{conversation_id}?token=<JWT>
(docs/protocol.md, "Veda"), from ../shared/seeds/001_82a8a60d7cec0c9b.txt
(B07: "Streaming Protocol", "WebSocket Connection Flow", "Error Handling",
"Reconnect Handling & Idempotency", "Healthcare Disclaimer Integration",
"Non-Streaming API")."""

import asyncio
import time

import websockets.exceptions

from dialect_util import (OVERFLOW_SERVER, assert_quiet, check_auth_policy, check_origin_policy,
                          closed_with, dopen, is_timestamp, is_uuid, overflow_queue, recv,
                          recv_until, send, send_oversized)
from medstream_e2e import HEMO_QUESTION, drop, expect_close, new_cmid, run

# The seed's disclaimer text ("Healthcare Compliance").
VEDA_DISCLAIMER = ("\u26a0\ufe0f **Medical Disclaimer**: This information is for educational "
                   "purposes only and should not replace professional medical advice. Please "
                   "consult with a healthcare provider for medical concerns.")


def _path(conv_id):
    return f"/ws/conversations/{conv_id}"


def _done(ev):
    return ev["type"] in ("done", "error")


async def _ask(ws, text, cmid=None):
    msg = {"type": "message", "text": text}
    if cmid is not None:
        msg["client_message_id"] = cmid
    await send(ws, msg)
    return await recv_until(ws, _done)


def _check_stream(frames, conv_id):
    """chunk {messageId, data}* then done {messageId, message}; the chunks'
    data joined is the message's content."""
    chunks, done = frames[:-1], frames[-1]
    assert done["type"] == "done", done
    assert chunks and all(c["type"] == "chunk" for c in chunks), sorted({c["type"] for c in chunks})
    mid = done["messageId"]
    assert is_uuid(mid)
    for c in chunks:
        assert set(c) == {"type", "messageId", "data"}, c
        assert c["messageId"] == mid
    m = done["message"]
    assert m["id"] == mid and m["conversationId"] == conv_id and m["sender"] == "assistant"
    assert m["status"] == "complete" and is_timestamp(m["timestamp"])
    assert "".join(c["data"] for c in chunks) == m["content"]
    assert m["content"].endswith(m["disclaimer"]) and m["disclaimer"]
    return mid, m


def test_streaming_protocol_example(server, user):
    """The seed's example: message {text, client_message_id} → chunk, chunk,
    ... → done {messageId, message}; the database holds the thread."""
    tok = user["access_token"]
    conv = server.create_conversation(tok)

    async def go():
        ws = await dopen(server, _path(conv["id"]), tok)
        frames = await _ask(ws, "Hello, I have a health question: what is asthma?", new_cmid())
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        await assert_quiet(ws)
        await ws.close()
        return frames
    mid, m = _check_stream(run(go()), conv["id"])
    assert "asthma" in m["content"].lower()
    msgs = server.messages(tok, conv["id"])
    assert [x["role"] for x in msgs] == ["user", "assistant"]
    assert msgs[1]["id"] == mid and msgs[1]["content"] == m["content"]
    assert msgs[1]["status"] == "complete"


def test_message_sent_right_after_connecting(server, user):
    """The conversation is checked at connect; a message sent at once is
    answered once the check passed, and one for another user's
    conversation is never answered."""
    tok = user["access_token"]
    conv = server.create_conversation(tok)
    other = server.register()

    async def go():
        ws = await dopen(server, _path(conv["id"]), tok)
        await send(ws, {"type": "message", "text": "What is asthma?", "client_message_id": "c1"})
        frames = await recv_until(ws, _done)
        await ws.close()
        wo = await dopen(server, _path(conv["id"]), other["access_token"])
        try:
            await send(wo, {"type": "message", "text": "What is asthma?",
                            "client_message_id": "c2"})
        except websockets.exceptions.ConnectionClosed:
            pass  # already refused
        code, events = await expect_close(wo)
        assert code == 4003 and events == [], (code, events)
        return frames
    _check_stream(run(go()), conv["id"])
    assert len(server.messages(tok, conv["id"])) == 2


def test_close_codes(server):
    a, b = server.register(), server.register()
    ta, tb = a["access_token"], b["access_token"]
    conv_a = server.create_conversation(ta)
    closed_with(server, _path(conv_a["id"]), 4001)
    closed_with(server, _path(conv_a["id"]), 4001, "not-a-jwt")
    closed_with(server, _path(conv_a["id"]), 4003, tb)  # another user's
    closed_with(server, _path("00000000-0000-4000-8000-000000000000"), 4003, ta)  # none
    closed_with(server, _path("not-an-id"), 4003, ta)
    server.api("DELETE", f"/api/conversations/{conv_a['id']}", ta)
    closed_with(server, _path(conv_a["id"]), 4003, ta)  # deleted

    async def go():
        conv = server.create_conversation(ta)
        ws = await dopen(server, _path(conv["id"]), ta)
        await ws.send("{not json")
        code, events = await expect_close(ws)
        assert code == 4000, (code, events)
    run(go())


def test_errors_keep_the_connection(server, user):
    tok = user["access_token"]
    conv = server.create_conversation(tok)

    async def go():
        ws = await dopen(server, _path(conv["id"]), tok)
        for msg, word in [({"type": "fly"}, "Unknown message type"),
                          ({"type": "message"}, "text"),
                          ({"type": "message", "text": ""}, "text"),
                          ({"type": "message", "text": "x", "client_message_id": "c" * 129},
                           "client_message_id"),
                          ({"type": "resume", "conversationId": conv["id"]}, "lastMessageId"),
                          ({"type": "resume", "conversationId": conv["id"],
                            "lastMessageId": "nope"}, "lastMessageId")]:
            await send(ws, msg)
            err = await recv(ws)
            assert err["type"] == "error" and isinstance(err["error"], str), (msg, err)
            assert word in err["error"], (msg, err)
        # A message without client_message_id is still answered.
        _check_stream(await _ask(ws, "What is asthma?"), conv["id"])
        await ws.close()
    run(go())


def test_idempotency_by_client_message_id(server, user):
    tok = user["access_token"]
    conv = server.create_conversation(tok)
    cmid = new_cmid()

    async def go():
        ws = await dopen(server, _path(conv["id"]), tok)
        first = _check_stream(await _ask(ws, "What is asthma?", cmid), conv["id"])
        again = _check_stream(await _ask(ws, "What is asthma?", cmid), conv["id"])
        # Sent twice at once: one answer, followed twice.
        other = new_cmid()
        await send(ws, {"type": "message", "text": "What is diabetes?", "client_message_id": other})
        await send(ws, {"type": "message", "text": "What is diabetes?", "client_message_id": other})
        frames, dones = [], 0
        while dones < 2:
            ev = await recv(ws)
            frames.append(ev)
            dones += ev["type"] == "done"
        await ws.close()
        return first, again, frames
    first, again, frames = run(go())
    assert again[0] == first[0] and again[1]["content"] == first[1]["content"]
    assert len({f["messageId"] for f in frames}) == 1, "a repeated client_message_id is one answer"
    msgs = server.messages(tok, conv["id"])
    assert len(msgs) == 4, [m["content"][:40] for m in msgs]


def test_resume_after_a_dropped_connection(kb_server, kb_user):
    tok = kb_user["access_token"]
    conv = kb_server.create_conversation(tok)

    async def go():
        ws = await dopen(kb_server, _path(conv["id"]), tok)
        await send(ws, {"type": "message", "text": HEMO_QUESTION, "client_message_id": new_cmid()})
        seen = [await recv(ws) for _ in range(3)]
        assert [s["type"] for s in seen] == ["chunk"] * 3, seen
        drop(ws)
        mid = seen[0]["messageId"]
        ws = await dopen(kb_server, _path(conv["id"]), tok)
        await send(ws, {"type": "resume", "conversationId": conv["id"], "lastMessageId": mid})
        frames = await recv_until(ws, _done)
        await ws.close()
        return seen, frames
    seen, frames = run(go())
    mid, m = _check_stream(frames, conv["id"])
    assert mid == seen[0]["messageId"]
    # A Veda chunk has no offset: the answer is sent again from its start.
    assert [f["data"] for f in frames[:3]] == [s["data"] for s in seen]
    stored = kb_server.message(tok, conv["id"], mid)
    assert stored["content"] == m["content"] and stored["status"] == "complete"


def test_resume_after_the_stream_cache_expired(start_server):
    srv = start_server(word_interval_ms=0, replay_ttl_ms=200)
    u = srv.register()
    tok = u["access_token"]
    conv = srv.create_conversation(tok)

    async def go():
        ws = await dopen(srv, _path(conv["id"]), tok)
        mid, m = _check_stream(await _ask(ws, "What is asthma?", new_cmid()), conv["id"])
        await asyncio.sleep(1.5)
        await send(ws, {"type": "resume", "conversationId": conv["id"], "lastMessageId": mid})
        frames = await recv_until(ws, _done)
        # Resume naming another conversation is refused.
        await send(ws, {"type": "resume", "conversationId": "00000000-0000-4000-8000-000000000000",
                        "lastMessageId": mid})
        err = await recv(ws)
        await send(ws, {"type": "resume", "conversationId": conv["id"],
                        "lastMessageId": "00000000-0000-4000-8000-000000000000"})
        missing = await recv(ws)
        await ws.close()
        return m, frames, err, missing
    m, frames, err, missing = run(go())
    assert [f["type"] for f in frames] == ["done"], "from storage: the whole message at once"
    assert frames[0]["message"]["content"] == m["content"]
    assert err["type"] == "error" and "conversationId" in err["error"]
    assert missing["type"] == "error" and missing["code"] == "not_found", missing


def test_resume_of_another_users_message_is_not_found(server):
    a, b = server.register(), server.register()
    conv_a = server.create_conversation(a["access_token"])
    conv_b = server.create_conversation(b["access_token"])

    async def go():
        wa = await dopen(server, _path(conv_a["id"]), a["access_token"])
        mid, _m = _check_stream(await _ask(wa, "What is asthma?", new_cmid()), conv_a["id"])
        await wa.close()
        wb = await dopen(server, _path(conv_b["id"]), b["access_token"])
        await send(wb, {"type": "resume", "conversationId": conv_b["id"], "lastMessageId": mid})
        err = await recv(wb)
        assert err["type"] == "error" and err["code"] == "not_found", err
        await send(wb, {"type": "ping"})
        assert (await recv(wb))["type"] == "pong"
        await wb.close()
    run(go())


def test_disclaimer_in_streaming_and_non_streaming(start_server):
    srv = start_server(word_interval_ms=0, disclaimer=VEDA_DISCLAIMER)
    u = srv.register()
    tok = u["access_token"]
    conv = srv.create_conversation(tok)

    async def go():
        ws = await dopen(srv, _path(conv["id"]), tok)
        r = await _ask(ws, "What is asthma?", new_cmid())
        await ws.close()
        return r
    _mid, m = _check_stream(run(go()), conv["id"])
    assert m["content"].endswith(VEDA_DISCLAIMER) and m["disclaimer"] == VEDA_DISCLAIMER
    # The seed's non-streaming API: POST /api/conversations/{id}/messages/chat.
    cmid = new_cmid()
    body = {"text": "Hello, I have a health question: what is asthma?", "client_message_id": cmid}
    r = srv.api("POST", f"/api/conversations/{conv['id']}/messages/chat", tok, json=body)
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["user_message"]["content"] == body["text"]
    assert pair["user_message"]["client_message_id"] == cmid
    assert pair["assistant_message"]["content"].endswith(VEDA_DISCLAIMER)
    r2 = srv.api("POST", f"/api/conversations/{conv['id']}/messages/chat", tok, json=body)
    assert r2.json()["assistant_message"]["id"] == pair["assistant_message"]["id"]
    r3 = srv.api("POST", f"/api/conversations/{conv['id']}/messages/chat", tok,
                 json={"text": "What is diabetes?"})  # client_message_id is optional
    assert r3.status_code == 200
    assert len(srv.messages(tok, conv["id"])) == 6


def test_handshake_policy_is_the_native_one(server, user):
    conv = server.create_conversation(user["access_token"])
    check_auth_policy(server, user, _path(conv["id"]))
    check_origin_policy(server, user, _path(conv["id"]))

    async def go():
        ws = await dopen(server, _path(conv["id"]), user["access_token"], via="bearer")
        assert await send_oversized(ws) == 1009
        ws = await dopen(server, _path(conv["id"]), user["access_token"], via="ticket")
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
        await ws.close()
    run(go())


def test_slow_reader_is_closed_1008(start_server):
    srv = start_server(**OVERFLOW_SERVER)
    u = srv.register()
    conv = srv.create_conversation(u["access_token"])

    async def go():
        ws = await dopen(srv, _path(conv["id"]), u["access_token"])
        return await overflow_queue(ws, {"type": "message", "text": "What is asthma?"})
    started = time.monotonic()
    assert run(go()) == 1008
    assert time.monotonic() - started < 60
