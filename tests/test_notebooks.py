"""Every lesson runs top to bottom on a fresh kernel; notebooks are committed clean.

Lesson 6 runs against a real beanstalkd that this test starts (BEANSTALKD_HOST/PORT).
Each notebook's run time is printed (pytest -s shows it) and kept in
test-artifacts/notebook-times.json.
"""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("0*.ipynb"))
TIMES = REPO / "test-artifacts" / "notebook-times.json"
EXPECTED = ["01-jobs-and-tubes", "02-priorities", "03-reserve-delete-and-dying-consumers",
            "04-delays-bury-kick-pause", "05-many-workers", "06-going-live",
            "07-when-the-server-restarts"]


def _read(path: Path) -> object:
    return nbformat.read(path, as_version=4)


def test_all_seven_lessons_exist() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path: Path) -> None:
    nb = _read(path)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs"
            assert cell.execution_count is None, f"cell {i} has an execution count"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_model_code_in_notebooks(path: Path) -> None:
    """Logic lives in the package: no classes; functions only in exercise answers."""
    nb = _read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "you will be able to" in first.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any("import stalksim" in c.source for c in code)
    assert any("stalksim.exercises.check(" in c.source for c in code[-2:])
    for cell in code:
        src = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(src)):
            assert not isinstance(node, ast.ClassDef), f"class in a cell: {cell.source[:80]}"
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                assert "exercise" in cell.metadata.get("tags", []), (
                    f"function outside an exercise cell: {cell.source[:80]}")


@pytest.fixture(scope="module")
def beanstalkd_env() -> object:
    from tests.realserver import RealBeanstalkd

    server = RealBeanstalkd().start()
    yield {"BEANSTALKD_HOST": server.host, "BEANSTALKD_PORT": str(server.port)}
    server.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, request: pytest.FixtureRequest,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    if path.stem.startswith("06"):
        for key, value in request.getfixturevalue("beanstalkd_env").items():
            monkeypatch.setenv(key, value)
    else:  # the simulated lessons must not need a server
        monkeypatch.setenv("BEANSTALKD_PORT", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p))
    nb = _read(path)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()  # a failing cell raises CellExecutionError
    seconds = time.perf_counter() - started
    print(f"\n{path.name}: {seconds:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr"
                                               and "Traceback" in o.text)]
    assert not errors, errors
    _assert_starter_not_yet(nb, path.name)
    _record(path.stem, seconds)


def _assert_starter_not_yet(nb: object, name: str) -> None:
    """The lesson's exercise, run with its starter answer, says "not yet" (never "correct")."""
    boxes = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code"
             for o in c.outputs if "stalksim-feedback" in o.get("data", {}).get("text/html", "")]
    assert boxes, f"{name}: the exercise check showed no feedback box"
    for box in boxes:
        assert "data-ok='false'" in box, f"{name}: the starter answer passes the check:\n{box}"


def _record(name: str, seconds: float) -> None:
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    try:
        times = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        times = {}
    times[name] = round(seconds, 2)
    TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
