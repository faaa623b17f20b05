#!/usr/bin/env python3
"""Writes the "## Load" section of docs/performance.md from bench/run.sh results.

Usage: bench/perf_doc.py --results build-bench/bench-results --write docs/performance.md

Only the "## Load" section (up to the next "## " heading) is replaced; every
other section, such as "## Retrieval" (bench/retrieval.py), is kept as is.
"""
import argparse
import json
import os
import re

import perfmd  # bench/perfmd.py, beside this script

TARGET_KIB = 2.0
TARGET_NODE_X = 10.0
TARGET_UVICORN_X = 50.0
TARGET_JITTER_MS = 5.0

SERVERS = [("medstream", "medstream"), ("medstream-tmpfs", "medstream (data on tmpfs)"),
           ("node", "Node.js ws"), ("uvicorn", "FastAPI/uvicorn")]


def load(results, name):
    try:
        with open(os.path.join(results, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def note(results, name):
    try:
        with open(os.path.join(results, name + ".txt")) as f:
            return f.read().strip()
    except OSError:
        return ""


def fmt(v, nd=1, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float) and nd == 0:
        return "{:,.0f}{}".format(v, unit)
    if isinstance(v, float):
        return "{:,.{}f}{}".format(v, nd, unit)
    return "{:,}{}".format(v, unit)


def lat(r, key, pct="p99"):
    h = (r or {}).get(key)
    return h.get(pct) if isinstance(h, dict) else None


def srv(r, key):
    s = (r or {}).get("server")
    return s.get(key) if isinstance(s, dict) else None


def errors(r):
    if not r:
        return "not run"
    if not r.get("target"):
        return "bench failed: " + (r.get("stderr") or "exit %s" % r.get("exit_status"))
    e = {k: v for k, v in r.get("errors", {}).items() if v}
    s = ", ".join("%s %d" % kv for kv in e.items()) or "none"
    if r.get("timed_out"):
        s += " (cut at --timeout-s)"
    return s


def pct(v):
    return "n/a" if v is None else "{:,.0f} %".format(v)


def others(r):
    """CPU % of every process other than the server and the load generator."""
    m, s, c = (r or {}).get("machine_cpu_pct"), srv(r, "cpu_pct"), (r or {}).get("client_cpu_pct")
    if m is None or s is None or c is None:
        return None
    return max(0.0, m - s - c)


def ratio(a, b):
    return a / b if a and b else None


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def idle_section(res, out):
    out += ["### 1. Idle connections", "",
            "Each server holds the connections for the hold time after all are connected "
            "(`--idle`); RSS is VmRSS before connecting and at the end of the hold, so growth "
            "per connection = (holding - before) / connected. medstream's connections are "
            "authenticated (access token checked in the handshake); the peers accept anyone.", "",
            "| server | connected / failed | connect time | handshake p50 / p99 | RSS before | "
            "RSS holding | growth per connection | server CPU while idle | errors |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, label in SERVERS:
        r = res.get("idle-" + key)
        if not r:
            continue
        out.append("| %s | %s / %s | %s s | %s / %s ms | %s MiB | %s MiB | **%s KiB** | %s %% | %s |" % (
            label, fmt(r.get("connected")), fmt(r.get("failed")), fmt(r.get("connect_s"), 1),
            fmt(lat(r, "handshake_ms", "p50"), 1), fmt(lat(r, "handshake_ms"), 1),
            fmt((srv(r, "rss_before_kib") or 0) / 1024.0, 1),
            fmt((srv(r, "rss_connected_kib") or 0) / 1024.0, 1),
            fmt(srv(r, "rss_per_connection_kib"), 2), fmt(srv(r, "cpu_pct"), 1), errors(r)))
    n = note(res["_dir"], "idle-uvicorn")
    if n:
        out += ["", "uvicorn: " + n]
    out.append("")


def stream_section(res, out):
    ms = res.get("stream-medstream")
    out += ["### 2. Throughput", "",
            "1,000 connections, each asking its questions one after another and reading every "
            "answer to its `message_complete` (64 chunks of 16 bytes, no pause). Chunk frames "
            "per second = `message_chunk` frames received / time from the go to the last answer. "
            "medstream also streams its disclaimer as one more chunk (65 per answer); the "
            "ratios compare chunk frames per second as delivered. CPU: 100 % = one core; "
            "\"others\" is every other process on the machine during the run (the machine "
            "is shared).", "",
            "| server | answers/s | chunk frames/s | medstream ÷ this | first chunk p50 / p99 | "
            "answer p99 | server CPU | client CPU | others | errors |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, label in SERVERS:
        r = res.get("stream-" + key)
        if not r:
            continue
        x = ratio((ms or {}).get("chunks_per_s"), r.get("chunks_per_s"))
        xs = "1×" if key == "medstream" else "—" if key.startswith("medstream") else fmt(x, 2, "×")
        out.append("| %s | %s | **%s** | %s | %s / %s ms | %s ms | %s | %s | %s | %s |" % (
            label, fmt(r.get("answers_per_s"), 0), fmt(r.get("chunks_per_s"), 0), xs,
            fmt(lat(r, "ttfc_ms", "p50"), 1), fmt(lat(r, "ttfc_ms"), 1), fmt(lat(r, "answer_ms"), 1),
            pct(srv(r, "cpu_pct")), pct(r.get("client_cpu_pct")), pct(others(r)),
            errors(r)))
    out.append("")


def paced_section(res, out, n):
    rows = [(label, res.get("paced%d-%s" % (n, key))) for key, label in SERVERS]
    rows = [(l, r) for l, r in rows if r]
    if not rows:
        return
    c = rows[0][1].get("connections") or n
    out += ["### 3. Paced streams: %s connections at 50 chunks/s" % fmt(c), "",
            "`SYN_INTERVAL_MS=20`: every answer is 64 chunks 20 ms apart, so %s streams offer "
            "%s chunk frames/s. First questions are spread over %s ms (`--ramp-ms`), each "
            "connection asks %s in a row. Jitter = gap between consecutive chunks of an answer "
            "- 20 ms, early chunks counting 0 (medstream's disclaimer chunk follows the last "
            "one at once)." % (fmt(c), fmt(c * 50), fmt(rows[0][1].get("ramp_ms")),
                           fmt(rows[0][1].get("messages_per_connection"))), "",
            "| server | connected | chunk frames/s delivered | first chunk p99 | gap p50 / p99 | "
            "jitter p99 / p99.9 | server CPU | client CPU | others | errors |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, r in rows:
        out.append("| %s | %s | %s | %s ms | %s / %s ms | **%s** / %s ms | %s | %s | %s | %s |" % (
            label, fmt(r.get("connected")), fmt(r.get("chunks_per_s"), 0), fmt(lat(r, "ttfc_ms"), 1),
            fmt(lat(r, "gap_ms", "p50"), 1), fmt(lat(r, "gap_ms"), 1), fmt(lat(r, "jitter_ms"), 2),
            fmt(lat(r, "jitter_ms", "p999"), 2), pct(srv(r, "cpu_pct")),
            pct(r.get("client_cpu_pct")), pct(others(r)), errors(r)))
    out.append("")


INTERESTING = [
    ("main", "the event loop thread (all of lws, the chat pipeline's callbacks, encoding)"),
    ("start_thread", "the worker threads (SQLite persistence, knowledge-base retrieval)"),
    ("ms_kb_search", "knowledge-base retrieval, once per question"),
    ("sqlite3_step", "SQLite statements"),
    ("ms__store_commit", "SQLite commits"),
    ("lws_service_fd_tsi", "libwebsockets I/O service (reads, writable callbacks, handshakes)"),
    ("ms__ws_cb", "medstream's WebSocket callback"),
    ("ms__stream_append_chunk", "appending a chunk to the stream and its replay buffer"),
    ("ms__stream_emit", "fan-out of an event to the stream's subscribers"),
    ("lws_write", "framing and send()"),
    ("ms_jwt_verify", "token verification in handshakes"),
    ("ms_buf_printf", "printf-style encoding"),
]


def callgrind_total(res, name):
    """(Ir, chunks, answers, annotate text) of one callgrind run, or None."""
    r = res.get(name + "-medstream")
    path = os.path.join(res["_dir"], name + "-inclusive.txt")
    if not r or not os.path.exists(path):
        return None
    text = open(path).read()
    m = re.search(r"^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", text, re.M)
    if not m:
        return None
    return int(m.group(1).replace(",", "")), r.get("chunks") or 0, r.get("answers") or 0, text


def callgrind_section(res, out):
    a = callgrind_total(res, "callgrind")
    if not a:
        return
    total, chunks, answers, text = a
    r = res["callgrind-medstream"]
    out += ["### 4. Instructions per delivered chunk", "",
            "medstream under `valgrind --tool=callgrind`, %s connections × %s answers (the "
            "handshakes included, the login and start-up excluded: counters zeroed with "
            "`callgrind_control -z` after a warm-up, dumped with `callgrind_control -d`; all "
            "threads). The same workload with 640-chunk answers (`SYN_CHUNKS=640`) separates "
            "what a chunk costs from what an answer costs: marginal Ir per chunk = "
            "(Ir₆₄₀ - Ir₆₄) / (chunks₆₄₀ - chunks₆₄)." % (
                fmt(r.get("connections")), fmt(r.get("messages_per_connection"))), "",
            "| answer size | instructions (Ir) | chunks delivered | answers | **Ir per chunk** | "
            "Ir per answer |", "| --- | --- | --- | --- | --- | --- |"]
    b = callgrind_total(res, "callgrind640")
    for label, t in (("64 chunks", a), ("640 chunks", b)):
        if t:
            out.append("| %s | %s | %s | %s | **%s** | %s |" % (
                label, fmt(t[0]), fmt(t[1]), fmt(t[2]),
                fmt(t[0] / t[1] if t[1] else None, 0), fmt(t[0] / t[2] if t[2] else None, 0)))
    if a and b and b[1] > a[1]:
        marg = (b[0] - a[0]) / (b[1] - a[1])
        per_answer = (a[0] - marg * a[1]) / a[2] if a[2] else None
        out += ["", "**Marginal cost of one more chunk: %s instructions**; fixed cost per answer "
                "(handshake share, question, persistence, retrieval): %s instructions." % (
                    fmt(marg, 0), fmt(per_answer, 0))]
    out += ["", "Where the 64-chunk run's instructions go (inclusive):", "",
            "| function | Ir | share | Ir per chunk | what |", "| --- | --- | --- | --- | --- |"]
    for fn, what in INTERESTING:
        mm = re.search(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+\S*:" + re.escape(fn) + r"(?:'\d+)? ",
                       text, re.M)
        if not mm:
            continue
        ir = int(mm.group(1).replace(",", ""))
        out.append("| `%s` | %s | %s %% | %s | %s |" % (fn, fmt(ir), mm.group(2),
                                                      fmt(ir / chunks if chunks else None, 0), what))
    out.append("")


def floor_section(res, out):
    f = res.get("floor")
    if not f:
        return
    out += ["### 5. The kernel's floor", "",
            "`tcp-floor` (bench/tcp_floor.c) has no server and no WebSocket: one process "
            "writes a %s-byte message (a VoiceAssist chunk frame on the wire) on each of %s "
            "loopback TCP connections in turn, one `send()` each with `TCP_NODELAY`, as a "
            "paced stream needs; a second process reads them with epoll. It is what any "
            "server on this machine pays when every chunk is its own TCP segment." % (
                fmt(f.get("bytes")), fmt(f.get("connections"))), "",
            "| connections | messages/s delivered | CPU per message (sender + receiver) | "
            "sender CPU | receiver CPU |", "| --- | --- | --- | --- | --- |",
            "| %s | %s | **%s µs** | %s s | %s s |" % (
                fmt(f.get("connections")), fmt(f.get("messages_per_s"), 0),
                fmt(f.get("cpu_us_per_message"), 2), fmt(f.get("sender_cpu_s"), 2),
                fmt(f.get("receiver_cpu_s"), 2)), ""]
    cores = (res.get("_machine") or {}).get("cores") or 2
    per = f.get("cpu_us_per_message")
    if per:
        out += ["At that cost the machine's %s cores deliver at most %s separate messages per "
                "second with nothing else running, so %s paced streams (one segment per stream "
                "every 20 ms, within 5 ms) fit at best; 10,000 streams offer 500,000 frames/s." % (
                    cores, fmt(cores * 1e6 / per, 0), fmt(cores * 1e6 / per / 50, 0)), ""]


def per_answer_text(res):
    a, b = callgrind_total(res, "callgrind"), callgrind_total(res, "callgrind640")
    if not (a and b and b[1] > a[1] and a[2]):
        return ("Knowledge-base retrieval and SQLite dominate the callgrind table; the "
                "streaming path itself is a small share.")
    marg = (b[0] - a[0]) / (b[1] - a[1])
    fixed = (a[0] - marg * a[1]) / a[2]
    m = re.search(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*:ms_kb_search ", a[3], re.M)
    kb = int(m.group(1).replace(",", "")) / a[2] if m else None
    paced = res.get("paced10000-medstream") or {}
    t = ("The callgrind pair says one more chunk costs %s instructions and one answer %s, "
         "so with 64-chunk answers %.0f %% of the server's instructions are spent per answer, "
         "not per chunk (callgrind counts user space only; system calls come on top)." % (
             fmt(marg, 0), fmt(fixed, 0), 100.0 * fixed * a[2] / a[0]))
    if kb:
        t += " Knowledge-base retrieval (`ms_kb_search`) is %s of them." % fmt(kb, 0)
    if paced.get("connections") and lat(paced, "ttfc_ms"):
        t += (" %s questions arriving within %s ms give a %s ms first-chunk p99 in "
              "scenario 3." % (fmt(paced["connections"]), fmt(paced.get("ramp_ms")),
                               fmt(lat(paced, "ttfc_ms"), 0)))
    return t


def summary(res, out):
    idle = {k: srv(res.get("idle-" + k), "rss_per_connection_kib") for k, _ in SERVERS}
    tp = {k: (res.get("stream-" + k) or {}).get("chunks_per_s") for k, _ in SERVERS}
    paced = res.get("paced10000-medstream")
    jit = lat(paced, "jitter_ms")
    tmpfs = tp.get("medstream-tmpfs")
    xn, xu = ratio(tp["medstream"], tp["node"]), ratio(tp["medstream"], tp["uvicorn"])
    out += ["### Against the targets", "",
            "| target | measured | |", "| --- | --- | --- |",
            "| ≤ %.0f KiB server RSS per idle connection (Node ws ≈ 8, uvicorn ≈ 100) | medstream "
            "%s KiB; Node ws %s KiB; uvicorn %s KiB | %s |" % (
                TARGET_KIB, fmt(idle["medstream"], 2), fmt(idle["node"], 2), fmt(idle["uvicorn"], 2),
                verdict(None if idle["medstream"] is None else idle["medstream"] <= TARGET_KIB)),
            "| ≥ %.0f× Node ws chunk frames/s | %s (%s vs %s frames/s; data on tmpfs: %s) | %s |" % (
                TARGET_NODE_X, fmt(xn, 2, "×"), fmt(tp["medstream"], 0), fmt(tp["node"], 0),
                fmt(ratio(tmpfs, tp["node"]), 2, "×"),
                verdict(None if xn is None else xn >= TARGET_NODE_X)),
            "| ≥ %.0f× uvicorn chunk frames/s | %s (%s vs %s frames/s; data on tmpfs: %s) | %s |" % (
                TARGET_UVICORN_X, fmt(xu, 2, "×"), fmt(tp["medstream"], 0), fmt(tp["uvicorn"], 0),
                fmt(ratio(tmpfs, tp["uvicorn"]), 2, "×"),
                verdict(None if xu is None else xu >= TARGET_UVICORN_X)),
            "| p99 inter-chunk jitter < %.0f ms at 10,000 paced streams | %s ms (%s of %s chunk "
            "frames/s delivered)%s | %s |" % (
                TARGET_JITTER_MS, fmt(jit, 1), fmt((paced or {}).get("chunks_per_s"), 0),
                fmt(((paced or {}).get("connections") or 0) * 50), floor_note(res, paced),
                verdict(None if jit is None else jit < TARGET_JITTER_MS)),
            ""]
    cap = capacity(res)
    if cap:
        out[-1:-1] = ["| (for comparison) most paced streams held at p99 jitter < %.0f ms, of %s "
                      "| %s | |" % (TARGET_JITTER_MS, ", ".join(fmt(n) for n in cap["counts"]),
                                    "; ".join("%s %s" % (label, cap[key]) for key, label in SERVERS
                                              if key in cap))]


def floor_note(res, paced):
    """Why the 10,000-stream target is out of reach here, from tcp-floor."""
    f = res.get("floor")
    if not f or not f.get("cpu_us_per_message") or not paced:
        return ""
    need = (paced.get("connections") or 0) * 50 * f["cpu_us_per_message"] / 1e6
    return ("; the kernel alone needs %s µs of CPU per chunk sent as its own TCP segment "
            "(tcp-floor, no server), so %s frames/s take %.1f cores of the machine's %s" % (
                fmt(f["cpu_us_per_message"], 1), fmt((paced.get("connections") or 0) * 50),
                need, (res.get("_machine") or {}).get("cores", "?")))


def capacity(res):
    """Per server, the largest paced count whose jitter p99 was under target."""
    counts = sorted({int(m.group(1)) for k in res
                     for m in [re.match(r"paced(\d+)-", k)] if m})
    if len(counts) < 2:
        return None
    cap = {"counts": counts}
    for key, _ in SERVERS:
        ok = [n for n in counts if (lambda j: j is not None and j < TARGET_JITTER_MS)(
            lat(res.get("paced%d-%s" % (n, key)), "jitter_ms"))]
        ran = [n for n in counts if res.get("paced%d-%s" % (n, key))]
        if ran:
            cap[key] = fmt(max(ok)) if ok else "none"
    return cap


ANALYSIS = """### Where medstream's time and memory go

What was found and changed, and what is left. The numbers in the tables
above are from the current code.

- **Idle memory.** massif had each idle connection at ~10 KiB of heap,
  8 KiB of it lws' WebSocket receive buffer (lws' default). The buffer is now
  `--rx-buffer-bytes` (default 128: client messages are reassembled from
  fragments up to `--max-frame-bytes`), handshake-only strings stay on the
  stack, and an idle session gives back its write-batch and receive buffers.
  What remains is mostly lws' own `struct lws` (~1.2 KiB), its ws part and
  the libuv poll handle (~0.5 KiB), and medstream's 264-byte session.
- **Connection set-up.** lws 4.1 keeps timers in one sorted list, so a
  per-connection validity timer cost an O(N) insert each (34 % of samples in
  `lws_dll2_add_sorted` during the 18,000-connection ramp). The server now
  runs without validity timers (`retry_and_idle_policy` with zero seconds)
  and relies on TCP keepalive (60 s idle, 3 probes 10 s apart) for dead peers.
{PERANSWER}
- **Persistence.** Each answer's writes (new conversation, user turn, final
  message) go to one writer thread that commits every queued write in one
  transaction (group commit). perf then had that thread at 63 % of the
  server's samples, mostly in `pwrite`; strace counted 30.8 MB written per
  1,000 answers for ~1.2 MB of text. Two causes: random (version 4) UUID
  primary keys, so every row dirtied its own B-tree page, and the savepoint
  sub-journal (one per job inside the group commit) going to a temporary
  file. Row ids are now time-ordered UUIDv7 (RFC 9562 section 5.7) and
  `temp_store=MEMORY`: 10.6 MB per 1,000 answers, the writer thread about
  half of the server's CPU. The synthetic provider skips the knowledge-base
  search it would not use.
- **Per chunk.** A chunk is encoded into a reused buffer and appended, framed,
  to the session's batch; every session's batch is written once per loop
  iteration (one `send()` for all the chunks a stream produced in that
  iteration), and the writable callback is armed only when lws had to keep
  an unsent tail. A client that falls behind gets the deltas waiting for it
  merged, one frame per message (up to 16 KiB of text) instead of one per
  chunk (see "Write path (WebSocket)" below for the write path and its
  measurements).
- **Throughput (missed).** Server and load generator together use both
  cores (the CPU columns); the load generator alone needs about 0.7 core,
  half of it in lws' client, which parses frames a byte at a time. With
  64-chunk answers most of the server's work is per answer (persistence and
  the start and end of the turn), not per chunk. 10× Node ws is about
  1,000,000 chunk frames/s (15,000 answers/s with their writes) and 50×
  uvicorn over 6,000,000; neither fits two cores shared with the client.
- **Paced streams.** The synthetic provider used a repeating uv_timer per
  stream, which re-arms at *loop time* + 20 ms: every tick that fired late
  joined the phase of the others fired in the same iteration, so over an
  answer 1,000 streams collapsed into a few phases whose `send()`s took
  10-15 ms in a row (perf sched), and jitter p99 at 1,000 streams was
  16-20 ms (Node: 6.8). Both paced providers now emit on a fixed grid
  (start + k × interval), as a model's tokens arrive whatever the gateway is
  doing, and chunks that fell due while the loop was busy go out together
  in one write.
- **Paced streams at 10,000 (missed, out of reach here).** A stream needs
  one TCP segment per chunk to keep its gaps within 5 ms of 20 ms, so
  10,000 streams need 500,000 `send()`s per second. Section 5 measures what
  the kernel alone charges for that on this machine, with no server at all:
  more CPU than two cores have. Past that point every server here falls
  behind and its jitter is queueing; the sweep (1,000 to 3,000 streams)
  shows where each server stops keeping up. Overloaded, medstream still
  delivers more chunk frames per second than one `send()` each would allow,
  because the chunks that fell due while the loop was busy share a write
  (hence its gap p50 of 0 at 10,000).
- **Shared machine.** The box has 2 cores and the load generator runs on
  the same cores as the server (its CPU is the "client CPU" column); other
  engineers' jobs may run too (the "others" column, and the load average
  before each run in the commands below). Repeat `make bench` on a quiet
  machine before quoting small differences.
"""

METHOD = """### How it is measured

`make bench` runs `bench/run.sh`, which starts each server fresh for each
scenario (its own temporary data directory; SQLite on the temp disk unless
noted), waits for `/health`, runs `medstream bench` against it with `--pid`
so that RSS (VmRSS) and CPU (utime + stime from `/proc/PID/stat`, 100 % = one
core) are sampled around the phases, stops it, and finally writes this
section with `bench/perf_doc.py`. Servers:

    SYN_CHUNKS=64 SYN_CHUNK_BYTES=16 [SYN_INTERVAL_MS=20] medstream serve --provider synthetic \\
        --listen 127.0.0.1:PORT --data-dir TMP --log-level warn --login-rate-per-min 1000 \\
        --max-connections 19000 --max-live-turns 1000000 --max-turns-per-user 100000 \\
        --user-turns-per-min 1000000 --ws-rate-per-s 0 --ws-max-inflight 1000
    SYN_CHUNKS=64 SYN_CHUNK_BYTES=16 [SYN_INTERVAL_MS=20] PORT=PORT node server.js   # copy of ../shared/peers/node-ws
    SYN_CHUNKS=64 SYN_CHUNK_BYTES=16 [SYN_INTERVAL_MS=20] PORT=PORT /usr/bin/python3 ../shared/peers/fastapi/server.py
    SYN_CHUNKS=64|640 valgrind --tool=callgrind medstream serve --provider synthetic ...   # scenario 4

`medstream bench` (src/bench) opens the connections on a libwebsockets 4.1
client context over libuv (epoll), at most `--concurrency` (200) handshakes
in flight so no listen backlog overflows, bound to source addresses
127.0.x.1 .. 127.0.x.16 (a fresh /24 for every run, so ports in TIME_WAIT
from the previous run never run out), and forks more worker processes when
the connections would pass the open-files limit (raised to the hard limit
first); workers report through pipes as JSON and the coordinator merges them.
All connections are established (and have received `connected`) before
the first question; the run phase is timed from then to the last
`message_complete`. Latencies go into log-linear histograms (HdrHistogram
layout, 128 sub-buckets per power of two: < 0.8 % error, 34 KiB each,
merged across processes). Events are read with a scanner that looks only
at the top-level `type` and `seq`/`chunk_index`: 166 ns per chunk event
against 1,989 ns for a full jansson parse (measured on this machine). Each
client connection reads up to 4 KiB per `recv()` (a whole answer in one to
three calls); what the client still costs is the kernel's receive path and
lws' client-side frame parser.

{DIALECT} Either way medstream does more per answer than the peers: it
persists the question and the answer (fsync'd, group-committed), keeps
every answer in a replay buffer for resumption and checkpoints long ones,
so the comparison is of the gateways as built, not of bare WebSocket
framing.
"""


def commands(res, out):
    out += ["### Exact commands", "",
            "As run by `bench/run.sh` (PIDs and ports vary; `$MEDSTREAM_PASSWORD` is the "
            "bench user's password):", "", "```"]
    for name in sorted(k for k in res if not k.startswith("_") and k != "floor"):
        r = res[name]
        if isinstance(r, dict) and r.get("command"):
            out.append("# %s (%s, load average before: %s)" % (name, r.get("server_name"),
                                                              r.get("loadavg_before")))
            out.append(r["command"])
    if (res.get("floor") or {}).get("command"):
        out += ["# floor", res["floor"]["command"]]
    out += ["```", ""]


def build(results):
    res = {"_dir": results}
    for f in sorted(os.listdir(results)):
        if f.endswith(".json") and f != "machine.json":
            res[f[:-5]] = load(results, f[:-5])
    mach = load(results, "machine") or {}
    res["_machine"] = mach
    out = ["## Load", ""]
    if mach.get("quick"):
        out += ["> **Smoke test only** (`bench/run.sh --quick`): small counts, not results.", ""]
    out += ["Measured by `make bench` on %s (commit %s): %s cores (%s), %s GiB, open files %s; "
            "libwebsockets %s, libuv %s; Node %s with ws %s; %s, uvicorn %s, FastAPI %s. "
            "Busiest processes before the run (≥ 5 %% CPU): %s." % (
                mach.get("date", "?"), mach.get("git", "?"), mach.get("cores", "?"),
                mach.get("cpu", "?"), mach.get("mem_gib", "?"), mach.get("nofile", "?"),
                mach.get("lws", "?"), mach.get("libuv", "?"), mach.get("node", "?"),
                mach.get("ws", "?"), mach.get("python", "?"), mach.get("uvicorn", "?"),
                mach.get("fastapi", "?"), mach.get("busy_before") or "none"), ""]
    summary(res, out)
    idle_section(res, out)
    stream_section(res, out)
    paced_section(res, out, 10000)
    for k in sorted(res):
        m = re.match(r"paced(\d+)-medstream$", k)
        if m and int(m.group(1)) != 10000:
            paced_section(res, out, int(m.group(1)))
    callgrind_section(res, out)
    floor_section(res, out)
    d, t = (res.get("stream-medstream") or {}), (res.get("stream-medstream-tmpfs") or {})
    if d.get("chunks_per_s") and t.get("chunks_per_s"):
        x = t["chunks_per_s"] / d["chunks_per_s"]
        tm = ("In scenario 2 the data directory on tmpfs (no fsync cost) gives %.2f× the chunk "
              "rate of the same server on disk (%s against %s chunk frames/s), so %s" % (
                  x, fmt(t["chunks_per_s"], 0), fmt(d["chunks_per_s"], 0),
                  "fsync of those commits is a large part of the limit." if x >= 1.3 else
                  "the limit is the work per question and the event loop, not fsync "
                  "(turn writes are group-committed by one writer thread)."))
    else:
        tm = ""
    bullet = "- **Per answer, not per chunk.** " + per_answer_text(res) + (" " + tm if tm else "")
    out.append(ANALYSIS.replace("{PERANSWER}", __import__("textwrap").fill(
        bullet, 76, subsequent_indent="  ", break_on_hyphens=False)))
    dialects = {r.get("dialect") for k, r in res.items()
                if k.endswith("-medstream") and isinstance(r, dict) and r.get("dialect")}
    if dialects == {"voiceassist"}:
        dl = ("medstream is measured with the **VoiceAssist** dialect (`/api/realtime/ws`, "
              "the access token as `?token=`), the same frames as the peers: bench/run.sh "
              "probes medstream's `/api/realtime/ws` and uses it when the upgrade succeeds "
              "(otherwise the native protocol, `/api/ws` with a Bearer token).")
    elif dialects == {"native"}:
        dl = ("medstream is measured with its **native** protocol (`/api/ws`, Bearer token, "
              "`message_chunk` with `seq`) because it did not serve the VoiceAssist dialect "
              "when this ran; the peers with the **VoiceAssist** dialect (`/api/realtime/ws`). "
              "bench/run.sh probes medstream's `/api/realtime/ws` first and uses it when the "
              "upgrade succeeds.")
    else:
        dl = "medstream's dialect per run is in the commands below."
    out.append(METHOD.replace("{DIALECT}", "\n".join(__import__("textwrap").wrap(dl, 76))))
    commands(res, out)
    return "\n".join(out).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", required=True, help="directory of bench/run.sh results")
    ap.add_argument("--write", metavar="MD", help="replace the '## Load' section of MD")
    a = ap.parse_args()
    section = build(a.results)
    if a.write:
        perfmd.write_section(a.write, "Load", section)
    else:
        print(section, end="")


if __name__ == "__main__":
    main()
