"""Handouts: the life-cycle diagram's arrows are the engine's transitions (and a real
beanstalkd's), and the answer key holds every exercise on one readable page."""

from __future__ import annotations

import io
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.path import Path as Curve
from PIL import Image

import stalksim.exercises as ex
from stalksim import handouts, palette
from stalksim.handouts import answerkey, diagram, lifecycle
from stalksim.live.session import LiveSession
from tests.realserver import RealBeanstalkd

KNOWN = {
    ("new", "put", "ready"), ("new", "put with delay", "delayed"),
    ("ready", "reserve", "reserved"), ("reserved", "release", "ready"),
    ("reserved", "release with delay", "delayed"), ("reserved", "bury", "buried"),
    ("buried", "kick", "ready"), ("delayed", "kick", "ready"),
    ("buried", "kick-job", "ready"), ("delayed", "kick-job", "ready"),
    ("ready", "delete", "deleted"), ("reserved", "delete", "deleted"),
    ("delayed", "delete", "deleted"), ("buried", "delete", "deleted"),
    ("reserved", "time passes", "ready"), ("reserved", "connection closes", "ready"),
    ("delayed", "time passes", "ready"), ("reserved", "touch", "reserved"),
}
"""Transitions every beanstalkd 1.12 user knows (protocol.txt's diagram, and touch)."""
NEVER = {("ready", "bury"), ("ready", "release"), ("buried", "reserve"), ("delayed", "reserve"),
         ("ready", "kick")}
"""Commands that do not move a job from that state."""


@pytest.fixture(scope="module")
def edges() -> list[lifecycle.Edge]:
    return lifecycle.derive()


def triples(edges: list[lifecycle.Edge]) -> set[tuple[str, str, str]]:
    return {(e.src, e.action, e.dst) for e in edges}


def test_the_known_transitions_are_derived(edges: list[lifecycle.Edge]) -> None:
    assert KNOWN <= triples(edges), KNOWN - triples(edges)
    assert not {(e.src, e.action) for e in edges} & NEVER
    assert not [e for e in edges if e.src == "deleted"]  # nothing comes back from deleted
    causes = {(e.src, e.action): e.cause for e in edges}
    assert causes["reserved", "time passes"] == "ttr-expired"
    assert causes["delayed", "time passes"] == "delay-matured"
    assert causes["reserved", "connection closes"] == "connection-closed"
    assert causes["reserved", "release with delay"] == "release"


def test_the_engine_finds_what_a_list_would_miss(edges: list[lifecycle.Edge]) -> None:
    """reserve-job (1.12) takes a delayed or buried job straight to reserved."""
    assert {("delayed", "reserve-job", "reserved"), ("buried", "reserve-job", "reserved"),
            ("ready", "reserve-job", "reserved")} <= triples(edges)


def test_drawn_edges_equal_derived_ones(edges: list[lifecycle.Edge]) -> None:
    fig, drawn = diagram.draw(edges)
    assert sorted(drawn, key=repr) == sorted(edges, key=repr)
    labels = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    for key, group in diagram.groups(edges).items():
        words = labels[f"label:{key}"]
        for e in group:
            assert diagram.label(e) in words.split("\n") or diagram.label(e) == words, (e, words)
    states = {p.get_gid() for p in fig.axes[0].patches if ":" not in (p.get_gid() or ":")}
    assert states == set(lifecycle.STARTS)


def test_a_changed_engine_changes_the_drawing(edges: list[lifecycle.Edge]) -> None:
    fewer = [e for e in edges if e.action != "kick-job"]
    _fig, drawn = diagram.draw(fewer)
    assert not [e for e in drawn if e.action == "kick-job"]


def test_diagram_fits_the_page_and_reads_when_printed(edges: list[lifecycle.Edge]) -> None:
    fig, _ = diagram.draw(edges)
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for text in fig.axes[0].texts:
        box = text.get_window_extent(renderer)
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 <= page.y1, text
        assert text.get_fontsize() >= 8.5  # at A4: readable in print and on a projector
    assert tuple(fig.get_size_inches()) == diagram.A4_LANDSCAPE


