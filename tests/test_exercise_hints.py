"""Hints are tested by following them: from a wrong answer, do exactly what the hint says (the
derivation is written here, from the hint's own words and the instructions' data), check
again, and repeat until the check passes. Each step must address its hint: the complaint that
hint answered is gone from the next feedback (the learner got closer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import greenstalk
import pytest

import stalksim.exercises as ex
from tests.test_exercises import (  # noqa: F401 (live: a fixture)
    H3,
    H7,
    HB,
    LIVE,
    ONCE_BY_ID,
    POISON,
    H,
    learner,
    live,
)

Step = tuple[str, Callable[[Any], Any]]


def by(keys: dict[str, tuple]) -> Callable[[list[str]], list[str]]:
    """Sort a predicted order by the rule a hint states (keys from the instructions)."""
    return lambda order: sorted(order, key=lambda b: keys[b])


# (priority, put position) for each body, as the instructions list them
L1 = {"a": (1024, 1), "b": (1024, 2), "c": (1024, 3)}
L2 = {b: (p, i) for i, (b, p) in enumerate(zip("ABCDEF", (10, 5, 10, 5, 10, 0), strict=True))}
PRI = {b: (p, i) for i, (b, p) in enumerate((("report", 65536), ("alert", 0), ("resize", 1024),
                                             ("backup", 4294967295), ("invoice", 1024),
                                             ("page", 1)))}
EQ = {"A": (50, 1), "B": (10, 2), "C": (50, 3), "D": (50, 4)}  # B released with priority 10
TUBES = {"o1": (100, 1), "e1": (100, 2), "o2": (50, 4), "e2": (10, 5)}  # d1 is in default


def drop(*bodies: str) -> Callable[[list[str]], list[str]]:
    return lambda order: [b for b in order if b not in bodies]


def lognormal_p99(median: float, sigma: float) -> int:
    """'compute the 99th percentile, exp(mu + 2.33 * sigma), and round it up'."""
    return math.ceil(math.exp(math.log(median) + 2.33 * sigma))


def reserve_delay(instructions: str) -> dict[str, tuple[float, str]]:
    """From the trace table in the instructions: for each worker, how long after its reserve
    its job went back from `reserved`, and where to."""
    rows = re.findall(r"\| ([\d.]+) \| (\d+) \| (\w+) \| (\w+) \| ([\w()]+) \|", instructions)
    since: dict[str, float] = {}
    out: dict[str, tuple[float, str]] = {}
    for t, job, src, dst, _actor in rows:
        if dst == "reserved" and src == "ready":
            since[job] = float(t)
        elif src == "reserved" and dst in ("ready", "delayed"):
            holder = next(a for tt, j, s, d, a in rows if j == job and d == "reserved"
                          and float(tt) == since[job])
            out.setdefault(holder, (float(t) - since[job], dst))
    return out


def read_trace(answer: dict[str, str]) -> dict[str, str]:
    """'a crashed worker's connection closes, and that gives its job back at once'; 'the
    server waited for the TTR' for a hung one; a release into delayed is neither."""
    back = reserve_delay(ex.show("ex-explain-trace"))
    crashed = next(w for w, (d, dst) in back.items() if dst == "ready" and d < 20)
    hung = next(w for w, (d, dst) in back.items() if dst == "ready" and d == 20)
    return {"crashed": crashed, "hung": hung}


def fix_design(answer: dict[str, list[str]]) -> dict[str, list[str]]:
    """'a tube should be watched only by the consumers that may handle all its jobs', with
    the responsibilities the instructions give; 'give one entry for each' consumer."""
    duty = {"mailer": ["emails.signup"], "reset-mailer": ["emails.reset"],
            "billing": ["orders", "invoices"], "imager": ["thumbnails"]}
    return {c: [t for t in answer.get(c, []) if t in duty[c]] or duty[c] for c in duty}


def sub(old: str, new: str) -> Callable[[str], str]:
    return lambda code: code.replace(old, new)


RELEASE_GROWING = "client.release(job, delay=2 ** n)"
SEND_ONCE = (H7 + "    if job.body not in done:\n        send_email(job.body)\n"
             "        done.add(job.body)\n    client.delete(job)\nanswer = handle\n")
