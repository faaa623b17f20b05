"""A model server on loopback for the end-to-end tests: it speaks the wire
formats medstream's providers read, byte for byte, and fails on demand.

The formats are built from the providers' own documentation:

- OpenAI, "Create chat completion" and "The chat completion chunk object"
  (https://platform.openai.com/docs/api-reference/chat/create and
  .../chat-streaming): POST /v1/chat/completions with "stream": true answers
  200, Content-Type: text/event-stream, chunked; every chunk is one event
  ``data: {"id","object":"chat.completion.chunk","created","model",
  "choices":[{"index":0,"delta":{...},"logprobs":null,"finish_reason":...}]}``
  followed by a blank line; the first delta has the role, the last content
  chunk a finish_reason; with ``stream_options.include_usage`` every chunk
  has ``"usage": null`` and one more chunk with ``"choices": []`` and the
  usage comes before ``data: [DONE]``. Errors are ``{"error": {"message",
  "type", "param", "code"}}`` with the HTTP status (429 with Retry-After).
- Azure OpenAI, "Chat completions" (https://learn.microsoft.com/azure/
  ai-services/openai/reference): POST /openai/deployments/{deployment-id}/
  chat/completions?api-version=..., key in the ``api-key`` header; the same
  chunks, first a chunk with ``"choices": []`` and prompt_filter_results.
- Server-Sent Events framing, WHATWG HTML section 9.2: the optional
  variants a conforming parser must accept (comment lines as keep-alives,
  CRLF line ends, data split over several ``data:`` lines).
- Ollama, "Generate a chat completion" (https://github.com/ollama/ollama/
  blob/main/docs/api.md): POST /api/chat streams application/x-ndjson, one
  ``{"model","created_at","message":{"role":"assistant","content"},
  "done":false}`` a line, then ``"done": true`` with ``done_reason``,
  ``total_duration``, ``load_duration``, ``prompt_eval_count``,
  ``prompt_eval_duration``, ``eval_count``, ``eval_duration`` (durations in
  nanoseconds); errors are ``{"error": "..."}``.

Fault modes (a Plan, per request, queued with ``add``; the default plan
answers): a slow first byte, a drop mid-stream, 429 with Retry-After, 500,
a malformed line, a huge line, a stall after some tokens, 401 echoing the
key (as OpenAI's "Incorrect API key provided: sk-...") and pacing for the
flow-control test.

Every request is recorded (``requests``: path, query, headers, parsed body)
so a test can read exactly what reached the upstream; ``bodies_text()``
joins every message content of every request for "this never left"
checks. Standard library only (Debian's python3).
"""

import json
import socket
import socketserver
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

DEFAULT_TOKENS = ["Hereditary hemochromatosis", " makes the body", " absorb too much iron [1].",
                  " It is treated", " by removing blood", " (phlebotomy) [2]."]


@dataclass
class Plan:
    """What the upstream does with one request."""
    tokens: List[str] = field(default_factory=lambda: list(DEFAULT_TOKENS))
    status: int = 200
    retry_after: Optional[str] = None     # Retry-After header value (seconds or HTTP-date)
    first_byte_delay: float = 0.0         # before the status line
    token_delay: float = 0.0              # between tokens
    drop_after: Optional[int] = None      # close the socket abruptly after n tokens
    stall_after: Optional[int] = None     # stop after n tokens, keep the connection open
    malformed_at: Optional[int] = None    # a line that is not JSON before token n
    huge_line: int = 0                    # bytes of one content token sent at the start
    usage: bool = True                    # OpenAI usage chunk (when the client asked)
    finish_reason: str = "stop"
    sse_style: str = "plain"              # plain | crlf | comments | multiline
    split_bytes: bool = False             # write one byte at a time
    echo_key: bool = False                # 401 whose message quotes the key
    sndbuf: Optional[int] = None          # SO_SNDBUF of the connection (flow control)
    prompt_tokens: int = 42
    done_marker: bool = True              # OpenAI: send [DONE]; Ollama: the done line


