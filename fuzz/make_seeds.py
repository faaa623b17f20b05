#!/usr/bin/python3
"""Writes the hand-made seed corpora of the fuzz targets into fuzz/corpus/.

Every seed is written here by us (nothing comes from ../shared/data), so the
corpora can be regenerated and reviewed: `fuzz/make_seeds.py` rewrites the
seed-* files and leaves other files (regression inputs saved from crashes,
named crash-*) alone. The JWT seeds are signed with the fuzz target's secret
and expire in 2100.
"""

import base64
import hashlib
import hmac
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SECRET = b"fuzz-secret-0123456789abcdef-0123456789"  # as in jwt_verify.c, api_dispatch.c
USER = "0190f3a8-1111-7000-8000-000000000001"
CONV = "0190f3a8-2222-7000-8000-000000000002"
MSG = "0190f3a8-3333-7000-8000-000000000003"
FAR = 4102444800  # 2100-01-01


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(header, payload, key=SECRET):
    signed = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    sig = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return signed + "." + b64(sig)


def claims(**over):
    c = {"iss": "medstream", "typ": "access", "sub": USER, "email": "fuzz@example.org",
         "role": "user", "iat": 1700000000, "exp": FAR}
    c.update(over)
    return c


def j(o):
    return json.dumps(o, ensure_ascii=False)


SEEDS = {}

# ---- WebSocket dialects ---------------------------------------------------
long_q = "What are the symptoms of asthma? " * 8
SEEDS["proto_native"] = {
    "message": j({"type": "message", "text": "What are the symptoms of asthma?",
                  "client_message_id": "c1"}),
    "message-conv": j({"type": "message", "text": "And how is it treated?",
                       "client_message_id": "c2", "conversation_id": CONV}),
    "message-long": j({"type": "message", "text": long_q, "client_message_id": "c3"}),
    "message-unicode": j({"type": "message", "text": "Qu'est-ce que l'asthme ? 哮喘是什么？ 🫁",
                          "client_message_id": "c4"}),
    "resume": j({"type": "resume", "message_id": MSG, "last_seq": 3}),
    "resume-max": '{"type":"resume","message_id":"%s","last_seq":9223372036854775807}' % MSG,
    "cancel": j({"type": "cancel", "message_id": MSG}),
    "ping": '{"type":"ping"}',
    "unknown": '{"type":"hello","x":[1,2,{"y":null}]}',
    "unknown-long-type": j({"type": "é" * 30}),
    "unknown-long-type-odd": j({"type": "x" + "é" * 30}),
    "not-object": '["message"]',
    "bad-escape": '{"type":"message","text":"\\ud800","client_message_id":"c"}',
    "dup-keys": '{"type":"ping","type":"message"}',
}
SEEDS["proto_voiceassist"] = {
    "message": j({"type": "message", "content": "What causes asthma?"}),
    "message-session": j({"type": "message", "content": "Symptoms of flu?", "session_id": "default",
                          "clinical_context_id": "ctx-1"}),
    "message-session-uuid": j({"type": "message", "content": "Symptoms?", "session_id": CONV.upper()}),
    "ping": '{"type":"ping"}',
    "unknown": '{"type":"audio_chunk","data":"AAAA"}',
    "unknown-long-type": j({"type": "日本語" * 10}),
}
SEEDS["proto_veda"] = {
    "message": j({"type": "message", "text": "What is diabetes?", "client_message_id": "m1"}),
    "message-no-cmid": j({"type": "message", "text": "What is diabetes?"}),
    "resume": j({"type": "resume", "conversationId": CONV, "lastMessageId": MSG}),
    "resume-other-conv": j({"type": "resume", "conversationId": USER, "lastMessageId": MSG}),
    "ping": '{"type":"ping"}',
    "open-bad-path": "@not-a-uuid\n" + j({"type": "ping"}),
    "open-other-conv": "@" + USER + "\n" + j({"type": "message", "text": "hi"}),
}
SEEDS["proto_fhir"] = {
    "message": j({"type": "message", "session_id": "default", "content": "Latest HbA1c?"}),
    "message-other-session": j({"type": "message", "session_id": "other", "content": "x"}),
    "ping": '{"type":"ping"}',
    "open-session": "@ward-3/bed 12\n" + j({"type": "message", "session_id": "ward-3/bed 12",
                                            "content": "Vitals?"}),
    "open-empty-session": "@\n" + j({"type": "ping"}),
    "open-long-session": "@" + "s" * 129 + "\n" + j({"type": "ping"}),
    # ?session_id= is percent-decoded bytes: a surrogate, an overlong '/'
    "open-session-surrogate": b"@\xed\xa0\x80\n" + j({"type": "ping"}).encode(),
    "open-session-overlong": b"@a\xc0\xafb\n" + j({"type": "ping"}).encode(),
}
SEEDS["proto_dx"] = {
    "chat": j({"type": "chat", "data": {"message": "Chest pain and shortness of breath"}}),
    "chat-content": j({"type": "chat", "content": "Fever and rash"}),
    "chat-text-in-data": j({"type": "chat", "data": {"text": "Headache"}}),
    "chat-missing": j({"type": "chat", "data": {}}),
    "diagnosis": j({"type": "diagnosis", "data": {"symptoms": ["fever"]}}),
    "prescription": j({"type": "prescription", "data": {}}),
    "ping": '{"type":"ping"}',
    "open-other-user": "@" + CONV + "\n" + j({"type": "ping"}),
}

