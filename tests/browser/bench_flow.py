"""FlowView on a 1,000-job trace in headless Chromium: load time, frame rate and speed during Play.

    python -m tests.browser.bench_flow       # prints one JSON line of measurements

`python -m benchmarks` reports the same through benchmarks/flowview.py. Not a timed test (the
machine is shared); the issue's targets are <= 300 ms to load and >= 30 frames/s.
"""

from __future__ import annotations

import json
import time
from typing import Any

from stalksim.flow import captions, layout
from stalksim.forks import fork
from tests.browser import lab
from tests.browser.flow_standalone import open_view
from tests.browser.test_flowview import JS_PLAY_FOR, fps

JOBS = 1000
RATE = 8.0  # jobs/s the many-workers scenario puts


def job_layout(jobs: int = JOBS) -> tuple[dict, float]:
    """many-workers run long enough for `jobs` jobs, cut at that job; the layout and the
    milliseconds Python took for it and its captions."""
    f = fork("many-workers", seed=0, until=jobs / RATE + 3.0)
    tr = f.trace.filter(lambda r: r.job <= jobs)
    started = time.perf_counter()
    lay = layout(tr, f.book, f"many-workers, {jobs:,} jobs")
    captions(lay)
    return lay, 1000 * (time.perf_counter() - started)


def measure(jobs: int = JOBS, play_ms: int = 3000, speeds: tuple[str, ...] = ("4", "16"),
            browser: Any = None) -> dict[str, Any]:
    """Load the view three times (ms from handing over the layout to the first drawn frame),
    scrub to the end, then Play at each speed for `play_ms`: frames/s and virtual/wall.
    In a Chromium of its own, or in `browser` (a Playwright Browser) when given."""
    lay, python_ms = job_layout(jobs)
    out: dict[str, Any] = {"jobs": len({s["job"] for s in lay["steps"]}),
                           "steps": len(lay["steps"]), "json_kb": len(json.dumps(lay)) // 1024,
                           "python_layout_ms": round(python_ms, 1)}
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            own = pw.chromium.launch(executable_path=lab.CHROMIUM, headless=True,
                                     args=lab.CHROMIUM_ARGS)
            try:
                return out | _in_page(own, lay, play_ms, speeds)
            finally:
                own.close()
    return out | _in_page(browser, lay, play_ms, speeds)


def _in_page(browser: Any, lay: dict, play_ms: int, speeds: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    try:
        out["load_ms"] = [round(open_view(page, lay), 1) for _ in range(3)]
        out["scrub_to_end_ms"] = round(page.evaluate(
            "() => { const t0 = performance.now(); const p = document.querySelector('.fv-root')"
            ".__flow; p.seek(p.end()); return performance.now() - t0; }"), 1)
        page.evaluate("() => document.querySelector('.fv-root').__flow.seek(0)")
        for speed in speeds:
            page.locator(".fv-speed").select_option(speed)
            m = page.evaluate(JS_PLAY_FOR, [0, play_ms])
            page.locator(".fv-play").click()
            out[f"fps_{speed}x"] = round(fps(m["frames"]), 1)
            out[f"ratio_{speed}x"] = round((m["t1"] - m["t0"]) / m["wall"], 3)
    finally:
        page.close()
    return out


def main() -> None:
    print(json.dumps(measure()))


if __name__ == "__main__":
    main()
