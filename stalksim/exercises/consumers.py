"""Lesson 3: reserve and delete; what happens when a consumer crashes, hangs or forgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stalksim.exercises._core import (
    Exercise,
    Feedback,
    Hint,
    as_number,
    failed,
    kind,
    listing,
    passed,
    plural,
    register,
    sentences,
)
from stalksim.exercises._harness import Crash, Run, bound_note, by_job, run_workers
from stalksim.exercises._sandbox import LearnerError, call, guard, learner_function
from stalksim.simulation import Simulation
from stalksim.trace import replay

# ---- l3-crash-vs-hang ---------------------------------------------------------------------------


def _ready_again(crash: bool) -> float:
    """w1 reserves a TTR-30 job at t=10 and crashes (or hangs) at t=12: when is it ready?"""
    sim = Simulation(seed=0)
    sim.client().put("job", ttr=30)
    sim.advance(10)
    w1 = sim.connect("w1")
    w1.reserve()
    sim.advance(2)
    if crash:
        w1.close()
    sim.advance(100)
    return next(r.time for r in sim.trace if r.src == "reserved" and r.dst == "ready")


def _near(x: float | None, y: float) -> bool:
    return x is not None and abs(x - y) <= 0.01


def _said(value: Any, right: float) -> str:
    """What is wrong with one story's time: too early or too late, never the right time."""
    t = as_number(value)
    if value is None:
        return "you gave no time yet (None)"
    if t is None:
        return f"{value!r:.40} is not a number of seconds"
    if t > right:
        return f"by t={t:g} the job has already been ready again for a while"
    if t < 10:
        return f"at t={t:g} the job has not even been reserved yet"
    return f"at t={t:g} `w1` still holds the job (it is reserved)"


def _story_hint(t: float | None, mistakes: list[tuple[float, str | Hint]],
                otherwise: str) -> str | Hint:
    """The hint for a known mistake (a time near one of `mistakes`), else `otherwise`."""
    if t is None:
        return "write each time as a number of seconds, e.g. 3.5."
    return next((hint for value, hint in mistakes if _near(t, value)), otherwise)


def _crash_hint(c: float | None, hang: float) -> str | Hint:
    return _story_hint(c, [
        (12 + 30, "a crash does not start a TTR countdown: the TTR started at the reserve, and "
                  "a closed connection returns its jobs at once."),
        (hang, "a crash closes the connection, and beanstalkd returns the jobs of a closed "
               "connection at once, without waiting for the TTR.")],
        "when the connection closes, the job is ready again at that very moment.")


def _hang_hint(h: float | None, crash: float) -> str | Hint:
    return _story_hint(h, [
        (12 + 30, "the TTR counts from the reserve, not from the moment the worker hung: when "
                  "was the job reserved?"),
        (30, Hint("the TTR is a duration counted from the reserve, not a time on the clock.",
                  "the TTR is a duration counted from the reserve, not a time on the clock: add "
                  "it to the time of the reserve.")),
        (crash, "a hung worker's connection stays open, so the server cannot tell it hung; it "
                "takes the job back only when the TTR runs out.")],
        "a hung worker is not stuck with the job for ever: the server takes it back when the "
        "TTR, counted from the reserve, runs out.")


def check_crash_vs_hang(answer: Any) -> Feedback:
    ex = "l3-crash-vs-hang"
    if not isinstance(answer, dict) or set(answer) != {"crash", "hang"}:
        return failed(ex, f"the answer must be a dict with the keys \"crash\" and \"hang\", "
                      f"not {kind(answer)}.", 'write it like {"crash": 0.0, "hang": 0.0}.')
    c, h = as_number(answer["crash"]), as_number(answer["hang"])
    crash, hang = _ready_again(True), _ready_again(False)
    if _near(c, crash) and _near(h, hang):
        return passed(ex, f"Right: after the crash the job is ready again at t={crash:g} s (the "
                      f"connection closed), after the hang at t={hang:g} s (10 + TTR 30).")
    right = [f"{story} is right." for story, ok in (("crash", _near(c, crash)),
                                                    ("hang", _near(h, hang))) if ok]
    wrong, hints = [], []
    if not _near(c, crash):
        wrong.append(f"crash: {_said(answer['crash'], crash)}.")
        hints.append(_crash_hint(c, hang))
    if not _near(h, hang):
        wrong.append(f"hang: {_said(answer['hang'], hang)}.")
        hints.append(_hang_hint(h, crash))
    return failed(ex, " ".join(wrong), sentences(hints), right=" ".join(right))


register(Exercise(
    "l3-crash-vs-hang", 3, "Crashed or hung?",
    """A job is put with `ttr=30`. Worker `w1` reserves it at t=10 s.

* Story 1: at t=12 s `w1` **crashes**: its process dies and its connection closes.
* Story 2: at t=12 s `w1` **hangs**: it is stuck in an endless loop, its connection still open.

**Answer:** a dict `{"crash": t1, "hang": t2}`: the virtual time (seconds) at which the job
is ready again in each story. The check runs both stories in a simulation.""",
    'answer = {"crash": None, "hang": None}  # two times in seconds\n',
    'answer = {"crash": 12, "hang": 40}\n',
    check_crash_vs_hang,
    explanation="A closed connection gives its reserved jobs back at once (t=12). An open "
                "connection keeps its job until the TTR, counted from the reserve, runs out: "
                "10 + 30 = 40."))


