"""Attachments (docs/protocol.md "Attachments"): upload, list, delete and
download of files on a message; type by content; extraction with status and
progress; the extracted text cited in later answers of the conversation and
nowhere else. The files are generated at test time (attach_fixtures.py).
Hostile files and limits are in test_attachments_limits.py."""

import time

import pytest

import attach_fixtures as fx
from medstream_e2e import assert_error, ask, connect, run

MISSING = "00000000-0000-4000-8000-000000000000"

PDF = fx.make_pdf(
    [["Cardiology discharge summary.", "The patient was started on bisoprolol 2.5 mg daily."],
     ["The echocardiogram showed an ejection fraction of 35 percent.",
      "Follow-up in the heart failure clinic in six weeks."]],
    title="Discharge summary", author="Dr Ada Lovelace")
DOCX = fx.make_docx(
    [("Title", "Clinic letter"), "The patient was reviewed in clinic today.", "\f",
     ("Heading1", "Allergies"), "The patient reports an allergy to penicillin, which causes hives.",
     ("Heading1", "Plan"), "Repeat the renal function tests in two weeks."],
    title="Clinic letter", author="Dr Grace Hopper")
PNG_LINES = ["Laboratory report for the ward.", "The serum potassium was 5.9 mmol/L.",
             "The sodium was 139 mmol/L."]


def upload(server, token, message_id, name, data, content_type="application/octet-stream",
           **kw):
    return server.api("POST", f"/api/messages/{message_id}/attachments", token,
                      files={"file": (name, data, content_type)}, **kw)


