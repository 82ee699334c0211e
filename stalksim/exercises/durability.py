"""Lesson 7: when the server restarts. A consumer that does its work once although beanstalkd
delivers a job at least once (a restart hands out again a job whose delete never arrived).

The check runs the learner's `handle` on a simulated server with a binlog, restarts it between
an email's sending and its delete, and later replaces it by an empty one (job ids start at 1
again). If the beanstalkd binary is on PATH, a right answer is run the same way on a private
real beanstalkd (`LiveSession(binlog=True)`), crashed and started again by process id.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import greenstalk

from stalksim.exercises._core import Exercise, Feedback, Hint, failed, passed, plural, register
from stalksim.exercises._sandbox import (
    LearnerError,
    OutOfVirtualTime,
    RunawayCode,
    describe,
    guard,
    learner_function,
)
from stalksim.simulation import Simulation

EXERCISE = "l7-idempotent"
FIRST = ["email:alice", "email:bob", "email:carol", "email:dave"]
LATER = ["email:erin", "email:frank"]
RESTART_AFTER = 2
"""The server restarts right after the second email is sent, before that job's delete."""


@dataclass
class Outcome:
    """What one run did: each email's sends, the jobs left on the server, the learner's
    `done`, and how many times the worker lost its connection."""

    sent: Counter[str] = field(default_factory=Counter)
    left: int = 0
    done: set[Any] = field(default_factory=set)
    drops: int = 0


def _drain(session: Any, handle: Callable[..., Any], out: Outcome,
           send: Callable[[str], None], worker: greenstalk.Client) -> None:
    """Reserve and hand every ready job to `handle` until none is left; a dropped connection
    (the server restarted) makes the worker connect again, as a worker's loop would."""
    for _ in range(4 * (len(FIRST) + len(LATER))):  # bounded: a job left ready is handed again
        try:
            job = worker.reserve(timeout=0)
        except greenstalk.TimedOutError:
            return
        except ConnectionError:
            out.drops += 1
            worker = session.client(watch="emails")
            continue
        try:
            handle(worker, job, send, out.done)
        except ConnectionError:
            out.drops += 1
            worker = session.client(watch="emails")
        except (RunawayCode, OutOfVirtualTime):
            raise
        except Exception as exc:
            raise LearnerError(describe(exc, "Your handle"), exc) from None


def run(handle: Callable[..., Any], session: Any) -> Outcome:
    """The story on `session` (a Simulation(binlog=True) or a LiveSession(binlog=True)):
    four emails; a restart with the binlog after the second is sent; then an empty server
    and two more emails."""
    out = Outcome()

    def send_email(body: str) -> None:
        out.sent[str(body)] += 1
        if sum(out.sent.values()) == RESTART_AFTER and session.restarts == 0:
            session.restart(binlog=True)  # ... before the delete that would follow

    producer = session.client(use="emails")
    for body in FIRST:
        producer.put(body)
    with guard():
        _drain(session, handle, out, send_email, session.client(watch="emails"))
        out.left += _jobs_left(session)
        session.restart()  # a new, empty server: its job ids start at 1 again
        producer = session.client(use="emails")
        for body in LATER:
            producer.put(body)
        _drain(session, handle, out, send_email, session.client(watch="emails"))
        out.left += _jobs_left(session)
    return out


def _jobs_left(session: Any) -> int:
    stats = session.client().stats()
    return sum(int(stats[f"current-jobs-{s}"]) for s in ("ready", "reserved", "delayed",
                                                        "buried"))


HINT_TWICE = Hint("beanstalkd delivers a job at least once, not exactly once: a restart can "
                  "hand out again a job whose work was done. Your handle needs a memory of "
                  "what it did that outlives the worker and the server: the instructions "
                  "give it one.",
                  "before you send, look whether `job.body` is in `done` already (then this "
                  "email went out before), and after sending add `job.body` to `done`: "
                  "`done` outlives the worker and the server, like a table in your database.")
