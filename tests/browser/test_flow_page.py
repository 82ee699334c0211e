"""FlowView's JavaScript on a bare page (flow_standalone, no JupyterLab): the caption and the
picture agree at every instant, and the labels of moves drawn at the same time never overlap.
Screenshots go to test-artifacts/browser_flow."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stalksim.flow import JobBook, captions, layout
from stalksim.forks import fork
from stalksim.scenarios import run_scenario
from stalksim.simulation import Simulation
from tests.browser.flow_standalone import open_view
from tests.browser.test_flowview import ARTIFACTS
from tests.test_flow import claimed_places

pytestmark = pytest.mark.browser

# Seek view 0 to t with every move finished; the caption, each token's place, position and
# visibility, and the box of every place (worker, lane, bin) as drawn.
JS_PICTURE = """
(t) => {
  const root = document.querySelector('.fv-root'), p = root.__flow;
  p.pause(); p.seek(t); p.settle();
  const svg = root.querySelector('svg[data-panel=base]');
  const boxes = {};
  for (const r of svg.querySelectorAll('rect[data-place]')) {
    boxes[r.dataset.place] = ['x', 'y', 'width', 'height'].map((k) => +r.getAttribute(k));
  }
  const tokens = [...svg.querySelectorAll('.fv-token')].map((g) => {
    const m = /translate\\(([-\\d.]+),([-\\d.]+)\\)/.exec(g.getAttribute('transform') || '');
    return { job: +g.dataset.job, place: g.dataset.place || null,
             shown: g.getAttribute('display') !== 'none', x: m ? +m[1] : null,
             y: m ? +m[2] : null };
  });
  return { caption: root.querySelector('.fv-caption').textContent, boxes, tokens };
}
"""

# Every move label drawn: its text, its box, and the box it would have had unplaced.
JS_LABELS = """
() => [...document.querySelectorAll('svg[data-panel=base] .fv-move-label')].map((l) => {
  const b = l.getBBox(), dx = +l.dataset.x0 - +l.getAttribute('x');
  const dy = +l.dataset.y0 - +l.getAttribute('y');
  const vb = l.ownerSVGElement.viewBox.baseVal;
  return { text: l.textContent, box: [b.x, b.y, b.width, b.height],
           anchored: [b.x + dx, b.y + dy, b.width, b.height], view: [vb.width, vb.height] };
})
"""


def js_short(t: float) -> str:
    """The view's own time label (`short` in flowpanel.js): up to 3 decimals, no trailing 0."""
    return f"{round(t, 3):g} s"


def inside(x: float, y: float, box: list[float]) -> bool:
    bx, by, w, h = box
    return bx <= x <= bx + w and by <= y <= by + h


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("name", ["crashed-consumer", "hung-consumer"])
def test_caption_and_picture_agree_at_every_instant(bare_page: Any, name: str) -> None:
    """At each caption's instant and half-way to the next, the page's caption is that one, and
    every job it names is drawn where it says (the token in that worker's box, lane or bin)."""
    page = bare_page
    lay = fork(name).layout()
    open_view(page, lay)
    caps = captions(lay)
    times = [c["t"] for c in caps] + [lay["end"]]
    checked = 0
    for c, nxt in zip(caps, times[1:], strict=True):
        for t in (c["t"], (c["t"] + nxt) / 2):
            pic = page.evaluate(JS_PICTURE, t)
            assert pic["caption"] == f"{js_short(c['t'])}: {c['text']}", (t, pic["caption"])
            tokens = {tok["job"]: tok for tok in pic["tokens"]}
            for tok in tokens.values():
                if tok["place"] and tok["shown"]:
                    assert inside(tok["x"], tok["y"], pic["boxes"][tok["place"]]), (t, tok)
            for job, place in claimed_places(c["text"]).items():
                if place is None:
                    continue
                tok = tokens[job]
                assert tok["place"].startswith(place), (t, c["text"], tok)
                checked += 1
    assert checked >= len(caps)
    assert not page.stalk_page_errors and not page.stalk_blocked
    page.evaluate(JS_PICTURE, 0.0)
    page.locator(".fv-root").screenshot(path=str(ARTIFACTS / f"{name}-caption-0s.png"))


