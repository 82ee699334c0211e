"""The consumer, written once: reserve, work, touch, delete/release/bury, faults, poison jobs.

`Consumer.run(now)` is a generator of *steps*, the things a consumer process does, in order:

    Reserve()                 -> the job, or None (DEADLINE_SOON)
    Wait(seconds)             -> work (or hang) that long; None: for ever
    Command(what, job, delay) -> touch/delete/release/bury; False if it said NOT_FOUND
    Reserves(job)             -> stats-job `reserves`, or None if NOT_FOUND
    Mark(cause)               -> a worker mark (crash, hang, wake, not-found, deadline-soon)
                                 naming the job held, if any
    Alarm(fault, after)       -> let `fault` strike `after` seconds from now
    CLOSE                     -> the process dies: its connection closes; no step follows

A driver carries the steps out and sends each one's answer back: `stalksim.workers.Worker` in
virtual time on the simulator (simpy), `stalksim.live.driver.LiveWorker` in real time on a
beanstalkd (a thread and a greenstalk client). A fault strikes while the consumer waits (in
Reserve or Wait): the driver then runs `suffer(fault)`, a generator of the same steps, and goes
back to the same wait afterwards. So both drivers tell one story; only time and I/O differ.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Crash", "Hang", "PoisonJob", "FlakyJob", "Consumer", "Reserve", "Wait", "Command",
           "Reserves", "Mark", "Alarm", "CLOSE", "Step", "Steps"]


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


# ---- steps -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reserve:
    """Reserve a job from the watched tubes (blocks until one is ready)."""


@dataclass(frozen=True)
class Wait:
    """Spend `seconds` (None: for ever), at work or hung; faults may strike meanwhile."""
    seconds: float | None


@dataclass(frozen=True)
class Command:
    """`what` ("touch", "delete", "release", "bury") on `job`; release with `delay` s."""
    what: str
    job: Any
    delay: float = 0


@dataclass(frozen=True)
class Reserves:
    """How many times beanstalkd has reserved `job` (stats-job `reserves`)."""
    job: Any


@dataclass(frozen=True)
class Mark:
    """A worker mark in the trace, naming the job held (if any)."""
    cause: str


@dataclass(frozen=True)
class Alarm:
    """`fault` strikes `after` seconds from now, whatever the consumer is doing then."""
    fault: Crash | Hang
    after: float


@dataclass(frozen=True)
class _Close:
    """The process dies; its connection closes."""


CLOSE = _Close()
Step = Reserve | Wait | Command | Reserves | Mark | Alarm | _Close
Steps = Generator[Step, Any, Any]
_BURY = object()


def drive(steps: Steps,
          do: Callable[[Step], Generator[Any, Any, Any]]) -> Generator[Any, Any, None]:
    """Carry out a consumer's steps: `do(step)` is a generator of the driver's own events (simpy
    events, or none for a real-time driver) that returns the step's answer, sent back in."""
    answer = None
    while True:
        try:
            step = steps.send(answer)
        except StopIteration:
            return
        answer = yield from do(step)


class Consumer:
    """The consumer loop: reserve, work for `service_time(job)`, then `finish` the job
    (delete it; a failing PoisonJob is released with back-off or buried).

    On DEADLINE_SOON it marks `deadline-soon` and waits a second before reserving again; on
    NOT_FOUND (its TTR ran out and the job was taken away) it marks `not-found` and carries on.
    With `every` set it touches its job every `every` seconds of work. `faults` holds Crash,
    Hang and PoisonJob/FlakyJob entries. `state` is new, idle, working, hung or crashed;
    counters (`done`, `not_found`, ...) are kept for tests.
    """

    every: float | None = None

    def __init__(self, faults: Iterable[Crash | Hang | PoisonJob] = (), *, start: float = 0.0
                 ) -> None:
        self.faults = list(faults)
        self.start_at = start
        self.state = "new"
        self._fresh()

    def _fresh(self) -> None:
        """The counters of a run that has not done anything yet."""
        self.held: int | None = None  # the id of the job being worked on
        self.received = 0  # jobs taken from a reserve
        self.done = self.not_found = self.released = self.buried = self.touched = 0

    def service_time(self, job: Any) -> float:
        """Seconds of work for `job`."""
        raise NotImplementedError

    def run(self, now: Callable[[], float]) -> Steps:
        """The whole life of the consumer, from its start time (`now()`: the driver's clock).
        Each run counts afresh (a live run replays a simulated worker)."""
        self.now = now
        self._fresh()
        if self.start_at > now():
            yield Wait(self.start_at - now())
        for f in self.faults:
            if isinstance(f, Crash | Hang) and f.at is not None:
                yield Alarm(f, f.at - now())
        while True:
            self.state = "idle"
            job = yield Reserve()
            if job is None:
                yield Mark("deadline-soon")
                yield Wait(1.0)
                continue
            self.received += 1
            self.held, self.state = job.id, "working"
            yield from self.handle(job)
            self.held = None

    def handle(self, job: Any) -> Steps:
        """Work on `job` (faults after `after_jobs` strike halfway through), then finish it."""
        seconds = self.service_time(job)
        for f in self.faults:
            if isinstance(f, Crash | Hang) and f.after_jobs == self.received - 1:
                yield Alarm(f, seconds / 2)
        if (yield from self.work(job, seconds)):
            yield from self.finish(job)

    def work(self, job: Any, seconds: float) -> Steps:
        """Spend `seconds` on `job`, touching it every `every` s; False if it is lost."""
        left = seconds
        while self.every is not None and left > self.every:
            yield Wait(self.every)
            left -= self.every
            if not (yield from self.command("touch", job)):
                return False
            self.touched += 1
        yield Wait(left)
        return True

    def finish(self, job: Any) -> Steps:
        """Delete the job, or release/bury a failing poison job."""
        retry = yield from self._failing(job)
        if retry is None:
            self.done += yield from self.command("delete", job)
        elif retry is _BURY:
            self.buried += yield from self.command("bury", job)
        else:
            self.released += yield from self.command("release", job, retry)

    def _failing(self, job: Any) -> Generator[Step, Any, int | object | None]:
        """None if this attempt succeeds, else the release delay or _BURY. Tries are
        counted the real way: stats-job `reserves`."""
        for f in self.faults:
            if isinstance(f, PoisonJob) and f.matches(job.body):
                reserves = yield Reserves(job)
                if reserves is None:
                    return None  # deleted by someone else: our delete will say NOT_FOUND
                if f.fails(job.body, reserves, self.now()):
                    delay = f.retry_delay(reserves)
                    return _BURY if delay is None else delay
        return None

    def command(self, what: str, job: Any, delay: float = 0) -> Generator[Step, Any, bool]:
        """Run `what` on our job; NOT_FOUND means it was taken from us (marked)."""
        if (yield Command(what, job, delay)):
            return True
        self.not_found += 1
        yield Mark("not-found")
        return False

    def suffer(self, fault: Crash | Hang) -> Steps:
        """What `fault` does when it strikes: a crash ends the process, a hang stalls it."""
        if isinstance(fault, Crash):
            yield from self.crash()
        yield Mark("hang")
        before, self.state = self.state, "hung"
        yield Wait(fault.for_)
        self.state = before
        yield Mark("wake")

    def crash(self) -> Steps:
        """The process dies: its connection closes (beanstalkd makes its job ready at once)."""
        yield Mark("crash")
        self.state = "crashed"
        yield CLOSE
        raise RuntimeError("a driver went on after CLOSE")
