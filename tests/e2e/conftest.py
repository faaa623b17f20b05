"""Fixtures for the medstream end-to-end suite.

- `server` (module scope): a medstream on a fresh data dir (built-in starter
  knowledge base), offline provider, --word-interval-ms 15.
- `kb_server` (module scope): the same on a data dir where the small
  deterministic test KB (data/e2e_kb.jsonl) was imported first.
- `start_server(**flags)` (function scope): a factory for tests that need
  their own flags, or that kill or restart the server.
- `user` / `kb_user`: a freshly registered user on those servers.

Every server is stopped at teardown (SIGTERM, SIGKILL after 5 s); a test
fails if a server it used exited by itself or wrote a sanitizer report.
The stderr tail of the servers involved is attached to failing tests.

Helpers (WebSocket open/collect, REST) live in medstream_e2e.py.
"""

import pytest

from medstream_e2e import E2E_KB, ServerManager

_active = []  # servers alive during the current test (for failure reports)


def _check_alive(servers, when):
    for s in servers:
        if s.stopped or s.expected_exit:
            continue
        if not s.alive():
            rc = s.proc.returncode
            pytest.fail(f"medstream {s!r} exited by itself (status {rc}) {when}\n"
                        f"{s.sanitizer_report() or ''}\n--- stderr tail ---\n{s.stderr_tail()}",
                        pytrace=False)
        rep = s.sanitizer_report()
        if rep:
            pytest.fail(f"sanitizer report from {s!r} {when}:\n{rep}", pytrace=False)


@pytest.fixture(scope="module")
def _module_servers(tmp_path_factory):
    mgr = ServerManager(tmp_path_factory.mktemp("medstream"))
    yield mgr
    for s in mgr.servers:
        if s in _active:
            _active.remove(s)
    problems = mgr.stop_all()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def server(_module_servers):
    """A medstream on a fresh data dir with the built-in starter KB."""
    srv = _module_servers.start(word_interval_ms=15)
    _active.append(srv)
    return srv


@pytest.fixture(scope="module")
def kb_server(_module_servers):
    """A medstream whose KB is exactly tests/e2e/data/e2e_kb.jsonl (long
    passages, so answers stream many words; some non-ASCII text)."""
    srv = _module_servers.start(word_interval_ms=15, kb=[("jsonl", E2E_KB)])
    _active.append(srv)
    return srv


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(word_interval_ms=15, replay_ttl_ms=200, ...)."""
    mgr = ServerManager(tmp_path / "servers")

    def start(**flags):
        srv = mgr.start(**flags)
        _active.append(srv)
        return srv

    yield start
    for s in mgr.servers:
        if s in _active:
            _active.remove(s)
    problems = mgr.stop_all()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def user(server):
    return server.register()


@pytest.fixture
def kb_user(kb_server):
    return kb_server.register()


@pytest.fixture(autouse=True)
def _servers_stay_healthy():
    """After each test: every server still meant to run is alive and clean."""
    yield
    _check_alive(list(_active), "during this test")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _active:
        for s in list(_active):
            rep.sections.append((f"medstream stderr {s.base_url} (tail)", s.stderr_tail(40)))
