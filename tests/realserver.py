"""Start and stop a real beanstalkd for the tests: a free loopback port, stopped by process id."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
            self.port = free_port()
            self.proc = subprocess.Popen(
                [self.binary, "-l", self.host, "-p", str(self.port), *self.args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    probe = socket.create_connection(self.address, timeout=0.5)
                except OSError:
                    time.sleep(0.01)
                    continue
                with probe:
                    if not self._accepted(probe.getsockname()[1], deadline):
                        break  # it died before it served (e.g. on a binlog it cannot read)
                    with_probe = self._sockets()
                self._probe_seen(with_probe, deadline)
                return self
            self.stop()
        raise RuntimeError(f"beanstalkd did not start on {self.host}:{self.port}")

    def _sockets(self) -> int | None:
        """How many sockets the server process holds (None where /proc cannot tell)."""
        fds = f"/proc/{self.proc.pid}/fd" if self.proc else ""
        try:
            names = os.listdir(fds)
        except OSError:
            return None
        held = 0
        for fd in names:
            try:
                held += os.readlink(f"{fds}/{fd}").startswith("socket:")
            except OSError:
                pass
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

    def _accepted(self, probe_port: int, deadline: float) -> bool:
        """Wait until the server has accepted the probe connection from `probe_port`; False if
        it exited first. beanstalkd listens before it locks and reads its binlog directory and
        accepts only once its event loop runs, so a connect alone does not mean it serves: a
        test could take the binlog lock first, or see a server that is about to abort on a
        binlog it cannot read. /proc/net/tcp gives a connection the kernel has queued but
        the server has not yet accepted inode 0."""
        if not os.path.exists("/proc/net/tcp"):
            time.sleep(0.05)
            return self.proc is not None and self.proc.poll() is None
        pair = (f"{self.port:04X}", f"{probe_port:04X}")
        while time.monotonic() < deadline and self.proc and self.proc.poll() is None:
            with open("/proc/net/tcp") as table:
                for line in table.readlines()[1:]:
                    f = line.split()
                    if (f[1].rsplit(":", 1)[1], f[2].rsplit(":", 1)[1]) == pair and f[9] != "0":
                        return True
            time.sleep(0.005)
        return False

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
