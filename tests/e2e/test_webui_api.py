"""The server side of the web client (docs/protocol.md): the refresh cookie
and sign-out, conversation search, feedback on messages, the model list, and
how the embedded page and its files are served (types, gzip, caching, CSP)."""

import gzip

import requests

from medstream_e2e import DEFAULT_PASSWORD, HTTP_TIMEOUT, ask, assert_error, connect, run

MISSING = "00000000-0000-4000-8000-000000000000"


def _fresh(server):
    """A cookie jar of its own (the server fixture's session is shared)."""
    s = requests.Session()
    s.base = server.base_url
    return s


def _post(s, path, **kw):
    kw.setdefault("timeout", HTTP_TIMEOUT)
    return s.post(s.base + path, **kw)


def _cookie_login(server, s, register=True):
    email = f"cookie-{id(s)}@example.test"
    path = "/api/auth/register" if register else "/api/auth/login"
    r = _post(s, path, json={"email": email, "password": DEFAULT_PASSWORD, "use_cookie": True})
    assert r.status_code in (200, 201), r.text
    return r


def test_cookie_login_keeps_the_refresh_token_out_of_the_body(server):
    s = _fresh(server)
    r = _cookie_login(server, s)
    body = r.json()
    assert "refresh_token" not in body and body["access_token"]
    sc = r.headers["Set-Cookie"]
    attrs = [a.strip().lower() for a in sc.split(";")]
    assert sc.startswith("ms_refresh=") and len(sc.split(";")[0]) > len("ms_refresh=") + 20
    assert "httponly" in attrs and "samesite=strict" in attrs and "path=/api/auth" in attrs
    assert "secure" not in attrs  # plain http, no proxy trusted
    # The cookie alone refreshes, and rotates in the cookie.
    old = s.cookies.get("ms_refresh")
    r2 = _post(s, "/api/auth/refresh")
    assert r2.status_code == 200, r2.text
    assert "refresh_token" not in r2.json() and r2.json()["user"]["email"] == body["user"]["email"]
    new = s.cookies.get("ms_refresh")
    assert new and new != old
    # An empty POST (Content-Length: 0, as browsers send it) is handled
    # once: a second run would replay the token and revoke the session.
    for _ in range(3):
        r4 = _post(s, "/api/auth/refresh", headers={"Content-Length": "0"}, data=b"")
        assert r4.status_code == 200, r4.text
    # The rotated-out value is dead.
    r3 = requests.post(server.base_url + "/api/auth/refresh", cookies={"ms_refresh": old},
                       timeout=HTTP_TIMEOUT)
    assert_error(r3, 401, "unauthorized")


def test_logout_revokes_the_refresh_token_and_clears_the_cookie(server):
    s = _fresh(server)
    _cookie_login(server, s)
    tok = s.cookies.get("ms_refresh")
    r = _post(s, "/api/auth/logout")
    assert r.status_code == 204, r.text
    assert "max-age=0" in r.headers["Set-Cookie"].lower()
    assert s.cookies.get("ms_refresh") is None
    r = requests.post(server.base_url + "/api/auth/refresh", cookies={"ms_refresh": tok},
                      timeout=HTTP_TIMEOUT)
    assert_error(r, 401, "unauthorized")
    # Logging out again (no cookie, unknown token) is still a quiet 204.
    assert _post(s, "/api/auth/logout").status_code == 204
    assert _post(s, "/api/auth/logout", json={"refresh_token": "nope"}).status_code == 204


def test_logout_with_a_body_token_for_api_clients(server):
    u = server.register()
    r = server.api("POST", "/api/auth/logout", json={"refresh_token": u["refresh_token"]})
    assert r.status_code == 204
    r = server.api("POST", "/api/auth/refresh", json={"refresh_token": u["refresh_token"]})
    assert_error(r, 401, "unauthorized")


