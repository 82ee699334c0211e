"""The differential test at the wire: the same random greenstalk call sequences against a real
beanstalkd and `stalksim serve` (tests/differential.py's runner, with a "serve" backend).

`STALKSIM_WIRE_DIFF_EXAMPLES` sets the number of random sequences (default 40).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

from tests import differential
from tests.backends import Backend, RealBackend
from tests.test_differential import FIXED, sequences
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


@settings(
    max_examples=int(os.environ.get("STALKSIM_WIRE_DIFF_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
@given(sequences)
def test_random_sequences_match_at_the_wire(case: tuple[int, list[tuple]]) -> None:
    """Random call sequences give the same results and exceptions on both servers."""
    n_conns, steps = case
    differential.run_sequence(n_conns, steps, PAIR)


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_sequences_match_at_the_wire(name: str) -> None:
    n_conns, steps = FIXED[name]
    differential.run_sequence(n_conns, steps, PAIR)
