"""Feedback on a wrong answer says what is wrong and why, never the right value; every starter
(the package's, the student notebooks', the lessons') is rejected cleanly.

"The right value" of each exercise is defined in `RightValue` below, from its registered
solution and its check's rule: for order predictions the order (and any body the learner did not
write), for times and sizes every number that would pass, for the trace the worker of each role,
for the tube design each consumer's tubes, for code exercises the solution's statements.
"""

from __future__ import annotations

import html
import itertools
import math
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import greenstalk
import pytest

import stalksim
import stalksim.exercises as ex
from stalksim.exercises import capacity
from stalksim.exercises._core import kind
from tests.test_exercises import (  # noqa: F401 (live: a fixture)
    LESSON_STARTERS,
    LIVE,
    WRONG,
    _answer,
    learner,
    live,
)

IDS = ex.list_exercises()
ORDERS = ["l1-tubes", "l2-priority-order", "ex-predict-priorities", "ex-equal-priorities",
          "ex-predict-tubes"]
CODE = ["ex-survive-crash", "ex-forgot-delete", "l4-backoff", "ex-backoff", "ex-bury-kick",
        "ex-live-drain", "l7-idempotent"]
TTR = {"l5-ttr-choice": capacity.TtrTask("l5-ttr-choice", math.log(4), 0.5),
       "ex-ttr": capacity.TtrTask("ex-ttr", math.log(2), 1.0)}


def solution_answer(exercise_id: str) -> Any:
    return learner(ex.solution(exercise_id))


@cache
def ttr_passing(exercise_id: str) -> range:
    """Every TTR the check accepts: from the shortest with few enough duplicates (a longer TTR
    never gives more) to 3 times the 99th percentile."""
    task = TTR[exercise_id]
    lo, hi = 1, task.limit
    while lo < hi:
        mid = (lo + hi) // 2
        if task.run(mid)[0] <= capacity.DUP_LIMIT:
            hi = mid
        else:
            lo = mid + 1
    return range(lo, task.limit + 1)


def numbers(text: str) -> set[float]:
    return {float(x) for x in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])", text)}


def counts_of_jobs(text: str) -> set[float]:
    """Numbers that count jobs ("31 of the first 96 jobs"): no TTR, whatever their value."""
    return {float(x) for x in re.findall(r"(?<![\w.])(\d+)(?= of the first| jobs?\b)", text)}


def values_in(answer: Any) -> set[float]:
    """The numbers the learner wrote (feedback may echo them)."""
    if isinstance(answer, dict):
        return set().union(*(values_in(v) for v in answer.values())) if answer else set()
    return {float(answer)} if isinstance(answer, int | float) and not isinstance(
        answer, bool) else set()


@dataclass
class Texts:
    """Everything a learner reads in one Feedback: plain text, the HTML box's text, and the
    names shown as code (backticks in plain text, <code> in HTML), in order."""

    plain: str
    html_text: str
    code: list[str]

    @classmethod
    def of(cls, fb: ex.Feedback, answer: Any) -> Texts:
        """The texts at every hint level, less the learner's own answer where the feedback
        quotes it back."""
        every = [fb.at_level(level) for level in range(1, len(fb.hints) + 1)] or [fb]
        box = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", f._repr_html_())) for f in every)
        plain = "\n".join(str(f) for f in every).replace(kind(answer), "")
        box = box.replace(kind(answer), "")
        return cls(plain, box, re.findall(r"`([^`]+)`", plain))

    def both(self) -> Iterator[str]:
        yield self.plain
        yield self.html_text


def subsequence(needle: list[str], hay: list[str]) -> bool:
    it = iter(hay)
    return all(x in it for x in needle)


