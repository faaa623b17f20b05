"""`medstream phi detect`: JSON lines in, spans (or redacted text) out, with
Unicode code-point offsets; clear errors for bad lines, never a crash.

The three messages the gateway must keep local (one carrying an MRN, one a
name with a date of birth, one the detector is unsure about) get the
verdicts the route stage acts on: "phi", "phi", "unsure".
"""

import json
import subprocess

from medstream_e2e import child_env, medstream_bin, sanitizer_report

MRN_MESSAGE = "Which statin for pt MRN 22334455 with CKD stage 3?"
NAME_DOB_MESSAGE = "Can John Smith, DOB 04/12/1950, take ibuprofen with warfarin?"
UNSURE_MESSAGE = "Is the result 48213 worrying for hepatitis B?"
CLEAN_MESSAGE = "What is the first-line treatment of Parkinson's disease in a 67-year-old?"


def run(lines, *args, raw=None):
    inp = raw if raw is not None else "".join(json.dumps(x) + "\n" for x in lines)
    r = subprocess.run([medstream_bin(), "phi", *args], input=inp.encode(), capture_output=True,
                       timeout=120, env=child_env())
    err = r.stderr.decode(errors="replace")
    assert sanitizer_report(err) is None, err
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    return r.returncode, out, err


def test_spans_with_code_point_offsets():
    text = "Ünïcödé « Dr. Kyle Kuefer » née le 3/4/2023, tél. 555-123-4567 ✓"
    rc, out, err = run([{"id": "u", "text": text}], "detect")
    assert rc == 0, err
    (o,) = out
    assert o["id"] == "u" and o["verdict"] == "phi"
    got = {(p["type"], text[p["start"]:p["end"]]) for p in o["phi"]}
    assert ("NAME", "Dr. Kyle Kuefer") in got, got
    assert ("DATE", "3/4/2023") in got, got
    assert ("PHONE", "555-123-4567") in got, got
    for p in o["phi"]:
        assert set(p) == {"type", "start", "end", "confidence"}
        assert 0 < p["confidence"] <= 1


def test_verdicts_of_the_routing_examples():
    msgs = [MRN_MESSAGE, NAME_DOB_MESSAGE, UNSURE_MESSAGE, CLEAN_MESSAGE]
    rc, out, err = run([{"id": i, "text": m} for i, m in enumerate(msgs)], "detect")
    assert rc == 0, err
    assert [o["verdict"] for o in out] == ["phi", "phi", "unsure", "none"]
    assert [p["type"] for p in out[0]["phi"]] == ["MEDICAL_RECORD_NUMBER"]
    assert {p["type"] for p in out[1]["phi"]} == {"NAME", "DATE"}
    assert out[3]["phi"] == []


def test_redact():
    text = "Mary Johnson (MRN 22334455) saw Dr. Patel on 3/4/2023; Mary Johnson is 92 years old."
    rc, out, err = run([{"id": 7, "text": text}], "detect", "--redact")
    assert rc == 0, err
    assert out == [{"id": 7, "verdict": "phi",
                    "text": "[NAME_1] (MRN [MEDICAL_RECORD_NUMBER_1]) saw [NAME_2] on [DATE_1]; "
                            "[NAME_1] is [AGE_OVER_89_1]."}]


def test_bad_lines_are_reported_and_the_rest_go_on():
    raw = "\n".join([
        '{"id": 1, "text": "MRN 22334455"}',
        'not json',
        '[1, 2]',
        '{"text": "no id"}',
        '{"id": 5}',
        '{"id": 6, "text": 42}',
        '',
        '{"id": 8, "text": "fine"}',
    ]) + "\n"
    rc, out, err = run(None, "detect", raw=raw)
    assert rc == 1
    assert [o.get("id") for o in out] == [1, None, None, None, 5, 6, 8]
    assert out[0]["verdict"] == "phi" and out[-1]["verdict"] == "none"
    for o in out[1:6]:
        assert "error" in o
    lines = err.strip().splitlines()
    assert lines[0].startswith("medstream phi detect: line 2: not JSON"), err
    assert "not json" not in err  # the input is never quoted: it may be PHI
    assert "line 3: not a JSON object" in lines[1]
    assert "line 4: no \"id\"" in lines[2]
    assert "line 5: no \"text\"" in lines[3]
    assert "line 6: \"text\" is not a string" in lines[4]
    assert len(lines) == 5  # the blank line 7 is skipped, line 8 is fine


def test_line_limit_and_usage():
    rc, out, err = run([{"id": 1, "text": "x" * 200}], "detect", "--max-line-bytes", "100")
    assert rc == 1 and "longer than --max-line-bytes 100" in err
    assert out == [{"id": None, "error": out[0]["error"]}]
    rc, _, err = run([], "detect", "--max-line-bytes", "0")
    assert rc == 2 and "--max-line-bytes must be" in err
    rc, _, err = run([], "detect", "--bogus")
    assert rc == 2 and "unknown option" in err
    r = subprocess.run([medstream_bin(), "phi", "detect", "--help"], capture_output=True,
                       timeout=60, env=child_env())
    assert r.returncode == 0 and b"Unicode code points" in r.stdout
    r = subprocess.run([medstream_bin(), "phi"], capture_output=True, timeout=60, env=child_env())
    assert r.returncode == 2 and b"usage: medstream phi" in r.stderr


def test_invalid_utf8_is_a_bad_line_not_a_crash():
    raw = b'{"id": 1, "text": "\xff\xfe"}\n{"id": 2, "text": "ok"}\n'
    r = subprocess.run([medstream_bin(), "phi", "detect"], input=raw, capture_output=True,
                       timeout=60, env=child_env())
    assert sanitizer_report(r.stderr.decode(errors="replace")) is None
    assert r.returncode == 1
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert "error" in out[0] and out[1]["verdict"] == "none"
