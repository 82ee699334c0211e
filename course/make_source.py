"""Make the nbgrader source notebooks of the course from the exercise registry.

    python course/make_source.py            # write course/source/<assignment>/<assignment>.ipynb
    python course/make_source.py --check    # exit 1 if a source notebook is out of date

Each exercise gets its instructions (Markdown), an answer cell that starts with the starter
code and holds the solution in an nbgrader solution region (`### BEGIN SOLUTION` ...), the
self-study feedback (`ex.check`, as in the exercise notebooks), and a locked, autograded test
cell worth `POINTS[id]` that asserts the same checker passes. Then, in course/:

    nbgrader generate_assignment ps1        # release/ps1/ps1.ipynb: the student version
    nbgrader autograde ps1 --create         # grades submitted/<student>/ps1/ps1.ipynb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

COURSE = Path(__file__).resolve().parent
sys.path.insert(0, str(COURSE.parent))

import stalksim.exercises as ex  # noqa: E402

ASSIGNMENTS = {
    "ps1": ("Tubes and priorities", ["ex-predict-tubes", "ex-design-tubes",
                                     "ex-predict-priorities", "ex-equal-priorities"]),
    "ps2": ("Consumers that die, and retries", ["ex-survive-crash", "ex-forgot-delete",
                                                "ex-explain-trace", "ex-backoff",
                                                "ex-bury-kick"]),
    "ps3": ("Many workers", ["ex-ttr", "ex-size-workers"]),
    "ps4": ("When the server restarts", ["l7-idempotent"]),
}
POINTS = {"ex-design-tubes": 2, "ex-survive-crash": 2, "ex-forgot-delete": 2,
          "ex-backoff": 3, "ex-ttr": 2, "ex-size-workers": 2, "l7-idempotent": 3}
"""Points per exercise (1 unless listed): the ones that need code or a calculation weigh more."""


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: int = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _cell(kind: str, source: str, cell_id: str, **nbgrader: object) -> nbformat.NotebookNode:
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source.rstrip("\n"), id=cell_id)
    if nbgrader:
        cell.metadata.update(_meta(cell_id, **nbgrader))  # type: ignore[arg-type]
    return cell


def _after(solution: str) -> str:
    """The solution as it follows the starter in one cell: its imports are marked for ruff
    (they are at the top of the cell once the student version drops the starter)."""
    return "\n".join(f"{x}  # noqa: E402, F811" if x.startswith(("import ", "from ")) else x
                     for x in solution.rstrip().splitlines())


def source_notebook(name: str) -> nbformat.NotebookNode:
    """The instructor (source) notebook of one assignment."""
    title, ids = ASSIGNMENTS[name]
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"}, "language_info": {"name": "python"}}
    total = sum(POINTS.get(i, 1) for i in ids)
    nb.cells = [
        _cell("markdown", f"# {name}: {title}\n\nWrite each answer in the cell under its "
              f"instructions (change the starter code), and run the check below it as often "
              f"as you like: it says what is right and what is wrong, with a hint. The locked "
              f"cell after it is what the grader runs ({total} points in all). Run the whole "
              f"notebook from the top before you submit.", "intro", locked=True),
        _cell("code", "import stalksim.exercises as ex", "imports", locked=True),
    ]
    for exercise_id in ids:
        e = ex.exercise(exercise_id)
        key = exercise_id.removeprefix("ex-")
        nb.cells += [
            _cell("markdown", str(ex.show(exercise_id)), f"{key}-instructions", locked=True),
            _cell("code", f"{e.starter.rstrip()}\n### BEGIN SOLUTION\n{_after(e.solution)}\n"
                  f"### END SOLUTION", f"{key}-answer", solution=True),
            _cell("code", f'ex.check("{exercise_id}", answer)', f"{key}-feedback"),
            _cell("code", f'feedback = ex.check("{exercise_id}", answer)\n'
                  f'assert feedback.ok, str(feedback)', f"{key}-graded", grade=True,
                  locked=True, points=POINTS.get(exercise_id, 1)),
        ]
    return nb


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if anything is out of date")
    args = p.parse_args(argv)
    stale = []
    for name in ASSIGNMENTS:
        path = COURSE / "source" / name / f"{name}.ipynb"
        text = nbformat.writes(source_notebook(name)) + "\n"
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(COURSE.parent)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
