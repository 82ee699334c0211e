"""The nbgrader round trip of course/: the sources are up to date; generate_assignment makes
the student version; a right, a wrong and a half-right fake submission are autograded by the
exercises' own checkers, and get full, zero and partial scores."""

from __future__ import annotations

import importlib.util
import json
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


def _grader() -> str | None:
    """The Python that has nbgrader: this one, or the grading venv scripts/test.sh makes
    (.venv-grading: nbgrader brings notebook 7, kept out of the lab the browser tests see)."""
    if importlib.util.find_spec("nbgrader") is not None:
        return sys.executable
    venv = ROOT / ".venv-grading" / "bin" / "python"
    return str(venv) if venv.exists() else None


GRADER = _grader()
needs_nbgrader = pytest.mark.skipif(GRADER is None, reason="nbgrader is not installed "
                                    "(scripts/setup-grading.sh makes .venv-grading); the "
                                    "round trip needs it")


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert GRADER is not None
    bin_dir = str(Path(GRADER).parent)  # nbgrader runs `alembic` from PATH
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    done = subprocess.run([GRADER, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_sources_are_up_to_date() -> None:
    done = subprocess.run([sys.executable, str(COURSE / "make_source.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def gradebook_scores(course: Path, assignment: str, students: list[str]
                     ) -> tuple[dict[str, float], float]:
    """Each student's score and the assignment's maximum, read from nbgrader's gradebook by
    the grading Python (nbgrader need not be importable here)."""
    script = ("import json, sys\nfrom nbgrader.api import Gradebook\n"
              "a, db, students = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
              "with Gradebook(db) as gb:\n"
              "    subs = {s: gb.find_submission(a, s) for s in students}\n"
              "    print(json.dumps([{s: x.score for s, x in subs.items()},"
              " subs[students[0]].max_score]))\n")
    done = subprocess.run([str(GRADER), "-c", script, assignment,
                           f"sqlite:///{course / 'gradebook.db'}", *students],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    scores, max_score = json.loads(done.stdout)
    return scores, max_score


def answered(release: Path, right: set[str]) -> nbformat.NotebookNode:
    """The released notebook with the exercises in `right` solved (the starter elsewhere)."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        key = meta.get("grade_id", "").removesuffix("-answer")
        exercise_id = next((i for i in right if i.removeprefix("ex-") == key), None)
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

    total = sum(POINTS.get(i, 1) for i in ids)
    scores, max_score = gradebook_scores(course, assignment, list(fakes))
    assert max_score == total
    assert scores == {"right": total, "wrong": 0,
                      "half": sum(POINTS.get(i, 1) for i in half)}, scores
    graded = nbformat.read(course / "autograded" / "wrong" / assignment / f"{assignment}.ipynb",
                           as_version=4)
    boxes = "".join(o.get("data", {}).get("text/html", "") for c in graded.cells
                    for o in c.get("outputs", []))
    assert boxes.count("data-ok='false'") == len(ids)  # the self-study feedback still shows
    print(f"{assignment}: {scores} of {total}")
