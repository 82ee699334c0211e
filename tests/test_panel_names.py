"""`snapshot(sim)` labels connections by the learner's variable names, as a lesson runs them."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

import stalksim  # noqa: E402
from stalksim.widgets import snapshot  # noqa: E402

LESSON_CELL = """
import stalksim
from stalksim.widgets import snapshot
sim = stalksim.Simulation(seed=1)
producer = sim.client()
producer.put("hello")
orders_worker = sim.client(watch="orders")
html = snapshot(sim).data
"""


def test_variables_in_the_calling_function_name_the_connections():
    sim = stalksim.Simulation(seed=0)
    producer = sim.client(use="orders")
    worker = sim.client(watch="orders")
    producer.put("x")
    worker.reserve()
    html = snapshot(sim).data
    assert "producer (use orders; watch default)" in html
    assert "worker (use default; watch orders)" in html and "conn-" not in html


def test_a_cell_run_by_ipython_names_its_connections():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert shell.run_cell(LESSON_CELL).success
        html = shell.user_ns["html"]
    finally:
        InteractiveShell.clear_instance()
    assert "producer (use default" in html and "orders_worker (use default; watch orders)" in html
    assert "conn-" not in html


def test_module_level_code_names_its_connections():
    scope: dict = {}
    exec(compile(LESSON_CELL, "<lesson>", "exec"), scope)
    assert "orders_worker (use" in scope["html"] and "conn-" not in scope["html"]


def test_unnamed_clients_fall_back_and_explicit_names_win():
    sim = stalksim.Simulation(seed=0)
    kept = [sim.client()]  # in a list: no variable names it
    w = sim.connect("worker-1")
    other = stalksim.Simulation(seed=0).client()  # another simulation's client is not ours
    html = snapshot(sim).data
    assert "conn-1 (use" in html and "worker-1 (use" in html and "w (use" not in html
    assert "other" not in html and other.name == "conn-1" and w.name == "worker-1"
    assert "front desk (use" in snapshot(sim, names={"front desk": kept[0]}).data
