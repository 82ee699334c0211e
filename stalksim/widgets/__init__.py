"""Interactive widgets for the lessons (ipywidgets + matplotlib), imported only when used.

- `ServerPanel(sim)`: put / reserve / delete / release / bury / kick / advance time by hand,
  and crash, hang or wake a client.
- `TimeControl(trace)`: Play in true time (0.5-4x), step event to event, forwards and
  backwards; several traces on one clock (`TimeControl([crash.trace, hang.trace])`).
- `FlowView(run)`: jobs moving as tokens between producers, tubes and workers, in time-true
  playback with narration; click a worker to crash, hang or slow it and see the new future
  (anywidget).
- `ScenarioExplorer(name, **controls)`: re-run a scenario as its parameters change.
- `side_by_side(a, b)`: two traces in one figure (simulated beside live).
- `snapshot(sim)`: the simulated server's tubes and connections as an HTML table, connections
  named after the variables that hold their clients.

Each name is imported from its module on first use, so `stalksim.widgets._render` (the HTML
helpers `stalksim.live.LiveView` shares) loads without the panel, the explorer or FlowView.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stalksim.widgets._render import FigureImage
    from stalksim.widgets.explorer import ScenarioExplorer, side_by_side
    from stalksim.widgets.flowview import FlowView
    from stalksim.widgets.panel import ServerPanel, snapshot
    from stalksim.widgets.timecontrol import TimeControl

_LAZY = {"FigureImage": "_render", "FlowView": "flowview", "ScenarioExplorer": "explorer",
         "ServerPanel": "panel", "TimeControl": "timecontrol", "side_by_side": "explorer",
         "snapshot": "panel"}
"""Exported name -> the submodule that defines it."""

__all__ = ["FigureImage", "FlowView", "ScenarioExplorer", "ServerPanel", "TimeControl",
           "side_by_side", "snapshot"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # AttributeError lets `from stalksim.widgets import panel` find it
        raise AttributeError(f"module 'stalksim.widgets' has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
