"""`stalksim serve`: the simulated beanstalkd 1.12 on TCP, in real (or scaled) time.

One core `Server`, one asyncio event loop, one `protocol.Session` per connection, and a single
timer that fires when the core's next timer falls due. After anything that calls the core (data
received, the timer, a hang-up, a close) the server settles: the core's answers to waiting
reserves go to their sessions, which run their queued input and send their replies. Virtual time is
`(monotonic ns - start) * speed`, so `--speed 10` makes delays, TTRs and pauses ten times
shorter on the wall clock. Memory per connection is bounded: a session keeps at most one read
chunk of unconsumed input and reading stops while replies are not being taken; it starts again
as soon as they are. A connection whose reading is paused is still watched for the client
hanging up (beanstalkd's EPOLLRDHUP), so a client that floods and resets leaves nothing behind:
the memory its buffers took goes back to the system soon after it closes (see `release_memory`).
Virtual time is bounded by `core.MAX_TIME` (about 146 years): `--speed` is at most 10,000,
and the server stops with an error before its clock would pass the limit.
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import os
import platform
import resource
import secrets
import select
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from stalksim import protocol
from stalksim.core import MAX_TIME, SEC, Server
from stalksim.serving import (
    EARLY_DRAIN,
    MAX_SPEED,
    MIN_SPEED,
    ServeExit,
    ServeOptions,
    listen,
    parse_serve_args,
    report,
    start_serving,
)
from stalksim.trace import TraceFile

VERSION = "1.12"
OUT_LIMIT = 256 * 1024  # replies kept per connection before we stop running its commands
IN_LIMIT = 64 * 1024  # input kept per connection while it waits in reserve
TRACE_EVERY = 0.5  # seconds between trace flushes
WATCH_EVERY = 0.2  # seconds between hang-up checks of connections whose reading is paused
TRIM_AFTER = 0.2  # seconds from a connection's close to giving freed memory back to the system
_GONE = select.POLLRDHUP | select.POLLHUP | select.POLLERR


class Clock:
    """Virtual nanoseconds from the monotonic clock, `speed` times faster (never past
    MAX_TIME: the server stops before that, see `serve`)."""

    def __init__(self, speed: float = 1.0, start: int = 0) -> None:
        if not MIN_SPEED <= speed <= MAX_SPEED:  # also refuses nan
            raise ValueError(f"speed must be from {MIN_SPEED:g} to {MAX_SPEED:g}, not {speed!r}")
        if not 0 <= start < MAX_TIME:
            raise ValueError(f"start must be from 0 to {MAX_TIME} ns, not {start!r}")
        self.speed = speed
        self.start = start  # virtual time at wall0 (0 but in tests of the time limit)
        self.wall0 = time.monotonic_ns()

    def now(self) -> int:
        v = self.start + int((time.monotonic_ns() - self.wall0) * self.speed)
        return v if v < MAX_TIME else MAX_TIME

    def wall(self, virtual_ns: int) -> float:
        """The loop time (monotonic seconds) at which virtual time reaches `virtual_ns`."""
        return (self.wall0 + math.ceil((virtual_ns - self.start) / self.speed)) / 1e9


class WireServer:
    """The core, the clock, the timer and the open connections of one `stalksim serve`."""

    def __init__(self, max_job_size: int = 65535, speed: float = 1.0, verbose: int = 0,
                 trace: bool = False, start: int = 0) -> None:
        self.clock = Clock(speed, start)
        self.core = Server(max_job_size=max_job_size, now=self.clock.now(),
                           trace=[] if trace else None)
        self.core.info = host_info()
        self.core.rusage = _rusage
        self.verbose = verbose
        self.sessions = protocol.Sessions(self.core)  # each session's owner: its Connection
        self.conns: set[Connection] = set()
        self.held: set[Connection] = set()  # connections whose reading is paused
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: int | None = None
        self._watch: asyncio.TimerHandle | None = None
        self._trim: asyncio.TimerHandle | None = None
        self.binlog_said = 0  # how many of the binlog's warnings were printed

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    def rearm(self) -> None:
        """Make the timer fire at the core's next due time (call after anything that may
        have created an earlier one)."""
        due = self.core.next_due()
        if due is None or (self._timer is not None and self._timer_due is not None
                           and self._timer_due <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = asyncio.get_running_loop().call_at(self.clock.wall(due), self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_due = None
        self.core.advance(self.clock.now())
        self.settle()

    def settle(self) -> None:
        """After any core call: hand out the core's answers (each answered connection runs
        its queued input and sends), until none is left; then re-arm the timer."""
        while True:
            answered = self.sessions.settle()
            if not answered:
                break
            for s in answered:
                s.owner.drive()
        self.rearm()

    def hold(self, c: Connection, held: bool) -> None:
        """Note that `c` stopped (or resumed) reading; paused ones are polled for hang-ups."""
        if held:
            self.held.add(c)
            if self._watch is None:
                self._watch = asyncio.get_running_loop().call_later(WATCH_EVERY, self._poll)
        else:
            self.held.discard(c)

    def _poll(self) -> None:
        """Find held connections whose client hung up or reset (it cannot be read from them,
        since reading is paused): the kernel's POLLRDHUP/POLLHUP/POLLERR say so."""
        self._watch = None
        if not self.held:
            return
        poller = select.poll()
        fds = {}
        for c in self.held:
            fds[c.fd] = c
            poller.register(c.fd, select.POLLRDHUP)
        for fd, ev in poller.poll(0):
            if ev & _GONE:
                fds[fd].peer_gone(reset=bool(ev & (select.POLLHUP | select.POLLERR)))
        if self.held:
            self._watch = asyncio.get_running_loop().call_later(WATCH_EVERY, self._poll)

    def release_memory_soon(self) -> None:
        """After a close: trim malloc's heap within TRIM_AFTER (one trim for a burst of closes,
        at most one per TRIM_AFTER however many connections come and go)."""
        if _MALLOC_TRIM is not None and self._trim is None:
            self._trim = asyncio.get_running_loop().call_later(TRIM_AFTER, self._release)

    def _release(self) -> None:
        self._trim = None
        release_memory()

    def stop(self) -> None:
        for handle in (self._timer, self._watch, self._trim):
            if handle is not None:
                handle.cancel()
        for c in list(self.conns):
            c.transport.close()


