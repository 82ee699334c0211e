"""The trace schema (issue 13): declared once in stalksim.trace, written by the core in that
layout, and read by name (never by tuple position) in the views and metrics."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pytest

from stalksim import trace as T
from stalksim.scenarios import SCENARIOS, run_scenario
from tests.test_trace import crash_story, hang_story, mixed_story, synthetic

ROOT = Path(__file__).resolve().parent.parent
READERS = ("trace.py", "views.py", "metrics.py", "_jobview.py", "_viewutil.py", "forks.py",
           "flow.py", "live/recorder.py", "live/replay.py", "widgets/timecontrol.py")


def test_the_fields_are_declared_once_in_one_order():
    assert T.FIELDS == T.Record._fields == (
        "time", "job", "tube", "src", "dst", "cause", "actor")
    positions = (T.TIME, T.JOB, T.TUBE, T.SRC, T.DST, T.CAUSE, T.ACTOR)
    assert [T.FIELDS[i] for i in positions] == list(T.FIELDS)
    ev = T.raw_event(time_ns=1500, job=7, tube="t", src="ready", dst="reserved",
                     cause="reserve", actor="w1")
    assert ev == (1500, 7, "t", "ready", "reserved", "reserve", "w1") and type(ev) is tuple
    rec = T.Trace([ev])[0]
    assert rec == T.Record(1500 / T.NS, 7, "t", "ready", "reserved", "reserve", "w1")
    assert all(getattr(rec, f) == ev[i] for i, f in enumerate(T.FIELDS) if f != "time")


def test_exports_use_the_declared_names():
    tr = T.Trace(mixed_story(), {"seed": 1})
    buf = io.StringIO()
    tr.to_jsonl(buf)
    first_event = json.loads(buf.getvalue().splitlines()[1])
    assert list(first_event) == [*T.FIELDS, "time_ns"]
    pytest.importorskip("pandas")
    assert list(tr.to_dataframe().columns) == list(T.FIELDS)


@pytest.mark.parametrize("story", [crash_story, hang_story, mixed_story,
                                   lambda: synthetic(300, seed=3)])
def test_the_hand_built_stories_fit_the_schema(story):
    for ev in story():
        assert T.check_event(ev) is ev


@pytest.mark.parametrize("bad, why", [
    ((0, 1, "t", "new", "ready", "put"), "7-field"),
    ([0, 1, "t", "new", "ready", "put", "p"], "7-field"),
    ((0.5, 1, "t", "new", "ready", "put", "p"), "ints"),
    ((0, -1, "t", "new", "ready", "put", "p"), "ints"),
    ((0, 1, "t", "new", "ready", "put", None), "str"),
    ((0, 1, "t", "new", "ready", "launch", "p"), "unknown cause"),
    ((0, 0, "t", "new", "ready", "put", "p"), "'put'"),
    ((0, 1, "", "new", "ready", "put", "p"), "'put'"),
    ((0, 1, "t", "new", "lost", "put", "p"), "'put'"),
    ((0, 3, "t", "", "", "pause", "admin"), "'pause'"),
    ((0, 0, "t", "", "", "pause", "admin"), None),
    ((0, 0, "", "ready", "", "crash", "w1"), "'crash'"),
    ((0, 0, "", "", "", "crash", ""), "'crash'"),
])
def test_check_event_names_what_is_wrong(bad, why):
    if why is None:
        assert T.check_event(bad) == bad
        return
    with pytest.raises(T.TraceError, match=why):
        T.check_event(bad)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_event_the_simulator_writes_fits_the_schema(name):
    result = run_scenario(name, seed=1, until=min(60.0, SCENARIOS[name].default_until))
    assert len(result.trace) > 0
    for ev in result.trace.raw:
        T.check_event(ev)
    T.replay(result.trace)  # and every transition starts where the job was


# ---- readers read fields by name -------------------------------------------------------------

def _positional_reads(source: str) -> list[str]:
    """`ev[2]`-style reads of trace events: a name bound by a loop over `something.raw` (or a
    list named `raw`) and then indexed by an integer literal."""
    tree = ast.parse(source)
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.comprehension):
            it = node.iter
            over_raw = (isinstance(it, ast.Attribute) and it.attr == "raw") or (
                isinstance(it, ast.Name) and it.id == "raw")
            if over_raw and isinstance(node.target, ast.Name):
                bound.add(node.target.id)
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id in bound):
            idx = node.slice
            if isinstance(idx, ast.UnaryOp):
                idx = idx.operand
            if isinstance(idx, ast.Constant) and isinstance(idx.value, int):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_positional_check_finds_positional_reads():
    assert _positional_reads("x = {ev[2] for ev in tr.raw if ev[1]}") == [
        "line 1: ev[2]", "line 1: ev[1]"]
    assert _positional_reads("for e in raw:\n    print(e[-1])") == ["line 2: e[-1]"]
    assert _positional_reads("x = {ev[T.TUBE] for ev in tr.raw}") == []


@pytest.mark.parametrize("module", READERS)
def test_views_and_metrics_read_trace_events_by_name(module):
    source = (ROOT / "stalksim" / module).read_text(encoding="utf-8")
    assert _positional_reads(source) == []
