"""stalksim.flow: the layout FlowView draws (golden files), narration, and forks with faults.

Regenerate the golden files only deliberately: `python -m tests.test_flow --update`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

import stalksim
import stalksim.flow
from stalksim.flow import captions, layout, narration, snapshot
from stalksim.forks import Fault, Fork, fork, fork_of
from stalksim.scenarios import PRIORITIES, SCENARIOS, run_scenario
from stalksim.simulation import Simulation
from stalksim.trace import Trace
from stalksim.workers import Crash, Producer, Worker

GOLDEN = Path(__file__).parent / "golden"
RUNS = ("crashed-consumer", "hung-consumer")


def golden_path(name: str) -> Path:
    return GOLDEN / f"flow-{name}.json"


def flow_layout(name: str) -> dict:
    """The layout FlowView(run_scenario(name, seed=0)) sends, through JSON and back."""
    return json.loads(json.dumps(fork_of(run_scenario(name, seed=0)).layout()))


@pytest.mark.parametrize("name", RUNS)
def test_layout_matches_the_golden_file(name: str) -> None:
    assert flow_layout(name) == json.loads(golden_path(name).read_text())


def test_crash_layout_moves_job_3_back_to_ready_at_once() -> None:
    lay = flow_layout("crashed-consumer")
    steps = [(s["t"], s["cause"], s["from"], s["to"]) for s in lay["steps"] if s["job"] == 3]
    assert steps == [
        (2.0, "put", "producer:shop", "ready:orders"),
        (2.0, "reserve", "ready:orders", "worker:worker-1"),
        (3.5, "connection-closed", "worker:worker-1", "ready:orders"),
        (5.0, "reserve", "ready:orders", "worker:worker-2"),
        (7.0, "delete", "worker:worker-2", "deleted"),
    ]
    assert lay["crashes"] == [{"worker": "worker-1", "t": 3.5}]
    at = snapshot(lay, 4.0)
    assert at["tubes"]["orders"]["ready"] == [3] and at["held"] == {
        "worker-1": [], "worker-2": [4]}
    assert snapshot(lay, 5.0)["held"]["worker-2"] == [3]


def test_hung_hold_is_marked_with_its_ttr_deadline_and_deadline_soon() -> None:
    lay = flow_layout("hung-consumer")
    hold = next(h for h in lay["holds"] if h["job"] == 3 and h["worker"] == "worker-1")
    assert hold["deadline"] == 7.0  # reserved at 2 s with a TTR of 5 s
    assert hold["end_cause"] == "ttr-expired" and hold["end"] == pytest.approx(7.0, abs=1e-6)
    assert hold["hung"] == [[3.5, hold["end"]]]
    busy = [h for h in lay["holds"] if h is not hold]
    assert busy and all(h["hung"] == [] for h in busy)
    soon = [m for m in lay["moments"] if m["kind"] == "deadline-soon" and m["job"] == 3]
    assert soon and soon[0]["t"] == 6.0 and "DEADLINE_SOON" in soon[0]["caption"]
    assert snapshot(lay, 6.9)["held"]["worker-1"] == [3]
    assert snapshot(lay, 7.1)["held"] == {"worker-1": [], "worker-2": [3]}


def test_ttr_deadline_is_learnt_from_a_trace_alone() -> None:
    """A trace without a JobBook (read back from JSON Lines, say) knows the TTR where it ran
    out; meta params give the rest."""
    tr = run_scenario("hung-consumer", seed=0).trace
    tr.meta.pop("params")
    lay = layout(tr)
    assert not lay["priorities_known"]
    deadlines = {(h["job"], h["worker"]): h["deadline"] for h in lay["holds"]}
    assert deadlines[3, "worker-1"] == 7.0
    assert deadlines[1, "worker-1"] is None  # deleted in time: its TTR is not in the trace
    assert layout(run_scenario("hung-consumer", seed=0).trace)["holds"][0]["deadline"] == 5.0


def test_ready_is_ordered_by_priority_then_id_as_reserve_takes_them() -> None:
    lay = fork("priorities").layout()
    ready = snapshot(lay, 0.5)["tubes"]["tasks"]["ready"]
    assert ready == sorted(range(1, 7), key=lambda j: (PRIORITIES[j - 1], j))
    reserved = [s["job"] for s in lay["steps"] if s["cause"] == "reserve"]
    assert reserved == ready  # the order the simulated beanstalkd handed them out


def test_narration_tells_the_crash_and_the_hang() -> None:
    crash = narration(flow_layout("crashed-consumer"))
    assert (3.5, "worker-1's connection closed: job 3 is ready again at once") in crash
    hang = narration(flow_layout("hung-consumer"))
    at7 = [c for t, c in hang if t == pytest.approx(7.0, abs=1e-6)]
    assert any("job 3's TTR expired" in c and "worker-1 is hung" in c for c in at7), hang
    assert any(t == 3.5 and "hangs holding job 3" in c and "TTR runs out at 7 s" in c
               for t, c in hang)


def claimed_places(text: str) -> dict[int, str | None]:
    """Where a caption says each job it names is now: read from the last clause of the last
    part ("; ") naming it ("worker-2 reserves it" -> worker:worker-2, "...: done" -> deleted,
    "... ready ..." -> ready); None where that clause claims no place."""
    out: dict[int, str | None] = {}
    for part in text.split("; "):
        last = part.split(", and at once ")[-1]
        held = re.match(r"(\S+) (?:reserves|touches|hangs holding)\b", last) or re.search(
            r"a reserve from (\S+) with DEADLINE_SOON", last)
        place = ("deleted" if re.search(r"\bdeletes\b|: done\b", last)
                 else f"worker:{held.group(1)}" if held
                 else next((k for k in ("buried", "delayed", "ready") if k in last), None))
        for job in re.findall(r"\bjob (\d+)", part):
            out[int(job)] = place
    return out


def test_claimed_places_reads_what_a_caption_says() -> None:
    """The reader the agreement test relies on; the old caption at 0 s is caught by it."""
    assert claimed_places("shop puts job 1 into orders: it is ready") == {1: "ready"}
    assert claimed_places("shop puts job 1 into orders: it is ready, and at once worker-1 "
                          "reserves it") == {1: "worker:worker-1"}
    assert claimed_places("worker-2 deletes job 4: done; worker-2 reserves job 3 (delivered "
                          "again)") == {4: "deleted", 3: "worker:worker-2"}
    assert claimed_places("worker-1 wakes up and finishes job 3") == {3: None}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_caption_and_picture_agree_at_every_instant(name: str) -> None:
    """Each caption names every job that moved at its instant and says where it is once
    every step up to then is drawn (the picture: `snapshot`); a caption holds until the next,
    and nothing moves between two instants."""
    lay = fork(name, until=40.0).layout()
    caps = captions(lay)
    assert [c["t"] for c in caps] == sorted({s["t"] for s in lay["steps"]} | {
        m["t"] for m in lay["moments"]})
    for c in caps:
        at = snapshot(lay, c["t"])
        where = {j: f"worker:{n}" for n, jobs in at["held"].items() for j in jobs}
        where |= {j: k for tube in at["tubes"].values() for k, jobs in tube.items() for j in jobs}
        where |= dict.fromkeys(at["deleted"], "deleted")
        said = claimed_places(c["text"])
        for job in {s["job"] for s in lay["steps"] if s["t"] == c["t"]}:
            assert said.get(job), (c, job)
        for job, place in said.items():
            assert place is None or place == where.get(job), (c, job, where.get(job))
    first = caps[0]["text"]
    if name == "crashed-consumer":
        assert first == ("the run begins: shop puts job 1 into orders: it is ready, and at once "
                         "worker-1 reserves it")
        assert claimed_places(lay["steps"][0]["caption"])[1] == "ready"  # what it said before


def test_captions_of_the_crash_and_the_hang() -> None:
    crash = {c["t"]: c["text"] for c in captions(flow_layout("crashed-consumer"))}
    assert crash[3.5] == ("worker-1 crashes holding job 3: its connection closes; worker-1's "
                          "connection closed: job 3 is ready again at once")
    assert crash[5.0] == "worker-2 deletes job 4: done; worker-2 reserves job 3 (delivered again)"
    hang = captions(flow_layout("hung-consumer"))
    at7 = next(c for c in hang if c["t"] == pytest.approx(7.0, abs=1e-6))
    assert at7["moment"] and at7["text"].endswith(
        "it is ready again, and at once worker-2 reserves it (delivered again)")
    assert [c["t"] for c in hang if c["moment"]] == [0.0, 3.5, 6.0, at7["t"], 9.000000001, 11.5]


def test_fork_without_faults_is_the_original_run() -> None:
    for name, params in (("hung-consumer", {}), ("short-ttr", {"ttr": 3}), ("poison", {})):
        assert fork(name, seed=3, params=params).trace == run_scenario(name, seed=3, **params
                                                                       ).trace


@pytest.mark.parametrize("name, kind", [("crashed-consumer", "crash"), ("hung-consumer", "hang")])
def test_fork_with_a_fault_is_the_scenario_with_that_fault(name: str, kind: str) -> None:
    """The scenario's own fault moved out of reach (at=100 s), added back by the fork at 3.5 s."""
    extra = {"for_": 8.0} if kind == "hang" else {}
    f = fork(name, params={"at": 100.0}, faults=[Fault("worker-1", kind, 3.5, **extra)])
    assert f.trace.raw == run_scenario(name, seed=0).trace.raw


