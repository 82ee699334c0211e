"""Readable and usable where classes happen: a lesson's controls and figures at three widths.

A notebook is run once (at 1366 px); then the viewport is resized to each of `WIDTHS`, the layout
is left to settle, and every control is measured (clipped? off-screen?) and the page saved as
`test-artifacts/browser/<width>/<notebook>.png`, with one crop per widget or figure output.
At `FIGURE_WIDTH` every output image is also checked: its DPI (read from the PNG's pHYs chunk),
the size its legend text appears at, and how far the browser scaled it down.
"""

from __future__ import annotations

import base64
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser import driver, lab

WIDTHS = (1024, 1366, 1920)
HEIGHTS = {1024: 768, 1366: 768, 1920: 1080}  # the screens (and projectors) of those widths
FIGURE_WIDTH = 1366  # figures are checked at this width
MIN_DPI = 100.0
MIN_LEGEND_PX = 10.0
MIN_SCALE = 0.90  # of the image's natural width
SLACK_PX = 1  # rounding of fractional layout
PNG_HEAD_BYTES = 256 * 1024  # pHYs comes before the first IDAT, in the head of the file

# Controls whose text must show in full (clipped: scrollWidth > clientWidth + SLACK_PX)...
TEXT_CONTROLS = {
    "toggle button": ".widget-toggle-button",  # before "button": the first kind that matches
    "button": ".widget-button, [data-stalk-widget] button",
    "label": ".widget-label, .widget-label-basic, [data-stalk-widget] label",
    "readout": ".widget-readout",
    "dropdown": ".widget-dropdown select, .widget-select select, [data-stalk-widget] select",
    "text box": (
        ".widget-text input, .widget-textarea textarea, .widget-inttext input,"
        " .widget-floattext input, .widget-bounded-inttext input,"
        " .widget-bounded-floattext input, [data-stalk-widget] input[type=text],"
        " [data-stalk-widget] input[type=number]"
    ),
    "HTML text": ".widget-html-content, .widget-htmlmath-content",  # HTML widgets: titles, tables
}
# ...and these must lie inside the visible notebook, like the text controls.
PLACED_CONTROLS = {
    "slider": (
        ".widget-slider .slider-container, .widget-slider .noUi-target,"
        " [data-stalk-widget] input[type=range]"
    ),
    "play": ".widget-play",
    "checkbox": ".widget-checkbox input, [data-stalk-widget] input[type=checkbox]",
    "image": ".widget-image, .jp-RenderedImage img, [data-stalk-widget] svg",
}

try:  # another engineer adds it (issue 11); its absence is reported, not skipped
    from stalksim._viewutil import LEGEND_PT as _LEGEND_PT

    LEGEND_PT: float | None = float(_LEGEND_PT)
except ImportError:
    LEGEND_PT = None


def png_dpi(head: bytes) -> tuple[float, float] | None:
    """Horizontal and vertical DPI from a PNG's pHYs chunk (None: no pHYs, or not in metres).

    Only the chunks before the first IDAT are read; pHYs must come before it.
    """
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos = 8
    while pos + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[pos : pos + 8])
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"pHYs":
            if pos + 8 + 9 > len(head):
                return None
            x, y, unit = struct.unpack(">IIB", head[pos + 8 : pos + 17])
            if unit != 1:  # 0: aspect ratio only, no physical size
                return None
            return x * 0.0254, y * 0.0254
        pos += 12 + length
    return None


