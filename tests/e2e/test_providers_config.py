"""Providers and routes in the configuration file (--config): a bad one
stops start-up with one clear line naming the file, the entry and the
field; keys are read from the environment variable a provider names and
appear nowhere; a good one serves (docs/protocol.md "Providers and
routes"; README "Language models")."""

import json
import subprocess

import pytest

from fake_llm import fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import child_env, free_port, medstream_bin


def serve(tmp_path, doc, env=None, extra=()):
    cfg = tmp_path / "medstream.json"
    cfg.write_text(json.dumps(doc))
    argv = [medstream_bin(), "serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir",
            str(tmp_path / "data"), "--config", str(cfg), *extra]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120, env=child_env(env))
    return r, str(cfg)


OLLAMA = {"name": "o", "kind": "ollama", "base_url": "http://127.0.0.1:9", "model": "m"}


@pytest.mark.parametrize("doc,why", [
    ({"providers": [{"name": "x", "kind": "gpt4"}]},
     "providers[0]: \"kind\" must be one of offline, synthetic, ollama, openai"),
    ({"providers": [dict(OLLAMA, base_url=None)]}, "\"base_url\" must be a non-empty string"),
    ({"providers": [{k: v for k, v in OLLAMA.items() if k != "model"}]},
     "providers[0] (\"o\"): \"model\" is required"),
    ({"providers": [dict(OLLAMA, base_url="127.0.0.1:11434")]},
     "\"base_url\" must start with http:// or https://"),
    ({"providers": [dict(OLLAMA, local="yes")]}, "\"local\" must be true or false"),
    ({"providers": [dict(OLLAMA, first_token_timeout_ms=0)]},
     "\"first_token_timeout_ms\" must be an integer from 1 to 3600000"),
    ({"providers": [dict(OLLAMA, api_key="sk-123")]}, "unknown field \"api_key\""),
    ({"providers": [dict(OLLAMA, api_key_env="MS_E2E_UNSET_KEY_VAR")]},
     "provider \"o\": the environment variable MS_E2E_UNSET_KEY_VAR (api_key_env) is not set"),
    ({"providers": [OLLAMA, dict(OLLAMA)]}, "providers[1]: the name \"o\" is taken"),
    ({"providers": [OLLAMA], "routes": {"r": ["o", "ghost"]}},
     "routes.r[1]: no provider named \"ghost\""),
    ({"routes": {"r": {"providers": ["offline"], "weight": 2}}}, "routes.r: unknown field"),
    ({"providers": [OLLAMA], "default_route": "nope"}, "\"nope\" names no route or provider"),
    ({"providers": "ollama"}, "\"providers\" must be an array"),
])
def test_bad_configuration_is_explained(tmp_path, doc, why):
    r, cfg = serve(tmp_path, doc)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("medstream: ")]
    assert len(lines) == 1, r.stderr[-2000:]
    assert why in lines[0], lines[0]
    if "names no route" not in why:
        assert cfg in lines[0]


def test_a_key_in_the_environment_never_reaches_the_output(tmp_path, fakes):
    """A provider refused at start-up for another reason, and one that
    starts: the key is in no line either way."""
    key = "sk-e2e-VERYSECRET-9f8e7d6c5b4a"
    up = fakes("up")
    good = {"providers": [provider("gpt", "openai", up, api_key_env="MS_E2E_KEY")],
            "routes": {"r": ["gpt"]}, "default_route": "r"}
    bad = {"providers": [dict(provider("gpt", "openai", up, api_key_env="MS_E2E_KEY"),
                              base_url="file:///etc/passwd")]}
    r, _ = serve(tmp_path, bad, env={"MS_E2E_KEY": key})
    assert r.returncode == 1 and key not in r.stdout + r.stderr
    r, _ = serve(tmp_path, good, env={"MS_E2E_KEY": key}, extra=["--help"])
    assert r.returncode == 0 and key not in r.stdout + r.stderr


def test_config_file_keeps_its_flat_settings(start_server, tmp_path, fakes):
    """Flat settings and the nested providers and routes in one file."""
    up = fakes("up")
    cfg = write_config(tmp_path / "medstream.json", [provider("gpt", "openai", up)],
                       {"clinical": ["gpt"]}, default_route="clinical", llm_max_tokens=77)
    srv = start_server(config=cfg)
    u = srv.register()
    body = srv.api("GET", "/api/models", u["access_token"]).json()
    assert body["default"] == "clinical"
    r = srv.api("POST", f"/api/conversations/{srv.create_conversation(u['access_token'])['id']}"
                "/messages/chat", u["access_token"], json={"text": "What is gout?"})
    assert r.status_code == 200, r.text
    assert up.bodies()[0]["max_tokens"] == 77
