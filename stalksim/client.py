"""Clients of a simulated server: greenstalk-compatible, so code goes live by changing one line.

`SimClient` *is* a `greenstalk.Client` whose socket is an in-memory pipe to the simulated
server's protocol session. Every method therefore behaves exactly as greenstalk does against a
real beanstalkd, down to the put-BAD_FORMAT desync. The common calls take a fast path that calls
the core directly when their arguments are plain (ints in range, valid tube names) and the
pipe is in sync; anything else goes through the bytes, where greenstalk's own code runs.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import greenstalk
import simpy
from greenstalk import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR, DEFAULT_TUBE

from stalksim import replies
from stalksim.core import U32, U64, Job, Refused, name_ok

if TYPE_CHECKING:
    from stalksim.simulation import Simulation

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def _u32(*values: Any) -> bool:
    return all(type(v) is int and 0 <= v <= U32 for v in values)


def _stats(yaml: str) -> Any:
    # greenstalk's own parser, so numeric strings become ints exactly as they do live
    return greenstalk._parse_stats(yaml.encode())


def _id(job: Any) -> Any:
    return job.id if isinstance(job, greenstalk.Job) else job


class _Pipe:
    """The simulated socket: bytes sent feed the protocol session; reads drain its output."""

    def __init__(self, client: SimClient) -> None:
        from stalksim.protocol import Session

        self.client = client
        self.session = Session(client._sim.server, client._conn)
        self.closed = False

    # socket side
    def sendall(self, data: bytes) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor (this simulated client is closed)")
        self.session.feed(bytes(data), self.client._sim.now_ns())
        self.client._sim._arm()

    def makefile(self, mode: str = "rb") -> _Pipe:
        return self

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.close(self.client._sim.now_ns())
            self.client._sim._arm()

    # file side
    def _fill(self, enough: Any) -> None:
        if not enough():
            if self.session.closed or self.closed:
                return
            self.client._block(enough, "reading the server's reply")

    def readline(self) -> bytes:
        out = self.session.out
        self._fill(lambda: b"\n" in out)
        n = out.find(b"\n") + 1 or len(out)
        line = bytes(out[:n])
        del out[:n]
        return line

    def read(self, size: int) -> bytes:
        out = self.session.out
        self._fill(lambda: len(out) >= size)
        data = bytes(out[:size])
        del out[:size]
        return data


class SimClient(greenstalk.Client):
    """A greenstalk client connected to a simulated beanstalkd (see `Simulation.client`)."""

    def __init__(self, sim: Simulation, *, name: str | None = None,
                 encoding: str | None = "utf-8", use: str = DEFAULT_TUBE,
                 watch: str | Iterable[str] = DEFAULT_TUBE) -> None:
        self._sim = sim
        self._core = sim.server
        self._conn = sim.server.connect(sim.now_ns(), name)
        self._pipe: _Pipe | None = None  # made on first use of the byte path
        self._closed = False
        self._address = ("stalksim", 0)
        self.encoding = encoding
        if use != DEFAULT_TUBE:
            self.use(use)
        if isinstance(watch, str):
            if watch != DEFAULT_TUBE:
                self.watch(watch)
                self.ignore(DEFAULT_TUBE)
        else:
            for tube in watch:
                self.watch(tube)
            if DEFAULT_TUBE not in watch:
                self.ignore(DEFAULT_TUBE)

    @property
    def _sock(self) -> _Pipe:  # type: ignore[override]
        if self._pipe is None:
            self._pipe = _Pipe(self)
            self._pipe.closed = self._closed
        return self._pipe

    _reader = _sock

    @property
    def name(self) -> str:
        """The connection's name in traces."""
        return self._conn.name

    # ---- plumbing ------------------------------------------------------------------------
    def _fast(self) -> bool:
        pipe = self._pipe
        if pipe is None:
            return not self._closed
        # in sync: no reply waiting to be read, no command half-parsed
        return not pipe.closed and not pipe.session.out and pipe.session.idle()

    def _call(self, command: Any, *args: Any) -> Any:
        sim = self._sim
        try:
            return command(self._conn, sim.now_ns(), *args)
        except Refused as e:
            raise replies.exception_for(e.word) from None
        finally:
            sim._arm()

    def _job(self, job: Job) -> greenstalk.Job:
        body = job.body if self.encoding is None else job.body.decode(self.encoding)
        return greenstalk.Job(job.id, body)

    def _block(self, done: Any, what: str, timeout: float | None = None) -> None:
        try:
            self._sim.wait_for(done, what, timeout)
        except Exception:
            self._core.cancel_wait(self._conn, self._sim.now_ns())
            raise

    def _reserved(self, job: Job | None, what: str, timeout: float | None) -> greenstalk.Job:
        if job is None:
            answer: list = []
            self._conn.on_reply = lambda j, w: answer.append((j, w))
            self._block(lambda: bool(answer), what, timeout)
            job, word = answer[0]
            if word is not None:
                raise replies.exception_for(word)
        return self._job(job)

    # ---- commands (fast paths; everything else is greenstalk over the pipe) ---------------
    def put(self, body: Any, priority: int = DEFAULT_PRIORITY, delay: int = DEFAULT_DELAY,
            ttr: int = DEFAULT_TTR) -> int:
        buf = body.encode(self.encoding) if isinstance(body, str) and self.encoding else body
        if type(buf) is bytes and _u32(priority, delay, ttr) and self._fast():
            return self._call(self._core.put, priority, delay, ttr, buf)
        return super().put(body, priority, delay, ttr)

    def use(self, tube: str) -> None:
        if type(tube) is str and name_ok(tube) and self._fast():
            self._call(self._core.use, tube)
        else:
            super().use(tube)

    def reserve(self, timeout: int | None = None) -> greenstalk.Job:
        if timeout is None and self._fast():
            return self._reserved(self._call(self._core.reserve), "reserve()", None)
        if type(timeout) is int and I32_MIN <= timeout <= I32_MAX and self._fast():
            job = self._call(self._core.reserve_with_timeout, timeout)
            return self._reserved(job, f"reserve(timeout={timeout})",
                                  timeout if timeout >= 0 else None)
        return super().reserve(timeout)

    def reserve_job(self, id: int) -> greenstalk.Job:
        if type(id) is int and 0 <= id <= U64 and self._fast():
            return self._job(self._call(self._core.reserve_job, id))
        return super().reserve_job(id)

    def delete(self, job: Any) -> None:
        id = _id(job)
        if type(id) is int and 0 <= id <= U64 and self._fast():
            self._call(self._core.delete, id)
        else:
            super().delete(job)

    def release(self, job: greenstalk.Job, priority: int = DEFAULT_PRIORITY,
                delay: int = DEFAULT_DELAY) -> None:
        id = job.id
        if type(id) is int and 0 <= id <= U64 and _u32(priority, delay) and self._fast():
            self._call(self._core.release, id, priority, delay)
        else:
            super().release(job, priority, delay)

    def bury(self, job: greenstalk.Job, priority: int = DEFAULT_PRIORITY) -> None:
        id = job.id
        if type(id) is int and 0 <= id <= U64 and _u32(priority) and self._fast():
            self._call(self._core.bury, id, priority)
        else:
            super().bury(job, priority)

    def touch(self, job: greenstalk.Job) -> None:
        id = job.id
        if type(id) is int and 0 <= id <= U64 and self._fast():
            self._call(self._core.touch, id)
        else:
            super().touch(job)

    def watch(self, tube: str) -> int:
        if type(tube) is str and name_ok(tube) and self._fast():
            return self._call(self._core.watch, tube)
        return super().watch(tube)

    def ignore(self, tube: str) -> int:
        if type(tube) is str and name_ok(tube) and self._fast():
            return self._call(self._core.ignore, tube)
        return super().ignore(tube)

    def peek(self, id: int) -> greenstalk.Job:
        if type(id) is int and 0 <= id <= U64 and self._fast():
            return self._job(self._call(self._core.peek, id))
        return super().peek(id)

    def peek_ready(self) -> greenstalk.Job:
        if self._fast():
            return self._job(self._call(self._core.peek_ready))
        return super().peek_ready()

    def peek_delayed(self) -> greenstalk.Job:
        if self._fast():
            return self._job(self._call(self._core.peek_delayed))
        return super().peek_delayed()

    def peek_buried(self) -> greenstalk.Job:
        if self._fast():
            return self._job(self._call(self._core.peek_buried))
        return super().peek_buried()

    def kick(self, bound: int) -> int:
        if _u32(bound) and self._fast():
            return self._call(self._core.kick, bound)
        return super().kick(bound)

    def kick_job(self, job: Any) -> None:
        id = _id(job)
        if type(id) is int and 0 <= id <= U64 and self._fast():
            self._call(self._core.kick_job, id)
        else:
            super().kick_job(job)

    def pause_tube(self, tube: str, delay: int) -> None:
        if type(tube) is str and name_ok(tube) and _u32(delay) and self._fast():
            self._call(self._core.pause_tube, tube, delay)
        else:
            super().pause_tube(tube, delay)

    def stats_job(self, job: Any) -> greenstalk.StatsJob:
        id = _id(job)
        if type(id) is int and 0 <= id <= U64 and self._fast():
            return _stats(self._call(self._core.stats_job, id))
        return super().stats_job(job)

    def stats_tube(self, tube: str) -> greenstalk.StatsTube:
        if type(tube) is str and name_ok(tube) and self._fast():
            return _stats(self._call(self._core.stats_tube, tube))
        return super().stats_tube(tube)

    def stats(self) -> greenstalk.Stats:
        if self._fast():
            return _stats(self._call(self._core.stats))
        return super().stats()

    def tubes(self) -> list[str]:
        if self._fast():
            return greenstalk._parse_list(self._call(self._core.list_tubes).encode())
        return super().tubes()

    def watching(self) -> list[str]:
        if self._fast():
            return greenstalk._parse_list(self._call(self._core.list_tubes_watched).encode())
        return super().watching()

    def using(self) -> str:
        if self._fast():
            return self._call(self._core.list_tube_used)
        return super().using()

    def close(self) -> None:
        """Close the connection, like a dropped TCP connection: reserved jobs are ready at once."""
        if self._pipe is not None:
            self._pipe.close()
        elif not self._closed:
            self._core.close(self._conn, self._sim.now_ns())
            self._sim._arm()
        self._closed = True

    def __repr__(self) -> str:
        c = self._conn
        state = "closed" if c.closed else f"using {c.use.name!r}"
        return f"<stalksim.SimClient {c.name} {state} t={self._sim.now:g}s>"