# ---- REST -----------------------------------------------------------------
SEEDS["api_dispatch"] = {
    "health": "GET /health\n\n",
    "index": "GET /\n\n",
    "ready": "GET /ready\n\n",
    "register": "POST /api/auth/register\n\n" + j({"email": "a@example.org", "password": "long enough pw",
                                                  "display_name": "A"}),
    "login": "POST /api/auth/login\n\n" + j({"email": "A@Example.org", "password": "long enough pw"}),
    "login-not-object": "POST /api/auth/login\n\n[1,2]",
    "refresh": "POST /api/auth/refresh\n\n" + j({"refresh_token": "abc"}),
    "ticket": "POST /api/ws-ticket\n$valid\n",
    "conv-list": "GET /api/conversations?limit=20&before=" + MSG + "\n$valid\n",
    "conv-create": "POST /api/conversations\n$valid\n" + j({"title": "Asthma questions"}),
    "conv-create-empty": "POST /api/conversations\n$valid\n",
    "conv-get": "GET /api/conversations/" + CONV + "\n$valid\n",
    "conv-patch": "PATCH /api/conversations/" + CONV + "\n$valid\n" + j({"title": "Renamed"}),
    "conv-delete": "DELETE /api/conversations/" + CONV + "\n$valid\n",
    "conv-messages": "GET /api/conversations/" + CONV + "/messages?limit=5\n$valid\n",
    "chat": "POST /api/conversations/" + CONV + "/messages/chat\n$valid\n"
            + j({"text": "What is asthma?", "client_message_id": "r1"}),
    "chat-bad-id": "POST /api/conversations/x/messages/chat\n$valid\n" + j({"text": "What?"}),
    "kb-search": "GET /api/kb/search?q=asthma+symptoms&k=3\n$valid\n",
    "method-not-allowed": "PUT /health\n\n",
    "not-found": "GET /api/nope\n\n",
    "too-large": "POST /api/auth/login !\n\n",
    "bad-token": "GET /api/conversations\nBearer abc.def.ghi\n",
    "bearer-spaces": "GET /api/conversations\nbearer    x\n",
    "other-method": "BREW /\n\n",
}
SEEDS["http_query"] = {
    "plain": "q\nq=asthma+symptoms&k=3",
    "escaped": "k\nq=a&k=%35",
    "bad-escape": "q\nq=%zz%4",
    "session": "session_id\nsession_id=ward%203",
    "ticket": "ticket\ntoken=x&ticket=abc%2Bdef",
    "bare": "q\nq",
    "prefix": "q\nqq=1&q=2",
    "empty-pairs": "q\n&&q=&",
}

# ---- JWT ------------------------------------------------------------------
hs = {"alg": "HS256", "typ": "JWT"}
SEEDS["jwt_verify"] = {
    "valid": "0" + token(hs, claims()),
    "valid-no-typ": "0" + token({"alg": "HS256"}, claims()),
    "expired": "0" + token(hs, claims(exp=1700000001)),
    "wrong-secret": "0" + token(hs, claims(), key=b"x" * 40),
    "alg-none": "0" + b64(j({"alg": "none"}).encode()) + "." + b64(j(claims()).encode()) + ".",
    "garbage": "0a.b.c",
    "sign-valid": "1" + j(hs) + "\n" + j(claims()),
    "sign-string-exp": "1" + j(hs) + "\n" + j(claims(exp=str(FAR))),
    "sign-crit": "1" + j({"alg": "HS256", "crit": ["exp"]}) + "\n" + j(claims()),
    "sign-hs512": "1" + j({"alg": "HS512"}) + "\n" + j(claims()),
    "sign-wrong-iss": "1" + j(hs) + "\n" + j(claims(iss="other")),
    "sign-long-sub": "1" + j(hs) + "\n" + j(claims(sub="x" * 40)),
    "sign-iat-after-exp": "1" + j(hs) + "\n" + j(claims(iat=FAR + 1)),
    "sign-segments": "2" + b64(j(hs).encode()) + "." + b64(j(claims()).encode()),
    # RFC 7519 section 4: duplicate claim names are refused, not "last wins"
    "sign-dup-claims": "1" + j(hs) + "\n" + j(claims())[:-1] + ', "sub": "someone-else"}',
    "sign-trailing-nul": "1" + j(hs) + "\n" + j(claims()) + "\0\0",
}

