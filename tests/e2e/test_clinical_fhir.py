"""FHIR R4 import of a clinical context (docs/protocol.md, "Clinical context",
"FHIR import"): POST /api/clinical-contexts/import/fhir and `medstream fhir
import`, on the 20 Synthea patients of ../shared/data/fhir (skipped, saying
so, when that folder is absent) and on hand-made bundles; `--server` against
a loopback FHIR server serving Patient/{id}/$everything in pages."""

import datetime
import json
import math
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from medstream_e2e import (REPO_ROOT, assert_error, child_env, free_port, medstream_bin,
                           sanitizer_report)

FHIR_DIR = Path(os.environ.get("MS_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data") / "fhir"
BUNDLES = sorted(FHIR_DIR.glob("*.json")) if FHIR_DIR.is_dir() else []
needs_data = pytest.mark.skipif(not BUNDLES, reason=f"Synthea bundles not found in {FHIR_DIR} "
                                                    "(../shared/data/fhir)")
IMPORT = "/api/clinical-contexts/import/fhir"
MISSING = "00000000-0000-4000-8000-000000000000"
# The vital signs the import reads (LOINC): temperature (8310-5, oral 8331-1),
# heart rate, respiratory rate, SpO2 (two codes), height, weight, blood pressure.
TRACKED = {"8310-5", "8331-1", "8867-4", "9279-1", "59408-5", "2708-6", "8302-2", "29463-7",
           "55284-4"}


def bundle_path(prefix):
    return next(p for p in BUNDLES if p.name.startswith(prefix))


def age_on(birth: str, day: datetime.date) -> int:
    b = datetime.date.fromisoformat(birth)
    return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def round1(x):
    return math.floor(x * 10 + 0.5) / 10


def expected(bundle: dict, day: datetime.date) -> dict:
    """An independent reading of a Synthea bundle by the rules of
    docs/protocol.md ("FHIR import"): written apart from src/clinical/fhir.c."""
    entries = bundle["entry"]
    patient = next(e for e in entries if e["resource"]["resourceType"] == "Patient")
    full = patient["fullUrl"]

    def ours(r, key):
        return r.get(key, {}).get("reference") == full

    def words(cc):
        return cc.get("text") or next(c["display"] for c in cc["coding"] if c.get("display"))

    def status(r, key):
        return r.get(key, {}).get("coding", [{}])[0].get("code")

    def add(lst, t):
        if t.lower() not in (x.lower() for x in lst):
            lst.append(t)

    problems, meds, allergies, latest = [], [], [], {}
    for e in entries:
        r = e["resource"]
        t = r["resourceType"]
        if t == "Condition" and ours(r, "subject") and \
                status(r, "clinicalStatus") in ("active", "recurrence", "relapse") and \
                status(r, "verificationStatus") not in ("refuted", "entered-in-error"):
            add(problems, words(r["code"]))
        elif t == "MedicationRequest" and ours(r, "subject") and r["status"] == "active":
            add(meds, words(r["medicationCodeableConcept"]))
        elif t == "AllergyIntolerance" and ours(r, "patient") and \
                status(r, "clinicalStatus") not in ("inactive", "resolved") and \
                status(r, "verificationStatus") not in ("refuted", "entered-in-error"):
            add(allergies, words(r["code"]))
        elif t == "Observation" and ours(r, "subject") and r["status"] == "final" and \
                r["code"]["coding"][0]["code"] in TRACKED:
            code = r["code"]["coding"][0]["code"]
            when = datetime.datetime.fromisoformat(r["effectiveDateTime"])
            key = "temperature" if code in ("8310-5", "8331-1") else code
            if key not in latest or when >= latest[key][0]:
                latest[key] = (when, r)
    ctx = {"age": age_on(patient["resource"]["birthDate"], day),
           "gender": patient["resource"]["gender"], "weight_kg": None, "height_cm": None,
           "chief_complaint": None, "problems": problems, "medications": meds,
           "allergies": allergies, "vitals": {}}
    if "29463-7" in latest:
        ctx["weight_kg"] = round1(latest["29463-7"][1]["valueQuantity"]["value"])
    if "8302-2" in latest:
        ctx["height_cm"] = round1(latest["8302-2"][1]["valueQuantity"]["value"])
    if "55284-4" in latest:
        comp = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
                for c in latest["55284-4"][1]["component"]}
        ctx["vitals"]["blood_pressure"] = "%d/%d" % (math.floor(comp["8480-6"] + 0.5),
                                                     math.floor(comp["8462-4"] + 0.5))
    newest = max(w for w, _ in latest.values())
    if "temperature" in latest and newest - latest["temperature"][0] <= datetime.timedelta(days=1):
        ctx["vitals"]["temperature"] = round1(latest["temperature"][1]["valueQuantity"]["value"])
    return ctx