# Every control (TEXT_CONTROLS and PLACED_CONTROLS) shown in a cell's outputs, measured.
JS_MEASURE = (
    """
([textKinds, placedKinds]) => {
  const p = window.__stalk;
  ("""
    + driver.JS_MARK_WIDGET_OUTPUTS.strip()
    + """)();  // anywidget views (FlowView) are measured too
  const panel = p.node.getBoundingClientRect();
  const viewport = document.documentElement.clientWidth;
  const ctx = document.createElement('canvas').getContext('2d');
  const label = (el) => {
    if (el.tagName === 'SELECT') {
      return el.selectedIndex >= 0 ? el.options[el.selectedIndex].text : '';
    }
    if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') return el.value || el.placeholder;
    const t = (el.innerText || '').trim();
    if (t) return t;
    const icon = el.querySelector('i[class*="fa-"]');
    return el.title || el.getAttribute('aria-label') || (icon ? icon.className : '');
  };
  // How much of the text does not fit, in px (a select's scrollWidth ignores its text).
  const overflow = (el) => {
    const cs = getComputedStyle(el);
    if (el.tagName === 'SELECT') {
      ctx.font = cs.font;
      const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      return {need: Math.ceil(ctx.measureText(label(el)).width), room: Math.floor(room)};
    }
    if (cs.display === 'inline' || !el.clientWidth) return null;
    return {need: el.scrollWidth, room: el.clientWidth};
  };
  // Ancestors (within the cell) that hide what sticks out of them horizontally.
  const clippers = (el, cellNode) => {
    const out = [];
    for (let a = el.parentElement; a && a !== cellNode; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'visible') continue;
      const r = a.getBoundingClientRect();
      const left = r.left + a.clientLeft;
      const names = String(a.className || '').trim().split(/\\s+/).filter(Boolean);
      const name = names.find(n => /^(widget-|jp-)/.test(n)) || names[0];
      out.push({left, right: left + a.clientWidth, what: name ? '.' + name : a.tagName});
    }
    return out;
  };
  const found = [];
  p.content.widgets.forEach((c, cell) => {
    const wrap = c.node.querySelector('.jp-Cell-outputWrapper');
    if (!wrap) return;
    const seen = new Set();
    const visit = (kinds, text) => {
      for (const [kind, sel] of Object.entries(kinds)) {
        for (const el of wrap.querySelectorAll(sel)) {
          if (seen.has(el)) continue;
          seen.add(el);
          const r = el.getBoundingClientRect();
          if (r.width === 0 || r.height === 0) continue;
          if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
          const cs = getComputedStyle(el);
          found.push({
            cell, kind, text: label(el).slice(0, 80),
            left: Math.round(r.left), right: Math.round(r.right),
            width: Math.round(r.width),
            fit: text ? overflow(el) : null,
            ellipsis: cs.textOverflow === 'ellipsis',
            clippers: clippers(el, c.node).map(k => ({
              left: Math.round(k.left), right: Math.round(k.right), what: k.what})),
          });
        }
      }
    };
    visit(textKinds, true);
    visit(placedKinds, false);
  });
  return {panelLeft: Math.round(panel.left), panelRight: Math.round(panel.right),
          viewport, controls: found};
}
"""
)

# Every loaded image in the outputs: sizes, and the head of its PNG (fetched from its data: or
# blob: URL), base64.
JS_FIGURES = """
async (headBytes) => {
  const p = window.__stalk;
  const found = [];
  for (const [cell, c] of p.content.widgets.entries()) {
    const wrap = c.node.querySelector('.jp-Cell-outputWrapper');
    if (!wrap) continue;
    for (const im of wrap.querySelectorAll('img')) {
      const r = im.getBoundingClientRect();
      if (r.width === 0 || !im.checkVisibility()) continue;
      const kind = im.closest('.widget-image') ? 'widget image' : 'inline figure';
      const item = {cell, kind, natural: im.naturalWidth, shown: Math.round(r.width * 10) / 10,
                    loaded: im.complete && im.naturalWidth > 0, head: null, error: null};
      if (item.loaded) {
        try {
          const bytes = new Uint8Array(await (await fetch(im.src)).arrayBuffer());
          let s = '';
          const head = bytes.subarray(0, headBytes);
          for (let i = 0; i < head.length; i += 0x8000) {
            s += String.fromCharCode.apply(null, head.subarray(i, i + 0x8000));
          }
          item.head = btoa(s);
        } catch (e) { item.error = String(e); }
      }
      found.push(item);
    }
  }
  return found;
}
"""

# One box per output that shows widgets or an image (for the cropped screenshots).
JS_CLUSTERS = """
() => {
  const p = window.__stalk;
  const boxes = [];
  p.content.widgets.forEach((c, cell) => {
    const outs = c.node.querySelectorAll('.jp-Cell-outputWrapper .jp-OutputArea-child');
    outs.forEach((o, k) => {
      if (!o.matches('[data-stalk-widget]') && !o.querySelector('.jupyter-widgets, img')) return;
      const r = o.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) {
        boxes.push({cell, k, left: r.left, top: r.top, right: r.right, bottom: r.bottom});
      }
    });
  });
  return boxes;
}
"""

