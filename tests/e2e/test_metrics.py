"""GET /metrics (issue 9, "Health and metrics"; docs/protocol.md "GET
/metrics"): the Prometheus text exposition format 0.0.4, parsed strictly
here (https://prometheus.io/docs/instrumenting/exposition_formats/): every
sample belongs to a family declared by "# TYPE" before it, label values
are quoted and escaped, histogram buckets are cumulative with increasing
"le" ending in "+Inf" equal to _count. Then the counters a user relies on
move: a turn that fails over (requests, failures, fallbacks, tokens,
latency, time to first token, overhead), a PHI refusal, the open
WebSockets gauge; and the route's access rule (loopback by default, the
bearer metrics_token when set)."""

import math
import re

import requests

from fake_llm import fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import E2E_KB, HEMO_QUESTION, connect, run
from test_providers_stream import ask_all, of

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(rf"^({NAME})(\{{(?:{LABEL})(?:,{LABEL})*\}})? (\S+)$")
LABEL_ONE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"')


def parse_exposition(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}};
    raises AssertionError on anything the format does not allow."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    fams, current = {}, None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert re.fullmatch(NAME, name), line
            fams.setdefault(name, {"type": None, "help": None, "samples": []})
            assert fams[name]["help"] is None, f"line {n}: second HELP for {name}"
            fams[name]["help"] = line.split(" ", 3)[3] if line.count(" ") >= 3 else ""
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            assert len(parts) == 4, line
            name, typ = parts[2], parts[3]
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
            assert f["type"] is None and not f["samples"], f"line {n}: TYPE after samples or twice"
            f["type"] = typ
            current = name
            continue
        assert not line.startswith("#") or line.startswith("# "), line
        if line.startswith("#") or not line.strip():
            continue
        m = SAMPLE.match(line)
        assert m, f"line {n} is not a sample: {line!r}"
        sname, labels_txt, value = m.group(1), m.group(2) or "", m.group(3)
        assert current is not None, f"line {n}: a sample before any TYPE"
        typ = fams[current]["type"]
        allowed = {current} | ({current + s for s in ("_bucket", "_sum", "_count")}
                               if typ == "histogram" else set())
        assert sname in allowed, f"line {n}: {sname} does not belong to {current} ({typ})"
        labels = dict(LABEL_ONE.findall(labels_txt))
        v = float(value)  # "+Inf", "NaN" and decimals parse too
        if typ == "counter":
            assert v >= 0 and not math.isnan(v), line
        fams[current]["samples"].append((sname, labels, v))
    for name, f in fams.items():
        assert f["type"], f"{name} has no TYPE"
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return fams


def check_histogram(name, samples):
    series = {}
    for sname, labels, v in samples:
        key = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname.endswith("_bucket"):
            assert "le" in labels, f"{name}: a bucket without le"
            s["buckets"].append((float(labels["le"]), v))
        elif sname.endswith("_sum"):
            s["sum"] = v
        else:
            s["count"] = v
    for key, s in series.items():
        b = s["buckets"]
        assert b and b[-1][0] == math.inf, f"{name}{key}: buckets do not end in +Inf"
        les = [le for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), f"{name}{key}: le order"
        counts = [c for _, c in b]
        assert counts == sorted(counts), f"{name}{key}: buckets not cumulative: {counts}"
        assert s["count"] == b[-1][1], f"{name}{key}: +Inf bucket != _count"
        assert s["sum"] is not None and s["sum"] >= 0, f"{name}{key}: no _sum"
        assert b[0][0] <= 0.00025, f"{name}: the first bucket is above 0.25 ms"


