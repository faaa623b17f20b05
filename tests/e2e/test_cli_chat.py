"""`medstream chat`, the terminal client, against a real server.

With stdin piped the command asks each line as a question, streams the
answers to stdout, prints each answer's citations as "[n] title — url",
and exits 0 once the last answer is complete. A TCP proxy that cuts the
first WebSocket connection mid-answer checks that the client resumes
(`resume {message_id, last_seq}`) without losing or repeating text.
"""

import asyncio
import re
import socket
import struct
import subprocess
import threading

from medstream_e2e import (HEMO_QUESTION, HEMO_URLS, MENIERE_QUESTION, MENIERE_URL, child_env,
                           medstream_bin, sanitizer_report)

CLI_TIMEOUT = 180
CITATION_LINE = re.compile(r"^\[(\d+)\] (.+) \u2014 (https?://\S+)$", re.M)


def run_chat(base_url, email, stdin_text, password=None, extra_args=(), timeout=CLI_TIMEOUT):
    env = child_env()
    if password is not None:
        env["MEDSTREAM_PASSWORD"] = password
    cmd = [medstream_bin(), "chat", "--url", base_url, "--email", email, *extra_args]
    r = subprocess.run(cmd, input=stdin_text.encode(), capture_output=True, timeout=timeout,
                       env=env)
    out, err = r.stdout.decode(), r.stderr.decode(errors="replace")
    rep = sanitizer_report(err)
    assert rep is None, f"sanitizer report from medstream chat:\n{rep}"
    return r.returncode, out, err


def newest_conversation(server, token):
    r = server.api("GET", "/api/conversations", token)
    assert r.status_code == 200, r.text
    convs = r.json()["conversations"]
    assert convs, "the chat created no conversation"
    return convs[0]


def assistant_messages(server, token, conversation_id):
    return [m for m in server.messages(token, conversation_id) if m["role"] == "assistant"]


def assert_answer_printed(out, msg):
    """The stored answer appears exactly once, byte for byte, followed by its
    citations as "[index] title — url"."""
    content = msg["content"]
    assert msg["status"] == "complete", msg["status"]
    assert out.count(content) == 1, f"stored answer not printed exactly once:\n{out[:3000]}"
    after = out[out.index(content) + len(content):]
    lines = {(int(m.group(1)), m.group(2), m.group(3)) for m in CITATION_LINE.finditer(after)}
    assert msg["citations"], "the answer has no citations"
    for c in msg["citations"]:
        assert (c["index"], c["title"], c["url"]) in lines, (c, after[:2000])


def test_chat_streams_answer_and_citations(kb_server, kb_user):
    code, out, err = run_chat(kb_server.base_url, kb_user["email"], HEMO_QUESTION + "\n",
                              password=kb_user["password"])
    assert code == 0, f"exit {code}\nstderr: {err}\nstdout: {out[:2000]}"
    tok = kb_user["access_token"]
    conv = newest_conversation(kb_server, tok)
    (msg,) = assistant_messages(kb_server, tok, conv["id"])
    assert_answer_printed(out, msg)
    assert {c["url"] for c in msg["citations"]} & HEMO_URLS
    assert "\u2014 " in out and not out.startswith("> "), "no prompt when stdin is piped"


def test_chat_password_on_stdin_and_follow_up_in_same_conversation(kb_server):
    user = kb_server.register()
    stdin = f"{user['password']}\n{MENIERE_QUESTION}\n\n{HEMO_QUESTION}\n"
    code, out, err = run_chat(kb_server.base_url, user["email"], stdin)
    assert code == 0, f"exit {code}\nstderr: {err}"
    tok = user["access_token"]
    r = kb_server.api("GET", "/api/conversations", tok)
    convs = r.json()["conversations"]
    assert len(convs) == 1, "the follow-up did not reuse the conversation"
    msgs = assistant_messages(kb_server, tok, convs[0]["id"])
    assert len(msgs) == 2, "a blank line must not be asked"
    for m in msgs:
        assert_answer_printed(out, m)
    assert out.index(msgs[0]["content"]) < out.index(msgs[1]["content"])
    assert any(c["url"] == MENIERE_URL for c in msgs[0]["citations"])


