"""A hypothesis state machine over the seam between clients and the core (issue 13).

Two `sim.client()`s (and simulated workers) mix the fast path and the byte path: blocking and
timed reserves answered by puts, delays, TTRs and closes, or by nothing (WouldWaitForever,
which withdraws the reserve), closes from a process while a reserve waits, and the job
commands. After every step: every job is in exactly one state, a reserved job's holder is a
live connection that lists it, no client is left waiting or out of sync, and the core's own
`check()` agrees.
"""

from __future__ import annotations

from typing import Any

import greenstalk
import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import stalksim
from stalksim.core import BURIED, DELAYED, READY, RESERVED

PATHS = st.sampled_from(["fast", "byte"])
WHO = st.integers(0, 1)


class Id(int):
    """An int the client does not take as plain (`type(v) is int` fails): the byte path, where
    greenstalk formats it with %d as the same number."""


def containers(core: Any) -> dict[int, list[str]]:
    """Where each job is listed in the core's snapshot: tubes' states and connections."""
    snap = core.snapshot()
    where: dict[int, list[str]] = {id: [] for id in core.jobs}
    for t in snap.tubes.values():
        for state in (READY, DELAYED, BURIED):
            for j in getattr(t, state):
                where[j.id].append(state)
    for c in snap.conns.values():
        for j in c.reserved:
            where[j.id].append(RESERVED)
    return where


class Seam(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim = stalksim.Simulation(max_wait=20, trace=False)
        self.clients = [self.sim.client(), self.sim.client()]
        self.feeder = self.sim.client()  # puts jobs later, from a process
        self.held: dict[int, set[int]] = {0: set(), 1: set()}

    def _later(self, seconds: float, action: Any) -> None:
        def proc():
            yield self.sim.timeout(seconds)
            action()
        self.sim.process(proc())

    def _fresh(self, who: int) -> None:
        self.clients[who] = self.sim.client()
        self.held[who] = set()

    @rule(who=WHO, path=PATHS, delay=st.sampled_from([0, 0, 1]), ttr=st.integers(1, 3))
    def put(self, who: int, path: str, delay: int, ttr: int) -> None:
        body = b"job" if path == "fast" else bytearray(b"job")
        assert self.clients[who].put(body, delay=delay, ttr=ttr) > 0

    @rule(who=WHO, path=PATHS, timed=st.booleans(), feed=st.sampled_from([None, 0.5, 3.0]),
          close_at=st.sampled_from([None, None, 0.25, 1.0]))
    def reserve(self, who: int, path: str, timed: bool, feed: float | None,
                close_at: float | None) -> None:
        c = self.clients[who]
        if feed is not None:
            self._later(feed, lambda: self.feeder.put(b"fed", ttr=2))
        if close_at is not None:  # the client's own connection is closed while it waits
            def shut() -> None:
                if self.clients[who] is c:
                    c.close()
                    self._fresh(who)
            self._later(close_at, shut)
        if path == "fast":
            timeout = 2 if timed else None
        else:
            timeout = 1.9 if timed else 2**31  # sent as 1 / as "forever" (a C int)
        try:
            job = c.reserve(timeout=timeout)
        except (greenstalk.TimedOutError, greenstalk.DeadlineSoonError):
            pass  # includes WouldWaitForever: nothing could answer, the reserve was withdrawn
        except (ConnectionError, OSError):
            assert c._conn.closed
        else:
            core_job = self.sim.server.jobs[job.id]
            assert core_job.state == RESERVED and core_job.reserver is c._conn
            self.held[who].add(job.id)
        if c._conn.closed:
            self._fresh(who)

    @precondition(lambda self: any(self.held.values()))
    @rule(who=WHO, path=PATHS, data=st.data(),
          how=st.sampled_from(["delete", "release", "bury", "touch"]))
    def job_command(self, who: int, path: str, data: st.DataObject, how: str) -> None:
        if not self.held[who]:
            return
        id = data.draw(st.sampled_from(sorted(self.held[who])))
        c = self.clients[who]
        job = greenstalk.Job(id if path == "fast" else Id(id), "job")
        pri = 0 if path == "fast" else Id(0)
        try:
            if how == "delete":
                c.delete(job)
            elif how == "release":
                c.release(job, priority=pri)
            elif how == "bury":
                c.bury(job, priority=pri)
            else:
                c.touch(job)
        except greenstalk.NotFoundError:
            assert self.sim.server.jobs.get(id) is None or \
                self.sim.server.jobs[id].reserver is not c._conn
        if how != "touch":
            self.held[who].discard(id)

    @rule(who=WHO)
    def close(self, who: int) -> None:
        self.clients[who].close()
        self._fresh(who)

    @rule(timeout=st.sampled_from([None, 1]))
    def worker(self, timeout: int | None) -> None:
        """A simulated worker takes one job (or gives up) and deletes it."""
        conn = self.sim.connect()

        def work():
            try:
                job = yield conn.reserve(timeout=timeout)
            except greenstalk.Error:
                conn.close()
                return
            yield self.sim.timeout(0.5)
            conn.delete(job)
            conn.close()
        self.sim.process(work())

    @rule(seconds=st.sampled_from([0, 0.5, 1, 2.5]))
    def advance(self, seconds: float) -> None:
        self.sim.advance(seconds)
        for who, ids in self.held.items():  # a TTR ran out, or the job was handed on
            conn = self.clients[who]._conn
            ids.intersection_update(id for id in ids if id in conn.reserved)

    @invariant()
    def every_job_in_exactly_one_state(self) -> None:
        core = self.sim.server
        for id, where in containers(core).items():
            assert where == [core.jobs[id].state], (id, where)

    @invariant()
    def reserved_jobs_have_live_holders(self) -> None:
        core = self.sim.server
        for job in core.jobs.values():
            if job.state == RESERVED:
                c = job.reserver
                assert c is not None and not c.closed and core.conns[c.number] is c
                assert c.reserved[job.id] is job

    @invariant()
    def no_client_left_stuck(self) -> None:
        core = self.sim.server
        assert not core.outbox
        for c in self.clients:
            assert not c._conn.closed and not c._conn.waiting
            assert c._session.in_sync()
        waiting = [c for c in core.conns.values() if c.waiting]
        assert core.waiting_n == len(waiting)
        for c in waiting:  # only simulated workers may wait, each in every tube it watches
            assert all(c in t.waiting for t in c.watch)

    @invariant()
    def core_check_agrees(self) -> None:
        self.sim.sessions.check()  # the core's check, and every session agrees with its conn

    def teardown(self) -> None:
        for c in self.clients:  # both clients still work, on both paths
            c.use("teardown")  # a tube no waiting worker watches
            id = c.put(bytearray(b"last"), priority=0)
            assert c.peek(id).body == "last"
            c.delete(id)


Seam.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_seam = Seam.TestCase
