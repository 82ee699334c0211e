"""Metrics from hand-built traces: waits, deliveries, hand-offs, busy time, depth, summary."""

from __future__ import annotations

import pytest

from stalksim import metrics as m
from stalksim.trace import Trace
from tests.test_trace import crash_story, hang_story, mixed_story, synthetic


def rows(cols: dict[str, list]) -> list[dict]:
    """Column lists back into one dict per row, for readable assertions."""
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def test_tables_are_equal_length_columns():
    tr = Trace(synthetic(200, seed=3))
    for table in (m.job_spans(tr), m.job_stats(tr), m.handoffs(tr), m.busy_time(tr),
                  m.throughput(tr), m.depth(tr)):
        assert len({len(col) for col in table.values()}) == 1


def test_tables_go_straight_into_pandas():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(m.job_stats(synthetic(50)))
    assert len(df) == 50 and df["deliveries"].min() >= 1


def test_job_stats_crash():
    (job,) = rows(m.job_stats(crash_story()))
    assert job == {
        "job": 1, "tube": "default", "put_at": 0.0, "ready_at": 0.0, "first_reserved_at": 1.0,
        "wait": 1.0, "deliveries": 2, "redeliveries": 1,
        "redelivery_causes": "connection-closed", "done_at": 4.0, "time_to_done": 4.0,
        "state": "deleted", "ttr_expired": 0, "connection_closed": 1, "release": 0, "bury": 0,
    }


def test_job_stats_mixed_waits_count_from_ready_not_from_a_delayed_put():
    by_job = {r["job"]: r for r in rows(m.job_stats(mixed_story()))}
    assert by_job[2]["put_at"] == 0.0 and by_job[2]["ready_at"] == 3.0
    assert by_job[2]["wait"] == 2.0
    assert by_job[1]["redelivery_causes"] == "release" and by_job[1]["state"] == "reserved"
    assert by_job[1]["done_at"] is None and by_job[1]["time_to_done"] is None
    assert by_job[3]["redelivery_causes"] == "bury" and by_job[3]["bury"] == 1
    assert m.waits(mixed_story()) == [1.0, 2.0, 1.0]
    assert m.waits(mixed_story(), until=4) == [1.0, 1.0]


def test_job_spans_keep_touches_inside_one_reserved_span():
    spans = [r for r in rows(m.job_spans(mixed_story())) if r["job"] == 1]
    assert [(r["state"], r["start"], r["end"], r["end_cause"]) for r in spans] == [
        ("ready", 0.0, 1.0, "reserve"),
        ("reserved", 1.0, 3.0, "release"),
        ("delayed", 3.0, 6.0, "delay-matured"),
        ("ready", 6.0, 8.0, "reserve"),
        ("reserved", 8.0, 9.0, ""),  # still open at the end
    ]
    assert spans[1]["actor"] == "w1" and spans[4]["actor"] == "w2"
    until = rows(m.job_spans(mixed_story(), until=2.5))
    assert max(r["end"] for r in until) == 2.5


def test_handoffs_and_duplicate_work():
    (crash,) = rows(m.handoffs(crash_story()))
    assert crash == {"job": 1, "tube": "default", "cause": "connection-closed",
                     "lost_by": "w1", "reserved_at": 1.0, "lost_at": 2.0, "next_by": "w2",
                     "next_at": 2.5}
    assert m.duplicate_work(crash_story()) == {"count": 0, "jobs": [], "wasted": 0}
    (hang,) = rows(m.handoffs(hang_story()))
    assert (hang["cause"], hang["lost_by"], hang["lost_at"], hang["next_by"]) == (
        "ttr-expired", "w1", 6.0, "w2")
    assert m.duplicate_work(hang_story()) == {"count": 1, "jobs": [1], "wasted": 5.0}
    assert rows(m.handoffs(mixed_story())) == []
    released = rows(m.handoffs(mixed_story(), causes=("release",)))
    assert [(r["job"], r["lost_by"], r["next_by"]) for r in released] == [(1, "w1", "w2")]


