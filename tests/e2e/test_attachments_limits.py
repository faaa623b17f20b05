"""Attachments: bad input, limits and hostile files (docs/protocol.md
"Attachments"). Each is refused with a clear error (at upload: a 4xx with a
code; during extraction: status "failed" with error.code and a sentence),
nothing is left on disk for a refused upload, and the server never
crashes (the fixtures fail a test whose server died)."""

import os
import stat
import zipfile
import io

import pytest
import requests

import attach_fixtures as fx
from medstream_e2e import assert_error
from test_attachments import chat, upload, wait_done

MIB = 1 << 20


@pytest.fixture(scope="module")
def lim_server(_module_servers):
    # A body budget far below the file size: an upload that was buffered
    # whole could not be taken at all.
    return _module_servers.start(word_interval_ms=0, max_file_size_mb=1,
                                 body_budget_bytes=256 * 1024, download_budget_bytes=2 * MIB,
                                 extract_max_pages=5,
                                 extract_max_pixels=10_000_000, extract_max_bytes=4 * MIB)


@pytest.fixture
def lconv(lim_server):
    u = lim_server.register()
    tok = u["access_token"]
    c = lim_server.create_conversation(tok)
    m = chat(lim_server, tok, c["id"], "Here are the files.")
    return {"id": c["id"], "message_id": m["user_message"]["id"], "token": tok}


