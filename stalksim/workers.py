"""Seeded building blocks for simulations: producers, workers, service times and faults.

    sim = stalksim.Simulation(seed=1)
    Producer("orders", rate=2.0, count=10).start(sim)
    Worker("orders", service=Exponential(0.4), faults=[Crash(at=3.0)]).start(sim)
    sim.run(until=20)

A `Worker` runs the real consumer loop (reserve, work, delete); work takes virtual time drawn
from a service-time distribution. A `Crash` closes the worker's connection (beanstalkd makes
its job ready at once); a `Hang` keeps it open (the job comes back only when its TTR expires).

Randomness: each producer and worker draws from its own `random.Random(f"{sim.seed}/{name}")`.
Names are unique within a simulation, so adding a worker never changes another actor's draws.
No global `random`, no wall clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import greenstalk
import simpy
from greenstalk import DEFAULT_PRIORITY, DEFAULT_TTR

if TYPE_CHECKING:
    from stalksim.simulation import Simulation

__all__ = ["Distribution", "Constant", "Exponential", "Uniform", "LogNormal", "as_distribution",
           "Crash", "Hang", "PoisonJob", "FlakyJob", "Producer", "Worker", "SlowWorker",
           "Toucher", "call_at", "rng_for", "unique_name"]

IntOrDraw = int | Callable[[random.Random], int]


def rng_for(sim: Simulation, name: str) -> random.Random:
    """The generator of the actor `name` in `sim`: independent of every other actor's."""
    return random.Random(f"{sim.seed}/{name}")


def unique_name(sim: Simulation, prefix: str) -> str:
    """`prefix-1`, `prefix-2`, ...: the first connection name not yet taken in `sim`."""
    k = 1
    while f"{prefix}-{k}" in sim._names:
        k += 1
    return f"{prefix}-{k}"


def _draw(value: IntOrDraw, rng: random.Random) -> int:
    return value(rng) if callable(value) else value


def call_at(sim: Simulation, at: float, action: Callable[[], Any]) -> simpy.Process:
    """Run `action()` at virtual time `at` (an operator's kick or pause, say)."""

    def proc() -> Any:
        yield sim.timeout(max(0.0, at - sim.now))
        action()
    return sim.process(proc())


# ---- service-time distributions ----------------------------------------------------------

class Distribution(Protocol):
    """Anything with `sample(rng) -> seconds`; draws only from the generator it is given."""

    def sample(self, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class Constant:
    """Always `seconds`: the clearest choice for a story told in a plot."""
    seconds: float

    def sample(self, rng: random.Random) -> float:
        return self.seconds


@dataclass(frozen=True)
class Exponential:
    """Memoryless service times with the given mean (M/M/c queues)."""
    mean: float

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean)


@dataclass(frozen=True)
class Uniform:
    """Uniform between `a` and `b` seconds."""
    a: float
    b: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.a, self.b)


@dataclass(frozen=True)
class LogNormal:
    """Long-tailed service times, given by their own mean and standard deviation (seconds)."""
    mean: float
    sd: float

    def sample(self, rng: random.Random) -> float:
        s2 = math.log1p((self.sd / self.mean) ** 2)
        return rng.lognormvariate(math.log(self.mean) - s2 / 2, math.sqrt(s2))


def as_distribution(value: Distribution | float) -> Distribution:
    """A number means a constant service time."""
    return Constant(float(value)) if isinstance(value, int | float) else value


# ---- faults ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Trigger:
    at: float | None = None
    after_jobs: int | None = None

    def __post_init__(self) -> None:
        if (self.at is None) == (self.after_jobs is None):
            raise ValueError(f"{type(self).__name__} needs exactly one of at= or after_jobs=")
        if min(x for x in (self.at, self.after_jobs) if x is not None) < 0:
            raise ValueError(f"{type(self).__name__}: at/after_jobs must be >= 0")


@dataclass(frozen=True)
class Crash(_Trigger):
    """The worker process dies: at time `at`, or halfway through the job after `after_jobs`
    completed ones. Its connection closes, so beanstalkd makes the job ready at once."""


