"""medstream's own OpenAI-compatible API (issue 9, "An OpenAI-compatible API
of our own"; docs/protocol.md "OpenAI-compatible API").

Driven two ways: with the official `openai` npm package (openai_sdk/chat.mjs,
run by node from the repo's node_modules) and with a strict Server-Sent
Events reader of our own (every event one `data: ` line of JSON, events
separated by one blank line, the stream ending with `data: [DONE]`, no
other line). The model upstream is the loopback fake (fake_llm.py), which
records every request body, so the tests see what reached the model.

Covers: whole and streamed answers (usage chunk, [DONE], the disclaimer
as the content's last paragraph and in the "medstream" extension), the
stored conversation of the key's user, GET /v1/models, the overhead
header, the client's history reaching the prompt, a route with retrieval
off, and the errors in OpenAI's shape: bad, revoked and missing keys,
unknown model, bad JSON, an oversized body, an upstream 429, and PHI on a
cloud route (phi_requires_local_provider, nothing sent upstream)."""

import http.client
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fake_llm import fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import (DISCLAIMER_TEXT, E2E_KB, HEMO_QUESTION, child_env, medstream_bin)

REPO = Path(__file__).resolve().parents[2]
SDK_SCRIPT = Path(__file__).resolve().parent / "openai_sdk" / "chat.mjs"
NODE = shutil.which("node")
HAS_SDK = (REPO / "node_modules" / "openai" / "package.json").exists()
CITED = ["Hereditary hemochromatosis makes the body absorb too much iron [1].",
         " It is treated", " with regular phlebotomy [2]."]
MRN_QUESTION = "Which statin for pt MRN 22334455 with CKD stage 3?"


# ---- helpers ----------------------------------------------------------------

def apikey(srv, email, name=None, data_dir=None):
    """`medstream apikey create`: the key (stdout), or raises."""
    args = [medstream_bin(), "apikey", "create", "--email", email,
            "--data-dir", str(data_dir or srv.data_dir)]
    if name:
        args += ["--name", name]
    r = subprocess.run(args, capture_output=True, timeout=60, env=child_env())
    assert r.returncode == 0, r.stderr.decode()
    key = r.stdout.decode().strip()
    assert re.fullmatch(r"msk-[A-Za-z0-9_-]{43}", key), key
    assert key not in r.stderr.decode()  # shown once, on stdout only
    return key


def apikey_cli(srv, *args):
    return subprocess.run([medstream_bin(), "apikey", *args, "--data-dir", str(srv.data_dir)],
                          capture_output=True, timeout=60, env=child_env())


def sdk(srv, key, **req):
    """Runs openai_sdk/chat.mjs with the official SDK; returns its JSON line."""
    if not NODE or not HAS_SDK:
        pytest.skip("node or the openai npm package is missing: run `npm ci` at the repo root")
    req.update(baseURL=srv.base_url + "/v1", apiKey=key)
    r = subprocess.run([NODE, str(SDK_SCRIPT), json.dumps(req)], capture_output=True,
                       timeout=120, cwd=str(REPO))
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert "crash" not in out, out
    return out


