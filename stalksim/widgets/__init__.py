"""Interactive widgets for the lessons (ipywidgets + matplotlib), imported only when used.

- `ServerPanel(sim)`: put / reserve / delete / release / bury / kick / advance time by hand,
  and crash, hang or wake a client.
- `TimeControl(trace)`: Play, slider and step buttons through a run, forwards and backwards.
- `ScenarioExplorer(name, **controls)`: re-run a scenario as its parameters change.
- `side_by_side(a, b)`: two traces in one figure (simulated beside live).
- `snapshot(sim)`: the simulated server's tubes and connections as an HTML table, connections
  named after the variables that hold their clients.
"""

from stalksim.widgets._render import FigureImage
from stalksim.widgets.explorer import ScenarioExplorer, side_by_side
from stalksim.widgets.panel import ServerPanel, snapshot
from stalksim.widgets.timecontrol import TimeControl

__all__ = ["FigureImage", "ScenarioExplorer", "ServerPanel", "TimeControl", "side_by_side",
           "snapshot"]
