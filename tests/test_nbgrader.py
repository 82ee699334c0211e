"""The nbgrader round trip of course/: the sources are up to date; generate_assignment makes
the student version; a right, a wrong and a half-right fake submission are autograded by the
exercises' own checkers, and get full, zero and partial scores."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import stalksim.exercises as ex

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
sys.path.insert(0, str(COURSE))
from make_source import ASSIGNMENTS, POINTS  # noqa: E402

needs_nbgrader = pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None,
                                reason="nbgrader is not installed (pip install 'nbgrader>=0.9,"
                                       "<0.10'); the round trip needs it")


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_sources_are_up_to_date() -> None:
    done = subprocess.run([sys.executable, str(COURSE / "make_source.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def answered(release: Path, right: set[str]) -> nbformat.NotebookNode:
    """The released notebook with the exercises in `right` solved (the starter elsewhere)."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        exercise_id = "ex-" + meta.get("grade_id", "").removesuffix("-answer")
        if meta.get("solution") and exercise_id in right:
            cell.source = ex.exercise(exercise_id).solution
    return nb


@needs_nbgrader
@pytest.mark.slow
@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_generate_then_autograde(tmp_path: Path, assignment: str) -> None:
    course = tmp_path / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("__pycache__"))
    nbgrader(course, "generate_assignment", assignment, "--force")
    release = course / "release" / assignment / f"{assignment}.ipynb"
    student_text = release.read_text()
    assert "### BEGIN SOLUTION" not in student_text
    ids = ASSIGNMENTS[assignment][1]
    for exercise_id in ids:  # no line of a solution leaks into the student version
        e = ex.exercise(exercise_id)
        for line in e.solution.splitlines():
            if len(line.strip()) > 12 and line.strip() not in e.starter:
                assert line.strip() not in student_text, (exercise_id, line)
    half = set(ids[: len(ids) // 2])
    fakes = {"right": set(ids), "wrong": set(), "half": half}
    for student, right in fakes.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(answered(release, right), target)
    nbgrader(course, "autograde", assignment, "--create", "--force")

    from nbgrader.api import Gradebook

    total = sum(POINTS.get(i, 1) for i in ids)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission(assignment, s).score for s in fakes}
        assert gb.find_submission(assignment, "right").max_score == total
    assert scores == {"right": total, "wrong": 0,
                      "half": sum(POINTS.get(i, 1) for i in half)}, scores
    graded = nbformat.read(course / "autograded" / "wrong" / assignment / f"{assignment}.ipynb",
                           as_version=4)
    boxes = "".join(o.get("data", {}).get("text/html", "") for c in graded.cells
                    for o in c.get("outputs", []))
    assert boxes.count("data-ok='false'") == len(ids)  # the self-study feedback still shows
    print(f"{assignment}: {scores} of {total}")
