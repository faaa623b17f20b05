"""WebSocket conformance (RFC 6455), modelled on the Autobahn|Testsuite case
groups: 1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes, 5 fragmentation,
6 UTF-8 handling, 7 close handling. Autobahn's case descriptions are the
specification; the tests are our own (Autobahn needs Python 2).

medstream is not an echo server: where Autobahn expects an echo, a test sends
a native `ping` message (optionally padded to the size under test) and
expects its `pong` event, which proves the message was received whole and
parsed. Every frame is built by hand (ws_raw.py) so that invalid ones can be
sent. "Fail the connection with 1002" (RFC 6455 section 7.1.7) is checked as:
a close frame with that code arrives and then the TCP connection ends, with
no answer to anything sent after the offending frame.
"""

import json
import struct
import time

import pytest

from ws_raw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawWS,
                    close_payload, frame_bytes)


@pytest.fixture(scope="module")
def tok(server):
    return server.register()["access_token"]


def connect(server, tok, path="/api/ws"):
    ws = RawWS(server, tok, path=path)
    first = ws.recv_message()
    assert isinstance(first, str) and json.loads(first)["type"] in ("connected", "connection"), first
    return ws


def ping_json(total: int = 0, pad_char: str = "x") -> bytes:
    """A native ping message of exactly `total` bytes (at least its minimum)."""
    base = b'{"type":"ping","pad":""}'
    if total <= len(base):
        return b'{"type":"ping"}' if total < len(base) else base
    n = total - len(base)
    unit = pad_char.encode()
    assert n % len(unit) == 0, "pad does not fit the size"
    return b'{"type":"ping","pad":"' + unit * (n // len(unit)) + b'"}'


def expect_pong_event(ws, timeout=None):
    m = ws.recv_message(timeout)
    assert isinstance(m, str), f"expected a pong event, got {m!r}"
    ev = json.loads(m)
    assert ev["type"] == "pong", ev
    return ev


def assert_alive(ws):
    assert ws.send_text(ping_json())
    expect_pong_event(ws)


def assert_failed(ws, code=1002, answered=()):
    """The server fails the connection with `code`: only the answers listed
    (in order) come before its close frame, and the TCP connection ends."""
    got, reason, before = ws.expect_close()
    kinds = [("pong-event" if isinstance(m, str) and json.loads(m)["type"] == "pong" else m)
             for m in before]
    assert got == code, f"expected close {code}, got {got} {reason!r} after {kinds}"
    assert kinds == list(answered), f"answers before the close: {kinds}, expected {list(answered)}"
    return reason


# ---------------------------------------------------------------------------
# 1. Framing
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [15, 125, 126, 127, 128, 1000, 65535, 65536])
def test_1_text_message_sizes(server, tok, size):
    """Autobahn 1.1.x: 7-, 16- and 64-bit length fields, up to the 64 KiB
    limit (max_frame_bytes)."""
    ws = connect(server, tok)
    assert ws.send_text(ping_json(size))
    expect_pong_event(ws)
    ws.close()


@pytest.mark.parametrize("size,chop", [(128, 1), (1000, 7), (65536, 997)])
def test_1_text_message_chopped(server, tok, size, chop):
    """Autobahn 1.1.7/1.1.8: a message written in small TCP pieces."""
    ws = connect(server, tok)
    assert ws.send_text(ping_json(size), chop=chop)
    expect_pong_event(ws)
    ws.close()


def test_1_zero_mask_key_is_a_masked_frame(server, tok):
    ws = connect(server, tok)
    assert ws.send_text(ping_json(), key=b"\0\0\0\0")
    expect_pong_event(ws)
    ws.close()


def test_1_empty_text_message_is_not_a_json_object(server, tok):
    """A valid, empty WebSocket message: the protocol's 4000 (not a JSON
    object with a string type), cleanly."""
    ws = connect(server, tok)
    assert ws.send_text(b"")
    assert_failed(ws, 4000)


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_PING, OP_CLOSE, OP_BINARY])
def test_1_unmasked_client_frame_fails_1002(server, tok, opcode):
    """RFC 6455 section 5.1: a server MUST close the connection upon
    receiving an unmasked frame (status 1002). Nothing it carries is acted
    on: no pong, no answer, no echoed close."""
    ws = connect(server, tok)
    payload = ping_json() if opcode == OP_TEXT else close_payload(1000) if opcode == OP_CLOSE \
        else b"hello"
    assert ws.send(opcode, payload, mask=False)
    assert_failed(ws, 1002)