def test_secure_cookie_behind_a_trusted_proxy(start_server):
    srv = start_server(trust_forwarded_proto=True)
    s = _fresh(srv)
    email = "proxy@example.test"
    body = {"email": email, "password": DEFAULT_PASSWORD, "use_cookie": True}
    r = _post(s, "/api/auth/register", json=body, headers={"X-Forwarded-Proto": "https"})
    assert "secure" in [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")]
    r = _post(s, "/api/auth/login", json=body, headers={"X-Forwarded-Proto": "http"})
    assert "secure" not in [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")]


def test_untrusted_forwarded_proto_is_ignored_and_cookie_secure_forces_it(start_server):
    srv = start_server()
    s = _fresh(srv)
    body = {"email": "noproxy@example.test", "password": DEFAULT_PASSWORD, "use_cookie": True}
    r = _post(s, "/api/auth/register", json=body, headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")]
    srv2 = start_server(cookie_secure=True)
    s2 = _fresh(srv2)
    r = _post(s2, "/api/auth/register", json=body)
    assert "secure" in [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")]


def test_models_lists_the_configured_provider(server, user):
    r = server.api("GET", "/api/models", user["access_token"])
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["default"] == "offline"
    assert [m["id"] for m in b["models"]] == ["offline"]
    m = b["models"][0]
    assert m["local"] is True and m["default"] is True and m["name"]
    assert b["disclaimer"].startswith("Medical disclaimer")
    assert_error(server.api("GET", "/api/models"), 401)


def test_conversation_search_by_title_and_content(server):
    u = server.register()
    tok = u["access_token"]
    a = server.create_conversation(tok, "Ward round 7B")
    server.create_conversation(tok, "Unrelated")

    async def go():
        ws, _ = await connect(server, tok)
        st = await ask(ws, "What are the symptoms of hypertension 50%_off?")
        await ws.close()
        return st

    st = run(go())
    conv = st.start["conversation_id"]

    def q(text):
        r = server.api("GET", "/api/conversations", tok, params={"q": text})
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["conversations"]]

    assert q("ward ROUND") == [a["id"]]
    assert q("50%_off") == [conv]  # content match; % and _ are literal
    assert q("%") == [conv]
    assert q("nothing like this anywhere") == []
    # Another user's conversations never match.
    other = server.register()["access_token"]
    r = server.api("GET", "/api/conversations", other, params={"q": "ward"})
    assert r.json()["conversations"] == []
    assert_error(server.api("GET", "/api/conversations", tok, params={"q": ""}), 400)
    assert_error(server.api("GET", "/api/conversations", tok, params={"q": "x" * 201}), 400)


def test_feedback_is_stored_per_message_and_owner_only(server):
    u = server.register()
    tok = u["access_token"]

    async def go():
        ws, _ = await connect(server, tok)
        st = await ask(ws, "What is hypertension?")
        await ws.close()
        return st

    st = run(go())
    conv, mid = st.start["conversation_id"], st.message_id
    path = f"/api/messages/{mid}/feedback"
    assert_error(server.api("GET", path, tok), 404)
    r = server.api("PUT", path, tok, json={"rating": "down", "comment": "Missed first-line ACE"})
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["message_id"] == mid and f["rating"] == "down"
    assert f["comment"] == "Missed first-line ACE"
    r = server.api("PUT", path, tok, json={"rating": "up"})
    assert r.json()["rating"] == "up" and r.json()["comment"] is None
    assert server.api("GET", path, tok).json()["rating"] == "up"
    msgs = server.messages(tok, conv)
    by_id = {m["id"]: m for m in msgs}
    assert by_id[mid]["feedback"]["rating"] == "up"
    assert by_id[st.start["user_message_id"]]["feedback"] is None
    # Every assistant message names the disclaimer it ends with.
    assert by_id[mid]["disclaimer"] and by_id[mid]["content"].endswith(by_id[mid]["disclaimer"])
    assert "disclaimer" not in by_id[st.start["user_message_id"]]
    # Bad input, user messages, other users, absent messages.
    for bad in ({"rating": "meh"}, {}, {"rating": "up", "comment": 5},
                {"rating": "up", "comment": "x" * 2001}):
        assert_error(server.api("PUT", path, tok, json=bad), 400, "invalid_request")
    assert_error(server.api("PUT", f"/api/messages/{st.start['user_message_id']}/feedback", tok,
                            json={"rating": "up"}), 400, "invalid_request")
    other = server.register()["access_token"]
    assert_error(server.api("PUT", path, other, json={"rating": "down"}), 404, "not_found")
    assert_error(server.api("GET", path, other), 404, "not_found")
    assert_error(server.api("DELETE", path, other), 404, "not_found")
    assert_error(server.api("PUT", f"/api/messages/{MISSING}/feedback", tok,
                            json={"rating": "up"}), 404)
    assert server.api("DELETE", path, tok).status_code == 204
    assert_error(server.api("GET", path, tok), 404)
    # Deleting the conversation takes the feedback with it.
    server.api("PUT", path, tok, json={"rating": "up"})
    assert server.api("DELETE", f"/api/conversations/{conv}", tok).status_code == 204
    assert_error(server.api("GET", path, tok), 404)


def _get(server, path, **headers):
    return requests.get(server.base_url + path, headers=headers, timeout=HTTP_TIMEOUT,
                        stream=True)


def test_page_and_assets_are_served_compressed_with_cache_headers(server):
    r = _get(server, "/", **{"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Cache-Control"] == "no-cache"
    assert "Accept-Encoding" in r.headers["Vary"]
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    raw = r.raw.read()
    html = gzip.decompress(raw).decode()
    assert "<html" in html.lower()
    # Without gzip the same bytes come inflated.
    r2 = _get(server, "/", **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in r2.headers
    assert r2.raw.read().decode() == html
    # gzip;q=0 is a refusal.
    r3 = _get(server, "/", **{"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in r3.headers
    # Every script and stylesheet the page names is served, hashed and immutable.
    import re
    refs = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
    assert refs, html[:500]
    for ref in refs:
        a = _get(server, ref, **{"Accept-Encoding": "gzip, deflate"})
        assert a.status_code == 200, ref
        assert a.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert a.headers["Content-Encoding"] == "gzip"
        ctype = a.headers["Content-Type"]
        assert ctype.startswith("text/javascript") if ref.endswith(".js") else \
            ctype.startswith("text/css") if ref.endswith(".css") else True, (ref, ctype)
        gzip.decompress(a.raw.read())
    assert_error(requests.get(server.base_url + "/assets/nope.js", timeout=HTTP_TIMEOUT), 404)
