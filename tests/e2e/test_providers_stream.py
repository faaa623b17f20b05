"""Answers from language-model providers, through each kind medstream has
(openai, Azure OpenAI, ollama) against the loopback fake (fake_llm.py):
the stream, its citations, the prompt that reached the model, usage and
grounding, routes and the message's "model" (docs/protocol.md "Providers
and routes", "Telemetry")."""

import asyncio
import json
import time

from fake_llm import fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import (DISCLAIMER_TEXT, E2E_KB, HEMO_QUESTION, assert_error, connect,
                           markers, new_cmid, recv_event, run, send_json)


def start(start_server, tmp_path, providers, routes=None, default_route=None, env=None,
          kb=True, **flags):
    cfg = write_config(tmp_path / "medstream.json", providers, routes)
    if default_route:
        flags["default_route"] = default_route
    return start_server(config=cfg, env=env, kb=[("jsonl", E2E_KB)] if kb else None, **flags)


async def ask_all(ws, text, model=None, conversation_id=None, timeout=60):
    """Sends a question; returns every event of its answer up to
    message_complete or a final error (the error event included)."""
    cmid = new_cmid()
    msg = {"type": "message", "text": text, "client_message_id": cmid}
    if model:
        msg["model"] = model
    if conversation_id:
        msg["conversation_id"] = conversation_id
    await send_json(ws, msg)
    events, mid = [], None
    deadline = time.monotonic() + timeout
    while True:
        ev = await recv_event(ws, max(0.1, deadline - time.monotonic()))
        if ev["type"] == "message_start" and ev.get("client_message_id") == cmid:
            mid = ev["message_id"]
        if ev.get("message_id") not in (None, mid):
            continue
        events.append(ev)
        if ev["type"] == "message_complete" or (ev["type"] == "error" and
                                                 (mid is None or ev.get("message_id") == mid)):
            return events


def of(events, t):
    return [e for e in events if e["type"] == t]


def text_of(events):
    return "".join(e["delta"] for e in of(events, "message_chunk"))


CITED_TOKENS = ["Hereditary hemochromatosis makes the body absorb too much iron from the diet",
                " and store it in the liver [1].", " It is treated", " with regular phlebotomy,",
                " the removal of blood [2]. Nothing here is from source [9].",
                " Ferritin and transferrin saturation are followed [2][1]."]


def test_openai_stream_cited_grounded_and_stored(start_server, tmp_path, fakes):
    up = fakes("openai")
    up.set_default(tokens=CITED_TOKENS, prompt_tokens=321)
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up, model="gpt-4o-mini")],
                {"clinical": ["gpt"]}, default_route="clinical")
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        evs = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        return evs

    evs = run(go())
    types = [e["type"] for e in evs]
    # In order with the answer: routing, then the call, the text, the result.
    assert types.index("routing") < types.index("llm_call") < types.index("message_chunk")
    assert types.index("llm_result") < types.index("message_complete")
    complete = evs[-1]
    assert complete["type"] == "message_complete", evs[-3:]
    text = text_of(evs)
    assert text == complete["text"] and text.endswith(DISCLAIMER_TEXT)
    # The model's markers, renumbered by first use; [9] named no passage and
    # is gone, with its space; [2][1] keeps both citations.
    body = text[: -len(DISCLAIMER_TEXT)].rstrip()
    assert "[9]" not in body and "source." in body, body
    assert markers(body) == {c["index"] for c in complete["citations"]}
    assert [c["index"] for c in complete["citations"]] == list(range(1, len(markers(body)) + 1))
    # llm_call / llm_result as documented.
    call, res = of(evs, "llm_call")[0], of(evs, "llm_result")[0]
    assert call["provider"] == "gpt" and call["model"] == "gpt-4o-mini"
    assert call["local"] is True and call["attempt"] == 1 and call["route"] == "clinical"
    assert res["usage"] == "provider" and res["prompt_tokens"] == 321
    assert res["total_tokens"] == res["prompt_tokens"] + res["completion_tokens"]
    assert res["finish_reason"] == "stop" and isinstance(res["ttft_ms"], int)
    assert isinstance(res["duration_ms"], int) and res["duration_ms"] >= res["ttft_ms"]
    g = res["grounding"]
    assert isinstance(g, float) and 0 < g <= 1, res
    assert complete["grounding"] == g
    routing = of(evs, "routing")[0]
    assert routing["decision"] == "all" and routing["providers"] == ["gpt"]
    assert routing["phi_detected"] is False and routing["categories"] == []
    # Stored exactly as streamed, with its grounding and usage.
    m = srv.message(u["access_token"], complete["conversation_id"], complete["message_id"])
    assert m["content"] == text and m["status"] == "complete"
    assert m["grounding"] == g and m["usage"]["prompt_tokens"] == 321
    assert len(m["citations"]) == len(complete["citations"])
    # What reached the model: OpenAI's streaming request with the usage chunk.
    body = up.bodies()[0]
    assert body["model"] == "gpt-4o-mini" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 1024
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[-1]["content"] == HEMO_QUESTION
    sysmsg = msgs[0]["content"]
    assert "clinical decision-support" in sysmsg and "[1]" in sysmsg and "[2]" in sysmsg
    assert "do not answer" in sysmsg.lower() or "say so" in sysmsg.lower()
    assert "phlebotomy" in sysmsg  # the passages are in the prompt
    req = up.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["accept"] == "text/event-stream"


