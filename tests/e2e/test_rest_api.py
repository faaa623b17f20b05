"""REST resources: conversations, non-streaming chat, knowledge-base search,
health, readiness and the web page (docs/protocol.md: REST resources)."""

import time

from medstream_e2e import RFC3339_MS, assert_error, new_cmid

MISSING = "00000000-0000-4000-8000-000000000000"


def _check_conversation(c):
    assert set(c) >= {"id", "title", "created_at", "updated_at", "message_count"}, c
    assert isinstance(c["id"], str) and c["id"]
    assert isinstance(c["title"], str)
    assert RFC3339_MS.match(c["created_at"]), c["created_at"]
    assert RFC3339_MS.match(c["updated_at"]), c["updated_at"]
    assert isinstance(c["message_count"], int)


def test_health_ready_and_index(server):
    r = server.api("GET", "/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert isinstance(r.json()["version"], str) and r.json()["version"]
    r = server.api("GET", "/ready")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
    r = server.api("GET", "/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html"), r.headers
    assert "<html" in r.text.lower()


def test_conversation_crud(server, user):
    tok = user["access_token"]
    c1 = server.create_conversation(tok)
    _check_conversation(c1)
    assert c1["message_count"] == 0
    time.sleep(0.01)
    c2 = server.create_conversation(tok, "Ward round 7B")
    _check_conversation(c2)
    assert c2["title"] == "Ward round 7B"
    time.sleep(0.01)
    c3 = server.create_conversation(tok, "Títle with ünïcode — 糖尿病")
    assert c3["title"] == "Títle with ünïcode — 糖尿病"

    r = server.api("GET", f"/api/conversations/{c2['id']}", tok)
    assert r.status_code == 200 and r.json() == c2

    # Newest first.
    lst = server.api("GET", "/api/conversations", tok).json()["conversations"]
    ids = [c["id"] for c in lst]
    assert ids[:3] == [c3["id"], c2["id"], c1["id"]], ids
    for c in lst:
        _check_conversation(c)
    assert [c["id"] for c in server.api("GET", "/api/conversations?limit=2", tok)
            .json()["conversations"]] == ids[:2]
    assert [c["id"] for c in server.api("GET", "/api/conversations?limit=1&offset=1", tok)
            .json()["conversations"]] == ids[1:2]
    assert server.api("GET", "/api/conversations?offset=100", tok).json()["conversations"] == []

    # Rename.
    time.sleep(0.01)
    r = server.api("PATCH", f"/api/conversations/{c1['id']}", tok, json={"title": "Renamed"})
    assert r.status_code == 200, r.text
    renamed = r.json()
    _check_conversation(renamed)
    assert renamed["id"] == c1["id"] and renamed["title"] == "Renamed"
    assert renamed["updated_at"] >= c1["updated_at"]
    assert server.api("GET", f"/api/conversations/{c1['id']}", tok).json()["title"] == "Renamed"

    # Invalid bodies.
    assert_error(server.api("PATCH", f"/api/conversations/{c1['id']}", tok, json={}),
                 400, "invalid_request")
    assert_error(server.api("PATCH", f"/api/conversations/{c1['id']}", tok, json={"title": 5}),
                 400, "invalid_request")
    assert_error(server.api("PATCH", f"/api/conversations/{c1['id']}", tok,
                            json={"title": "t" * 201}), 400, "invalid_request")
    assert_error(server.api("POST", "/api/conversations", tok, json={"title": "t" * 201}),
                 400, "invalid_request")
    ok = server.api("POST", "/api/conversations", tok, json={"title": "t" * 200})
    assert ok.status_code == 201 and ok.json()["title"] == "t" * 200

    # Delete.
    r = server.api("DELETE", f"/api/conversations/{c2['id']}", tok)
    assert r.status_code == 204, r.text
    assert_error(server.api("GET", f"/api/conversations/{c2['id']}", tok), 404, "not_found")
    assert_error(server.api("GET", f"/api/conversations/{c2['id']}/messages", tok), 404, "not_found")
    assert_error(server.api("DELETE", f"/api/conversations/{c2['id']}", tok), 404, "not_found")
    assert_error(server.api("PATCH", f"/api/conversations/{c2['id']}", tok, json={"title": "x"}),
                 404, "not_found")
    ids = [c["id"] for c in server.api("GET", "/api/conversations", tok).json()["conversations"]]
    assert c2["id"] not in ids and c1["id"] in ids
    assert_error(server.api("GET", f"/api/conversations/{MISSING}", tok), 404, "not_found")
    assert_error(server.api("GET", "/api/conversations/not-a-uuid", tok), 404, "not_found")


def test_non_streaming_chat(server, user):
    tok = user["access_token"]
    conv = server.create_conversation(tok)
    q = "What is acromegaly and how is it treated?"
    r = server.api("POST", f"/api/conversations/{conv['id']}/messages/chat", tok,
                   json={"text": q, "client_message_id": new_cmid()})
    assert r.status_code == 200, r.text
    body = r.json()
    u, a = body["user_message"], body["assistant_message"]
    fields = {"id", "conversation_id", "role", "content", "status", "client_message_id",
              "reply_to", "finish_reason", "usage", "citations", "created_at", "updated_at"}
    for m in (u, a):
        assert fields <= set(m), fields - set(m)
        assert m["conversation_id"] == conv["id"]
        assert RFC3339_MS.match(m["created_at"]) and RFC3339_MS.match(m["updated_at"])
    assert u["role"] == "user" and u["content"] == q and u["status"] == "complete"
    assert a["role"] == "assistant" and a["status"] == "complete"
    assert a["reply_to"] == u["id"]
    assert a["finish_reason"] == "stop"
    assert a["usage"]["completion_tokens"] > 0
    assert a["citations"], a
    assert "acromegaly" in a["content"].lower()
    assert "[1]" in a["content"]
    for c in a["citations"]:
        assert {"index", "source_id", "title", "url"} <= set(c), c

    msgs = server.messages(tok, conv["id"])
    assert [m["id"] for m in msgs] == [u["id"], a["id"]]  # oldest first
    assert msgs[1]["content"] == a["content"]
    assert len(msgs[1]["citations"]) == len(a["citations"])
    got = server.api("GET", f"/api/conversations/{conv['id']}", tok).json()
    assert got["message_count"] == 2

    # Without client_message_id it works too (it is optional here).
    r = server.api("POST", f"/api/conversations/{conv['id']}/messages/chat", tok,
                   json={"text": "What causes it?"})
    assert r.status_code == 200, r.text
    assert server.api("GET", f"/api/conversations/{conv['id']}", tok).json()["message_count"] == 4

    # Errors.
    path = f"/api/conversations/{conv['id']}/messages/chat"
    assert_error(server.api("POST", path, tok, json={}), 400, "invalid_request")
    assert_error(server.api("POST", path, tok, json={"text": ""}), 400, "invalid_request")
    assert_error(server.api("POST", path, tok, json={"text": 3}), 400, "invalid_request")
    assert_error(server.api("POST", f"/api/conversations/{MISSING}/messages/chat", tok,
                            json={"text": "What is asthma?"}), 404, "not_found")

    # Deleting the conversation deletes its messages.
    assert server.api("DELETE", f"/api/conversations/{conv['id']}", tok).status_code == 204
    assert_error(server.api("GET", f"/api/conversations/{conv['id']}/messages", tok), 404)


def test_kb_search(server, user):
    tok = user["access_token"]
    r = server.api("GET", "/api/kb/search", tok, params={"q": "acromegaly"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results, "starter KB has no acromegaly passage"
    for x in results:
        assert {"id", "score", "title", "url", "source", "text"} <= set(x), x
        assert isinstance(x["score"], (int, float))
        assert isinstance(x["text"], str) and x["text"]
    top = results[0]
    assert "acromegaly" in (top["title"] + " " + top["text"]).lower(), top
    scores = [x["score"] for x in results]
    assert scores == sorted(scores, reverse=True), f"not best first: {scores}"
    assert len(results) <= 5  # default k

    r = server.api("GET", "/api/kb/search", tok, params={"q": "diabetes insulin", "k": 2})
    assert r.status_code == 200 and 1 <= len(r.json()["results"]) <= 2
    r = server.api("GET", "/api/kb/search", tok, params={"q": "qwxzv plorkgrint", "k": 3})
    assert r.status_code == 200 and r.json()["results"] == []
    for bad in ({"q": "asthma", "k": 0}, {"q": "asthma", "k": 51}, {"q": "asthma", "k": "many"},
                {}):
        assert_error(server.api("GET", "/api/kb/search", tok, params=bad), 400, "invalid_request")