class Connection(asyncio.Protocol):
    """One TCP client: moves bytes between its transport and its `Session`."""

    def __init__(self, server: WireServer) -> None:
        self.server = server
        self.write_paused = False
        self.reading = True
        self.fd = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.fd = transport.get_extra_info("socket").fileno()
        srv = self.server
        self.session = srv.sessions.open(srv.clock.now(), owner=self)
        conn = self.session.conn
        self.session.max_out = OUT_LIMIT
        if srv.verbose:
            self.session.log = srv.log
            srv.log(f"{conn.name} connected from {transport.get_extra_info('peername')}")
        transport.set_write_buffer_limits(high=OUT_LIMIT)
        srv.conns.add(self)
        srv.settle()

    def data_received(self, data: bytes) -> None:
        self.drive(data)
        self.server.settle()

    def drive(self, data: bytes = b"") -> None:
        """Run the commands `data` completes and send their replies; while the replies are
        being taken (writing is not paused), keep running the input left behind. The caller
        settles the server after."""
        s = self.session
        clock = self.server.clock
        s.feed(data, clock.now())
        while s.stalled and not self.write_paused and not self.transport.is_closing():
            self._flush()
            s.feed(b"", clock.now())
        self._after()

    def _flush(self) -> None:
        out = self.session.out
        if out and not self.write_paused and not self.transport.is_closing():
            self.transport.write(bytes(out))  # may call pause_writing()
            out.clear()

    def _after(self) -> None:
        """After new output: send it, close after `quit`, throttle reading, re-arm the timer."""
        s = self.session
        self._flush()
        if s.closed:
            self.transport.close()  # what was written is still sent
        elif not self.transport.is_closing():
            hold = s.stalled or s.buffered() > IN_LIMIT
            if hold != (not self.reading):
                if hold:
                    self.transport.pause_reading()
                else:
                    self.transport.resume_reading()
                self.reading = not hold
                self.server.hold(self, hold)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.session.closed:
            self.drive()
            self.server.settle()

    def peer_gone(self, reset: bool) -> None:
        """The client hung up while reading was paused: a reset drops the connection (as a
        failed read would); a half-close answers a waiting reserve, as `eof_received` does."""
        if reset:
            self.transport.abort()
        elif self.session.waiting:
            self.eof_received()

    def eof_received(self) -> bool:
        """The client shut its side: a waiting reserve gets TIMED_OUT (sent as the server
        settles, with the replies of the commands queued behind it), then we close."""
        if self.session.waiting:
            self.session.hangup(self.server.clock.now())
            self.server.settle()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        srv = self.server
        srv.release_memory_soon()
        srv.conns.discard(self)
        srv.held.discard(self)
        if not self.session.closed:
            self.session.close(srv.clock.now())
        srv.sessions.drop(self.session)
        srv.log(f"{self.session.conn.name} closed")
        # break the session -> self cycle and drop unsent replies now: left to the cyclic
        # collector, the buffers of stalled connections piled up (RSS grew ~13 MB for every
        # 70 clients that flooded and reset)
        self.session.owner = self.session.log = None
        self.session.out = bytearray()
        srv.settle()


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None under another C library (which has none to call)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_MALLOC_TRIM = _malloc_trim()


