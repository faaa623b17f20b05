"""Resuming a stream after a dropped connection (docs/protocol.md: Resume)."""

import asyncio

from medstream_e2e import (E2E_KB, HEMO_QUESTION, MENIERE_QUESTION, assert_complete_consistent,
                           ask, collect, connect, drop, expect_error, new_cmid, run, send_json, send_message)


async def _resume(ws, message_id, last_seq):
    await send_json(ws, {"type": "resume", "message_id": message_id, "last_seq": last_seq})
    return await collect(ws, message_id=message_id)


def test_resume_after_drop_continues_without_gap_or_duplicate(kb_server, kb_user):
    tok = kb_user["access_token"]

    async def go():
        ws1, _ = await connect(kb_server, tok)
        cmid = await send_message(ws1, HEMO_QUESTION)
        part = await collect(ws1, client_message_id=cmid, max_chunks=4)
        assert part.complete is None, "answer finished before the drop"
        got = part.chunks[:4]
        drop(ws1)
        ws2, _ = await connect(kb_server, tok)
        rest = await _resume(ws2, part.message_id, got[-1]["seq"])
        await ws2.close()
        return part, got, rest

    part, got, rest = run(go())
    assert [c["seq"] for c in got] == [1, 2, 3, 4]
    assert rest.start is not None and rest.start["message_id"] == part.message_id
    assert rest.start["client_message_id"] == part.start["client_message_id"]
    assert rest.start["user_message_id"] == part.start["user_message_id"]
    assert rest.start["conversation_id"] == part.start["conversation_id"]
    assert rest.chunks, "nothing after last_seq"
    # Continues at last_seq + 1, gapless, no duplicate.
    assert_complete_consistent(rest, first_seq=5, prefix="".join(c["delta"] for c in got))
    assert rest.complete["status"] == "complete"
    stored = kb_server.message(tok, part.start["conversation_id"], part.message_id)
    assert stored["status"] == "complete"
    assert stored["content"].encode() == rest.complete["text"].encode()


def test_resume_while_the_first_connection_is_still_open(kb_server, kb_user):
    """Resume from a second connection of the same user; both see the whole answer."""
    tok = kb_user["access_token"]

    async def go():
        ws1, _ = await connect(kb_server, tok)
        cmid = await send_message(ws1, HEMO_QUESTION)
        part = await collect(ws1, client_message_id=cmid, max_chunks=2)
        ws2, _ = await connect(kb_server, tok)
        other = await _resume(ws2, part.message_id, 0)
        full = await collect(ws1, stream=part)
        await ws1.close()
        await ws2.close()
        return full, other

    full, other = run(go())
    assert_complete_consistent(full)
    assert_complete_consistent(other)
    assert other.complete["text"] == full.complete["text"]
    assert len(other.chunks) == len(full.chunks)


def test_resume_after_completion_within_ttl(kb_server, kb_user):
    tok = kb_user["access_token"]

    async def go():
        ws, _ = await connect(kb_server, tok)
        st = await ask(ws, MENIERE_QUESTION)
        await ws.close()
        ws2, _ = await connect(kb_server, tok)
        all_again = await _resume(ws2, st.message_id, 0)
        mid = len(st.chunks) // 2
        half = await _resume(ws2, st.message_id, mid)
        none = await _resume(ws2, st.message_id, len(st.chunks))
        await ws2.close()
        return st, all_again, half, mid, none

    st, all_again, half, mid, none = run(go())
    assert_complete_consistent(st)
    assert_complete_consistent(all_again)
    assert all_again.complete["text"] == st.complete["text"]
    assert [c["delta"] for c in all_again.chunks] == [c["delta"] for c in st.chunks]
    assert_complete_consistent(half, first_seq=mid + 1,
                               prefix="".join(c["delta"] for c in st.chunks[:mid]))
    assert none.chunks == []
    assert none.complete["text"] == st.complete["text"]
    assert none.complete["seq"] == len(st.chunks)


def test_resume_after_replay_ttl_expiry_comes_from_storage(start_server):
    srv = start_server(word_interval_ms=5, replay_ttl_ms=200, kb=[("jsonl", E2E_KB)])
    tok = srv.register()["access_token"]

    async def go():
        ws, _ = await connect(srv, tok)
        st = await ask(ws, HEMO_QUESTION)
        await ws.close()
        await asyncio.sleep(1.5)
        ws2, _ = await connect(srv, tok)
        again = await _resume(ws2, st.message_id, 3)
        await ws2.close()
        return st, again

    st, again = run(go())
    assert again.start is not None
    # message_start carries the same ids as the live one did.
    for k in ("conversation_id", "user_message_id", "client_message_id"):
        assert again.start[k] == st.start[k], (k, again.start, st.start)
    assert [e["type"] for e in again.events] == ["message_start", "message_complete"], (
        [e["type"] for e in again.events])
    c = again.complete
    assert c["status"] == "complete"
    assert c["finish_reason"] == "stop"
    assert c["text"] == st.complete["text"]
    assert c["conversation_id"] == st.start["conversation_id"]
    assert [x["url"] for x in c["citations"]] == [x["url"] for x in st.complete["citations"]]
    assert c["disclaimer"] == st.complete["disclaimer"]


def test_resume_of_a_cancelled_message_after_expiry_reports_cancelled(start_server):
    srv = start_server(word_interval_ms=15, replay_ttl_ms=200, kb=[("jsonl", E2E_KB)])
    tok = srv.register()["access_token"]

    async def go():
        ws, _ = await connect(srv, tok)
        cmid = await send_message(ws, HEMO_QUESTION)
        st = await collect(ws, client_message_id=cmid, max_chunks=3)
        await send_json(ws, {"type": "cancel", "message_id": st.message_id})
        await collect(ws, stream=st)
        await ws.close()
        await asyncio.sleep(1.5)
        ws2, _ = await connect(srv, tok)
        again = await _resume(ws2, st.message_id, 0)
        await ws2.close()
        return st, again

    st, again = run(go())
    assert st.complete["status"] == "cancelled"
    assert again.chunks == []
    assert again.complete["status"] == "cancelled"
    assert again.complete["text"] == st.complete["text"]


def test_resume_unknown_message_keeps_connection(kb_server, kb_user):
    async def go():
        ws, _ = await connect(kb_server, kb_user["access_token"])
        await send_json(ws, {"type": "resume", "message_id": "00000000-0000-4000-8000-000000000000",
                             "last_seq": 0})
        err = await expect_error(ws)
        assert err["code"] == "not_found", err
        st = await ask(ws, HEMO_QUESTION, client_message_id=new_cmid())
        assert st.complete["status"] == "complete"
        await ws.close()
    run(go())
