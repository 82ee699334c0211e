"""Generate the student exercise notebooks from the instructor notebooks.

    python scripts/make_student_notebooks.py            # write notebooks/exercises/NN-<id>.ipynb
    python scripts/make_student_notebooks.py --check    # exit 1 if anything is out of date
    python scripts/make_student_notebooks.py --new ex-my-exercise   # scaffold an instructor one

The instructor notebooks in course/instructor/ are the source: they hold the solutions, so
they are kept out of notebooks/, the folder learners browse (lab.sh, Binder). In the student
copy every cell tagged `solution` becomes the exercise's starter code (tagged `starter`), and
all outputs are stripped. `--check` also verifies that each instructor solution cell is the
registered solution (stalksim/exercises), so `solution()` and the notebook never disagree, and
that instructor notebooks are committed without outputs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import stalksim.exercises as ex  # noqa: E402

EXERCISES = ROOT / "notebooks" / "exercises"
INSTRUCTOR = ROOT / "course" / "instructor"
NAME = re.compile(r"^(\d\d)-(.+)\.ipynb$")


def _code(source: str, cell_id: str, tags: list[str]) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source.rstrip("\n"), id=cell_id)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def _md(source: str, cell_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(source.rstrip("\n"), id=cell_id)


def scaffold(exercise_id: str, number: int) -> nbformat.NotebookNode:
    """A new instructor notebook for a registered exercise."""
    e = ex.exercise(exercise_id)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"},
                   "language_info": {"name": "python"}}
    nb.cells = [
        _md(f"# Exercise {number}: {e.title}\n\nRun the cells from the top. Write your answer "
            f"in the code cell below the instructions, then run the check: it says what is "
            f"right, what is wrong, and gives a hint. Change your answer and check again as "
            f"often as you like. The first hint to a wrong answer gives the idea and what to "
            f"look at; check a wrong answer again, or run `ex.hint(\"{e.id}\", 2)`, for a "
            f"step-by-step hint.", "intro"),
        _code(f'import stalksim.exercises as ex\n\nex.show("{e.id}")', "show", []),
        _code(e.solution, "answer", ["solution"]),
        _code(f'feedback = ex.check("{e.id}", answer)\nfeedback', "check", ["check"]),
        _md("Stuck? The next cell shows a solution, folded: click it to unfold.", "stuck"),
        _code(f'ex.solution("{e.id}")', "solution", []),
    ]
    return nb


def student(nb: nbformat.NotebookNode, exercise_id: str) -> nbformat.NotebookNode:
    """The student copy: solution cells become the starter code; no outputs."""
    out = nbformat.from_dict(nb)
    starter = ex.exercise(exercise_id).starter
    cells = []
    for cell in out.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution" in tags:
            cell = _code(starter, cell.get("id", "answer"), ["starter"])
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    out.cells = cells
    return out


def problems_in_instructor(nb: nbformat.NotebookNode, exercise_id: str, path: Path) -> list[str]:
    found = []
    solution = ex.exercise(exercise_id).solution.strip()
    sols = [c for c in nb.cells if "solution" in c.get("metadata", {}).get("tags", [])]
    if not sols:
        found.append(f"{path.name}: no cell tagged 'solution'")
    for c in sols:
        if c.source.strip() != solution:
            found.append(f"{path.name}: the solution cell differs from the registered solution "
                         f"of {exercise_id} (stalksim/exercises): update one to match the other")
    if any(c.cell_type == "code" and (c.outputs or c.execution_count) for c in nb.cells):
        found.append(f"{path.name}: has outputs; clear them before committing "
                     f"(this script's default mode strips them)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only check; exit 1 if a student notebook is out of date")
    parser.add_argument("--new", metavar="ID",
                        help="write an instructor notebook for a registered exercise")
    args = parser.parse_args(argv)

    INSTRUCTOR.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in INSTRUCTOR.glob("*.ipynb") if NAME.match(p.name))
    if args.new:
        if any(NAME.match(p.name)[2] == args.new for p in sources):
            print(f"an instructor notebook for {args.new} exists already", file=sys.stderr)
            return 1
        number = 1 + max((int(NAME.match(p.name)[1]) for p in sources), default=0)
        path = INSTRUCTOR / f"{number:02d}-{args.new}.ipynb"
        path.write_text(nbformat.writes(scaffold(args.new, number)) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}; now run this script without --new")
        return 0

    problems: list[str] = []
    wanted: set[str] = set()
    for path in sources:
        exercise_id = NAME.match(path.name)[2]
        nb = nbformat.read(path, as_version=4)
        target = EXERCISES / path.name
        wanted.add(path.name)
        text = nbformat.writes(student(nb, exercise_id)) + "\n"
        if args.check:
            problems += problems_in_instructor(nb, exercise_id, path)
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                problems.append(f"{target.relative_to(ROOT)} is out of date")
        else:
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
            target.write_text(text, encoding="utf-8")
            problems += [p for p in problems_in_instructor(nb, exercise_id, path)
                         if "has outputs" not in p]
    for stale in sorted(EXERCISES.glob("*.ipynb")):
        if stale.name not in wanted:
            problems.append(f"{stale.relative_to(ROOT)} has no instructor notebook")
    for p in problems:
        print(p, file=sys.stderr)
    if args.check and problems:
        print("run: python scripts/make_student_notebooks.py", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
