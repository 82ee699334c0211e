"""The differential test at the wire: the same random greenstalk call sequences against a real
beanstalkd and `stalksim serve` (tests/differential.py's runner, with a "serve" backend),
waiting reserves included, in shards like tests/test_differential.py; over TCP, and over unix
sockets (both servers on `-l unix:PATH`).

`STALKSIM_WIRE_DIFF_EXAMPLES` sets the number of random sequences (default 40).
"""

from __future__ import annotations

import fcntl
import socket
import termios
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from tests import diffclock, differential
from tests.backends import Backend, RawConnection, RealBackend
from tests.realserver import require_beanstalkd
from tests.test_differential import FIXED, SHARDS, check_shard
from tests.wireserver import NETS, StalksimServe, UnixServer, connect, launcher

pytestmark = [pytest.mark.real, pytest.mark.slow]
PAIR = ("serve", "real")


class ServeBackend(RealBackend):
    """greenstalk clients to a `stalksim serve` process (a RealBackend in every other way)."""

    name = "serve"

    def __init__(self, max_job_size: int = 65535) -> None:
        Backend.__init__(self)
        args = [] if max_job_size == 65535 else ["-z", str(max_job_size)]
        self.server = StalksimServe(*args).start()


class UnixBackend(RealBackend):
    """greenstalk clients to a server binary listening on a unix socket."""

    def __init__(self, name: str, binary: str, max_job_size: int) -> None:
        Backend.__init__(self)
        self.name = name
        self.server = UnixServer("-z", str(max_job_size), binary=binary).start()

    def raw(self) -> RawConnection:
        return RawConnection(connect(self.server.address))


def _make(name: str) -> Backend:
    if name == "serve":
        return ServeBackend(max_job_size=differential.MAX_JOB_SIZE)
    return _original_make(name)


def _make_unix(name: str) -> Backend:
    binary = launcher() if name == "serve" else require_beanstalkd()
    return UnixBackend(name, binary, differential.MAX_JOB_SIZE)


_original_make = differential.make
_original_wait = differential.wait_for_server
_original_ports = diffclock.Side.ports


def _ports(side: diffclock.Side, i: int) -> Any:
    """A unix socket has no ports: the client's socket stands in for them."""
    sock = side.clients[i]._sock
    return sock if sock.family == socket.AF_UNIX else _original_ports(side, i)


def _wait(ports: Any, done: Any, timeout: float = 2.0) -> None:
    """wait_for_server over a unix socket: its send queue (SIOCOUTQ) is empty once the server
    has read every byte sent; a close is given diffclock's settling time."""
    if not isinstance(ports, socket.socket):
        return _original_wait(ports, done, timeout)
    if done is not diffclock.read_all or ports.fileno() < 0:
        time.sleep(diffclock.SETTLE_SECONDS)
        return None
    end = time.monotonic() + timeout
    queued = bytearray(4)
    while time.monotonic() < end:
        fcntl.ioctl(ports.fileno(), termios.TIOCOUTQ, queued)
        if int.from_bytes(queued, "little") == 0:
            return None
        time.sleep(0.0005)
    return None


@pytest.fixture(autouse=True, params=NETS)
def _serve_backend(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.param == "tcp":
        with mock.patch.object(differential, "make", _make):
            yield
        return
    with mock.patch.object(differential, "make", _make_unix), \
            mock.patch.object(differential, "wait_for_server", _wait), \
            mock.patch.object(diffclock.Side, "ports", _ports):
        yield


@pytest.mark.parametrize("shard", range(SHARDS // 2), ids=lambda s: f"shard{s}")
def test_random_sequences_match_at_the_wire(shard: int) -> None:
    """Random call sequences give the same results, exceptions and answers on both servers
    (half as many shards as the simulator's test: serve costs a process per sequence)."""
    check_shard(shard, PAIR, "STALKSIM_WIRE_DIFF_EXAMPLES", 40, shards=SHARDS // 2)


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_sequences_match_at_the_wire(name: str) -> None:
    n_conns, steps = FIXED[name]
    differential.run_sequence(n_conns, steps, PAIR)
