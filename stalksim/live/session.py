"""`LiveSession`: a real beanstalkd driven with the calls of a `stalksim.Simulation`.

    sim = stalksim.live.LiveSession()      # was: sim = stalksim.Simulation()
    producer, worker = sim.client(), sim.client()
    producer.put("resize photo 1", ttr=5)
    job = worker.reserve()
    sim.advance(6)                         # really waits 6 s: the TTR runs out on the server

Lesson code written for the simulator runs unchanged on a live server: `client()` gives a
`greenstalk.Client`, `advance(seconds)` sleeps, `now` counts the seconds advanced. The tests use
it to run every lesson's claims on a real beanstalkd.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import greenstalk

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
                 start: bool = True) -> None:
        from stalksim.live import PrivateServer, connect, start_private

        if isinstance(address, greenstalk.Client):
            address = address._address  # the server that client talks to
        self.server: PrivateServer | None = None
        if address is None and start:
            self.server = start_private()
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

    def close(self) -> None:
        """Close every client and stop the private server, if this session started one."""
        for c in self.clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing what may be closed already
                pass
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
