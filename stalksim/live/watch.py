"""`JobWatch`: what a real beanstalkd does to some jobs, recorded as a trace.

    watch = stalksim.live.JobWatch(client, tube="photos")  # its own connections
    a = watch.worker("worker-a", work=60)     # a WorkerProcess on the tube
    job = watch.put("resize photo 7", ttr=30)
    a.wait_for("reserved", job)
    a.kill()                                   # kill -9
    watch.wait_for(job, "ready")               # the move, as the server made it
    print(watch.history(job))

An observer connection asks the server `stats-job` for each job put through the watch every
`interval` seconds (10 ms) and records each change as a job transition in the simulator's
trace format (`trace()`), so the simulator's views draw it. What moved the job is read from the
server's own counters: a reserved job that is ready again with its `timeouts` count up had its
TTR run out; with `releases` up it was released; with neither, its holder's connection closed
(`connection-closed`: beanstalkd noticed the hang-up). Who reserved it (and who deleted it) is
taken from the worker processes' reports, matched by the job's `reserves` count; the signals
sent to them are worker marks (SIGKILL: `crash`, SIGSTOP: `hang`, SIGCONT: `wake`), and a late
command answered NOT_FOUND is a `not-found` mark. Touches are not recorded. Times are seconds
since the watch started, as the observer saw them (within one `interval`).

beanstalkd 1.12 can let the deadline of a silent holder pass for good (see
`stalksim.live.process`). When a job is still reserved by a *stopped* worker `NUDGE_AFTER`
seconds after its TTR ran out, the watch nudges that worker's connection (`WorkerProcess.nudge`,
a `list-tube-used`), and the server releases the job then; `nudges` lists each one, and the
job's history says so.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

import greenstalk

from stalksim._browser import refuse
from stalksim.live.process import Report, WorkerProcess, address_of
from stalksim.trace import ACTOR, CAUSE, DST, JOB, NS, TIME, Record, Trace

COUNTERS = ("reserves", "timeouts", "releases", "buries", "kicks")
SIGNAL_MARKS = {"SIGKILL": "crash", "SIGSTOP": "hang", "SIGCONT": "wake"}
NUDGE_AFTER = 0.02  # seconds after a stopped holder's deadline (see the module)
SNAP = 0.003  # seconds: a reserve this close after the job's previous move was part of it
UNKNOWN = "a client"  # a reserve or delete no worker process of the watch reported
Actor = str | tuple[Any, ...]  # a name, or a key resolved by the workers' reports
_open: weakref.WeakSet[JobWatch] = weakref.WeakSet()


class Nudge(NamedTuple):
    """A nudge of a stopped holder's connection: when (the watch's clock), for which job,
    whose connection, and how late the server was by then (seconds past the TTR)."""

    time: float
    job: int
    worker: str
    late: float


@dataclass
class Seen:
    """A job as the watch last saw it: its recorded state, the server's counters, the key of
    its current reserve, and the last stats-job answer."""

    tube: str
    body: str
    ttr: int
    state: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    holder: Actor = ""
    stats: dict[str, Any] = field(default_factory=dict)


class JobWatch:
    """Puts jobs on `tube` of the beanstalkd at `target` (a greenstalk.Client, an (host, port),
    or None: `default_address()`), starts worker processes on it, and records what the server
    does to those jobs (see the module). `close()` (or the end of a `with` block, or
    interpreter exit) ends its workers by pid, deletes what is left of its jobs and stops.
    Its poller runs for `max_seconds` at a time (again once the watch is used after that). In
    the browser it raises `NotInBrowser`."""

    def __init__(self, target: Any = None, *, tube: str = "default", interval: float = 0.01,
                 max_seconds: float = 1800.0) -> None:
        refuse("stalksim.live.JobWatch()")
        self.address, self.tube, self.interval = address_of(target), tube, interval
        self.producer = greenstalk.Client(self.address, use=tube)
        self._observer = greenstalk.Client(self.address)  # the poller thread's own
        self.t0 = time.monotonic()
        self.jobs: dict[int, Seen] = {}
        self.workers: list[WorkerProcess] = []
        self._events: list[list[Any]] = []  # raw events whose actor may still be a key
        self._names: dict[tuple[Any, ...], str] = {}  # reserve/delete keys -> worker names
        self._reserved_at: dict[tuple[Any, ...], float] = {}  # reserve key -> monotonic time
        self.nudges: list[Nudge] = []
        self._cond = threading.Condition(threading.RLock())
        self.polls = 0
        self._stop = threading.Event()
        self.max_seconds = max_seconds
        self._thread: threading.Thread | None = None
        self._poll_on()
        _open.add(self)

    def _poll_on(self) -> None:
        """Start the poller, unless it runs (or the watch is closed): for `max_seconds`, and
        again when the watch is used after that."""
        if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
            return
        self._end = time.monotonic() + self.max_seconds
        self._thread = threading.Thread(target=self._poll, daemon=True, name="stalksim-watch")
        self._thread.start()

    def now(self) -> float:
        """Seconds since the watch started (the trace's clock)."""
        return time.monotonic() - self.t0

    # ---- what the lesson does -----------------------------------------------------------
    def put(self, body: str, *, ttr: int = 60, priority: int = 2**16, delay: int = 0) -> int:
        """Put a job on the tube and watch it; its id."""
        self._poll_on()
        with self._cond:
            job = self.producer.put(body, priority=priority, delay=delay, ttr=ttr)
            dst = "delayed" if delay else "ready"
            self.jobs[job] = Seen(self.tube, body, ttr, dst)
            self._emit(self.now(), job, "new", dst, "put", "producer")
        return job

    def worker(self, name: str, *, work: float = 1.0) -> WorkerProcess:
        """Start a WorkerProcess on the tube (`work` seconds per job) that reports to this
        watch; return once it waits in reserve (or has reserved a job)."""
        if any(w.name == name for w in self.workers):
            raise ValueError(f"this watch has a worker called {name!r} already")
        waiting = self._waiting()
        w = WorkerProcess(self.address, name, tube=self.tube, work=work, watcher=self)
        self.workers.append(w)
        end = time.monotonic() + 5.0
        while time.monotonic() < end and self._waiting() <= waiting and not any(
                r.event == "reserved" for r in w.reports):
            time.sleep(0.005)
        return w

    def _waiting(self) -> int:
        return int(self.producer.stats_tube(self.tube)["current-waiting"])

    # ---- what the workers say (`stalksim.live.process.Watcher`) ---------------------------
    def reported(self, worker: WorkerProcess, report: Report) -> None:
        """A worker's report: who reserved (or deleted) a job, a late command's NOT_FOUND."""
        with self._cond:
            if report.event == "reserved":
                self._names["reserve", report.job, report.reserves] = worker.name
                self._reserved_at["reserve", report.job, report.reserves] = report.time
            elif report.answer == "DELETED":
                self._names["delete", report.job] = worker.name
            elif report.event in ("not-found", "deadline-soon"):
                self._mark(report.time - self.t0, report.job, report.event, worker.name)
            self._cond.notify_all()

    def before_signal(self, worker: WorkerProcess, sig: str) -> None:
        """Look at the server once more first, so what the signal changes is seen apart
        from what came before it (a TTR that ran out just before a SIGCONT, say)."""
        self.settle()

    def signalled(self, worker: WorkerProcess, sig: str, when: float) -> None:
        """A signal sent to a worker: a mark naming the job it held."""
        if sig in SIGNAL_MARKS:
            self._mark(when - self.t0, worker.held or 0, SIGNAL_MARKS[sig], worker.name)

    def _mark(self, t: float, job: int, cause: str, actor: str) -> None:
        with self._cond:
            tube = self.jobs[job].tube if job in self.jobs else ""
            self._events.append([round(t * NS), job, tube, "", "", cause, actor])
            self._cond.notify_all()

    # ---- what the server does -----------------------------------------------------------
    def _poll(self) -> None:
        while not self._stop.wait(self.interval) and time.monotonic() < self._end:
            with self._cond:
                live = [j for j, seen in self.jobs.items() if seen.state != "deleted"]
            for job in live:
                try:
                    stats: dict[str, Any] | None = self._observer.stats_job(job)
                except greenstalk.NotFoundError:
                    stats = None
                except (OSError, greenstalk.Error):  # the server is gone, or we closed
                    return
                with self._cond:
                    self._observe(job, self.jobs[job], stats, self.now())
                self._nudge_if_missed(job)
            with self._cond:
                self.polls += 1
                self._cond.notify_all()

    def _nudge_if_missed(self, job: int) -> None:
        """Nudge a stopped holder's connection once its job is NUDGE_AFTER s past its TTR."""
        with self._cond:
            seen = self.jobs[job]
            key = seen.holder
            since = self._reserved_at.get(key) if isinstance(key, tuple) else None
            name = self._names.get(key) if isinstance(key, tuple) else None
            if seen.state != "reserved" or since is None or any(
                    n.job == job and n.worker == name for n in self.nudges):
                return
        late = time.monotonic() - since - seen.ttr
        worker = next((w for w in self.workers if w.name == name), None)
        if worker is None or worker.state != "stopped" or late < NUDGE_AFTER:
            return
        try:
            worker.nudge()
        except (OSError, RuntimeError):  # it was continued or killed meanwhile
            return
        with self._cond:
            self.nudges.append(Nudge(self.now(), job, worker.name, late))

    def _observe(self, job: int, seen: Seen, stats: dict[str, Any] | None, t: float) -> None:
        """Record the moves that take `seen` to what stats-job says now (None: deleted)."""
        if stats is None:
            self._move(t, job, seen, "deleted", "delete", ("delete", job))
            return
        left = {k: stats[k] - seen.counts[k] for k in COUNTERS}
        for n in range(seen.counts["reserves"] + 1, stats["reserves"] + 1):
            self._settle(t, job, seen, "ready", left)
            self._move(t, job, seen, "reserved", "reserve", ("reserve", job, n))
            seen.holder = ("reserve", job, n)
        self._settle(t, job, seen, stats["state"], left)
        seen.counts = {k: stats[k] for k in COUNTERS}
        seen.stats = stats

    def _settle(self, t: float, job: int, seen: Seen, state: str, left: dict[str, int]) -> None:
        """The move from the recorded state to `state`, its cause read from the counters."""
        if seen.state == state:
            return
        if seen.state == "reserved":
            if state == "buried":
                cause = "bury"
            elif state == "delayed":
                cause = "release"
            else:
                cause = next((c for c, k in (("ttr-expired", "timeouts"),
                                             ("release", "releases")) if left[k] > 0),
                             "connection-closed")
            counter = {"bury": "buries", "release": "releases", "ttr-expired": "timeouts"}
            if cause in counter:
                left[counter[cause]] -= 1
            self._move(t, job, seen, state, cause, seen.holder)
        else:  # delayed or buried, to ready (or delayed): its delay ended, or a kick
            kicked = left["kicks"] > 0
            left["kicks"] -= kicked
            self._move(t, job, seen, state, "kick" if kicked else "delay-matured",
                       UNKNOWN if kicked else "")

    def _move(self, t: float, job: int, seen: Seen, dst: str, cause: str, actor: Actor) -> None:
        self._emit(t, job, seen.state, dst, cause, actor)
        seen.state = dst

    def _emit(self, t: float, job: int, src: str, dst: str, cause: str, actor: Actor) -> None:
        self._events.append([round(t * NS), job, self.jobs[job].tube, src, dst, cause, actor])
        self._cond.notify_all()

    # ---- reading it -----------------------------------------------------------------------
    def _name(self, actor: Actor) -> str:
        if isinstance(actor, str):
            return actor
        return self._names.get(actor, UNKNOWN)

    def _earlier(self, events: list[list[Any]]) -> None:
        """Move each reserve back to when its worker had the job, if the observer saw it
        later, with the moves seen in the same look (a hand-back just before it); never
        before the job's previous move, and to that move's time if within SNAP of it (the
        server handed the job to a waiting worker as part of that move: a put, or a job
        handed back)."""
        moves: dict[int, list[list[Any]]] = {}
        for ev in events:
            if ev[DST]:
                moves.setdefault(ev[JOB], []).append(ev)
        for job_moves in moves.values():
            seen = [ev[TIME] for ev in job_moves]  # when the observer saw each
            for i, ev in enumerate(job_moves):
                had = self._reserved_at.get(ev[ACTOR]) if ev[CAUSE] == "reserve" else None
                if had is None or round((had - self.t0) * NS) >= seen[i]:
                    continue
                first = i
                while first > 0 and seen[first - 1] == seen[i]:
                    first -= 1
                floor = job_moves[first - 1][TIME] if first else 0
                when = max(floor, round((had - self.t0) * NS))
                for m in job_moves[first:i + 1]:
                    m[TIME] = floor if when - floor < SNAP * NS else when

    def trace(self) -> Trace:
        """Everything recorded so far, in time order (the simulator's trace format)."""
        with self._cond:
            events = [list(ev) for ev in self._events]
            self._earlier(events)
            raw = [(t, j, tube, src, dst, cause, self._name(actor))
                   for t, j, tube, src, dst, cause, actor in events]
        raw.sort(key=itemgetter(TIME))
        return Trace(raw, {"live": True, "watch": True, "tube": self.tube})

    def state(self, job: int) -> str:
        """The job's state as last seen (deleted once the server no longer knows it)."""
        with self._cond:
            return self.jobs[job].state

    def holder(self, job: int) -> str | None:
        """Who holds the job, as last seen (None unless reserved)."""
        with self._cond:
            seen = self.jobs[job]
            return self._name(seen.holder) if seen.state == "reserved" else None

    def wait_for(self, job: int, state: str, *, by: str | None = None, within: float = 10.0
                 ) -> Record:
        """Wait (up to `within` seconds) until the server has the job in `state` (held `by`
        that worker, if given); the move that took it there."""
        self._poll_on()

        def arrived() -> bool:
            seen = self.jobs[job]
            return seen.state == state and (by is None or self._name(seen.holder) == by)

        def named() -> bool:  # who made the move, once that worker's report is in
            actor = next(ev[ACTOR] for ev in reversed(self._events)
                         if ev[JOB] == job and ev[DST])
            return not isinstance(actor, tuple) or actor in self._names

        with self._cond:
            if not self._cond.wait_for(arrived, within):
                raise TimeoutError(f"job {job} is {self.jobs[job].state}, not {state}"
                                   f"{f' held by {by}' if by else ''}, after {within:g} s")
            self._cond.wait_for(named, 1.0)
        return next(r for r in reversed(list(self.trace())) if r.job == job and r.dst == state)

    def settle(self, polls: int = 2, within: float = 2.0) -> None:
        """Wait until `polls` more rounds of stats-job have been made (what just happened is
        then in the trace)."""
        self._poll_on()
        thread = self._thread
        with self._cond:
            goal = self.polls + polls
            self._cond.wait_for(lambda: self.polls >= goal or not (thread and thread.is_alive()),
                                within)

    def history(self, job: int) -> str:
        """The job's story in words, one line per event, as the server showed it."""
        from stalksim.live.jobview import history

        return history(self, job)

    # ---- the end ----------------------------------------------------------------------
    def close(self) -> None:
        """End every worker process (by pid), delete what is left of the jobs, stop."""
        for w in self.workers:
            w.close()
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for job, seen in list(self.jobs.items()):
            if seen.state != "deleted":
                try:
                    self.producer.delete(job)
                except (OSError, greenstalk.Error):
                    pass
        for c in (self.producer, self._observer):
            try:
                c.close()
            except OSError:
                pass
        _open.discard(self)

    def __enter__(self) -> JobWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@atexit.register
def _close_all() -> None:
    for watch in list(_open):
        watch.close()
