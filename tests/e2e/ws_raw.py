"""A raw-socket WebSocket client (RFC 6455) for conformance tests.

Client libraries refuse to send what a conformance test has to send
(unmasked frames, reserved bits, fragmented control frames, invalid close
payloads), so this one builds every frame by hand and reads the server's
frames byte for byte. It speaks only what the tests ask: nothing is sent
implicitly except the handshake and, when asked, the closing handshake.
"""

import base64
import hashlib
import os
import socket
import struct
import time
from typing import List, Optional, Tuple

from medstream_e2e import EVENT_TIMEOUT

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeFailed(AssertionError):
    pass


def frame_bytes(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                mask: bool = True, key: Optional[bytes] = None,
                length_form: Optional[int] = None) -> bytes:
    """One frame. rsv is the three RSV bits as 0..7 (RSV1 = 4); length_form
    forces a 7-, 16- or 64-bit length field (7 only for short payloads)."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload)
    form = length_form or (7 if n < 126 else 16 if n <= 0xFFFF else 64)
    mbit = 0x80 if mask else 0
    if form == 7:
        assert n < 126
        head = struct.pack("!BB", b0, mbit | n)
    elif form == 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    masked = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
    return head + key + masked


def close_payload(code: Optional[int] = None, reason: bytes = b"") -> bytes:
    return b"" if code is None else struct.pack("!H", code) + reason


class RawWS:
    """One WebSocket connection over a plain socket."""

    def __init__(self, server, token: Optional[str] = None, path: str = "/api/ws",
                 headers: Optional[dict] = None, timeout: float = EVENT_TIMEOUT,
                 rcvbuf: Optional[int] = None):
        """rcvbuf: SO_RCVBUF in bytes, set before connecting (so the TCP
        window is that small): a client whose kernel buffers little, for
        making the server's queue back up."""
        self.timeout = timeout
        if rcvbuf:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect(("127.0.0.1", server.port))
        else:
            self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.recv_size = 65536  # bytes per recv(); a slow reader lowers it
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = {"Host": f"127.0.0.1:{server.port}", "Upgrade": "websocket",
                "Connection": "Upgrade", "Sec-WebSocket-Key": key,
                "Sec-WebSocket-Version": "13"}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        self.sock.sendall((req + "\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise HandshakeFailed(f"connection closed during the handshake: {self.buf!r}")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.headers = {}
        for h in lines[1:]:
            k, _, v = h.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if " 101 " not in self.status_line + " ":
            raise HandshakeFailed(f"handshake refused: {self.status_line}")
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        assert self.headers.get("sec-websocket-accept") == want, self.headers

    # ---- sending ----------------------------------------------------------
    def send_raw(self, data: bytes, chop: Optional[int] = None, pause: float = 0.002) -> bool:
        """Writes bytes, in pieces of chop bytes (each its own TCP segment)
        when asked. False when the server has already closed the socket."""
        try:
            if not chop:
                self.sock.sendall(data)
            else:
                for i in range(0, len(data), chop):
                    self.sock.sendall(data[i:i + chop])
                    time.sleep(pause)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send(self, opcode: int, payload: bytes = b"", chop: Optional[int] = None, **kw) -> bool:
        return self.send_raw(frame_bytes(opcode, payload, **kw), chop)

    def send_text(self, text, **kw) -> bool:
        data = text.encode() if isinstance(text, str) else text
        return self.send(OP_TEXT, data, **kw)

    def send_fragments(self, opcode: int, parts: List[bytes], **kw) -> bool:
        """One message as len(parts) frames: opcode, then continuations."""
        out = b""
        for i, p in enumerate(parts):
            out += frame_bytes(opcode if i == 0 else OP_CONT, p, fin=i == len(parts) - 1)
        return self.send_raw(out, **kw)

    def send_close(self, code: Optional[int] = 1000, reason: bytes = b"", **kw) -> bool:
        return self.send(OP_CLOSE, close_payload(code, reason), **kw)

    # ---- receiving --------------------------------------------------------
    def _fill(self, deadline: Optional[float] = None) -> bool:
        if self.eof:
            return False
        left = (deadline - time.monotonic()) if deadline else self.timeout
        if left <= 0:
            raise TimeoutError("no data from the server in time")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(self.recv_size)
        except socket.timeout:
            raise TimeoutError("no data from the server in time")
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _need(self, n: int, deadline: float) -> bool:
        while len(self.buf) < n:
            if not self._fill(deadline):
                return False
        return True

    def recv_frame(self, timeout: Optional[float] = None) -> Optional[Tuple[bool, int, bytes]]:
        """(fin, opcode, payload) of the next frame, None at end of stream.
        Server frames must be unmasked and carry no RSV bits (RFC 6455
        section 5.1, 5.2)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if not self._need(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        assert not (b1 & 0x80), "the server masked a frame (RFC 6455 section 5.1)"
        assert not (b0 & 0x70), f"the server set RSV bits: {b0:#x}"
        n, off = b1 & 0x7F, 2
        if n == 126:
            if not self._need(4, deadline):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._need(10, deadline):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if not self._need(off + n, deadline):
            return None
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout: Optional[float] = None):
        """The next data message (text str or binary bytes), answering
        nothing; control frames are returned as ('ping'|'pong'|'close',
        payload). None at end of stream."""
        f = self.recv_frame(timeout)
        if f is None:
            return None
        fin, op, payload = f
        if op == OP_PING:
            return ("ping", payload)
        if op == OP_PONG:
            return ("pong", payload)
        if op == OP_CLOSE:
            return ("close", payload)
        assert op in (OP_TEXT, OP_BINARY), f"unexpected opcode {op}"
        data = payload
        while not fin:
            f = self.recv_frame(timeout)
            assert f is not None, "stream ended inside a fragmented message"
            fin, op2, more = f
            assert op2 == OP_CONT, f"opcode {op2} inside a fragmented message"
            data += more
        return data.decode("utf-8") if op == OP_TEXT else data

    def expect_close(self, timeout: Optional[float] = None, reply: bool = True):
        """Reads until the server's close frame: returns (code or None,
        reason bytes, messages before it). Answers the close (when reply)
        and checks that the server then ends the TCP connection. A
        connection dropped without a close frame gives code 1006."""
        before = []
        while True:
            m = self.recv_message(timeout)
            if m is None:
                return 1006, b"", before
            if isinstance(m, tuple) and m[0] == "close":
                p = m[1]
                assert len(p) != 1, "the server sent a 1-byte close payload"
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
                if reply:
                    self.send_close(code if code is not None else None)
                self.wait_eof(timeout)
                return code, p[2:], before
            before.append(m)

    def wait_eof(self, timeout: Optional[float] = None) -> None:
        """The server closes the TCP connection (after the close handshake);
        any frame still arriving is a failure."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        assert not self.buf, f"the server sent bytes after its close frame: {self.buf[:80]!r}"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
