"""Going live: the same greenstalk code against a real beanstalkd.

    client = stalksim.live.connect()     # BEANSTALKD_HOST/BEANSTALKD_PORT or 127.0.0.1:11300
    server = stalksim.live.start_private()   # or a private beanstalkd on a free port
    trace = stalksim.live.run_live("hung-consumer", speed=5, address=server.address)
    sim = stalksim.live.LiveSession()    # lesson code for a Simulation, on a real server
    watch = stalksim.live.JobWatch(client, tube="photos")   # what the server does to jobs
    a = watch.worker("worker-a", work=60)   # a WorkerProcess: the consumer in a real process
    a.kill()                             # kill -9 by its pid (also .stop(), .cont())

`LiveView` (a widget of the real server's tubes; with `watch=`, the watch's jobs and a row of
kill -9 / stop / continue buttons per worker process), `run_live`, `LiveSession`, `JobWatch`,
`WorkerProcess` and `WorkerControls` are imported when first used. In the browser (the
JupyterLite course) each of them raises `NotInBrowser`, a one-sentence message that says
where to run lesson 6 instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import greenstalk

from stalksim._browser import NotInBrowser, refuse

__all__ = ["NoServer", "NotInBrowser", "PrivateServer", "connect", "default_address",
           "start_private", "LiveSession", "LiveView", "run_live", "JobWatch", "WorkerProcess",
           "WorkerControls"]

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 11300
HOW_TO_START = (
    "No beanstalkd answers at {host}:{port}. Start one: Debian/Ubuntu `sudo apt-get install "
    "beanstalkd` (it runs as a service); macOS `brew install beanstalkd && beanstalkd`; on "
    "Binder it is started for you. Or run `stalksim.live.start_private()` (needs the "
    "beanstalkd binary), or set BEANSTALKD_HOST/BEANSTALKD_PORT."
)


class NoServer(ConnectionError):
    """Nothing answers at the address: the message says how to start beanstalkd.

    In Jupyter it shows as that one message, without a traceback.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{self}\x1b[0m"]


def default_address() -> tuple[str, int]:
    """(BEANSTALKD_HOST or 127.0.0.1, BEANSTALKD_PORT or 11300)."""
    host = os.environ.get("BEANSTALKD_HOST") or DEFAULT_HOST
    port = os.environ.get("BEANSTALKD_PORT") or str(DEFAULT_PORT)
    if not port.isdigit():
        raise ValueError(f"BEANSTALKD_PORT must be a port number, not {port!r}")
    return host, int(port)


def _answers(address: tuple[str, int], timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout) as s:
            s.sendall(b"list-tube-used\r\n")
            return s.recv(64).startswith(b"USING")
    except OSError:
        return False


def connect(address: tuple[str, int] | None = None, *, start: bool = False,
            **greenstalk_kwargs: Any) -> greenstalk.Client:
    """A greenstalk.Client to `address` (default: `default_address()`).

    If nothing answers: with `start=True` and the beanstalkd binary on PATH, start a private
    one and connect to it (saying so); otherwise raise `NoServer`, whose one-line message
    says how to start beanstalkd. In the browser, raise `NotInBrowser`.
    """
    refuse("stalksim.live.connect()")
    address = address or default_address()
    if not _answers(address):
        if not (start and shutil.which("beanstalkd")):
            raise NoServer(HOW_TO_START.format(host=address[0], port=address[1])) from None
        address = start_private().address
        print(f"No beanstalkd at the usual address; started a private one at "
              f"{address[0]}:{address[1]} (it stops when this kernel exits).")
    return greenstalk.Client(address, **greenstalk_kwargs)


@dataclass
class PrivateServer:
    """A beanstalkd this process started; `stop()` ends it by process id."""

    host: str
    port: int
    proc: subprocess.Popen = field(repr=False)

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not gone after `timeout` seconds."""
        if self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)

    def client(self, **greenstalk_kwargs: Any) -> greenstalk.Client:
        return greenstalk.Client(self.address, **greenstalk_kwargs)


_private: list[PrivateServer] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((DEFAULT_HOST, 0))
        return s.getsockname()[1]


def start_private(binary: str | None = None, timeout: float = 10.0, *,
                  port: int | None = None, args: Sequence[str] = ()) -> PrivateServer:
    """Start a private beanstalkd on loopback `port` (default: a free one) with extra `args`
    (e.g. `-b DIR`); it is stopped (by its process id) when the interpreter exits, or by
    `.stop()`. In the browser, raise `NotInBrowser`."""
    refuse("stalksim.live.start_private()")
    path = binary or shutil.which("beanstalkd")
    if path is None:
        raise NoServer("The beanstalkd binary is not on PATH. " + HOW_TO_START.format(
            host=DEFAULT_HOST, port=DEFAULT_PORT).split(". ", 1)[1])
    for _attempt in range(1 if port else 5):  # a free port can be taken before we bind it
        chosen = port or _free_port()
        proc = subprocess.Popen([path, "-l", DEFAULT_HOST, "-p", str(chosen), *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = PrivateServer(DEFAULT_HOST, chosen, proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(server.address, timeout=0.5):
                _private.append(server)
                return server
            time.sleep(0.01)
        server.stop()
    raise RuntimeError(f"beanstalkd ({path}) did not start on {DEFAULT_HOST}:"
                       f"{port or 'a free port'} within {timeout:g} s")


@atexit.register
def _stop_private() -> None:
    for server in _private:
        server.stop()


def __getattr__(name: str) -> Any:  # what needs more than greenstalk loads on first use
    if name == "LiveView":
        from stalksim.live.view import LiveView

        return LiveView
    if name == "LiveSession":
        from stalksim.live.session import LiveSession

        return LiveSession
    if name == "run_live":
        from stalksim.live.replay import run_live

        return run_live
    if name == "JobWatch":
        from stalksim.live.watch import JobWatch

        return JobWatch
    if name == "WorkerProcess":
        from stalksim.live.process import WorkerProcess

        return WorkerProcess
    if name == "WorkerControls":
        from stalksim.live.controls import WorkerControls

        return WorkerControls
    raise AttributeError(f"module 'stalksim.live' has no attribute {name!r}")
