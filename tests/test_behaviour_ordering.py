"""Which job comes out next: the ready heap, several watched tubes, the buried list and kick.

beanstalkd 1.12 keeps each tube's ready jobs in a heap keyed on (priority, id); reserving
over several tubes takes the smallest (priority, id) of all watched, unpaused tubes; buried
jobs form a FIFO list per tube in bury order; delayed jobs are ordered by deadline.
"""

import greenstalk
import pytest

from tests.behaviour_util import bury_in_order, reserve_bodies, state


def test_ready_jobs_come_out_by_priority_then_id(backend):
    """Lower priority first; equal priorities in id order; peek-ready shows the head."""
    c = backend.client()
    for body, pri in [("A", 10), ("B", 5), ("C", 10), ("D", 5), ("E", 10), ("F", 0)]:
        c.put(body, priority=pri)
    assert c.peek_ready().body == "F"
    assert reserve_bodies(c) == ["F", "B", "D", "A", "C", "E"]


def test_priority_comparison_is_unsigned(backend):
    """4294967295 is the least urgent priority and 0 the most urgent."""
    c = backend.client()
    c.put("max", priority=2**32 - 1)
    c.put("big", priority=2**31)
    c.put("zero", priority=0)
    assert reserve_bodies(c) == ["zero", "big", "max"]


def test_released_job_goes_back_ahead_of_later_jobs_with_equal_priority(backend):
    """A released job keeps its id, so with equal priority it comes out first again."""
    c = backend.client()
    for body in "GHI":
        c.put(body, priority=10)
    g = c.reserve(timeout=0)
    assert g.body == "G"
    c.release(g, priority=10)
    assert reserve_bodies(c) == ["G", "H", "I"]


def test_release_order_does_not_matter_only_ids_do(backend):
    """Releasing jobs in the order 3, 2, 1 still reserves them in the order 1, 2, 3."""
    c = backend.client()
    for body in "GHI":
        c.put(body, priority=10)
    jobs = [c.reserve(timeout=0) for _ in range(3)]
    for job in reversed(jobs):
        c.release(job, priority=10)
    assert reserve_bodies(c) == ["G", "H", "I"]


def test_release_priority_decides_the_new_place(backend):
    """release sets a new priority, which then decides the order."""
    c = backend.client()
    c.put("a", priority=10)
    c.put("b", priority=10)
    c.release(c.reserve(timeout=0), priority=11)
    assert reserve_bodies(c) == ["b", "a"]


def test_lower_priority_wins_across_tubes(backend):
    """Watching abc and def, a def job with pri 99 beats an abc job with pri 999999."""
    p = backend.client()
    p.use("abc")
    p.put("abc-job", priority=999999)
    p.use("def")
    p.put("def-job", priority=99)
    w = backend.client(watch=["abc", "def"])
    assert w.reserve(timeout=0).body == "def-job"


def test_watch_list_order_does_not_matter_only_priority_and_id(backend):
    """Across watched tubes the global (priority, id) minimum wins, whatever the watch order."""
    p = backend.client()
    w = backend.client(watch=["t1", "t2"])
    assert w.watching() == ["t2", "t1"]  # ignoring default swapped t2 into its slot
    p.use("t1")
    p.put("t1-p10", priority=10)  # id 1
    p.use("t2")
    p.put("t2-p5", priority=5)  # id 2
    assert reserve_bodies(w) == ["t2-p5", "t1-p10"]
    p.put("t2-first", priority=7)  # id 3
    p.use("t1")
    p.put("t1-second", priority=7)  # id 4
    assert reserve_bodies(w) == ["t2-first", "t1-second"]
    p.put("t1-first", priority=7)  # id 5
    p.use("t2")
    p.put("t2-second", priority=7)  # id 6
    assert reserve_bodies(w) == ["t1-first", "t2-second"]


def test_unwatched_tubes_are_never_reserved_from(backend):
    """reserve only looks at watched tubes, even if another tube has a better job."""
    p = backend.client(use="other")
    p.put("elsewhere", priority=0)
    w = backend.client(watch="mine")
    with pytest.raises(greenstalk.TimedOutError):
        w.reserve(timeout=0)
    w.watch("other")
    assert w.reserve(timeout=0).body == "elsewhere"