def post_raw(srv, key, body, headers=None):
    """POST /v1/chat/completions; returns (status, headers dict, raw body)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        if key:
            h["Authorization"] = "Bearer " + key
        h.update(headers or {})
        conn.request("POST", "/v1/chat/completions", body=data, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def strict_sse(raw: bytes):
    """Parses an SSE body strictly: every event is exactly one `data: ` line
    followed by one blank line; all but the last hold a JSON object; the
    last is `[DONE]`; nothing else (no comments, no other fields, no CR).
    Returns the JSON events."""
    text = raw.decode("utf-8")
    assert "\r" not in text, "CR in the stream"
    assert text.endswith("data: [DONE]\n\n"), f"does not end with [DONE]: {text[-200:]!r}"
    blocks = text[:-2].split("\n\n")
    events = []
    for i, b in enumerate(blocks):
        assert "\n" not in b, f"event {i} has more than one line: {b[:200]!r}"
        assert b.startswith("data: "), f"event {i} is not a data line: {b[:200]!r}"
        payload = b[len("data: "):]
        if i == len(blocks) - 1:
            assert payload == "[DONE]"
            break
        obj = json.loads(payload)
        assert isinstance(obj, dict), payload
        events.append(obj)
    return events


def assert_openai_error(status, body, want_status, code=None):
    assert status == want_status, (status, body)
    obj = json.loads(body) if isinstance(body, (bytes, str)) else body
    err = obj["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"]
    assert err["param"] is None
    if code:
        assert err["code"] == code, err
    return err


def overhead_ok(value):
    assert value is not None and re.fullmatch(r"\d+\.\d\d", value), value
    return float(value)


# ---- the server -----------------------------------------------------------------

@pytest.fixture
def oai(start_server, tmp_path, fakes):
    """A medstream with a local openai-kind provider (route "clinical", the
    default), a cloud one (route "cloud") and a route with retrieval off
    ("fast"), the test KB, one user and an API key of theirs."""
    up = fakes("openai")
    up.set_default(tokens=CITED, prompt_tokens=123)
    cfg = write_config(tmp_path / "medstream.json",
                       [provider("local-gpt", "openai", up, model="gpt-local", local=True),
                        provider("cloud-gpt", "openai", up, model="gpt-cloud", local=False)],
                       {"clinical": ["local-gpt"], "cloud": ["cloud-gpt"],
                        "fast": {"providers": ["local-gpt"], "retrieval": False}})
    srv = start_server(config=cfg, default_route="clinical", kb=[("jsonl", E2E_KB)],
                       max_body_bytes=65536)
    u = srv.register()
    key = apikey(srv, u["email"], name="e2e")
    return srv, up, u, key


# ---- whole and streamed answers with the SDK ---------------------------------------

def test_sdk_whole_answer_cited_disclaimed_and_stored(oai):
    srv, up, u, key = oai
    out = sdk(srv, key, model="clinical", messages=[{"role": "user", "content": HEMO_QUESTION}])
    assert out["status"] == 200
    overhead_ok(out["overhead"])
    c = out["completion"]
    assert c["object"] == "chat.completion" and c["model"] == "clinical"
    assert c["id"].startswith("chatcmpl-")
    choice = c["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    # The answer, then the disclaimer as its own paragraph.
    assert content.startswith("Hereditary hemochromatosis makes the body")
    assert content.endswith("\n\n" + DISCLAIMER_TEXT)
    assert c["usage"]["prompt_tokens"] == 123
    assert c["usage"]["total_tokens"] == (c["usage"]["prompt_tokens"] +
                                          c["usage"]["completion_tokens"])
    ext = c["medstream"]
    assert ext["disclaimer"] == DISCLAIMER_TEXT
    assert [x["index"] for x in ext["citations"]] == [1, 2]
    assert ext["finish_reason"] == "stop"
    # Stored as a conversation of the key's user, text for text.
    msgs = srv.messages(u["access_token"], ext["conversation_id"])
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[0]["content"] == HEMO_QUESTION
    assert msgs[1]["content"] == content and msgs[1]["id"] == ext["message_id"]
    # The upstream got the grounded prompt (the passages were retrieved).
    assert "phlebotomy" in up.bodies_text() or "HFE" in up.bodies_text()


def test_sdk_stream_with_usage_chunk(oai):
    srv, up, u, key = oai
    out = sdk(srv, key, model="clinical", stream=True, include_usage=True,
              messages=[{"role": "user", "content": HEMO_QUESTION}])
    assert out["status"] == 200
    overhead_ok(out["overhead"])
    chunks = out["chunks"]
    assert all(ch["object"] == "chat.completion.chunk" for ch in chunks)
    assert len({ch["id"] for ch in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    # The last chunk carries usage and no choice; the one before it ends the choice.
    usage_chunk, final = chunks[-1], chunks[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["prompt_tokens"] == 123
    assert final["choices"][0]["finish_reason"] == "stop"
    assert all(ch["choices"][0]["finish_reason"] is None for ch in chunks[:-2])
    assert all(ch.get("usage") is None for ch in chunks[:-1])
    ext = final["medstream"]
    assert ext["disclaimer"] == DISCLAIMER_TEXT and len(ext["citations"]) == 2
    content = out["content"]
    assert content.endswith("\n\n" + DISCLAIMER_TEXT)
    stored = srv.wait_message_status(u["access_token"], ext["conversation_id"],
                                     ext["message_id"])
    assert stored["content"] == content


def test_sdk_models_lists_the_routes(oai):
    srv, _, _, key = oai
    out = sdk(srv, key, models=True)
    assert out["status"] == 200
    overhead_ok(out["overhead"])
    assert {"clinical", "cloud", "fast"} <= set(out["models"])


# ---- the wire, strictly -----------------------------------------------------------------

def test_strict_sse_stream(oai):
    srv, _, _, key = oai
    status, h, raw = post_raw(srv, key, {"model": "clinical", "stream": True,
                                         "messages": [{"role": "user", "content": HEMO_QUESTION}]})
    assert status == 200, raw[:500]
    assert h["content-type"] == "text/event-stream"
    overhead_ok(h.get("x-medstream-overhead-ms"))
    events = strict_sse(raw)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in events[0]  # only when stream_options.include_usage asks
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert "[1]" in text and text.endswith(DISCLAIMER_TEXT)


def test_history_reaches_the_prompt_and_system_is_ours(oai):
    srv, up, _, key = oai
    status, _, raw = post_raw(srv, key, {"model": "fast", "messages": [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "My patient has iron overload zebrafish-marker."},
        {"role": "assistant", "content": "Understood, iron overload."},
        {"role": "user", "content": "How is it treated?"}]})
    assert status == 200, raw[:500]
    body = up.bodies()[-1]
    sent = json.dumps(body)
    assert "zebrafish-marker" in sent and "Understood, iron overload." in sent
    assert "How is it treated?" in sent
    assert "pirate" not in sent  # the clinical system prompt is medstream's


def test_route_with_retrieval_off_sends_no_passages(oai):
    srv, up, _, key = oai
    status, _, raw = post_raw(srv, key, {"model": "fast", "messages": [
        {"role": "user", "content": HEMO_QUESTION}]})
    assert status == 200, raw[:500]
    assert json.loads(raw)["medstream"]["citations"] == []
    assert "HFE" not in json.dumps(up.bodies()[-1])  # no KB passage in the prompt
    status, _, raw = post_raw(srv, key, {"model": "clinical", "messages": [
        {"role": "user", "content": HEMO_QUESTION}]})
    assert "HFE" in json.dumps(up.bodies()[-1])  # the same question, grounded


def test_conversation_extension_appends_to_an_existing_conversation(oai):
    srv, _, u, key = oai
    conv = srv.create_conversation(u["access_token"])
    status, _, raw = post_raw(srv, key, {"model": "fast", "medstream": {
        "conversation_id": conv["id"]}, "messages": [{"role": "user", "content": "Gout?"}]})
    assert status == 200, raw[:500]
    assert json.loads(raw)["medstream"]["conversation_id"] == conv["id"]
    assert [m["role"] for m in srv.messages(u["access_token"], conv["id"])] == ["user",
                                                                                "assistant"]
    # Another user's conversation is answered like a missing one.
    other = srv.register()
    conv2 = srv.create_conversation(other["access_token"])
    status, _, raw = post_raw(srv, key, {"model": "fast", "medstream": {
        "conversation_id": conv2["id"]}, "messages": [{"role": "user", "content": "Gout?"}]})
    assert_openai_error(status, raw, 404)


# ---- errors in OpenAI's shape -------------------------------------------------------------

def test_bad_missing_and_revoked_keys(oai):
    srv, _, u, key = oai
    q = {"model": "clinical", "messages": [{"role": "user", "content": "Gout?"}]}
    for bad in [None, "msk-" + "A" * 43, "sk-proj-abc", key[:-1]]:
        status, h, raw = post_raw(srv, bad, q)
        assert_openai_error(status, raw, 401, "invalid_api_key")
        overhead_ok(h.get("x-medstream-overhead-ms"))
    out = sdk(srv, "msk-" + "B" * 43, model="clinical",
              messages=[{"role": "user", "content": "Gout?"}])
    assert out["error"]["status"] == 401 and out["error"]["code"] == "invalid_api_key"
    # Revoked: listed with its time, refused from the next request on.
    key2 = apikey(srv, u["email"], name="to-revoke")
    assert post_raw(srv, key2, q)[0] == 200
    listing = apikey_cli(srv, "list")
    assert listing.returncode == 0
    line = [ln for ln in listing.stdout.decode().splitlines() if "to-revoke" in ln][0]
    assert key2[:12] in line and key2 not in listing.stdout.decode()
    kid = line.split()[0]
    r = apikey_cli(srv, "revoke", kid)
    assert r.returncode == 0, r.stderr
    status, _, raw = post_raw(srv, key2, q)
    err = assert_openai_error(status, raw, 401, "invalid_api_key")
    assert "revoked" in err["message"]
    assert post_raw(srv, key, q)[0] == 200  # the other key still works
    assert apikey_cli(srv, "revoke", "00000000-0000-4000-8000-000000000000").returncode == 1
    # Keys never appear in the server's log.
    log = srv.stderr_text()
    assert key not in log and key2 not in log


def test_unknown_model_bad_json_bad_body_oversize(oai):
    srv, up, _, key = oai
    n = up.count()
    status, _, raw = post_raw(srv, key, {"model": "gpt-9", "messages": [
        {"role": "user", "content": "Gout?"}]})
    assert_openai_error(status, raw, 404, "model_not_found")
    status, _, raw = post_raw(srv, key, b"{not json")
    assert_openai_error(status, raw, 400)
    for body in [{"messages": [{"role": "user", "content": "x"}]},
                 {"model": "clinical", "messages": []},
                 {"model": "clinical", "messages": [{"role": "assistant", "content": "x"}]},
                 {"model": "clinical", "messages": [{"role": "user", "content": 7}]},
                 {"model": "clinical", "stream": "yes", "messages": [{"role": "user",
                                                                      "content": "x"}]}]:
        status, _, raw = post_raw(srv, key, body)
        assert_openai_error(status, raw, 400, "invalid_request")
    status, _, raw = post_raw(srv, key, {"model": "clinical", "messages": [
        {"role": "user", "content": "x" * 70000}]})
    assert_openai_error(status, raw, 413)
    out = sdk(srv, key, model="gpt-9", messages=[{"role": "user", "content": "Gout?"}])
    assert out["error"]["status"] == 404 and out["error"]["code"] == "model_not_found"
    assert up.count() == n  # none of these reached the model


def test_upstream_429_is_a_429(oai):
    srv, up, _, key = oai
    up.set_default(status=429, retry_after="1")  # every attempt, retries included
    status, h, raw = post_raw(srv, key, {"model": "cloud", "stream": True, "messages": [
        {"role": "user", "content": "What is gout?"}]})
    assert_openai_error(status, raw, 429)
    overhead_ok(h.get("x-medstream-overhead-ms"))


def test_phi_to_a_cloud_route_is_refused(oai):
    srv, up, _, key = oai
    for stream in (False, True):
        status, _, raw = post_raw(srv, key, {"model": "cloud", "stream": stream, "messages": [
            {"role": "user", "content": MRN_QUESTION}]})
        assert_openai_error(status, raw, 400, "phi_requires_local_provider")
    # PHI in the history counts too.
    status, _, raw = post_raw(srv, key, {"model": "cloud", "messages": [
        {"role": "user", "content": MRN_QUESTION},
        {"role": "assistant", "content": "Atorvastatin."},
        {"role": "user", "content": "And the dose?"}]})
    assert_openai_error(status, raw, 400, "phi_requires_local_provider")
    out = sdk(srv, key, model="cloud", stream=True,
              messages=[{"role": "user", "content": MRN_QUESTION}])
    assert out["error"]["status"] == 400
    assert out["error"]["code"] == "phi_requires_local_provider"
    assert "22334455" not in up.bodies_text()
    # The local route takes it.
    status, _, raw = post_raw(srv, key, {"model": "clinical", "messages": [
        {"role": "user", "content": MRN_QUESTION}]})
    assert status == 200, raw[:300]


def test_client_gone_mid_stream_cancels_the_answer(oai):
    """A client that goes away mid-stream stops the answer: the upstream
    sees its connection closed, and what was written is stored."""
    import socket
    import time
    srv, up, u, key = oai
    up.set_default(tokens=[f" word{i}" for i in range(200)], token_delay=0.05)
    body = json.dumps({"model": "fast", "stream": True, "messages": [
        {"role": "user", "content": "What is gout?"}]}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: " +
              str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    while b"word3" not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    assert got.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in got.lower()
    cid = re.search(rb'"conversation_id":"([0-9a-f-]{36})"', got)
    assert cid is None  # the extension comes only with the final chunk
    s.close()
    t_close = time.time()
    ev = up.wait_event("closed_early", timeout=10)
    assert ev["closed_at"] - t_close < 5
    convs = srv.api("GET", "/api/conversations", u["access_token"]).json()["conversations"]
    conv = convs[0]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        msgs = srv.messages(u["access_token"], conv)
        if msgs[-1]["status"] != "streaming":
            break
        time.sleep(0.1)
    assert msgs[-1]["role"] == "assistant" and msgs[-1]["status"] == "cancelled"
    assert "word3" in msgs[-1]["content"] and "word199" not in msgs[-1]["content"]


def test_http10_client_gets_an_unframed_stream_and_close(oai):
    """Chunked coding is HTTP/1.1's (RFC 9112 section 7): an HTTP/1.0 client
    gets the events unframed, and the connection's close ends them."""
    import socket
    srv, _, _, key = oai
    body = json.dumps({"model": "fast", "stream": True, "messages": [
        {"role": "user", "content": "What is gout?"}]}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: " +
              str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and b" 200 " in head.split(b"\r\n")[0]
    events = strict_sse(rest)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