def tagged(fig: Any, prefix: str) -> dict[str, Any]:
    """The diagram's artists whose gid starts with `prefix`, by the rest of their gid."""
    return {a.get_gid().removeprefix(prefix): a for a in fig.axes[0].get_children()
            if a.get_gid() and a.get_gid().startswith(prefix)}


def test_diagram_draws_in_the_one_palette(edges: list[lifecycle.Edge]) -> None:
    """Each state's box is filled as the views, the state tables and the flow view draw that
    state (reserved dark blue and buried grey: they were orange and pink), on the printed page
    too; each arrow, and its label's frame, in its cause's colour (stalksim.palette)."""
    fig, _ = diagram.draw(edges)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    page = np.asarray(fig.canvas.buffer_rgba())
    fills = {**palette.END_FILLS, **palette.STATE_COLOURS}
    boxes = {state: box for state, box in tagged(fig, "").items() if state in fills}
    assert set(boxes) == set(lifecycle.STARTS)
    for state, box in boxes.items():
        assert to_hex(box.get_facecolor()) == fills[state].lower(), state
        where = box.get_window_extent()  # a pixel inside the box, clear of its name
        x, y = where.x0 + 0.2 * fig.dpi, where.y1 - 0.1 * fig.dpi
        assert to_hex(page[int(page.shape[0] - y), int(x), :3] / 255) == fills[state].lower()
    assert fills["reserved"] == "#0072B2" and fills["buried"] == "#8C8C8C"
    arrows, labels, groups = tagged(fig, "arrow:"), tagged(fig, "label:"), diagram.groups(edges)
    assert set(arrows) == set(labels) == set(groups)
    for key, group in groups.items():
        colour = palette.MOVE_COLOURS[diagram.cause(group[0])].lower()
        assert to_hex(arrows[key].get_edgecolor()) == colour, key
        assert to_hex(labels[key].get_bbox_patch().get_edgecolor()) == colour, key
    assert to_hex(arrows["reserved->ready:ttr-expired"].get_edgecolor()) == \
        palette.TTR.lower()  # a hang's TTR expiry and a crash's closed connection, apart
    assert to_hex(arrows["reserved->ready:connection-closed"].get_edgecolor()) == \
        palette.CRASH.lower()


CLEARANCE = 3
"""Points to spare around each label: nothing may come closer."""


def hidden(fig: Any) -> list[str]:
    """What covers a label, or hides an arrow: another label, an arrow other than the label's
    own, any arrowhead (its own too), a state box; and arrows through boxes they do not join.
    Measured as drawn (text extents, the arrows' curves flattened to lines)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    pad = CLEARANCE * fig.dpi / 72
    labels = {k: t.get_bbox_patch().get_window_extent().padded(pad)
              for k, t in tagged(fig, "label:").items()}
    lines = {k: a.get_transform().transform_path(a.get_path()).to_polygons(closed_only=False)
             for k, a in tagged(fig, "arrow:").items()}  # [shaft, head]
    boxes = {s: b.get_window_extent() for s, b in tagged(fig, "").items()
             if s in lifecycle.STARTS}

    def crosses(polylines: list[Any], box: Any) -> bool:
        return any(Curve(p).intersects_bbox(box, filled=False) for p in polylines)

    out = [f"label {a} overlaps label {b}" for (a, box_a), (b, box_b)
           in combinations(labels.items(), 2) if box_a.overlaps(box_b)]
    for k, box in labels.items():
        out += [f"label {k} is crossed by arrow {a}" for a, shaft_head in lines.items()
                if crosses(shaft_head if a != k else shaft_head[1:], box)]
        out += [f"label {k} covers box {s}" for s, b in boxes.items() if box.overlaps(b)]
    for a, shaft_head in lines.items():
        ends = a.split(":")[0].split("->")
        out += [f"arrow {a} crosses box {s}" for s, b in boxes.items()
                if s not in ends and crosses(shaft_head, b)]
    return out


def test_no_label_is_hidden_and_no_arrow_runs_through_a_box(
        edges: list[lifecycle.Edge]) -> None:
    fig, _ = diagram.draw(edges)
    assert len(tagged(fig, "label:")) == len(tagged(fig, "arrow:")) == 18
    assert hidden(fig) == []


def test_hidden_labels_are_found(edges: list[lifecycle.Edge],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The check sees the two overlaps the old handout had: the kick label from BURIED on the
    TTR curve, and the DELAYED->DELETED curve through the touch label."""
    rad, _t = diagram.ROUTES["delayed", "deleted", "delete"]
    x, y = diagram.bezier_at(diagram.POSITIONS["delayed"], diagram.POSITIONS["deleted"], rad,
                             0.4)
    rx, ry = diagram.POSITIONS["reserved"]
    monkeypatch.setitem(diagram.ROUTES, ("buried", "ready", "kick"), (0.12, 0.5))
    monkeypatch.setattr(diagram, "TOUCH_LABEL", (x - rx, y - ry))
    found = hidden(diagram.draw(edges)[0])
    assert "label buried->ready:kick+kick-job is crossed by arrow reserved->ready:ttr-expired" \
        in found
    assert "label reserved->reserved:touch is crossed by arrow delayed->deleted:delete" in found


