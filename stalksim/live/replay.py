"""`run_live`: one named scenario on a real beanstalkd, in real time scaled down by `speed`.

The scenario's own producers and workers (built, seeded, but not run) set the plan: when each
job is put with which priority, delay and TTR, how long each job takes, and when a worker
crashes or hangs. Threads with greenstalk clients carry it out against the real server; an
operator's kicks and pauses are taken from the simulated run. Whole seconds on the wire (TTRs
and delays) are scenario seconds divided by `speed`, rounded; TTRs are at least 2 s, because
beanstalkd 1.12 may never expire a 1 s TTR (a worker that deleted a job and at once reserved a
ttr=1 job kept it for good in our runs). For the same quirk (1.12 releases an expired job only
at its holder's next command), a worker whose job's TTR runs out while it works sends one
harmless `list-tube-used` just after the deadline, so the release happens when the rules say.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import greenstalk

from stalksim.live import default_address
from stalksim.live.recorder import Recorder
from stalksim.scenarios import find, run_scenario
from stalksim.simulation import Simulation
from stalksim.trace import NS, Trace
from stalksim.workers import Crash, Hang, PoisonJob, Producer, Toucher, Worker

MAX_THREADS = 24
MIN_TTR = 2  # real seconds
POKE_AFTER = 0.02  # real seconds after a held job's TTR runs out (see LiveWorker._sleep_until)


class _Stopped(Exception):
    """The run is over: unwind the thread."""


class _Crashed(Exception):
    """This worker crashed: unwind its thread."""


class LiveRun:
    """Shared by the threads of one run: the address, tube names, clock and recorder."""

    def __init__(self, address: tuple[str, int], speed: float, until: float, prefix: str,
                 meta: dict[str, Any]) -> None:
        self.address, self.speed, self.until, self.prefix = address, speed, until, prefix
        self.rec = Recorder(speed, meta)
        self.stop = threading.Event()
        self.clients: list[greenstalk.Client] = []

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
        """Wait until scenario time `t`; raise _Stopped if the run ends first."""
        if self.stop.wait(max(0.0, (t - self.rec.now()) / self.speed)):
            raise _Stopped


def _draw(value: Any, rng: Any) -> Any:
    return value(rng) if callable(value) else value


def produce(run: LiveRun, p: Producer) -> None:
    """Put the producer's jobs at its times, with its priorities, delays and TTRs."""
    c = run.client(use=run.tube(p.tube))
    for n, t in enumerate(p._times(), 1):
        if p.count is not None and n > p.count or t > run.until:
            return
        run.sleep_until(t)
        body = p.body(n) if callable(p.body) else p.body.replace("{n}", str(n))
        pri, delay, ttr = (_draw(v, p.rng) for v in (p.priority, p.delay, p.ttr))
        delay, ttr = run.whole(delay), run.whole(ttr, least=MIN_TTR)
        with run.rec.lock:  # so no worker records its reserve before we record the put
            jid = c.put(body, priority=pri, delay=delay, ttr=ttr)
            run.rec.put(p.name, jid, p.tube, delay * run.speed, ttr * run.speed)


