"""The HTTP layer's defences (issue 8, defects 2, 3, 4, 11, 15, 18, 19):
one dispatch per request, chunked bodies, the route and the token checked
on the headers, total deadlines for the head and the body, a budget for
buffered bodies, RFC 9112 framing, 431, bounded rate limiters and tickets,
deleted users, and the security headers. Raw sockets where a client
library would not send the request (tests/e2e/http_raw.py)."""

import re
import socket
import subprocess
import time

import pytest

import http_raw as hr
from medstream_e2e import assert_error, child_env, connect, expect_close, run, ws_open

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
MISSING = "00000000-0000-4000-8000-000000000000"


def log_events(server, event, **match):
    """The server's JSON log lines of this event whose fields match."""
    import json
    out = []
    for line in server.stderr_text().splitlines():
        if not line.startswith("{"):
            continue
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("event") == event and all(o.get(k) == v for k, v in match.items()):
            out.append(o)
    return out


# ---- defect 2: one dispatch per request ------------------------------------

def test_delete_and_get_with_a_body_run_once(start_server):
    """Each request runs its handler once (the server logs every handler run
    at debug level as api_dispatch), whatever the method and the body."""
    srv = start_server()
    u = srv.register()
    tok = u["access_token"]
    route = "/api/conversations/{id}"
    convs = [srv.create_conversation(tok, f"to delete {i}") for i in range(20)]
    # DELETEs with a body, each followed by a pipelined GET on its connection.
    for c in convs:
        data = (hr.request("DELETE", f"/api/conversations/{c['id']}", body=b'{"x": 1}', token=tok)
                + hr.request("GET", "/ready"))
        rs, _ = hr.exchange(srv, data, want=2)
        assert [r.status for r in rs] == [204, 200], [(r.status, r.body) for r in rs]
        assert_error(srv.api("GET", f"/api/conversations/{c['id']}", tok), 404, "not_found")
    # GETs with a body: one answer each, and the connection carries on.
    for _ in range(20):
        rs, _ = hr.exchange(srv, hr.request("GET", "/api/conversations", body=b"ignored",
                                            token=tok) + hr.request("GET", "/ready"), want=2)
        assert [r.status for r in rs] == [200, 200]
        assert "conversations" in rs[0].json()
    time.sleep(0.3)
    assert len(log_events(srv, "api_dispatch", method="DELETE", route=route)) == 20
    # The 20 checks after the DELETEs; the 20 GETs with a body.
    assert len(log_events(srv, "api_dispatch", method="GET", route=route)) == 20
    assert len(log_events(srv, "api_dispatch", method="GET", route="/api/conversations")) == 20


# ---- defect 3: chunked request bodies --------------------------------------

def test_chunked_post_creates_the_titled_conversation(server, user):
    tok = user["access_token"]
    body = b'{"title": "Chunked \xc3\xa9 title"}'
    for ext, trailer, sizes in [(False, False, (5, 7, 3)), (True, True, (1,) * 40), (False, False, (1000,))]:
        r = hr.one(server, hr.request("POST", "/api/conversations", token=tok,
                                      headers={"Transfer-Encoding": "chunked",
                                               "Content-Type": "application/json"},
                                      body=hr.chunked(body, sizes, ext, trailer),
                                      content_length=False))
        assert r.status == 201, (r.status, r.body)
        assert r.json()["title"] == "Chunked é title"
        got = server.api("GET", f"/api/conversations/{r.json()['id']}", tok).json()
        assert got["title"] == "Chunked é title"
    # The body in pieces over time, not in one segment.
    s = hr.connect(server)
    try:
        s.sendall(hr.request("POST", "/api/conversations", token=tok,
                             headers={"Transfer-Encoding": "chunked"}, content_length=False))
        for piece in [b"5\r\n{\"tit", b"\r\n", b"e\r\nle\": \"slow\"}  \r\n", b"0\r\n", b"\r\n"]:
            time.sleep(0.05)
            s.sendall(piece)
        rs, _ = hr.read_responses(s)
        assert rs and rs[0].status == 201 and rs[0].json()["title"] == "slow", rs
    finally:
        s.close()


