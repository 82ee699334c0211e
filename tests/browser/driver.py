"""The page side of the browser test: one notebook opened, run and checked in Chromium.

Everything here waits on conditions with a bound; nothing sleeps a fixed time.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser.lab import (
    ARTIFACTS,
    CONTROL_KINDS,
    MIN_FIGURE_PX,
    NOTEBOOK_TIMEOUT,
    REPO,
    TAG_INTERACTIVE,
    TAG_PLOT,
    TAG_WIDGETS,
    CellSpec,
    JupyterLab,
    read_cells,
)

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the test skips (or fails in CI) before anything waits

    class PlaywrightTimeout(Exception):  # type: ignore[no-redef]
        """Stands in for Playwright's TimeoutError when Playwright is missing."""


# Find the notebook panel for `path` among JupyterLab's main-area widgets; keep it in
# window.__stalk so later calls can reach it, and number the cells' DOM nodes.
JS_FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) {
      window.__stalk = w;
      return true;
    }
  }
  return false;
}
"""

# Kernel state of the panel, and the accept button of a dialog if JupyterLab shows one.
JS_KERNEL_STATE = """
() => {
  const p = window.__stalk;
  const kernel = p.sessionContext.session && p.sessionContext.session.kernel;
  const dialog = document.querySelector('.jp-Dialog');
  return {
    ready: p.context.isReady,
    kernel: kernel ? kernel.status : null,
    dialog: dialog ? dialog.innerText.slice(0, 300) : null,
  };
}
"""

JS_RUN_ALL = """
async () => {
  const app = window.jupyterapp;
  const p = window.__stalk;
  app.shell.activateById(p.id);
  p.content.node.querySelectorAll('.jp-Cell').forEach(n => n.removeAttribute('data-stalk-index'));
  p.content.widgets.forEach((c, i) => { c.node.dataset.stalkIndex = String(i); });
  window.__stalkLost = null;
  p.sessionContext.statusChanged.connect((_, status) => {
    if (['dead', 'autorestarting', 'restarting'].includes(status)) window.__stalkLost = status;
  });
  await app.commands.execute('notebook:run-all-cells');
  return true;
}
"""

# True once the kernel is idle and every non-empty code cell has run, or once the run stopped
# at an error (JupyterLab's "Run All" stops at the first failing cell).
JS_RUN_FINISHED = """
() => {
  const p = window.__stalk;
  const kernel = p.sessionContext.session && p.sessionContext.session.kernel;
  if (window.__stalkLost) return true;  // the kernel died or restarted during the run
  if (!kernel || kernel.status !== 'idle') return false;
  let pending = false, allRan = true, failed = false;
  for (const c of p.content.widgets) {
    if (c.model.type !== 'code') continue;
    if (!c.model.sharedModel.getSource().trim()) continue;
    const prompt = c.node.querySelector('.jp-InputPrompt');
    if (prompt && prompt.textContent.includes('*')) pending = true;
    if (c.model.executionCount === null || c.model.executionCount === undefined) allRan = false;
    for (let k = 0; k < c.model.outputs.length; k++) {
      if (c.model.outputs.get(k).type === 'error') failed = true;
    }
  }
  return !pending && (allRan || failed);
}
"""

# Mark each output that holds a widget view (data-stalk-widget), whatever renders it:
# ipywidgets' own views carry .jupyter-widgets, an anywidget view (e.g. FlowView) does not.
JS_MARK_WIDGET_OUTPUTS = """
() => {
  const p = window.__stalk;
  for (const c of p.content.widgets) {
    if (c.model.type !== 'code' || !c.outputArea) continue;
    const kids = c.outputArea.widgets;
    for (let k = 0; k < c.model.outputs.length && k < kids.length; k++) {
      const o = c.model.outputs.get(k).toJSON();
      if (o.data && o.data['application/vnd.jupyter.widget-view+json']) {
        kids[k].node.dataset.stalkWidget = '1';
      }
    }
  }
}
"""

# Facts about every cell, read from JupyterLab's models and the rendered DOM.
JS_FACTS = (
    """
