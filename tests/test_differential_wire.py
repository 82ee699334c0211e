"""The differential test at the wire: the same random greenstalk call sequences against a real
beanstalkd and `stalksim serve` (tests/differential.py's runner, with a "serve" backend),
waiting reserves included, in shards like tests/test_differential.py.

`STALKSIM_WIRE_DIFF_EXAMPLES` sets the number of random sequences (default 40).
"""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest

from tests import differential
from tests.backends import Backend, RealBackend
from tests.test_differential import FIXED, SHARDS, check_shard
from tests.wireserver import StalksimServe

pytestmark = [pytest.mark.real, pytest.mark.slow]
PAIR = ("serve", "real")


class ServeBackend(RealBackend):
    """greenstalk clients to a `stalksim serve` process (a RealBackend in every other way)."""

    name = "serve"

    def __init__(self, max_job_size: int = 65535) -> None:
        Backend.__init__(self)
        args = [] if max_job_size == 65535 else ["-z", str(max_job_size)]
        self.server = StalksimServe(*args).start()


def _make(name: str) -> Backend:
    if name == "serve":
        return ServeBackend(max_job_size=differential.MAX_JOB_SIZE)
    return _original_make(name)


_original_make = differential.make


@pytest.fixture(autouse=True)
def _serve_backend() -> Iterator[None]:
    with mock.patch.object(differential, "make", _make):
        yield


@pytest.mark.parametrize("shard", range(SHARDS // 2), ids=lambda s: f"shard{s}")
def test_random_sequences_match_at_the_wire(shard: int) -> None:
    """Random call sequences give the same results, exceptions and answers on both servers
    (half as many shards as the simulator's test: serve costs a process per sequence)."""
    check_shard(shard, PAIR, "STALKSIM_WIRE_DIFF_EXAMPLES", 40, shards=SHARDS // 2)


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_sequences_match_at_the_wire(name: str) -> None:
    n_conns, steps = FIXED[name]
    differential.run_sequence(n_conns, steps, PAIR)
