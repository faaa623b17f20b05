"""client_message_id idempotency over the WebSocket and the REST chat
endpoint (docs/protocol.md: Idempotency)."""

import asyncio

from medstream_e2e import (E2E_KB, HEMO_QUESTION, MENIERE_QUESTION, assert_complete_consistent, collect,
                           connect, new_cmid, recv_event, run, send_message, Stream)


def _chat(srv, tok, conv_id, text, cmid=None):
    body = {"text": text}
    if cmid is not None:
        body["client_message_id"] = cmid
    r = srv.api("POST", f"/api/conversations/{conv_id}/messages/chat", tok, json=body)
    assert r.status_code == 200, f"chat: {r.status_code} {r.text[:500]}"
    return r.json()


def test_duplicate_while_streaming_replays_the_same_answer(kb_server, kb_user):
    tok = kb_user["access_token"]
    conv = kb_server.create_conversation(tok)["id"]
    cmid = new_cmid()

    async def go():
        ws1, _ = await connect(kb_server, tok)
        await send_message(ws1, HEMO_QUESTION, conv, cmid)
        st1 = await collect(ws1, client_message_id=cmid, max_chunks=3)
        assert st1.complete is None, "answer finished before the duplicate could be sent"
        ws2, _ = await connect(kb_server, tok)
        await send_message(ws2, HEMO_QUESTION, conv, cmid)
        st2 = await collect(ws2, client_message_id=cmid)
        await collect(ws1, stream=st1)
        await ws1.close()
        await ws2.close()
        return st1, st2

    st1, st2 = run(go())
    assert st2.message_id == st1.message_id
    assert st2.start["user_message_id"] == st1.start["user_message_id"]
    assert st2.start["conversation_id"] == conv
    assert_complete_consistent(st1)
    assert_complete_consistent(st2)  # the stream from the beginning: seq 1, 2, ...
    assert st2.complete["text"] == st1.complete["text"]
    msgs = kb_server.messages(tok, conv)
    assert [m["role"] for m in msgs] == ["user", "assistant"], msgs
    assert msgs[1]["id"] == st1.message_id
    assert msgs[1]["content"] == st1.complete["text"]


def test_duplicate_after_completion_returns_the_same_answer(kb_server, kb_user):
    tok = kb_user["access_token"]
    conv = kb_server.create_conversation(tok)["id"]
    cmid = new_cmid()

    async def go():
        ws, _ = await connect(kb_server, tok)
        await send_message(ws, MENIERE_QUESTION, conv, cmid)
        first = await collect(ws, client_message_id=cmid)
        # Same connection, then another one (still in the replay buffer).
        await send_message(ws, MENIERE_QUESTION, conv, cmid)
        again = await collect(ws, client_message_id=cmid)
        ws2, _ = await connect(kb_server, tok)
        await send_message(ws2, MENIERE_QUESTION, conv, cmid)
        third = await collect(ws2, client_message_id=cmid)
        await ws.close()
        await ws2.close()
        return first, again, third

    first, again, third = run(go())
    for st in (again, third):
        assert st.message_id == first.message_id
        assert st.start["user_message_id"] == first.start["user_message_id"]
        assert st.complete["text"] == first.complete["text"]
        assert st.complete["status"] == "complete"
        assert_complete_consistent(st)
        # Within the replay TTL the stream is replayed from the beginning.
        assert len(st.chunks) == len(first.chunks)
        assert not st.tool_calls or st.tool_calls[0]["tool_call_id"] == first.tool_calls[0]["tool_call_id"]
    msgs = kb_server.messages(tok, conv)
    assert len(msgs) == 2, [(m["role"], m["id"]) for m in msgs]


