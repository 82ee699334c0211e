"""stalksim: learn beanstalkd in Jupyter with a simulator that behaves like beanstalkd 1.12.

    import stalksim
    sim = stalksim.Simulation()
    producer = sim.client()            # a greenstalk.Client, connected to the simulated server
    producer.put("hello")

Heavy optional parts (views, widgets, pandas) are imported only when used.
"""

from stalksim.simulation import Simulation, WouldWaitForever

__version__ = "0.1.0"
__all__ = ["Simulation", "WouldWaitForever", "__version__"]
