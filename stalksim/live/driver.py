"""The consumer (`stalksim.consumer`) driven in real time on a live beanstalkd.

`LiveWorker` carries out a scenario worker's steps with a greenstalk client in its own thread:
a Wait is a sleep (scenario seconds divided by the run's speed), a Reserve blocks on the
socket, commands go to the server and into the run's `Recorder`. A fault strikes at its time:
while the worker waits it is met in the wait; while the worker is blocked in reserve a timer
thread takes the consumer's turn and runs the fault there (a crash shuts the socket, a hang
sleeps, and a job that arrives meanwhile waits for the hang to end, as in the simulator).

The consumer's clock is the scenario time its steps were meant for (a wait ends at its end,
a fault strikes at its time), not the wall clock a moment later; marks carry that time.
"""

from __future__ import annotations

import copy
import math
import socket
import threading
from collections.abc import Generator
from typing import Any

import greenstalk

from stalksim.consumer import (
    Alarm,
    Command,
    Crash,
    Hang,
    Mark,
    Reserve,
    Reserves,
    Step,
    Steps,
    Wait,
    drive,
)
from stalksim.live.recorder import Recorder
from stalksim.workers import Worker

POKE_AFTER = 0.02  # real seconds after a held job's TTR runs out (see LiveWorker._sleep_until)


class Stopped(Exception):
    """The run is over: unwind the thread."""


class _Crashed(Exception):
    """This worker crashed: unwind its thread."""


class LiveRun:
    """Shared by the threads of one run: the address, tube names, clock and recorder (`rec`;
    a worker process passes one that reports to its parent, see `stalksim.live.child`)."""

    def __init__(self, address: tuple[str, int], speed: float, until: float, prefix: str,
                 meta: dict[str, Any], rec: Recorder | None = None) -> None:
        self.address, self.speed, self.until, self.prefix = address, speed, until, prefix
        self.rec = Recorder(speed, meta) if rec is None else rec
        self.stop = threading.Event()
        self.go = threading.Event()  # the scenario clock runs (or the run is over)
        self.clients: list[greenstalk.Client] = []

    def start_clock(self) -> None:
        """Scenario time 0 is now: every actor is connected and in its place."""
        self.rec.start()
        self.go.set()

    def end(self) -> None:
        """The run is over: every thread that waits on the clock unwinds."""
        self.stop.set()
        self.go.set()

    def tube(self, name: str) -> str:
        return self.prefix + name

    def client(self, **kw: Any) -> greenstalk.Client:
        c = greenstalk.Client(self.address, **kw)
        self.clients.append(c)
        return c

    def whole(self, seconds: float, least: int = 0) -> int:
        """Scenario seconds as whole real seconds for the wire."""
        return max(least, round(seconds / self.speed))

    def sleep_until(self, t: float) -> None:
        """Wait until scenario time `t` (inf: the end of the run); raise Stopped if the run
        ends first. Before the clock starts, wait for it."""
        self.go.wait()
        if self.stop.is_set():
            raise Stopped
        real = None if math.isinf(t) else max(0.0, (t - self.rec.now()) / self.speed)
        if self.stop.wait(real):
            raise Stopped