# A fingerprint of the layout: it settles when two animation frames later it is the same.
JS_LAYOUT_SIGNATURE = """
async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const p = window.__stalk;
  const r = p.node.getBoundingClientRect();
  let sum = 0;
  for (const el of p.node.querySelectorAll('.jupyter-widgets, .jp-Cell-outputWrapper img')) {
    const b = el.getBoundingClientRect();
    sum += b.left + 3 * b.right + 7 * b.height;
  }
  return [document.documentElement.clientWidth, r.left, r.width, Math.round(sum)];
}
"""


@dataclass
class LayoutResult:
    """What the layout checks found at every width, for the assertion and summary.json."""

    problems: list[str] = field(default_factory=list)
    widths: dict[int, dict[str, Any]] = field(default_factory=dict)


def cell_label(specs: list[lab.CellSpec], index: int) -> str:
    """The cell's label from the notebook file (or its number when JupyterLab shows more)."""
    return specs[index].label if index < len(specs) else f"cell {index}"


def control_problems(where: str, measured: dict[str, Any], specs: list[lab.CellSpec]) -> list[str]:
    """Clipped and off-screen controls in one measurement (JS_MEASURE's result)."""
    problems = []
    left_edge, viewport = measured["panelLeft"], measured["viewport"]
    for c in measured["controls"]:
        name = f" {c['text']!r}" if c["text"] else ""
        what = f"{where} {cell_label(specs, c['cell'])}: {c['kind']}{name}"
        fit = c["fit"]
        if fit and fit["need"] > fit["room"] + SLACK_PX:
            how = " (cut to an ellipsis)" if c["ellipsis"] else ""
            measure = "text width" if c["kind"] == "dropdown" else "scrollWidth"
            problems.append(
                f"{what} is clipped{how}: its text needs {fit['need']} px, it shows "
                f"{fit['room']} px ({measure} {fit['need']} > clientWidth {fit['room']})"
            )
        elif c["kind"] in ("button", "toggle button") and c["text"].endswith("\u2026"):
            problems.append(f"{what} ends in an ellipsis: its text is cut short")
        if c["left"] < left_edge - SLACK_PX or c["right"] > viewport + SLACK_PX:
            problems.append(
                f"{what} is off-screen: spans x={c['left']}..{c['right']} px, the notebook "
                f"shows x={left_edge}..{viewport} px"
            )
            continue
        for k in c["clippers"]:
            if c["left"] < k["left"] - SLACK_PX or c["right"] > k["right"] + SLACK_PX:
                problems.append(
                    f"{what} is cut off: spans x={c['left']}..{c['right']} px inside "
                    f"{k['what']} showing x={k['left']}..{k['right']} px (scroll to see it)"
                )
                break
    return problems


def figure_facts(item: dict[str, Any]) -> dict[str, Any]:
    """One image's DPI, scale and legend text size (px), from JS_FIGURES' record."""
    facts: dict[str, Any] = {k: item[k] for k in ("cell", "kind", "natural", "shown")}
    dpi = png_dpi(base64.b64decode(item["head"])) if item["head"] else None
    facts["dpi"] = round(dpi[0], 1) if dpi else None  # pHYs stores px/m: 100 dpi is 99.9998
    facts["scale"] = round(item["shown"] / item["natural"], 3) if item["natural"] else None
    if dpi and facts["scale"] and LEGEND_PT is not None:
        facts["legend_px"] = round(LEGEND_PT * dpi[0] / 72 * facts["scale"], 1)
    return facts


def figure_problems(where: str, item: dict[str, Any], facts: dict[str, Any],
                    specs: list[lab.CellSpec]) -> list[str]:
    """A figure below MIN_DPI, scaled below MIN_SCALE, or with legend text below MIN_LEGEND_PX."""
    what = f"{where} {cell_label(specs, item['cell'])}: {item['kind']}"
    if not item["loaded"] or item["error"]:
        return [f"{what} did not load ({item['error'] or 'no pixels'})"]
    problems = []
    size = f"natural {facts['natural']} px wide, shown {facts['shown']} px"
    if facts["dpi"] is None:
        problems.append(f"{what} has no pHYs chunk: no DPI (a browser takes it as 72 dpi); {size}")
    elif facts["dpi"] < MIN_DPI:
        problems.append(f"{what} is {facts['dpi']} dpi < {MIN_DPI:.0f} dpi; {size}")
    if facts["scale"] is not None and facts["scale"] < MIN_SCALE:
        problems.append(
            f"{what} is scaled down to {facts['scale']:.0%} of its natural width "
            f"(< {MIN_SCALE:.0%}): {size}"
        )
    if LEGEND_PT is None:
        problems.append(f"{what}: cannot size its legend, stalksim._viewutil.LEGEND_PT is missing")
    elif facts.get("legend_px") is not None and facts["legend_px"] < MIN_LEGEND_PX:
        problems.append(
            f"{what} shows legend text at {facts['legend_px']} px < {MIN_LEGEND_PX:.0f} px "
            f"(LEGEND_PT {LEGEND_PT} pt x {facts['dpi']} dpi / 72 x {facts['scale']} scale); {size}"
        )
    return problems


