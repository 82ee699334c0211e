"""The exercise notebooks: instructor copies pass their own checks on a fresh kernel, student
copies run top to bottom (and are not yet correct), and the student copies are up to date."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import stalksim.exercises as ex
from tests.realserver import RealBeanstalkd

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "notebooks" / "exercises"
INSTRUCTOR = sorted((ROOT / "course" / "instructor").glob("*.ipynb"))
STUDENT = sorted(EXERCISES.glob("*.ipynb"))


@pytest.fixture(scope="module")
def live_env() -> Iterator[None]:
    """A real beanstalkd for the live exercise; kernels inherit BEANSTALKD_HOST/PORT."""
    server = RealBeanstalkd().start()
    mp = pytest.MonkeyPatch()
    mp.setenv("BEANSTALKD_HOST", server.host)
    mp.setenv("BEANSTALKD_PORT", str(server.port))
    yield
    mp.undo()
    server.stop()


def run(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def check_output(nb: nbformat.NotebookNode) -> str:
    """The HTML the cell tagged `check` displayed (the Feedback box)."""
    cells = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return "".join(o.get("data", {}).get("text/html", "") for o in cells[0].outputs)


def test_there_are_ten_or_more() -> None:
    assert len(INSTRUCTOR) >= 10
    assert [p.name for p in STUDENT] == [p.name for p in INSTRUCTOR]


@pytest.mark.slow
@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_instructor_notebook_passes_its_check(path: Path, live_env: None) -> None:
    nb = run(path)
    html = check_output(nb)
    assert "data-ok='true'" in html, html
    revealed = "".join(o.get("data", {}).get("text/html", "") for o in nb.cells[-1].outputs)
    assert revealed.startswith("<details") and "open" not in revealed.split(">")[0]


def tracebacks(nb: nbformat.NotebookNode) -> list[str]:
    """Error outputs and anything on stderr that looks like a traceback, cell by cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and "Traceback" in out.text:
                found.append(f"cell {i}: {out.text[:200]}")
            elif "Traceback" in str(out.get("data", {}).get("text/plain", "")):
                found.append(f"cell {i}: a traceback in its output")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.stem)
def test_student_notebook_runs_and_gives_feedback(path: Path, live_env: None) -> None:
    """Top to bottom with the starter code: every check says "not yet", nothing breaks."""
    exercise_id = path.stem.split("-", 1)[1]
    nb = run(path)
    assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    starters = [c for c in nb.cells if "starter" in c.metadata.get("tags", [])]
    assert [c.source for c in starters] == [ex.exercise(exercise_id).starter.rstrip("\n")]
    checks = [c for c in nb.cells if "ex.check(" in c.source]
    assert checks and all("check" in c.metadata.get("tags", []) for c in checks)
    html = check_output(nb)
    assert "data-ok='false'" in html and "Not yet" in html, html
    assert "data-ok='true'" not in html
    assert "Checking your answer raised" not in html, html
    assert not tracebacks(nb), tracebacks(nb)


def test_student_notebooks_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, "scripts/make_student_notebooks.py", "--check"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_notebooks_are_thin_and_without_outputs() -> None:
    for path in INSTRUCTOR + STUDENT:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        assert "import stalksim" in code[0].source, path.name
        assert not any("Simulation(" in c.source and "answer" not in c.source for c in code)


def test_no_solution_sits_where_learners_browse() -> None:
    """lab.sh and Binder serve notebooks/: no notebook there holds a solution cell; the
    instructor notebooks (the solutions) are in course/instructor/, where learners do not look."""
    served = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    with_solutions = [p.relative_to(ROOT).as_posix() for p in served
                      if any("solution" in c.metadata.get("tags", [])
                             for c in nbformat.read(p, as_version=4).cells)]
    assert with_solutions == []
    assert len(INSTRUCTOR) == len(STUDENT) and all(
        p.parent == ROOT / "course" / "instructor" for p in INSTRUCTOR)
