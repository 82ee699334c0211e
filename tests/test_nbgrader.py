"""The nbgrader round trip of course/: the sources are up to date; generate_assignment makes
the student version; a right, a wrong and a half-right fake submission are autograded by the
exercises' own checkers, and get full, zero and partial scores. And the teaching guide's
grading commands work as they are written there, from a shell that has no nbgrader on PATH."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import stalksim.exercises as ex

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
GUIDE = ROOT / "docs" / "teaching.md"
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


def fresh_course(where: Path) -> Path:
    """A copy of course/ (its sources and scripts; nothing generated)."""
    course = where / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns(
        "__pycache__", "release", "submitted", "autograded", "feedback", "gradebook.db"))
    return course


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
    course = fresh_course(tmp_path)
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


# ---- the guide's commands, as written ------------------------------------------------------

def guide_blocks() -> list[str]:
    """The fenced shell blocks of the teaching guide's grading section, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("\n## Grading"):]
    section = section[:section.find("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def no_grader_path() -> str:
    """This PATH without any folder that holds nbgrader or alembic (a teacher's shell)."""
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any((Path(d) / name).exists() for name in ("nbgrader", "alembic"))]
    return os.pathsep.join(keep or ["/usr/bin", "/bin"])


@needs_nbgrader
@pytest.mark.slow
def test_the_guides_commands_work_as_written(tmp_path: Path) -> None:
    """The blocks of docs/teaching.md's grading section, run in one bash as a teacher would
    run them from the repository's root, in a checkout whose course/ is a fresh copy (so nothing
    lands in the repository) and whose scripts and .venv-grading are this one's. The PATH
    holds no nbgrader; HOME is a new one, with alice's right answers in ~/Downloads/ps1.ipynb,
    which the guide copies to where nbgrader looks."""
    blocks = guide_blocks()
    script = "\n".join(blocks)
    assert "cd course" in script and "nbgrader autograde ps1" in script
    assert "cp ~/Downloads/ps1.ipynb submitted/alice/ps1/ps1.ipynb" in script

    prepared = fresh_course(tmp_path / "prepared")  # what alice got, and sent back answered
    nbgrader(prepared, "generate_assignment", "ps1")
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    nbformat.write(answered(prepared / "release" / "ps1" / "ps1.ipynb",
                            set(ASSIGNMENTS["ps1"][1])), home / "Downloads" / "ps1.ipynb")

    checkout = tmp_path / "checkout"
    course = fresh_course(checkout)
    for name in ("scripts", ".venv-grading"):
        (checkout / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(PATH=no_grader_path(), HOME=str(home))
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-x", "-c", script], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]

    assert (course / "release" / "ps1" / "ps1.ipynb").exists()
    total = sum(POINTS.get(i, 1) for i in ASSIGNMENTS["ps1"][1])
    scores, max_score = gradebook_scores(course, "ps1", ["alice"])
    assert scores == {"alice": total} and max_score == total
    assert (course / "feedback" / "alice" / "ps1" / "ps1.html").exists()
    with open(course / "grades.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["student_id"] == "alice"]
    assert [float(r["score"]) for r in rows] == [total]
    progress = (course / "progress" / "progress.csv").read_text()
    assert "alice" in progress, progress
