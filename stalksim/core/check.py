"""The core's read API: `snapshot` (the whole state as plain values, in the server's orders)
and `check` (every invariant of the state at once).

Views, the panel and tests read these instead of the lazy heaps, whose stale entries only the
core knows how to skip. A snapshot copies values: it does not change as the server goes on.
"""

from __future__ import annotations

from heapq import nsmallest
from typing import TYPE_CHECKING, NamedTuple

from stalksim.core.model import BURIED, DELAYED, READY, RESERVED

if TYPE_CHECKING:
    from stalksim.core.model import Conn, Job, Tube
    from stalksim.core.state import State


class JobView(NamedTuple):
    """One job's values. `deadline` (ns) is when a reserved job's TTR or a delayed job's delay
    runs out (0 otherwise); `holder` is the number of the connection that reserved it."""

    id: int
    tube: str
    state: str
    pri: int
    delay: int
    ttr: int
    deadline: int
    holder: int | None
    body: bytes


class TubeView(NamedTuple):
    """A tube's jobs by state, each in the server's order: ready as reserve takes them
    (pri, id), delayed as they mature (deadline, id), buried as kick takes them (oldest
    first), reserved by id. `paused_until` is ns, or None when not paused."""

    name: str
    ready: tuple[JobView, ...]
    delayed: tuple[JobView, ...]
    buried: tuple[JobView, ...]
    reserved: tuple[JobView, ...]
    paused_until: int | None
    waiting: tuple[int, ...]  # connections waiting for its jobs, in the tube's array order


class ConnView(NamedTuple):
    """A connection: its tubes, its reserved jobs (oldest reservation first), its wait."""

    number: int
    name: str
    use: str
    watch: tuple[str, ...]
    reserved: tuple[JobView, ...]
    waiting: bool
    timeout_at: int | None  # when its waiting reserve times out (ns), None = never


class Snapshot(NamedTuple):
    now: int
    tubes: dict[str, TubeView]  # in list-tubes order
    conns: dict[int, ConnView]  # by number, oldest first


def _job(j: Job) -> JobView:
    deadline = j.deadline if j.state in (RESERVED, DELAYED) else 0
    holder = j.reserver.number if j.reserver is not None else None
    return JobView(j.id, j.tube.name, j.state, j.pri, j.delay, j.ttr, deadline, holder, j.body)


def _live(t: Tube) -> tuple[list[Job], list[Job], list[Job]]:
    """A tube's ready, delayed and buried jobs in the server's orders (stale entries out)."""
    ready = [e[2] for e in nsmallest(len(t.ready), t.ready) if e[2].entry is e]
    delayed = [e[2] for e in nsmallest(len(t.delayed), t.delayed) if e[2].entry is e]
    buried = [e[0] for e in t.buried if e[0].entry is e]
    return ready, delayed, buried


def snapshot(s: State) -> Snapshot:
    """The whole state of server `s`, as values."""
    reserved: dict[str, list[JobView]] = {t.name: [] for t in s.tubes}
    for j in sorted(s.jobs.values(), key=lambda j: j.id):
        if j.state == RESERVED:
            reserved[j.tube.name].append(_job(j))
    tubes = {}
    for t in s.tubes:
        ready, delayed, buried = _live(t)
        tubes[t.name] = TubeView(
            t.name, tuple(map(_job, ready)), tuple(map(_job, delayed)),
            tuple(map(_job, buried)), tuple(reserved[t.name]),
            t.unpause_at if t.pause else None, tuple(c.number for c in t.waiting))
    conns = {c.number: ConnView(c.number, c.name, c.use.name, tuple(t.name for t in c.watch),
                                tuple(map(_job, c.reserved.values())), c.waiting, c.timeout_at)
             for c in s.conns.values()}
    return Snapshot(s.now, tubes, conns)


class Inconsistent(AssertionError):
    """The core's state broke one of its invariants (a bug in the simulator)."""