CONTEXT_KEYS = ("age", "gender", "weight_kg", "height_cm", "chief_complaint", "problems",
                "medications", "allergies", "vitals")


def context_of(obj):
    return {k: obj[k] for k in CONTEXT_KEYS}


def post_bundle(server, tok, data, query="", status=201):
    body = data if isinstance(data, (bytes, str)) else json.dumps(data)
    r = server.api("POST", IMPORT + query, tok, data=body,
                   headers={"Content-Type": "application/fhir+json"})
    assert r.status_code == status, r.text[:500]
    return r.json()


def cli(*args, stdin=None, env=None, timeout=120):
    r = subprocess.run([medstream_bin(), "fhir", *args], input=stdin, capture_output=True,
                       text=True, timeout=timeout, env=child_env(env))
    rep = sanitizer_report(r.stderr)
    assert rep is None, rep
    return r


# ---- the 20 Synthea patients over REST --------------------------------------------

@needs_data
def test_every_synthea_patient_imports(server, user):
    tok = user["access_token"]
    assert len(BUNDLES) == 20
    today = datetime.datetime.now(datetime.timezone.utc).date()
    for path in BUNDLES:
        raw = path.read_bytes()
        assert 400_000 < len(raw) < 1 << 20  # within the default max_body_bytes
        got = post_bundle(server, tok, raw)
        assert got["source"] == "fhir" and got["conversation_ids"] == []
        want = expected(json.loads(raw), today)
        assert context_of(got) == want, f"{path.name}:\n got {context_of(got)}\nwant {want}"
        assert got["import"]["counts"]["entries"] == len(json.loads(raw)["entry"])
        assert got["import"]["counts"]["conditions"] >= len(want["problems"])
        # Stored as imported.
        again = server.api("GET", f"/api/clinical-contexts/{got['id']}", tok).json()
        assert context_of(again) == want


# Written by hand from reading the bundles (the ages are the only thing that
# moves with the calendar: computed from the birthDate written here).
BY_HAND = {
    "Asa_Hermiston_": ("1971-03-03", {
        "gender": "male", "weight_kg": 98.4, "height_cm": 181.5, "chief_complaint": None,
        "problems": ["Atopic dermatitis", "Chronic sinusitis (disorder)",
                     "Body mass index 30+ - obesity (finding)", "Osteoarthritis of hip",
                     "Rheumatoid arthritis"],
        "medications": ["120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
                        "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
                        "Naproxen sodium 220 MG Oral Tablet", "Naproxen 500 MG Oral Tablet",
                        "Methotrexate 10 MG Oral Tablet"],
        "allergies": ["Dander (animal) allergy", "Allergy to tree pollen", "Allergy to nut",
                      "Allergy to peanuts"],
        "vitals": {"blood_pressure": "108/80"}}),
    "Patria_Schimmel_": ("1974-05-21", {
        # Her 37.7 C oral temperature (2019-06-15) is ten days before her last
        # vital signs (2019-06-25: 167.9 cm, 85.3 kg, 119/74): not current.
        "gender": "female", "weight_kg": 85.3, "height_cm": 167.9, "chief_complaint": None,
        "problems": ["Perennial allergic rhinitis", "Prediabetes", "Diabetes"],
        "medications": ["diphenhydrAMINE Hydrochloride 25 MG Oral Tablet",
                        "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"],
        "allergies": ["Allergy to mould", "House dust mite allergy", "Allergy to grass pollen",
                      "Allergy to fish", "Allergy to nut"],
        "vitals": {"blood_pressure": "119/74"}}),
    "Alexis_Toy_": ("2018-06-22", {
        # A child: the prednisone course is stopped, the allergic reaction resolved.
        "gender": "male", "weight_kg": 12.5, "height_cm": 87.2, "chief_complaint": None,
        "problems": ["Viral sinusitis (disorder)"],
        "medications": ["Loratadine 5 MG Chewable Tablet",
                        "NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector"],
        "allergies": ["Allergy to mould", "House dust mite allergy", "Dander (animal) allergy",
                      "Allergy to grass pollen", "Allergy to tree pollen",
                      "Allergy to dairy product", "Allergy to wheat", "Allergy to nut"],
        "vitals": {"blood_pressure": "113/76"}}),
}


