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
