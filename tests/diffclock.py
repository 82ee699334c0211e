"""The differential runner's clock and sides: the simulator's clock follows the real one.

Before every step each simulator is advanced by the real time since the sequence started, so
both servers see the same timeline. Every timer in beanstalkd (delay, TTR, DEADLINE_SOON
margin, pause, reserve timeout) falls a whole number of seconds after a command that may start
timers (`TIMER_KINDS`), so no step runs within `ZONE` of such a moment (`Clock.clear_zone`),
two such commands are `GAP` apart (a late server tick then never sees two timers at once),
and the idle clients are poked just after each moment (beanstalkd 1.12's late TTR release).
A poke of beanstalkd that releases an expired job it still held (it had more reserved jobs,
or more waiting reserves, than another side) and ends after the next moment began, while a
reserve waits, makes the run `Late`: beanstalkd may then have released two jobs in the order
of our pokes, so the sequence runs again (tests/differential.py `run_sequence`).
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass, field
from typing import Any

from tests.backends import Backend, SimBackend

WAIT_SECONDS = 1.25
ZONE = 0.08  # no step this close to a whole second after an earlier command
GAP = 0.01  # between two commands that may start timers (server ticks can run late)
LATE = ZONE  # before a command that starts a delay or a pause, after one that may start timers
# The argument that sets a delay or a pause, by step kind (its index in the step tuple):
DELAY_ARG = {"put": 3, "release": 4, "pause_tube": 3}
# Commands that may start a timer (a delay, a TTR, a pause, a reserve timeout), also by
# handing a job to a waiting reserve:
TIMER_KINDS = frozenset({"put", "reserve", "reserve_wait", "reserve_job", "release", "touch",
                         "pause_tube", "kick", "kick_job", "close"})
POKE_AFTER = 0.001  # idle connections are poked this long after each timer moment
SETTLE_SECONDS = 0.02


def server_socket(ports: tuple[int, int]) -> tuple[str, int] | None:
    """The server's end of the loopback connection `ports` (client port, server port) in
    /proc/net/tcp: (TCP state, bytes it has not read yet), or None when it is gone."""
    client, server = (f":{p:04X}" for p in ports)
    try:
        with open("/proc/net/tcp") as f:
            for line in f:
                parts = line.split()
                if parts[1].endswith(server) and parts[2].endswith(client):
                    return parts[3], int(parts[4].split(":")[1], 16)
    except OSError:
        return None
    return None


def wait_for_server(ports: tuple[int, int], done: Any, timeout: float = 2.0) -> None:
    """Poll the server's end of a connection until `done(state)`: a command sent on one
    connection is then handled before the next step's command on another (beanstalkd's event
    loop gives no order between connections)."""
    if not os.path.exists("/proc/net/tcp"):
        time.sleep(SETTLE_SECONDS)
        return
    end = time.monotonic() + timeout
    while not done(server_socket(ports)) and time.monotonic() < end:
        time.sleep(0.0005)


def read_all(state: tuple[str, int] | None) -> bool:
    return state is None or state[1] == 0


def closed(state: tuple[str, int] | None) -> bool:
    return state is None or state[0] not in ("01", "08")  # ESTABLISHED, CLOSE_WAIT


def starts_delay(step: tuple) -> bool:
    """Does `step` put a job into the delayed state or pause a tube (for a second or more)?"""
    i = DELAY_ARG.get(step[0]) if step else None
    return i is not None and len(step) > i and isinstance(step[i], int) and step[i] > 0


class Late(Exception):
    """The runner missed its own timing, so this run of a sequence proves nothing."""


@dataclass
class Side:
    """One backend and its numbered clients."""

    backend: Backend
    clients: list[Any] = field(default_factory=list)
    observer: Any = None  # one more client, on every side alike, that only asks `stats`

    def held(self) -> tuple[int, int]:
        """How many jobs are reserved, and how many reserves wait (asked on the observer,
        which holds none: asking does not make beanstalkd release a holder's expired job).
        A job held past its time shows in one of them: in the first when the other side
        released it to ready, in the second when it went to a waiting reserve there."""
        stats = self.observer.stats()
        return stats["current-jobs-reserved"], stats["current-waiting"]

    @property
    def late_release(self) -> bool:
        """A beanstalkd, which may leave a TTR expiry until the holder's next command (the
        simulator and `stalksim serve` release on time by themselves)."""
        return self.backend.name == "real"

    @property
    def sim(self) -> Any:
        """The Simulation, or None for a server on a socket."""
        return self.backend.sim if isinstance(self.backend, SimBackend) else None

    def connect(self) -> Any:
        c = self.backend.client()
        if self.sim is None:
            c._sock.settimeout(5.0)  # a desynchronised client must fail, not hang
        return c

    def catch_up(self, elapsed: float) -> None:
        """Bring a simulator's clock to `elapsed` seconds after the start."""
        sim = self.sim
        if sim is not None and elapsed > sim.now:
            sim.advance(elapsed - sim.now)

    def ports(self, i: int) -> tuple[int, int]:
        sock = self.clients[i]._sock
        return sock.getsockname()[1], sock.getpeername()[1]

    def answered(self, i: int, timeout: float = 0.0) -> bool:
        """Has client `i`'s waiting reserve an answer to read (within `timeout` s)?"""
        c = self.clients[i]
        if self.sim is not None:  # the one place the tests read a simulated session
            return b"\n" in c._session.out
        return bool(select.select([c._sock], [], [], timeout)[0])


