"""The PHI detector's evaluation, with floors (docs/phi.md).

Three sets, each driven through `medstream phi detect` in one run:
- ASQ-PHI (../shared/data/phi/asq-phi-dev.jsonl): clinician queries with
  annotated PHI; a fifth carry none and measure over-redaction;
- Presidio's synthetic set (presidio-synth-dev.jsonl), its types mapped onto
  ASQ-PHI's (PRESIDIO_MAP below);
- the identifiers of the Synthea patients in ../shared/data/fhir/ (names,
  MRN, SSN, driver's licence, passport, address, phone, birth date), put
  into sentences by the templates below.

Each set is split in two: the development half (even lines; even patients
and the DEV_TEMPLATES) that the method was tuned on, and the held-out half
(odd lines; odd patients and the HELD_TEMPLATES) that is only reported.
Both must hold the floors:
- element-level recall >= 0.95 over all elements, and >= 0.99 over the
  structured ones (SSN, MRN, phone, fax, email, IP, dates, plan numbers),
  where an element counts as found when a detected span of any category
  and any confidence overlaps it (an unsure span is treated as PHI);
- over-redaction <= 25 %: the share of ASQ-PHI's PHI-free queries with any
  span detected.
Presidio's set is not clinical; its names, places and organisations appear
without the context a clinical question gives, so only its structured
elements are held to a floor: the structured floor (0.99) over the
structured elements of all three sets together, and 0.95 on Presidio's
alone (63 to 67 elements a half); the rest is reported.

    MEDSTREAM_BIN=build/medstream /usr/bin/python3 tests/e2e/test_phi_eval.py
prints the tables that docs/phi.md shows. Skipped when ../shared/data is
not next to the repo.
"""

import glob
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from medstream_e2e import REPO_ROOT, child_env, medstream_bin, sanitizer_report  # noqa: E402

