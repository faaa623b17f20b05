"""The diagnosis and prescription workflows (docs/workflows.md) end to end:
seed 004's own example requests on WS /ws/{user_id}, read by a client that
does what the seed's frontend example does (updateProgressBar,
appendResult, displayFinalResult, showError); the native protocol's
workflow_* events; POST /api/workflows/{kind}; bad input. With
../shared/data (MedQuAD and the drug tables imported) the results are
checked for grounding: cited candidates, penicillin allergy honoured,
warfarin + aspirin flagged. Skips clearly when ../shared/data is absent."""

import pytest

from dialect_util import dopen, is_timestamp, is_uuid, recv, recv_until, send
from medstream_e2e import REPO_ROOT, connect, run

SHARED = REPO_ROOT.parent / "shared" / "data"
MEDQUAD = SHARED / "medquad" / "medquad-xml.tar.gz"
DRUGS = SHARED / "drugs"

# The seed's own example requests (004, "Message Formats").
DIAGNOSIS = {"type": "diagnosis", "data": {
    "symptoms": [{"name": "fever", "severity": "moderate", "duration": "3 days"}],
    "vitals": {"temperature": 38.5, "heart_rate": 95, "blood_pressure": "130/80"},
    "history": {"age": 45, "sex": "male", "allergies": ["penicillin"]}}}
PRESCRIPTION = {"type": "prescription", "data": {
    "diagnosis": "Community-acquired pneumonia",
    "patient_info": {"age": 45, "weight": 75, "sex": "male"}, "allergies": ["penicillin"]}}

# The seed's stages and percentages ("StreamingDiagnosisHandler",
# "StreamingPrescriptionHandler"), then Complete (100 %).
DX_STAGES = [("symptoms_analysis", 10), ("vitals_evaluation", 30), ("history_review", 50),
             ("differential_diagnosis", 70), ("primary_diagnosis", 90), ("complete", 100)]
RX_STAGES = [("allergy_check", 10), ("medication_selection", 30), ("interaction_check", 60),
             ("monitoring_advice", 80), ("finalization", 95), ("complete", 100)]
DX_RESULT = {"primary_diagnosis", "confidence", "urgency", "differential", "news2",
             "recommended_tests", "citations", "disclaimer"}
RX_RESULT = {"medications", "excluded", "interactions", "monitoring", "contraindications",
             "citations", "disclaimer"}
URGENCY = {"low", "moderate", "high", "emergency"}


class SeedFrontend:
    """The seed's integration example, method for method: ws.onmessage's
    switch on message.type."""

    def __init__(self):
        self.bar = []      # (stage, progress, message) as updateProgressBar got them
        self.results = []  # appendResult's contents
        self.final = None  # displayFinalResult's result
        self.errors = []   # showError's errors

    def updateProgressBar(self, stage, progress, message):  # noqa: N802 (the seed's names)
        self.bar.append((stage, progress, message))

    def appendResult(self, content):  # noqa: N802
        self.results.append(content)

    def displayFinalResult(self, result):  # noqa: N802
        self.final = result

    def showError(self, error):  # noqa: N802
        self.errors.append(error)

    def onmessage(self, message):
        assert is_timestamp(message.get("timestamp")), message
        t = message["type"]
        if t == "progress":
            assert set(message) == {"type", "stage", "progress", "message", "timestamp"}
            self.updateProgressBar(message["stage"], message["progress"], message["message"])
        elif t == "stream_chunk":
            assert set(message) == {"type", "content", "timestamp"}
            self.appendResult(message["content"])
        elif t == "complete":
            self.displayFinalResult(message["result"])
        elif t == "error":
            self.showError(message["error"])
        else:
            raise AssertionError(f"a frame the seed's frontend does not handle: {message}")


def _done(ev):
    return ev["type"] in ("complete", "error")


async def _seed_run(ws, request):
    fe = SeedFrontend()
    await send(ws, request)
    for frame in await recv_until(ws, _done, timeout=120):
        fe.onmessage(frame)
    return fe