def test_ollama_stream_usage_and_durations(start_server, tmp_path, fakes):
    up = fakes("ollama")
    up.set_default(tokens=["Phlebotomy", " lowers", " iron [1]."], prompt_tokens=77)
    srv = start(start_server, tmp_path,
                [provider("llama", "ollama", up, model="llama3.2", max_tokens=300, temperature=0.1)],
                {"local-llama": ["llama"]}, default_route="local-llama")
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        evs = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        return evs

    evs = run(go())
    complete = evs[-1]
    assert complete["type"] == "message_complete"
    assert text_of(evs).startswith("Phlebotomy lowers iron [1].")
    res = of(evs, "llm_result")[0]
    assert res["usage"] == "provider" and res["prompt_tokens"] == 77
    assert res["completion_tokens"] == 3
    assert res["upstream_duration_ms"] == 4883  # total_duration, ns -> ms
    body = up.bodies()[0]
    assert up.requests[0]["path"] == "/api/chat"
    assert body["model"] == "llama3.2" and body["stream"] is True
    assert body["options"] == {"num_predict": 300, "temperature": 0.1}
    assert body["messages"][-1] == {"role": "user", "content": HEMO_QUESTION}


def test_azure_deployment_path_and_api_key_header(start_server, tmp_path, fakes):
    up = fakes("azure")
    key = "azure-test-key-0123456789"
    srv = start(start_server, tmp_path,
                [provider("az", "azure", up, api_key_env="MS_TEST_AZURE_KEY", local=False)],
                {"cloud": ["az"]}, default_route="cloud", env={"MS_TEST_AZURE_KEY": key})
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        evs = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        return evs

    evs = run(go())
    assert evs[-1]["type"] == "message_complete"
    assert text_of(evs).startswith("Hereditary hemochromatosis makes the body")
    req = up.requests[0]
    assert req["path"] == "/openai/deployments/gpt-dep/chat/completions"
    assert req["query"] == {"api-version": ["2024-10-21"]}
    assert req["headers"]["api-key"] == key
    assert "authorization" not in req["headers"]
    assert of(evs, "llm_call")[0]["local"] is False


def test_sse_framing_variants_give_the_same_answer(start_server, tmp_path, fakes):
    """CRLF line ends, comment keep-alives, data split over two lines, and
    every byte in its own TCP write (WHATWG HTML 9.2): one answer."""
    up = fakes("openai")
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up)], {"m": ["gpt"]},
                default_route="m")
    u = srv.register()
    for style in ("plain", "crlf", "comments", "multiline"):
        up.add(sse_style=style, split_bytes=style != "plain")

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        texts = []
        for _ in range(4):
            evs = await ask_all(ws, HEMO_QUESTION)
            assert evs[-1]["type"] == "message_complete", evs[-1]
            texts.append(evs[-1]["text"])
        await ws.close()
        return texts

    texts = run(go())
    assert len(set(texts)) == 1, texts
    assert texts[0].startswith("Hereditary hemochromatosis makes the body absorb too much iron")


