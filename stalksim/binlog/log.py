"""The binlog directory as beanstalkd 1.12 keeps it in memory, and reading it back.

beanstalkd counts, for each ``binlog.N``, the live jobs whose latest full record lies in it
(plus one while the file is open for writing or being read). When that count drops to 0 and
the file is the oldest, the file is deleted, and so on for the next oldest ("gc"). Reading a
directory replays every file in order through the same counts, so a file holding only dead
jobs is deleted as soon as the server starts. ``Log`` is that bookkeeping; ``read_dir`` the
replay, with beanstalkd's rules for damaged files (see docs/binlog.md):

- a file whose first 4 bytes are not version 5 or 7 is skipped whole;
- a file ends at its first record with id 0 (the zero fill) or at a clean end of file;
- a record cut short, a name length out of range, a body larger than -z, or an unknown
  state ends the reading of that file; the job whose record was damaged is dropped (even if
  an earlier file restored it), the records before it stand, and the next file is read;
- a short record for a job no full record introduced is ignored;
- a later record that makes a job's body bigger: beanstalkd 1.12 overruns its memory there
  (it aborts); read() warns as beanstalkd's own check means to and drops the job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from stalksim.binlog import format as fmt
from stalksim.binlog.format import Jobrec
from stalksim.binlog.model import JobImage, Restored

_SUFFIX = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")  # what strtol takes whole


@dataclass(eq=False)
class LogFile:
    """One ``binlog.N``: its reference count and the jobs whose full record it holds."""

    seq: int
    path: str
    refs: int = 0
    jobs: dict[int, None] = field(default_factory=dict)  # ordered: oldest full record first
    fd: int | None = None
    free: int = 0  # bytes not yet written nor reserved (files open for writing)
    resv: int = 0  # bytes reserved for records to come


@dataclass(eq=False)
class LogJob:
    """A live job: its current record, tube name, stored body and where its full record is."""

    rec: Jobrec
    tube: bytes
    body: bytes  # the job's body buffer, sized by its first full record, with "\r\n"
    file: LogFile | None = None
    used: int = 0  # bytes of its records counted as alive


class Log:
    """Files oldest first, live jobs by id, and the bytes they keep alive."""

    def __init__(self, directory: str, unlink: bool) -> None:
        self.dir = directory
        self.unlink = unlink  # False: only note what beanstalkd would delete
        self.files: list[LogFile] = []
        self.jobs: dict[int, LogJob] = {}
        self.alive = 0
        self.removed: list[int] = []  # files deleted (or, unlink False, due for deletion)
        self.next_seq = 1  # the N of the next binlog.N to open for writing
        self.next_id = 1  # the id the next put gets

    def path(self, seq: int) -> str:
        return os.path.join(self.dir, f"binlog.{seq}")

    def incref(self, f: LogFile | None) -> None:
        if f is not None:
            f.refs += 1

    def decref(self, f: LogFile | None) -> None:
        if f is not None:
            f.refs -= 1
            if f.refs < 1:
                self.gc()

    def gc(self) -> None:
        """Delete the oldest files while nothing refers to them."""
        while self.files and self.files[0].refs < 1:
            f = self.files.pop(0)
            self.removed.append(f.seq)
            if self.unlink:
                try:
                    os.unlink(f.path)
                except OSError:
                    pass

    def add_job(self, f: LogFile, job_id: int, job: LogJob) -> None:
        """Note that ``f`` now holds the job's full record."""
        job.file = f
        f.jobs[job_id] = None
        self.incref(f)

    def remove_job(self, f: LogFile | None, job_id: int, job: LogJob) -> None:
        """Forget that ``f`` holds the job's full record (the job died or moved on)."""
        if f is None or f is not job.file:
            return
        del f.jobs[job_id]
        job.file = None
        self.alive -= job.used
        job.used = 0
        self.decref(f)


