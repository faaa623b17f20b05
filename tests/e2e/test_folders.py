"""Folders (docs/protocol.md, "Folders"): the tree, colour and icon, unique
sibling names, cycle prevention, delete moving children up, conversations'
folder_id, ownership (another user's folder is 404 everywhere), limits, and
two gateways on one database moving folders at once."""

import threading

import pytest

from medstream_e2e import RFC3339_MS, assert_error

MISSING = "00000000-0000-4000-8000-000000000000"
FOLDER_KEYS = {"id", "name", "parent_folder_id", "color", "icon", "conversation_count",
               "created_at", "updated_at"}


def mk(server, tok, name, parent=None, **fields):
    body = {"name": name, **fields}
    if parent is not None:
        body["parent_folder_id"] = parent
    r = server.api("POST", "/api/folders", tok, json=body)
    assert r.status_code == 201, r.text
    f = r.json()
    assert set(f) == FOLDER_KEYS, f
    assert RFC3339_MS.match(f["created_at"]) and RFC3339_MS.match(f["updated_at"])
    return f


def move(server, tok, fid, target):
    return server.api("POST", f"/api/folders/{fid}/move/{target}", tok)


def get(server, tok, fid):
    r = server.api("GET", f"/api/folders/{fid}", tok)
    assert r.status_code == 200, r.text
    return r.json()


def tree(server, tok):
    r = server.api("GET", "/api/folders/tree", tok)
    assert r.status_code == 200, r.text
    return r.json()["folders"]


def shape(nodes):
    """The tree as nested (name, [children]) tuples, for exact comparison."""
    return [(n["name"], shape(n["children"])) for n in nodes]


def test_create_list_get_and_tree(server, user):
    tok = user["access_token"]
    card = mk(server, tok, "  Cardiology ", color="#E11D48", icon="heart-pulse")
    assert card["name"] == "Cardiology"  # trimmed
    assert card["color"] == "#e11d48" and card["icon"] == "heart-pulse"
    assert card["parent_folder_id"] is None and card["conversation_count"] == 0
    arr = mk(server, tok, "Arrhythmia", card["id"], color="#abc")
    hf = mk(server, tok, "Heart failure", card["id"])
    af = mk(server, tok, "Atrial fibrillation", arr["id"], icon="folder_open")
    mk(server, tok, "Asthma")
    assert get(server, tok, af["id"]) == af
    # ?parent_id= lists one level, by name; no parent_id (or "root") is the top.
    r = server.api("GET", f"/api/folders?parent_id={card['id']}", tok)
    assert [f["name"] for f in r.json()["folders"]] == ["Arrhythmia", "Heart failure"]
    for q in ("", "?parent_id=", "?parent_id=root"):
        r = server.api("GET", "/api/folders" + q, tok)
        assert [f["name"] for f in r.json()["folders"]] == ["Asthma", "Cardiology"], q
    r = server.api("GET", f"/api/folders?parent_id={af['id']}", tok)
    assert r.status_code == 200 and r.json() == {"folders": []}
    t = tree(server, tok)
    assert shape(t) == [("Asthma", []),
                        ("Cardiology", [("Arrhythmia", [("Atrial fibrillation", [])]),
                                        ("Heart failure", [])])]
    assert t[1]["children"][1]["id"] == hf["id"]
    assert set(t[1]) == FOLDER_KEYS | {"children"}


def test_update_fields(server, user):
    tok = user["access_token"]
    f = mk(server, tok, "Renal", color="#123456", icon="kidney")
    r = server.api("PUT", f"/api/folders/{f['id']}", tok, json={"name": "Nephrology"})
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["name"] == "Nephrology" and g["color"] == "#123456" and g["icon"] == "kidney"
    assert g["updated_at"] >= f["updated_at"]
    r = server.api("PUT", f"/api/folders/{f['id']}", tok, json={"color": None, "icon": "drop"})
    assert r.json()["color"] is None and r.json()["icon"] == "drop"
    assert r.json()["name"] == "Nephrology"


