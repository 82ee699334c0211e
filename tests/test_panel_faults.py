"""ServerPanel's crash / hang / wake: what the server does, what the trace records, and the
claims of the panel's log lines checked on a real beanstalkd too."""

from __future__ import annotations

import greenstalk
import pytest

pytest.importorskip("ipywidgets")

import stalksim  # noqa: E402
from stalksim.scenarios import explain  # noqa: E402
from stalksim.widgets.panel import ServerPanel  # noqa: E402


def _reserved_panel(ttr: int = 60) -> ServerPanel:
    panel = ServerPanel(stalksim.Simulation(seed=0), clients=("producer", "worker"))
    panel.ttr.value = ttr
    panel.buttons["put"].click()
    panel.who.value = "worker"
    panel.buttons["reserve"].click()
    assert panel.sim.server.jobs[1].state == "reserved"
    return panel


def _marks(panel: ServerPanel) -> list[tuple[float, str, str, int]]:
    return [(r.time, r.cause, r.actor, r.job) for r in panel.sim.trace
            if r.cause in ("crash", "hang", "wake", "connection-closed", "ttr-expired")]


def test_crash_makes_the_job_ready_at_once_and_a_fresh_connection_takes_the_name():
    panel = _reserved_panel()
    panel.sim.advance(2)
    old = panel.clients["worker"]
    panel.buttons["crash"].click()
    assert panel.sim.server.jobs[1].state == "ready"
    assert _marks(panel) == [(2.0, "crash", "worker", 1), (2.0, "connection-closed", "worker", 1)]
    assert "ready again at once" in panel.message.value
    assert "fresh connection" in panel.message.value
    fresh = panel.clients["worker"]
    assert fresh is not old and fresh.name == "worker" and old._conn.closed
    panel.buttons["reserve"].click()  # the fresh connection works: it gets the job back
    assert panel.sim.server.jobs[1].reserver is fresh._conn
    assert "worker crashed at 2 s holding job 1" in " ".join(explain(panel.sim.trace))


def test_hang_holds_the_job_until_its_ttr_and_refuses_actions_until_wake():
    panel = _reserved_panel(ttr=5)
    panel.sim.advance(1)
    panel.buttons["hang"].click()
    assert "stays reserved until its TTR runs out in 4s" in panel.message.value
    assert "worker [hung]" in panel.state.value
    panel.buttons["delete"].click()
    assert "is hung" in panel.message.value and panel.sim.server.jobs[1].state == "reserved"
    panel.seconds.value = 3
    panel.buttons["advance"].click()  # time still passes for everybody else
    assert panel.sim.server.jobs[1].state == "reserved"
    panel.buttons["advance"].click()
    assert panel.sim.server.jobs[1].state == "ready"
    panel.buttons["wake"].click()
    assert "no longer reserved by it" in panel.message.value
    assert _marks(panel) == [(1.0, "hang", "worker", 1), (5.000000001, "ttr-expired", "worker", 1),
                             (7.0, "wake", "worker", 1)]
    panel.buttons["release"].click()
    assert "NOT_FOUND" in panel.message.value
    panel.buttons["delete"].click()  # the job is ready again: any client may delete it
    assert 1 not in panel.sim.server.jobs and "worker: delete 1" in panel.message.value
    story = " ".join(explain(panel.sim.trace))
    assert "worker hung at 1 s holding job 1" in story and "TTR expired at 5 s" in story


def test_wake_before_the_ttr_keeps_the_job_and_wake_needs_a_hang():
    panel = _reserved_panel(ttr=10)
    panel.buttons["wake"].click()
    assert "not hung" in panel.message.value
    panel.buttons["hang"].click()
    panel.sim.advance(2)
    panel.buttons["wake"].click()
    assert "still holds job 1" in panel.message.value
    panel.buttons["delete"].click()
    assert 1 not in panel.sim.server.jobs


def test_a_hung_client_can_still_crash():
    panel = _reserved_panel()
    panel.buttons["hang"].click()
    panel.buttons["crash"].click()
    assert panel.sim.server.jobs[1].state == "ready" and "worker" not in panel.hung


@pytest.mark.parametrize("fault", ["crash", "hang"])
def test_what_the_log_lines_claim_holds_on_a_real_server(backend, fault):
    """crash: the job is ready again at once; hang: reserved until its TTR, then ready."""
    producer, worker, other = backend.client(), backend.client(), backend.client()
    jid = producer.put("x", ttr=2)
    assert worker.reserve(timeout=0).id == jid
    if fault == "crash":
        backend.close(worker)
        backend.wait(0)
        assert other.reserve(timeout=0).id == jid
        return
    backend.wait(1.2)  # the hung worker sends nothing; its connection stays open
    assert other.stats_job(jid)["state"] == "reserved"
    with pytest.raises(greenstalk.TimedOutError):
        other.reserve(timeout=0)
    backend.wait(1.3)
    assert other.reserve(timeout=0).id == jid
