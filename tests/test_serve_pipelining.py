"""Issue 16, part 1, on both servers: pipelined commands are all answered however the replies
are read, and clients that flood and then reset (or hang up behind a blocking reserve) leave
no connection, socket or memory behind in the server process (measured from /proc)."""

from __future__ import annotations

import time

import pytest

from benchmarks import wireload as W
from stalksim.wire import TRIM_AFTER
from tests.wireserver import KINDS, make_server


@pytest.fixture(params=KINDS)
def server(request: pytest.FixtureRequest):
    srv = make_server(request.param)
    yield srv
    srv.stop()


@pytest.mark.parametrize("slow", [False, True], ids=["quick-reader", "slow-reader"])
def test_10000_commands_in_one_write_are_all_answered(server, slow: bool) -> None:
    """~150 KB of commands (past the 64 KiB input limit) and ~2.5 MB of replies (past the
    256 KiB output limit): every command gets its reply, in order."""
    assert W.pipeline(server.address, 10_000, slow=slow) == W.expected_pipeline_words(10_000)


def test_1000_stats_in_one_write_get_1000_replies(server) -> None:
    """The issue's figure: 1,000 `stats` in one write got 272 replies (beanstalkd: 1,000)."""
    c = W.Line(server.address)
    c.sock.sendall(b"stats\r\n" * 1000)
    replies = [c.reply() for _ in range(1000)]
    assert all(r.startswith(b"OK ") for r in replies)
    c.sock.sendall(b"list-tube-used\r\n")
    assert c.reply() == b"USING default\r\n"  # and the connection still works
    c.close()


def _flood_rounds(address: tuple[str, int], rounds: int) -> None:
    for _ in range(rounds):
        W.flood_then_reset(address, 50)
        W.flood_then_reset(address, 20, behind_reserve=True)


def test_flood_then_reset_leaves_no_connection_behind(server) -> None:
    """50 clients flood (200 KB of `stats`, never read) and reset; 20 more flood behind a
    blocking reserve and reset (before the fix: 49 of 50 and 20 of 20 stayed open). The
    server's sockets, fds and connections come back to what they were."""
    proc = W.Proc(server.proc.pid)
    sockets = W.idle_sockets(server.address, proc)
    fds = proc.fds()
    _flood_rounds(server.address, 2)
    assert W.settle(server.address, proc, sockets) == sockets
    assert proc.fds() == fds
    assert W.stats(server.address)["current-connections"] == "1"  # the stats connection


def test_flood_then_reset_leaves_no_memory_behind(server) -> None:
    """After each of six rounds of 70 flood-then-reset clients the server's resident memory
    is back within 2 MiB of what it was before the first (beanstalkd: 0.1 MiB; stalksim serve
    under 1 MiB, 22-33 MiB before the fix: glibc kept the freed buffers in its heap, 4 MiB in
    use and up to 28 MiB free, until `release_memory` came to trim it after closes)."""
    proc = W.Proc(server.proc.pid)
    sockets = W.idle_sockets(server.address, proc)
    rss = [_settled_rss(server.address, proc, sockets)]
    for _ in range(6):
        _flood_rounds(server.address, 1)
        rss.append(_settled_rss(server.address, proc, sockets))
    assert max(rss) - rss[0] < 2 * 1024, f"RSS (KiB) at start, then after each round: {rss}"


def _settled_rss(address: tuple[str, int], proc: W.Proc, sockets: int) -> int:
    """RSS in KiB once the server holds no more sockets than it started with and the trim
    after the closes is due."""
    assert W.settle(address, proc, sockets) == sockets
    time.sleep(TRIM_AFTER + 0.3)
    return proc.rss_kib()
