"""One `sim.client()` mixing the fast path (core calls) and the byte path (greenstalk over the
pipe): every combination of path x blocking/timeout x how the wait ends leaves the client in
sync, its jobs where the core says they are, and the next reserve and put working (issue 13).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import greenstalk
import pytest

import stalksim
from stalksim.core import RESERVED

#: How each reserve goes: plain arguments take the fast path; a timeout greenstalk formats
#: with %d but the client does not pass through (a float, an int past a C int) the byte path.
RESERVES: dict[str, Callable[[Any], greenstalk.Job]] = {
    "fast-blocking": lambda c: c.reserve(),
    "fast-timeout": lambda c: c.reserve(timeout=5),
    "byte-blocking": lambda c: c.reserve(timeout=2**31),  # 1.12 cuts it to a C int: forever
    "byte-timeout": lambda c: c.reserve(timeout=1.5),  # sent as 1
}
BLOCKING = ("fast-blocking", "byte-blocking")


def _later(sim: stalksim.Simulation, seconds: float, action: Callable[[], Any]) -> None:
    def proc():
        yield sim.timeout(seconds)
        action()
    sim.process(proc())


def _consistent(sim: stalksim.Simulation) -> None:
    """Every job reserved by a live connection that lists it; nobody left waiting."""
    core = sim.server
    for job in core.jobs.values():
        if job.state == RESERVED:
            assert job.reserver is not None and not job.reserver.closed
            assert job.reserver.reserved.get(job.id) is job
    assert core.waiting_n == 0
    assert not any(c.waiting for c in core.conns.values())


def _first_wait(sim: stalksim.Simulation, c: Any, path: str, end: str) -> None:
    """c's first reserve waits, then is answered by a put, a close, or nothing at all."""
    if end == "put":
        other = sim.client()
        _later(sim, 0.5, lambda: other.put(b"first"))
        assert RESERVES[path](c).body == "first"
    elif end == "close":
        holder = sim.client()
        holder.put(b"held")
        holder.reserve()
        _later(sim, 0.5, holder.close)
        assert RESERVES[path](c).body == "held"
    else:  # nothing: a timeout runs out, a blocking reserve would wait forever
        with pytest.raises(greenstalk.TimedOutError):
            RESERVES[path](c)


@pytest.mark.parametrize("second", sorted(RESERVES))
@pytest.mark.parametrize("end", ["put", "close", "nothing"])
@pytest.mark.parametrize("first", sorted(RESERVES))
@pytest.mark.parametrize("warm", [False, True], ids=["fresh", "piped"])
def test_paths_mix_on_one_client(warm: bool, first: str, end: str, second: str) -> None:
    sim = stalksim.Simulation(max_wait=60)
    c = sim.client()
    if warm:  # the byte path first (a bytearray body), so the pipe exists before the waits
        c.delete(c.put(bytearray(b"warm")))
    _first_wait(sim, c, first, end)
    _consistent(sim)
    # a job put on the byte path, reserved on the `second` path
    id = c.put(bytearray(b"bytes"))
    job = RESERVES[second](c)
    assert (job.id, job.body) == (id, "bytes")
    # the `second` path waits, and a put by someone else answers it
    other = sim.client()
    _later(sim, 0.5, lambda: other.put(b"later"))
    assert RESERVES[second](c).body == "later"
    _consistent(sim)
    assert c.put(b"after") > 0  # the fast path still works
    assert c.stats_job(id)["state"] == "reserved"


def test_blocking_fast_reserve_then_byte_reserve_gets_its_job() -> None:
    """Defect 1: a fast blocking reserve, then a byte-path put and a waiting byte-path
    reserve: the job it is given is returned, not left reserved behind a stuck client."""
    sim = stalksim.Simulation(max_wait=60)
    c, p = sim.client(), sim.client()
    c.delete(c.put(bytearray(b"warm")))
    _later(sim, 0.5, lambda: p.put(b"a"))
    assert c.reserve().body == "a"
    c.put(bytearray(b"x"))
    assert c.reserve(timeout=1.5).body == "x"
    _later(sim, 0.5, lambda: p.put(b"b"))
    assert c.reserve(timeout=1.5).body == "b"
    _consistent(sim)
    assert c.put(b"y") > 0


@pytest.mark.parametrize("path", BLOCKING)
def test_put_works_after_would_wait_forever(path: str) -> None:
    """Defect 2: after a WouldWaitForever the connection is usable again at once."""
    sim = stalksim.Simulation()
    c = sim.client()
    with pytest.raises(stalksim.WouldWaitForever):
        RESERVES[path](c)
    id = c.put(b"x")
    assert c.stats()["current-waiting"] == 0
    assert c.reserve().id == id
    _consistent(sim)


@pytest.mark.parametrize("path", sorted(RESERVES))
def test_closed_while_its_reserve_waits(path: str) -> None:
    """The client's own connection closes (another process closes it) while its reserve
    waits: the reserve raises as greenstalk does on EOF, the core forgets the waiter, and a
    job put later goes to the next reserver."""
    sim = stalksim.Simulation(max_wait=60)
    c, p = sim.client(), sim.client()
    _later(sim, 0.5, c.close)
    with pytest.raises(ConnectionError):
        RESERVES[path](c)
    assert sim.now == 0.5 and c._conn.closed
    _consistent(sim)
    id = p.put(b"x")
    assert p.reserve(timeout=0).id == id
    with pytest.raises(OSError):
        c.put(b"y")