class LiveWorker:
    """A scenario Worker's loop (reserve, work, delete), its faults, on a live connection."""

    def __init__(self, run: LiveRun, w: Worker) -> None:
        self.run, self.w, self.name = run, w, w.name
        self.rec = run.rec
        self.timed = sorted((f for f in w.faults if isinstance(f, Crash | Hang)
                             and f.at is not None), key=lambda f: f.at)
        self.poison = [f for f in w.faults if isinstance(f, PoisonJob)]
        self.held: int | None = None
        self.received = 0
        self.lock = threading.Lock()
        self.idle = False
        self.crashed = False
        self.hung_until: float | None = None

    def main(self) -> None:
        run = self.run
        self.c = run.client(watch=[run.tube(t) for t in self.w.tubes])
        timers = [threading.Timer((f.at - self.rec.now()) / run.speed, self._strike, (f,))
                  for f in self.timed]
        for timer in timers:
            timer.daemon = True
            timer.start()
        try:
            run.sleep_until(self.w.start_at)
            while True:
                self._reserve_and_handle()
        except (_Stopped, _Crashed):
            pass
        except (OSError, greenstalk.Error):
            if not run.stop.is_set():
                raise
        finally:
            for timer in timers:
                timer.cancel()

    def _reserve_and_handle(self) -> None:
        with self.lock:
            self.idle = True
        try:
            job = self.c.reserve()
        except greenstalk.DeadlineSoonError:
            self.rec.mark(self.name, "deadline-soon", self.rec.now())
            return
        except (OSError, greenstalk.Error):
            if self.crashed:
                raise _Crashed from None
            raise
        finally:
            with self.lock:
                self.idle = False
        self.rec.reserved(self.name, job.id)
        self.held, self.received = job.id, self.received + 1
        if self.hung_until is not None:  # hung while waiting: the job waits for us too
            self._hang_out(self.hung_until)
        self._handle(job)
        self.held = None

    def _strike(self, fault: Crash | Hang) -> None:
        """A timer at a fault's time: a worker blocked in reserve suffers it here."""
        with self.lock:
            if fault not in self.timed or not self.idle:
                return  # the worker's own thread will meet it while working
            self.timed.remove(fault)
            self.rec.mark(self.name, "crash" if isinstance(fault, Crash) else "hang", fault.at)
            if isinstance(fault, Crash):
                self.crashed = True
                self.c._sock.shutdown(socket.SHUT_RDWR)
            else:
                self.hung_until = self._hang_end(fault)

    def _hang_end(self, fault: Hang) -> float:
        return self.run.until if fault.for_ is None else fault.at + fault.for_

    def _sleep_until(self, t: float) -> None:
        """Sleep to scenario time `t`; if the held job's TTR runs out first, send a harmless
        `list-tube-used` just after it. beanstalkd 1.12 can release an expired job only at its
        holder's next command (a known quirk); the poke makes the release happen on time, as
        beanstalkd's rules say and the simulation shows."""
        deadline = None if self.held is None else self.rec.deadline(self.held)
        if deadline is not None and deadline < t:
            self.run.sleep_until(deadline + POKE_AFTER * self.run.speed)
            self.c.using()
        self.run.sleep_until(t)

    def _hang_out(self, until: float) -> None:
        self._sleep_until(until)
        self.hung_until = None
        self.rec.mark(self.name, "wake", until, self.held)

    def _work(self, seconds: float) -> None:
        """Work for `seconds` of scenario time, suffering any fault that falls due."""
        end = self.rec.now() + seconds
        while True:
            with self.lock:
                fault = self.timed[0] if self.timed and self.timed[0].at < end else None
                if fault is not None:
                    self.timed.remove(fault)
            if fault is None:
                break
            self._sleep_until(fault.at)
            if isinstance(fault, Crash):
                self.rec.mark(self.name, "crash", fault.at, self.held)
                self.c.close()
                self.rec.closed(self.name, fault.at)
                raise _Crashed
            self.rec.mark(self.name, "hang", fault.at, self.held)
            self._hang_out(self._hang_end(fault))
        self._sleep_until(end)

    def _handle(self, job: greenstalk.Job) -> None:
        seconds = self.w.service_time(job)
        for f in self.w.faults:
            if isinstance(f, Crash | Hang) and f.after_jobs == self.received - 1:
                with self.lock:
                    self.timed.append(type(f)(at=self.rec.now() + seconds / 2,
                                              **({"for_": f.for_} if isinstance(f, Hang) else {})))
                    self.timed.sort(key=lambda x: x.at)
        if isinstance(self.w, Toucher):
            while seconds > self.w.every:
                self._work(self.w.every)
                seconds -= self.w.every
                if not self._command("touch", job):
                    return
        self._work(seconds)
        delay = self._failure(job)
        if delay is None:
            self._command("delete", job)
        elif delay < 0:
            self._command("bury", job)
        else:
            self._command("release", job, delay=self.run.whole(delay))

    def _failure(self, job: greenstalk.Job) -> int | None:
        """None: success; -1: bury; else release with this many scenario seconds' delay."""
        for f in self.poison:
            if f.matches(job.body):
                try:
                    reserves = self.c.stats_job(job.id)["reserves"]
                except greenstalk.NotFoundError:
                    return None
                if f.fails(job.body, reserves, self.rec.now()):
                    d = f.retry_delay(reserves)
                    return -1 if d is None else d
        return None

    def _command(self, what: str, job: greenstalk.Job, **kw: Any) -> bool:
        command: Callable[..., Any] = getattr(self.c, what)
        rec = self.rec
        try:
            with rec.lock:
                sent = rec.now()
                command(job, **kw)
                if what == "touch":
                    rec.touched(self.name, job.id)
                else:
                    delay = kw.get("delay", 0) * self.run.speed
                    dst = {"delete": "deleted", "bury": "buried"}.get(
                        what, "delayed" if delay else "ready")
                    rec.finished(self.name, job.id, dst, what, delay, sent)
            return True
        except greenstalk.NotFoundError:
            rec.not_found(self.name, job.id)
            return False


def operate(run: LiveRun, actions: list[tuple[float, str, str, float]]) -> None:
    """An operator's kicks and pauses, at the times the simulated run had them."""
    c = run.client()
    for t, what, tube, arg in actions:
        run.sleep_until(t)
        with run.rec.lock:
            if what == "kick":
                c.use(run.tube(tube))
                run.rec.kicked("operator", tube, c.kick(int(arg)))
            else:
                seconds = run.whole(arg, least=1)
                c.pause_tube(run.tube(tube), seconds)
                run.rec.paused("operator", tube, seconds * run.speed)


