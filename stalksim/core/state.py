"""beanstalkd 1.12's state and its internal moves (the commands are in server.py).

Every command takes the connection and `now` (integer nanoseconds) first. Before acting, the
server runs every timer due at `now` in beanstalkd's tick order: delayed jobs mature (soonest
first), expired pauses end, then connection timers fire (TTR expiry, DEADLINE_SOON,
TIMED_OUT). Errors are raised as `Refused(word)`. A reserve that has to wait returns None
with `conn.waiting` set; whatever later answers it (a put, a timer, a close, a hang-up, a
cancel) appends `(conn, answer)` to `outbox`, which drivers drain after every core call.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from itertools import count

from stalksim.core import words as W
from stalksim.core.model import (
    BURIED,
    DELAYED,
    READY,
    RESERVED,
    Answer,
    Conn,
    Job,
    Tube,
    _compact,
    _top,
)
from stalksim.core.ms import Ms
from stalksim.core.words import Refused

SEC = 1_000_000_000
SAFETY_MARGIN = SEC  # a connection is "deadline soon" 1 s before its soonest TTR deadline
URGENT = 1024  # ready jobs with pri below this are "urgent"
MAX_TIME = 1 << 62
"""The latest virtual time (ns, ~146 years) a driver may move the clock to: any timer set
from it (a u32 delay, TTR or pause, a 2^31 s reserve timeout) still falls due before NEVER."""
NEVER = 1 << 63  # beanstalkd keeps time in int64 ns; due times at or past this are "never"
NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()")
MAX_NAME = 200


def name_ok(name: str) -> bool:
    """beanstalkd's tube name rule: 1-200 chars from NAME_CHARS, not starting with '-'."""
    return 0 < len(name) <= MAX_NAME and name[0] != "-" and NAME_CHARS.issuperset(name)


