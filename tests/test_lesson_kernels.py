"""Lesson kernels do not pile up (issue 23): every lesson ends by saying how to shut its kernel
down, no lesson loads pandas (about 30 MB a kernel, for one small table), and what the closing
note says about Binder is what binder/jupyter_server_config.json does. Memory per lesson:
`python -m benchmarks.kernel`."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

from benchmarks import kernel

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
CULL = json.loads((ROOT / "binder" / "jupyter_server_config.json").read_text())


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _imports(cell: nbformat.NotebookNode) -> set[str]:
    code = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith("%"))
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_ends_saying_how_to_shut_its_kernel_down(path: Path) -> None:
    last = _read(path).cells[-1]
    assert last.cell_type == "markdown", "the last cell should be the note on the kernel"
    text = " ".join(last.source.split())
    assert "*Kernel → Shut Down Kernel*" in text  # the menu, and the running-kernels panel
    assert "*Running Terminals and Kernels*" in text
    minutes = CULL["MappingKernelManager"]["cull_idle_timeout"] // 60
    assert f"kernel left unused for {minutes} minutes is shut down" in text


def test_the_note_is_the_same_in_every_lesson() -> None:
    notes = {_read(p).cells[-1].source for p in LESSONS}
    assert len(notes) == 1, notes


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_lesson_imports_pandas(path: Path) -> None:
    code = [c for c in _read(path).cells if c.cell_type == "code"]
    assert not any("pandas" in _imports(c) for c in code)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lesson_5_kernel_after_run_all() -> None:
    """The lesson that had the largest kernel (it made one table with pandas)."""
    (found,) = kernel.measure_all([ROOT / "notebooks" / "05-many-workers.ipynb"])
    assert isinstance(found, kernel.KernelMemory), found
    assert "pandas" not in found.heavy and "matplotlib" in found.heavy  # the probe is real
    assert found.rss <= kernel.TARGET_MIB * kernel.MiB, found.line()


def test_the_guide_says_what_binder_does() -> None:
    guide = " ".join((ROOT / "docs" / "teaching.md").read_text(encoding="utf-8").split())
    minutes = CULL["MappingKernelManager"]["cull_idle_timeout"] // 60
    assert f"shuts down any kernel left unused for {minutes} minutes" in guide


def test_the_benchmark_row_names_the_largest_kernel() -> None:
    found = [kernel.KernelMemory("01-a", 100 * kernel.MiB, 80 * kernel.MiB, 1.0, ()),
             kernel.KernelMemory("02-b", 160 * kernel.MiB, 120 * kernel.MiB, 1.0, ("pandas",)),
             "06-going-live: skipped (no beanstalkd installed)"]
    n, _, measured, target, met = kernel.row("15", found)
    assert (n, met, target) == ("15", "NO", "<= 150 MiB")
    assert measured.startswith("160 MiB (02-b); smallest 100 MiB (01-a)")
    assert kernel.row("15", found[:1])[-1] == "yes"
    assert kernel.row("15", found[2:])[-1] == "skipped"
