"""Job commands through greenstalk: put, peek, delete, release, bury, touch, kick-job and
reserve-job.

These follow the job-level cases of beanstalkd 1.12's own server tests that a greenstalk
client can express (raw-protocol-only cases live elsewhere).
"""

import greenstalk
import pytest
from greenstalk import Job

from tests.behaviour_util import bury_in_order, raises_after, state


def test_put_then_peek_by_id_returns_the_body(backend):
    """The first job of a fresh server has id 1 and peek gives it back unchanged."""
    c = backend.client()
    assert c.put("hello") == 1
    job = c.peek(1)
    assert (job.id, job.body) == (1, "hello")


def test_ids_are_one_global_sequence_across_tubes(backend):
    """Ids come from one counter shared by every tube and connection."""
    a = backend.client(use="a")
    b = backend.client(use="b")
    assert [a.put("1"), b.put("2"), a.put("3"), b.put("4")] == [1, 2, 3, 4]
    assert a.stats_job(2)["tube"] == "b"


def test_ids_are_never_reused_after_delete(backend):
    """Deleting the newest job does not give its id to the next put."""
    c = backend.client()
    c.put("a")
    c.delete(c.put("b"))
    assert c.put("c") == 3


def test_zero_length_and_binary_bodies_round_trip(backend):
    """An empty body is fine, and bytes with CR/LF/NUL inside survive put and reserve."""
    c = backend.client(encoding=None)
    body = b"line1\r\nline2\n\x00\xff"
    c.put(b"")
    c.put(body)
    assert c.reserve(timeout=0).body == b""
    assert c.reserve(timeout=0).body == body


def test_body_size_limit_counts_encoded_bytes(backend):
    """With the utf-8 default, 'é' is 2 bytes: 32767 of them plus one ASCII character
    (65535 bytes) fit, 32768 of them (65536 bytes) are JOB_TOO_BIG."""
    c = backend.client()
    body = "é" * 32767 + "x"
    assert c.put(body) == 1
    with pytest.raises(greenstalk.JobTooBigError):
        c.put("é" * 32768)
    assert c.reserve(timeout=0).body == body


def test_peek_of_missing_ids_is_not_found(backend):
    """peek of an id that was never used (up to the largest u64) is NOT_FOUND."""
    c = backend.client()
    c.put("x")
    for job_id in (2, 12345, 2**64 - 1):
        with pytest.raises(greenstalk.NotFoundError):
            c.peek(job_id)


def test_ids_outside_u64_are_bad_format_and_keep_the_stream_in_sync(backend):
    """An id that is negative or does not fit 64 bits is BAD_FORMAT for every id command."""
    c = backend.client()
    c.put("x")
    for bad in (-1, 2**64, 10**30):
        for call in (c.peek, c.delete, c.kick_job, c.stats_job, c.reserve_job):
            with pytest.raises(greenstalk.BadFormatError):
                call(bad)
        for call in (c.touch, c.bury, c.release):
            with pytest.raises(greenstalk.BadFormatError):
                call(Job(bad, "x"))
    assert c.put("still in sync") == 2
    assert c.peek(1).body == "x"


def test_peek_sees_jobs_in_every_state_and_tube(backend):
    """peek <id> finds ready, delayed, buried and reserved jobs, whatever tube is used."""
    p = backend.client(use="t")
    w = backend.client(watch="t")
    ready = p.put("ready")
    delayed = p.put("delayed", delay=60)
    p.put("to-bury")
    p.put("to-reserve")
    w.bury(w.reserve_job(3))
    w.reserve_job(4)
    other = backend.client(use="elsewhere")
    assert [other.peek(i).body for i in (ready, delayed, 3, 4)] == [
        "ready",
        "delayed",
        "to-bury",
        "to-reserve",
    ]
    assert [state(other, i) for i in (1, 2, 3, 4)] == ["ready", "delayed", "buried", "reserved"]