def test_models_lists_routes_and_a_message_picks_one(start_server, tmp_path, fakes):
    a, b = fakes("a"), fakes("b")
    a.set_default(tokens=["from a"])
    b.set_default(tokens=["from b"])
    srv = start(start_server, tmp_path,
                [provider("pa", "openai", a, model="model-a"),
                 provider("pb", "ollama", b, model="model-b", local=False)],
                {"alpha": {"providers": ["pa"], "title": "Alpha", "description": "the first"},
                 "beta": ["pb", "pa"]}, default_route="alpha")
    u = srv.register()
    r = srv.api("GET", "/api/models", u["access_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["default"] == "alpha"
    ids = [m["id"] for m in body["models"]]
    assert ids[0] == "alpha" and set(ids) == {"alpha", "beta"}
    alpha = body["models"][0]
    assert alpha["name"] == "Alpha" and alpha["description"] == "the first"
    assert alpha["default"] is True and alpha["local"] is True
    beta = next(m for m in body["models"] if m["id"] == "beta")
    assert beta["local"] is False  # not every provider of it is local
    assert [p["name"] for p in beta["providers"]] == ["pb", "pa"]
    assert beta["providers"][0] == {"name": "pb", "kind": "ollama", "model": "model-b",
                                    "local": False}
    assert "base_url" not in json.dumps(body) and "127.0.0.1" not in json.dumps(body)

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        d = await ask_all(ws, "What is hemochromatosis?")
        e = await ask_all(ws, "What is hemochromatosis?", model="beta")
        f = await ask_all(ws, "What is hemochromatosis?", model="pa")  # a provider's own route
        bad = await ask_all(ws, "What is hemochromatosis?", model="nope")
        await ws.close()
        return d, e, f, bad

    d, e, f, bad = run(go())
    assert d[-1]["text"].startswith("from a")
    assert e[-1]["text"].startswith("from b") and of(e, "routing")[0]["route"] == "beta"
    assert f[-1]["text"].startswith("from a")
    assert [x["type"] for x in bad] == ["error"], bad
    assert bad[0]["code"] == "invalid_message" and "model" in bad[0]["message"]
    assert a.count() == 2 and b.count() == 1
    convs = srv.api("GET", "/api/conversations", u["access_token"]).json()["conversations"]
    assert len(convs) == 3  # the unknown model stored nothing


def test_recent_turns_reach_the_prompt_without_disclaimer_or_markers(start_server, tmp_path,
                                                                      fakes):
    up = fakes("openai")
    up.set_default(tokens=["Iron overload [1]."])
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up)], {"m": ["gpt"]},
                default_route="m")
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        first = await ask_all(ws, HEMO_QUESTION)
        cid = first[-1]["conversation_id"]
        await ask_all(ws, "How is it treated?", conversation_id=cid)
        await ws.close()

    run(go())
    msgs = up.bodies()[1]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[1]["content"] == HEMO_QUESTION
    assert msgs[2]["content"] == "Iron overload."  # the old marker and the disclaimer are out
    assert msgs[3]["content"] == "How is it treated?"


def test_prompt_length_limit_refuses_a_question_too_long(start_server, tmp_path, fakes):
    up = fakes("openai")
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up)], {"m": ["gpt"]},
                default_route="m", prompt_max_tokens=256, kb=False)
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        evs = await ask_all(ws, "hemochromatosis " * 80)
        await ws.close()
        return evs

    evs = run(go())
    assert evs[-1]["type"] == "error" and evs[-1]["code"] == "too_large", evs[-1]
    assert "prompt" in evs[-1]["message"]
    assert up.count() == 0


def test_rest_chat_answers_through_the_default_route(start_server, tmp_path, fakes):
    up = fakes("openai")
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up)], {"m": ["gpt"]},
                default_route="m")
    u = srv.register()
    conv = srv.create_conversation(u["access_token"])
    r = srv.api("POST", f"/api/conversations/{conv['id']}/messages/chat", u["access_token"],
                json={"text": HEMO_QUESTION})
    assert r.status_code == 200, r.text
    am = r.json()["assistant_message"]
    assert am["content"].startswith("Hereditary hemochromatosis makes the body")
    assert am["status"] == "complete" and isinstance(am["grounding"], float)
    assert_error(srv.api("GET", "/api/models"), 401)


def test_telemetry_opt_out_at_connect(start_server, tmp_path, fakes):
    up = fakes("openai")
    srv = start(start_server, tmp_path, [provider("gpt", "openai", up)], {"m": ["gpt"]},
                default_route="m")
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"], query="telemetry=0")
        quiet = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        ws, _ = await connect(srv, u["access_token"])
        loud = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        return quiet, loud

    quiet, loud = run(go())
    tele = {"llm_call", "llm_result", "routing"}
    assert not tele & {e["type"] for e in quiet}, [e["type"] for e in quiet]
    assert tele <= {e["type"] for e in loud}
    assert quiet[-1]["text"] == loud[-1]["text"]


def test_offline_default_needs_no_network_and_reports_telemetry(start_server, tmp_path):
    """Without a configuration file the default route is the offline
    answerer: no model server is needed, and the telemetry is its own."""
    srv = start_server(kb=[("jsonl", E2E_KB)])
    u = srv.register()

    async def go():
        ws, _ = await connect(srv, u["access_token"])
        evs = await ask_all(ws, HEMO_QUESTION)
        await ws.close()
        return evs

    evs = run(go())
    assert evs[-1]["type"] == "message_complete"
    call, res = of(evs, "llm_call")[0], of(evs, "llm_result")[0]
    assert call["provider"] == "offline" and call["local"] is True
    assert res["usage"] == "counted" and res["grounding"] is None
    assert of(evs, "routing")[0]["route"] == "offline"
    assert asyncio is not None
