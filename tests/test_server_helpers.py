"""The test helpers that start a server binary: start() returns only once the server has
accepted a connection (TCP and unix sockets alike), and a server that dies first has not
started. A stand-in binary listens at once but accepts only after a while, as beanstalkd does
while it locks and reads its binlog directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.realserver import RealBeanstalkd
from tests.wireserver import UnixServer

STAND_IN = '''\
import os, socket, sys, time
args = sys.argv[1:]
where = args[args.index("-l") + 1]
if where.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX)
    s.bind(where[5:])
else:
    s = socket.socket()
    try:
        s.bind((where, int(args[args.index("-p") + 1])))
    except OSError:  # the port is taken: exit, as slowly as a loaded machine may
        time.sleep(float(os.environ.get("STAND_IN_LINGER", "0")))
        sys.exit(1)
s.listen(8)
time.sleep(float(os.environ["STAND_IN_WAIT"]))
if os.environ.get("STAND_IN_DIE"):
    sys.exit(3)
open(os.environ["STAND_IN_MARK"], "w").close()
while True:
    conn, _ = s.accept()
    while conn.recv(1024):
        pass
    conn.close()
'''


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    binary = tmp_path / "server"
    binary.write_text(f"#!{sys.executable}\n{STAND_IN}")
    binary.chmod(0o755)
    mark = tmp_path / "accepting"
    monkeypatch.setenv("STAND_IN_MARK", str(mark))
    monkeypatch.setenv("STAND_IN_WAIT", "0.3")
    return str(binary), mark


@pytest.mark.parametrize("kind", [RealBeanstalkd, UnixServer])
def test_start_waits_until_the_server_accepts(kind, stand_in) -> None:
    binary, mark = stand_in
    with kind(binary=binary):
        assert mark.exists()  # a connect alone would have returned ~0.3 s before this


@pytest.mark.parametrize("kind", [RealBeanstalkd, UnixServer])
def test_a_server_that_dies_before_it_accepts_has_not_started(
        kind, stand_in, monkeypatch: pytest.MonkeyPatch) -> None:
    binary, mark = stand_in
    monkeypatch.setenv("STAND_IN_DIE", "1")
    monkeypatch.setenv("STAND_IN_WAIT", "0.05")
    server = kind(binary=binary)
    with pytest.raises(RuntimeError, match="did not start"):
        server.start()
    assert server.proc is None and not mark.exists()


def test_free_ports_come_from_the_workers_own_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each xdist worker takes ports from its own range, below the kernel's ephemeral ports,
    and skips one that is taken (CI: two workers got one port from bind(0), and the second
    server's start-up probe connected to the first)."""
    import socket

    from tests import realserver

    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    ranges = []
    for worker in range(4):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
        lo, width = realserver.port_range()
        ranges.append(range(lo, lo + width))
        assert realserver.free_port() in ranges[-1]
    assert ranges[0].start == realserver.PORT_BASE and ranges[-1].stop <= 32768
    assert all(a.stop <= b.start for a, b in zip(ranges, ranges[1:], strict=False))
    first = realserver.free_port()  # gw3's
    with socket.socket() as taken:
        for port in range(first + 1, ranges[-1].stop):  # the next one we can hold
            try:
                taken.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        second = realserver.free_port()
        assert second in ranges[-1] and second not in (first, taken.getsockname()[1])


def test_a_start_on_a_port_another_server_holds_takes_another_port(
        stand_in, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the port start() picked is held by another process's server, ours fails to bind,
    and until it has exited the probe reaches that other server: start() must see that the
    accepted end is not our server's and start again on another port. It used to return,
    sharing the other server (CI: that server's test counted one connection too many)."""
    from tests import realserver

    binary, _mark = stand_in
    monkeypatch.setenv("STAND_IN_LINGER", "1.0")
    with RealBeanstalkd(binary=binary) as other:
        picks = iter([other.port])
        pick = realserver.free_port
        monkeypatch.setattr(realserver, "free_port", lambda: next(picks, None) or pick())
        with RealBeanstalkd(binary=binary) as ours:
            assert ours.port != other.port
