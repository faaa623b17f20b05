"""Faults upstream: failover before the first token (connect error, 429
with Retry-After, 500, first-token timeout), the circuit breaker, failures
after tokens streamed (drop, stall, malformed and huge lines), a cancel
that closes the upstream connection, a slow reader that pauses the
upstream, and keys that never reach a log line (docs/protocol.md
"Failover", "Flow control")."""

import asyncio
import json
import socket
import time

import websockets

from fake_llm import closed_port, fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import (DISCLAIMER_TEXT, E2E_KB, EVENT_TIMEOUT, HEMO_QUESTION, connect,
                           new_cmid, recv_event, run, send_json)
from test_providers_stream import ask_all, of, text_of


def start(start_server, tmp_path, providers, routes, default_route, env=None, **flags):
    cfg = write_config(tmp_path / "medstream.json", providers, routes)
    flags.setdefault("llm_retry_base_ms", 20)
    return start_server(config=cfg, env=env, kb=[("jsonl", E2E_KB)], default_route=default_route,
                        **flags)


def one(srv, question=HEMO_QUESTION, **kw):
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        evs = await ask_all(ws, question, **kw)
        await ws.close()
        return evs

    return u, run(go())


def attempts(evs):
    return [(e["provider"], e["attempt"]) for e in of(evs, "llm_call")]


def test_failover_on_500_then_answer(start_server, tmp_path, fakes):
    bad, good = fakes("bad"), fakes("good")
    bad.set_default(status=500)
    good.set_default(tokens=["Answer from the second provider [1]."])
    srv = start(start_server, tmp_path, [provider("bad", "openai", bad),
                                          provider("good", "ollama", good)],
                {"r": ["bad", "good"]}, "r")
    _u, evs = one(srv)
    assert evs[-1]["type"] == "message_complete", evs[-1]
    assert attempts(evs) == [("bad", 1), ("good", 2)]
    first = of(evs, "llm_result")[0]
    assert first["finish_reason"] == "error" and first["http_status"] == 500
    assert first["ttft_ms"] is None
    assert evs[-1]["text"].startswith("Answer from the second provider [1].")
    # The failed attempt showed nothing: the text is only the second one's.
    assert text_of(evs) == evs[-1]["text"]
    assert bad.count() == 1 and good.count() == 1


def test_429_moves_on_and_retry_after_is_honoured(start_server, tmp_path, fakes):
    lim, good = fakes("lim"), fakes("good")
    lim.set_default(status=429, retry_after="30")
    srv = start(start_server, tmp_path, [provider("lim", "openai", lim),
                                          provider("good", "openai", good)],
                {"r": ["lim", "good"]}, "r")
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        a = await ask_all(ws, HEMO_QUESTION)
        b = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        return a, b

    a, b = run(go())
    assert attempts(a) == [("lim", 1), ("good", 2)]
    assert of(a, "llm_result")[0]["http_status"] == 429
    assert of(a, "llm_result")[0]["error"] == "HTTP 429 rate_limit_exceeded"
    # Within its Retry-After the limited provider is not asked again.
    assert attempts(b) == [("good", 1)]
    assert lim.count() == 1 and good.count() == 2


def test_single_provider_waits_for_retry_after(start_server, tmp_path, fakes):
    lim = fakes("lim")
    lim.add(status=429, retry_after="1")
    srv = start(start_server, tmp_path, [provider("lim", "openai", lim)], {"r": ["lim"]}, "r")
    _u, evs = one(srv)
    assert evs[-1]["type"] == "message_complete", evs[-1]
    assert attempts(evs) == [("lim", 1), ("lim", 2)]
    t0, t1 = lim.requests[0]["time"], lim.requests[1]["time"]
    assert t1 - t0 >= 0.9, t1 - t0


def test_connect_error_and_first_token_timeout_fail_over(start_server, tmp_path, fakes):
    slow, good = fakes("slow"), fakes("good")
    slow.set_default(first_byte_delay=20)
    srv = start(start_server, tmp_path,
                [provider("dead", "openai", base_url=f"http://127.0.0.1:{closed_port()}/v1"),
                 provider("slow", "ollama", slow, first_token_timeout_ms=500),
                 provider("good", "openai", good)],
                {"r": ["dead", "slow", "good"]}, "r")
    _u, evs = one(srv)
    assert evs[-1]["type"] == "message_complete", evs[-1]
    assert attempts(evs) == [("dead", 1), ("slow", 2), ("good", 3)]
    r1, r2 = of(evs, "llm_result")[:2]
    assert r1["error"] == "could not connect" and "http_status" not in r1
    assert "first_token_timeout_ms" in r2["error"]
    # The slow upstream saw its client go when the timeout struck.
    slow.wait_event("closed_early", timeout=10)