@dataclass(frozen=True)
class Hang(_Trigger):
    """The worker stalls (at `at`, or halfway through the job after `after_jobs`) with its
    connection open, for `for_` seconds or forever (None). Its job returns only when the TTR
    expires; on waking it finishes and tries to delete, which may fail with NOT_FOUND."""
    for_: float | None = None


@dataclass(frozen=True)
class PoisonJob:
    """Jobs whose body matches always fail. The worker releases them with exponential
    back-off (`backoff`, 2*backoff, ... seconds) and buries them on their `tries`-th
    reserve, counted by beanstalkd (stats-job `reserves`). From `fixed_at` on (a fix was
    deployed) they succeed, so a kicked job goes through."""
    match: str | Callable[[str], bool]
    tries: int = 3
    backoff: int = 1
    fixed_at: float | None = None

    def matches(self, body: Any) -> bool:
        return bool(self.match(body)) if callable(self.match) else self.match in body

    def fails(self, body: Any, reserves: int, now: float) -> bool:
        """Does this attempt (the `reserves`-th) fail?"""
        return self.matches(body) and (self.fixed_at is None or now < self.fixed_at)

    def retry_delay(self, reserves: int) -> int | None:
        """Seconds to wait before the next try, or None to bury."""
        return None if reserves >= self.tries else self.backoff * 2 ** (reserves - 1)


@dataclass(frozen=True)
class FlakyJob(PoisonJob):
    """Like PoisonJob, but only the first `fails_first` attempts fail (a flaky dependency):
    release with back-off, then success."""
    fails_first: int = 1

    def fails(self, body: Any, reserves: int, now: float) -> bool:
        return self.matches(body) and reserves <= self.fails_first


# ---- producers ---------------------------------------------------------------------------

class Producer:
    """Puts jobs into `tube`: at the times in `at`, every `interval` seconds from `start`,
    or with exponential gaps at `rate` jobs/s; `count` jobs in all (None: no end).

    `priority`, `delay` and `ttr` are ints or callables drawing from the producer's
    generator; `body` is a str ("{n}" becomes the job's number, from 1) or callable(n).
    """

    def __init__(self, tube: str = "default", *, rate: float | None = None,
                 interval: float | None = None, at: Sequence[float] | None = None,
                 count: int | None = None, start: float = 0.0,
                 priority: IntOrDraw = DEFAULT_PRIORITY, delay: IntOrDraw = 0,
                 ttr: IntOrDraw = DEFAULT_TTR,
                 body: str | Callable[[int], str] = "job {n}", name: str | None = None
                 ) -> None:
        if sum(x is not None for x in (rate, interval, at)) != 1:
            raise ValueError("Producer needs exactly one of rate=, interval= or at=")
        if rate is not None and rate <= 0 or interval is not None and interval < 0:
            raise ValueError("rate must be > 0 and interval >= 0")
        self.tube, self.rate, self.interval, self.start_at = tube, rate, interval, start
        self.at = sorted(at) if at is not None else None
        self.count = len(self.at) if self.at is not None and count is None else count
        self.priority, self.delay, self.ttr, self.body = priority, delay, ttr, body
        self.name = name
        self.ids: list[int] = []
        self.process: simpy.Process | None = None

    def start(self, sim: Simulation) -> Producer:
        """Connect (named) and start putting; returns self."""
        self.name = self.name or unique_name(sim, "producer")
        self.conn = sim.connect(self.name, use=self.tube)
        self.rng = rng_for(sim, self.name)
        self.process = sim.process(self._run(sim))
        return self

    def _times(self) -> Iterable[float]:
        yield from self.at or ()
        t = self.start_at
        while self.at is None:
            if self.rate is not None:
                t += self.rng.expovariate(self.rate)
            yield t
            if self.interval is not None:
                t += self.interval

    def _run(self, sim: Simulation) -> Any:
        for n, t in enumerate(self._times(), 1):
            if self.count is not None and n > self.count:
                return
            if t > sim.now:
                yield sim.timeout(t - sim.now)
            body = self.body(n) if callable(self.body) else self.body.replace("{n}", str(n))
            self.ids.append(self.conn.put(body, priority=_draw(self.priority, self.rng),
                                          delay=_draw(self.delay, self.rng),
                                          ttr=_draw(self.ttr, self.rng)))


