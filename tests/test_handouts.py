"""Handouts: the life-cycle diagram's arrows are the engine's transitions (and a real
beanstalkd's), and the answer key holds every exercise on one readable page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

import stalksim.exercises as ex
from stalksim import handouts
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
    for e in edges:
        words = labels[f"label:{e.src}->{e.dst}:{'event' if e.event else 'command'}"]
        assert diagram.label(e) in words.split("\n") or diagram.label(e) == words, (e, words)
    states = {p.get_gid() for p in fig.axes[0].patches if p.get_gid()}
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