def test_1_unmasked_frame_after_valid_one(server, tok):
    ws = connect(server, tok)
    data = frame_bytes(OP_TEXT, ping_json()) + frame_bytes(OP_TEXT, ping_json(), mask=False) + \
        frame_bytes(OP_TEXT, ping_json())
    assert ws.send_raw(data)
    assert_failed(ws, 1002, answered=["pong-event"])


def test_1_unmasked_continuation_fails_1002(server, tok):
    ws = connect(server, tok)
    msg = ping_json(60)
    data = frame_bytes(OP_TEXT, msg[:20], fin=False) + frame_bytes(OP_CONT, msg[20:], mask=False)
    assert ws.send_raw(data)
    assert_failed(ws, 1002)


def test_1_unmasked_header_split_across_segments(server, tok):
    """The mask bit is found even when the frame header arrives a byte at a
    time after a complete frame."""
    ws = connect(server, tok)
    # The server fails the connection at the header's second byte, so the
    # rest of this write may meet a closed socket.
    ws.send_raw(frame_bytes(OP_TEXT, ping_json()) + frame_bytes(OP_TEXT, ping_json(300), mask=False),
                chop=1)
    assert_failed(ws, 1002, answered=["pong-event"])


def test_1_64bit_length_with_top_bit_fails(server, tok):
    """RFC 6455 section 5.2: the most significant bit of a 64-bit length
    MUST be 0."""
    ws = connect(server, tok)
    assert ws.send_raw(bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0")
    assert_failed(ws, 1002)


def test_1_binary_message_on_native_closes_1003(server, tok):
    """RFC 6455 section 7.4.1: 1003 for a data type the endpoint cannot
    accept; the native protocol has no binary messages."""
    ws = connect(server, tok)
    assert ws.send(OP_BINARY, b"\x00\x01\x02")
    reason = assert_failed(ws, 1003)
    assert b"binary" in reason, reason


def test_1_fragmented_binary_message_closes_1003(server, tok):
    ws = connect(server, tok)
    assert ws.send_fragments(OP_BINARY, [b"\x00" * 10, b"\x01" * 10])
    assert_failed(ws, 1003)


# ---------------------------------------------------------------------------
# 2. Ping / pong
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"Hello, world!", bytes(range(8)) * 4, b"*" * 125],
                         ids=["empty", "text", "binary", "125-bytes"])
def test_2_ping_gets_pong_with_same_payload(server, tok, payload):
    """Autobahn 2.1-2.4."""
    ws = connect(server, tok)
    assert ws.send(OP_PING, payload)
    assert ws.recv_message() == ("pong", payload)
    assert_alive(ws)
    ws.close()


def test_2_ping_125_bytes_chopped(server, tok):
    """Autobahn 2.6: a 125-byte ping written one byte at a time."""
    ws = connect(server, tok)
    assert ws.send(OP_PING, b"\xfe" * 125, chop=1)
    assert ws.recv_message() == ("pong", b"\xfe" * 125)
    ws.close()


@pytest.mark.parametrize("size", [126, 1000])
def test_2_oversize_ping_fails_1002(server, tok, size):
    """Autobahn 2.5, RFC 6455 section 5.5: control frames carry at most 125
    bytes."""
    ws = connect(server, tok)
    assert ws.send(OP_PING, b"*" * size)
    assert_failed(ws, 1002)


def test_2_ping_125_in_16bit_length_is_accepted_or_failed_cleanly(server, tok):
    """A 125-byte ping with a non-minimal 16-bit length field: RFC 6455
    section 5.5 allows the 7-bit form only for control frames; lws refuses
    it (1002)."""
    ws = connect(server, tok)
    assert ws.send(OP_PING, b"*" * 125, length_form=16)
    assert_failed(ws, 1002)


@pytest.mark.parametrize("payload", [b"", b"unsolicited pong"])
def test_2_unsolicited_pong_is_ignored(server, tok, payload):
    """Autobahn 2.7-2.9."""
    ws = connect(server, tok)
    assert ws.send(OP_PONG, payload)
    assert ws.send(OP_PING, b"after")
    assert ws.recv_message() == ("pong", b"after")
    assert_alive(ws)
    ws.close()