def blobs(server):
    root = server.data_dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_size_limit_and_streaming(lim_server, lconv):
    s, tok, mid = lim_server, lconv["token"], lconv["message_id"]
    before = blobs(s)
    # Just under the limit, far over the body budget: streamed, accepted.
    body = (b"The patient is stable. " * (MIB // 23))[:MIB - 100] + b"\n"
    r = upload(s, tok, mid, "big.txt", body)
    assert r.status_code == 201, r.text
    assert r.json()["file_size"] == len(body)
    # The same through chunked transfer coding (no Content-Length).
    url = s.base_url + f"/api/messages/{mid}/attachments"
    boundary = "XyZzY"

    def gen():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"chunked.txt\"\r\n\r\n").encode()
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = requests.post(url, data=gen(), headers={
        "Authorization": f"Bearer {tok}",
        "Content-Type": f"multipart/form-data; boundary={boundary}"}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json()["file_size"] == len(body) and r.json()["file_name"] == "chunked.txt"
    got = s.api("GET", r.json()["file_url"], tok)
    assert got.content == body
    # One byte over the limit: 413, nothing kept.
    n = len(blobs(s))
    r = upload(s, tok, mid, "over.txt", b"a" * (MIB + 1))
    assert_error(r, 413, "too_large")
    assert "max_file_size_mb" in r.json()["error"]["message"]
    assert len(blobs(s)) == n, [p.name for p in blobs(s)]
    # Content-Length far over the limit: refused on the headers.
    r = s.api("POST", f"/api/messages/{mid}/attachments", tok, data=b"x" * (3 * MIB),
              headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(r, 413, "too_large")
    assert len(blobs(s)) == len(before) + 2
    # Stored files and their directories are the service user's only.
    for p in blobs(s):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700, p.parent
    assert stat.S_IMODE((s.data_dir / "attachments").stat().st_mode) == 0o700


def test_bad_requests(lim_server, lconv):
    s, tok, mid = lim_server, lconv["token"], lconv["message_id"]
    path = f"/api/messages/{mid}/attachments"
    n = len(blobs(s))
    assert_error(s.api("POST", path, tok, json={"file": "x"}), 415, "unsupported_media_type")
    assert_error(s.api("POST", path, tok, data=b"--b\r\n",
                       headers={"Content-Type": "multipart/form-data"}), 400, "invalid_request")
    assert_error(s.api("POST", path, tok, headers={"Content-Type": "multipart/form-data; "
                                                   "boundary=b"}), 400, "invalid_request")
    # Only form fields, no file part.
    r = s.api("POST", path, tok, data={"note": "hello"}, files={"x": (None, "y")})
    assert_error(r, 400, "invalid_request")
    assert "filename" in r.json()["error"]["message"]
    # Truncated: the closing boundary never comes.
    r = s.api("POST", path, tok, data=b"--b\r\nContent-Disposition: form-data; name=\"file\"; "
              b"filename=\"t.txt\"\r\n\r\nhello there\r\n",
              headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(r, 400, "invalid_request")
    assert "closing boundary" in r.json()["error"]["message"]
    # An empty file, and two files in one request.
    assert_error(upload(s, tok, mid, "empty.txt", b""), 400, "invalid_request")
    r = s.api("POST", path, tok, files=[("file", ("a.txt", b"one\n")), ("file", ("b.txt", b"two\n"))])
    assert_error(r, 400, "invalid_request")
    assert "one file" in r.json()["error"]["message"]
    assert len(blobs(s)) == n


def test_refused_types(lim_server, lconv):
    s, tok, mid = lim_server, lconv["token"], lconv["message_id"]
    n = len(blobs(s))
    r = upload(s, tok, mid, "old.doc", fx.OLE2_DOC, "application/msword")
    assert_error(r, 415, "unsupported_media_type")
    assert ".docx" in r.json()["error"]["message"] and ".doc" in r.json()["error"]["message"]
    r = upload(s, tok, mid, "report.pdf", b"MZ\x90\x00" + os.urandom(5000), "application/pdf")
    assert_error(r, 415, "unsupported_media_type")  # named .pdf, but it is not one
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    r = upload(s, tok, mid, "sheet.docx", z.getvalue())
    assert_error(r, 415, "unsupported_media_type")
    assert "ZIP" in r.json()["error"]["message"]
    # Text whose first 4 KiB are fine and whose end is not UTF-8.
    r = upload(s, tok, mid, "notes.txt", b"a" * 10000 + b"\xff\xfe end\n")
    assert_error(r, 415, "unsupported_media_type")
    assert "UTF-8" in r.json()["error"]["message"]
    assert len(blobs(s)) == n


def hostile_cases():
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as z:
        z.writestr("inner.docx", fx.make_docx(["Inside."]))
    return [
        ("bomb.docx", fx.make_zip_bomb_docx(64 * MIB), "decompressed_too_large"),
        ("pages.pdf", fx.make_pdf([[f"Page {i}."] for i in range(6)]), "too_many_pages"),
        ("claims.pdf", fx.make_pdf([["One real page."]], claimed_pages=10_000_000),
         None),  # poppler counts real pages: read or refused, never a crash
        ("huge.png", fx.make_huge_png(50_000, 50_000), "image_too_large"),
        ("nested.docx", fx.make_docx(document_xml=nested.getvalue()), "malformed_file"),
        ("doctype.docx", fx.make_docx(document_xml=(
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>'
            f'<w:document xmlns:w="{fx.W_NS}"><w:body/></w:document>').encode()),
         "malformed_file"),
        ("broken.pdf", b"%PDF-1.4\n" + os.urandom(2000), "malformed_file"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200), "malformed_file"),
    ]


def test_hostile_files_fail_clearly(lim_server, lconv):
    s, tok, mid = lim_server, lconv["token"], lconv["message_id"]
    for name, data, code in hostile_cases():
        assert len(data) < MIB, (name, len(data))
        r = upload(s, tok, mid, name, data)
        assert r.status_code == 201, (name, r.text)
        a, _ = wait_done(s, tok, r.json())
        if code is None:
            assert a["status"] in ("ready", "failed"), a
            continue
        assert a["status"] == "failed", (name, a)
        assert a["error"]["code"] == code, (name, a["error"])
        assert len(a["error"]["message"]) > 10, a["error"]
        assert a["progress"] == 100
    bomb = [a for a in s.api("GET", f"/api/messages/{mid}/attachments", tok).json()
            if a["file_name"] == "bomb.docx"][0]
    assert "extract_max_bytes" in bomb["error"]["message"]
    # Failed files are still the user's to download or delete.
    assert s.api("GET", bomb["file_url"], tok).status_code == 200
    assert s.api("DELETE", f"/api/attachments/{bomb['id']}", tok).status_code == 204
    # And the server still answers.
    assert s.api("GET", "/health").status_code == 200


def test_download_budget(start_server):
    s = start_server(word_interval_ms=0, download_budget_bytes=4096)
    tok = s.register()["access_token"]
    c = s.create_conversation(tok)
    mid = chat(s, tok, c["id"], "Files.")["user_message"]["id"]
    small = upload(s, tok, mid, "small.txt", b"Short note.\n").json()
    big = upload(s, tok, mid, "big.txt", b"Long note. " * 1000).json()
    assert s.api("GET", small["file_url"], tok).content == b"Short note.\n"
    # More than download_budget_bytes at once: busy, and the server lives.
    assert_error(s.api("GET", big["file_url"], tok), 503, "busy")
    assert s.api("GET", small["file_url"], tok).status_code == 200


def test_interrupted_extraction_is_reported(start_server):
    """A row a stopped server left "extracting" is failed, not stuck."""
    import sqlite3
    s = start_server(word_interval_ms=0, extract_timeout_s=1)
    u = s.register()
    tok = u["access_token"]
    c = s.create_conversation(tok)
    mid = chat(s, tok, c["id"], "Files.")["user_message"]["id"]
    a = upload(s, tok, mid, "n.txt", b"A note.\n").json()
    wait_done(s, tok, a)
    s.stop()
    db = sqlite3.connect(str(s.data_dir / "medstream.db"))
    db.execute("UPDATE attachments SET status = 'extracting', progress = 40, updated_at = 1000"
               " WHERE id = ?", (a["id"],))
    db.commit()
    db.close()
    s2 = start_server(word_interval_ms=0, extract_timeout_s=1, data_dir=s.data_dir)
    tok = s2.login(u["email"], u["password"])["access_token"]
    got = s2.api("GET", f"/api/messages/{mid}/attachments", tok).json()[0]
    assert got["status"] == "failed" and got["error"]["code"] == "interrupted", got
    assert "upload it again" in got["error"]["message"]
    again = s2.api("GET", f"/api/messages/{mid}/attachments", tok).json()[0]
    assert (again["status"], again["error"]) == (got["status"], got["error"])  # stored
    assert s2.api("DELETE", f"/api/attachments/{a['id']}", tok).status_code == 204


def _raw_upload(server, token, mid, pieces, gap):
    """Sends an upload in pieces with a pause between them; returns the
    status line the server answers."""
    import socket
    import time as _t
    body = b"".join(pieces)
    head = (f"POST /api/messages/{mid}/attachments HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        s.sendall(head + pieces[0])
        for p in pieces[1:]:
            _t.sleep(gap)
            try:
                s.sendall(p)
            except OSError:
                break
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n")[0].decode()
    finally:
        s.close()


def test_upload_deadline_is_its_own(start_server):
    pieces = [b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.txt\"\r\n\r\n",
              b"A slow but steady upload.\n", b"\r\n--b--\r\n"]
    # body_timeout_s does not cut an upload; upload_timeout_s does.
    s = start_server(word_interval_ms=0, body_timeout_s=1, upload_timeout_s=30)
    tok = s.register()["access_token"]
    mid = chat(s, tok, s.create_conversation(tok)["id"], "Files.")["user_message"]["id"]
    assert _raw_upload(s, tok, mid, pieces, 0.8).startswith("HTTP/1.1 201")
    s2 = start_server(word_interval_ms=0, body_timeout_s=30, upload_timeout_s=1)
    tok2 = s2.register()["access_token"]
    mid2 = chat(s2, tok2, s2.create_conversation(tok2)["id"], "Files.")["user_message"]["id"]
    assert " 408 " in _raw_upload(s2, tok2, mid2, pieces, 1.5) + " "
    assert blobs(s2) == []