def operator_actions(trace: Trace, actors: set[str]) -> list[tuple[float, str, str, float]]:
    """Kicks (with how many jobs) and pauses (with how long) by anyone not in `actors`."""
    kicks: dict[tuple[int, str], int] = {}
    pauses: list[tuple[float, str, str, float]] = []
    for t, job, tube, _src, _dst, cause, actor in trace.raw:
        if actor in actors:
            continue
        if cause == "kick":
            kicks[t, tube] = kicks.get((t, tube), 0) + 1
        elif cause == "pause" and not job:
            end = next((e[0] for e in trace.raw if e[0] >= t and e[2] == tube
                        and e[5] == "pause-ended"), None)
            pauses.append((t / NS, "pause", tube, ((end or t) - t) / NS))
    return sorted([(t / NS, "kick", tube, n) for (t, tube), n in kicks.items()] + pauses)


def _drain(run: LiveRun, tubes: set[str]) -> None:
    """Delete what this run left in its (namespaced) tubes, so the server is clean again."""
    with greenstalk.Client(run.address, watch=[run.tube(t) for t in tubes]) as c:
        for tube in tubes:
            c.use(run.tube(tube))
            for peek in (c.peek_ready, c.peek_delayed, c.peek_buried):
                for _ in range(10_000):
                    try:
                        c.delete(peek())
                    except greenstalk.NotFoundError:
                        break


def run_live(name: str, *, speed: float = 5.0, seed: int = 0, until: float | None = None,
             address: tuple[str, int] | greenstalk.Client | None = None,
             prefix: str | None = None,
             **params: Any) -> Trace:
    """Run scenario `name` on the real beanstalkd at `address` (default: `default_address()`)
    in `until / speed` real seconds; return the trace its clients observed (scenario seconds).
    `address` may also be a connected greenstalk.Client (its server is used).

    Tubes get a unique `prefix` on the server (so runs never mix) but not in the trace.
    """
    if not speed > 0:
        raise ValueError(f"speed must be > 0, not {speed!r}")
    simulated = run_scenario(name, seed=seed, until=until, **params)
    until = simulated.until
    actors = find(name).build(Simulation(seed=seed), **simulated.params)  # the plan, unrun
    producers = [a for a in actors if isinstance(a, Producer)]
    workers = [a for a in actors if isinstance(a, Worker)]
    if len(producers) + len(workers) + 1 > MAX_THREADS:
        raise ValueError(f"run_live runs at most {MAX_THREADS - 1} producers and workers")
    ops = operator_actions(simulated.trace, {a.name for a in actors})
    prefix = f"live-{secrets.token_hex(3)}." if prefix is None else prefix
    if isinstance(address, greenstalk.Client):
        address = address._address
    run = LiveRun(address or default_address(), speed, until, prefix,
                  {"scenario": name, "seed": seed, "until": until, "params": simulated.params,
                   "live": True, "speed": speed})
    # workers first: they take their place in the server's queue of waiting reservers in the
    # simulated order (see _start), so the same worker gets the same job as in the simulation
    targets: list[Callable[[], None]] = [LiveWorker(run, w).main for w in workers]
    targets += [lambda p=p: produce(run, p) for p in producers]
    if ops:
        targets.append(lambda: operate(run, ops))
    errors: list[BaseException] = []

    def guard(target: Callable[[], None]) -> None:
        try:
            target()
        except _Stopped:
            pass
        except BaseException as e:  # reported to the caller below
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(t,), daemon=True) for t in targets]
    run.rec.t0 = time.monotonic()
    _start(run, threads, [w.start_at == 0 for w in workers])
    run.stop.wait(until / speed)
    trace = run.rec.finish(until)
    run.stop.set()
    for c in run.clients:
        try:
            c._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    for th in threads:
        th.join(timeout=5)
    for c in run.clients:
        c.close()
    _drain(run, {t for p in producers for t in [p.tube]} | {t for w in workers for t in w.tubes})
    if errors:
        raise errors[0]
    return trace


def _start(run: LiveRun, threads: list[threading.Thread], waits_at_once: list[bool]) -> None:
    """Start the threads; each worker that reserves at t=0 is let in only once the previous
    one is blocked in reserve (bounded), as the simulated workers queue up in start order."""
    probe = greenstalk.Client(run.address)
    try:
        waiting = probe.stats()["current-waiting"]
        for i, th in enumerate(threads):
            th.start()
            if i < len(waits_at_once) and waits_at_once[i]:
                deadline = time.monotonic() + 0.5
                while probe.stats()["current-waiting"] <= waiting:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
                waiting += 1
    finally:
        probe.close()
