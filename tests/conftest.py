from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.backends import Backend, make_backend

BACKENDS = ["sim", "real"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A fresh server (simulated or real) with default options; ids start at 1."""
    b = make_backend(request.param)
    yield b
    b.shutdown()


@pytest.fixture(params=BACKENDS)
def backend_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Backend]]:
    """Make fresh servers with options, e.g. `backend_factory(max_job_size=10)`."""
    made: list[Backend] = []

    def make(**kwargs: object) -> Backend:
        b = make_backend(request.param, **kwargs)
        made.append(b)
        return b

    yield make
    for b in made:
        b.shutdown()
