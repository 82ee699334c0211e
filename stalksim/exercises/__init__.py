"""Exercises that check themselves: `check(id, answer)`, `show(id)`, `solution(id)`.

    import stalksim.exercises as ex
    ex.show("l2-priority-order")            # the instructions (Markdown)
    ex.check("l2-priority-order", ["F", "B", "D", "A", "C", "E"])   # green or red box
    ex.hint("l2-priority-order", 2)         # the last wrong answer's hint, level 2
    ex.solution("l2-priority-order")        # a collapsed block: click to reveal

Each check runs the learner's answer (a prediction, a number, or a consumer function) against a
seeded simulation and says what is right, what is wrong and why, and gives a hint; feedback on
a wrong answer never gives the right value away. Hints come in levels: the first wrong answer
gets the concept and what to look at; checking the same exercise wrong again in this kernel
(or `hint(id, 2)`) gives the recipe.
"""

from __future__ import annotations

import importlib
from collections import Counter
from typing import Any

from stalksim.exercises import _progress
from stalksim.exercises._core import REGISTRY, Exercise, Feedback, Hint, Markdown, Solution, failed
from stalksim.exercises._harness import Crash, ServiceDown
from stalksim.exercises._sandbox import LearnerError, RunawayCode, describe

__all__ = ["Crash", "Exercise", "Feedback", "ServiceDown", "check", "exercise", "hint",
           "list_exercises", "show", "solution"]

_MODULES = ("ordering", "consumers", "traces", "retries", "capacity", "live", "durability")
LESSONS = {1: "Jobs and tubes", 2: "Priorities",
           3: "Reserve/delete and what happens when a consumer dies",
           4: "Delays, burying and kicking, pausing", 5: "Many workers", 6: "Going live",
           7: "When the server restarts"}


def _load() -> dict[str, Exercise]:
    """The registry, with every exercise module imported (importing one module alone, e.g.
    `stalksim.exercises.capacity`, must not hide the others)."""
    for name in _MODULES:
        importlib.import_module(f"stalksim.exercises.{name}")
    return REGISTRY


def exercise(exercise_id: str) -> Exercise:
    """The registered exercise with this id (KeyError listing the ids if unknown)."""
    reg = _load()
    if exercise_id not in reg:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(reg)}")
    return reg[exercise_id]


def list_exercises() -> list[str]:
    """Ids of every exercise, lesson by lesson."""
    return [e.id for e in sorted(_load().values(), key=lambda e: (e.lesson, e.id[:1] != "l"))]


def show(exercise_id: str) -> Markdown:
    """The instructions of an exercise, as Markdown."""
    e = exercise(exercise_id)
    return Markdown(f"### {e.title}\n\n*Lesson {e.lesson}: {LESSONS[e.lesson]} — exercise "
                    f"`{e.id}`*\n\n{e.instructions.strip()}\n\nCheck your answer with "
                    f"`stalksim.exercises.check(\"{e.id}\", answer)`.\n")


def solution(exercise_id: str) -> Solution:
    """A solution, collapsed in Jupyter (click to reveal); plain code as a str."""
    e = exercise(exercise_id)
    return Solution(e.solution.strip() + "\n", e.id, e.explanation)


_wrong_checks: Counter[str] = Counter()
"""How many times in a row each exercise was checked wrong in this kernel."""
_last: dict[str, Feedback] = {}
"""Each exercise's last feedback in this kernel (what `hint()` explains)."""


def check(exercise_id: str, answer: Any) -> Feedback:
    """Check an answer: a Feedback with `.ok` and a message (what is right/wrong, a hint).

    The first wrong answer to an exercise gets the hint's first level (the concept, what to
    look at); checking the same exercise wrong again gets the recipe. A right answer starts
    the count again."""
    e = exercise(exercise_id)
    with _progress.shown(exercise_id):
        fb = _verdict(e, answer)
    if fb.ok:
        _wrong_checks.pop(exercise_id, None)
    else:
        _wrong_checks[exercise_id] += 1
        fb = fb.at_level(1 if _wrong_checks[exercise_id] == 1 else 2)
    _last[exercise_id] = fb
    return fb


def _verdict(e: Exercise, answer: Any) -> Feedback:
    try:
        return e.check(answer)
    except LearnerError as err:
        return failed(e.id, err.message, err.hint or "fix the error at that line and check "
                      "again.")
    except RunawayCode as err:
        return failed(e.id, f"Your code {err}: an endless loop?",
                      "look for a loop whose condition never becomes false.")
    except Exception as err:  # the answer broke the check itself: say so, without a traceback
        return failed(e.id, describe(err, "Checking your answer"),
                      Hint("compare your answer's form with the starter code in the "
                           "instructions.", f"compare your answer's form with the starter "
                           f"code (stalksim.exercises.show({e.id!r})): the same type, the "
                           f"same names."))


def hint(exercise_id: str, level: int = 1) -> Feedback | Markdown:
    """The hint to the answer checked last for this exercise (in this kernel), at `level`:
    1 is the concept and what to look at, 2 the recipe."""
    exercise(exercise_id)
    fb = _last.get(exercise_id)
    if fb is None:
        return Markdown(f"No answer to `{exercise_id}` was checked yet: run "
                        f"`stalksim.exercises.check(\"{exercise_id}\", answer)` first. The hint "
                        f"is for the answer checked last.")
    if fb.ok:
        return Markdown(f"Your last answer to `{exercise_id}` was right: no hint needed.")
    return fb.at_level(level)