def many_moves_at_once() -> dict[str, Any]:
    """At 6 s: three jobs kicked, one released, one buried, one connection closed and a TTR
    running out, all into the same tube (their labels would sit on top of each other)."""
    sim = Simulation(seed=0)
    book = JobBook.attach(sim)
    producer = sim.client()
    producer.use("orders")
    for n in range(7):
        producer.put(f"job {n}", ttr=5)
    workers = [sim.client(watch="orders") for _ in range(7)]
    for w in workers[:3]:
        w.bury(w.reserve())
    sim.advance(1)
    held = [w.reserve() for w in workers[3:]]  # TTR 5 s: workers[3]'s job runs out at 6 s
    sim.advance(5)
    producer.kick(3)
    workers[4].release(held[1])
    workers[5].bury(held[2])
    workers[6].close()
    sim.advance(1.5)
    producer.put("later")  # the run goes on to 7.5 s: the labels are seen as their trails fade
    return layout(sim.trace, book, "many moves at once")


def test_labels_of_moves_at_the_same_time_do_not_overlap(bare_page: Any) -> None:
    page = bare_page
    lay = many_moves_at_once()
    at6 = {s["cause"] for s in lay["steps"] if abs(s["t"] - 6.0) < 1e-6}
    assert at6 == {"kick", "release", "bury", "connection-closed", "ttr-expired"}
    open_view(page, lay)
    for t in (6.001, 6.3, 7.5):  # as the moves land, and as their trails fade
        page.evaluate(JS_PICTURE, t)
        assert float(page.locator(".fv-root").get_attribute("data-time")) == pytest.approx(t)
        labels = page.evaluate(JS_LABELS)
        texts = sorted(lb["text"] for lb in labels)
        assert texts == ["TTR expired", "bury", "connection closed", "kick ×3", "release"], t
        assert any(overlap(a["anchored"], b["anchored"]) for i, a in enumerate(labels)
                   for b in labels[i + 1:]), "unplaced, these labels would not even touch"
        for i, a in enumerate(labels):
            x, y, w, h = a["box"]
            assert 0 <= x and x + w <= a["view"][0] and 0 <= y and y + h <= a["view"][1], a
            for b in labels[i + 1:]:
                assert not overlap(a["box"], b["box"]), (t, a, b)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".fv-root").screenshot(path=str(ARTIFACTS / "labels-many-moves-7s.png"))
    assert not page.stalk_page_errors and not page.stalk_blocked


def test_benchmark_row_measures_or_says_why_not(chromium: Any, monkeypatch: Any) -> None:
    """benchmarks/flowview.py's row: measured on a small trace here (times not asserted: the
    machine is shared), and skipped with the reason where there is no Chromium."""
    from benchmarks import flowview

    n, workload, measured, target, met = flowview.row("10", 100, chromium)
    assert n == "10" and "100-job" in workload and target.startswith("<= 300 ms")
    assert re.fullmatch(r"load \d+ ms \(worst of 3; Python layout \d+ ms, \d+ KiB\); \d+ "
                        r"frames/s; 4x plays at \d\.\d\dx", measured), measured
    assert met in ("yes", "NO")
    monkeypatch.setattr(flowview.lab, "CHROMIUM", "/nonexistent/chromium")
    assert flowview.row("10", 100)[2:] == (
        "skipped: chromium not found at /nonexistent/chromium (apt-get install chromium)",
        target, "skipped")


def test_live_run_moves_beside_the_simulated_one(bare_page: Any) -> None:
    """Lesson 6's view: run_live's trace from a real beanstalkd under the simulated run, on one
    clock: in both, job 3 leaves crashed worker-1 for ready, then worker-2 holds it."""
    from stalksim import live
    from stalksim.scenarios import run_scenario
    from stalksim.widgets.flowview import FlowView
    from tests.realserver import RealBeanstalkd, require_beanstalkd

    require_beanstalkd()
    with RealBeanstalkd() as server:
        tr = live.run_live("crashed-consumer", speed=5, until=10, address=server.address)
    simulated = run_scenario("crashed-consumer", seed=0, until=10).trace
    view = FlowView(simulated, beside=tr)
    page = bare_page
    open_view(page, view.data, view.fork_data, view.summary)
    where = """([t, panel]) => {
      const p = document.querySelector('.fv-root').__flow; p.pause(); p.seek(t); p.settle();
      const g = document.querySelector(`svg[data-panel=${panel}] .fv-token[data-job="3"]`);
      return g.dataset.place; }"""
    # sample each panel between its own moves of job 3: a real run's times lag the plan by
    # how late its threads were scheduled (on a loaded machine, a good part of a second)
    for panel, trace in (("base", simulated), ("fork", tr)):
        moves = [(r.cause, r.time) for r in trace if r.job == 3 and r.dst]
        assert [c for c, _ in moves] == [
            "put", "reserve", "connection-closed", "reserve", "delete"], panel
        at = [t for _, t in moves]
        for i, place in enumerate(("worker:worker-1", "ready:orders", "worker:worker-2"), 1):
            mid = (at[i] + at[i + 1]) / 2
            assert page.evaluate(where, [mid, panel]) == place, (panel, mid)
    assert page.locator("svg[data-panel=fork] .fv-title").text_content().startswith(
        "live on a real beanstalkd")
    assert page.locator(".fv-summary").inner_text().startswith("Above, then below: ")
    page.locator(".fv-root").screenshot(path=str(ARTIFACTS / "live-beside-simulated-5.5s.png"))
    assert not page.stalk_page_errors


