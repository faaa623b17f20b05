"""WebSocket handshake, credentials, Origin checks, close codes and invalid
client messages (docs/protocol.md: Handshake, Close codes, Client to server)."""

import json
import os

import pytest
import websockets.exceptions

from medstream_e2e import (ask, b64url, connect, expect_close, expect_error,
                           jwt_parts, new_cmid, ping, run, send_json, ws_handshake, ws_handshake_status,
                           ws_open)


def _closed_with(server, code, **kw):
    async def go():
        ws = await ws_open(server, **kw)
        got, events = await expect_close(ws)
        assert not any(isinstance(e, dict) and e.get("type") == "connected" for e in events), (
            f"connected was sent to a client without valid credentials: {events}")
        assert got == code, f"expected close {code}, got {got} after {events}"
    run(go())


def test_no_credentials_closes_4001(server):
    _closed_with(server, 4001)


def test_bad_bearer_token_closes_4001(server, user):
    _closed_with(server, 4001, token="not-a-jwt")
    tok = user["access_token"]
    h, p, s = tok.split(".")
    _, claims = jwt_parts(tok)
    _closed_with(server, 4001, token=f"{h}.{b64url({**claims, 'sub': 'someone-else'})}.{s}")
    _closed_with(server, 4001, token=f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{p}.")
    _closed_with(server, 4001, query="token=garbage")
    _closed_with(server, 4001, query="ticket=garbage")


def test_query_token_works_and_is_redacted_from_logs(server, user):
    tok = user["access_token"]

    async def go():
        ws, ev = await connect(server, query=f"token={tok}")
        assert ev["user_id"] == user["user"]["id"]
        await ping(ws)
        await ws.close()
    run(go())
    sig = tok.split(".")[2]
    log = server.stderr_text()
    assert tok not in log and sig not in log, "the ?token= access token appears in the server log"


def test_ticket_works_once(server, user):
    ticket = server.ws_ticket(user["access_token"])

    async def go():
        ws, ev = await connect(server, query=f"ticket={ticket}")
        assert ev["user_id"] == user["user"]["id"]
        await ping(ws)
        await ws.close()
        ws2 = await ws_open(server, query=f"ticket={ticket}")
        code, _ = await expect_close(ws2)
        assert code == 4001, f"second use of a ticket: expected 4001, got {code}"
    run(go())


def test_message_in_another_users_conversation_closes_4003(server):
    a, b = server.register(), server.register()
    conv = server.create_conversation(a["access_token"], "A's private conversation")

    async def go():
        ws, _ = await connect(server, b["access_token"])
        await send_json(ws, {"type": "message", "text": "What is asthma?",
                             "client_message_id": new_cmid(), "conversation_id": conv["id"]})
        code, events = await expect_close(ws)
        assert code == 4003, f"expected 4003, got {code} after {events}"
        assert not any(isinstance(e, dict) and e.get("type") in ("message_start", "message_chunk")
                       for e in events), events
    run(go())
    assert server.messages(a["access_token"], conv["id"]) == []


def test_another_users_message_id_is_answered_as_unknown(server):
    """Defect 19: resume and cancel of another user's message get exactly the
    not_found event an unknown id gets (REST answers 404 for both), and the
    connection stays open: nothing tells B that A's message exists."""
    a, b = server.register(), server.register()
    unknown = "00000000-0000-7000-8000-000000000000"

    async def go():
        wa, _ = await connect(server, a["access_token"])
        st = await ask(wa, "What are the symptoms of asthma?")
        await wa.close()
        wb, _ = await connect(server, b["access_token"])
        answers = {}
        for mid in (st.message_id, unknown):
            for op in ({"type": "resume", "message_id": mid, "last_seq": 0},
                       {"type": "cancel", "message_id": mid}):
                await send_json(wb, op)
                ev = await expect_error(wb)
                assert ev["message_id"] == mid, ev
                answers[(op["type"], mid == unknown)] = {k: v for k, v in ev.items()
                                                         if k != "message_id"}
        await ping(wb)
        await wb.close()
        for op in ("resume", "cancel"):
            assert answers[(op, False)] == answers[(op, True)], answers
            assert answers[(op, False)]["code"] == "not_found", answers
    run(go())


@pytest.mark.parametrize("frame", [
    "this is not json",
    "{\"type\": \"ping\"",           # truncated JSON
    "[\"ping\"]",                    # JSON, not an object
    "\"ping\"",
    "{}",                            # no type
    "{\"type\": 7}",                 # type not a string
    "{\"type\": null}",
])
def test_frame_that_is_not_a_typed_json_object_closes_4000(server, user, frame):
    async def go():
        ws, _ = await connect(server, user["access_token"])
        await ws.send(frame)
        code, events = await expect_close(ws)
        assert code == 4000, f"{frame!r}: expected 4000, got {code} after {events}"
    run(go())


_ZERO = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("msg,codes", [
    pytest.param({"type": "bogus"}, {"invalid_message"}, id="unknown-type"),
    pytest.param({"type": "message", "client_message_id": "c1"}, {"invalid_message"},
                 id="message-no-text"),
    pytest.param({"type": "message", "text": "What is asthma?"}, {"invalid_message"},
                 id="message-no-client_message_id"),
    pytest.param({"type": "message", "text": "", "client_message_id": "c2"}, {"invalid_message"},
                 id="message-empty-text"),
    pytest.param({"type": "message", "text": 42, "client_message_id": "c3"}, {"invalid_message"},
                 id="message-text-not-string"),
    pytest.param({"type": "message", "text": "What is asthma?", "client_message_id": "x" * 129},
                 {"invalid_message"}, id="message-client_message_id-129-chars"),
    pytest.param({"type": "message", "text": "a" * 8001, "client_message_id": "c4"},
                 {"invalid_message", "too_large"}, id="message-text-8001-chars"),
    pytest.param({"type": "message", "text": "What is asthma?", "client_message_id": "c5",
                  "conversation_id": 12}, {"invalid_message"}, id="message-conversation_id-int"),
    pytest.param({"type": "resume", "message_id": _ZERO}, {"invalid_message"},
                 id="resume-no-last_seq"),
    pytest.param({"type": "resume", "message_id": _ZERO, "last_seq": -1}, {"invalid_message"},
                 id="resume-negative-last_seq"),
    pytest.param({"type": "resume", "message_id": _ZERO, "last_seq": "3"}, {"invalid_message"},
                 id="resume-last_seq-string"),
    pytest.param({"type": "resume", "last_seq": 0}, {"invalid_message"}, id="resume-no-message_id"),
    pytest.param({"type": "cancel"}, {"invalid_message"}, id="cancel-no-message_id"),
])
def test_invalid_message_gets_error_and_connection_stays(server, user, msg, codes):
    async def go():
        ws, _ = await connect(server, user["access_token"])
        await send_json(ws, msg)
        err = await expect_error(ws)
        assert err["code"] in codes, f"{msg}: error code {err['code']!r}, expected one of {codes}"
        assert err["retryable"] is False
        await ping(ws)
        # Still usable for a real question.
        st = await ask(ws, "What are the symptoms of asthma?")
        assert st.complete["status"] == "complete"
        await ws.close()
    run(go())


def test_unknown_conversation_or_message_gets_not_found(server, user):
    missing = "00000000-0000-4000-8000-000000000000"

    async def go():
        ws, _ = await connect(server, user["access_token"])
        await send_json(ws, {"type": "message", "text": "What is asthma?",
                             "client_message_id": new_cmid(), "conversation_id": missing})
        assert (await expect_error(ws))["code"] == "not_found"
        await send_json(ws, {"type": "resume", "message_id": missing, "last_seq": 0})
        assert (await expect_error(ws))["code"] == "not_found"
        await send_json(ws, {"type": "cancel", "message_id": missing})
        assert (await expect_error(ws))["code"] == "not_found"
        await ping(ws)
        await ws.close()
    run(go())


def test_frame_over_max_frame_bytes_closes_1009(start_server):
    srv = start_server(max_frame_bytes=4096)
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        # Under the limit: a normal question is answered.
        st = await ask(ws, "What is asthma? " + "Please explain. " * 100)
        assert st.complete is not None
        # Over the limit (incompressible, so the size is the size on the wire).
        filler = os.urandom(3000).hex()
        frame = json.dumps({"type": "message", "text": filler, "client_message_id": new_cmid()})
        assert 4096 < len(frame) < 8001
        try:
            await ws.send(frame)
        except websockets.exceptions.ConnectionClosed:
            pass
        code, events = await expect_close(ws)
        assert code == 1009, f"expected 1009, got {code} after {events}"
    run(go())


def test_frame_over_default_limit_closes_1009(server, user):
    async def go():
        ws, _ = await connect(server, user["access_token"])
        frame = json.dumps({"type": "ping", "pad": os.urandom(40 * 1024).hex()})  # 80 KiB > 64 KiB
        try:
            await ws.send(frame)
        except websockets.exceptions.ConnectionClosed:
            pass
        code, events = await expect_close(ws)
        assert code == 1009, f"expected 1009, got {code} after {events}"
    run(go())


def test_default_origin_policy(server, user):
    """Origin must be the server's own address (http://<listen host>:<port>,
    http://localhost:<port>, http://127.0.0.1:<port>) or listed; otherwise
    HTTP 403 with a JSON error body. No Origin (CLI) is fine."""
    tok = user["access_token"]
    port = server.port

    async def go():
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", None):
            ws, _ = await connect(server, tok, origin=origin)
            await ping(ws)
            await ws.close()
    run(go())
    auth = {"Authorization": f"Bearer {tok}"}
    line, status = ws_handshake_status(server, {**auth, "Host": f"localhost:{port}",
                                                "Origin": f"http://localhost:{port}"})
    assert status == 101, f"page on http://localhost:{port}: expected 101, got {line!r}"
    for origin in ("http://evil.example.com", f"http://127.0.0.1:{port + 1}",
                   f"https://127.0.0.1:{port}", "http://127.0.0.1", "null"):
        line, status, _h, body = ws_handshake(server, {**auth, "Origin": origin})
        assert status == 403, f"Origin {origin}: expected HTTP 403, got {line!r}"
        err = json.loads(body)["error"]
        assert isinstance(err["code"], str) and isinstance(err["message"], str), body


def test_dns_rebinding_origin_is_refused(server, user):
    """A page on http://rebind.evil.example:PORT whose name was rebound to
    127.0.0.1 sends Origin and Host of that name: the Host header is not
    trusted, so the handshake is refused."""
    tok = user["access_token"]
    host = f"rebind.evil.example:{server.port}"
    line, status = ws_handshake_status(server, {"Authorization": f"Bearer {tok}", "Host": host,
                                                "Origin": f"http://{host}"})
    assert status == 403, f"DNS-rebinding Origin http://{host}: expected HTTP 403, got {line!r}"


def test_unknown_websocket_path_is_404(server, user):
    line, status = ws_handshake_status(server, {"Authorization": f"Bearer {user['access_token']}"},
                                       path="/api/not-a-socket")
    assert status == 404, f"expected HTTP 404, got {line!r}"


def test_allowed_origins_flag(start_server):
    srv = start_server(allowed_origins="https://app.example.org,https://ward.example.org")
    u = srv.register()
    tok = u["access_token"]

    async def go():
        for origin in ("https://app.example.org", "https://ward.example.org"):
            ws, _ = await connect(srv, tok, origin=origin)
            await ping(ws)
            await ws.close()
        # The server's own address stays allowed (its web page).
        ws, _ = await connect(srv, tok, origin=f"http://127.0.0.1:{srv.port}")
        await ping(ws)
        await ws.close()
        # A client that sends no Origin (CLI, SDK) is unaffected by the list.
        ws, _ = await connect(srv, tok)
        await ping(ws)
        await ws.close()
    run(go())
    for origin in ("https://evil.example.org", "https://app.example.org.evil.test",
                   "http://app.example.org", "https://app.example.org:8443",
                   "https://app.example.org,https://ward.example.org"):
        line, status = ws_handshake_status(srv, {"Origin": origin, "Authorization": f"Bearer {tok}"})
        assert status == 403, f"Origin {origin}: expected HTTP 403, got {line!r}"


def test_refused_origin_is_a_clean_http_403_for_clients(server, user):
    """A WebSocket client library sees the refusal as an HTTP 403 status
    (websockets raises InvalidStatusCode), not as a malformed response."""
    async def go():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as ei:
            ws = await ws_open(server, user["access_token"], origin="http://evil.example.com")
            await ws.close()
        assert ei.value.status_code == 403
    try:
        run(go())
    except websockets.exceptions.InvalidMessage as e:
        line, _ = ws_handshake_status(server, {"Origin": "http://evil.example.com"})
        raise AssertionError(f"refused handshake is not a valid HTTP/1.1 response "
                             f"(status line {line!r}): {e!r} / {e.__cause__!r}")
