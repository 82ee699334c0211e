"""FlowView on the Python side: what it sends for a run, a trace, a Simulation driven by hand,
a real beanstalkd's trace, and what a click on a worker makes it do."""

from __future__ import annotations

import json

import pytest

from stalksim import live
from stalksim.flow import captions, layout
from stalksim.scenarios import run_scenario
from stalksim.simulation import Simulation
from stalksim.stories import secs
from stalksim.widgets.flowview import PALETTE, FlowView
from tests.realserver import RealBeanstalkd, require_beanstalkd
from tests.test_flow import golden_path


def test_view_of_a_run_sends_the_golden_layout_and_the_shared_palette() -> None:
    view = FlowView(run_scenario("hung-consumer", seed=0))
    assert json.loads(json.dumps(view.data)) == json.loads(golden_path("hung-consumer")
                                                           .read_text())
    assert view.palette == PALETTE
    assert view.captions == captions(view.data)
    assert PALETTE["ready"] == "#56B4E9" and PALETTE["crash"] == "#D55E00"
    assert "export default" in FlowView._esm and "cdn" not in FlowView._esm.lower()


def test_click_on_a_worker_forks_the_run() -> None:
    view = FlowView(run_scenario("crashed-consumer", seed=0))
    view._on_msg(view, {"type": "fork", "worker": "worker-2", "kind": "crash", "at": 6.0}, [])
    assert view.summary == ("worker-2 crashes at 6 s: re-deliveries 1 → 1, duplicate work "
                            "0 → 0, all done at 7 s → 1 job not done")
    assert view.fork_data["faults"] == [{"worker": "worker-2", "kind": "crash", "at": 6.0}]
    assert view.fork_data["crashes"] == [{"worker": "worker-1", "t": 3.5},
                                         {"worker": "worker-2", "t": 6.0}]
    assert view.fork_spec.startswith("stalksim.forks.fork('crashed-consumer', seed=0")
    view._on_msg(view, {"type": "fork", "worker": "nobody", "kind": "crash", "at": 1.0}, [])
    assert view.summary.startswith("no fork: 'crashed-consumer' has no worker 'nobody'")


def test_view_of_a_trace_with_scenario_meta_can_fork() -> None:
    tr = run_scenario("hung-consumer", seed=0, ttr=3).trace
    view = FlowView(tr)
    assert view.base is not None and view.base.trace.raw == tr.raw
    assert view.data["priorities_known"]
    view.add_fault("worker-2", "hang", 5.0)
    assert view.summary.startswith("worker-2 hangs at 5 s for good: ")


def test_view_follows_a_simulation_driven_by_hand() -> None:
    sim = Simulation(seed=0)
    producer = sim.client()
    producer.put("early", priority=5)
    view = FlowView(sim)
    producer.put("urgent", priority=1, ttr=4)
    consumer = sim.client()
    assert len(view.data["steps"]) == 1
    view.refresh()
    assert snapshot_ready(view.data) == [2, 1]  # priority 1 before priority 5
    job = consumer.reserve()
    sim.advance(2)
    view.refresh()
    hold = view.data["holds"][0]
    assert (hold["job"], hold["deadline"]) == (job.id, 4.0)
    assert view.data["title"] == "simulation at 2 s"
    assert view.captions == captions(view.data)
    assert [c["t"] for c in view.captions] == [0.0, 3.0]  # 3 s: DEADLINE_SOON (TTR 4 s)
    with pytest.raises(ValueError, match="forks need a scenario run"):
        view.add_fault("conn-1", "crash", 1.0)


def snapshot_ready(data: dict) -> list[int]:
    from stalksim.flow import snapshot

    return snapshot(data, 1e9)["tubes"]["default"]["ready"]