def test_2_pings_one_after_another_each_get_a_pong(server, tok):
    """Autobahn 2.10 (paced): every ping answered with its own payload."""
    ws = connect(server, tok)
    for i in range(10):
        assert ws.send(OP_PING, b"payload-%d" % i)
        assert ws.recv_message() == ("pong", b"payload-%d" % i)
    ws.close()


def test_2_burst_of_pings(server, tok):
    """Autobahn 2.10/2.11 (burst): RFC 6455 section 5.5.3 lets a server
    answer only some of pings sent back to back (lws 4.1 keeps one pending
    pong), so: at least one pong, each with one of our payloads, in order,
    and the connection stays usable."""
    ws = connect(server, tok)
    sent = [b"payload-%d" % i for i in range(10)]
    assert ws.send_raw(b"".join(frame_bytes(OP_PING, p) for p in sent), chop=None)
    assert ws.send_text(ping_json())
    pongs = []
    while True:
        m = ws.recv_message()
        if isinstance(m, str):
            assert json.loads(m)["type"] == "pong"
            break
        assert m[0] == "pong", m
        pongs.append(m[1])
    assert pongs and all(p in sent for p in pongs), pongs
    assert pongs == sorted(pongs, key=sent.index), pongs
    ws.close()


# ---------------------------------------------------------------------------
# 3. Reserved bits (no extension is negotiated)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rsv", range(1, 8))
def test_3_reserved_bits_on_text_fail_1002(server, tok, rsv):
    """Autobahn 3.1-3.5: after a valid message, a frame with RSV bits; the
    valid one is answered, nothing after the bad one."""
    ws = connect(server, tok)
    data = frame_bytes(OP_TEXT, ping_json()) + frame_bytes(OP_TEXT, ping_json(), rsv=rsv) + \
        frame_bytes(OP_PING, b"after")
    assert ws.send_raw(data)
    assert_failed(ws, 1002, answered=["pong-event"])


@pytest.mark.parametrize("opcode", [OP_PING, OP_CLOSE, OP_BINARY])
def test_3_reserved_bits_on_other_frames_fail_1002(server, tok, opcode):
    """Autobahn 3.6/3.7 (ping, close) and a binary frame."""
    ws = connect(server, tok)
    payload = close_payload(1000) if opcode == OP_CLOSE else b"x"
    assert ws.send(opcode, payload, rsv=4)
    assert_failed(ws, 1002)


# ---------------------------------------------------------------------------
# 4. Opcodes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_4_reserved_opcode_fails_1002(server, tok, opcode):
    """Autobahn 4.1.x / 4.2.x: a valid message, a frame with a reserved
    opcode, then a ping: only the first is answered."""
    ws = connect(server, tok)
    data = frame_bytes(OP_TEXT, ping_json()) + frame_bytes(opcode, b"reserved") + \
        frame_bytes(OP_PING, b"after")
    assert ws.send_raw(data)
    assert_failed(ws, 1002, answered=["pong-event"])


# ---------------------------------------------------------------------------
# 5. Fragmentation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG])
def test_5_fragmented_control_frame_fails_1002(server, tok, opcode):
    """Autobahn 5.1/5.2: control frames MUST NOT be fragmented (RFC 6455
    section 5.5)."""
    ws = connect(server, tok)
    data = frame_bytes(opcode, b"frag1", fin=False) + frame_bytes(OP_CONT, b"frag2")
    assert ws.send_raw(data)
    assert_failed(ws, 1002)


@pytest.mark.parametrize("chop", [None, 1])
def test_5_text_in_two_fragments(server, tok, chop):
    """Autobahn 5.3-5.5."""
    ws = connect(server, tok)
    msg = ping_json(64)
    assert ws.send_fragments(OP_TEXT, [msg[:30], msg[30:]], chop=chop)
    expect_pong_event(ws)
    ws.close()


def test_5_text_in_many_fragments_including_empty_ones(server, tok):
    ws = connect(server, tok)
    msg = ping_json(200)
    parts = [b""] + [msg[i:i + 1] for i in range(len(msg))] + [b""]
    assert ws.send_fragments(OP_TEXT, parts)
    expect_pong_event(ws)
    ws.close()