def test_peek_delayed_walks_delayed_jobs_by_deadline(backend):
    """peek-delayed shows the delayed job due soonest; after deleting it, the next one."""
    c = backend.client()
    c.put("thirty", delay=30)
    c.put("ten", delay=10)
    c.put("twenty", delay=20)
    c.put("ten-again", delay=10)
    c.put("ready")
    seen = []
    while True:
        try:
            job = c.peek_delayed()
        except greenstalk.NotFoundError:
            break
        seen.append(job.body)
        c.delete(job)
    assert seen == ["ten", "ten-again", "twenty", "thirty"]
    assert c.peek_ready().body == "ready"


def test_peek_commands_on_an_empty_tube_are_not_found(backend):
    """peek-ready, peek-delayed and peek-buried on an empty used tube are NOT_FOUND."""
    c = backend.client(use="empty")
    for call in (c.peek_ready, c.peek_delayed, c.peek_buried):
        with pytest.raises(greenstalk.NotFoundError):
            call()


def test_bury_needs_a_reservation_then_peek_buried_and_kick(backend):
    """bury of an unreserved job is NOT_FOUND; a buried job is found by peek-buried and
    `kick 1` makes it ready; a second `kick 1` kicks nothing."""
    c = backend.client()
    job_id = c.put("a")
    with pytest.raises(greenstalk.NotFoundError):
        c.bury(Job(job_id, "a"))
    c.bury(c.reserve(timeout=0))
    assert state(c, job_id) == "buried"
    assert c.peek_buried().id == job_id
    assert c.kick(1) == 1
    assert c.peek_ready().id == job_id
    assert c.kick(1) == 0


def test_bury_with_a_bad_priority_is_bad_format_and_keeps_the_job_reserved(backend):
    """A priority outside u32 makes bury BAD_FORMAT; the job stays reserved."""
    c = backend.client()
    c.put("a")
    job = c.reserve(timeout=0)
    for pri in (-1, 2**32):
        with pytest.raises(greenstalk.BadFormatError):
            c.bury(job, priority=pri)
    assert state(c, job.id) == "reserved"
    c.bury(job, priority=2**32 - 1)
    assert c.stats_job(job.id)["pri"] == 2**32 - 1


def test_touch_of_a_job_not_reserved_is_not_found(backend):
    """touch works only on a job reserved by this connection."""
    c = backend.client()
    other = backend.client()
    c.put("ready")
    c.put("reserved")
    with pytest.raises(greenstalk.NotFoundError):
        c.touch(Job(1, "ready"))
    with pytest.raises(greenstalk.NotFoundError):
        c.touch(Job(99, "missing"))
    job = c.reserve_job(2)
    with pytest.raises(greenstalk.NotFoundError):
        other.touch(job)
    c.touch(job)


def test_kick_job_on_buried_job(backend):
    """kick-job: missing id NOT_FOUND; buried job KICKED (now ready); again NOT_FOUND."""
    c = backend.client()
    with pytest.raises(greenstalk.NotFoundError):
        c.kick_job(1)
    c.put("a")
    c.bury(c.reserve(timeout=0))
    c.kick_job(1)
    assert state(c, 1) == "ready"
    with pytest.raises(greenstalk.NotFoundError):
        c.kick_job(1)


def test_kick_job_on_delayed_job(backend):
    """kick-job: a ready job is NOT_FOUND; a delayed job is KICKED; again NOT_FOUND."""
    c = backend.client()
    c.put("ready")
    c.put("delayed", delay=100)
    with pytest.raises(greenstalk.NotFoundError):
        c.kick_job(1)
    c.kick_job(2)
    assert state(c, 2) == "ready"
    with pytest.raises(greenstalk.NotFoundError):
        c.kick_job(2)


def test_kick_job_of_a_reserved_job_is_not_found_even_for_its_owner(backend):
    """Reserved jobs cannot be kicked, by anyone."""
    c = backend.client()
    other = backend.client()
    c.put("a")
    c.reserve(timeout=0)
    for who in (c, other):
        with pytest.raises(greenstalk.NotFoundError):
            who.kick_job(1)
    assert state(c, 1) == "reserved"


def test_delete_ready_zero_length_job(backend):
    """A ready job with an empty body can be deleted; it is gone afterwards."""
    c = backend.client()
    c.put("")
    c.delete(1)
    with pytest.raises(greenstalk.NotFoundError):
        c.peek(1)
    with pytest.raises(greenstalk.NotFoundError):
        c.delete(1)


