"""ServerPanel's sentences (issue 23): a reserve that times out says where the jobs are (finding
6: the job a hung worker holds, and the exact time its TTR runs out), and jobs are counted in
proper English ("job 1 is", "jobs 1 and 2 are"), never "job(s)"."""

from __future__ import annotations

import html
import re

import pytest

pytest.importorskip("ipywidgets")

import stalksim  # noqa: E402
from stalksim.core import SEC  # noqa: E402
from stalksim.widgets.panel import ServerPanel  # noqa: E402
from stalksim.widgets.wording import at, count, job_list  # noqa: E402


def said(panel: ServerPanel) -> str:
    return html.unescape(re.sub("<[^>]+>", "", panel.message.value))


def _panel(*clients: str) -> ServerPanel:
    return ServerPanel(stalksim.Simulation(seed=3), clients=clients or ("producer", "worker"))


def _click(panel: ServerPanel, who: str, button: str, **fields: object) -> str:
    panel.who.value = who
    for name, value in fields.items():
        getattr(panel, name).value = value
    panel.buttons[button].click()
    return said(panel)


@pytest.mark.parametrize(("ttr", "hang_at"), [(5, 0.0), (1, 0.25), (7, 3.0)])
def test_at_exactly_the_ttr_the_timeout_names_the_hung_holder_and_when_the_job_is_back(
        ttr, hang_at):
    """Finding 6: TTR 5, reserve as worker-1, hang worker-1, advance to the TTR, reserve as
    worker-2: TIMED_OUT, because the job is still held; the time the hint gives is exact: a
    nanosecond earlier the job is still held, at that time worker-2 gets it."""
    panel = _panel("producer", "worker-1", "worker-2")
    _click(panel, "producer", "put", ttr=ttr)
    _click(panel, "worker-1", "reserve")
    panel.sim.advance(hang_at)
    _click(panel, "worker-1", "hang")
    _click(panel, "worker-1", "advance", seconds=ttr - hang_at)
    assert panel.sim.now_ns() == ttr * SEC
    text = _click(panel, "worker-2", "reserve")
    back = at(ttr * SEC + 1)
    assert f"worker-2: reserve -> TIMED_OUT: nothing is ready in 'default', the tube worker-2 " \
           f"watches: job 1 is still reserved by worker-1 (hung) until its TTR runs out at " \
           f"{back} (just after its deadline, t = {ttr} s: beanstalkd times a job out only " \
           f"once its deadline has passed)" == text
    assert "paused" not in text and "delay" not in text
    assert back == f"t = {ttr}.000000001 s"
    panel.sim.advance(1e-9)
    assert _click(panel, "worker-2", "reserve").endswith("-> job 1 'hello'")


def test_the_timeout_names_a_holder_that_is_not_hung_and_the_client_itself():
    panel = _panel("producer", "worker-1", "worker-2")
    _click(panel, "producer", "put", ttr=60)
    _click(panel, "worker-1", "reserve")
    assert ("job 1 is reserved by worker-1 until it deletes, releases or buries it, or until "
            "its TTR runs out at t = 60.000000001 s") in _click(panel, "worker-2", "reserve")
    text = _click(panel, "worker-1", "reserve")
    assert "job 1 is reserved by worker-1 itself until its TTR runs out at t = 60.000000001 s" \
        in text


def test_the_timeout_names_pauses_delays_buried_jobs_and_other_tubes():
    panel = _panel()
    sim, producer = panel.sim, panel.clients["producer"]
    assert _click(panel, "worker", "reserve").endswith(
        "nothing is ready in 'default', the tube worker watches, and it holds no job")
    _click(panel, "producer", "put", delay=30)
    assert "job 1 is delayed until t = 30 s" in _click(panel, "worker", "reserve")
    _click(panel, "producer", "kick-job", job=1)
    producer.pause_tube("default", 20)
    assert "'default' is paused until t = 20 s (it hands out no job until then)" in _click(
        panel, "worker", "reserve")
    sim.advance(20)
    for _ in range(2):
        _click(panel, "producer", "put", delay=0)
    for jid in (1, 2, 3):
        _click(panel, "worker", "reserve")
        _click(panel, "worker", "bury", job=jid)
    _click(panel, "producer", "put", tube="orders")
    text = _click(panel, "worker", "reserve")
    assert "jobs 1, 2 and 3 are buried in 'default' (a kick brings them back)" in text
    assert "job 4 is ready in 'orders', which worker does not watch" in text
    text = _click(panel, "worker", "reserve", watch="a,b")  # in the server's watch order
    assert re.search("nothing is ready in '[ab]' and '[ab]', the tubes worker watches: ", text)


def test_a_timeout_with_many_reasons_names_the_first_few():
    panel = _panel()
    for _ in range(6):
        _click(panel, "producer", "put", delay=50)
    text = _click(panel, "worker", "reserve")
    assert text.count("is delayed until") == 4 and text.endswith("; and 2 more reasons")


def test_jobs_are_counted_in_proper_english():
    assert [job_list(ids) for ids in ([1], [1, 2], [1, 2, 3])] == [
        "job 1", "jobs 1 and 2", "jobs 1, 2 and 3"]
    assert [count(n, "job") for n in (0, 1, 2)] == ["0 jobs", "1 job", "2 jobs"]
    assert [at(n) for n in (0, 5 * SEC, 5 * SEC + 1, 1_500_000_000)] == [
        "t = 0 s", "t = 5 s", "t = 5.000000001 s", "t = 1.5 s"]


def test_no_message_of_the_panel_says_job_s():
    panel = _panel()
    for _ in range(3):
        _click(panel, "producer", "put", ttr=5)
    _click(panel, "worker", "reserve")
    assert "crashed holding job 1: its connection closed, so job 1 is ready again at once" in \
        _click(panel, "worker", "crash")
    _click(panel, "worker", "reserve")
    _click(panel, "worker", "reserve")
    assert "holding jobs 1 and 2: its connection closed, so jobs 1 and 2 are ready again" in \
        _click(panel, "worker", "crash")
    _click(panel, "worker", "reserve")
    _click(panel, "worker", "reserve")
    _click(panel, "worker", "hang")
    _click(panel, "worker", "advance", seconds=6)
    assert ("wakes up; jobs 1 and 2 are no longer reserved by it (their TTRs ran out)"
            in _click(panel, "worker", "wake"))
    for _ in range(2):
        _click(panel, "worker", "reserve")
        _click(panel, "worker", "bury")
    assert "-> 2 jobs kicked" in _click(panel, "producer", "kick", bound=5)
    _click(panel, "worker", "reserve")
    _click(panel, "worker", "bury")
    assert "-> 1 job kicked" in _click(panel, "producer", "kick", bound=1)
    assert "-> 0 jobs kicked" in _click(panel, "producer", "kick")
    _click(panel, "worker", "reserve")
    _click(panel, "worker", "hang")
    assert "wakes up; it still holds job 1" in _click(panel, "worker", "wake")
    assert not [line for line in panel.lines if "(s)" in line]