def release_memory() -> None:
    """Give the free pages of malloc's heap back to the system (glibc only; elsewhere a no-op).

    Why: a connection's buffers (256 KiB reads, up to OUT_LIMIT of replies, the transport's
    write buffer) are bigger than glibc's mmap threshold, but glibc raises that threshold to
    the size of the first such block freed, so from then on they come from the heap. Freed,
    they stay in it as free chunks among live small objects: after clients that flood and
    reset, malloc had 4 MiB in use and up to 28 MiB free, all of it resident. A fixed
    threshold (mallopt) avoids this but costs an mmap/munmap per read (the server used 35-55%
    more CPU under load); a trim after closes costs a few ms for tens of MiB, once."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def host_info() -> dict[str, object]:
    """What `stats` shows about the machine, taken as beanstalkd takes it (uname)."""
    u = os.uname()
    return {"pid": os.getpid(), "id": secrets.token_hex(8), "hostname": u.nodename,
            "os": u.version, "platform": u.machine or platform.machine()}


def _rusage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


class _LoopErrors:
    """The loop's exception handler: one line on stderr per kind of error and 10 s (an
    exhausted fd table would otherwise log a traceback per refused accept)."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        text = f"{context.get('message', 'error')}: {exc!r}" if exc else context.get("message")
        now = time.monotonic()
        if now - self.last.get(str(text), -math.inf) >= 10:
            self.last[str(text)] = now
            print(f"stalksim serve: {text}", file=sys.stderr, flush=True)


