"""A bound clinical context reaches a language model (issue 12: "A context
stage of the turn puts it in the prompt"; "The context is PHI"): the
model's prompt carries the patient's members with their units and no ids,
and a conversation with a context is never answered by a provider that is
not local (docs/protocol.md "Clinical context", docs/phi.md)."""

import json

from fake_llm import fakes, provider, write_config  # noqa: F401 (fixture)
from medstream_e2e import E2E_KB, HEMO_QUESTION, connect, new_cmid, recv_event, run, send_json

CONTEXT = {"age": 54, "gender": "male", "weight_kg": 82.5, "chief_complaint": "fatigue",
           "problems": ["Hereditary hemochromatosis", "Type 2 diabetes"],
           "medications": ["metformin 500 mg"], "allergies": ["penicillin"],
           "vitals": {"temperature": 37.1, "heart_rate": 88, "blood_pressure": "138/86",
                      "spo2": 97}}


def start(start_server, tmp_path, providers, route):
    cfg = write_config(tmp_path / "medstream.json", providers, {route: [p["name"] for p in providers]})
    return start_server(config=cfg, kb=[("jsonl", E2E_KB)], default_route=route)


async def ask(ws, conv, text):
    await send_json(ws, {"type": "message", "text": text, "client_message_id": new_cmid(),
                         "conversation_id": conv})
    evs = []
    while True:
        ev = await recv_event(ws, 60)
        evs.append(ev)
        if ev["type"] in ("message_complete", "error"):
            return evs


def bound_conversation(srv, tok):
    conv = srv.create_conversation(tok)["id"]
    r = srv.api("POST", "/api/clinical-contexts", tok, data=json.dumps(dict(CONTEXT, conversation_id=conv)))
    assert r.status_code == 201, r.text
    return conv, r.json()["id"]


def test_bound_context_is_in_the_local_model_prompt(start_server, tmp_path, fakes):
    up = fakes("ollama")
    up.set_default(tokens=["Phlebotomy lowers iron [1]."])
    srv = start(start_server, tmp_path, [provider("local", "ollama", up, local=True)], "clinical")
    u = srv.register()
    tok = u["access_token"]
    conv, ctx_id = bound_conversation(srv, tok)

    async def go():
        ws, _ = await connect(srv, tok)
        evs = await ask(ws, conv, HEMO_QUESTION)
        await ws.close()
        return evs

    evs = run(go())
    assert evs[-1]["type"] == "message_complete", evs[-1]
    routing = [e for e in evs if e["type"] == "routing"][0]
    assert routing["phi_detected"] is True  # a bound context is PHI by definition
    system = "\n".join(m["content"] for m in up.bodies()[0]["messages"] if m["role"] == "system")
    prompt = json.dumps(up.bodies()[0])
    for line in ("Age: 54 years", "Gender: male", "Body: weight 82.5 kg",
                 "Chief complaint: fatigue",
                 "Problems: Hereditary hemochromatosis; Type 2 diabetes",
                 "Medications: metformin 500 mg", "Allergies: penicillin",
                 "Vitals: temperature 37.1 \u00b0C; heart rate 88 /min; blood pressure 138/86 mmHg; "
                 "SpO2 97 %"):
        assert line in system, (line, system)
    # Ids and account data mean nothing to a model and stay out of it.
    assert ctx_id not in prompt and u["user"]["id"] not in prompt


def test_bound_context_never_reaches_a_cloud_model(start_server, tmp_path, fakes):
    up = fakes("openai")
    up.set_default(tokens=["Should never be asked."])
    srv = start(start_server, tmp_path, [provider("cloud", "openai", up, local=False)], "cloudy")
    tok = srv.register()["access_token"]
    conv, _ = bound_conversation(srv, tok)

    async def go():
        ws, _ = await connect(srv, tok)
        evs = await ask(ws, conv, "What is hemochromatosis?")  # no PHI in the text itself
        await ws.close()
        return evs

    evs = run(go())
    err = evs[-1]
    assert err["type"] == "error" and err["code"] == "phi_requires_local_provider", err
    assert up.count() == 0, up.bodies()


def test_phi_scan_only_where_a_route_has_a_cloud_model(start_server, tmp_path, fakes):
    """The PHI detector decides where a question may go; on a route whose
    providers are all local it would decide nothing, so it does not run
    (routing says phi_scanned: false). On a route with a cloud provider the
    same question is scanned and kept local."""
    up = fakes("ollama")
    up.set_default(tokens=["Noted [1]."])
    cloud = fakes("openai")
    cloud.set_default(tokens=["Should never be asked."])
    cfg = write_config(tmp_path / "medstream.json",
                       [provider("local", "ollama", up, local=True),
                        provider("cloud", "openai", cloud, local=False)],
                       {"local-only": ["local"], "mixed": ["cloud", "local"]})
    srv = start_server(config=cfg, kb=[("jsonl", E2E_KB)], default_route="local-only")
    tok = srv.register()["access_token"]
    question = "Which statin for pt MRN 22334455 with CKD stage 3?"

    async def go(model):
        ws, _ = await connect(srv, tok)
        await send_json(ws, {"type": "message", "text": question, "client_message_id": new_cmid(),
                             "model": model})
        evs = []
        while True:
            ev = await recv_event(ws, 60)
            evs.append(ev)
            if ev["type"] in ("message_complete", "error"):
                break
        await ws.close()
        return [e for e in evs if e["type"] == "routing"][0], evs[-1]

    routing, last = run(go("local-only"))
    assert last["type"] == "message_complete", last
    assert routing["phi_scanned"] is False and routing["decision"] == "all", routing
    routing, last = run(go("mixed"))
    assert last["type"] == "message_complete", last
    assert routing["phi_scanned"] is True and routing["phi_detected"] is True, routing
    assert routing["decision"] == "local_only" and routing["providers"] == ["local"], routing
    assert cloud.count() == 0 and "22334455" in json.dumps(up.bodies())
