"""`Simulation`: a simulated beanstalkd 1.12 driven by simpy in virtual time.

Virtual time is in seconds (a float, as simpy keeps it); the core counts integer nanoseconds.
One simpy timer wakes the core at its next due time (delayed jobs maturing, TTR expiries,
pauses ending, reserve timeouts); nothing is polled. After every core call (a client's
command, a timer) the simulation settles: the core's answers to waiting reserves go to their
sessions, then the timer is re-armed. Virtual time is bounded by `MAX_SECONDS`
(2**62 ns, about 146 years): moving the clock past it raises ValueError and changes nothing.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any

import greenstalk
import simpy

from stalksim.client import ProcessClient, RawSimConnection, SimClient
from stalksim.core import MAX_TIME, SEC, Server
from stalksim.core.state import NEVER
from stalksim.durable import MemoryJournal, restore
from stalksim.protocol import Sessions

#: beanstalkd's cap on -z (1 GiB).
MAX_JOB_SIZE_LIMIT = 1073741824
#: A blocking `reserve()` gives up after this much virtual time with nothing to hand out
#: while simulated processes keep running (a real server would wait on).
DEFAULT_MAX_WAIT = 7 * 24 * 3600.0
#: ... or after this many simulated events.
DEFAULT_MAX_EVENTS = 2_000_000
#: The largest `lost_ms` a restart takes: the simulator keeps each job's writes this long.
LOST_MS_MAX = 60_000.0
#: The latest virtual time in seconds (2**62 ns, about 146 years; see `core.MAX_TIME`).
MAX_SECONDS = MAX_TIME / SEC


def _time_limit(what: str, t: float) -> ValueError:
    return ValueError(f"{what} would take virtual time to {t:g} s, past the simulator's limit "
                      f"of {MAX_SECONDS:.6g} s (2**62 ns, about 146 years)")


def _seconds(what: str, seconds: object) -> float:
    """`seconds` as a finite number >= 0, or ValueError naming `what`."""
    if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds) or seconds < 0):
        raise ValueError(f"{what} needs a finite number of seconds >= 0, not {seconds!r}")
    return float(seconds)


class WouldWaitForever(greenstalk.TimedOutError):
    """A blocking reserve that nothing in the simulation can ever answer.

    A real beanstalkd would keep the client waiting forever here; the simulator says so instead
    of hanging the notebook.
    """

    def __init__(self, message: str) -> None:
        super().__init__([])
        self.message = message

    def __str__(self) -> str:
        return self.message


class Simulation:
    """A simulated beanstalkd 1.12 with a virtual clock that starts at 0.0 s.

    Several clients share one simulated server; two simulations never share state.
    `trace=True` keeps every job transition in memory (about 120 bytes each); `trace=N` keeps
    only the latest N (a ring: memory stays bounded however long it runs); `trace=False` none.
    `binlog=True` keeps the model of beanstalkd's binlog that `restart(binlog=True)` restores
    from (each live job's last logged values, the writes of the last `LOST_MS_MAX` ms).
    """

    def __init__(self, *, seed: int | None = None, max_job_size: int = 65535,
                 trace: bool | int = True, max_wait: float = DEFAULT_MAX_WAIT,
                 max_events: int = DEFAULT_MAX_EVENTS, binlog: bool = False) -> None:
        if not isinstance(max_job_size, int) or max_job_size < 0:
            raise ValueError(f"max_job_size must be a whole number of bytes >= 0, "
                             f"not {max_job_size!r}")
        max_job_size = min(max_job_size, MAX_JOB_SIZE_LIMIT)  # beanstalkd -z caps it too
        self.env = simpy.Environment()
        self.seed = seed
        self.rng = random.Random(seed)
        if not isinstance(trace, bool) and (not isinstance(trace, int) or trace < 1):
            raise ValueError(f"trace must be True, False or a number of events >= 1, "
                             f"not {trace!r}")
        self._events: list | deque | None = (
            None if trace is False else [] if trace is True else deque(maxlen=trace))
        self.server = Server(max_job_size=max_job_size, trace=self._events)
        self.server.info["id"] = f"{self.rng.getrandbits(64):016x}"
        self.server.info["pid"] = 1
        self.max_wait = max_wait
        self.max_events = max_events
        self._pending: set[int] = set()  # due times (ns) of scheduled core wake-ups
        self._first = NEVER  # the soonest of them
        self._names: set[str] = set()
        self._last_t = 0.0
        self._last_ns = 0
        self.sessions = Sessions(self.server)  # every client's session, by connection
        self.restarts = 0
        #: The binlog model `restart(binlog=True)` restores from (None: `binlog=False`, which
        #: saves about 2 us per put and delete).
        self._journal = MemoryJournal(round(LOST_MS_MAX * 1_000_000)) if binlog else None
        self.server.journal = self._journal

    # ---- time ----------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Virtual time in seconds."""
        return self.env.now

    def now_ns(self) -> int:
        """Virtual time in integer nanoseconds, never behind the core's clock."""
        t = self.env.now
        if t != self._last_t:  # commands cluster at one instant: convert once
            if t > MAX_SECONDS:  # a process's own env.timeout went past the limit
                raise _time_limit("a simpy timeout", t)
            self._last_t = t
            self._last_ns = round(t * SEC)
        ns = self._last_ns
        core = self.server.now
        return ns if ns > core else core

    def advance(self, seconds: float) -> None:
        """Move virtual time forward: delays mature, TTRs expire, pauses end, processes run."""
        until = self.env.now + _seconds("advance()", seconds)
        if until > MAX_SECONDS:
            raise _time_limit(f"advance({seconds!r})", until)
        self.run(until=until)

    def run(self, until: float | None = None) -> None:
        """Run simulated processes until virtual time `until` (or until nothing is left)."""
        if until is not None and _seconds("run(until=...)", until) > MAX_SECONDS:
            raise _time_limit(f"run(until={until!r})", until)
        if until is None:
            self.env.run()
        elif until > self.env.now:
            self.env.run(until=until)
        self.server.advance(self.now_ns())
        self._settle()

    def _settle(self) -> None:
        """After any core call: hand the core's answers to their sessions (a process's
        client resolves its reserve event), then schedule a simpy wake-up for the core's
        next due time, unless one is pending."""
        if self.server.outbox:
            for s in self.sessions.settle():
                if s.owner is not None:
                    s.owner._answered()
        due = self.server._due
        if due >= self._first:  # never, or a wake-up at or before it is pending
            return
        self._pending.add(due)
        self._first = due
        delay = max(0.0, (due - self.now_ns()) / SEC)
        ev = self.env.timeout(delay, value=due)
        ev.callbacks.append(self._wake)

    def _wake(self, ev: simpy.Event) -> None:
        due = ev.value
        self._pending.discard(due)
        self._first = min(self._pending, default=NEVER)
        now = self.now_ns()
        self.server.advance(due if due > now else now)
        self._settle()

    def wait_for(self, done: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        """Step the simulation until `done()` is true (an answer settled made it so).

        Raises WouldWaitForever when nothing left in the simulation can answer.
        """
        env = self.env
        start = env.now
        horizon = start + (self.max_wait if timeout is None else timeout + 1.0)
        steps = 0
        self._settle()
        while not done():
            t = env.peek()
            if t == float("inf"):
                raise WouldWaitForever(
                    f"{what} would wait forever: nothing in this simulation can make a job "
                    f"ready for it (no delayed job, TTR, pause or process is pending). A real "
                    f"beanstalkd would keep the client waiting here; put a job first or use "
                    f"reserve(timeout=...).")
            if t > horizon or steps > self.max_events:
                raise WouldWaitForever(
                    f"{what} got no job within {env.now - start:g} virtual seconds "
                    f"({steps} simulated events); a real beanstalkd would keep waiting.")
            env.step()
            steps += 1

    # ---- clients and processes -----------------------------------------------------------
    def client(self, *, use: str = "default", watch: str | Iterable[str] = "default",
               encoding: str | None = "utf-8") -> SimClient:
        """A synchronous greenstalk-compatible client (same keywords, minus the address)."""
        return SimClient(self, encoding=encoding, use=use, watch=watch)

    def connect(self, name: str | None = None, *, use: str = "default",
                watch: str | Iterable[str] = "default", encoding: str | None = "utf-8",
                ) -> ProcessClient:
        """A client for simpy processes: `job = yield conn.reserve()`. `name` labels traces."""
        return ProcessClient(self, name=name, encoding=encoding, use=use, watch=watch)

    def process(self, generator: Generator) -> simpy.Process:
        """Start a simpy process (a producer, a worker...) in this simulation.

        A process that lets a ConnectionError escape after a `restart()` ends there, as a
        program without a reconnect loop dies when its server goes away; the simulation
        goes on (any other exception still stops it)."""
        return self.env.process(self._guarded(generator))

    def _guarded(self, generator: Generator) -> Generator:
        try:
            return (yield from generator)
        except ConnectionError:
            if not self.restarts:
                raise
            return None

    # ---- a server crash and restart ------------------------------------------------------
    def restart(self, binlog: bool = False, lost_ms: float = 0.0) -> None:
        """The server crashes and starts again at once, in virtual time.

        Every connection drops: a client's next command raises ConnectionError ("Unexpected
        EOF", as greenstalk says on a closed socket), a reserve a process waits in fails with
        it. The new server starts empty (counters, tubes, connections), or with `binlog`
        holds the jobs a `beanstalkd -b` binlog restores: ready, delayed (what is left),
        buried; a reserved job is ready. `lost_ms` > 0 models `-f lost_ms`: every write of
        the last `lost_ms` ms is lost (a put in it: the job is gone; a delete: the job is
        back as its previous write left it; a bury, kick or delayed release: undone). The
        trace gets a `restart` server event, then each job's `restored` or `lost`.
        """
        lost_ns = round(_seconds("restart(lost_ms=...)", lost_ms) * 1_000_000)
        now = self.now_ns()
        old = self.server
        old.advance(now)
        self._settle()
        if binlog and self._journal is None:
            raise ValueError("restart(binlog=True) needs a Simulation(binlog=True): this one "
                             "keeps no binlog")
        images, next_id = self._journal.survivors(now, lost_ns) if binlog else ([], 1)
        before = {j.id: j.state for j in old.jobs.values()}
        for s in list(self.sessions.by_conn.values()):
            self._drop(s)
        old.journal = old.trace = None
        server = Server(max_job_size=old.max_job_size, trace=self._events, now=now)
        server.info.update(old.info, id=f"{self.rng.getrandbits(64):016x}",
                           pid=int(old.info["pid"]) + 1)  # type: ignore[call-overload]
        server.conn_base = old.conn_base + old.total_connections  # names stay unique
        server.emit(0, "", "", "", "restart", "")
        back = {j.id for j in images}
        for id, state in before.items():
            if id not in back:
                server.emit(id, old.jobs[id].tube.name, state, "deleted", "lost", "")
        restore(server, images, src={j.id: before.get(j.id, "deleted") for j in images})
        server.next_id = max(server.next_id, next_id)
        if self._journal is not None:
            self._journal = MemoryJournal(self._journal.window_ns)
            self._journal.seed(images)
        server.journal = self._journal
        self.server = server
        self.sessions = Sessions(server)
        self.restarts += 1
        self._settle()

    def _drop(self, s: Any) -> None:
        """A crashed server's connection: closed under the client (no job moves: the server
        is gone), a waiting process reserve fails with ConnectionError."""
        s._shut()
        s.conn.closed = True  # the old core must not move its jobs on a later close()
        owner = s.owner
        ev = getattr(owner, "_event", None)
        if ev is not None:
            owner._event = None
            ev.fail(ConnectionError("Unexpected EOF"))

    def timeout(self, seconds: float, value: Any = None) -> simpy.Timeout:
        """A simpy event that fires after `seconds` of virtual time."""
        if self.env.now + _seconds("timeout()", seconds) > MAX_SECONDS:
            raise _time_limit(f"timeout({seconds!r})", self.env.now + seconds)
        return self.env.timeout(seconds, value)

    def raw(self) -> RawSimConnection:
        """A raw protocol connection (bytes in, bytes out) to this simulated server."""
        return RawSimConnection(self)

    # ---- traces --------------------------------------------------------------------------
    @property
    def trace(self) -> Any:
        """Every job transition so far (a `stalksim.trace.Trace`), or None if tracing is off.

        With `trace=N` it is a copy of the latest N events (it does not grow as the run goes on;
        `meta["trace_limit"]` says N)."""
        if self._events is None:
            return None
        from stalksim.trace import Trace

        if isinstance(self._events, deque):
            return Trace(list(self._events),
                         meta={"seed": self.seed, "trace_limit": self._events.maxlen})
        return Trace(self._events, meta={"seed": self.seed})

    def mark(self, actor: str, cause: str, job: int = 0, tube: str = "") -> None:
        """Record a worker event (crash, hang, wake, not-found...) in the trace."""
        self.server.emit(job, tube, "", "", cause, actor, at=self.now_ns())

    def __repr__(self) -> str:
        s = self.server
        return (f"<stalksim.Simulation t={self.now:g}s jobs={len(s.jobs)} "
                f"tubes={len(s.tubes)} connections={len(s.conns)}>")
