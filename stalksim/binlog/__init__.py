"""beanstalkd 1.12's binlog (``beanstalkd -b DIR``), read and written in its own format.

    from stalksim import binlog
    restored = binlog.read("/var/lib/beanstalkd")     # what beanstalkd would restore
    with binlog.Writer(d, size=10 << 20, fsync_ms=50) as w:   # what beanstalkd would write
        w.put(binlog.JobImage(id=1, tube="default", priority=0, ttr_ns=60 * 10**9, body=b"x"))
        w.update(...)   # after a bury, a kick, or a release with a delay (see ``logged``)
        w.delete(1)

The API takes and gives plain values (``JobImage``), never the simulator's objects. The format
is described in ``stalksim.binlog.format`` and docs/binlog.md.
"""

from __future__ import annotations

import time

from stalksim.binlog import format
from stalksim.binlog.format import DEFAULT_FILE_SIZE, DEFAULT_FSYNC_MS, DEFAULT_MAX_JOB_SIZE
from stalksim.binlog.log import Log, read_dir, replay
from stalksim.binlog.model import JobImage, Restored
from stalksim.binlog.writer import NoSpace, Writer

__all__ = [
    "DEFAULT_FILE_SIZE", "DEFAULT_FSYNC_MS", "DEFAULT_MAX_JOB_SIZE", "JobImage", "NoSpace",
    "Restored", "Writer", "format", "logged", "read", "replay",
]

_LOGGED = frozenset({"put", "bury", "kick", "kick-job", "delete"})


def logged(cause: str, delay_ns: int = 0) -> bool:
    """Whether beanstalkd writes a record for a transition with this trace ``cause``.

    A put, a bury, a kick (of a buried or a delayed job), a delete, and a release with a
    delay are written; a reserve, a touch, a release without delay, a TTR expiry, a closed
    connection's jobs going back and a delay running out are not.
    """
    return cause in _LOGGED or (cause == "release" and delay_ns > 0)


def read(directory: str, now_ns: int | None = None,
         max_job_size: int = DEFAULT_MAX_JOB_SIZE) -> Restored:
    """The jobs ``beanstalkd -b directory -z max_job_size`` would restore at ``now_ns``.

    Nothing is changed on disk (beanstalkd would delete the files listed in ``unused``).
    Damaged files give warnings, as beanstalkd's do, never an exception.
    """
    log = Log(directory, unlink=False)
    warnings: list[str] = []
    order = read_dir(log, warnings.append, max_job_size)
    return replay(log, order, time.time_ns() if now_ns is None else now_ns, warnings)
