"""`stalksim serve`: its options read as beanstalkd 1.12's optparse() reads them, flag for
flag; the socket bound first; then the server (`stalksim.wire`) imported and run on it.

At the top this module imports only what the interpreter has already loaded (not even typing
or dataclasses): a harness that starts the binary and connects ~100 ms later must find it
listening (tests/test_imports.py and benchmarks/startup.py hold it to that).
"""

from __future__ import annotations

import importlib
import math
import os
import re
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms at start-up)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


SERVE_USAGE = """Use: stalksim serve [OPTIONS]

Options:
 -b DIR   write-ahead log directory
 -f MS    fsync at most once every MS milliseconds (default is 50ms);
          use -f0 for "always fsync"
 -F       never fsync
 -l ADDR  listen on address (default is 127.0.0.1; beanstalkd's is 0.0.0.0);
          unix:PATH listens on a unix socket
 -p PORT  listen on port (default is 11300)
 -u USER  become user and group
 -z BYTES set the maximum job size in bytes (default is 65535);
          max allowed is 1073741824 bytes
 -s BYTES set the size of each write-ahead log file (default is 10485760);
          will be rounded up to a multiple of 4096 bytes
 -v       show version information
 -V       increase verbosity
 -h       show this help
 --speed FACTOR      virtual time runs FACTOR times faster (0.001 to 10000; default 1)
 --trace FILE        write the job trace to FILE as JSON Lines
 --trace-max EVENTS  at EVENTS events, FILE moves to FILE.1 and a new FILE starts
"""
MAX_JOB_SIZE_LIMIT = 1073741824  # beanstalkd's JOB_DATA_SIZE_LIMIT_MAX
MIN_SPEED = 1e-3
MAX_SPEED = 1e4  # 2**62 ns of virtual time then last 5.3 days of wall clock
"""`--speed` bounds. They are defined here, with the options, so that this module never
imports stalksim.wire (which imports this one): wire's Clock checks the same bounds."""
_SIZE = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z")


class ServeExit(Exception):
    """Parsing `stalksim serve` options ended the program: exit `code` after printing `err`
    (and beanstalkd's usage, if `usage`) on stderr and `out` on stdout."""

    def __init__(self, code: int, err: str = "", usage: bool = False, out: str = "") -> None:
        super().__init__(err)
        self.code, self.err, self.usage, self.out = code, err, usage, out


class ServeOptions:
    """What `stalksim serve` was asked to do (`port` is a string, as getaddrinfo takes it).

    A plain class rather than a dataclass: dataclasses imports inspect, several milliseconds
    that a server expected to listen as fast as beanstalkd cannot spare."""

    def __init__(self) -> None:
        self.addr = "127.0.0.1"
        self.port = "11300"
        self.max_job_size = 65535
        self.verbose = 0
        self.speed = 1.0
        self.trace: str | None = None
        self.trace_max: int | None = None
        self.binlog: str | None = None  # -b DIR
        self.binlog_size = 10485760  # -s BYTES
        self.fsync_ms: int | None = 50  # -f MS; None for -F (never fsync)
        self.user: str | None = None  # -u USER
        self.warnings: list[str] = []

    def __repr__(self) -> str:
        return "ServeOptions(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServeOptions) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces


def _size(text: str) -> int:
    """beanstalkd's parse_size_t: sscanf("%zu%c"), so "-1" wraps and "10x" is refused."""
    m = _SIZE.match(text)
    if m is None:
        raise ServeExit(5, f"invalid size: {text}", usage=True)
    value = int(m.group(2))
    if value > 0xFFFFFFFFFFFFFFFF:
        return 0xFFFFFFFFFFFFFFFF
    return -value % (1 << 64) if m.group(1) == "-" else value


def _long_option(o: ServeOptions, name: str, value: str) -> None:
    if name == "speed":
        try:
            o.speed = float(value)
        except ValueError:
            o.speed = math.nan
        if not MIN_SPEED <= o.speed <= MAX_SPEED:
            raise ServeExit(5, f"--speed {value}: a factor from {MIN_SPEED:g} to "
                               f"{MAX_SPEED:g}, or virtual time outruns its 146-year limit")
    elif name == "trace":
        o.trace = value
    else:
        if not value.isdigit() or int(value) < 1:
            raise ServeExit(5, f"--trace-max {value}: a number of events >= 1")
        o.trace_max = int(value)


