"""The class progress report, on fake submissions: a right, a wrong, an empty, a broken
notebook, a student folder with an error and an unchecked lesson, a faked check, a timeout."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from PIL import Image

import stalksim.exercises as ex
from stalksim.exercises import report

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = ROOT / "notebooks" / "exercises" / "01-ex-predict-tubes.ipynb"
LESSON = ROOT / "notebooks" / "02-priorities.ipynb"


def submission(path: Path, answer: str | None = None, extra: str = "",
               source: Path = EXERCISE) -> Path:
    """The student notebook with its answer cell (tagged `starter`, or the lesson's exercise
    cell) replaced by `answer`, and `extra` code appended as a last cell."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if answer is not None and "starter" in cell.metadata.get("tags", []):
            cell.source = answer
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("submissions")
    submission(root / "alice.ipynb", ex.exercise("ex-predict-tubes").solution)
    submission(root / "bob.ipynb", 'answer = ["o2", "o1", "e2", "e1"]\n')
    nbformat.write(nbformat.v4.new_notebook(), root / "carol.ipynb")
    (root / "erin.ipynb").write_text('{"cells": [ not a notebook')
    submission(root / "dave" / "ps1" / "01-ex-predict-tubes.ipynb", "answer = undefined_name\n")
    lesson = nbformat.read(LESSON, as_version=4)
    lesson.cells = [c for c in lesson.cells if "check(" not in c.source]  # checked nothing
    nbformat.write(lesson, root / "dave" / "ps1" / "02-priorities.ipynb")
    submission(root / "mallory.ipynb", 'answer = []\n'
               'ex.check = lambda *a: ex.Feedback("ex-predict-tubes", True)\n')
    (root / "dave" / ".ipynb_checkpoints").mkdir()
    submission(root / "dave" / ".ipynb_checkpoints" / "x.ipynb", "answer = 1\n")
    (root / ".hidden.ipynb").write_text("{}")
    return root


@pytest.fixture(scope="module")
def ran(classroom: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("report")
    text = io.StringIO()
    assert report.main([str(classroom), "--out", str(out), "--jobs", "2"], text) == 0
    return text.getvalue(), out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_students_are_files_and_folders(classroom: Path) -> None:
    found = report.submissions(classroom)
    assert list(found) == ["alice", "bob", "carol", "dave", "erin", "mallory"]
    assert [p.name for p in found["dave"]] == ["01-ex-predict-tubes.ipynb", "02-priorities.ipynb"]


def test_each_verdict(ran: tuple[str, Path]) -> None:
    _, out = ran
    wide = {r["student"]: r for r in rows(out / "progress.csv")}
    assert list(next(iter(wide.values()))) == ["student", "ex-predict-tubes",
                                               "l2-priority-order", "passed", "notes"]
    assert wide["alice"]["ex-predict-tubes"] == "passed" and wide["alice"]["passed"] == "1"
    assert wide["bob"]["ex-predict-tubes"] == "not yet" and wide["bob"]["passed"] == "0"
    assert wide["carol"]["ex-predict-tubes"] == "" and wide["carol"]["notes"] == \
        "no exercise found"
    assert wide["erin"]["notes"].startswith("erin.ipynb unreadable (NotJSONError")
    assert wide["dave"]["ex-predict-tubes"] == "error"
    assert wide["dave"]["l2-priority-order"] == "not checked"
    assert wide["mallory"]["ex-predict-tubes"] == "not checked"  # a faked check() is no pass


def test_details_carry_the_feedback(ran: tuple[str, Path]) -> None:
    _, out = ran
    details = {(r["student"], r["exercise"]): r for r in rows(out / "progress-details.csv")}
    assert details["bob", "ex-predict-tubes"]["message"] == \
        ex.check("ex-predict-tubes", ["o2", "o1", "e2", "e1"]).message
    dave = details["dave", "ex-predict-tubes"]["message"]
    assert dave.startswith("Cell ") and "NameError" in dave
    assert details["dave", "ex-predict-tubes"]["notebook"].endswith("01-ex-predict-tubes.ipynb")


def test_table_and_chart(ran: tuple[str, Path]) -> None:
    text, out = ran
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["student", "E1", "E2", "passed"]
    assert lines[1].split()[:4] == ["alice", "pass", "-", "1/2"]
    assert lines[2].split()[:4] == ["bob", "no", "-", "0/2"]
    assert lines[4].split()[:4] == ["dave", "err", "?", "0/2"]
    assert lines[7].split()[:3] == ["passed", "1", "0"]
    assert "E1: ex-predict-tubes" in text and f"wrote {out / 'progress.png'}" in text
    with Image.open(out / "progress.png") as im:
        assert im.format == "PNG" and im.size[0] == 1200


@pytest.mark.slow
def test_a_notebook_that_never_ends_keeps_what_it_checked(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    submission(subs / "zoe.ipynb", ex.exercise("ex-predict-tubes").solution,
               extra="import time\ntime.sleep(600)\nex.check('l1-tubes', [])")
    students, verdicts = report.collect(subs, timeout=20)
    got = {v.exercise: v.status for v in verdicts}
    assert got == {"ex-predict-tubes": "passed", "l1-tubes": "timeout"}


def test_the_command_line(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    submission(subs / "alice.ipynb", ex.exercise("ex-predict-tubes").solution)
    done = subprocess.run([sys.executable, "-m", "stalksim.exercises", "report", str(subs),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[:3] == ["alice", "pass", "1/1"]
    assert (tmp_path / "out" / "progress.csv").is_file()
    bad = subprocess.run([sys.executable, "-m", "stalksim.exercises", "report",
                          str(tmp_path / "nothing")], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "is not a folder" in bad.stderr
    (tmp_path / "empty").mkdir()
    assert report.main([str(tmp_path / "empty")], io.StringIO()) == 2
    usage = subprocess.run([sys.executable, "-m", "stalksim.exercises"], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
    assert usage.returncode == 2 and "usage:" in usage.stderr
