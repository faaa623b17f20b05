"""Helpers for the medstream end-to-end tests (used by conftest.py and tests).

Everything here talks to a real `medstream serve` process over loopback:
REST through `requests`, the native WebSocket protocol v1 through
`websockets` 10.4 (the Debian package). The contract is docs/protocol.md.
"""

import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests
import websockets
import websockets.exceptions

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parent / "data"
E2E_KB = DATA_DIR / "e2e_kb.jsonl"

# Generous limits: they only stop a hung test, they never measure speed
# (the suite also runs under ASan+UBSan, which is several times slower).
READY_TIMEOUT = float(os.environ.get("MEDSTREAM_E2E_READY_TIMEOUT", "90"))
EVENT_TIMEOUT = float(os.environ.get("MEDSTREAM_E2E_EVENT_TIMEOUT", "60"))
HTTP_TIMEOUT = float(os.environ.get("MEDSTREAM_E2E_HTTP_TIMEOUT", "120"))
IMPORT_TIMEOUT = float(os.environ.get("MEDSTREAM_E2E_IMPORT_TIMEOUT", "1800"))
STOP_GRACE = 5.0

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "ERROR: ThreadSanitizer",
    "WARNING: ThreadSanitizer",  # data races: TSan reports them as warnings
)

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CAPABILITIES = {"streaming", "resume", "cancel", "citations", "idempotency"}
DEFAULT_PASSWORD = "correct horse battery staple"


def medstream_bin() -> str:
    """The binary under test: $MEDSTREAM_BIN (ctest sets it) or build/medstream."""
    b = os.environ.get("MEDSTREAM_BIN")
    p = Path(b) if b else REPO_ROOT / "build" / "medstream"
    if not p.is_absolute():
        # Relative to the current directory first, then to the repo root.
        p = p.resolve() if p.exists() else (REPO_ROOT / p)
    return str(p)


# The default medical disclaimer (src/core/config.c), which ends every answer.
DISCLAIMER_TEXT = ("Medical disclaimer: this information is for education only and is not a "
                   "substitute for professional medical advice, diagnosis or treatment. Always "
                   "consult a qualified clinician about a specific patient.")


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment for a medstream process: ours minus MEDSTREAM_* (each
    flag has an env twin, so a stray variable would change the server under
    test), plus sanitizer options that make reports readable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSTREAM_")}
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    if extra:
        env.update(extra)
    return env


def tail(path: Path, lines: int = 60) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError:
        return "<no log>"
    return "\n".join(data[-lines:])


def sanitizer_report(text: str) -> Optional[str]:
    for pat in SANITIZER_PATTERNS:
        i = text.find(pat)
        if i >= 0:
            start = text.rfind("\n", 0, max(0, i - 200)) + 1
            return text[start : start + 6000]
    return None


def kb_import(bin_path: str, data_dir: Path, fmt: str, path: Path,
              timeout: float = IMPORT_TIMEOUT) -> str:
    """`medstream kb import` before the server starts on that dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [bin_path, "kb", "import", "--data-dir", str(data_dir), "--format", fmt, str(path)]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=child_env())
    out = (r.stdout or "") + (r.stderr or "")
    rep = sanitizer_report(out)
    assert rep is None, f"sanitizer report from {' '.join(cmd)}:\n{rep}"
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{out[-4000:]}"
    return out


def jwt_parts(token: str):
    def dec(s):
        s += "=" * (-len(s) % 4)
        return json.loads(base64.urlsafe_b64decode(s))
    h, p, _sig = token.split(".")
    return dec(h), dec(p)


def b64url(obj) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def http_from(server: "Server", source_ip: str, method: str, path: str, body=None):
    """One HTTP request from a given loopback source address (127.0.0.x):
    returns (status, parsed JSON body or None)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HTTP_TIMEOUT,
                                      source_address=(source_ip, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def ws_handshake(server: "Server", headers: Dict[str, str], path: str = "/api/ws"):
    """Sends a raw WebSocket upgrade request (independent of a client
    library's strictness). Returns (status_line, status_code, headers dict
    with lower-case names, body bytes); the body is read only for a non-101
    response with a Content-Length."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=HTTP_TIMEOUT)
    try:
        headers = dict(headers)
        host = headers.pop("Host", f"127.0.0.1:{server.port}")
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
        for k, v in headers.items():
            req += f"{k}: {v}\r\n"
        s.sendall((req + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        line = lines[0]
        hdrs = {}
        for h in lines[1:]:
            k, _, v = h.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        parts = line.split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        if status != 101 and "content-length" in hdrs:
            want = int(hdrs["content-length"])
            while len(body) < want:
                d = s.recv(4096)
                if not d:
                    break
                body += d
        return line, status, hdrs, body
    finally:
        s.close()


def ws_handshake_status(server: "Server", headers: Dict[str, str], path: str = "/api/ws"):
    """(status_line, status_code) of a raw WebSocket upgrade request."""
    line, status, _h, _b = ws_handshake(server, headers, path)
    return line, status


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(resp: requests.Response, status: int, code: Optional[str] = None):
    """The REST error model: `{"error":{"code","message"}}` with the status."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url}: expected {status}, got "
        f"{resp.status_code}: {resp.text[:500]}")
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {resp.text[:500]!r}")
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    err = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], body
    assert isinstance(err.get("message"), str) and err["message"], body
    if code is not None:
        assert err["code"] == code, f"expected error code {code!r}, got {body}"
    return err


