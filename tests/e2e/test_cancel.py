"""Cancelling an answer mid-stream (docs/protocol.md: Client to server `cancel`,
Message status `cancelled`)."""

from medstream_e2e import (HEMO_QUESTION, assert_complete_consistent, ask, collect, connect,
                           drop, new_cmid, ping, run, send_json, send_message)


def test_cancel_mid_stream_stores_the_partial_text(kb_server, kb_user):
    tok = kb_user["access_token"]

    async def go():
        ws, _ = await connect(kb_server, tok)
        full = await ask(ws, HEMO_QUESTION)  # the whole answer, for comparison
        cmid = await send_message(ws, HEMO_QUESTION)
        st = await collect(ws, client_message_id=cmid, max_chunks=3)
        assert st.complete is None, "answer finished before it could be cancelled"
        await send_json(ws, {"type": "cancel", "message_id": st.message_id})
        await collect(ws, stream=st)
        # Nothing more for that message; the connection is usable.
        await ping(ws)
        after = await ask(ws, "How is hemochromatosis treated?",
                          conversation_id=st.start["conversation_id"])
        await ws.close()
        return full, st, after

    full, st, after = run(go())
    c = st.complete
    assert c["finish_reason"] == "cancelled", c
    assert c["status"] == "cancelled", c
    assert_complete_consistent(st)  # text == every delta that was streamed
    assert len(st.chunks) < len(full.chunks), "cancel did not stop the stream"
    assert len(c["text"]) < len(full.complete["text"])
    assert c["text"].strip(), "the partial text is empty"
    stored = kb_server.message(tok, st.start["conversation_id"], st.message_id)
    assert stored["status"] == "cancelled"
    assert stored["finish_reason"] == "cancelled"
    assert stored["content"].encode() == st.text.encode(), (stored["content"], st.text)
    # The conversation goes on normally.
    assert after.complete["status"] == "complete"
    msgs = kb_server.messages(tok, st.start["conversation_id"])
    assert [m["status"] for m in msgs] == ["complete", "cancelled", "complete", "complete"]


def test_cancel_from_another_connection_of_the_same_user(kb_server, kb_user):
    tok = kb_user["access_token"]

    async def go():
        ws1, _ = await connect(kb_server, tok)
        cmid = await send_message(ws1, HEMO_QUESTION)
        st = await collect(ws1, client_message_id=cmid, max_chunks=2)
        assert st.complete is None
        ws2, _ = await connect(kb_server, tok)
        await send_json(ws2, {"type": "cancel", "message_id": st.message_id})
        await collect(ws1, stream=st)
        await ws1.close()
        await ws2.close()
        return st

    st = run(go())
    assert st.complete["finish_reason"] == "cancelled"
    assert_complete_consistent(st)
    stored = kb_server.message(tok, st.start["conversation_id"], st.message_id)
    assert stored["status"] == "cancelled"
    assert stored["content"] == st.complete["text"]


def test_cancel_after_drop_and_resume(kb_server, kb_user):
    """A client that lost its connection can resume and then cancel."""
    tok = kb_user["access_token"]

    async def go():
        ws1, _ = await connect(kb_server, tok)
        cmid = await send_message(ws1, HEMO_QUESTION, client_message_id=new_cmid())
        st = await collect(ws1, client_message_id=cmid, max_chunks=2)
        drop(ws1)
        ws2, _ = await connect(kb_server, tok)
        await send_json(ws2, {"type": "resume", "message_id": st.message_id, "last_seq": 2})
        st2 = await collect(ws2, message_id=st.message_id, max_chunks=1)
        assert st2.complete is None, "answer finished before it could be cancelled"
        await send_json(ws2, {"type": "cancel", "message_id": st.message_id})
        await collect(ws2, stream=st2)
        await ws2.close()
        return st, st2

    st, st2 = run(go())
    assert st2.complete["finish_reason"] == "cancelled"
    assert_complete_consistent(st2, first_seq=3, prefix=st.text)
    stored = kb_server.message(tok, st.start["conversation_id"], st.message_id)
    assert stored["status"] == "cancelled"
    assert stored["content"] == st2.complete["text"]
