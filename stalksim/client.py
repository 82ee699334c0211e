"""Clients of a simulated server: greenstalk-compatible, so code goes live by changing one line.

`SimClient` *is* a `greenstalk.Client` whose socket is an in-memory pipe to its connection's
protocol session, the one state machine of that connection. Calls whose arguments are plain
(by the rules in `ARGS`) run on the session at command level; any other goes through the
bytes, where greenstalk's own code runs (down to the put-BAD_FORMAT desync), so every method
behaves exactly as greenstalk does against a real beanstalkd. Both paths share the session's
state: a reserve waits, is answered, or is withdrawn in one place. Greenstalk's exceptions are
mapped from the core's error words here and only here.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import greenstalk
import simpy
from greenstalk import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR, DEFAULT_TUBE

from stalksim.core import U32, U64, Answer, Job, Refused, Server, name_ok
from stalksim.protocol import Sessions

I32_MIN, I32_MAX = -(2**31), 2**31 - 1

#: greenstalk's exception class for each error word (greenstalk 2.1's own table).
EXCEPTIONS: dict[str, type[greenstalk.Error]] = {
    word.decode(): cls for word, cls in greenstalk.ERROR_RESPONSES.items()
}


def exception_for(word: str) -> greenstalk.Error:
    """The exception greenstalk raises when the server answers `word` (no values)."""
    return EXCEPTIONS[word]([])


class Driver(Protocol):
    """What a client needs of its simulation (`stalksim.Simulation` is one)."""

    server: Server
    sessions: Sessions
    env: simpy.Environment
    _names: set[str]

    @property
    def now(self) -> float: ...
    def now_ns(self) -> int: ...
    def _settle(self) -> None: ...
    def run(self, until: float | None = None) -> None: ...
    def wait_for(self, done: Callable[[], bool], what: str,
                 timeout: float | None = None) -> None: ...


#: Each kind of argument the fast path takes, as a Python test of `{v}`.
KINDS: dict[str, str] = {
    "bytes": "type({v}) is bytes",
    "u32": "type({v}) is int and 0 <= {v} <= U32",
    "id": "type({v}) is int and 0 <= {v} <= U64",
    "tube": "type({v}) is str and name_ok({v})",
    "timeout": "({v} is None or type({v}) is int and I32_MIN <= {v} <= I32_MAX)",
}

#: The fast path's argument rules, in one table: for each core command a client runs, the kind
#: of each of its arguments (in the core's order). Arguments of these kinds mean the same to
#: greenstalk's bytes and to the core; any other call goes through the bytes.
ARGS: dict[str, tuple[str, ...]] = {
    "put": ("u32", "u32", "u32", "bytes"), "reserve": ("timeout",),
    "use": ("tube",), "watch": ("tube",), "ignore": ("tube",), "stats_tube": ("tube",),
    "reserve_job": ("id",), "delete": ("id",), "touch": ("id",), "peek": ("id",),
    "kick_job": ("id",), "stats_job": ("id",),
    "release": ("id", "u32", "u32"), "bury": ("id", "u32"), "kick": ("u32",),
    "pause_tube": ("tube", "u32"),
    **dict.fromkeys(("peek_ready", "peek_delayed", "peek_buried", "stats", "list_tubes",
                     "list_tubes_watched", "list_tube_used"), ()),
}


def _rule(kinds: tuple[str, ...]) -> Callable[..., bool]:
    """One function testing a command's arguments against their kinds, compiled once from
    KINDS (the fast path runs it on every call: one call, no loop over the table)."""
    names = [f"a{i}" for i in range(len(kinds))]
    test = " and ".join(f"({KINDS[k].format(v=n)})" for k, n in zip(kinds, names, strict=True))
    scope = {"U32": U32, "U64": U64, "I32_MIN": I32_MIN, "I32_MAX": I32_MAX, "name_ok": name_ok}
    return eval(f"lambda {', '.join(names)}: {test or 'True'}", scope)  # noqa: S307


#: ARGS as one checking function per command.
RULES: dict[str, Callable[..., bool]] = {method: _rule(k) for method, k in ARGS.items()}

#: What `SimClient._run` returns when a call has to go through greenstalk's bytes instead.
BYTES: Any = object()


def _id(job: Any) -> Any:
    return job.id if isinstance(job, greenstalk.Job) else job


def _as_is(value: Any) -> Any:
    return value


def _job_out(client: SimClient, job: Job) -> greenstalk.Job:
    return client._job(job)


def _stats_out(client: SimClient, yaml: str) -> Any:
    # greenstalk's own parser, so numeric strings become ints exactly as they do live
    return greenstalk._parse_stats(yaml.encode())


def _list_out(client: SimClient, yaml: str) -> list[str]:
    return greenstalk._parse_list(yaml.encode())


def _command(method: str, core: str | None = None, *, arg: Callable[[Any], Any] | None = None,
             out: Callable[[SimClient, Any], Any] | None = None) -> Callable:
    """greenstalk's `method` (same signature and docs) for a command of one argument (or
    none): the core's `core` (the same name by default) at command level when `arg(value)`
    passes the rules in ARGS and the session is in sync, else greenstalk's own code over the
    pipe. `out` turns the core's value into greenstalk's."""
    base = getattr(greenstalk.Client, method)
    name = core or method
    if arg is None:
        @functools.wraps(base)
        def run0(self: SimClient) -> Any:
            r = self._run(name)
            if r is BYTES:
                return base(self)
            return r if out is None else out(self, r)
        return run0

    @functools.wraps(base)
    def run(self: SimClient, value: Any) -> Any:
        r = self._run(name, arg(value))
        if r is BYTES:
            return base(self, value)
        return r if out is None else out(self, r)
    return run


class _Pipe:
    """The simulated socket: bytes sent feed the protocol session; reads drain its output."""

    def __init__(self, client: SimClient) -> None:
        self.client = client
        self.closed = False

    # socket side
    def sendall(self, data: bytes) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor (this simulated client is closed)")
        sim = self.client._sim
        self.client._session.feed(bytes(data), sim.now_ns())
        sim._settle()

    def makefile(self, mode: str = "rb") -> _Pipe:
        return self

    # file side
    def _fill(self, enough: Callable[[], bool]) -> None:
        if not enough() and not self.closed and not self.client._session.closed:
            self.client._block(enough, "reading the server's reply")

    def readline(self) -> bytes:
        out = self.client._session.out
        self._fill(lambda: b"\n" in out)
        n = out.find(b"\n") + 1 or len(out)
        line = bytes(out[:n])
        del out[:n]
        return line

    def read(self, size: int) -> bytes:
        out = self.client._session.out
        self._fill(lambda: len(out) >= size)
        data = bytes(out[:size])
        del out[:size]
        return data


class SimClient(greenstalk.Client):
    """A greenstalk client connected to a simulated beanstalkd (see `Simulation.client`)."""

    def __init__(self, sim: Driver, *, name: str | None = None,
                 encoding: str | None = "utf-8", use: str = DEFAULT_TUBE,
                 watch: str | Iterable[str] = DEFAULT_TUBE) -> None:
        self._sim = sim
        self._session = sim.sessions.open(sim.now_ns(), name)
        sim._settle()
        self._sock = self._reader = _Pipe(self)  # type: ignore[assignment]
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
    def _conn(self) -> Any:
        """The core's connection record (read it; commands go through the session)."""
        return self._session.conn

    @property
    def name(self) -> str:
        """The connection's name in traces."""
        return self._session.conn.name

    # ---- plumbing ------------------------------------------------------------------------
    _event: simpy.Event | None = None  # a process client's reserve still waiting (see there)

    def _in_sync(self) -> bool:
        """Open, and the session in sync (no reply unread, no command half-sent)."""
        return not self._sock.closed and self._session.in_sync()

    def _idle(self, what: str) -> None:
        """Refuse a command while a reserve waits (only a process client can be there)."""

    def _run(self, method: str, *args: Any) -> Any:
        """The core's `method` at command level when its arguments pass RULES and the session
        is in sync (then settle; the core's error word becomes greenstalk's exception); else
        BYTES, and the caller goes through greenstalk's bytes."""
        if self._event is not None:
            self._idle(method)
        s = self._session
        if not (RULES[method](*args) and not self._sock.closed and s.in_sync()):
            return BYTES
        sim = self._sim
        try:
            return s.call(method, sim.now_ns(), *args)
        except Refused as e:
            raise exception_for(e.word) from None
        finally:
            sim._settle()

    def _start_reserve(self, timeout: int | None) -> Job | None:
        """Start a reserve at command level (then settle): the job, or None if it waits.

        The same error mapping and settling as `_run`, written out in both: routing `_run`
        through one shared helper costs an extra call per command, measured at 6 % more
        instructions per job in benchmark row 1."""
        sim = self._sim
        try:
            return self._session.reserve(sim.now_ns(), timeout)
        except Refused as e:
            raise exception_for(e.word) from None
        finally:
            sim._settle()

    def _job(self, job: Job) -> greenstalk.Job:
        body = job.body if self.encoding is None else job.body.decode(self.encoding)
        return greenstalk.Job(job.id, body)

    def _reply(self, answer: Answer) -> greenstalk.Job:
        if isinstance(answer, str):
            raise exception_for(answer)
        return self._job(answer)

    def _block(self, done: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        """Run the simulation until `done()` or the connection is closed; if it gives up
        (WouldWaitForever), withdraw the waiting reserve, so the session is usable again."""
        s = self._session
        try:
            self._sim.wait_for(lambda: done() or s.closed, what, timeout)
        except BaseException:
            self._session.cancel(self._sim.now_ns())
            self._sim._settle()
            self._session.take_result()
            raise

    # ---- commands (command level when plain; greenstalk over the pipe otherwise) ----------
    def put(self, body: Any, priority: int = DEFAULT_PRIORITY, delay: int = DEFAULT_DELAY,
            ttr: int = DEFAULT_TTR) -> int:
        buf = body.encode(self.encoding) if isinstance(body, str) and self.encoding else body
        id = self._run("put", priority, delay, ttr, buf)
        return super().put(body, priority, delay, ttr) if id is BYTES else id

    def reserve(self, timeout: int | None = None) -> greenstalk.Job:
        if not (RULES["reserve"](timeout) and self._in_sync()):
            return super().reserve(timeout)
        job = self._start_reserve(timeout)
        if job is not None:
            return self._job(job)
        what = "reserve()" if timeout is None else f"reserve(timeout={timeout})"
        s = self._session
        self._block(lambda: s.result is not None, what,
                    None if timeout is None or timeout < 0 else timeout)
        answer = s.take_result()
        if answer is None:  # closed meanwhile (by another process): as greenstalk says it
            raise ConnectionError("Unexpected EOF")
        return self._reply(answer)

    def release(self, job: greenstalk.Job, priority: int = DEFAULT_PRIORITY,
                delay: int = DEFAULT_DELAY) -> None:
        if self._run("release", job.id, priority, delay) is BYTES:
            super().release(job, priority, delay)

    def bury(self, job: greenstalk.Job, priority: int = DEFAULT_PRIORITY) -> None:
        if self._run("bury", job.id, priority) is BYTES:
            super().bury(job, priority)

    def pause_tube(self, tube: str, delay: int) -> None:
        if self._run("pause_tube", tube, delay) is BYTES:
            super().pause_tube(tube, delay)

    reserve_job = _command("reserve_job", arg=_as_is, out=_job_out)
    delete = _command("delete", arg=_id)
    touch = _command("touch", arg=lambda job: job.id)
    use = _command("use", arg=_as_is, out=lambda _client, _name: None)
    watch = _command("watch", arg=_as_is)
    ignore = _command("ignore", arg=_as_is)
    peek = _command("peek", arg=_as_is, out=_job_out)
    kick = _command("kick", arg=_as_is)
    kick_job = _command("kick_job", arg=_id)
    stats_job = _command("stats_job", arg=_id, out=_stats_out)
    stats_tube = _command("stats_tube", arg=_as_is, out=_stats_out)
    peek_ready = _command("peek_ready", out=_job_out)
    peek_delayed = _command("peek_delayed", out=_job_out)
    peek_buried = _command("peek_buried", out=_job_out)
    stats = _command("stats", out=_stats_out)
    tubes = _command("tubes", "list_tubes", out=_list_out)
    watching = _command("watching", "list_tubes_watched", out=_list_out)
    using = _command("using", "list_tube_used")

    def close(self) -> None:
        """Close the connection, like a dropped TCP connection: reserved jobs are ready at once."""
        pipe, sim = self._sock, self._sim
        if not pipe.closed:
            pipe.closed = True
            self._session.close(sim.now_ns())
            sim.sessions.drop(self._session)
            sim._settle()

    def __repr__(self) -> str:
        c = self._session.conn
        state = "closed" if c.closed else f"using {c.use.name!r}"
        return f"<stalksim.SimClient {c.name} {state} t={self._sim.now:g}s>"


class ProcessClient(SimClient):
    """A client for simpy processes: `job = yield conn.reserve()`; other calls return at once."""

    def __init__(self, sim: Driver, *, name: str | None = None, **kwargs: Any) -> None:
        if name is not None:
            if name in sim._names:
                raise ValueError(f"a connection named {name!r} already exists in this simulation")
            sim._names.add(name)
        self._event = None
        super().__init__(sim, name=name, **kwargs)
        self._session.owner = self  # Simulation._settle calls _answered

    def _idle(self, what: str) -> None:
        if self._event is not None:
            raise RuntimeError(f"{self.name}: {what} while the connection still waits in "
                               f"reserve (yield its event first)")

    def _block(self, done: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        raise RuntimeError(
            f"{self.name}: {what} would block; in a simpy process, reserve with "
            f"`job = yield conn.reserve()` and let the simulation run")

    def reserve(self, timeout: int | None = None) -> simpy.Event:  # type: ignore[override]
        """A simpy event whose value is the reserved `greenstalk.Job` (or that fails with
        greenstalk's TimedOutError / DeadlineSoonError)."""
        if not RULES["reserve"](timeout):
            raise TypeError("timeout must be None or an int of seconds")
        if self._event is not None:
            self._idle("reserve")
        ev = self._sim.env.event()
        s = self._session
        if s.closed:  # the server went away (a restart): as greenstalk on EOF
            return ev.fail(ConnectionError("Unexpected EOF"))
        if self._sock.closed or not s.in_sync():
            raise RuntimeError(f"{self.name}: the connection is still busy with a command")
        self._event = ev
        try:
            job = self._start_reserve(timeout)
        except greenstalk.Error as e:
            self._event = None
            return ev.fail(e)
        if job is not None:
            self._event = None
            return ev.succeed(self._job(job))
        return ev

    def close(self) -> None:
        self._event = None  # a reserve still waiting is never answered now
        super().close()

    def _answered(self) -> None:
        """The session got the answer to the reserve this client's event stands for."""
        ev, answer = self._event, self._session.take_result()
        if ev is None or answer is None:  # no event: closed, or the reserve was withdrawn
            return
        self._event = None
        if isinstance(answer, str):
            ev.fail(exception_for(answer))
        else:
            ev.succeed(self._job(answer))


class RawSimConnection:
    """Raw protocol bytes to a simulated server (the sim twin of a raw socket in the tests)."""

    def __init__(self, sim: Driver) -> None:
        self._sim = sim
        self.session = sim.sessions.open(sim.now_ns())
        sim._settle()

    def send(self, data: bytes) -> None:
        self.session.feed(data, self._sim.now_ns())
        self._sim._settle()

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
            sim._settle()
        data = bytes(out)
        del out[:]
        return data

    def close(self) -> None:
        self.session.close(self._sim.now_ns())
        self._sim.sessions.drop(self.session)
        self._sim._settle()