def test_chunked_register_login_and_limits(server):
    import json
    email = f"chunked-{time.time_ns()}@example.test"
    body = json.dumps({"email": email, "password": "correct horse battery"}).encode()
    r = hr.one(server, hr.request("POST", "/api/auth/register", body=hr.chunked(body),
                                  headers={"Transfer-Encoding": "chunked"}, content_length=False))
    assert r.status == 201, r.body
    tok = r.json()["access_token"]
    # Over max_body_bytes (1 MiB) in chunks: 413, and the connection closes.
    big = b'{"title": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    rs, closed = hr.exchange(server, hr.request(
        "POST", "/api/conversations", token=tok, headers={"Transfer-Encoding": "chunked"},
        body=hr.chunked(big, (65536,) * 20), content_length=False))
    assert rs and rs[0].status == 413 and rs[0].error_code() == "too_large", rs
    # Over the small limit of a route without a token.
    big = json.dumps({"email": email, "password": "x" * 20000}).encode()
    rs, _ = hr.exchange(server, hr.request("POST", "/api/auth/login", body=hr.chunked(big, (4096,) * 10),
                                           headers={"Transfer-Encoding": "chunked"},
                                           content_length=False))
    assert rs and rs[0].status == 413, rs
    # Malformed chunks.
    for bad in [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloX\r\n0\r\n\r\n", b"5\nhello\n0\n\n",
                b"-1\r\n\r\n"]:
        r = hr.one(server, hr.request("POST", "/api/conversations", token=tok,
                                      headers={"Transfer-Encoding": "chunked"}, body=bad,
                                      content_length=False))
        assert r.status == 400 and r.error_code() == "invalid_request", (bad, r.status, r.body)
        assert r.headers.get("connection") == "close"
    # lws reads no body on GET/DELETE by itself, so chunked is refused there.
    r = hr.one(server, hr.request("GET", "/api/conversations", token=tok,
                                  headers={"Transfer-Encoding": "chunked"},
                                  body=b"0\r\n\r\n", content_length=False))
    assert r.status == 400 and r.error_code() == "invalid_request"


# ---- defect 15: request framing (RFC 9112 section 6.3) ---------------------

@pytest.mark.parametrize("headers", [
    {"Content-Length": "abc"},
    {"Content-Length": "0x15"},
    {"Content-Length": "-1"},
    {"Content-Length": "+5"},
    {"Content-Length": "99999999999999999999999"},
    {"Content-Length": "5, 6"},
    {"Content-Length": "5", "Transfer-Encoding": "chunked"},
    {"Transfer-Encoding": "chunked, gzip"},
])
def test_bad_framing_is_400_json_and_closes(server, user, headers):
    tok = user["access_token"]
    data = hr.request("POST", "/api/conversations", token=tok, headers=headers,
                      content_length=False) + b'{"t"}'
    rs, closed = hr.exchange(server, data + hr.request("GET", "/ready"), want=2, timeout=5)
    assert rs, f"no answer to {headers}"
    assert rs[0].status == 400 and rs[0].error_code() == "invalid_request", (headers, rs[0].body)
    assert rs[0].headers.get("connection") == "close"
    # Nothing after it is read as a request (no smuggling).
    assert len(rs) == 1 and closed, rs


def test_duplicate_content_length_lines(server, user):
    tok = user["access_token"]
    head = (f"POST /api/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
            "Content-Length: 17\r\n{dup}\r\n")
    body = b'{"title": "dup"} '
    r = hr.one(server, head.format(dup="Content-Length: 17\r\n").encode() + body)
    assert r.status == 201 and r.json()["title"] == "dup", r.body
    r = hr.one(server, head.format(dup="Content-Length: 18\r\n").encode() + body)
    assert r.status == 400 and r.error_code() == "invalid_request"


def test_other_codings_501_and_http10_te_400(server, user):
    tok = user["access_token"]
    r = hr.one(server, hr.request("POST", "/api/conversations", token=tok,
                                  headers={"Transfer-Encoding": "gzip, chunked"},
                                  body=b"0\r\n\r\n", content_length=False))
    assert r.status == 501 and r.error_code() == "not_implemented"
    r = hr.one(server, hr.request("POST", "/api/conversations", token=tok, version="HTTP/1.0",
                                  headers={"Transfer-Encoding": "chunked"}, body=b"0\r\n\r\n",
                                  content_length=False))
    assert r.status == 400


