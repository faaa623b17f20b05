#!/usr/bin/python3
"""The offline answerer on real questions: when it abstains, what it cites,
whether every sentence it writes is in the passage it cites, and how soon
its first chunk arrives.

Knowledge base: MedQuAD (../shared/data/medquad) plus the LiveQA judged
answers, as bench/retrieval.py builds it. Question sets:

- off-topic: bench/data/offtopic.jsonl, everyday questions written for this
  benchmark, many with medical trigger words ("symptoms of a failing car
  battery"); the answerer should say "not found" (finish_reason no_context);
- LiveQA: the TREC 2017 medical questions in ../shared/data/liveqa (subject
  + message, as the retrieval benchmark asks them), judged answers >= 3 as
  relevant;
- MedQuAD: a fixed sample of the knowledge base's own answered questions
  (every 40th answered QA pair by id), its own pair as the relevant passage.

Every set is split in two halves, "dev" (what the method was tuned on) and
"heldout" (reported once): off-topic by the split field of the file, LiveQA
by the position of the qid in order (even = dev), MedQuAD by the position of
the pair in the sample.

For each on-topic question the retrieval harness's view is taken too: does
a relevant passage appear in the top 10 of /api/kb/search? The floors
(tests/e2e/test_answerer_floors.py) are on those questions.

Usage: bench/answerer.py [BINARY] [--data DIR] [--data-dir DIR] [--split dev|heldout|all]
                         [--json OUT] [--write docs/retrieval.md]
--data-dir reuses (or creates once) a data dir with the knowledge base
imported. Standard library plus the e2e helpers (requests, websockets).
"""
import argparse
import asyncio
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import retrieval  # noqa: E402  bench/retrieval.py: the judged-answer import
from medstream_e2e import Server, connect, send_message, collect  # noqa: E402
from pathlib import Path  # noqa: E402

DEFAULT_DATA = os.path.join(REPO, "..", "shared", "data")
OFFTOPIC = os.path.join(HERE, "data", "offtopic.jsonl")
MEDQUAD_EVERY = 40
MARKER = re.compile(r"\s*\[(\d+)\]")


def squeeze(s):
    return " ".join(s.split())


def prepare_kb(binary, data, data_dir):
    """Imports MedQuAD and the judged answers into data_dir once (a file
    .answerer-kb marks a finished import)."""
    mark = os.path.join(data_dir, ".answerer-kb")
    if os.path.exists(mark):
        return
    os.makedirs(data_dir, exist_ok=True)
    tar = os.path.join(data, "medquad", "medquad-xml.tar.gz")
    retrieval.run(binary, ["import", "--quiet", "--format", "medquad", tar], data_dir)
    judged = os.path.join(data_dir, "judged.jsonl")
    retrieval.judged_to_jsonl(os.path.join(data, "liveqa", "judged-answers.jsonl"),
                              retrieval.medquad_meta(tar), judged)
    retrieval.run(binary, ["import", "--quiet", "--format", "jsonl", judged], data_dir)
    open(mark, "w").close()


def question_sets(data, db):
    """[(set, split, id, question, relevant ids or None)]."""
    out = []
    for line in open(OFFTOPIC):
        o = json.loads(line)
        out.append(("offtopic", o["split"], o["id"], o["question"], None))
    qrels = {}
    for line in open(os.path.join(data, "liveqa", "qrels.txt")):
        qid, j, aid = line.split()
        if int(j.split("-")[0]) >= 3:
            qrels.setdefault(int(qid), set()).add(re.sub(r"\.txt$", "", aid))
    qs = sorted((json.loads(l) for l in open(os.path.join(data, "liveqa", "questions.jsonl"))),
                key=lambda q: q["qid"])
    for i, q in enumerate(qs):
        text = (q.get("subject") or "") + " " + (q.get("message") or "")
        out.append(("liveqa", "dev" if i % 2 == 0 else "heldout", "liveqa-%d" % q["qid"],
                    text, qrels.get(q["qid"], set())))
    rows = db.execute("SELECT p.id, p.title FROM kb_passages p JOIN kb_documents d"
                      " ON d.id = p.doc_id WHERE d.source_type = 'medquad' AND p.title IS NOT NULL"
                      " ORDER BY p.id").fetchall()
    sample = rows[::MEDQUAD_EVERY]
    for i, (pid, title) in enumerate(sample):
        out.append(("medquad", "dev" if i % 2 == 0 else "heldout", pid, title, {pid}))
    return out