def scan(directory: str) -> tuple[int, int]:
    """(lowest N, highest N + 1) of the ``binlog.N`` names, N read as C's strtol reads it."""
    low, high = 1 << 30, 0
    try:
        names = os.listdir(directory)
    except OSError:
        return low, 1
    for name in names:
        if not name.startswith("binlog."):
            continue
        rest = name[len("binlog."):]
        if rest and not _SUFFIX.fullmatch(rest):
            continue
        n = int(rest) if rest else 0
        low, high = min(low, n), max(high, n)
    return low, high + 1


class _Reader:
    """Reads one file's records into the log, as beanstalkd's fileread / readrec do."""

    def __init__(self, log: Log, f: LogFile, data: bytes, order: dict[int, None],
                 warn: Callable[[str], None], max_job_size: int) -> None:
        self.log, self.f, self.data, self.order = log, f, data, order
        self.warn, self.max_job_size = warn, max_job_size
        self.pos = 0
        self.err = False

    def take(self, n: int, what: str) -> bytes | None:
        """n bytes, or None (and a warning) if the file ends first."""
        got = self.data[self.pos:self.pos + n]
        if len(got) != n:
            self.warn(f"{self.f.path}:{self.pos}: unexpected EOF reading {n} bytes "
                      f"(got {len(got)}): {what}")
            self.err = True
            self.pos += len(got)
            return None
        self.pos += n
        return got

    def run(self) -> bool:
        """Read the file; True if anything went wrong."""
        head = self.take(4, "version")
        if head is None:
            return True
        (version,) = fmt.HEADER.unpack(head)
        if version not in (fmt.VERSION, fmt.VERSION5):
            self.warn(f"{self.f.path}: unknown version: {version}")
            return True
        self.log.incref(self.f)
        while self.record(version == fmt.VERSION5):
            pass
        self.log.decref(self.f)
        return self.err

    def record(self, v5: bool) -> bool:
        """Read one record; False when the file is done (cleanly or not)."""
        size_struct = fmt.NAMELEN5 if v5 else fmt.NAMELEN
        raw = self.data[self.pos:self.pos + size_struct.size]
        if len(raw) != size_struct.size:
            return False  # a clean end of file (a partial length is not reported either)
        self.pos += len(raw)
        start = self.pos
        (namelen,) = size_struct.unpack(raw)
        if namelen >= fmt.MAX_TUBE_NAME_LEN:
            self.warn(f"{self.f.path}:{start - len(raw)}: namelen {namelen} exceeds maximum "
                      f"of {fmt.MAX_TUBE_NAME_LEN - 1}")
            self.err = True
            return False
        if namelen < 0:
            self.warn(f"{self.f.path}:{start - len(raw)}: namelen {namelen} is negative")
            self.err = True
            return False
        sz = len(raw)
        name = b""
        if namelen:
            got = self.take(namelen, "v5 tube name" if v5 else "tube name")
            if got is None:
                return False
            name = got.split(b"\0")[0]  # beanstalkd looks the tube up as a C string
            sz += namelen
        size = fmt.JOBREC5.size if v5 else fmt.JOBREC.size
        got = self.take(size, "v5 job struct" if v5 else "job struct")
        if got is None:
            return False
        sz += size
        rec = Jobrec.unpack5(got) if v5 else Jobrec.unpack(got)
        if rec.id == 0:
            return False  # the zero fill after the last record
        return self.apply(rec, name, namelen > 0, sz, size, v5)

    def apply(self, rec: Jobrec, name: bytes, full: bool, sz: int, size: int, v5: bool) -> bool:
        log, jobs = self.log, self.log.jobs
        job = jobs.get(rec.id)
        if job is None and not full:
            return True  # its full record was in a file already deleted: the job is gone
        if rec.state == fmt.INVALID:
            if job is not None:
                self.drop(rec.id, job)
            return True
        if rec.state not in (fmt.READY, fmt.RESERVED, fmt.BURIED, fmt.DELAYED):
            return self.fail(rec.id, job)
        if rec.state == fmt.RESERVED:
            rec.state = fmt.READY
        if job is None:
            if rec.body_size & 0xFFFFFFFFFFFFFFFF > self.max_job_size:  # C compares as size_t
                self.warn(f"{self.f.path}:{self.pos - size}: job {rec.id} is too big "
                          f"({rec.body_size} > {self.max_job_size})")
                return self.fail(rec.id, None)
            job = LogJob(rec, name, bytes(max(rec.body_size, 0)))
            jobs[rec.id] = job
            log.next_id = max(log.next_id, rec.id + 1)
        elif _grows(rec.body_size, len(job.body)):
            # beanstalkd 1.12 checks this only after overwriting the old size, so its check
            # never fires and it reads past the job's buffer (seen: "malloc(): corrupted top
            # size", SIGABRT); here the check it meant to make stands.
            where = f"{self.f.path}:{self.pos - size}"
            self.warn(f"{where}: job {rec.id} size changed")
            self.warn(f"{where}: was {len(job.body)}, now {rec.body_size}")
            return self.fail(rec.id, job)
        job.rec = rec
        self.order.setdefault(rec.id, None)
        if full:
            body = self.take(rec.body_size, "v5 job body" if v5 else "job body")
            if body is None:
                return self.fail(rec.id, job)
            job.body = body + job.body[len(body):]  # read into the buffer the job has
            sz += rec.body_size
            log.remove_job(job.file, rec.id, job)
            log.add_job(self.f, rec.id, job)
        job.used += sz
        log.alive += sz
        return True

    def drop(self, job_id: int, job: LogJob) -> None:
        self.order.pop(job_id, None)
        self.log.remove_job(job.file, job_id, job)
        del self.log.jobs[job_id]

    def fail(self, job_id: int, job: LogJob | None) -> bool:
        self.err = True
        if job is not None:
            self.drop(job_id, job)
        return False


