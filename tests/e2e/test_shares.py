"""Share links (docs/protocol.md, "Share links"): creating a link to a
conversation, the anonymous read-only view with the disclaimer, passwords,
view caps, expiry, revocation, the owner's list and access log, ownership,
limits, rate limiting of guesses, and that a token is never stored or
logged."""

import http.client
import json
import re
import time
from datetime import datetime, timezone

import pytest

from medstream_e2e import (DISCLAIMER_TEXT, HTTP_TIMEOUT, RFC3339_MS, assert_error)

MISSING = "00000000-0000-4000-8000-000000000000"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
SHARE_KEYS = {"id", "conversation_id", "created_at", "expires_at", "password_protected",
              "max_views", "view_count", "views_remaining", "denied_count", "last_access_at",
              "revoked_at", "state"}
PASSWORD = "ward round 7B"


@pytest.fixture(scope="module")
def srv(_module_servers):
    """No answer pacing, and the guessing limit lifted (every client here is
    127.0.0.1); the rate-limit test starts its own server."""
    s = _module_servers.start(word_interval_ms=0, share_rate_per_min=100000)
    return s


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def conversation_with_answer(server, tok, text="What is asthma?"):
    conv = server.create_conversation(tok, "Shared ward round")
    r = server.api("POST", f"/api/conversations/{conv['id']}/messages/chat", tok,
                   json={"text": text})
    assert r.status_code == 200, r.text
    return conv, r.json()


def share(server, tok, conv_id, **body):
    r = server.api("POST", f"/api/sessions/{conv_id}/share", tok, json=body)
    assert r.status_code == 201, r.text
    s = r.json()
    assert set(s) == SHARE_KEYS | {"token", "share_url"}, s
    assert TOKEN.match(s["token"]), s["token"]
    assert s["share_url"] == f"/api/shared/{s['token']}"
    return s


def view(server, token, password=None):
    if password is None:
        return server.api("GET", f"/api/shared/{token}")
    return server.api("POST", f"/api/shared/{token}", json={"password": password})


