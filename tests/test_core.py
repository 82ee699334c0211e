"""Unit tests of the core with a manual clock (integer nanoseconds, no simpy, no sockets)."""

from __future__ import annotations

import pytest

from stalksim.core import SEC, Refused, Server
from stalksim.core.ms import Ms


class Clock:
    """A manual clock and a server, with replies of waiting connections collected."""

    def __init__(self, **kwargs: object) -> None:
        self.now = 0
        self.server = Server(trace=[], **kwargs)
        self._replies: list[tuple[str, object]] = []

    @property
    def replies(self) -> list[tuple[str, object]]:
        """Answers to waiting connections so far: (name, job id or word), the outbox drained."""
        for c, answer in self.server.take_answers():
            self._replies.append((c.name, answer if isinstance(answer, str) else answer.id))
        return self._replies

    def conn(self, name: str):
        return self.server.connect(self.now, name)

    def at(self, seconds: float) -> None:
        self.now = round(seconds * SEC)
        self.server.advance(self.now)


def test_ms_take_sequence_is_beanstalkds_quirk():
    """ms_take with a persistent cursor and swap removal: 1..6 -> 1, 2, 3, 6, 5, 4."""
    m: Ms[int] = Ms()
    for i in range(1, 7):
        m.append(i)
    assert [m.take() for _ in range(6)] == [1, 2, 3, 6, 5, 4]
    assert m.take() is None


def test_ms_remove_fills_hole_with_last():
    a, b, c, d = (object() for _ in range(4))
    m: Ms[object] = Ms()
    for x in (a, b, c, d):
        m.append(x)
    assert m.remove(a)
    assert list(m) == [d, b, c]
    assert not m.remove(object())


def test_four_waiters_are_served_a_b_d_c():
    """The waiting-connection order quirk: 4 waiters on one tube get jobs A, B, D, C."""
    k = Clock()
    p = k.conn("p")
    waiters = [k.conn(n) for n in "ABCD"]
    for w in waiters:
        assert k.server.reserve(w, k.now) is None
    for i in range(4):
        k.server.put(p, k.now, 0, 0, 60, b"x%d" % i)
    assert [name for name, _ in k.replies] == ["A", "B", "D", "C"]


def test_three_waiters_are_fifo():
    k = Clock()
    p = k.conn("p")
    for n in "EFG":
        assert k.server.reserve(k.conn(n), k.now) is None
    for _ in range(3):
        k.server.put(p, k.now, 0, 0, 60, b"")
    assert [name for name, _ in k.replies] == ["E", "F", "G"]


def test_waiter_on_two_tubes_is_removed_from_both():
    k = Clock()
    p = k.conn("p")
    w = k.conn("w")
    k.server.watch(w, k.now, "other")
    assert k.server.reserve(w, k.now) is None
    assert len(k.server.tube_by_name["other"].waiting) == 1
    k.server.put(p, k.now, 0, 0, 60, b"")
    assert k.replies == [("w", 1)]
    assert len(k.server.tube_by_name["other"].waiting) == 0
    assert len(k.server.default.waiting) == 0
    assert k.server.waiting_n == 0


def test_ttr_expires_strictly_after_deadline():
    """A job is released on the first tick where now > deadline, not at the deadline."""
    k = Clock()
    p, w = k.conn("p"), k.conn("w")
    k.server.put(p, k.now, 0, 0, 2, b"")
    k.server.reserve(w, k.now)
    k.now = 2 * SEC
    k.server.advance(k.now)
    assert k.server.jobs[1].state == "reserved"
    k.server.advance(k.now + 1)
    job = k.server.jobs[1]
    assert (job.state, job.timeouts, job.releases) == ("ready", 1, 0)
    assert k.server.job_timeouts == 1


def test_next_due_reports_each_kind_of_timer():
    k = Clock()
    p = k.conn("p")
    assert k.server.next_due() is None
    k.server.put(p, k.now, 0, 5, 60, b"")
    assert k.server.next_due() == 5 * SEC
    k.server.pause_tube(p, k.now, "default", 3)
    assert k.server.next_due() == 3 * SEC
    k.at(3)
    assert k.server.next_due() == 5 * SEC
    k.at(5)
    assert k.server.jobs[1].state == "ready"
    w = k.conn("w")
    k.server.reserve(w, k.now)
    assert k.server.next_due() == 5 * SEC + 60 * SEC + 1


