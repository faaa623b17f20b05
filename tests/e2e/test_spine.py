"""The spine's guarantees end to end: every client number validated,
admission limits with clear errors, start-up that refuses what it cannot
serve, a private and checked database, and several gateway processes on one
database (node leases: nobody marks a live peer's answer interrupted)."""

import asyncio
import json
import os
import stat
import subprocess
import time

from medstream_e2e import (DISCLAIMER_TEXT, E2E_KB, HEMO_QUESTION, MENIERE_QUESTION, assert_complete_consistent,
                           ask, child_env, collect, connect, expect_error, free_port, new_cmid,
                           ping, run, send_json, send_message)


def test_resume_with_impossible_last_seq_is_refused(server, user):
    """A resume whose last_seq is INT64_MAX used to overflow last_seq + 1
    and abort the server. Now it is an invalid_message error, the
    connection stays open and the answer is intact."""
    async def go():
        ws, _ = await connect(server, user["access_token"])
        st = await ask(ws, "What is asthma?")
        for last in (9223372036854775807, 2**31, -1, 1.5, "3"):
            await send_json(ws, {"type": "resume", "message_id": st.message_id, "last_seq": last})
            err = await expect_error(ws)
            assert err["code"] == "invalid_message", (last, err)
        # Past the end of a finished answer: also impossible.
        await send_json(ws, {"type": "resume", "message_id": st.message_id,
                             "last_seq": st.complete["seq"] + 1})
        err = await expect_error(ws)
        assert err["code"] == "invalid_message" and err["message_id"] == st.message_id, err
        await ping(ws)
        await send_json(ws, {"type": "resume", "message_id": st.message_id, "last_seq": 0})
        again = await collect(ws, message_id=st.message_id)
        assert again.complete["text"] == st.complete["text"]
        await ws.close()
    run(go())


async def _events_until(ws, done, timeout=60):
    """Reads events until done(events) is true; returns them all."""
    events = []
    deadline = time.monotonic() + timeout
    while not done(events):
        raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        events.append(json.loads(raw))
    return events


def test_turn_caps_answer_overloaded(start_server):
    """One user cannot hold more than max_turns_per_user answers at once:
    the next question gets a retryable `overloaded` error (nothing stored),
    while another user is still served; once an answer ends, the user may
    ask again."""
    srv = start_server(kb=[("jsonl", E2E_KB)], word_interval_ms=30, max_turns_per_user=2)
    a, b = srv.register(), srv.register()

    async def go():
        ws, _ = await connect(srv, a["access_token"])
        await send_message(ws, HEMO_QUESTION)
        await send_message(ws, HEMO_QUESTION)
        starts = lambda evs: [e for e in evs if e["type"] == "message_start"]
        evs = await _events_until(ws, lambda e: len(starts(e)) == 2)
        await send_message(ws, "What is gout?")
        evs += await _events_until(ws, lambda e: any(x["type"] == "error" for x in e))
        err = next(e for e in evs if e["type"] == "error")
        assert err["code"] == "overloaded" and err["retryable"] is True, err
        wb, _ = await connect(srv, b["access_token"])
        other = await ask(wb, MENIERE_QUESTION)
        assert other.complete["status"] == "complete"
        ids = {e["message_id"] for e in starts(evs)}
        done = lambda e: {x["message_id"] for x in e if x["type"] == "message_complete"} >= ids
        if not done(evs):
            evs += await _events_until(ws, done)
        again = await ask(ws, MENIERE_QUESTION)
        assert again.complete["status"] == "complete"
        await ws.close()
        await wb.close()
        return evs
    evs = run(go())
    assert sum(e["type"] == "message_start" for e in evs) == 2


def _serve(argv, timeout=20):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, env=child_env())


def test_taken_port_is_a_clear_start_up_failure(server, tmp_path):
    """A second medstream on a port already in use used to log bind errors,
    print that it was serving, and keep running. It must exit non-zero
    with a clear message instead."""
    bin_path = server.bin
    r = _serve([bin_path, "serve", "--listen", f"127.0.0.1:{server.port}",
                "--data-dir", str(tmp_path / "d")])
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "already in use" in r.stderr, r.stderr[-2000:]
    assert "is serving" not in r.stdout, r.stdout