@pytest.mark.parametrize("chop", [None, 1])
def test_5_ping_between_fragments(server, tok, chop):
    """Autobahn 5.6-5.8, 5.19/5.20: control frames may be interleaved with
    the fragments of a message; the pong comes first, then the message's
    answer."""
    ws = connect(server, tok)
    msg = ping_json(90)
    data = frame_bytes(OP_TEXT, msg[:10], fin=False) + frame_bytes(OP_PING, b"in between") + \
        frame_bytes(OP_CONT, msg[10:40], fin=False) + frame_bytes(OP_PONG, b"unsolicited") + \
        frame_bytes(OP_CONT, msg[40:])
    assert ws.send_raw(data, chop=chop)
    assert ws.recv_message() == ("pong", b"in between")
    expect_pong_event(ws)
    ws.close()


@pytest.mark.parametrize("fin", [True, False])
def test_5_continuation_without_start_fails_1002(server, tok, fin):
    """Autobahn 5.9-5.14: a continuation frame with no message to continue."""
    ws = connect(server, tok)
    data = frame_bytes(OP_CONT, b"non-continuation payload", fin=fin) + \
        frame_bytes(OP_TEXT, ping_json())
    assert ws.send_raw(data)
    assert_failed(ws, 1002)


def test_5_continuation_after_finished_message_fails_1002(server, tok):
    """Autobahn 5.15: text (2 fragments, finished), then a stray
    continuation."""
    ws = connect(server, tok)
    msg = ping_json(40)
    data = frame_bytes(OP_TEXT, msg[:10], fin=False) + frame_bytes(OP_CONT, msg[10:]) + \
        frame_bytes(OP_CONT, b"stray", fin=False) + frame_bytes(OP_CONT, b"stray")
    assert ws.send_raw(data)
    assert_failed(ws, 1002, answered=["pong-event"])


def test_5_new_message_inside_a_fragmented_one_fails_1002(server, tok):
    """Autobahn 5.18: two text frames with FIN clear: the second starts a
    message while the first is unfinished."""
    ws = connect(server, tok)
    data = frame_bytes(OP_TEXT, b'{"type":', fin=False) + frame_bytes(OP_TEXT, b'"ping"}')
    assert ws.send_raw(data)
    assert_failed(ws, 1002)


def test_5_fragmented_message_over_the_limit_closes_1009(start_server):
    srv = start_server(max_frame_bytes=4096)
    t = srv.register()["access_token"]
    ws = connect(srv, t)
    assert ws.send_fragments(OP_TEXT, [b'{"type":"ping","pad":"' + b"x" * 3000, b"x" * 3000])
    assert_failed(ws, 1009)


# ---------------------------------------------------------------------------
# 6. UTF-8
# ---------------------------------------------------------------------------

VALID_TEXTS = {
    "greek": "κόσμε",
    "boundaries-first": "\u0080\u0800\U00010000",
    "boundaries-last": "\u007f\u07ff\uffff\U0010ffff",
    "other-boundaries": "\ud7ff\ue000\ufffd\U0010fffd",
    "noncharacters": "\ufdd0\ufdef\ufffe\U0001fffe\U0010fffe",
    "emoji": "🩺 hypertensión crónica 高血压",
}


def ping_with_text(text: str) -> bytes:
    return b'{"type":"ping","pad":"' + text.encode("utf-8") + b'"}'


@pytest.mark.parametrize("name", list(VALID_TEXTS))
def test_6_valid_utf8_is_accepted(server, tok, name):
    """Autobahn 6.2, 6.5-6.7, 6.11, 6.22/6.23: valid UTF-8 (RFC 3629),
    including noncharacters, which are valid."""
    ws = connect(server, tok)
    assert ws.send_text(ping_with_text(VALID_TEXTS[name]))
    expect_pong_event(ws)
    ws.close()


def test_6_valid_utf8_split_at_every_byte(server, tok):
    """Autobahn 6.2.3/6.2.4: a message of multi-byte code points in 1-byte
    fragments, so every code point is split across frames."""
    ws = connect(server, tok)
    msg = ping_with_text("κόσμε 🩺 \U0010ffff")
    assert ws.send_fragments(OP_TEXT, [msg[i:i + 1] for i in range(len(msg))])
    expect_pong_event(ws)
    ws.close()


