"""`stalksim serve -b DIR` end to end, against the real beanstalkd 1.12: jobs written by one
binary come back in the other after a stop (SIGTERM: the binlog closed cleanly, exit 0), both
ways; a directory another server holds is refused as beanstalkd refuses it (exit 10). The
binlog format itself is tested in tests/test_binlog*.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import greenstalk
import pytest

from tests.realserver import RealBeanstalkd, require_beanstalkd
from tests.wireserver import StalksimServe, launcher

pytestmark = pytest.mark.real


def _server(kind: str, wal: Path) -> RealBeanstalkd:
    if kind == "real":
        return RealBeanstalkd("-b", str(wal)).start()
    return StalksimServe("-b", str(wal)).start()


def _write(server: RealBeanstalkd) -> None:
    with greenstalk.Client(server.address) as c:
        c.put("ready", priority=5, ttr=7)
        c.put("later", delay=600)
        c.use("other")
        c.put("held")  # reserved at the stop: back as ready
        c.put("gone")
        c.watch("other")
        c.ignore("default")
        held = c.reserve(timeout=0)
        gone = c.reserve(timeout=0)
        c.delete(gone)
        c.use("default")
        c.put("to bury")
        c.watch("default")
        c.ignore("other")
        c.bury(c.reserve(timeout=0))  # job 1 (priority 5), with bury's priority
        assert held.id == 3


def _read(server: RealBeanstalkd) -> dict[int, tuple]:
    out = {}
    with greenstalk.Client(server.address) as c:
        for i in range(1, 7):
            try:
                s = c.stats_job(i)
            except greenstalk.NotFoundError:
                continue
            delayed = s["state"] == "delayed"
            out[i] = (s["state"], s["tube"], s["pri"], s["ttr"], c.peek(i).body,
                      delayed and 590 < s["time-left"] <= 600)
        out[0] = ("next id", c.put("next"))
    return out


P = greenstalk.DEFAULT_PRIORITY
EXPECTED = {1: ("buried", "default", P, 7, "ready", False),  # the most urgent, reserved, buried
            2: ("delayed", "default", P, 60, "later", True),
            3: ("ready", "other", P, 60, "held", False),
            5: ("ready", "default", P, 60, "to bury", False),
            0: ("next id", 6)}


@pytest.mark.parametrize("writer,reader", [("stalksim", "real"), ("real", "stalksim")])
def test_jobs_cross_over_after_a_stop(tmp_path: Path, writer: str, reader: str) -> None:
    w = _server(writer, tmp_path)
    try:
        _write(w)
        assert w.proc is not None
        proc = w.proc
    finally:
        w.stop()  # SIGTERM
    assert writer == "real" or proc.returncode == 0
    r = _server(reader, tmp_path)
    try:
        assert _read(r) == EXPECTED
    finally:
        r.stop()


def test_a_directory_in_use_is_refused_as_beanstalkd_refuses_it(tmp_path: Path) -> None:
    holder = RealBeanstalkd("-b", str(tmp_path)).start()
    try:
        real = subprocess.run([require_beanstalkd(), "-b", str(tmp_path), "-p", "0"],
                              capture_output=True, text=True, timeout=10)
        ours = subprocess.run([launcher(), "-b", str(tmp_path), "-p", "0"],
                              capture_output=True, text=True, timeout=20)
    finally:
        holder.stop()
    assert real.returncode == ours.returncode == 10
    assert "failed to lock wal dir" in real.stderr and "failed to lock wal dir" in ours.stderr
    assert len(ours.stderr.splitlines()) == 1


def test_sigterm_stops_at_once_and_closes_the_binlog(tmp_path: Path) -> None:
    (tmp_path / "wal").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from stalksim.cli import main;"
                             f" sys.exit(main(['serve', '-l', 'unix:{tmp_path}/s', '-b', "
                             f"'{tmp_path}/wal']))"], stderr=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        sock = tmp_path / "s"
        deadline = time.monotonic() + 20
        while True:  # the socket file exists from bind(); it accepts from listen(), a bit later
            assert proc.poll() is None and time.monotonic() < deadline
            try:
                c = greenstalk.Client(str(sock))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.005)
        with c:
            c.put("kept")
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:  # a failed test leaves no server behind
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and took < 0.5, (proc.returncode, took)
    assert proc.stderr is not None and proc.stderr.read() == b""
    with RealBeanstalkd("-b", str(tmp_path / "wal")) as real:
        with greenstalk.Client(real.address) as c:
            assert c.peek(1).body == "kept"


def _binlog_numbers(kind: str, wal: Path, *args: str) -> list[dict[str, int]]:
    """stats' binlog-* fields after each step of the same writes (and after a restart)."""
    def server() -> RealBeanstalkd:
        cls = RealBeanstalkd if kind == "real" else StalksimServe
        return cls("-b", str(wal), *args)

    wal.mkdir()
    seen = []
    fields = ("binlog-oldest-index", "binlog-current-index", "binlog-records-migrated",
              "binlog-records-written", "binlog-max-size")
    with server() as s, greenstalk.Client(s.address) as c:
        seen.append({f: c.stats()[f] for f in fields})
        for n in range(30):
            c.put("x" * 200 + str(n))
        seen.append({f: c.stats()[f] for f in fields})
        for _ in range(25):
            c.delete(c.reserve(timeout=0))
        c.bury(c.reserve(timeout=0))
        seen.append({f: c.stats()[f] for f in fields})
    with server() as s, greenstalk.Client(s.address) as c:  # restored, then written on
        seen.append({f: c.stats()[f] for f in fields})
        c.put("after")
        seen.append({f: c.stats()[f] for f in fields})
    return seen


@pytest.mark.parametrize("size", [[], ["-s", "3000"]], ids=["one-file", "rotating"])
def test_binlog_stats_count_as_beanstalkds(tmp_path: Path, size: list[str]) -> None:
    real = _binlog_numbers("real", tmp_path / "real", *size)
    ours = _binlog_numbers("stalksim", tmp_path / "ours", *size)
    assert ours == real
    assert real[1]["binlog-records-written"] >= 30  # the numbers move: not all zeros
