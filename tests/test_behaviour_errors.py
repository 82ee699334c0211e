"""Error replies as a greenstalk user sees them, and the size and number limits.

Every server error reaches the caller as a subclass of greenstalk.BeanstalkdError (itself a
greenstalk.Error). Bodies may be as large as max-job-size (65535 by default) but no
larger; numbers are unsigned 32-bit (ids 64-bit), with no sign.
"""

import greenstalk
import pytest
from greenstalk import Job

from tests.behaviour_util import raises_after


def test_too_big_body_is_discarded_and_the_stream_stays_in_sync(backend_factory):
    """Limit 10: a 10-byte body is fine; an 11-byte body that reads like a command
    ('delete 9999') is JOB_TOO_BIG and thrown away, not run; the next put gets the next id."""
    b = backend_factory(max_job_size=10)
    c = b.client()
    with pytest.raises(greenstalk.JobTooBigError):
        c.put("delete 9999")
    assert c.put("0123456789") == 1
    with pytest.raises(greenstalk.JobTooBigError):
        c.put("delete 9999")
    assert c.put("") == 2
    assert c.stats()["cmd-delete"] == 0


def test_missing_things_raise_not_found(backend):
    """Every job command on a missing id, every peek on an empty tube, and stats-tube and
    pause-tube on a missing tube raise NotFoundError."""
    c = backend.client()
    missing = Job(42, "")
    calls = [
        (c.delete, 42),
        (c.release, missing),
        (c.bury, missing),
        (c.touch, missing),
        (c.kick_job, 42),
        (c.reserve_job, 42),
        (c.peek, 42),
        (c.stats_job, 42),
        (c.stats_tube, "missing"),
    ]
    for call, arg in calls:
        with pytest.raises(greenstalk.NotFoundError):
            call(arg)
    for call in (c.peek_ready, c.peek_delayed, c.peek_buried):
        with pytest.raises(greenstalk.NotFoundError):
            call()
    with pytest.raises(greenstalk.NotFoundError):
        c.pause_tube("missing", 1)


def test_ignoring_the_only_watched_tube_raises_not_ignored(backend):
    """ignore('default') as the only watched tube is NotIgnoredError; ignoring a tube that
    is not watched just returns the count."""
    c = backend.client()
    with pytest.raises(greenstalk.NotIgnoredError):
        c.ignore("default")
    assert c.ignore("notwatched") == 1
    assert c.watching() == ["default"]


def test_reserve_with_zero_timeout_on_empty_tube_times_out_at_once(backend):
    """reserve(timeout=0) with nothing ready raises TimedOutError without waiting."""
    c = backend.client()
    assert raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=0) < 0.2


def test_reserve_timeout_is_cut_to_32_bits(backend):
    """reserve(timeout=2**32) is read as 0 by beanstalkd 1.12: TIMED_OUT at once."""
    c = backend.client()
    assert raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=2**32) < 0.2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"priority": -1},
        {"priority": 2**32},
        {"delay": -1},
        {"delay": 2**32},
        {"ttr": -1},
        {"ttr": 2**32},
    ],
)
def test_put_with_numbers_outside_u32_is_bad_format(backend, kwargs):
    """A put whose priority, delay or ttr is negative or above 4294967295 is BadFormatError,
    and no job is created."""
    c = backend.client()
    with pytest.raises(greenstalk.BadFormatError):
        c.put("", **kwargs)
    other = backend.client()
    st = other.stats()
    assert (st["total-jobs"], st["cmd-put"]) == (0, 0)
    assert other.put("ok") == 1


def test_largest_priority_is_accepted(backend):
    """Priority 4294967295 is accepted and kept."""
    c = backend.client()
    c.put("x", priority=2**32 - 1)
    assert c.stats_job(1)["pri"] == 2**32 - 1


def test_bad_format_on_commands_without_body_does_not_desync(backend):
    """BAD_FORMAT for a release with a negative priority leaves the client in step."""
    c = backend.client()
    c.put("x")
    job = c.reserve(timeout=0)
    with pytest.raises(greenstalk.BadFormatError):
        c.release(job, priority=-1)
    assert c.using() == "default"
    c.release(job)
    assert c.stats_job(1)["state"] == "ready"


def test_server_errors_are_greenstalk_error_subclasses(backend):
    """NOT_FOUND, TIMED_OUT, BAD_FORMAT, NOT_IGNORED and JOB_TOO_BIG all arrive as
    greenstalk.BeanstalkdError (and greenstalk.Error) subclasses."""
    c = backend.client()
    failing = [
        lambda: c.peek(1),
        lambda: c.reserve(timeout=0),
        lambda: c.use("-x"),
        lambda: c.ignore("default"),
        lambda: c.put("y" * 65536),
    ]
    kinds = []
    for call in failing:
        with pytest.raises(greenstalk.BeanstalkdError) as info:
            call()
        assert isinstance(info.value, greenstalk.Error)
        kinds.append(type(info.value))
    assert kinds == [
        greenstalk.NotFoundError,
        greenstalk.TimedOutError,
        greenstalk.BadFormatError,
        greenstalk.NotIgnoredError,
        greenstalk.JobTooBigError,
    ]