# ---- workers -----------------------------------------------------------------------------

_BURY = object()


class _Crashed(Exception):
    """Unwinds a crashed worker's process."""


class Worker:
    """The consumer loop: reserve, work for a sampled service time, delete.

    On DeadlineSoonError it reserves again; on NOT_FOUND at delete (its TTR expired and the
    job was taken away) it marks `not-found` and carries on. `faults` holds Crash, Hang and
    PoisonJob/FlakyJob entries. Counters (`done`, `not_found`, ...) are kept for tests.
    """

    kind = "worker"

    def __init__(self, tubes: str | Iterable[str] = "default", *,
                 service: Distribution | float = 1.0, name: str | None = None,
                 faults: Iterable[Crash | Hang | PoisonJob] = (), start: float = 0.0) -> None:
        self.tubes = [tubes] if isinstance(tubes, str) else list(tubes)
        self.service = as_distribution(service)
        self.name = name
        self.faults = list(faults)
        self.start_at = start
        self.state = "new"  # idle, working, hung, crashed
        self.held: tuple[int, str] | None = None  # (job id, tube) while holding one
        self.done = self.not_found = self.released = self.buried = self.touched = 0
        self._received = 0  # jobs taken from a reserve event
        self._rev: simpy.Event | None = None  # the reserve in flight
        self.process: simpy.Process | None = None

    # -- public ---------------------------------------------------------------------------
    def start(self, sim: Simulation) -> Worker:
        """Connect (named) and start; the loop begins at `start` seconds. Returns self."""
        self.sim = sim
        self.name = self.name or unique_name(sim, self.kind)
        self.conn = sim.connect(self.name, watch=self.tubes)  # reserves the name now
        self.rng = rng_for(sim, self.name)
        self.process = sim.process(self._run())
        return self

    @property
    def deliveries(self) -> int:
        """Jobs the server handed to this worker (including one it is too hung to take)."""
        ev = self._rev
        return self._received + (ev is not None and ev.triggered and ev.ok)

    def service_time(self, job: greenstalk.Job) -> float:
        """Seconds of work for `job`, drawn from the worker's own generator."""
        return self.service.sample(self.rng)

    # -- the loop ---------------------------------------------------------------------------
    def _run(self) -> Any:
        sim = self.sim
        if self.start_at > sim.now:
            yield sim.timeout(self.start_at - sim.now)
        for f in self.faults:
            if isinstance(f, Crash | Hang) and f.at is not None:
                self._alarm(f.at - sim.now, f)
        try:
            while True:
                self.state = "idle"
                self._rev = self.conn.reserve()
                try:
                    job = yield from self._wait(self._rev)
                except greenstalk.DeadlineSoonError:
                    self._rev = None
                    sim.mark(self.name, "deadline-soon")
                    continue
                self._rev = None
                self._received += 1
                self.held = (job.id, self._tube_of(job.id))
                self.state = "working"
                yield from self._handle(job)
                self.held = None
        except _Crashed:
            self.state = "crashed"

    def _tube_of(self, id: int) -> str:
        """The job's tube, for marks; a job handed to a hung worker may be gone by now."""
        j = self.sim.server.jobs.get(id)
        if j is not None:
            return j.tube.name
        raw = self.sim.trace.raw if self.sim.trace is not None else []
        return next((ev[2] for ev in reversed(raw) if ev[1] == id), "")

    def _handle(self, job: greenstalk.Job) -> Any:
        seconds = self.service_time(job)
        for f in self.faults:
            if isinstance(f, Crash | Hang) and f.after_jobs == self._received - 1:
                self._alarm(seconds / 2, f)
        if not (yield from self._work(job, seconds)):
            return
        retry = self._failing(job)
        if retry is None:
            self.done += self._command(self.conn.delete, job)
        elif retry is _BURY:
            self.buried += self._command(self.conn.bury, job)
        else:
            self.released += self._command(self.conn.release, job, delay=retry)

    def _work(self, job: greenstalk.Job, seconds: float) -> Any:
        """Spend `seconds` on `job`; False if the job is known to be lost already."""
        yield from self._wait(self.sim.timeout(seconds))
        return True

    def _failing(self, job: greenstalk.Job) -> int | object | None:
        """None if this attempt succeeds, else the release delay or _BURY. Tries are
        counted the real way: stats-job `reserves`."""
        for f in self.faults:
            if isinstance(f, PoisonJob) and f.matches(job.body):
                try:
                    reserves = self.conn.stats_job(job.id)["reserves"]
                except greenstalk.NotFoundError:
                    return None  # deleted by someone else: our delete will say NOT_FOUND
                if f.fails(job.body, reserves, self.sim.now):
                    delay = f.retry_delay(reserves)
                    return _BURY if delay is None else delay
        return None

    def _command(self, command: Callable[..., Any], job: greenstalk.Job, **kw: Any) -> bool:
        """Run delete/release/bury/touch on our job; NOT_FOUND means it was taken from us."""
        try:
            command(job, **kw)
            return True
        except greenstalk.NotFoundError:
            self.not_found += 1
            self.sim.mark(self.name, "not-found", job.id, self.held[1] if self.held else "")
            return False

    # -- faults ---------------------------------------------------------------------------
    def _alarm(self, delay: float, fault: Crash | Hang) -> None:
        def ring() -> Any:
            yield self.sim.timeout(max(0.0, delay))
            if self.process is not None and self.process.is_alive:
                self.process.interrupt(fault)

        self.sim.process(ring())

    def _wait(self, ev: simpy.Event) -> Any:
        """Wait for `ev`, suffering any fault that strikes meanwhile."""
        while True:
            try:
                return (yield ev)
            except simpy.Interrupt as i:
                ev.defused = True  # a hung worker does not read its socket
                yield from self._suffer(i.cause)

    def _suffer(self, fault: Crash | Hang) -> Any:
        sim = self.sim
        job, tube = self.held or (0, "")
        if isinstance(fault, Crash):
            sim.mark(self.name, "crash", job, tube)
            self.state = "crashed"
            self.conn.close()  # a dead process's sockets close: reserved jobs are ready now
            raise _Crashed
        sim.mark(self.name, "hang", job, tube)
        before, self.state = self.state, "hung"
        yield from self._wait(sim.env.event() if fault.for_ is None else sim.timeout(fault.for_))
        self.state = before
        sim.mark(self.name, "wake", job, tube)


class SlowWorker(Worker):
    """A worker whose service times are `factor` times longer (an overloaded machine)."""

    kind = "slow-worker"

    def __init__(self, tubes: str | Iterable[str] = "default", *, factor: float = 3.0,
                 **kwargs: Any) -> None:
        super().__init__(tubes, **kwargs)
        self.factor = factor

    def service_time(self, job: greenstalk.Job) -> float:
        return super().service_time(job) * self.factor


class Toucher(Worker):
    """A worker that touches its job every `every` seconds while working on it, so a job
    longer than its TTR is not taken away (touch restarts the TTR from now)."""

    kind = "toucher"

    def __init__(self, tubes: str | Iterable[str] = "default", *, every: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(tubes, **kwargs)
        if every <= 0:
            raise ValueError("every must be > 0")
        self.every = every

    def _work(self, job: greenstalk.Job, seconds: float) -> Any:
        left = seconds
        while left > self.every:
            yield from self._wait(self.sim.timeout(self.every))
            left -= self.every
            if not self._command(self.conn.touch, job):
                return False
            self.touched += 1
        yield from self._wait(self.sim.timeout(left))
        return True