def test_buried_jobs_are_a_fifo_by_bury_time(backend):
    """peek-buried and kick take the job buried earliest, not the lowest pri or id."""
    c = backend.client()
    for body in "abc":
        c.put(body)
    bury_in_order(c, [3, 1, 2], pris=[9, 1, 5])
    assert c.peek_buried().id == 3
    assert c.kick(1) == 1
    assert state(c, 3) == "ready"
    assert c.peek_buried().id == 1
    assert c.kick(1) == 1
    assert c.peek_buried().id == 2


def test_kick_takes_buried_jobs_only_while_any_are_buried(backend):
    """With buried and delayed jobs in the tube, kick moves buried ones only (even if the
    bound is not used up); delayed ones follow by deadline once no job is buried."""
    c = backend.client()
    for body in "abc":
        c.put(body)
    bury_in_order(c, [3, 1, 2], pris=[7, 8, 9])
    c.put("d50", delay=50)  # id 4
    c.put("d10", delay=10)  # id 5
    c.put("d30", delay=30)  # id 6
    assert c.peek_buried().id == 3
    assert c.peek_delayed().id == 5
    assert c.kick(1) == 1
    assert state(c, 3) == "ready"
    assert c.kick(10) == 2
    assert [state(c, i) for i in (1, 2)] == ["ready", "ready"]
    assert [state(c, i) for i in (4, 5, 6)] == ["delayed"] * 3
    assert c.kick(2) == 2
    assert [state(c, i) for i in (4, 5, 6)] == ["delayed", "ready", "ready"]
    assert c.kick(10) == 1
    assert c.kick(10) == 0
    assert c.kick(0) == 0
    assert [c.stats_job(i)["pri"] for i in (1, 2, 3)] == [8, 9, 7]
    assert [c.stats_job(i)["kicks"] for i in range(1, 7)] == [1] * 6
    assert [c.stats_job(i)["delay"] for i in (4, 5, 6)] == [50, 10, 30]
    assert reserve_bodies(c) == ["c", "a", "b", "d50", "d10", "d30"]


def test_kick_bound_is_cut_to_32_bits(backend):
    """kick -1 kicks everything (it wraps to 4294967295); kick 4294967296 kicks nothing;
    a bound beyond 64 bits is BAD_FORMAT."""
    c = backend.client()
    for body in "abc":
        c.put(body, delay=100)
    assert c.kick(2**32) == 0
    with pytest.raises(greenstalk.BadFormatError):
        c.kick(10**23)
    assert c.kick(-1) == 3
    assert c.stats_tube("default")["current-jobs-ready"] == 3


def test_kick_and_peek_act_on_the_used_tube_only(backend):
    """kick and peek-* look at the used tube, not at the watched ones."""
    c = backend.client(use="t", watch="t")
    c.put("in-t", delay=100)
    c.put("in-t-ready")
    c.use("other")
    assert c.kick(10) == 0
    for call in (c.peek_ready, c.peek_delayed, c.peek_buried):
        with pytest.raises(greenstalk.NotFoundError):
            call()
    c.use("t")
    assert c.peek_delayed().id == 1
    assert c.kick(10) == 1


def test_kick_job_works_in_any_tube(backend):
    """kick-job moves a delayed job of a tube the caller neither uses nor watches."""
    p = backend.client(use="far")
    p.put("x", delay=100)
    c = backend.client()
    c.kick_job(1)
    assert state(c, 1) == "ready"
    assert c.stats_job(1)["kicks"] == 1


def test_delayed_jobs_kicked_in_deadline_order_not_id_order(backend):
    """Kicking delayed jobs one at a time follows their deadlines."""
    c = backend.client()
    c.put("late", delay=300)
    c.put("soon", delay=100)
    c.put("middle", delay=200)
    order = []
    for _ in range(3):
        assert c.kick(1) == 1
        order.append(c.peek_ready().body)
        c.delete(c.peek_ready())
    assert order == ["soon", "middle", "late"]