def sentences_verbatim(answer, disclaimer, citations, passage_text):
    """(sentences, verbatim) over the answer's text before the disclaimer:
    each paragraph ends with a marker [k]; its lines (list items without
    their "- ") are cut at sentence ends and each piece must occur in the
    whitespace-squeezed text of the passage citation k names."""
    body = answer
    if disclaimer and body.endswith(disclaimer):
        body = body[: -len(disclaimer)]
    by_index = {c["index"]: c for c in citations}
    total = ok = 0
    bad = []
    pos = 0
    for m in MARKER.finditer(body):
        if int(m.group(1)) not in by_index:
            continue  # "[5209]" quoted from a passage is text, not a marker
        chunk = body[pos:m.start()]
        pos = m.end()
        cit = by_index.get(int(m.group(1)))
        passage = squeeze(passage_text(cit["source_id"])) if cit else ""
        for line in chunk.split("\n"):
            line = line.strip()
            if line.startswith("- "):
                line = line[2:]
            if not line:
                continue
            for piece in re.split(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]0-9])|(?<=[.!?][0-9][0-9]))\s+"
                                  r"(?=[A-Z(\[\"]|- )",
                                  line):
                piece = squeeze(piece)
                if piece.startswith("- "):
                    piece = piece[2:]
                if not piece:
                    continue
                total += 1
                if piece in passage:
                    ok += 1
                else:
                    bad.append(piece)
    return total, ok, bad


async def ask_all(server, token, items, on_result):
    ws, _ = await connect(server, token)
    try:
        for it in items:
            t0 = time.monotonic()
            cmid = await send_message(ws, it[3])
            st = await collect(ws, client_message_id=cmid, max_chunks=1)
            ttfc = (time.monotonic() - t0) * 1000 if st.chunks else None
            st = await collect(ws, client_message_id=cmid, stream=st)
            on_result(it, st, ttfc)
    finally:
        await ws.close()


def evaluate(binary, data, data_dir, splits=("dev", "heldout"), log_dir=None):
    """Runs every question of the given splits; returns the per-question
    records and the summary (see summarize)."""
    prepare_kb(binary, data, data_dir)
    db = sqlite3.connect(os.path.join(data_dir, "medstream.db"))
    items = [q for q in question_sets(data, db) if q[1] in splits]
    texts = {}

    def passage_text(pid):
        if pid not in texts:
            r = db.execute("SELECT text FROM kb_passages WHERE id = ?", (pid,)).fetchone()
            texts[pid] = r[0] if r else ""
        return texts[pid]

    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="ms-answerer-log-"))
    srv = Server(binary, Path(data_dir), log_dir,
                 {"word_interval_ms": 0, "login_rate_per_min": 100000, "log_level": "debug",
                  "ws_rate_per_s": 0, "user_turns_per_min": 1000000, "max_turns_per_user": 1000},
                 provider="offline")
    srv.start()
    records = []
    try:
        token = srv.register()["access_token"]

        def found(it):
            if not it[4]:
                return False
            r = srv.api("GET", "/api/kb/search", token, params={"q": it[3], "k": 10})
            r.raise_for_status()
            return any(x["id"] in it[4] for x in r.json()["results"])

        logf = open(srv.stderr_path, "rb")
        logf.seek(0, 2)

        def evidence():
            """The answerer's evidence line for the question just answered."""
            ev = None
            for line in logf.read().decode(errors="replace").splitlines():
                if '"offline_evidence"' in line:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        pass
            return ev

        def on_result(it, st, ttfc):
            c = st.complete
            ev = evidence()
            n, ok, bad = sentences_verbatim(c["text"], c.get("disclaimer"), c["citations"],
                                            passage_text)
            records.append({
                "set": it[0], "split": it[1], "id": it[2], "question": it[3],
                "finish_reason": c["finish_reason"], "answered": c["finish_reason"] == "stop",
                "cited": [x["source_id"] for x in c["citations"]],
                "relevant_cited": bool(it[4]) and any(x["source_id"] in it[4]
                                                      for x in c["citations"]),
                "found": found(it) if it[0] != "offtopic" else None,
                "sentences": n, "verbatim": ok, "not_verbatim": bad,
                "ttfc_ms": ttfc, "text": c["text"],
                "evidence": {k: ev[k] for k in ("medical", "named", "vocab", "focus", "agree",
                                         "covered")}
                if ev else None,
            })

        asyncio.run(ask_all(srv, token, items, on_result))
    finally:
        problem = srv.stop()
        db.close()
    if problem:
        raise RuntimeError(problem)
    return records, summarize(records)


