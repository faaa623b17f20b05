"""Clinical contexts (docs/protocol.md, "Clinical context"): the REST routes
of seed 002 (POST /api/clinical-contexts, GET /current, GET/PUT/DELETE
/{id}), their validation, ownership and limits; binding a conversation with
a native or VoiceAssist message's clinical_context_id; and what a bound
context changes in the answer (the allergy check, retrieval weighed by the
patient's problems)."""

import json
import uuid

import pytest

from dialect_util import dopen, recv, recv_until, send
from medstream_e2e import (RFC3339_MS, assert_error, ask, collect, connect, expect_error, run,
                           send_json)

MISSING = "00000000-0000-4000-8000-000000000000"
BASE = "/api/clinical-contexts"

FULL = {
    "age": 67, "gender": "female", "weight_kg": 72.5, "height_cm": 160,
    "chief_complaint": "Productive cough for five days",
    "problems": ["Type 2 diabetes", "Hypertension"],
    "medications": ["Metformin 500 mg twice daily", "Lisinopril 10 mg"],
    "allergies": ["Allergy to penicillin"],
    "vitals": {"temperature": 38.4, "heart_rate": 104, "blood_pressure": "142/88",
               "respiratory_rate": 22, "spo2": 93},
}
MEMBERS = {"id", "user_id", "source", "conversation_ids", "age", "gender", "weight_kg",
           "height_cm", "chief_complaint", "problems", "medications", "allergies", "vitals",
           "created_at", "updated_at"}


def _create(server, tok, body, status=201):
    r = server.api("POST", BASE, tok, json=body)
    assert r.status_code == status, r.text
    return r.json()


def _check(ctx, user):
    assert set(ctx) == MEMBERS, sorted(ctx)
    assert ctx["user_id"] == user["user"]["id"]
    assert RFC3339_MS.match(ctx["created_at"]) and RFC3339_MS.match(ctx["updated_at"])
    return ctx


def test_crud_roundtrip(server, user):
    tok = user["access_token"]
    ctx = _check(_create(server, tok, FULL), user)
    assert ctx["source"] == "manual" and ctx["conversation_ids"] == []
    for k, v in FULL.items():
        assert ctx[k] == v, (k, ctx[k], v)
    assert server.api("GET", f"{BASE}/{ctx['id']}", tok).json() == ctx
    assert server.api("GET", f"{BASE}/current", tok).json() == ctx
    # PUT replaces what it names (vitals as a whole), clears nulls, keeps the rest.
    r = server.api("PUT", f"{BASE}/{ctx['id']}", tok,
                   json={"vitals": {"heart_rate": 88}, "chief_complaint": None,
                         "problems": ["Type 2 diabetes", "Hypertension", "COPD"]})
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["vitals"] == {"heart_rate": 88}
    assert up["chief_complaint"] is None
    assert up["problems"] == ["Type 2 diabetes", "Hypertension", "COPD"]
    assert up["allergies"] == FULL["allergies"] and up["age"] == 67
    assert up["updated_at"] >= ctx["updated_at"] and up["created_at"] == ctx["created_at"]
    # Empty PUT: nothing changes but the time.
    r = server.api("PUT", f"{BASE}/{ctx['id']}", tok, json={})
    assert r.status_code == 200 and r.json()["problems"] == up["problems"]
    # A minimal context: everything unknown.
    bare = _create(server, tok, {})
    assert bare["age"] is None and bare["problems"] == [] and bare["vitals"] == {}
    # current: the one updated last.
    assert server.api("GET", f"{BASE}/current", tok).json()["id"] == bare["id"]
    r = server.api("DELETE", f"{BASE}/{ctx['id']}", tok)
    assert r.status_code == 204 and not r.content
    assert_error(server.api("GET", f"{BASE}/{ctx['id']}", tok), 404, "not_found")
    assert_error(server.api("DELETE", f"{BASE}/{ctx['id']}", tok), 404, "not_found")
    assert_error(server.api("PUT", f"{BASE}/{ctx['id']}", tok, json={}), 404, "not_found")


def test_normalised_input(server, user):
    tok = user["access_token"]
    ctx = _create(server, tok, {"gender": "MALE", "chief_complaint": "  dizzy  ",
                                "allergies": [" Latex ", "latex", "Sulfa"],
                                "vitals": {"blood_pressure": "120 / 80", "spo2": None}})
    assert ctx["gender"] == "male" and ctx["chief_complaint"] == "dizzy"
    assert ctx["allergies"] == ["Latex", "Sulfa"]
    assert ctx["vitals"] == {"blood_pressure": "120/80"}


