"""Coalescing for clients that fall behind (architecture.md: "coalesce
queued deltas of one message into one frame when a client falls behind";
docs/protocol.md, "Backpressure").

A client with a small TCP window asks for an answer far larger than the
socket buffers and reads nothing until the server has generated all of it:
the server's queue then holds the answer's deltas merged. Once the client
reads, it must get the whole text exactly once, in order, in fewer frames
than chunks, in its own dialect; a resume from a merged frame's seq goes on
exactly after it; and the queue's bound still closes with 1008."""

import json
import time

from medstream_e2e import EVENT_TIMEOUT, new_cmid
from ws_raw import RawWS

CHUNKS = 50000
CHUNK_BYTES = 64
# 3.2 MB of text, about 8 MB as one native frame per chunk: more than the
# kernel buffers on both ends hold (the sender's grows to 4 MiB here), so the
# server's queue backs up.
CHUNK = ("lorem ipsum dolor sit amet " * 3)[:CHUNK_BYTES]  # the synthetic provider's
SLOW_SERVER = dict(provider="synthetic", syn_chunks=CHUNKS, syn_chunk_bytes=CHUNK_BYTES,
                   syn_interval_ms=0, max_queue_bytes=8 << 20, max_answer_bytes=8 << 20)


def wait_generated(srv, token, conv_id, timeout=EVENT_TIMEOUT):
    """Until the answer is stored complete: from then on everything the
    client has not read is in the kernel buffers or the server's queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = srv.messages(token, conv_id)
        done = [m for m in msgs if m["role"] == "assistant" and m["status"] == "complete"]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError("the answer was not generated in time")


def read_answer(ws, chunk_type, complete_type, seq_of, text_of, stop_after_merged=False):
    """Reads one answer's frames: (chunk frames, the complete frame or None,
    every frame). With stop_after_merged, returns right after the first
    chunk frame that carries more than one delta."""
    chunks, frames, prev = [], [], None
    while True:
        m = ws.recv_message()
        assert m is not None and not isinstance(m, tuple), f"stream ended: {m!r}"
        ev = json.loads(m)
        frames.append(ev)
        if ev["type"] == chunk_type:
            seq = seq_of(ev)
            assert prev is None or seq > prev, f"seq went from {prev} to {seq}"
            chunks.append(ev)
            merged = prev is not None and seq - prev > 1
            prev = seq
            if stop_after_merged and merged:
                return chunks, None, frames
        elif ev["type"] == complete_type:
            return chunks, ev, frames
        else:
            assert ev["type"] in ("message_start", "tool_call", "tool_result", "routing",
                                  "llm_call", "llm_result"), ev


def slow_client(srv, token, path="/api/ws"):
    ws = RawWS(srv, token, path=path, rcvbuf=4096)
    ws.recv_size = 4096
    first = json.loads(ws.recv_message())
    assert first["type"] == "connected", first
    return ws


def test_slow_native_reader_gets_the_whole_text_once_in_fewer_frames(start_server):
    srv = start_server(**SLOW_SERVER)
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)["id"]
    ws = slow_client(srv, tok)
    ws.send_text(json.dumps({"type": "message", "text": "hello", "conversation_id": conv,
                             "client_message_id": new_cmid()}))
    stored = wait_generated(srv, tok, conv)  # not one byte read meanwhile
    chunks, done, _ = read_answer(ws, "message_chunk", "message_complete",
                                  lambda e: e["seq"], lambda e: e["delta"])
    text = "".join(c["delta"] for c in chunks)
    assert text == done["text"] == stored["content"], "the deltas are not the whole text once"
    assert text[:CHUNKS * CHUNK_BYTES] == CHUNK * CHUNKS  # then the disclaimer
    assert chunks[-1]["seq"] == done["seq"]
    assert done["seq"] >= CHUNKS  # every chunk's seq was used, the disclaimer's after them
    # What the kernel buffers took went one frame per chunk; the rest merged.
    assert len(chunks) < CHUNKS // 2, f"{len(chunks)} frames for {done['seq']} chunks"
    merged = [b["seq"] - a["seq"] for a, b in zip(chunks, chunks[1:]) if b["seq"] - a["seq"] > 1]
    assert merged, "no frame carried merged deltas"
    # Each merged frame stays under the server's merge cap (16 KiB of text).
    assert max(len(c["delta"]) for c in chunks) <= 16 * 1024
    ws.close()


def test_slow_voiceassist_reader_gets_the_whole_text_once_in_fewer_frames(start_server):
    srv = start_server(**SLOW_SERVER)
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)["id"]
    ws = slow_client(srv, tok, path="/api/realtime/ws")
    ws.send_text(json.dumps({"type": "message", "content": "hello", "session_id": conv}))
    stored = wait_generated(srv, tok, conv)
    chunks, done, _ = read_answer(ws, "message_chunk", "message_complete",
                                  lambda e: e["chunk_index"], lambda e: e["content"])
    for c in chunks:
        assert set(c) == {"type", "message_id", "content", "chunk_index"}, c
    text = "".join(c["content"] for c in chunks)
    assert text == done["content"] == stored["content"]
    assert text[:CHUNKS * CHUNK_BYTES] == CHUNK * CHUNKS
    assert chunks[0]["chunk_index"] == 0
    assert chunks[-1]["chunk_index"] >= CHUNKS - 1
    assert len(chunks) < CHUNKS // 2, f"{len(chunks)} frames for {CHUNKS} chunks"
    ws.close()


def test_resume_from_a_merged_frame_continues_exactly(start_server):
    srv = start_server(**SLOW_SERVER)
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)["id"]
    ws = slow_client(srv, tok)
    ws.send_text(json.dumps({"type": "message", "text": "hello", "conversation_id": conv,
                             "client_message_id": new_cmid()}))
    stored = wait_generated(srv, tok, conv)
    chunks, done, frames = read_answer(ws, "message_chunk", "message_complete",
                                       lambda e: e["seq"], lambda e: e["delta"],
                                       stop_after_merged=True)
    assert done is None and len(chunks) >= 2, "no merged frame before the end"
    start = next(f for f in frames if f["type"] == "message_start")
    last_seq = chunks[-1]["seq"]
    have = "".join(c["delta"] for c in chunks)
    ws.close()  # dropped mid-answer, right after a merged frame

    ws2 = RawWS(srv, tok)
    assert json.loads(ws2.recv_message())["type"] == "connected"
    ws2.send_text(json.dumps({"type": "resume", "message_id": start["message_id"],
                              "last_seq": last_seq}))
    rest, done, _ = read_answer(ws2, "message_chunk", "message_complete",
                                lambda e: e["seq"], lambda e: e["delta"])
    assert rest and rest[0]["seq"] > last_seq
    assert have + "".join(c["delta"] for c in rest) == done["text"] == stored["content"]
    assert rest[-1]["seq"] == done["seq"]
    ws2.close()


def test_merged_bytes_count_against_the_queue_bound(start_server):
    """A client that never reads still overflows the bounded queue (now of
    merged deltas) and is closed with 1008; the answer is still stored."""
    srv = start_server(**dict(SLOW_SERVER, max_queue_bytes=65536))
    tok = srv.register()["access_token"]
    conv = srv.create_conversation(tok)["id"]
    ws = slow_client(srv, tok)
    ws.send_text(json.dumps({"type": "message", "text": "hello", "conversation_id": conv,
                             "client_message_id": new_cmid()}))
    deadline = time.monotonic() + EVENT_TIMEOUT
    while "ws_queue_overflow" not in srv.stderr_text():  # never read meanwhile
        assert time.monotonic() < deadline, "the queue of merged deltas did not overflow"
        time.sleep(0.2)
    ws.recv_size = 65536
    code, _reason, _before = ws.expect_close(reply=False)
    assert code == 1008, code
    assert wait_generated(srv, tok, conv)["content"]