class State:
    """Jobs, tubes, connections and timers; the commands live in `Server`.

    Slotted: every command reads a dozen of these, and a plain instance past 30 attributes
    loses CPython's fast attribute access (measured: 10 % more instructions per put)."""

    __slots__ = (
        "max_job_size", "now", "started_at", "trace", "jobs", "tubes", "tube_by_name",
        "next_id", "conns", "total_connections", "conn_base", "ops", "job_timeouts",
        "total_jobs", "ready_n", "urgent_n", "reserved_n", "buried_n", "waiting_n", "draining",
        "info", "rusage", "journal", "outbox", "_timers", "_seq", "_due", "_paused", "_waited",
        "default", "__weakref__",
    )

    def __init__(self, *, max_job_size: int = 65535, now: int = 0,
                 trace: list | None = None) -> None:
        self.max_job_size = max_job_size
        self.now = now
        self.started_at = now
        self.trace = trace
        self.jobs: dict[int, Job] = {}
        self.tubes: Ms[Tube] = Ms()
        self.tube_by_name: dict[str, Tube] = {}
        self.next_id = 1
        self.conns: dict[int, Conn] = {}
        self.total_connections = 0
        self.conn_base = 0  # connection names go on from here (a restarted server's clients)
        self.ops: dict[str, int] = {}
        self.job_timeouts = 0
        self.total_jobs = 0
        self.ready_n = 0
        self.urgent_n = 0
        self.reserved_n = 0
        self.buried_n = 0
        self.waiting_n = 0
        self.draining = False
        #: Host facts shown by `stats`; adapters fill them in (the core reads no system state).
        self.info: dict[str, object] = {
            "pid": 0, "id": "0000000000000000", "hostname": "stalksim", "os": "stalksim",
            "platform": "python",
        }
        self.rusage = lambda: (0.0, 0.0)
        #: Told of every job transition, as `journal(state, job_id, cause, src, dst)` after
        #: the job has its new values (a delete: after it is gone). A driver sets it to keep a
        #: binlog (`stalksim.durable`); the core itself never touches a file.
        self.journal: Callable[[State, int, str, str, str], None] | None = None
        #: Answers to waiting reserves, oldest first, until a driver takes them.
        self.outbox: list[tuple[Conn, Answer]] = []
        self._timers: list[tuple[int, int, Conn]] = []
        self._seq = count()
        self._due = NEVER
        self._paused: list[Tube] = []
        self._waited: set[Tube] = set()  # tubes with at least one waiting connection
        self.default = self._make_tube("default")
        self.default.refs += 1  # default is never freed

    # ---- clock ---------------------------------------------------------------------------
    def next_due(self) -> int | None:
        """When the next timer may fall due (ns), or None. May be early, never late."""
        return None if self._due >= NEVER else self._due

    def advance(self, now: int) -> None:
        """Move the clock to `now` and run every timer due by then (`now` <= MAX_TIME)."""
        if now > MAX_TIME:
            raise ValueError(f"virtual time {now} ns is past the simulator's limit of "
                             f"{MAX_TIME} ns (2**62 ns, about 146 years)")
        if now > self.now:
            self.now = now
        if self.now >= self._due:
            self._tick()

    def _op(self, conn: Conn, now: int, name: str) -> None:
        # the hot path of every command: advance() inlined
        if now > self.now:
            self.now = now
        if self.now >= self._due:
            self._tick()
        ops = self.ops
        ops[name] = ops[name] + 1 if name in ops else 1

    def _tick(self) -> None:
        now = self.now
        due = NEVER
        while True:  # 1. delayed jobs, soonest first across tubes (tube order breaks ties)
            best = None
            for t in self.tubes:
                if t.delayed_n:
                    e = _top(t.delayed)
                    if best is None or e[0] < best[0]:
                        best = e
            if best is None:
                break
            if best[0] > now:
                due = best[0]
                break
            job = best[2]
            heappop(job.tube.delayed)
            job.tube.delayed_n -= 1
            self._enqueue(job, 0, "delay-matured", "")
        for t in list(self._paused):  # 2. pauses
            if t.unpause_at <= now:
                self._unpause(t)
                self._process_queue()
            elif t.unpause_at < due:
                due = t.unpause_at
        timers = self._timers  # 3. connection timers
        while timers:
            tickat, _, c = timers[0]
            if c.timer is not timers[0]:
                heappop(timers)
                continue
            if tickat > now:
                due = min(due, tickat)
                break
            heappop(timers)
            c.timer = None
            self._conn_timeout(c)
        self._due = due

    def _unpause(self, t: Tube) -> None:
        t.pause = 0
        if t in self._paused:
            self._paused.remove(t)
        self.emit(0, t.name, "", "", "pause-ended", "")

    # ---- tubes ---------------------------------------------------------------------------
    def _make_tube(self, name: str) -> Tube:
        t = Tube(name)
        self.tubes.append(t)
        self.tube_by_name[name] = t
        return t

    def _tube(self, name: str) -> Tube:
        t = self.tube_by_name.get(name)
        return t if t is not None else self._make_tube(name)

    def _unref(self, t: Tube) -> None:
        t.refs -= 1
        if t.refs == 0:
            self.tubes.remove(t)
            del self.tube_by_name[t.name]
            if t in self._paused:
                self._paused.remove(t)

    # ---- connections ---------------------------------------------------------------------
    def connect(self, now: int, name: str | None = None) -> Conn:
        """A new connection, using and watching `default`."""
        self.advance(now)
        self.total_connections += 1
        c = Conn(self.total_connections, name or f"conn-{self.conn_base + self.total_connections}")
        self.conns[c.number] = c
        t = self.default
        c.use = t
        t.using_n += 1
        t.refs += 1
        c.watch.append(t)
        t.watching_n += 1
        t.refs += 1
        return c

    def close(self, c: Conn, now: int) -> None:
        """A closed socket or `quit`: reserved jobs go back to ready, no counter changes."""
        if c.closed:
            return
        self.advance(now)
        c.closed = True
        del self.conns[c.number]
        self._stop_waiting(c)
        for job in list(c.reserved.values()):  # oldest reservation first
            self._unreserve(c, job)
            self._enqueue(job, 0, "connection-closed", c.name)
        while c.watch.items:  # ms_clear deletes slot 0 repeatedly
            t = c.watch.items[0]
            c.watch._delete(0)
            t.watching_n -= 1
            self._unref(t)
        c.use.using_n -= 1
        self._unref(c.use)
        c.timer = None

    def take_answers(self) -> list[tuple[Conn, Answer]]:
        """The answers given to waiting connections since the last call, oldest first."""
        out, self.outbox = self.outbox, []
        return out

    # ---- the trace -----------------------------------------------------------------------
    def emit(self, job: int, tube: str, src: str, dst: str, cause: str, actor: str,
             at: int | None = None) -> None:
        """Append one trace event laid out as `stalksim.trace.RawEvent` (time ns, job, tube,
        src, dst, cause, actor); `at` defaults to the core's clock. The trace's one writer,
        and the journal's one caller (job transitions only: `dst` set)."""
        if self.trace is not None:
            self.trace.append((self.now if at is None else at, job, tube, src, dst, cause, actor))
        if dst and self.journal is not None:
            self.journal(self, job, cause, src, dst)

    # ---- job movement --------------------------------------------------------------------

    def _enqueue(self, job: Job, delay: int, cause: str, actor: str) -> None:
        """Put a job into its tube's delayed heap (delay > 0, seconds) or ready heap."""
        t = job.tube
        src = job.state
        job.reserver = None
        if delay:
            job.deadline = self.now + delay * SEC
            e = (job.deadline, job.id, job)
            job.entry = e
            heappush(t.delayed, e)
            t.delayed_n += 1
            job.state = DELAYED
            if job.deadline < self._due:
                self._due = job.deadline
        else:
            e = (job.pri, job.id, job)
            job.entry = e
            heappush(t.ready, e)
            t.ready_n += 1
            self.ready_n += 1
            if job.pri < URGENT:
                t.urgent_n += 1
                self.urgent_n += 1
            job.state = READY
        if self.trace is not None or self.journal is not None:  # the hot path: no call
            self.emit(job.id, t.name, src, job.state, cause, actor)
        if not delay and self.waiting_n:
            self._process_queue()

    def _take_ready(self, job: Job) -> None:
        t = job.tube
        job.entry = None
        t.ready_n -= 1
        self.ready_n -= 1
        if job.pri < URGENT:
            t.urgent_n -= 1
            self.urgent_n -= 1

    def _take(self, job: Job) -> None:
        """Detach a ready, delayed or buried job from its container (entries go stale)."""
        state = job.state
        t = job.tube
        if state == READY:
            self._take_ready(job)
            _compact(t.ready, t.ready_n)
        elif state == DELAYED:
            job.entry = None
            t.delayed_n -= 1
            _compact(t.delayed, t.delayed_n)
        elif state == BURIED:
            job.entry = None
            t.buried_n -= 1
            self.buried_n -= 1
            if len(t.buried) > 64 and len(t.buried) > 2 * t.buried_n:
                live = [e for e in t.buried if e[0].entry is e]
                t.buried.clear()
                t.buried.extend(live)

    def _reserve(self, c: Conn, job: Job, cause: str) -> None:
        src = job.state
        job.deadline = self.now + job.ttr * SEC
        job.state = RESERVED
        job.reserver = c
        job.reserves += 1
        job.tube.reserved_n += 1
        self.reserved_n += 1
        c.reserved[job.id] = job
        c.timeout_at = None
        s = c.soonest
        if s is not None and job.deadline < s.deadline:
            c.soonest = job
        if self.trace is not None or self.journal is not None:  # the hot path: no call
            self.emit(job.id, job.tube.name, src, RESERVED, cause, c.name)
        self._schedule(c)

    def _unreserve(self, c: Conn, job: Job) -> None:
        del c.reserved[job.id]
        job.tube.reserved_n -= 1
        self.reserved_n -= 1
        job.reserver = None
        if c.soonest is job:
            c.soonest = None

    def _bury(self, job: Job, actor: str) -> None:
        t = job.tube
        e = (job,)
        job.entry = e
        t.buried.append(e)
        t.buried_n += 1
        self.buried_n += 1
        job.buries += 1
        src, job.state = job.state, BURIED
        self.emit(job.id, t.name, src, BURIED, "bury", actor)

    def _own(self, c: Conn, id: int) -> Job:
        job = self.jobs.get(id)
        if job is None or job.state != RESERVED or job.reserver is not c:
            raise Refused(W.NOT_FOUND)
        return job

    def _find(self, id: int) -> Job:
        job = self.jobs.get(id)
        if job is None:
            raise Refused(W.NOT_FOUND)
        return job

    # ---- reserving -----------------------------------------------------------------------
    def _soonest(self, c: Conn) -> Job | None:
        s = c.soonest
        if s is None and c.reserved:
            for job in c.reserved.values():  # first of equals wins, as in connsoonestjob
                if s is None or job.deadline < s.deadline:
                    s = job
            c.soonest = s
        return s

    def _deadline_soon(self, c: Conn) -> bool:
        s = self._soonest(c)
        return s is not None and self.now >= s.deadline - SAFETY_MARGIN

    def _tickat(self, c: Conn) -> int:
        at = NEVER
        s = self._soonest(c)
        if s is not None:
            # a waiter wakes at the margin; otherwise the job expires once now > deadline
            at = s.deadline - SAFETY_MARGIN if c.waiting else s.deadline + 1
        if c.waiting and c.timeout_at is not None and c.timeout_at < at:
            at = c.timeout_at
        return at

    def _schedule(self, c: Conn) -> None:
        at = self._tickat(c)
        if c.timer is not None and c.timer[0] == at:
            return
        if at >= NEVER:
            c.timer = None
            return
        e = (at, next(self._seq), c)
        c.timer = e
        heappush(self._timers, e)
        if at < self._due:
            self._due = at

    def _answer(self, c: Conn, answer: Answer) -> None:
        self.outbox.append((c, answer))

    def _stop_waiting(self, c: Conn) -> bool:
        if not c.waiting:
            return False
        c.waiting = False
        self.waiting_n -= 1
        for t in c.watch:
            t.waiting.remove(c)
            if not t.waiting:
                self._waited.discard(t)
        return True

    def _conn_timeout(self, c: Conn) -> None:
        deadline_soon = c.waiting and self._deadline_soon(c)
        while True:
            job = self._soonest(c)
            if job is None or job.deadline >= self.now:
                break
            self.job_timeouts += 1
            job.timeouts += 1
            self._unreserve(c, job)
            self._enqueue(job, 0, "ttr-expired", c.name)
        if deadline_soon:
            self._stop_waiting(c)
            self._answer(c, W.DEADLINE_SOON)
        elif c.waiting and c.timeout_at is not None:
            c.timeout_at = None
            self._stop_waiting(c)
            self._answer(c, W.TIMED_OUT)
        self._schedule(c)

    def _process_queue(self) -> None:
        """Hand the best ready jobs to waiting connections (beanstalkd's process_queue)."""
        now = self.now
        while self.waiting_n:
            best = None
            for t in self._waited:
                if t.pause and t.unpause_at > now:
                    continue
                if t.ready_n:
                    e = _top(t.ready)
                    if best is None or e < best:
                        best = e
            if best is None:
                return
            job = best[2]
            t = job.tube
            heappop(t.ready)
            self._take_ready(job)
            c = t.waiting.take()
            self._stop_waiting(c)
            self._reserve(c, job, "reserve")
            self._answer(c, job)

    def _conn_ready(self, c: Conn) -> bool:
        return any(t.ready_n for t in c.watch)

