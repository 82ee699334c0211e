"""The tour (stalksim/widgets/static/tour.js) seen from the browser, on the site's front page or
in lesson 1: its first animated frame, its state, and whether its panels fit the screen with
legible text. For test_site.py and benchmarks/site.py."""

from __future__ import annotations

from typing import Any

TOUR = ".fv-tour"

# Once the tour has drawn its first animated frame: when (ms after the page's navigation
# began, the page's own clock) and the kernel's state at that moment (lesson 1; null when the
# page has no notebook, "none" before the notebook has a kernel).
JS_TOUR_FIRST_FRAME = """
(path) => {
  const root = document.querySelector('.fv-tour');
  if (!root || !root.dataset.firstFrame) return false;
  const box = root.getBoundingClientRect();
  let kernel = null;
  const app = window.jupyterapp;
  if (path) {
    kernel = 'none';
    if (app && app.shell) {
      for (const w of app.shell.widgets('main')) {
        if (w.context && w.context.path === path && w.sessionContext) {
          const k = w.sessionContext.session && w.sessionContext.session.kernel;
          kernel = k ? k.status : 'none';
        }
      }
    }
  }
  return { firstFrame: +root.dataset.firstFrame, now: performance.now(), kernel,
           width: box.width, height: box.height,
           panels: root.querySelectorAll('svg.fv-svg').length };
}
"""

# Every token's transform (and display) and the clock now, then at each animation frame until
# one of them changes or `ms` of wall time have passed (the tour plays its first step as it
# opens; on a busy machine its frames come late, so the watch is long and ends at the change).
JS_TOKENS_MOVE = """
async (ms) => {
  const root = document.querySelector('.fv-tour');
  const snap = () => [...root.querySelectorAll('.fv-token')]
    .map((g) => `${g.dataset.job}:${g.getAttribute('display')}:${g.getAttribute('transform')}`);
  const clock = () => root.querySelector('.fv-time').textContent;
  const before = snap(), t0 = clock(), start = performance.now();
  let after = before;
  while (performance.now() - start < ms) {
    await new Promise((r) => requestAnimationFrame(() => r()));
    after = snap();
    if (after.some((s, i) => s !== before[i]) || clock() !== t0) break;
  }
  return { before, after, moved: after.filter((s, i) => s !== before[i]).length,
           clock: [t0, clock()], waited_ms: performance.now() - start };
}
"""

JS_TOUR_STATE = """
() => {
  const root = document.querySelector('.fv-tour');
  const say = root.querySelector('.tour-say');
  return { step: +root.dataset.step, steps: root.__tour.steps.length,
           text: say.textContent, live: say.getAttribute('aria-live'),
           playing: root.__tour.playing, forked: root.dataset.forked || null,
           summary: root.querySelector('.fv-summary').textContent,
           active: document.activeElement ? (document.activeElement.className.baseVal
             ?? document.activeElement.className) : null,
           panels: [...root.querySelectorAll('svg.fv-svg')].map(
             (s) => [s.dataset.panel, s.getAttribute('aria-label')]) };
}
"""

# Each tour panel's box, the box it must lie in (the notebook's scroll area in JupyterLab, the
# viewport on the front page), and the smallest text it draws, in CSS px (font size times the
# SVG's scale).
JS_TOUR_FIT = """
() => {
  const root = document.querySelector('.fv-tour');
  const outer = root.closest('.jp-WindowedPanel-outer');
  const area = outer ? outer.getBoundingClientRect()
    : { left: 0, top: 0, right: innerWidth, bottom: innerHeight };
  const left = document.querySelector('#jp-left-stack');
  return {
    area: { left: area.left, top: area.top, right: area.right, bottom: area.bottom },
    scrollTop: outer ? outer.scrollTop : scrollY,
    leftPanelOpen: !!(left && !left.classList.contains('lm-mod-hidden')
                      && left.getBoundingClientRect().width > 0),
    panels: [...root.querySelectorAll('svg.fv-svg')].map((svg) => {
      const r = svg.getBoundingClientRect();
      const scale = r.width / svg.viewBox.baseVal.width;
      let min = Infinity, smallest = '';
      for (const t of svg.querySelectorAll('text')) {
        const b = t.getBoundingClientRect();
        if (!t.textContent.trim() || b.width === 0 || b.height === 0) continue;
        const px = parseFloat(getComputedStyle(t).fontSize) * scale;
        if (px < min) { min = px; smallest = t.textContent.trim().slice(0, 40); }
      }
      return { panel: svg.dataset.panel, left: r.left, top: r.top, right: r.right,
               bottom: r.bottom, scale, minTextPx: min, smallest };
    }),
  };
}
"""


def wait_tour_first_frame(page: Any, path: str | None = None,
                          timeout_ms: float = 60_000) -> dict[str, Any]:
    """Wait until the tour has drawn its first animated frame; what JS_TOUR_FIRST_FRAME saw
    at that moment (polled every animation frame)."""
    handle = page.wait_for_function(JS_TOUR_FIRST_FRAME, arg=path, timeout=timeout_ms)
    return handle.json_value()


def tour_state(page: Any) -> dict[str, Any]:
    return page.evaluate(JS_TOUR_STATE)


def tour_fit(page: Any) -> dict[str, Any]:
    return page.evaluate(JS_TOUR_FIT)


def fit_problems(fit: dict[str, Any], min_px: float = 14.0, slack: float = 1.0) -> list[str]:
    """What is wrong with the tour's panels in `fit` (JS_TOUR_FIT): outside the visible area,
    scrolled, or text smaller than `min_px`."""
    problems = []
    a = fit["area"]
    if fit["scrollTop"] > slack:
        problems.append(f"the page is scrolled ({fit['scrollTop']:.0f} px)")
    if len(fit["panels"]) != 2:
        problems.append(f"{len(fit['panels'])} tour panels, not 2")
    for p in fit["panels"]:
        if (p["left"] < a["left"] - slack or p["right"] > a["right"] + slack
                or p["top"] < a["top"] - slack or p["bottom"] > a["bottom"] + slack):
            problems.append(
                f"panel {p['panel']} at x {p['left']:.0f}..{p['right']:.0f}, y {p['top']:.0f}.."
                f"{p['bottom']:.0f} is not inside the visible area x {a['left']:.0f}.."
                f"{a['right']:.0f}, y {a['top']:.0f}..{a['bottom']:.0f}")
        if p["minTextPx"] < min_px:
            problems.append(f"panel {p['panel']}: text {p['smallest']!r} is drawn at "
                            f"{p['minTextPx']:.1f} px (scale {p['scale']:.2f}), under {min_px} px")
    return problems
