"""GET /health/providers (issue 9, "Health and metrics"; docs/protocol.md
"GET /health/providers"): per provider its name, kind, model, local flag,
reachability from a cheap real request (Ollama GET /api/tags, OpenAI GET
/v1/models, with the provider's key), cached for health_ttl_ms, latency
and circuit state; a server that refuses connections or answers an error
is reported unreachable; nothing secret appears (no key, no URL userinfo
or query string)."""

import time

import requests

from fake_llm import closed_port, fakes, provider, write_config  # noqa: F401 (fixture)

KEY = "sk-health-test-SECRETKEY-0123456789"


def health(srv):
    r = requests.get(srv.base_url + "/health/providers", timeout=30)
    assert r.status_code == 200, r.text
    return r.text, {p["name"]: p for p in r.json()["providers"]}, r.json()


def start(start_server, tmp_path, fakes, **flags):
    ol, oa = fakes("ol"), fakes("oa")
    port = oa.port
    down = closed_port()
    providers = [
        provider("ol", "ollama", ol, local=True),
        # userinfo and a query in the URL: never shown.
        provider("oa", "openai", oa, local=False, api_key_env="MS_HEALTH_KEY",
                 base_url=f"http://user:hunter2pw@127.0.0.1:{port}/v1?token=qs-secret"),
        provider("down", "openai", None, base_url=f"http://127.0.0.1:{down}/v1",
                 connect_timeout_ms=2000),
    ]
    cfg = write_config(tmp_path / "h.json", providers, {"r": ["ol", "oa", "down"]})
    srv = start_server(config=cfg, default_route="r", env={"MS_HEALTH_KEY": KEY}, **flags)
    return srv, ol, oa


def test_reachable_and_unreachable_providers(start_server, tmp_path, fakes):
    srv, ol, oa = start(start_server, tmp_path, fakes)
    text, ps, doc = health(srv)
    assert doc["status"] == "degraded"  # "down" is down
    assert ps["ol"]["kind"] == "ollama" and ps["ol"]["model"] == "fake-model"
    assert ps["ol"]["local"] is True and ps["oa"]["local"] is False
    assert ps["ol"]["reachable"] is True and ps["ol"]["http_status"] == 200
    assert ps["oa"]["reachable"] is True and ps["oa"]["http_status"] == 200
    assert ps["down"]["reachable"] is False and ps["down"]["http_status"] is None
    assert ps["down"]["error"]
    for name in ("ol", "oa", "down"):
        assert isinstance(ps[name]["latency_ms"], int) and ps[name]["latency_ms"] >= 0
        assert ps[name]["circuit"] == "closed"
    assert ps["offline"]["reachable"] is True and ps["offline"]["probe"] == "none"
    # The probes were real requests, the documented cheap ones, with the key.
    assert [r["path"] for r in ol.requests] == ["/api/tags"]
    assert [r["path"] for r in oa.requests] == ["/v1/models"]
    assert oa.requests[0]["method"] == "GET"
    assert oa.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    # Nothing secret in the answer.
    for secret in (KEY, "SECRETKEY", "hunter2pw", "user:", "qs-secret", "token="):
        assert secret not in text, secret
    assert ps["oa"]["url"] == f"http://127.0.0.1:{oa.port}/v1"


def test_results_are_cached_for_the_ttl(start_server, tmp_path, fakes):
    srv, ol, _oa = start(start_server, tmp_path, fakes, health_ttl_ms=600000)
    health(srv)
    health(srv)
    health(srv)
    assert ol.count("/api/tags") == 1
    _t, ps, _d = health(srv)
    assert ps["ol"]["checked_ms_ago"] >= 0


def test_ttl_zero_probes_every_time_and_sees_an_error_status(start_server, tmp_path, fakes):
    srv, ol, _oa = start(start_server, tmp_path, fakes, health_ttl_ms=0)
    health(srv)
    ol.probe_status = 500
    _t, ps, _d = health(srv)
    assert ol.count("/api/tags") == 2
    assert ps["ol"]["reachable"] is False and ps["ol"]["http_status"] == 500
    assert ps["ol"]["error"] == "the server answered with an error"


def test_the_probe_does_not_block_the_loop(start_server, tmp_path, fakes):
    """A probe that waits on a server that never answers (connections to a
    listening socket that accepts nothing) leaves other requests served."""
    import socket
    import threading
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    cfg = write_config(tmp_path / "h.json",
                       [provider("mute", "ollama", None, base_url=f"http://127.0.0.1:{port}")],
                       {"r": ["mute"]})
    srv = start_server(config=cfg, default_route="r", health_probe_timeout_ms=3000)
    out = {}

    def slow():
        out["t0"] = time.monotonic()
        out["doc"] = health(srv)[1]
        out["t1"] = time.monotonic()

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.3)
    r = requests.get(srv.base_url + "/health", timeout=5)  # served meanwhile
    assert r.status_code == 200
    served_during = th.is_alive()
    th.join(30)
    s.close()
    assert served_during, "the health probe finished before /health was asked"
    assert out["doc"]["mute"]["reachable"] is False
    assert out["doc"]["mute"]["error"]
    assert out["t1"] - out["t0"] < 10