@pytest.mark.parametrize("body,says", [
    ({"age": 131}, "age must be a whole number of years from 0 to 130"),
    ({"age": "67"}, "age must be"),
    ({"age": 6.5}, "whole number"),
    ({"gender": "f"}, "gender must be one of"),
    ({"weight_kg": 0}, "weight_kg must be a number of kilograms from 0.2 to 700"),
    ({"height_cm": 1.62}, "looks like metres"),
    ({"height_cm": 400}, "height_cm must be a number of centimetres from 20 to 300"),
    ({"chief_complaint": ["cough"]}, "chief_complaint must be a string"),
    ({"problems": "asthma"}, "problems must be an array of strings"),
    ({"medications": ["ok", 5]}, "medications[1] must be a non-empty string"),
    ({"allergies": [""]}, "allergies[0] must be a non-empty string"),
    ({"vitals": {"temperature": 101.3}}, "vitals.temperature must be a number of degrees Celsius "
                                         "from 10 to 47 (that looks like Fahrenheit)"),
    ({"vitals": {"heart_rate": 400}}, "vitals.heart_rate must be a whole number of beats per "
                                      "minute from 10 to 350"),
    ({"vitals": {"respiratory_rate": 0}}, "vitals.respiratory_rate"),
    ({"vitals": {"spo2": 0.95}}, "not a percentage"),
    ({"vitals": {"blood_pressure": "80/120"}}, "systolic above diastolic"),
    ({"vitals": {"blood_pressure": "high"}}, "vitals.blood_pressure must be \"systolic/diastolic\""
                                             " in mmHg"),
    ({"vitals": {"bp": "120/80"}}, "vitals.bp is not a vital sign"),
    ({"vitals": "normal"}, "vitals must be an object"),
    ({"weight": 70}, "\"weight\" is not a clinical-context field"),
    ({"conversation_id": "not-an-id"}, "conversation_id (or session_id) must be"),
    ({"conversation_id": 5}, "conversation_id (or session_id) must be"),
])
def test_bad_input_names_the_field(server, user, body, says):
    tok = user["access_token"]
    err = assert_error(server.api("POST", BASE, tok, json=body), 400, "invalid_request")
    assert says in err["message"], err
    ctx = _create(server, tok, {"age": 50})
    err = assert_error(server.api("PUT", f"{BASE}/{ctx['id']}", tok, json=body), 400,
                       "invalid_request")
    assert says in err["message"], err
    # Nothing was changed by the refused PUT.
    assert server.api("GET", f"{BASE}/{ctx['id']}", tok).json()["age"] == 50


def test_bad_bodies_and_auth(server, user):
    tok = user["access_token"]
    assert_error(server.api("POST", BASE, tok, data="[1]",
                            headers={"Content-Type": "application/json"}), 400, "invalid_request")
    assert_error(server.api("POST", BASE, tok, data="{\"age\":",
                            headers={"Content-Type": "application/json"}), 400, "invalid_request")
    assert_error(server.api("POST", BASE, tok, data="{\"age\":1,\"age\":2}",
                            headers={"Content-Type": "application/json"}), 400, "invalid_request")
    for method, path in [("POST", BASE), ("GET", f"{BASE}/current"), ("GET", f"{BASE}/{MISSING}"),
                         ("PUT", f"{BASE}/{MISSING}"), ("DELETE", f"{BASE}/{MISSING}"),
                         ("POST", f"{BASE}/import/fhir")]:
        assert_error(server.api(method, path, json={}), 401, "unauthorized")
    for bad in (MISSING, "current2", "x" * 60):
        assert_error(server.api("GET", f"{BASE}/{bad}", tok), 404, "not_found")
    assert_error(server.api("PATCH", f"{BASE}/{MISSING}", tok, json={}), 405)


def test_current_none_yet(server):
    fresh = server.register()
    err = assert_error(server.api("GET", f"{BASE}/current", fresh["access_token"]), 404,
                       "not_found")
    assert "no clinical context" in err["message"]


