"""Differential runner: one sequence of greenstalk calls on two servers, compared call by call.

A sequence is a list of plain tuples (see `STEP_KINDS`), so a failing one can be pasted back
into `run_sequence` by hand. The pair of servers is `STALKSIM_DIFF_PAIR` (`sim-real` by default;
`real-real` checks the runner itself against two real beanstalkd processes).

The simulator's clock follows the real one (tests/diffclock.py: no step races a timer).
Waiting reserves are sent as bytes and answered later (`collect`), on both servers, so the
runner sees which connection got which job, TIMED_OUT and DEADLINE_SOON.
"""

from __future__ import annotations

import os
import pprint
import time
from typing import Any

import greenstalk

from tests.backends import Backend, RealBackend, SimBackend
from tests.diffclock import (
    SETTLE_SECONDS,
    Clock,
    Late,
    Side,
    closed,
    read_all,
    wait_for_server,
)

ATTEMPTS = 4  # runs of one sequence when the runner is Late (see run_sequence)
RERUNS: list[str] = []  # why each rerun was needed, for the shard's summary
MAX_JOB_SIZE = 64
DESYNC_SETTLE_SECONDS = 0.01
REPLY_SECONDS = 2.0  # how long a socket may lag behind the simulator's answer
MAX_WAITS = 3
MAX_CLOSES = 2
TUBES = ["default", "t1", "t2"]
BAD_TUBES = ["bad name", "-x"]
MISSING_ID = 999

# Fields of `stats` that depend on the machine or process, not on the protocol.
MACHINE_FIELDS = frozenset(
    {"pid", "uptime", "rusage-utime", "rusage-stime", "id", "hostname", "os", "platform", "version"}
)

# A job id in a step is an int, or a name resolved while the sequence runs (from the first
# backend's results, which equal the second's up to the first divergence):
MINE = "mine"  # the job this connection last got from reserve / reserve_job / a wait
LAST_PUT = "last-put"  # the id the last successful put returned, on any connection
ID_KINDS = {"reserve_job", "delete", "release", "bury", "touch", "kick_job", "peek", "stats_job"}

# A step is (kind, connection index, *arguments), or ("wait",): sleep WAIT_SECONDS, then sync.
STEP_KINDS = {
    # kind: argument names after the connection index
    "put": ("pri", "delay", "ttr", "body"),
    "reserve": (),
    "reserve_wait": ("timeout",),  # None: reserve; n: reserve-with-timeout n; answered later
    "reserve_job": ("id",),
    "delete": ("id",),
    "release": ("id", "pri", "delay"),
    "bury": ("id", "pri"),
    "touch": ("id",),
    "kick": ("bound",),
    "kick_job": ("id",),
    "peek": ("id",),
    "peek_ready": (),
    "peek_delayed": (),
    "peek_buried": (),
    "stats_job": ("id",),
    "stats_tube": ("tube",),
    "stats": (),
    "tubes": (),
    "using": (),
    "watching": (),
    "use": ("tube",),
    "watch": ("tube",),
    "ignore": ("tube",),
    "pause_tube": ("tube", "delay"),
    "close": (),  # close the connection (also while it waits), open a fresh one, then sync
}


def pair_from_env() -> tuple[str, str]:
    """The two backend names from STALKSIM_DIFF_PAIR, e.g. ("sim", "real")."""
    a, b = os.environ.get("STALKSIM_DIFF_PAIR", "sim-real").split("-")
    return a, b


def make(name: str) -> Backend:
    """A fresh backend with max_job_size 64."""
    if name == "sim":
        b: Backend = SimBackend(max_job_size=MAX_JOB_SIZE)
        # RealBeanstalkd.start() probes the port with one connection, which the real server
        # counts in total-connections; open and close one on the simulator too.
        b.sim.client().close()
        return b
    if name == "real":
        return RealBackend(max_job_size=MAX_JOB_SIZE)
    raise ValueError(f"unknown backend {name!r}")


