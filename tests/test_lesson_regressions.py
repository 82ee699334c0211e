"""Issue 11's findings stay fixed: the false or unfair sentences found in the lessons are gone,
every claim cell is one the claims test runs, and lesson 3 has its hands-on panel.

The behaviour itself is checked elsewhere (tests/test_claims.py runs the claim cells on the
simulator and a real beanstalkd); this file guards the words a learner reads.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from stalksim.widgets.panel import HINTS
from tests.lesson_cells import LESSONS, code_cells, unchecked_claims


def _lesson(number: str) -> Path:
    return next(p for p in LESSONS if p.name.startswith(number))


def _markdown(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_every_claim_cell_is_one_the_claims_test_runs() -> None:
    """A claim cell that also carries a skip tag (plot, sim-only, ...) would never be run on the
    real server, so its claim would be unchecked."""
    assert unchecked_claims(LESSONS) == []


def test_the_guard_above_sees_a_skipped_claim(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print(1)", metadata={
        "tags": ["claim:l9-example", "sim-only"]}))
    nb.cells.append(nbformat.v4.new_code_cell("print(2)", metadata={"tags": ["claim:l9-ok"]}))
    path = tmp_path / "09-example.ipynb"
    nbformat.write(nb, path)
    assert unchecked_claims([path]) == [("09-example.ipynb", 0, ["claim:l9-example", "sim-only"])]


@pytest.mark.parametrize("sentence", [
    "fails with NOT_FOUND",        # finding 1: a delete of a job that is ready again succeeds
    "fails with `NOT_FOUND`",
    "the moment the connection",   # finding 5: worker-2 was busy, the job waited until 5 s
])
def test_lesson_3_no_longer_says(sentence: str) -> None:
    assert sentence not in _markdown(_lesson("03"))


def test_lesson_3_shows_both_late_delete_cases() -> None:
    """Ready again: the slow worker's delete succeeds; held by another: NOT_FOUND. Each is a
    claim cell, run on both backends by tests/test_claims.py."""
    tags = {t for _, ts, _ in code_cells(_lesson("03")) for t in ts}
    assert {"claim:l3-late-delete-ready-deleted", "claim:l3-late-delete-held-not-found"} <= tags


def test_lesson_1_does_not_say_nobody_watches_default() -> None:
    assert "nobody watches" not in _markdown(_lesson("01")).lower()  # finding 8


def test_panel_delete_hint_gives_the_real_rule() -> None:
    """Finding 1: NOT_FOUND on delete means gone or held by another connection, never 'your
    TTR ran out' (a job that is ready again is deleted by anyone)."""
    hint = HINTS[("delete", "NOT_FOUND")]
    assert "another connection has it reserved" in hint
    assert "any client may delete a ready" in hint
    assert "TTR" not in hint


def test_lesson_3_has_a_hands_on_panel_that_can_crash_and_hang() -> None:
    """Finding 8: lesson 3 has a ServerPanel, and the panel offers crash and hang (what they
    do is tests/test_panel_faults.py)."""
    assert any("ServerPanel(" in src for _, _, src in code_cells(_lesson("03")))
    pytest.importorskip("ipywidgets")
    from stalksim import Simulation
    from stalksim.widgets.panel import ServerPanel
    panel = ServerPanel(Simulation(seed=3), clients=("producer", "worker-1"))
    assert {"crash", "hang"} <= set(panel.buttons)