# ---- consumers that crash or forget: handle(client, job, work) --------------------------------
KILLED = ("the check kills w1's process in the middle of `work(job)`, as `kill -9` would: no "
          "`finally` and no `except` of yours runs")


class KilledClient:
    """The client a handler gets: once its worker's process is killed (in `work(job)`), no
    command reaches the server, as none would from a killed process; a handler that runs a
    `finally` or an `except` on the way out has the commands it tried noted in `after`."""

    def __init__(self, conn: Any) -> None:
        self._conn, self.killed, self.after = conn, False, []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._conn, name)
        if not callable(attr):
            return attr

        def command(*args: Any, **kwargs: Any) -> Any:
            if self.killed:
                self.after.append(name)
                raise Crash()
            return attr(*args, **kwargs)
        return command


def run_handler(handle: Callable[..., Any], bodies: list[str], *, crash_on: int = 0,
                ttr: int = 10, service: float = 2.0, until: float = 120.0) -> Run:
    """Two workers run `handle(client, job, work)` on `bodies`; `w1`'s process is killed inside
    its `crash_on`-th call of work() (0: never). `run.after_kill`: the commands the handler
    tried after the kill."""
    sim = Simulation(seed=0)
    producer = sim.client()
    for body in bodies:
        producer.put(body, ttr=ttr)
    run = Run(sim)
    calls = {"w1": 0}

    def handle_job(conn: Any, job: Any, name: str) -> None:
        client = KilledClient(conn)

        def work(j: Any) -> None:
            if name == "w1":
                calls["w1"] += 1
                if calls["w1"] == crash_on:
                    client.killed = True
                    raise Crash()
            run.worked(j, name)

        try:
            call(handle, client, job, work, what="Your handle()")
        except LearnerError:
            if not client.killed:
                raise
        finally:
            run.after_kill += client.after
        if client.killed:  # whatever the handler did on the way out, its process is gone
            raise Crash()

    return run_workers(run, handle_job, ["w1", "w2"], service=service, until=until)


class WorkFailed(Exception):
    """The work on a job failed (the process lives on)."""


def deletes_failed_work(handle: Callable[..., Any]) -> bool:
    """Does `handle` delete a job whose `work(job)` raised an exception?"""
    sim = Simulation(seed=0)
    sim.client().put("task-0", ttr=10)
    client = sim.client()
    job = client.reserve(timeout=0)

    def work(j: Any) -> None:
        raise WorkFailed("the work failed")

    with guard():
        try:
            call(handle, client, job, work, what="Your handle()")
        except LearnerError:
            pass
    return replay(sim.trace, strict=False)[job.id] == "deleted"


def judge_handler(ex: str, run: Run, bodies: list[str], hint_lost: Hint,
                  hint_twice: Hint) -> Feedback:
    """Every job worked exactly once and deleted, or what went wrong."""
    if run.failure():
        return failed(ex, run.failure(), run.failure_hint())
    trace = run.trace
    final = replay(trace, strict=False)
    jobs = by_job(trace)
    body = dict(enumerate(bodies, 1))
    lost = [j for j in jobs if not run.done.get(j) and final[j] == "deleted"]
    twice = {j: w for j, w in run.done.items() if len(w) > 1}
    left = {j: final[j] for j in jobs if final[j] != "deleted" and j not in twice}
    ok_jobs = len(bodies) - len(set(lost) | set(twice) | set(left))
    right = f"{ok_jobs} of {len(bodies)} jobs were worked exactly once and deleted."
    if lost:
        j = lost[0]
        crash = next((r.time for r in trace if r.cause == "crash"), None)
        return failed(ex, f"job {j} (`{body[j]}`) was deleted but its work never finished"
                      + (f": w1 crashed at t={crash:g} s while working on it ({KILLED})."
                         if crash else "."), hint_lost, right=right, trace=trace)
    if twice:
        j, ws = next(iter(twice.items()))
        causes = sorted({r.cause for r in jobs[j] if r.src == "reserved" and r.dst == "ready"})
        how = ", ".join(f"by {w} at t={t:g} s" for t, w in ws[:3])
        return failed(ex, f"{plural(len(twice), 'job')} were worked more than once, e.g. job "
                      f"{j} (`{body[j]}`) {len(ws)} times: {how}"
                      + (f" (it came back by {listing(causes)})" if causes else "")
                      + f"{bound_note(run)}.", HINT_RELEASE if "release" in causes
                      else hint_twice, right=right, trace=trace)
    if left:
        j, state = next(iter(left.items()))
        return failed(ex, f"job {j} (`{body[j]}`) was still {state} at the end{bound_note(run)}.",
                      hint_twice, right=right, trace=trace)
    return passed(ex, f"Right: all {len(bodies)} jobs were worked exactly once and deleted"
                  + (", although w1 crashed." if any(r.cause == "crash" for r in trace)
                     else "."), trace=trace)