def call(client: Any, step: tuple) -> Any:
    """Make the greenstalk call that `step` describes and return its result."""
    kind, args = step[0], step[2:]
    if kind == "put":
        pri, delay, ttr, body = args
        return client.put(body, priority=pri, delay=delay, ttr=ttr)
    if kind == "reserve":
        return client.reserve(timeout=0)
    if kind in ("release", "bury", "touch"):
        job = greenstalk.Job(args[0], "")
        return getattr(client, kind)(job, *args[1:])
    if kind in ("stats", "tubes", "using", "watching", "peek_ready", "peek_delayed", "peek_buried"):
        return getattr(client, kind)()
    return getattr(client, kind)(*args)


def reserve_bytes(timeout: int | None) -> bytes:
    """The command line greenstalk sends for reserve(timeout)."""
    return b"reserve\r\n" if timeout is None else b"reserve-with-timeout %d\r\n" % timeout


def read_reserved(client: Any) -> greenstalk.Job:
    """Read the answer to a reserve sent as bytes, with greenstalk's own parsing."""
    line = client._reader.readline()
    id_, size = (int(n) for n in greenstalk._parse_response(line, b"RESERVED"))
    chunk = client._read_chunk(size)
    return greenstalk.Job(id_, chunk if client.encoding is None else chunk.decode(client.encoding))


def normalize(kind: str, value: Any) -> Any:
    """A comparable, printable form of a return value."""
    if hasattr(value, "id") and hasattr(value, "body"):
        return ("Job", value.id, value.body)
    if isinstance(value, dict):
        if kind == "stats" or "pid" in value:  # a desynchronised call can read stats
            return {
                k: v
                for k, v in value.items()
                if k not in MACHINE_FIELDS and not k.startswith("binlog-")
            }
        return dict(value)
    return value


def attempt(kind: str, fn: Any, *args: Any) -> tuple:
    """("ok", value) or ("raise", exception class, message)."""
    try:
        return ("ok", normalize(kind, fn(*args)))
    except Exception as e:  # noqa: BLE001 - every exception is part of the behaviour
        return ("raise", type(e), str(e))


def outcome(client: Any, step: tuple) -> tuple:
    """The outcome of the greenstalk call `step` on `client`."""
    return attempt(step[0], call, client, step)


def same(a: tuple, b: tuple) -> bool:
    """Equal results, or the exact same exception class (the message is not compared)."""
    return a[:2] == b[:2]


def show(o: tuple) -> str:
    """An outcome as text for the report."""
    if o[0] == "ok":
        return f"returned {o[1]!r}"
    if o[0] == "none":
        return "no answer yet"
    cls = o[1]
    return f"raised {cls.__module__}.{cls.__qualname__}({o[2]!r})"


class Divergence(AssertionError):
    """The two servers answered one call differently."""


