"""Writing a binlog directory the way beanstalkd 1.12 does (its walg.c / file.c, in Python).

Space is reserved before anything is written, so a record never has to be split across files
and a delete always has room: a put reserves its full record plus one short record (for its
delete), a state change reserves one more short record. When the current file cannot hold a
reservation a new ``binlog.N`` is opened, pre-filled with zeros to the file size (``-s``), and
reservations are shuffled so every file's reserved bytes stay a multiple of a short record.
A file is truncated to what it holds when writing moves on from it, and deleted once no live
job's full record lies in it and all older files are gone. After each write, while the files
hold more than twice as many unused bytes as live ones, the oldest file's oldest job is
copied (a fresh full record) into the current file, so old files empty and can go. fsync runs
after a write at most every ``fsync_ms`` ms (0: after every write; None, beanstalkd's -F: never).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable

from stalksim.binlog import format as fmt
from stalksim.binlog.log import Log, LogFile, LogJob, read_dir, replay
from stalksim.binlog.model import JobImage, Restored

_ZEROS = bytes(4096)


class NoSpace(OSError):
    """The binlog cannot reserve room for a record (beanstalkd answers OUT_OF_MEMORY)."""


class Writer(Log):
    """A binlog directory open for writing, like ``beanstalkd -b DIR -s SIZE -f MS``.

    Opening it locks ``DIR/lock`` (as beanstalkd does, so a real beanstalkd cannot share the
    directory), replays what is there (``self.restored``: those jobs stay live and keep their
    files), deletes the files no live job needs and opens the next ``binlog.N``.
    """

    def __init__(self, directory: str, size: int = fmt.DEFAULT_FILE_SIZE,
                 fsync_ms: int | None = fmt.DEFAULT_FSYNC_MS,
                 clock: Callable[[], int] = time.time_ns,
                 max_job_size: int = fmt.DEFAULT_MAX_JOB_SIZE) -> None:
        super().__init__(directory, unlink=True)
        self.size = size
        self.fsync_ns = None if fsync_ms is None else fsync_ms * 1_000_000
        self.clock = clock
        self.last_sync = 0
        self.resv = 0  # bytes reserved in all files
        self.migrations = 0
        self.records = 0
        self.warnings: list[str] = []
        self.use = True
        self._lock = _lock(directory)
        order = read_dir(self, self.warnings.append, max_job_size)
        self.restored: Restored = replay(self, order, clock(), list(self.warnings))
        if not self._open_next():
            os.close(self._lock)
            raise OSError(f"cannot open {self.path(self.next_seq)} for writing")
        self.cur = self.files[-1]
        for image in self.restored.jobs:  # as beanstalkd's replay: room for a delete, and
            self._reserve_or_fail(fmt.SHORT_RECORD_SIZE)  # the job as the replay leaves it
            self._take(self.jobs[image.id], image)

    # -- the public operations -------------------------------------------------------------

    def put(self, job: JobImage) -> None:
        """Log a new job (a full record): after a put, with the state the put gave it."""
        if job.id in self.jobs:
            raise ValueError(f"job {job.id} is already in the binlog")
        tube = job.tube.encode("latin-1")
        if len(tube) >= fmt.MAX_TUBE_NAME_LEN:
            raise ValueError(f"tube name longer than {fmt.MAX_TUBE_NAME_LEN - 1} bytes")
        lj = LogJob(job.jobrec(), tube, job.body + b"\r\n")
        self._reserve_or_fail(fmt.full_record_size(tube, lj.rec.body_size)
                              + fmt.SHORT_RECORD_SIZE)
        self.jobs[job.id] = lj
        self._write(job.id, lj)
        self._maintain()

    def update(self, job: JobImage, write: bool = True) -> None:
        """A state change of a logged job: a short record (bury, kick, release with a delay).

        ``write=False`` only takes the new values in memory, as beanstalkd's own job record
        changes on a reserve or a release without delay: they reach the file only if the job
        is later copied forward by compaction, or with its next short record.
        """
        lj = self._job(job.id)
        if write:
            self._reserve_or_fail(fmt.SHORT_RECORD_SIZE)
        self._take(lj, job)
        if write:
            self._write(job.id, lj)
            self._maintain()

    def delete(self, job_id: int) -> None:
        """Log a delete (a short record with state 0, in the room reserved at its put)."""
        lj = self._job(job_id)
        lj.rec.state = fmt.INVALID
        try:
            self._write(job_id, lj)
        finally:
            del self.jobs[job_id]
        self._maintain()

    def file_of(self, job_id: int) -> int:
        """The N of the ``binlog.N`` holding the job's full record (stats-job "file")."""
        f = self._job(job_id).file
        return f.seq if f else 0

    @property
    def file_numbers(self) -> list[int]:
        """The N of every ``binlog.N`` in use, oldest first."""
        return [f.seq for f in self.files]

    def close(self) -> None:
        """Sync (unless fsync_ms is None), truncate the current file as a rotation does, unlock."""
        if self._lock < 0:
            return
        if self.use and self.cur.fd is not None and self.fsync_ns is not None:
            os.fsync(self.cur.fd)
        self._close_file(self.cur)
        os.close(self._lock)
        self._lock = -1

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def _job(self, job_id: int) -> LogJob:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise KeyError(f"job {job_id} is not in the binlog") from None

    @staticmethod
    def _take(lj: LogJob, job: JobImage) -> None:
        """The job's new values in memory (its body, and so its size, stay the put's)."""
        rec = job.jobrec()
        rec.body_size = lj.rec.body_size
        lj.rec = rec

    def _write(self, job_id: int, lj: LogJob) -> None:
        """Append the job's record to the current file (full if no file holds it yet)."""
        if not self.use:
            return
        try:
            if not (self.cur.resv > 0 or self._use_next()):
                raise NoSpace(errno.ENOSPC, "no reserved room in the binlog")
            if lj.file is None:
                self.add_job(self.cur, job_id, lj)
                body = lj.body[:lj.rec.body_size]
                self._append(lj, fmt.full_record(lj.tube, lj.rec, body))
            else:
                self._append(lj, fmt.short_record(lj.rec))
                if lj.rec.state == fmt.INVALID:
                    self.remove_job(lj.file, job_id, lj)
        except OSError:
            self._close_file(self.cur)
            self.use = False  # beanstalkd stops logging altogether after a failed write
            raise
        finally:
            self.records += 1

    def _append(self, lj: LogJob, data: bytes) -> None:
        if os.write(self.cur.fd, data) != len(data):
            raise OSError(errno.EIO, "short write to the binlog")
        n = len(data)
        self.resv -= n
        self.cur.resv -= n
        lj.used += n
        self.alive += n

    def _maintain(self) -> None:
        """Compact, then fsync if the fsync interval has passed."""
        if not self.use:
            return
        r = self._ratio()
        while r >= 2:
            self._move_one()
            r -= 1
        now = self.clock()
        if self.fsync_ns is not None and now >= self.last_sync + self.fsync_ns:
            self.last_sync = now
            os.fsync(self.cur.fd)

    def _ratio(self) -> int:
        d = self.alive + self.resv
        if not d:
            return 0
        return int((len(self.files) * self.size - d) / d)  # C's division truncates

    def _move_one(self) -> None:
        """Copy the oldest file's oldest job forward, so that file can empty."""
        head = self.files[0]
        if head is self.cur or self.files[1] is self.cur:
            return
        if not head.jobs:
            self.warnings.append("head holds no jlist")
            return
        job_id = next(iter(head.jobs))
        lj = self.jobs[job_id]
        if not self._reserve(fmt.full_record_size(lj.tube, lj.rec.body_size)):
            return  # it does not fit now; a later write tries again
        self.remove_job(head, job_id, lj)
        self.migrations += 1
        self._write(job_id, lj)

    # -- files -----------------------------------------------------------------------------

    def _open_next(self) -> bool:
        """Open ``binlog.<next>``: zero-filled to the file size, then the version."""
        path = self.path(self.next_seq)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o400)
        except OSError as e:
            self.warnings.append(f"open {path}: {e.strerror}")
            return False
        try:
            done = 0
            while done < self.size:  # whole 4 KiB blocks, as beanstalkd's rawfalloc writes
                done += os.write(fd, _ZEROS)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, fmt.HEADER.pack(fmt.VERSION))
        except OSError as e:
            os.close(fd)
            os.unlink(path)
            self.warnings.append(f"falloc {path}: {e.strerror}")
            return False
        f = LogFile(self.next_seq, path, fd=fd, free=self.size - fmt.HEADER.size)
        self.incref(f)
        self.next_seq += 1
        self.files.append(f)
        return True

    def _close_file(self, f: LogFile) -> None:
        """Stop writing ``f``: cut its unused zero tail (reserved room stays) and close it."""
        if f.fd is None:
            return
        if f.free:
            os.ftruncate(f.fd, self.size - f.free)
        os.close(f.fd)
        f.fd = None
        self.decref(f)

    def _use_next(self) -> bool:
        i = self.files.index(self.cur)
        if i + 1 >= len(self.files):
            self.warnings.append("there is no next wal file")
            return False
        old, self.cur = self.cur, self.files[i + 1]
        self._close_file(old)
        return True

    # -- reservations ----------------------------------------------------------------------

    def _reserve_or_fail(self, n: int) -> None:
        if not self._reserve(n):
            raise NoSpace(errno.ENOSPC, f"cannot reserve {n} bytes in the binlog")

    def _need_free(self, n: int) -> bool:
        return self.files[-1].free >= n or self._open_next()

    @staticmethod
    def _move_resv(to: LogFile, frm: LogFile, n: int) -> None:
        frm.resv -= n
        frm.free += n
        to.resv += n
        to.free -= n

    def _reserve(self, n: int) -> bool:
        """Reserve n bytes, in the current file if they fit, else in a newer one."""
        if not self.use:
            return True
        if self.cur.free >= n:
            self.cur.free -= n
            self.cur.resv += n
            self.resv += n
            return True
        if not self._need_free(n):
            return False
        self.files[-1].free -= n
        self.files[-1].resv += n
        self.resv += n
        if not self._balance(n):
            self.resv -= n
            self.files[-1].resv -= n
            self.files[-1].free += n
            return False
        return True

    def _balance(self, n: int) -> bool:
        """Keep the current file's reservation >= n and every file's a multiple of a short
        record (n aside), moving reserved room between files (none is made or lost)."""
        while self.cur.resv < n:
            m = self.cur.resv
            if not self._need_free(m):
                return False
            self._move_resv(self.files[-1], self.cur, m)
            self._use_next()
        z = fmt.SHORT_RECORD_SIZE
        i = self.files.index(self.cur)
        while i < len(self.files):
            b = self.files[i]
            r = (b.resv - n) % z
            n = 0
            i += 1
            if r == 0:
                continue
            c = z - r
            tail = self.files[-1]
            if tail.resv >= c and b.free >= c:
                self._move_resv(b, tail, c)
                continue
            if not self._need_free(r):
                return False
            self._move_resv(self.files[-1], b, r)
        return True


def _lock(directory: str) -> int:
    """Take beanstalkd's write lock on ``DIR/lock`` (fcntl F_SETLK), or raise."""
    fd = os.open(os.path.join(directory, "lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OSError(errno.EAGAIN, f"failed to lock wal dir {directory}") from None
    return fd
