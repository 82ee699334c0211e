"""Lessons 1 and 2: which jobs a consumer gets, and in which order (tubes, priorities, ids)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import greenstalk

from stalksim.exercises._core import (
    Exercise,
    Feedback,
    Hint,
    as_str_list,
    failed,
    kind,
    listing,
    passed,
    plural,
    register,
)
from stalksim.simulation import Simulation


@dataclass(frozen=True)
class Put:
    body: str
    pri: int = 1024
    tube: str = "default"


@dataclass
class Drained:
    """The order a consumer reserved jobs in, and what it knew about each job."""

    order: list[str]
    info: dict[str, dict[str, Any]]  # body -> pri (when drained), id, tube, note
    watch: list[str]


Before = Callable[[Any, dict[str, dict[str, Any]]], None]


def drain(puts: Sequence[Put], watch: Sequence[str], before: Before | None = None) -> Drained:
    """Put the jobs, let `before` act on them, then reserve (and delete) until none is left."""
    sim = Simulation(seed=0)
    producer = sim.client()
    info: dict[str, dict[str, Any]] = {}
    for p in puts:
        producer.use(p.tube)
        info[p.body] = {"pri": p.pri, "id": producer.put(p.body, priority=p.pri),
                        "tube": p.tube, "note": ""}
    consumer = sim.client(watch=list(watch))
    if before is not None:
        before(consumer, info)
    order = []
    while True:
        try:
            job = consumer.reserve(timeout=0)
        except greenstalk.TimedOutError:
            return Drained(order, info, list(watch))
        order.append(job.body)
        consumer.delete(job)


def _why_not_yet(g: dict[str, Any], gb: str, e: dict[str, Any]) -> str:
    """Why the job the learner put here is not next, without naming the job that is."""
    if e["pri"] != g["pri"]:
        return (f"a job with a more urgent priority than `{gb}`'s {g['pri']} (a smaller "
                f"number) is still ready at that point")
    return (f"a job with the same priority ({g['pri']}) and a smaller job id (it was put "
            f"earlier) is still ready at that point: equal priorities go by job id")


Patterns = Sequence[tuple[Sequence[str], str | Hint]]
"""Known wrong orders, each with its hint."""


def judge_order(exercise: str, d: Drained, answer: Any, example: str,
                patterns: Patterns = ()) -> Feedback:
    """Compare a predicted order with the simulated one; explain the first difference without
    naming the job that belongs there (the feedback never gives the order away)."""
    got = as_str_list(exercise, answer, example)
    if isinstance(got, Feedback):
        return got
    expected, info = d.order, d.info
    if got == expected:
        return passed(exercise, f"Right: the consumer reserves {listing(expected)}, in that "
                      f"order.")
    pattern_hint = next((h for p, h in patterns if list(p) == got), "")
    if not got:
        return failed(exercise, "your list is empty.", Hint(
            "list the bodies of the jobs the consumer gets, in the order it gets them.",
            f"list the bodies the consumer gets, in order, like {example}."))
    unknown = [b for b in got if b not in info]
    if unknown:
        return failed(exercise, f"{listing(unknown)} never went into the server.",
                      pattern_hint or "use the job bodies exactly as the instructions give "
                      "them.")
    twice = next((b for b in got if got.count(b) > 1), None)
    if twice is not None:
        return failed(exercise, f"`{twice}` appears more than once.", pattern_hint or
                      "each job is reserved once here: the consumer deletes every job it gets.")
    unwatched = [b for b in got if b not in expected]
    if unwatched:
        tubes = sorted({info[b]["tube"] for b in unwatched})
        return failed(exercise, f"{listing(unwatched)} sits in {listing(tubes)}, which the "
                      f"consumer does not watch (it watches {listing(d.watch)}).", pattern_hint
                      or "a consumer only ever gets jobs from the tubes on its watch list.")
    missing = [b for b in expected if b not in got]
    if missing:
        return failed(exercise, f"you left out {plural(len(missing), 'job')} that the consumer "
                      f"gets.", pattern_hint or f"the consumer keeps reserving until no watched "
                      f"tube has a ready job; it watches {listing(d.watch)}: which jobs went "
                      f"into those tubes?", right="Every job you listed is one the consumer "
                      "gets.")
    i = next(k for k, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b)
    eb, gb = expected[i], got[i]
    note = info[eb]["note"] or info[gb]["note"]
    right = (f"You have the right jobs, and the first {plural(i, 'job')} in the right order."
             if i else "You have the right set of jobs.")
    return failed(exercise, f"at position {i + 1} you put `{gb}`, but it is not next: "
                  f"{_why_not_yet(info[gb], gb, info[eb])}.",
                  pattern_hint or note or "at every reserve, beanstalkd takes the ready job "
                  "with the smallest priority number across all watched tubes; ties go to "
                  "the smallest job id.", right=right)


def order_checker(exercise: str, puts: Sequence[Put], watch: Sequence[str], example: str,
                  before: Before | None = None,
                  patterns: Patterns = ()) -> Callable[[Any], Feedback]:
    def check(answer: Any) -> Feedback:
        return judge_order(exercise, drain(puts, watch, before), answer, example, patterns)
    return check


# ---- l1-tubes -----------------------------------------------------------------------------------
L1_PUTS = [Put("a"), Put("b", tube="orders"), Put("c", tube="emails")]
register(Exercise(
    "l1-tubes", 1, "Which jobs does the consumer get?",
    """A producer puts `"a"` into `default`, then `use("orders")` and puts `"b"`, then