def parse_serve_args(argv: Sequence[str]) -> ServeOptions:
    """Read `stalksim serve` options as beanstalkd 1.12 reads its own (bundled flags, `-p11300`,
    the same messages and exit statuses), plus `--speed`, `--trace` and `--trace-max`.

    Raises ServeExit for -h, -v and every error. One deliberate difference: a numeric port
    above 65535 is refused, where beanstalkd silently listens on it modulo 65536.
    """
    o = ServeOptions()
    wal_flags: list[str] = []  # -s, -f and -F, which only a binlog uses
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--help":
            raise ServeExit(0, usage=True)
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if name not in ("speed", "trace", "trace-max"):
                raise ServeExit(5, f"unknown flag: {a}", usage=True)
            if not eq:
                if i == len(args):
                    raise ServeExit(5, f"flag requires an argument: --{name}", usage=True)
                value, i = args[i], i + 1
            _long_option(o, name, value)
            continue
        if len(a) < 2 or a[0] != "-":
            raise ServeExit(5, f"unknown argument: {a}", usage=True)
        j = 1
        while j < len(a):
            c, j = a[j], j + 1
            if c in "plzsfub":  # EARGF: the rest of this word, else the next word
                if j < len(a):
                    value, j = a[j:], len(a)
                elif i < len(args):
                    value, i = args[i], i + 1
                else:
                    raise ServeExit(5, f"flag requires an argument: -{c}", usage=True)
                if c == "p":
                    o.port = value
                elif c == "l":
                    o.addr = value
                elif c == "z":
                    o.max_job_size = _size(value)
                elif c == "s":
                    o.binlog_size, wal_flags = _size(value), [*wal_flags, "-s"]
                elif c == "f":
                    o.fsync_ms, wal_flags = _size(value), [*wal_flags, "-f"]
                elif c == "b":
                    o.binlog = value
                else:
                    o.user = value
            elif c in "cn":
                o.warnings.append(f"-{c} flag was removed. binlog is always compacted.")
            elif c == "F":
                o.fsync_ms, wal_flags = None, [*wal_flags, "-F"]
            elif c == "h":
                raise ServeExit(0, usage=True)
            elif c == "v":
                raise ServeExit(0, out="beanstalkd 1.12 (stalksim)\n")
            elif c == "V":
                o.verbose += 1
            else:
                raise ServeExit(5, f"unknown flag: {a[j - 2:]}", usage=True)
    if o.max_job_size > MAX_JOB_SIZE_LIMIT:
        o.warnings.append(f"maximum job size was set to {MAX_JOB_SIZE_LIMIT}")
        o.max_job_size = MAX_JOB_SIZE_LIMIT
    if o.port.isascii() and o.port.isdigit() and int(o.port) > 65535:
        raise ServeExit(111, f"-p {o.port}: a port is 0 to 65535 (beanstalkd 1.12 would "
                             f"quietly listen on {int(o.port) % 65536})")
    if not o.addr:
        raise ServeExit(111, "-l '': getaddrinfo(): Name or service not known")
    if o.addr == "unix:":  # beanstalkd binds "" (an unreachable autobound name) and serves it
        raise ServeExit(111, "-l unix: needs a path (unix:PATH)")
    if o.binlog is not None and o.speed != 1:
        raise ServeExit(5, f"-b with --speed {o.speed:g}: a binlog's times are the wall "
                           "clock's; run it at --speed 1")
    if o.binlog is None and wal_flags:
        o.warnings.append(f"{' '.join(wal_flags)}: no effect without -b DIR (no binlog)")
    return o


def main(argv: list[str]) -> int:
    """`stalksim serve`: bind first, then import the server. Options that do not parse go to
    `stalksim.wire.serve_main`, which reports them as it does when run on its own."""
    _not_in_browser()
    try:
        opts = parse_serve_args(argv)
    except ServeExit:
        return int(_wire().serve_main(argv) or 0)
    return start_serving(opts)


def _wire() -> Any:
    """stalksim.wire, looked up in sys.modules first (as `import` does: tests stand in for it)."""
    return importlib.import_module("stalksim.wire")