([kinds, minPx]) => {
  const p = window.__stalk;
  ("""
    + JS_MARK_WIDGET_OUTPUTS.strip()
    + """)();
  // a widget output rendered by something else than ipywidgets: visible, not stuck or failed
  const otherView = (o) => {
    if (o.querySelector('.jupyter-widgets')) return false;
    const t = o.innerText;
    if (t.includes('Loading widget') || t.includes('Error displaying widget')) return false;
    return [...o.querySelectorAll('.jp-OutputArea-output *')].some(el => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0;
    });
  };
  const big = (el) => {
    const r = el.getBoundingClientRect();
    return r.width >= minPx && r.height >= minPx;
  };
  return p.content.widgets.map((c, i) => {
    const out = c.node.querySelector('.jp-Cell-outputWrapper');
    const text = out ? out.innerText : '';
    const controls = {};
    for (const [kind, sel] of Object.entries(kinds)) {
      const els = out ? [...out.querySelectorAll(sel)] : [];
      controls[kind] = els.filter(el => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0;
      }).length;
    }
    const imgs = out ? [...out.querySelectorAll('img')] : [];
    const canvases = out ? [...out.querySelectorAll('canvas')] : [];
    const figures = imgs.filter(im => im.complete && im.naturalWidth > 0 && big(im)).length
      + canvases.filter(big).length;
    const stderr = out ? [...out.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')] : [];
    const errors = [];
    for (const el of stderr) {
      const t = el.innerText;  // keep the head and the tail: the last line names the error
      if (t.includes('Traceback')) {
        errors.push(t.length > 1500 ? t.slice(0, 300) + '\\n...\\n' + t.slice(-1200) : t);
      }
    }
    const shown = errors.length;
    let widgetOutputs = 0;
    if (c.model.type === 'code') {
      for (let k = 0; k < c.model.outputs.length; k++) {
        const o = c.model.outputs.get(k).toJSON();
        if (o.output_type === 'error' && !shown) errors.push(`${o.ename}: ${o.evalue}`);
        if (o.data && o.data['application/vnd.jupyter.widget-view+json']) widgetOutputs++;
      }
    }
    return {
      index: i,
      type: c.model.type,
      executionCount: c.model.type === 'code' ? c.model.executionCount : null,
      widgetViews: out ? out.querySelectorAll('.jupyter-widgets').length
        + [...out.querySelectorAll('[data-stalk-widget]')].filter(otherView).length : 0,
      widgetOutputs,
      controls,
      figures,
      errors,
      errorDisplayingWidget: text.includes('Error displaying widget'),
      loadingWidget: text.includes('Loading widget...'),
    };
  });
}
"""
)

# A fingerprint of the figure (last large img or canvas) in cell `index`.
JS_FIGURE_SIGNATURE = """
([index, minPx]) => {
  const cell = document.querySelector(`[data-stalk-index="${index}"]`);
  if (!cell) return null;
  const sel = '.jp-Cell-outputWrapper img, .jp-Cell-outputWrapper canvas';
  const els = [...cell.querySelectorAll(sel)]
    .filter(el => {
      const r = el.getBoundingClientRect();
      const loaded = el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0);
      return loaded && r.width >= minPx && r.height >= minPx;
    });
  if (!els.length) return null;
  const el = els[els.length - 1];
  return el.tagName === 'IMG' ? el.src : el.toDataURL();
}
"""

# True once cell `index` shows a figure whose fingerprint differs from `old`.
JS_FIGURE_CHANGED = (
    "([index, minPx, old]) => { const sig = ("
    + JS_FIGURE_SIGNATURE.strip()
    + ")([index, minPx]); return sig !== null && sig !== old; }"
)

JS_CLOSE = """
async () => {
  const p = window.__stalk;
  if (!p) return;
  try { await p.sessionContext.shutdown(); } catch (e) { /* already gone */ }
}
"""


@dataclass
class NotebookResult:
    """What one notebook showed in the browser, for assertions and summary.json."""

    name: str
    cells: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    screenshot: str = ""
    blocked_requests: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for cell in self.cells:
            for kind, n in cell["controls"].items():
                kinds[kind] = kinds.get(kind, 0) + n
        return {
            "widgets": sum(kinds.values()),
            "widgets_by_kind": kinds,
            "widget_views": sum(c["widgetViews"] for c in self.cells),
            "figures": sum(c["figures"] for c in self.cells),
            "cells": len(self.cells),
            "code_cells_run": sum(1 for c in self.cells if c["executionCount"]),
            "interactions": self.interactions,
            "seconds": self.seconds,
            "screenshot": self.screenshot,
            "blocked_requests": self.blocked_requests,
            "problems": self.problems,
            "ok": not self.problems,
        }


def png_pixels_differ(before: bytes, after: bytes) -> bool:
    """True when two PNG screenshots differ in size or in any pixel."""
    from PIL import Image, ImageChops

    a = Image.open(io.BytesIO(before)).convert("RGB")
    b = Image.open(io.BytesIO(after)).convert("RGB")
    if a.size != b.size:
        return True
    return ImageChops.difference(a, b).getbbox() is not None


class NotebookRun:
    """Open one notebook in JupyterLab, run all cells, check what it shows."""

    def __init__(self, server: JupyterLab, page: Any, notebook: Path) -> None:
        self.lab = server
        self.page = page
        self.notebook = notebook
        self.path = server.relpath(notebook)
        # the server's copy: the repository's file may have changed since the server started
        self.specs = read_cells(server.root / self.path)
        self.result = NotebookResult(name=notebook.name)
        self.deadline = time.monotonic() + NOTEBOOK_TIMEOUT

    def remaining_ms(self, cap: float | None = None) -> float:
        left = max(1.0, self.deadline - time.monotonic())
        return 1000 * (min(left, cap) if cap else left)

    def open(self) -> None:
        """Load JupyterLab on a workspace of its own with the notebook, kernel started."""
        workspace = re.sub(r"[^A-Za-z0-9-]", "-", self.notebook.stem) + "-" + secrets.token_hex(3)
        url = (
            f"{self.lab.base_url}/lab/workspaces/{workspace}/tree/"
            f"{urllib.parse.quote(self.path)}?reset&token={self.lab.token}"
        )
        self.page.goto(url, wait_until="domcontentloaded", timeout=self.remaining_ms(60))
        self.page.wait_for_function(
            JS_FIND_PANEL, arg=self.path, polling=100, timeout=self.remaining_ms(90)
        )
        # wait for the kernel; accept a dialog (e.g. "Select Kernel") if one comes up
        for _ in range(5):
            self.page.wait_for_function(
                f"() => {{ const s = ({JS_KERNEL_STATE.strip()})();"
                " return s.dialog || (s.ready && s.kernel === 'idle'); }",
                polling=100,
                timeout=self.remaining_ms(),
            )
            state = self.page.evaluate(JS_KERNEL_STATE)
            if not state["dialog"]:
                return
            accept = self.page.locator(".jp-Dialog .jp-mod-accept")
            if not accept.count():
                raise AssertionError(f"{self.path}: a dialog without an accept button: "
                                     f"{state['dialog']}")
            accept.first.click(timeout=self.remaining_ms(10))
        raise AssertionError(f"{self.path}: JupyterLab keeps showing dialogs: {state['dialog']}")

    def run_all(self) -> None:
        """Run all cells and wait until the kernel is idle and every code cell has run."""
        self.page.evaluate(JS_RUN_ALL)
        try:
            self.page.wait_for_function(JS_RUN_FINISHED, polling=200, timeout=self.remaining_ms())
        except PlaywrightTimeout:
            self.result.problems.append(f"run-all did not finish within {NOTEBOOK_TIMEOUT:.0f}s")
        lost = self.page.evaluate("() => window.__stalkLost")
        if lost:
            self.result.problems.append(
                f"{self.notebook.name}: the kernel went '{lost}' during run-all (it crashed?)"
            )
        try:  # the last cell's outputs can arrive a moment before the kernel says idle
            self.page.wait_for_function(
                f"() => ({JS_KERNEL_STATE.strip()})().kernel === 'idle'", polling=100,
                timeout=self.remaining_ms(15))
        except PlaywrightTimeout:
            pass  # reported just below
        status = self.page.evaluate(JS_KERNEL_STATE)["kernel"]
        if status != "idle":
            self.result.problems.append(
                f"{self.notebook.name}: the kernel is {status} after run-all"
            )

    def settle_and_check(self) -> None:
        """Wait (bounded) until widgets and figures have rendered, then check every cell."""
        expect = [
            {"widgets": TAG_WIDGETS in s.tags, "plot": TAG_PLOT in s.tags} for s in self.specs
        ]
        try:
            self.page.wait_for_function(
                f"([kinds, minPx, expect]) => ({JS_FACTS.strip()})([kinds, minPx]).every("
                "(c, i) => !c.loadingWidget && (!expect[i] || ("
                "(!expect[i].widgets || Object.values(c.controls).some(n => n > 0)) &&"
                " (!expect[i].plot || c.figures > 0))))",
                arg=[CONTROL_KINDS, MIN_FIGURE_PX, expect],
                polling=200,
                timeout=self.remaining_ms(30),
            )
        except PlaywrightTimeout:  # the checks below say what is missing
            pass
        facts = self.page.evaluate(JS_FACTS, [CONTROL_KINDS, MIN_FIGURE_PX])
        self.result.cells = facts
        if len(facts) != len(self.specs):
            self.result.problems.append(
                f"JupyterLab shows {len(facts)} cells, the file has {len(self.specs)}"
            )
        for spec, cell in zip(self.specs, facts, strict=False):
            where = f"{self.notebook.name} {spec.label}"
            if spec.runs and not cell["executionCount"]:
                self.result.problems.append(f"{where}: did not run (no execution count)")
            for err in cell["errors"]:
                self.result.problems.append(f"{where}: error output:\n{err}")
            if cell["errorDisplayingWidget"]:
                self.result.problems.append(f"{where}: shows 'Error displaying widget'")
            if cell["loadingWidget"]:
                self.result.problems.append(f"{where}: left at 'Loading widget...'")
            if cell["widgetOutputs"] and not cell["widgetViews"]:
                self.result.problems.append(
                    f"{where}: the kernel sent {cell['widgetOutputs']} widget(s) but none "
                    "rendered (is jupyterlab_widgets installed in the server's environment?)"
                )
            has_controls = any(cell["controls"].values())
            if TAG_WIDGETS in spec.tags and not has_controls:
                self.result.problems.append(
                    f"{where}: tagged '{TAG_WIDGETS}' but shows no controls "
                    f"(widget views: {cell['widgetViews']})"
                )
            if TAG_PLOT in spec.tags and not cell["figures"]:
                self.result.problems.append(
                    f"{where}: tagged '{TAG_PLOT}' but shows no image or canvas of at least "
                    f"{MIN_FIGURE_PX}x{MIN_FIGURE_PX} px"
                )
            # keep the tags honest, so a widget or plot that later vanishes is noticed
            if has_controls and TAG_WIDGETS not in spec.tags:
                self.result.problems.append(
                    f"{where}: shows widgets {cell['controls']} but is not tagged '{TAG_WIDGETS}'"
                )
            if cell["figures"] and TAG_PLOT not in spec.tags:
                self.result.problems.append(
                    f"{where}: shows {cell['figures']} figure(s) but is not tagged '{TAG_PLOT}'"
                )

    def interact(self, spec: CellSpec) -> None:
        """Move the cell's first slider one step (or click its first button); the figure must
        change, in its pixels."""
        where = f"{self.notebook.name} {spec.label}"
        cell = self.page.locator(f'[data-stalk-index="{spec.index}"]')
        signature = self.page.evaluate(JS_FIGURE_SIGNATURE, [spec.index, MIN_FIGURE_PX])
        if signature is None:
            self.result.problems.append(f"{where}: tagged '{TAG_INTERACTIVE}' but has no figure")
            return
        figure = cell.locator(".jp-Cell-outputWrapper img, .jp-Cell-outputWrapper canvas").last
        before_png = figure.screenshot(timeout=self.remaining_ms(20))
        handle = cell.locator(".widget-slider .noUi-handle").first
        button = cell.locator(".widget-button").first
        record: dict[str, Any] = {"cell": spec.index}
        if handle.count():
            readout = cell.locator(".widget-slider .widget-readout").first
            record["control"] = "slider"
            record["before"] = readout.inner_text() if readout.count() else None
            handle.focus()
            handle.press("ArrowRight")
        elif button.count():
            record["control"] = "button"
            button.click()
        else:
            self.result.problems.append(
                f"{where}: tagged '{TAG_INTERACTIVE}' but has no slider or button"
            )
            return
        started = time.monotonic()
        changed = True
        try:
            self.page.wait_for_function(
                JS_FIGURE_CHANGED,
                arg=[spec.index, MIN_FIGURE_PX, signature],
                polling=100,
                timeout=self.remaining_ms(30),
            )
        except PlaywrightTimeout:
            changed = False
            self.result.problems.append(
                f"{where}: the figure did not change within 30 s of moving the {record['control']}"
            )
        if changed:
            record["redraw_seconds"] = round(time.monotonic() - started, 2)
            if record["control"] == "slider":
                readout = cell.locator(".widget-slider .widget-readout").first
                record["after"] = readout.inner_text() if readout.count() else None
            figure = cell.locator(".jp-Cell-outputWrapper img, .jp-Cell-outputWrapper canvas").last
            after_png = figure.screenshot(timeout=self.remaining_ms(20))
            record["pixels_changed"] = png_pixels_differ(before_png, after_png)
            if not record["pixels_changed"]:
                self.result.problems.append(f"{where}: the figure's pixels did not change")
        cell_after = self.page.evaluate(JS_FACTS, [CONTROL_KINDS, MIN_FIGURE_PX])[spec.index]
        for err in cell_after["errors"]:
            self.result.problems.append(f"{where}: error output after the move:\n{err}")
        if cell_after["errorDisplayingWidget"]:
            self.result.problems.append(f"{where}: 'Error displaying widget' after the move")
        self.result.interactions.append(record)

    def screenshot(self, target: Path | None = None) -> Path:
        """Save the whole notebook (the viewport made as tall as the notebook) as PNG, by
        default as `<notebook>.png` in ARTIFACTS (the summary names that one)."""
        main = target is None
        target = target or ARTIFACTS / f"{self.notebook.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("() => window.jupyterapp && window.jupyterapp.shell.collapseLeft()")
        # the notebook scrolls inside .jp-WindowedPanel-outer; its cells fill -inner
        missing_px = (
            "() => { const o = window.__stalk.node.querySelector('.jp-WindowedPanel-outer');"
            " const i = o.querySelector('.jp-WindowedPanel-inner');"
            " o.scrollTop = 0; return i.scrollHeight - o.clientHeight; }"
        )
        extra = self.page.evaluate(missing_px)
        size = self.page.viewport_size or {"width": 1280, "height": 900}
        if extra > 0:
            height = min(size["height"] + extra + 40, 16000)
            self.page.set_viewport_size({"width": size["width"], "height": height})
            try:
                self.page.wait_for_function(
                    f"() => ({missing_px})() <= 0", polling=100, timeout=self.remaining_ms(10)
                )
            except PlaywrightTimeout:  # a very long notebook: keep what fits
                pass
        self.page.screenshot(path=str(target))
        if main:
            self.result.screenshot = str(target.relative_to(REPO))
        return target

    def close(self) -> None:
        try:
            self.page.evaluate(JS_CLOSE)
        except Exception:  # the page may be gone already
            pass


#: This test run: xdist gives all its workers one id; a run without xdist makes its own.
RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or secrets.token_hex(8)


def write_summary(results: dict[str, dict[str, Any]]) -> None:
    """Merge the per-notebook counts into test-artifacts/browser/summary.json. Tests run in
    several xdist workers, each with its own `results`: under a lock, each adds its notebooks
    to what the file holds, so no worker's rows overwrite another's. A file from an earlier
    run (another run id) is started afresh."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "summary.json"
    with open(ARTIFACTS / "summary.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            held = json.loads(path.read_text()) if path.exists() else {}
        except json.JSONDecodeError:
            held = {}
        merged = held if held.get("run") == RUN else {"run": RUN}
        merged.update(results)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)
