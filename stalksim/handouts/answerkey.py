"""The answer key: every registered exercise (question, answer, why) on one A4 page.

The text comes from the exercise registry (the task in `instructions`, `solution`,
`explanation`), so the key changes with the exercises. The page has two columns; the font is
the largest (at most 9 pt) at which everything fits, and `draw()` refuses to go below 5 pt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stalksim.palette import INK, INK_FAINT, INK_SOFT, OK

A4_PORTRAIT = (8.27, 11.69)
MARGIN = 0.35
GAP = 0.3
TOP = 0.75
"""Inches: page margins, the gap between the columns, and the title's band."""
LINE = 1.13
GAP_ROWS = 0.5
"""Line height in font sizes, and the space between two entries in lines."""
SIZES = (9, 8.5, 8, 7.5, 7, 6.8, 6.6, 6.4, 6.2, 6, 5.8, 5.6, 5.4, 5.2, 5)


@dataclass(frozen=True)
class Entry:
    """One exercise as the key shows it."""

    id: str
    lesson: int
    title: str
    question: str
    answer: str
    why: str


def plain(markdown: str) -> str:
    """Markdown as plain text for the key: no emphasis marks or backticks, one line per
    paragraph or list item, and a table replaced by a pointer to the notebook."""
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", markdown).replace("`", "")
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [x.strip() for x in block.splitlines() if x.strip()]
        if lines and all(x.startswith("|") for x in lines):
            out.append("(the table is in the exercise's notebook)")
            continue
        items: list[str] = []
        for x in lines:
            if x.startswith(("* ", "- ")) or not items:
                items.append("\u2022 " + x[2:] if x.startswith(("* ", "- ")) else x)
            else:
                items[-1] += " " + x
        out.extend(items)
    return "\n".join(out)


def task(instructions: str, story: int = 250) -> str:
    """The question, short: the setting (the first paragraph, when under `story` characters)
    and what the student is asked for: the paragraph that says "Answer:" (from that word on),
    else the one that says "Write ...". The notebook has the rest."""
    paragraphs = plain(instructions).split("\n")
    asked = next((p[p.index("Answer:"):] for p in paragraphs if "Answer:" in p),
                 next((p for p in paragraphs if p.startswith("Write ")), ""))
    first = paragraphs[0]
    if asked and (asked in first or len(first) > story):
        return asked
    return f"{first}\n{asked}".strip()


def entries() -> list[Entry]:
    """The registry's exercises, lesson by lesson."""
    import stalksim.exercises as ex

    out = []
    for exercise_id in ex.list_exercises():
        e = ex.exercise(exercise_id)
        code = "\n".join(x for x in e.solution.strip().splitlines() if x.strip())
        out.append(Entry(e.id, e.lesson, e.title, task(e.instructions), code,
                         plain(e.explanation)))
    return out


@dataclass
class _Row:
    text: str
    style: str  # "title", "question", "answer", "why"


STYLE = {"title": {"weight": "bold", "color": INK}, "question": {"color": INK},
         "answer": {"family": "monospace", "color": OK},
         "why": {"style": "italic", "color": INK_SOFT}}
"""How each kind of row is set (matplotlib text properties; colours from stalksim.palette)."""


class _Measure:
    """Text widths in points from the font's own glyph advances, plus 7% (kerning, hinting), so
    that no line leaves its column."""

    _advance: dict[tuple[str, str], float] = {}

    def __init__(self, size: float) -> None:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextToPath

        self.size = size
        self.paths = TextToPath()
        self.fonts = {k: FontProperties(size=100, family=v.get("family", "sans-serif"),
                                        style=v.get("style", "normal"),
                                        weight=v.get("weight", "normal"))
                      for k, v in STYLE.items()}

    def _char(self, c: str, style: str) -> float:
        key = (c, style)
        if key not in self._advance:  # 'x' + c + 'x' keeps a space's advance
            both = self.paths.get_text_width_height_descent(f"x{c}x", self.fonts[style], False)
            x = self.paths.get_text_width_height_descent("xx", self.fonts[style], False)
            self._advance[key] = (both[0] - x[0]) / 100
        return self._advance[key]

    def width(self, text: str, style: str) -> float:
        return 1.06 * self.size * sum(self._char(c, style) for c in text)

    def wrap(self, text: str, style: str, width: float, indent: str = "") -> list[str]:
        """Greedy word wrap of each line of `text` to `width` points."""
        out = []
        for paragraph in text.split("\n"):
            line = ""
            for word in re.split(r"(?<= )", paragraph):
                if line and self.width(line + word.rstrip(), style) > width:
                    out.append(line.rstrip())
                    line = indent + word
                else:
                    line += word
            out.append(line.rstrip())
        return out


def _rows(entry: Entry, number: int, measure: _Measure, width: float) -> list[_Row]:
    tag = f"[{entry.id}, lesson {entry.lesson}]".replace(" ", "\u00a0")  # never split
    title = f"{number}. {entry.title}  {tag}"
    parts = [(title, "title", ""), (entry.question, "question", ""),
             (entry.answer, "answer", "    "), ("Why: " + entry.why, "why", "")]
    return [_Row(line, style) for text, style, indent in parts
            for line in measure.wrap(text, style, width, indent)]


def layout(items: Sequence[Entry], size: float) -> list[list[_Row]] | None:
    """The entries' rows in two columns at `size` pt (an entry may go on in the next
    column; `None` rows are the space between entries), or None if they do not fit."""
    width = (A4_PORTRAIT[0] - 2 * MARGIN - GAP) / 2 * 72
    per_column = (A4_PORTRAIT[1] - TOP - MARGIN) * 72 / (size * LINE)
    measure = _Measure(size)
    columns: list[list[_Row]] = [[]]
    used = 0.0
    for i, entry in enumerate(items, 1):
        rows = _rows(entry, i, measure, width)
        for k, row in enumerate(rows):
            keep = 3 if k == 0 else 1  # a title stays with the first lines under it
            if used + min(keep, len(rows) - k) > per_column:
                if len(columns) == 2:
                    return None
                columns.append([])
                used = 0.0
            columns[-1].append(row)
            used += 1
        if used + GAP_ROWS <= per_column and i < len(items):
            columns[-1].append(_Row("", "gap"))
            used += GAP_ROWS
    return columns


def draw(items: Sequence[Entry] | None = None) -> tuple[Any, float]:
    """The one-page key (a matplotlib Figure) and the font size it uses."""
    from matplotlib.figure import Figure

    items = entries() if items is None else list(items)
    fits = [size for size in SIZES[-1:] if layout(items, size) is not None]
    if not fits:
        raise ValueError(f"{len(items)} exercises do not fit on one page at {SIZES[-1]} pt")
    lo, hi = 0, len(SIZES) - 1  # SIZES[hi] fits; find the largest that does
    while lo < hi:
        mid = (lo + hi) // 2
        if layout(items, SIZES[mid]) is not None:
            hi = mid
        else:
            lo = mid + 1
    size = SIZES[hi]
    columns = layout(items, size)
    assert columns is not None
    fig = Figure(figsize=A4_PORTRAIT)
    w, h = A4_PORTRAIT
    fig.text(MARGIN / w, 1 - 0.35 / h, "stalksim exercises: the answer key", fontsize=15,
             weight="bold", va="top", color=INK)
    fig.text(1 - MARGIN / w, 1 - 0.4 / h, "for the teacher: python -m stalksim handouts",
             fontsize=8, ha="right", va="top", color=INK_FAINT)
    step = size * LINE / 72 / h
    column_w = (w - 2 * MARGIN - GAP) / 2
    for c, rows in enumerate(columns):
        x = (MARGIN + c * (column_w + GAP)) / w
        y = 1 - TOP / h
        for row in rows:
            if row.style == "gap":
                y -= step * GAP_ROWS
                continue
            fig.text(x, y, row.text, va="top", fontsize=size, **STYLE[row.style])
            y -= step
    return fig, size