@pytest.mark.real
@pytest.mark.slow
def test_a_real_beanstalkd_has_the_same_transitions(edges: list[lifecycle.Edge]) -> None:
    server = RealBeanstalkd().start()
    try:
        live = lifecycle.derive(lambda: LiveSession(server.address, start=False),
                                fresh_tubes=True)
    finally:
        server.stop()
    assert triples(live) == triples(edges)


def test_answer_key_has_every_exercise_on_one_page() -> None:
    fig, size = answerkey.draw()
    assert size >= 5.5
    text = "\n".join(t.get_text() for t in fig.texts).replace("\u00a0", " ")
    for exercise_id in ex.list_exercises():
        e = ex.exercise(exercise_id)
        assert f"[{exercise_id}, lesson {e.lesson}]" in text
        first_line = e.solution.strip().splitlines()[0]
        assert first_line[:30] in text
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    w, h = answerkey.A4_PORTRAIT
    column = (w - 2 * answerkey.MARGIN - answerkey.GAP) / 2
    for t in fig.texts[2:]:  # the rows, after the title and the note beside it
        box = t.get_window_extent(renderer)
        left = box.x0 / fig.dpi
        right = answerkey.MARGIN + column if left < w / 2 else w - answerkey.MARGIN
        assert box.x1 / fig.dpi <= right + 0.02, t.get_text()
        assert box.y0 / fig.dpi >= answerkey.MARGIN * 0.9, t.get_text()


def test_answer_key_questions_say_what_is_asked() -> None:
    by_id = {e.id: e for e in answerkey.entries()}
    assert by_id["l2-priority-order"].question.startswith("A producer puts six jobs")
    assert "Answer: the list of bodies" in by_id["l2-priority-order"].question
    assert by_id["ex-bury-kick"].question.startswith("A bug made")
    assert "|" not in by_id["ex-explain-trace"].question  # tables stay in the notebook
    assert "`" not in "".join(e.question + e.why for e in by_id.values())


def test_too_much_text_is_refused() -> None:
    entry = answerkey.Entry("x", 1, "t", "word " * 3000, "answer = 1", "why")
    with pytest.raises(ValueError, match="do not fit on one page"):
        answerkey.draw([entry] * 5)


def test_main_writes_pdf_and_png(tmp_path: Path) -> None:
    out = io.StringIO()
    assert handouts.main([str(tmp_path / "handouts")], out) == 0
    names = sorted(Path(p).name for p in out.getvalue().split())
    assert names == ["answer-key.pdf", "answer-key.png", "lifecycle.pdf", "lifecycle.png"]
    for name in names:
        path = tmp_path / "handouts" / name
        head = path.read_bytes()[:8]
        assert head.startswith(b"%PDF" if name.endswith(".pdf") else b"\x89PNG"), name
    with Image.open(tmp_path / "handouts" / "lifecycle.png") as im:
        assert im.size == (round(11.69 * 200), round(8.27 * 200))
    (tmp_path / "file").write_text("")
    assert handouts.main([str(tmp_path / "file" / "sub")], io.StringIO()) == 1