def test_fork_crash_equals_the_fault_from_the_start() -> None:
    """A crash of worker-2 at 6 s (no scenario parameter for it) against the same actors
    built by hand with Crash(at=6) from the start."""
    sim = Simulation(seed=0)
    Producer("orders", at=[0.0, 1.0, 2.0, 3.0], ttr=5, body="order {n}", name="shop").start(sim)
    Worker("orders", service=2.0, name="worker-1", faults=[Crash(at=3.5)]).start(sim)
    Worker("orders", service=2.0, name="worker-2", faults=[Crash(at=6.0)]).start(sim)
    sim.run(until=15.0)
    f = fork("crashed-consumer", faults=[{"worker": "worker-2", "kind": "crash", "at": 6.0}])
    assert f.trace.raw == sim.trace.raw
    assert ("crash", "worker-2") in {(ev[5], ev[6]) for ev in f.trace.raw}
    line = f.summary_line(fork("crashed-consumer"))
    assert line == ("worker-2 crashes at 6 s: re-deliveries 1 → 1, duplicate work 0 → 0, "
                    "all done at 7 s → 1 job not done")


def test_slow_fault_stretches_the_work_after_it() -> None:
    f = fork("crashed-consumer", faults=[Fault("worker-2", "slow", 0.0, factor=3.0)])
    deletes = {ev[1]: ev[0] / 1e9 for ev in f.trace.raw if ev[5] == "delete"}
    assert deletes[2] == 7.0  # reserved at 1 s, 3 x 2 s of work
    base = {ev[1]: ev[0] / 1e9 for ev in fork("crashed-consumer").trace.raw if ev[5] == "delete"}
    assert base[2] == 3.0


