"""Every ScenarioExplorer a lesson builds follows its sliders: moving a control changes the
title, the story and the figure, and what they say is true of the run (numbers equal the
parameters; each claim about a TTR, a delete or a hang matches the trace)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

import ipywidgets as widgets  # noqa: E402

from stalksim.stories import secs  # noqa: E402
from stalksim.widgets import ScenarioExplorer  # noqa: E402
from stalksim.widgets.explorer import param_text  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def lesson_explorers() -> list[tuple[str, str]]:
    """(notebook, source) of every `ScenarioExplorer(...)` call in the lesson notebooks."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            src = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            for node in ast.walk(ast.parse(src.replace("%matplotlib inline", ""))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "ScenarioExplorer"):
                    found.append((path.stem, ast.get_source_segment(src, node)))
    return found


EXPLORERS = lesson_explorers()


def values_for(w: widgets.Widget) -> list[Any]:
    if isinstance(w, widgets.Checkbox):
        return [not w.value, w.value]
    if isinstance(w, widgets.Dropdown):
        return list(w.options)
    lo, hi = w.min, w.max
    mid = lo + round((hi - lo) / 2 / w.step) * w.step
    return [hi, mid, lo]


def fig_title(ex: ScenarioExplorer) -> str:
    ax = ex.figure.fig.axes[0]
    return " ".join(ax.get_title(loc=loc) for loc in ("left", "center", "right"))


def check_true(ex: ScenarioExplorer) -> None:
    """What the texts say holds for this run."""
    r, p = ex.result, ex.params()
    assert r is not None
    setting = ex.setting()
    assert setting in fig_title(ex)
    for key, w in ex.controls.items():
        assert param_text(ex.scenario.label(key), w.value) in setting
        if not isinstance(w.value, bool):
            assert f"{w.value:g}" in r.description, (key, r.description)
    story = " ".join(r.story(limit=100) + r.outcome())
    events = list(r.trace)
    for e in events:
        if e.cause == "ttr-expired":
            assert f"TTR expired at {secs(e.time)}" in story or (
                f"TTR ran out at {secs(e.time)}" in story), (e, story)
        if e.cause == "not-found":
            assert f"finished job {e.job} at {secs(e.time)}" in story and "NOT_FOUND" in story
    if not any(e.cause == "ttr-expired" for e in events):
        assert "TTR expired" not in story and "TTR ran out at" not in story
        assert "NOT_FOUND" not in story
    if r.scenario.name == "many-workers":
        load = p["rate"] * p["mean"] / p["workers"]
        assert f"{p['workers']} worker" in r.title and f"{load:.0%} load" in r.title
        assert ("overloaded" in r.title) == (load >= 1)
        s = r.summary()
        assert f"{s['jobs_put']} jobs put, {s['jobs_done']} done" in story


def test_the_lessons_build_explorers():
    names = {src.split('"')[1] for _nb, src in EXPLORERS}
    assert {"hung-consumer", "short-ttr", "pause", "many-workers"} <= names


@pytest.mark.parametrize(("notebook", "source"), EXPLORERS,
                         ids=[f"{nb}-{src.split(chr(34))[1]}" for nb, src in EXPLORERS])
def test_title_story_and_figure_follow_every_control(notebook, source):
    ex = eval(source, {"ScenarioExplorer": ScenarioExplorer})  # noqa: S307 - the lesson's code
    check_true(ex)
    for key, w in ex.controls.items():
        assert "_" not in w.description, w.description  # a human label, not `for_`
        seen = []
        for value in values_for(w):
            w.value = value
            assert ex.result.params[key] == value
            check_true(ex)
            seen.append((ex.title.value, tuple(ex.story()), ex.figure.image.value))
        titles, stories, pngs = zip(*seen, strict=True)
        assert len(set(titles)) == len(seen), (key, titles)
        assert len(set(pngs)) == len(seen), key
        assert len(set(stories)) == len(seen), (key, stories)


def test_hang_stories_never_promise_a_ttr_that_does_not_run_out():
    """Lesson 3's finding: with TTR 12 s and a 1 s hang the TTR never runs out."""
    ex = ScenarioExplorer("hung-consumer", view="swimlanes", at=(1.0, 6.0, 0.5), ttr=(2, 12),
                          for_=(1.0, 10.0, 1.0))
    ex.controls["ttr"].value, ex.controls["for_"].value = 12, 1.0
    story = " ".join(ex.story())
    assert "woke at 4.5 s, before job 3's TTR ran out" in story and "expired" not in story
    assert "TTR 12 s" in ex.title.value and "for 1 s" in ex.title.value
    assert [c.description for c in ex.controls.values()] == [
        "hang at (s)", "TTR (s)", "hang for (s)"]


def test_lesson_5_title_follows_workers_and_rate():
    ex = ScenarioExplorer("many-workers", view="depth", until=60, workers=(1, 8),
                          rate=(1.0, 12.0, 0.5), mean=(0.1, 1.0, 0.05))
    ex.controls["workers"].value, ex.controls["rate"].value = 2, 12.0
    assert "2 workers at 240% load" in ex.title.value and "overloaded" in ex.title.value
    assert "8 jobs/s" not in ex.title.value and "12 jobs/s" in ex.title.value


def test_short_ttr_tells_a_late_delete_that_succeeds_from_one_that_fails():
    ex = ScenarioExplorer("short-ttr", view="swimlanes", ttr=(1, 5), touch=False)
    story = " ".join(ex.result.story(limit=100))
    assert "worker-1 finished job 1 at 2.111 s, after its TTR ran out at 2 s: nobody had " \
           "reserved it meanwhile, so its delete succeeded" in story
    assert "worker-1 finished job 3 at 5.058 s, after its TTR ran out at 4.111 s: its delete " \
           "got NOT_FOUND, because worker-2 had reserved it at 4.111 s" in story
    assert "first one's delete fails" not in ex.title.value
