"""Time-to-run: automatic release, touch, and DEADLINE_SOON.

A reserved job must be finished within its TTR (at least 1 s). Once `now > deadline` the
server puts it back to ready, counting a timeout (never a release). A connection whose
soonest reserved job is due within 1 s (the safety margin) and that has nothing ready to
take gets DEADLINE_SOON from reserve instead of waiting.

Timing assertions keep clear of boundaries: every check is at least 0.2 s away from the
instant it is about.
"""

import greenstalk
import pytest

from tests.behaviour_util import raises_after, state, timed


def test_ttr_one_job_goes_back_to_ready_after_a_second_with_a_timeout_counted(backend):
    """ttr 0 is stored as 1; a ttr-1 job is still reserved after 0.5 s and ready after
    1.25 s with timeouts 1, releases 0, and the global job-timeouts 1."""
    c = backend.client()
    c.put("a", ttr=1)
    c.put("b", ttr=0)
    assert c.stats_job(2)["ttr"] == 1
    job = c.reserve(timeout=0)
    st = c.stats_job(job.id)
    assert (st["state"], st["time-left"], st["reserves"], st["timeouts"]) == (
        "reserved",
        0,
        1,
        0,
    )
    backend.sleep(0.5)
    assert state(c, job.id) == "reserved"
    backend.wait(0.75)
    st = c.stats_job(job.id)
    assert (st["state"], st["reserves"], st["timeouts"], st["releases"]) == ("ready", 1, 1, 0)
    assert c.stats()["job-timeouts"] == 1
    again = c.reserve(timeout=0)
    assert again.id == job.id
    assert c.stats_job(job.id)["reserves"] == 2
    c.release(again, priority=5)
    st = c.stats_job(job.id)
    assert (st["releases"], st["timeouts"], st["pri"]) == (1, 1, 5)


def test_timed_out_job_keeps_its_priority(backend):
    """A TTR expiry puts the job back with the priority it had (so it is urgent again);
    the old owner can no longer touch, release or bury it."""
    c = backend.client()
    c.put("a", priority=42, ttr=1)
    job = c.reserve(timeout=0)
    assert c.stats()["current-jobs-urgent"] == 0
    backend.wait(1.25)
    st = c.stats_job(1)
    assert (st["state"], st["pri"]) == ("ready", 42)
    g = c.stats()
    assert (g["current-jobs-urgent"], g["current-jobs-ready"], g["current-jobs-reserved"]) == (
        1,
        1,
        0,
    )
    for call in (c.touch, c.release, c.bury):
        with pytest.raises(greenstalk.NotFoundError):
            call(job)
    c.delete(job)  # allowed: the job is ready now, and ready jobs can be deleted by anyone


def test_blocking_reserve_gets_deadline_soon_a_second_before_the_deadline(backend):
    """Holding a ttr-2 job, a blocking reserve returns DEADLINE_SOON after about 1 s; the
    job stays reserved; further reserves say DEADLINE_SOON at once; then the job expires."""
    c = backend.client()
    c.put("a", ttr=2)
    job = c.reserve(timeout=0)
    elapsed = raises_after(backend, greenstalk.DeadlineSoonError, c.reserve)
    assert 0.8 <= elapsed <= 1.4
    assert state(c, job.id) == "reserved"
    assert raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=0) < 0.2
    assert raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=5) < 0.2
    backend.wait(1.25)
    st = c.stats_job(job.id)
    assert (st["state"], st["timeouts"]) == ("ready", 1)


def test_deadline_soon_then_release_makes_the_job_ready(backend):
    """ttr 1: still reserved 0.2 s later; reserve-with-timeout 1 is DEADLINE_SOON and the
    job stays reserved; release then makes it ready."""
    c = backend.client()
    c.put("a", ttr=1)
    job = c.reserve(timeout=0)
    backend.sleep(0.2)
    assert state(c, job.id) == "reserved"
    raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=1)
    assert state(c, job.id) == "reserved"
    c.release(job)
    assert state(c, job.id) == "ready"


