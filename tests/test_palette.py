"""One palette (issue 23, finding 5): the views, the state tables, the flow view's CSS and the
handouts (tests/test_handouts.py) draw each state, move and event in stalksim.palette's colour,
read back from what they draw; no other module spells those colours out."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

import stalksim  # noqa: E402
from stalksim import palette, views  # noqa: E402
from stalksim.palette import (  # noqa: E402
    CSS_VARIABLES,
    HUNG_FILL,
    MOVE_COLOURS,
    OTHER_JOB,
    STATE_COLOURS,
    ink_on,
)
from stalksim.scenarios import run_scenario  # noqa: E402
from stalksim.trace import NS, STATES  # noqa: E402
from stalksim.widgets.panel import snapshot  # noqa: E402
from tests.test_views import gid  # noqa: E402

ROOT = Path(stalksim.__file__).parent
STATIC = ROOT / "widgets" / "static"


def hexes(colours) -> set[str]:
    """The distinct colours of an artist's facecolors/edgecolors, as lower-case #rrggbb."""
    return {to_hex(c) for c in colours}


def same(a: str) -> str:
    """A CSS or palette colour as lower-case #rrggbb (#abc -> #aabbcc)."""
    a = a.lower()
    return "#" + "".join(2 * c for c in a[1:]) if len(a) == 4 else a


def fills(ax, name: str) -> set[str]:
    return {h for coll in gid(ax, name) for h in hexes(coll.get_facecolors())}


def lanes_story() -> list[tuple]:
    """Job 1 delayed, ready, reserved by w1 (who also held job 2), buried, kicked, reserved by
    w2, who hangs until its TTR runs out: every state a job's lanes draw."""
    s = NS
    return [(0, 1, "t", "new", "delayed", "put", "p"), (0, 2, "t", "new", "ready", "put", "p"),
            (0, 2, "t", "ready", "reserved", "reserve", "w1"),
            (1 * s, 1, "t", "delayed", "ready", "delay-matured", ""),
            (1 * s, 2, "t", "reserved", "deleted", "delete", "w1"),
            (2 * s, 1, "t", "ready", "reserved", "reserve", "w1"),
            (3 * s, 1, "t", "reserved", "buried", "bury", "w1"),
            (4 * s, 1, "t", "buried", "ready", "kick", "p"),
            (5 * s, 1, "t", "ready", "reserved", "reserve", "w2"),
            (6 * s, 1, "t", "", "", "hang", "w2"),
            (8 * s, 1, "t", "reserved", "ready", "ttr-expired", "w2")]


def test_job_lanes_draw_every_state_in_the_palette_colours() -> None:
    fig = views.crash_vs_hang(lanes_story(), lanes_story(), job=1)
    for ax in fig.axes:
        for state in STATES:
            assert fills(ax, state) == {same(STATE_COLOURS[state])}, state
        (hung,) = gid(ax, "hung")
        assert hexes(hung.get_facecolors()) == {same(HUNG_FILL)}
        assert hexes(hung.get_edgecolors()) == {same(STATE_COLOURS["reserved"])}
        assert fills(ax, "other-job") == {same(OTHER_JOB)}
        moves = [a for a in ax.get_children() if (a.get_gid() or "").startswith("move:")]
        assert moves
        for arrow in moves:
            cause = arrow.get_gid().removeprefix("move:")
            assert to_hex(arrow.arrow_patch.get_edgecolor()) == same(MOVE_COLOURS[cause])


