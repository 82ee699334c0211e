"""Every lesson statement about beanstalkd is an executed cell, checked on sim and real.

docs/claims.md lists the claims: the lesson, the cell's tag and what its output must contain.
Each lesson's runnable cells are executed on the simulator and, unchanged, on a real
beanstalkd (tests/lesson_cells.py); both must print the same in every cell, and each claim's
pieces must be in its cell's output.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests.lesson_cells import LESSONS, code_cells, run_lesson
from tests.realserver import RealBeanstalkd, require_beanstalkd

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "docs" / "claims.md"
ROW = re.compile(r"^\|(?P<claim>[^|]+)\|\s*(?P<nb>\d\d)\s*\|\s*`claim:(?P<id>[\w-]+)`\s*\|"
                 r"(?P<shows>[^|]+)\|(?P<backends>[^|]+)\|\s*$")


def claims_table() -> dict[str, dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    for line in TABLE.read_text().splitlines():
        m = ROW.match(line)
        if m:
            assert m["id"] not in rows, f"claim {m['id']} is listed twice"
            pieces = re.findall(r"`([^`]+)`", m["shows"])
            rows[m["id"]] = {"claim": m["claim"].strip(), "notebook": m["nb"],
                             "pieces": pieces,
                             "backends": {b.strip() for b in m["backends"].split(",")}}
    return rows


def tagged_claims() -> dict[str, str]:
    """claim id -> the two-digit lesson number of the notebook whose cell carries it."""
    found: dict[str, str] = {}
    for path in LESSONS:
        for _i, tags, _src in code_cells(path):
            for tag in tags:
                if tag.startswith("claim:"):
                    cid = tag.split(":", 1)[1]
                    assert cid not in found, f"claim {cid} tags two cells"
                    found[cid] = path.name[:2]
    return found


def test_table_and_notebooks_list_the_same_claims() -> None:
    table, tags = claims_table(), tagged_claims()
    assert len(table) >= 25
    assert set(table) == set(tags), {"only in docs/claims.md": set(table) - set(tags),
                                     "only in the notebooks": set(tags) - set(table)}
    for cid, row in table.items():
        assert row["notebook"] == tags[cid], f"{cid}: the table says lesson {row['notebook']}"
        assert row["pieces"], f"{cid}: the table gives nothing the output must show"
        assert row["backends"] <= {"sim", "real"} and "real" in row["backends"], cid


def _check_pieces(runs: list, table: dict, leg: str) -> None:
    for run in runs:
        for cid in run.claims:
            for piece in table[cid]["pieces"]:
                assert piece in run.output, (
                    f"{leg}: cell {run.index} ({cid}) does not show {piece!r}; it printed:\n"
                    f"{run.output}")


SIMULATED = [p for p in LESSONS if not p.name.startswith("06")]


@pytest.mark.real
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", SIMULATED, ids=[p.name[:2] for p in SIMULATED])
def test_lesson_claims_hold_on_sim_and_real(path: Path) -> None:
    require_beanstalkd()
    table = claims_table()
    sim, real = run_lesson(path, "sim"), run_lesson(path, "real")
    assert [r.index for r in sim] == [r.index for r in real]
    assert any(r.claims for r in sim), f"{path.name} has no claim cell"
    for s, r in zip(sim, real, strict=True):
        assert s.output == r.output, (
            f"{path.name} cell {s.index}: the simulator and a real beanstalkd differ\n"
            f"--- sim:\n{s.output}--- real:\n{r.output}")
    _check_pieces(sim, table, "sim")
    _check_pieces(real, table, "real")


@pytest.mark.real
@pytest.mark.timeout(300)
def test_live_lesson_claims_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    server = RealBeanstalkd().start()
    try:
        monkeypatch.setenv("BEANSTALKD_HOST", server.host)
        monkeypatch.setenv("BEANSTALKD_PORT", str(server.port))
        path = next(p for p in LESSONS if p.name.startswith("06"))
        runs = run_lesson(path, "sim")  # lesson 6 talks to the real server itself
        assert any(r.claims for r in runs)
        _check_pieces(runs, claims_table(), "real")
    finally:
        server.stop()


def test_a_wrong_claim_is_caught(tmp_path: Path) -> None:
    """The guard bites: a piece the cell does not print fails the check."""
    runs = run_lesson(next(p for p in LESSONS if p.name.startswith("01")), "sim")
    table = claims_table()
    first = next(r for r in runs if r.claims)  # lesson 1 opens on the tour, which claims nothing
    cid = first.claims[0]
    bad = {cid: {**table[cid], "pieces": ["producer watches nothing"]}}
    with pytest.raises(AssertionError, match="does not show"):
        _check_pieces([first], bad, "sim")


@pytest.mark.real
@pytest.mark.timeout(120)
def test_the_real_leg_really_talks_to_beanstalkd(tmp_path: Path) -> None:
    """Lesson 1 opens on the tour: its first code cell is no longer the imports. The runner took
    the tour for the imports, the imports cell then bound `stalksim` to the simulator again,
    and lesson 1's 'real' leg ran on the simulator. Now the tour is skipped, a later cell that
    imports stalksim cannot undo the swap, and a leg that never reached the server fails."""
    require_beanstalkd()

    def lesson(*sources: str) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# a lesson"),
                    nbformat.v4.new_code_cell("tour = 'no claims'", metadata={"tags": ["tour"]}),
                    nbformat.v4.new_code_cell("import stalksim"),
                    *(nbformat.v4.new_code_cell(src) for src in sources)]
        path = tmp_path / f"09-example-{len(sources)}.ipynb"
        nbformat.write(nb, path)
        return path

    put = "sim = stalksim.Simulation(seed=1)\nprint(type(sim).__name__, sim.client().put('x'))"
    path = lesson("import stalksim  # again", put)
    assert [r.output for r in run_lesson(path, "real")] == ["", "LiveSession 1\n"]
    assert [r.output for r in run_lesson(path, "sim")] == ["", "Simulation 1\n"]
    with pytest.raises(AssertionError, match="no cell reached a real beanstalkd"):
        run_lesson(lesson("import stalksim\n" + put), "real")  # the simulator, in the cell
    lesson_1 = next(p for p in LESSONS if p.name.startswith("01"))
    assert [i for i, tags, _ in code_cells(lesson_1) if "tour" in tags]  # the case above
