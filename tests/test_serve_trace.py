"""Issue 16, part 4: bounded traces. `Simulation(trace=N)` keeps the latest N events;
`TraceFile` / `stalksim serve --trace FILE --trace-max N` rotates to FILE.1; a failed start
leaves an existing trace file alone."""

from __future__ import annotations

import socket
import subprocess

import pytest

import stalksim
from benchmarks.wireload import Line
from stalksim.trace import Trace, TraceFile, replay
from tests.wireserver import StalksimServe, launcher


def _events(n: int) -> list[tuple]:
    return [(i * 10, i, "t", "new", "ready", "put", "a") for i in range(1, n + 1)]


def test_trace_file_rotates_and_keeps_the_latest(tmp_path) -> None:
    path = tmp_path / "t.jsonl"
    tf = TraceFile(path, {"source": "test"}, max_events=10)
    tf.write(_events(7))
    tf.write(_events(25)[7:])
    tf.close()
    old, new = Trace.read_jsonl(f"{path}.1"), Trace.read_jsonl(path)
    assert tf.rotations == 2 and len(old) == 10 and len(new) == 5
    assert old.raw + new.raw == _events(25)[10:]
    assert old.meta == new.meta == {"source": "test"}
    with pytest.raises(ValueError):
        TraceFile(path, {}, max_events=0)


def test_ring_trace_keeps_the_latest_events() -> None:
    sim = stalksim.Simulation(trace=100)
    c = sim.client()
    for _ in range(1000):
        c.delete(c.put("x"))
    tr = sim.trace
    assert len(tr) == 100 and tr.meta["trace_limit"] == 100
    assert tr[-1].cause == "delete" and tr[-1].job == 1000
    full = stalksim.Simulation()
    fc = full.client()
    for _ in range(1000):
        fc.delete(fc.put("x"))
    assert tr.raw == full.trace.raw[-100:]
    assert set(replay(tr).values()) == {"deleted"}  # 50 whole put+delete pairs
    for bad in (0, -1, 2.5, "x"):
        with pytest.raises(ValueError):
            stalksim.Simulation(trace=bad)


def test_failed_start_keeps_an_existing_trace(tmp_path) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text("precious\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([launcher(), "-l", "127.0.0.1", "-p", str(port), "--trace",
                            str(path)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 111 and len(r.stderr.splitlines()) == 1, r.stderr
    assert path.read_text() == "precious\n"


def test_serve_trace_max_bounds_the_file(tmp_path) -> None:
    path = tmp_path / "serve.jsonl"
    server = StalksimServe("--trace", str(path), "--trace-max", "10").start()
    try:
        c = Line(server.address)
        for i in range(1, 31):
            assert c.ask(b"put 0 0 10 1\r\nx\r\ndelete %d\r\n" % i, 2) == [
                b"INSERTED %d\r\n" % i, b"DELETED\r\n"]
        c.close()
    finally:
        server.stop()
    old, new = Trace.read_jsonl(f"{path}.1"), Trace.read_jsonl(path)
    assert len(old) == 10 and 0 < len(new) <= 10
    assert new[-1].cause == "delete" and new[-1].job == 30
    assert old.meta["source"] == "stalksim serve"
