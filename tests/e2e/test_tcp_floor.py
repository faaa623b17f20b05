"""tcp-floor, the kernel-floor tool make bench reports (bench/tcp_floor.c):
its numbers are consistent with what it sent, and bad arguments get a clear
error and exit status 2."""
import json
import subprocess
from pathlib import Path

import pytest

from medstream_e2e import medstream_bin


def floor_bin() -> str:
    p = Path(medstream_bin()).with_name("tcp-floor")
    if not p.exists():
        pytest.fail("tcp-floor is not built next to %s" % medstream_bin())
    return str(p)


def run(*args, timeout=60):
    return subprocess.run([floor_bin(), *args], capture_output=True, text=True, timeout=timeout)


def test_floor_reports_delivered_messages():
    r = run("--connections", "20", "--bytes", "116", "--seconds", "0.3",
            "--source-base", "127.0.250.1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["connections"] == 20 and out["bytes"] == 116 and out["per_send"] == 1
    # Every byte sent arrives, in whole messages: nothing lost, nothing invented.
    assert out["messages"] > 0 and out["messages"] == int(out["messages"])
    assert out["messages"] == pytest.approx(out["sends_per_s"] * out["seconds"], rel=0.01)
    assert out["messages_per_s"] > 0
    assert out["cpu_us_per_message"] > 0
    assert out["sender_cpu_s"] > 0 and out["receiver_cpu_s"] > 0


def test_floor_batches_per_send():
    r = run("--connections", "4", "--per-send", "8", "--seconds", "0.2",
            "--source-base", "127.0.250.1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["per_send"] == 8
    assert out["messages"] == pytest.approx(8 * out["sends_per_s"] * out["seconds"], rel=0.01)


@pytest.mark.parametrize("args,msg", [
    (["--bogus"], "unknown option --bogus"),
    (["--bytes"], "--bytes needs a value"),
    (["--bytes", "x"], "not a number"),
    (["--bytes", "0"], "out of range"),
    (["--per-send", "65"], "out of range"),
    (["--source-base", "nowhere"], "out of range"),
    (["--connections", "100000000"], "out of range"),
])
def test_floor_rejects_bad_arguments(args, msg):
    r = run(*args)
    assert r.returncode == 2
    assert msg in r.stderr
    assert r.stdout == ""


def test_floor_help():
    r = run("--help")
    assert r.returncode == 0
    assert "--connections" in r.stdout and "--per-send" in r.stdout