def test_one_context_per_conversation(server, user):
    tok = user["access_token"]
    conv = server.create_conversation(tok)["id"]
    ctx = _create(server, tok, {"age": 40, "conversation_id": conv})
    assert ctx["conversation_ids"] == [conv]
    err = assert_error(server.api("POST", BASE, tok, json={"age": 41, "conversation_id": conv}),
                       409, "conflict")
    assert "PUT" in err["message"]
    # Seed 002's name for it, session_id, and the upper-case spelling, are the same.
    assert_error(server.api("POST", BASE, tok, json={"session_id": conv.upper()}), 409,
                 "conflict")
    assert_error(server.api("POST", BASE, tok,
                            json={"conversation_id": conv, "session_id": MISSING}), 400)
    got = server.api("GET", f"{BASE}/current?conversation_id={conv}", tok)
    assert got.status_code == 200 and got.json()["id"] == ctx["id"]
    assert server.api("GET", f"{BASE}/current?session_id={conv}", tok).json()["id"] == ctx["id"]
    # A second conversation about the same patient, bound with PUT.
    conv2 = server.create_conversation(tok)["id"]
    err = assert_error(server.api("GET", f"{BASE}/current?conversation_id={conv2}", tok), 404)
    assert "that conversation has no clinical context" in err["message"]
    r = server.api("PUT", f"{BASE}/{ctx['id']}", tok, json={"conversation_id": conv2})
    assert r.status_code == 200 and r.json()["conversation_ids"] == [conv, conv2]
    assert server.api("GET", f"{BASE}/current?conversation_id={conv2}", tok).json()["id"] == \
        ctx["id"]
    # Deleting the context unbinds both; the conversations stay.
    assert server.api("DELETE", f"{BASE}/{ctx['id']}", tok).status_code == 204
    assert_error(server.api("GET", f"{BASE}/current?conversation_id={conv}", tok), 404)
    assert server.api("GET", f"/api/conversations/{conv}", tok).status_code == 200
    # Deleting a conversation unbinds it from its context.
    ctx2 = _create(server, tok, {"conversation_id": conv})
    assert server.api("DELETE", f"/api/conversations/{conv}", tok).status_code == 204
    assert server.api("GET", f"{BASE}/{ctx2['id']}", tok).json()["conversation_ids"] == []
    assert_error(server.api("POST", BASE, tok, json={"conversation_id": MISSING}), 404,
                 "not_found")


def test_ownership(server, user):
    tok = user["access_token"]
    other = server.register()
    otok = other["access_token"]
    conv = server.create_conversation(tok)["id"]
    ctx = _create(server, tok, dict(FULL, conversation_id=conv))
    oconv = server.create_conversation(otok)["id"]
    # Another user's context is a 404, exactly like a missing one.
    for method, body in [("GET", None), ("PUT", {"age": 1}), ("DELETE", None)]:
        err = assert_error(server.api(method, f"{BASE}/{ctx['id']}", otok, json=body), 404,
                           "not_found")
        miss = assert_error(server.api(method, f"{BASE}/{MISSING}", otok, json=body), 404)
        assert err == miss
    assert_error(server.api("GET", f"{BASE}/current?conversation_id={conv}", otok), 404)
    assert_error(server.api("GET", f"{BASE}/current", otok), 404)
    # Neither can bind the other's conversation, by POST or PUT.
    assert_error(server.api("POST", BASE, otok, json={"conversation_id": conv}), 404)
    assert_error(server.api("POST", BASE, tok, json={"conversation_id": oconv}), 404)
    assert_error(server.api("PUT", f"{BASE}/{ctx['id']}", tok, json={"conversation_id": oconv}),
                 404)
    octx = _create(server, otok, {"age": 30})
    assert_error(server.api("PUT", f"{BASE}/{octx['id']}", otok, json={"conversation_id": conv}),
                 404)
    # Nothing changed.
    again = server.api("GET", f"{BASE}/{ctx['id']}", tok).json()
    assert again["age"] == FULL["age"] and again["conversation_ids"] == [conv]