def test_delete_of_a_job_reserved_by_another_connection_is_not_found(backend):
    """Only the owner may delete a reserved job; others get NOT_FOUND and it stays."""
    owner = backend.client()
    other = backend.client()
    owner.put("a")
    job = owner.reserve(timeout=0)
    with pytest.raises(greenstalk.NotFoundError):
        other.delete(job)
    assert state(other, job.id) == "reserved"
    owner.delete(job)
    with pytest.raises(greenstalk.NotFoundError):
        other.peek(job.id)


def test_delete_works_on_delayed_and_buried_jobs_from_any_connection(backend):
    """Delayed and buried jobs in any tube can be deleted by a connection that never saw them."""
    p = backend.client(use="t")
    p.put("delayed", delay=100)
    p.put("buried")
    p.bury(p.reserve_job(2))
    stranger = backend.client()
    stranger.delete(1)
    stranger.delete(2)
    assert p.stats_tube("t")["current-jobs-delayed"] == 0
    assert p.stats_tube("t")["current-jobs-buried"] == 0


def test_reserve_job_picks_a_specific_ready_job(backend):
    """reserve-job takes the named job, not the best one; release needs a reservation."""
    c = backend.client()
    c.put("best", priority=0)
    c.put("chosen", priority=100)
    job = c.reserve_job(2)
    assert (job.id, job.body) == (2, "chosen")
    assert state(c, 2) == "reserved"
    with pytest.raises(greenstalk.NotFoundError):
        c.reserve_job(3)
    with pytest.raises(greenstalk.NotFoundError):
        c.release(Job(1, "best"))
    c.release(job)
    assert state(c, 2) == "ready"


def test_reserve_job_of_an_already_reserved_job_is_not_found(backend):
    """A reserved job cannot be reserved again, neither by its owner nor by others."""
    c = backend.client()
    other = backend.client()
    c.put("a")
    c.reserve_job(1)
    for who in (c, other):
        with pytest.raises(greenstalk.NotFoundError):
            who.reserve_job(1)
    assert c.stats_job(1)["reserves"] == 1


def test_reserve_job_of_a_delayed_job_then_release_without_delay_makes_it_ready(backend):
    """reserve-job takes a delayed job out of the delay; release with delay 0 makes it ready."""
    c = backend.client()
    c.put("later", delay=100)
    job = c.reserve_job(1)
    assert state(c, 1) == "reserved"
    c.release(job, delay=0)
    assert state(c, 1) == "ready"
    assert c.stats_tube("default")["current-jobs-delayed"] == 0


def test_reserve_job_of_buried_jobs_in_any_order(backend):
    """Buried jobs can be reserved by id in any order (not just the buried-list head);
    released they become ready and their buries count is unchanged."""
    c = backend.client()
    for body in "abc":
        c.put(body)
    bury_in_order(c, [1, 2, 3])
    jobs = [c.reserve_job(i) for i in (3, 1, 2)]
    assert [j.body for j in jobs] == ["c", "a", "b"]
    assert all(c.stats_job(i)["buries"] == 1 for i in (1, 2, 3))
    for job in jobs:
        c.release(job)
    assert [state(c, i) for i in (1, 2, 3)] == ["ready"] * 3


def test_reserve_job_ignores_the_watch_list(backend):
    """reserve-job reserves a job in a tube the connection does not watch."""
    p = backend.client(use="elsewhere")
    p.put("x")
    w = backend.client(watch="mine")
    assert w.reserve_job(1).body == "x"
    assert state(w, 1) == "reserved"


def test_release_of_a_job_not_reserved_is_not_found(backend):
    """release of a missing job, a ready job, or one reserved by someone else is NOT_FOUND."""
    c = backend.client()
    other = backend.client()
    with pytest.raises(greenstalk.NotFoundError):
        c.release(Job(7, "missing"))
    c.put("a")
    with pytest.raises(greenstalk.NotFoundError):
        c.release(Job(1, "a"))
    job = c.reserve(timeout=0)
    with pytest.raises(greenstalk.NotFoundError):
        other.release(job)
    with pytest.raises(greenstalk.NotFoundError):
        other.bury(job)
    assert state(c, 1) == "reserved"