# ---- knowledge-base files ---------------------------------------------------
medquad = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000001" source="GHR" url="https://example.org/condition/fuzzitis">
<Focus>Fuzzitis</Focus>
<FocusAnnotations>
  <UMLS><CUIs><CUI>C0000001</CUI><CUI>C0000002</CUI></CUIs>
  <SemanticTypes><SemanticType>T047</SemanticType></SemanticTypes>
  <SemanticGroup>Disorders</SemanticGroup></UMLS>
  <Synonyms><Synonym>fuzz disease</Synonym></Synonyms>
</FocusAnnotations>
<QAPairs>
  <QAPair pid="1">
    <Question qid="0000001-1" qtype="information">What is (are) Fuzzitis ?</Question>
    <Answer>Fuzzitis is a made-up condition used to test parsers. It causes
    random crashes in software that reads untrusted input.

    Symptoms include:
    - odd bytes
    - long lines</Answer>
  </QAPair>
  <QAPair pid="2">
    <Question qid="0000001-2" qtype="treatment">What are the treatments for Fuzzitis ?</Question>
    <Answer>Treatment is bounds checking; see https://example.org (e.g. 5.5 mg/dL).</Answer>
  </QAPair>
  <QAPair pid="3"><Question qid="0000001-3" qtype="inheritance">Is Fuzzitis inherited ?</Question>
    <Answer></Answer></QAPair>
</QAPairs>
</Document>
"""
ninds = """<?xml version="1.0" encoding="UTF-8"?>
<doc docid="0000002" corpus="NINDS" url="https://example.org/ninds">
<doctitle-focus>Parser Palsy</doctitle-focus>
<umls><cui>C0000003</cui></umls>
<qaPairs><pair pid="1"><question qtype="symptoms">What are the symptoms of Parser Palsy?</question>
<answer>Slow &amp; uneven reading of &lt;tags&gt;.</answer></pair></qaPairs>
</doc>
"""
cdc = """<DiseaseFile fid="0000003" source="CDC" url="https://example.org/cdc">
<Focus>Overflow fever</Focus>
<QAPairs><QAPair pid="1"><Question qtype="prevention">How to prevent overflow fever?</Question>
<Answer>Check lengths before copying.</Answer></QAPair></QAPairs></DiseaseFile>
"""
laughs = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
]>
<Document id="0000004" source="GHR"><QAPairs><QAPair pid="1"><Question>Q?</Question>
<Answer>&lol6;</Answer></QAPair></QAPairs></Document>
"""
xxe = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<Document id="0000005" source="GHR"><QAPairs><QAPair pid="1"><Question>Q?</Question>
<Answer>leak: &x;</Answer></QAPair></QAPairs></Document>
"""
SEEDS["kb_medquad"] = {
    "ghr": medquad,
    "ninds": ninds,
    "cdc": cdc,
    "cancergov-split": "@0000013_2_1.xml\n" + medquad.replace('id="0000001"', 'id="0000013_2"'),
    "herbs": medquad.replace('source="GHR"', 'source="MPlusHerbsSupplements"'),
    "bad-id": medquad.replace('id="0000001"', 'id="../x"'),
    "no-qapairs": '<Document id="1" source="GHR"><Focus>x</Focus></Document>',
    "malformed": "<Document id='1' source='GHR'><QAPairs><QAPair>",
    "latin1": '<?xml version="1.0" encoding="ISO-8859-1"?>\n<Document id="7" source="GHR">'
              '<QAPairs><QAPair pid="1"><Answer>caf\xe9 au lait spots</Answer></QAPair></QAPairs>'
              '</Document>',
    "billion-laughs": laughs,
    "xxe": xxe,
}
jl = [
    {"id": "doc-1", "title": "Asthma", "text": "Asthma is a chronic disease of the airways.",
     "url": "https://example.org/asthma", "source": "Example", "focus": "Asthma",
     "qtype": "information", "authors": ["A. Author", "B. Author"], "journal": "J Test",
     "year": 2019, "pmid": 12345, "doi": "10.1000/x"},
    {"id": "doc-2", "text": "Insulin lowers blood glucose.", "year": "2011 Mar"},
]
SEEDS["kb_jsonl"] = {
    "records": "\n".join(j(r) for r in jl) + "\n",
    "blank-lines": "\n\n" + j(jl[1]) + "\n   \n",
    "missing-id": j({"text": "no id"}) + "\n",
    "bad-authors": j({"id": "x", "text": "t", "authors": [1]}) + "\n",
    "not-object": "[1,2,3]\n",
    "no-text": j({"id": "x", "title": "only a title"}) + "\n",
    "no-newline": j(jl[0]),
    "whitespace-text": j({"id": "ws", "text": " \t\n\n  a  \n\n\n b "}),
}
pq = {"pmid": "21645374", "question": "Do mitochondria play a role in remodelling?",
      "contexts": ["Programmed cell death (PCD) is ...", "The following question ..."],
      "labels": ["BACKGROUND", "RESULTS"], "year": "2011", "final_decision": "yes"}
SEEDS["kb_pubmedqa"] = {
    "lines": j(pq) + "\n" + j(dict(pq, pmid=21645375, contexts=["Second abstract."])) + "\n",
    "ori-json": "@json\n" + j({"21645374": {"QUESTION": pq["question"], "CONTEXTS": pq["contexts"],
                                         "YEAR": "2011"}}),
    "ori-json-not-object": "@json\n[1]",
    "bad-pmid": j(dict(pq, pmid="12a")) + "\n",
    "no-contexts": j({"pmid": "1"}) + "\n",
    "context-not-string": j({"pmid": "1", "contexts": [1]}) + "\n",
}
md = """# Fuzzitis