@needs_data
@pytest.mark.parametrize("prefix", sorted(BY_HAND))
def test_synthea_by_hand(server, user, prefix):
    birth, want = BY_HAND[prefix]
    got = post_bundle(server, user["access_token"], bundle_path(prefix).read_bytes())
    today = datetime.datetime.now(datetime.timezone.utc).date()
    assert context_of(got) == dict(want, age=age_on(birth, today))


# ---- the route: conversations, replace, ownership, bad input, limits ------------------

def small_bundle(**patient):
    p = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-02-01"}
    p.update(patient)
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": p},
        {"resource": {"resourceType": "AllergyIntolerance",
                      "code": {"coding": [{"system": "http://snomed.info/sct",
                                           "code": "91936005",
                                           "display": "Allergy to penicillin"}]},
                      "patient": {"reference": "urn:uuid:p1"}}},
        {"resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
                      "subject": {"reference": "urn:uuid:p1"},
                      "effectiveDateTime": "2024-03-01T08:00:00Z",
                      "valueQuantity": {"value": 101.3, "code": "[degF]"}}},
        {"resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                      "subject": {"reference": "urn:uuid:p1"},
                      "effectiveDateTime": "2024-03-01T08:05:00Z",
                      "valueQuantity": {"value": 2000, "code": "kg"}}},
    ]}


def test_import_into_a_conversation(server, user):
    tok = user["access_token"]
    conv = server.create_conversation(tok)["id"]
    got = post_bundle(server, tok, small_bundle(), f"?conversation_id={conv}")
    assert got["conversation_ids"] == [conv]
    assert got["allergies"] == ["Allergy to penicillin"]
    assert got["vitals"] == {"temperature": 38.5}  # 101.3 F
    assert got["weight_kg"] is None  # 2000 kg is left out, with a warning
    assert any("weight_kg must be" in w for w in got["import"]["warnings"]), got["import"]
    assert got["import"]["counts"] == {"entries": 4, "conditions": 0, "medications": 0,
                                       "allergies": 1, "vitals": 1, "skipped": 1}
    # A second import into that conversation: 409 unless it replaces.
    err = assert_error(server.api("POST", f"{IMPORT}?conversation_id={conv}", tok,
                                  data=json.dumps(small_bundle())), 409, "conflict")
    assert "replace=true" in err["message"]
    again = post_bundle(server, tok, small_bundle(gender="other"),
                        f"?conversation_id={conv}&replace=true", status=200)
    assert again["id"] == got["id"] and again["gender"] == "other"
    # replace on a conversation without one creates it.
    conv2 = server.create_conversation(tok)["id"]
    fresh = post_bundle(server, tok, small_bundle(), f"?session_id={conv2}&replace=true")
    assert fresh["id"] != got["id"] and fresh["conversation_ids"] == [conv2]
    # Without a conversation: a new context every time.
    a = post_bundle(server, tok, small_bundle())
    b = post_bundle(server, tok, small_bundle())
    assert a["id"] != b["id"]


