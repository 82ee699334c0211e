"""The first screen: a guided tour of the crash-versus-hang story, which plays with no kernel.

    from stalksim.tour import Tour
    Tour()                      # in a notebook: two runs side by side on one clock, Next / Back
    Tour().page()               # the same as a whole HTML page (the browser site's front page)

Jobs are put, reserved and deleted; then one worker stops in the middle of a job. On the left
its process crashed (the connection closes: the job is ready again at once), on the right it
hung (the connection stays open: the job stays reserved, hatched, until its TTR runs out). One
sentence per step, each computed from the two simulated traces; the last step asks the learner
to crash a worker and shows what that fork of the run changes.

The tour is data: the runs, the sentences and the forks the last step offers are computed here,
in Python, once, and the page plays them in JavaScript (the flow view's drawing, in its compact
side-by-side form). So it appears at once, before a browser kernel has loaded, and plays in a
static HTML export. Standard library and simpy only (no matplotlib, no ipywidgets).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from stalksim import metrics
from stalksim.forks import Fault, Fork, fork, fork_of
from stalksim.palette import CSS_VARIABLES
from stalksim.scenarios import run_scenario
from stalksim.stories import secs
from stalksim.widgets.assets import read, scripts

MIME = "text/html"
TRY_GRID = 0.25
"""The last step's clock is a multiple of this (s)."""


def _steps(lay: dict[str, Any], cause: str, job: int | None = None) -> list[dict[str, Any]]:
    return [s for s in lay["steps"] if s["cause"] == cause and (job is None or s["job"] == job)]


def _finish(f: Fork) -> float:
    return max(r.time for r in f.trace if r.cause == "delete")


@dataclass
class Story:
    """What the two runs show, read from their layouts (never assumed): who, what and when."""

    crash: dict[str, Any]
    hang: dict[str, Any]
    producer: str = field(init=False)
    tube: str = field(init=False)
    worker: str = field(init=False)  # the one that stops
    other: str = field(init=False)
    job: int = field(init=False)
    stop: float = field(init=False)  # when it stops (crash, or hang)
    ttr: float = field(init=False)
    retaken: dict[str, Any] = field(init=False)  # crash run: the job reserved again
    expired: dict[str, Any] = field(init=False)  # hang run: its TTR ran out
    wake: float | None = field(init=False)

    def __post_init__(self) -> None:
        c, h = self.crash, self.hang
        (closed,) = _steps(c, "connection-closed")
        self.producer, self.tube = c["producers"][0], c["tubes"][0]
        self.worker, self.job, self.stop = closed["actor"], closed["job"], closed["t"]
        self.other = next(w for w in c["workers"] if w != self.worker)
        hold = next(x for x in h["holds"] if x["job"] == self.job and x["worker"] == self.worker
                    and x["end_cause"] == "ttr-expired")
        self.ttr = hold["deadline"] - hold["start"]
        self.retaken = next(s for s in _steps(c, "reserve", self.job) if s["t"] >= self.stop)
        self.expired = _steps(h, "ttr-expired", self.job)[0]
        wakes = [m["t"] for m in h["marks"] if m["kind"] == "wake" and m["actor"] == self.worker]
        self.wake = wakes[0] if wakes else None

    def hang_start(self) -> float:
        return next(x["start"] for x in self.hang["hangs"] if x["worker"] == self.worker)


def narration(story: Story, crash: Fork, hang: Fork) -> list[dict[str, Any]]:
    """The tour's steps: a time and one sentence each (the last is the learner's turn)."""
    s, j = story, f"job {story.job}"
    first_delete = _steps(s.crash, "delete")[0]
    taker = next(x for x in _steps(s.hang, "reserve", s.job) if x["t"] >= s.expired["t"])
    done_c, done_h = _finish(crash), _finish(hang)
    done_job = _steps(s.crash, "delete", s.job)[-1]["t"]
    steps = [
        {"t": 0.0, "text": f"Two runs of one shop, on one clock. {s.producer} puts jobs into the "
                           f"tube {s.tube}; {s.worker} and {s.other} reserve them, work, and "
                           "delete them."},
        {"t": first_delete["t"],
         "text": f"A reserved job is its worker's until the worker deletes it: job "
                 f"{first_delete['job']} is done at {secs(first_delete['t'])}. Each reserve "
                 f"starts a TTR (time to run) of {secs(s.ttr)}."},
        {"t": s.stop,
         "text": f"At {secs(s.stop)} {s.worker} stops in the middle of {j}. Left: its process "
                 f"crashed, the connection closed, and {j} is ready again at once. Right: it "
                 f"hung with its connection open, so {j} stays reserved (hatched)."},
        {"t": s.retaken["t"],
         "text": f"Left: {s.retaken['actor']} takes {j} at {secs(s.retaken['t'])}. Right: "
                 f"{j} is still held by the hung {s.worker}, and its TTR runs down."},
        {"t": s.expired["t"],
         "text": f"Right: {j}'s TTR runs out at {secs(s.expired['t'])}; only now is it ready "
                 f"again, and {taker['actor']} takes it. Left: {j} is "
                 + ("done already." if done_job <= s.expired["t"] else "still being worked on.")},
        {"t": max(done_c, done_h),
         "text": f"All jobs done: at {secs(done_c)} after the crash, at {secs(done_h)} after "
                 f"the hang. A hung worker holds its job for the whole TTR."},
    ]
    late = [m for m in s.hang["marks"] if m["kind"] == "not-found" and m["job"] == s.job]
    if s.wake is not None and late:
        twice = " The job was worked twice." if metrics.summary(hang.trace)["duplicate_work"] \
            else ""
        steps.append({"t": s.wake,
                      "text": f"Right: {s.worker} wakes at {secs(s.wake)} and finishes {j} "
                              f"too; its delete gets NOT_FOUND.{twice}"})
    return sorted(steps, key=lambda x: x["t"])  # a long TTR can put the wake before the end


