"""Differential property test: random greenstalk call sequences, simulator vs a real beanstalkd.

Every call's return value and exception class must match. `STALKSIM_DIFF_PAIR=real-real`
checks the runner itself; `STALKSIM_DIFF_EXAMPLES` sets the number of sequences.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import (
    BAD_TUBES,
    LAST_PUT,
    MAX_CLOSES,
    MAX_JOB_SIZE,
    MAX_WAITS,
    MINE,
    MISSING_ID,
    TUBES,
    pair_from_env,
    run_sequence,
)

pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _need_backends() -> None:
    """Skip when the simulator is not importable yet (the real leg skips itself)."""
    if "sim" in pair_from_env():
        stalksim = pytest.importorskip("stalksim")
        if not hasattr(stalksim, "Simulation"):
            pytest.skip("stalksim.Simulation is not available")


PRIORITIES = [0, 1, 7, 7, 1023, 1024, 1025, 65536, 2**32 - 1]
BODIES = [
    "a",
    "b",
    "job",
    "",
    "x" * MAX_JOB_SIZE,
    "é" * (MAX_JOB_SIZE // 2),
    "y" * (MAX_JOB_SIZE + 1),
]

pri = st.sampled_from(PRIORITIES)
delay = st.sampled_from([0, 0, 0, 1, 2, 3])
ttr = st.integers(0, 5)
# Job ids: small numbers (ids start at 1), a missing id, and names the runner resolves.
job_id = st.sampled_from([1, 2, 3, 4, 5, 6, LAST_PUT, LAST_PUT, MINE, MINE, MISSING_ID])
own_id = st.sampled_from([MINE, MINE, MINE, MINE, MINE, 1, 2, 3, LAST_PUT, MISSING_ID])
tube = st.sampled_from(TUBES)


def steps_for(n: int) -> st.SearchStrategy[tuple]:
    """One step on one of `n` connections; weights by repetition."""
    c = st.integers(0, n - 1)

    def s(kind: str, *args: st.SearchStrategy) -> st.SearchStrategy[tuple]:
        return st.tuples(st.just(kind), c, *args)

    weighted = [
        (10, s("put", pri, delay, ttr, st.sampled_from(BODIES))),
        (1, s("put", st.sampled_from([-1, 2**32]), delay, ttr, st.just("bad"))),
        (10, s("reserve")),
        (2, s("reserve_job", job_id)),
        (4, s("delete", job_id)),
        (4, s("release", own_id, pri, delay)),
        (3, s("bury", own_id, pri)),
        (2, s("touch", own_id)),
        (2, s("kick", st.integers(0, 4))),
        (2, s("kick_job", job_id)),
        (2, s("peek", job_id)),
        (1, s("peek_ready")),
        (1, s("peek_delayed")),
        (1, s("peek_buried")),
        (4, s("stats_job", job_id)),
        (2, s("stats_tube", tube)),
        (2, s("stats")),
        (1, s("tubes")),
        (1, s("using")),
        (1, s("watching")),
        (3, s("use", st.sampled_from(TUBES + BAD_TUBES))),
        (3, s("watch", tube)),
        (2, s("ignore", tube)),
        (2, s("pause_tube", tube, delay)),
        (1, s("close")),
        (3, st.just(("wait",))),
    ]
    choices = [strategy for weight, strategy in weighted for _ in range(weight)]
    return st.sampled_from(choices).flatmap(lambda strategy: strategy)


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


sequences = st.integers(2, 3).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.integers(5, 40).flatmap(
            lambda k: st.lists(steps_for(n), min_size=k, max_size=k).map(cap)
        ),
    )
)


@settings(
    max_examples=int(os.environ.get("STALKSIM_DIFF_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)
@given(sequences)
def test_random_sequences_match_real_server(case: tuple[int, list[tuple]]) -> None:
    """Random call sequences give the same results and exceptions on both servers."""
    n_conns, steps = case
    run_sequence(n_conns, steps)


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
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_sequences_match_real_server(name: str) -> None:
    """Hand-written sequences, easy to debug."""
    n_conns, steps = FIXED[name]
    run_sequence(n_conns, steps)
