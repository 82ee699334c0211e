"""The job life cycle, derived from the engine: from each state, try every command and event.

`derive()` puts a job into each state (new, ready, delayed, reserved, buried, deleted) through
`sim.client()`, tries one command or event on it, and records the state that results (from
`stats-job`) and, on the simulator, the cause the engine wrote in its trace. The diagram is
drawn from that list, so it cannot drift from what the server does. The same calls run on a
real beanstalkd through `stalksim.live.LiveSession` (the tests compare the two).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import greenstalk

TTR, DELAY, WAIT = 2, 2, 3
"""The job's TTR and delay, and how long "time passes" waits: past both (seconds)."""
STARTS = ("new", "ready", "delayed", "reserved", "buried", "deleted")
"""The states a trial starts from ("new": no job yet; "deleted": a job that is gone)."""
JOB_COMMANDS = ("release", "release with delay", "bury", "touch", "kick-job", "delete",
                "reserve-job")
"""Commands that name the job: a success is an edge even when the state stays (touch)."""
EVENTS = {"time passes", "connection closes"}
"""What is not a command the client sends: it happens to the job."""


@dataclass
class Trial:
    """One job in one state, on a fresh simulation (or a fresh tube on a live server)."""

    session: Any
    owner: greenstalk.Client
    inspector: greenstalk.Client
    job: int | None = None

    def held(self) -> greenstalk.Job:
        return greenstalk.Job(self.job or 0, "")


ACTIONS: dict[str, Callable[[Trial], Any]] = {
    "put": lambda t: t.owner.put("job", ttr=TTR),
    "put with delay": lambda t: t.owner.put("job", ttr=TTR, delay=DELAY),
    "reserve": lambda t: t.owner.reserve(timeout=0),
    "reserve-job": lambda t: t.owner.reserve_job(t.job),
    "release": lambda t: t.owner.release(t.held()),
    "release with delay": lambda t: t.owner.release(t.held(), delay=DELAY),
    "bury": lambda t: t.owner.bury(t.held()),
    "touch": lambda t: t.owner.touch(t.held()),
    "kick": lambda t: t.owner.kick(1),
    "kick-job": lambda t: t.owner.kick_job(t.job),
    "delete": lambda t: t.owner.delete(t.job),
    "time passes": lambda t: t.session.advance(WAIT),
    "connection closes": lambda t: t.owner.close(),
}
"""Everything a client can do to a job, or that can happen to it, by name."""


@dataclass(frozen=True)
class Edge:
    """`action` took a job from `src` to `dst`; `cause` is the engine's word for it (trace
    causes such as "ttr-expired"; "" on a live server, which keeps no trace)."""

    src: str
    action: str
    dst: str
    cause: str = ""

    @property
    def event(self) -> bool:
        return self.action in EVENTS


def _setup(session: Any, start: str, tube: str) -> Trial:
    owner = session.client(use=tube, watch=tube)
    trial = Trial(session, owner, session.client(use=tube, watch=tube))
    if start == "new":
        return trial
    trial.job = owner.put("job", ttr=TTR, delay=DELAY if start == "delayed" else 0)
    if start in ("reserved", "buried"):
        owner.reserve(timeout=0)
    if start == "buried":
        owner.bury(trial.held())
    if start == "deleted":
        owner.delete(trial.job)
    return trial


def _state(trial: Trial, job: int) -> str:
    try:
        return trial.inspector.stats_job(job)["state"]
    except greenstalk.NotFoundError:
        return "deleted"


def _causes(session: Any, job: int, since: int) -> list[tuple[str, str, str]]:
    """(src, dst, cause) of the job's transitions since trace event `since` (simulator)."""
    trace = getattr(session, "trace", None)
    if trace is None:
        return []
    return [(r.src, r.dst, r.cause) for r in list(trace)[since:] if r.job == job and r.dst]


def try_action(make_session: Callable[[], Any], start: str, action: str,
               tube: str = "default") -> Edge | None:
    """Put a job in `start`, do `action`; the edge it makes, or None (refused or no change)."""
    session = make_session()
    try:
        trial = _setup(session, start, tube)
        if trial.job is None and action not in ("put", "put with delay"):
            return None
        trace = getattr(session, "trace", None)
        since = len(trace) if trace is not None else 0
        try:
            made = ACTIONS[action](trial)
        except (greenstalk.NotFoundError, greenstalk.TimedOutError):
            return None
        job = made if start == "new" else trial.job
        dst = _state(trial, job)
        if dst == start and action not in JOB_COMMANDS:
            return None
        causes = {c for s, d, c in _causes(session, job, since) if d == dst}
        return Edge(start, action, dst, ",".join(sorted(causes)))
    finally:
        close = getattr(session, "close", None)
        if close is not None:
            close()


def derive(make_session: Callable[[], Any] | None = None, fresh_tubes: bool = False
           ) -> list[Edge]:
    """Every edge of the job life cycle: each start state x each action, on a fresh session
    (default: a new `stalksim.Simulation()`); `fresh_tubes` gives each trial its own tube (a
    live server keeps jobs between sessions)."""
    if make_session is None:
        from stalksim.simulation import Simulation

        make_session = Simulation
    counter = itertools.count()
    edges = []
    for start in STARTS:
        for action in ACTIONS:
            tube = f"lifecycle-{next(counter)}" if fresh_tubes else "default"
            edge = try_action(make_session, start, action, tube)
            if edge is not None:
                edges.append(edge)
    return edges