def test_oversized_head_is_431_or_414_with_json(server):
    r = hr.one(server, hr.request("GET", "/health", headers={"Cookie": "a=" + "b" * 9000}))
    assert r.status == 431 and r.error_code() == "headers_too_large", (r.status, r.body)
    r = hr.one(server, hr.request("GET", "/health", headers={"Cookie": "a=" + "b" * 100000}))
    assert r.status == 431, "a header far over the limit is answered too"
    r = hr.one(server, hr.request("GET", "/health", headers={
        f"Authorization": "Bearer " + "x" * 3000, "Cookie": "c=" + "d" * 3000,
        "User-Agent": "u" * 3000}))
    assert r.status == 431
    r = hr.one(server, hr.request("GET", "/api/kb/search?q=" + "a" * 9000))
    assert r.status == 414 and r.error_code() == "uri_too_long"
    # Under the limit is fine.
    r = hr.one(server, hr.request("GET", "/health", headers={"Cookie": "a=" + "b" * 6000}))
    assert r.status == 200


# ---- defect 11: headers first, total deadlines, a body budget --------------

def test_refusals_come_before_the_body(server, user):
    """The body is never needed to refuse: only headers are sent here."""
    tok = user["access_token"]
    cases = [
        ("POST", "/api/conversations", None, 401, "unauthorized"),
        ("POST", "/api/conversations", "not-a-jwt", 401, "unauthorized"),
        ("POST", "/api/nope", tok, 404, "not_found"),
        ("PUT", "/api/conversations", tok, 405, "method_not_allowed"),
        ("POST", "/api/conversations", tok, 413, "too_large"),  # CL over max_body_bytes
        ("POST", "/api/auth/login", None, 413, "too_large"),  # over max_unauth_body_bytes
    ]
    for method, path, token, status, code in cases:
        length = 2 * 1024 * 1024 if status == 413 and token else (100000 if status == 413 else 500)
        s = hr.connect(server)
        try:
            s.sendall(hr.request(method, path, token=token,
                                 headers={"Content-Length": str(length)}, content_length=False))
            t0 = time.monotonic()
            rs, _ = hr.read_responses(s, timeout=10)
            assert rs, f"{method} {path}: no answer before the body"
            assert (rs[0].status, rs[0].error_code()) == (status, code), (method, path, rs[0].body)
            assert time.monotonic() - t0 < 5
        finally:
            s.close()


def test_refused_request_drains_its_body_then_closes(server):
    """Refused on its headers, a request's body is still read (and dropped)
    so that the client gets the answer and not a reset, then the
    connection closes."""
    data = hr.request("POST", "/api/conversations", body=b"x" * 500000) + hr.request("GET", "/ready")
    rs, closed = hr.exchange(server, data, want=2)
    assert [r.status for r in rs] == [401] and closed, rs
    assert rs[0].headers.get("connection") == "close"
    # The same when the body only comes after the answer was sent.
    s = hr.connect(server)
    try:
        s.sendall(hr.request("POST", "/api/conversations", headers={"Content-Length": "20"},
                             content_length=False))
        rs, _ = hr.read_responses(s, timeout=10)
        assert rs and rs[0].status == 401, rs
        time.sleep(0.2)
        s.sendall(b"y" * 20)
        assert hr.wait_closed(s, 10) is not None
    finally:
        s.close()
    # Without a body to come, the connection is kept.
    rs, closed = hr.exchange(server, hr.request("GET", "/api/conversations")
                             + hr.request("GET", "/ready"), want=2)
    assert [r.status for r in rs] == [401, 200], rs
    # A client that sends its refused requests one after another on one
    # connection (requests.Session) gets every answer.
    import requests
    with requests.Session() as sess:
        for i in range(200):
            r = sess.post(server.base_url + "/api/conversations", json={"title": str(i)}, timeout=10)
            assert r.status_code == 401


def test_body_deadline_is_total_not_per_byte(start_server):
    srv = start_server(body_timeout_s=2)
    tok = srv.register()["access_token"]
    s = hr.connect(srv)
    try:
        s.sendall(hr.request("POST", "/api/conversations", token=tok,
                             headers={"Content-Length": "100"}, content_length=False))
        t0 = time.monotonic()
        got = None
        for _ in range(40):  # a byte every 0.25 s: lws' timer would never fire
            try:
                s.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            s.settimeout(0.25)
            try:
                d = s.recv(65536)
                if d:
                    got = d
                    break
            except socket.timeout:
                pass
        elapsed = time.monotonic() - t0
        assert got is not None, "the server never answered a body that kept trickling in"
        assert got.startswith(b"HTTP/1.1 408"), got[:200]
        assert b'"timeout"' in got
        assert 1.5 <= elapsed < 6, elapsed
        assert hr.wait_closed(s, 5) is not None
    finally:
        s.close()