def from_addr(server, ip, method, path, body=None):
    """(status, headers, JSON body) of one request from 127.0.0.x."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HTTP_TIMEOUT,
                                      source_address=(ip, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(raw or b"null")
    finally:
        conn.close()


def shares_of(server, tok, conv_id):
    r = server.api("GET", f"/api/sessions/{conv_id}/shares", tok)
    assert r.status_code == 200, r.text
    return r.json()["shares"]


def test_create_and_view_read_only_with_the_disclaimer(srv):
    u = srv.register()
    tok = u["access_token"]
    conv, pair = conversation_with_answer(srv, tok)
    fr = srv.api("POST", "/api/folders", tok, json={"name": "Private folder"}).json()
    srv.api("PATCH", f"/api/conversations/{conv['id']}", tok, json={"folder_id": fr["id"]})
    mid = pair["assistant_message"]["id"]
    srv.api("PUT", f"/api/messages/{mid}/feedback", tok, json={"rating": "up"})
    before = time.time()
    s = share(srv, tok, conv["id"])
    assert s["state"] == "active" and s["conversation_id"] == conv["id"]
    assert s["password_protected"] is False and s["max_views"] is None
    assert s["view_count"] == 0 and s["views_remaining"] is None
    assert s["revoked_at"] is None and s["last_access_at"] is None
    # Default expiry: 24 hours.
    assert abs(ts(s["expires_at"]) - (before + 86400)) < 60, s
    r = view(srv, s["token"])  # no Authorization header: anyone with the link
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"conversation", "messages", "disclaimer", "read_only", "share"}
    assert body["read_only"] is True and body["disclaimer"] == DISCLAIMER_TEXT
    assert body["conversation"]["id"] == conv["id"]
    assert body["conversation"]["title"] == "Shared ward round"
    assert body["conversation"]["message_count"] == 2
    assert "folder_id" not in body["conversation"]  # the owner's filing stays private
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[0]["content"] == "What is asthma?" and "disclaimer" not in msgs[0]
    a = msgs[1]
    # Native Message JSON, as the owner's own message list has it, plus the disclaimer.
    own = {m["id"]: m for m in srv.messages(tok, conv["id"])}
    for m in msgs:
        expect = dict(own[m["id"]])
        expect.pop("feedback")
        assert m == expect
    assert a["disclaimer"] == DISCLAIMER_TEXT and a["content"].endswith(DISCLAIMER_TEXT)
    assert "feedback" not in a and a["citations"] == pair["assistant_message"]["citations"]
    assert body["share"]["view_count"] == 1 and body["share"]["views_remaining"] is None
    assert body["share"]["expires_at"] == s["expires_at"]
    # Read-only: the shared path answers GET and POST (the password) only,
    # and no owner route opens with the link's token.
    assert_error(srv.api("DELETE", f"/api/shared/{s['token']}"), 405, "method_not_allowed")
    assert_error(srv.api("PUT", f"/api/shared/{s['token']}", json={}), 405,
                 "method_not_allowed")
    assert_error(srv.api("GET", f"/api/conversations/{conv['id']}",
                         headers={"Authorization": f"Bearer {s['token']}"}), 401,
                 "unauthorized")
    # The owner sees the view counted.
    [listed] = shares_of(srv, tok, conv["id"])
    assert set(listed) == SHARE_KEYS and listed["id"] == s["id"]
    assert listed["view_count"] == 1 and RFC3339_MS.match(listed["last_access_at"])


def test_token_is_stored_only_as_a_hash_and_never_logged(srv):
    u = srv.register()
    tok = u["access_token"]
    conv, _ = conversation_with_answer(srv, tok)
    s = share(srv, tok, conv["id"], password=PASSWORD)
    assert view(srv, s["token"], PASSWORD).status_code == 200
    assert view(srv, s["token"], "not the password").status_code == 403
    assert srv.api("DELETE", f"/api/sessions/{conv['id']}/share/{s['token']}", tok) \
        .status_code == 204
    raw = b"".join(p.read_bytes() for p in srv.data_dir.glob("medstream.db*"))
    assert s["token"].encode() not in raw
    assert PASSWORD.encode() not in raw
    assert s["id"].encode() in raw  # the row is there, under its id
    log = srv.stderr_text() + (srv.log_dir / "stdout.log").read_text(errors="replace")
    assert s["token"] not in log and PASSWORD not in log
    assert s["id"] in log  # the log names the link by its id


def test_password_protected_link(srv):
    tok = srv.register()["access_token"]
    conv, _ = conversation_with_answer(srv, tok)
    s = share(srv, tok, conv["id"], password=PASSWORD)
    assert s["password_protected"] is True
    assert_error(view(srv, s["token"]), 403, "password_required")
    assert_error(srv.api("POST", f"/api/shared/{s['token']}", json={}), 403, "password_required")
    assert_error(view(srv, s["token"], "wrong password"), 403, "wrong_password")
    assert_error(srv.api("POST", f"/api/shared/{s['token']}", json={"password": 12345678}), 400,
                 "invalid_request")
    r = view(srv, s["token"], PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["share"]["password_protected"] is True
    [listed] = shares_of(srv, tok, conv["id"])
    assert listed["view_count"] == 1 and listed["denied_count"] == 3
    # Passwords follow the account rules: 8 to 1024 bytes.
    for bad in ("short", "x" * 1025, 5):
        assert_error(srv.api("POST", f"/api/sessions/{conv['id']}/share", tok,
                             json={"password": bad}), 400, "invalid_request")
    # A password sent to a link without one is ignored.
    plain = share(srv, tok, conv["id"])
    assert view(srv, plain["token"], "anything at all").status_code == 200


def test_view_cap_counts_accesses(srv):
    tok = srv.register()["access_token"]
    conv, _ = conversation_with_answer(srv, tok)
    s = share(srv, tok, conv["id"], max_views=2)
    assert s["max_views"] == 2 and s["views_remaining"] == 2
    r1, r2 = view(srv, s["token"]), view(srv, s["token"])
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["share"]["views_remaining"] == 1
    assert r2.json()["share"]["views_remaining"] == 0
    assert_error(view(srv, s["token"]), 410, "share_view_limit")
    assert_error(view(srv, s["token"]), 410, "share_view_limit")
    [listed] = shares_of(srv, tok, conv["id"])
    assert listed["state"] == "view_limit" and listed["view_count"] == 2
    assert listed["views_remaining"] == 0 and listed["denied_count"] == 2
    # Wrong passwords do not use up views.
    p = share(srv, tok, conv["id"], max_views=1, password=PASSWORD)
    for _ in range(3):
        assert_error(view(srv, p["token"], "nope nope nope"), 403, "wrong_password")
    assert view(srv, p["token"], PASSWORD).status_code == 200
    assert_error(view(srv, p["token"], PASSWORD), 410, "share_view_limit")


@pytest.mark.parametrize("body", [
    {"max_views": 0}, {"max_views": -1}, {"max_views": "3"}, {"max_views": 1.5},
    {"expires_in": 0}, {"expires_in": "60"}, {"expires_in": 30 * 86400 + 1},
    {"expires_in_hours": 0}, {"expires_in_hours": 721},
    {"expires_in": 60, "expires_in_hours": 1},
    {"password": ""}, {"password": ["x" * 8]},
])
def test_create_bad_input(srv, body):
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)
    assert_error(srv.api("POST", f"/api/sessions/{conv['id']}/share", tok, json=body), 400,
                 "invalid_request")


def test_expiry_choices_and_bounds(srv):
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)
    now = time.time()
    s = share(srv, tok, conv["id"], expires_in_hours=1)
    assert abs(ts(s["expires_at"]) - (now + 3600)) < 60
    s = share(srv, tok, conv["id"], expires_in=30 * 86400)  # the default share_max_ttl
    assert abs(ts(s["expires_at"]) - (now + 30 * 86400)) < 60
    s = share(srv, tok, conv["id"], expires_in=90, max_views=None, password=None)
    assert abs(ts(s["expires_at"]) - (now + 90)) < 60
    # No body at all is a link with the defaults.
    r = srv.api("POST", f"/api/sessions/{conv['id']}/share", tok)
    assert r.status_code == 201 and r.json()["state"] == "active"
    r = srv.api("POST", f"/api/sessions/{conv['id']}/share", tok, data="nope",
                headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")


def test_links_expire(start_server):
    """A short configured lifetime instead of waiting a day: share_ttl=2 s."""
    s_ = start_server(share_ttl=2, share_max_ttl=8)
    tok = s_.register()["access_token"]
    conv = s_.create_conversation(tok)
    t0 = time.time()
    s = share(s_, tok, conv["id"])
    assert abs(ts(s["expires_at"]) - (t0 + 2)) < 1.5, s
    assert view(s_, s["token"]).status_code == 200
    # Longer, up to share_max_ttl (room for argon2id under the sanitizers).
    longer = share(s_, tok, conv["id"], expires_in=8, password=PASSWORD)
    assert_error(s_.api("POST", f"/api/sessions/{conv['id']}/share", tok,
                        json={"expires_in": 9}), 400, "invalid_request")
    time.sleep(max(0.0, ts(s["expires_at"]) - time.time()) + 0.3)
    assert_error(view(s_, s["token"]), 410, "share_expired")
    listed = {x["id"]: x for x in shares_of(s_, tok, conv["id"])}
    assert listed[s["id"]]["state"] == "expired"
    assert view(s_, longer["token"], PASSWORD).status_code == 200
    time.sleep(max(0.0, ts(longer["expires_at"]) - time.time()) + 0.3)
    # An expired link says so before any password is asked or checked.
    assert_error(view(s_, longer["token"]), 410, "share_expired")
    assert_error(view(s_, longer["token"], "wrong password"), 410, "share_expired")
    assert_error(view(s_, longer["token"], PASSWORD), 410, "share_expired")


def test_revoke_by_token_or_id(srv):
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)
    a = share(srv, tok, conv["id"])
    b = share(srv, tok, conv["id"], password=PASSWORD)
    r = srv.api("DELETE", f"/api/sessions/{conv['id']}/share/{a['token']}", tok)
    assert r.status_code == 204 and r.text == ""
    assert_error(view(srv, a["token"]), 410, "share_revoked")
    # By the id the list shows (the owner need not keep the token).
    assert srv.api("DELETE", f"/api/sessions/{conv['id']}/share/{b['id']}", tok) \
        .status_code == 204
    assert_error(view(srv, b["token"], PASSWORD), 410, "share_revoked")
    assert_error(view(srv, b["token"]), 410, "share_revoked")
    # Revoking again is harmless; unknown keys are 404.
    assert srv.api("DELETE", f"/api/sessions/{conv['id']}/share/{a['id']}", tok) \
        .status_code == 204
    for key in (MISSING, "x" * 43, "not-a-token"):
        assert_error(srv.api("DELETE", f"/api/sessions/{conv['id']}/share/{key}", tok), 404,
                     "not_found")
    listed = {x["id"]: x for x in shares_of(srv, tok, conv["id"])}
    assert listed[a["id"]]["state"] == "revoked" and RFC3339_MS.match(listed[a["id"]]["revoked_at"])
    assert listed[b["id"]]["state"] == "revoked"
    # Deleting the conversation takes its links.
    assert srv.api("DELETE", f"/api/conversations/{conv['id']}", tok).status_code == 204
    c2 = srv.create_conversation(tok)
    live = share(srv, tok, c2["id"])
    assert srv.api("DELETE", f"/api/conversations/{c2['id']}", tok).status_code == 204
    assert_error(view(srv, live["token"]), 404, "share_not_found")


def test_access_log_records_when_and_from_where(srv):
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)
    s = share(srv, tok, conv["id"], password=PASSWORD, max_views=1)
    path = f"/api/shared/{s['token']}"
    assert from_addr(srv, "127.0.0.21", "GET", path)[0] == 403
    assert from_addr(srv, "127.0.0.22", "POST", path, {"password": "guess guess"})[0] == 403
    assert from_addr(srv, "127.0.0.23", "POST", path, {"password": PASSWORD})[0] == 200
    assert from_addr(srv, "127.0.0.24", "POST", path, {"password": PASSWORD})[0] == 410
    r = srv.api("GET", f"/api/sessions/{conv['id']}/shares/{s['id']}/accesses", tok)
    assert r.status_code == 200, r.text
    log = r.json()["accesses"]
    assert [(a["client_address"], a["outcome"]) for a in log] == [
        ("127.0.0.24", "view_limit"), ("127.0.0.23", "viewed"),
        ("127.0.0.22", "wrong_password"), ("127.0.0.21", "password_required")]
    for a in log:
        assert set(a) == {"at", "client_address", "outcome"} and RFC3339_MS.match(a["at"])
    assert [a["at"] for a in log] == sorted((a["at"] for a in log), reverse=True)
    r = srv.api("GET", f"/api/sessions/{conv['id']}/shares/{s['id']}/accesses?limit=2", tok)
    assert len(r.json()["accesses"]) == 2
    for bad in ("0", "1001", "x"):
        assert_error(srv.api("GET", f"/api/sessions/{conv['id']}/shares/{s['id']}/accesses"
                                    f"?limit={bad}", tok), 400, "invalid_request")
    [listed] = shares_of(srv, tok, conv["id"])
    assert listed["view_count"] == 1 and listed["denied_count"] == 3
    assert listed["last_access_at"] == log[0]["at"]


def test_access_log_keeps_the_newest_rows(start_server):
    s_ = start_server(share_log_max=3, share_rate_per_min=100000)
    tok = s_.register()["access_token"]
    conv = s_.create_conversation(tok)
    s = share(s_, tok, conv["id"])
    for i in range(6):
        assert from_addr(s_, f"127.0.0.{30 + i}", "GET", f"/api/shared/{s['token']}")[0] == 200
    log = s_.api("GET", f"/api/sessions/{conv['id']}/shares/{s['id']}/accesses", tok) \
        .json()["accesses"]
    assert [a["client_address"] for a in log] == ["127.0.0.35", "127.0.0.34", "127.0.0.33"]
    assert shares_of(s_, tok, conv["id"])[0]["view_count"] == 6


def test_another_users_conversation_is_404(srv):
    alice, bob = srv.register(), srv.register()
    ta, tb = alice["access_token"], bob["access_token"]
    conv = srv.create_conversation(ta)
    s = share(srv, ta, conv["id"])
    for method, path, body in [
        ("POST", f"/api/sessions/{conv['id']}/share", {}),
        ("POST", f"/api/sessions/{conv['id']}/share", {"password": PASSWORD}),
        ("GET", f"/api/sessions/{conv['id']}/shares", None),
        ("DELETE", f"/api/sessions/{conv['id']}/share/{s['token']}", None),
        ("DELETE", f"/api/sessions/{conv['id']}/share/{s['id']}", None),
        ("GET", f"/api/sessions/{conv['id']}/shares/{s['id']}/accesses", None),
    ]:
        assert_error(srv.api(method, path, tb, json=body), 404, "not_found")
    # Bob's own conversation does not reach Alice's link either.
    mine = srv.create_conversation(tb)
    assert_error(srv.api("DELETE", f"/api/sessions/{mine['id']}/share/{s['id']}", tb), 404,
                 "not_found")
    assert_error(srv.api("GET", f"/api/sessions/{mine['id']}/shares/{s['id']}/accesses", tb),
                 404, "not_found")
    assert view(srv, s["token"]).status_code == 200
    assert [x["state"] for x in shares_of(srv, ta, conv["id"])] == ["active"]
    for path in (f"/api/sessions/{MISSING}/share", "/api/sessions/nope/share"):
        assert_error(srv.api("POST", path, ta, json={}), 404, "not_found")
    assert_error(srv.api("GET", f"/api/sessions/{MISSING}/shares", ta), 404, "not_found")
    assert_error(srv.api("GET", f"/api/sessions/{conv['id']}/shares"), 401, "unauthorized")
    assert_error(srv.api("POST", f"/api/sessions/{conv['id']}/share", json={}), 401,
                 "unauthorized")


def test_unknown_and_malformed_tokens(srv):
    for t in ("A" * 43, "short", "x" * 60, "A" * 42 + "!", "A" * 42 + "="):
        assert_error(srv.api("GET", f"/api/shared/{t}"), 404, "share_not_found")
        assert_error(srv.api("POST", f"/api/shared/{t}", json={"password": PASSWORD}), 404,
                     "share_not_found")


def test_links_per_conversation_are_bounded(start_server):
    s_ = start_server(share_max_links=2)
    tok = s_.register()["access_token"]
    conv = s_.create_conversation(tok)
    a = share(s_, tok, conv["id"])
    share(s_, tok, conv["id"])
    err = assert_error(s_.api("POST", f"/api/sessions/{conv['id']}/share", tok, json={}), 409,
                       "share_limit")
    assert "revoke" in err["message"]
    # An ended link makes room (it is deleted with its log).
    assert s_.api("DELETE", f"/api/sessions/{conv['id']}/share/{a['id']}", tok).status_code == 204
    c = share(s_, tok, conv["id"])
    assert {x["id"] for x in shares_of(s_, tok, conv["id"])} >= {c["id"]}
    assert len(shares_of(s_, tok, conv["id"])) == 2
    assert_error(view(s_, a["token"]), 404, "share_not_found")


def test_guessing_is_rate_limited(start_server):
    s_ = start_server(share_rate_per_min=5)
    tok = s_.register()["access_token"]
    conv = s_.create_conversation(tok)
    s = share(s_, tok, conv["id"], password=PASSWORD)
    # Per address: five requests a minute, whatever they find.
    for i in range(5):
        st, _h, body = from_addr(s_, "127.0.0.41", "GET", f"/api/shared/{'B' * 42}{i}")
        assert st == 404 and body["error"]["code"] == "share_not_found"
    st, h, body = from_addr(s_, "127.0.0.41", "GET", f"/api/shared/{s['token']}")
    assert st == 429 and body["error"]["code"] == "rate_limited", body
    assert h.get("retry-after") == "60"
    # Another address is not affected.
    st, _h, body = from_addr(s_, "127.0.0.42", "GET", f"/api/shared/{s['token']}")
    assert st == 403 and body["error"]["code"] == "password_required"
    # Per link: password guesses from many addresses share one budget.
    for i in range(5):
        st, _h, body = from_addr(s_, f"127.0.0.{50 + i}", "POST", f"/api/shared/{s['token']}",
                                 {"password": f"guess {i:04d}"})
        assert st == 403 and body["error"]["code"] == "wrong_password", body
    st, _h, body = from_addr(s_, "127.0.0.60", "POST", f"/api/shared/{s['token']}",
                             {"password": PASSWORD})
    assert st == 429 and body["error"]["code"] == "rate_limited"
    # The owner's routes are not limited by it.
    assert s_.api("GET", f"/api/sessions/{conv['id']}/shares", tok).status_code == 200
    log = s_.api("GET", f"/api/sessions/{conv['id']}/shares/{s['id']}/accesses", tok) \
        .json()["accesses"]
    assert [a["outcome"] for a in log].count("wrong_password") == 5