def wait_done(server, token, att, timeout=120):
    """Polls GET until the attachment is ready or failed; returns its last
    JSON and every progress value seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lst = server.api("GET", f"/api/messages/{att['message_id']}/attachments", token).json()
        a = next(x for x in lst if x["id"] == att["id"])
        seen.append((a["status"], a["progress"]))
        if a["status"] in ("ready", "failed"):
            return a, seen
        time.sleep(0.1)
    raise AssertionError(f"attachment still {seen[-1]} after {timeout}s")


def chat(server, token, conv_id, text):
    r = server.api("POST", f"/api/conversations/{conv_id}/messages/chat", token,
                   json={"text": text})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def conv(server, user):
    tok = user["access_token"]
    c = server.create_conversation(tok, "Attachments")
    first = chat(server, tok, c["id"], "I am attaching the patient's documents.")
    return {"id": c["id"], "message_id": first["user_message"]["id"], "token": tok}


def check_row(a, conv, name, ftype, size):
    assert set(a) >= {"id", "message_id", "conversation_id", "file_name", "file_type",
                      "mime_type", "file_size", "file_url", "status", "progress", "error",
                      "metadata", "created_at", "updated_at"}, a
    assert a["message_id"] == conv["message_id"] and a["conversation_id"] == conv["id"]
    assert a["file_name"] == name and a["file_type"] == ftype and a["file_size"] == size
    assert a["file_url"] == f"/api/attachments/{a['id']}/download"


def test_pdf_docx_png_are_extracted_and_cited(server, conv):
    tok, mid = conv["token"], conv["message_id"]
    rows = {}
    for name, data, ftype, mime in (("summary.pdf", PDF, "pdf", "application/pdf"),
                                    ("letter.docx", DOCX, "docx", "application/vnd.openxmlformats-"
                                     "officedocument.wordprocessingml.document"),
                                    ("labs.png", fx.make_text_png(PNG_LINES), "png", "image/png")):
        if ftype == "png" and not fx.have_pil():
            pytest.skip("python3-pil or fonts-dejavu-core missing: cannot render the OCR fixture")
        r = upload(server, tok, mid, name, data)
        assert r.status_code == 201, r.text
        a = r.json()
        check_row(a, conv, name, ftype, len(data))
        assert a["mime_type"] == mime
        assert a["status"] in ("pending", "extracting", "ready")
        rows[ftype] = a
    done = {k: wait_done(server, tok, a) for k, a in rows.items()}
    for k, (a, seen) in done.items():
        assert a["status"] == "ready", a
        assert a["progress"] == 100 and a["error"] is None
        progress = [p for _, p in seen]
        assert progress == sorted(progress), seen  # never goes back
    pdf, docx, png = done["pdf"][0], done["docx"][0], done["png"][0]
    assert pdf["metadata"]["pages"] == 2
    assert pdf["metadata"]["title"] == "Discharge summary"
    assert pdf["metadata"]["author"] == "Dr Ada Lovelace"
    assert docx["metadata"]["title"] == "Clinic letter"
    assert docx["metadata"]["author"] == "Dr Grace Hopper"
    assert docx["metadata"]["pages"] == 2
    assert png["metadata"]["width"] > 100 and png["metadata"]["height"] > 50
    for a in (pdf, docx, png):
        assert a["metadata"]["passages"] >= 1 and a["metadata"]["characters"] > 20

    async def go():
        ws, _ = await connect(server, tok)
        try:
            out = {}
            for key, q in (("pdf", "What ejection fraction did the echocardiogram show?"),
                           ("docx", "What allergy does the patient report?"),
                           ("png", "What was the serum potassium?")):
                out[key] = await ask(ws, q, conv["id"])
            return out
        finally:
            await ws.close()

    answers = run(go())
    expect = {"pdf": ("35 percent", "summary.pdf", 2), "docx": ("penicillin", "letter.docx", 2),
              "png": ("5.9", "labs.png", None)}
    for key, st in answers.items():
        text, name, page = expect[key]
        c = st.complete
        assert text in c["text"], (key, c["text"])
        cites = [x for x in c["citations"] if x["source_type"] == "attachment"]
        assert cites, (key, c["citations"])
        top = cites[0]
        assert top["title"] == name, top
        assert top["url"] == f"/api/attachments/{done[key][0]['id']}/download"
        assert f"[{top['index']}]" in c["text"]
        if page:
            assert top["page"] == page and top["pages"] == str(page), top
            assert top["subtitle"].startswith(f"Page {page}"), top
        else:
            assert "page" not in top
    docx_cite = [x for x in answers["docx"].complete["citations"]
                 if x["source_type"] == "attachment"][0]
    assert docx_cite["section"] == "Allergies" and docx_cite["subtitle"] == "Page 2: Allergies"
    # The stored answer keeps the attachment citation (REST reads it back).
    stored = server.message(tok, conv["id"], answers["pdf"].complete["message_id"])
    assert any(x["source_type"] == "attachment" and x["title"] == "summary.pdf"
               for x in stored["citations"]), stored["citations"]


def test_passages_stay_in_their_conversation(server, user, conv):
    tok = conv["token"]
    r = upload(server, tok, conv["message_id"], "summary.pdf", PDF)
    assert r.status_code == 201
    a, _ = wait_done(server, tok, r.json())
    assert a["status"] == "ready"
    q = "What ejection fraction did the echocardiogram show?"
    here = chat(server, tok, conv["id"], q)["assistant_message"]
    assert any(c["source_type"] == "attachment" for c in here["citations"])
    # Another conversation of the same user, and another user: never cited.
    other_conv = server.create_conversation(tok)
    there = chat(server, tok, other_conv["id"], q)["assistant_message"]
    assert all(c["source_type"] != "attachment" for c in there["citations"]), there
    assert "35 percent" not in there["content"]
    other = server.register()
    oc = server.create_conversation(other["access_token"])
    theirs = chat(server, other["access_token"], oc["id"], q)["assistant_message"]
    assert all(c["source_type"] != "attachment" for c in theirs["citations"]), theirs
    # The knowledge-base search route never shows attachments either.
    res = server.api("GET", "/api/kb/search", tok, params={"q": "echocardiogram ejection"})
    assert res.status_code == 200
    assert all(not h["id"].startswith("att:") for h in res.json()["results"]), res.json()


def test_list_and_ownership(server, conv):
    tok, mid = conv["token"], conv["message_id"]
    assert server.api("GET", f"/api/messages/{mid}/attachments", tok).json() == []
    ids = [upload(server, tok, mid, f"n{i}.txt", f"Note {i}: the patient is well.\n".encode())
           .json()["id"] for i in range(3)]
    lst = server.api("GET", f"/api/messages/{mid}/attachments", tok)
    assert lst.status_code == 200
    assert [a["id"] for a in lst.json()] == ids  # oldest first
    assert [a["file_type"] for a in lst.json()] == ["txt"] * 3
    other = server.register()["access_token"]
    for method, path in (("GET", f"/api/messages/{mid}/attachments"),
                         ("GET", f"/api/attachments/{ids[0]}/download"),
                         ("DELETE", f"/api/attachments/{ids[0]}")):
        assert_error(server.api(method, path, other), 404, "not_found")
    r = upload(server, other, mid, "x.txt", b"Someone else's message.\n")
    assert_error(r, 404, "not_found")
    for bad in (MISSING, "not-a-uuid"):
        assert_error(server.api("GET", f"/api/messages/{bad}/attachments", tok), 404)
        assert_error(upload(server, tok, bad, "x.txt", b"text\n"), 404)
        assert_error(server.api("GET", f"/api/attachments/{bad}/download", tok), 404)
        assert_error(server.api("DELETE", f"/api/attachments/{bad}", tok), 404)
    for method, path in (("GET", f"/api/messages/{mid}/attachments"),
                         ("POST", f"/api/messages/{mid}/attachments"),
                         ("GET", f"/api/attachments/{ids[0]}/download"),
                         ("DELETE", f"/api/attachments/{ids[0]}")):
        assert_error(server.api(method, path), 401, "unauthorized")
    # Still all there for the owner.
    assert len(server.api("GET", f"/api/messages/{mid}/attachments", tok).json()) == 3


def test_download(server, conv):
    tok, mid = conv["token"], conv["message_id"]
    name = "Entlassungsbrief für Müller — 糖尿病.pdf"
    a = upload(server, tok, mid, name, PDF).json()
    assert a["file_name"] == name
    r = server.api("GET", a["file_url"], tok)
    assert r.status_code == 200
    assert r.content == PDF
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    cd = r.headers["Content-Disposition"]
    assert cd.startswith('attachment; filename="'), cd
    assert "filename*=UTF-8''Entlassungsbrief%20f%C3%BCr%20M%C3%BCller%20%E2%80%94%20" \
           "%E7%B3%96%E5%B0%BF%E7%97%85.pdf" in cd, cd
    fallback = cd.split('filename="')[1].split('"')[0]
    assert all(32 <= ord(ch) < 127 for ch in fallback), fallback
    # The type is the content's, whatever the name or declared type says:
    # a "PDF" that is text is served as text, and a script as text too.
    b = upload(server, tok, mid, "evil.pdf", b"<script>alert(1)</script>\n", "application/pdf")
    assert b.status_code == 201 and b.json()["file_type"] == "txt", b.text
    r = server.api("GET", b.json()["file_url"], tok)
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Content-Disposition"].startswith("attachment;")
    # A path in the client's name is not kept (RFC 7578 section 4.2).
    c = upload(server, tok, mid, "../../etc/passwd", b"root:x:0:0\n")
    assert c.json()["file_name"] == "passwd"


def test_delete_removes_file_and_passages(server, conv):
    tok, mid = conv["token"], conv["message_id"]
    a = upload(server, tok, mid, "summary.pdf", PDF).json()
    a, _ = wait_done(server, tok, a)
    q = "What ejection fraction did the echocardiogram show?"
    assert any(c["source_type"] == "attachment"
               for c in chat(server, tok, conv["id"], q)["assistant_message"]["citations"])
    r = server.api("DELETE", f"/api/attachments/{a['id']}", tok)
    assert r.status_code == 204
    assert server.api("GET", f"/api/messages/{mid}/attachments", tok).json() == []
    assert_error(server.api("GET", a["file_url"], tok), 404)
    assert_error(server.api("DELETE", f"/api/attachments/{a['id']}", tok), 404)
    after = chat(server, tok, conv["id"], q)["assistant_message"]
    assert all(c["source_type"] != "attachment" for c in after["citations"]), after
    # The file is gone from the data directory too.
    assert not list((server.data_dir / "attachments").rglob(a["id"]))


def test_text_and_markdown(server, conv):
    tok, mid = conv["token"], conv["message_id"]
    md = ("# Medication review\n\nThe patient takes metformin 500 mg twice daily.\n\n"
          "## Monitoring\n\nCheck the HbA1c every three months.\n").encode()
    a = upload(server, tok, mid, "review", md, "application/octet-stream").json()
    assert a["file_type"] == "md" and a["mime_type"].startswith("text/markdown")
    a, _ = wait_done(server, tok, a)
    assert a["status"] == "ready", a
    ans = chat(server, tok, conv["id"], "How often should the HbA1c be checked?")
    cites = [c for c in ans["assistant_message"]["citations"] if c["source_type"] == "attachment"]
    assert cites and cites[0]["title"] == "review", ans
    assert "three months" in ans["assistant_message"]["content"]
