"""The live Recorder's inference, on a clock we set: what the server did on its own is
recorded before what a client then saw, and never as a move beanstalkd cannot make."""

from __future__ import annotations

import pytest

from stalksim.live.recorder import Recorder
from stalksim.trace import replay


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rec() -> tuple[Recorder, _Clock]:
    r, clock = Recorder(speed=1.0), _Clock()
    r.now = clock  # type: ignore[method-assign]
    return r, clock


def moves(trace) -> list[tuple[float, str, str, str]]:
    return [(r.time, r.src, r.dst, r.cause) for r in trace if r.dst]


def test_a_delayed_job_reserved_a_little_early_by_our_clock_matured_first(rec) -> None:
    # CI: the release was recorded after the server had started the delay, so the server
    # handed the job out before the recorder's due time; it must still have matured first
    r, clock = rec
    clock.t = 1.0
    r.put("producer", 7, "t", delay=2.0, ttr=5.0)
    clock.t = 2.96  # due 3.0 by our clock
    r.reserved("w1", 7)
    trace = r.finish(until=4)
    assert moves(trace) == [(1.0, "new", "delayed", "put"),
                            (2.96, "delayed", "ready", "delay-matured"),
                            (2.96, "ready", "reserved", "reserve")]
    replay(trace)


def test_a_delayed_job_reserved_after_its_due_matured_at_its_due(rec) -> None:
    r, clock = rec
    clock.t = 1.0
    r.put("producer", 7, "t", delay=2.0, ttr=5.0)
    clock.t = 3.5
    r.reserved("w1", 7)
    assert [m[0] for m in moves(r.finish(until=4))] == [1.0, 3.0, 3.5]


def test_a_released_job_reserved_early_by_our_clock_matured_first(rec) -> None:
    r, clock = rec
    r.put("producer", 1, "t", delay=0.0, ttr=5.0)
    clock.t = 0.5
    r.reserved("w1", 1)
    clock.t = 1.0
    r.finished("w1", 1, "delayed", "release", delay=2.0, sent=0.99)
    clock.t = 2.98
    r.reserved("w2", 1)
    causes = [m[3] for m in moves(r.finish(until=4))]
    assert causes == ["put", "reserve", "release", "delay-matured", "reserve"]


def test_a_job_held_past_its_ttr_and_reserved_again_expired_first(rec) -> None:
    r, clock = rec
    r.put("producer", 1, "t", delay=0.0, ttr=2.0)
    clock.t = 1.0
    r.reserved("w1", 1)
    clock.t = 2.99  # the server expired it at 3.0 by its clock, a little before ours
    r.reserved("w2", 1)
    assert moves(r.finish(until=4))[-2:] == [(2.99, "reserved", "ready", "ttr-expired"),
                                             (2.99, "ready", "reserved", "reserve")]
