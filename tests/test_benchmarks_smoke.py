"""The benchmark suite runs end to end at tiny sizes (nothing is asserted about speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("ciw", reason="ciw is a benchmark-only dependency (pip install .[bench])")


@pytest.mark.real
def test_quick_benchmark_writes_a_table_with_every_workload(tmp_path):
    # in its own process: the browser rows start Playwright, which cannot run beside another
    # test's Playwright in this (xdist worker's) process
    out = tmp_path / "perf.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for n in range(1, 17):
        assert f"\n| {n} | " in text
    assert "Erlang C" in text
    assert "| # | workload |" in done.stdout


def test_mm10_rates_keep_each_models_best_round_and_run_them_in_turn():
    from benchmarks.__main__ import mm10_rates

    calls: list[str] = []
    walls = {"a": iter([2.0, 1.0, 4.0]), "b": iter([4.0, 0.5, 2.0])}

    def model(name: str):
        def run() -> tuple[int, float, float]:
            calls.append(name)
            return 100, next(walls[name]), 0.0
        return run

    assert mm10_rates((model("a"), model("b")), 3) == [(100, 100.0), (100, 200.0)]
    assert calls == ["a", "b"] * 3