def test_circuit_breaker_opens_then_probes(start_server, tmp_path, fakes):
    flaky, good = fakes("flaky"), fakes("good")
    flaky.set_default(status=500)
    good.set_default(tokens=["good answer"])
    srv = start(start_server, tmp_path, [provider("flaky", "openai", flaky),
                                          provider("good", "openai", good)],
                {"r": ["flaky", "good"]}, "r", breaker_failures=2, breaker_window_ms=60000,
                breaker_cooldown_ms=1500)
    u = srv.register()
    counts = []

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        out = []
        for _ in range(3):
            out.append(await ask_all(ws, HEMO_QUESTION))
        counts.append(flaky.count())
        await asyncio.sleep(1.8)  # the cool-down passes: half-open
        flaky.set_default(tokens=["flaky recovered"])
        out.append(await ask_all(ws, HEMO_QUESTION))
        out.append(await ask_all(ws, HEMO_QUESTION))
        await ws.close()
        return out

    out = run(go())
    assert attempts(out[0]) == [("flaky", 1), ("good", 2)]
    assert attempts(out[1]) == [("flaky", 1), ("good", 2)]
    # Two failures in the window opened the circuit: flaky is skipped.
    assert attempts(out[2]) == [("good", 1)]
    assert counts == [2]
    # After the cool-down one probe goes; it succeeds and closes the circuit.
    assert attempts(out[3]) == [("flaky", 1)]
    assert out[3][-1]["text"].startswith("flaky recovered")
    assert attempts(out[4]) == [("flaky", 1)]
    assert flaky.count() == 4


def _assert_failed_after_tokens(srv, u, evs, partial):
    err = evs[-1]
    assert err["type"] == "error", evs[-3:]
    assert err["code"] == "provider_error" and err["retryable"] is True
    assert err["message_id"]
    text = text_of(evs)
    assert text.startswith(partial) and text.endswith(DISCLAIMER_TEXT)
    assert of(evs, "llm_result")[0]["finish_reason"] == "error"
    conv = evs[0]["conversation_id"]
    m = srv.wait_message_status(u["access_token"], conv, err["message_id"], ("error",))
    assert m["content"] == text  # the partial text, stored with status error


def test_drop_mid_stream_ends_with_retryable_error(start_server, tmp_path, fakes):
    drop, good = fakes("drop"), fakes("good")
    drop.set_default(tokens=["One [1].", " Two.", " Three."], drop_after=2)
    srv = start(start_server, tmp_path, [provider("drop", "openai", drop),
                                          provider("good", "openai", good)],
                {"r": ["drop", "good"]}, "r")
    u, evs = one(srv)
    _assert_failed_after_tokens(srv, u, evs, "One [1]. Two.")
    assert good.count() == 0  # text was shown: no failover


def test_stall_after_tokens_hits_the_idle_timeout(start_server, tmp_path, fakes):
    st = fakes("stall")
    st.set_default(tokens=["Iron [1].", " More", " never"], stall_after=2)
    srv = start(start_server, tmp_path, [provider("st", "ollama", st, idle_timeout_ms=700)],
                {"r": ["st"]}, "r")
    u, evs = one(srv)
    _assert_failed_after_tokens(srv, u, evs, "Iron [1]. More")
    assert "stalled" in of(evs, "llm_result")[0]["error"]
    st.wait_event("closed_early", timeout=10)


def test_malformed_line_after_tokens_is_an_error(start_server, tmp_path, fakes):
    bad = fakes("bad")
    bad.set_default(tokens=["Fine [1].", " then"], malformed_at=1)
    srv = start(start_server, tmp_path, [provider("bad", "openai", bad)], {"r": ["bad"]}, "r")
    u, evs = one(srv)
    _assert_failed_after_tokens(srv, u, evs, "Fine [1].")
    assert "malformed" in of(evs, "llm_result")[0]["error"]


def test_huge_line_is_refused_and_retried_then_reported(start_server, tmp_path, fakes):
    big = fakes("big")
    big.set_default(huge_line=8192)
    srv = start(start_server, tmp_path, [provider("big", "ollama", big)], {"r": ["big"]}, "r",
                llm_max_line_bytes=4096, llm_max_attempts=2)
    _u, evs = one(srv)
    err = evs[-1]
    assert err["type"] == "error" and err["code"] == "provider_error", err
    assert attempts(evs) == [("big", 1), ("big", 2)]
    assert all("size limit" in r["error"] for r in of(evs, "llm_result"))
    assert "x" * 100 not in text_of(evs)  # nothing of the huge line was shown


