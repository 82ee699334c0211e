"""stalksim: learn beanstalkd in Jupyter with a simulator that behaves like beanstalkd 1.12.

    import stalksim
    sim = stalksim.Simulation()
    producer = sim.client()            # a greenstalk.Client, connected to the simulated server
    producer.put("hello")

Everything is imported when first used: `import stalksim` itself loads no third-party module,
so `stalksim serve` (which imports `stalksim.wire` and hence this package) starts without
simpy, and the views, widgets and pandas are loaded only by the code that draws them.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms at start-up)
if TYPE_CHECKING:
    from typing import Any

    from stalksim.simulation import Simulation, WouldWaitForever

__version__ = "0.1.0"
__all__ = ["Simulation", "WouldWaitForever", "__version__"]

_LAZY = {"Simulation": "stalksim.simulation", "WouldWaitForever": "stalksim.simulation"}
"""Exported name -> the module that defines it, imported on first access."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # AttributeError lets `from stalksim import views` find the submodule
        raise AttributeError(f"module 'stalksim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
