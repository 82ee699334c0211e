"""The command line: list, run (summary, --plot, --trace, progress), serve, bad arguments."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from stalksim import cli
from stalksim.scenarios import SCENARIOS
from stalksim.trace import Trace

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list(capsys):
    code, out, err = run(capsys, "list")
    assert code == 0 and not err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    assert all(SCENARIOS[line.split()[0]].title in line for line in lines)


def test_run_crashed_consumer_prints_the_summary(capsys):
    code, out, err = run(capsys, "run", "crashed-consumer")
    assert code == 0 and not err
    assert "jobs: 4 put, 4 done, 0 buried, 0 still queued" in out
    assert "re-deliveries: 1 (connection closed: 1, TTR expired: 0)" in out
    assert "wait to first reserve: p50 " in out and "p99 " in out
    assert "what happened: worker-1 crashed at 3.5 s holding job 3" in out
    assert "ready again at once (3.5 s)" in out


def test_run_hung_consumer_prints_the_summary(capsys):
    code, out, _ = run(capsys, "run", "hung-consumer", "--seed", "2")
    assert code == 0 and "hung-consumer (seed 2, 15 s)" in out
    assert "re-deliveries: 1 (connection closed: 0, TTR expired: 1)" in out
    assert "duplicate work (reserved again after TTR expired): 1" in out
    assert "until its TTR expired at 7 s (5 s after worker-1 reserved it at 2 s)" in out
    assert "NOT_FOUND" in out


def test_other_redelivery_causes_are_listed(capsys):
    _, out, _ = run(capsys, "run", "poison")
    assert "re-deliveries: 3 (connection closed: 0, TTR expired: 0, bury: 1, release: 2)" in out
    assert "what happened" not in out


def test_plot_writes_a_png(capsys, tmp_path):
    png = tmp_path / "crash.png"
    code, out, _ = run(capsys, "run", "crashed-consumer", "--plot", str(png))
    assert code == 0 and f"plot: {png}" in out
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000 and b"IEND" in data[-12:]


def test_trace_round_trips(capsys, tmp_path):
    out_path = tmp_path / "hang.jsonl"
    code, out, _ = run(capsys, "run", "hung-consumer", "--until", "12", "--trace", str(out_path))
    assert code == 0
    back = Trace.read_jsonl(out_path)
    from stalksim.scenarios import run_scenario

    expected = run_scenario("hung-consumer", until=12).trace
    assert back.raw == expected.raw and back.meta["scenario"] == "hung-consumer"
    assert f"({len(back)} events)" in out


@pytest.mark.parametrize("argv, words", [
    (["run", "crash"], "did you mean 'crashed-consumer'"),
    (["run", "nosuch"], "unknown scenario 'nosuch'"),
    (["run", "handshake", "--until", "-1"], "--until"),
    (["run", "handshake", "--until", "nan"], "--until"),
    (["run", "handshake", "--seed", "x"], "--seed"),
    (["run", "handshake", "--plot", "/nonexistent-dir/x.png"], "does not exist"),
    (["run", "handshake", "--trace", "/nonexistent-dir/x.jsonl"], "does not exist"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_give_one_line_and_a_non_zero_exit(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code != 0 and not out
    assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err


def test_unwritable_special_path_is_refused_before_the_run(capsys):
    # /proc refuses new files even to root (CI runs as root, so a chmod'ed folder won't do)
    code, out, err = run(capsys, "run", "handshake", "--trace", "/proc/stalksim.jsonl")
    assert code == 2 and out == "" and "not writable" in err and len(err.splitlines()) == 1


def test_directory_as_output_path(capsys, tmp_path):
    code, _, err = run(capsys, "run", "handshake", "--trace", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_progress_bar_on_a_tty_and_for_long_runs(capsys):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = cli._bar(tty, 10.0, long=False)
    for t in (1.0, 5.0, 10.0):
        bar(t, 10.0)
    text = tty.getvalue()
    assert text.startswith("\r[") and "100%" in text and text.endswith("\n")
    assert cli._bar(io.StringIO(), 10.0, long=False) is None  # short run, not a TTY
    code, _, err = run(capsys, "run", "many-workers", "--until", "40")
    assert code == 0 and "100%" in err and len(err.splitlines()) <= 6
    _, _, err = run(capsys, "run", "many-workers", "--until", "40", "--no-progress")
    assert err == ""


def test_serve_dispatches_to_wire(monkeypatch):
    import types

    seen: list[list[str]] = []
    fake = types.ModuleType("stalksim.wire")
    fake.serve_main = lambda argv: seen.append(argv) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stalksim.wire", fake)
    assert cli.main(["serve", "--port", "11300"]) == 0 and seen == [["--port", "11300"]]


def test_python_dash_m(tmp_path):
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "stalksim", "run", "nosuch"], cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stdout == ""
    proc = subprocess.run([sys.executable, "-m", "stalksim", "list"], cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "hung-consumer" in proc.stdout


@pytest.mark.parametrize("command", ["doctor", "handouts"])
def test_classroom_tools_dispatch(monkeypatch, command):
    import types

    seen: list[list[str]] = []
    fake = types.ModuleType(f"stalksim.{command}")
    fake.main = lambda argv: seen.append(argv) or 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"stalksim.{command}", fake)
    assert cli.main([command, "--quick"]) == 3 and seen == [["--quick"]]
