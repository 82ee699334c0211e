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


# -- issue 23, findings 8 and 9 ---------------------------------------------------------------

def _cell_with_tag(number: str, tag: str) -> int:
    return next(i for i, tags, _ in code_cells(_lesson(number)) if tag in tags)


def test_lesson_3_tells_the_whole_deadline_soon_rule() -> None:
    """Finding 8: 'asks for another job gets DEADLINE_SOON at once' was only part of it. A job
    ready in a watched tube is handed out instead, and a reserve already waiting is answered
    DEADLINE_SOON when the held job's last second begins. Each case is a claim cell (run on
    both backends by tests/test_claims.py), in that order, under the DEADLINE_SOON heading."""
    text = _markdown(_lesson("03"))
    assert "asks for another job gets\n`DEADLINE_SOON` at once instead of waiting" not in text
    section = text.split("## DEADLINE_SOON", 1)[1].split("\n## ", 1)[0]
    assert "**nothing is ready**" in section and "**a job is ready**" in section
    assert "**already waiting**" in section
    at = [_cell_with_tag("03", f"claim:{cid}") for cid in (
        "l3-deadline-soon", "l3-deadline-soon-ready-job-wins",
        "l3-deadline-soon-wakes-waiting-reserve")]
    assert at == sorted(at)


def test_lesson_3_never_prints_the_clock_after_a_reserve_that_waited() -> None:
    """On the real leg `sim.now` counts only `advance` calls, not a reserve that blocked in
    real time, so the waiting case reads the time from the job's age instead."""
    src = next(s for _, tags, s in code_cells(_lesson("03"))
               if "claim:l3-deadline-soon-wakes-waiting-reserve" in tags)
    assert "sim.now" not in src and "st['age']" in src


def test_lesson_1_corrects_the_2008_tutorial() -> None:
    """Finding 9: the 2008 tutorial connects to port 99988 (not a port: above 65535; beanstalkd
    listens on 11300 by default) and says an undeleted job's reservation eventually expires,
    which is half the truth (a crash gives it back at once: lesson 3)."""
    nb = nbformat.read(_lesson("01"), as_version=4)
    section = next(c.source for c in nb.cells
                   if c.cell_type == "markdown" and "2008 tutorial" in c.source)
    assert 'ServerConn("localhost", 99988)' in section
    assert 'ServerConn("localhost", 11300)' not in section  # not what the tutorial wrote
    port_line = next(line for line in section.splitlines() if "99988" in line
                     and "ServerConn" not in line)
    assert "65535" in port_line and "11300" in section
    assert "half the truth" in section and "at once" in section and "Lesson 3" in section


def test_lesson_1_shows_an_unused_tube_disappearing() -> None:
    """Finding 9: a tube nobody uses or watches (and holding no job) leaves list-tubes; a claim
    cell shows it on both backends."""
    at = _cell_with_tag("01", "claim:l1-unused-tube-disappears")
    nb = nbformat.read(_lesson("01"), as_version=4)
    assert "list-tubes" in nb.cells[at - 1].source


def test_lesson_1_swimlanes_caption_names_both_kinds_of_lane() -> None:
    """Finding 9: the caption said 'Each lane is a worker', but the figure also draws a lane per
    tube in which a job waited."""
    nb = nbformat.read(_lesson("01"), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "worker_swimlanes(" in c.source)
    caption = nb.cells[at - 1].source
    assert "**tube lanes**" in caption and "**worker lanes**" in caption
    assert "Each lane is a worker" not in caption