def test_import_ownership(server, user):
    tok = user["access_token"]
    other = server.register()["access_token"]
    conv = server.create_conversation(tok)["id"]
    for q in (f"?conversation_id={conv}", f"?conversation_id={conv}&replace=true",
              f"?conversation_id={MISSING}"):
        err = assert_error(server.api("POST", IMPORT + q, other, data=json.dumps(small_bundle())),
                           404, "not_found")
        assert err["message"] == "no such conversation"
    mine = post_bundle(server, tok, small_bundle(), f"?conversation_id={conv}")
    assert_error(server.api("GET", f"/api/clinical-contexts/{mine['id']}", other), 404)


@pytest.mark.parametrize("body,says", [
    ("", "must be a FHIR R4 Bundle"),
    ("not json", "must be a FHIR R4 Bundle"),
    ("[1, 2]", "must be a FHIR R4 Bundle"),
    ('{"resourceType": "Patient"}', "resourceType must be \"Bundle\""),
    ('{"resourceType": "Bundle", "type": "history", "entry": []}',
     "Bundle.type \"history\" is not imported: use transaction, collection or searchset"),
    ('{"resourceType": "Bundle", "type": "searchset"}', "no entry array"),
    ('{"resourceType": "Bundle", "type": "searchset", "entry": []}', "no Patient"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType":'
     ' "Patient"}}, {"resource": {"resourceType": "Patient"}}]}', "2 Patient resources"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": [], "entry": []}',
     "must be a FHIR R4 Bundle"),
])
def test_import_bad_input(server, user, body, says):
    err = assert_error(server.api("POST", IMPORT, user["access_token"], data=body), 400,
                       "invalid_request")
    assert says in err["message"], err


def test_import_bad_query(server, user):
    tok = user["access_token"]
    for q in ("?replace=yes", "?conversation_id=abc", f"?conversation_id={MISSING}&session_id=x"):
        assert_error(server.api("POST", IMPORT + q, tok, data=json.dumps(small_bundle())), 400,
                     "invalid_request")


def test_import_limits(start_server):
    srv = start_server(max_body_bytes=4096, clinical_max_items=1)
    tok = srv.register()["access_token"]
    big = small_bundle()
    big["entry"] += [{"resource": {"resourceType": "Condition",
                                   "clinicalStatus": {"coding": [{"code": "active"}]},
                                   "code": {"text": f"Problem {i}"},
                                   "subject": {"reference": "urn:uuid:p1"}}} for i in range(3)]
    got = post_bundle(srv, tok, big)
    assert got["problems"] == ["Problem 0"]
    assert any("more problems than a context holds (1)" in w for w in got["import"]["warnings"])
    big["entry"] += [{"resource": {"resourceType": "Basic", "id": "x" * 100}}] * 60
    assert_error(srv.api("POST", IMPORT, tok, data=json.dumps(big)), 413, "too_large")


@needs_data
def test_import_over_the_body_limit(start_server):
    # A Synthea bundle needs the default 1 MiB body limit; a smaller one refuses it.
    srv = start_server(max_body_bytes=256 * 1024)
    tok = srv.register()["access_token"]
    assert_error(srv.api("POST", IMPORT, tok, data=bundle_path("Asa_Hermiston_").read_bytes()),
                 413, "too_large")


# ---- the command line --------------------------------------------------------------

@needs_data
def test_cli_prints_the_context():
    path = bundle_path("Asa_Hermiston_")
    r = cli("import", "--as-of", "2025-01-01", str(path))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    birth, want = BY_HAND["Asa_Hermiston_"]
    assert got == dict(want, age=age_on(birth, datetime.date(2025, 1, 1)))
    assert "5 active conditions, 5 active medications, 4 allergies, 3 vital signs" in r.stderr
    # stdin, and -q.
    r = cli("import", "-q", "--as-of", "2025-01-01", "-", stdin=path.read_text())
    assert r.returncode == 0 and json.loads(r.stdout) == got and r.stderr == ""


@needs_data
def test_cli_every_patient():
    day = datetime.date(2024, 7, 1)
    for path in BUNDLES:
        r = cli("import", "-q", "--as-of", day.isoformat(), str(path))
        assert r.returncode == 0, (path.name, r.stderr)
        assert json.loads(r.stdout) == expected(json.loads(path.read_text()), day), path.name