def _path(user):
    return f"/ws/{user['user']['id']}"


def _check_staged(fe, stages, result_keys):
    """Stages in order with the seed's percentages, objects streamed, a final
    result with the seed's fields and the disclaimer, no showError."""
    assert fe.errors == [], fe.errors
    assert [(s, p) for s, p, _ in fe.bar] == stages
    assert all(isinstance(m, str) and m for _, _, m in fe.bar)
    assert all(isinstance(c, dict) for c in fe.results), fe.results[:3]
    r = fe.final
    assert r is not None and result_keys <= set(r), sorted(r)
    assert r["disclaimer"] and isinstance(r["citations"], list)
    assert r["status"] == "complete" and r["stages_completed"] == r["stages_total"] == 5
    assert is_uuid(r["message_id"]) and is_uuid(r["conversation_id"])
    return r


def _check_dx(fe):
    r = _check_staged(fe, DX_STAGES, DX_RESULT)
    assert r["urgency"] in URGENCY
    n2 = r["news2"]
    assert isinstance(n2["aggregate"], int) and isinstance(n2["missing"], list)
    for c in fe.results:
        if "probability" in c and not c.get("primary"):  # a candidate, as the seed's example
            assert {"diagnosis", "probability", "matched_symptoms", "citations"} <= set(c), c
            assert 0 <= c["probability"] <= 1 and c["citations"], c
    return r


def _check_rx(fe):
    r = _check_staged(fe, RX_STAGES, RX_RESULT)
    return r


# ---- the seed's example requests, on the built-in starter knowledge base ----

def test_seed_examples_stream_staged_results(server, user):
    async def go():
        ws = await dopen(server, _path(user), user["access_token"])
        dx = await _seed_run(ws, DIAGNOSIS)
        rx = await _seed_run(ws, PRESCRIPTION)
        await ws.close()
        return dx, rx
    dx, rx = run(go())
    r = _check_dx(dx)
    # The seed's vitals: 38.5 °C scores 1 and 95/min scores 1 (RCP 2017).
    assert r["news2"]["aggregate"] == 2
    assert r["news2"]["parameters_scored"] == 3
    rr = _check_rx(rx)
    assert rr["allergy_check"][0]["status"] == "checked"
    # Both turns are stored in the connection's one conversation.
    assert r["conversation_id"] == rr["conversation_id"]
    msgs = server.messages(user["access_token"], r["conversation_id"])
    stored = {m["id"]: m for m in msgs}
    for res in (r, rr):
        m = stored[res["message_id"]]
        assert m["role"] == "assistant" and m["status"] == "complete"
        assert m["content"].endswith(res["disclaimer"])
        # The result itself is stored with the answer (migration 9).
        assert m["workflow"]["workflow"] == res["workflow"]
        assert m["workflow"]["citations"] == res["citations"]
    users = [m for m in msgs if m["role"] == "user"]
    assert users[0]["content"].startswith("Diagnosis request: fever")


# ---- bad input ----