def test_chat_bad_password_is_one_clear_line(server):
    user = server.register()
    code, out, err = run_chat(server.base_url, user["email"], "hello\n", password="wrong password")
    assert code != 0
    assert out == ""
    assert err.strip().count("\n") == 0 and "invalid email or password" in err, err


def test_chat_unreachable_server(server):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    code, out, err = run_chat(f"http://127.0.0.1:{port}", "a@example.test", "hi\n",
                              password="whatever123", timeout=60)
    assert code != 0
    assert "cannot reach server" in err and err.strip().count("\n") == 0, err


def test_chat_help():
    r = subprocess.run([medstream_bin(), "chat", "--help"], capture_output=True, text=True,
                       timeout=30, env=child_env())
    assert r.returncode == 0 and "--conversation" in r.stdout


class CuttingProxy:
    """Forwards 127.0.0.1:port to the server; the first WebSocket connection
    is cut (both ways, without a close frame) once `cut_after` message_chunk
    frames went through. Records the JSON text frames the client sent on
    each WebSocket connection (they are masked, RFC 6455 section 5.3)."""

    def __init__(self, target_port, cut_after=4):
        self.target_port = target_port
        self.cut_after = cut_after
        self.ws_conns = 0
        self.client_frames = []  # one list of payloads per WebSocket connection
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def close(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @staticmethod
    def _frames(buf, out):
        """Parses complete client frames off buf into out; returns the rest."""
        while len(buf) >= 2:
            n, pos = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, pos = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, pos = struct.unpack("!Q", buf[2:10])[0], 10
            masked = buf[1] & 0x80
            if len(buf) < pos + (4 if masked else 0) + n:
                break
            key = buf[pos:pos + 4] if masked else b"\0\0\0\0"
            pos += 4 if masked else 0
            data = bytes(b ^ key[i % 4] for i, b in enumerate(buf[pos:pos + n]))
            if buf[0] & 0x0F == 1:
                out.append(data.decode(errors="replace"))
            buf = buf[pos + n:]
        return buf

    async def _handle(self, cr, cw):
        try:
            head = await cr.readuntil(b"\r\n\r\n")
            sr, sw = await asyncio.open_connection("127.0.0.1", self.target_port)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            cw.transport.abort()  # a client that sent no request, or no server
            return
        is_ws = b"upgrade: websocket" in head.lower()
        cut = is_ws and self.ws_conns == 0
        frames = []
        if is_ws:
            self.ws_conns += 1
            self.client_frames.append(frames)
        sw.write(head)

        async def up():
            buf = b""
            while data := await cr.read(65536):
                sw.write(data)
                if is_ws:
                    buf = self._frames(buf + data, frames)
            sw.close()

        async def down():
            seen = 0
            while data := await sr.read(65536):
                cw.write(data)
                await cw.drain()
                seen += data.count(b'"message_chunk"')
                if cut and seen >= self.cut_after:
                    cw.transport.abort()
                    sw.transport.abort()
                    return
            cw.close()

        try:
            await asyncio.gather(up(), down())
        except (ConnectionError, OSError):
            pass
        finally:
            cw.transport.abort()
            sw.transport.abort()


def test_chat_resumes_after_a_dropped_connection(kb_server, kb_user):
    proxy = CuttingProxy(kb_server.port, cut_after=4)
    try:
        code, out, err = run_chat(f"http://127.0.0.1:{proxy.port}", kb_user["email"],
                                  HEMO_QUESTION + "\n", password=kb_user["password"])
    finally:
        proxy.close()
    assert code == 0, f"exit {code}\nstderr: {err}\nstdout: {out[:2000]}"
    assert proxy.ws_conns >= 2, "the client never reconnected"
    second = " ".join(proxy.client_frames[1])
    assert '"type":"resume"' in second and '"last_seq":' in second, second
    last_seq = int(re.search(r'"last_seq":(\d+)', second).group(1))
    assert last_seq >= 1, "resume must carry the seq of the last chunk printed"
    assert '"type":"message"' not in second, "the question was asked again instead of resumed"
    tok = kb_user["access_token"]
    conv = newest_conversation(kb_server, tok)
    (msg,) = assistant_messages(kb_server, tok, conv["id"])
    assert_answer_printed(out, msg)