class FakeLLM:
    """One upstream on 127.0.0.1; ``url`` is its base, e.g. for OpenAI
    ``fake.url + "/v1"``. Thread-safe recording; start() and stop()."""

    def __init__(self, name: str = "fake"):
        self.name = name
        self.requests: List[Dict] = []
        self.probe_status = 200  # what GET /api/tags and GET /v1/models answer
        self.plans: deque = deque()
        self.default = Plan()
        self.lock = threading.Lock()
        self.server: Optional[socketserver.ThreadingTCPServer] = None
        self.thread: Optional[threading.Thread] = None
        self.events: List[Dict] = []  # per response: what happened (closed early, gaps)

    # ---- control ---------------------------------------------------------
    def add(self, **kw) -> "FakeLLM":
        """Queues the plan of the next request not yet planned."""
        with self.lock:
            self.plans.append(Plan(**kw))
        return self

    def set_default(self, **kw) -> "FakeLLM":
        with self.lock:
            self.default = Plan(**kw)
        return self

    def next_plan(self) -> Plan:
        with self.lock:
            return self.plans.popleft() if self.plans else self.default

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeLLM":
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                fake._serve_connection(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # ---- what arrived ------------------------------------------------------
    def count(self, path_part: str = "") -> int:
        with self.lock:
            return sum(1 for r in self.requests if path_part in r["path"])

    def bodies(self) -> List[Dict]:
        with self.lock:
            return [r["body"] for r in self.requests]

    def bodies_text(self) -> str:
        """Every message content of every request, joined: what left medstream."""
        out = []
        for b in self.bodies():
            for m in (b or {}).get("messages", []) or []:
                if isinstance(m.get("content"), str):
                    out.append(m["content"])
        return "\n".join(out)

    def wait_requests(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: {len(self.requests)} requests, expected {n}")

    def wait_event(self, key: str, timeout: float = 30.0) -> Dict:
        """The first response record with key set (e.g. "closed_early")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for e in self.events:
                    if e.get(key):
                        return e
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: no response with {key} within {timeout}s: "
                             f"{self.events}")

    # ---- HTTP/1.1 --------------------------------------------------------------
    def _serve_connection(self, sock: socket.socket):
        sock.settimeout(120)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    d = sock.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                buf += d
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ver = (lines[0].split(" ") + ["", "", ""])[:3]
            headers = {}
            for h in lines[1:]:
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            while len(buf) < n:
                d = sock.recv(65536)
                if not d:
                    return
                buf += d
            raw, buf = buf[:n], buf[n:]
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            parts = urlsplit(target)
            rec = {"method": method, "path": parts.path, "query": parse_qs(parts.query),
                   "headers": headers, "body": body, "time": time.time()}
            with self.lock:
                self.requests.append(rec)
            if method == "GET":
                # The health probes (GET /api/tags, GET /v1/models): they
                # take no plan, so they never disturb a test's queued faults.
                self._probe(sock, rec)
                continue
            plan = self.next_plan()
            ev = {"path": parts.path, "closed_early": False, "complete": False,
                  "max_gap": 0.0, "bytes": 0}
            with self.lock:
                self.events.append(ev)
            keep = self._respond(sock, rec, plan, ev)
            if not keep:
                try:
                    sock.close()
                except OSError:
                    pass
                return

    def _respond(self, sock, rec, plan: Plan, ev) -> bool:
        if plan.sndbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, plan.sndbuf)
        if plan.first_byte_delay:
            if self._sleep_or_closed(sock, plan.first_byte_delay):
                ev["closed_early"] = True
                return False
        path = rec["path"]
        if path.endswith("/api/chat"):
            kind = "ollama"
        elif path.endswith("/chat/completions"):
            kind = "azure" if "/openai/deployments/" in path else "openai"
        else:
            self._plain(sock, 404, {"error": {"message": "no such route", "type": "invalid_request_error",
                                              "code": "not_found"}})
            return True
        if plan.status != 200:
            return self._error(sock, rec, plan, kind)
        return self._stream(sock, rec, plan, ev, kind)

    def _probe(self, sock, rec):
        """Ollama's GET /api/tags ({"models": [...]}) and OpenAI's GET
        /v1/models ({"object": "list", "data": [...]}), as their API
        references show; probe_status other than 200 answers an error."""
        path = rec["path"]
        if self.probe_status != 200:
            self._plain(sock, self.probe_status, {"error": {"message": "refused",
                                                            "type": "server_error"}})
        elif path.endswith("/api/tags"):
            self._plain(sock, 200, {"models": [{"name": "fake-model:latest", "model":
                                                "fake-model:latest", "size": 1}]})
        elif path.endswith("/models"):
            self._plain(sock, 200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}]})
        else:
            self._plain(sock, 404, {"error": {"message": "no such route",
                                              "type": "invalid_request_error"}})

    def _plain(self, sock, status, obj, extra=""):
        body = json.dumps(obj).encode()
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
                  500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{extra}\r\n").encode()
        sock.sendall(head + body)

    def _error(self, sock, rec, plan: Plan, kind) -> bool:
        extra = f"Retry-After: {plan.retry_after}\r\n" if plan.retry_after else ""
        if kind == "ollama":
            obj = {"error": "model is overloaded" if plan.status != 401 else "unauthorized"}
        else:
            key = (rec["headers"].get("authorization", "").removeprefix("Bearer ")
                   or rec["headers"].get("api-key", ""))
            msg = {429: "Rate limit reached for requests", 500: "The server had an error",
                   401: f"Incorrect API key provided: {key}. You can find your API key at "
                        "https://platform.openai.com/account/api-keys."}.get(plan.status, "error")
            if plan.status == 401 and not plan.echo_key:
                msg = "Incorrect API key provided."
            code = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(plan.status)
            obj = {"error": {"message": msg, "type": "invalid_request_error" if plan.status < 500
                             else "server_error", "param": None, "code": code}}
        self._plain(sock, plan.status, obj, extra)
        return True

    # ---- streaming -------------------------------------------------------------
    def _stream(self, sock, rec, plan: Plan, ev, kind) -> bool:
        ctype = "application/x-ndjson" if kind == "ollama" else "text/event-stream; charset=utf-8"
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\n"
                "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n").encode()
        w = _Writer(sock, plan, ev)
        try:
            w.raw(head)
            body = rec["body"] or {}
            model = body.get("model", "fake-model")
            if kind == "ollama":
                self._ollama(w, plan, model)
            else:
                want_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                self._openai(w, plan, model, kind, want_usage)
            if plan.stall_after is not None:
                # Keeps the connection open, sending nothing, until the client goes.
                if self._sleep_or_closed(sock, 300):
                    ev["closed_early"] = True
                    ev["closed_at"] = time.time()
                return False
            if plan.drop_after is not None:
                sock.shutdown(socket.SHUT_RDWR)
                return False
            w.raw(b"0\r\n\r\n")
            ev["complete"] = True
            return True
        except _Closed:
            ev["closed_early"] = True
            ev["closed_at"] = time.time()
            return False

    def _tokens(self, w, plan: Plan, emit):
        if plan.huge_line:
            emit("x" * plan.huge_line)
        for i, tok in enumerate(plan.tokens):
            if plan.malformed_at == i:
                w.event_raw(b"data: {\"choices\": [{\"delta\": {\"content\": \"unterminated\n\n"
                            if w.kind == "sse" else b"{\"message\": {\"content\": \n")
            if plan.drop_after == i or plan.stall_after == i:
                return False
            if i and plan.token_delay:
                if self._sleep_or_closed(w.sock, plan.token_delay):
                    raise _Closed()
            emit(tok)
        if plan.malformed_at is not None and plan.malformed_at >= len(plan.tokens):
            w.event_raw(b"data: not json\n\n" if w.kind == "sse" else b"not json\n")
        return plan.drop_after is None and plan.stall_after is None

    def _openai(self, w, plan: Plan, model, kind, want_usage):
        w.kind = "sse"
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        use_usage = want_usage and plan.usage

        def chunk(delta, finish=None, choices=True, usage=None):
            o = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "system_fingerprint": "fp_fake"}
            o["choices"] = [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}] if choices else []
            if use_usage:
                o["usage"] = usage
            w.sse(json.dumps(o, separators=(",", ":")))

        if kind == "azure":
            w.sse(json.dumps({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                              "prompt_filter_results": [{"prompt_index": 0,
                                                         "content_filter_results": {}}]}))
        chunk({"role": "assistant", "content": ""})
        if not self._tokens(w, plan, lambda t: chunk({"content": t})):
            return
        chunk({}, finish=plan.finish_reason)
        if use_usage:
            completion = sum(len(t.split()) for t in plan.tokens)
            chunk(None, choices=False, usage={"prompt_tokens": plan.prompt_tokens,
                                              "completion_tokens": completion,
                                              "total_tokens": plan.prompt_tokens + completion})
        if plan.done_marker:
            w.sse("[DONE]")

    def _ollama(self, w, plan: Plan, model):
        w.kind = "ndjson"

        def line(o):
            w.event_raw((json.dumps(o, separators=(",", ":")) + "\n").encode())

        def stamp():
            return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())

        if not self._tokens(w, plan, lambda t: line(
                {"model": model, "created_at": stamp(),
                 "message": {"role": "assistant", "content": t}, "done": False})):
            return
        if plan.done_marker:
            line({"model": model, "created_at": stamp(),
                  "message": {"role": "assistant", "content": ""},
                  "done_reason": plan.finish_reason, "done": True,
                  "total_duration": 4883583458, "load_duration": 1334875,
                  "prompt_eval_count": plan.prompt_tokens, "prompt_eval_duration": 342546000,
                  "eval_count": len(plan.tokens), "eval_duration": 4535599000})

    @staticmethod
    def _sleep_or_closed(sock, seconds) -> bool:
        """Sleeps, watching the socket; True when the client closed it."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(min(left, 0.05))
            try:
                d = sock.recv(1, socket.MSG_PEEK)
                if d == b"":
                    return True
                time.sleep(min(left, 0.05))  # pipelined bytes: not a close
            except socket.timeout:
                pass
            except OSError:
                return True
            finally:
                sock.settimeout(120)


class _Closed(Exception):
    pass


class _Writer:
    """Chunked transfer coding (RFC 9112 section 7.1) over the socket, with
    the plan's SSE style; records the longest time a write blocked."""

    def __init__(self, sock, plan: Plan, ev):
        self.sock = sock
        self.plan = plan
        self.ev = ev
        self.kind = "sse"
        self.last = time.monotonic()

    def raw(self, data: bytes):
        try:
            if self.plan.split_bytes:
                for i in range(len(data)):
                    self.sock.sendall(data[i:i + 1])
            else:
                self.sock.sendall(data)
        except OSError:
            raise _Closed()
        now = time.monotonic()
        self.ev["max_gap"] = max(self.ev["max_gap"], now - self.last)
        self.last = now

    def event_raw(self, payload: bytes):
        self.ev["bytes"] += len(payload)
        self.raw(b"%x\r\n" % len(payload) + payload + b"\r\n")

    def sse(self, data: str):
        style = self.plan.sse_style
        eol = "\r\n" if style == "crlf" else "\n"
        if style == "multiline" and data.startswith("{"):
            # JSON may be cut at any white space: a cut at a comma becomes
            # two data lines, joined again by LF (WHATWG 9.2.6).
            a, _, b = data.partition(",")
            text = f"data: {a},{eol}data: {b}{eol}{eol}"
        else:
            text = f"data: {data}{eol}{eol}"
        if style == "comments":
            text = f": keep-alive{eol}" + text + f":{eol}"
        self.event_raw(text.encode())


# ---------------------------------------------------------------------------
# Helpers for the tests: configuration files and a fixture of fakes
# ---------------------------------------------------------------------------

def provider(name: str, kind: str, fake: Optional[FakeLLM] = None, *, model: str = "fake-model",
             local: bool = True, base_url: Optional[str] = None, **kw) -> Dict:
    """A "providers" entry pointing at fake: kind "openai" (base_url .../v1),
    "azure" (kind openai with an azure_deployment), or "ollama"."""
    e = {"name": name, "model": model, "local": local}
    if kind == "azure":
        e.update(kind="openai", base_url=base_url or fake.url, azure_deployment="gpt-dep",
                 api_version="2024-10-21")
    elif kind == "openai":
        e.update(kind="openai", base_url=base_url or fake.url + "/v1")
    else:
        e.update(kind=kind)
        if kind == "ollama":
            e["base_url"] = base_url or fake.url
    e.update(kw)
    return e


def write_config(path, providers: List[Dict], routes: Optional[Dict] = None, **flat) -> str:
    """Writes a --config file: the providers, routes and flat settings."""
    doc = dict(flat)
    doc["providers"] = providers
    if routes is not None:
        doc["routes"] = routes
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    return str(path)


class Fakes:
    """Starts fakes by name and stops them all."""

    def __init__(self):
        self.all: Dict[str, FakeLLM] = {}

    def __call__(self, name: str = "fake") -> FakeLLM:
        f = FakeLLM(name).start()
        self.all[name] = f
        return f

    def stop(self):
        for f in self.all.values():
            f.stop()


try:
    import pytest

    @pytest.fixture
    def fakes():
        """fakes("name") starts a FakeLLM; all are stopped after the test."""
        fs = Fakes()
        yield fs
        fs.stop()
except ImportError:  # used outside pytest
    pass


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