`use("emails")` and puts `"c"` (all with priority 1024). A consumer made with
`sim.client(watch=["orders", "emails"])` watches `orders` and `emails` and ignores `default`.

**Answer:** the list of bodies it reserves, in order, if it reserves (and deletes) until
nothing is left for it.""",
    'answer = ["a", "b", "c"]  # replace with your prediction\n',
    'answer = ["b", "c"]\n',
    order_checker("l1-tubes", L1_PUTS, ["orders", "emails"], '["x", "y"]', patterns=[
        (["a", "b", "c"], Hint("a consumer gets jobs only from the tubes it watches, and a "
                               "producer puts each job into the tube it uses at that moment: "
                               "follow the producer's `use` calls, job by job.",
                               "`a` went into `default`, and this consumer ignores "
                               "`default`.")),
        (["c", "b"], "both have priority 1024, so the tie goes to the smaller job id: "
                     "which of the two was put first?")]),
    explanation="`a` stays in `default` for someone else. `b` and `c` have equal priority, so "
                "the older job (smaller id) comes first."))

# ---- l2-priority-order --------------------------------------------------------------------------
L2_PUTS = [Put("A", 10), Put("B", 5), Put("C", 10), Put("D", 5), Put("E", 10), Put("F", 0)]
register(Exercise(
    "l2-priority-order", 2, "Predict the reserve order",
    """A producer puts six jobs into `default`, in this order, as (body, priority):
`("A", 10)`, `("B", 5)`, `("C", 10)`, `("D", 5)`, `("E", 10)`, `("F", 0)`.
Then a consumer reserves (and deletes) until nothing is left.

**Answer:** the list of bodies in the order the consumer reserves them.""",
    'answer = ["A", "B", "C", "D", "E", "F"]  # replace with your prediction\n',
    'answer = ["F", "B", "D", "A", "C", "E"]\n',
    order_checker("l2-priority-order", L2_PUTS, ["default"], '["A", "B", ...]', patterns=[
        (["A", "C", "E", "B", "D", "F"], "you put the biggest numbers first: in beanstalkd, "
                                         "priority 0 is the most urgent."),
        (["A", "B", "C", "D", "E", "F"], "that is the put order; beanstalkd orders by "
                                         "priority first, put order only breaks ties.")]),
    explanation="Smallest priority number first (F=0, then B and D with 5, then A, C, E with "
                "10); equal priorities in job-id (put) order."))

# ---- ex-predict-priorities ----------------------------------------------------------------------
PRI_PUTS = [Put("report", 65536), Put("alert", 0), Put("resize", 1024), Put("backup", 4294967295),
            Put("invoice", 1024), Put("page", 1)]
register(Exercise(
    "ex-predict-priorities", 2, "Urgent, normal, and whenever",
    """Jobs are put into `default` in this order, as (body, priority):