class Server:
    """One `medstream serve` process with its own port and data dir."""

    def __init__(self, bin_path: str, data_dir: Path, log_dir: Path, flags: Dict[str, Any],
                 provider: Optional[str] = None, env: Optional[Dict[str, str]] = None):
        self.bin = bin_path
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.flags = dict(flags)
        self.provider = provider
        self.extra_env = env or {}
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.stderr_path = self.log_dir / "stderr.log"
        self.stdout_path = self.log_dir / "stdout.log"
        self.expected_exit = False  # set when a test kills the server on purpose
        self.stopped = False
        self.session = requests.Session()

    # ---- lifecycle -------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def argv(self) -> List[str]:
        args = [self.bin, "serve", "--listen", f"127.0.0.1:{self.port}",
                "--data-dir", str(self.data_dir)]
        if self.provider:
            args += ["--provider", self.provider]
        for k, v in self.flags.items():
            if v is None or v is False:
                continue
            args.append("--" + k.replace("_", "-"))
            if v is not True:
                args.append(str(v))
        return args

    def start(self):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        assert os.access(self.bin, os.X_OK), (
            f"medstream binary not found or not executable: {self.bin} "
            "(set MEDSTREAM_BIN or build into build/)")
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
                err.write(f"\n=== {' '.join(self.argv())}\n".encode())
                err.flush()
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=err, env=child_env(self.extra_env))
            self.stopped = False
            self.expected_exit = False
            status = self.wait_ready(READY_TIMEOUT)
            if status == "ready":
                return self
            last = tail(self.stderr_path)
            if status == "exited" and re.search(r"in use|EADDRINUSE", last, re.I):
                continue  # lost the port race; try another one
            break
        self.kill()
        raise AssertionError(f"medstream did not become ready ({' '.join(self.argv())}):\n{last}")

    def wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            try:
                r = requests.get(self.base_url + "/ready", timeout=2)
                if r.status_code == 200:
                    return "ready"
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return "timeout"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """Crash simulation: SIGKILL, no chance to clean up."""
        self.expected_exit = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> Optional[str]:
        """SIGTERM, SIGKILL after 5 s. Returns a problem description (the
        server died on its own, or a sanitizer reported) or None."""
        if self.proc is None or self.stopped:
            return None
        self.stopped = True
        self.session.close()
        problem = None
        rc = self.proc.poll()
        if rc is not None and not self.expected_exit:
            problem = f"medstream exited by itself with status {rc} before teardown"
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        rep = self.sanitizer_report()
        if rep:
            problem = (problem + "; " if problem else "") + "sanitizer report:\n" + rep
        if problem:
            problem += "\n--- stderr tail ---\n" + tail(self.stderr_path)
        return problem

    def sanitizer_report(self) -> Optional[str]:
        try:
            return sanitizer_report(self.stderr_path.read_text(errors="replace"))
        except OSError:
            return None

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, lines: int = 60) -> str:
        return tail(self.stderr_path, lines)

    # ---- REST ------------------------------------------------------------
    def api(self, method: str, path: str, token: Optional[str] = None, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers.update(bearer(token))
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.session.request(method, self.base_url + path, headers=headers, **kw)

    def register(self, email: Optional[str] = None, password: str = DEFAULT_PASSWORD) -> Dict:
        """Registers a new clinician; returns the 201 body (user, access_token,
        refresh_token, ...) plus "email" and "password" for convenience."""
        email = email or f"e2e-{uuid.uuid4().hex[:12]}@example.test"
        r = self.api("POST", "/api/auth/register", json={"email": email, "password": password})
        assert r.status_code == 201, f"register {email}: {r.status_code} {r.text[:500]}"
        body = r.json()
        body["email"] = email
        body["password"] = password
        return body

    def login(self, email: str, password: str = DEFAULT_PASSWORD) -> Dict:
        r = self.api("POST", "/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, f"login {email}: {r.status_code} {r.text[:500]}"
        return r.json()

    def create_conversation(self, token: str, title: Optional[str] = None) -> Dict:
        body = {} if title is None else {"title": title}
        r = self.api("POST", "/api/conversations", token, json=body)
        assert r.status_code == 201, f"create conversation: {r.status_code} {r.text[:500]}"
        return r.json()

    def messages(self, token: str, conversation_id: str) -> List[Dict]:
        r = self.api("GET", f"/api/conversations/{conversation_id}/messages", token)
        assert r.status_code == 200, f"list messages: {r.status_code} {r.text[:500]}"
        return r.json()["messages"]

    def message(self, token: str, conversation_id: str, message_id: str) -> Dict:
        for m in self.messages(token, conversation_id):
            if m["id"] == message_id:
                return m
        raise AssertionError(f"message {message_id} not stored in {conversation_id}")

    def wait_message_status(self, token: str, conversation_id: str, message_id: str,
                            statuses=("complete",), timeout: float = EVENT_TIMEOUT) -> Dict:
        deadline = time.monotonic() + timeout
        m = None
        while time.monotonic() < deadline:
            m = self.message(token, conversation_id, message_id)
            if m["status"] in statuses:
                return m
            time.sleep(0.1)
        raise AssertionError(f"message {message_id} still {m and m['status']!r} after "
                             f"{timeout}s (wanted {statuses})")

    def ws_ticket(self, token: str) -> str:
        r = self.api("POST", "/api/ws-ticket", token)
        assert r.status_code == 200, f"ws-ticket: {r.status_code} {r.text[:500]}"
        return r.json()["ticket"]

    def __repr__(self):
        return f"<medstream {self.base_url} data={self.data_dir}>"


class ServerManager:
    """Starts servers under a base directory and stops them all at the end."""

    def __init__(self, base: Path):
        self.base = Path(base)
        self.servers: List[Server] = []
        self.n = 0

    def start(self, *, data_dir: Optional[Path] = None, provider: Optional[str] = "offline",
              kb: Optional[List] = None, env: Optional[Dict[str, str]] = None,
              bin_path: Optional[str] = None, **flags) -> Server:
        """start_server(**flags): flags as in `medstream serve` with dashes
        as underscores (word_interval_ms=15 -> --word-interval-ms 15).
        kb=[(format, path), ...] is imported into the data dir first.
        data_dir=an existing server's data_dir restarts on the same data."""
        self.n += 1
        run_dir = self.base / f"server{self.n}"
        data_dir = Path(data_dir) if data_dir else run_dir / "data"
        bin_path = bin_path or medstream_bin()
        flags.setdefault("log_level", os.environ.get("MEDSTREAM_E2E_LOG_LEVEL", "debug"))
        # register and login share a per-address limit (20/min by default);
        # every test client is 127.0.0.1, so lift it unless a test sets it
        # (login_rate_per_min=None keeps the server's default).
        flags.setdefault("login_rate_per_min", 100000)
        for fmt, path in kb or []:
            kb_import(bin_path, data_dir, fmt, Path(path))
        srv = Server(bin_path, data_dir, run_dir, flags, provider=provider, env=env)
        self.servers.append(srv)
        srv.start()
        return srv

    def stop_all(self) -> List[str]:
        problems = []
        for s in self.servers:
            p = s.stop()
            if p:
                problems.append(f"{s!r}: {p}")
        return problems


# ---------------------------------------------------------------------------
# WebSocket helpers (protocol v1)
# ---------------------------------------------------------------------------

async def ws_open(server: Server, token: Optional[str] = None, *, query: str = "",
                  origin: Optional[str] = None, headers=None, max_size: int = 1 << 24,
                  compression: Optional[str] = None):
    """Opens GET /api/ws; `token` goes in an Authorization: Bearer header."""
    hdrs = list(headers or [])
    if token:
        hdrs.append(("Authorization", f"Bearer {token}"))
    uri = server.ws_url + "/api/ws" + (("?" + query) if query else "")
    return await websockets.connect(uri, extra_headers=hdrs, origin=origin, max_size=max_size,
                                    compression=compression, open_timeout=EVENT_TIMEOUT,
                                    ping_interval=None, close_timeout=5)


async def recv_event(ws, timeout: float = EVENT_TIMEOUT) -> Dict:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(raw, str), f"server sent a binary frame: {raw[:100]!r}"
    ev = json.loads(raw)
    assert isinstance(ev, dict) and isinstance(ev.get("type"), str), f"bad event {raw[:300]}"
    return ev


async def connect(server: Server, token: Optional[str] = None, **kw):
    """Opens a socket and reads the `connected` event: returns (ws, connected)."""
    ws = await ws_open(server, token, **kw)
    ev = await recv_event(ws)
    assert ev["type"] == "connected", f"first event should be connected, got {ev}"
    return ws, ev


async def send_json(ws, obj) -> None:
    await ws.send(json.dumps(obj))


async def expect_close(ws, timeout: float = EVENT_TIMEOUT):
    """Reads until the server closes; returns (close_code, events_before)."""
    events = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"server did not close the socket within {timeout}s; "
                                     f"got {events[-5:]}")
            raw = await asyncio.wait_for(ws.recv(), left)
            try:
                events.append(json.loads(raw))
            except (ValueError, TypeError):
                events.append(raw)
    except websockets.exceptions.ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        raise AssertionError(f"server did not close the socket within {timeout}s; "
                             f"got {events[-5:]}")
    await ws.wait_closed()
    return ws.close_code, events


async def ping(ws, timeout: float = EVENT_TIMEOUT) -> Dict:
    """Sends ping, returns the pong (skipping unrelated events)."""
    await send_json(ws, {"type": "ping"})
    deadline = time.monotonic() + timeout
    while True:
        ev = await recv_event(ws, max(0.1, deadline - time.monotonic()))
        if ev["type"] == "pong":
            assert isinstance(ev.get("ts"), int) and ev["ts"] > 1_600_000_000_000, ev
            return ev
        assert ev["type"] != "error", f"ping answered with {ev}"


async def expect_error(ws, timeout: float = EVENT_TIMEOUT) -> Dict:
    """Next `error` event (the connection must stay open)."""
    ev = await recv_event(ws, timeout)
    assert ev["type"] == "error", f"expected an error event, got {ev}"
    assert isinstance(ev.get("code"), str) and ev["code"], ev
    assert isinstance(ev.get("message"), str), ev
    assert isinstance(ev.get("retryable"), bool), ev
    return ev


def drop(ws) -> None:
    """Drops the TCP connection abruptly (no close frame), like a lost network."""
    ws.transport.abort()


def new_cmid() -> str:
    return "cm-" + uuid.uuid4().hex


async def send_message(ws, text: str, conversation_id: Optional[str] = None,
                       client_message_id: Optional[str] = None) -> str:
    cmid = client_message_id or new_cmid()
    msg = {"type": "message", "text": text, "client_message_id": cmid}
    if conversation_id:
        msg["conversation_id"] = conversation_id
    await send_json(ws, msg)
    return cmid


@dataclass
class Stream:
    """Events of one answer as a client saw them."""
    start: Optional[Dict] = None
    tool_calls: List[Dict] = field(default_factory=list)
    tool_results: List[Dict] = field(default_factory=list)
    chunks: List[Dict] = field(default_factory=list)
    complete: Optional[Dict] = None
    errors: List[Dict] = field(default_factory=list)
    events: List[Dict] = field(default_factory=list)  # every event of this message, in order
    others: List[Dict] = field(default_factory=list)  # events of other messages meanwhile

    @property
    def message_id(self) -> Optional[str]:
        return self.start["message_id"] if self.start else None

    @property
    def seqs(self) -> List[int]:
        return [c["seq"] for c in self.chunks]

    @property
    def text(self) -> str:
        return "".join(c["delta"] for c in self.chunks)


async def collect(ws, *, client_message_id: Optional[str] = None,
                  message_id: Optional[str] = None, stream: Optional[Stream] = None,
                  max_chunks: Optional[int] = None, until_time: Optional[float] = None,
                  timeout: float = EVENT_TIMEOUT) -> Stream:
    """Collects the events of one answer until `message_complete`.

    The answer is identified by client_message_id (its message_start) or by
    message_id. With max_chunks, returns as soon as that many chunks were
    read (in total in `stream`); with until_time (time.monotonic()), as soon
    as that time passes after at least one chunk. An `error` event about
    this answer (or with no message_id) fails the test."""
    st = stream or Stream()
    mid = message_id or st.message_id
    while True:
        if st.complete is not None:
            return st
        if max_chunks is not None and len(st.chunks) >= max_chunks:
            return st
        if until_time is not None and st.chunks and time.monotonic() >= until_time:
            return st
        wait = timeout
        if until_time is not None and st.chunks:
            wait = max(0.05, min(timeout, until_time - time.monotonic()))
        try:
            ev = await recv_event(ws, wait)
        except asyncio.TimeoutError:
            if until_time is not None and st.chunks and time.monotonic() >= until_time:
                return st
            raise AssertionError(
                f"no event for {wait:.0f}s while waiting for message "
                f"{mid or client_message_id}; seen so far: {[e['type'] for e in st.events][-10:]}; "
                f"other events: {[json.dumps(e)[:300] for e in st.others][-5:]}")
        t = ev["type"]
        if t == "message_start" and mid is None and ev.get("client_message_id") == client_message_id:
            mid = ev["message_id"]
        if t == "error" and (ev.get("message_id") in (None, mid)):
            st.errors.append(ev)
            raise AssertionError(f"error event while streaming {mid or client_message_id}: {ev}")
        if mid is None or ev.get("message_id") != mid:
            st.others.append(ev)
            continue
        st.events.append(ev)
        if t == "message_start":
            assert st.start is None or st.start["message_id"] == mid, ev
            st.start = ev
        elif t == "tool_call":
            st.tool_calls.append(ev)
        elif t == "tool_result":
            st.tool_results.append(ev)
        elif t == "message_chunk":
            st.chunks.append(ev)
        elif t == "message_complete":
            st.complete = ev


async def ask(ws, text: str, conversation_id: Optional[str] = None,
              client_message_id: Optional[str] = None, **kw) -> Stream:
    """Sends a question and collects its answer (see collect)."""
    cmid = await send_message(ws, text, conversation_id, client_message_id)
    return await collect(ws, client_message_id=cmid, **kw)


def assert_gapless(chunks: List[Dict], first: int = 1) -> None:
    seqs = [c["seq"] for c in chunks]
    assert seqs == list(range(first, first + len(seqs))), (
        f"message_chunk seq not gapless from {first}: {seqs}")
    for c in chunks:
        assert isinstance(c.get("delta"), str), c


def assert_complete_consistent(st: Stream, first_seq: int = 1, prefix: str = "") -> None:
    """message_complete agrees with the chunks: seq is the last one and
    prefix + concatenated deltas == text."""
    assert st.complete is not None, "no message_complete"
    assert_gapless(st.chunks, first_seq)
    last = st.chunks[-1]["seq"] if st.chunks else first_seq - 1
    assert st.complete["seq"] == last, (st.complete["seq"], last)
    assert prefix + st.text == st.complete["text"], (
        "concatenated deltas differ from message_complete.text:\n"
        f"deltas: {(prefix + st.text)!r}\ncomplete: {st.complete['text']!r}")


def run(coro):
    """asyncio.run for plain test functions (no pytest-asyncio here)."""
    return asyncio.run(coro)


MARKER = re.compile(r"\[(\d+)\]")


def markers(text: str) -> set:
    return {int(m) for m in MARKER.findall(text)}


# ---------------------------------------------------------------------------
# The deterministic test knowledge base (data/e2e_kb.jsonl)
# ---------------------------------------------------------------------------

def e2e_kb_docs() -> List[Dict]:
    with open(E2E_KB, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


E2E_URLS = {d["url"] for d in e2e_kb_docs()}
E2E_TITLES = {d["title"] for d in e2e_kb_docs()}
HEMO_QUESTION = "What are the symptoms of hereditary hemochromatosis and how is it treated?"
HEMO_URLS = {d["url"] for d in e2e_kb_docs() if "hemochromatosis" in d["id"]}
MENIERE_QUESTION = "What is Ménière disease and how are Ménière vertigo attacks treated?"
MENIERE_URL = next(d["url"] for d in e2e_kb_docs() if d["id"] == "e2e-meniere")
# Nothing in any knowledge base matches this.
NONSENSE_QUESTION = "qwxzv plorkgrint zzyzzx vrumbleflax quoggle?"
