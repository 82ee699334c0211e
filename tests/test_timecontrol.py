"""TimeControl (issue 11, item 5): time-true Play, steps from event to event, the future not
drawn, a cursor of its own colour, two traces on one clock; widget PNGs at >= 100 dpi."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("ipywidgets")

import numpy as np  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from PIL import Image  # noqa: E402

from stalksim import _viewutil as vu  # noqa: E402
from stalksim import views  # noqa: E402
from stalksim._jobview import EVENT_LABEL  # noqa: E402
from stalksim.scenarios import run_scenario  # noqa: E402
from stalksim.widgets import TimeControl  # noqa: E402


@pytest.fixture(scope="module")
def both():
    return (run_scenario("crashed-consumer", seed=0).trace,
            run_scenario("hung-consumer", seed=0).trace)


@pytest.fixture
def tc(both):
    return TimeControl(list(both), figure=views.crash_vs_hang)


def pixels(tc) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(tc.figure.image.value)).convert("RGB"))


def columns(tc, ax, x0: float, x1: float) -> np.ndarray:
    """The frame's pixels inside `ax` (a few px in from its edges) between data x0 and x1, with
    the words naming past events (drawn over the veil on purpose) painted out as veil."""
    img = pixels(tc).copy()
    height = img.shape[0]
    for word in ax.texts:
        if word.get_gid() == EVENT_LABEL and word.get_visible():
            patch = word.get_bbox_patch()  # the white box around the words, if any
            b = (patch or word).get_window_extent()
            img[int(height - b.y1) - 2:int(height - b.y0) + 2, int(b.x0) - 2:int(b.x1) + 2] = (
                colour(vu.VEIL))
    box = ax.get_window_extent()
    to_px = ax.transData.transform
    left, right = to_px((x0, 0))[0], to_px((x1, 0))[0]
    rows = slice(int(height - box.y1) + 3, int(height - box.y0) - 3)
    return img[rows, int(left) + 5:int(right) - 3]  # clear of the cursor line


def colour(hex_colour: str) -> np.ndarray:
    return (np.array(to_rgb(hex_colour)) * 255).round()


def test_the_future_is_veiled_at_every_moment(tc):
    for t in (0.0, 4.0, 7.5):
        tc.seek(t)
        for ax in tc.figure.fig.axes:
            future = columns(tc, ax, t, ax.get_xlim()[1])
            assert future.size and (np.abs(future - colour(vu.VEIL)) <= 1).all(), t
    tc.seek(4.0)
    past = columns(tc, tc.figure.fig.axes[0], 3.5, 4.0)  # job 3 waiting in its tube
    assert (np.abs(past - colour(vu.STATE_COLOURS["ready"])) <= 2).all(axis=-1).any()


def test_cursor_has_a_colour_no_mark_or_state_uses(tc):
    used = {to_hex(m["color"]) for m in vu.MARKS.values()} | {
        to_hex(c) for c in vu.STATE_COLOURS.values()}
    assert to_hex(vu.CURSOR) not in used
    assert to_hex(vu.CURSOR) != to_hex(vu.MARKS["crash"]["color"])
    assert all(to_hex(c.get_color()) == to_hex(vu.CURSOR) for c in tc.cursors)
    tc.seek(4.0)
    assert tc.now.clock.get_text() == "4.0 s"  # the cursor is labelled with the time


def test_play_advances_virtual_time_with_the_wall_clock(tc):
    assert tc.play.interval == 100
    for speed, per_frame in ((1.0, 0.1), (0.5, 0.05), (2.0, 0.2), (4.0, 0.4)):
        tc.seek(1.0)
        tc.speed.value = speed
        for k in range(1, 4):
            tc.play.value += tc.play.step  # what the browser's Play does every 100 ms
            assert tc.time == pytest.approx(1.0 + k * per_frame)
            assert tc.slider.value == pytest.approx(tc.time)  # the slider is in seconds
    tc.speed.value = 1.0
    tc.seek(3.5)
    frames = 0
    while tc.time < 7.0 - 1e-9:
        tc.play.value += tc.play.step
        frames += 1
    assert frames == 35  # the 3.5-7 s hang lasts 3.5 s of wall time at 1x


def test_steps_jump_from_event_to_event(tc):
    tc.seek(4.0)
    tc.forward.click()
    assert tc.time == 5.0
    tc.back.click()
    assert tc.time == 3.5
    tc.seek(4.2)
    tc.back.click()
    assert tc.time == 3.5
    tc.value = 0
    assert tc.time == 0.0


def test_marks_and_words_appear_when_their_time_comes(tc):
    crash, hang = tc.figure.fig.axes
    closed_words = next(a for a in crash.texts if a.get_text().startswith("connection closed"))
    ttr_words = next(a for a in hang.texts if a.get_text().startswith("TTR expired"))
    closed = next(line for line, _x, _y in tc.now.marks if line.get_gid() == "connection-closed")
    tc.seek(3.4)
    assert not closed_words.get_visible() and len(closed.get_xdata()) == 0
    tc.seek(3.5)
    assert closed_words.get_visible() and list(closed.get_xdata()) == [3.5]
    tc.seek(6.9)
    assert not ttr_words.get_visible()
    tc.seek(7.1)
    assert ttr_words.get_visible()


def test_two_traces_share_one_clock_and_show_both_states(both):
    tc = TimeControl(list(both))  # two traces: crash_vs_hang by default
    assert len(tc.figure.fig.axes) == 2 and len(tc.cursors) == 2
    tc.seek(6.0)
    assert "crashed-consumer" in tc.state.value and "hung-consumer" in tc.state.value
    assert all(c.get_xdata()[0] == 6.0 for c in tc.cursors)
    with pytest.raises(ValueError, match="figure="):
        TimeControl([both[0], both[0], both[1]])


def test_a_move_redraws_and_the_png_records_its_dpi(tc):
    # how fast a move redraws is row 7 of `python -m benchmarks` (not a timed test: shared,
    # noisy machines); here: every move gives a new picture
    pictures = set()
    for i in range(5):
        tc.seek(0.37 * i + 0.1)
        pictures.add(tc.figure.image.value)
    assert len(pictures) == 5
    info = Image.open(io.BytesIO(tc.figure.image.value)).info
    assert min(info["dpi"]) >= 100
    width = Image.open(io.BytesIO(tc.figure.image.value)).size[0]
    assert width <= 1000  # not scaled down (and its text shrunk) in a 1366 px browser
