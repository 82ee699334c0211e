"""`python -m stalksim.exercises report SUBMISSIONS/`: which exercise each student passed.

SUBMISSIONS holds one notebook per student (`alice.ipynb`) or one folder per student
(`bob/…/*.ipynb`, as nbgrader collects them): the file or folder name is the student. Each
notebook runs in its own Python process (bounded in time), top to bottom, with
`stalksim.exercises.check` recording every check the student's cells make: the real checker,
on the student's own answer. The report prints a table, and writes `progress.csv` (one row per
student), `progress-details.csv` (each verdict with its feedback) and `progress.png` (a bar
per exercise).

Statuses: passed; not yet (the check ran and said so); error (the check's cell raised first);
not checked (the notebook mentions the exercise but never checked it); unreadable (not a
notebook); timeout; blank when the student's notebooks do not have that exercise.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from stalksim._browser import refuse

STATUSES = ("passed", "not yet", "error", "not checked", "timeout")
"""Verdicts, best first: a student's best verdict on an exercise is the one reported."""
SHORT = {"passed": "pass", "not yet": "no", "error": "err", "not checked": "?",
         "timeout": "time", "": "-"}
MENTION = re.compile(r"""\b(?:check|show|solution)\(\s*["']([A-Za-z0-9_.-]+)["']""")


@dataclass
class Verdict:
    """One exercise in one notebook."""

    student: str
    notebook: str
    exercise: str
    status: str
    message: str = ""


# ---- one notebook, in a child process -----------------------------------------------------------

