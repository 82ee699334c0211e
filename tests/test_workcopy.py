"""A learner's work never blocks an update (scripts/lab.sh and scripts/workcopy.py).

Simulated with real git: an upstream repository and a learner's clone of it. The learner runs
lab.sh (setup and JupyterLab stubbed: the fake `jupyter` records where lab.sh points it),
edits one lesson and runs another in the folder lab.sh serves; upstream changes both and adds
a lesson; `git pull` works; the second lab.sh keeps the learner's work and offers the new
version beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import workcopy  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_NOSYSTEM": "1"}
LESSON_1, LESSON_2 = "01-jobs-and-tubes.ipynb", "02-priorities.ipynb"
EXERCISE = "exercises/01-ex-predict-tubes.ipynb"


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent)}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=60)


def upstream(tmp: Path) -> Path:
    """A repository with the real lab.sh, workcopy.py, .gitignore and lessons; setup stubbed."""
    repo = tmp / "upstream"
    (repo / "scripts").mkdir(parents=True)
    for name in ("lab.sh", "workcopy.py"):
        shutil.copy2(ROOT / "scripts" / name, repo / "scripts" / name)
    (repo / "scripts" / "setup.sh").write_text("#!/usr/bin/env bash\nexit 0  # stubbed\n")
    shutil.copy2(ROOT / ".gitignore", repo / ".gitignore")
    shutil.copytree(ROOT / "notebooks", repo / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    commit(repo, "the course")
    return repo


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    done = git(repo, "commit", "-q", "-m", message)
    assert done.returncode == 0, done.stderr


def clone(tmp: Path, repo: Path) -> Path:
    learner = tmp / "learner"
    assert git(tmp, "clone", "-q", str(repo), str(learner)).returncode == 0
    bin_dir = learner / ".venv" / "bin"  # the venv setup.sh would make: this Python, a fake lab
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    jupyter = bin_dir / "jupyter"
    jupyter.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$(dirname "$0")/lab-args"\n')
    jupyter.chmod(jupyter.stat().st_mode | stat.S_IXUSR)
    return learner


def lab(learner: Path) -> tuple[Path, str]:
    """Run lab.sh; the folder JupyterLab would serve, and what lab.sh printed."""
    done = subprocess.run(["bash", "scripts/lab.sh"], cwd=learner, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    args = (learner / ".venv" / "bin" / "lab-args").read_text().splitlines()
    root = next(a.split("=", 1)[1] for a in args if a.startswith("--ServerApp.root_dir="))
    served = learner / root
    first = next(a for a in args if a.startswith("--LabApp.default_url="))
    assert (served / first.rsplit("/", 1)[1]).is_file(), first
    return served, done.stderr


def edit(path: Path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def answer(nb: nbformat.NotebookNode) -> None:
    """The learner writes an answer: the last code cell changes."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[-1].source += "  # my answer"


def run_cells(nb: nbformat.NotebookNode) -> None:
    """The learner runs the lesson: outputs are saved, no cell changes."""
    for i, c in enumerate(c for c in nb.cells if c.cell_type == "code"):
        c.execution_count = i + 1
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]


def upstream_change(nb: nbformat.NotebookNode) -> None:
    nb.cells[0].source += "\n\n(revised)"


def test_a_learners_work_never_blocks_git_pull_and_is_kept(tmp_path: Path) -> None:
    repo = upstream(tmp_path)
    learner = clone(tmp_path, repo)

    served, said = lab(learner)  # first run
    assert sorted(workcopy.sources(served.parent / "notebooks")) == sorted(
        p for p in workcopy.sources(served) if p.name not in (".gitignore", workcopy.MANIFEST))
    edit(served / LESSON_2, answer)  # in the folder JupyterLab shows
    edit(served / LESSON_1, run_cells)
    edit(served / EXERCISE, answer)
    mine = (served / LESSON_2).read_bytes()
    assert git(learner, "status", "--porcelain").stdout == ""  # git sees none of it
    assert "your working copy (git does not track it)" in said

    edit(repo / "notebooks" / LESSON_1, upstream_change)  # upstream moves on
    edit(repo / "notebooks" / LESSON_2, upstream_change)
    shutil.copy2(repo / "notebooks" / LESSON_2, repo / "notebooks" / "08-new-lesson.ipynb")
    commit(repo, "lessons revised, one added")

    pulled = git(learner, "pull", "-q", "--ff-only")
    assert pulled.returncode == 0, pulled.stderr

    served, said = lab(learner)  # second run
    assert (served / LESSON_2).read_bytes() == mine  # the learner's edit, untouched
    offered = served / "02-priorities (updated).ipynb"
    assert offered.read_bytes() == (repo / "notebooks" / LESSON_2).read_bytes()
    assert "02-priorities (updated).ipynb" in said
    # only run, not edited: refreshed to the new version; new lesson copied; exercise kept
    assert (served / LESSON_1).read_bytes() == (repo / "notebooks" / LESSON_1).read_bytes()
    assert (served / "08-new-lesson.ipynb").exists()
    assert "my answer" in (served / EXERCISE).read_text()
    assert git(learner, "status", "--porcelain").stdout == ""

    served, said = lab(learner)  # a third run changes nothing
    assert said == "" and (served / LESSON_2).read_bytes() == mine
    assert not (served / "02-priorities (updated 2).ipynb").exists()


def test_an_edited_offer_is_kept_too_and_a_deleted_lesson_comes_back(tmp_path: Path) -> None:
    source, work = tmp_path / "notebooks", tmp_path / "work"
    source.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# v1"),
                                         nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, source / "01-a.ipynb")
    workcopy.refresh(source, work)
    edit(work / "01-a.ipynb", lambda nb: setattr(nb.cells[1], "source", "x = 'mine'"))
    for version in ("# v2", "# v3"):
        edit(source / "01-a.ipynb", lambda nb, v=version: setattr(nb.cells[0], "source", v))
        workcopy.refresh(source, work)
        # the learner works on in the offered copy too: it is theirs now
        edit(work / "01-a (updated).ipynb", lambda nb: setattr(nb.cells[1], "source", "x = 2"))
    assert "x = 'mine'" in (work / "01-a.ipynb").read_text()
    assert "x = 2" in (work / "01-a (updated).ipynb").read_text()
    assert "# v3" in (work / "01-a (updated 2).ipynb").read_text()
    (work / "01-a.ipynb").unlink()
    assert workcopy.refresh(source, work) == ["01-a.ipynb: copied again (it was deleted)"]
    assert (work / "01-a.ipynb").read_bytes() == (source / "01-a.ipynb").read_bytes()
    assert json.loads((work / workcopy.MANIFEST).read_text())["01-a.ipynb"]["file"] == (
        workcopy.file_hash(source / "01-a.ipynb"))


@pytest.mark.parametrize("text", ["not json", '{"cells": 3}'])
def test_an_unreadable_notebook_counts_as_the_learners(tmp_path: Path, text: str) -> None:
    broken = tmp_path / "x.ipynb"
    broken.write_text(text)
    assert workcopy.work_hash(broken) == workcopy.file_hash(broken)
