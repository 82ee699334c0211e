"""Trace records, JSON Lines round trips, replay and the time index.

The hand-built stories here (crash, hang, a mixed one and a large random one) are shared with
test_metrics.py and test_views.py.
"""

from __future__ import annotations

import io
import json
import random
import sys
import time

import pytest

from stalksim.trace import (
    ALL_STATES,
    CAUSES,
    MARKS,
    NS,
    STATES,
    Record,
    Trace,
    TraceError,
    TraceIndex,
    replay,
    state_at,
)

S = NS  # one second in trace time


def crash_story() -> list[tuple]:
    """w1 reserves job 1 and crashes; the job is ready at once and w2 finishes it."""
    return [
        (0, 1, "default", "new", "ready", "put", "producer"),
        (1 * S, 1, "default", "ready", "reserved", "reserve", "w1"),
        (2 * S, 0, "", "", "", "crash", "w1"),
        (2 * S, 1, "default", "reserved", "ready", "connection-closed", "w1"),
        (2 * S + S // 2, 1, "default", "ready", "reserved", "reserve", "w2"),
        (4 * S, 1, "default", "reserved", "deleted", "delete", "w2"),
    ]


def hang_story() -> list[tuple]:
    """w1 reserves job 1 (TTR 5) and hangs; the job comes back only at 6 s; w2 finishes it and
    w1 wakes at 20 s to find its delete fails."""
    return [
        (0, 1, "default", "new", "ready", "put", "producer"),
        (1 * S, 1, "default", "ready", "reserved", "reserve", "w1"),
        (2 * S, 0, "", "", "", "hang", "w1"),
        (6 * S, 1, "default", "reserved", "ready", "ttr-expired", "w1"),
        (6 * S, 1, "default", "ready", "reserved", "reserve", "w2"),
        (8 * S, 1, "default", "reserved", "deleted", "delete", "w2"),
        (20 * S, 0, "", "", "", "wake", "w1"),
        (20 * S, 0, "", "", "", "not-found", "w1"),
    ]


def mixed_story() -> list[tuple]:
    """Two tubes; delay, touch, release, bury, kick and a pause."""
    return [
        (0, 1, "orders", "new", "ready", "put", "shop"),
        (0, 2, "orders", "new", "delayed", "put", "shop"),
        (0, 3, "emails", "new", "ready", "put", "shop"),
        (1 * S, 1, "orders", "ready", "reserved", "reserve", "w1"),
        (1 * S, 3, "emails", "ready", "reserved", "reserve", "mailer"),
        (2 * S, 1, "orders", "reserved", "reserved", "touch", "w1"),
        (2 * S, 3, "emails", "reserved", "buried", "bury", "mailer"),
        (3 * S, 2, "orders", "delayed", "ready", "delay-matured", ""),
        (3 * S, 1, "orders", "reserved", "delayed", "release", "w1"),
        (4 * S, 0, "orders", "", "", "pause", "admin"),
        (5 * S, 0, "orders", "", "", "pause-ended", ""),
        (5 * S, 2, "orders", "ready", "reserved", "reserve", "w1"),
        (6 * S, 2, "orders", "reserved", "deleted", "delete", "w1"),
        (6 * S, 1, "orders", "delayed", "ready", "delay-matured", ""),
        (7 * S, 3, "emails", "buried", "ready", "kick", "admin"),
        (8 * S, 1, "orders", "ready", "reserved", "reserve", "w2"),
        (9 * S, 3, "emails", "ready", "reserved", "reserve", "mailer"),
    ]


def synthetic(n_jobs: int, *, workers: int = 10, seed: int = 0) -> list[tuple]:
    """A random, time-ordered trace of `n_jobs` jobs served by `workers` serial workers, with
    delayed puts, crashes (the worker restarts a second later), hangs (TTR 5 s) and burials."""
    rng = random.Random(seed)
    evs: list[tuple] = []
    free = {f"w{i}": 0 for i in range(1, workers + 1)}  # worker -> when it can reserve next
    for job in range(1, n_jobs + 1):
        tube = "orders" if job % 3 else "emails"
        t = round(job * 0.08 * S)
        if rng.random() < 0.1:
            evs.append((t, job, tube, "new", "delayed", "put", "producer"))
            t += S
            evs.append((t, job, tube, "delayed", "ready", "delay-matured", ""))
        else:
            evs.append((t, job, tube, "new", "ready", "put", "producer"))
        while True:
            worker = min(free, key=free.__getitem__)
            t = max(t, free[worker]) + round(rng.expovariate(20.0) * S)
            evs.append((t, job, tube, "ready", "reserved", "reserve", worker))
            fate = rng.random()
            if fate < 0.04:
                evs.append((t + S // 10, 0, "", "", "", "hang", worker))
                t += 5 * S
                evs.append((t, job, tube, "reserved", "ready", "ttr-expired", worker))
                free[worker] = t + 2 * S
            elif fate < 0.07:
                t += round(rng.uniform(0.05, 0.3) * S)
                evs.append((t, 0, "", "", "", "crash", worker))
                evs.append((t, job, tube, "reserved", "ready", "connection-closed", worker))
                free[worker] = t + S
            else:
                t += round(rng.expovariate(2.5) * S)
                end = ("buried", "bury") if fate < 0.09 else ("deleted", "delete")
                evs.append((t, job, tube, "reserved", *end, worker))
                free[worker] = t
                break
    evs.sort(key=lambda ev: ev[0])  # stable: one job's same-time events keep their order
    return evs


# -- records ---------------------------------------------------------------------------------

def test_constants_are_the_design_words():
    assert STATES == ("ready", "reserved", "delayed", "buried")
    assert ALL_STATES[0] == "new" and ALL_STATES[-1] == "deleted"
    assert {"put", "touch", "ttr-expired", "connection-closed", "delay-matured"} <= set(CAUSES)
    assert {"crash", "hang", "not-found"} <= set(MARKS)


def test_records_are_lazy_and_in_seconds():
    tr = Trace(crash_story())
    recs = tr.records()
    assert not isinstance(recs, list)
    first = next(recs)
    assert first == Record(0.0, 1, "default", "new", "ready", "put", "producer")
    assert tr[4].time == 2.5 and tr[4].actor == "w2"
    assert isinstance(tr[-1], Record) and tr[-1].dst == "deleted"


def test_trace_does_not_copy_the_core_list():
    raw: list[tuple] = []
    tr = Trace(raw)
    assert len(tr) == 0 and tr.end_time == 0.0
    raw.extend(hang_story())
    assert len(tr) == 8 and tr.end_time == 20.0


def test_summaries_and_filters():
    tr = Trace(mixed_story(), meta={"scenario": "mixed"})
    assert tr.jobs() == [1, 2, 3]
    assert tr.tubes() == ["orders", "emails"]
    assert tr.actors() == ["shop", "w1", "mailer", "admin", "w2"]
    assert [r.cause for r in tr.for_job(3)] == ["put", "reserve", "bury", "kick", "reserve"]
    assert tr.for_job(3).meta == {"scenario": "mixed"}
    assert len(tr.for_tube("emails")) == 5
    assert {r.actor for r in tr.for_actor("w2")} == {"w2"}
    assert [r.time for r in tr.between(5, 6)] == [5.0, 5.0, 6.0, 6.0]
    assert len(tr.filter(lambda r: r.cause == "reserve")) == 5
    assert "mixed" in repr(tr) and "3 jobs" in repr(tr)


def test_from_records_round_trips():
    tr = Trace(mixed_story(), meta={"seed": 3})
    assert Trace.from_records(tr.records(), meta={"seed": 3}) == tr


# -- JSON Lines ------------------------------------------------------------------------------

def test_jsonl_round_trip_is_exact(tmp_path):
    raw = synthetic(200, seed=4)
    raw.append((123_456_789_012_345, 0, "", "", "", "wake", "w1"))  # not a round float
    tr = Trace(raw, meta={"scenario": "random", "seed": 4, "until": 30.5})
    path = tmp_path / "t.jsonl"
    tr.to_jsonl(path)
    back = Trace.read_jsonl(path)
    assert back == tr
    assert back.raw == raw
    assert back.meta == {"scenario": "random", "seed": 4, "until": 30.5}
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"meta": tr.meta}
    assert json.loads(lines[1])["time"] == raw[0][0] / NS


def test_jsonl_accepts_open_files_and_seconds_only_lines():
    buf = io.StringIO()
    Trace(crash_story()).to_jsonl(buf)
    buf.seek(0)
    assert Trace.read_jsonl(buf).raw == crash_story()
    hand_written = io.StringIO(
        '{"time": 1.5, "job": 7, "tube": "t", "src": "new", "dst": "ready", '
        '"cause": "put", "actor": "p"}\n\n')
    assert Trace.read_jsonl(hand_written).raw == [(1_500_000_000, 7, "t", "new", "ready",
                                                   "put", "p")]


def test_jsonl_rejects_non_events():
    with pytest.raises(TraceError, match="line 2"):
        Trace.read_jsonl(io.StringIO('{"meta": {}}\n{"job": 1}\n'))


def test_to_dataframe():
    pd = pytest.importorskip("pandas")
    df = Trace(hang_story()).to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(Record._fields)
    assert df["time"].tolist()[:4] == [0.0, 1.0, 2.0, 6.0]


def test_importing_trace_pulls_in_no_plotting_or_pandas():
    import subprocess

    code = ("import sys, stalksim.trace, stalksim.metrics; "
            "print(any(m in sys.modules for m in ('pandas', 'matplotlib', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# -- replay ----------------------------------------------------------------------------------

def test_replay_gives_final_states():
    assert replay(Trace(crash_story())) == {1: "deleted"}
    assert replay(mixed_story()) == {1: "reserved", 2: "deleted", 3: "reserved"}
    final = replay(synthetic(500, seed=1))
    assert len(final) == 500 and set(final.values()) <= {"deleted", "buried"}


def test_replay_rejects_impossible_transitions():
    bad = [*crash_story()[:2], (3 * S, 1, "default", "ready", "reserved", "reserve", "w2")]
    with pytest.raises(TraceError, match="job 1 at 3 s"):
        replay(bad)
    assert replay(bad, strict=False) == {1: "reserved"}


# -- time index ------------------------------------------------------------------------------

def test_state_at_the_hang_story():
    idx = TraceIndex(hang_story())
    assert idx.state_at(-1) == {"time": -1, "tubes": {}, "held": {}}
    at = idx.state_at(0.5)
    assert at["tubes"] == {"default": {"ready": [1], "reserved": [], "delayed": [],
                                       "buried": []}}
    assert idx.state_at(3)["held"] == {"w1": [1]}
    assert idx.state_at(6)["held"] == {"w2": [1]}  # events at t are applied
    assert idx.state_at(9)["tubes"]["default"]["reserved"] == []
    assert state_at(mixed_story(), 2.5)["tubes"]["emails"]["buried"] == [3]


def test_state_at_matches_a_full_replay_at_every_step():
    raw = synthetic(300, seed=2)
    idx = TraceIndex(raw, every=17)
    for t in [0, 0.05, 3.3, 7.77, 12, 14.95, 40]:
        upto = [ev for ev in raw if ev[0] <= round(t * NS)]
        final = {j: s for j, s in replay(upto).items() if s != "deleted"}
        got = {j: s for tube in idx.state_at(t)["tubes"].values()
               for s, jobs in tube.items() for j in jobs}
        assert got == final


def test_state_at_is_fast_for_10000_jobs():
    idx = TraceIndex(synthetic(10_000, seed=5))
    end = idx._times[-1] / NS
    worst = 0.0
    for i in range(20):
        t0 = time.perf_counter()
        idx.state_at(end * i / 19)
        worst = max(worst, time.perf_counter() - t0)
    assert worst < 0.05
