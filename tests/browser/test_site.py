"""The course as a browser site (JupyterLite, `bash scripts/site.sh`), served on 127.0.0.1 and
opened in Debian's headless Chromium that can resolve no other host.

- nothing the site's pages, web workers or service worker ask for leaves 127.0.0.1 (Chromium's
  net log, which records every URL request of the browser, and Playwright's events), and none
  of the site's own files answers with an HTTP error;
- the tour plays at once, on the front page and in lesson 1 before the browser kernel is
  ready; Back and Next work from the keyboard; the narration is a live region; its last step
  forks a run; axe-core finds nothing on the front page; in lesson 1 both panels fit the
  notebook at 1366x768 (file browser open) and 1024x768 (closed), with text of 14 px or more;
- lessons 1-5 and 7 and an exercise run all their cells in the browser kernel (Run > Run All
  Cells) with no error, their figures and widgets shown, a slider that redraws its figure, a
  FlowView click that forks, and an exercise check that answers;
- the site's configuration names its own Pyodide and no PyPI fallback.

The site is the one at $STALKSIM_SITE, else `_site/` when it is newer than its sources, else
one built for this run. Measurements go to test-artifacts/site/summary.json, screenshots to
test-artifacts/site/.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import driver, lab, netlog, site
from tests.browser import tour_probe as tour
from tests.browser.conftest import require_browser_stack

pytestmark = pytest.mark.browser

LESSONS = [p for p in sorted(lab.NOTEBOOKS.glob("0*.ipynb"))
           if not p.name.startswith("06-")]  # lesson 6 needs a real beanstalkd
EXERCISE = lab.NOTEBOOKS / "exercises" / "05-ex-survive-crash.ipynb"
RUN_ALL = [*LESSONS, EXERCISE]
SLIDER_LESSON = "03-"  # its TimeControl (tagged interactive) redraws a figure from a slider
FLOWVIEW_LESSON = "03-"  # FlowView(crash, beside=hang, side=True)
TOUR_STEPS_KEYBOARD = 2  # Next presses tried from the keyboard before Back


@pytest.fixture(scope="session")
def site_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site (found, or built once for this run: xdist's workers share the build)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    try:
        root, how = site.locate(shared / "stalksim-site")
    except site.SiteError as e:
        pytest.fail(str(e))
    print(f"site: {how}")
    return root


@pytest.fixture(scope="session")
def served(site_dist: Path) -> Iterator[site.Site]:
    with site.served(site_dist) as s:
        yield s


@pytest.fixture
def offline(chromium: Any, tmp_path: Path) -> Iterator[netlog.Offline]:
    """A Chromium for this test alone (from the session's Playwright) that resolves nothing but
    127.0.0.1 and writes a net log; the test reads it with `offline.finish()`."""
    require_browser_stack()
    off = netlog.Offline(chromium.browser_type, tmp_path / "netlog.json")
    try:
        yield off
    finally:
        off.close()


def assert_stayed_local(off: netlog.Offline, where: str) -> netlog.NetLog:
    """Close the test's browser; nothing the site asked for may have left 127.0.0.1 (by the
    net log and by Playwright's events); no uncaught error in its pages."""
    net = off.finish()
    by_pages, by_chromium = net.outside_by_pages(), net.outside_by_chromium()
    site.write_summary(f"requests-{where}", {
        "requests": len(net.requests),
        "outside_127_by_the_site": netlog.short(by_pages),
        "outside_127_by_chromium_itself": netlog.short(by_chromium),
        "playwright_outside_127": off.seen_outside()[:20],
        "playwright_service_worker_requests": sum(1 for _, sw in off.seen if sw),
    })
    assert net.requests, "the net log recorded no request at all: is --log-net-log honoured?"
    assert not by_pages, (f"{where}: {len(by_pages)} request(s) of the site left 127.0.0.1:\n"
                          + "\n".join(netlog.short(by_pages)))
    assert not off.seen_outside(), (f"{where}: Playwright saw requests leave 127.0.0.1: "
                                    f"{off.seen_outside()[:10]}")
    assert not off.page_errors, f"{where}: uncaught errors in the page: {off.page_errors}"
    return net


def test_the_site_names_its_own_pyodide_and_no_pypi_fallback(site_dist: Path) -> None:
    """A regression guard (the build checks it too): the kernel loads Pyodide from the site and
    never falls back to PyPI."""
    kernel = site.lite_config(site_dist)
    assert kernel.get("pyodideUrl") == site.PYODIDE_URL, kernel.get("pyodideUrl")
    assert kernel.get("disablePyPIFallback") is True, kernel.get("disablePyPIFallback")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_first_visit_stays_on_127_0_0_1_and_finds_every_file(
        served: site.Site, offline: netlog.Offline) -> None:
    """Front page, "Start lesson 1", its kernel, its first cell: Chromium's net log (every URL
    request of the browser: pages, web workers, the service worker, Chromium itself) has no
    request of the site that leaves 127.0.0.1, and no file of the site answers >= 400."""
    visit = site.first_visit(offline, served)
    net = visit.net
    assert net is not None
    by_pages, by_chromium = net.outside_by_pages(), net.outside_by_chromium()
    failed = net.failed(served.base_url)
    errors = [f"{url} ({status}, Playwright)" for status, url in offline.statuses
              if status >= 400 and served.is_own(url)]
    numbers = {
        "requests_to_the_site": visit.requests,
        "requests_outside_127_by_the_site": len(by_pages),
        "requests_outside_127_by_chromium_itself": netlog.short(by_chromium),
        "failed": netlog.short(failed),
        "failed_playwright": errors,
        "playwright_outside_127": offline.seen_outside()[:20],
        "playwright_service_worker_requests": sum(1 for _, sw in offline.seen if sw),
        "front_page_first_frame_ms": round(visit.front_first_frame_ms),
        "lesson_1_first_frame_ms": round(visit.lesson_first_frame_ms),
        "lesson_1_kernel_at_first_frame": visit.lesson_kernel_at_first_frame,
        "lesson_1_kernel_ready_ms": round(visit.kernel_ready_ms),
        "bytes_front_page": visit.bytes_front,
        "bytes_lesson_1_to_kernel_ready": visit.bytes_lesson_to_kernel,
        "bytes_lesson_1_to_first_cell_run": visit.bytes_lesson_to_first_cell,
    }
    site.write_summary("first-visit", numbers)
    print(numbers)
    assert not visit.problems, visit.problems
    assert visit.requests > 10, "the net log shows (almost) no request to the site"
    assert not by_pages, ("requests of the site left 127.0.0.1:\n"
                          + "\n".join(netlog.short(by_pages)))
    assert not offline.seen_outside(), offline.seen_outside()[:10]
    assert not failed and not errors, (
        "files of the site answered with an HTTP error (a page whose HTML has no <link "
        "rel=icon> makes Chromium ask for /favicon.ico at the site's root):\n"
        + "\n".join([*netlog.short(failed), *errors]))


def walk_the_tour_by_keyboard(page: Any, start_with_tab: bool) -> list[str]:
    """Next (Tab to it, Enter), Back (Shift+Tab to it, Space), then ArrowRight and ArrowLeft
    on the tour; each changes the step by one and the live narration with it. The narrations
    seen, by step."""
    if start_with_tab:  # from the top of the page: the tour is the first stop
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
    else:  # in JupyterLab: start from the tour itself (a Tab stop of its own)
        page.evaluate("() => document.querySelector('.fv-tour').focus()")
    said: dict[int, str] = {}

    def press(key: str, expect: int) -> None:
        page.keyboard.press(key)
        settle_first_play(page)  # Next plays on to the next step's time: let it get there
        state = tour.tour_state(page)
        assert state["step"] == expect, (key, state)
        assert state["live"] in ("polite", "assertive"), state
        said[state["step"]] = state["text"]

    first = tour.tour_state(page)
    said[first["step"]] = first["text"]
    tab_to(page, ".fv-tour .tour-next")
    for i in range(1, TOUR_STEPS_KEYBOARD + 1):
        press("Enter", first["step"] + i)
    tab_to(page, ".fv-tour .tour-back", backwards=True)
    press(" ", first["step"] + TOUR_STEPS_KEYBOARD - 1)
    tab_to(page, ".fv-tour", backwards=True)
    press("ArrowRight", first["step"] + TOUR_STEPS_KEYBOARD)
    press("ArrowLeft", first["step"] + TOUR_STEPS_KEYBOARD - 1)
    texts = [said[k] for k in sorted(said)]
    assert len(set(texts)) == len(texts), f"the narration did not change with the step: {said}"
    return texts


def tab_to(page: Any, selector: str, backwards: bool = False, limit: int = 30) -> int:
    """Press Tab (or Shift+Tab) until the focused element matches `selector`."""
    focused = "(sel) => !!document.activeElement && document.activeElement.matches(sel)"
    for n in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(focused, selector):
            return n
    raise AssertionError(f"{limit} presses of {'Shift+' if backwards else ''}Tab never reached "
                         f"{selector} (focus: {tour.tour_state(page)['active']})")


def crash_worker_1_in_the_last_step(page: Any) -> dict[str, Any]:
    """Go to the last step (ArrowRight on the tour), click worker-1 in the right panel, choose
    crash: the one-line summary appears and the right panel shows the forked run."""
    page.evaluate("() => document.querySelector('.fv-tour').focus()")
    state = tour.tour_state(page)
    for _ in range(state["steps"]):
        if state["step"] == state["steps"] - 1:
            break
        page.keyboard.press("ArrowRight")
        state = tour.tour_state(page)
    assert state["step"] == state["steps"] - 1, state
    before = dict(state["panels"])["fork"]
    page.locator(".fv-tour svg[data-panel=fork] .fv-worker[data-worker=worker-1]").click()
    page.locator(".fv-tour .fv-menu .fv-fault-crash").click()
    page.wait_for_function("() => document.querySelector('.fv-tour .fv-summary').textContent",
                           timeout=10_000)
    after = tour.tour_state(page)
    assert after["forked"] == "fork", after
    assert "\n" not in after["summary"].strip(), after["summary"]
    line = after["summary"]
    assert re.search(r"worker-1 .*crashes at [\d.]+ s: re-deliveries \d+ → \d+", line), line
    shown = dict(after["panels"])["fork"]
    assert shown != before and "crashes at" in shown, (before, shown)
    return after


def assert_tour_animates(page: Any, path: str | None) -> dict[str, Any]:
    """The tour is drawn (two panels, a size) and plays: its tokens move or its clock runs."""
    seen = tour.wait_tour_first_frame(page, path)
    assert seen["panels"] == 2 and seen["width"] > 300 and seen["height"] > 200, seen
    moves = page.evaluate(tour.JS_TOKENS_MOVE, 3000)
    assert moves["moved"] > 0 or moves["clock"][0] != moves["clock"][1], \
        f"nothing moved in 3 s after the first frame: {moves}"
    return seen


def screenshot(page: Any, name: str) -> Path:
    site.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = site.ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def settle_first_play(page: Any) -> None:
    """The tour plays to a step's time (the first on its own, the others after Next); wait
    until it is there."""
    page.wait_for_function(
        "() => { const t = document.querySelector('.fv-tour').__tour;"
        " return !t.playing && t.frame === null; }", timeout=30_000)  # and every move drawn


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the whole page (every impact), a few nodes each."""
    return page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_front_page_tour_plays_obeys_the_keyboard_forks_and_passes_axe(
        served: site.Site, offline: netlog.Offline, axe_script: Path) -> None:
    numbers: dict[str, Any] = {}
    for width in (1024, 1366):
        page = offline.page(offline.context(width, 768))
        page.goto(served.base_url, wait_until="domcontentloaded", timeout=60_000)
        seen = assert_tour_animates(page, None)
        numbers[f"first_frame_ms_{width}"] = round(seen["firstFrame"])
        settle_first_play(page)
        numbers[f"screenshot_{width}"] = str(screenshot(page, f"front-{width}"))
        fit = tour.tour_fit(page)
        numbers[f"fit_{width}"] = fit
        small = [p for p in fit["panels"] if p["minTextPx"] < 14]
        assert not small, f"text under 14 px at {width} px: {small}"
    page.add_script_tag(path=str(axe_script))  # inline: no request
    numbers["axe_first_screen"] = axe_violations(page)
    numbers["narration"] = walk_the_tour_by_keyboard(page, start_with_tab=True)
    numbers["fork"] = crash_worker_1_in_the_last_step(page)["summary"]
    numbers["axe_after_the_fork"] = axe_violations(page)
    site.write_summary("front-page", numbers)
    assert numbers["axe_first_screen"] == [], numbers["axe_first_screen"]
    assert numbers["axe_after_the_fork"] == [], numbers["axe_after_the_fork"]
    assert_stayed_local(offline, "front-page")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_lesson_1_plays_the_tour_before_its_kernel_is_ready_and_fits_the_notebook(
        served: site.Site, offline: netlog.Offline) -> None:
    page = offline.page(offline.context(1366, 768))
    page.goto(served.lab_url(site.FIRST), wait_until="domcontentloaded", timeout=60_000)
    seen = assert_tour_animates(page, site.FIRST)
    numbers: dict[str, Any] = {"first_frame_ms": round(seen["firstFrame"]),
                               "kernel_at_first_frame": seen["kernel"]}
    assert seen["kernel"] != "idle", f"the kernel was ready before the tour played: {seen}"
    settle_first_play(page)
    problems = []
    fit = tour.tour_fit(page)
    numbers["fit_1366_file_browser_open"] = fit
    numbers["screenshot_1366"] = str(screenshot(page, "lesson1-1366"))
    if not fit["leftPanelOpen"]:
        problems.append("at 1366 px JupyterLab's file browser is not open")
    problems += [f"1366x768, file browser open: {p}" for p in tour.fit_problems(fit)]
    page.set_viewport_size({"width": 1024, "height": 768})
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Control+b")  # JupyterLab: show/hide the left sidebar
    page.wait_for_function(
        "() => { const l = document.querySelector('#jp-left-stack');"
        " return !l || l.classList.contains('lm-mod-hidden'); }", timeout=10_000)
    page.wait_for_timeout(300)  # JupyterLab lays the notebook out again after the resize
    fit = tour.tour_fit(page)
    numbers["fit_1024_file_browser_closed"] = fit
    numbers["screenshot_1024"] = str(screenshot(page, "lesson1-1024"))
    problems += [f"1024x768, file browser closed: {p}" for p in tour.fit_problems(fit)]
    numbers["narration"] = walk_the_tour_by_keyboard(page, start_with_tab=False)
    numbers["fork"] = crash_worker_1_in_the_last_step(page)["summary"]
    run = site.SiteNotebook(served, page, lab.NOTEBOOKS / site.FIRST)
    page.wait_for_function(driver.JS_FIND_PANEL, arg=site.FIRST, polling=100, timeout=60_000)
    numbers["kernel_ready_ms"] = round(run.wait_kernel_ready())
    site.write_summary("lesson-1-tour", numbers)
    assert not problems, "\n".join(problems)
    assert_stayed_local(offline, "lesson-1-tour")


def fork_in_the_flowview(page: Any) -> str:
    """Lesson 3's FlowView (two runs side by side): step on, click worker-1 in the right run,
    choose crash; the kernel re-simulates and the summary line and the forked panel appear."""
    view = page.locator(".fv-root:not(.fv-tour)").first
    view.scroll_into_view_if_needed()
    for _ in range(4):
        view.locator(".fv-next").click()
    label = view.locator("svg[data-panel=fork]").get_attribute("aria-label")
    view.locator('svg[data-panel=fork] .fv-worker[data-worker="worker-1"]').click()
    view.locator(".fv-fault-crash").click()
    page.wait_for_function(  # summary and spec are two traits: they may arrive one by one
        "(el) => /re-deliveries/.test(el.querySelector('.fv-summary').textContent)"
        " && el.querySelector('.fv-spec').textContent.includes('fork(')",
        arg=view.element_handle(), polling=100, timeout=60_000)
    summary = view.locator(".fv-summary").inner_text()
    assert re.search(r"worker-1 crashes at [\d.]+ s: re-deliveries \d+ → \d+", summary), summary
    after = view.locator("svg[data-panel=fork]").get_attribute("aria-label")
    assert after != label, f"the right panel still shows {label!r}"
    return summary


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("notebook", RUN_ALL, ids=[p.stem for p in RUN_ALL])
def test_run_all_in_the_browser_kernel(
        notebook: Path, served: site.Site, offline: netlog.Offline) -> None:
    """Run > Run All Cells in the site's JupyterLab: no error, figures and widgets where the
    tags say; lesson 3's slider redraws its figure and its FlowView forks on a click; the
    exercise's check answers."""
    page = offline.page(offline.context(1366, 768))
    run = site.SiteNotebook(served, page, notebook)
    marks = {"start": time.monotonic()}
    extra: dict[str, Any] = {}
    try:
        run.open()
        marks["kernel"] = time.monotonic()
        run.run_all()
        marks["run_all"] = time.monotonic()
        run.settle_and_check()
        if notebook.name.startswith(SLIDER_LESSON):
            interactive = [s for s in run.specs if lab.TAG_INTERACTIVE in s.tags]
            assert interactive, f"{notebook.name} has no cell tagged interactive"
            for spec in interactive:
                run.interact(spec)
        if notebook.name.startswith(FLOWVIEW_LESSON):
            extra["fork"] = fork_in_the_flowview(page)
        if notebook == EXERCISE:
            box = page.locator(".stalksim-feedback[data-ok]")
            box.first.wait_for(timeout=30_000)
            extra["feedback_ok"] = box.first.get_attribute("data-ok")
            extra["feedback"] = box.first.inner_text()[:200]
            assert extra["feedback_ok"] in ("true", "false") and extra["feedback"].strip()
        marks["checks"] = time.monotonic()
    finally:
        seconds = {"kernel_ready": round(marks.get("kernel", marks["start"]) - marks["start"], 1),
                   "run_all": round(marks["run_all"] - marks["kernel"], 1)
                   if "run_all" in marks else None,
                   "page_kernel_ready_ms": round(run.kernel_ready_ms or 0)}
        try:
            run.screenshot(site.ARTIFACTS / "notebooks" / f"{notebook.stem}.png")
        except Exception as exc:  # keep the run's own failure
            run.result.problems.append(f"screenshot failed: {exc}")
        summary = run.result.summary()
        summary.update(seconds=seconds, extra=extra)
        site.write_summary(f"run-all-{notebook.stem}", summary)
        print(f"{notebook.name}: kernel ready {seconds['kernel_ready']} s, run-all "
              f"{seconds['run_all']} s in the browser kernel")
    assert not run.result.problems, "\n".join(run.result.problems)
    assert_stayed_local(offline, f"run-all-{notebook.stem}")
