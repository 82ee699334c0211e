"""The two backends every behaviour test runs on: the simulator and a real beanstalkd.

A test gets a backend `b` and uses only `b.client(...)`, `b.sleep(seconds)`, `b.wait(seconds)`,
`b.now()` and `b.raw()`; the same test body then proves the simulator behaves like the real
server.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import greenstalk

from tests.realserver import RealBeanstalkd


class Backend:
    name = "?"

    def __init__(self) -> None:
        self.clients: list[Any] = []

    def client(self, **kwargs: Any) -> Any:
        c = self._connect(**kwargs)
        self.clients.append(c)
        return c

    def _connect(self, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass; nothing is sent."""
        self._sleep(seconds)

    def wait(self, seconds: float) -> None:
        """Let `seconds` pass, then poke: a harmless `using()` on every open client.

        Use it where a TTR must have run out on time: beanstalkd 1.12 can leave an expired
        job reserved until its holder's next command (tests/test_real_quirks.py). The poke is
        sent on both backends so that the command counters stay equal.
        """
        self._sleep(seconds)
        for c in self.clients:
            if not getattr(c, "_stalksim_closed", False):
                c.using()
        self._settle()

    def _sleep(self, seconds: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _settle(self) -> None:
        pass

    def now(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self, c: Any) -> None:
        """Close one client (like a dropped TCP connection)."""
        c.close()
        c._stalksim_closed = True

    def shutdown(self) -> None:
        for c in self.clients:
            if not getattr(c, "_stalksim_closed", False):
                try:
                    c.close()
                except Exception:
                    pass


class SimBackend(Backend):
    name = "sim"

    def __init__(self, max_job_size: int = 65535) -> None:
        super().__init__()
        import stalksim

        self.sim = stalksim.Simulation(max_job_size=max_job_size)

    def _connect(self, **kwargs: Any) -> Any:
        return self.sim.client(**kwargs)

    def _sleep(self, seconds: float) -> None:
        self.sim.advance(seconds)

    def now(self) -> float:
        return self.sim.now

    def raw(self) -> Any:
        return self.sim.raw()


class RealBackend(Backend):
    name = "real"

    def __init__(self, max_job_size: int = 65535) -> None:
        super().__init__()
        args = [] if max_job_size == 65535 else ["-z", str(max_job_size)]
        self.server = RealBeanstalkd(*args).start()

    def _connect(self, **kwargs: Any) -> Any:
        return greenstalk.Client(self.server.address, **kwargs)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _settle(self) -> None:
        time.sleep(0.02)

    def now(self) -> float:
        return time.monotonic()

    def raw(self) -> RawConnection:
        return RawConnection(socket.create_connection(self.server.address, timeout=5))

    def shutdown(self) -> None:
        super().shutdown()
        self.server.stop()


class RawConnection:
    """Raw protocol bytes to a real server: send, then read exactly what came back."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_until(self, n_lines: int = 1, timeout: float = 3.0) -> bytes:
        """Read until `n_lines` CRLF-terminated lines arrived (bodies count as lines)."""
        self.sock.settimeout(timeout)
        buf = b""
        while buf.count(b"\r\n") < n_lines:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf

    def close(self) -> None:
        self.sock.close()


def make_backend(name: str, **kwargs: Any) -> Backend:
    return {"sim": SimBackend, "real": RealBackend}[name](**kwargs)
