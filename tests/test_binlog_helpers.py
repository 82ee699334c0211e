"""Shared by the binlog tests: a real beanstalkd on a binlog directory, and its jobs as values.

(No tests here: pytest collects the module and finds none.)
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import greenstalk

from stalksim.binlog import JobImage, Restored
from tests.realserver import RealBeanstalkd

NS = 1_000_000_000


@dataclass
class RealRun:
    """A beanstalkd started on a directory; ``stderr`` is filled in when it is stopped."""

    server: RealBeanstalkd
    stderr: str = ""

    def client(self) -> greenstalk.Client:
        return greenstalk.Client(self.server.address, encoding=None)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc = self.server.proc
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        proc.wait(timeout=10)
        assert proc.stderr is not None
        self.stderr = proc.stderr.read().decode()
        proc.stderr.close()
        self.server.proc = None


@contextmanager
def real_on(directory: str, *args: str) -> Iterator[RealRun]:
    """``beanstalkd -b directory *args``, stopped with SIGTERM at the end if still running."""
    run = RealRun(RealBeanstalkd("-b", directory, *args).start())
    try:
        yield run
    finally:
        run.stop()


def copy_dir(src: str, dst: str) -> str:
    """A copy of a binlog directory (binlog files only; a restart must not touch the original)."""
    os.makedirs(dst)
    for name in os.listdir(src):
        if name.startswith("binlog."):
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
    return dst


def stderr_lines(text: str) -> list[str]:
    """beanstalkd's warnings without the program name (and without source positions)."""
    out = []
    for line in text.splitlines():
        if ": " in line and line.split(": ", 1)[0].endswith("beanstalkd"):
            line = line.split(": ", 1)[1]
        out.append(line)
    return out


@dataclass(frozen=True)
class ServerJob:
    """A job as stats-job and peek show it."""

    id: int
    tube: str
    state: str
    pri: int
    delay: int
    ttr: int
    time_left: int
    file: int
    reserves: int
    timeouts: int
    releases: int
    buries: int
    kicks: int
    body: bytes


def server_jobs(c: greenstalk.Client, ids: Iterable[int]) -> dict[int, ServerJob]:
    """Every job among ``ids`` the server holds."""
    out = {}
    for i in ids:
        try:
            s = c.stats_job(i)
        except greenstalk.NotFoundError:
            continue
        body = c.peek(i).body
        out[i] = ServerJob(
            i, s["tube"], s["state"], s["pri"], s["delay"], s["ttr"], s["time-left"],
            s["file"], s["reserves"], s["timeouts"], s["releases"], s["buries"], s["kicks"],
            body,
        )
    return out


def mismatches(restored: Restored, real: dict[int, ServerJob], slack_s: int = 2) -> list[str]:
    """Every difference between what read() restored and what a restarted beanstalkd holds."""
    out = []
    mine = restored.by_id()
    if set(mine) != set(real):
        out.append(f"ids: read {sorted(mine)} real {sorted(real)}")
    for i in sorted(set(mine) & set(real)):
        out += [f"job {i}: {d}" for d in job_differences(mine[i], real[i], restored.now_ns,
                                                          slack_s)]
    return out


def job_differences(j: JobImage, s: ServerJob, now_ns: int, slack_s: int) -> list[str]:
    """The fields of one job that differ (time-left within ``slack_s`` seconds)."""
    want = {
        "tube": j.tube, "state": j.state, "pri": j.priority, "delay": j.delay_ns // NS,
        "ttr": j.ttr_ns // NS, "file": j.file, "reserves": j.reserves,
        "timeouts": j.timeouts, "releases": j.releases, "buries": j.buries, "kicks": j.kicks,
        "body": j.body,
    }
    out = [f"{k}: read {v!r} real {getattr(s, k)!r}" for k, v in want.items()
           if getattr(s, k) != v]
    left = j.delay_left_ns(now_ns) // NS
    if abs(left - s.time_left) > slack_s:
        out.append(f"time-left: read {left} real {s.time_left}")
    return out