def leak(exercise_id: str, answer: Any, fb: ex.Feedback) -> str:
    """How `fb` gives the right value away ('' if it does not). l6-live has none to give: its
    task (tube, priority) is all in the instructions; its guard is that it needs the work."""
    if exercise_id == "l6-live":
        return ""
    right = solution_answer(exercise_id)
    t = Texts.of(fb, answer)
    if exercise_id in ORDERS or exercise_id == "ex-live-drain":
        order = right if exercise_id in ORDERS else ["m1", "m2", "m3", "m4"]
        mine = set(answer) if isinstance(answer, list | tuple) else set()
        named = [c for c in t.code if c in order]
        if [c for c in named if c not in mine]:
            return f"names {set(named) - mine} that the answer did not contain"
        if len(set(named)) > 1:
            return f"names {len(set(named))} jobs of the right order ({named})"
        if len(order) > 1 and subsequence(order, named):
            return "shows the right order"
        if any(r in s for s in t.both() for r in (repr(order), ", ".join(order))):
            return "prints the right order"
    elif exercise_id in ("l3-crash-vs-hang", "ex-size-workers", *TTR):
        if exercise_id == "l3-crash-vs-hang":
            bad = {float(v) for v in right.values()}
        elif exercise_id == "ex-size-workers":
            bad = {float(right), float(right + 1)}
        else:
            bad = {float(x) for x in ttr_passing(exercise_id)} | {
                round(TTR[exercise_id].p99, 1)}
        shown = set().union(*(numbers(s) - (counts_of_jobs(s) if exercise_id in TTR else set())
                              for s in t.both())) - values_in(answer)
        if shown & bad:
            return f"shows {sorted(shown & bad)}"
    elif exercise_id == "ex-explain-trace":
        mine = set(answer.values()) if isinstance(answer, dict) else set()
        for s in t.both():
            named = set(re.findall(r"\bw\d\b", s))
            if (named - mine and named != {"w1", "w2", "w3"}) or "swap" in s:
                return "names a worker the answer did not, or says the two are swapped"
    elif exercise_id == "ex-design-tubes":
        mine = answer if isinstance(answer, dict) else {}
        for c, tubes in right.items():
            for tube in set(tubes) - set(mine.get(c) or []):
                for s in t.both():
                    if any(f"{c}" in part and tube in part
                           for part in re.split(r"[.;:(]", s)):
                        return f"says {c} should watch {tube}"
    if exercise_id in CODE:
        starter = ex.exercise(exercise_id).starter
        lines = [ln.strip() for ln in ex.solution(exercise_id).splitlines()]
        for ln in lines:
            if len(ln) >= 20 and ln not in starter and any(ln in s for s in t.both()):
                return f"quotes the solution's line {ln!r}"
    return ""


# ---- the wrong answers: the hint tests', the starters, placeholders, and many generated --------

def order_variants(right: list[str], extra: list[str]) -> list[list[str]]:
    """Wrong orders: every order of short lists; for longer ones swaps, rotations, reversals,
    seeded shuffles; each list with one job left out, one job twice, and each `extra` job."""
    if len(right) <= 4:
        out = [list(p) for p in itertools.permutations(right)]
    else:
        rng = random.Random(11)
        out = [right[::-1]] + [right[i:] + right[:i] for i in range(1, len(right))]
        out += [right[:i] + [right[i + 1], right[i]] + right[i + 2:]
                for i in range(len(right) - 1)]
        out += [rng.sample(right, len(right)) for _ in range(40)]
    out += [right[:i] + right[i + 1:] for i in range(len(right))]
    out += [right + [right[0]]] + [right + [x] for x in extra] + [[x] + right for x in extra]
    return [o for o in out if o != right]


def generated(exercise_id: str) -> list[Any]:
    if exercise_id in LIVE or exercise_id in CODE:
        return []
    right = solution_answer(exercise_id)
    if exercise_id in ORDERS:
        extra = {"l1-tubes": ["a"], "ex-predict-tubes": ["d1"]}.get(exercise_id, [])
        return order_variants(right, extra + ["zzz"])
    if exercise_id == "l3-crash-vs-hang":
        grid = [None, "x", 0, 3, 10, 11, 12.5, 22, 30, 39, 42, 100]
        return [{"crash": c, "hang": h} for c in grid + [12] for h in grid + [40]
                if (c, h) != (12, 40)][::3]
    if exercise_id in TTR:
        ok = ttr_passing(exercise_id)
        return [0, 1, 3, 4, ok.start - 1, ok.stop, 600, 2**32, 15.5, "13", True, None]
    if exercise_id == "ex-size-workers":
        return [0, 1, 4, 5, 6, 9, 12, 20, 201, 7.5, "7"]
    if exercise_id == "ex-explain-trace":
        return [{"crashed": c, "hung": h} for c in ("w1", "w2", "w3")
                for h in ("w1", "w2", "w3") if (c, h) != ("w2", "w3")]
    if exercise_id == "ex-design-tubes":
        tubes = ["emails.signup", "emails.reset", "orders", "invoices", "thumbnails"]
        names = list(right)
        return [{c: tubes for c in names},
                {c: right[names[(i + 1) % 4]] for i, c in enumerate(names)},
                {**right, "billing": ["orders"]}, {**right, "imager": []}]
    return []


def cases() -> list[tuple[str, Any]]:
    out = [(i, a) for i, answers in WRONG.items() for a, _ in answers]
    out += [(i, ex.exercise(i).starter) for i in IDS]
    out += LESSON_STARTERS
    out += [(i, p) for i in IDS for p in (None, 0, "", [], {})]
    out += [(i, a) for i in IDS for a in generated(i)]
    return out


CASES = cases()


def test_the_guard_sees_many_wrong_answers_for_every_exercise() -> None:
    per = {i: sum(1 for j, _ in CASES if j == i) for i in IDS}
    assert len(IDS) == 19 and min(per.values()) >= 4, per
    assert len(CASES) >= 400