def test_cli_help_and_usage_errors(tmp_path):
    r = cli("--help")
    assert r.returncode == 0 and "import" in r.stdout
    r = cli("import", "--help")
    assert r.returncode == 0 and "--server URL" in r.stdout and "--as-of DATE" in r.stdout
    f = tmp_path / "b.json"
    f.write_text(json.dumps(small_bundle()))
    for args, says in [((), "no FILE given"),
                       ((str(f), str(f)), "one FILE at a time"),
                       (("--as-of", "2025", str(f)), "--as-of must be a date"),
                       (("--email", "a@b.c", str(f)), "--data-dir and --email go together"),
                       (("--replace", str(f)), "need --data-dir and --email"),
                       (("--server", "http://127.0.0.1:1"), "--server needs --patient"),
                       (("--patient", "p1"), "--patient needs --server"),
                       (("--max-bytes", "10", str(f)), "--max-bytes must be a number"),
                       (("--bogus", str(f)), "unknown option --bogus")]:
        r = cli("import", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert says in r.stderr, (args, r.stderr)
    r = cli("export")
    assert r.returncode == 2 and "unknown command" in r.stderr


def test_cli_failures(tmp_path):
    r = cli("import", str(tmp_path / "missing.json"))
    assert r.returncode == 1 and "No such file" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{\"resourceType\": ")
    r = cli("import", str(bad))
    assert r.returncode == 1 and "not JSON" in r.stderr
    bad.write_text(json.dumps({"resourceType": "Bundle", "type": "document", "entry": []}))
    r = cli("import", str(bad))
    assert r.returncode == 1 and "Bundle.type \"document\" is not imported" in r.stderr
    big = tmp_path / "big.json"
    big.write_text(json.dumps(small_bundle()) + " " * 5000)
    r = cli("import", "--max-bytes", "2048", str(big))
    assert r.returncode == 1 and "larger than --max-bytes" in r.stderr


def test_cli_stores_for_a_user(start_server, tmp_path):
    srv = start_server()
    u = srv.register()
    tok = u["access_token"]
    conv = srv.create_conversation(tok)["id"]
    f = tmp_path / "b.json"
    f.write_text(json.dumps(small_bundle()))
    r = cli("import", "-q", "--data-dir", str(srv.data_dir), "--email", u["email"],
            "--conversation", conv, str(f))
    assert r.returncode == 0, r.stderr
    stored = json.loads(r.stdout)
    assert stored["source"] == "fhir" and stored["conversation_ids"] == [conv]
    got = srv.api("GET", f"/api/clinical-contexts/current?conversation_id={conv}", tok).json()
    assert got["id"] == stored["id"] and got["allergies"] == ["Allergy to penicillin"]
    # Again: refused, then replaced.
    r = cli("import", "-q", "--data-dir", str(srv.data_dir), "--email", u["email"],
            "--conversation", conv, str(f))
    assert r.returncode == 1 and "--replace" in r.stderr
    f.write_text(json.dumps(small_bundle(gender="male")))
    r = cli("import", "-q", "--data-dir", str(srv.data_dir), "--email", u["email"],
            "--conversation", conv, "--replace", str(f))
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == stored["id"]
    assert srv.api("GET", f"/api/clinical-contexts/{stored['id']}", tok).json()["gender"] == "male"
    r = cli("import", "-q", "--data-dir", str(srv.data_dir), "--email", "nobody@example.test",
            str(f))
    assert r.returncode == 1 and "no user nobody@example.test" in r.stderr
    other = srv.register()
    r = cli("import", "-q", "--data-dir", str(srv.data_dir), "--email", other["email"],
            "--conversation", conv, str(f))
    assert r.returncode == 1 and "no such conversation of that user's" in r.stderr, r.stderr


# ---- --server: a loopback FHIR server -------------------------------------------------

class FhirServer:
    """Serves Patient/{id}/$everything for one patient as a searchset in pages
    of `page` entries linked by "next"; counts requests and remembers headers."""

    def __init__(self, bundle, patient_id, page=100, next_base=None):
        self.entries = bundle["entry"]
        self.patient_id = patient_id
        self.page = page
        self.requests = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append((self.path, dict(self.headers)))
                path, _, query = self.path.partition("?")
                if path != f"/fhir/Patient/{outer.patient_id}/$everything":
                    self.send_response(404)
                    self.end_headers()
                    return
                start = int(query.split("=")[1]) if query.startswith("_offset=") else 0
                chunk = outer.entries[start:start + outer.page]
                body = {"resourceType": "Bundle", "type": "searchset",
                        "entry": [dict(e, search={"mode": "match"}) for e in chunk]}
                if start + outer.page < len(outer.entries):
                    base = next_base or outer.base
                    body["link"] = [{"relation": "next", "url": f"{base}/Patient/"
                                     f"{outer.patient_id}/$everything?_offset={start + outer.page}"}]
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}/fhir"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def synthea_or_small():
    """A Synthea bundle (and its Patient's id) when the data is there, else a small one."""
    b = json.loads(bundle_path("Kermit_Trantow_").read_text()) if BUNDLES else small_bundle()
    pid = next(e["resource"]["id"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient")
    return b, pid


def test_cli_fetches_everything_in_pages():
    bundle, pid = synthea_or_small()
    local = dict(bundle, type="searchset")
    with FhirServer(bundle, pid, page=25) as fs:
        r = cli("import", "-q", "--as-of", "2025-01-01", "--server", fs.base, "--patient", pid,
                env={"MEDSTREAM_FHIR_TOKEN": "s3cret-token"})
        assert r.returncode == 0, r.stderr
        pages = math.ceil(len(bundle["entry"]) / 25)
        assert len(fs.requests) == pages
        assert all(h.get("Accept") == "application/fhir+json" for _, h in fs.requests)
        assert fs.requests[0][1].get("Authorization") == "Bearer s3cret-token"
        assert "s3cret-token" not in r.stderr
    want = subprocess.run([medstream_bin(), "fhir", "import", "-q", "--as-of", "2025-01-01", "-"],
                          input=json.dumps(local), capture_output=True, text=True,
                          env=child_env()).stdout
    assert json.loads(r.stdout) == json.loads(want)
    # $MEDSTREAM_FHIR_SERVER is the default server.
    with FhirServer(bundle, pid) as fs:
        r = cli("import", "-q", "--as-of", "2025-01-01", "--patient", pid,
                env={"MEDSTREAM_FHIR_SERVER": fs.base})
        assert r.returncode == 0 and json.loads(r.stdout) == json.loads(want)


def test_cli_fetch_refusals():
    bundle, pid = synthea_or_small()
    with FhirServer(bundle, pid, page=2, next_base="http://127.0.0.2:9/fhir") as fs:
        r = cli("import", "--server", fs.base, "--patient", pid)
        assert r.returncode == 1 and "next page is on another server: refused" in r.stderr
        assert len(fs.requests) == 1
    with FhirServer(bundle, pid, page=2) as fs:
        r = cli("import", "--server", fs.base, "--patient", pid, "--max-pages", "2")
        assert r.returncode == 1 and "more than 2 pages" in r.stderr
        r = cli("import", "--server", fs.base, "--patient", pid, "--max-bytes", "2048")
        assert r.returncode == 1 and "larger than 2048 bytes" in r.stderr
        r = cli("import", "--server", fs.base, "--patient", "someone-else")
        assert r.returncode == 1 and "HTTP 404" in r.stderr
        r = cli("import", "--server", fs.base, "--patient", "../etc/passwd")
        assert r.returncode == 1 and "FHIR id" in r.stderr
    r = cli("import", "--server", "ftp://127.0.0.1/fhir", "--patient", "p1")
    assert r.returncode == 1 and "http:// or https://" in r.stderr
    port = free_port()  # nobody listens there
    r = cli("import", "--server", f"http://127.0.0.1:{port}/fhir", "--patient", "p1",
            "--timeout-ms", "2000")
    assert r.returncode == 1 and "fetching from the FHIR server failed" in r.stderr