class Runner(Clock):
    """Runs steps on two sides in lockstep and keeps a transcript."""

    def __init__(self, n_conns: int, names: tuple[str, str]) -> None:
        self.names = names
        self.sides: list[Side] = []
        try:
            for name in names:
                self.sides.append(Side(make(name.split("#")[0])))
            for side in self.sides:
                side.clients = [side.connect() for _ in range(n_conns)]
                side.observer = side.connect()
                side.observer.using()  # so the server has accepted it before the first step
        except BaseException:
            self.shutdown()
            raise
        self.transcript: list[str] = []
        self.desynced: set[int] = set()
        self.pending: dict[int, str] = {}  # client index: its waiting reserve command
        self.mine: dict[int, int] = {}
        self.last_put = MISSING_ID
        self.real = any(side.sim is None for side in self.sides)
        self.t0 = time.monotonic()
        # spans (s after t0) of the commands that may have started timers:
        self.marks: list[tuple[float, float]] = []
        self.waited = 0  # reserves that had to wait for their answer
        self.poked = self.released = 0.0  # when the idle clients were last poked
        self.stuck = False

    def shutdown(self) -> None:
        """Close every client and stop the real servers."""
        for side in self.sides:
            side.backend.shutdown()

    # ---- steps ---------------------------------------------------------------------------
    def compare(self, label: str, step: tuple) -> tuple[tuple, tuple]:
        """Make the same call on both sides and log it."""
        start = self.before(step[0], step)
        a, b = (outcome(side.clients[step[1]], step) for side in self.sides)
        self.after(step[0], start)
        self.transcript.append(f"{label}: {show(a)}" + ("" if same(a, b) else f" | {show(b)}"))
        return a, b

    def sync(self) -> tuple | None:
        """`using()` on every idle client of both sides, then let the real servers settle."""
        for i in range(len(self.sides[0].clients)):
            if i in self.pending:
                continue
            a, b = self.compare(f"  sync using() on c{i}", ("using", i))
            if not same(a, b):
                return ("using", i), a, b
        if self.real:
            time.sleep(SETTLE_SECONDS)
        return None

    def send_reserve(self, i: int, timeout: int | None) -> None:
        """Send a reserve on client `i` of both sides without reading its answer."""
        start = self.before("reserve_wait")
        data = reserve_bytes(timeout)
        for side in self.sides:
            side.clients[i]._sock.sendall(data)
        for side in self.sides:
            if side.sim is None:
                wait_for_server(side.ports(i), read_all)
        self.after("reserve_wait", start)
        self.pending[i] = data.decode().strip()

    def collect(self) -> tuple | None:
        """Read every waiting reserve that has its answer; both sides must agree on which."""
        if not self.pending:
            return None
        self.clear_zone()
        for i in sorted(self.pending):
            ready = [side.answered(i) for side in self.sides]
            if any(ready) and not all(ready):  # a socket may lag behind the simulator
                ready = [r or (s.sim is None and s.answered(i, REPLY_SECONDS))
                         for r, s in zip(ready, self.sides, strict=True)]
            what = f"  c{i} {self.pending[i]!r}"
            if not any(ready):
                continue
            if not all(ready):
                a, b = (attempt("reserve", read_reserved, s.clients[i]) if r else ("none",)
                        for r, s in zip(ready, self.sides, strict=True))
                self.transcript.append(f"{what}: {show(a)} | {show(b)}")
                return ("answer", i, self.pending[i]), a, b
            del self.pending[i]
            a, b = (attempt("reserve", read_reserved, s.clients[i]) for s in self.sides)
            self.transcript.append(f"{what} answered: {show(a)}"
                                   + ("" if same(a, b) else f" | {show(b)}"))
            self.remember(("reserve", i), a)
            if not same(a, b):
                return ("answer", i), a, b
        return None

    def close(self, i: int) -> None:
        """Close client `i` on both sides and open a fresh one in its place."""
        start = self.before("close")
        for side in self.sides:
            ports = None if side.sim is not None else side.ports(i)
            side.backend.close(side.clients[i])
            if ports is not None:
                wait_for_server(ports, closed)
        self.after("close", start)
        for side in self.sides:
            side.clients[i] = side.connect()
        self.desynced.discard(i)
        self.pending.pop(i, None)
        self.mine.pop(i, None)

    def resolve(self, step: tuple) -> tuple:
        """`step` with a symbolic job id replaced by a number."""
        if step[0] not in ID_KINDS or isinstance(step[2], int):
            return step
        job = self.mine.get(step[1], MISSING_ID) if step[2] == MINE else self.last_put
        return (*step[:2], job, *step[3:])

    def remember(self, step: tuple, result: tuple) -> None:
        """Note the ids that MINE and LAST_PUT stand for."""
        if result[0] != "ok":
            return
        if step[0] in ("reserve", "reserve_job") and isinstance(result[1], tuple):
            self.mine[step[1]] = result[1][1]
        elif step[0] == "put" and isinstance(result[1], int):
            self.last_put = result[1]

    def step(self, step: tuple) -> tuple | None:
        """Run one step; return (step, outcome A, outcome B) at a divergence."""
        found = self.run_step(step)
        return found or self.collect()

    def run_step(self, step: tuple) -> tuple | None:
        kind = step[0]
        if kind == "wait":
            self.transcript.append(repr(step))
            self.wait()
            return self.collect() or self.sync()
        if kind in ("open", "close"):
            self.transcript.append(repr(step))
            if kind == "close":
                self.close(step[1])
            return self.sync()
        if step[1] in self.pending or (kind == "reserve_wait" and step[1] in self.desynced):
            self.transcript.append(f"{step!r}: skipped (c{step[1]} is "
                                   f"{'waiting' if step[1] in self.pending else 'desynced'})")
            return None
        if kind == "reserve_wait":
            self.send_reserve(step[1], step[2])
            self.transcript.append(f"{step!r}: sent")
            found = self.collect()
            if step[1] in self.pending:
                self.waited += 1
            return found
        if kind == "put" and not 0 <= step[2] < 2**32:
            self.desynced.add(step[1])
        resolved = self.resolve(step)
        label = repr(step) if resolved == step else f"{step!r} [id {resolved[2]}]"
        a, b = self.compare(label, resolved)
        self.remember(step, a)
        if step[1] in self.desynced and self.real:
            # A desynchronised client reads an older reply and returns before the server has
            # handled its command; let the server catch up before the next call on any client.
            time.sleep(DESYNC_SETTLE_SECONDS)
        if not same(a, b):
            return step, a, b
        return None

    def finish(self) -> tuple | None:
        """Compare `stats` on a fresh client of each side (the others may be waiting)."""
        self.before("stats")
        a, b = (attempt("stats", side.connect().stats) for side in self.sides)
        self.transcript.append(f"final stats on a new client: {show(a)}"
                               + ("" if same(a, b) else f" | {show(b)}"))
        return None if same(a, b) else (("stats", "new client"), a, b)