def run_notebook(path: Path, results: Path) -> None:
    """Run `path`'s code cells here, recording each check as a JSON line in `results` (so what
    was recorded survives a timeout); then a line per exercise mentioned but not checked."""
    import matplotlib

    matplotlib.use("Agg")
    import nbformat

    import stalksim.exercises as ex
    from stalksim.doctor import exec_cell
    from stalksim.exercises._sandbox import describe

    known = set(ex.list_exercises())
    real_check = ex.check
    out = results.open("a")
    checked: set[str] = set()
    cell_no = 0

    def emit(**fields: Any) -> None:
        out.write(json.dumps(fields) + "\n")
        out.flush()

    def recording(exercise_id: str, answer: Any) -> Any:
        feedback = real_check(exercise_id, answer)
        checked.add(exercise_id)
        emit(exercise=exercise_id, status="passed" if feedback.ok else "not yet",
             message=feedback.message, cell=cell_no)
        return feedback

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        emit(exercise="", status="unreadable", message=f"{type(e).__name__}: {e}"[:300])
        return
    ex.check = recording  # `import stalksim.exercises as ex` and `from ... import check` see it
    errors: dict[int, str] = {}
    os.chdir(path.parent)
    ns: dict[str, Any] = {"__name__": "__main__"}
    code_cells = [(i, c.source) for i, c in enumerate(nb.cells, 1) if c.cell_type == "code"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for cell_no, source in code_cells:
            try:
                exec_cell(source, ns, f"<cell {cell_no}>")
            except BaseException as e:  # noqa: B036 - a student's sys.exit() or Ctrl-C too
                if isinstance(e, KeyboardInterrupt):
                    raise
                errors[cell_no] = describe(e, f"Cell {cell_no}")
    mentioned: dict[str, list[tuple[int, str]]] = {}
    for cell, source in code_cells:
        for exercise_id in dict.fromkeys(MENTION.findall(source)):
            mentioned.setdefault(exercise_id, []).append((cell, source))
    for exercise_id, cells in mentioned.items():
        if exercise_id not in known or exercise_id in checked:
            continue
        raised = [cell for cell, source in cells if "check(" in source and cell in errors]
        if raised:
            emit(exercise=exercise_id, status="error", message=errors[raised[-1]],
                 cell=raised[-1])
        else:
            emit(exercise=exercise_id, status="not checked", message="no check of it ran",
                 cell=cells[0][0])


def _verdicts(student: str, path: Path, timeout: float) -> list[Verdict]:
    """Run one notebook in a child process; its verdicts (timeout: for what did not run)."""
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        results.touch()
        status = ""
        try:
            proc = subprocess.run([sys.executable, "-m", "stalksim.exercises.report", "--one",
                                   str(path.resolve()), str(results)], capture_output=True,
                                  text=True, timeout=timeout, env={**os.environ,
                                                                   "MPLBACKEND": "Agg"})
            if proc.returncode:
                status = f"the run stopped: {proc.stderr.strip().splitlines()[-1:]}"
        except subprocess.TimeoutExpired:
            status = "timeout"
        rows = [json.loads(x) for x in results.read_text().splitlines() if x.strip()]
    name = str(path)
    found = [Verdict(student, name, r["exercise"], r["status"], r.get("message", ""))
             for r in rows]
    if status == "timeout":
        seen = {v.exercise for v in found}
        text = path.read_text(errors="replace")
        found += [Verdict(student, name, i, "timeout", f"the notebook ran over {timeout:g} s")
                  for i in dict.fromkeys(MENTION.findall(text)) if i not in seen]
    elif status and not found:
        found.append(Verdict(student, name, "", "unreadable", status))
    return found


# ---- the class -------------------------------------------------------------------------------

def submissions(root: Path) -> dict[str, list[Path]]:
    """Student -> their notebooks: `root/NAME.ipynb`, or every notebook under `root/NAME/`."""
    out: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            out[entry.stem] = [entry]
        elif entry.is_dir():
            out[entry.name] = sorted(p for p in entry.rglob("*.ipynb")
                                     if ".ipynb_checkpoints" not in p.parts)
    return out


def collect(root: Path, timeout: float = 300, jobs: int = 1) -> tuple[dict[str, list[str]],
                                                                      list[Verdict]]:
    """(student -> their notebooks, every verdict), running the notebooks `jobs` at a time."""
    refuse("stalksim.exercises.report", "a Python process per notebook, which a browser "
           "cannot start", "run `python -m stalksim.exercises report SUBMISSIONS/` on your own "
           "machine")
    students = submissions(root)
    work = [(s, p) for s, paths in students.items() for p in paths]
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        found = list(pool.map(lambda sp: _verdicts(sp[0], sp[1], timeout), work))
    return ({s: [str(p) for p in ps] for s, ps in students.items()},
            [v for vs in found for v in vs])


def best(verdicts: Sequence[Verdict]) -> dict[str, dict[str, Verdict]]:
    """Student -> exercise -> their best verdict on it."""
    out: dict[str, dict[str, Verdict]] = {}
    for v in verdicts:
        if not v.exercise:
            continue
        mine = out.setdefault(v.student, {})
        old = mine.get(v.exercise)
        if old is None or STATUSES.index(v.status) < STATUSES.index(old.status):
            mine[v.exercise] = v
    return out


def exercise_order(verdicts: Sequence[Verdict]) -> list[str]:
    """The exercises the class met, in the registry's lesson order."""
    from stalksim.exercises import list_exercises

    met = {v.exercise for v in verdicts if v.exercise}
    return [e for e in list_exercises() if e in met]


def notes(student: str, notebooks: Sequence[str], verdicts: Sequence[Verdict]) -> str:
    """What the table cannot show: no notebook, an unreadable one, no exercise in them."""
    if not notebooks:
        return "no notebook"
    bad = [f"{Path(v.notebook).name} unreadable ({v.message})" for v in verdicts
           if v.student == student and v.status == "unreadable"]
    if bad:
        return "; ".join(bad)
    if not any(v.student == student and v.exercise for v in verdicts):
        return "no exercise found"
    return ""


def table(students: dict[str, list[str]], verdicts: Sequence[Verdict]) -> str:
    """Students down, exercises across: pass / no / err / ? / time / -."""
    order = exercise_order(verdicts)
    grid = best(verdicts)
    width = max([len(s) for s in students] + [7])
    head = f"{'student':<{width}}  " + "  ".join(f"E{i + 1:<3}" for i in range(len(order)))
    lines = [head + "  passed  notes"]
    for s in students:
        marks = [SHORT[grid.get(s, {}).get(e, Verdict("", "", e, "")).status] for e in order]
        passed = marks.count("pass")
        lines.append(f"{s:<{width}}  " + "  ".join(f"{m:<4}" for m in marks)
                     + f"  {passed:>2}/{len(order):<3}  {notes(s, students[s], verdicts)}")
    counts = [sum(1 for s in students if grid.get(s, {}).get(e, Verdict("", "", "", "")).status
                  == "passed") for e in order]
    lines.append(f"{'passed':<{width}}  " + "  ".join(f"{c:<4}" for c in counts))
    lines.append("")
    lines += [f"E{i + 1}: {e}" for i, e in enumerate(order)]
    lines.append("pass: passed; no: not yet; err: the check's cell raised; ?: not checked; "
                 "time: timed out; -: not in the student's notebooks")
    return "\n".join(lines)


def write_csv(students: dict[str, list[str]], verdicts: Sequence[Verdict], out: Path
              ) -> list[Path]:
    """progress.csv (student, one column per exercise, passed, notes) and
    progress-details.csv (one row per verdict, with the feedback's text)."""
    order = exercise_order(verdicts)
    grid = best(verdicts)
    wide, long = out / "progress.csv", out / "progress-details.csv"
    with wide.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *order, "passed", "notes"])
        for s in students:
            row = [grid.get(s, {}).get(e, Verdict("", "", e, "")).status for e in order]
            w.writerow([s, *row, row.count("passed"), notes(s, students[s], verdicts)])
    with long.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "exercise", "status", "message"])
        for v in verdicts:
            w.writerow([v.student, v.notebook, v.exercise, v.status, v.message])
    return [wide, long]


