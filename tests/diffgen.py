"""Random call sequences for the differential tests, one per seed (deterministic).

`case(seed)` gives (number of connections, steps); the same seed gives the same sequence on
every machine, so a failing seed is reproduced by its number alone. Sequences use 2-5
connections that watch overlapping tubes, and mix blocking reserves (reserve, and
reserve-with-timeout 0-3 s, answered later) with the puts, delays, TTRs, pauses, releases,
kicks and closes that wake them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from tests.diffclock import Late
from tests.differential import (
    BAD_TUBES,
    LAST_PUT,
    MAX_CLOSES,
    MAX_JOB_SIZE,
    MAX_WAITS,
    MINE,
    MISSING_ID,
    TUBES,
    Divergence,
    run_sequence,
)

PRIORITIES = [0, 1, 7, 7, 1023, 1024, 1025, 65536, 2**32 - 1]
BODIES = ["a", "b", "job", "", "x" * MAX_JOB_SIZE, "é" * (MAX_JOB_SIZE // 2),
          "y" * (MAX_JOB_SIZE + 1)]
DELAYS = [0, 0, 0, 1, 2, 3]
TIMEOUTS = [None, None, None, 0, 1, 2, 3]  # reserve_wait: None is a plain reserve
# Job ids: small numbers (ids start at 1), a missing id, and names the runner resolves.
JOB_IDS = [1, 2, 3, 4, 5, 6, LAST_PUT, LAST_PUT, MINE, MINE, MISSING_ID]
OWN_IDS = [MINE, MINE, MINE, MINE, MINE, 1, 2, 3, LAST_PUT, MISSING_ID]

Pick = Callable[[random.Random], tuple]


def _weighted() -> list[tuple[int, str, Pick]]:
    """(weight, kind, arguments after the connection index) for each kind of step."""
    def pick(seq: list) -> Callable[[random.Random], object]:
        return lambda r: r.choice(seq)

    def ttr(r: random.Random) -> int:
        return r.randint(0, 5)

    def args(*fns: Callable[[random.Random], object]) -> Pick:
        return lambda r: tuple(fn(r) for fn in fns)

    pri, delay, job, own, tube = (pick(PRIORITIES), pick(DELAYS), pick(JOB_IDS),
                                  pick(OWN_IDS), pick(TUBES))
    return [
        (10, "put", args(pri, delay, ttr, pick(BODIES))),
        (1, "put", args(pick([-1, 2**32]), delay, ttr, lambda r: "bad")),
        (6, "reserve", args()),
        (8, "reserve_wait", args(pick(TIMEOUTS))),
        (2, "reserve_job", args(job)),
        (4, "delete", args(job)),
        (4, "release", args(own, pri, delay)),
        (3, "bury", args(own, pri)),
        (2, "touch", args(own)),
        (2, "kick", args(lambda r: r.randint(0, 4))),
        (2, "kick_job", args(job)),
        (2, "peek", args(job)),
        (1, "peek_ready", args()),
        (1, "peek_delayed", args()),
        (1, "peek_buried", args()),
        (4, "stats_job", args(job)),
        (2, "stats_tube", args(tube)),
        (2, "stats", args()),
        (1, "tubes", args()),
        (1, "using", args()),
        (1, "watching", args()),
        (4, "use", args(pick(TUBES + BAD_TUBES))),
        (3, "watch", args(tube)),
        (2, "ignore", args(tube)),
        (2, "pause_tube", args(tube, delay)),
        (1, "close", args()),
        (3, "wait", args()),
    ]


WEIGHTED = _weighted()
KINDS = [(kind, fn) for weight, kind, fn in WEIGHTED for _ in range(weight)]


def prologue(r: random.Random, n: int) -> list[tuple]:
    """Each connection may watch one or two tubes (overlapping) and use one first."""
    steps: list[tuple] = []
    for c in range(n):
        if r.random() < 0.6:
            for tube in r.sample(TUBES[1:], r.randint(1, 2)):
                steps.append(("watch", c, tube))
            if r.random() < 0.4:
                steps.append(("ignore", c, "default"))
        if r.random() < 0.3:
            steps.append(("use", c, r.choice(TUBES[1:])))
    return steps


def cap(steps: list[tuple]) -> list[tuple]:
    """Drop waits beyond MAX_WAITS and closes beyond MAX_CLOSES (bounds the real time)."""
    out, counts, limits = [], {"wait": 0, "close": 0}, {"wait": MAX_WAITS, "close": MAX_CLOSES}
    for step in steps:
        if step[0] in counts:
            counts[step[0]] += 1
            if counts[step[0]] > limits[step[0]]:
                continue
        out.append(step)
    return out


def case(seed: int) -> tuple[int, list[tuple]]:
    """The sequence for `seed`: (number of connections, steps)."""
    r = random.Random(seed)
    n = r.randint(2, 5)
    steps = prologue(r, n) if r.random() < 0.7 else []
    for _ in range(r.randint(5, 40)):
        kind, fn = r.choice(KINDS)
        steps.append(("wait",) if kind == "wait" else (kind, r.randrange(n), *fn(r)))
    return n, cap(steps)


def seeds(shard: int, shards: int, env: str, default: int) -> range:
    """This shard's seeds: `env` (default `default`) sequences in all, from
    STALKSIM_DIFF_SEED (default 0), split into `shards` contiguous ranges."""
    total = int(os.environ.get(env, str(default)))
    base = int(os.environ.get("STALKSIM_DIFF_SEED", "0"))
    per = -(-total // shards)
    start = base + shard * per
    return range(start, min(start + per, base + total))


def run_seeds(seeds: range, names: tuple[str, str], lanes: int) -> tuple[list[str], list[int]]:
    """Run the sequences of `seeds`, `lanes` at a time (their sleeps overlap); return the
    divergence reports and, per sequence, how many reserves waited for their answer."""
    from concurrent.futures import ThreadPoolExecutor

    def one(seed: int) -> tuple[str | None, int]:
        n, steps = case(seed)
        try:
            return None, run_sequence(n, steps, names, seed=seed)
        except (Divergence, Late) as e:  # Late: in every run (see run_sequence)
            return str(e), 0

    with ThreadPoolExecutor(max_workers=max(1, lanes)) as pool:
        results = list(pool.map(one, seeds))
    return [r for r, _ in results if r is not None], [w for _, w in results]