def test_swimlanes_and_timeline_draw_states_in_the_palette_colours() -> None:
    ax = views.worker_swimlanes(run_scenario("crashed-consumer", seed=0).trace).axes[0]
    for state in ("ready", "reserved"):  # waiting in a tube lane, held in a worker lane
        assert fills(ax, state) == {same(STATE_COLOURS[state])}, state
    ax = views.worker_swimlanes(run_scenario("hung-consumer", seed=0).trace).axes[0]
    assert fills(ax, "hung") == {same(HUNG_FILL)}
    ax = views.job_timeline(lanes_story()).axes[0]
    for state in STATES:
        assert fills(ax, state) == {same(STATE_COLOURS[state])}, state
    handles = ax.get_legend().legend_handles
    drawn = {h.get_label(): to_hex(h.get_facecolor()) for h in handles if h.get_label() in STATES}
    assert drawn == {s: same(c) for s, c in STATE_COLOURS.items()}


def test_state_tables_chip_each_job_in_its_state_colour() -> None:
    sim = stalksim.Simulation(seed=0)
    c = sim.client()
    ids = {"delayed": c.put("a", delay=60), "buried": c.put("b")}
    c.bury(c.reserve(timeout=0))
    ids["reserved"] = c.put("c")
    c.reserve(timeout=0)
    ids["ready"] = c.put("d")
    html = snapshot(sim, {"c": c}).data
    chips = {int(text): (bg, fg) for bg, fg, text in re.findall(
        r"<span style='background:(#\w+);color:(#\w+);[^']*'>(\d+)\b", html)}
    for state, job in ids.items():
        assert chips[job] == (STATE_COLOURS[state], ink_on(STATE_COLOURS[state])), state


def test_css_fallbacks_equal_the_palette() -> None:
    """Each `var(--fv-NAME, #HEX)` in the flow view's and the tour's CSS falls back to
    CSS_VARIABLES[NAME], the value the widget sets."""
    found = [(path.name, name, value) for path in sorted(STATIC.glob("*.css"))
             for name, value in re.findall(r"var\(--fv-([\w-]+),\s*(#[0-9A-Fa-f]+)\)",
                                           path.read_text())]
    assert len(found) > 20
    wrong = [(f, n, v) for f, n, v in found
             if n not in CSS_VARIABLES or same(v) != same(CSS_VARIABLES[n])]
    assert not wrong, wrong


def test_flow_view_moves_are_the_palette_moves() -> None:
    """flowview.css colours a move by its cause (`.fv-cause-<cause>`) as MOVE_COLOURS does."""
    css = (STATIC / "flowview.css").read_text()
    seen = {}
    for selectors, body in re.findall(r"((?:\.fv-cause-[\w-]+,?\s*)+)\{([^}]*)\}", css):
        stroke = re.search(r"stroke:\s*(var\(--fv-([\w-]+),[^)]*\)|#[0-9A-Fa-f]+)", body)
        assert stroke, selectors
        value = CSS_VARIABLES[stroke[2]] if stroke[2] else stroke[1]
        for cause in re.findall(r"\.fv-cause-([\w-]+)", selectors):
            seen[cause] = same(value)
    assert seen == {cause: same(c) for cause, c in MOVE_COLOURS.items()}


def test_ink_on_picks_the_readable_text_colour() -> None:
    assert ink_on(STATE_COLOURS["reserved"]) == "#FFFFFF"  # on the dark blue
    assert {ink_on(STATE_COLOURS[s]) for s in ("ready", "delayed", "buried")} == {"#000000"}


@pytest.mark.parametrize("name", ["STATE_COLOURS", "MOVE_COLOURS", "CSS_VARIABLES"])
def test_no_other_module_spells_out_the_palette(name: str) -> None:
    """The palette's state, move and event colours are written only in stalksim/palette.py
    (the static CSS names them as variables, checked above). stalksim/exercises is left out:
    its progress chart colours exercise statuses, not jobs."""
    colours = {same(c) for c in getattr(palette, name).values()} - {"#000000", "#ffffff"}
    found = [(str(path.relative_to(ROOT)), hit) for path in sorted(ROOT.rglob("*.py"))
             if path.name != "palette.py" and "exercises" not in path.parts
             for hit in re.findall(r"#[0-9A-Fa-f]{6}\b", path.read_text())
             if same(hit) in colours]
    assert not found, found