def test_limits(start_server):
    srv = start_server(clinical_max_items=2, clinical_max_chars=10, max_body_bytes=2048)
    tok = srv.register()["access_token"]
    assert _create(srv, tok, {"problems": ["a", "b", "A"]})["problems"] == ["a", "b"]
    err = assert_error(srv.api("POST", BASE, tok, json={"problems": ["a", "b", "c"]}), 400)
    assert "problems holds more than 2 entries" in err["message"]
    err = assert_error(srv.api("POST", BASE, tok, json={"allergies": ["x" * 11]}), 400)
    assert "allergies[0] must be a non-empty string of at most 10 characters" in err["message"]
    err = assert_error(srv.api("POST", BASE, tok, json={"chief_complaint": "é" * 11}), 400)
    assert "at most 10 characters" in err["message"]
    assert _create(srv, tok, {"chief_complaint": "é" * 10})["chief_complaint"] == "é" * 10
    # The request body limit applies to these routes too.
    assert_error(srv.api("POST", BASE, tok, json={"problems": ["x"] * 1000}), 413, "too_large")
    ctx = _create(srv, tok, {})
    assert_error(srv.api("PUT", f"{BASE}/{ctx['id']}", tok, json={"problems": ["x"] * 1000}),
                 413, "too_large")


# ---- binding from a message and what the answer does with it --------------------

def _ctx_for(server, tok, **fields):
    return _create(server, tok, fields)


def test_native_message_binds_and_checks_allergy(server, user):
    tok = user["access_token"]
    ctx = _ctx_for(server, tok, allergies=["Allergy to penicillin"], age=8)

    async def go():
        ws, _ = await connect(server, tok)
        cmid = "cm-" + uuid.uuid4().hex
        await send_json(ws, {"type": "message", "text": "Can amoxicillin treat an ear infection?",
                             "client_message_id": cmid, "clinical_context_id": ctx["id"]})
        st = await collect(ws, client_message_id=cmid)
        # Another question in the same conversation, without the id: still bound.
        st2 = await ask(ws, "Is ibuprofen fine?", st.start["conversation_id"])
        await ws.close()
        return st, st2

    st, st2 = run(go())
    conv = st.start["conversation_id"]
    text = st.complete["text"]
    assert text.startswith("Allergy check: the patient's record lists an allergy (\"Allergy to "
                           "penicillin\", penicillins). Amoxicillin belongs to that class "
                           "(Penicillin-class Antibacterial; DrugCentral, FDA EPC "
                           "N0000175497).\n\n"), text[:300]
    assert st.chunks[0]["seq"] == 1 and st.text == text
    assert "Allergy check" not in st2.complete["text"]  # no penicillin, no NSAID allergy
    got = server.api("GET", f"{BASE}/current?conversation_id={conv}", tok).json()
    assert got["id"] == ctx["id"] and got["conversation_ids"] == [conv]
    # The stored answer carries the note too.
    stored = server.message(tok, conv, st.message_id)
    assert stored["content"].startswith("Allergy check:")


def test_message_with_someone_elses_or_bad_context(server, user):
    tok = user["access_token"]
    other = server.register()
    octx = _ctx_for(server, other["access_token"], allergies=["Latex"])

    async def go():
        ws, _ = await connect(server, tok)
        await send_json(ws, {"type": "message", "text": "hi", "client_message_id": "a",
                             "clinical_context_id": octx["id"]})
        e1 = await expect_error(ws)
        await send_json(ws, {"type": "message", "text": "hi", "client_message_id": "b",
                             "clinical_context_id": MISSING})
        e2 = await expect_error(ws)
        await send_json(ws, {"type": "message", "text": "hi", "client_message_id": "c",
                             "clinical_context_id": "patient-7"})
        e3 = await expect_error(ws)
        await ws.close()
        return e1, e2, e3

    e1, e2, e3 = run(go())
    # Someone else's context is answered exactly like one that does not exist.
    assert e1["code"] == e2["code"] == "not_found"
    assert e1["message"] == e2["message"] == "no such clinical context"
    assert e3["code"] == "invalid_message" and "clinical_context_id" in e3["message"]
    # No turn was stored: the user has no conversation.
    convs = server.api("GET", "/api/conversations", tok).json()["conversations"]
    assert convs == []
    assert server.api("GET", f"{BASE}/{octx['id']}", other["access_token"]).json()[
        "conversation_ids"] == []