@pytest.mark.parametrize("body", [
    {},
    {"name": ""},
    {"name": "   "},
    {"name": 5},
    {"name": "x" * 101},
    {"name": "tab\there"},
    {"name": "ok", "color": "red"},
    {"name": "ok", "color": "#abcd"},
    {"name": "ok", "color": "#ggg"},
    {"name": "ok", "color": 123},
    {"name": "ok", "icon": "Heart"},
    {"name": "ok", "icon": "-x"},
    {"name": "ok", "icon": "x" * 33},
    {"name": "ok", "parent_folder_id": 7},
])
def test_create_bad_input(server, user, body):
    assert_error(server.api("POST", "/api/folders", user["access_token"], json=body),
                 400, "invalid_request")


def test_bad_input_and_limits_of_form(server, user):
    tok = user["access_token"]
    f = mk(server, tok, "x" * 100)  # exactly the longest name
    assert len(f["name"]) == 100
    mk(server, tok, "Ménière — 糖尿病")
    r = server.api("POST", "/api/folders", tok, data="not json",
                   headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")
    assert_error(server.api("PUT", f"/api/folders/{f['id']}", tok, json={}), 400,
                 "invalid_request")
    assert_error(server.api("PUT", f"/api/folders/{f['id']}", tok, json={"name": None}), 400,
                 "invalid_request")
    assert_error(server.api("PUT", f"/api/folders/{f['id']}", tok, json={"color": "blue"}), 400,
                 "invalid_request")
    # Ids that cannot name a folder are 404, like absent ones.
    for path in ("/api/folders/nope", f"/api/folders/{MISSING}",
                 "/api/folders?parent_id=nope", f"/api/folders?parent_id={MISSING}"):
        assert_error(server.api("GET", path, tok), 404, "not_found")
    assert_error(server.api("POST", "/api/folders", tok,
                            json={"name": "orphan", "parent_folder_id": MISSING}),
                 404, "not_found")
    assert_error(move(server, tok, f["id"], MISSING), 404, "not_found")
    assert_error(move(server, tok, MISSING, "root"), 404, "not_found")
    assert_error(server.api("DELETE", f"/api/folders/{MISSING}", tok), 404, "not_found")
    assert_error(server.api("PATCH", f"/api/folders/{f['id']}", tok, json={"name": "y"}),
                 405, "method_not_allowed")
    assert_error(server.api("GET", "/api/folders"), 401, "unauthorized")
    assert_error(server.api("GET", "/api/folders/tree"), 401, "unauthorized")


def test_sibling_names_are_unique(server, user):
    tok = user["access_token"]
    a = mk(server, tok, "Oncology")
    # The top level (no parent) is a level like any other, case folded.
    for name in ("Oncology", "oncology", " ONCOLOGY "):
        assert_error(server.api("POST", "/api/folders", tok, json={"name": name}), 409,
                     "conflict")
    sub = mk(server, tok, "Oncology", a["id"])  # another level: fine
    assert_error(server.api("POST", "/api/folders", tok,
                            json={"name": "oncology", "parent_folder_id": a["id"]}),
                 409, "conflict")
    b = mk(server, tok, "Haematology")
    assert_error(server.api("PUT", f"/api/folders/{b['id']}", tok, json={"name": "ONCOLOGY"}),
                 409, "conflict")
    # Moving into a level where the name is taken is refused too.
    other = mk(server, tok, "Haematology", a["id"])
    assert_error(move(server, tok, b["id"], a["id"]), 409, "conflict")
    assert get(server, tok, b["id"])["parent_folder_id"] is None
    # Another user has names of their own.
    u2 = server.register()
    mk(server, u2["access_token"], "Oncology")
    assert sub["id"] != other["id"]


def test_moving_under_itself_or_a_descendant_is_refused(server, user):
    tok = user["access_token"]
    a = mk(server, tok, "A")
    b = mk(server, tok, "B", a["id"])
    c = mk(server, tok, "C", b["id"])
    d = mk(server, tok, "D")
    before = shape(tree(server, tok))
    for target in (a, b, c):
        err = assert_error(move(server, tok, a["id"], target["id"]), 409, "folder_cycle")
        assert "subfolder" in err["message"]
    assert_error(move(server, tok, b["id"], c["id"]), 409, "folder_cycle")
    # PUT parent_folder_id goes through the same check.
    assert_error(server.api("PUT", f"/api/folders/{a['id']}", tok,
                            json={"parent_folder_id": c["id"]}), 409, "folder_cycle")
    assert_error(server.api("PUT", f"/api/folders/{a['id']}", tok,
                            json={"parent_folder_id": a["id"]}), 409, "folder_cycle")
    assert shape(tree(server, tok)) == before
    # Moves that close no cycle are fine: under a sibling, to the top level.
    r = move(server, tok, a["id"], d["id"])
    assert r.status_code == 200 and r.json()["parent_folder_id"] == d["id"], r.text
    assert_error(move(server, tok, d["id"], c["id"]), 409, "folder_cycle")  # c is under d now
    r = move(server, tok, c["id"], "root")
    assert r.status_code == 200 and r.json()["parent_folder_id"] is None
    r = server.api("PUT", f"/api/folders/{a['id']}", tok, json={"parent_folder_id": None})
    assert r.status_code == 200 and r.json()["parent_folder_id"] is None
    assert shape(tree(server, tok)) == [("A", [("B", [])]), ("C", []), ("D", [])]


def test_delete_moves_children_and_conversations_to_the_parent(server, user):
    tok = user["access_token"]
    top = mk(server, tok, "Top")
    mid = mk(server, tok, "Mid", top["id"])
    k1 = mk(server, tok, "K1", mid["id"])
    mk(server, tok, "K2", mid["id"])
    conv = server.create_conversation(tok, "filed")
    r = server.api("PATCH", f"/api/conversations/{conv['id']}", tok, json={"folder_id": mid["id"]})
    assert r.status_code == 200 and r.json()["folder_id"] == mid["id"]
    assert get(server, tok, mid["id"])["conversation_count"] == 1
    # A clash at the parent refuses the delete and changes nothing.
    clash = mk(server, tok, "k1", top["id"])
    assert_error(server.api("DELETE", f"/api/folders/{mid['id']}", tok), 409, "conflict")
    assert get(server, tok, k1["id"])["parent_folder_id"] == mid["id"]
    assert server.api("DELETE", f"/api/folders/{clash['id']}", tok).status_code == 204
    r = server.api("DELETE", f"/api/folders/{mid['id']}", tok)
    assert r.status_code == 204 and r.text == ""
    assert shape(tree(server, tok)) == [("Top", [("K1", []), ("K2", [])])]
    got = server.api("GET", f"/api/conversations/{conv['id']}", tok).json()
    assert got["folder_id"] == top["id"]
    assert_error(server.api("GET", f"/api/folders/{mid['id']}", tok), 404, "not_found")
    # Deleting a top-level folder: its children become top-level, its
    # conversations unfiled; the conversations themselves stay.
    assert server.api("DELETE", f"/api/folders/{top['id']}", tok).status_code == 204
    assert shape(tree(server, tok)) == [("K1", []), ("K2", [])]
    got = server.api("GET", f"/api/conversations/{conv['id']}", tok).json()
    assert got["folder_id"] is None and got["title"] == "filed"


def test_conversation_folder_id(server, user):
    tok = user["access_token"]
    f = mk(server, tok, "Ward 7B")
    c1 = server.create_conversation(tok, "one")
    c2 = server.create_conversation(tok, "two")
    assert c1["folder_id"] is None
    r = server.api("PATCH", f"/api/conversations/{c1['id']}", tok, json={"folder_id": f["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["folder_id"] == f["id"] and r.json()["title"] == "one"
    assert r.json()["updated_at"] == c1["updated_at"]  # filing is not activity
    lst = server.api("GET", f"/api/conversations?folder_id={f['id']}", tok).json()
    assert [c["id"] for c in lst["conversations"]] == [c1["id"]]
    lst = server.api("GET", "/api/conversations?folder_id=root", tok).json()
    assert [c["id"] for c in lst["conversations"]] == [c2["id"]]
    lst = server.api("GET", "/api/conversations", tok).json()["conversations"]
    assert {c["id"]: c["folder_id"] for c in lst} == {c1["id"]: f["id"], c2["id"]: None}
    # With the text filter, and paging.
    lst = server.api("GET", f"/api/conversations?folder_id={f['id']}&q=ONE", tok).json()
    assert [c["id"] for c in lst["conversations"]] == [c1["id"]]
    lst = server.api("GET", f"/api/conversations?folder_id={f['id']}&q=two", tok).json()
    assert lst["conversations"] == []
    lst = server.api("GET", f"/api/conversations?folder_id={f['id']}&offset=1", tok).json()
    assert lst["conversations"] == []
    # Title and folder together; a bad folder changes nothing.
    r = server.api("PATCH", f"/api/conversations/{c2['id']}", tok,
                   json={"title": "renamed", "folder_id": f["id"]})
    assert r.json()["title"] == "renamed" and r.json()["folder_id"] == f["id"]
    r = server.api("PATCH", f"/api/conversations/{c2['id']}", tok,
                   json={"title": "again", "folder_id": MISSING})
    assert_error(r, 404, "not_found")
    got = server.api("GET", f"/api/conversations/{c2['id']}", tok).json()
    assert got["title"] == "renamed" and got["folder_id"] == f["id"]
    # Unfiling, and bad input.
    r = server.api("PATCH", f"/api/conversations/{c2['id']}", tok, json={"folder_id": None})
    assert r.status_code == 200 and r.json()["folder_id"] is None
    assert_error(server.api("PATCH", f"/api/conversations/{c2['id']}", tok,
                            json={"folder_id": 5}), 400, "invalid_request")
    assert_error(server.api("PATCH", f"/api/conversations/{c2['id']}", tok,
                            json={"folder_id": "nope"}), 404, "not_found")
    assert_error(server.api("GET", "/api/conversations?folder_id=nope", tok), 404, "not_found")
    assert_error(server.api("GET", f"/api/conversations?folder_id={MISSING}", tok), 404,
                 "not_found")
    assert get(server, tok, f["id"])["conversation_count"] == 1


def test_another_users_folder_is_404_everywhere(server):
    alice, bob = server.register(), server.register()
    ta, tb = alice["access_token"], bob["access_token"]
    a = mk(server, ta, "Private")
    a2 = mk(server, ta, "Child", a["id"])
    mine = mk(server, tb, "Mine")
    bconv = server.create_conversation(tb)
    aconv = server.create_conversation(ta)
    for method, path, body in [
        ("GET", f"/api/folders/{a['id']}", None),
        ("PUT", f"/api/folders/{a['id']}", {"name": "pwned"}),
        ("DELETE", f"/api/folders/{a['id']}", None),
        ("POST", f"/api/folders/{a['id']}/move/root", None),
        ("POST", f"/api/folders/{mine['id']}/move/{a['id']}", None),
        ("PUT", f"/api/folders/{mine['id']}", {"parent_folder_id": a["id"]}),
        ("GET", f"/api/folders?parent_id={a['id']}", None),
        ("POST", "/api/folders", {"name": "in yours", "parent_folder_id": a["id"]}),
        ("PATCH", f"/api/conversations/{bconv['id']}", {"folder_id": a["id"]}),
        ("GET", f"/api/conversations?folder_id={a['id']}", None),
        # Alice's conversation into Bob's own folder: the conversation is hers.
        ("PATCH", f"/api/conversations/{aconv['id']}", {"folder_id": mine["id"]}),
    ]:
        r = server.api(method, path, tb, json=body)
        err = assert_error(r, 404, "not_found")
        assert "Private" not in err["message"], (method, path)
    assert shape(tree(server, ta)) == [("Private", [("Child", [])])]
    assert get(server, ta, a2["id"])["parent_folder_id"] == a["id"]
    assert shape(tree(server, tb)) == [("Mine", [])]
    assert server.api("GET", f"/api/conversations/{bconv['id']}", tb).json()["folder_id"] is None


def test_depth_and_count_limits(start_server):
    srv = start_server(folder_max_depth=3, max_folders_per_user=5)
    tok = srv.register()["access_token"]
    l1 = mk(srv, tok, "1")
    l2 = mk(srv, tok, "2", l1["id"])
    l3 = mk(srv, tok, "3", l2["id"])
    err = assert_error(srv.api("POST", "/api/folders", tok,
                               json={"name": "4", "parent_folder_id": l3["id"]}),
                       409, "folder_limit")
    assert "3 levels" in err["message"]
    x = mk(srv, tok, "x")
    mk(srv, tok, "y", x["id"])
    # x > y is two levels deep: under l1 it fits (levels 2-3), under l2 not.
    assert_error(move(srv, tok, x["id"], l2["id"]), 409, "folder_limit")
    assert move(srv, tok, x["id"], l1["id"]).status_code == 200
    # Five folders: the sixth is refused (for this user only).
    err = assert_error(srv.api("POST", "/api/folders", tok, json={"name": "6"}), 409,
                       "folder_limit")
    assert "at most 5" in err["message"]
    mk(srv, srv.register()["access_token"], "6")
    assert server_folder_count(srv, tok) == 5


def server_folder_count(srv, tok):
    def count(nodes):
        return sum(1 + count(n["children"]) for n in nodes)
    return count(tree(srv, tok))


def test_deep_nesting_to_the_configured_depth(start_server):
    """Nesting is limited only by folder_max_depth: 200 levels nest, and the
    tree of all of them is served (and parses)."""
    srv = start_server(folder_max_depth=200)
    tok = srv.register()["access_token"]
    parent = None
    ids = []
    for i in range(200):
        parent = mk(srv, tok, f"level {i + 1}", parent)["id"]
        ids.append(parent)
    assert_error(srv.api("POST", "/api/folders", tok,
                         json={"name": "too deep", "parent_folder_id": parent}),
                 409, "folder_limit")
    t = tree(srv, tok)
    depth, node = 0, t
    while node:
        assert len(node) == 1
        depth += 1
        node = node[0]["children"]
    assert depth == 200
    # The deepest folder cannot take the top one in; the top can go nowhere below.
    assert_error(move(srv, tok, ids[0], ids[-1]), 409, "folder_cycle")


def test_two_gateways_moving_at_once_never_make_a_cycle(start_server):
    """Two processes on one database: one moves A under B while the other
    moves B under A, round after round. Each round exactly one move wins and
    the other is refused as a cycle; the tree always keeps a top level."""
    a = start_server()
    b = start_server(data_dir=a.data_dir)
    u = a.register()
    ta, tb = u["access_token"], b.login(u["email"], u["password"])["access_token"]
    fa, fb = mk(a, ta, "A"), mk(a, ta, "B")
    rounds = 25
    results = {0: [], 1: []}
    barrier = threading.Barrier(2, timeout=120)

    def worker(i, srv, tok, me, target):
        for _ in range(rounds):
            barrier.wait()
            r = srv.api("POST", f"/api/folders/{me}/move/{target}", tok)
            results[i].append(r.status_code)
            barrier.wait()
            if i == 0:  # put both back at the top level
                for f in (me, target):
                    assert srv.api("POST", f"/api/folders/{f}/move/root", tok).status_code == 200
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(0, a, ta, fa["id"], fb["id"])),
               threading.Thread(target=worker, args=(1, b, tb, fb["id"], fa["id"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    for k in range(rounds):
        assert sorted([results[0][k], results[1][k]]) == [200, 409], (k, results)
    assert len(tree(a, ta)) == 2
