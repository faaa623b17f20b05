"""PHI never reaches a model that is not local (issue 9, "PHI detection and
routing"): a message carrying an MRN, one with a name and a date of birth,
and one the detector is unsure about are refused with
`phi_requires_local_provider` on a route whose only provider is a cloud
one, and the upstream's recorded request bodies hold none of them. A
message without PHI on the same route does reach the upstream, so the
check cannot pass by sending nothing at all.

The upstream is a minimal OpenAI-compatible server on loopback
(`POST /v1/chat/completions`, stream: Server-Sent Events ending in
`data: [DONE]`, as OpenAI's API reference shows) that records every body.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from medstream_e2e import connect, free_port, recv_event, run, send_message

PHI_MESSAGES = {
    "mrn": ("Which statin for pt MRN 22334455 with CKD stage 3?", ["22334455"]),
    "name_dob": ("Can John Smith, DOB 04/12/1950, take ibuprofen with warfarin?",
                 ["John Smith", "04/12/1950"]),
    "unsure": ("Is the result 48213 worrying for hepatitis B?", ["48213"]),
}
CLEAN_MESSAGE = "What is the first-line treatment of gout?"


class FakeOpenAI:
    """Loopback chat-completions server recording every request body."""

    def __init__(self):
        self.bodies = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(self.rfile.read(n).decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in ["Allopurinol ", "or colchicine [1]."]:
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "fake",
                             "choices": [{"index": 0, "delta": {"content": piece},
                                          "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                done = {"id": "c1", "object": "chat.completion.chunk", "model": "fake",
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cloud_only(start_server, tmp_path):
    up = FakeOpenAI()
    cfg = tmp_path / "providers.json"
    cfg.write_text(json.dumps({
        "providers": [{"name": "cloud", "kind": "openai",
                       "base_url": f"http://127.0.0.1:{up.port}/v1", "model": "fake",
                       "api_key_env": "MS_PHI_TEST_KEY", "local": False}],
        "routes": {"cloud": ["cloud"]},
    }))
    srv = start_server(config=str(cfg), default_route="cloud",
                       env={"MS_PHI_TEST_KEY": "test-key-not-secret"})
    yield srv, up
    up.close()


async def answer_events(srv, token, text):
    """Every event about one question, until its message_complete or error."""
    ws, _ = await connect(srv, token)
    try:
        cmid = await send_message(ws, text)
        events, mid = [], None
        while True:
            ev = await recv_event(ws)
            if ev.get("type") == "message_start" and ev.get("client_message_id") == cmid:
                mid = ev["message_id"]
            if ev.get("message_id") in (None, mid) or ev.get("client_message_id") == cmid:
                events.append(ev)
            if ev.get("type") in ("message_complete", "error") and \
                    ev.get("message_id") in (None, mid):
                return events
    finally:
        await ws.close()


@pytest.mark.parametrize("kind", sorted(PHI_MESSAGES))
def test_phi_never_reaches_a_cloud_upstream(cloud_only, kind):
    srv, up = cloud_only
    token = srv.register()["access_token"]
    text, values = PHI_MESSAGES[kind]
    events = run(answer_events(srv, token, text))
    assert "phi_requires_local_provider" in json.dumps(events), events
    routing = [e for e in events if e.get("type") == "routing"]
    for e in routing:
        for v in values:
            assert v not in json.dumps(e), e  # telemetry names categories, never values
    for body in up.bodies:
        for v in values:
            assert v not in body, f"{kind}: {v!r} reached the cloud upstream"
    # The same route does reach the upstream for a question without PHI.
    before = len(up.bodies)
    run(answer_events(srv, token, CLEAN_MESSAGE))
    assert len(up.bodies) > before, "the clean question never reached the upstream"