def run_sequence(n_conns: int, steps: list[tuple], names: tuple[str, str] | None = None,
                 seed: int | None = None) -> int:
    """Run `steps` on a fresh pair of servers; raise Divergence at the first difference.

    A run whose runner was Late (a loaded machine woke it after the next timer moment while a
    reserve waited) proves nothing either way: it is run again on fresh servers, up to
    ATTEMPTS times in all, and each such rerun is noted in RERUNS. Returns how many reserves
    had to wait for their answer.
    """
    names = names or pair_from_env()
    if names[0] == names[1]:
        names = (names[0] + "#1", names[1] + "#2")
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _run_once(n_conns, steps, names, seed)
        except Late as late:
            if attempt == ATTEMPTS:
                raise Late(f"the runner was late in all {ATTEMPTS} runs of the sequence "
                           f"(seed {seed}); last: {late}") from None
            RERUNS.append(f"seed {seed}: {late}")
    raise AssertionError("unreachable")


def _run_once(n_conns: int, steps: list[tuple], names: tuple[str, str], seed: int | None
              ) -> int:
    runner = Runner(n_conns, names)
    try:
        # ("open",) is the implicit first step: the clients connect, then a sync makes sure
        # the real server has accepted every connection before the first counted command.
        for index, step in enumerate([("open",), *steps, ("finish",)], start=-1):
            found = runner.finish() if step[0] == "finish" else runner.step(step)
            if found is not None:
                at, a, b = found
                raise Divergence(report(n_conns, steps, index, at, a, b, names, runner, seed))
        return runner.waited
    finally:
        runner.shutdown()


def report(
    n_conns: int,
    steps: list[tuple],
    index: int,
    at: tuple,
    a: tuple,
    b: tuple,
    names: tuple[str, str],
    runner: Runner,
    seed: int | None = None,
) -> str:
    """The message for a divergence: the whole sequence, the transcript, both outcomes."""
    again = [] if seed is None else [
        f"  or: STALKSIM_DIFF_SEED={seed} STALKSIM_DIFF_EXAMPLES=1 "
        "pytest tests/test_differential.py -k 'random and shard0'"]
    return "\n".join(
        [
            f"{names[0]} and {names[1]} diverge at step {index} {at!r}"
            + ("" if seed is None else f" (seed {seed})") + ":",
            f"  {names[0]}: {show(a)}",
            f"  {names[1]}: {show(b)}",
            f"transcript ({names[0]} | {names[1]} where different):",
            *("  " + line for line in runner.transcript),
            "reproduce with:",
            "  from tests.differential import run_sequence",
            f"  run_sequence({n_conns}, {pprint.pformat(steps, width=96, compact=True)})",
            *again,
        ]
    )