`("report", 65536)` (greenstalk's default priority), `("alert", 0)`, `("resize", 1024)`,
`("backup", 4294967295)` (the largest priority there is), `("invoice", 1024)`, `("page", 1)`.

**Answer:** the order in which one consumer reserves them.""",
    'answer = []  # the bodies, in reserve order\n',
    'answer = ["alert", "page", "resize", "invoice", "report", "backup"]\n',
    order_checker("ex-predict-priorities", PRI_PUTS, ["default"], '["alert", ...]', patterns=[
        (["backup", "report", "resize", "invoice", "page", "alert"],
         "that is largest-number-first; 0 is the most urgent priority, 4294967295 the least."),
        (["alert", "page", "invoice", "resize", "report", "backup"],
         "two jobs have priority 1024: the tie goes to the one put first.")]),
    explanation="Priority is an unsigned 32-bit number, smallest first; 1024 vs 1024 is "
                "broken by job id."))


# ---- ex-equal-priorities ------------------------------------------------------------------------
def _release_a_and_b(consumer: Any, info: dict[str, dict[str, Any]]) -> None:
    a, b = consumer.reserve(timeout=0), consumer.reserve(timeout=0)
    consumer.release(a, priority=50)
    consumer.release(b, priority=10)
    info["A"]["note"] = ("a released job keeps its job id: it does not go to the back of the "
                         "queue.")
    info["B"]["pri"] = 10
    info["B"]["note"] = Hint("a release can give the job a new priority: which priority does "
                             "each job have after the releases?",
                             "release(job, priority=...) gives the job that new priority.")


register(Exercise(
    "ex-equal-priorities", 2, "Released jobs: back of the queue?",
    """Jobs `"A"`, `"B"`, `"C"`, `"D"` are put into `default` in that order, all with priority
50. A consumer reserves `A`, then `B`. It releases `A` with `priority=50` (unchanged) and
releases `B` with `priority=10`. Then it reserves (and deletes) until nothing is left.

**Answer:** the order of that final round of reserves (four bodies).""",
    'answer = ["C", "D", "A", "B"]  # replace with your prediction\n',
    'answer = ["B", "A", "C", "D"]\n',
    order_checker("ex-equal-priorities", [Put(x, 50) for x in "ABCD"], ["default"],
                  '["A", "B", "C", "D"]', _release_a_and_b, patterns=[
                      (["C", "D", "A", "B"], "released jobs do not join the back of a line: "
                       "the ready queue is sorted by (priority, job id), and a released job "
                       "keeps its id."),
                      (["A", "B", "C", "D"], Hint(
                          "a release can change a job's priority: which priority does each "
                          "job have after the releases?", "release(job, priority=10) changes "
                          "B's priority: which priority does each job have after the "
                          "releases?"))]),
    explanation="B now has priority 10 and goes first; A, C and D tie at 50 and go by id, and "
                "A kept id 1 through its release."))

# ---- ex-predict-tubes ---------------------------------------------------------------------------
TUBE_PUTS = [Put("o1", 100, "orders"), Put("e1", 100, "emails"), Put("d1", 0),
             Put("o2", 50, "orders"), Put("e2", 10, "emails")]
register(Exercise(
    "ex-predict-tubes", 1, "Several tubes, one consumer",
    """Jobs are put in this order, as (body, priority, tube): `("o1", 100, "orders")`,
`("e1", 100, "emails")`, `("d1", 0, "default")`, `("o2", 50, "orders")`,
`("e2", 10, "emails")`. A consumer watches `orders` and `emails` (not `default`), and
reserves (and deletes) until nothing is left for it.

**Answer:** the bodies in the order it reserves them.""",
    'answer = []  # the bodies, in reserve order\n',
    'answer = ["e2", "o2", "o1", "e1"]\n',
    order_checker("ex-predict-tubes", TUBE_PUTS, ["orders", "emails"], '["o1", ...]',
                  patterns=[
                      (["o2", "o1", "e2", "e1"], "beanstalkd does not empty one tube and then "
                       "the next: each reserve takes the most urgent job across every watched "
                       "tube."),
                      (["d1", "e2", "o2", "o1", "e1"], Hint(
                          "the most urgent job is not always one this consumer can get: which "
                          "tubes does it watch, and which tube did each job go into?",
                          "`d1` is the most urgent job, but it is in `default`, which this "
                          "consumer does not watch."))]),
    explanation="Across the watched tubes: e2 (10), o2 (50), then o1 and e1 tie at 100 and go "
                "by job id. d1 waits in default."))

# ---- ex-design-tubes ----------------------------------------------------------------------------
ROUTES = {"emails.signup": "mailer", "emails.reset": "reset-mailer", "orders": "billing",
          "invoices": "billing", "thumbnails": "imager"}
CONSUMERS = ["mailer", "reset-mailer", "billing", "imager"]


SPEED = {"mailer": 0.5, "reset-mailer": 2.0, "billing": 0.5, "imager": 3.0}


def _route(watch: dict[str, list[str]]) -> dict[str, str]:
    """Consumers (seconds per job in SPEED) block on reserve; then producers put 3 jobs in
    each tube, interleaved. Returns job body -> consumer that reserved it."""
    sim = Simulation(seed=0)
    got: dict[str, str] = {}

    def consume(name: str, conn: Any) -> Generator[Any, Any, None]:
        while True:
            job = yield conn.reserve()
            got[job.body] = name
            yield sim.timeout(SPEED[name])
            conn.delete(job)

    for name, tubes in watch.items():
        if tubes:
            sim.process(consume(name, sim.connect(name, watch=tubes)))
    sim.run(until=0)
    producer = sim.client()
    for i in range(1, 4):
        for tube in ROUTES:
            producer.use(tube)
            producer.put(f"{tube}#{i}")
    sim.run(until=60)
    return got


def check_design(answer: Any) -> Feedback:
    ex = "ex-design-tubes"
    example = '{"mailer": ["..."], "reset-mailer": [...], "billing": [...], "imager": [...]}'
    if not isinstance(answer, dict) or not all(
            isinstance(v, list | tuple) and all(isinstance(t, str) for t in v)
            for v in answer.values()):
        return failed(ex, f"the answer must be a dict of consumer -> list of tubes, not "
                      f"{kind(answer)}.", f"write it like {example}.")
    unknown = [c for c in answer if c not in CONSUMERS]
    absent = [c for c in CONSUMERS if c not in answer]
    if unknown or absent:
        return failed(ex, (f"there is no consumer {listing(unknown)}. " if unknown else "")
                      + (f"You gave no watch list for {listing(absent)}." if absent else ""),
                      f"give one entry for each of {listing(CONSUMERS)}.")
    watch = {c: list(dict.fromkeys(answer[c])) for c in CONSUMERS}
    typos = [(t, difflib.get_close_matches(t, list(ROUTES), 1)) for ts in watch.values()
             for t in ts if t not in ROUTES and t != "default"]
    try:
        got = _route(watch)
    except greenstalk.Error as e:
        return failed(ex, f"the server refused a watch list ({type(e).__name__}).",
                      "tube names are up to 200 letters, digits and - + / ; . $ _ ( ), and "
                      "must not start with a hyphen.")
    wrong = [f"`{c}` watches `{t}` (jobs another consumer is responsible for)" for c in CONSUMERS
             for t in watch[c] if t in ROUTES and ROUTES[t] != c]
    stolen = sum(1 for b, c in got.items() if ROUTES[b.split("#")[0]] != c)
    unread = sorted({t for t in ROUTES if not any(t in ts for ts in watch.values())})
    if not wrong and not unread:
        return passed(ex, "Right: in the simulation every job went to the consumer responsible "
                      "for it, and no tube was left unread.")
    parts = []
    if wrong:
        parts.append("; ".join(wrong) + f": consumers watching the same tube compete for its "
                     f"jobs: in the simulation {stolen} of 15 jobs went to the wrong one"
                     + (" (none this time, by luck of timing)." if not stolen else "."))
    if unread:
        parts.append(f"nobody watches {listing(unread)}: those jobs wait for ever.")
    hint: str | Hint = ("each job is delivered to one consumer only (a tube is a queue, not a "
                        "broadcast), so a tube should be watched only by the consumers that "
                        "may handle all its jobs.")
    if typos:
        hint = Hint("; ".join(f"no producer puts into `{t}`" for t, _ in typos)
                    + ": compare the spelling with the tube names in the instructions.",
                    "; ".join(f"no producer puts into `{t}`" + (f" (did you mean `{m[0]}`?)"
                                                                if m else "")
                              for t, m in typos) + ".")
    return failed(ex, " ".join(parts), hint,
                  right=f"{15 - stolen - 3 * len(unread)} of 15 jobs reached the right "
                        f"consumer.")


register(Exercise(
    "ex-design-tubes", 1, "Design the watch lists",
    """Producers put jobs into these tubes: the web app into `emails.signup` and
`emails.reset`, the shop into `orders` and `invoices`, the upload service into `thumbnails`.

Four consumers run (`mailer` and `billing` are fast, `reset-mailer` and `imager` slow):
`mailer` sends sign-up emails; `reset-mailer` sends password-reset emails
(and only those, so resets never wait behind a burst of sign-ups); `billing` handles orders
and invoices; `imager` makes thumbnails. Every job must be handled by its consumer and
nobody else.

**Answer:** a dict mapping each consumer to the list of tubes it should watch. The check puts
three jobs in each tube and lets the consumers compete for them in a simulation.""",
    'answer = {\n    "mailer": [],\n    "reset-mailer": [],\n    "billing": [],\n'
    '    "imager": [],\n}\n',
    'answer = {\n    "mailer": ["emails.signup"],\n    "reset-mailer": ["emails.reset"],\n'
    '    "billing": ["orders", "invoices"],\n    "imager": ["thumbnails"],\n}\n',
    check_design,
    explanation="A tube is a queue: consumers that watch it share its jobs. So each tube is "
                "watched only by the consumer responsible for it."))