CHAINS: dict[str, list[tuple[Any, list[Step]]]] = {
    "l1-tubes": [(["a", "b", "c"], [("ignores `default`", drop("a"))]),
                 (["c", "b"], [("which of the two was put first", by(L1))]),
                 (["b"], [("which jobs went into those tubes", lambda o: ["b", "c"])])],
    "l2-priority-order": [(["A", "C", "E", "B", "D", "F"], [("0 is the most urgent", by(L2))]),
                          (list("ABCDEF"), [("orders by priority first", by(L2))]),
                          (["F", "D", "B", "A", "C", "E"], [("ties go to the smallest job id",
                                                             by(L2))])],
    "ex-predict-priorities": [
        (["backup", "report", "resize", "invoice", "page", "alert"],
         [("0 is the most urgent", by(PRI))]),
        (["alert", "page", "invoice", "resize", "report", "backup"],
         [("the tie goes to the one put first", by(PRI))])],
    "ex-equal-priorities": [(["C", "D", "A", "B"], [("keeps its id", by(EQ))]),
                            (["A", "B", "C", "D"], [("changes B's priority", by(EQ))])],
    "ex-predict-tubes": [(["o2", "o1", "e2", "e1"], [("across every watched tube", by(TUBES))]),
                         (["d1", "e2", "o2", "o1", "e1"], [("does not watch", drop("d1"))])],
    "ex-design-tubes": [
        ({"mailer": ["emails.signup", "emails.reset"], "reset-mailer": ["emails.reset"],
          "billing": ["orders", "invoices"], "imager": ["thumbnails"]},
         [("not a broadcast", fix_design)]),
        ({"mailer": ["emails.signup"], "reset-mailer": ["emails.reset"],
          "billing": ["orders", "invoice"], "imager": ["thumbnails"]},
         [("did you mean `invoices`", lambda a: {**a, "billing": ["orders", "invoices"]})]),
        ({"mailer": ["emails.signup"]}, [("one entry for each", fix_design)])],
    "l3-crash-vs-hang": [  # the instructions: reserve at t=10, TTR 30, crash or hang at t=12
        ({"crash": None, "hang": None}, [("as a number of seconds",
                                          lambda a: {"crash": 0.0, "hang": 0.0}),
                                         ("ready again at that very moment",
                                          lambda a: {**a, "crash": 12}),
                                         ("counted from the reserve",
                                          lambda a: {**a, "hang": 10 + 30})]),
        ({"crash": 40, "hang": 12}, [("at once, without waiting for the TTR",
                                      lambda a: {"crash": 12, "hang": 10 + 30})]),
        ({"crash": 42, "hang": 40}, [("does not start a TTR countdown",
                                      lambda a: {**a, "crash": 12})]),
        ({"crash": 12, "hang": 42}, [("when was the job reserved", lambda a: {**a, "hang": 40})]),
        ({"crash": 12, "hang": 30}, [("add it to the time of the reserve",
                                      lambda a: {**a, "hang": 10 + 30})])],
    "ex-explain-trace": [({"crashed": "w?", "hung": "w?"},
                          [("fill in the starter's dict", lambda a: {"crashed": "w1",
                                                                    "hung": "w2"}),
                           ("deliberate retry", read_trace)]),
                         ({"crashed": "w3", "hung": "w2"}, [("gives its job back at once",
                                                             read_trace)])],
    "ex-survive-crash": [
        (H3 + "    client.delete(job)\n    work(job)\nanswer = handle\n",
         [("only after its work is done", lambda c: H3 + "    work(job)\n"
           "    client.delete(job)\nanswer = handle\n")]),
        (H3 + "    work(job)\nanswer = handle\n",
         [("when the work is done, delete the job", sub("work(job)\n",
                                                        "work(job)\n    client.delete(job)\n"))])],
    "ex-forgot-delete": [
        (ex.exercise("ex-forgot-delete").starter,
         [("when the work is done, delete the job",
           sub("# the email is sent: nothing else to do", "client.delete(job)"))]),
        (H3 + "    work(job)\n    client.release(job)\nanswer = handle\n",
         [("delete the job instead", sub("release", "delete"))])],
    "l4-backoff": [
        (ex.exercise("l4-backoff").starter,  # deletes every job
         [("after the third failed attempt, bury the job",
           lambda c: H + POISON + "    if n >= 2:\n        client.bury(job)\n    else:\n"
                     "        client.release(job)\nanswer = handle\n"),
          ("make each delay bigger than the last, e.g. delay=2 ** releases",
           sub("client.release(job)", RELEASE_GROWING))]),
        (H + POISON + "    client.bury(job)\nanswer = handle\n",
         [("0 on the first attempt, 1 on the second, 2 on the third",
           lambda c: H + POISON + f"    if n == 2:\n        client.bury(job)\n    else:\n"
                     f"        {RELEASE_GROWING}\nanswer = handle\n")])],
    "ex-backoff": [
        (ex.exercise("ex-backoff").starter,
         [("`except ServiceDown:` then release the job with a delay",
           lambda c: HB + "    try:\n        call_service(job)\n    except ServiceDown:\n"
                     "        client.release(job, delay=1)\n    else:\n"
                     "        client.delete(job)\nanswer = handle\n"),
          ("a delay that grows each time (e.g. 2 ** releases seconds",
           sub("delay=1)", "delay=2 ** client.stats_job(job)['releases'])"))])],
    "ex-bury-kick": [
        (ex.exercise("ex-bury-kick").starter,
         [("make the client use the tube whose jobs you want to kick",
           sub("client.kick(10)", "client.use('orders')\n    client.kick(10)"))]),
        ("def recover(client):\n    client.use('orders')\n    client.kick(1)\nanswer = recover\n",
         [("kick(3), or a bigger bound", sub("kick(1)", "kick(3)"))])],
    "l7-idempotent": [  # the instructions: send each email once; done outlives the server
        (ex.exercise("l7-idempotent").starter,
         [("look whether `job.body` is in `done` already", lambda c: SEND_ONCE)]),
        (H7 + "    if job.body not in done:\n        send_email(job.body)\n"
         "    client.delete(job)\nanswer = handle\n",
         [("after sending add `job.body` to `done`",
           sub("send_email(job.body)\n", "send_email(job.body)\n        done.add(job.body)\n"))]),
        (ONCE_BY_ID, [("Key `done` on what the job is about: its body",
                       sub("job.id", "job.body"))]),
        (H7 + "    if job.body in done:\n        return\n    send_email(job.body)\n"
         "    done.add(job.body)\n    client.delete(job)\nanswer = handle\n",
         [("delete the job in every case", sub("        return\n", "        client.delete(job)\n"
                                                                "        return\n"))])],
    "ex-live-drain": [
        (ex.exercise("ex-live-drain").starter,
         [("append job.body for each job you reserve",
           lambda c: "import greenstalk\ndef drain(client):\n    bodies = []\n    while True:\n"
                     "        job = client.reserve()\n        bodies.append(job.body)\n"
                     "answer = drain\n"),
          ("finish it (delete/release/bury/touch)",
           sub("bodies.append(job.body)\n", "bodies.append(job.body)\n"
                                            "        client.delete(job)\n")),
          ("use reserve(timeout=0) and stop on greenstalk.TimedOutError",
           sub("        job = client.reserve()\n",
               "        try:\n            job = client.reserve(timeout=0)\n"
               "        except greenstalk.TimedOutError:\n            return bodies\n"))]),
        (ex.exercise("ex-live-drain").starter.replace("reserve()", "reserve(timeout=0)"),
         [("append job.body for each job you reserve",
           lambda c: "import greenstalk\ndef drain(client):\n    bodies = []\n    while True:\n"
                     "        try:\n            job = client.reserve(timeout=0)\n"
                     "        except greenstalk.TimedOutError:\n            return bodies\n"
                     "        bodies.append(job.body)\nanswer = drain\n"),
          ("delete each job after taking its body",
           sub("bodies.append(job.body)\n", "bodies.append(job.body)\n"
                                            "        client.delete(job)\n"))])],
}