def check(s: State) -> None:
    """Raise Inconsistent listing every invariant the state breaks: each job in exactly one
    place that matches its state, counters equal to what they count, reserved jobs held by
    live connections, waiting connections registered in exactly their watched tubes and with
    nothing they could be given, and no timer later than the server's next wake-up."""
    bad: list[str] = []
    where: dict[int, list[str]] = {id: [] for id in s.jobs}
    counts = {(t.name, st): 0 for t in s.tubes for st in (READY, DELAYED, BURIED, RESERVED)}
    for t in s.tubes:
        for state, jobs in zip((READY, DELAYED, BURIED), _live(t), strict=True):
            for j in jobs:
                if s.jobs.get(j.id) is not j:
                    bad.append(f"job {j.id} is {state} in {t.name} but not a live job")
                    continue
                where[j.id].append(f"{state}@{t.name}")
                counts[t.name, state] += 1
                if j.tube is not t:
                    bad.append(f"job {j.id} of tube {j.tube.name} sits in {t.name}")
                if state == DELAYED and j.deadline < s._due:
                    bad.append(f"job {j.id} matures at {j.deadline}, before the next wake-up")
    for c in s.conns.values():
        for id, j in c.reserved.items():
            where.setdefault(id, []).append(f"reserved@{c.name}")
            if j.reserver is not c or s.jobs.get(id) is not j:
                bad.append(f"job {id} is in {c.name}'s reserved set but not reserved by it")
            counts[j.tube.name, RESERVED] += 1
        _check_conn(s, c, bad)
    for id, places in where.items():
        j = s.jobs.get(id)
        want = [] if j is None else [f"{j.state}@{j.reserver.name if j.reserver else j.tube.name}"]
        if places != want:
            bad.append(f"job {id} ({j.state if j else 'gone'}) is at {places or 'no place'}")
    _check_counters(s, counts, bad)
    if bad:
        raise Inconsistent("; ".join(bad))


def _check_conn(s: State, c: Conn, bad: list[str]) -> None:
    if c.closed:
        bad.append(f"{c.name} is closed but still listed")
    registered = [t.name for t in s.tubes if c in t.waiting]
    if registered != ([t.name for t in s.tubes if t in c.watch] if c.waiting else []):
        bad.append(f"{c.name} (waiting={c.waiting}) is in the waiting sets of {registered}")
    if c.waiting and s._best_ready(c) is not None:  # type: ignore[attr-defined]
        bad.append(f"{c.name} waits while a watched tube has a job for it")
    at = s._tickat(c)
    due = None if c.timer is None else c.timer[0]
    if due != (None if at >= 1 << 63 else at):
        bad.append(f"{c.name}'s timer is at {due}, its next event at {at}")
    elif due is not None and due < s._due:
        bad.append(f"{c.name}'s timer at {due} is before the next wake-up {s._due}")


def _check_counters(s: State, counts: dict[tuple[str, str], int], bad: list[str]) -> None:
    total = dict.fromkeys((READY, DELAYED, BURIED, RESERVED), 0)
    for t in s.tubes:
        for state, n in ((READY, t.ready_n), (DELAYED, t.delayed_n), (BURIED, t.buried_n),
                         (RESERVED, t.reserved_n)):
            total[state] += counts[t.name, state]
            if n != counts[t.name, state]:
                bad.append(f"{t.name}: {state} count {n}, jobs {counts[t.name, state]}")
        urgent = sum(1 for e in t.ready if e[2].entry is e and e[2].pri < 1024)
        if t.urgent_n != urgent:
            bad.append(f"{t.name}: urgent count {t.urgent_n}, jobs {urgent}")
        if s.tube_by_name.get(t.name) is not t:
            bad.append(f"tube {t.name} is not listed by name")
        if t.pause and t.unpause_at < s._due:
            bad.append(f"{t.name}'s pause ends at {t.unpause_at}, before the next wake-up")
    for state, n in ((READY, s.ready_n), (BURIED, s.buried_n), (RESERVED, s.reserved_n)):
        if n != total[state]:
            bad.append(f"server: {state} count {n}, jobs {total[state]}")
    waiting = sum(1 for c in s.conns.values() if c.waiting)
    if s.waiting_n != waiting:
        bad.append(f"server: waiting count {s.waiting_n}, waiting connections {waiting}")
    if s._waited != {t for t in s.tubes if t.waiting}:
        bad.append("the set of tubes with waiters is stale")