def test_database_is_private_and_checked(server, tmp_path):
    """The database holds PHI: it is mode 0600. A damaged file is refused at
    start-up (PRAGMA quick_check) with a clear message, never served."""
    db = server.data_dir / "medstream.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600, oct(os.stat(db).st_mode)
    data = tmp_path / "corrupt"
    data.mkdir()
    # A database with many pages, then garbage over its middle.
    p = free_port()
    r = subprocess.Popen([server.bin, "serve", "--listen", f"127.0.0.1:{p}",
                          "--data-dir", str(data)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
    deadline = time.monotonic() + 20
    while not (data / "medstream.db").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    r.terminate()
    r.wait(timeout=20)
    size = (data / "medstream.db").stat().st_size
    assert size > 8 * 4096, size
    with open(data / "medstream.db", "r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(b"\x5a" * 4096 * 2)
    for suffix in ("-wal", "-shm"):
        try:
            os.remove(str(data / "medstream.db") + suffix)
        except FileNotFoundError:
            pass
    out = _serve([server.bin, "serve", "--listen", f"127.0.0.1:{free_port()}",
                  "--data-dir", str(data)])
    assert out.returncode == 1, (out.returncode, out.stderr[-2000:])
    assert "integrity check" in out.stderr or "cannot open the database" in out.stderr, \
        out.stderr[-2000:]
    assert "is serving" not in out.stdout


def test_two_gateways_share_one_database(start_server):
    """Two processes on one database (as behind a load balancer): turns on
    one conversation from both are numbered without clashes, each sees the
    other's messages, and when one is killed mid-answer the survivor never
    marks its own live answer interrupted, while the dead one's answer is
    recovered (with the disclaimer) within about one lease."""
    flags = dict(word_interval_ms=30, checkpoint_ms=100, lease_ms=1500)
    a = start_server(kb=[("jsonl", E2E_KB)], **flags)
    b = start_server(data_dir=a.data_dir, **flags)
    u = a.register()
    tok_b = b.login(u["email"], u["password"])["access_token"]
    tok_a = u["access_token"]

    async def go():
        wa, _ = await connect(a, tok_a)
        wb, _ = await connect(b, tok_b)
        first = await ask(wa, "What is hemochromatosis?")
        conv = first.start["conversation_id"]
        # Both nodes answer in the same conversation at once.
        ca = await send_message(wa, "How is it treated?", conversation_id=conv)
        cb = await send_message(wb, "What causes it?", conversation_id=conv)
        sa = await collect(wa, client_message_id=ca)
        sb = await collect(wb, client_message_id=cb)
        for s in (sa, sb):
            assert_complete_consistent(s)
        # A long answer on each; then a is killed while both stream.
        la = await send_message(wa, HEMO_QUESTION, conversation_id=conv)
        lb = await send_message(wb, HEMO_QUESTION, conversation_id=conv)
        sla = await collect(wa, client_message_id=la, max_chunks=3)
        slb = await collect(wb, client_message_id=lb, max_chunks=3)
        await asyncio.sleep(0.3)  # a checkpoint of a's answer
        a.kill9()
        # b keeps streaming its own answer to the end, untouched.
        await collect(wb, stream=slb, timeout=60)
        await wb.close()
        return conv, sla, slb
    conv, sla, slb = run(go())
    assert slb.complete["status"] == "complete", slb.complete
    msgs = b.messages(tok_b, conv)
    ids = [m["id"] for m in msgs]
    assert len(ids) == len(set(ids)) == 10, [(m["role"], m["status"]) for m in msgs]
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 5
    # The dead node's answer is recovered by b's lease renewal.
    deadline = time.monotonic() + 20
    while True:
        m = next(x for x in b.messages(tok_b, conv) if x["id"] == sla.message_id)
        if m["status"] != "streaming" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert m["status"] == "interrupted", m
    assert m["content"].endswith(DISCLAIMER_TEXT)
    mb = next(x for x in b.messages(tok_b, conv) if x["id"] == slb.message_id)
    assert mb["status"] == "complete" and mb["content"] == slb.complete["text"]


def test_login_burst_does_not_delay_retrieval(start_server):
    """Password hashing has its own pool: while a burst of logins (argon2id,
    slow by design) keeps it busy, a question's retrieval still runs at once.
    On one shared pool the search queued behind the hashes. Measured
    relatively: retrieval must finish long before the burst does."""
    srv = start_server(kb=[("jsonl", E2E_KB)], login_rate_per_min=100000)
    users = [srv.register() for _ in range(3)]
    asker = users[0]

    import concurrent.futures
    import requests as rq

    def login(u):
        r = rq.post(srv.base_url + "/api/auth/login",
                    json={"email": u["email"], "password": u["password"]}, timeout=120)
        return r.status_code

    async def go():
        ws, _ = await connect(srv, asker["access_token"])
        loop = asyncio.get_running_loop()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=24)
        t0 = time.monotonic()
        burst = [loop.run_in_executor(pool, login, users[i % 3]) for i in range(24)]
        await asyncio.sleep(0.2)  # the hashes are running
        cmid = await send_message(ws, HEMO_QUESTION)
        t_ask = time.monotonic()
        t_result = None
        while t_result is None:
            ev = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if ev["type"] == "tool_result":
                t_result = time.monotonic()
        codes = await asyncio.gather(*burst)
        t_burst = time.monotonic()
        pool.shutdown()
        await ws.close()
        return codes, t_result - t_ask, t_burst - t0
    codes, retrieval_s, burst_s = run(go())
    assert codes == [200] * 24, codes
    assert burst_s > 1.0, f"the burst was too short to tell ({burst_s:.2f} s)"
    assert retrieval_s < burst_s / 4, (
        f"retrieval took {retrieval_s:.2f} s during a {burst_s:.2f} s login burst")