def _grows(new: int, old: int) -> bool:
    """Whether a job's body size grows (compared as C's unsigned sizes)."""
    mask = 0xFFFFFFFFFFFFFFFF
    return new & mask > old & mask


def read_dir(log: Log, warn: Callable[[str], None], max_job_size: int) -> dict[int, None]:
    """Replay every ``binlog.N`` of ``log.dir`` into ``log``; the jobs in replay order."""
    log.next_id = 1
    order: dict[int, None] = {}
    low, log.next_seq = scan(log.dir)
    err = False
    for seq in range(low, log.next_seq):
        path = log.path(seq)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            warn(f"open {path}: {e.strerror}")
            continue
        f = LogFile(seq, path)
        log.files.append(f)
        try:
            data = _read_all(fd)
        except OSError as e:
            warn(f"read: {e.strerror}")
            warn(f"{path}:0: error reading version")
            err = True
            continue
        finally:
            os.close(fd)
        err |= _Reader(log, f, data, order, warn, max_job_size).run()
    if err:
        warn("Errors reading one or more WAL files.")
        warn("Continuing. You may be missing data.")
    return order


def replay(log: Log, order: dict[int, None], now_ns: int, warnings: list[str]) -> Restored:
    """Turn the records read into the jobs the server holds after its start-up replay.

    A reserved job comes back ready; a delayed job whose deadline has passed comes back
    ready; a buried job is buried again, which counts one more bury (beanstalkd does that).
    """
    jobs = []
    for job_id in order:
        lj = log.jobs[job_id]
        body = lj.body[:lj.rec.body_size]  # a record's smaller size cuts what is served
        image = JobImage.from_record(lj.rec, lj.tube.decode("latin-1"), body,
                                     lj.file.seq if lj.file else 0)
        jobs.append(image.after_restart(now_ns))
    seen = sorted({f.seq for f in log.files} | set(log.removed))
    return Restored(jobs, log.next_id, warnings, now_ns, seen, list(log.removed))


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)
