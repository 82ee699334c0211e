"""§11 item 17 of our semantics notes: on a real 1.12 server a TTR expiry can be late.

beanstalkd 1.12 can drop a connection from its timer heap after a tick that released nothing;
that connection's overdue job is then released only after its next command (issues #262/#334
upstream). The simulator models the server as designed: the job is released the instant its
TTR has run out (now > deadline) and handed straight to a connection already waiting. The
behaviour and differential tests therefore send a harmless command on the holder after each
wait on the real leg; this test pins the simulator's side.
"""

from __future__ import annotations

import greenstalk
import pytest

import stalksim


def test_pitfall_17_simulator_releases_at_the_deadline_to_a_waiting_reserver():
    sim = stalksim.Simulation()
    holder, waiter = sim.client(), sim.client()
    holder.put("work", ttr=2)
    job = holder.reserve()
    assert waiter.reserve(timeout=4).id == job.id  # no command from the holder needed
    assert 2.0 < sim.now < 2.000001  # just past the deadline, not a moment later
    st = waiter.stats_job(job)
    assert (st["state"], st["timeouts"], st["reserves"]) == ("reserved", 1, 2)


def test_pitfall_17_holder_after_deadline_soon_still_loses_the_job_on_time():
    """The case that is late on a real server: the holder got DEADLINE_SOON, then idles."""
    sim = stalksim.Simulation()
    holder, other = sim.client(), sim.client()
    holder.put("work", ttr=2)
    holder.reserve()
    with pytest.raises(greenstalk.DeadlineSoonError):
        holder.reserve(timeout=5)
    assert sim.now == 1.0
    sim.advance(1.25)
    assert other.stats_job(1)["state"] == "ready"
