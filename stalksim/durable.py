"""A core server that keeps beanstalkd 1.12's binlog (`beanstalkd -b DIR`), and its restart.

    from stalksim import durable
    log = durable.attach(server, "wal", size=10 << 20, fsync_ms=50, now_ns=time.time_ns())
    for line in log.warnings: print(line)      # what the read of DIR complained about
    ...                                         # every put, bury, kick, delete... is logged
    log.close()

`attach` restores the jobs in DIR into an empty server (same ids, tubes, states: a reserved
job comes back ready; priorities, remaining delays, TTRs, bodies, buried jobs; the next id
continues), then journals every job transition to a `binlog.Writer`, as beanstalkd writes
them (`binlog.logged`). The core's clock maps onto wall-clock time by one offset fixed at
attach: `now_ns` is the wall-clock time of the server's `now`.

`MemoryJournal` is the simulator's model of the same binlog (no files): what each job's
logged writes were and when, so that `Simulation.restart` can bring the jobs back, losing the
writes of the last `lost_ms` as `-f` allows.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from typing import NamedTuple

from stalksim import binlog
from stalksim.binlog import JobImage
from stalksim.core import DELAYED, DELETED, RESERVED, SEC, Server
from stalksim.core.model import Job
from stalksim.core.restore import restore_job
from stalksim.core.state import State

__all__ = ["BinlogError", "Binlog", "MemoryJournal", "attach", "image", "restore"]


_ATTACHED: set[str] = set()  # directories this process journals to (real paths)


class BinlogError(Exception):
    """A binlog directory that cannot be used (one line, beanstalkd's wording)."""


def image(job: Job, state: str, offset: int = 0) -> JobImage:
    """The binlog's values of a core job in `state`; times are the core's plus `offset` ns."""
    deadline = job.deadline + offset if state in (DELAYED, RESERVED) else 0
    return JobImage(
        id=job.id, tube=job.tube.name, priority=job.pri, ttr_ns=job.ttr * SEC, body=job.body,
        state=state, delay_ns=job.delay * SEC, created_at_ns=job.created_at + offset,
        deadline_at_ns=deadline, reserves=job.reserves, timeouts=job.timeouts,
        releases=job.releases, buries=job.buries, kicks=job.kicks,
    )


def written(cause: str, dst: str) -> bool:
    """Whether beanstalkd writes a record for this transition (a release is written only
    when it delays the job)."""
    return binlog.logged(cause, SEC if dst == DELAYED else 0)


def restore(server: State, images: list[JobImage], offset: int = 0,
            src: dict[int, str] | None = None) -> None:
    """Put restored jobs (as `binlog.read` gives them: replay order, restart states) into the
    server; `src` is each job's state before, for the trace ("new" when not given)."""
    src = src or {}
    for j in images:
        restore_job(
            server, j.id, j.tube, pri=j.priority, delay=j.delay_ns // SEC,
            ttr=j.ttr_ns // SEC, body=j.body, kind=j.state,
            created_at=j.created_at_ns - offset, deadline=j.deadline_at_ns - offset,
            counts=(j.reserves, j.timeouts, j.releases, j.buries, j.kicks),
            src=src.get(j.id, "new"))


class Binlog:
    """The journal of one server into one binlog directory (set as `server.journal`)."""

    def __init__(self, server: Server, writer: binlog.Writer, offset: int, key: str = ""
                 ) -> None:
        self.server = server
        self._key = key
        self.writer = writer
        self.offset = offset
        self.restored = writer.restored
        #: What reading the directory warned about (beanstalkd's own lines), then any write
        #: that failed (after which, like beanstalkd, nothing more is logged).
        self.warnings: list[str] = list(writer.restored.warnings)

    def __call__(self, state: State, job_id: int, cause: str, src: str, dst: str) -> None:
        w = self.writer
        try:
            if dst == DELETED:
                w.delete(job_id)
                return
            job = state.jobs[job_id]
            if cause == "put":
                w.put(image(job, dst, self.offset))
            else:
                w.update(image(job, dst, self.offset), write=written(cause, dst))
        except (OSError, KeyError, ValueError) as e:
            self.warnings.append(f"binlog: job {job_id} {cause}: {e}")

    def binlog_stats(self) -> tuple[int, int, int, int, int]:
        """stats' binlog-oldest-index, -current-index, -records-migrated, -records-written
        and -max-size, as beanstalkd counts them."""
        w = self.writer
        seqs = w.file_numbers
        current = w.cur.seq if w.use and w.cur is not None else 0
        return (seqs[0] if seqs else 0, current, w.migrations, w.records, w.size)

    def close(self) -> None:
        """Stop journaling; sync and close the current file (as a clean shutdown would)."""
        if self.server.journal is self:
            self.server.journal = None
        self.writer.close()
        _ATTACHED.discard(self._key)


def attach(server: Server, dir: str, *, size: int = binlog.DEFAULT_FILE_SIZE,
           fsync_ms: int | None = None, now_ns: int) -> Binlog:
    """Restore the jobs in `dir` into the empty `server`, then journal to `dir` (`-s size`,
    `-f fsync_ms`; None is `-F`). Raises BinlogError if `dir` cannot be used."""
    if server.jobs:
        raise BinlogError("attach() needs a server without jobs (it restores them)")
    offset = now_ns - server.now
    key = os.path.realpath(dir)
    try:
        if key in _ATTACHED:  # fcntl locks are per process: a second attach would not fail
            raise OSError(errno.EAGAIN, "locked")
        if not os.path.isdir(dir):
            err = errno.ENOTDIR if os.path.exists(dir) else errno.ENOENT
            raise OSError(err, f"open: {os.strerror(err)}")
        writer = binlog.Writer(dir, size=size, fsync_ms=fsync_ms,
                               clock=lambda: server.now + offset,
                               max_job_size=server.max_job_size)
    except OSError as e:
        why = e.strerror or str(e)
        if e.errno == errno.EAGAIN:
            why = f"fcntl: {os.strerror(errno.EAGAIN)}"
        elif not why.startswith(("open", "cannot")):
            why = f"open: {why}"
        raise BinlogError(f"failed to lock wal dir {dir}: {why}"
                          if "cannot open" not in why else why) from None
    _ATTACHED.add(key)
    log = Binlog(server, writer, offset, key)
    restore(server, writer.restored.jobs, offset)
    server.next_id = max(server.next_id, writer.restored.next_id)
    server.journal = log
    return log


_WRITTEN = frozenset({"bury", "kick", "kick-job"})  # and a put, a delete, a delayed release


class _Tube(NamedTuple):
    name: str


class _Fixed(NamedTuple):
    """The values of a restored job that never change (what a core Job offers)."""

    tube_name: str
    ttr: int
    body: bytes
    created_at: int

    @property
    def tube(self) -> _Tube:
        return _Tube(self.tube_name)


class MemoryJournal:
    """The simulator's binlog model, no files: each live job's last logged write, and an undo
    log of the writes of the last `window_ns` (at most `max_undo` of them).

    `survivors(now, lost_ns)` is what a restart at `now` finds when every write after
    `now - lost_ns` never reached the disk: each job as its last write at or before that time
    left it (a job whose put is later is lost; a delete that is later comes undone; a later
    bury, kick or delayed release is undone). Values are plain tuples.
    """

    def __init__(self, window_ns: int, max_undo: int = 1 << 16) -> None:
        self.window_ns = window_ns
        self.max_undo = max_undo
        #: id -> (the job: its tube, ttr, body, created_at never change;
        #:        (state, pri, delay, deadline, *counts) of its last write)
        self.jobs: dict[int, tuple[Job | _Fixed, tuple]] = {}
        #: (time, id, what the job was before this write: None if not on disk)
        self.undo: deque[tuple[int, int, tuple | None]] = deque()
        self.kept_from = -1  # writes at or before this time are out of the undo log
        self.top = 0  # the highest id whose put was written

    def __call__(self, state: State, job_id: int, cause: str, src: str, dst: str) -> None:
        if dst == "deleted":
            entry = self.jobs.pop(job_id, None)
        elif cause == "put":  # a new job: its counters are 0
            j = state.jobs[job_id]
            self.jobs[job_id] = (j, (dst, j.pri, j.delay, j.deadline if dst == "delayed" else 0,
                                     0, 0, 0, 0, 0))
            if job_id > self.top:
                self.top = job_id
            entry = None
        elif cause in _WRITTEN or (cause == "release" and dst == "delayed"):
            j = state.jobs[job_id]
            entry = self.jobs.get(job_id)
            self.jobs[job_id] = (j, (dst, j.pri, j.delay, j.deadline if dst == "delayed" else 0,
                                     j.reserves, j.timeouts, j.releases, j.buries, j.kicks))
        else:
            return
        undo = self.undo
        t = state.now
        undo.append((t, job_id, entry))
        if undo[0][0] < t - 2 * self.window_ns or len(undo) > self.max_undo:
            old = t - self.window_ns
            while undo and (undo[0][0] <= old or len(undo) > self.max_undo):
                self.kept_from = max(self.kept_from, undo.popleft()[0])

    def seed(self, images: list[JobImage]) -> None:
        """Jobs restored at start-up: on disk already (no later loss undoes them)."""
        for j in images:
            self.jobs[j.id] = (_Fixed(j.tube, j.ttr_ns // SEC, j.body, j.created_at_ns),
                               (j.state, j.priority, j.delay_ns // SEC, j.deadline_at_ns,
                                j.reserves, j.timeouts, j.releases, j.buries, j.kicks))
            self.top = max(self.top, j.id)

    def survivors(self, now: int, lost_ns: int) -> tuple[list[JobImage], int]:
        """The jobs a restart at `now` restores (by id, restart states) and the next id: one
        past the highest id whose put reached the disk (deleted jobs count while a live job
        keeps the files), or 1 when no job is left."""
        cut = now - lost_ns
        if lost_ns > self.window_ns or (lost_ns and cut < self.kept_from):
            raise ValueError(f"lost_ms={lost_ns / 1e6:g} reaches back past the writes the "
                             f"simulator keeps ({self.window_ns / 1e6:g} ms, at most "
                             f"{self.max_undo} writes)")
        jobs = dict(self.jobs)
        lost_puts = []
        for t, job_id, before in reversed(self.undo):
            if t <= cut:
                break
            if before is None:  # its put
                jobs.pop(job_id, None)
                lost_puts.append(job_id)
            else:
                jobs[job_id] = before
        # ids grow with put time, so the lost puts are the newest ids
        top = min(lost_puts) - 1 if lost_puts else self.top
        top = max(top, max(jobs, default=0))
        out = []
        for job_id in sorted(jobs):  # replay order: the puts' (ids grow with put time)
            f, (st, pri, delay, deadline, *n) = jobs[job_id]
            out.append(JobImage(
                id=job_id, tube=f.tube.name, priority=pri, ttr_ns=f.ttr * SEC, body=f.body,
                state=st, delay_ns=delay * SEC, created_at_ns=f.created_at,
                deadline_at_ns=deadline,
                reserves=n[0], timeouts=n[1], releases=n[2], buries=n[3],
                kicks=n[4]).after_restart(now))
        # beanstalkd deletes the files once no live job is left in them, and the newest file
        # (holding the newest put) is the last to go: with no job left, ids start at 1 again
        return out, top + 1 if out else 1
