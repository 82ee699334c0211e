"""`stalksim serve`: the simulated beanstalkd 1.12 on TCP, in real (or scaled) time.

One core `Server`, one asyncio event loop, one `protocol.Session` per connection, and a single
timer that fires when the core's next timer falls due. Virtual time is
`(monotonic ns - start) * speed`, so `--speed 10` makes delays, TTRs and pauses ten times
shorter on the wall clock. Memory per connection is bounded: a session keeps at most one read
chunk of unconsumed input and reading stops while replies are not being taken.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import platform
import resource
import secrets
import signal
import sys
import time
from typing import IO

from stalksim import protocol
from stalksim.core import Server

VERSION = "1.12"
MAX_JOB_SIZE_LIMIT = 1073741824  # beanstalkd's JOB_DATA_SIZE_LIMIT_MAX
OUT_LIMIT = 256 * 1024  # replies kept per connection before we stop running its commands
IN_LIMIT = 64 * 1024  # input kept per connection while it waits in reserve
TRACE_EVERY = 0.5  # seconds between trace flushes


class Clock:
    """Virtual nanoseconds from the monotonic clock, `speed` times faster."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0 or math.isinf(speed):
            raise ValueError("speed must be a positive number")
        self.speed = speed
        self.wall0 = time.monotonic_ns()

    def now(self) -> int:
        return int((time.monotonic_ns() - self.wall0) * self.speed)

    def wall(self, virtual_ns: int) -> float:
        """The loop time (monotonic seconds) at which virtual time reaches `virtual_ns`."""
        return (self.wall0 + math.ceil(virtual_ns / self.speed)) / 1e9


class TraceWriter:
    """Appends the core's trace tuples to a JSON Lines file in `stalksim.trace`'s format."""

    def __init__(self, path: str, trace: list, meta: dict) -> None:
        from stalksim.trace import Trace

        self._trace_cls = Trace
        self.trace = trace
        self.file: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        Trace([], meta).to_jsonl(self.file)  # the meta line

    def flush(self) -> None:
        events = self.trace[:]
        if not events:
            return
        del self.trace[:len(events)]
        buf = io.StringIO()
        self._trace_cls(events).to_jsonl(buf)  # reuse the event format; drop its meta line
        text = buf.getvalue()
        self.file.write(text[text.index("\n") + 1:])
        self.file.flush()

    def close(self) -> None:
        self.flush()
        self.file.close()


class WireServer:
    """The core, the clock, the timer and the open connections of one `stalksim serve`."""

    def __init__(self, max_job_size: int = 65535, speed: float = 1.0, verbose: int = 0,
                 trace: bool = False) -> None:
        self.clock = Clock(speed)
        self.core = Server(max_job_size=max_job_size, now=self.clock.now(),
                           trace=[] if trace else None)
        self.core.info = host_info()
        self.core.rusage = _rusage
        self.verbose = verbose
        self.conns: set[Connection] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: int | None = None

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
        protocol.advance(self.core, self.clock.now())
        self.rearm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for c in list(self.conns):
            c.transport.close()


class Connection(asyncio.Protocol):
    """One TCP client: moves bytes between its transport and its `Session`."""

    def __init__(self, server: WireServer) -> None:
        self.server = server
        self.write_paused = False
        self.reading = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        srv = self.server
        with protocol.guard(srv.core):
            conn = srv.core.connect(srv.clock.now())
        self.session = protocol.Session(srv.core, conn)
        self.session.max_out = OUT_LIMIT
        self.session.on_output = self._after
        if srv.verbose:
            self.session.log = srv.log
            srv.log(f"{conn.name} connected from {transport.get_extra_info('peername')}")
        transport.set_write_buffer_limits(high=OUT_LIMIT)
        srv.conns.add(self)
        srv.rearm()

    def data_received(self, data: bytes) -> None:
        self._pump(data)

    def _pump(self, data: bytes = b"") -> None:
        s = self.session
        s.feed(data, self.server.clock.now())
        self._flush()
        while s.stalled and not self.write_paused:  # replies are being taken: keep going
            s.feed(b"", self.server.clock.now())
            self._flush()
        self._after()

    def _flush(self) -> None:
        out = self.session.out
        if out and not self.write_paused and not self.transport.is_closing():
            self.transport.write(bytes(out))
            out.clear()

    def _after(self) -> None:
        """After new output: send it, close after `quit`, throttle reading, re-arm the timer."""
        s = self.session
        self._flush()
        if s.closed:
            self.transport.close()  # what was written is still sent
        else:
            hold = s.stalled or s.buffered() > IN_LIMIT
            if hold and self.reading:
                self.transport.pause_reading()
            elif not hold and not self.reading:
                self.transport.resume_reading()
            self.reading = not hold
        self.server.rearm()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.session.closed:
            self._pump()

    def eof_received(self) -> bool:
        """The client shut its side: a waiting reserve gets TIMED_OUT, then we close."""
        if self.session.waiting:
            self.session.hangup(self.server.clock.now())
            self._flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        srv = self.server
        srv.conns.discard(self)
        if not self.session.closed:
            self.session.close(srv.clock.now())
        srv.log(f"{self.session.conn.name} closed")
        srv.rearm()


