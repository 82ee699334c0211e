"""Feedback, exercise records, the registry, and small helpers shared by every exercise."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

_GREEN = ("#1b5e20", "#e8f5e9", "#2e7d32")
_RED = ("#b71c1c", "#ffebee", "#c62828")


def _md_html(text: str) -> str:
    """Escape `text` and turn `code` spans and blank-line paragraphs into HTML."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return "<br>".join(out.split("\n"))


class Hint(NamedTuple):
    """A hint in two levels: the concept and what to look at (shown first), then the recipe
    (shown when the same exercise is checked wrong again, or on `hint(id, 2)`)."""

    concept: str
    recipe: str = ""
    """How to do it; "" when the concept is all there is to say."""

    @property
    def levels(self) -> tuple[str, ...]:
        return (self.concept, self.recipe) if self.recipe else (self.concept,)


def levels(hint: str | Hint) -> tuple[str, ...]:
    """Every level of a hint, the concept first ("" gives no level)."""
    return hint.levels if isinstance(hint, Hint) else (hint,) if hint else ()


@dataclass
class Feedback:
    """The result of `check()`: `.ok`, and a message saying what is right, what is wrong, and a
    hint. Renders as a green or red box in Jupyter; `str()` gives plain text."""

    exercise: str
    ok: bool
    right: str = ""
    wrong: str = ""
    hint: str = ""
    """The hint shown: `hints[level - 1]`."""
    trace: Any = field(default=None, repr=False)
    """The simulated run behind the verdict (a `stalksim.trace.Trace`), when there was one."""
    hints: tuple[str, ...] = ()
    """Every level of the hint: the concept and what to look at, then the recipe."""
    level: int = 1

    def __post_init__(self) -> None:
        if not self.hints and self.hint:
            self.hints = (self.hint,)

    def at_level(self, level: int) -> Feedback:
        """This feedback showing hint `level` (1: the concept; the last: the recipe)."""
        if not self.hints:
            return self
        level = max(1, min(level, len(self.hints)))
        return replace(self, hint=self.hints[level - 1], level=level)

    @property
    def last_hint(self) -> str:
        """The hint's last level (the recipe), whichever level is shown; "" with no hint."""
        return self.hints[-1] if self.hints else ""

    @property
    def more(self) -> str:
        """How to get the next hint level, when there is one."""
        if self.ok or self.level >= len(self.hints):
            return ""
        return (f"Still stuck? Check again, or run `ex.hint(\"{self.exercise}\", "
                f"{self.level + 1})` (`stalksim.exercises.hint` in the lessons), for a more "
                f"detailed hint.")

    @property
    def message(self) -> str:
        """Everything the learner should read, as plain text."""
        parts = [self.right]
        if self.wrong:
            parts.append(f"What is wrong: {self.wrong}")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        parts.append(self.more)
        return "\n".join(p for p in parts if p)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        mark = "OK" if self.ok else "NOT YET"
        return f"[{mark}] {self.exercise}: {self.message}"

    def _repr_html_(self) -> str:
        fg, bg, border = _GREEN if self.ok else _RED
        head = "&#10004; Correct" if self.ok else "&#10008; Not yet"
        rows = [f"<div style='font-weight:bold;margin-bottom:4px'>{head} "
                f"<span style='font-weight:normal;opacity:.7'>({html.escape(self.exercise)})"
                f"</span></div>"]
        if self.right:
            rows.append(f"<div>{_md_html(self.right)}</div>")
        if self.wrong:
            rows.append(f"<div style='margin-top:4px'><b>What is wrong:</b> "
                        f"{_md_html(self.wrong)}</div>")
        if self.hint:
            rows.append(f"<div style='margin-top:4px'><b>Hint:</b> {_md_html(self.hint)}</div>")
        if self.more:
            rows.append(f"<div style='margin-top:4px;opacity:.75'>{_md_html(self.more)}</div>")
        return (f"<div class='stalksim-feedback' data-ok='{str(self.ok).lower()}' "
                f"style='border:2px solid {border};background:{bg};color:{fg};"
                f"border-radius:6px;padding:8px 12px;margin:4px 0'>{''.join(rows)}</div>")


class Markdown(str):
    """Instructions: a str that Jupyter renders as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


class Solution(str):
    """A solution: plain code as `str`, a collapsed `<details>` block in Jupyter."""

    exercise: str = ""
    explanation: str = ""

    def __new__(cls, code: str, exercise: str = "", explanation: str = "") -> Solution:
        obj = super().__new__(cls, code)
        obj.exercise = exercise
        obj.explanation = explanation
        return obj

    def _repr_html_(self) -> str:
        why = f"<p>{_md_html(self.explanation)}</p>" if self.explanation else ""
        return (f"<details class='stalksim-solution'><summary>Show a solution to "
                f"<code>{html.escape(self.exercise)}</code> (try first!)</summary>{why}"
                f"<pre><code>{html.escape(str(self))}</code></pre></details>")


@dataclass(frozen=True)
class Exercise:
    """One exercise. `starter` and `solution` are code that defines `answer`."""

    id: str
    lesson: int
    title: str
    instructions: str
    starter: str
    solution: str
    checker: Callable[[Any], Feedback]
    explanation: str = ""

    def check(self, answer: Any) -> Feedback:
        return self.checker(answer)


REGISTRY: dict[str, Exercise] = {}


def register(ex: Exercise) -> Exercise:
    """Add an exercise to the registry (ids are unique)."""
    if ex.id in REGISTRY:
        raise ValueError(f"exercise {ex.id!r} is registered twice")
    REGISTRY[ex.id] = ex
    return ex


# ---- verdict helpers --------------------------------------------------------------------------

def passed(exercise: str, right: str, trace: Any = None) -> Feedback:
    return Feedback(exercise, True, right=right, trace=trace)


def failed(exercise: str, wrong: str, hint: str | Hint, right: str = "",
           trace: Any = None) -> Feedback:
    """A wrong answer's feedback, showing the first level of `hint`."""
    every = levels(hint)
    return Feedback(exercise, False, right=right, wrong=wrong, hint=every[0], trace=trace,
                    hints=every)


def kind(value: Any) -> str:
    """A short description of a value's type for messages."""
    return f"{type(value).__name__} {value!r}"[:120]


def as_str_list(exercise: str, answer: Any, example: str) -> list[str] | Feedback:
    """The answer as a list of strings, or a Feedback explaining the expected format."""
    if isinstance(answer, str) or not isinstance(answer, Sequence) or not all(
            isinstance(x, str) for x in answer):
        return failed(exercise, f"the answer must be a list of job bodies (strings), not "
                      f"{kind(answer)}.", Hint("write it as a list of strings: the bodies of "
                                               "the jobs, in order.",
                                               f"write it as a list of strings, like {example}."))
    return list(answer)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def listing(items: Sequence[Any]) -> str:
    """`a`, `b` and `c`."""
    shown = [f"`{x}`" for x in items]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def _joined(parts: Sequence[str]) -> str:
    unique = list(dict.fromkeys(p for p in parts if p))
    return " ".join(p if i == 0 or not re.match(r"[a-z]+\b", p) else p[:1].upper() + p[1:]
                    for i, p in enumerate(unique))


def sentences(parts: Sequence[str | Hint]) -> Hint:
    """Hints joined into one, level by level: duplicates dropped, each after the first
    capitalised."""
    every = [levels(p) for p in parts if p]
    concept = _joined([lv[0] for lv in every])
    recipe = _joined([lv[-1] for lv in every])
    return Hint(concept, recipe if recipe != concept else "")
