"""The course in the browser (the JupyterLite site of `bash scripts/site.sh`), as rows of
`python -m benchmarks`, measured in headless Chromium that reaches nothing but 127.0.0.1
(tests/browser/site.py does the work; test_site.py uses the same plumbing):

    rows += site.rows(11, run_all=True)

11. the site's size on disk, and what a learner's browser downloads (bytes received, from
    Chromium's net log, web workers and service worker included) on a first visit to open
    lesson 1 and run its first cell;
12. lesson 1: page open to the Pyodide kernel ready;
13. page open to the tour's first animated frame, on the front page and in lesson 1;
14. lesson 3: Run > Run All Cells in the browser kernel (skipped with `run_all=False`).

Targets (the site's issue): size <= 80 MB, kernel ready <= 20 s, first frame <= 1 s. One first
visit (a fresh browser profile: nothing cached) per run. The site is the one at $STALKSIM_SITE,
else `_site/` when it is newer than its sources, else one built for the run. Without Chromium or
Playwright the rows say so and are marked skipped; a site that cannot be built is a failed row.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.flowview import missing
from tests.browser import lab
from tests.browser import site as lite
from tests.browser.netlog import Offline

SIZE_MB, KERNEL_S, FRAME_MS = 80.0, 20.0, 1000.0
LESSON_3 = lab.NOTEBOOKS / "03-reserve-delete-and-dying-consumers.ipynb"

Row = tuple[str, str, str, str, str]
WORKLOADS = (
    "browser site: size on disk; downloaded on a first visit to open lesson 1 and run its "
    "first cell",
    "browser site, lesson 1: page open to the Pyodide kernel ready",
    "browser site: page open to the tour's first animated frame (front page; lesson 1)",
    "browser site, lesson 3: Run All Cells in the browser kernel",
)
TARGETS = (f"site <= {SIZE_MB:.0f} MB", f"<= {KERNEL_S:.0f} s",
           f"<= {FRAME_MS / 1000:.0f} s; <= {FRAME_MS / 1000:.0f} s", "(measured)")


def _numbered(first: int, cells: list[tuple[str, str]]) -> list[Row]:
    return [(str(first + i), WORKLOADS[i], measured, TARGETS[i], met)
            for i, (measured, met) in enumerate(cells)]


def rows(first: int, run_all: bool = True) -> list[Row]:
    """Rows `first`.. `first + 3` of the benchmark table."""
    why = missing()
    if why:
        print(f"  ... site rows skipped: {why}", file=sys.stderr, flush=True)
        return _numbered(first, [(f"skipped: {why}", "skipped")] * 4)
    work = Path(tempfile.mkdtemp(prefix="stalksim-site-bench-"))
    try:
        try:
            dist, how = lite.locate(work / "build")
        except lite.SiteError as e:
            reason = str(e).splitlines()[0]
            return _numbered(first, [(f"failed: {reason}", "NO")] * 4)
        print(f"  ... site: {how}", file=sys.stderr, flush=True)
        return _numbered(first, measure(dist, work, run_all))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(dist: Path, work: Path, run_all: bool) -> list[tuple[str, str]]:
    """(measured, met) for the four rows, from one first visit and one lesson 3 run."""
    from playwright.sync_api import sync_playwright

    size_mb = lite.size_of(dist) / 1e6
    with lite.served(dist) as served, sync_playwright() as pw:
        visit = lite.first_visit(Offline(pw.chromium, work / "visit.json"), served)
        lesson3 = (_run_all(pw.chromium, served, work / "lesson3.json") if run_all
                   else ("skipped (--quick)", "skipped"))
    assert visit.net is not None
    outside = len(visit.net.outside_by_pages())
    got = visit.bytes_lesson_to_first_cell
    front, lesson = visit.front_first_frame_ms, visit.lesson_first_frame_ms
    kernel = visit.kernel_ready_ms / 1000
    trouble = f"; {len(visit.problems)} problem(s): {visit.problems[0][:80]}" \
        if visit.problems else ""
    return [
        (f"{size_mb:.1f} MB; {got / 1e6:.1f} MB received in {visit.requests} requests "
         f"(front page {visit.bytes_front / 1e3:.0f} kB more); {outside} left 127.0.0.1"
         + trouble, _met(size_mb <= SIZE_MB and outside == 0)),
        (f"{kernel:.1f} s (the tour played at {lesson / 1000:.1f} s, kernel "
         f"{visit.lesson_kernel_at_first_frame!r} then)", _met(kernel <= KERNEL_S)),
        (f"{front:.0f} ms; {lesson:.0f} ms",
         _met(front <= FRAME_MS and lesson <= FRAME_MS)),
        lesson3,
    ]


def _run_all(browser_type: object, served: lite.Site, netlog: Path) -> tuple[str, str]:
    off = Offline(browser_type, netlog)
    try:
        page = off.page(off.context())
        run = lite.SiteNotebook(served, page, LESSON_3)
        run.open()
        started = time.monotonic()
        run.run_all()
        seconds = time.monotonic() - started
        run.settle_and_check()
    finally:
        off.close()
    kernel = (run.kernel_ready_ms or 0) / 1000
    problems = run.result.problems
    note = f"; {len(problems)} problem(s): {problems[0][:80]}" if problems else ""
    return (f"{seconds:.1f} s for {sum(s.runs for s in run.specs)} code cells (kernel ready "
            f"after {kernel:.1f} s){note}", "—" if not problems else "NO")


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


if __name__ == "__main__":
    for r in rows(11, run_all="--quick" not in sys.argv):
        print(" | ".join(r))