def test_refused_body_drains_only_until_the_deadline(start_server):
    """A refusal drains the rest of its body, but a body that keeps
    trickling in is cut off at the body deadline all the same."""
    srv = start_server(body_timeout_s=2)
    s = hr.connect(srv)
    try:
        s.sendall(hr.request("POST", "/api/conversations", headers={"Content-Length": "1000"},
                             content_length=False) + b"0123456789")
        rs, _ = hr.read_responses(s, timeout=10)
        assert rs and rs[0].status == 401, rs
        t0 = time.monotonic()
        closed = False
        for _ in range(40):
            try:
                s.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if hr.wait_closed(s, 0.25) is not None:
                closed = True
                break
        assert closed, "a refused request's trickling body kept its connection open"
        assert time.monotonic() - t0 < 6
    finally:
        s.close()


def test_header_deadline_is_total(start_server):
    srv = start_server(header_timeout_s=2)
    s = hr.connect(srv)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\n")
        t0 = time.monotonic()
        closed = False
        for _ in range(40):
            try:
                s.sendall(b"X-Slow: loris\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if hr.wait_closed(s, 0.25) is not None:
                closed = True
                break
        assert closed, "a head that kept trickling in was never cut off"
        assert time.monotonic() - t0 < 6
    finally:
        s.close()
    # A connection that sends nothing at all is closed too.
    s = hr.connect(srv)
    try:
        assert hr.wait_closed(s, 8) is not None
    finally:
        s.close()


def test_buffered_bodies_share_a_budget(start_server):
    srv = start_server(body_budget_bytes=2500)
    tok = srv.register()["access_token"]

    def head(n):
        return hr.request("POST", "/api/conversations", token=tok,
                          headers={"Content-Length": str(n)}, content_length=False)

    a, c, d = hr.connect(srv), hr.connect(srv), hr.connect(srv)
    try:
        a.sendall(head(2000) + b'{"title": "' + b"a" * 1979)  # 1990 buffered, incomplete
        time.sleep(0.3)
        r = hr.one(srv, head(2000))  # 1990 + 2000 would pass the budget: refused at once
        assert r.status == 503 and r.error_code() == "busy", (r.status, r.body)
        # Announcing a body costs nothing until it arrives: both are let in...
        c.sendall(head(400))
        d.sendall(head(400))
        time.sleep(0.3)
        c.sendall(b"c" * 399)
        time.sleep(0.3)
        # ...and the bytes that would pass the budget are refused mid-body.
        d.sendall(b"d" * 400)
        rs, _ = hr.read_responses(d, timeout=10)
        assert rs and rs[0].status == 503 and rs[0].error_code() == "busy", rs
        # Requests that buffer no body are not affected.
        assert hr.one(srv, hr.request("GET", "/api/conversations", token=tok)).status == 200
    finally:
        a.close()
        c.close()
        d.close()
    time.sleep(0.3)  # the reservations go with their connections
    body = b'{"title": "after"}'
    r = hr.one(srv, hr.request("POST", "/api/conversations", token=tok, body=body))
    assert r.status == 201, r.body
    assert len(log_events(srv, "body_budget_full")) <= 1


# ---- defect 4: the login limiter -------------------------------------------

def test_blocked_address_is_refused_on_the_headers(start_server):
    srv = start_server(login_rate_per_min=None)  # the default, 20 a minute
    for i in range(25):
        srv.api("POST", "/api/auth/login", json={"email": f"a{i}@example.test", "password": "p" * 10})
    # Over the address budget: refused before the body (no email key made).
    s = hr.connect(srv)
    try:
        s.sendall(hr.request("POST", "/api/auth/login", headers={"Content-Length": "60"},
                             content_length=False))
        rs, _ = hr.read_responses(s, timeout=10)
        assert rs and rs[0].status == 429 and rs[0].error_code() == "rate_limited", rs
        assert rs[0].headers.get("retry-after") == "60"
    finally:
        s.close()


# ---- defect 18: tickets ----------------------------------------------------

def test_tickets_are_rate_limited_per_user(server):
    a, b = server.register(), server.register()
    codes = [server.api("POST", "/api/ws-ticket", a["access_token"]).status_code for _ in range(35)]
    assert codes[:30] == [200] * 30 and codes[30:] == [429] * 5, codes
    assert server.api("POST", "/api/ws-ticket", b["access_token"]).status_code == 200


def test_one_users_tickets_never_evict_anothers(start_server):
    srv = start_server(ticket_rate_per_min=100000, tickets_per_user=4, max_tickets=12)
    alice, mallory = srv.register(), srv.register()
    ticket = srv.ws_ticket(alice["access_token"])
    for _ in range(300):
        assert srv.api("POST", "/api/ws-ticket", mallory["access_token"]).status_code == 200
    # Fill the table with other users: the next one is refused, not evicting.
    others = [srv.register() for _ in range(10)]
    codes = [srv.api("POST", "/api/ws-ticket", o["access_token"]).status_code for o in others]
    assert codes.count(200) == 12 - 1 - 4 and codes.count(503) == 10 - 7, codes

    async def go():
        ws, ev = await connect(srv, query=f"ticket={ticket}")
        assert ev["user_id"] == alice["user"]["id"]
        await ws.close()
    run(go())
    # Refusals are aggregated in the log, not one line each.
    warns = [ln for ln in srv.stderr_text().splitlines() if '"level":"warn"' in ln]
    assert len(warns) <= 3, warns


# ---- defect 19: deleted users, security headers ----------------------------

def _cli(srv, *args):
    return subprocess.run([srv.bin, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=child_env())


def test_deleted_users_token_is_refused_at_once(start_server):
    srv = start_server()
    u, other = srv.register(), srv.register()
    tok = u["access_token"]
    conv = srv.create_conversation(tok, "mine")
    assert srv.api("GET", "/api/conversations", tok).status_code == 200
    r = _cli(srv, "user", "delete", "--data-dir", str(srv.data_dir), "--email", u["email"].upper())
    assert r.returncode == 0, r.stderr
    assert u["user"]["id"] in r.stdout
    for method, path, body in [("GET", "/api/conversations", None),
                               ("POST", "/api/conversations", {}),
                               ("GET", f"/api/conversations/{conv['id']}", None),
                               ("GET", "/api/kb/search?q=asthma", None),
                               ("POST", "/api/ws-ticket", None),
                               ("POST", f"/api/conversations/{conv['id']}/messages/chat",
                                {"text": "What is asthma?"})]:
        assert_error(srv.api(method, path, tok, json=body), 401, "unauthorized")
    assert_error(srv.api("POST", "/api/auth/refresh", json={"refresh_token": u["refresh_token"]}),
                 401)
    assert_error(srv.api("POST", "/api/auth/login", json={"email": u["email"], "password": u["password"]}),
                 401, "invalid_credentials")
    # Other users are untouched.
    assert srv.api("GET", "/api/conversations", other["access_token"]).status_code == 200
    # The CLI's errors.
    r = _cli(srv, "user", "delete", "--data-dir", str(srv.data_dir), "--email", u["email"])
    assert r.returncode == 1 and "no user" in r.stderr
    assert _cli(srv, "user", "delete", "--data-dir", str(srv.data_dir)).returncode == 2
    r = _cli(srv, "user", "delete", "--data-dir", str(srv.data_dir / "nowhere"), "--email", "a@b.c")
    assert r.returncode == 1 and "no database" in r.stderr
    assert not (srv.data_dir / "nowhere").exists()


def _check_security_headers(r, what):
    hl = r.header_list if isinstance(r, hr.Response) else [(k.lower(), v) for k, v in r.headers.items()]
    h = dict(hl)
    assert h.get("content-security-policy") == CSP, (what, h)
    assert h.get("x-content-type-options") == "nosniff", what
    assert h.get("x-frame-options") == "DENY", what
    assert h.get("referrer-policy") == "no-referrer", what
    names = [k for k, _ in hl]
    for n in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert names.count(n) == 1, (what, names)


def test_security_headers_on_every_response(server, user):
    tok = user["access_token"]
    conv = server.create_conversation(tok)
    for method, path, kw, status in [
        ("GET", "/", {}, 200), ("GET", "/health", {}, 200), ("GET", "/ready", {}, 200),
        ("GET", "/api/nope", {}, 404), ("GET", "/api/conversations", {}, 401),
        ("GET", "/api/auth/login", {}, 405), ("POST", "/api/conversations", {"json": {}}, 201),
        ("DELETE", f"/api/conversations/{conv['id']}", {}, 204),
        ("POST", "/api/auth/login", {"data": b"nope"}, 400),
    ]:
        r = server.api(method, path, tok if status in (201, 204) else None, **kw)
        assert r.status_code == status, (method, path, r.status_code)
        _check_security_headers(r, f"{method} {path}")
    for data in [hr.request("POST", "/api/conversations", headers={"Content-Length": "abc"},
                            content_length=False),
                 hr.request("GET", "/health", headers={"Cookie": "a=" + "b" * 9000})]:
        _check_security_headers(hr.one(server, data), data[:40])
