"""Differential test: random greenstalk call sequences, simulator vs a real beanstalkd.

Every call's return value and exception class must match, and so must the answers to waiting
reserves (which connection got which job, TIMED_OUT, DEADLINE_SOON). The random sequences come
from seeds (tests/diffgen.py) in SHARDS shards that xdist runs in parallel; inside a shard
LANES sequences run at once, each on its own pair of servers, so their sleeps overlap.
`STALKSIM_DIFF_PAIR=real-real` checks the runner itself; `STALKSIM_DIFF_EXAMPLES` sets the
number of sequences, `STALKSIM_DIFF_SEED` the first seed, `STALKSIM_DIFF_LANES` the lanes.
"""

from __future__ import annotations

import os

import pytest

from tests import diffclock, differential
from tests.differential import MINE, pair_from_env, run_sequence
from tests.diffgen import run_seeds, seeds

pytestmark = [pytest.mark.real, pytest.mark.slow]

SHARDS = 6
LANES = int(os.environ.get("STALKSIM_DIFF_LANES", "4"))


@pytest.fixture(autouse=True)
def _need_backends() -> None:
    """Skip when the simulator is not importable yet (the real leg skips itself)."""
    if "sim" in pair_from_env():
        stalksim = pytest.importorskip("stalksim")
        if not hasattr(stalksim, "Simulation"):
            pytest.skip("stalksim.Simulation is not available")


def check_shard(shard: int, names: tuple[str, str], env: str, default: int,
                shards: int = SHARDS) -> None:
    """Run one shard's seeds; fail with every divergence; most sequences must have a
    reserve that waited (otherwise the blocking part of the test would test nothing)."""
    todo = seeds(shard, shards, env, default)
    reruns = len(differential.RERUNS)
    failures, waited = run_seeds(todo, names, LANES)
    blocked = sum(1 for w in waited if w)
    late = differential.RERUNS[reruns:]
    print(f"shard {shard}: seeds {todo.start}..{todo.stop - 1}, {len(todo)} sequences, "
          f"{blocked} with waiting reserves ({sum(waited)} waits); "
          f"{len(late)} reruns after a late runner", *late, sep="\n  ")
    assert not failures, f"{len(failures)} of {len(todo)} sequences diverge; first:\n" + (
        failures[0])
    if len(todo) >= 10:
        assert blocked >= len(todo) // 3, f"only {blocked} of {len(todo)} sequences waited"


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda s: f"shard{s}")
def test_random_sequences_match_real_server(shard: int) -> None:
    """Random call sequences give the same results, exceptions and answers on both servers."""
    check_shard(shard, pair_from_env(), "STALKSIM_DIFF_EXAMPLES", 300)