def try_time(story: Story) -> float:
    """The learner's turn: halfway through the hang, on the grid."""
    mid = (story.hang_start() + story.expired["t"]) / 2
    return round(mid / TRY_GRID) * TRY_GRID


def offered_forks(runs: dict[str, tuple[Fork, str]], at: float) -> dict[str, dict[str, Any]]:
    """For each panel (its run and its kind's name) and worker: the run with that worker crashing at
    `at` (its layout and one-line summary), or why there is none."""
    out: dict[str, dict[str, Any]] = {}
    for panel, (base, title) in runs.items():
        lay = base.layout()
        for w in lay["workers"]:
            gone = [c["t"] for c in lay["crashes"] if c["worker"] == w and c["t"] <= at]
            key = f"{panel}/{w}"
            if gone:
                out[key] = {"note": f"{w} crashed at {secs(gone[0])} already: try another "
                                    "worker."}
                continue
            f = fork(base.scenario, base.seed, base.params, [*base.faults,
                     Fault(w, "crash", at)], base.until)
            shown = {**f.layout(), "title": f"{title}, then {w} crashes at {secs(at)}"}
            out[key] = {"layout": shown, "summary": f.summary_line(base)}
    return out


class Tour:
    """The crash-versus-hang tour for `seed` (scenario parameters, e.g. `at=` or `ttr=`, go to
    both runs)."""

    def __init__(self, seed: int = 0, **params: Any) -> None:
        self.crash = fork_of(run_scenario("crashed-consumer", seed=seed, **params))
        self.hang = fork_of(run_scenario("hung-consumer", seed=seed, **params))
        left, right = self.crash.layout(), self.hang.layout()
        self.story = Story(left, right)
        w, t = self.story.worker, secs(self.story.stop)
        left["title"], right["title"] = f"Crash: {w} dies at {t}", f"Hang: {w} freezes at {t}"
        at = try_time(self.story)
        self.data: dict[str, Any] = {
            "left": left, "right": right, "palette": CSS_VARIABLES,
            "steps": narration(self.story, self.crash, self.hang),
            "try": {"t": at, "forks": offered_forks({"base": (self.crash, "Crash"),
                                                     "fork": (self.hang, "Hang")}, at),
                    "text": f"Your turn. The clock is back at {secs(at)}: on the right, "
                            f"{w} is hung and still holds job {self.story.job}. Click {w} "
                            "there (or any worker) to crash it now, and see what changes."},
        }

    def html(self) -> str:
        """The tour as an HTML fragment: its data, styles and script inline (no fetches)."""
        data = json.dumps(self.data, separators=(",", ":")).replace("</", "<\\/")
        css = read("flowview.css", "tour.css")
        js = scripts("tour.js")
        return (f'<div class="stalksim-tour" lang="en">'
                f"<noscript>The tour needs JavaScript.</noscript></div>"
                f"<style>{css}</style>"
                f"<script>(() => {{\n{js}\nbootTour(document.currentScript, {data});\n}})();"
                f"</script>")

    def _repr_html_(self) -> str:
        return self.html()

    def bundle(self) -> dict[str, str]:
        """The notebook output that shows the tour (what a kernel displays, and what the site
        build writes into lesson 1 so that it plays before the kernel starts)."""
        return {MIME: self.html(), "text/plain": f"<stalksim tour: {self.story.worker} stops "
                                                 f"at {secs(self.story.stop)}>"}

    def page(self, lab: str, head: str = "") -> str:
        """A whole HTML page: the tour, and a way into the course at `lab` (a URL); `head`
        goes into the page's head (the site keeps JupyterLite's configuration there)."""
        link = html.escape(lab, quote=True)
        return (
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{head}"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>stalksim: a crashed worker versus a hung one, in beanstalkd</title>"
            f"<style>{read('tour-page.css')}</style></head><body><main>"
            "<h1>What happens to a job when its worker dies?</h1>"
            "<p class='lede'>beanstalkd hands each job to one worker at a time. Watch what it "
            "does when that worker crashes, and when it hangs.</p>"
            f"{self.html()}"
            f"<p class='go'><a class='start' href='{link}'>Start lesson 1 →</a> The whole "
            "course runs in this browser: Python, the simulator and the exercises, with "
            "nothing to install (the first start takes a few seconds).</p>"
            "</main></body></html>")


def tour_cell_index(cells: list[dict[str, Any]]) -> int:
    """Where lesson 1 shows the tour: the code cell tagged `tour`."""
    for i, c in enumerate(cells):
        if c["cell_type"] == "code" and "tour" in c.get("metadata", {}).get("tags", []):
            return i
    raise ValueError("lesson 1 has no code cell tagged 'tour'")
