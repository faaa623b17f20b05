"""Interoperability with other WebSocket implementations (issue 8: "Cross-check
interoperability with Debian's libwebsockets-test-client and
python3-websockets"), and the subprotocol negotiation they exercise
(RFC 6455 sections 1.9 and 4.2.2; docs/protocol.md, "Handshake")."""

import asyncio
import json
import shutil
import signal
import subprocess
import threading
import time

import pytest
import websockets

from medstream_e2e import (EVENT_TIMEOUT, child_env, medstream_bin, ping, recv_event, run,
                           ws_handshake)

LWS_CLIENT = shutil.which("libwebsockets-test-client")


async def open_with(srv, token, subprotocols):
    return await websockets.connect(srv.ws_url + "/api/ws", subprotocols=subprotocols,
                                    extra_headers=[("Authorization", f"Bearer {token}")],
                                    open_timeout=EVENT_TIMEOUT, ping_interval=None,
                                    close_timeout=5)


def test_python_websockets_subprotocols_ping_and_clean_close(start_server):
    """python3-websockets: no offer, "medstream", and a configured name are
    agreed to (and echoed); the connection then greets, answers a ping
    message and a WebSocket ping, and closes with 1000 both ways."""
    srv = start_server(ws_subprotocols="chat.v2, x-medical")
    tok = srv.register()["access_token"]

    async def go():
        for offer, agreed in ((None, None), (["medstream"], "medstream"),
                              (["x-unknown", "chat.v2"], "chat.v2"),
                              (["x-medical", "medstream"], "x-medical")):
            ws = await open_with(srv, tok, offer)
            assert ws.subprotocol == agreed, (offer, ws.subprotocol)
            assert (await recv_event(ws))["type"] == "connected"
            await ping(ws)
            pong = await ws.ping(b"interop")
            await asyncio.wait_for(pong, EVENT_TIMEOUT)
            await ws.close()
            assert ws.close_code == 1000, ws.close_code
    run(go())


@pytest.mark.parametrize("offer", ["x-unknown", "chat.v2", "a b", "medstream;v=1", ","])
def test_an_offer_of_only_unknown_subprotocols_gets_400(server, user, offer):
    """lws 4.1 alone drops such a handshake without any HTTP response; the
    server answers 400 with a JSON error instead (RFC 6455 section 4.2.2)."""
    line, status, _h, body = ws_handshake(server, {
        "Authorization": f"Bearer {user['access_token']}", "Sec-WebSocket-Protocol": offer})
    assert status == 400, f"offer {offer!r}: {line!r}"
    assert json.loads(body)["error"]["code"] == "unsupported_subprotocol", body

    async def refused():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await open_with(server, user["access_token"], ["x-unknown"])
        assert e.value.status_code == 400
    run(refused())


@pytest.mark.parametrize("value", ["a b", "x,,y", "a/b", "x" * 65, ",".join("p%d" % i for i in range(9))])
def test_bad_ws_subprotocols_setting_is_refused_at_start(tmp_path, value):
    r = subprocess.run([medstream_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                        str(tmp_path / "d"), "--ws-subprotocols", value],
                       capture_output=True, text=True, timeout=60, env=child_env())
    assert r.returncode != 0, r.stdout
    assert "--ws-subprotocols" in r.stderr, r.stderr


@pytest.mark.skipif(LWS_CLIENT is None, reason="libwebsockets-test-client is not installed "
                    "(Debian: apt-get install libwebsockets-test-server)")
def test_libwebsockets_test_client(start_server):
    """Debian's libwebsockets-test-client (lws' own client) against medstream.
    It opens two connections offering the subprotocols of lws' test server
    ("dumb-increment-protocol" and "lws-mirror-protocol", which the server
    is configured to agree to), reads what the server sends on the first,
    and on the second sends masked text frames of lws' mirror protocol
    ("c #RRGGBB x y r;"), which are not JSON: the server closes that
    connection with 4000.
    That exercises lws' handshake (Origin http://127.0.0.1, permessage-
    deflate offered and declined), its client framing through rxcheck and
    the server's greeting through lws' client parser. The client copies
    its path into 300 bytes, so the credential is a short ws ticket."""
    srv = start_server(ws_subprotocols="dumb-increment-protocol,lws-mirror-protocol",
                       allowed_origins="http://127.0.0.1")
    tok = srv.register()["access_token"]
    ticket = srv.ws_ticket(tok)
    url = f"ws://127.0.0.1:{srv.port}/api/ws?ticket={ticket}"
    # -d 15: errors to info (the info level logs what the first connection
    # receives). The two connections race: the mirror one may be closed
    # before the dumb one has read its greeting, so the client is not told
    # to exit on that close (-O); it runs until both have been seen, then
    # it is stopped.
    want = ("dumb: LWS_CALLBACK_CLIENT_ESTABLISHED", "mirror: LWS_CALLBACK_CLIENT_ESTABLISHED",
            "rx 20 '{\"type\":\"connected\",",  # 20-byte rx buffer
            "mirror: LWS_CALLBACK_CLOSED")
    proc = subprocess.Popen([LWS_CLIENT, url, "-d", "15"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []

    def reader():
        for line in proc.stdout:
            lines.append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if all(w in "".join(lines) for w in want):
            break
        time.sleep(0.05)
    exited_early = proc.poll()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    t.join(timeout=5)
    out = "".join(lines).replace(ticket, "TICKET")
    assert exited_early is None, out[-3000:]
    for w in want:
        assert w in out, (w, out[-3000:])
    # lws' masked frames passed rxcheck: no 1002 for a conforming client.
    assert "ws_protocol_error" not in srv.stderr_text()

    async def still_serving():
        ws = await open_with(srv, tok, None)
        assert (await recv_event(ws))["type"] == "connected"
        await ping(ws)
        await ws.close()
    run(still_serving())
