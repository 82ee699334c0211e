"""Lesson 3: reserve and delete; what happens when a consumer crashes, hangs or forgets."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from stalksim.exercises._core import (
    Exercise,
    Feedback,
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
from stalksim.exercises._sandbox import call, check_callable
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


def _story_hint(t: float | None, mistakes: list[tuple[float, str]], otherwise: str) -> str:
    """The hint for a known mistake (a time near one of `mistakes`), else `otherwise`."""
    if t is None:
        return "write each time as a number of seconds, e.g. 3.5."
    return next((hint for value, hint in mistakes if _near(t, value)), otherwise)


def _crash_hint(c: float | None, hang: float) -> str:
    return _story_hint(c, [
        (12 + 30, "a crash does not start a TTR countdown: the TTR started at the reserve, and "
                  "a closed connection returns its jobs at once."),
        (hang, "a crash closes the connection, and beanstalkd returns the jobs of a closed "
               "connection at once, without waiting for the TTR.")],
        "when the connection closes, the job is ready again at that very moment.")


def _hang_hint(h: float | None, crash: float) -> str:
    return _story_hint(h, [
        (12 + 30, "the TTR counts from the reserve, not from the moment the worker hung: when "
                  "was the job reserved?"),
        (30, "the TTR is a duration counted from the reserve, not a time on the clock: add it "
             "to the time of the reserve."),
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

def run_handler(handle: Callable[..., Any], bodies: list[str], *, crash_on: int = 0,
                ttr: int = 10, service: float = 2.0, until: float = 120.0) -> Run:
    """Two workers run `handle(client, job, work)` on `bodies`; `w1` crashes inside its
    `crash_on`-th call of work() (0: never)."""
    sim = Simulation(seed=0)
    producer = sim.client()
    for body in bodies:
        producer.put(body, ttr=ttr)
    run = Run(sim)
    calls = {"w1": 0}

    def handle_job(conn: Any, job: Any, name: str) -> None:
        def work(j: Any) -> None:
            if name == "w1":
                calls["w1"] += 1
                if calls["w1"] == crash_on:
                    raise Crash()
            run.worked(j, name)

        call(handle, conn, job, work, what="Your handle()")

    return run_workers(run, handle_job, ["w1", "w2"], service=service, until=until)


def judge_handler(ex: str, run: Run, bodies: list[str], hint_lost: str,
                  hint_twice: str) -> Feedback:
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
                      + (f": w1 crashed at t={crash:g} s while working on it." if crash
                         else "."), hint_lost, right=right, trace=trace)
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


def handler_checker(ex: str, bodies: list[str], crash_on: int, hint_lost: str,
                    hint_twice: str) -> Callable[[Any], Feedback]:
    def check(answer: Any) -> Feedback:
        problem = check_callable(answer, "handle(client, job, work)", 3)
        if problem:
            return failed(ex, problem + ".", "define `def handle(client, job, work): ...` and "
                          "set `answer = handle`.")
        run = run_handler(answer, bodies, crash_on=crash_on)
        return judge_handler(ex, run, bodies, hint_lost, hint_twice)
    return check


HINT_LOST = ("delete a job only after its work is done: if the worker dies before the delete, "
             "the server gives the job to another worker; once deleted, it is gone for good.")
HINT_TWICE = ("when the work is done, delete the job: a job you do not delete stays reserved "
              "until its TTR runs out, and then the server hands it to another worker.")
HINT_RELEASE = ("release gives the job back to be worked again; when the work is done, delete "
                "the job instead.")
HANDLE_DOC = """`handle(client, job, work)` is called by a worker after it reserved `job`; `client`
is the worker's greenstalk client and `work(job)` does the actual work."""

