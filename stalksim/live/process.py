"""`WorkerProcess`: the lesson's consumer in a real process, which you can kill.

    a = stalksim.live.WorkerProcess(client, "worker-a", tube="photos", work=60)
    a.wait_for("reserved")       # its report: it holds a job now
    a.stop(); a.cont()           # SIGSTOP (frozen, socket open), SIGCONT (it goes on)
    a.kill()                     # SIGKILL (kill -9) by its pid: gone at once, socket closed

The process runs `python -m stalksim.live.child` (the consumer of `stalksim.consumer` with the
real-time driver of `stalksim.live.driver`) on its own connection, and reports each step and
each answer of the server over a pipe (`reports`). It runs in its own process group, so a
kernel interrupt (SIGINT to the kernel's group) does not reach it.

The parent opens that connection and hands it to the child (an inherited file descriptor),
keeping a copy for one thing: `nudge()`, a harmless `list-tube-used` on the connection of a
*stopped* worker whose job's TTR ran out while beanstalkd kept the job reserved. beanstalkd
1.12 (and 1.13) can let a silent holder's deadline pass for good: its timer fires in the very
microsecond of the deadline, finds the job not yet late (`deadline_at >= now`) and is not set
again (upstream issues 262 and 380); the holder's next command sets it again, and a stopped
process sends none. `kill()` closes the parent's copy before the SIGKILL, so the connection
closes when the process dies, as it would without the copy.

Every process is ended by its pid: by `close()`, at the end of a `with` block (an exception or
a KeyboardInterrupt included), when the object is collected, and at interpreter exit (a
`weakref.finalize`, which also runs at exit). Should the parent die without any of those (a
SIGKILL), the child sees its stdin close and exits; one that was stopped is woken by the
kernel's SIGHUP and SIGCONT to an orphaned process group, and dies of the SIGHUP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import greenstalk

from stalksim._browser import refuse
from stalksim.live import default_address

START_WITHIN = 15.0  # seconds a new process may take to connect and report "ready"
END_WITHIN = 3.0  # seconds after SIGTERM before SIGKILL
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the child imports this stalksim


@dataclass(frozen=True)
class Report:
    """One line the worker process wrote: what it did (`event`), on which job, the server's
    `answer` to a command, at `time` (time.monotonic(), the same clock in every process)."""

    time: float
    event: str
    job: int = 0
    answer: str | None = None
    reserves: int | None = None
    ttr: int | None = None

    @classmethod
    def parse(cls, line: str) -> Report:
        """A report from its JSON line (fields it does not know, such as `pid`, are dropped)."""
        d = json.loads(line)
        return cls(d["t"], d["event"], d.get("job") or 0, d.get("answer"), d.get("reserves"),
                   d.get("ttr"))


class Watcher(Protocol):
    """Told of a worker process's reports and of the signals sent to it (a `JobWatch`)."""

    def reported(self, worker: WorkerProcess, report: Report) -> None: ...

    def before_signal(self, worker: WorkerProcess, sig: str) -> None: ...

    def signalled(self, worker: WorkerProcess, sig: str, when: float) -> None: ...


def address_of(target: Any) -> tuple[str, int]:
    """(host, port) of a greenstalk.Client, an object with `.address`, or a (host, port);
    None: `default_address()`."""
    if target is None:
        return default_address()
    if isinstance(target, greenstalk.Client):
        return target._address
    address = getattr(target, "address", target)
    return (str(address[0]), int(address[1]))


def _end(proc: subprocess.Popen, conn: socket.socket) -> None:
    """End `proc` by its pid: SIGTERM (and SIGCONT, should it be stopped), then SIGKILL; reap
    it and close its pipes and our copy of its connection. Only a child not yet reaped is
    signalled (its pid is still ours)."""
    conn.close()
    if proc.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=END_WITHIN)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _read(ref: weakref.ref[WorkerProcess], out: IO[str]) -> None:
    """The reader thread: each report line to its WorkerProcess, until the pipe closes."""
    try:
        for line in out:
            worker = ref()
            if worker is None:
                return
            try:
                worker._received(Report.parse(line))
            except (ValueError, KeyError, TypeError):
                worker.stderr.append(f"(not a report) {line.rstrip()}")
            del worker
    except (OSError, ValueError):  # the pipe was closed under us: the process is ended
        pass
    finally:
        worker = ref()
        if worker is not None:
            worker._received(None)