def host_info() -> dict[str, object]:
    """What `stats` shows about the machine, taken as beanstalkd takes it (uname)."""
    u = os.uname()
    return {"pid": os.getpid(), "id": secrets.token_hex(8), "hostname": u.nodename,
            "os": u.version, "platform": u.machine or platform.machine()}


def _rusage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="stalksim serve",
        description="Serve the beanstalkd 1.12 protocol from the stalksim simulator.")
    p.add_argument("-l", dest="addr", default="127.0.0.1", help="listen on ADDR")
    p.add_argument("-p", dest="port", type=int, default=11300, help="listen on PORT")
    p.add_argument("-z", dest="max_job_size", type=int, default=65535,
                   help="maximum job size in bytes (capped at 1073741824)")
    p.add_argument("-V", dest="verbose", action="count", default=0,
                   help="verbose: log connections and commands to stderr")
    p.add_argument("-v", dest="version", action="store_true", help="print version and exit")
    p.add_argument("--speed", type=float, default=1.0,
                   help="virtual time runs FACTOR times faster than the wall clock")
    p.add_argument("--trace", metavar="FILE", help="write the job trace as JSON Lines")
    for flag in ("-b", "-s", "-u", "-c"):  # beanstalkd options without a meaning here
        p.add_argument(flag, dest="ignored" + flag[1], help=argparse.SUPPRESS)
    for flag in ("-f", "-F", "-n"):
        p.add_argument(flag, dest="ignored" + flag[1], action="store_true",
                       help=argparse.SUPPRESS)
    return p.parse_args(argv)


async def serve(opts: argparse.Namespace) -> None:
    """Run until SIGTERM or SIGINT."""
    srv = WireServer(min(opts.max_job_size, MAX_JOB_SIZE_LIMIT), opts.speed, opts.verbose,
                     trace=bool(opts.trace))
    writer = None
    if opts.trace:
        meta = {"source": "stalksim serve", "speed": opts.speed, "pid": os.getpid()}
        writer = TraceWriter(opts.trace, srv.core.trace, meta)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, lambda: setattr(srv.core, "draining", True))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(lambda: Connection(srv), opts.addr, opts.port,
                                      reuse_address=True, backlog=1024)
    srv.log(f"stalksim serve: listening on {opts.addr}:{opts.port}")

    async def flush_trace() -> None:
        while writer is not None:
            await asyncio.sleep(TRACE_EVERY)
            writer.flush()

    flusher = asyncio.create_task(flush_trace())
    try:
        await stop.wait()
    finally:
        flusher.cancel()
        server.close()
        srv.stop()
        await server.wait_closed()
        if writer is not None:
            writer.close()


def serve_main(argv: list[str] | None = None) -> int:
    """`stalksim serve [options]`: beanstalkd's options where they make sense; 0 on a clean
    stop, 1 if the server cannot start."""
    opts = parse_args(argv)
    if opts.version:
        print(f"beanstalkd {VERSION} (stalksim)")
        return 0
    for flag in "bsucfFn":
        if getattr(opts, "ignored" + flag):
            print(f"stalksim serve: option -{flag} is not supported; ignored", file=sys.stderr)
    if opts.max_job_size < 0:
        print("stalksim serve: -z needs a size >= 0", file=sys.stderr)
        return 1
    if opts.max_job_size > MAX_JOB_SIZE_LIMIT:
        print(f"stalksim serve: maximum job size was set to {MAX_JOB_SIZE_LIMIT}",
              file=sys.stderr)
    try:
        asyncio.run(serve(opts))
    except (OSError, ValueError) as e:
        print(f"stalksim serve: {e}", file=sys.stderr)
        return 1
    return 0
