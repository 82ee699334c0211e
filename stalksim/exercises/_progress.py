"""A progress line under a check that runs for more than a second.

`check()` opens `shown(exercise_id)` around every check; long loops (a simulated run, the
learner's own code, a live server's answers) call `tick(done, doing)` as they go. Nothing
appears unless the check is still running after DELAY seconds; then, in a Jupyter kernel, a
line with a bar says what the check is doing, and it is removed when the check ends. Outside a
kernel nothing is shown (the cost of `tick` stays two comparisons).
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DELAY = 1.0
"""Seconds a check runs before its progress line appears."""
EVERY = 0.2
"""Seconds between two updates of the line."""


def _kernel_display() -> Callable[[str], Any] | None:
    """A function that shows (then updates) one HTML output in a Jupyter kernel, or None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        return None
    from IPython.display import HTML, display

    handle = None

    def show(text: str) -> None:
        nonlocal handle
        if handle is None:
            handle = display(HTML(text), display_id=True)
        else:
            handle.update(HTML(text))

    return show


sink: Callable[[], Callable[[str], Any] | None] = _kernel_display
"""Where a check's progress line goes: a new display function per check, or None (nowhere)."""


class _Line:
    def __init__(self, what: str) -> None:
        self.what = what
        self.start = self.last = time.monotonic()
        self.show: Callable[[str], Any] | None = None
        self.shown = False

    def update(self, done: float, doing: str, now: float) -> None:
        if not self.shown:
            self.shown, self.show = True, sink()
        if self.show is None:
            return
        done = max(0.0, min(1.0, done))
        self.show(f"<div class='stalksim-progress' style='font-family:sans-serif;opacity:.8'>"
                  f"Checking <code>{html.escape(self.what)}</code>: {html.escape(doing)} "
                  f"<progress value='{done:.3f}' max='1' style='vertical-align:middle'>"
                  f"</progress> {now - self.start:.0f} s</div>")


_current: _Line | None = None


@contextmanager
def shown(what: str) -> Iterator[None]:
    """Progress of one check (nested checks show the outer one's line)."""
    global _current
    outer = _current
    line = _current = outer or _Line(what)
    try:
        yield
    finally:
        _current = outer
        if outer is None and line.show is not None:
            line.show("")


def tick(done: float, doing: str | Callable[[], str]) -> None:
    """Report progress: `done` from 0 to 1, `doing` what is going on (or a function that says
    it, called only when the line is drawn)."""
    line = _current
    if line is None:
        return
    now = time.monotonic()
    if now - line.last < EVERY or now - line.start < DELAY:
        return
    line.last = now
    line.update(done, doing() if callable(doing) else doing, now)
