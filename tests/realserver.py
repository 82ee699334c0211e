"""Start and stop a real beanstalkd for the tests: a free loopback port, stopped by process id."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

PORT_BASE, PORT_END = 20000, 32768  # below the kernel's ephemeral ports (32768-60999)
_turn = itertools.count()
_turn_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is bound to right now, from this test process's own
    range (one per xdist worker), taken in turn.

    With bind(0), two workers could be handed the same port: the second server then fails to
    bind, and its start-up probe connects to the first one (CI: a sequence saw one connection
    too many). Here no other process of the suite picks from the same range.
    """
    first, width = port_range()
    for _ in range(width):
        with _turn_lock:
            port = first + next(_turn) % width
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or still in TIME_WAIT from an earlier server
            return port
    raise RuntimeError(f"no free port in {first}..{first + width - 1}")


def port_range() -> tuple[int, int]:
    """(first port, how many) of this test process: PORT_BASE..PORT_END split evenly among
    the xdist workers (the whole of it without xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker) if worker.isdigit() else 0
    width = (PORT_END - PORT_BASE) // max(count, index + 1)
    return PORT_BASE + index * width, width


def connect(address: tuple[str, int] | str, timeout: float = 5.0) -> socket.socket:
    """A connection to a server's `address`: (host, port), or a unix socket's path."""
    if not isinstance(address, str):
        return socket.create_connection(address, timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address)
    except OSError:
        s.close()
        raise
    return s


def beanstalkd_binary() -> str | None:
    return shutil.which("beanstalkd")


def require_beanstalkd() -> str:
    """The beanstalkd path, or skip (locally) / fail (in CI) with a visible reason."""
    path = beanstalkd_binary()
    if path is None:
        reason = "beanstalkd is not installed (apt-get install beanstalkd); the real leg needs it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


class RealBeanstalkd:
    """One beanstalkd process on 127.0.0.1 and a free port."""

    TABLE = "/proc/net/tcp"
    """Where the kernel lists this kind of socket (start() reads it to see the probe accepted)."""

    def __init__(self, *args: str, binary: str | None = None) -> None:
        self.binary = binary or require_beanstalkd()
        self.args = list(args)
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self, timeout: float = 10.0) -> RealBeanstalkd:
        for _attempt in range(5):  # a port can be taken between free_port() and bind
            self.proc = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    probe = connect(self.address, timeout=0.5)
                except OSError:
                    time.sleep(0.01)
                    continue
                with probe:
                    if not self._accepted(probe, deadline):
                        break  # it died before it served (on a binlog it cannot read, or on
                        # a port another server holds, which our probe reached)
                    with_probe = self._sockets()
                self._probe_seen(with_probe, deadline)
                return self
            self.stop()
        raise RuntimeError(f"{self.binary} did not start on {self._where()}")

    def _command(self) -> list[str]:
        """The command line for one start (on a fresh free port)."""
        self.port = free_port()
        return [self.binary, "-l", self.host, "-p", str(self.port), *self.args]

    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _sockets(self) -> int | None:
        """How many sockets the server process holds (None where /proc cannot tell)."""
        inodes = self._socket_inodes()
        return None if inodes is None else len(inodes)

    def _socket_inodes(self) -> set[str] | None:
        """The inodes of the sockets the server process holds (None where /proc cannot tell)."""
        fds = f"/proc/{self.proc.pid}/fd" if self.proc else ""
        try:
            names = os.listdir(fds)
        except OSError:
            return None
        held = set()
        for fd in names:
            try:
                link = os.readlink(f"{fds}/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                held.add(link[8:-1])
        return held

    def _probe_seen(self, with_probe: int | None, deadline: float) -> None:
        """Wait until the server has seen start()'s probe connection close (it holds one
        socket fewer than while the probe was open), so a test that counts connections never
        counts the probe; on a busy machine the server can take a while to get to it."""
        if with_probe is None:
            time.sleep(0.05)
            return
        while time.monotonic() < deadline:
            held = self._sockets()
            if held is None or held < with_probe:
                return
            time.sleep(0.005)

    def _accepted(self, probe: socket.socket, deadline: float) -> bool:
        """Wait until the server has accepted the `probe` connection; False if it exited
        first. beanstalkd listens before it locks and reads its binlog directory and accepts
        only once its event loop runs, so a connect alone does not mean it serves: a test
        could take the binlog lock first, or see a server that is about to abort on a binlog
        it cannot read. In /proc/net/tcp (and /proc/net/unix) a connection the kernel has
        queued but the server has not yet accepted has inode 0. The accepted end must be our
        server's: if another process's server holds the port (ours then fails to bind), the
        probe reached that one, and this start failed."""
        if not os.path.exists(self.TABLE):
            time.sleep(0.05)
            return self.proc is not None and self.proc.poll() is None
        while time.monotonic() < deadline and self.proc and self.proc.poll() is None:
            with open(self.TABLE) as table:
                inode = self._accepted_inode([line.split() for line in table.readlines()[1:]],
                                             probe)
            if inode is not None:
                ours = self._socket_inodes()
                if ours is None or inode in ours:
                    return True
                # not (yet) ours: accept() may not have installed it; a server that failed
                # to bind exits, which ends the loop
            time.sleep(0.005)
        return False

    def _accepted_inode(self, rows: list[list[str]], probe: socket.socket) -> str | None:
        """The inode of the server's end of `probe` in /proc/net/tcp's `rows`, once accepted
        (local address the server's port, remote the probe's, an inode); else None."""
        pair = (f"{self.port:04X}", f"{probe.getsockname()[1]:04X}")
        return next((f[9] for f in rows if (f[1].rsplit(":", 1)[1], f[2].rsplit(":", 1)[1])
                     == pair and f[9] != "0"), None)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()

    def __enter__(self) -> RealBeanstalkd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
