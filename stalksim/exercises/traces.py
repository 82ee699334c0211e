"""Lesson 3: read a trace and tell the crashed worker from the hung one."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from stalksim.exercises._core import (
    Exercise,
    Feedback,
    failed,
    kind,
    listing,
    passed,
    register,
    sentences,
)
from stalksim.simulation import Simulation

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