HINT_ID = Hint("the job id is no lasting key: a server that starts empty gives ids from 1 "
               "again (and a put lost in a crash gives its id away). What stays the same "
               "whichever server hands the job out?",
               "the job id is no lasting key: a server that starts empty gives ids from 1 "
               "again (and a put lost in a crash gives its id away). Key `done` on what the "
               "job is about: its body.")
HINT_LEFT = Hint("a job you do not delete is handed out again and again, also one whose email "
                 "went out already: follow every path through your handle to its end.",
                 "delete the job in every case, also when its email went out already: a job "
                 "you do not delete is handed out again and again.")
HINT_MISSING = Hint("every email must go out once: follow the path of a job that your handle "
                    "gets for the first time.",
                    "send every email whose job you get, unless `done` says it went out "
                    "already.")


def judge(out: Outcome, where: str) -> Feedback | None:
    """What is wrong with one run, or None if every email went out exactly once."""
    twice = sorted(b for b, n in out.sent.items() if n > 1)
    missing = [b for b in FIRST + LATER if not out.sent[b]]
    if twice:
        return failed(EXERCISE, f"{where}, {plural(len(twice), 'email')} went out twice "
                      f"({', '.join(f'`{b}`' for b in twice)}): after the restart the server "
                      f"handed out again a job whose email was sent but whose delete never "
                      f"arrived.", HINT_TWICE)
    if missing:
        later = all(b in LATER for b in missing)
        hint = HINT_ID if later and any(isinstance(k, int) for k in out.done) else HINT_MISSING
        return failed(EXERCISE, f"{where}, {plural(len(missing), 'email')} never went out"
                      f"{' (jobs put on the new, empty server)' if later else ''}.", hint,
                      right="No email went out twice." if out.sent else "")
    if out.left:
        return failed(EXERCISE, f"{where}, every email went out once, but "
                      f"{plural(out.left, 'job')} stayed on the server.", HINT_LEFT,
                      right="Every email went out exactly once.")
    return None


def check(answer: Any) -> Feedback:
    bad = learner_function(EXERCISE, answer, "handle(client, job, send_email, done)")
    if bad is not None:
        return bad
    wrong = judge(run(answer, Simulation(seed=7, binlog=True)), "On the simulator")
    if wrong is not None:
        return wrong
    live = ""
    if shutil.which("beanstalkd"):
        from stalksim.live.session import LiveSession

        with LiveSession(binlog=True) as session:
            wrong = judge(run(answer, session), "On a real beanstalkd (-b DIR, crashed and "
                          "started again)")
        if wrong is not None:
            return wrong
        live = " The same run on a real beanstalkd, crashed and started again, agrees."
    return passed(EXERCISE, "Right: every email went out exactly once, although the server "
                  "handed out a job a second time after its restart, and no job was left."
                  + live)


register(Exercise(
    EXERCISE, 7, "Send each email once, whatever the server does",
    """`handle(client, job, send_email, done)` is called by a worker after it reserved `job`
(its body is an email to send, like `"email:alice"`); `send_email(job.body)` sends it, and
`done` is a set that outlives the worker and the server (think of a table in your database).

The check puts four emails into `emails` and runs a worker. Right after the second email is
sent the server **restarts** with its binlog: the worker's delete never arrives (its connection
is gone, it connects again), and the job comes back ready. Later the server is replaced by an
**empty** one and two more emails are put.

The starter sends one email twice. **Answer:** a `handle` with which every email goes out
exactly once and no job is left on the server.""",
    "def handle(client, job, send_email, done):\n    send_email(job.body)\n"
    "    client.delete(job)\n\n\nanswer = handle\n",
    "def handle(client, job, send_email, done):\n    if job.body not in done:\n"
    "        send_email(job.body)\n        done.add(job.body)\n    client.delete(job)\n\n\n"
    "answer = handle\n",
    check,
    explanation="beanstalkd delivers a job at least once, not exactly once: a restart (or a "
                "crash, or a TTR) can hand out again a job whose work was done. Record what "
                "was done where the work's effect lives, key it on what the job is about, look "
                "before doing it, and delete the job in every case."))
