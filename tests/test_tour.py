"""The tour (stalksim.tour): every sentence it says is read from the two simulated traces, the
forks its last step offers are the runs a fork would give, and it needs nothing from outside.

How it plays in a browser (before the kernel, keyboard, axe, fit on screen) is
tests/browser/test_site.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from stalksim.forks import Fault, fork, fork_of
from stalksim.scenarios import run_scenario
from stalksim.stories import secs
from stalksim.tour import Tour, tour_cell_index


def facts(**params: float) -> dict[str, float | int | str]:
    """What the story is, read straight from the traces (not from the tour's own code)."""
    crash = run_scenario("crashed-consumer", seed=0, **params).trace
    hang = run_scenario("hung-consumer", seed=0, **params).trace
    closed = next(r for r in crash if r.cause == "connection-closed")
    expired = next(r for r in hang if r.cause == "ttr-expired" and r.job == closed.job)
    reserved = max(r.time for r in hang if r.job == closed.job and r.cause == "reserve"
                   and r.actor == closed.actor and r.time < expired.time)
    return {"job": closed.job, "worker": closed.actor, "stop": closed.time,
            "expired": expired.time, "ttr": round(expired.time - reserved),
            "done_crash": max(r.time for r in crash if r.cause == "delete"),
            "done_hang": max(r.time for r in hang if r.cause == "delete")}


@pytest.mark.parametrize("params", [{}, {"at": 2.5, "ttr": 4}, {"at": 3.0, "ttr": 7}],
                         ids=["default", "at2.5-ttr4", "at3-ttr7"])
def test_every_number_the_tour_says_comes_from_the_traces(params: dict[str, float]) -> None:
    f = facts(**params)
    tour = Tour(**params)
    text = " ".join(s["text"] for s in tour.data["steps"])
    job, w = f"job {f['job']}", str(f["worker"])
    assert f"At {secs(f['stop'])} {w} stops in the middle of {job}" in text
    assert f"a TTR (time to run) of {secs(f['ttr'])}" in text
    assert f"{job}'s TTR runs out at {secs(f['expired'])}" in text
    assert (f"at {secs(f['done_crash'])} after the crash, at {secs(f['done_hang'])} after the "
            "hang") in text
    times = [s["t"] for s in tour.data["steps"]]
    assert times == sorted(times) and times[0] == 0.0
    assert f["stop"] in times and f["expired"] in times
    assert tour.data["left"]["title"].startswith(f"Crash: {w}")
    assert tour.data["right"]["title"].startswith(f"Hang: {w}")


def test_the_learners_turn_is_during_the_hang_and_offers_each_workers_crash() -> None:
    f, tour = facts(), Tour()
    turn = tour.data["try"]
    assert f["stop"] < turn["t"] < f["expired"], "the turn is while the hung worker holds it"
    assert f"{f['worker']} is hung and still holds job {f['job']}" in turn["text"]
    crash, hang = fork_of(run_scenario("crashed-consumer", seed=0)), fork_of(
        run_scenario("hung-consumer", seed=0))
    for panel, base in (("base", crash), ("fork", hang)):
        for w in base.layout()["workers"]:
            offered = turn["forks"][f"{panel}/{w}"]
            if panel == "base" and w == f["worker"]:  # crashed at 3.5 s already
                assert "crashed at" in offered["note"] and "layout" not in offered
                continue
            expect = fork(base.scenario, base.seed, base.params, [Fault(w, "crash", turn["t"])])
            assert offered["summary"] == expect.summary_line(base)
            assert offered["layout"]["steps"] == expect.layout()["steps"]
            assert {"worker": w, "t": turn["t"]} in offered["layout"]["crashes"]
    # crashing the hung worker gives its job back at once: done before the hang's finish
    rescue = turn["forks"][f"fork/{f['worker']}"]["summary"]
    assert rescue.endswith(f"all done at {secs(f['done_hang'])} → all done at "
                           f"{secs(turn['t'] + 2)}")


def test_the_tour_is_one_self_contained_fragment() -> None:
    html = Tour().html()
    assert not re.search(r"(src|href)\s*=|https?://(?!www.w3.org/2000/svg)|//cdn|import\(|fetch\(",
                         html), \
        "the tour must not load anything"
    assert html.count("<script>") == 1 and html.count("</script>") == 1
    data = re.search(r"bootTour\(document\.currentScript, (\{.*\})\);", html, re.S)
    assert data is not None
    assert json.loads(data[1].replace("<\\/", "</"))["steps"] == Tour().data["steps"]
    bundle = Tour().bundle()
    assert bundle["text/html"] == html and "worker-1 stops at 3.5 s" in bundle["text/plain"]


def test_the_front_page_keeps_what_it_is_given_and_links_to_the_course() -> None:
    page = Tour().page(lab="lab/index.html?path=01.ipynb", head="<script id='cfg'>{}</script>")
    assert page.startswith("<!doctype html>") and "<script id='cfg'>{}</script>" in page
    assert "href='lab/index.html?path=01.ipynb'" in page
    assert "<html lang='en'>" in page


def test_the_tour_loads_no_plotting_or_widget_library() -> None:
    code = ("import sys; from stalksim.tour import Tour; Tour().html(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'matplotlib', 'numpy', 'pandas', 'ipywidgets', 'anywidget', 'IPython'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_lesson_1_shows_the_tour_first() -> None:
    nb = json.loads(open("notebooks/01-jobs-and-tubes.ipynb", encoding="utf-8").read())
    at = tour_cell_index(nb["cells"])
    assert at == 1 and nb["cells"][0]["cell_type"] == "markdown"
    assert "Tour()" in "".join(nb["cells"][at]["source"])
    with pytest.raises(ValueError, match="tagged 'tour'"):
        tour_cell_index([{"cell_type": "code", "metadata": {}, "source": "Tour()"}])