DATA = Path(os.environ.get("MS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
PHI = DATA / "phi"
FHIR = DATA / "fhir"

STRUCTURED = {"SSN", "MEDICAL_RECORD_NUMBER", "PHONE", "FAX", "EMAIL", "IP", "DATE",
              "HEALTH_PLAN_BENEFICIARY_NUMBER"}

# ASQ-PHI's files spell some categories out; medstream uses the short forms.
ASQ_ALIASES = {"PHONE_NUMBER": "PHONE", "FAX_NUMBER": "FAX", "EMAIL_ADDRESS": "EMAIL",
               "SOCIAL_SECURITY_NUMBER": "SSN", "ACCOUNT_NUMBER": "ACCOUNT",
               "CERTIFICATE_LICENSE_NUMBER": "CERTIFICATE_LICENSE", "IP_ADDRESS": "IP"}

# Presidio's entity types onto ASQ-PHI's. None: not PHI under Safe Harbor
# (45 CFR 164.514(b)(2)(i) names no organisations, titles, nationalities;
# ages count only over 89, dates only when more specific than a year).
# Predictions over such elements count neither way.
PRESIDIO_MAP = {
    "PERSON": "NAME", "STREET_ADDRESS": "GEOGRAPHIC_LOCATION", "GPE": "GEOGRAPHIC_LOCATION",
    "ZIP_CODE": "GEOGRAPHIC_LOCATION", "LOCATION": "GEOGRAPHIC_LOCATION",
    "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL", "US_SSN": "SSN", "IP_ADDRESS": "IP",
    "CREDIT_CARD": "ACCOUNT", "IBAN_CODE": "ACCOUNT", "US_BANK_NUMBER": "ACCOUNT",
    "US_DRIVER_LICENSE": "CERTIFICATE_LICENSE", "US_PASSPORT": "UNIQUE_IDENTIFIER",
    "DOMAIN_NAME": "URL", "URL": "URL", "DATE_TIME": "DATE", "AGE": "AGE_OVER_89",
    "MEDICAL_LICENSE": "CERTIFICATE_LICENSE",
    "ORGANIZATION": None, "TITLE": None, "NRP": None,
}

MONTH_RE = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)


try:  # ISO 3166 names (Debian python3-pycountry), to tell countries from places
    import pycountry
except ImportError:  # pragma: no cover - deps/debian-packages.txt installs it
    pycountry = None


def country_or_state(value):
    """Whether value names a country or a US state: not PHI, as Safe Harbor
    removes only geographic subdivisions smaller than a state."""
    if pycountry is None:
        return False
    v = re.sub(r"\s*\(.*?\)", "", value).strip()
    try:
        pycountry.countries.lookup(v)
        return True
    except LookupError:
        pass
    return any(sd.name.lower() == v.lower()
               for sd in pycountry.subdivisions.get(country_code="US"))


def presidio_type(t, value):
    m = PRESIDIO_MAP.get(t, "UNMAPPED")
    if m == "UNMAPPED":
        return None
    if t == "GPE" and country_or_state(value):
        return None
    if m == "DATE":
        # More specific than a year: a month name or a day-month layout.
        specific = MONTH_RE.search(value) or re.search(r"\d{1,4}[/.-]\d{1,2}", value)
        return "DATE" if specific else None
    if m == "AGE_OVER_89":
        digits = re.findall(r"\d+", value)
        return "AGE_OVER_89" if digits and int(digits[0]) > 89 else None
    return m


# ---- Synthea patients -----------------------------------------------------------

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def patient_identifiers(path):
    """The identifiers of a bundle's Patient resource."""
    bundle = json.load(open(path))
    pat = next(e["resource"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "Patient")
    ids = {}
    for ident in pat.get("identifier", []):
        code = ((ident.get("type") or {}).get("coding") or [{}])[0].get("code")
        if code in ("MR", "SS", "DL", "PPN"):
            ids[code] = ident["value"]
    name = next((n for n in pat.get("name", []) if n.get("use") == "official"), pat["name"][0])
    addr = pat["address"][0]
    y, m, d = (int(x) for x in pat["birthDate"].split("-"))
    return {
        "given": name["given"][0], "family": name["family"],
        "prefix": (name.get("prefix") or ["Mx."])[0],
        "mrn": ids.get("MR"), "ssn": ids.get("SS"), "dl": ids.get("DL"),
        "passport": ids.get("PPN"),
        "line": addr["line"][0], "city": addr["city"], "state": addr["state"],
        "zip": addr.get("postalCode"),
        "phone": next((t["value"] for t in pat.get("telecom", []) if t["system"] == "phone"),
                      None),
        "dob_iso": pat["birthDate"], "dob_us": f"{m}/{d}/{y}",
        "dob_long": f"{MONTHS[m - 1]} {d}, {y}",
    }


# {field} is an element of the category given in FIELD_TYPE; {name} is
# "{given} {family}" as one NAME element; {state} is not PHI.
FIELD_TYPE = {"name": "NAME", "family": "NAME", "given": "NAME", "mrn": "MEDICAL_RECORD_NUMBER",
              "ssn": "SSN", "dl": "CERTIFICATE_LICENSE", "passport": "UNIQUE_IDENTIFIER",
              "line": "GEOGRAPHIC_LOCATION", "city": "GEOGRAPHIC_LOCATION",
              "zip": "GEOGRAPHIC_LOCATION", "phone": "PHONE", "dob_iso": "DATE",
              "dob_us": "DATE", "dob_long": "DATE", "state": None, "prefix": None}

DEV_TEMPLATES = [
    "Patient {name}, MRN {mrn}, DOB {dob_us}, asks about metformin dosing with CKD stage 3.",
    "{prefix} {family} (SSN {ssn}) was seen today; lives at {line}, {city}, {state} {zip}. "
    "Phone {phone}.",
    "Can {name}, born {dob_long}, take ibuprofen with lisinopril? Driver's license {dl}.",
    "Refill request for {name}: call back at {phone}. Address: {line}, {city}, {state} {zip}.",
    "Is amoxicillin safe for my patient {name} (passport {passport}, DOB {dob_iso})?",
    "Summary for {family}, {given}; medical record number {mrn}; home phone {phone}; "
    "SSN: {ssn}.",
]

HELD_TEMPLATES = [
    "{name} is a patient of ours, date of birth {dob_long}. Which statin would you start?",
    "Please review the labs of {name} ({mrn}) from {city}, {state}.",
    "{prefix} {family} called from {phone} about the warfarin dose; born on {dob_us}.",
    "{name}, {line}, {city} {zip}: any interaction between sertraline and tramadol?",
    "Prior authorization for {name}, SSN {ssn}, DL {dl}, DOB {dob_iso}.",
    "About {name} (MRN {mrn}): moved to {city} last month, new number {phone}, "
    "passport {passport}.",
]

FIELD_RE = re.compile(r"\{(\w+)\}")


def fill(template, p):
    """The sentence and its elements [(type, start, end)], or None when the
    patient lacks a field the template needs."""
    vals = dict(p, name=f"{p['given']} {p['family']}")
    text, elems, at = "", [], 0
    for m in FIELD_RE.finditer(template):
        text += template[at:m.start()]
        v = vals.get(m.group(1))
        if not v:
            return None
        t = FIELD_TYPE[m.group(1)]
        if t:
            elems.append((t, len(text), len(text) + len(v)))
        text += v
        at = m.end()
    text += template[at:]
    return text, elems


def synthea_items(half):
    files = sorted(glob.glob(str(FHIR / "*.json")))
    pats = [patient_identifiers(f) for i, f in enumerate(files) if i % 2 == (half == "held")]
    templates = DEV_TEMPLATES if half == "dev" else HELD_TEMPLATES
    items = []
    for pi, p in enumerate(pats):
        for ti, tpl in enumerate(templates):
            r = fill(tpl, p)
            if r:
                items.append({"id": f"p{pi}t{ti}", "text": r[0],
                              "gold": [{"type": t, "start": a, "end": b} for t, a, b in r[1]]})
    return items


# ---- the data sets ----------------------------------------------------------------

def load_jsonl(path, half, mapper):
    items = []
    for i, line in enumerate(open(path, encoding="utf-8")):
        if i % 2 != (half == "held"):
            continue
        r = json.loads(line)
        gold = []
        for e in r["phi"]:
            if e.get("start") is None:
                continue
            gold.append({"type": mapper(e["type"], e.get("value", "")), "start": e["start"],
                         "end": e["end"]})
        items.append({"id": r["id"], "text": r["text"], "gold": gold, "phi_free": not r["phi"]})
    return items


def asq_items(half):
    return load_jsonl(PHI / "asq-phi-dev.jsonl", half, lambda t, v: ASQ_ALIASES.get(t, t))


def presidio_items(half):
    return load_jsonl(PHI / "presidio-synth-dev.jsonl", half, presidio_type)


def detect(items):
    inp = "".join(json.dumps({"id": i, "text": it["text"]}) + "\n" for i, it in enumerate(items))
    r = subprocess.run([medstream_bin(), "phi", "detect"], input=inp.encode(),
                       capture_output=True, timeout=300, env=child_env())
    err = r.stderr.decode(errors="replace")
    assert sanitizer_report(err) is None, err
    assert r.returncode == 0, err
    out = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert len(out) == len(items)
    for o in out:
        items[o["id"]]["pred"] = o["phi"]
        items[o["id"]]["verdict"] = o["verdict"]
    return items


def overlaps(a, b):
    return a["start"] < b["end"] and b["start"] < a["end"]


def score(items):
    """Per-category and overall counts (see the module docstring)."""
    cat = defaultdict(lambda: {"n": 0, "found": 0, "typed": 0, "pred": 0, "tp": 0})
    free = flagged = flagged_sure = 0
    pred_all = pred_tp = 0
    for it in items:
        gold = [g for g in it["gold"] if g["type"]]
        neutral = [g for g in it["gold"] if not g["type"]]
        for g in gold:
            c = cat[g["type"]]
            c["n"] += 1
            hits = [p for p in it["pred"] if overlaps(p, g)]
            c["found"] += bool(hits)
            c["typed"] += any(p["type"] == g["type"] for p in hits)
        for p in it["pred"]:
            on_gold = [g for g in gold if overlaps(p, g)]
            if not on_gold and any(overlaps(p, g) for g in neutral):
                continue  # an organisation, a title, a year: neither way
            c = cat[p["type"]]
            c["pred"] += 1
            c["tp"] += any(g["type"] == p["type"] for g in on_gold)
            pred_all += 1
            pred_tp += bool(on_gold)
        if it.get("phi_free"):
            free += 1
            flagged += it["verdict"] != "none"
            flagged_sure += it["verdict"] == "phi"
    n = sum(c["n"] for c in cat.values())
    found = sum(c["found"] for c in cat.values())
    sn = sum(c["n"] for t, c in cat.items() if t in STRUCTURED)
    sfound = sum(c["found"] for t, c in cat.items() if t in STRUCTURED)
    return {
        "cat": dict(cat), "n": n, "recall": found / n if n else 1.0,
        "structured_n": sn, "structured_recall": sfound / sn if sn else 1.0,
        "precision": pred_tp / pred_all if pred_all else 1.0,
        "free": free, "over": flagged / free if free else 0.0,
        "over_sure": flagged_sure / free if free else 0.0,
    }


SETS = {"asq": asq_items, "presidio": presidio_items, "synthea": synthea_items}


def have_data():
    return (PHI / "asq-phi-dev.jsonl").exists() and (PHI / "presidio-synth-dev.jsonl").exists() \
        and glob.glob(str(FHIR / "*.json"))


needs_data = pytest.mark.skipif(not have_data(), reason=(
    f"shared data not found at {DATA} (needs phi/asq-phi-dev.jsonl, "
    "phi/presidio-synth-dev.jsonl and fhir/*.json): the PHI evaluation cannot run"))

_cache = {}


def result(name, half):
    if (name, half) not in _cache:
        _cache[(name, half)] = score(detect(SETS[name](half)))
    return _cache[(name, half)]


def fmt(s, structured_only=False):
    return (f"recall {s['recall']:.3f} over {s['n']} elements, structured "
            f"{s['structured_recall']:.3f} over {s['structured_n']}; " +
            "; ".join(f"{t} {c['found']}/{c['n']}" for t, c in sorted(s["cat"].items())
                      if c["n"] and c["found"] < c["n"] and (t in STRUCTURED or not
                                                             structured_only)))


@needs_data
@pytest.mark.parametrize("half", ["dev", "held"])
def test_asq_phi_floors(half):
    s = result("asq", half)
    assert s["recall"] >= 0.95, fmt(s)
    assert s["structured_recall"] >= 0.99, fmt(s)
    assert s["free"] > 20
    assert s["over"] <= 0.25, f"over-redaction {s['over']:.3f} of {s['free']} PHI-free queries"


@needs_data
@pytest.mark.parametrize("half", ["dev", "held"])
def test_synthea_identifiers_floors(half):
    s = result("synthea", half)
    assert s["n"] > 100
    assert s["recall"] >= 0.95, fmt(s)
    assert s["structured_recall"] >= 0.99, fmt(s)


@needs_data
@pytest.mark.parametrize("half", ["dev", "held"])
def test_structured_floor_all_sets(half):
    """The structured floor over the structured elements of all three sets."""
    n = found = 0
    for name in SETS:
        s = result(name, half)
        n += s["structured_n"]
        found += round(s["structured_recall"] * s["structured_n"])
    assert n > 400
    assert found / n >= 0.99, "; ".join(f"{k}: {fmt(result(k, half), True)}" for k in SETS)


@needs_data
@pytest.mark.parametrize("half", ["dev", "held"])
def test_presidio_structured(half):
    """Presidio's format identifiers (63 to 67 per half, so one miss is
    1.5 %): a guard against regressions, below the pooled floor above."""
    s = result("presidio", half)
    assert s["structured_n"] > 50
    assert s["structured_recall"] >= 0.95, fmt(s, structured_only=True)


def report():
    """Markdown tables for docs/phi.md."""
    for name in SETS:
        for half in ("dev", "held"):
            s = result(name, half)
            print(f"\n#### {name}, {'development' if half == 'dev' else 'held-out'} half\n")
            print(f"Element-level recall {s['recall']:.3f} ({s['n']} elements), structured "
                  f"{s['structured_recall']:.3f} ({s['structured_n']}); span precision "
                  f"{s['precision']:.3f}" +
                  (f"; over-redaction {s['over']:.3f} of {s['free']} PHI-free queries "
                   f"({s['over_sure']:.3f} with a sure span)" if s["free"] else "") + ".\n")
            print("| category | elements | recall | typed recall | spans | typed precision |")
            print("| --- | ---: | ---: | ---: | ---: | ---: |")
            for t, c in sorted(s["cat"].items(), key=lambda kv: -kv[1]["n"]):
                rec = f"{c['found'] / c['n']:.3f}" if c["n"] else "–"
                trec = f"{c['typed'] / c['n']:.3f}" if c["n"] else "–"
                prec = f"{c['tp'] / c['pred']:.3f}" if c["pred"] else "–"
                print(f"| {t} | {c['n']} | {rec} | {trec} | {c['pred']} | {prec} |")


if __name__ == "__main__":
    if not have_data():
        sys.exit(f"no shared data at {DATA}")
    report()