class Clock:
    """Timing for a Runner: its `sides`, `pending` waits, `marks`, `t0` and `transcript`."""

    sides: list[Side]
    pending: dict[int, str]
    marks: list[tuple[float, float]]
    transcript: list[str]
    t0: float
    real: bool
    poked: float
    released: float  # when the last poke of the beanstalkd sides ended
    stuck: bool  # at the last poke, a beanstalkd side held more jobs than another side

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def moments(self, lo: float, hi: float) -> list[tuple[float, float]]:
        """When a timer may fire in [lo, hi]: whole seconds after a command's span."""
        if not self.real:
            return []
        found = set()
        for start, end in self.marks:
            n = max(1, int(lo - end))
            while start + n <= hi:
                if end + n >= lo:
                    found.add((start + n, end + n))
                n += 1
        return sorted(found)

    def sleep_until(self, t: float) -> None:
        time.sleep(max(0.0, t - self.elapsed()))

    def pass_moment(self, moment: tuple[float, float]) -> None:
        """Poke the idle clients once, just after a timer moment."""
        end = moment[1]
        if self.poked < end + POKE_AFTER / 2:
            self.sleep_until(end + POKE_AFTER)
            self.poke()
            self.check_on_time(moment)

    def check_on_time(self, moment: tuple[float, float]) -> None:
        """Raise Late when, while a reserve waited, a beanstalkd side still held an expired
        job (more reserved jobs, or more waiting reserves, than another side) and our poke
        that released it ended after the next moment began: beanstalkd may then have released
        two jobs in the order of our pokes (or of its own tick and our poke), not of their
        deadlines. (Two beanstalkd sides, the runner's self-check, that both hold a job look
        alike here: that pair is not guarded.)"""
        done = self.released
        after = [m for m in self.moments(moment[0], done) if moment[0] < m[0] <= done]
        if self.pending and self.stuck and after:
            raise Late(f"the poke after the timer moment at {moment[1]:.3f} s ended at "
                       f"{done:.3f} s, after the next one began ({after[0][0]:.3f} s)")

    def clear_zone(self) -> None:
        """Sleep past any timer zone we are in (poking after each moment in it), then bring
        every simulator up to now."""
        for _ in range(100):  # bounded: zones that leave no room must not hang the test
            t = self.elapsed()
            near = self.moments(t - ZONE, t + ZONE)
            if not near:
                break
            for moment in near:
                self.pass_moment(moment)
            # out of the zone, but no later than the next moment (it is poked next time round)
            last = max(m[1] for m in near)
            later = [m[0] for m in self.moments(last, last + ZONE) if m[0] > last]
            self.sleep_until(min([last + ZONE + 0.001, *later]))
        self.catch_up()

    def catch_up(self) -> None:
        t = self.elapsed()
        for side in self.sides:
            side.catch_up(t)

    def before(self, kind: str, step: tuple = ()) -> float:
        """Before a command of `kind` (the whole `step` when it has arguments): GAP after the
        last command that may start timers (LATE when this one starts a delay or a pause), and
        out of every timer zone. Returns the time the command starts."""
        if self.real and kind in TIMER_KINDS and self.marks:
            self.sleep_until(self.marks[-1][1] + (LATE if starts_delay(step) else GAP))
        self.clear_zone()
        return self.elapsed()

    def after(self, kind: str, start: float) -> None:
        """Note the span of a command that may start timers (they hang off it)."""
        if kind in TIMER_KINDS:
            self.marks.append((start, self.elapsed()))

    def poke(self) -> None:
        """`using()` on every idle client, real servers first: beanstalkd 1.12 can leave a
        TTR expiry until the holder's next command (see tests/test_real_quirks.py). A
        simulator is brought up to now only after them (it releases on time by itself)."""
        self.poked = self.released = t = self.elapsed()
        idle = [i for i in range(len(self.sides[0].clients)) if i not in self.pending]
        held = []
        for side in sorted(self.sides, key=lambda side: (not side.late_release,
                                                         side.sim is not None)):
            side.catch_up(t)  # how many it holds is compared at the time of the poke
            held.append((side.late_release, side.held()))
            side.catch_up(self.elapsed())
            for i in idle:
                try:
                    side.clients[i].using()
                except Exception:  # noqa: BLE001 - a desynchronised client reads old replies
                    pass
            if side.late_release:
                self.released = self.elapsed()
        fewest = [min(counts) for counts in zip(*(n for _, n in held), strict=True)]
        self.stuck = any(late and any(a > b for a, b in zip(n, fewest, strict=True))
                         for late, n in held)

    def wait(self) -> None:
        """Let WAIT_SECONDS pass, poking the idle clients just after every timer moment."""
        start = self.elapsed()
        end = start + WAIT_SECONDS
        for m in self.moments(start, end):
            self.pass_moment(m)
        self.sleep_until(end)
        self.transcript[-1] += f" (until {self.elapsed():.3f} s)"
