"""benchmarks/startup.py measures what it says (the ratio is reported by `python -m
benchmarks`, row 9; nothing here asserts a time)."""

from __future__ import annotations

import sys

import pytest

from benchmarks import startup


def test_measure_times_every_command_in_every_round():
    rows = startup.measure(rounds=2)
    names = [r.name for r in rows]
    assert names[:3] == [startup.PASS, startup.IMPORT, startup.SERVE]
    for r in rows:
        assert len(r.samples) == 2 and all(0 < t < 10 for t in r.samples)
    assert [r.listens for r in rows[:3]] == [False, False, True]
    assert startup.ratio(rows, startup.PASS) == 1.0
    assert startup.ratio(rows, startup.SERVE) > 0
    text = startup.lines(rows)
    assert len(text) == len(rows) and "to listening" in text[2] and "x python -c pass" in text[2]


def test_a_server_that_never_listens_is_an_error_not_a_time():
    with pytest.raises(RuntimeError, match="did not listen"):
        startup.time_listen([sys.executable, "-c", "import sys; sys.exit(0)"], timeout=5)


def test_a_command_that_fails_is_an_error_not_a_time():
    with pytest.raises(RuntimeError, match="exited 3"):
        startup.time_exit([sys.executable, "-c", "import sys; sys.exit(3)"])
