"""Raw HTTP/1.1 over a socket, for tests that need what a client library
will not send (bad framing, chunked bodies split by hand, slow bytes,
pipelined requests) or must see exactly what the server sends back."""

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from medstream_e2e import HTTP_TIMEOUT


@dataclass
class Response:
    status: int
    reason: str
    headers: Dict[str, str]
    body: bytes
    header_list: List[Tuple[str, str]] = field(default_factory=list)

    def json(self):
        return json.loads(self.body)

    def error_code(self) -> Optional[str]:
        try:
            return self.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None


def connect(server, timeout: float = HTTP_TIMEOUT) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_responses(s: socket.socket, want: int = 1, timeout: float = 10.0):
    """Reads up to `want` responses (Content-Length framed, as medstream
    sends them). Returns (responses, closed): closed is True when the server
    closed the connection (EOF or reset) before or after them."""
    s.settimeout(timeout)
    buf = b""
    out: List[Response] = []
    closed = False
    deadline = time.monotonic() + timeout

    def fill() -> bool:
        nonlocal buf, closed
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            return False
        if not d:
            closed = True
            return False
        buf += d
        return True

    while len(out) < want:
        while b"\r\n\r\n" not in buf:
            if not fill():
                return out, closed
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        hl = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hl.append((k.strip().lower(), v.strip()))
        headers = {k: v for k, v in hl}
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            buf = head + b"\r\n\r\n" + rest
            if not fill():
                return out, closed
            head, _, rest = buf.partition(b"\r\n\r\n")
        out.append(Response(status, reason, headers, rest[:n], hl))
        buf = rest[n:]
    return out, closed


def wait_closed(s: socket.socket, timeout: float) -> Optional[float]:
    """Seconds until the server closes the connection (reading and dropping
    whatever it sends), or None if it stays open for timeout."""
    t0 = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        if not d:
            return time.monotonic() - t0


def exchange(server, data: bytes, want: int = 1, timeout: float = 10.0):
    """Sends data on a new connection; returns (responses, closed)."""
    s = connect(server)
    try:
        s.sendall(data)
        return read_responses(s, want, timeout)
    finally:
        s.close()


def one(server, data: bytes, timeout: float = 10.0) -> Response:
    rs, _ = exchange(server, data, 1, timeout)
    assert rs, f"no response to {data[:200]!r}"
    return rs[0]


def request(method: str, path: str, headers: Optional[Dict[str, str]] = None,
            body: bytes = b"", token: Optional[str] = None, version: str = "HTTP/1.1",
            content_length: bool = True) -> bytes:
    """A request head (and body); headers given override the defaults."""
    h = {"Host": "127.0.0.1"}
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body and content_length:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return head.encode() + b"\r\n" + body


def chunked(body: bytes, sizes=(7, 3, 11), ext: bool = False, trailer: bool = False) -> bytes:
    """body in the chunked coding (RFC 9112 section 7.1), split at sizes."""
    out, i = b"", 0
    for n in sizes:
        if i >= len(body):
            break
        part = body[i:i + n]
        i += n
        out += b"%x%s\r\n" % (len(part), b";ext=1" if ext else b"") + part + b"\r\n"
    if i < len(body):
        out += b"%x\r\n" % (len(body) - i) + body[i:] + b"\r\n"
    return out + b"0\r\n" + (b"X-Checksum: none\r\n" if trailer else b"") + b"\r\n"