def report(e: ServeExit) -> int:
    """Print what a ServeExit says (as beanstalkd would); returns its exit status."""
    sys.stdout.write(e.out)
    if e.err:
        print(f"stalksim serve: {e.err}", file=sys.stderr)
    if e.usage:
        sys.stderr.write(SERVE_USAGE)
    return e.code


def start_serving(opts: ServeOptions) -> int:
    """Warn, listen, become `-u USER`, and only then import the server (asyncio, the core)
    and run it on the bound socket: a harness that starts the binary and connects soon after
    finds it listening (the kernel queues connections until the loop accepts them)."""
    _not_in_browser()
    for text in opts.warnings:
        print(f"stalksim serve: {text}", file=sys.stderr)
    import signal  # signals before the event loop takes them over: a stop, or drain mode

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_at_once)
    signal.signal(signal.SIGUSR1, _drain_later)
    try:
        sock = listen(opts.addr, opts.port)
        if opts.user is not None:
            become(opts.user)
    except ServeExit as e:
        return report(e)
    return int(_wire().run(opts, sock))


def _not_in_browser() -> None:
    """In the browser (JupyterLite), raise NotInBrowser: a server needs a port to listen on."""
    from stalksim._browser import refuse

    refuse("stalksim serve", "a TCP port to listen on, which a browser cannot open",
           "run `python -m stalksim serve` on your own machine (`bash scripts/lab.sh` in a "
           "clone of stalksim sets it up)")


def _exit_at_once(signum: int, frame: object) -> None:
    raise SystemExit(0)


EARLY_DRAIN: list[int] = []
"""SIGUSR1s that came before the server could take them (it then starts in drain mode)."""


def _drain_later(signum: int, frame: object) -> None:
    EARLY_DRAIN.append(signum)


def listen(addr: str, port: str) -> Any:
    """A listening, non-blocking socket as beanstalkd 1.12 makes it (net.c): `unix:PATH`, or
    the first getaddrinfo() answer for ADDR and PORT that binds. ServeExit(111) otherwise."""
    import socket

    if addr.startswith("unix:"):
        return _listen_unix(addr[5:])
    try:
        found = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as e:
        raise ServeExit(111, f"cannot listen on {addr}:{port}: {_why(e)}") from None
    why: OSError | None = None
    for family, kind, proto, _, where in found:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(where)
            sock.listen(1024)
        except OSError as e:
            sock.close()
            why = e
            continue
        sock.setblocking(False)
        return sock
    raise ServeExit(111, f"cannot listen on {addr}:{port}: {_why(why)}")


def _why(e: BaseException | None) -> str:
    return str(getattr(e, "strerror", None) or e or "no address")


def _listen_unix(path: str) -> Any:
    """beanstalkd's make_unix_socket: a socket file already at PATH is removed (even one a
    live server listens on), any other file is refused; the file stays after exit."""
    import socket
    import stat

    size = len(os.fsencode(path))
    if size > 107:  # sizeof(sun_path) - 1
        raise ServeExit(111, f"socket path {path} is too long ({size} characters), where "
                             "maximum allowed is 107")
    try:
        is_socket = stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        is_socket = None
    try:
        if is_socket is False:
            raise ServeExit(111, f"unix:{path}: another file already exists in the given path")
        if is_socket:
            print("stalksim serve: removing existing local socket to replace it",
                  file=sys.stderr)
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
    except OSError as e:
        raise ServeExit(111, f"cannot listen on unix:{path}: {_why(e)}") from None
    sock.setblocking(False)
    return sock


def become(user: str) -> None:
    """`-u USER` as beanstalkd's su() does it (exit 33: no such user; 34: cannot become it);
    as root, the supplementary groups are dropped too (beanstalkd keeps root's)."""
    import pwd

    try:
        pw = pwd.getpwnam(user)
    except (KeyError, ValueError):
        raise ServeExit(33, f'getpwnam("{user}"): no such user') from None
    try:
        if os.geteuid() == 0:
            os.setgroups([])
        os.setgid(pw.pw_gid)
    except OSError as e:
        raise ServeExit(34, f'setgid({pw.pw_gid} "{user}"): {e.strerror}') from None
    try:
        os.setuid(pw.pw_uid)
    except OSError as e:
        raise ServeExit(34, f'setuid({pw.pw_uid} "{user}"): {e.strerror}') from None
