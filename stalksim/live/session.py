"""`LiveSession`: a real beanstalkd driven with the calls of a `stalksim.Simulation`.

    sim = stalksim.live.LiveSession()      # was: sim = stalksim.Simulation()
    producer, worker = sim.client(), sim.client()
    producer.put("resize photo 1", ttr=5)
    job = worker.reserve()
    sim.advance(6)                         # really waits 6 s: the TTR runs out on the server

Lesson code written for the simulator runs unchanged on a live server: `client()` gives a
`greenstalk.Client`, `advance(seconds)` sleeps, `now` counts the seconds advanced. The tests use
it to run every lesson's claims on a real beanstalkd.

`LiveSession(binlog=True)` starts its private beanstalkd with `-b DIR` (a fresh directory), and
`restart(binlog=...)` crashes it (SIGKILL, by process id) and starts it again on the same port,
as `Simulation.restart` does in virtual time: lesson 7's cells run on both.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import greenstalk

from stalksim._browser import refuse

if TYPE_CHECKING:
    from stalksim.live import PrivateServer

SETTLE = 0.02
"""Seconds to let the server finish what a wait set off (a TTR release) before reading it."""


class _LiveClient(greenstalk.Client):
    """A greenstalk.Client whose `close()` lets the server see the hang-up before going on,
    as a simulated close takes effect at once (a crashed worker's jobs are ready again)."""

    def close(self) -> None:
        super().close()
        time.sleep(SETTLE)


class LiveSession:
    """A real beanstalkd at `address` (a (host, port) or a connected greenstalk.Client), or a
    private one started for the session, driven like a Simulation.

    `now` is the virtual time the code asked for (the sum of `advance` calls), so that a lesson
    prints the same times on both. After each `advance` every open client sends a harmless
    `list-tube-used`: beanstalkd 1.12 can release a job whose TTR ran out only at its holder's
    next command (a known quirk of the real server), and the poke makes it happen on time.
    """

    def __init__(self, address: tuple[str, int] | greenstalk.Client | None = None, *,
                 start: bool = True, binlog: bool = False) -> None:
        from stalksim.live import connect, start_private

        refuse("stalksim.live.LiveSession()")
        if isinstance(address, greenstalk.Client):
            address = address._address  # the server that client talks to
        if binlog and (address is not None or not start):
            raise ValueError("binlog=True needs a private server: LiveSession(binlog=True) "
                             "starts one with -b DIR (a server at an address is not ours to "
                             "restart)")
        self.server: PrivateServer | None = None
        #: The private server's binlog directory (`-b DIR`), None without a binlog.
        self.binlog_dir: str | None = tempfile.mkdtemp(prefix="stalksim-binlog-") if binlog \
            else None
        self.restarts = 0
        if address is None and start:
            self.server = _start(None, self.binlog_dir) if binlog else start_private()
            address = self.server.address
        self.address = address
        if address is not None:
            connect(address).close()  # a clear NoServer message now, not at the first call
        self.clients: list[greenstalk.Client] = []
        self._now = 0.0

    @property
    def now(self) -> float:
        """Seconds advanced so far (the time a simulation would show)."""
        return self._now

    def client(self, *, use: str = "default", watch: str | Iterable[str] = "default",
               encoding: str | None = "utf-8") -> greenstalk.Client:
        """A new `greenstalk.Client` to the server (the arguments of `Simulation.client`)."""
        watch = watch if isinstance(watch, str) else list(watch)
        c = _LiveClient(self.address, use=use, watch=watch, encoding=encoding)
        self.clients.append(c)
        return c

    def advance(self, seconds: float) -> None:
        """Wait `seconds` of real time, then let every open client poke the server."""
        if seconds < 0:
            raise ValueError(f"cannot advance by a negative time ({seconds!r} s)")
        time.sleep(seconds)
        for c in self.clients:
            try:
                c.using()
            except (OSError, ValueError, greenstalk.Error):
                pass  # a client the lesson closed (a crashed worker)
        time.sleep(SETTLE)
        self._now += seconds

    def restart(self, binlog: bool = False, lost_ms: float = 0.0) -> None:
        """The private server crashes (SIGKILL, by its process id) and starts again on the same
        port, as `Simulation.restart`: every connection drops (a client's next command raises
        ConnectionError); with `binlog` beanstalkd reads its `-b` directory back (ready,
        delayed and buried jobs; a reserved job is ready), without it the server starts
        empty (the old binlog is removed; the new server keeps one again)."""
        if self.server is None:
            raise ValueError("restart() needs the private server this session started; a "
                             "server at an address is not ours to stop")
        if binlog and self.binlog_dir is None:
            raise ValueError("restart(binlog=True) needs a LiveSession(binlog=True): this "
                             "server keeps no binlog")
        if lost_ms:
            raise ValueError("a real beanstalkd loses its last writes only when the machine "
                             "goes down before the fsync (-f MS), not when the process dies; "
                             "restart(lost_ms=...) runs on the simulator only")
        port = self.server.port
        os.kill(self.server.pid, signal.SIGKILL)
        self.server.proc.wait(timeout=5)
        if not binlog and self.binlog_dir is not None:
            shutil.rmtree(self.binlog_dir)
            os.mkdir(self.binlog_dir)
        self.server = _start(port, self.binlog_dir)
        self.restarts += 1

    def close(self) -> None:
        """Close every client and stop the private server, if this session started one."""
        for c in self.clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing what may be closed already
                pass
        if self.server is not None:
            self.server.stop()
        if self.binlog_dir is not None:
            shutil.rmtree(self.binlog_dir, ignore_errors=True)

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _start(port: int | None, binlog_dir: str | None) -> PrivateServer:
    """A private beanstalkd on `port` (None: a free one), with `-b binlog_dir` if given."""
    from stalksim.live import start_private

    return start_private(port=port, args=["-b", binlog_dir] if binlog_dir is not None else [])
