"""The benchmark suite runs end to end at tiny sizes (nothing is asserted about speed)."""

from __future__ import annotations

import pytest

pytest.importorskip("ciw", reason="ciw is a benchmark-only dependency (pip install .[bench])")


@pytest.mark.real
def test_quick_benchmark_writes_a_table_with_every_workload(tmp_path, capsys):
    from benchmarks.__main__ import main

    out = tmp_path / "perf.md"
    assert main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    for n in range(1, 9):
        assert f"\n| {n} | " in text
    assert "Erlang C" in text
    assert "| # | workload |" in capsys.readouterr().out


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
