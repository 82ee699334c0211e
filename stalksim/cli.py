"""The `stalksim` command: list and run named scenarios, or serve the protocol over TCP.

    python -m stalksim list
    python -m stalksim run hung-consumer --plot hang.png --trace hang.jsonl
    python -m stalksim serve ...            (see stalksim.wire)

Bad arguments print one line on stderr and exit non-zero; no tracebacks.

`serve` is dispatched before anything else is imported: `stalksim.wire` reads its options from
this module, so at the top this module imports only what the interpreter has already loaded
(not even typing or dataclasses), and `list` and `run` import the scenarios (and with them
simpy) when they run. tests/test_imports.py holds serve to that.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms at start-up)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import IO, Any

    from stalksim.scenarios import Result

LONG_RUN = 500.0
"""Virtual seconds beyond which a run is long enough for a progress bar on a non-TTY."""


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:  # argparse would print usage and exit
            raise UsageError(message)

    p = _Parser(prog="stalksim", description="Learn beanstalkd with a simulator.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the named scenarios")
    run = sub.add_parser("run", help="run a named scenario and summarise it")
    run.add_argument("scenario")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--until", type=float, default=None, help="virtual seconds to run")
    run.add_argument("--plot", metavar="PNG", help="save job timeline and worker swimlanes")
    run.add_argument("--trace", metavar="JSONL", help="save the trace as JSON Lines")
    run.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    sub.add_parser("serve", help="serve the beanstalkd protocol over TCP (stalksim.wire)",
                   add_help=False)
    sub.add_parser("doctor", help="the day-before check of a classroom machine", add_help=False)
    sub.add_parser("handouts", help="life-cycle diagram and answer key (PDF/PNG) into OUT/",
                   add_help=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `stalksim` and `python -m stalksim`; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        return _serve(args[1:])
    if args[:1] == ["doctor"]:
        from stalksim.doctor import main as doctor
        return doctor(args[1:])
    if args[:1] == ["handouts"]:
        from stalksim.handouts import main as handouts
        return handouts(args[1:])
    try:
        ns = _parser().parse_args(args)
        if ns.command == "list":
            return _list(sys.stdout)
        return _run(ns)
    except UsageError as e:
        return _fail(str(e), 2)
    except OSError as e:
        return _fail(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    print(f"stalksim: error: {message}", file=sys.stderr)
    return code


# ---- `stalksim serve` options: beanstalkd 1.12's optparse(), flag for flag ----------------

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


def _serve(argv: list[str]) -> int:
    """`stalksim serve`: bind first, then import the server. Options that do not parse go to
    `stalksim.wire.serve_main`, which reports them as it does when run on its own."""
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


def _list(out: IO[str]) -> int:
    from stalksim.scenarios import SCENARIOS

    width = max(map(len, SCENARIOS))
    for sc in SCENARIOS.values():
        print(f"{sc.name:<{width}}  {sc.title}", file=out)
    return 0


def _writable(path: str | None, what: str) -> None:
    """Refuse an output path we could not write, before spending time on the run."""
    if path is None:
        return
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{what} {path!r} is a directory")
    if not os.path.isdir(parent):
        raise UsageError(f"{what} {path!r}: directory {parent!r} does not exist")
    existed = os.path.exists(path)
    try:  # the only reliable test (root, read-only mounts, /proc): try it
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise UsageError(f"{what} {path!r} is not writable ({e.strerror})") from None
    if not existed:
        os.remove(path)


def _run(ns: argparse.Namespace) -> int:
    from stalksim.scenarios import find, run_scenario

    try:
        sc = find(ns.scenario)
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    until = sc.default_until if ns.until is None else ns.until
    if not (math.isfinite(until) and until >= 0):
        raise UsageError(f"--until must be a number of seconds >= 0, not {ns.until:g}")
    _writable(ns.plot, "--plot")
    _writable(ns.trace, "--trace")
    bar = None if ns.no_progress else _bar(sys.stderr, until, sc.long)
    result = run_scenario(sc.name, seed=ns.seed, until=until, progress=bar)
    print("\n".join(summary_lines(result)))
    if ns.trace:
        result.trace.to_jsonl(ns.trace)
        print(f"trace: {ns.trace} ({len(result.trace)} events)")
    if ns.plot:
        _plot(result, ns.plot)
        print(f"plot: {ns.plot}")
    return 0


def _bar(err: IO[str], until: float, long: bool) -> Any:
    """A plain-text progress callback: redrawn in place on a TTY, or a few lines for a long
    run written to a file or pipe; None when neither applies."""
    tty = err.isatty()
    if not (tty or long or until >= LONG_RUN):
        return None
    shown = [-1]

    def progress(done: float, total: float) -> None:
        frac = done / total if total else 1.0
        step = int(frac * (40 if tty else 4))
        if step == shown[0]:
            return
        shown[0] = step
        filled = int(frac * 30)
        text = f"[{'#' * filled}{'.' * (30 - filled)}] {frac:4.0%}  t={done:g}/{total:g} s"
        if tty:
            err.write("\r" + text + ("\n" if frac >= 1 else ""))
        else:
            err.write(text + "\n")
        err.flush()

    return progress


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f} s"


def summary_lines(result: Result) -> list[str]:
    """What `run` prints: the scenario, jobs, re-deliveries by cause, waits, the story."""
    s = result.summary()
    by = s["redeliveries_by_cause"]
    other = ", ".join(f"{c}: {n}" for c, n in sorted(by.items())
                      if c not in ("connection-closed", "ttr-expired"))
    lines = [
        f"{result.scenario.name} (seed {result.seed}, {result.until:g} s): "
        f"{result.scenario.title}",
        f"jobs: {s['jobs_put']} put, {s['jobs_done']} done, {s['jobs_buried']} buried, "
        f"{s['jobs_left']} still queued",
        f"re-deliveries: {s['redeliveries']} (connection closed: "
        f"{s['redeliveries_connection_closed']}, TTR expired: {s['redeliveries_ttr_expired']}"
        + (f", {other}" if other else "") + ")",
        f"duplicate work (reserved again after TTR expired): {s['duplicate_work']}",
        f"wait to first reserve: p50 {_secs(s['wait_p50'])}, p90 {_secs(s['wait_p90'])}, "
        f"p99 {_secs(s['wait_p99'])}",
    ]
    lines += [f"what happened: {line}" for line in result.story()]
    return lines


def _plot(result: Result, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from stalksim import views

    fig = views.overview(result.trace)
    fig.savefig(path, dpi=110, format="png")