class LiveWorker:
    """A scenario worker's consumer loop, its faults and poison jobs, on a live connection.

    It runs a copy of the simulated `worker` (same tubes, service times, faults, start), whose
    service times are drawn from `rng` (a fresh generator, so the draws are the simulated ones).
    """

    def __init__(self, run: LiveRun, worker: Worker, rng: Any) -> None:
        self.run, self.rec, self.name = run, run.rec, str(worker.name)
        self.w = copy.copy(worker)
        self.w.rng = rng
        self.alarms: list[tuple[float, Crash | Hang]] = []  # (scenario time, fault), sorted
        self.over = False  # the worker's thread has ended: its alarms ring no more
        self.lock = threading.Lock()  # guards alarms and idle
        self.turn = threading.Lock()  # held by the thread running the consumer's steps
        self.idle = False  # blocked in reserve, its turn given up
        self.crashed = False
        self.t = 0.0  # the consumer's clock, scenario seconds

    def connect(self) -> None:
        """Open the worker's connection (before its thread starts, so a slow connect cannot
        make it late)."""
        self.c = self.run.client(watch=[self.run.tube(t) for t in self.w.tubes])

    def main(self) -> None:
        """The worker thread: carry out the consumer's steps until the end."""
        run = self.run
        self.turn.acquire()
        try:
            self._drive(self.w.run(lambda: self.t))
        except (Stopped, _Crashed):
            pass
        except (OSError, greenstalk.Error):
            if not (self.crashed or run.stop.is_set()):
                raise
        finally:
            self.over = True

    def _drive(self, steps: Steps) -> None:
        """Carry out the steps in real time (each step blocks this thread), sending back each
        answer."""
        for _ in drive(steps, self._do_now):
            pass

    def _do_now(self, step: Step) -> Generator[None, None, Any]:
        return self._do(step)
        yield  # a generator with no events of its own: `drive` runs it to its answer

    def _do(self, step: Step) -> Any:
        if isinstance(step, Wait):
            self._wait(math.inf if step.seconds is None else self.t + step.seconds)
        elif isinstance(step, Reserve):
            return self._reserve()
        elif isinstance(step, Command):
            return self._command(step)
        elif isinstance(step, Reserves):
            try:
                return self.c.stats_job(step.job.id)["reserves"]
            except greenstalk.NotFoundError:
                return None
        elif isinstance(step, Mark):
            if step.cause == "not-found":
                self.rec.not_found(self.name, self.w.held or 0)
            else:
                self.rec.mark(self.name, step.cause, self.t, self.w.held)
        elif isinstance(step, Alarm):
            self._alarm(self.t + step.after, step.fault)
        else:  # CLOSE: the process died; beanstalkd sees the hang-up and frees its job
            self.crashed = True
            with self.rec.lock:  # recorded before another worker can record the job's reserve
                self.c._sock.shutdown(socket.SHUT_RDWR)  # also ends a reserve blocked on it
                self.rec.closed(self.name, self.t)
            raise _Crashed
        return None

    # -- faults ---------------------------------------------------------------------------
    def _alarm(self, at: float, fault: Crash | Hang) -> None:
        with self.lock:
            self.alarms.append((at, fault))
            self.alarms.sort(key=lambda a: a[0])
        threading.Thread(target=self._ring_at, args=((at, fault),), daemon=True).start()

    def _ring_at(self, alarm: tuple[float, Crash | Hang]) -> None:
        """An alarm's own thread: at its time on the scenario clock, `_ring` it."""
        try:
            self.run.sleep_until(alarm[0])
        except Stopped:
            return
        if not self.over:
            self._ring(alarm)

    def _pop_alarm(self, before: float) -> tuple[float, Crash | Hang] | None:
        """The first alarm due before `before`, taken off the list (caller holds `lock`)."""
        if self.alarms and self.alarms[0][0] < before:
            return self.alarms.pop(0)
        return None

    def _strike(self, alarm: tuple[float, Crash | Hang]) -> None:
        self.t = max(self.t, alarm[0])
        self._drive(self.w.suffer(alarm[1]))

    def _ring(self, alarm: tuple[float, Crash | Hang]) -> None:
        """A timer at a fault's time: if the worker is blocked in reserve, strike here."""
        with self.lock:
            if alarm not in self.alarms or not self.idle or not self.turn.acquire(False):
                return  # the thread that has the turn meets it in its wait
            self.alarms.remove(alarm)
        try:
            self._strike(alarm)
        except (Stopped, _Crashed):
            pass
        except (OSError, greenstalk.Error):  # the run ended (or we crashed) under the fault
            if not (self.crashed or self.run.stop.is_set()):
                raise
        finally:
            self.turn.release()

    # -- waiting --------------------------------------------------------------------------
    def _wait(self, end: float) -> None:
        """Wait until scenario time `end`, suffering each fault that falls due meanwhile."""
        while True:
            with self.lock:
                alarm = self._pop_alarm(end)
            if alarm is None:
                break
            self._sleep_until(alarm[0])
            self._strike(alarm)
        self._sleep_until(end)
        self.t = max(self.t, end)

    def _sleep_until(self, t: float) -> None:
        """Sleep to scenario time `t`; if the held job's TTR runs out first, send a harmless
        `list-tube-used` just after it. beanstalkd 1.12 can release an expired job only at its
        holder's next command (a known quirk); the poke makes the release happen on time, as
        beanstalkd's rules say and the simulation shows."""
        held = self.w.held
        deadline = None if held is None else self.rec.deadline(held)
        if deadline is not None and deadline < t:
            self.run.sleep_until(deadline + POKE_AFTER * self.run.speed)
            self.c.using()
        self.run.sleep_until(t)

    def _reserve(self) -> greenstalk.Job | None:
        """Reserve (None: DEADLINE_SOON); faults already due strike first, and one that falls
        due while blocked is run by its timer, holding the turn, so the job waits for it."""
        while True:
            with self.lock:
                alarm = self._pop_alarm(self.rec.now())
                if alarm is None:
                    self.idle = True
                    self.turn.release()
                    break
            self._strike(alarm)
        try:
            job = self.c.reserve()
            self.rec.reserved(self.name, job.id)
        except greenstalk.DeadlineSoonError:
            job = None
        finally:
            self.turn.acquire()  # after a fault the timer is running to its end
            with self.lock:
                self.idle = False
        if self.crashed:
            raise _Crashed
        self.t = max(self.t, self.rec.now())
        return job

    def _command(self, step: Command) -> bool:
        """touch/delete/release/bury on the server, recorded in the order the server saw it."""
        rec, what, job = self.rec, step.what, step.job
        try:
            with rec.lock:
                sent = rec.now()
                if what == "release":
                    delay = self.run.whole(step.delay)
                    self.c.release(job, delay=delay)
                else:
                    delay = 0
                    getattr(self.c, what)(job)
                if what == "touch":
                    rec.touched(self.name, job.id)
                else:
                    dst = {"delete": "deleted", "bury": "buried"}.get(
                        what, "delayed" if delay else "ready")
                    rec.finished(self.name, job.id, dst, what, delay * self.run.speed, sent)
            return True
        except greenstalk.NotFoundError:
            return False