def test_side_by_side_panels_fit_a_1024_screen_and_a_click_names_its_panel(
        bare_page: Any) -> None:
    """Lesson 3's view (FlowView(crash, beside=hang, side=True)): two compact runs in columns,
    both whole on a 1024x768 screen with text of at least 14 px, one clock; a click on a
    worker of the right-hand run asks Python for a fork of that run."""
    from stalksim.widgets.flowview import FlowView

    view = FlowView(run_scenario("crashed-consumer", seed=0),
                    beside=run_scenario("hung-consumer", seed=0), side=True)
    page = bare_page
    page.set_viewport_size({"width": 1024, "height": 768})
    open_view(page, view.data, view.fork_data, view.summary, arrangement="side")
    geo = page.evaluate("""() => [...document.querySelectorAll('.fv-svg')].map((s) => {
      const r = s.getBoundingClientRect(), vb = s.viewBox.baseVal;
      const px = Math.min(...[...s.querySelectorAll('text')].filter((t) => t.textContent)
        .map((t) => parseFloat(getComputedStyle(t).fontSize) * r.width / vb.width));
      return { kind: s.dataset.panel, compact: s.classList.contains('fv-compact'),
               box: [r.x, r.y, r.width, r.height], px }; })""")
    assert [g["kind"] for g in geo] == ["base", "fork"] and all(g["compact"] for g in geo)
    left, right = geo[0]["box"], geo[1]["box"]
    assert left[0] + left[2] <= right[0] and abs(left[1] - right[1]) < 1, (left, right)
    assert max(b[1] + b[3] for b in (left, right)) <= 768 and right[0] + right[2] <= 1024
    assert min(g["px"] for g in geo) >= 14, geo
    page.evaluate("""() => { const p = document.querySelector('.fv-root').__flow;
      p.pause(); p.seek(5.25); p.settle(); }""")
    page.locator("svg[data-panel=fork] .fv-worker[data-worker=worker-1]").click()
    assert "(right)" in page.locator(".fv-menu-title").inner_text()
    page.locator(".fv-fault-crash").click()
    sent = page.evaluate("() => window.__fvSent")
    assert sent[-1] == {"type": "fork", "worker": "worker-1", "kind": "crash", "at": 5.25,
                        "panel": "fork"}
    page.locator(".fv-root").screenshot(path=str(ARTIFACTS / "side-by-side-1024.png"))
    assert not page.stalk_page_errors


def test_a_label_names_the_job_that_moved_when_others_move_at_the_same_instant(
        bare_page: Any) -> None:
    """Issue 23 (7): forking hung-consumer with worker-1 crashing at 3 s, job 3 goes back to
    ready and on to worker-2 while job 4 is put, all at 3 s: "connection closed" is drawn over
    job 3's leg from worker-1 to the tube (it was drawn over the ready lane, on job 4)."""
    base = fork("hung-consumer", seed=0)
    forked = fork("hung-consumer", seed=0, faults=[{"worker": "worker-1", "kind": "crash",
                                                     "at": 3.0}])
    page = bare_page
    open_view(page, base.layout(), forked.layout())
    label = page.evaluate("""() => {
      const p = document.querySelector('.fv-root').__flow; p.pause(); p.seek(3.3); p.settle();
      const svg = document.querySelector('svg[data-panel=fork]');
      const place = (k) => { const r = svg.querySelector(`rect[data-place="${k}"]`);
        return [+r.getAttribute('x'), +r.getAttribute('y'), +r.getAttribute('width'),
                +r.getAttribute('height')]; };
      const l = [...svg.querySelectorAll('.fv-move-label')].find(
        (t) => t.textContent === 'connection closed');
      return { job: l.dataset.job, x0: +l.dataset.x0, worker: place('worker:worker-1'),
               lane: place('ready:orders') }; }""")
    assert label["job"] == "3"
    # over the leg between the ready lane's right end and worker-1's box, not over the lane
    assert label["lane"][0] + label["lane"][2] < label["x0"] < label["worker"][0] + 40
    for width in (1024, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.locator("svg[data-panel=fork]").screenshot(
            path=str(ARTIFACTS / f"fork-label-job-3-{width}.png"))
    assert not page.stalk_page_errors
