"""ex-survive-crash (issue 23, finding 10): the check kills w1's process as `kill -9` would, so
no `finally` and no `except` of the learner's runs on the way out, and the feedback says so;
a handle that deletes in `finally` gets its own explanation (the crash loses no job, but a
failed work(job) does), not the starter's message."""

from __future__ import annotations

import pytest

import stalksim.exercises as ex
from tests.test_exercises import H3, learner

EX = "ex-survive-crash"
FINALLY = (H3 + "    try:\n        work(job)\n    finally:\n        client.delete(job)\n"
           "answer = handle\n")


def check(code: str) -> ex.Feedback:
    return ex.check(EX, learner(code))


def test_the_starter_is_told_which_crash_the_check_simulates() -> None:
    fb = check(ex.exercise(EX).starter)
    assert not fb.ok
    assert "was deleted but its work never finished: w1 crashed at t=" in fb.wrong
    assert "as `kill -9` would: no `finally` and no `except` of yours runs" in fb.wrong
    assert "kill -9" in ex.show(EX) and "`finally`" in ex.show(EX)


def test_a_delete_in_finally_gets_its_own_explanation() -> None:
    fb, starter = check(FINALLY), check(ex.exercise(EX).starter)
    assert not fb.ok and fb.wrong != starter.wrong and fb.hints != starter.hints
    # the crash: a killed process runs no finally, so the job came back
    assert fb.right.startswith("w1's crash lost no job: the check kills w1's process")
    assert ("so the `delete` your code tried on the way out never reached the server, and "
            "the job went back to ready") in fb.right
    # an exception in work() runs the finally: the unfinished job is deleted
    assert ("when `work(job)` fails with an exception while the process lives on, your handle "
            "deletes the job anyway") in fb.wrong and "(lost work)" in fb.wrong
    assert "`finally`" in fb.hints[0] and "outside any finally or except" in fb.hints[-1]


def test_nothing_the_killed_worker_does_reaches_the_server() -> None:
    fb = check(FINALLY)
    crash = next(r for r in fb.trace if r.cause == "crash")
    lost = next(r.job for r in fb.trace if r.cause == "connection-closed")
    assert not [r for r in fb.trace if r.job == lost and r.cause == "delete"
                and r.actor.startswith("w1")]
    again = [r for r in fb.trace if r.job == lost and r.dst == "reserved" and r.time >= crash.time]
    assert again and again[0].actor == "w2"


@pytest.mark.parametrize("code,ok", [
    # deletes only when the work finished: right, whatever runs on the way out
    (H3 + "    done = False\n    try:\n        work(job)\n        done = True\n    finally:\n"
     "        if done:\n            client.delete(job)\nanswer = handle\n", True),
    (H3 + "    try:\n        work(job)\n    except BaseException:\n        client.release(job)\n"
     "        raise\n    client.delete(job)\nanswer = handle\n", True),
    # swallows the kill: the process is dead all the same, and a failed work is deleted
    (H3 + "    try:\n        work(job)\n    except BaseException:\n        pass\n"
     "    client.delete(job)\nanswer = handle\n", False),
    (H3 + "    try:\n        work(job)\n    except Exception:\n        pass\n"
     "    client.delete(job)\nanswer = handle\n", False),
])
def test_failed_work_must_not_be_deleted(code: str, ok: bool) -> None:
    fb = check(code)
    assert fb.ok is ok, fb.message
    if not ok:
        assert "(lost work)" in fb.wrong


def test_forgot_delete_is_not_held_to_the_failed_work_rule() -> None:
    """Only ex-survive-crash's instructions promise a failing work(job)."""
    assert ex.check("ex-forgot-delete", learner(FINALLY)).ok
