"""Authentication and the REST error model (docs/protocol.md: Authentication,
Errors)."""

import uuid

import pytest

from medstream_e2e import (DEFAULT_PASSWORD, assert_error, b64url, bearer, connect, expect_close,
                           http_from, jwt_parts, run, ws_open)


def _email():
    return f"auth-{uuid.uuid4().hex[:12]}@example.test"


def _assert_token_body(body, email):
    assert body["token_type"] == "bearer"
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    u = body["user"]
    assert isinstance(u["id"], str) and u["id"]
    assert u["email"].lower() == email.lower()
    assert u["role"] == "clinician"


def test_register_returns_201_with_tokens_and_clinician_user(server):
    email = _email()
    r = server.api("POST", "/api/auth/register", json={"email": email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 201, r.text
    body = r.json()
    _assert_token_body(body, email)
    assert DEFAULT_PASSWORD not in r.text and "password_hash" not in r.text
    # The access token is an HS256 JWT with the documented claims.
    header, claims = jwt_parts(body["access_token"])
    assert header["alg"] == "HS256"
    assert claims["sub"] == body["user"]["id"]
    assert claims["email"].lower() == email.lower()
    assert claims["role"] == "clinician"
    assert claims["iss"] == "medstream"
    assert claims["typ"] == "access"
    assert claims["exp"] > claims["iat"]
    # And it works.
    r = server.api("GET", "/api/conversations", body["access_token"])
    assert r.status_code == 200, r.text


def test_register_duplicate_email_is_409(server):
    email = _email()
    server.register(email)
    r = server.api("POST", "/api/auth/register", json={"email": email, "password": "another password"})
    assert_error(r, 409, "conflict")


@pytest.mark.parametrize("body", [
    {"email": "x@example.test"},                              # no password
    {"password": DEFAULT_PASSWORD},                           # no email
    {"email": "short@example.test", "password": "1234567"},  # 7 bytes < 8
    {"email": "long@example.test", "password": "p" * 1025},  # > 1024 bytes
    {"email": 12, "password": DEFAULT_PASSWORD},              # wrong type
])
def test_register_invalid_body_is_400(server, body):
    r = server.api("POST", "/api/auth/register", json=body)
    assert_error(r, 400, "invalid_request")


def test_login_ok_and_wrong_password_401(server):
    u = server.register()
    r = server.api("POST", "/api/auth/login", json={"email": u["email"], "password": u["password"]})
    assert r.status_code == 200, r.text
    body = r.json()
    _assert_token_body(body, u["email"])
    assert body["user"]["id"] == u["user"]["id"]
    assert body["refresh_token"] != u["refresh_token"]

    r = server.api("POST", "/api/auth/login", json={"email": u["email"], "password": "wrong password!"})
    err = assert_error(r, 401, "invalid_credentials")
    # An unknown email gets the same answer (no account enumeration).
    r2 = server.api("POST", "/api/auth/login", json={"email": _email(), "password": "wrong password!"})
    err2 = assert_error(r2, 401, "invalid_credentials")
    assert err["code"] == err2["code"]


def test_refresh_rotates_and_reuse_is_rejected(server):
    u = server.register()
    rt1 = u["refresh_token"]
    r = server.api("POST", "/api/auth/refresh", json={"refresh_token": rt1})
    assert r.status_code == 200, r.text
    body = r.json()
    _assert_token_body(body, u["email"])
    rt2 = body["refresh_token"]
    assert rt2 != rt1
    assert server.api("GET", "/api/conversations", body["access_token"]).status_code == 200

    # The used token is rejected on reuse ...
    r = server.api("POST", "/api/auth/refresh", json={"refresh_token": rt1})
    assert_error(r, 401)
    # ... and the replay revokes every refresh token of that user (RFC 6819 5.2.2.3).
    r = server.api("POST", "/api/auth/refresh", json={"refresh_token": rt2})
    assert_error(r, 401)
    # Logging in again still works.
    assert server.login(u["email"], u["password"])["refresh_token"]


def test_refresh_with_garbage_or_missing_token(server):
    assert_error(server.api("POST", "/api/auth/refresh", json={"refresh_token": "nope"}), 401)
    assert_error(server.api("POST", "/api/auth/refresh", json={}), 400, "invalid_request")


def test_ws_ticket_is_one_time(server):
    u = server.register()
    assert_error(server.api("POST", "/api/ws-ticket"), 401, "unauthorized")
    r = server.api("POST", "/api/ws-ticket", u["access_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body["ticket"], str) and body["ticket"]
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 30
    ticket = body["ticket"]

    async def go():
        ws, ev = await connect(server, query=f"ticket={ticket}")
        assert ev["user_id"] == u["user"]["id"]
        await ws.close()
        ws2 = await ws_open(server, query=f"ticket={ticket}")
        code, _ = await expect_close(ws2)
        assert code == 4001, f"reused ticket: expected close 4001, got {code}"
    run(go())


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/conversations"),
    ("POST", "/api/conversations"),
    ("GET", "/api/conversations/00000000-0000-4000-8000-000000000000"),
    ("GET", "/api/conversations/00000000-0000-4000-8000-000000000000/messages"),
    ("GET", "/api/kb/search?q=asthma"),
    ("POST", "/api/ws-ticket"),
])
def test_rest_without_token_is_401(server, method, path):
    r = server.api(method, path, json={} if method == "POST" else None)
    assert_error(r, 401, "unauthorized")


def test_rest_with_bad_tokens_is_401(server):
    u = server.register()
    tok = u["access_token"]
    h, p, s = tok.split(".")
    header, claims = jwt_parts(tok)
    tampered = f"{h}.{b64url({**claims, 'role': 'admin'})}.{s}"
    alg_none = f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{p}."
    flipped = f"{h}.{p}.{('B' if s[0] == 'A' else 'A') + s[1:]}"  # first signature char
    for bad in ["garbage", tampered, alg_none, flipped, u["refresh_token"]]:
        r = server.api("GET", "/api/conversations", headers=bearer(bad))
        assert_error(r, 401, "unauthorized")
    # Not "Bearer".
    r = server.api("GET", "/api/conversations", headers={"Authorization": f"Basic {tok}"})
    assert_error(r, 401, "unauthorized")


def test_malformed_json_body_is_400(server):
    r = server.api("POST", "/api/auth/register", data=b'{"email": "a@b.test", "password": ',
                   headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")
    r = server.api("POST", "/api/auth/login", data=b"not json at all",
                   headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")
    u = server.register()
    r = server.api("POST", "/api/conversations", u["access_token"], data=b"{\"title\": ",
                   headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")
    # A JSON body that is not an object.
    r = server.api("POST", "/api/auth/login", json=["a", "b"])
    assert_error(r, 400, "invalid_request")


def test_unknown_route_is_404_and_wrong_method_405(server):
    u = server.register()
    for path in ["/api/nope", "/api/conversations/x/y/z", "/definitely-not-a-page"]:
        r = server.api("GET", path, u["access_token"])
        assert_error(r, 404, "not_found")
    r = server.api("PUT", "/api/conversations", u["access_token"], json={})
    assert_error(r, 405, "method_not_allowed")
    r = server.api("GET", "/api/auth/login")
    assert_error(r, 405, "method_not_allowed")


def test_body_over_limit_is_413(server):
    u = server.register()
    big = b'{"title": "' + b"a" * (1024 * 1024 + 4096) + b'"}'
    r = server.api("POST", "/api/conversations", u["access_token"], data=big,
                   headers={"Content-Type": "application/json"})
    assert_error(r, 413, "too_large")


def test_login_is_rate_limited_per_address(start_server):
    srv = start_server(login_rate_per_min=None)  # the server's default limit
    u = srv.register()
    codes = []
    for _ in range(60):
        r = srv.api("POST", "/api/auth/login", json={"email": u["email"], "password": "wrong password!"})
        codes.append(r.status_code)
        if r.status_code == 429:
            assert_error(r, 429, "rate_limited")
            break
        assert_error(r, 401, "invalid_credentials")
    assert codes[-1] == 429, f"60 failed logins from one address never got 429: {codes}"
    # The limit is on the address: another account from it is refused as well.
    r = srv.api("POST", "/api/auth/login", json={"email": "someone-else@example.test",
                                                 "password": "wrong password!"})
    assert_error(r, 429, "rate_limited")


def test_login_is_rate_limited_per_email(start_server):
    """Many addresses guessing one account's password (credential stuffing)
    are limited too: the doc says per IP *and per email*."""
    srv = start_server(login_rate_per_min=None)
    u = srv.register()
    statuses = []
    for i in range(60):
        status, body = http_from(srv, f"127.0.0.{i + 10}", "POST", "/api/auth/login",
                                 {"email": u["email"], "password": "wrong password!"})
        statuses.append(status)
        if status == 429:
            assert body["error"]["code"] == "rate_limited", body
            break
        assert status == 401, (status, body)
    assert statuses[-1] == 429, (
        f"60 failed logins for one email from 60 addresses never got 429: {statuses}")