def test_cancel_closes_the_upstream_connection(start_server, tmp_path, fakes):
    up = fakes("slow")
    up.set_default(tokens=[f" word{i}" for i in range(200)], token_delay=0.1)
    srv = start(start_server, tmp_path, [provider("up", "openai", up)], {"r": ["up"]}, "r")
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        cmid = new_cmid()
        await send_json(ws, {"type": "message", "text": HEMO_QUESTION, "client_message_id": cmid})
        mid, chunks = None, 0
        while chunks < 3:
            ev = await recv_event(ws)
            if ev["type"] == "message_start":
                mid = ev["message_id"]
            chunks += ev["type"] == "message_chunk"
        t = time.time()
        await send_json(ws, {"type": "cancel", "message_id": mid})
        while True:
            ev = await recv_event(ws)
            if ev["type"] == "message_complete":
                break
        await ws.close()
        return t, ev

    t_cancel, done = run(go())
    assert done["status"] == "cancelled" and done["finish_reason"] == "cancelled"
    ev = up.wait_event("closed_early", timeout=10)
    assert not ev["complete"]
    assert ev["closed_at"] - t_cancel < 5, ev["closed_at"] - t_cancel


def test_slow_reader_pauses_the_upstream(start_server, tmp_path, fakes):
    """A client that stops reading: once its queue passes
    upstream_pause_bytes the model transfer is paused, TCP flow control
    stops the upstream's writes, and the transfer resumes when the client
    reads again; the answer is whole. (The kernel's send buffer on the
    client's socket, several MB on loopback, fills first: the answer is
    made larger than that.)"""
    up = fakes("fast")
    n = 7000
    tokens = [f" token{i:05d} " + "x" * 1000 for i in range(n)]
    up.set_default(tokens=tokens, sndbuf=65536)
    srv = start(start_server, tmp_path, [provider("up", "openai", up)], {"r": ["up"]}, "r",
                upstream_pause_bytes=16384, max_answer_bytes=16 << 20, max_queue_bytes=8 << 20,
                upstream_pause_max_ms=600000)
    u = srv.register()

    async def go():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        ws = await websockets.connect(srv.ws_url + "/api/ws", sock=sock, max_queue=1,
                                      read_limit=4096, max_size=1 << 24,
                                      extra_headers=[("Authorization",
                                                      "Bearer " + u["access_token"])],
                                      ping_interval=None, open_timeout=EVENT_TIMEOUT)
        assert (await recv_event(ws))["type"] == "connected"
        await send_json(ws, {"type": "message", "text": HEMO_QUESTION,
                             "client_message_id": new_cmid()})
        # Not reading, until the upstream has sent nothing for 2 s.
        last, since, stalled_at = -1, time.monotonic(), None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            ev = up.events[0] if up.events else {"bytes": 0, "complete": False}
            assert not ev["complete"], "the upstream sent the whole answer to a stalled reader"
            if ev["bytes"] != last:
                last, since = ev["bytes"], time.monotonic()
            elif last > 0 and time.monotonic() - since >= 2:
                stalled_at = last
                break
        text, done = [], None
        while done is None:
            ev = await recv_event(ws)
            if ev["type"] == "message_chunk":
                text.append(ev["delta"])
            elif ev["type"] == "message_complete":
                done = ev
        await ws.close()
        return stalled_at, "".join(text), done

    stalled_at, text, done = run(go())
    assert stalled_at is not None, "the upstream never stopped sending"
    assert done["text"] == text and done["status"] == "complete"
    assert all(t in text for t in (tokens[0], tokens[n // 2], tokens[-1]))
    total = up.events[0]["bytes"]
    assert stalled_at < total, (stalled_at, total)
    log = srv.stderr_text()
    assert '"event":"upstream_paused"' in log and '"event":"upstream_resumed"' in log


def test_keys_never_reach_a_log_line_or_a_client(start_server, tmp_path, fakes):
    key = "sk-test-THISISASECRETKEY-0123456789abcdef"
    a, b = fakes("a"), fakes("b")
    a.set_default(status=401, echo_key=True)  # OpenAI quotes the key it refused
    srv = start(start_server, tmp_path,
                [provider("a", "openai", a, api_key_env="MS_TEST_KEY_A"),
                 provider("b", "openai", b, api_key_env="MS_TEST_KEY_A")],
                {"r": ["a"], "s": ["b"]}, "r", env={"MS_TEST_KEY_A": key})
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        x = await ask_all(ws, HEMO_QUESTION)
        y = await ask_all(ws, HEMO_QUESTION, model="s")
        await ws.close()
        return x, y

    x, y = run(go())
    assert x[-1]["type"] == "error" and x[-1]["code"] == "provider_error"
    assert of(x, "llm_result")[0]["error"] == "HTTP 401 invalid_api_key"
    assert y[-1]["type"] == "message_complete"
    assert a.requests[0]["headers"]["authorization"] == "Bearer " + key  # it was sent...
    everything = json.dumps(x) + json.dumps(y)
    everything += srv.api("GET", "/api/models", u["access_token"]).text
    for c in srv.api("GET", "/api/conversations", u["access_token"]).json()["conversations"]:
        everything += json.dumps(srv.messages(u["access_token"], c["id"]))
    srv.stop()
    logs = srv.stderr_text() + srv.stdout_path.read_text(errors="replace")
    for part in (key, key[3:20], "THISISASECRETKEY"):
        assert part not in logs, f"key in the log: {part}"
        assert part not in everything, f"key sent to a client: {part}"