FIXED = {
    # A reserved job goes back to ready when its connection closes; counters unchanged.
    "close": (
        2,
        [
            ("put", 0, 1024, 0, 5, "a"),
            ("put", 0, 1024, 0, 5, "b"),
            ("reserve", 1),
            ("stats_job", 0, 1),
            ("close", 1),
            ("stats_job", 0, 1),
            ("stats", 0),
            ("reserve", 0),
            ("reserve", 1),
            ("stats_tube", 1, "default"),
        ],
    ),
    # ttr 1 expires during a wait; a delayed job matures; DEADLINE_SOON before that.
    "ttr-expiry": (
        2,
        [
            ("use", 0, "t1"),
            ("put", 0, 7, 0, 1, "short"),
            ("put", 0, 7, 1, 3, "later"),
            ("watch", 1, "t1"),
            ("reserve", 1),
            ("reserve", 1),
            ("stats_job", 0, 1),
            ("wait",),
            ("stats_job", 0, 1),
            ("stats_job", 0, 2),
            ("stats", 0),
            ("reserve", 0),
            ("watch", 0, "t1"),
            ("reserve", 0),
            ("reserve", 0),
            ("stats_tube", 1, "t1"),
        ],
    ),
    # A put with a bad priority leaves its body in the stream: the client is desynchronised.
    "put-desync": (
        2,
        [
            ("put", 0, -1, 0, 1, "bad"),
            ("using", 0),
            ("using", 0),
            ("put", 0, 5, 0, 1, "ok"),
            ("tubes", 0),
            ("put", 1, 2**32, 0, 1, "bad"),
            ("stats", 1),
            ("peek", 1, 1),
            ("stats_tube", 1, "default"),
            ("using", 0),
        ],
    ),
    # Four waiters on overlapping tubes, woken by puts: which one gets which job.
    "waiters-put": (
        5,
        [
            ("watch", 1, "t1"),
            ("watch", 2, "t1"),
            ("watch", 2, "t2"),
            ("watch", 3, "t2"),
            ("ignore", 3, "default"),
            ("reserve_wait", 1, None),
            ("reserve_wait", 2, None),
            ("reserve_wait", 3, 3),
            ("reserve_wait", 4, None),
            ("stats_tube", 0, "t1"),
            ("stats", 0),
            ("put", 0, 5, 0, 5, "d1"),
            ("use", 0, "t2"),
            ("put", 0, 5, 0, 5, "t2-a"),
            ("put", 0, 5, 0, 5, "t2-b"),
            ("use", 0, "t1"),
            ("put", 0, 5, 0, 5, "t1-a"),
            ("stats", 0),
        ],
    ),
    # Woken by timers: a delay maturing, a pause ending, a TTR running out (its holder got
    # DEADLINE_SOON while it waited), and a reserve-with-timeout that gets TIMED_OUT.
    "waiters-timers": (
        5,
        [
            ("put", 0, 9, 0, 2, "held"),
            ("reserve", 1),
            ("reserve_wait", 1, 3),
            ("reserve_wait", 2, None),
            ("watch", 3, "t1"),
            ("ignore", 3, "default"),
            ("reserve_wait", 3, 3),
            ("watch", 4, "t2"),
            ("ignore", 4, "default"),
            ("pause_tube", 0, "t2", 2),
            ("use", 0, "t2"),
            ("put", 0, 9, 0, 4, "paused"),
            ("reserve_wait", 4, None),
            ("use", 0, "t1"),
            ("put", 0, 9, 1, 4, "matures"),
            ("watch", 0, "t2"),
            ("ignore", 0, "default"),
            ("reserve_wait", 0, 1),
            ("wait",),
            ("stats", 1),
            ("wait",),
            ("stats_job", 1, 1),
            ("stats", 1),
        ],
    ),
    # CI's seed 142: a waiting client's DEADLINE_SOON comes due just before a job it watches
    # matures (the runner keeps the delay LATE after the reserve; a late tick would merge them).
    "deadline-soon-then-maturity": (
        2,
        [
            ("put", 1, 7, 0, 2, "held"),
            ("reserve", 0),
            ("reserve_wait", 0, 2),
            ("put", 1, 4294967295, 1, 5, ""),
            ("wait",),
            ("stats_tube", 1, "default"),
            ("reserve", 0),
        ],
    ),
    # A waiting connection closes: it is no longer a waiter; release and kick wake others.
    "waiters-close-release-kick": (
        3,
        [
            ("reserve_wait", 1, None),
            ("reserve_wait", 2, None),
            ("close", 1),
            ("stats", 0),
            ("put", 0, 3, 0, 5, "a"),
            ("put", 0, 3, 0, 5, "b"),
            ("reserve", 0),
            ("reserve_wait", 1, 2),
            ("release", 0, MINE, 3, 0),
            ("bury", 1, MINE, 3),
            ("reserve_wait", 0, None),
            ("kick", 2, 1),
            ("stats", 2),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_sequences_match_real_server(name: str) -> None:
    """Hand-written sequences, easy to debug."""
    n_conns, steps = FIXED[name]
    run_sequence(n_conns, steps)


def test_runner_keeps_a_delay_late_after_a_timer() -> None:
    """A command that starts a delay or a pause starts LATE after the last command that may
    start timers; other timer commands only GAP after it; commands without a delay, none."""
    clock = diffclock.Clock()
    clock.sides, clock.pending, clock.transcript, clock.real, clock.poked = [], {}, [], True, 0.0
    clock.t0 = diffclock.time.monotonic()
    for step, room in [(("put", 0, 1, 1, 5, "x"), diffclock.LATE),
                       (("release", 0, 1, 1, 2), diffclock.LATE),
                       (("pause_tube", 0, "t", 1), diffclock.LATE),
                       (("put", 0, 1, 0, 5, "x"), diffclock.GAP),
                       (("release", 0, 1, 1, 0), diffclock.GAP),
                       (("reserve", 0), diffclock.GAP)]:
        end = clock.elapsed()
        clock.marks = [(end - 0.001, end)]
        assert clock.before(step[0], step) >= end + room, step
    assert diffclock.starts_delay(("put", 0, 1, 3, 5, "x"))
    assert not diffclock.starts_delay(("put", 0, 1, 0, 5, "x"))
    assert not diffclock.starts_delay(("stats", 0))
    assert not diffclock.starts_delay(())


class _FakeTime:
    """A clock for the runner that moves only when told (sleeps jump, commands cost `cost`)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def sleep_until(self, t: float) -> None:
        self.now = max(self.now, t)


class _Idle:
    """An idle client whose `using()` takes `cost` seconds of the fake clock."""

    def __init__(self, clock: _FakeTime, cost: float) -> None:
        self.clock, self.cost = clock, cost

    def using(self) -> str:
        self.clock.now += self.cost
        return "default"


class _Observer:
    def __init__(self, held: int, waiting: int = 1) -> None:
        self.held, self.waiting = held, waiting

    def stats(self) -> dict[str, int]:
        return {"current-jobs-reserved": self.held, "current-waiting": self.waiting}


class _Beanstalkd:
    name = "real"


class _Other:
    name = "serve"


def _late_clock(cost: float, pending: dict[int, str], commands: int = 2,
                stuck: str = "reserved") -> tuple[diffclock.Clock, tuple]:
    """A Clock whose last `commands` timer commands were GAP apart, 1 s ago, and one idle
    client on a beanstalkd side whose poke takes `cost`, beside a side that releases on
    time. The beanstalkd side holds a job past its time when `stuck` says how that shows:
    one more reserved job (the other side released it to ready), or one more waiting
    reserve (the other side gave it to that reserve); "" when it holds none. Returns the
    Clock and the first moment."""
    fake = _FakeTime(5.0)
    clock = diffclock.Clock()
    ours = _Observer(1 + (stuck == "reserved"), 1 + (stuck == "waiting"))
    clock.sides = [diffclock.Side(_Beanstalkd(), [_Idle(fake, 0.0), _Idle(fake, cost)], ours),
                   diffclock.Side(_Other(), [_Idle(fake, 0.0), _Idle(fake, 0.0)], _Observer(1))]
    clock.pending, clock.transcript, clock.real, clock.poked = pending, [], True, 0.0
    clock.elapsed, clock.sleep_until = (lambda: fake.now), fake.sleep_until
    first = (4.0, 4.0005)
    clock.marks = [(first[0] + k * diffclock.GAP, first[1] + k * diffclock.GAP)
                   for k in range(commands)]
    return clock, (first[0] + 1, first[1] + 1)


def test_a_poke_after_the_next_timer_moment_makes_the_run_late() -> None:
    """CI, seed 83: beanstalkd still held an expired job, the poke that released it came after
    the next timer moment while a reserve waited, and beanstalkd handed the waiting client the
    later job. Such a run is Late, not a divergence. On time, with no reserve waiting (nothing
    can tell the order), or with no job held past its time (the poke releases nothing), it
    goes on."""
    for stuck in ("reserved", "waiting"):
        clock, moment = _late_clock(cost=2 * diffclock.GAP, pending={0: "reserve"}, stuck=stuck)
        with pytest.raises(diffclock.Late, match="after the next one began"):
            clock.pass_moment(moment)
    for cost, pending, stuck in [(diffclock.GAP / 10, {0: "reserve"}, "reserved"),
                                 (2 * diffclock.GAP, {}, "waiting"),
                                 (2 * diffclock.GAP, {0: "reserve"}, "")]:
        clock, moment = _late_clock(cost, pending, stuck=stuck)
        clock.pass_moment(moment)
        assert clock.poked > moment[1] and clock.stuck == bool(stuck)


def test_a_late_run_runs_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Late run is run again on fresh servers (and noted); late every time, it fails."""
    calls: list[int] = []

    def late_twice(*_args: object) -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise diffclock.Late("late")
        return 7

    before = len(differential.RERUNS)
    monkeypatch.setattr(differential, "_run_once", late_twice)
    assert run_sequence(1, [("stats", 0)], ("sim", "real"), seed=5) == 7
    assert len(calls) == 3 and differential.RERUNS[before:] == ["seed 5: late"] * 2
    monkeypatch.setattr(differential, "_run_once", lambda *_a: (_ for _ in ()).throw(
        diffclock.Late("late")))
    with pytest.raises(diffclock.Late, match=f"late in all {differential.ATTEMPTS} runs"):
        run_sequence(1, [("stats", 0)], ("sim", "real"), seed=5)


def test_clear_zone_pokes_each_of_a_chain_of_moments_on_time() -> None:
    """Timer commands GAP apart give a chain of moments longer than ZONE. Clearing the zone
    pokes each just after it, before the next begins (it used to sleep ZONE past the ones in
    view, over the next ones, and poke them late: seed 17 was Late in every run)."""
    commands = 3 * round(diffclock.ZONE / diffclock.GAP)
    clock, moment = _late_clock(cost=0.0, pending={0: "reserve"}, commands=commands)
    pokes: list[float] = []
    poke = clock.poke

    def noted() -> None:
        poke()
        pokes.append(clock.poked)

    clock.poke = noted  # type: ignore[method-assign]
    clock.clear_zone()  # Late if a poke came after the next moment began
    assert len(pokes) == commands and clock.elapsed() > moment[1] + (commands - 1) * \
        diffclock.GAP + diffclock.ZONE