@pytest.mark.real
def test_view_draws_a_real_beanstalkd_run() -> None:
    """The trace run_live records on a real beanstalkd draws as the simulated one does: job 3
    leaves crashed worker-1 for ready by connection-closed, and worker-2 takes it."""
    require_beanstalkd()
    with RealBeanstalkd() as server:
        tr = live.run_live("crashed-consumer", speed=5, until=10, address=server.address)
    lay = FlowView(tr).data
    moves = [(s["cause"], s["from"], s["to"]) for s in lay["steps"] if s["job"] == 3]
    assert ("connection-closed", "worker:worker-1", "ready:orders") in moves
    assert moves[-1] == ("delete", "worker:worker-2", "deleted")
    assert any("connection closed: job 3 is ready again at once" in c
               for c in (m["caption"] for m in lay["moments"]))
    sim_run = run_scenario("crashed-consumer", seed=0, until=10)
    simulated = layout(sim_run.trace)
    assert moves == [(s["cause"], s["from"], s["to"]) for s in simulated["steps"]
                     if s["job"] == 3]
    both = FlowView(sim_run.trace, beside=tr)  # lesson 6: simulated above, live below
    assert both.data == layout(sim_run.trace, both.base.book, both.data["title"])
    assert both.fork_data["title"] == ("live on a real beanstalkd: crashed-consumer (seed 0, "
                                       "run at 5× speed)")
    assert [s["to"] for s in both.fork_data["steps"]] == [s["to"] for s in lay["steps"]]
    done = max(r.time for r in tr if r.cause == "delete")  # as late as its threads ran
    assert both.summary == ("Above, then below: re-deliveries 1 and 1; all done at 7 s and all "
                            f"done at {secs(done)}"), both.summary


def test_view_beside_another_run_compares_them() -> None:
    crash, hang = (run_scenario(n, seed=0) for n in ("crashed-consumer", "hung-consumer"))
    view = FlowView(crash, beside=hang)
    assert view.fork_data == layout(hang.trace, title="hung-consumer (seed 0)")
    assert view.summary == ("Above, then below: re-deliveries 1 and 1; all done at 7 s and "
                            "all done at 9 s")
    assert view.fork_spec == "" and view.captions == captions(view.data)


def test_side_by_side_draws_two_runs_and_a_click_forks_the_run_clicked() -> None:
    crash, hang = run_scenario("crashed-consumer", seed=0), run_scenario("hung-consumer", seed=0)
    view = FlowView(crash, beside=hang, side=True)
    assert view.arrangement == "side"
    assert view.data["scenario"] == "crashed-consumer"
    assert view.fork_data["scenario"] == "hung-consumer"
    assert view.summary.startswith("Left, then right: re-deliveries 1 and 1; all done at 7 s "
                                   "and all done at 9 s")
    # a click in the right-hand run (the hang) forks the hang, shown in its place
    view._on_msg(view, {"type": "fork", "worker": "worker-1", "kind": "crash", "at": 5.25,
                        "panel": "fork"}, [])
    assert view.fork_data["scenario"] == "hung-consumer"
    assert {"worker": "worker-1", "t": 5.25} in view.fork_data["crashes"]
    assert view.data["scenario"] == "crashed-consumer" and view.data["faults"] == []
    assert view.summary.endswith("all done at 9 s → all done at 7.25 s")
    # a click in the left-hand run forks the crash, shown in its place (the hang stays)
    view._on_msg(view, {"type": "fork", "worker": "worker-2", "kind": "hang", "at": 4.0,
                        "panel": "base"}, [])
    assert view.data["faults"] == [{"worker": "worker-2", "kind": "hang", "at": 4.0}]
    assert any(c["text"].startswith("Left: worker-2 hangs") for c in view.captions)
    assert view.fork_data["scenario"] == "hung-consumer"


def test_side_by_side_needs_a_second_run() -> None:
    with pytest.raises(ValueError, match="beside="):
        FlowView(run_scenario("crashed-consumer", seed=0), side=True)


def test_side_by_side_captions_say_which_run_and_say_a_shared_instant_once() -> None:
    view = FlowView(run_scenario("crashed-consumer", seed=0),
                    beside=run_scenario("hung-consumer", seed=0), side=True)
    by_t = {c["t"]: c["text"] for c in view.captions}
    assert by_t[1.0].startswith("In both: shop puts job 2 into orders")
    assert by_t[3.5].startswith("Left: worker-1 crashes holding job 3")
    assert "; right: worker-1 hangs holding job 3" in by_t[3.5]
    assert [c["t"] for c in view.captions] == sorted(by_t)
    stacked = FlowView(run_scenario("crashed-consumer", seed=0),
                       beside=run_scenario("hung-consumer", seed=0))
    assert stacked.captions == captions(stacked.data)
