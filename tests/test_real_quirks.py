"""beanstalkd 1.12's known quirks, shown on the real server (the simulator does not copy them).

The late TTR release. When the TTR of a reserved job runs out while its holder is idle, 1.12
may leave the job reserved until the holder's next command. The server wakes for the holder's
tick at the job's deadline; its clock has microseconds (gettimeofday), and when the tick lands
in the same microsecond as the deadline, conn_timeout finds `deadline_at >= now`, releases
nothing, and does not schedule the connection again (prot.c: prottick removes it from the timer
heap, only a release calls connsched). Nothing else looks at that connection until it sends a
command (every reply calls connsched). It happens most when other connections keep the server
busy as the deadline passes. The tests that need an expiry on time poke the holder
(tests/backends.py `wait`, the differential runner's `poke`); the others only `sleep`.

A late tick keeps its own order. When the server wakes late (a loaded machine; here it is
stopped with SIGSTOP), one tick handles every timer that came due meanwhile: delays first, then
pauses, then the connections' timers. A DEADLINE_SOON due 10 ms before a job matured then
loses to the job. The simulator never runs late, so it answers DEADLINE_SOON; the differential
runner keeps a delay LATE after any other timer (tests/diffclock.py) so that its real server
cannot merge the two.
"""

from __future__ import annotations

import os
import signal
import time

import greenstalk
import pytest

from tests.backends import RealBackend, SimBackend

pytestmark = [pytest.mark.real, pytest.mark.slow]

TTR = 1
LATE = 0.3  # the job counts as late when it is still reserved this long after its deadline
ATTEMPTS = 8


def _attempt(b: RealBackend) -> tuple[dict, dict] | None:
    """Hold a job with TTR 1 on an idle connection while another polls stats-job every 20 ms.
    Returns (stats-job while late, stats-job just after the holder's next command), or None
    when the job was released on time."""
    holder, observer = b.client(), b.client()
    job_id = holder.put("held", ttr=TTR)
    holder.reserve(timeout=0)
    t0 = time.monotonic()
    while time.monotonic() - t0 < TTR + LATE:
        st = observer.stats_job(job_id)
        if st["state"] != "reserved":
            return None
        time.sleep(0.02)
    late = observer.stats_job(job_id)
    holder.using()  # any command from the holder puts it back in the timer heap
    time.sleep(0.02)
    return late, observer.stats_job(job_id)


def test_late_ttr_release_waits_for_the_holders_next_command() -> None:
    """On beanstalkd 1.12 the job outlives its TTR while its holder is idle (seen in most
    attempts), and is ready, with one timeout, as soon as the holder sends any command."""
    seen = []
    for _ in range(ATTEMPTS):
        b = RealBackend()
        try:
            found = _attempt(b)
        finally:
            b.shutdown()
        if found is not None:
            seen.append(found)
            if len(seen) == 2:
                break
    assert seen, f"the TTR expiry was on time in all {ATTEMPTS} attempts: the quirk is gone"
    for late, after in seen:
        assert (late["state"], late["timeouts"], late["time-left"]) == ("reserved", 0, 0)
        assert (after["state"], after["timeouts"], after["reserves"]) == ("ready", 1, 1)


def test_the_simulator_releases_at_the_deadline() -> None:
    """The simulator's twin of the scenario above: ready at the deadline, no command needed."""
    b = SimBackend()
    holder, observer = b.client(), b.client()
    job_id = holder.put("held", ttr=TTR)
    holder.reserve(timeout=0)
    b.sim.advance(TTR - 0.001)
    assert observer.stats_job(job_id)["state"] == "reserved"
    b.sim.advance(0.002)
    st = observer.stats_job(job_id)
    assert (st["state"], st["timeouts"]) == ("ready", 1)
    with pytest.raises(greenstalk.NotFoundError):
        holder.release(greenstalk.Job(job_id, "held"))


def _deadline_soon_then_maturity(b: RealBackend | SimBackend, stall: bool) -> tuple[str, float]:
    """A client holds a TTR-2 job (DEADLINE_SOON due 1 s after its reserve) and waits in a
    reserve-with-timeout; 10 ms after the reserve a job matures 1 s later. With `stall`, the
    real server is stopped from 0.5 s to 1.5 s. Returns (the answer's first word, when the
    stop began, s after the reserve; 0 without a stall)."""
    waiter, producer = b.client(), b.client()
    waiter.put("held", ttr=2)
    waiter.reserve(timeout=0)
    t0 = b.now()
    waiter._sock.sendall(b"reserve-with-timeout 5\r\n")
    b.sleep(0.01)
    producer.put("matured", delay=1)
    stopped = 0.0
    if isinstance(b, RealBackend):
        pid = b.server.proc.pid
        time.sleep(max(0.0, t0 + 0.5 - time.monotonic()))
        stopped = time.monotonic() - t0
        if stall:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(1.0)
            os.kill(pid, signal.SIGCONT)
        waiter._sock.settimeout(5)
        return waiter._sock.recv(64).split()[0].decode(), stopped
    b.sim.advance(2.0)
    return waiter._sock.readline().split()[0].decode(), stopped


def test_a_late_tick_hands_the_matured_job_to_a_client_whose_deadline_came_first() -> None:
    """Stopped over both moments, beanstalkd delivers the matured job (RESERVED), not the
    DEADLINE_SOON that came due 10 ms earlier."""
    for _ in range(3):
        b = RealBackend()
        try:
            word, stopped = _deadline_soon_then_maturity(b, stall=True)
        finally:
            b.shutdown()
        if stopped < 0.95:  # the stop began before the DEADLINE_SOON was due
            break
    assert stopped < 0.95, "this machine never stopped the server in time (3 attempts)"
    assert word == "RESERVED"


def test_on_time_the_deadline_soon_comes_first() -> None:
    """Ticking on time, as the simulator always does, the waiting client gets DEADLINE_SOON."""
    word, _ = _deadline_soon_then_maturity(SimBackend(), stall=False)
    assert word == "DEADLINE_SOON"
