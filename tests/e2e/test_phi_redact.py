"""PHI redact mode (issue 9, "Optional redact mode"; docs/phi.md "Redact
mode"): on a route with phi_mode "redact", a question with PHI goes to a
provider that is not local with typed placeholders instead of the values;
the recorded upstream bodies carry the placeholders and never the
originals, and the client sees the originals put back, also when the
upstream splits a placeholder across chunks. The routing event says
decision "redacted"; /metrics counts it. Without the option (the default,
"refuse") the same question is refused, and a local provider on a redact
route still gets the originals."""

import json

import requests

from fake_llm import fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import connect, run
from test_providers_stream import ask_all, of, text_of

QUESTION = "Can John Smith, DOB 04/12/1950, take ibuprofen with warfarin?"
ORIGINALS = ["John Smith", "04/12/1950"]
# What the detector's map names them (medstream phi detect --redact).
PLACEHOLDERS = ["[NAME_1]", "[DATE_1]"]
# An answer quoting both placeholders, each split across two chunks.
TOKENS = ["Advise [NA", "ME_1] to avoid ibuprofen", "; born [DATE", "_1], ",
          "the bleeding risk with warfarin is higher. [NAME_", "1] should ask a pharmacist."]


def ask(srv, text):
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        evs = await ask_all(ws, text)
        await ws.close()
        return evs

    return run(go())


def test_redact_sends_placeholders_and_restores_split_ones(start_server, tmp_path, fakes):
    up = fakes("cloud")
    up.set_default(tokens=TOKENS, split_bytes=True)
    cfg = write_config(tmp_path / "r.json", [provider("cloud", "openai", up, local=False)],
                       {"cloud": {"providers": ["cloud"], "phi_mode": "redact"}})
    srv = start_server(config=cfg, default_route="cloud")
    evs = ask(srv, QUESTION)
    assert evs[-1]["type"] == "message_complete", evs[-1]
    routing = of(evs, "routing")
    assert routing and routing[0]["decision"] == "redacted", routing
    assert routing[0]["phi_detected"] is True
    for v in ORIGINALS:
        assert v not in json.dumps(routing), routing
    # What left medstream: placeholders, never the values.
    sent = up.bodies_text()
    assert up.count("/chat/completions") == 1
    for p in PLACEHOLDERS:
        assert p in sent, f"{p} not in the upstream request"
    for v in ORIGINALS:
        assert v not in sent, f"{v!r} reached the cloud upstream"
    assert "John" not in sent and "1950" not in sent
    # What the client saw: the originals, whole, where the model put them.
    shown = text_of(evs)
    final = evs[-1]["text"]
    for text in (shown, final):
        assert "Advise John Smith to avoid ibuprofen; born 04/12/1950, " in text, text
        assert "higher. John Smith should ask a pharmacist." in text, text
        for p in ("[NAME_", "[DATE_", "NAME_1", "DATE_1"):
            assert p not in text, text
    m = requests.get(srv.base_url + "/metrics", timeout=10).text
    assert 'medstream_phi_redacted_total{route="cloud"} 1\n' in m


def test_refuse_is_the_default(start_server, tmp_path, fakes):
    up = fakes("cloud")
    cfg = write_config(tmp_path / "r.json", [provider("cloud", "openai", up, local=False)],
                       {"cloud": ["cloud"]})
    srv = start_server(config=cfg, default_route="cloud")
    evs = ask(srv, QUESTION)
    assert "phi_requires_local_provider" in json.dumps(evs[-1])
    assert of(evs, "routing")[0]["decision"] == "refused"
    assert up.count("/chat/completions") == 0


def test_provider_option_and_local_first(start_server, tmp_path, fakes):
    """phi_mode on the provider; a local provider first on the route gets
    the originals (nothing leaves the machine), and when it fails the
    cloud one gets placeholders."""
    local, cloud = fakes("local"), fakes("cloud")
    local.set_default(status=500)
    cloud.set_default(tokens=["Ask [NAME_1]'s pharmacist."])
    cfg = write_config(tmp_path / "r.json",
                       [provider("local", "ollama", local, local=True),
                        provider("cloud", "openai", cloud, local=False, phi_mode="redact")],
                       {"r": ["local", "cloud"]})
    srv = start_server(config=cfg, default_route="r", llm_retry_base_ms=10)
    evs = ask(srv, QUESTION)
    assert evs[-1]["type"] == "message_complete", evs[-1]
    assert of(evs, "routing")[0]["decision"] == "redacted"
    assert "John Smith" in local.bodies_text()  # local: the originals
    assert "John Smith" not in cloud.bodies_text() and "[NAME_1]" in cloud.bodies_text()
    assert "Ask John Smith's pharmacist." in evs[-1]["text"]


def test_bad_phi_mode_is_refused_at_start(tmp_path, fakes):
    import subprocess
    from medstream_e2e import child_env, medstream_bin
    up = fakes("cloud")
    cfg = write_config(tmp_path / "r.json", [provider("cloud", "openai", up, local=False,
                                                      phi_mode="maybe")])
    r = subprocess.run([medstream_bin(), "serve", "--config", cfg, "--data-dir",
                        str(tmp_path / "d"), "--listen", "127.0.0.1:0"],
                       capture_output=True, timeout=60, env=child_env())
    assert r.returncode != 0
    assert b"phi_mode" in r.stderr, r.stderr


def test_bad_route_phi_mode_is_refused_at_start(tmp_path, fakes):
    import subprocess
    from medstream_e2e import child_env, medstream_bin
    up = fakes("cloud")
    cfg = write_config(tmp_path / "r.json", [provider("cloud", "openai", up, local=False)],
                       {"cloud": {"providers": ["cloud"], "phi_mode": "REDACT"}})
    r = subprocess.run([medstream_bin(), "serve", "--config", cfg, "--data-dir",
                        str(tmp_path / "d"), "--listen", "127.0.0.1:0"],
                       capture_output=True, timeout=60, env=child_env())
    assert r.returncode != 0
    assert b"routes.cloud" in r.stderr and b"phi_mode" in r.stderr, r.stderr
