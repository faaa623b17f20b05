"""Live telemetry of a language-model answer in the seed dialects: the
Epic 003 dialect's openai_call / openai_response frames, field for field
as the seed's OpenAIEvent (../shared/seeds/003_92d045eceafba133.txt,
"WebSocket Message Protocol"), before the final assistant frame, for every
provider attempt; and the dialects without telemetry frames stay quiet
(docs/protocol.md "Telemetry")."""

import json
import re
import uuid
from urllib.parse import quote

from dialect_util import dopen, is_timestamp, recv, recv_until, send
from fake_llm import fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import E2E_KB, HEMO_QUESTION, run

# The seed's model, field by field: (name, Python types it may take).
OPENAI_EVENT = {
    "type": (str,),
    "session_id": (str,),
    "model": (str,),
    "prompt_tokens": (int, type(None)),
    "completion_tokens": (int, type(None)),
    "total_tokens": (int, type(None)),
    "duration_ms": (int, type(None)),
    "timestamp": (str,),
}


def check_openai_event(f, kind, session, model):
    assert set(f) == set(OPENAI_EVENT), f"fields {sorted(f)} differ from OpenAIEvent"
    for k, types in OPENAI_EVENT.items():
        assert isinstance(f[k], types) and not isinstance(f[k], bool), (k, f)
    assert f["type"] == kind and f["session_id"] == session and f["model"] == model
    assert is_timestamp(f["timestamp"])


def start(start_server, tmp_path, providers, routes, default_route, **flags):
    cfg = write_config(tmp_path / "medstream.json", providers, routes)
    return start_server(config=cfg, kb=[("jsonl", E2E_KB)], default_route=default_route,
                        llm_retry_base_ms=10, **flags)


def test_epic003_openai_frames_match_the_seed(start_server, tmp_path, fakes):
    bad, good = fakes("bad"), fakes("good")
    bad.set_default(status=500)
    good.set_default(prompt_tokens=123)
    srv = start(start_server, tmp_path,
                [provider("azure-east", "azure", bad, model="gpt-4o"),
                 provider("gpt", "openai", good, model="gpt-4o-mini")],
                {"r": ["azure-east", "gpt"]}, "r")
    u = srv.register()
    session = "s-" + uuid.uuid4().hex

    async def go():
        ws = await dopen(srv, f"/ws?session_id={quote(session)}", u["access_token"])
        assert (await recv(ws))["type"] == "connection"
        await send(ws, {"type": "message", "session_id": session, "content": HEMO_QUESTION})
        frames = await recv_until(ws, lambda f: (f["type"] == "assistant" and
                                                 f["streaming"] is False) or f["type"] == "error")
        await ws.close()
        return frames

    frames = run(go())
    letters = "".join({"tool_call": "c", "tool_result": "r", "openai_call": "o",
                       "openai_response": "p", "assistant": "a"}.get(f["type"], "?")
                      for f in frames)
    # The failed attempt and the one that answered, each a call and a
    # response, both before the final assistant frame (the disclaimer
    # streams after the response).
    assert re.fullmatch(r"cropoa+pa+", letters), letters
    calls = [f for f in frames if f["type"] == "openai_call"]
    resps = [f for f in frames if f["type"] == "openai_response"]
    check_openai_event(calls[0], "openai_call", session, "gpt-4o")
    check_openai_event(calls[1], "openai_call", session, "gpt-4o-mini")
    for c in calls:
        assert c["prompt_tokens"] is None and c["total_tokens"] is None
        assert c["duration_ms"] is None
    check_openai_event(resps[0], "openai_response", session, "gpt-4o")
    check_openai_event(resps[1], "openai_response", session, "gpt-4o-mini")
    r = resps[1]
    assert r["prompt_tokens"] == 123 and r["completion_tokens"] > 0
    assert r["total_tokens"] == r["prompt_tokens"] + r["completion_tokens"]
    assert isinstance(r["duration_ms"], int) and r["duration_ms"] >= 0
    final = frames[-1]
    assert final["content"].startswith("Hereditary hemochromatosis makes the body")
    parts = [f["content"] for f in frames if f["type"] == "assistant"][:-1]
    assert "".join(parts) == final["content"]


def test_epic003_telemetry_opt_out(start_server, tmp_path, fakes):
    up = fakes("up")
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up)], {"r": ["gpt"]}, "r")
    u = srv.register()
    session = "quiet-" + uuid.uuid4().hex

    async def go():
        ws = await dopen(srv, f"/ws?session_id={quote(session)}&telemetry=0", u["access_token"])
        assert (await recv(ws))["type"] == "connection"
        await send(ws, {"type": "message", "session_id": session, "content": HEMO_QUESTION})
        frames = await recv_until(ws, lambda f: f["type"] == "assistant" and
                                  f["streaming"] is False)
        await ws.close()
        return frames

    frames = run(go())
    types = {f["type"] for f in frames}
    assert "openai_call" not in types and "openai_response" not in types, types
    assert "tool_call" in types  # retrieval is not model telemetry


def test_dialects_without_telemetry_frames_stay_quiet(start_server, tmp_path, fakes):
    """VoiceAssist, Veda and Dx have no frame for llm_call, llm_result or
    routing: a model answer looks to them as any other."""
    up = fakes("up")
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up)], {"r": ["gpt"]}, "r")
    u = srv.register()
    tok = u["access_token"]
    conv = srv.create_conversation(tok)

    async def go():
        out = {}
        ws = await dopen(srv, "/api/realtime/ws", tok)
        await recv(ws)
        await send(ws, {"type": "message", "content": HEMO_QUESTION})
        out["voiceassist"] = await recv_until(ws, lambda f: f["type"] in ("message_complete",
                                                                           "error"))
        await ws.close()
        ws = await dopen(srv, f"/ws/conversations/{conv['id']}", tok)
        await send(ws, {"type": "message", "text": HEMO_QUESTION})
        out["veda"] = await recv_until(ws, lambda f: f["type"] in ("done", "error"))
        await ws.close()
        ws = await dopen(srv, f"/ws/{u['user']['id']}", tok)
        await send(ws, {"type": "chat", "data": {"message": HEMO_QUESTION}})
        out["dx"] = await recv_until(ws, lambda f: f["type"] in ("complete", "error"))
        await ws.close()
        return out

    out = run(go())
    for name, frames in out.items():
        text = json.dumps(frames)
        for t in ("llm_call", "llm_result", "routing", "openai_call"):
            assert f'"type": "{t}"' not in text, (name, t)
        assert frames[-1]["type"] != "error", (name, frames[-1])
