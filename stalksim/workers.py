"""Seeded building blocks for simulations: producers, workers, service times and faults.

    sim = stalksim.Simulation(seed=1)
    Producer("orders", rate=2.0, count=10).start(sim)
    Worker("orders", service=Exponential(0.4), faults=[Crash(at=3.0)]).start(sim)
    sim.run(until=20)

A `Worker` runs the consumer loop of `stalksim.consumer` (reserve, work, delete; the same loop
a live run drives on a real beanstalkd) as a simpy process; work takes virtual time drawn from
a service-time distribution. A `Crash` closes the worker's connection (beanstalkd makes its job
ready at once); a `Hang` keeps it open (the job comes back only when its TTR expires). The
faults are defined in `stalksim.consumer` and exported here too.

Randomness: each producer and worker draws from its own `random.Random(f"{sim.seed}/{name}")`.
Names are unique within a simulation, so adding a worker never changes another actor's draws.
No global `random`, no wall clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import greenstalk
import simpy
from greenstalk import DEFAULT_PRIORITY, DEFAULT_TTR

from stalksim.consumer import (
    Alarm,
    Command,
    Consumer,
    Crash,
    FlakyJob,
    Hang,
    Mark,
    PoisonJob,
    Reserve,
    Reserves,
    Step,
    Wait,
    drive,
)

if TYPE_CHECKING:
    from stalksim.simulation import Simulation

__all__ = ["Distribution", "Constant", "Exponential", "Uniform", "LogNormal", "as_distribution",
           "Crash", "Hang", "PoisonJob", "FlakyJob", "Put", "Producer", "Worker", "SlowWorker",
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


# ---- producers ---------------------------------------------------------------------------

class Put(NamedTuple):
    """One put a producer made: when (virtual s), what, with which priority, delay and TTR."""
    time: float
    body: str
    priority: int
    delay: int
    ttr: int


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
        self.puts: list[Put] = []  # what it put, for a live run to put again
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
            put = Put(sim.now, body, _draw(self.priority, self.rng), _draw(self.delay, self.rng),
                      _draw(self.ttr, self.rng))
            self.puts.append(put)
            self.ids.append(self.conn.put(body, priority=put.priority, delay=put.delay,
                                          ttr=put.ttr))


# ---- workers: the consumer (stalksim.consumer) driven in virtual time ----------------------

class _Crashed(Exception):
    """Unwinds a crashed worker's process."""


class Worker(Consumer):
    """A simulated consumer: the loop of `stalksim.consumer.Consumer` (reserve, work for a
    sampled service time, delete; faults; poison jobs) as a simpy process on its own named
    connection. Work takes virtual time drawn from the worker's own generator."""

    kind = "worker"

    def __init__(self, tubes: str | Iterable[str] = "default", *,
                 service: Distribution | float = 1.0, name: str | None = None,
                 faults: Iterable[Crash | Hang | PoisonJob] = (), start: float = 0.0) -> None:
        super().__init__(faults, start=start)
        self.tubes = [tubes] if isinstance(tubes, str) else list(tubes)
        self.service = as_distribution(service)
        self.name = name
        self._tube = ""  # the held job's tube, for marks
        self._rev: simpy.Event | None = None  # the reserve in flight
        self.process: simpy.Process | None = None

    def start(self, sim: Simulation) -> Worker:
        """Connect (named) and start; the loop begins at `start` seconds. Returns self."""
        self.sim = sim
        self.name = self.name or unique_name(sim, self.kind)
        self.conn = sim.connect(self.name, watch=self.tubes)  # reserves the name now
        self.rng = rng_for(sim, self.name)
        self.process = sim.process(self._main())
        return self

    @property
    def deliveries(self) -> int:
        """Jobs the server handed to this worker (including one it is too hung to take)."""
        ev = self._rev
        return self.received + (ev is not None and ev.triggered and ev.ok)

    def service_time(self, job: greenstalk.Job) -> float:
        """Seconds of work for `job`, drawn from the worker's own generator."""
        return self.service.sample(self.rng)

    # -- the driver ---------------------------------------------------------------------
    def _main(self) -> Any:
        try:
            yield from drive(self.run(lambda: self.sim.now), self._do)  # in virtual time
        except _Crashed:
            pass

    def _do(self, step: Step) -> Any:
        sim, conn = self.sim, self.conn
        if isinstance(step, Wait):
            yield from self._wait(sim.env.event() if step.seconds is None
                                  else sim.timeout(step.seconds))
        elif isinstance(step, Reserve):
            self._rev = conn.reserve()
            try:
                job = yield from self._wait(self._rev)
            except greenstalk.DeadlineSoonError:
                job = None
            self._rev = None
            self._tube = "" if job is None else self._tube_of(job.id)
            return job
        elif isinstance(step, Command):
            try:
                getattr(conn, step.what)(step.job, **({"delay": step.delay}
                                                      if step.what == "release" else {}))
                return True
            except greenstalk.NotFoundError:
                return False
        elif isinstance(step, Reserves):
            try:
                return conn.stats_job(step.job.id)["reserves"]
            except greenstalk.NotFoundError:
                return None
        elif isinstance(step, Mark):
            held = self.held is not None
            sim.mark(self.name, step.cause, self.held or 0, self._tube if held else "")
        elif isinstance(step, Alarm):
            self._alarm(step.after, step.fault)
        else:  # CLOSE: a dead process's sockets close, so its reserved jobs are ready now
            conn.close()
            raise _Crashed
        return None

    def _tube_of(self, id: int) -> str:
        """The job's tube, for marks; a job handed to a hung worker may be gone by now."""
        j = self.sim.server.jobs.get(id)
        if j is not None:
            return j.tube.name
        raw = self.sim.trace.raw if self.sim.trace is not None else []
        return next((ev[2] for ev in reversed(raw) if ev[1] == id), "")

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
                yield from drive(self.suffer(i.cause), self._do)


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