class LayoutCheck:
    """Resize the page of a notebook that has run to each width; measure and save screenshots."""

    def __init__(self, run: driver.NotebookRun, artifacts: Path = lab.ARTIFACTS) -> None:
        self.run = run
        self.artifacts = artifacts  # screenshots go to <artifacts>/<width>/
        self.page = run.page
        self.name = run.notebook.name
        self.result = LayoutResult()

    def settle(self, width: int, height: int) -> None:
        """Resize the viewport and wait (bounded) until two frames apart the layout is the same."""
        self.page.set_viewport_size({"width": width, "height": height})
        deadline = time.monotonic() + 10
        last = None
        while time.monotonic() < deadline:
            now = self.page.evaluate(JS_LAYOUT_SIGNATURE)
            if now == last and now[0] == width:
                return
            last = now
        self.result.problems.append(f"{self.name} @{width}px: the layout did not settle in 10 s")

    def check_width(self, width: int) -> None:
        """Settle at `width`, check every control (and, at FIGURE_WIDTH, every figure), then
        save the full page and one crop per widget/figure output."""
        where = f"{self.name} @{width}px"
        self.page.evaluate("() => window.jupyterapp && window.jupyterapp.shell.collapseLeft()")
        self.settle(width, HEIGHTS[width])
        measured = self.page.evaluate(JS_MEASURE, [TEXT_CONTROLS, PLACED_CONTROLS])
        problems = control_problems(where, measured, self.run.specs)
        record: dict[str, Any] = {
            "notebook_px": [measured["panelLeft"], measured["panelRight"]],
            "controls": len(measured["controls"]),
        }
        figures = []
        for item in self.page.evaluate(JS_FIGURES, PNG_HEAD_BYTES):
            facts = figure_facts(item)
            figures.append(facts)
            if width == FIGURE_WIDTH:
                problems += figure_problems(where, item, facts, self.run.specs)
        record["figures"] = figures
        record["problems"] = len(problems)
        record["screenshots"] = self.screenshots(width)
        self.result.widths[width] = record
        self.result.problems += problems

    def screenshots(self, width: int) -> list[str]:
        """The whole notebook at `width`, and a crop of each output with widgets or images."""
        from PIL import Image

        folder = self.artifacts / str(width)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"{self.run.notebook.stem}-cell*.png"):
            old.unlink()  # crops of an earlier run, whose cells may have moved
        full = self.run.screenshot(folder / f"{self.run.notebook.stem}.png")
        saved = [full]
        with Image.open(full) as page:
            for box in self.page.evaluate(JS_CLUSTERS):
                top, bottom = max(0, int(box["top"])), min(page.height, int(box["bottom"]) + 1)
                if bottom - top < 2:
                    continue  # beyond the screenshot's height limit
                crop = page.crop((max(0, int(box["left"])), top,
                                  min(page.width, int(box["right"]) + 1), bottom))
                target = folder / f"{self.run.notebook.stem}-cell{box['cell']:02d}-{box['k']}.png"
                crop.save(target)
                saved.append(target)
        return [str(Path(p).relative_to(lab.REPO)) for p in saved]

    def check(self) -> LayoutResult:
        """All widths, FIGURE_WIDTH first (where the notebook ran), then back to it."""
        for width in (FIGURE_WIDTH, *(w for w in WIDTHS if w != FIGURE_WIDTH)):
            self.check_width(width)
        self.settle(FIGURE_WIDTH, HEIGHTS[FIGURE_WIDTH])
        return self.result
