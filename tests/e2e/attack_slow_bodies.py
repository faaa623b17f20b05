#!/usr/bin/python3
"""The probe's memory-exhaustion attack on request bodies, as a script (not
a pytest test: it takes minutes and measures, it does not assert).

N connections each send a request head announcing a large body, most of
that body at once, then one byte every --interval-s seconds, so that a
server resetting its timeout on every byte keeps them all and their bodies
for ever. The server's VmRSS is sampled before and while the connections
are held; what each connection got back is counted.

    /usr/bin/python3 tests/e2e/attack_slow_bodies.py --bin build/medstream \\
        --connections 1000 --body-bytes 1000000 --hold-s 70 --route login

--route login         POST /api/auth/login (no token needed)
--route conversations POST /api/conversations with a valid access token
--route trickle       POST /api/conversations, token, no prefill: the body
                      only trickles (the total body deadline closes them)
"""

import argparse
import json
import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_ready(port, proc, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit("server not ready")


def register(port):
    body = json.dumps({"email": f"attacker-{time.time_ns()}@example.test",
                       "password": "correct horse battery"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/auth/register", data=body,
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())["access_token"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--body-bytes", type=int, default=1_000_000)
    ap.add_argument("--interval-s", type=float, default=20)
    ap.add_argument("--hold-s", type=float, default=70)
    ap.add_argument("--route", choices=["login", "conversations", "trickle"], default="login")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--server-arg", action="append", default=[])
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="ms-attack-")
    port = a.port or 18000 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSTREAM_")}
    proc = subprocess.Popen([a.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                             f"{tmp}/data", "--log-level", "error", "--login-rate-per-min",
                             "100000", *a.server_arg], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(f"{tmp}/stderr.log", "w"))
    try:
        wait_ready(port, proc)
        token = register(port) if a.route != "login" else None
        time.sleep(1)
        rss0 = rss_kib(proc.pid)
        path = "/api/auth/login" if a.route == "login" else "/api/conversations"
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {a.body_bytes}\r\n"
                + (f"Authorization: Bearer {token}\r\n" if token else "") + "\r\n").encode()
        prefill = 0 if a.route == "trickle" else a.body_bytes - 64
        sel = selectors.DefaultSelector()
        conns = {}
        t0 = time.monotonic()
        for i in range(a.connections):
            s = socket.create_connection(("127.0.0.1", port))
            s.setblocking(False)
            c = {"sock": s, "out": head + b"{" + b" " * (prefill - 1) if prefill else head,
                 "sent_body": prefill, "status": None, "closed_at": None, "next": 0.0, "in": b""}
            conns[s.fileno()] = c
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        peak = rss0
        samples = []
        last_sample = 0.0
        while time.monotonic() - t0 < a.hold_s:
            now = time.monotonic()
            for key, ev in sel.select(timeout=0.2):
                c = key.data
                s = c["sock"]
                if ev & selectors.EVENT_READ:
                    try:
                        d = s.recv(65536)
                    except BlockingIOError:
                        d = None
                    except ConnectionResetError:
                        d = b""
                    if d is None:
                        pass
                    elif not d:
                        c["closed_at"] = now - t0
                        sel.unregister(s)
                        s.close()
                        continue
                    else:
                        c["in"] += d
                        if c["status"] is None and c["in"].startswith(b"HTTP/1."):
                            c["status"] = int(c["in"].split(b" ")[1])
                if ev & selectors.EVENT_WRITE and c["out"]:
                    try:
                        n = s.send(c["out"])
                        c["out"] = c["out"][n:]
                    except (BrokenPipeError, ConnectionResetError):
                        c["closed_at"] = now - t0
                        sel.unregister(s)
                        s.close()
                        continue
                    except BlockingIOError:
                        pass
                    if not c["out"]:
                        sel.modify(s, selectors.EVENT_READ, c)
            # One more body byte on every open connection each interval.
            for c in conns.values():
                if c["closed_at"] is None and not c["out"] and now >= c["next"] \
                        and c["sent_body"] < a.body_bytes - 1:
                    c["next"] = now + a.interval_s
                    try:
                        c["sock"].send(b" ")
                        c["sent_body"] += 1
                    except (BrokenPipeError, ConnectionResetError, BlockingIOError, OSError):
                        pass
            if now - last_sample >= 1:
                last_sample = now
                r = rss_kib(proc.pid)
                peak = max(peak, r)
                samples.append((round(now - t0), r))
        rss_end = rss_kib(proc.pid)
        open_ = sum(1 for c in conns.values() if c["closed_at"] is None)
        statuses = {}
        for c in conns.values():
            statuses[str(c["status"])] = statuses.get(str(c["status"]), 0) + 1
        closed_times = sorted(c["closed_at"] for c in conns.values() if c["closed_at"] is not None)
        report = {
            "bin": a.bin, "route": a.route, "connections": a.connections,
            "body_bytes": a.body_bytes, "interval_s": a.interval_s, "hold_s": a.hold_s,
            "rss_before_mib": round(rss0 / 1024, 1), "rss_peak_mib": round(peak / 1024, 1),
            "rss_end_mib": round(rss_end / 1024, 1), "still_open": open_,
            "responses": statuses,
            "closed_by_server_median_s": closed_times[len(closed_times) // 2] if closed_times else None,
            "server_alive": proc.poll() is None,
        }
        print(json.dumps(report))
        for c in conns.values():
            if c["closed_at"] is None:
                c["sock"].close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