class ProcessClient(SimClient):
    """A client for simpy processes: `job = yield conn.reserve()`; other calls return at once."""

    def __init__(self, sim: Simulation, *, name: str | None = None, **kwargs: Any) -> None:
        if name is not None:
            if name in sim._names:
                raise ValueError(f"a connection named {name!r} already exists in this simulation")
            sim._names.add(name)
        super().__init__(sim, name=name, **kwargs)

    def _block(self, done: Any, what: str, timeout: float | None = None) -> None:
        raise RuntimeError(
            f"{self.name}: {what} would block; in a simpy process, reserve with "
            f"`job = yield conn.reserve()` and let the simulation run")

    def reserve(self, timeout: int | None = None) -> simpy.Event:  # type: ignore[override]
        """A simpy event whose value is the reserved `greenstalk.Job` (or that fails with
        greenstalk's TimedOutError / DeadlineSoonError)."""
        if timeout is not None and not (type(timeout) is int and I32_MIN <= timeout <= I32_MAX):
            raise TypeError("timeout must be None or an int of seconds")
        if not self._fast():
            raise RuntimeError(f"{self.name}: the connection is still busy with a command")
        ev = self._sim.env.event()
        try:
            if timeout is None:
                job = self._call(self._core.reserve)
            else:
                job = self._call(self._core.reserve_with_timeout, timeout)
        except greenstalk.Error as e:
            return ev.fail(e)
        if job is not None:
            return ev.succeed(self._job(job))

        def reply(job: Job | None, word: str | None) -> None:
            if word is not None:
                ev.fail(replies.exception_for(word))
            else:
                ev.succeed(self._job(job))

        self._conn.on_reply = reply
        return ev


class RawSimConnection:
    """Raw protocol bytes to a simulated server (the sim twin of a raw socket in the tests)."""

    def __init__(self, sim: Simulation) -> None:
        from stalksim.protocol import Session

        self._sim = sim
        self.session = Session(sim.server, sim.server.connect(sim.now_ns()))

    def send(self, data: bytes) -> None:
        self.session.feed(data, self._sim.now_ns())
        self._sim._arm()

    def recv_until(self, n_lines: int = 1, timeout: float = 3.0) -> bytes:
        """Run virtual time (at most `timeout` s) until `n_lines` CRLF lines are out."""
        out = self.session.out
        sim = self._sim
        end = sim.now + timeout
        while out.count(b"\r\n") < n_lines and not self.session.closed:
            t = sim.env.peek()
            if t > end:
                sim.run(until=end)
                break
            sim.env.step()
            sim._arm()
        data = bytes(out)
        del out[:]
        return data

    def close(self) -> None:
        self.session.close(self._sim.now_ns())
        self._sim._arm()