def test_waiting_reserve_gets_deadline_soon_one_second_before_deadline():
    k = Clock()
    p, w = k.conn("p"), k.conn("w")
    k.server.put(p, k.now, 0, 0, 3, b"")
    k.server.reserve(w, k.now)
    assert k.server.reserve_with_timeout(w, k.now, 10) is None
    k.at(1.999)
    assert k.replies == []
    k.at(2.0)
    assert k.replies == [("w", "DEADLINE_SOON")]
    assert k.server.jobs[1].state == "reserved"


def test_reserve_timeout_zero_answers_at_once():
    k = Clock()
    w = k.conn("w")
    with pytest.raises(Refused) as e:
        k.server.reserve_with_timeout(w, k.now, 0)
    assert e.value.word == "TIMED_OUT"
    assert k.server.waiting_n == 0


def test_maturing_job_beats_a_timeout_at_the_same_instant():
    """Tick order: delayed jobs are promoted before reserve timeouts fire."""
    k = Clock()
    p, w = k.conn("p"), k.conn("w")
    k.server.put(p, k.now, 0, 2, 60, b"")
    assert k.server.reserve_with_timeout(w, k.now, 2) is None
    k.at(2)
    assert k.replies == [("w", 1)]


def test_same_deadline_delayed_jobs_promote_in_tube_list_order():
    """Across tubes, equal deadlines promote in tube-list order; the first goes to a waiter."""
    k = Clock()
    p, w = k.conn("p"), k.conn("w")
    k.server.watch(w, k.now, "b")
    k.server.watch(w, k.now, "a")
    k.server.use(p, k.now, "b")
    k.server.put(p, k.now, 10, 1, 60, b"")  # id 1 in b (pri 10)
    k.server.use(p, k.now, "a")
    k.server.put(p, k.now, 5, 1, 60, b"")  # id 2 in a (pri 5)
    k.server.reserve(w, k.now)
    assert [t.name for t in k.server.tubes] == ["default", "b", "a"]
    k.at(1)
    # b's job is promoted first and handed out at once, though a's has the better pri
    assert k.replies == [("w", 1)]
    assert k.server.jobs[2].state == "ready"


def test_close_releases_reserved_jobs_without_counters():
    k = Clock()
    p, w = k.conn("p"), k.conn("w")
    k.server.put(p, k.now, 0, 0, 60, b"")
    k.server.reserve(w, k.now)
    k.server.close(w, k.now)
    job = k.server.jobs[1]
    assert (job.state, job.timeouts, job.releases, job.reserves) == ("ready", 0, 0, 1)
    assert k.server.trace[-1][5] == "connection-closed"
    assert k.server.trace[-1][6] == "w"


def test_tube_freed_with_last_reference_and_list_swap_order():
    k = Clock()
    c = k.conn("c")
    for name in ["zz", "w2", "x1", "ta", "tb", "tc"]:
        k.server.watch(c, k.now, name)
    k.server.ignore(c, k.now, "ta")
    assert [t.name for t in k.server.tubes] == ["default", "zz", "w2", "x1", "tc", "tb"]


def test_trace_records_every_transition():
    k = Clock()
    p, w = k.conn("p"), k.conn("w")
    k.server.put(p, k.now, 0, 1, 60, b"")
    k.at(1)
    k.server.reserve(w, k.now)
    k.server.bury(w, k.now, 1, 5)
    k.server.kick(p, k.now, 1)
    k.server.delete(p, k.now, 1)
    steps = [(e[3], e[4], e[5], e[6]) for e in k.server.trace]
    assert steps == [
        ("new", "delayed", "put", "p"),
        ("delayed", "ready", "delay-matured", ""),
        ("ready", "reserved", "reserve", "w"),
        ("reserved", "buried", "bury", "w"),
        ("buried", "ready", "kick", "p"),
        ("ready", "deleted", "delete", "p"),
    ]


def test_bad_numbers_are_bad_format_and_not_counted():
    k = Clock()
    p = k.conn("p")
    with pytest.raises(Refused) as e:
        k.server.put(p, k.now, -1, 0, 60, b"")
    assert e.value.word == "BAD_FORMAT"
    with pytest.raises(Refused):
        k.server.use(p, k.now, "-bad")
    assert k.server.ops == {}
    assert k.server.next_id == 1