SIZES = [0, 20]
TTRS = {"l5-ttr-choice": (4, 0.5), "ex-ttr": (2, 1.0)}  # median, sigma from the instructions


def follow(exercise_id: str, answer: Any, steps: list[Step]) -> ex.Feedback:
    value = learner(answer) if isinstance(answer, str) else answer
    fb = ex.check(exercise_id, value)
    for phrase, do in steps:
        assert not fb.ok and phrase in fb.last_hint, (phrase, fb.message)
        answer = do(answer)
        value = learner(answer) if isinstance(answer, str) else answer
        fb = ex.check(exercise_id, value)
        assert phrase not in fb.last_hint, f"following {phrase!r} did not help: {fb.message}"
    return fb


@pytest.mark.parametrize("exercise_id,start,steps", [
    (i, a, s) for i, chains in CHAINS.items() for a, s in chains],
    ids=lambda v: v if isinstance(v, str) and v in CHAINS else "")
def test_following_the_hints_leads_to_a_right_answer(exercise_id: str, start: Any,
                                                     steps: list[Step],
                                                     request: pytest.FixtureRequest) -> None:
    if exercise_id in LIVE:
        request.getfixturevalue("live")
    fb = follow(exercise_id, start, steps)
    assert fb.ok, fb.message


@pytest.mark.parametrize("exercise_id", list(TTRS))
@pytest.mark.parametrize("start", [0, 3, "median", 15.5, 600])
def test_ttr_hints_lead_to_a_passing_ttr(exercise_id: str, start: Any) -> None:
    median, sigma = TTRS[exercise_id]
    answer = median if start == "median" else start
    fb = ex.check(exercise_id, answer)
    if "at least 1: start from the service times" in fb.last_hint:
        answer = median  # 'start from the service times in the instructions'
        fb = ex.check(exercise_id, answer)
    if "round it up to a whole number" in fb.last_hint:
        answer = math.ceil(answer)
    elif "round it up to whole seconds" in fb.last_hint:  # the 99th-percentile recipe
        answer = lognormal_p99(median, sigma)
    elif "pick a TTR a little above it" in fb.last_hint:
        answer = lognormal_p99(median, sigma) + 1
    fb = ex.check(exercise_id, answer)
    assert fb.ok, (answer, fb.message)