def scrape(srv, **kw):
    r = requests.get(srv.base_url + "/metrics", timeout=10, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return parse_exposition(r.text)


def value(fams, family, sample=None, **labels):
    """A sample's value (0 when the series is not listed: it never counted)."""
    for sname, ls, v in fams[family]["samples"]:
        if sname == (sample or family) and all(ls.get(k) == x for k, x in labels.items()):
            if sample or set(ls) == set(labels):
                return v
    return 0.0


def test_exposition_is_strict_and_complete(start_server):
    srv = start_server()
    fams = scrape(srv)
    for name, typ in [("medstream_requests_total", "counter"),
                      ("medstream_request_failures_total", "counter"),
                      ("medstream_fallbacks_total", "counter"),
                      ("medstream_prompt_tokens_total", "counter"),
                      ("medstream_completion_tokens_total", "counter"),
                      ("medstream_overhead_seconds", "histogram"),
                      ("medstream_llm_request_duration_seconds", "histogram"),
                      ("medstream_time_to_first_token_seconds", "histogram"),
                      ("medstream_phi_routed_total", "counter"),
                      ("medstream_phi_redacted_total", "counter"),
                      ("medstream_phi_refused_total", "counter"),
                      ("medstream_circuit_state", "gauge"),
                      ("medstream_websockets_open", "gauge"),
                      ("medstream_streams_live", "gauge")]:
        assert fams[name]["type"] == typ, name
        assert fams[name]["help"], name
    # The parser itself refuses what the format does not allow.
    for bad in ["x 1\n",                                          # no TYPE
                "# TYPE x counter\nx{a=b} 1\n",                  # unquoted label
                "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                "h_sum 1\nh_count 1\n",                          # not cumulative
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  # no +Inf
                "# TYPE x counter\ny 1\n"]:                      # sample of another family
        try:
            parse_exposition(bad)
        except (AssertionError, ValueError):
            continue
        raise AssertionError(f"the strict parser accepted {bad!r}")


def test_counters_move_after_a_turn_with_failover(start_server, tmp_path, fakes):
    bad, good = fakes("bad"), fakes("good")
    bad.set_default(status=500)
    good.set_default(tokens=["Iron builds up [1].", " Phlebotomy treats it [2]."],
                     prompt_tokens=77)
    cfg = write_config(tmp_path / "m.json", [provider("bad", "openai", bad),
                                             provider("good", "ollama", good)],
                       {"r": ["bad", "good"]})
    srv = start_server(config=cfg, kb=[("jsonl", E2E_KB)], default_route="r",
                       llm_retry_base_ms=10)
    before = scrape(srv)
    assert value(before, "medstream_requests_total", route="r", provider="bad") == 0
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        during = scrape(srv)  # the socket is open now
        evs = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        return during, evs

    during, evs = run(go())
    assert evs[-1]["type"] == "message_complete", evs[-1]
    assert value(during, "medstream_websockets_open") >= 1
    after = scrape(srv)
    v = lambda fam, **l: value(after, fam, **l) - value(before, fam, **l)  # noqa: E731
    assert v("medstream_requests_total", route="r", provider="bad") == 1
    assert v("medstream_requests_total", route="r", provider="good") == 1
    assert v("medstream_request_failures_total", route="r", provider="bad") == 1
    assert v("medstream_request_failures_total", route="r", provider="good") == 0
    assert v("medstream_fallbacks_total", route="r", provider="bad") == 1
    result = of(evs, "llm_result")[-1]
    assert v("medstream_prompt_tokens_total", provider="good") == result["prompt_tokens"] == 77
    assert v("medstream_completion_tokens_total", provider="good") == \
        result["completion_tokens"] > 0
    h = "medstream_llm_request_duration_seconds"
    assert value(after, h, h + "_count", provider="bad") == 1
    assert value(after, h, h + "_count", provider="good") == 1
    t = "medstream_time_to_first_token_seconds"
    assert value(after, t, t + "_count", provider="good") == 1
    assert value(after, t, t + "_count", provider="bad") == 0  # it never sent a token
    o = "medstream_overhead_seconds"
    assert value(after, o, o + "_count", route="r") == 1  # once per question, not per attempt
    assert value(after, o, o + "_sum", route="r") > 0
    assert value(after, "medstream_circuit_state", provider="bad") in (0, 1, 2)
    assert value(after, "medstream_streams_live") == 0


def test_phi_refusal_and_circuit_state_are_counted(start_server, tmp_path, fakes):
    up = fakes("cloud")
    up.set_default(status=500)
    cfg = write_config(tmp_path / "m.json", [provider("cloud", "openai", up, local=False)],
                       {"cloud": ["cloud"]})
    srv = start_server(config=cfg, default_route="cloud", breaker_failures=1,
                       breaker_cooldown_ms=600000, llm_retry_base_ms=10)
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        refused = await ask_all(ws, "Which statin for pt MRN 22334455 with CKD stage 3?")
        failed = await ask_all(ws, "What is the first-line treatment of gout?")
        await ws.close()
        return refused, failed

    refused, failed = run(go())
    assert "phi_requires_local_provider" in str(refused[-1]), refused[-1]
    assert failed[-1]["type"] == "error", failed[-1]
    fams = scrape(srv)
    assert value(fams, "medstream_phi_refused_total", route="cloud") == 1
    assert value(fams, "medstream_phi_routed_total", route="cloud") == 0
    # One failure opened the breaker (breaker_failures 1): the gauge says 2.
    assert value(fams, "medstream_circuit_state", provider="cloud") == 2
    assert value(fams, "medstream_circuit_state", provider="offline") == 0
    assert value(fams, "medstream_request_failures_total", route="cloud", provider="cloud") == 1
    assert up.count("/chat/completions") == 1  # the refused question never left


def test_metrics_token_guards_the_route(start_server):
    srv = start_server(metrics_token="metrics-token-for-tests-0123456789")
    url = srv.base_url + "/metrics"
    assert requests.get(url, timeout=10).status_code == 401
    r = requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert "metrics-token-for-tests" not in r.text
    scrape(srv, headers={"Authorization": "Bearer metrics-token-for-tests-0123456789"})
    h = requests.get(srv.base_url + "/health/providers", timeout=10)
    assert h.status_code == 401