def test_busy_time():
    hang = {r["actor"]: r for r in rows(m.busy_time(hang_story()))}
    assert set(hang) == {"w1", "w2"}
    assert hang["w1"]["busy"] == 5.0 and hang["w1"]["ttr_expired"] == 1
    assert hang["w1"]["utilisation"] == 0.25
    assert hang["w2"]["busy"] == 2.0 and hang["w2"]["deletes"] == 1
    crash = {r["actor"]: r for r in rows(m.busy_time(crash_story()))}
    assert crash["w1"]["busy"] == 1.0 and crash["w1"]["connection_closed"] == 1
    mixed = {r["actor"]: r for r in rows(m.busy_time(mixed_story()))}
    assert (mixed["w1"]["busy"], mixed["w1"]["held"], mixed["w1"]["reserves"]) == (3.0, 3.0, 2)
    assert mixed["w2"]["busy"] == 1.0  # still holding job 1 when the trace ends


def test_busy_time_counts_overlapping_jobs_once():
    raw = [
        (0, 1, "t", "new", "ready", "put", "p"),
        (0, 2, "t", "new", "ready", "put", "p"),
        (1 * 10**9, 1, "t", "ready", "reserved", "reserve", "w"),
        (2 * 10**9, 2, "t", "ready", "reserved", "reserve", "w"),
        (3 * 10**9, 1, "t", "reserved", "deleted", "delete", "w"),
        (5 * 10**9, 2, "t", "reserved", "deleted", "delete", "w"),
    ]
    (w,) = rows(m.busy_time(raw))
    assert (w["busy"], w["held"], w["deletes"]) == (4.0, 5.0, 2)


def test_depth_is_a_step_series_per_tube():
    d = rows(m.depth(crash_story()))
    assert [(r["time"], r["ready"], r["reserved"]) for r in d] == [
        (0.0, 1, 0), (1.0, 0, 1), (2.0, 1, 0), (2.5, 0, 1), (4.0, 0, 0)]
    mixed = rows(m.depth(mixed_story(), tubes=["emails"]))
    assert {r["tube"] for r in mixed} == {"emails"}
    assert [(r["time"], r["buried"]) for r in mixed] == [
        (0.0, 0), (1.0, 0), (2.0, 1), (7.0, 0), (9.0, 0)]
    orders = [r for r in rows(m.depth(mixed_story(), until=4)) if r["tube"] == "orders"]
    assert orders[0] == {"tube": "orders", "time": 0.0, "ready": 1, "reserved": 0,
                         "delayed": 1, "buried": 0}
    assert orders[-1]["time"] == 4.0 and orders[-1]["delayed"] == 1


def test_throughput_windows():
    t = rows(m.throughput(hang_story(), window=5))
    assert [(r["start"], r["deletes"], r["rate"]) for r in t] == [
        (0, 0, 0.0), (5, 1, 0.2), (10, 0, 0.0), (15, 0, 0.0)]
    with pytest.raises(ValueError):
        m.throughput(hang_story(), window=0)


def test_percentile_interpolates_like_numpy():
    assert m.percentile([4, 1, 3, 2], 50) == 2.5
    assert m.percentile([1, 2, 3, 4], 0) == 1 and m.percentile([1, 2, 3, 4], 100) == 4
    assert m.percentile([10], 99) == 10
    assert m.percentile([], 50) is None
    assert m.wait_percentiles(crash_story()) == {"p50": 1.0, "p90": 1.0, "p99": 1.0}


def test_summary_crash_vs_hang():
    crash, hang = m.summary(crash_story()), m.summary(hang_story())
    assert crash["jobs_put"] == crash["jobs_done"] == 1
    assert (crash["redeliveries_connection_closed"], crash["redeliveries_ttr_expired"]) == (1, 0)
    assert (hang["redeliveries_connection_closed"], hang["redeliveries_ttr_expired"]) == (0, 1)
    assert hang["duplicate_work"] == 1 and crash["duplicate_work"] == 0
    assert hang["wait_p50"] == 1.0 and hang["duration"] == 20.0
    assert m.summary([])["wait_p99"] is None


def test_summary_of_a_large_trace_adds_up():
    s = m.summary(synthetic(2000, seed=9))
    assert s["jobs_put"] == 2000
    assert s["jobs_done"] + s["jobs_buried"] == 2000 and s["jobs_left"] == 0
    assert s["redeliveries"] == s["redeliveries_ttr_expired"] + s[
        "redeliveries_connection_closed"] > 0
    assert s["duplicate_work"] == s["redeliveries_ttr_expired"]
    assert s["wait_p50"] <= s["wait_p90"] <= s["wait_p99"]