def pct(v, n):
    return v / n if n else 0.0


def summarize(records):
    s = {}
    for split in ("dev", "heldout", "all"):
        rs = [r for r in records if split == "all" or r["split"] == split]
        if not rs:
            continue
        off = [r for r in rs if r["set"] == "offtopic"]
        on = [r for r in rs if r["set"] != "offtopic"]
        abst_off = sum(not r["answered"] for r in off)
        abst_on = sum(not r["answered"] for r in on)
        d = {"offtopic": len(off), "ontopic": len(on),
             "abstain_precision": pct(abst_off, abst_off + abst_on),
             "abstain_recall": pct(abst_off, len(off))}
        for name in ("liveqa", "medquad"):
            xs = [r for r in on if r["set"] == name]
            fd = [r for r in xs if r["found"]]
            d[name] = {"n": len(xs), "answered": pct(sum(r["answered"] for r in xs), len(xs)),
                       "found": len(fd),
                       "answered_found": pct(sum(r["answered"] for r in fd), len(fd)),
                       "relevant_cited": pct(sum(r["relevant_cited"] for r in xs), len(xs))}
        fd = [r for r in on if r["found"]]
        d["found"] = len(fd)
        d["answered_found"] = pct(sum(r["answered"] for r in fd), len(fd))
        n = sum(r["sentences"] for r in rs)
        d["sentences"] = n
        d["verbatim"] = pct(sum(r["verbatim"] for r in rs), n)
        lat = sorted(r["ttfc_ms"] for r in rs if r["ttfc_ms"] is not None)
        if lat:
            d["ttfc_ms"] = {"n": len(lat), "p50": statistics.median(lat),
                            "p95": lat[int(0.95 * (len(lat) - 1))],
                            "p99": lat[int(0.99 * (len(lat) - 1))], "max": lat[-1]}
        s[split] = d
    return s


def report(summary):
    lines = ["| Half | Off-topic abstained (recall) | Abstention precision | On-topic answered"
             " when retrieval finds a relevant passage | LiveQA answered citing a passage judged"
             " >= 3 | Sentences verbatim | TTFC p50 / p99 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for split in ("dev", "heldout"):
        d = summary.get(split)
        if not d:
            continue
        t = d.get("ttfc_ms", {})
        lines.append("| %s | %.1f %% of %d | %.1f %% | %.1f %% of %d | %.1f %% of %d | %.1f %% of %d"
                     " | %.1f / %.1f ms |" %
                     (split, 100 * d["abstain_recall"], d["offtopic"],
                      100 * d["abstain_precision"], 100 * d["answered_found"], d["found"],
                      100 * d["liveqa"]["relevant_cited"], d["liveqa"]["n"],
                      100 * d["verbatim"], d["sentences"], t.get("p50", 0), t.get("p99", 0)))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(REPO, "build", "medstream"))
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--data-dir", help="reuse this data dir (imported once)")
    ap.add_argument("--split", default="all", choices=("dev", "heldout", "all"))
    ap.add_argument("--json", help="write every record here")
    ap.add_argument("--show", action="store_true", help="print the mistakes")
    a = ap.parse_args()
    data = os.path.abspath(a.data)
    if not os.path.isdir(os.path.join(data, "liveqa")):
        print("skipping the answerer benchmark: %s not found (needs ../shared/data with medquad"
              " and liveqa)" % data)
        return 0
    binary = os.path.abspath(a.binary)
    tmp = None
    data_dir = a.data_dir
    if not data_dir:
        tmp = tempfile.mkdtemp(prefix="ms-answerer-")
        data_dir = tmp
    splits = ("dev", "heldout") if a.split == "all" else (a.split,)
    try:
        records, summary = evaluate(binary, data, data_dir, splits)
    finally:
        if tmp:
            subprocess.run(["rm", "-rf", tmp])
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"summary": summary, "records": records}, f, indent=1)
    if a.show:
        for r in records:
            if r["set"] == "offtopic" and r["answered"]:
                print("ANSWERED off-topic:", r["question"], "->", r["cited"][:2])
            elif r["set"] != "offtopic" and r["found"] and not r["answered"]:
                print("ABSTAINED on-topic:", r["id"], r["question"][:100])
            for b in r["not_verbatim"]:
                print("NOT VERBATIM:", r["id"], b[:120])
    print(json.dumps(summary, indent=1))
    print(report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