def test_duplicate_after_replay_expiry_returns_stored_answer(start_server):
    srv = start_server(word_interval_ms=5, replay_ttl_ms=200,
                       kb=[("jsonl", E2E_KB)])
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)["id"]
    cmid = new_cmid()

    async def go():
        ws, _ = await connect(srv, tok)
        await send_message(ws, HEMO_QUESTION, conv, cmid)
        first = await collect(ws, client_message_id=cmid)
        await asyncio.sleep(1.5)
        await send_message(ws, HEMO_QUESTION, conv, cmid)
        start = await recv_event(ws)
        assert start["type"] == "message_start", start
        assert start["client_message_id"] == cmid, f"message_start from storage: {start}"
        again = await collect(ws, message_id=start["message_id"], stream=Stream(start=start,
                                                                                 events=[start]))
        await ws.close()
        return first, again

    first, again = run(go())
    assert again.message_id == first.message_id
    assert again.chunks == [], "expired stream should come back as message_start + message_complete"
    assert again.complete["text"] == first.complete["text"]
    assert again.complete["status"] == "complete"
    assert again.complete["finish_reason"] == "stop"
    assert len(again.complete["citations"]) == len(first.complete["citations"])
    assert len(srv.messages(tok, conv)) == 2


def test_same_client_message_id_in_another_conversation_is_a_new_question(kb_server, kb_user):
    tok = kb_user["access_token"]
    c1 = kb_server.create_conversation(tok)["id"]
    c2 = kb_server.create_conversation(tok)["id"]
    cmid = new_cmid()

    async def go():
        ws, _ = await connect(kb_server, tok)
        await send_message(ws, HEMO_QUESTION, c1, cmid)
        a = await collect(ws, client_message_id=cmid)
        await send_message(ws, HEMO_QUESTION, c2, cmid)
        b = await collect(ws, client_message_id=cmid)
        await ws.close()
        return a, b

    a, b = run(go())
    assert a.message_id != b.message_id
    assert b.start["conversation_id"] == c2
    assert len(kb_server.messages(tok, c1)) == 2
    assert len(kb_server.messages(tok, c2)) == 2


def test_rest_chat_is_idempotent(kb_server, kb_user):
    tok = kb_user["access_token"]
    conv = kb_server.create_conversation(tok)["id"]
    cmid = new_cmid()
    first = _chat(kb_server, tok, conv, HEMO_QUESTION, cmid)
    u, a = first["user_message"], first["assistant_message"]
    assert u["role"] == "user" and u["content"] == HEMO_QUESTION and u["client_message_id"] == cmid
    assert a["role"] == "assistant" and a["status"] == "complete" and a["reply_to"] == u["id"]
    assert a["citations"], a
    # Repeat (even with a different text): the existing pair, nothing new.
    for text in (HEMO_QUESTION, "What is gout?"):
        again = _chat(kb_server, tok, conv, text, cmid)
        assert again["user_message"]["id"] == u["id"]
        assert again["user_message"]["content"] == HEMO_QUESTION
        assert again["assistant_message"]["id"] == a["id"]
        assert again["assistant_message"]["content"] == a["content"]
    msgs = kb_server.messages(tok, conv)
    assert [m["id"] for m in msgs] == [u["id"], a["id"]]

    # The WebSocket honours a client_message_id first used over REST.
    async def go():
        ws, _ = await connect(kb_server, tok)
        await send_message(ws, HEMO_QUESTION, conv, cmid)
        st = await collect(ws, client_message_id=cmid)
        await ws.close()
        return st
    st = run(go())
    assert st.message_id == a["id"]
    assert st.complete["text"] == a["content"]
    assert len(kb_server.messages(tok, conv)) == 2


def test_rest_chat_repeat_of_a_streaming_ws_message_waits_for_it(kb_server, kb_user):
    tok = kb_user["access_token"]
    conv = kb_server.create_conversation(tok)["id"]
    cmid = new_cmid()

    async def go():
        ws, _ = await connect(kb_server, tok)
        await send_message(ws, HEMO_QUESTION, conv, cmid)
        st = await collect(ws, client_message_id=cmid, max_chunks=2)
        assert st.complete is None, "answer finished before the REST repeat could be sent"
        rest_task = asyncio.create_task(asyncio.to_thread(_chat, kb_server, tok, conv,
                                                          HEMO_QUESTION, cmid))
        await collect(ws, stream=st)
        rest = await asyncio.wait_for(rest_task, 120)
        await ws.close()
        return st, rest

    st, rest = run(go())
    assert_complete_consistent(st)
    assert rest["assistant_message"]["id"] == st.message_id
    assert rest["user_message"]["id"] == st.start["user_message_id"]
    assert rest["assistant_message"]["status"] == "complete"
    assert rest["assistant_message"]["content"] == st.complete["text"]
    assert len(kb_server.messages(tok, conv)) == 2