def test_bad_input(server, user):
    async def go():
        ws = await dopen(server, _path(user), user["access_token"])
        out = {}
        # 10,000 symptoms: refused against workflow_max_symptoms (30).
        out["many"] = await _seed_run(ws, {"type": "diagnosis",
                                           "data": {"symptoms": ["a"] * 10000}})
        out["nodata"] = await _seed_run(ws, {"type": "diagnosis"})
        out["shape"] = await _seed_run(ws, {"type": "diagnosis",
                                            "data": {"symptoms": [{"severity": "mild"}]}})
        # Unknown symptoms, no vitals, absurd values: a result that says
        # what it could not use.
        out["unknown"] = await _seed_run(ws, {"type": "diagnosis", "data": {
            "symptoms": [{"name": "glowing ears"}]}})
        out["absurd"] = await _seed_run(ws, {"type": "diagnosis", "data": {
            "symptoms": [{"name": "cough"}],
            "vitals": {"temperature": 60, "heart_rate": -5}}})
        out["novitals"] = await _seed_run(ws, {"type": "diagnosis", "data": {
            "symptoms": [{"name": "headache", "severity": "terrible"}]}})
        await ws.close()
        return out
    out = run(go())
    for k in ("many", "nodata", "shape"):
        assert len(out[k].errors) == 1 and out[k].final is None, (k, out[k].errors)
    assert "data.symptoms" in out["many"].errors[0] and "30" in out["many"].errors[0]
    assert "data" in out["nodata"].errors[0]
    assert "name" in out["shape"].errors[0]

    r = _check_dx(out["unknown"])
    assert r["urgency"] == "low"
    assert any("glowing ears" in str(u) for u in r["unused"]) or \
        any("glowing ears" in str(n) for n in r["notes"]), r
    r = _check_dx(out["absurd"])
    fields = {u["field"] for u in r["unused"]}
    assert {"vitals.temperature", "vitals.heart_rate"} <= fields, r["unused"]
    assert r["news2"]["parameters_scored"] == 0
    r = _check_dx(out["novitals"])
    assert r["news2"]["parameters_scored"] == 0 and len(r["news2"]["missing"]) >= 6
    assert any(u["field"].endswith("severity") for u in r["unused"]), r["unused"]


# ---- the native protocol and REST ----

def test_native_workflow_events(server, user):
    async def go():
        ws, _ = await connect(server, user["access_token"])
        await ws.send(__import__("json").dumps({
            "type": "workflow", "workflow": "diagnosis", "client_message_id": "wf-1",
            "data": DIAGNOSIS["data"]}))
        frames = []
        while True:
            ev = await recv(ws, timeout=120)
            frames.append(ev)
            if ev["type"] in ("message_complete", "error"):
                break
        await ws.close()
        return frames
    frames = run(go())
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "message_start" and kinds[-1] == "message_complete", kinds
    assert frames[0]["workflow"] == "diagnosis"
    progress = [(f["stage"], f["progress"]) for f in frames if f["type"] == "workflow_progress"]
    assert progress == DX_STAGES[:-1]
    for f in frames[1:-1]:
        assert f["type"] in ("workflow_progress", "workflow_item", "message_chunk"), f
        assert f["message_id"] == frames[0]["message_id"] and f["workflow"] == "diagnosis"
    # Items come with their stage, before the text; the text (a summary of
    # the result) streams as chunks like any answer's, ending with the
    # disclaimer.
    items = [f for f in frames if f["type"] == "workflow_item"]
    assert {i["stage"] for i in items} <= {s for s, _ in DX_STAGES}
    chunks = [f for f in frames if f["type"] == "message_chunk"]
    assert kinds.index("message_chunk") > max(i for i, k in enumerate(kinds)
                                               if k == "workflow_progress")
    done = frames[-1]
    assert "".join(c["delta"] for c in chunks) == done["text"]
    assert DX_RESULT <= set(done["workflow_result"])
    assert done["text"].endswith(done["disclaimer"])


def test_allergy_without_drug_tables(server, user):
    """With no drug tables imported, a penicillin-allergic patient is still
    never offered a penicillin (the INN stem -cillin), and a drug that
    cannot be checked says so."""
    async def go():
        ws = await dopen(server, _path(user), user["access_token"])
        fe = await _seed_run(ws, {"type": "prescription", "data": {
            "diagnosis": "Otitis media", "allergies": ["penicillin"],
            "medications": ["amoxicillin", "azithromycin"]}})
        await ws.close()
        return fe
    r = _check_rx(run(go()))
    assert [m["medication"] for m in r["excluded"]] == ["amoxicillin"]
    assert [(m["medication"], m["status"]) for m in r["medications"]] == [
        ("azithromycin", "not checked")]
    assert r["drug_knowledge_on_file"] is False