def test_timeout_shorter_than_margin_times_out_then_deadline_soon(backend):
    """Holding a ttr-3 job: reserve-with-timeout 1 times out after 1 s; the next
    reserve-with-timeout 5 is DEADLINE_SOON about 1 s later, when the 1 s margin starts;
    after a touch the margin is cleared and reserve-with-timeout 0 times out."""
    c = backend.client()
    c.put("a", ttr=3)
    job = c.reserve(timeout=0)
    elapsed = raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=1)
    assert 0.8 <= elapsed <= 1.4
    elapsed = raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=5)
    assert 0.6 <= elapsed <= 1.4
    c.touch(job)
    raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=0)


def test_the_soonest_reserved_job_decides_deadline_soon(backend):
    """Holding jobs with ttr 10 and ttr 2, reserve-with-timeout 5 is DEADLINE_SOON after
    about 1 s: the ttr-2 job's margin counts."""
    c = backend.client()
    c.put("long", ttr=10)
    c.put("short", ttr=2)
    c.reserve(timeout=0)
    c.reserve(timeout=0)
    elapsed = raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=5)
    assert 0.8 <= elapsed <= 1.4
    assert [state(c, 1), state(c, 2)] == ["reserved", "reserved"]


def test_job_arriving_during_a_wait_beats_the_margin(backend):
    """Holding a ttr-3 job, a reserve-with-timeout 5 still receives a job that matures
    after 1 s (before the margin starts at 2 s)."""
    c = backend.client()
    c.put("held", ttr=3)
    c.reserve(timeout=0)
    c.put("later", delay=1)
    job, elapsed = timed(backend, c.reserve, timeout=5)
    assert job.body == "later"
    assert 0.8 <= elapsed <= 1.6


def test_reserve_job_of_a_delayed_job_expires_to_ready(backend):
    """reserve-job on a delayed ttr-1 job; reserve-with-timeout is then DEADLINE_SOON; the
    job times out back to ready, not to delayed."""
    c = backend.client()
    c.put("a", delay=100, ttr=1)
    c.reserve_job(1)
    raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=1)
    backend.wait(1.25)
    st = c.stats_job(1)
    assert (st["state"], st["timeouts"], st["delay"]) == ("ready", 1, 100)


def test_a_ready_job_in_a_paused_tube_does_not_beat_the_margin(backend):
    """Inside the margin, a ready job that sits in a paused watched tube is not handed out:
    the answer is still DEADLINE_SOON."""
    c = backend.client(watch=["default", "p"])
    c.put("held", ttr=1)
    c.reserve(timeout=0)
    c.use("p")
    c.put("paused-job")
    c.pause_tube("p", 100)
    raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=0)
    assert state(c, 2) == "ready"


def test_deadline_soon_comes_before_a_job_that_matures_inside_the_margin(backend):
    """Holding a ttr-2 job (margin from 1 s), a reserve-with-timeout 5 answers
    DEADLINE_SOON at about 1 s although a job matures at 1.5 s; once that job is ready,
    reserve-with-timeout 0 hands it out despite the margin."""
    c = backend.client()
    c.put("held", ttr=2)
    c.reserve(timeout=0)
    t0 = backend.now()
    backend.sleep(0.5)
    c.put("later", delay=1)  # matures about 1.5 s after t0
    raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=5)
    assert 0.8 <= backend.now() - t0 <= 1.3
    backend.sleep(0.75)  # "later" is ready now; "held" still has about 0.2 s to go
    assert c.reserve(timeout=0).body == "later"


def test_released_with_delay_job_reaches_a_waiting_reserver(backend):
    """A job released with delay 1 is handed to a reserve-with-timeout 3 about 1 s later."""
    c = backend.client()
    c.put("x")
    c.release(c.reserve(timeout=0), delay=1)
    job, elapsed = timed(backend, c.reserve, timeout=3)
    assert job.id == 1
    assert 0.8 <= elapsed <= 1.5
    st = c.stats_job(1)
    assert (st["reserves"], st["releases"], st["delay"]) == (2, 1, 1)
