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
"""

from __future__ import annotations

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