def test_resume_from_storage_gets_the_result(start_server):
    """Once the replay buffer has let it go (replay_ttl_ms 0), a resumed
    workflow answer is served from storage with its stored result."""
    import json
    srv = start_server(replay_ttl_ms=0)
    tok = srv.register()["access_token"]

    async def go():
        ws, _ = await connect(srv, tok)
        await ws.send(json.dumps({"type": "workflow", "workflow": "prescription",
                                  "client_message_id": "wf-r", "data": PRESCRIPTION["data"]}))
        first = []
        while not first or first[-1]["type"] not in ("message_complete", "error"):
            first.append(await recv(ws, timeout=120))
        await ws.send(json.dumps({"type": "resume", "message_id": first[0]["message_id"],
                                  "last_seq": 0}))
        again = []
        while not again or again[-1]["type"] not in ("message_complete", "error"):
            again.append(await recv(ws, timeout=60))
        await ws.close()
        return first, again
    first, again = run(go())
    done, resumed = first[-1], again[-1]
    assert resumed["type"] == "message_complete", again
    assert resumed["workflow_result"]["workflow"] == "prescription"
    assert resumed["workflow_result"]["medications"] == done["workflow_result"]["medications"]
    assert resumed["text"] == done["text"]


def test_rest_workflow(server, user):
    tok = user["access_token"]
    r = server.api("POST", "/api/workflows/prescription", tok,
                   json={"data": PRESCRIPTION["data"], "client_message_id": "rest-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert is_uuid(body["message_id"]) and is_uuid(body["conversation_id"])
    assert RX_RESULT <= set(body["result"]) and body["result"]["disclaimer"]
    bad = server.api("POST", "/api/workflows/astrology", tok, json={"data": {}})
    assert bad.status_code == 404
    bad = server.api("POST", "/api/workflows/diagnosis", tok,
                     json={"data": {"symptoms": ["a"] * 100}})
    assert bad.status_code == 400 and "data.symptoms" in bad.json()["error"]["message"]


# ---- grounded, on MedQuAD and the drug tables of ../shared/data ----

@pytest.fixture(scope="module")
def grounded(_module_servers):
    if not MEDQUAD.exists() or not (DRUGS / "drugcentral-pharm-class.tsv").exists():
        pytest.skip(f"../shared/data not found ({MEDQUAD.parent.parent}): MedQuAD and the "
                    "drug tables are needed for grounded workflow results")
    return _module_servers.start(kb=[("medquad", MEDQUAD), ("drugs", DRUGS)])


def test_grounded_diagnosis_and_prescription(grounded):
    u = grounded.register()

    async def go():
        ws = await dopen(grounded, _path(u), u["access_token"])
        dx = await _seed_run(ws, {"type": "diagnosis", "data": {
            "symptoms": [{"name": "cough", "severity": "severe", "duration": "5 days"},
                         {"name": "high temperature", "severity": "moderate"},
                         {"name": "shortness of breath", "severity": "moderate"}],
            "vitals": {"temperature": 38.9, "heart_rate": 112, "respiratory_rate": 24,
                       "spo2": 93, "blood_pressure": "118/76"},
            "history": {"age": 67, "sex": "female"}}})
        rx = await _seed_run(ws, {"type": "prescription", "data": {
            "diagnosis": "Pneumonia", "patient_info": {"age": 67, "sex": "female"},
            "allergies": ["penicillin"], "medications": ["amoxicillin", "azithromycin", "aspirin"],
            "current_medications": ["warfarin"]}})
        await ws.close()
        return dx, rx
    dx, rx = run(go())
    r = _check_dx(dx)
    cands = [c for c in dx.results if "probability" in c and not c.get("primary")]
    assert cands, "MedQuAD's symptom passages should propose candidates"
    assert abs(sum(c["probability"] for c in cands) - 1.0) < 0.01
    assert r["primary_diagnosis"] == cands[0]["diagnosis"] or r["differential"]
    assert r["citations"], "a grounded result is cited"
    # 24/min 2, 93 % 2, 112/min 2, 38.9 1: aggregate 7, emergency (RCP 2017).
    assert r["news2"]["aggregate"] == 7 and r["urgency"] == "emergency"

    rr = _check_rx(rx)
    meds = {m["medication"].lower() for m in rr["medications"]}
    excluded = {m["medication"].lower() for m in rr["excluded"]}
    assert "amoxicillin" in excluded and "amoxicillin" not in meds
    assert any("warfarin" in str(i).lower() and "aspirin" in str(i).lower() and
               "Significant" in str(i) for i in rr["interactions"]), rr["interactions"]
    assert rr["citations"]


# ---- the 20 Synthea patients of ../shared/data/fhir ----

FHIR = SHARED / "fhir"
# LOINC codes of the vital signs Synthea writes (../shared/data/README.md).
LOINC = {"8310-5": "temperature", "8867-4": "heart_rate", "9279-1": "respiratory_rate",
         "59408-5": "spo2", "2708-6": "spo2"}
PENICILLIN = {"code": "91936005", "display": "Allergy to penicillin"}


def _record(bundle):
    """What a clinician would type from the record: age, sex, active
    conditions, active medications, allergies (code + display) and the
    latest vital signs."""
    res = [e["resource"] for e in bundle["entry"]]
    pat = next(r for r in res if r["resourceType"] == "Patient")
    born = int(pat["birthDate"][:4])
    out = {"age": 2020 - born, "sex": pat.get("gender"), "conditions": [], "medications": [],
           "allergies": [], "vitals": {}}
    latest = {}
    for r in res:
        t = r["resourceType"]
        if t == "Condition" and "abatementDateTime" not in r:
            out["conditions"].append(r["code"]["text"])
        elif t == "MedicationRequest" and r.get("status") == "active":
            out["medications"].append(r["medicationCodeableConcept"]["text"])
        elif t == "AllergyIntolerance":
            c = r["code"]["coding"][0]
            out["allergies"].append({"code": c["code"], "display": c["display"]})
        elif t == "Observation":
            when = r.get("effectiveDateTime", "")
            for c in r["code"]["coding"]:
                if c["code"] in LOINC and "valueQuantity" in r:
                    key = LOINC[c["code"]]
                    if when >= latest.get(key, ("",))[0]:
                        latest[key] = (when, r["valueQuantity"]["value"])
                elif c["code"] == "55284-4":
                    comp = {cc["code"]["coding"][0]["code"]: cc["valueQuantity"]["value"]
                            for cc in r.get("component", [])}
                    if "8480-6" in comp and "8462-4" in comp and \
                            when >= latest.get("blood_pressure", ("",))[0]:
                        latest["blood_pressure"] = (
                            when, f"{round(comp['8480-6'])}/{round(comp['8462-4'])}")
    out["vitals"] = {k: v for k, (_, v) in latest.items()}
    out["conditions"] = sorted(set(out["conditions"]))[:40]
    out["medications"] = sorted(set(out["medications"]))[:40]
    return out


def _cited(items):
    return all(i.get("citations") for i in items)


def test_synthea_patients(grounded):
    import json
    bundles = sorted(FHIR.glob("*.json"))
    if not bundles:
        pytest.skip(f"no Synthea patients in {FHIR}")
    u = grounded.register()
    records = [_record(json.loads(p.read_text())) for p in bundles]

    async def go():
        ws = await dopen(grounded, _path(u), u["access_token"])
        out = []
        for rec in records:
            dx = await _seed_run(ws, {"type": "diagnosis", "data": {
                "symptoms": [{"name": "cough", "severity": "moderate"},
                             {"name": "fatigue", "severity": "mild"}],
                "vitals": rec["vitals"],
                "history": {"age": rec["age"], "sex": rec["sex"], "allergies": rec["allergies"],
                            "conditions": rec["conditions"], "medications": rec["medications"]}}})
            # The record's own allergies, plus a penicillin allergy, with
            # penicillins among the proposed drugs: none may come back.
            rx = await _seed_run(ws, {"type": "prescription", "data": {
                "diagnosis": "Acute bronchitis",
                "patient_info": {"age": rec["age"], "sex": rec["sex"],
                                 "conditions": rec["conditions"]},
                "allergies": rec["allergies"] + [PENICILLIN],
                "medications": ["amoxicillin", "ampicillin", "penicillin V", "azithromycin",
                                "aspirin"],
                "current_medications": rec["medications"]}})
            out.append((rec, dx, rx))
        await ws.close()
        return out
    for rec, dx, rx in run(go()):
        r = _check_dx(dx)
        assert r["differential"] and _cited(r["differential"]), "every candidate is cited"
        assert r["history"]["allergies"], "the record's allergies are reviewed"
        rr = _check_rx(rx)
        meds = [m["medication"].lower() for m in rr["medications"]]
        assert not any(m.endswith("cillin") or "penicillin" in m for m in meds), meds
        assert {"amoxicillin", "ampicillin"} <= {m["medication"].lower() for m in rr["excluded"]}
        assert _cited(rr["medications"]) and _cited(rr["excluded"])
        assert _cited(rr["interactions"])
        # Every recorded allergy is accounted for: checked, or said not to be.
        checked = {a.get("code") or a.get("allergy"): a for a in rr["allergy_check"]}
        for a in rec["allergies"] + [PENICILLIN]:
            got = checked.get(a["code"])
            assert got is not None, (a, rr["allergy_check"])
            assert got["status"] in ("checked", "not checked") and got.get("reason"), got
        assert checked["91936005"]["status"] == "checked"
        # Food and environmental allergies have no drug class: said so.
        assert all(checked[a["code"]]["status"] == "not checked" for a in rec["allergies"])


def test_synthea_bound_contexts(grounded):
    """Each Synthea patient imported as a clinical context (POST
    /api/clinical-contexts/import/fhir) and bound by clinical_context_id:
    requests that carry almost nothing are filled from the record, and the
    record's allergies are all accounted for."""
    bundles = sorted(FHIR.glob("*.json"))
    if not bundles:
        pytest.skip(f"no Synthea patients in {FHIR}")
    u = grounded.register()
    tok = u["access_token"]
    contexts = []
    for p in bundles:
        r = grounded.api("POST", "/api/clinical-contexts/import/fhir", tok, data=p.read_bytes(),
                         headers={"Content-Type": "application/fhir+json"})
        assert r.status_code == 201, (p.name, r.text[:300])
        contexts.append(r.json())

    async def go():
        out = []
        for ctx in contexts:
            # One connection (one conversation) per patient: a binding holds
            # for the conversation.
            ws = await dopen(grounded, _path(u), tok)
            dx = await _seed_run(ws, {"type": "diagnosis", "data": {
                "clinical_context_id": ctx["id"],
                "symptoms": [{"name": "cough", "severity": "moderate"}]}})
            rx = await _seed_run(ws, {"type": "prescription", "data": {
                "medications": ["amoxicillin", "azithromycin", "aspirin"]}})
            await ws.close()
            out.append((ctx, dx, rx))
        return out
    for ctx, dx, rx in run(go()):
        r = _check_dx(dx)
        assert "history.age" in r["from_context"], r["from_context"]
        assert r["history"]["age"] == ctx["age"]
        rr = _check_rx(rx)
        assert "patient_info.age" in rr["from_context"], rr["from_context"]
        assert _cited(rr["medications"]) and _cited(rr["excluded"]) and _cited(rr["interactions"])
        recorded = ctx.get("allergies") or []
        assert len(rr["allergy_check"]) == len(recorded), (recorded, rr["allergy_check"])
        for a in rr["allergy_check"]:
            assert a["status"] in ("checked", "not checked") and a["reason"], a
        if ctx.get("medications"):
            assert "current_medications" in rr["from_context"]
