"""Start-up times: how long until `stalksim serve` listens, beside the bare interpreter.

A harness that starts the beanstalkd binary (greenstalk's own tests wait 100 ms) needs the
server to listen soon after exec: issue 14 asks for `stalksim serve` listening within 2x
`python -c pass`. Every command runs once per round, in turn, so all of them see the same
machine load; each figure is the median over the rounds.

The commands run as an installed stalksim runs: with bytecode caches. PYTHONDONTWRITEBYTECODE
is dropped from their environment so the uncounted warm-up round writes `__pycache__`
(without it, every start compiles stalksim's modules again: ~20 ms more for serve).

    python -m benchmarks.startup            # the table, 10 rounds
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

HOST = "127.0.0.1"
POLL = 0.0005  # seconds between connection attempts while waiting for a server to listen
PASS, IMPORT, SERVE = "python -c pass", "python -c 'import stalksim'", "python -m stalksim serve"
SCRIPT, BEANSTALKD = "stalksim serve (console script)", "beanstalkd"
"""The names of the commands measured (rows of `measure`)."""
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The commands' environment: bytecode is cached, as it is for an installed package."""


@dataclass(frozen=True)
class Startup:
    """One command's start-up: `samples` in seconds, exec to exit (or to listening)."""

    name: str
    argv: tuple[str, ...]
    listens: bool
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.connect((HOST, port))
        except OSError:
            return False
        return True


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def time_exit(argv: list[str], cwd: str | None = None) -> float:
    """Seconds from exec to exit of `argv` (which must succeed), run in `cwd`."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd,
                          env=ENV)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode()[-300:]}")
    return elapsed


def time_listen(argv: list[str], timeout: float = 10.0, cwd: str | None = None) -> float:
    """Seconds from exec of `argv` + `-l 127.0.0.1 -p PORT` (in `cwd`) to the port accepting a
    TCP connection; the server is then stopped by its process id."""
    for _attempt in range(5):  # a port can be taken between choosing and binding it
        port = _free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen([*argv, "-l", HOST, "-p", str(port)], cwd=cwd, env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while proc.poll() is None and time.perf_counter() - t0 < timeout:
                if _accepts(port):
                    return time.perf_counter() - t0
                time.sleep(POLL)
        finally:
            _stop(proc)
    raise RuntimeError(f"{argv} did not listen within {timeout:g} s")


def time_stop(argv: list[str], rounds: int = 5) -> list[float]:
    """Seconds from SIGTERM to exit of a busy `argv` + `-l 127.0.0.1 -p PORT` (a client waiting
    in reserve, a job put), once per round (issue 14: under 100 ms)."""
    out = []
    for _ in range(rounds):
        port = _free_port()
        proc = subprocess.Popen([*argv, "-l", HOST, "-p", str(port)], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.perf_counter() + 10
            while not _accepts(port):
                if proc.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"{argv} did not listen")
                time.sleep(POLL)
            time.sleep(0.3)  # well after start-up: the event loop has the signal
            with socket.create_connection((HOST, port)) as waiting, \
                    socket.create_connection((HOST, port)) as other:
                waiting.sendall(b"reserve\r\n")
                other.sendall(b"put 0 0 60 1\r\nx\r\n")
                other.recv(64)
                t0 = time.perf_counter()
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
                out.append(time.perf_counter() - t0)
        finally:
            _stop(proc)
    return out


def commands(python: str = sys.executable) -> list[tuple[str, list[str], bool]]:
    """(name, argv, listens) for each command measured; the console script and beanstalkd
    only where installed."""
    cmds = [(PASS, [python, "-c", "pass"], False),
            (IMPORT, [python, "-c", "import stalksim"], False),
            (SERVE, [python, "-m", "stalksim", "serve"], True)]
    script = os.path.join(os.path.dirname(python), "stalksim")
    if os.access(script, os.X_OK):
        cmds.append((SCRIPT, [script, "serve"], True))
    beanstalkd = shutil.which("beanstalkd")
    if beanstalkd:
        cmds.append((BEANSTALKD, [beanstalkd], True))
    return cmds


def measure(rounds: int = 10, python: str = sys.executable) -> list[Startup]:
    """Every command of `commands()` once per round (after one warm-up round that is not
    counted, which writes the bytecode caches); medians over `rounds`."""
    cmds = commands(python)
    samples: list[list[float]] = [[] for _ in cmds]
    for r in range(rounds + 1):
        for i, (_name, argv, listens) in enumerate(cmds):
            t = time_listen(argv) if listens else time_exit(argv)
            if r:
                samples[i].append(t)
    return [Startup(name, tuple(argv), listens, tuple(s))
            for (name, argv, listens), s in zip(cmds, samples, strict=True)]


def ratio(rows: list[Startup], name: str, base: str = PASS) -> float:
    """Median of `name` over median of `base`."""
    by = {r.name: r for r in rows}
    return by[name].median / by[base].median


def lines(rows: list[Startup]) -> list[str]:
    """One line per command: median, range, and the ratio to `python -c pass`."""
    base = next(r for r in rows if r.name == PASS).median
    out = []
    for r in rows:
        what = "to listening" if r.listens else "to exit"
        out.append(f"{r.name}: median {r.median * 1000:.1f} ms {what} (min "
                   f"{min(r.samples) * 1000:.1f}, max {max(r.samples) * 1000:.1f}, "
                   f"n={len(r.samples)}) = {r.median / base:.2f}x {PASS}")
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print("\n".join(lines(measure(n))))
