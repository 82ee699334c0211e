"""Exercises that check themselves: `check(id, answer)`, `show(id)`, `solution(id)`.

    import stalksim.exercises as ex
    ex.show("l2-priority-order")            # the instructions (Markdown)
    ex.check("l2-priority-order", ["F", "B", "D", "A", "C", "E"])   # green or red box
    ex.solution("l2-priority-order")        # a collapsed block: click to reveal

Each check runs the learner's answer (a prediction, a number, or a consumer function) against a
seeded simulation and says what is right, what is wrong and why, and gives a hint; feedback on
a wrong answer never gives the right value away.
"""

from __future__ import annotations

import importlib
from typing import Any

from stalksim.exercises._core import REGISTRY, Exercise, Feedback, Markdown, Solution
from stalksim.exercises._harness import Crash, ServiceDown
from stalksim.exercises._sandbox import LearnerError, RunawayCode, describe

__all__ = ["Crash", "Exercise", "Feedback", "ServiceDown", "check", "exercise",
           "list_exercises", "show", "solution"]

_MODULES = ("ordering", "consumers", "retries", "capacity", "live", "durability")
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


def check(exercise_id: str, answer: Any) -> Feedback:
    """Check an answer: a Feedback with `.ok` and a message (what is right/wrong, a hint)."""
    e = exercise(exercise_id)
    try:
        return e.check(answer)
    except LearnerError as err:
        return Feedback(exercise_id, False, wrong=err.message,
                        hint=err.hint or "fix the error at that line and check again.")
    except RunawayCode as err:
        return Feedback(exercise_id, False, wrong=f"Your code {err}: an endless loop?",
                        hint="look for a loop whose condition never becomes false.")
    except Exception as err:  # the answer broke the check itself: say so, without a traceback
        return Feedback(exercise_id, False,
                        wrong=describe(err, "Checking your answer"),
                        hint=f"compare your answer's form with the starter code "
                             f"(stalksim.exercises.show({exercise_id!r})).")
