"""Which waiting connection gets the next job: beanstalkd's ms_take order, on both backends.

Waiting connections sit in an array per tube; a served waiter is swapped out with the last one
and a cursor moves on, so 4 waiters are served A, B, D, C while 3 are served in order.
"""

from __future__ import annotations

import threading
import time

import pytest


def _waiter_order(b, names: list[str]) -> list[str]:
    """Block one reserve per name (in order), then put one job per name; who got job 1, 2...?"""
    got: dict[int, str] = {}
    producer = b.client()
    if b.name == "sim":
        sim = b.sim

        def wait(conn, name):
            job = yield conn.reserve()
            got[job.id] = name

        for name in names:
            sim.process(wait(sim.connect(name), name))
            sim.advance(0.01)
        for i in range(len(names)):
            producer.put(f"job {i}")
            sim.advance(0.01)
    else:
        threads = []
        for n, name in enumerate(names, start=1):
            c = b.client()

            def wait(c=c, name=name):
                job = c.reserve(timeout=10)
                got[job.id] = name

            t = threading.Thread(target=wait, daemon=True)
            t.start()
            threads.append(t)
            deadline = time.monotonic() + 5
            while producer.stats()["current-waiting"] < n:  # registered in arrival order
                assert time.monotonic() < deadline, "waiter did not start waiting"
                time.sleep(0.005)
        for i in range(len(names)):
            producer.put(f"job {i}")
            deadline = time.monotonic() + 5
            while len(got) <= i:
                assert time.monotonic() < deadline, "no waiter got the job"
                time.sleep(0.005)
        for t in threads:
            t.join(5)
    return [got[i] for i in sorted(got)]


@pytest.mark.parametrize(("names", "order"), [
    ("ABCD", "ABDC"),
    ("EFG", "EFG"),
    ("123456", "123654"),
])
def test_waiters_are_served_in_ms_take_order(backend, names, order):
    assert _waiter_order(backend, list(names)) == list(order)
