"""A dropped connection does not cancel generation (docs/protocol.md: Resume,
last paragraph)."""

from medstream_e2e import (HEMO_QUESTION, MENIERE_QUESTION, collect, connect, drop, run,
                           send_json, send_message)


def _drop_mid_stream(srv, tok, question, abrupt=True):
    async def go():
        ws, _ = await connect(srv, tok)
        cmid = await send_message(ws, question)
        st = await collect(ws, client_message_id=cmid, max_chunks=3)
        assert st.complete is None, "answer finished before the drop"
        if abrupt:
            drop(ws)
        else:
            await ws.close()
        return st
    return run(go())


def test_abrupt_drop_does_not_cancel(kb_server, kb_user):
    tok = kb_user["access_token"]
    st = _drop_mid_stream(kb_server, tok, HEMO_QUESTION, abrupt=True)
    conv = st.start["conversation_id"]
    m = kb_server.wait_message_status(tok, conv, st.message_id,
                                      statuses=("complete", "cancelled", "error", "interrupted"))
    assert m["status"] == "complete", m
    assert m["finish_reason"] == "stop"
    assert m["content"].startswith(st.text), (st.text, m["content"][:200])
    assert len(m["content"]) > len(st.text)
    assert m["citations"], m

    # The answer is whole: a fresh resume gets it, disclaimer included.
    async def resume():
        ws, _ = await connect(kb_server, tok)
        await send_json(ws, {"type": "resume", "message_id": st.message_id, "last_seq": 0})
        r = await collect(ws, message_id=st.message_id)
        await ws.close()
        return r
    r = run(resume())
    assert r.complete["text"] == m["content"]
    assert m["content"].endswith(r.complete["disclaimer"])


def test_clean_close_does_not_cancel(kb_server, kb_user):
    tok = kb_user["access_token"]
    st = _drop_mid_stream(kb_server, tok, MENIERE_QUESTION, abrupt=False)
    m = kb_server.wait_message_status(tok, st.start["conversation_id"], st.message_id,
                                      statuses=("complete", "cancelled", "error", "interrupted"))
    assert m["status"] == "complete", m
    assert m["content"].startswith(st.text)
    assert len(m["content"]) > len(st.text)
