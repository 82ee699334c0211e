"""Simulated workers that run a learner's code, bounded in virtual time and simulated events.

A worker is a simpy process with its own connection: it reserves a job, then runs a `step`
generator (which may yield simpy timeouts for service time and calls the learner's function).
A step that raises `Crash` kills the worker: its connection closes (so its job is ready again
at once) and it restarts with a new connection. Learner errors stop the run and are reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import greenstalk

from stalksim.exercises._sandbox import LearnerError, RunawayCode, guard
from stalksim.simulation import Simulation
from stalksim.trace import Record, Trace

Step = Callable[[Any, greenstalk.Job, str], Generator[Any, Any, None]]


class Crash(BaseException):
    """The simulated worker process died in the middle of its work."""


class ServiceDown(Exception):
    """Raised by `call_service(job)` in ex-backoff while the remote service is down."""


@dataclass
class Run:
    """What happened in one bounded simulated run."""

    sim: Simulation
    error: LearnerError | None = None
    runaway: str = ""
    stopped: str = "idle"
    """Why the run ended: "idle" (nothing left to happen), "time" or "events" (the bound)."""
    until: float = 0.0
    done: dict[int, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    """Job id -> (time, worker) each time its work completed."""

    @property
    def trace(self) -> Trace:
        return self.sim.trace

    def worked(self, job: greenstalk.Job, worker: str) -> None:
        self.done[job.id].append((self.sim.now, worker))

    def failure(self) -> str:
        """The learner's error or runaway code, as a message ('' if none)."""
        if self.error is not None:
            return self.error.message
        if self.runaway:
            return f"Your code {self.runaway}: it looks like an endless loop."
        return ""

    def failure_hint(self) -> str:
        """What to do about `failure()`."""
        if self.error is not None and self.error.hint:
            return self.error.hint
        if self.runaway:
            return ("look for a loop that never ends; a handler should do its work, then "
                    "delete, release or bury the job once and return.")
        return "fix the error at that line and check again."


def by_job(trace: Trace) -> dict[int, list[Record]]:
    """Each job's transitions, in order."""
    out: dict[int, list[Record]] = defaultdict(list)
    for r in trace:
        if r.job and r.dst:
            out[r.job].append(r)
    return out


def reserves(events: Iterable[Record]) -> list[Record]:
    return [r for r in events if r.dst == "reserved" and r.src != "reserved"]


def worker(run: Run, name: str, step: Step, *, watch: str | list[str] = "default",
           restart_after: float = 1.0) -> Generator[Any, Any, None]:
    """A worker loop: reserve, then `step`; restart with a new connection after a Crash."""
    sim = run.sim
    conn = sim.connect(name, watch=watch)
    lives = 1
    while True:
        try:
            job = yield conn.reserve()
        except greenstalk.DeadlineSoonError:
            sim.mark(conn.name, "deadline-soon")
            yield sim.timeout(1)
            continue
        try:
            yield from step(conn, job, conn.name)
        except Crash:
            sim.mark(conn.name, "crash", job.id)
            conn.close()
            yield sim.timeout(restart_after)
            lives += 1
            conn = sim.connect(f"{name}.{lives}", watch=watch)
        except LearnerError as e:
            run.error = e
            return
        except RunawayCode as e:
            run.runaway = str(e)
            return


def run_bounded(run: Run, until: float, max_events: int = 300_000) -> Run:
    """Step the simulation until nothing is left, `until` (virtual s) or `max_events`."""
    env = run.sim.env
    run.until = until
    steps = 0
    with guard():
        try:
            while run.error is None and not run.runaway:
                t = env.peek()
                if t == float("inf"):
                    run.stopped = "idle"
                    break
                if t > until:
                    run.stopped = "time"
                    break
                if steps >= max_events:
                    run.stopped = "events"
                    break
                env.step()
                steps += 1
        except RunawayCode as e:
            run.runaway = str(e)
    return run


def run_workers(run: Run, step: Step, names: Iterable[str], *, until: float,
                watch: str | list[str] = "default", max_events: int = 300_000,
                restart_after: float = 1.0) -> Run:
    """Start one worker per name in `run.sim` and run the simulation, bounded."""
    for name in names:
        run.sim.process(worker(run, name, step, watch=watch, restart_after=restart_after))
    return run_bounded(run, until, max_events)


def bound_note(run: Run) -> str:
    """A sentence about the bound, when the run hit it."""
    if run.stopped == "time":
        return f" (the check stopped the simulation at t={run.until:g} s)"
    if run.stopped == "events":
        return " (the check stopped the simulation after too many events)"
    return ""
