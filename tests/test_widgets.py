"""The lesson widgets, built and driven programmatically (no browser)."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

import stalksim  # noqa: E402
from stalksim.scenarios import run_scenario  # noqa: E402
from stalksim.widgets import (  # noqa: E402
    ScenarioExplorer,
    ServerPanel,
    TimeControl,
    side_by_side,
    snapshot,
)


def test_import_stalksim_does_not_import_widgets() -> None:
    import subprocess
    import sys

    code = "import sys, stalksim; print('ipywidgets' in sys.modules, 'stalksim.widgets' in " \
           "sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_server_panel_buttons_change_the_state_table() -> None:
    panel = ServerPanel(stalksim.Simulation(seed=0), clients=("producer", "worker"))
    before = panel.state.value
    panel.tube.value, panel.priority.value, panel.body.value = "orders", 7, "order 1"
    panel.buttons["put"].click()
    assert panel.state.value != before and "1 p7" in panel.state.value
    panel.who.value, panel.watch.value = "worker", "orders"
    panel.buttons["reserve"].click()
    assert "reserve (watching orders) -&gt; job 1" in panel.message.value
    assert "1 p7 ttr 60s" in panel.state.value
    panel.buttons["delete"].click()
    assert "1 p7" not in panel.state.value
    assert "delete 1" in panel.history.value


def test_server_panel_shows_errors_as_messages() -> None:
    panel = ServerPanel(stalksim.Simulation(seed=0))
    panel.job.value = 42
    panel.buttons["delete"].click()  # no traceback: a message
    assert "NOT_FOUND" in panel.message.value
    panel.who.value = "worker"
    panel.buttons["reserve"].click()
    assert "TIMED_OUT" in panel.message.value


def test_server_panel_advance_bury_kick_and_delay() -> None:
    sim = stalksim.Simulation(seed=0)
    panel = ServerPanel(sim)
    panel.delay.value = 3
    panel.buttons["put"].click()
    assert "in 3s" in panel.state.value
    panel.seconds.value = 3
    panel.buttons["advance"].click()
    assert sim.now == 3.0 and "in 3s" not in panel.state.value
    panel.who.value = "worker"
    panel.buttons["reserve"].click()
    panel.buttons["bury"].click()
    assert sim.server.jobs[1].state == "buried"
    panel.buttons["kick"].click()
    assert sim.server.jobs[1].state == "ready"
    assert "1 job kicked" in panel.message.value


def test_snapshot_lists_tubes_and_connections() -> None:
    sim = stalksim.Simulation(seed=0)
    producer = sim.client(use="orders")
    producer.put("x", priority=3)
    html = snapshot(sim).data
    assert "orders" in html and "1 p3" in html and "use orders" in html


def test_time_control_moves_forwards_and_backwards() -> None:
    trace = run_scenario("hung-consumer", seed=0).trace
    tc = TimeControl(trace)
    first_png, first_state = tc.figure.image.value, tc.state.value
    tc.seek(5.0)
    assert tc.time == 5.0
    assert tc.figure.image.value != first_png
    assert all(line.get_xdata()[0] == 5.0 for line in tc.cursors)
    assert tc.state.value != first_state
    assert "worker-1" in tc.state.value
    forward_png = tc.figure.image.value
    tc.back.click()
    assert tc.time < 5.0 and tc.figure.image.value != forward_png
    tc.forward.click()
    assert tc.time == 5.0 and tc.figure.image.value == forward_png
    tc.value = 0
    assert tc.figure.image.value == first_png and tc.state.value == first_state
    assert len(tc.figure.fig.axes) == 1  # one figure, updated, not a new one per move


def test_time_control_state_matches_the_trace_index() -> None:
    trace = run_scenario("crashed-consumer", seed=0).trace
    tc = TimeControl(trace, frames=50)
    assert len(tc.times) == 50
    tc.seek(4.0)
    snap = tc.index.state_at(tc.time)
    for ids in snap["held"].values():
        for job in ids:
            assert f">{job}<" in tc.state.value


def test_scenario_explorer_reruns_on_change() -> None:
    ex = ScenarioExplorer("many-workers", view="depth", until=20, workers=(1, 8), rate=8.0)
    assert ex.runs == 1 and ex.controls["workers"].continuous_update is False
    assert "rate" not in ex.controls and ex.params()["rate"] == 8.0
    png, before = ex.figure.image.value, ex.result.summary()
    ex.controls["workers"].value = 1
    assert ex.runs == 2 and ex.result.params["workers"] == 1
    assert ex.figure.image.value != png
    assert ex.result.summary()["jobs_left"] > before["jobs_left"]


def test_scenario_explorer_controls_from_specs() -> None:
    ex = ScenarioExplorer("short-ttr", view="swimlanes", ttr=(1, 5), touch=False)
    assert ex.controls["ttr"].value == 2  # the scenario's default
    ex.controls["touch"].value = True
    assert ex.result.params["touch"] is True and ex.result.summary()["duplicate_work"] == 0


def test_side_by_side_draws_two_traces() -> None:
    a = run_scenario("crashed-consumer", seed=0).trace
    b = run_scenario("hung-consumer", seed=0).trace
    fig = side_by_side(a, b, titles=("crash", "hang"))
    assert [ax.get_title(loc="left").split(":")[0] for ax in fig.axes] == ["crash", "hang"]


def test_time_control_steps_redraw_only_the_cursor() -> None:
    trace = run_scenario("many-workers", seed=0, until=20).trace
    tc = TimeControl(trace)
    fig = tc.figure.fig
    dpi, canvas = fig.dpi, fig.canvas
    full_draws = []
    draw = fig.draw
    fig.draw = lambda renderer: (full_draws.append(1), draw(renderer))[1]  # type: ignore
    pngs = set()
    for i in range(1, 6):
        tc.value = i * 7
        pngs.add(tc.figure.image.value)
    assert full_draws == [] and len(pngs) == 5  # the cursor moved over the cached figure
    assert all(line.get_animated() for line in tc.cursors)
    assert (fig.dpi, fig.canvas) == (dpi, canvas)  # the figure is left as the caller had it
    tc.figure.invalidate()
    tc.value = 0
    assert full_draws == [1]


def test_time_control_runs_to_the_end_of_the_run_with_workers_in_order() -> None:
    result = run_scenario("hung-consumer", seed=0)
    tc = TimeControl(result.trace)
    assert tc.times[-1] == result.until > result.trace.end_time
    assert TimeControl(result.trace, frames=20).times[-1] == result.until
    many = TimeControl(run_scenario("many-workers", seed=0, until=20, workers=11).trace)
    assert many.holders == [f"worker-{i}" for i in range(1, 12)]  # worker-2 before worker-10
