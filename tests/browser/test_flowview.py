"""FlowView in JupyterLab, in headless Chromium: it renders, plays in true time, moves job 3 to
worker-2 after the TTR (hang) and after the close (crash), obeys the keyboard, forks on a click,
and passes an axe-core scan. Screenshots and measured frame rates go to test-artifacts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import driver, lab
from tests.browser.lab import FIXTURES

pytestmark = pytest.mark.browser

NOTEBOOK = FIXTURES / "flowview.ipynb"
ARTIFACTS = lab.REPO / "test-artifacts" / "browser_flow"
CRASH, HANG = 0, 1  # the views in the fixture notebook, in order
SETTLE_MS = 700  # a little over the view's own settle time after a step

# Play for `ms` of wall time; measure wall and displayed virtual time in the page, and keep
# every requestAnimationFrame timestamp meanwhile (the frame rate).
JS_PLAY_FOR = """
async ([i, ms]) => {
  const root = document.querySelectorAll('.fv-root')[i];
  const frames = [];
  let on = true;
  const tick = (ts) => { frames.push(ts); if (on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const t0 = +root.dataset.time, w0 = performance.now();
  root.querySelector('.fv-play').click();
  await new Promise((r) => setTimeout(r, ms));
  const t1 = +root.dataset.time, w1 = performance.now();
  on = false;
  return { t0, t1, wall: (w1 - w0) / 1000, frames };
}
"""

# Press Pause in the first animation frame at or after virtual time `t`: from Python, the
# round trip to notice the time and click takes long enough on a loaded machine (0.3 s of wall
# time is 1.2 s at 4x) to play past 9 s, where job 3 is deleted.
JS_PAUSE_AT = """
([i, t]) => new Promise((resolve, reject) => {
  const root = document.querySelectorAll('.fv-root')[i];
  const until = performance.now() + 10000;
  const tick = () => {
    if (+root.dataset.time >= t) { root.querySelector('.fv-play').click(); resolve(); }
    else if (performance.now() > until) reject(new Error(`never reached t=${t}`));
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})
"""

# Where job `job`'s token is in view `i`'s first SVG, and the box of each worker.
JS_TOKEN = """
([i, job]) => {
  const svg = document.querySelectorAll('.fv-root')[i].querySelector('svg[data-panel=base]');
  const g = svg.querySelector(`.fv-token[data-job="${job}"]`);
  const m = /translate\\(([-\\d.]+),([-\\d.]+)\\)/.exec(g.getAttribute('transform'));
  const boxes = {};
  for (const w of svg.querySelectorAll('.fv-worker')) {
    const r = w.querySelector('rect.fv-box');
    boxes[w.dataset.worker] = ['x', 'y', 'width', 'height'].map((k) => +r.getAttribute(k));
  }
  return { place: g.dataset.place, x: +m[1], y: +m[2], shown: g.getAttribute('display'),
           boxes };
}
"""


def fps(frames: list[float]) -> float:
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    return 1000 * len(gaps) / sum(gaps) if gaps else 0.0


def report(name: str, values: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "measurements.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = values
    path.write_text(json.dumps(data, indent=1))
    print(name, values)


@pytest.fixture
def views(jupyterlab: lab.JupyterLab, page: Any) -> Iterator[Any]:
    """The page with the fixture notebook run and both views drawn; its kernel shut after."""
    run = driver.NotebookRun(jupyterlab, page, NOTEBOOK)
    try:
        run.open()
        run.run_all()
        page.wait_for_function(
            "() => document.querySelectorAll('.fv-root svg[data-panel=base] .fv-worker')"
            ".length == 4", polling=100, timeout=60_000)
        assert not page.stalk_page_errors, page.stalk_page_errors
        yield page
    finally:
        run.close()


def view(page: Any, i: int) -> Any:
    return page.locator(".fv-root").nth(i)


def shown_time(page: Any, i: int) -> float:
    return float(view(page, i).get_attribute("data-time"))


def assert_at_worker_2(page: Any, i: int) -> None:
    tok = page.evaluate(JS_TOKEN, [i, 3])
    x, y, w, h = tok["boxes"]["worker-2"]
    assert tok["place"] == "worker:worker-2" and tok["shown"] != "none", tok
    assert x <= tok["x"] <= x + w and y <= tok["y"] <= y + h, tok


def step_the_crash(page: Any) -> Any:
    """Focus the crashed-consumer view and step it five times with the right arrow key: one
    move per press, to 5 s. Returns the view."""
    crash = view(page, CRASH)
    crash.focus()
    seen = []
    for _ in range(5):
        page.keyboard.press("ArrowRight")
        seen.append(shown_time(page, CRASH))
    assert seen == [1.0, 2.0, 3.0, 3.5, 5.0]
    return crash


def screenshot(page: Any, i: int, t: float, name: str) -> None:
    page.evaluate("([i, t]) => document.querySelectorAll('.fv-root')[i].__flow.seek(t)", [i, t])
    page.wait_for_timeout(SETTLE_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    view(page, i).screenshot(path=str(ARTIFACTS / f"{name}-{t:g}s.png"))


@pytest.mark.timeout(300)
def test_hang_plays_in_true_time_and_hands_job_3_on_after_the_ttr(views: Any) -> None:
    page = views
    hang = view(page, HANG)
    assert hang.locator("svg[data-panel=base] .fv-worker").count() == 2
    assert "hung-consumer" in hang.locator(".fv-title").text_content()
    hang.locator(".fv-speed").select_option("4")
    m = page.evaluate(JS_PLAY_FOR, [HANG, 1500])
    rate = (m["t1"] - m["t0"]) / m["wall"]
    report("play-4x-hung-consumer", {"wall_s": round(m["wall"], 3), "virtual_s": round(
        m["t1"] - m["t0"], 3), "ratio": round(rate, 3), "fps": round(fps(m["frames"]), 1)})
    assert rate == pytest.approx(4.0, rel=0.10)
    page.evaluate(JS_PAUSE_AT, [HANG, 7.9])  # the page presses Pause in the frame it gets there
    page.wait_for_timeout(SETTLE_MS)
    assert 7.9 <= shown_time(page, HANG) < 9.0  # job 3 is deleted at 9 s
    assert_at_worker_2(page, HANG)
    for t in (3.6, 6.5, 7.5):
        screenshot(page, HANG, t, "hung-consumer")
    page.evaluate("() => document.querySelectorAll('.fv-root')[1].__flow.seek(6.5)")
    page.wait_for_timeout(SETTLE_MS)
    box = hang.locator('.fv-worker[data-worker="worker-1"]')
    assert box.get_attribute("data-status") == "hung"
    assert "DEADLINE_SOON" in box.locator(".fv-countdown").text_content()
    assert page.evaluate(JS_TOKEN, [HANG, 3])["place"] == "worker:worker-1"
    assert not page.stalk_page_errors and not page.stalk_blocked


@pytest.mark.timeout(300)
def test_keyboard_steps_and_plays_and_the_crash_hands_job_3_on_at_once(views: Any) -> None:
    page = views
    crash = step_the_crash(page)
    page.keyboard.press("ArrowLeft")
    assert shown_time(page, CRASH) == 3.5
    caption = crash.locator(".fv-caption").inner_text()
    assert "worker-1's connection closed: job 3 is ready again at once" in caption
    page.wait_for_timeout(SETTLE_MS)
    assert page.evaluate(JS_TOKEN, [CRASH, 3])["place"] == "ready:orders"
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(SETTLE_MS)
    assert_at_worker_2(page, CRASH)
    page.keyboard.press(" ")
    assert crash.locator(".fv-play").get_attribute("aria-label") == "pause"
    page.wait_for_timeout(400)
    page.keyboard.press(" ")
    assert crash.locator(".fv-play").get_attribute("aria-label") == "play"
    assert shown_time(page, CRASH) > 5.2
    for t in (3.0, 3.6, 5.5):
        screenshot(page, CRASH, t, "crashed-consumer")


@pytest.mark.timeout(300)
def test_click_on_a_worker_forks_the_run_and_axe_finds_no_serious_violation(
        views: Any, axe_script: Path) -> None:
    page = views
    crash = view(page, CRASH)
    for _ in range(5):
        crash.locator(".fv-next").click()
    assert shown_time(page, CRASH) == 5.0
    assert crash.locator(".fv-summary").inner_text() == ""
    crash.locator('svg[data-panel=base] .fv-worker[data-worker="worker-2"]').click()
    crash.locator(".fv-fault-crash").click()
    page.wait_for_function(
        "() => /re-deliveries/.test(document.querySelector('.fv-root .fv-summary')"
        ".textContent)", polling=100, timeout=30_000)
    line = crash.locator(".fv-summary").inner_text()
    assert re.match(r"worker-2 crashes at 5 s: re-deliveries \d+ → \d+, duplicate work", line)
    assert crash.locator("svg[data-panel=fork]").count() == 1
    code = crash.locator(".fv-code")  # the fork as code: folded away, a click to see it
    assert code.is_visible() and not crash.locator(".fv-spec").is_visible()
    code.locator("summary").click()
    assert "stalksim.forks.fork('crashed-consumer'" in crash.locator(".fv-spec").inner_text()
    page.wait_for_timeout(SETTLE_MS)
    crash.screenshot(path=str(ARTIFACTS / "crashed-consumer-fork-worker-2-crash-5s.png"))
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(
        "async () => (await axe.run('.fv-root', {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help}))")
    report("axe", {"violations": result})
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not serious, serious
