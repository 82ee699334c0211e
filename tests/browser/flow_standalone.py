"""FlowView's JavaScript on a bare page (no JupyterLab): a stand-in for the widget model, for
timing the view on large traces and for screenshots. The JupyterLab tests use the real model."""

from __future__ import annotations

import json
from typing import Any

from stalksim.flow import captions
from stalksim.widgets.flowview import PALETTE, STATIC, _esm

# A minimal anywidget model: get/set/on/send, with what the view sends kept in window.__fvSent.
FAKE_MODEL = """
window.__fvSent = [];
window.__fvModel = (state) => {
  const handlers = {};
  return {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (handlers['change:' + k] || []).forEach(f => f()); },
    on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
    send: (msg) => window.__fvSent.push(msg),
    save_changes: () => {},
  };
};
"""


def open_view(page: Any, data: dict[str, Any], fork_data: dict[str, Any] | None = None,
              summary: str = "", arrangement: str = "stacked") -> float:
    """Render a FlowView of `data` in `page`; returns the milliseconds the first render took
    (measured in the page, from handing over the layout to the first drawn frame)."""
    css = (STATIC / "flowview.css").read_text(encoding="utf-8")
    page.set_content(f"<!doctype html><html lang='en'><head><title>FlowView</title>"
                     f"<style>{css}</style></head><body><main id='host'></main></body></html>")
    page.add_script_tag(content=FAKE_MODEL)
    page.add_script_tag(content=_esm() + "\nwindow.__fvRender = render;", type="module")
    page.wait_for_function("() => window.__fvRender !== undefined")
    state = {"data": data, "captions": captions(data), "fork_data": fork_data or {},
             "summary": summary, "fork_spec": "", "palette": PALETTE,
             "arrangement": arrangement}
    return page.evaluate(
        """async (json) => {
          const t0 = performance.now();
          const state = JSON.parse(json);
          window.__fvModelObj = window.__fvModel(state);
          window.__fvRender({model: window.__fvModelObj, el: document.getElementById('host')});
          await new Promise((r) => requestAnimationFrame(() => r()));  // after the first draw
          return performance.now() - t0;
        }""", json.dumps(state))
