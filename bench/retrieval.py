#!/usr/bin/python3
"""Retrieval quality and speed of `medstream kb search`.

LiveQA (TREC 2017 medical task, the half in ../shared/data/liveqa): index
MedQuAD plus the judged answers, ask each question (subject + " " +
message), score the top 10 against the qrels: P@10, MAP@10 and MRR, with
judgements >= 3 (Incomplete, Excellent) as relevant and again with >= 2.

PubMedQA (pqal-dev.jsonl): index the 500 abstracts (contexts) by PMID, ask
each question, report recall@1 and recall@5 of the question's own PMID.

Both are compared, in the same run and on the same database, with a
baseline: plain FTS5 BM25 (bm25() with no weights) over an OR of every
query word, computed here through python's sqlite3 module.

Usage: bench/retrieval.py [BINARY] [--data DIR] [--write docs/performance.md]
BINARY defaults to build/medstream. Standard library only.
"""
import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET

import perfmd  # bench/perfmd.py, beside this script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPO, "..", "shared", "data")


def run(binary, args, data_dir):
    t0 = time.monotonic()
    p = subprocess.run([binary, "kb", args[0], "--data-dir", data_dir] + args[1:],
                       capture_output=True, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("medstream kb %s failed (%d):\n%s%s" %
                 (args[0], p.returncode, p.stdout, p.stderr))
    return p, dt


def search(binary, data_dir, query, k=10):
    p, _ = run(binary, ["search", "--json", "--timing", "-k", str(k), "--", query], data_dir)
    ms = None
    m = re.search(r"in ([0-9.]+) ms", p.stderr)
    if m:
        ms = float(m.group(1))
    return [h["id"] for h in json.loads(p.stdout)], ms


def baseline(db, query, k=10):
    """Plain FTS5 BM25 over an OR of every word of the query."""
    words = []
    for w in re.findall(r"\w+", query.lower()):
        if w not in words:
            words.append(w)
    if not words:
        return []
    expr = " OR ".join('"%s"' % w.replace('"', '""') for w in words)
    rows = db.execute(
        "SELECT p.id FROM kb_fts JOIN kb_passages p ON p.pk = kb_fts.rowid"
        " WHERE kb_fts MATCH ? ORDER BY rank LIMIT ?", (expr, k)).fetchall()
    return [r[0] for r in rows]


def medquad_meta(tar_path):
    """(source, docid) -> (focus, {question: qtype}) from the MedQuAD XML,
    to give judged answers the focus (with its synonyms) and question type
    of their QA pair, as the medquad importer gives the other pairs."""
    meta = {}
    with tarfile.open(tar_path, "r:gz") as tf:
        for m in tf:
            if not m.isfile() or not m.name.endswith(".xml"):
                continue
            try:
                root = ET.fromstring(tf.extractfile(m).read())
            except ET.ParseError:
                continue
            src = root.get("source") or root.get("corpus")
            did = root.get("id") or root.get("docid") or root.get("fid")
            stem = os.path.basename(m.name)[:-4]
            if did and stem.startswith(did + "_"):
                did = stem
            if src == "MPlusHerbsSupplements":
                src = "MPlusHerbsSuppls"
            names = []
            qtypes = {}
            for el in root.iter():
                tag = el.tag.lower()
                text = " ".join((el.text or "").split())
                if tag in ("focus", "doctitle-focus") and not names and text:
                    names.append(text)
                elif tag == "synonym" and text and text.lower() not in map(str.lower, names):
                    names.append(text)
                elif tag == "question":
                    qtypes.setdefault(text, el.get("qtype"))
            # "focus; synonym; ..." as the medquad importer indexes it.
            meta[(src, did)] = ("; ".join(names) or None, qtypes)
    return meta


def judged_to_jsonl(path, meta, out):
    """LiveQA judged answers ("Question: ..\\nURL: ..\\nAnswer: ..") to the
    kb jsonl format, with ids as in the qrels (GHR_0000123_Sec2)."""
    n = 0
    with open(path) as f, open(out, "w") as o:
        for line in f:
            a = json.loads(line)
            pid = re.sub(r"\.txt$", "", a["answer_id"])
            text = a["text"]
            q = re.search(r"^Question:\s*(.*)$", text, re.M)
            u = re.search(r"^URL:\s*(\S+)", text, re.M)
            ans = text.split("\nAnswer:", 1)[1] if "\nAnswer:" in text else text
            m = re.match(r"(.+?)_(\d+(?:_\d+)*)_Sec\d+$", pid)
            rec = {"id": pid, "title": q.group(1).strip() if q else None,
                   "url": u.group(1) if u else None, "text": ans.strip(),
                   "source": m.group(1) if m else None}
            if m and (m.group(1), m.group(2)) in meta:
                focus, qtypes = meta[(m.group(1), m.group(2))]
                rec["focus"] = focus
                title = " ".join((rec["title"] or "").split())
                for question, qtype in qtypes.items():
                    if question and title.startswith(question):
                        rec["qtype"] = qtype
                        break
            o.write(json.dumps(rec) + "\n")
            n += 1
    return n


def liveqa_scores(runs, qrels, threshold):
    """P@10, MAP@10 (trec_eval map_cut_10: sum of precision at each relevant
    hit in the top 10, over all relevant) and MRR, averaged over the
    questions that have at least one relevant answer."""
    p10, ap, rr, n = [], [], [], 0
    for qid, ranked in runs.items():
        rel = {a for a, j in qrels.get(qid, {}).items() if j >= threshold}
        if not rel:
            continue
        n += 1
        hits, s, first = 0, 0.0, 0.0
        for i, a in enumerate(ranked[:10], 1):
            if a in rel:
                hits += 1
                s += hits / i
                if not first:
                    first = 1.0 / i
        p10.append(hits / 10)
        ap.append(s / len(rel))
        rr.append(first)
    mean = lambda v: sum(v) / len(v) if v else 0.0
    return {"n": n, "P@10": mean(p10), "MAP@10": mean(ap), "MRR": mean(rr)}


def bench_liveqa(binary, data, tmp):
    d = os.path.join(tmp, "liveqa")
    tar = os.path.join(data, "medquad", "medquad-xml.tar.gz")
    p, t_mq = run(binary, ["import", "--quiet", "--format", "medquad", tar], d)
    summary_mq = p.stdout.strip()
    judged = os.path.join(tmp, "judged.jsonl")
    n_judged = judged_to_jsonl(os.path.join(data, "liveqa", "judged-answers.jsonl"),
                               medquad_meta(tar), judged)
    # Judged answers whose id MedQuAD already gave must replace, not add.
    db = sqlite3.connect(os.path.join(d, "medstream.db"))
    ids = [json.loads(l)["id"] for l in open(judged)]
    before = db.execute("SELECT count(*) FROM kb_passages").fetchone()[0]
    overlap = sum(db.execute("SELECT 1 FROM kb_passages WHERE id = ?", (i,)).fetchone() is not None
                  for i in ids)
    db.close()
    _, t_j = run(binary, ["import", "--quiet", "--format", "jsonl", judged], d)
    qrels = {}
    for line in open(os.path.join(data, "liveqa", "qrels.txt")):
        qid, j, aid = line.split()
        qrels.setdefault(int(qid), {})[re.sub(r"\.txt$", "", aid)] = int(j.split("-")[0])
    questions = [json.loads(l) for l in open(os.path.join(data, "liveqa", "questions.jsonl"))]
    db = sqlite3.connect(os.path.join(d, "medstream.db"))
    ours, base, lat = {}, {}, []
    for q in questions:
        text = (q.get("subject") or "") + " " + (q.get("message") or "")
        ours[q["qid"]], ms = search(binary, d, text)
        base[q["qid"]] = baseline(db, text)
        if ms is not None:
            lat.append(ms)
    npass = db.execute("SELECT count(*) FROM kb_passages").fetchone()[0]
    db.close()
    if npass != before + len(ids) - overlap:
        sys.exit("judged answers were duplicated: %d passages, expected %d" %
                 (npass, before + len(ids) - overlap))
    res = {}
    for th in (3, 2):
        res[th] = (liveqa_scores(ours, qrels, th), liveqa_scores(base, qrels, th))
    return {"scores": res, "questions": len(questions), "passages": npass,
            "import_medquad_s": t_mq, "import_judged_s": t_j, "judged": n_judged,
            "overlap": overlap,
            "summary_medquad": summary_mq, "latency_ms": lat}


def bench_pubmedqa(binary, data, tmp):
    d = os.path.join(tmp, "pubmedqa")
    path = os.path.join(data, "pubmedqa", "pqal-dev.jsonl")
    _, t_imp = run(binary, ["import", "--quiet", "--format", "pubmedqa", path], d)
    items = [json.loads(l) for l in open(path) if l.strip()]
    db = sqlite3.connect(os.path.join(d, "medstream.db"))
    r = {"ours": [0, 0], "base": [0, 0]}
    for it in items:
        gold = str(it["pmid"])
        for name, ranked in (("ours", search(binary, d, it["question"], 5)[0]),
                             ("base", baseline(db, it["question"], 5))):
            r[name][0] += ranked[:1] == [gold]
            r[name][1] += gold in ranked[:5]
    db.close()
    n = len(items)
    return {"n": n, "import_s": t_imp,
            "ours": (r["ours"][0] / n, r["ours"][1] / n),
            "base": (r["base"][0] / n, r["base"][1] / n)}


def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"


def report(lq, pq, binary):
    lines = ["## Retrieval", "",
             "`python3 bench/retrieval.py %s` on %s (%s, %d cores). Baseline: plain FTS5"
             " BM25 (`bm25()` without weights) over an OR of every query word, on the same"
             " database." % (os.path.relpath(binary, REPO) if binary.startswith(REPO) else binary,
                             time.strftime("%Y-%m-%d"), platform.machine(), os.cpu_count()),
             "",
             "| Set | Metric | medstream | Baseline | Ratio |",
             "| --- | --- | ---: | ---: | ---: |"]
    for th in (3, 2):
        ours, base = lq["scores"][th]
        for m in ("P@10", "MAP@10", "MRR"):
            lines.append("| LiveQA, judgement >= %d (%d questions) | %s | %.3f | %.3f | %s |" %
                         (th, ours["n"], m, ours[m], base[m], ratio(ours[m], base[m])))
    for i, m in enumerate(("R@1", "R@5")):
        lines.append("| PubMedQA (%d questions) | %s | %.3f | %.3f | %s |" %
                     (pq["n"], m, pq["ours"][i], pq["base"][i],
                      ratio(pq["ours"][i], pq["base"][i])))
    lat = sorted(lq["latency_ms"])
    lines += ["",
              "MAP@10 is trec_eval's map_cut_10; scores average over the questions with at least"
              " one relevant answer. LiveQA index: MedQuAD (%s) plus %d judged answers (%d of"
              " them replacing the MedQuAD passage of the same id), %d passages; MedQuAD import"
              " %.1f s, judged answers %.1f s; PubMedQA import %.1f s." %
              (lq["summary_medquad"], lq["judged"], lq["overlap"], lq["passages"],
               lq["import_medquad_s"], lq["import_judged_s"], pq["import_s"])]
    if lat:
        lines.append("")
        lines.append("Search latency on that index (in process, %d LiveQA questions): median"
                     " %.1f ms, p95 %.1f ms, max %.1f ms." %
                     (len(lat), statistics.median(lat), lat[int(0.95 * (len(lat) - 1))],
                      lat[-1]))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(REPO, "build", "medstream"))
    ap.add_argument("--data", default=DEFAULT_DATA, help="shared data dir (../shared/data)")
    ap.add_argument("--write", metavar="MD", help="replace the '## Retrieval' section of MD")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    a = ap.parse_args()
    data = os.path.abspath(a.data)
    if not os.path.isdir(os.path.join(data, "liveqa")):
        print("skipping retrieval benchmark: %s not found (needs ../shared/data with medquad,"
              " liveqa and pubmedqa)" % data)
        return 0
    binary = os.path.abspath(a.binary)
    if not os.access(binary, os.X_OK):
        sys.exit("no medstream binary at %s (build it, or pass its path)" % binary)
    tmp = tempfile.mkdtemp(prefix="ms-retrieval-")
    try:
        lq = bench_liveqa(binary, data, tmp)
        pq = bench_pubmedqa(binary, data, tmp)
    finally:
        if not a.keep:
            subprocess.run(["rm", "-rf", tmp])
        else:
            print("kept %s" % tmp, file=sys.stderr)
    out = report(lq, pq, binary)
    print(out)
    if a.write:
        perfmd.write_section(a.write, "Retrieval", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
