"""Simulated workers that run a learner's code, bounded in virtual time and simulated events.

A worker is the shared consumer (`stalksim.workers.Worker`, the loop of `stalksim.consumer`):
it reserves a job, works on it for `service` seconds, then calls the learner's code,
`handle(client, job, name)`, instead of deleting the job itself. A handler that raises
`Crash` kills the worker: its connection closes (so its job is ready again at once) and it
restarts with a new connection. Learner errors stop the run and are reported.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import greenstalk

from stalksim.consumer import Steps
from stalksim.exercises._core import Hint
from stalksim.exercises._progress import tick
from stalksim.exercises._sandbox import LearnerError, RunawayCode, guard
from stalksim.simulation import Simulation
from stalksim.trace import Record, Trace
from stalksim.workers import Worker

Handle = Callable[[Any, greenstalk.Job, str], None]
"""`handle(client, job, worker_name)`: what a worker does with a job once its work is done."""
Service = float | Callable[[greenstalk.Job], float]


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
    """Why the run ended: "idle" (nothing left to happen), "time" or "events" (the bound), or
    "verdict" (the check had seen enough)."""
    until: float = 0.0
    done: dict[int, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    """Job id -> (time, worker) each time its work completed."""
    after_kill: list[str] = field(default_factory=list)
    """Commands the learner's code tried after its worker's process was killed (they never
    reached the server)."""

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

    def failure_hint(self) -> Hint | str:
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


class LearnerWorker(Worker):
    """A worker whose jobs end in the learner's `handle` (None: the worker deletes them);
    after a `Crash` it restarts, with a new connection (`name.2`, `name.3`, ...),
    `restart_after` seconds later."""

    def __init__(self, run: Run, name: str, handle: Handle | None, service: Service, *,
                 watch: str | list[str], restart_after: float) -> None:
        super().__init__(watch, name=name)
        self.report, self.handler, self.service_of = run, handle, service
        self.restart_after = restart_after

    def service_time(self, job: greenstalk.Job) -> float:
        return self.service_of(job) if callable(self.service_of) else self.service_of

    def finish(self, job: greenstalk.Job) -> Steps:
        if self.handler is None:
            return (yield from super().finish(job))
        try:
            self.handler(self.conn, job, self.name)
        except Crash:
            yield from self.crash()

    def _main(self) -> Any:
        base, lives = self.name, 1
        try:
            while True:
                yield from super()._main()
                yield self.sim.timeout(self.restart_after)
                lives += 1
                self.name = f"{base}.{lives}"
                self.conn = self.sim.connect(self.name, watch=self.tubes)
        except LearnerError as e:
            self.report.error = e
        except RunawayCode as e:
            self.report.runaway = str(e)


def run_bounded(run: Run, until: float, max_events: int = 300_000,
                stop: Callable[[], bool] | None = None, learner: bool = True) -> Run:
    """Step the simulation until nothing is left, `until` (virtual s), `max_events`, or `stop()`
    says the verdict is certain (checked after every event). `learner`: the run calls the
    learner's code, so it is traced and bounded (`guard()`); without it, it runs untraced."""
    env = run.sim.env
    run.until = until
    steps = 0

    def doing() -> str:
        return f"simulating, t={env.now:.0f} s"

    with guard() if learner else contextlib.nullcontext():
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
                if stop is not None and stop():
                    run.stopped = "verdict"
                    break
                if not steps & 1023:
                    tick(max(steps / max_events, env.now / until), doing)
        except RunawayCode as e:
            run.runaway = str(e)
    return run


def run_workers(run: Run, handle: Handle | None, names: Iterable[str], *, until: float,
                service: Service = 0.0, watch: str | list[str] = "default",
                max_events: int = 300_000, restart_after: float = 1.0,
                stop: Callable[[], bool] | None = None) -> Run:
    """Start one worker per name in `run.sim` (each works `service` seconds on a job, then
    calls `handle`, or deletes the job if None) and run the simulation, bounded."""
    for name in names:
        LearnerWorker(run, name, handle, service, watch=watch, restart_after=restart_after
                      ).start(run.sim)
    return run_bounded(run, until, max_events, stop, learner=handle is not None)


def bound_note(run: Run) -> str:
    """A sentence about the bound, when the run hit it."""
    if run.stopped == "time":
        return f" (the check stopped the simulation at t={run.until:g} s)"
    if run.stopped == "events":
        return " (the check stopped the simulation after too many events)"
    return ""