@pytest.mark.parametrize("start", SIZES)
def test_size_hints_lead_to_the_smallest_pool(start: int) -> None:
    k, fb = start, ex.check("ex-size-workers", start)
    for _ in range(30):
        if fb.ok:
            break
        if "arrival rate times service time" in fb.last_hint:
            k = int(2 * 2.5)  # 2 jobs/s times 2.5 s, from the instructions
        elif "add workers" in fb.last_hint:
            k += 1
        elif "one at a time while the wait stays on target" in fb.last_hint:
            smaller = ex.check("ex-size-workers", k - 1)
            k = k - 1 if smaller.ok or "meet the target" in smaller.wrong else k
        else:
            pytest.fail(f"no hint to follow: {fb.message}")
        fb = ex.check("ex-size-workers", k)
    assert fb.ok, fb.message


def test_live_hints_lead_to_a_right_answer(request: pytest.FixtureRequest) -> None:
    """From the starter (a simulated client) to the task done on a live server."""
    address = request.getfixturevalue("live")
    client = learner(ex.exercise("l6-live").starter)
    fb = ex.check("l6-live", client)
    assert "change sim.client() to greenstalk.Client((host, port))" in fb.last_hint
    client = greenstalk.Client(address)
    fb = ex.check("l6-live", client)
    assert 'client.use("l6-exercise"), then client.put(body, priority=10)' in fb.last_hint
    client.use("l6-exercise")
    client.put("hello", priority=10)
    fb = ex.check("l6-live", client)
    assert 'client.watch("l6-exercise"), then job = client.reserve(timeout=5)' in fb.last_hint
    client.watch("l6-exercise")
    client.reserve(timeout=5)
    fb = ex.check("l6-live", client)
    assert fb.ok, fb.message
    client.close()


def test_every_exercise_has_its_hints_followed() -> None:
    covered = set(CHAINS) | set(TTRS) | {"ex-size-workers", "l6-live"}
    assert covered == set(ex.list_exercises()) and len(covered) == 19