class StartError(Exception):
    """`stalksim serve` could not start or had to stop: exit `code`, message on stderr."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


async def serve(opts: ServeOptions, start: int = 0, sock: Any = None) -> None:
    """Run on `sock` (a listening socket; None: listen as `opts` say) until SIGTERM or SIGINT;
    raise StartError if the server cannot start or its virtual time (starting at `start` ns)
    reaches MAX_TIME. A binlog (`-b`) is restored before the first connection is accepted
    and closed at the stop."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_LoopErrors())
    stop = asyncio.Event()
    failure: list[StartError] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if sock is None:
        try:
            sock = listen(opts.addr, opts.port)
        except ServeExit as e:
            raise StartError(e.err, e.code) from None
    srv = WireServer(opts.max_job_size, opts.speed, opts.verbose, bool(opts.trace), start)
    loop.add_signal_handler(signal.SIGUSR1, lambda: setattr(srv.core, "draining", True))
    srv.core.draining = bool(EARLY_DRAIN)
    binlog = _open_binlog(srv, opts)
    server = await loop.create_server(lambda: Connection(srv), sock=sock, backlog=1024)
    srv.log(f"stalksim serve: listening on {opts.addr}" +
            ("" if opts.addr.startswith("unix:") else f":{opts.port}"))

    def out_of_time() -> None:
        failure.append(StartError(
            f"virtual time is about to pass its limit of 2**62 ns (146 years) at --speed "
            f"{opts.speed:g}; stopping", 1))
        stop.set()

    limit = loop.call_at(srv.clock.wall(MAX_TIME - SEC), out_of_time)
    writer = None
    try:
        if opts.trace:  # opened once the socket is bound: a failed start keeps an old trace
            meta = {"source": "stalksim serve", "speed": opts.speed, "pid": os.getpid()}
            try:
                writer = TraceFile(opts.trace, meta, opts.trace_max)
            except OSError as e:
                raise StartError(f"--trace {opts.trace}: {e.strerror or e}", 1) from None
        flusher = asyncio.create_task(_housekeeping(srv, writer, binlog))
        try:
            await stop.wait()
        finally:
            flusher.cancel()
    finally:
        limit.cancel()
        server.close()
        srv.stop()
        if binlog is not None:
            binlog.close()
            _binlog_warnings(srv, binlog)
        if writer is not None:
            _drain_trace(srv, writer)
            writer.close()
    if failure:
        raise failure[0]


def _open_binlog(srv: WireServer, opts: ServeOptions) -> Any:
    """`-b DIR`: the jobs of DIR restored into the (empty) core, journaled from now on; its
    warnings printed as beanstalkd prints them. None without -b."""
    if opts.binlog is None:
        return None
    from stalksim import durable  # only with -b: the binlog is not loaded otherwise

    core = srv.core  # the binlog's times are the wall clock's at the core's `now`
    now_ns = time.time_ns() - (srv.clock.now() - core.now)
    try:
        binlog = durable.attach(core, opts.binlog, size=opts.binlog_size,
                                fsync_ms=opts.fsync_ms, now_ns=now_ns)
    except durable.BinlogError as e:  # beanstalkd exits 10 when it cannot take the directory
        raise StartError(str(e), 10) from None
    _binlog_warnings(srv, binlog)
    return binlog


def _binlog_warnings(srv: WireServer, binlog: Any) -> None:
    """Print what the binlog warned about since last time (the read of DIR, failed writes)."""
    for text in binlog.warnings[srv.binlog_said:]:
        print(f"stalksim serve: {text}", file=sys.stderr, flush=True)
    srv.binlog_said = len(binlog.warnings)


def _drain_trace(srv: WireServer, writer: TraceFile) -> None:
    events = srv.core.trace[:]
    del srv.core.trace[:len(events)]
    writer.write(events)


async def _housekeeping(srv: WireServer, writer: TraceFile | None, binlog: Any) -> None:
    """Every TRACE_EVERY: write the new trace events, say what the binlog warned about."""
    while writer is not None or binlog is not None:
        await asyncio.sleep(TRACE_EVERY)
        if writer is not None:
            _drain_trace(srv, writer)
        if binlog is not None:
            _binlog_warnings(srv, binlog)


def run(opts: ServeOptions, sock: Any = None) -> int:
    """Serve `opts` on `sock` (see `serve`) until stopped; returns the exit status: 0 on a
    clean stop, StartError's code (printed in one line) otherwise."""
    try:
        asyncio.run(serve(opts, sock=sock))
    except StartError as e:
        print(f"stalksim serve: {e}", file=sys.stderr)
        return e.code
    return 0


def serve_main(argv: Sequence[str] | None = None) -> int:
    """`stalksim serve [options]`: beanstalkd's options and exit statuses (5 for a bad option,
    111 if it cannot listen), 0 on a clean stop, 1 for any other failure."""
    try:
        opts = parse_serve_args(sys.argv[1:] if argv is None else argv)
    except ServeExit as e:
        return report(e)
    return start_serving(opts)
