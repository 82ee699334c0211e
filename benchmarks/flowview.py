"""FlowView in headless Chromium, as a row of `python -m benchmarks`: a many-workers trace of
`jobs` jobs loads into the view, then plays at 4x (tests/browser/bench_flow.py measures).

    rows.append(flowview.row("10", size["timeline_jobs"]))

Targets (issue 12): load <= 300 ms, >= 30 frames/s, and 4x means 4x (within 10 %). Without
Chromium or Playwright the row says so and is marked skipped.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from tests.browser import lab

LOAD_MS, FPS, RATIO_TOLERANCE = 300.0, 30.0, 0.10


def missing() -> str:
    """Why the browser cannot run here ("" when it can)."""
    if not (os.path.isfile(lab.CHROMIUM) and os.access(lab.CHROMIUM, os.X_OK)):
        return f"chromium not found at {lab.CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright not installed (pip install -e '.[dev]')"
    return ""


def row(n: str, jobs: int, browser: Any = None) -> tuple[str, str, str, str, str]:
    """(#, workload, measured, target, met) for the benchmark table; met is "skipped" with the
    reason in `measured` when there is no browser. `browser`: a Playwright Browser to use."""
    workload = f"FlowView, {jobs:,}-job trace in headless Chromium: load; Play at 4x"
    target = f"<= {LOAD_MS:.0f} ms; >= {FPS:.0f} frames/s; 4x ± {RATIO_TOLERANCE:.0%}"
    why = missing()
    if why:
        print(f"  ... FlowView row skipped: {why}", file=sys.stderr, flush=True)
        return (n, workload, f"skipped: {why}", target, "skipped")
    from tests.browser.bench_flow import measure

    m = measure(jobs, speeds=("4",), browser=browser)
    load = max(m["load_ms"])
    met = (load <= LOAD_MS and m["fps_4x"] >= FPS
           and abs(m["ratio_4x"] - 4.0) <= 4.0 * RATIO_TOLERANCE)
    measured = (f"load {load:.0f} ms (worst of 3; Python layout {m['python_layout_ms']:.0f} ms, "
                f"{m['json_kb']} KiB); {m['fps_4x']:.0f} frames/s; 4x plays at "
                f"{m['ratio_4x']:.2f}x")
    return (n, workload, measured, target, "yes" if met else "NO")


if __name__ == "__main__":
    print(" | ".join(row("10", int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