def test_fork_json_and_python_round_trip() -> None:
    f = fork("hung-consumer", seed=2, params={"ttr": 3},
             faults=[Fault("worker-2", "hang", 4.25, for_=2.0), Fault("worker-1", "crash", 9.0)])
    text = f.to_json()
    assert len(text) < 200 and "\n" not in text
    again = Fork.from_json(text)
    assert again.spec() == f.spec() == json.loads(text)
    assert again.trace == f.trace and again.layout() == f.layout()
    line = f.python()
    assert "\n" not in line
    made = eval(line, {"stalksim": stalksim})  # noqa: S307 - our own one-liner
    assert made.trace == f.trace


def test_fault_errors_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="no worker 'worker-9'.*worker-1, worker-2"):
        fork("crashed-consumer", faults=[Fault("worker-9", "crash", 1.0)])
    with pytest.raises(ValueError, match="crash, hang, slow"):
        Fault("worker-1", "explode", 1.0)
    with pytest.raises(TypeError, match="no parameter"):
        fork("crashed-consumer", params={"nope": 1})


def test_layout_of_a_trace_read_back_from_json_lines(tmp_path: Path) -> None:
    run = run_scenario("crashed-consumer", seed=0)
    run.trace.to_jsonl(tmp_path / "t.jsonl")
    back = layout(Trace.read_jsonl(tmp_path / "t.jsonl"))
    plain = layout(run.trace)
    assert back == plain
    assert [s["to"] for s in back["steps"]] == [s["to"] for s in flow_layout(
        "crashed-consumer")["steps"]]


def test_workers_are_in_natural_order_not_first_appearance() -> None:
    f = fork("many-workers", until=30.0)
    assert [a for a in f.trace.actors() if a.startswith("worker")] != [
        "worker-1", "worker-2", "worker-3", "worker-4"]  # worker-4 reserves before worker-3
    assert f.layout()["workers"] == ["worker-1", "worker-2", "worker-3", "worker-4"]


def update() -> None:
    for name in RUNS:
        golden_path(name).write_text(json.dumps(flow_layout(name), indent=1) + "\n")
        print("wrote", golden_path(name))


if __name__ == "__main__" and "--update" in sys.argv:
    update()


def test_a_restart_keeps_the_book_and_is_told() -> None:
    sim = Simulation(seed=8, binlog=True)
    book = stalksim.flow.JobBook.attach(sim)
    c = sim.client()
    kept = c.put("kept", ttr=7)
    sim.advance(2)
    late = c.put("late")
    sim.advance(0.1)
    sim.restart(binlog=True, lost_ms=500)
    after = sim.client().put("after", ttr=9)  # on the new server: still in the book
    sim.advance(1)
    assert book.ttr[kept] == 7 and book.ttr[after] == 9
    text = next(c["text"] for c in captions(layout(sim.trace, book))
                if c["t"] == pytest.approx(2.1))
    assert f"job {late} did not survive the restart" in text
    assert f"reads job {kept} back from its binlog: it is ready" in text