@pytest.mark.parametrize("cut", range(1, 4))
def test_6_four_byte_code_point_split_across_two_fragments(server, tok, cut):
    ws = connect(server, tok)
    msg = ping_with_text("\U0001F9EA")
    i = msg.index(b"\xf0") + cut
    assert ws.send_fragments(OP_TEXT, [msg[:i], msg[i:]])
    expect_pong_event(ws)
    ws.close()


INVALID_UTF8 = {
    "lone-continuation": b"\x80",
    "continuation-run": b"\x80\xbf\x80",
    "overlong-slash-2": b"\xc0\xaf",
    "overlong-slash-3": b"\xe0\x80\xaf",
    "overlong-slash-4": b"\xf0\x80\x80\xaf",
    "overlong-max-2": b"\xc1\xbf",
    "overlong-nul-3": b"\xe0\x80\x80",
    "surrogate-high": b"\xed\xa0\x80",
    "surrogate-low": b"\xed\xbf\xbf",
    "surrogate-pair": b"\xed\xa0\x80\xed\xb0\x80",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "f5-byte": b"\xf5\x80\x80\x80",
    "fe-byte": b"\xfe",
    "ff-byte": b"\xff",
    "5-byte-sequence": b"\xf8\x88\x80\x80\x80",
    "truncated-2": b"\xce",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\xa9",
    "truncated-then-ascii": b"\xe2\x82a",
    "autobahn-6.3.1": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
}


@pytest.mark.parametrize("name", list(INVALID_UTF8))
def test_6_invalid_utf8_fails_1007(server, tok, name):
    """Autobahn 6.3-6.21: a text message that is not valid UTF-8 fails the
    connection with 1007 (RFC 6455 section 8.1), not with the protocol's
    4000."""
    ws = connect(server, tok)
    assert ws.send_text(b'{"type":"ping","pad":"' + INVALID_UTF8[name] + b'"}')
    assert_failed(ws, 1007)


def test_6_invalid_utf8_at_end_of_message(server, tok):
    """A message whose last code point is cut off (nothing after it)."""
    ws = connect(server, tok)
    assert ws.send_text(b'{"type":"ping"}\xe2\x82')
    assert_failed(ws, 1007)


def test_6_invalid_utf8_in_one_byte_fragments(server, tok):
    """Autobahn 6.3.2."""
    ws = connect(server, tok)
    msg = b'{"type":"ping","pad":"' + INVALID_UTF8["autobahn-6.3.1"] + b'"}'
    assert ws.send_fragments(OP_TEXT, [msg[i:i + 1] for i in range(len(msg))])
    assert_failed(ws, 1007)


def test_6_fail_fast_on_invalid_first_fragment(server, tok):
    """Autobahn 6.4.1-6.4.4: the connection fails as soon as a fragment is
    invalid, before the message is finished."""
    ws = connect(server, tok)
    assert ws.send(OP_TEXT, b'{"type":"ping","pad":"\xce\xba\xf4\x90\x80\x80', fin=False)
    assert_failed(ws, 1007)


def test_6_split_code_point_completed_by_next_message_fails(server, tok):
    """A code point cannot straddle two messages."""
    ws = connect(server, tok)
    data = frame_bytes(OP_TEXT, b'{"type":"ping"}\xf0\x9f') + frame_bytes(OP_TEXT, b"\xa9\xba")
    assert ws.send_raw(data)
    assert_failed(ws, 1007)


def test_6_binary_payload_is_not_checked_as_utf8_in_ping(server, tok):
    """Ping payloads are binary data (not UTF-8 checked)."""
    ws = connect(server, tok)
    assert ws.send(OP_PING, b"\xff\xfe\xc0")
    assert ws.recv_message() == ("pong", b"\xff\xfe\xc0")
    ws.close()


# ---------------------------------------------------------------------------
# 7. Close handling
# ---------------------------------------------------------------------------

def test_7_message_then_close(server, tok):
    """Autobahn 7.1.1: the message is answered, then the close is echoed."""
    ws = connect(server, tok)
    assert ws.send_raw(frame_bytes(OP_TEXT, ping_json()) + frame_bytes(OP_CLOSE, close_payload(1000)))
    code, _reason, before = ws.expect_close(reply=False)
    assert code == 1000
    assert len(before) == 1 and json.loads(before[0])["type"] == "pong", before


