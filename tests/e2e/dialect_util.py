"""Helpers for the seed-dialect end-to-end tests (test_dialect_*.py).

The seed dialects (docs/protocol.md, "Seed dialects") are spoken on their
own WebSocket paths; these helpers open them with any of the three
credential forms, read frames as JSON, and check the handshake policy every
dialect shares with the native protocol (auth, Origin, limits).
"""

import asyncio
import json
import os
import re
import time
from typing import Callable, Dict, List, Optional

import websockets
import websockets.exceptions

from medstream_e2e import (EVENT_TIMEOUT, RFC3339_MS, expect_close, run, ws_handshake_status)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_uuid(s) -> bool:
    return isinstance(s, str) and bool(UUID_RE.match(s))


def is_timestamp(s) -> bool:
    return isinstance(s, str) and bool(RFC3339_MS.match(s))


async def dopen(server, path: str, token: Optional[str] = None, *, via: str = "query",
                query: str = "", origin: Optional[str] = None, max_size: int = 1 << 24):
    """Opens a dialect endpoint. via: "query" (?token=, as the seeds' clients
    do), "bearer" (Authorization header) or "ticket" (?ticket= from
    POST /api/ws-ticket)."""
    args = [query] if query else []
    headers = []
    if token and via == "query":
        args.append(f"token={token}")
    elif token and via == "bearer":
        headers.append(("Authorization", f"Bearer {token}"))
    elif token and via == "ticket":
        args.append(f"ticket={server.ws_ticket(token)}")
    sep = "&" if "?" in path else "?"
    uri = server.ws_url + path + (sep + "&".join(args) if args else "")
    return await websockets.connect(uri, extra_headers=headers, origin=origin, max_size=max_size,
                                    open_timeout=EVENT_TIMEOUT, ping_interval=None,
                                    close_timeout=5)


async def recv(ws, timeout: float = EVENT_TIMEOUT) -> Dict:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(raw, str), f"server sent a binary frame: {raw[:100]!r}"
    ev = json.loads(raw)
    assert isinstance(ev, dict) and isinstance(ev.get("type"), str), f"bad frame {raw[:300]}"
    return ev


async def send(ws, obj) -> None:
    await ws.send(json.dumps(obj))


async def recv_until(ws, done: Callable[[Dict], bool], timeout: float = EVENT_TIMEOUT,
                     max_events: int = 100000) -> List[Dict]:
    """Frames up to and including the first for which done(frame) holds."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < max_events:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            ev = await recv(ws, left)
        except asyncio.TimeoutError:
            break
        out.append(ev)
        if done(ev):
            return out
    raise AssertionError(f"no final frame within {timeout}s; last frames: "
                         f"{[json.dumps(e)[:200] for e in out[-5:]]}")


async def recv_n(ws, n: int, timeout: float = EVENT_TIMEOUT) -> List[Dict]:
    return [await recv(ws, timeout) for _ in range(n)]


async def assert_quiet(ws, seconds: float = 0.3) -> None:
    """Nothing arrives for a while (no stray frames)."""
    try:
        ev = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected frame: {ev[:300]!r}")


def closed_with(server, path: str, code: int, token: Optional[str] = None, **kw) -> List:
    """Opens path and expects the server to close with code before sending
    anything; returns the frames seen (must be none)."""
    async def go():
        ws = await dopen(server, path, token, **kw)
        got, events = await expect_close(ws)
        assert got == code, f"{path}: expected close {code}, got {got} after {events}"
        assert events == [], f"{path}: frames sent before close {code}: {events}"
        return events
    return run(go())


def check_auth_policy(server, user, path: str) -> None:
    """The handshake policy every dialect shares with /api/ws: no or bad
    credentials close 4001 before any frame."""
    closed_with(server, path, 4001)
    closed_with(server, path, 4001, "not-a-jwt")
    closed_with(server, path + ("&" if "?" in path else "?") + "ticket=garbage", 4001)
    tok = user["access_token"]
    h, p, _s = tok.split(".")
    closed_with(server, path, 4001, f"{h}.{p}.AAAA")


def check_origin_policy(server, user, path: str) -> None:
    """A foreign Origin is refused with HTTP 403; the server's own is fine."""
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    for origin in ("http://evil.example.com", f"http://127.0.0.1:{server.port + 1}"):
        line, status = ws_handshake_status(server, {**auth, "Origin": origin}, path=path)
        assert status == 403, f"{path} Origin {origin}: expected HTTP 403, got {line!r}"
    line, status = ws_handshake_status(
        server, {**auth, "Origin": f"http://127.0.0.1:{server.port}"}, path=path)
    assert status == 101, f"{path} own Origin: expected 101, got {line!r}"


async def send_oversized(ws, frame_bytes: int = 80 * 1024) -> int:
    """Sends a frame over the default 64 KiB max_frame_bytes; returns the close code."""
    frame = json.dumps({"type": "ping", "pad": os.urandom(frame_bytes // 2).hex()})
    try:
        await ws.send(frame)
    except websockets.exceptions.ConnectionClosed:
        pass
    code, _events = await expect_close(ws)
    return code


# A server whose answers are far larger than the socket buffers (synthetic
# provider, 12 MiB) and whose outbound queue is small: a client that stops
# reading makes the queue overflow (close 1008).
OVERFLOW_SERVER = dict(provider="synthetic", syn_chunks=12288, syn_chunk_bytes=1024,
                       syn_interval_ms=0, max_queue_bytes=65536, max_answer_bytes=16 << 20)


def conversation_of(server, token: str, message_id: str) -> str:
    """The id of the token user's conversation that holds message_id (a
    session's conversation id is derived with the server's key, so tests
    find it through the REST API like any client would)."""
    convs = server.api("GET", "/api/conversations?limit=100", token).json()["conversations"]
    for c in convs:
        if any(m["id"] == message_id for m in server.messages(token, c["id"])):
            return c["id"]
    raise AssertionError(f"no conversation of this user holds {message_id}")


async def overflow_queue(ws, question: Dict, settle: float = 2.0) -> int:
    """Sends question, then stops reading (websockets stops reading the
    socket once its own small queue is full), so the kernel buffers fill and
    the server's queue overflows. Returns the close code."""
    await send(ws, question)
    await asyncio.sleep(settle)
    code, _events = await expect_close(ws)
    return code