def _drain(out: IO[str], keep: deque[str]) -> None:
    """Keep the last lines of the child's stderr (shown if it dies on its own)."""
    try:
        for line in out:
            keep.append(line.rstrip())
    except (OSError, ValueError):  # closed under us
        pass


class WorkerProcess:
    """A consumer process on `tube` of the beanstalkd at `target` (a greenstalk.Client, an
    (host, port), or None: `default_address()`), `work` seconds per job, called `name`.

    `kill()`, `stop()` and `cont()` send SIGKILL, SIGSTOP and SIGCONT to `pid`; `state` says
    running, stopped, killed or exited; `held` is the job it holds by its own reports. A
    `watcher` (a `JobWatch`) is told of each report and signal. In the browser it raises
    `NotInBrowser`.
    """

    def __init__(self, target: Any = None, name: str = "worker", *, tube: str = "default",
                 work: float = 1.0, watcher: Watcher | None = None) -> None:
        refuse("stalksim.live.WorkerProcess()")
        if not work >= 0:
            raise ValueError(f"work must be seconds >= 0, not {work!r}")
        self.address = address_of(target)
        self.name, self.tube, self.work = name, tube, work
        self.watcher = watcher
        self.reports: list[Report] = []
        self.signals: list[tuple[float, str]] = []  # (time.monotonic(), "SIGKILL"...)
        self.stderr: deque[str] = deque(maxlen=40)
        self._cond = threading.Condition()
        self._eof = False
        self._io = threading.Lock()  # a signal or a nudge at a time
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)}
        self._conn = socket.create_connection(self.address, timeout=5.0)
        try:
            self._conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            self._conn.settimeout(None)  # blocking: the child shares the descriptor's flags
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stalksim.live.child", str(self._conn.fileno()), name,
                 tube, repr(float(work))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=env, process_group=0, pass_fds=(self._conn.fileno(),))
        except BaseException:
            self._conn.close()
            raise
        self._finalizer = weakref.finalize(self, _end, self.proc, self._conn)  # at once
        try:
            for target_, args in ((_read, (weakref.ref(self), self.proc.stdout)),
                                  (_drain, (self.proc.stderr, self.stderr))):
                threading.Thread(target=target_, args=args, daemon=True,
                                 name=f"stalksim-{name}").start()
            self.wait_for("ready", within=START_WITHIN)
        except BaseException:  # KeyboardInterrupt included: no process is left behind
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __repr__(self) -> str:
        held = f", holds job {self.held}" if self.held else ""
        return f"<WorkerProcess {self.name} (pid {self.pid}): {self.state}{held}>"

    # ---- signals, by pid ---------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL (kill -9): the process dies at once, with no word to the server; the
        kernel closes its socket, which is all beanstalkd sees. Returns once it is reaped."""
        self._before("SIGKILL")
        with self._io:
            self._conn.close()  # the process's socket is then the connection's last
            self._signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGSTOP: the process is frozen where it is; its socket stays open, so beanstalkd
        cannot tell it from a slow worker. Returns once the kernel has stopped it."""
        self._before("SIGSTOP")
        with self._io:
            self._signal(signal.SIGSTOP)
            self._until_stopped(True)

    def cont(self) -> None:
        """SIGCONT: a stopped process goes on where it was (its clock did not stop)."""
        self._before("SIGCONT")
        with self._io:
            self._signal(signal.SIGCONT)
            self._until_stopped(False)

    def nudge(self) -> str:
        """While the process is stopped, send `list-tube-used` on its connection and read the
        answer (see the module: it makes beanstalkd run a deadline it let pass); the answer."""
        with self._io:
            if self.state != "stopped":
                raise RuntimeError(f"{self.name} is {self.state}: only a stopped worker's "
                                   "connection is free to nudge")
            self._conn.settimeout(2.0)
            try:
                self._conn.sendall(b"list-tube-used\r\n")
                answer = b""
                while not answer.endswith(b"\r\n"):
                    chunk = self._conn.recv(256)
                    if not chunk:
                        raise ConnectionError(f"{self.name}'s connection closed")
                    answer += chunk
            finally:
                self._conn.settimeout(None)  # blocking again before the process goes on
            return answer.decode().strip()

    def _signal(self, sig: signal.Signals) -> None:
        if self.proc.poll() is not None:
            raise ProcessLookupError(f"{self.name} (pid {self.pid}) is {self.state}")
        when = time.monotonic()
        os.kill(self.pid, sig)
        self.signals.append((when, sig.name))
        if self.watcher is not None:
            self.watcher.signalled(self, sig.name, when)

    def _before(self, sig: str) -> None:
        """Let the watcher look at the server before `sig` changes anything."""
        if self.watcher is not None and self.proc.poll() is None:
            self.watcher.before_signal(self, sig)

    def _until_stopped(self, stopped: bool, within: float = 5.0) -> None:
        """Wait until /proc says the process is (not) stopped, where /proc exists."""
        end = time.monotonic() + within
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    code = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                return
            if (code in "Tt") == stopped:
                return
            time.sleep(0.001)

    @property
    def state(self) -> str:
        """running, stopped, killed (by SIGKILL) or exited (on its own, or ended by close)."""
        code = self.proc.poll()
        if code is None:
            stopped = self.signals and self.signals[-1][1] == "SIGSTOP"
            return "stopped" if stopped else "running"
        return "killed" if code == -signal.SIGKILL and self.signals and \
            self.signals[-1][1] == "SIGKILL" else "exited"

    # ---- reports ----------------------------------------------------------------------
    def _received(self, report: Report | None) -> None:
        """A report (None: the pipe closed); the watcher has it before any waiter wakes."""
        if report is not None and self.watcher is not None:
            self.watcher.reported(self, report)
        with self._cond:
            if report is None:
                self._eof = True
            else:
                self.reports.append(report)
            self._cond.notify_all()

    @property
    def held(self) -> int | None:
        """The job it holds, by its reports: reserved, and no command on it answered since."""
        with self._cond:
            last = next((r for r in reversed(self.reports) if r.job), None)
        return last.job if last is not None and last.event == "reserved" else None

    def wait_for(self, event: str, job: int | None = None, *, within: float = 10.0) -> Report:
        """The first report of `event` (on `job`, if given); wait up to `within` seconds."""
        def found() -> Report | None:
            return next((r for r in self.reports if r.event == event
                         and (job is None or r.job == job)), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None or self._eof, within)
            report = found()
        if report is None:
            said = "; ".join(self.stderr) or "nothing on stderr"
            raise TimeoutError(f"{self.name} (pid {self.pid}, {self.state}) did not report "
                               f"{event!r}{f' on job {job}' if job else ''} within {within:g} "
                               f"s ({said})")
        return report

    def answer(self, job: int, *, within: float = 10.0) -> str:
        """The server's answer to the worker's first command on `job` (DELETED, NOT_FOUND...),
        waiting up to `within` seconds for it."""
        with self._cond:
            self._cond.wait_for(lambda: self._answered(job) or self._eof, within)
            report = self._answered(job)
        if report is None:
            raise TimeoutError(f"{self.name} sent no command on job {job} within {within:g} s")
        return str(report.answer)

    def _answered(self, job: int) -> Report | None:
        return next((r for r in self.reports if r.job == job and r.answer), None)

    # ---- the end ----------------------------------------------------------------------
    def close(self) -> None:
        """End the process by its pid (SIGTERM, then SIGKILL), if it still runs."""
        self._finalizer()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