def test_7_two_closes(server, tok):
    """Autobahn 7.1.2."""
    ws = connect(server, tok)
    assert ws.send_raw(frame_bytes(OP_CLOSE, close_payload(1000)) * 2)
    code, _r, before = ws.expect_close(reply=False)
    assert code == 1000 and before == []


@pytest.mark.parametrize("after", ["ping", "text", "fragment"])
def test_7_frames_after_close_are_not_answered(server, tok, after):
    """Autobahn 7.1.3-7.1.5: after the client's close, nothing it sends is
    acted on: the server only completes the closing handshake."""
    ws = connect(server, tok)
    tail = {"ping": frame_bytes(OP_PING, b"after close"),
            "text": frame_bytes(OP_TEXT, ping_json()),
            "fragment": frame_bytes(OP_CONT, b'"}')}[after]
    head = frame_bytes(OP_TEXT, b'{"type":"ping","pad":"', fin=False) if after == "fragment" else b""
    assert ws.send_raw(head + frame_bytes(OP_CLOSE, close_payload(1000)) + tail)
    code, _r, before = ws.expect_close(reply=False)
    assert code == 1000 and before == [], (code, before)


def test_7_close_while_streaming_sends_nothing_after_close(server, tok):
    """RFC 6455 section 5.5.1: after sending its close frame an endpoint
    sends no more data frames, even while an answer is streaming."""
    ws = connect(server, tok)
    q = {"type": "message", "text": "What are the symptoms of asthma?",
         "client_message_id": "conf-" + str(time.time())}
    assert ws.send_text(json.dumps(q))
    m = ws.recv_message()
    assert json.loads(m)["type"] == "message_start", m
    assert ws.send_close(1000)
    code, _r, before = ws.expect_close(reply=False)
    assert code == 1000
    for b in before:
        assert isinstance(b, str), b


def test_7_close_without_payload(server, tok):
    """Autobahn 7.3.1: answered with a close (no status or 1000)."""
    ws = connect(server, tok)
    assert ws.send_close(None)
    code, _r, _b = ws.expect_close(reply=False)
    assert code in (None, 1000), code


@pytest.mark.parametrize("reason", [b"", b"Hello World!", b"*" * 123],
                         ids=["code-only", "reason", "123-byte-reason"])
def test_7_close_with_code_and_reason(server, tok, reason):
    """Autobahn 7.3.3-7.3.5."""
    ws = connect(server, tok)
    assert ws.send_close(1000, reason)
    code, _r, _b = ws.expect_close(reply=False)
    assert code == 1000


def test_7_close_payload_of_one_byte_fails_1002(server, tok):
    """Autobahn 7.3.2: a 1-byte close payload is invalid (a status code is
    two bytes)."""
    ws = connect(server, tok)
    assert ws.send(OP_CLOSE, b"a")
    assert_failed(ws, 1002)


def test_7_close_reason_too_long_fails_1002(server, tok):
    """Autobahn 7.3.6: 2 + 124 bytes is over the 125-byte control frame
    limit."""
    ws = connect(server, tok)
    assert ws.send(OP_CLOSE, close_payload(1000, b"*" * 124))
    assert_failed(ws, 1002)


def test_7_close_reason_invalid_utf8_fails_1002(server, tok):
    """Autobahn 7.5.1: the reason must be UTF-8 (RFC 6455 section 5.5.1)."""
    ws = connect(server, tok)
    assert ws.send_close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")
    assert_failed(ws, 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                  3000, 3999, 4000, 4999])
def test_7_valid_close_codes_are_echoed(server, tok, code):
    """Autobahn 7.7.x: a clean close with 1000 or the same code."""
    ws = connect(server, tok)
    assert ws.send_close(code)
    got, _r, _b = ws.expect_close(reply=False)
    assert got in (1000, code), got


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                                  5000, 65535])
def test_7_invalid_close_codes_fail_1002(server, tok, code):
    """Autobahn 7.9.x and 7.13.x (5000, 65535): codes outside RFC 6455
    section 7.4 and the IANA registry fail with 1002 instead of being
    echoed."""
    ws = connect(server, tok)
    assert ws.send_close(code)
    assert_failed(ws, 1002)
