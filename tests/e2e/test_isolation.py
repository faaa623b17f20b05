"""One user never sees or touches another's data (docs/protocol.md: 404 for
objects that belong to someone else; close code 4003)."""

import pytest

from medstream_e2e import (assert_error, ask, collect, connect, expect_close, expect_error,
                           new_cmid, ping, run, send_json, send_message)

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def alice_bob(server):
    a, b = server.register(), server.register()

    async def go():
        ws, _ = await connect(server, a["access_token"])
        st = await ask(ws, "What are the symptoms of diabetes?")
        await ws.close()
        return st

    st = run(go())
    conv = st.start["conversation_id"]
    return a, b, conv, st


def test_other_users_conversation_is_404_over_rest(server, alice_bob):
    a, b, conv, st = alice_bob
    tb = b["access_token"]
    before = server.api("GET", f"/api/conversations/{conv}", a["access_token"]).json()
    for method, path, body in [
        ("GET", f"/api/conversations/{conv}", None),
        ("PATCH", f"/api/conversations/{conv}", {"title": "pwned"}),
        ("DELETE", f"/api/conversations/{conv}", None),
        ("GET", f"/api/conversations/{conv}/messages", None),
        ("POST", f"/api/conversations/{conv}/messages/chat", {"text": "What is asthma?"}),
    ]:
        r = server.api(method, path, tb, json=body)
        err = assert_error(r, 404, "not_found")
        # Same answer as for an id that does not exist (no existence leak).
        r2 = server.api(method, path.replace(conv, MISSING), tb, json=body)
        err2 = assert_error(r2, 404, "not_found")
        assert err["code"] == err2["code"]

    # Alice's data is untouched.
    after = server.api("GET", f"/api/conversations/{conv}", a["access_token"])
    assert after.status_code == 200
    assert after.json()["title"] == before["title"]
    assert after.json()["message_count"] == 2
    msgs = server.messages(a["access_token"], conv)
    assert [m["id"] for m in msgs] == [st.start["user_message_id"], st.message_id]


def test_lists_are_per_user(server, alice_bob):
    a, b, conv, _ = alice_bob
    mine = server.create_conversation(b["access_token"], "Bob's own")
    lb = server.api("GET", "/api/conversations?limit=50", b["access_token"]).json()["conversations"]
    ids = {c["id"] for c in lb}
    assert conv not in ids
    assert mine["id"] in ids
    la = server.api("GET", "/api/conversations?limit=50", a["access_token"]).json()["conversations"]
    assert conv in {c["id"] for c in la}
    assert mine["id"] not in {c["id"] for c in la}


def test_websocket_access_to_other_users_data_closes_4003(server, alice_bob):
    a, b, conv, st = alice_bob
    tb = b["access_token"]

    async def attempt(msg):
        ws, _ = await connect(server, tb)
        await send_json(ws, msg)
        code, events = await expect_close(ws)
        leaked = [e for e in events if isinstance(e, dict) and e.get("type") in
                  ("message_start", "message_chunk", "message_complete")]
        assert not leaked, f"{msg['type']}: leaked {leaked}"
        assert code == 4003, f"{msg}: expected close 4003, got {code} after {events}"

    run(attempt({"type": "message", "text": "What is asthma?", "client_message_id": new_cmid(),
                 "conversation_id": conv}))
    # Message ids: answered as an unknown id would be (not_found, stays open).
    async def by_id(msg):
        ws, _ = await connect(server, tb)
        await send_json(ws, msg)
        ev = await expect_error(ws)
        assert ev["code"] == "not_found" and ev["message_id"] == st.message_id, ev
        await ping(ws)
        await ws.close()

    run(by_id({"type": "resume", "message_id": st.message_id, "last_seq": 0}))
    run(by_id({"type": "cancel", "message_id": st.message_id}))
    # Reusing Alice's client_message_id in her conversation is still refused.
    run(attempt({"type": "message", "text": "What is asthma?",
                 "client_message_id": st.start["client_message_id"], "conversation_id": conv}))
    assert len(server.messages(a["access_token"], conv)) == 2


def test_other_user_cannot_cancel_a_live_stream(server):
    a, b = server.register(), server.register()

    async def go():
        wa, _ = await connect(server, a["access_token"])
        cmid = await send_message(wa, "What are the symptoms and treatment of asthma?")
        st = await collect(wa, client_message_id=cmid, max_chunks=1)
        wb, _ = await connect(server, b["access_token"])
        await send_json(wb, {"type": "cancel", "message_id": st.message_id})
        err = await expect_error(wb)
        await wb.close()
        await collect(wa, stream=st)
        await wa.close()
        return st, err

    st, err = run(go())
    assert err["code"] == "not_found", err
    assert st.complete["finish_reason"] != "cancelled", "another user cancelled the stream"
    assert st.complete["status"] == "complete"
