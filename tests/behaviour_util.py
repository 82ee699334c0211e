"""Small helpers shared by the `test_behaviour_*.py` files.

They only use what a backend offers (`client`, `wait`, `now`, `close`) and greenstalk's API,
so they work the same on the simulator and on a real beanstalkd.
"""

from __future__ import annotations

from typing import Any

import greenstalk
import pytest


def state(c: Any, job_id: int) -> str:
    """The job's state as stats-job reports it."""
    return c.stats_job(job_id)["state"]


def timed(b: Any, fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call `fn`; return (its result, elapsed backend seconds)."""
    t0 = b.now()
    result = fn(*args, **kwargs)
    return result, b.now() - t0


def raises_after(b: Any, exc: type[BaseException], fn: Any, *args: Any, **kwargs: Any) -> float:
    """Call `fn`, which must raise `exc`; return the elapsed backend seconds."""
    t0 = b.now()
    with pytest.raises(exc):
        fn(*args, **kwargs)
    return b.now() - t0


def reserve_all(c: Any) -> list[Any]:
    """Reserve (without waiting) until nothing is ready; the jobs in the order they came."""
    jobs = []
    while True:
        try:
            jobs.append(c.reserve(timeout=0))
        except greenstalk.TimedOutError:
            return jobs


def reserve_bodies(c: Any) -> list[Any]:
    """Bodies of `reserve_all(c)`, in reserve order."""
    return [j.body for j in reserve_all(c)]


def bury_in_order(c: Any, ids: list[int], pris: list[int] | None = None) -> None:
    """Reserve each job by id and bury it at once, so the bury order is `ids`."""
    for i, job_id in enumerate(ids):
        job = c.reserve_job(job_id)
        if pris is None:
            c.bury(job)
        else:
            c.bury(job, priority=pris[i])


def cmd_deltas(before: dict, after: dict) -> dict:
    """The global `cmd-*` counters that changed between two stats snapshots."""
    return {
        k: after[k] - before[k] for k in after if k.startswith("cmd-") and after[k] != before[k]
    }
