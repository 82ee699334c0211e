"""Widths (issue 11, item 6): every row of ServerPanel, ScenarioExplorer and LiveView wraps
instead of squeezing its controls, every button keeps room for its whole label, and no control
is wider than a 1024 px screen's output area (~674 px with JupyterLab's sidebar open). The
browser test (tests/browser) measures the same in Chromium at 1024, 1366 and 1920 px."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

import ipywidgets as widgets  # noqa: E402

import stalksim  # noqa: E402
from stalksim.widgets import ScenarioExplorer, ServerPanel  # noqa: E402
from tests.realserver import RealBeanstalkd  # noqa: E402

OUTPUT_PX_AT_1024 = 1024 - 350
PX_PER_CHAR = 7.5  # JupyterLab's 13 px UI font: about this wide per character, at most


def walk(w: widgets.Widget) -> list[widgets.Widget]:
    out = [w]
    for child in getattr(w, "children", ()):
        out += walk(child)
    return out


def px(value: str | None) -> float:
    return float(value[:-2]) if value and value.endswith("px") else 0.0


def check_layout(root: widgets.Widget) -> None:
    for w in walk(root):
        if isinstance(w, widgets.HBox):
            assert w.layout.flex_flow == "row wrap", [type(c).__name__ for c in w.children]
        elif isinstance(w, widgets.Button):
            need = PX_PER_CHAR * len(w.description) + 24 + (16 if w.icon else 0)
            assert px(w.layout.min_width) >= need, (w.description, w.layout.min_width)
            assert w.layout.flex == "0 0 auto", w.description  # never squeezed to "p…"
        if not isinstance(w, widgets.Box):
            assert max(px(w.layout.width), px(w.layout.min_width)) <= OUTPUT_PX_AT_1024, w


def test_server_panel_fits_and_wraps() -> None:
    panel = ServerPanel(stalksim.Simulation(seed=1),
                        clients=("producer", "orders-worker", "emails-worker"))
    check_layout(panel)
    assert {"put", "reserve", "kick-job", "advance time", "crash", "hang", "wake"} <= {
        b.description for b in panel.buttons.values()}


@pytest.mark.parametrize("args", [
    dict(name="hung-consumer", at=(1.0, 6.0, 0.5), ttr=(2, 12), for_=(1.0, 10.0, 1.0)),
    dict(name="short-ttr", ttr=(1, 5), touch=False),
    dict(name="many-workers", until=20, workers=(1, 8), rate=(1.0, 12.0, 0.5),
         mean=(0.1, 1.0, 0.05)),
])
def test_scenario_explorer_fits_and_wraps(args) -> None:
    ex = ScenarioExplorer(args.pop("name"), view="swimlanes", **args)
    check_layout(ex)
    for w in ex.controls.values():
        assert px(w.layout.min_width) >= PX_PER_CHAR * len(w.description) + 150


def test_live_view_fits_and_wraps() -> None:
    from stalksim import live

    with RealBeanstalkd() as server:
        view = live.LiveView(server.address)
        try:
            check_layout(view)
        finally:
            view.close()
