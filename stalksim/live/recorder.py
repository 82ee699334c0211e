"""A trace recorded from what live clients observe, in the simulator's Record format.

Clients see their own puts, reserves, deletes, releases, buries, touches and kicks. What the
server does on its own is inferred from beanstalkd's rules: a delayed job is ready at put (or
release) time + delay; a job reserved by a worker that closed its connection is ready at once
(connection-closed); a job reserved again, or whose delete says NOT_FOUND, while its holder kept
it past its TTR went back at reserve (or last touch) + TTR (ttr-expired).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from stalksim.trace import NS, TIME, RawEvent, Trace


@dataclass
class _Job:
    n: int  # the job's id in the trace: 1, 2, ... in put order
    tube: str
    ttr: float  # scenario seconds
    state: str = "new"
    holder: str = ""
    deadline: float = 0.0  # reserved: TTR runs out; delayed: ready again
    due: float = 0.0


class Recorder:
    """Thread-safe: every client thread records through one Recorder (hold `lock` around a
    command and its record, so events are recorded in the order the server saw them)."""

    def __init__(self, speed: float, meta: dict[str, Any] | None = None) -> None:
        self.speed = speed
        self.meta = dict(meta or {})
        self.lock = threading.RLock()
        self.raw: list[RawEvent] = []
        self.jobs: dict[int, _Job] = {}  # by live id
        self.buried: dict[str, list[int]] = {}
        self.open = True
        self.t0: float | None = None  # set by start()

    def start(self) -> None:
        """Start the scenario clock: time 0 is now."""
        self.t0 = time.monotonic()

    def now(self) -> float:
        """Scenario seconds since `start()` (real seconds times speed); 0 before it."""
        return 0.0 if self.t0 is None else (time.monotonic() - self.t0) * self.speed

    def _emit(self, t: float, job: _Job | None, src: str, dst: str, cause: str, actor: str,
              tube: str = "") -> None:
        """Record one event; a transition (`dst` set) moves `job`, a mark only names it."""
        if self.open:
            self.raw.append((round(t * NS), job.n if job else 0, job.tube if job else tube,
                             src, dst, cause, actor))
        if job is not None and dst:
            job.state = dst

    def _catch_up(self, job: _Job, t: float) -> None:
        """Record what the server did to `job` by itself before `t`."""
        if job.state == "delayed" and job.due <= t:
            self._emit(job.due, job, "delayed", "ready", "delay-matured", "")
        if job.state == "reserved" and job.deadline <= t:
            self._emit(job.deadline, job, "reserved", "ready", "ttr-expired", job.holder)

    def _to(self, job: _Job, t: float, dst: str, cause: str, actor: str, delay: float = 0.0
            ) -> None:
        self._emit(t, job, job.state, dst, cause, actor)
        if dst == "delayed":
            job.due = t + delay
        elif dst == "reserved":
            job.holder, job.deadline = actor, t + job.ttr
        elif dst == "buried":
            self.buried.setdefault(job.tube, []).append(id(job))

    # ---- what clients saw -----------------------------------------------------------------
    def put(self, actor: str, live_id: int, tube: str, delay: float, ttr: float) -> None:
        with self.lock:
            job = self.jobs[live_id] = _Job(len(self.jobs) + 1, tube, ttr)
            self._to(job, self.now(), "delayed" if delay else "ready", "put", actor, delay)

    def reserved(self, actor: str, live_id: int) -> None:
        with self.lock:
            job, t = self.jobs.get(live_id), self.now()
            if job is not None:  # not one of this run's jobs: ignore
                # the server handed it out, so by its clock the TTR (or the delay) had run
                # out: our clock starts both a little after the server does
                if job.state == "reserved":
                    job.deadline = min(job.deadline, t)
                elif job.state == "delayed":
                    job.due = min(job.due, t)
                self._catch_up(job, t)
                self._to(job, t, "reserved", "reserve", actor)

    def touched(self, actor: str, live_id: int) -> None:
        with self.lock:
            job, t = self.jobs[live_id], self.now()
            self._emit(t, job, "reserved", "reserved", "touch", actor)
            job.deadline = t + job.ttr

    def finished(self, actor: str, live_id: int, dst: str, cause: str, delay: float = 0.0,
                 sent: float | None = None) -> None:
        """delete (dst "deleted"), release (ready/delayed) or bury (buried), sent at `sent`.

        A delete sent after the job's TTR ran out succeeds too (any client may delete a ready
        job), so the expiry is recorded first; release and bury would have said NOT_FOUND.
        """
        with self.lock:
            job, t = self.jobs[live_id], self.now()
            if dst == "deleted":
                self._catch_up(job, t if sent is None else sent)
            self._to(job, t, dst, cause, actor, delay)

    def deadline(self, live_id: int) -> float | None:
        """When the TTR of reserved job `live_id` runs out (scenario seconds), else None."""
        with self.lock:
            job = self.jobs.get(live_id)
            return job.deadline if job is not None and job.state == "reserved" else None

    def not_found(self, actor: str, live_id: int) -> None:
        """Our command on our job said NOT_FOUND: its TTR ran out while we worked."""
        with self.lock:
            job, t = self.jobs[live_id], self.now()
            if job.state == "reserved" and job.holder == actor:
                job.deadline = min(job.deadline, t)
            self._catch_up(job, t)
            self._emit(t, job, "", "", "not-found", actor)

    def closed(self, actor: str, t: float) -> None:
        """`actor`'s connection closed at `t`: the jobs it held are ready again at once."""
        with self.lock:
            for job in self.jobs.values():
                if job.state == "reserved" and job.holder == actor and job.deadline > t:
                    self._to(job, t, "ready", "connection-closed", actor)

    def kicked(self, actor: str, tube: str, count: int) -> None:
        with self.lock:
            t, queue = self.now(), self.buried.get(tube, [])
            by_key = {id(j): j for j in self.jobs.values()}
            for key in queue[:count]:
                self._to(by_key[key], t, "ready", "kick", actor)
            del queue[:count]

    def paused(self, actor: str, tube: str, seconds: float) -> None:
        with self.lock:
            t = self.now()
            self._emit(t, None, "", "", "pause", actor, tube)
            self._emit(t + seconds, None, "", "", "pause-ended", "", tube)

    def mark(self, actor: str, cause: str, t: float, live_id: int | None = None) -> None:
        """A worker mark (crash, hang, wake, deadline-soon) at scenario time `t`."""
        with self.lock:
            self._emit(t, self.jobs.get(live_id or 0), "", "", cause, actor)

    def finish(self, until: float) -> Trace:
        """Stop recording; infer what happened by `until`; the trace sorted by time."""
        with self.lock:
            for job in self.jobs.values():
                self._catch_up(job, until)
            self.open = False
            end = round(until * NS)
            raw = sorted((ev for ev in self.raw if ev[TIME] <= end), key=itemgetter(TIME))
            return Trace(raw, self.meta)