Fuzzitis is a made-up condition.

## Symptoms

- odd bytes
- long lines

Setext heading
--------------

A paragraph
over two lines.
"""
SEEDS["kb_text"] = {
    "markdown": md,
    "plain": "Just one paragraph of plain text about asthma and inhalers.\n",
    "long-paragraph": ("word " * 1500) + "\n",
    "long-cjk": "哮喘" * 1500 + "\n",
    "headings-only": "# A\n## B\n### C\n",
    "crlf": "Title\r\n=====\r\n\r\nText line.\r\n",
    "latin1": "caf\xe9 au lait\n",
}

# ---- retrieval and answering -----------------------------------------------
SEEDS["kb_query"] = {
    "question": "What are the symptoms of asthma?",
    "fts-syntax": 'asthma NEAR(cough wheeze) OR title:diabetes* -fever "quoted" (a AND b) ^x',
    "quotes": 'he said "" "\'" \\" ok',
    "unicode": "Qu'est-ce que l'hypertension artérielle ? 高血压",
    "stopwords": "what is the of and to",
    "many-terms": " ".join("term%d" % i for i in range(80)),
    "long-word": "x" * 200,
}
SEEDS["llm_compose"] = {
    "basic": ("What are the symptoms of fuzzitis?\n"
              "What is (are) Fuzzitis ?\nFuzzitis is a made-up condition. Symptoms include:\n"
              "- odd bytes\n- long lines\nMost people recover (e.g. after a patch). Dr. Smith "
              "described it in the U.S. in 2019.1 However, it recurs.\n%%\n"
              "What are the treatments for Fuzzitis ?\nTreatment is bounds checking.\n"
              "It takes 2.5 days on average."),
    "follow-up": ("@What is fuzzitis?\nhow is it treated?\n"
                  "Fuzzitis treatment\nFuzzitis is treated with patches and tests."),
    "no-context": "What is the capital of France?\nAsthma\nAsthma affects the airways.",
    "no-passages": "What is asthma?\n",
    "lists": ("symptoms of flu\nFlu\nSymptoms of flu include:  - fever  - cough  - aches\n"
              "Other signs are:\n* chills\n* fatigue\n1. rest\n2. fluids"),
    "unicode": "哮喘的症状？\n哮喘\n哮喘是一种慢性疾病。症状包括咳嗽和喘息。\n%%\nÉ\nÉté. Ça va.",
}

# ---- HTTP framing and the chunked coding (net/framing.h) ---------------------
SEEDS["http_framing"] = {
    "cl": "C:12\n\nhello world!",
    "cl-repeated": "C:42\nC:42 , 42\n\n",
    "cl-differ": "C:1\nC:2\n\n",
    "cl-abc": "C:abc\n\n",
    "cl-hex": "C:0x15\n\n",
    "cl-negative": "C:-5\n\n",
    "cl-plus": "C:+5\n\n",
    "cl-empty": "C:\n\n",
    "cl-overflow": "C:9223372036854775808\n\n",
    "te-chunked": "T:chunked\n\n5\r\nhello\r\n0\r\n\r\n",
    "te-and-cl": "C:5\nT:chunked\n\n",
    "te-gzip-chunked": "T:gzip, chunked\n\n",
    "te-chunked-gzip": "T:chunked, gzip\n\n",
    "te-twice": "T:chunked\nT:chunked\n\n",
    "te-http10": "1.0\nT:chunked\n\n",
    "chunked-ext-trailer": "T:chunked\n\n4;name=\"v\"\r\nWiki\r\n0\r\nX-T: y\r\n\r\nNEXT REQUEST",
    "chunked-bare-lf": "T:chunked\n\n4\nWiki\n0\n\n",
    "chunked-huge-size": "T:chunked\n\nfffffffffffffffffff\r\n",
    "chunked-encoded": "T:chunked\nE\n\nHello, chunked world: split me anywhere.",
    "none": "\n",
}


# ---- WebSocket raw bytes (net/rxcheck.h) -------------------------------------
def ws_frame(b0, payload, masked=True, key=b"\x37\xfa\x21\x3d", ext=None):
    n = len(payload)
    out = bytes([b0])
    m = 0x80 if masked else 0
    if ext == 64 or n > 0xFFFF:
        out += bytes([m | 127]) + n.to_bytes(8, "big")
    elif ext == 16 or n >= 126:
        out += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        out += bytes([m | n])
    if masked:
        out += key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    else:
        out += payload
    return out


SEEDS["ws_rxcheck"] = {
    "text": b"\x00" + ws_frame(0x81, b"hello"),
    "fragments": b"\x02" + ws_frame(0x01, "caf\u00e9 ".encode()) + ws_frame(0x80, "\u4e2d".encode()),
    "ping-pong-close": b"\x04" + ws_frame(0x89, b"p") + ws_frame(0x8A, b"") + ws_frame(0x88, b"\x03\xe8bye"),
    "unmasked": b"\x00" + ws_frame(0x81, b"hello", masked=False),
    "ping-126": b"\x00" + ws_frame(0x89, b"x" * 126),
    "ping-16bit-len": b"\x00" + ws_frame(0x89, b"x", ext=16),
    "len64-top-bit": b"\x00\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04",
    "binary-64k": b"\x06" + ws_frame(0x82, b"\0" * 70000),
    "close-1-byte": b"\x00" + ws_frame(0x88, b"\x03"),
    "close-5000": b"\x00" + ws_frame(0x88, b"\x13\x88"),
    "close-65535": b"\x00" + ws_frame(0x88, b"\xff\xff"),
    "close-1005": b"\x00" + ws_frame(0x88, b"\x03\xed"),
    "close-bad-utf8": b"\x00" + ws_frame(0x88, b"\x03\xe8\xed\xa0\x80"),
    "close-then-data": b"\x00" + ws_frame(0x88, b"\x03\xe8") + ws_frame(0x81, b"after"),
    "built": b"\x01\x00\x05hello\x83\x02hi\x85\x04\x03\xe8ok",
}

# ---- configuration file ------------------------------------------------------
SEEDS["config_file"] = {
    "full": j({"listen": "127.0.0.1:9090", "data_dir": "/tmp/x", "provider": "synthetic",
               "allow_registration": False, "kb_top_k": 7, "kb_min_score": 0.25,
               "max_body_bytes": 2048, "log_level": "debug",
               "jwt_secret": "0123456789abcdef0123456789abcdef"}),
    "unknown-key": j({"nope": 1}),
    "bad-type": j({"kb_top_k": [1]}),
    "out-of-range": j({"kb_top_k": 1000}),
    "bad-listen": j({"listen": "nohost"}),
    "not-object": "[]",
    "syntax": "{\n \"listen\": \n",
    "empty": "",
}


def main():
    only = set(sys.argv[1:])
    for target, seeds in SEEDS.items():
        if only and target not in only:
            continue
        d = os.path.join(CORPUS, target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.remove(os.path.join(d, f))
        for name, text in seeds.items():
            if isinstance(text, bytes):
                data = text
            else:
                data = text.encode("latin-1") if name == "latin1" else text.encode("utf-8")
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