def handler_checker(ex: str, bodies: list[str], crash_on: int, hint_lost: Hint,
                    hint_twice: Hint) -> Callable[[Any], Feedback]:
    """The check of a `handle(client, job, work)`; with `crash_on`, w1's process is killed,
    and a handler that deletes a job whose work failed is wrong too."""
    def check(answer: Any) -> Feedback:
        bad = learner_function(ex, answer, "handle(client, job, work)")
        if bad is not None:
            return bad
        run = run_handler(answer, bodies, crash_on=crash_on)
        fb = judge_handler(ex, run, bodies, hint_lost, hint_twice)
        if fb.ok and crash_on and deletes_failed_work(answer):
            tried = listing(sorted(set(run.after_kill)))
            return failed(ex, "when `work(job)` fails with an exception while the process "
                          "lives on, your handle deletes the job anyway: its work never "
                          "finished, and nobody will do it (lost work). The check tried that "
                          "once, beside the run with the crash.", HINT_FAILED_WORK,
                          right="w1's crash lost no job" + (
                              f": {KILLED}, so the {tried} your code tried on the way out "
                              f"never reached the server, and the job went back to ready."
                              if tried
                              else "."), trace=run.trace)
        return fb
    return check


HINT_LOST = Hint("once a job is deleted, the server forgets it: if the worker dies after the "
                 "delete, nobody will ever do that job. Look at what your handle does before "
                 "the work can fail.",
                 "delete a job only after its work is done: if the worker dies before the "
                 "delete, the server gives the job to another worker; once deleted, it is gone "
                 "for good.")
HINT_TWICE = Hint("a job you do not delete stays reserved until its TTR runs out, and then the "
                  "server hands it to another worker: follow each kind of job through your "
                  "handle and see how it ends.",
                  "when the work is done, delete the job: a job you do not delete stays "
                  "reserved until its TTR runs out, and then the server hands it to another "
                  "worker.")
HINT_RELEASE = Hint("release gives the job back to be worked again: is that what a job whose "
                    "work is done needs?",
                    "release gives the job back to be worked again; when the work is done, "
                    "delete the job instead.")
HINT_FAILED_WORK = Hint("when the work fails with an exception, the process lives on and runs "
                        "your `finally` and `except` blocks, and whatever follows an `except` "
                        "that swallows the error: a delete there throws away a job whose work "
                        "did not finish. (A killed process runs none of it.)",
                        "delete only when the work has finished: put the delete after the "
                        "work, outside any finally or except, so that it runs only when the "
                        "work succeeded (an exception then leaves the job reserved, and it "
                        "comes back when its TTR runs out).")
HANDLE_DOC = """`handle(client, job, work)` is called by a worker after it reserved `job`; `client`
is the worker's greenstalk client and `work(job)` does the actual work."""

register(Exercise(
    "ex-survive-crash", 3, "A consumer that survives its own crash",
    f"""{HANDLE_DOC} The check runs two workers, `w1` and `w2`, on six jobs (TTR 10 s, 2 s of
work each); `w1` **crashes** in the middle of its second `work(job)`: its process is killed, as
by `kill -9` (no `finally` or `except` of yours runs), its connection closes, and it restarts a
second later. The check also gives your `handle` one job whose `work(job)` fails with an
exception while the process lives on.

The starter code loses a job when the worker crashes. **Answer:** a `handle` that loses no
job, neither when its process is killed nor when the work fails, and works every job exactly
once.""",
    "def handle(client, job, work):\n    client.delete(job)\n    work(job)\n\n\n"
    "answer = handle\n",
    "def handle(client, job, work):\n    work(job)\n    client.delete(job)\n\n\n"
    "answer = handle\n",
    handler_checker("ex-survive-crash", [f"task-{i}" for i in range(1, 7)], 2, HINT_LOST,
                    HINT_TWICE),
    explanation="Work first, delete last. A crash before the delete closes the connection, and "
                "the server hands the job to the other worker at once."))

FORGET_STARTER = '''def handle(client, job, work):
    if job.body.startswith("resize:"):
        work(job)
        client.delete(job)
    elif job.body.startswith("email:"):
        work(job)
        # the email is sent: nothing else to do


answer = handle
'''
register(Exercise(
    "ex-forgot-delete", 3, "Find the bug: emails sent twice",
    f"""{HANDLE_DOC} Customers complain that they get some emails twice. Run the starter's
`handle` through the check and read the feedback: which jobs were worked more than once, when,
and by whom? (`feedback.trace` holds the simulated run if you want to look closer.)

**Answer:** the fixed `handle`. The check runs two workers on three `resize:` and three
`email:` jobs (TTR 10 s).""",
    FORGET_STARTER,
    FORGET_STARTER.replace("        # the email is sent: nothing else to do",
                           "        client.delete(job)"),
    handler_checker("ex-forgot-delete", [f"{k}:{i}" for i in range(1, 4)
                                         for k in ("resize", "email")], 0, HINT_LOST,
                    HINT_TWICE),
    explanation="The email branch never deletes its job. It stays reserved until its TTR runs "
                "out, and then another worker sends the email again."))