def test_voiceassist_clinical_context_id(server, user):
    tok = user["access_token"]
    ctx = _ctx_for(server, tok, allergies=["Sulfa"], problems=["Urinary tract infection"])

    async def go():
        ws = await dopen(server, "/api/realtime/ws", tok)
        assert (await recv(ws))["type"] == "connected"
        await send(ws, {"type": "message", "content": "Is sulfamethoxazole an option?",
                        "session_id": "bed-12", "clinical_context_id": ctx["id"].upper()})
        frames = await recv_until(ws, lambda e: e["type"] in ("message_complete", "error"))
        await send(ws, {"type": "message", "content": "hi", "clinical_context_id": MISSING})
        err = await recv_until(ws, lambda e: e["type"] in ("message_complete", "error"))
        await ws.close()
        return frames, err

    frames, err = run(go())
    start, done = frames[0], frames[-1]
    assert done["type"] == "message_complete", done
    assert done["content"].startswith("Allergy check: the patient's record lists an allergy "
                                      "(\"Sulfa\", sulfonamide antibiotics). Sulfamethoxazole")
    got = server.api("GET", f"{BASE}/current?conversation_id={start['session_id']}", tok).json()
    assert got["id"] == ctx["id"]
    assert err[-1]["type"] == "error" and err[-1]["error"]["code"] == "NOT_FOUND", err[-1]


# ---- retrieval weighs the patient's problems -----------------------------------------

# Three passages the question "What exercise advice should I give?" finds
# about equally well (within 4 % of each other), and two it does not find.
KB_DOCS = [
    {"id": "exercise-asthma", "title": "Exercise advice for people with asthma", "focus": "Asthma",
     "text": "Exercise is good for people with asthma, but it can trigger symptoms. Warm up "
             "first, use a reliever inhaler before exercise if your doctor advises it, and "
             "avoid exercise in cold dry air."},
    {"id": "exercise-diabetes", "title": "Exercise advice for people with diabetes",
     "focus": "Diabetes",
     "text": "Exercise lowers blood glucose. People with diabetes should check their blood "
             "sugar before and after exercise and carry a snack in case of hypoglycemia."},
    {"id": "exercise-arthritis", "title": "Exercise advice for people with arthritis",
     "focus": "Arthritis",
     "text": "Exercise eases joint pain and stiffness in arthritis. Low-impact exercise such as "
             "swimming, walking and cycling is best; stop exercise that causes sharp pain."},
    {"id": "asthma-symptoms", "title": "Symptoms of asthma", "focus": "Asthma",
     "qtype": "symptoms",
     "text": "Asthma symptoms include wheezing, coughing, chest tightness and shortness of "
             "breath, often worse at night."},
    {"id": "diabetes-symptoms", "title": "Symptoms of diabetes", "focus": "Diabetes",
     "qtype": "symptoms",
     "text": "Diabetes symptoms include thirst, frequent urination, tiredness and blurred "
             "vision."},
]


@pytest.fixture(scope="module")
def weigh_server(_module_servers, tmp_path_factory):
    path = tmp_path_factory.mktemp("kb") / "weigh.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in KB_DOCS))
    return _module_servers.start(word_interval_ms=0, kb=[("jsonl", path)])


def _search(server, tok, question, problems=None):
    conv = None
    if problems is not None:
        conv = server.create_conversation(tok)["id"]
        _create(server, tok, {"problems": problems, "conversation_id": conv})

    async def go():
        ws, _ = await connect(server, tok)
        st = await ask(ws, question, conv)
        await ws.close()
        return st

    st = run(go())
    call, res = st.tool_calls[0], st.tool_results[0]
    return call["arguments"], [h["id"] for h in res["result"]["top"]]


def test_retrieval_weighs_problems(weigh_server):
    tok = weigh_server.register()["access_token"]
    q = "What exercise advice should I give?"
    args, plain = _search(weigh_server, tok, q)
    assert "patient_problems" not in args
    assert sorted(plain) == ["exercise-arthritis", "exercise-asthma", "exercise-diabetes"]
    assert plain[0] == "exercise-arthritis", plain  # the question alone: BM25's slight lead
    args, asthma = _search(weigh_server, tok, q, ["Asthma"])
    assert args["query"] == q
    assert args["patient_problems"] == {"terms": "Asthma", "weight": 0.5}
    assert asthma[0] == "exercise-asthma", asthma
    _, diabetes = _search(weigh_server, tok, q, ["Diabetes (disorder)"])
    assert diabetes[0] == "exercise-diabetes", diabetes
    # The same passages, re-ordered: the problems never bring in a passage the
    # question did not find (the symptom pages say nothing of exercise).
    assert sorted(asthma) == sorted(plain) == sorted(diabetes), (plain, asthma, diabetes)
    # A specific question keeps its own topic whatever the patient has.
    _, sym = _search(weigh_server, tok, "What are the symptoms of asthma?", ["Diabetes"])
    assert sym[0] == "asthma-symptoms", sym