register(Exercise(
    "ex-survive-crash", 3, "A consumer that survives its own crash",
    f"""{HANDLE_DOC} The check runs two workers, `w1` and `w2`, on six jobs (TTR 10 s, 2 s of
work each); `w1` **crashes** in the middle of its second `work(job)` (its process dies, its
connection closes) and restarts a second later.

The starter code loses a job when that happens. **Answer:** a `handle` that loses no job and
works every job exactly once.""",
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

# ---- ex-explain-trace ---------------------------------------------------------------------------


def explain_trace_run() -> Simulation:
    """Three workers, TTR 20: w1 works and releases with a delay, w2 crashes, w3 hangs."""
    sim = Simulation(seed=0)
    producer = sim.client()
    for i in range(1, 7):
        producer.put(f"job-{i}", ttr=20)
    w1, w2, w3 = (sim.connect(n) for n in ("w1", "w2", "w3"))

    def script() -> Generator[Any, Any, None]:
        a = yield w1.reserve()
        b = yield w2.reserve()
        c = yield w3.reserve()
        yield sim.timeout(1)
        w3.delete(c)
        d = yield w3.reserve()  # w3 hangs holding d
        yield sim.timeout(1)
        w1.delete(a)
        e = yield w1.reserve()
        yield sim.timeout(1)
        w1.release(e, delay=5)
        yield sim.timeout(1)
        w2.close()  # w2 crashes holding b
        del b, d
        f = yield w1.reserve()
        yield sim.timeout(2)
        w1.delete(f)

    sim.process(script())
    sim.run(until=40)
    return sim


def _trace_table() -> str:
    rows = [f"| {r.time:g} | {r.job} | {r.src} | {r.dst} | {r.actor or '(server)'} |"
            for r in explain_trace_run().trace if r.job]
    return "| time (s) | job | from | to | actor |\n|---|---|---|---|---|\n" + "\n".join(rows)


def _why_not(trace: Any, worker: str, role: str) -> str:
    """Why `worker` does not fit `role` ("crashed" or "hung"), from how its job went back."""
    back = next(r for r in trace if r.actor == worker and r.src == "reserved"
                and r.dst in ("ready", "delayed"))
    if back.cause == "release":
        return (f"{worker} gave its job back itself, into `delayed`: a release with a delay "
                f"is a deliberate retry, not a failure.")
    if role == "crashed":  # the worker's job came back when the TTR ran out
        return (f"{worker}'s job went back to `ready` exactly 20 s (the TTR) after the reserve; "
                f"a crashed worker's connection closes, and that gives its job back at once.")
    return (f"{worker}'s job went back to `ready` long before its 20 s TTR ran out; a hung "
            f"worker's connection stays open, so the server would have waited for the TTR.")


def check_explain(answer: Any) -> Feedback:
    ex = "ex-explain-trace"
    names = ["w1", "w2", "w3"]
    if not isinstance(answer, dict) or set(answer) != {"crashed", "hung"} or not all(
            v in names for v in answer.values()):
        return failed(ex, f"the answer must be a dict like {{\"crashed\": \"w?\", \"hung\": "
                      f"\"w?\"}} naming workers {listing(names)}, not {kind(answer)}.",
                      "fill in the starter's dict with worker names.")
    trace = explain_trace_run().trace
    crashed = next(r.actor for r in trace if r.cause == "connection-closed")
    hung = next(r.actor for r in trace if r.cause == "ttr-expired")
    c, h = answer["crashed"], answer["hung"]
    if (c, h) == (crashed, hung):
        return passed(ex, f"Right: {crashed} lost its job long before the TTR (its connection "
                      f"closed: a crash), {hung} lost its job exactly 20 s after reserving it "
                      f"(the TTR ran out: it hung).")
    right = " ".join(f"{role} is right." for role, v, t in (("crashed", c, crashed),
                                                             ("hung", h, hung)) if v == t)
    bad = [(role, v) for role, v, t in (("crashed", c, crashed), ("hung", h, hung)) if v != t]
    return failed(ex, " ".join(f"{role}: {v} is not it." for role, v in bad),
                  sentences([_why_not(trace, v, role) for role, v in bad]), right=right)


register(Exercise(
    "ex-explain-trace", 3, "Read a trace: who crashed, who hung?",
    f"""Three workers `w1`, `w2`, `w3` share six jobs, all put with `ttr=20`. One worker
crashed and one hung. Here is the trace of every job transition (the cause column is hidden):

{_trace_table()}

**Answer:** `{{"crashed": "w?", "hung": "w?"}}`. Compare, for each job that went back from
`reserved`, how long after the reserve it happened, with the TTR.""",
    'answer = {"crashed": "w?", "hung": "w?"}\n',
    'answer = {"crashed": "w2", "hung": "w3"}\n',
    check_explain,
    explanation="w2's job 2 was back 4 s after the reserve (connection closed: crash). w3's "
                "job 4 was back exactly 20 s after the reserve (TTR expiry: hang). w1's job "
                "went to `delayed`: a release with delay."))