@pytest.mark.parametrize("exercise_id", IDS)
def test_feedback_on_wrong_answers_never_contains_the_right_value(
        exercise_id: str, request: pytest.FixtureRequest) -> None:
    if exercise_id in LIVE:
        request.getfixturevalue("live")
    problems = []
    for i, answer in CASES:
        if i != exercise_id:
            continue
        value = _answer(answer)
        fb = ex.check(i, value)
        assert not fb.ok, (answer, fb.message)
        why = leak(i, value, fb)
        if why:
            problems.append(f"{answer!r:.80}: {why}\n    {fb.message}")
    assert not problems, "\n".join(problems)


def test_the_guard_catches_a_leak() -> None:
    """The guard itself: the old l3 message, an order, a passing TTR, a worker name."""
    fb = ex.Feedback("l3-crash-vs-hang", False, wrong="crash: you said None, but the job is "
                     "ready at 12.", hint="h")
    assert leak("l3-crash-vs-hang", {"crash": None, "hang": None}, fb)
    fb = ex.Feedback("l1-tubes", False, wrong="at position 1 you put `c`, but `b` comes first",
                     hint="h")
    assert leak("l1-tubes", ["c", "b"], fb)
    fb = ex.Feedback("ex-ttr", False, wrong="too long", hint=f"at most "
                     f"{TTR['ex-ttr'].limit} s")
    assert leak("ex-ttr", 600, fb)
    fb = ex.Feedback("ex-explain-trace", False, wrong="w", hint="w2's job came back early")
    assert leak("ex-explain-trace", {"crashed": "w1", "hung": "w3"}, fb)
    fb = ex.Feedback("ex-bury-kick", False, wrong="w", hint='call client.use("orders") first')
    assert leak("ex-bury-kick", "", fb)


@pytest.mark.parametrize("exercise_id", IDS)
def test_starter_is_rejected_cleanly(exercise_id: str) -> None:
    """Each exercise's starter code, run as a learner's cell, is 'not yet', with a message
    about the answer, not about the check breaking."""
    fb = ex.check(exercise_id, learner(ex.exercise(exercise_id).starter))
    assert not fb.ok and fb.wrong and fb.hint, fb
    assert "Checking your answer raised" not in fb.wrong, fb.wrong
    assert "Traceback" not in fb.message
    assert "data-ok='false'" in fb._repr_html_() and "Not yet" in fb._repr_html_()


@pytest.mark.parametrize("exercise_id,answer", LESSON_STARTERS, ids=lambda v: str(v)[:12])
def test_lesson_starter_is_rejected_cleanly(exercise_id: str, answer: Any) -> None:
    fb = ex.check(exercise_id, _answer(answer))
    assert not fb.ok and fb.wrong and fb.hint
    assert "Checking your answer raised" not in fb.wrong, fb.wrong


def test_lesson_6_starter_client_is_rejected_after_the_lessons_round_trip(
        request: pytest.FixtureRequest) -> None:
    """Regression: `answer = client` after lesson 6's cells (a round trip in `lesson6`) was
    'Correct' although the exercise's task was not done."""
    address = request.getfixturevalue("live")
    with greenstalk.Client(address, use="lesson6", watch="lesson6") as client:
        client.put("hello, real beanstalkd", priority=10)
        client.delete(client.reserve(timeout=1))
        fb = ex.check("l6-live", client)
        assert not fb.ok and "l6-exercise" in fb.last_hint, fb.message


def test_ttr_rounded_up_99th_percentile_passes() -> None:
    """Regression (issue 11, item 2): the hint's own answer was rejected (13; 21 and 22)."""
    for exercise_id, values in (("l5-ttr-choice", [13]), ("ex-ttr", [21, 22])):
        for v in values:
            fb = ex.check(exercise_id, v)
            assert fb.ok, fb.message


def test_crash_vs_hang_placeholder_does_not_print_the_times() -> None:
    """Regression: the starter's None printed 'the job is ready at 12 ... at 40'."""
    for answer in ({"crash": None, "hang": None}, {"crash": "twelve", "hang": "forty"}):
        fb = ex.check("l3-crash-vs-hang", answer)
        assert not fb.ok and not {12.0, 40.0} & numbers(fb.message), fb.message


def test_every_module_is_loaded_whichever_is_imported_first() -> None:
    """Regression: importing one exercise module first hid the other modules' exercises."""
    code = ("import stalksim.exercises.capacity, stalksim.exercises as ex; "
            "print(len(ex.list_exercises())); ex.check('l1-tubes', ['b', 'c'])")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=stalksim.__path__[0] + "/..").stdout
    assert out.strip() == "19"
