"""Crash (kill -9) and graceful shutdown (SIGTERM) while answers stream
(docs/protocol.md: Message status `interrupted`; close code 1001)."""

import asyncio
import signal
import time

import websockets.exceptions

from medstream_e2e import (DISCLAIMER_TEXT, E2E_KB, HEMO_QUESTION, MENIERE_QUESTION, assert_complete_consistent,
                           ask, collect, connect, expect_close, new_cmid, recv_event, run,
                           send_json, send_message)


async def _drain(ws, st, timeout=30):
    """Reads what the dead server had already sent, until the socket closes."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ev = await recv_event(ws, max(0.1, deadline - time.monotonic()))
            if ev.get("message_id") == st.message_id:
                st.events.append(ev)
                if ev["type"] == "message_chunk":
                    st.chunks.append(ev)
                elif ev["type"] == "message_complete":
                    st.complete = ev
    except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError):
        pass


def test_kill9_mid_stream_then_restart(start_server):
    flags = dict(word_interval_ms=25, checkpoint_ms=100)
    srv = start_server(kb=[("jsonl", E2E_KB)], **flags)
    u = srv.register()
    cmid = new_cmid()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        await send_message(ws, HEMO_QUESTION, client_message_id=cmid)
        st = await collect(ws, client_message_id=cmid, max_chunks=1)
        # Well past a few checkpoints (every 100 ms), well before the end.
        await collect(ws, stream=st, until_time=time.monotonic() + 0.6)
        assert st.complete is None, "answer finished before the kill: make it longer"
        srv.kill9()
        await _drain(ws, st)
        return st

    st = run(go())
    assert st.complete is None, "answer finished before the kill"
    streamed = st.text
    assert streamed

    srv2 = start_server(data_dir=srv.data_dir, **flags)
    tok = srv2.login(u["email"], u["password"])["access_token"]
    conv = st.start["conversation_id"]
    msgs = srv2.messages(tok, conv)
    assert [m["role"] for m in msgs] == ["user", "assistant"], msgs
    user_msg, asst = msgs
    assert user_msg["id"] == st.start["user_message_id"]
    assert user_msg["content"] == HEMO_QUESTION
    assert user_msg["status"] == "complete"
    assert user_msg["client_message_id"] == cmid
    assert asst["id"] == st.message_id
    assert asst["status"] == "interrupted", asst
    # Recovery keeps the last checkpoint and appends the disclaimer: every
    # assistant message a client sees carries it, interrupted ones too.
    partial, sep, disclaimer = asst["content"].rpartition("\n\n")
    assert sep and disclaimer.startswith("Medical disclaimer"), asst["content"]
    assert partial, "no checkpoint was stored in 0.6 s with --checkpoint-ms 100"
    assert streamed.startswith(partial), (
        f"stored partial text is not a prefix of what was streamed:\n"
        f"stored:   {partial!r}\nstreamed: {streamed!r}")

    async def after():
        ws, _ = await connect(srv2, tok)
        # The interrupted answer comes back from storage.
        await send_json(ws, {"type": "resume", "message_id": st.message_id, "last_seq": 0})
        r = await collect(ws, message_id=st.message_id)
        # New questions work, in the same conversation and in a new one.
        a = await ask(ws, "How is hemochromatosis treated?", conversation_id=conv)
        b = await ask(ws, MENIERE_QUESTION)
        await ws.close()
        return r, a, b

    r, a, b = run(after())
    assert r.complete["status"] == "interrupted"
    assert r.complete["finish_reason"] == "interrupted"
    assert r.complete["text"] == asst["content"]
    assert r.complete["disclaimer"] == disclaimer
    for x in (a, b):
        assert_complete_consistent(x)
        assert x.complete["status"] == "complete"
        assert x.complete["citations"]
    msgs = srv2.messages(tok, conv)
    assert [m["status"] for m in msgs] == ["complete", "interrupted", "complete", "complete"]


def test_sigterm_closes_sockets_with_1001_and_exits_cleanly(start_server):
    srv = start_server()
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        srv.expected_exit = True
        srv.proc.send_signal(signal.SIGTERM)
        code, _ = await expect_close(ws)
        assert code == 1001, f"expected 1001 (server shutting down), got {code}"
    run(go())
    rc = srv.proc.wait(timeout=60)
    assert rc == 0, f"medstream exited {rc} after SIGTERM\n{srv.stderr_tail()}"


def test_sigterm_mid_stream_leaves_no_streaming_message(start_server):
    flags = dict(word_interval_ms=25, checkpoint_ms=100)
    srv = start_server(kb=[("jsonl", E2E_KB)], **flags)
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        cmid = await send_message(ws, HEMO_QUESTION)
        st = await collect(ws, client_message_id=cmid, max_chunks=3)
        srv.expected_exit = True
        srv.proc.send_signal(signal.SIGTERM)
        await _drain(ws, st, timeout=60)
        return st, ws.close_code

    st, code = run(go())
    assert code == 1001, f"expected close 1001, got {code}"
    srv.proc.wait(timeout=60)
    srv2 = start_server(data_dir=srv.data_dir, **flags)
    tok = srv2.login(u["email"], u["password"])["access_token"]
    m = srv2.message(tok, st.start["conversation_id"], st.message_id)
    assert m["status"] in ("complete", "interrupted"), m
    if st.complete is not None:
        assert_complete_consistent(st)
        assert m["status"] == "complete" and m["content"] == st.complete["text"]
    elif m["status"] == "interrupted":
        # Interrupted by the shutdown itself: the text streamed so far, then
        # the disclaimer, exactly as the last chunks the client got.
        assert m["content"].endswith(DISCLAIMER_TEXT), m["content"]
        partial = m["content"][: -len(DISCLAIMER_TEXT)].rstrip("\n")
        assert st.text.startswith(partial) or partial.startswith(st.text), (m["content"], st.text)
    else:
        assert m["content"].startswith(st.text), (m["content"], st.text)