def test_release_with_bad_numbers_is_bad_format(backend):
    """release with a priority or delay outside u32 is BAD_FORMAT; the job stays reserved."""
    c = backend.client()
    c.put("a")
    job = c.reserve(timeout=0)
    for kwargs in ({"priority": -1}, {"priority": 2**32}, {"delay": -1}, {"delay": 2**32}):
        with pytest.raises(greenstalk.BadFormatError):
            c.release(job, **kwargs)
    assert state(c, 1) == "reserved"
    c.release(job, priority=2**32 - 1, delay=0)
    assert c.stats_job(1)["pri"] == 2**32 - 1


def test_release_with_delay_makes_the_job_delayed(backend):
    """release with a delay puts the job in the delayed state, with that delay and pri."""
    c = backend.client()
    c.put("a", priority=5)
    c.release(c.reserve(timeout=0), priority=9, delay=20)
    st = c.stats_job(1)
    assert (st["state"], st["pri"], st["delay"], st["releases"]) == ("delayed", 9, 20, 1)
    assert st["time-left"] == 19
    assert c.peek_delayed().id == 1


def test_closing_the_connection_releases_its_reserved_job(backend):
    """A job (ttr 100) reserved by a connection that goes away is reservable again at once."""
    producer = backend.client()
    producer.put("a", ttr=100)
    consumer = backend.client()
    consumer.reserve(timeout=0)
    backend.close(consumer)
    backend.sleep(0.05)
    assert producer.reserve(timeout=0).id == 1


def test_a_connection_may_hold_several_jobs(backend):
    """One connection can reserve several jobs and finish them in any order."""
    c = backend.client()
    for body in "abc":
        c.put(body)
    jobs = [c.reserve(timeout=0) for _ in range(3)]
    assert c.stats()["current-jobs-reserved"] == 3
    c.delete(jobs[1])
    c.release(jobs[2])
    c.bury(jobs[0])
    assert [state(c, i) for i in (1, 3)] == ["buried", "ready"]


def test_reserve_with_timeout_while_another_connection_watches_times_out(backend):
    """A reserve-with-timeout 1 on an empty tube times out after about 1 s, even when a
    second connection watches the same tube."""
    a = backend.client(watch="t")
    backend.client(watch="t")
    elapsed = raises_after(backend, greenstalk.TimedOutError, a.reserve, timeout=1)
    assert 0.9 <= elapsed <= 1.5


def test_large_ttr_values_are_stored_exactly(backend):
    """TTRs around the seconds-to-nanoseconds overflow points are reported unchanged; the
    largest one, reserved, shows time-left 4294967294."""
    c = backend.client()
    values = [120, 4294, 4295, 4296, 4297, 5000, 21600, 2**32 - 1]
    for ttr in values:
        c.put("x", ttr=ttr)
    assert [c.stats_job(i + 1)["ttr"] for i in range(len(values))] == values
    c.reserve_job(len(values))
    assert c.stats_job(len(values))["time-left"] == 2**32 - 2


def test_ready_job_reports_zero_time_left(backend):
    """stats-job of a ready job shows time-left 0 (and delay 0)."""
    c = backend.client()
    c.put("x", ttr=100)
    st = c.stats_job(1)
    assert (st["state"], st["time-left"], st["delay"]) == ("ready", 0, 0)


def test_small_and_zero_delays_are_accepted(backend):
    """put with delay 1 gives a delayed job, delay 0 a ready one."""
    c = backend.client()
    c.put("one", delay=1)
    c.put("zero", delay=0)
    assert [state(c, 1), state(c, 2)] == ["delayed", "ready"]
    assert c.stats_job(1)["delay"] == 1


def test_maximal_numbers_are_accepted(backend):
    """pri, delay and ttr may all be 4294967295; the delayed job reports time-left 4294967294."""
    c = backend.client()
    c.put("x", priority=2**32 - 1, delay=2**32 - 1, ttr=2**32 - 1)
    st = c.stats_job(1)
    assert (st["pri"], st["delay"], st["ttr"]) == (2**32 - 1,) * 3
    assert st["state"] == "delayed"
    assert st["time-left"] == 2**32 - 2