COLOURS = {"passed": "#009E73", "not yet": "#E69F00", "error": "#D55E00",
           "not checked": "#CC79A7", "timeout": "#0072B2", "": "#dddddd"}


def chart(students: dict[str, list[str]], verdicts: Sequence[Verdict], path: Path) -> Path:
    """A horizontal bar per exercise: how many students passed, are not there yet, ..."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = exercise_order(verdicts)
    grid = best(verdicts)
    fig = Figure(figsize=(8, 1.2 + 0.38 * max(1, len(order))))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    left = [0] * len(order)
    for status in (*STATUSES, ""):
        counts = [sum(1 for s in students if grid.get(s, {}).get(e, Verdict("", "", e, ""))
                      .status == status) for e in order]
        ax.barh(order, counts, left=left, color=COLOURS[status], label=status or "not there",
                edgecolor="white")
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlim(0, max(1, len(students)))
    ax.set_xlabel("students")
    ax.set_title(f"Class progress: {len(students)} students")
    ax.xaxis.get_major_locator().set_params(integer=True)
    height = fig.get_figheight()
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=6, frameon=False,
               fontsize=8)
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1))  # room for the legend under the axis
    fig.savefig(path, dpi=150)
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stalksim.exercises report",
                                description="Which exercise each student passed, from the "
                                "submitted notebooks (file or folder name = student).")
    p.add_argument("submissions", type=Path, metavar="SUBMISSIONS")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help="where progress.csv, progress-details.csv and progress.png go "
                        "(default: here)")
    p.add_argument("--timeout", type=float, default=300, help="seconds per notebook")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Print the table and write the files; 0, or 2 when SUBMISSIONS is not a folder."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--one"]:  # the child process: one notebook
        run_notebook(Path(argv[1]), Path(argv[2]))
        return 0
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    if not args.submissions.is_dir():
        print(f"report: error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    students, verdicts = collect(args.submissions, args.timeout, args.jobs)
    if not students:
        print(f"report: error: no notebooks or student folders in {args.submissions}",
              file=sys.stderr)
        return 2
    print(table(students, verdicts), file=out)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in [*write_csv(students, verdicts, args.out),
                 chart(students, verdicts, args.out / "progress.png")]:
        print(f"wrote {path}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
