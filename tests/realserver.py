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
                    with socket.create_connection(self.address, timeout=0.5):
                        pass
                except OSError:
                    time.sleep(0.01)
                    continue
                self._probe_seen(deadline)
                if "-b" in self.args:
                    self._binlog_locked(deadline)
                return self
            self.stop()
        raise RuntimeError(f"beanstalkd did not start on {self.host}:{self.port}")

    def _probe_seen(self, deadline: float) -> None:
        """Wait until the server has seen start()'s probe connection close (it holds only its
        listening socket), so a test that counts connections never counts the probe; on a
        busy machine beanstalkd can take a while to get to it."""
        fds = f"/proc/{self.proc.pid}/fd" if self.proc else ""
        if not os.path.isdir(fds):
            time.sleep(0.05)
            return
        while time.monotonic() < deadline:
            held = 0
            for fd in os.listdir(fds):
                try:
                    held += os.readlink(f"{fds}/{fd}").startswith("socket:")
                except OSError:
                    pass
            if held <= 1:
                return
            time.sleep(0.005)

    def _binlog_locked(self, deadline: float) -> None:
        """Wait until the server holds its binlog directory's lock. beanstalkd listens before
        it locks and reads the directory, so a connect alone does not mean it has: a test
        that then tries the lock itself could get it. The lock is a POSIX one (lockf), and
        /proc/locks names the process that holds it."""
        if not (self.proc and os.path.exists("/proc/locks")):
            return
        mine = f" {self.proc.pid} "
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open("/proc/locks") as locks:
                if any(mine in line for line in locks):
                    return
            time.sleep(0.005)

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
