"""Views: structural checks (rows, spans per state, markers, arrows, legends, labels), not
pixels; PNGs are checked for their signature; 10,000-job traces must render."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from stalksim import _viewutil as vu  # noqa: E402
from stalksim import views  # noqa: E402
from stalksim.trace import STATES, Trace  # noqa: E402
from tests.test_trace import crash_story, hang_story, mixed_story, synthetic  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def gid(ax, name: str) -> list:
    """Artists of an axes tagged with this gid."""
    return [a for a in ax.get_children() if a.get_gid() == name]


def one(ax, name: str):
    (artist,) = gid(ax, name)
    return artist


def n_points(ax, name: str) -> int:
    return sum(len(line.get_xdata()) for line in gid(ax, name))


def legend_texts(ax) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    return buf.getvalue()


def test_views_do_not_touch_pyplot_state():
    plt.close("all")
    for fig in (views.job_timeline(crash_story()), views.tube_depth(crash_story()),
                views.worker_swimlanes(crash_story()), views.overview(crash_story())):
        assert isinstance(fig, Figure)
    assert plt.get_fignums() == []


def test_palette_is_consistent_and_crash_differs_from_hang():
    assert set(vu.STATE_COLOURS) == set(STATES)
    assert len(set(vu.STATE_COLOURS.values())) == len(STATES)
    ttr, closed = vu.MARKS["ttr-expired"], vu.MARKS["connection-closed"]
    assert ttr["marker"] != closed["marker"] and ttr["color"] != closed["color"]
    assert vu.MARKS["crash"]["marker"] == "X"
    assert vu.MARKS["hang"]["marker"] != "X"
    assert vu.MARKS["hang"]["color"] != vu.MARKS["crash"]["color"]


# -- job timeline -----------------------------------------------------------------------------

def test_timeline_crash_story():
    fig = views.job_timeline(Trace(crash_story(), meta={"scenario": "crashed-consumer"}))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1"]
    assert ax.get_ylabel() == "job id" and ax.get_xlabel() == "time (s)"
    assert "crashed-consumer" in ax.get_title(loc="left")
    assert len(one(ax, "ready").get_paths()) == 2  # 0-1 s and 2-2.5 s
    assert len(one(ax, "reserved").get_paths()) == 2  # w1 1-2 s, w2 2.5-4 s
    assert gid(ax, "delayed") == [] and gid(ax, "buried") == []
    assert n_points(ax, "connection-closed") == 1 and n_points(ax, "ttr-expired") == 0
    assert n_points(ax, "deleted") == 1
    assert legend_texts(ax) == ["ready", "reserved", "connection closed (crash)", "deleted"]
    assert png_bytes(fig).startswith(PNG_SIGNATURE)


def test_timeline_hang_story_marks_ttr_expiry_at_reserve_plus_ttr():
    (ax,) = views.job_timeline(hang_story()).axes
    marker = one(ax, "ttr-expired")
    assert list(marker.get_xdata()) == [6.0]
    assert n_points(ax, "connection-closed") == 0
    assert len(one(ax, "reserved").get_paths()) == 2 and len(one(ax, "ready").get_paths()) == 1
    assert "TTR expired (hang)" in legend_texts(ax)


def test_timeline_rows_states_and_cuts():
    (ax,) = views.job_timeline(mixed_story()).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]
    assert legend_texts(ax)[:4] == list(STATES)
    assert len(one(ax, "delayed").get_paths()) == 2 and len(one(ax, "buried").get_paths()) == 1

    (ax,) = views.job_timeline(mixed_story(), jobs=[3, 1], until=2.5).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["3", "1"]
    ends = [v[:, 0].max() for s in STATES for c in gid(ax, s) for v in c.get_paths()
            for v in [v.vertices]]
    assert max(ends) == 2.5
    assert ax.get_xlim()[1] == pytest.approx(2.5, rel=0.05)


def test_timeline_draws_into_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert views.job_timeline(hang_story(), ax=ax) is fig
    assert gid(ax, "reserved")


def test_timeline_of_10000_jobs_thins_row_labels_and_renders():
    tr = Trace(synthetic(10_000, seed=3))
    fig = views.job_timeline(tr)
    (ax,) = fig.axes
    spans = sum(len(c.get_paths()) for s in STATES for c in gid(ax, s))
    assert spans >= 10_000
    assert len(ax.collections) <= len(STATES) + 1  # one per state (+ hung), not one per span
    assert png_bytes(fig).startswith(PNG_SIGNATURE)
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert 2 <= len(labels) <= 20 and labels[0] == "1"


# -- tube depth -------------------------------------------------------------------------------

def test_tube_depth_panels_per_tube_with_pauses():
    fig = views.tube_depth(mixed_story())
    orders, emails = fig.axes
    assert orders.get_title(loc="left").startswith("Tube depth")  # one title, nothing over it
    assert [orders.get_title(loc=loc) for loc in ("center", "right")] == ["", ""]
    assert emails.get_title(loc="left") == ""
    for ax, name in ((orders, "orders"), (emails, "emails")):
        assert [c.get_label() for c in ax.collections[:4]] == list(STATES)
        assert ax.get_ylabel() == f"jobs in {name!r}"
    assert emails.get_xlabel() == "time (s)" and orders.get_xlabel() == ""
    assert [p.get_label() for p in orders.patches if p.get_label() == "paused"] == ["paused"]
    assert [p for p in emails.patches if p.get_label() == "paused"] == []
    assert legend_texts(orders) == [*STATES, "paused"]
    assert png_bytes(fig).startswith(PNG_SIGNATURE)


def test_tube_depth_choice_of_tubes_and_axes():
    assert len(views.tube_depth(mixed_story(), tubes=["emails"]).axes) == 1
    fig = Figure()
    ax = fig.add_subplot()
    assert views.tube_depth(crash_story(), ax=ax) is fig
    with pytest.raises(ValueError, match="one Axes per tube"):
        views.tube_depth(mixed_story(), ax=ax)


# -- worker swimlanes -------------------------------------------------------------------------

def test_swimlanes_name_a_job_only_where_its_name_fits():
    """A live run's job can wait a millisecond before a worker takes it: its bar in the tube
    lane is a hairline, and its name there spilled over its neighbours (lesson 6's live
    panel showed ") 1  job 2  job 3  job 4" along the tube lane)."""
    S = 10**9
    fig = views.worker_swimlanes([
        (0, 1, "default", "new", "ready", "put", "p"),
        (S // 1000, 1, "default", "ready", "reserved", "reserve", "w1"),
        (1 * S, 2, "default", "new", "ready", "put", "p"),
        (3 * S, 2, "default", "ready", "reserved", "reserve", "w2"),
        (4 * S, 1, "default", "reserved", "deleted", "delete", "w1"),
        (6 * S, 2, "default", "reserved", "deleted", "delete", "w2"),
    ])
    (ax,) = fig.axes
    labels = sorted((t.get_text(), round(t.get_position()[0], 2)) for t in gid(ax, "job-label"))
    assert labels == [("job 1", 2.0), ("job 2", 2.0), ("job 2", 4.5)]  # none near 0 s
    assert len(one(ax, "ready").get_paths()) == 2  # the hairline wait is still drawn


def test_swimlanes_crash_story():
    fig = views.worker_swimlanes(crash_story())
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["tube default", "w1", "w2"]
    assert ax.get_ylabel() == "tube / worker" and ax.get_xlabel() == "time (s)"
    assert len(one(ax, "reserved").get_paths()) == 2
    waits = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max())
                   for p in one(ax, "ready").get_paths())
    assert waits == [(0.0, 1.0), (2.0, 2.5)]  # each wait in the tube's lane, its own bar
    assert all(-0.5 < p.vertices[:, 1].mean() < 0.5 for p in one(ax, "ready").get_paths())
    assert [t.get_text() for t in gid(ax, "job-label")] == ["job 1"] * 4
    crash = one(ax, "crash")
    assert (list(crash.get_xdata()), list(crash.get_ydata())) == ([2.0], [1])
    arrow = one(ax, "handoff:connection-closed")
    assert arrow.xy == (2.5, 2) and arrow.xyann == (2.0, 1)  # from w1's loss to w2's reserve
    assert [t.get_text() for t in gid(ax, "handoff-label")] == ["connection closed"]
    assert gid(ax, "handoff:ttr-expired") == [] and gid(ax, "hang") == []
    assert legend_texts(ax) == [views.LANE_LABELS["ready"], views.LANE_LABELS["reserved"],
                                "deleted", "crash", "handed on:\nconnection closed"]
    assert png_bytes(fig).startswith(PNG_SIGNATURE)


def test_swimlanes_hang_story():
    (ax,) = views.worker_swimlanes(hang_story()).axes
    assert n_points(ax, "hang") == 1 and list(one(ax, "hang").get_xdata()) == [2.0]
    assert n_points(ax, "not-found") == 1 and n_points(ax, "wake") == 1
    assert gid(ax, "crash") == []
    arrow = one(ax, "handoff:ttr-expired")
    assert arrow.xyann == (6.0, 1) and arrow.xy == (6.0, 2)  # lane 0 is the tube
    assert [t.get_text() for t in gid(ax, "handoff-label")] == ["TTR expired"]
    assert "handed on:\nTTR expired" in legend_texts(ax)
    assert "hang (connection stays open)" in legend_texts(ax)


def test_swimlanes_show_marks_that_name_a_job():
    raw = [*hang_story()[:-1], (20 * 10**9, 1, "default", "", "", "not-found", "w1")]
    (ax,) = views.worker_swimlanes(raw).axes
    assert n_points(ax, "not-found") == 1


def test_swimlanes_share_a_lane_between_jobs_held_at_once():
    raw = [
        (0, 1, "t", "new", "ready", "put", "p"),
        (0, 2, "t", "new", "ready", "put", "p"),
        (10**9, 1, "t", "ready", "reserved", "reserve", "w"),
        (2 * 10**9, 2, "t", "ready", "reserved", "reserve", "w"),
        (3 * 10**9, 1, "t", "reserved", "deleted", "delete", "w"),
        (4 * 10**9, 2, "t", "reserved", "deleted", "delete", "w"),
    ]
    (ax,) = views.worker_swimlanes(raw).axes
    tops = sorted(p.vertices[:, 1].min() for p in one(ax, "reserved").get_paths())
    assert tops[0] < tops[1]  # two slots, one above the other


def test_swimlanes_time_axis_ends_where_the_story_ends():
    """Issue 23, finding 9: lesson 1's tutorial run ends at 6.7 s, but its axis ran on to the
    scenario's `until` (12 s), squeezing the story into the left half. The axis ends at the
    last event plus the views' usual margin; the other views still run to `until`."""
    from stalksim.scenarios import run_scenario

    tr = run_scenario("tutorial", seed=0).trace
    assert tr.end_time < tr.meta["until"] == views.view_end(tr)
    (ax,) = views.worker_swimlanes(tr).axes
    assert ax.get_xlim() == (0.0, pytest.approx(tr.end_time * (1 + vu.X_MARGIN)))
    (ax,) = views.worker_swimlanes(Trace(crash_story(), meta={"until": 30.0})).axes
    assert ax.get_xlim()[1] == pytest.approx(4.0 * (1 + vu.X_MARGIN))
    assert views.story_end(crash_story()) == 4.0
    (ax,) = views.job_timeline(Trace(crash_story(), meta={"until": 30.0})).axes
    assert ax.get_xlim()[1] == pytest.approx(30.0 * (1 + vu.X_MARGIN))


def test_swimlanes_run_to_the_end_of_the_run_while_a_job_is_still_waiting_or_held():
    """A job still ready or reserved at the last event goes on after it: cutting the axis there
    would cut its bar to nothing, so the axis runs on to `until`."""
    held = Trace(crash_story()[:-1], meta={"until": 10.0})  # w2 never deletes job 1
    assert views.story_end(held) == 10.0
    (ax,) = views.worker_swimlanes(held).axes
    assert ax.get_xlim()[1] == pytest.approx(10.0 * (1 + vu.X_MARGIN))
    spans = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max())
                   for p in one(ax, "reserved").get_paths())
    assert spans == [(1.0, 2.0), (2.5, 10.0)]
    waiting = Trace(crash_story()[:4], meta={"until": 10.0})  # ready again, nobody takes it
    assert views.story_end(waiting) == 10.0
    assert views.story_end(Trace(crash_story()[:4])) == 2.0  # no `until`: the last event
    assert views.story_end(Trace()) == 0.0


def test_swimlanes_legend_and_title_name_the_tube_lanes_too():
    """Issue 23, finding 9: the figure draws tube lanes (a job waiting, ready) above the worker
    lanes (a job held), but its legend said only 'ready' and 'reserved' and its title only
    'Worker swimlanes'."""
    (ax,) = views.worker_swimlanes(Trace(crash_story(), meta={"scenario": "crash"})).axes
    texts = legend_texts(ax)
    assert any("tube lane" in t and t.startswith("ready") for t in texts), texts
    assert any("worker lane" in t and t.startswith("reserved") for t in texts), texts
    assert ax.get_title(loc="left").startswith("Tube and worker lanes: crash")
    at_once = [(0, 1, "t", "new", "ready", "put", "p"),
               (0, 1, "t", "ready", "reserved", "reserve", "w1"),
               (10**9, 1, "t", "reserved", "deleted", "delete", "w1")]
    (ax,) = views.worker_swimlanes(at_once).axes  # no job waited: no tube lane
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w1"]
    assert not any("tube lane" in t for t in legend_texts(ax))
    assert legend_texts(ax)[0] == views.LANE_LABELS["reserved"]
    assert ax.get_title(loc="left") == "Worker swimlanes"


def test_swimlanes_of_many_jobs_use_one_quiver_per_cause():
    fig = views.worker_swimlanes(synthetic(10_000, seed=3))
    (ax,) = fig.axes
    assert len(gid(ax, "handoff:ttr-expired")) == 1
    assert len(gid(ax, "handoff:connection-closed")) == 1
    assert gid(ax, "handoff-label") == [] and gid(ax, "job-label") == []
    assert png_bytes(fig).startswith(PNG_SIGNATURE)


# -- the rest ---------------------------------------------------------------------------------

def test_overview_and_empty_traces_render():
    fig = views.overview(Trace(mixed_story(), meta={"scenario": "mixed", "seed": 7}))
    assert len(fig.axes) == 4  # swimlanes, timeline, two tubes
    assert "(seed 7)" in fig.axes[0].get_title(loc="left")
    assert png_bytes(fig).startswith(PNG_SIGNATURE)
    assert png_bytes(views.overview(synthetic(10_000, seed=1))).startswith(PNG_SIGNATURE)
    for view in (views.job_timeline, views.tube_depth, views.worker_swimlanes, views.overview):
        assert png_bytes(view(Trace())).startswith(PNG_SIGNATURE)


def test_time_control_helpers_are_re_exported():
    idx = views.TraceIndex(crash_story())
    assert idx.state_at(2.2)["tubes"]["default"]["ready"] == [1]
    assert views.state_at(crash_story(), 3)["held"] == {"w2": [1]}


# -- the run's end, hung holds, marks on job rows, lane order ---------------------------------

def with_job_on_marks(raw: list[tuple], job: int = 1) -> list[tuple]:
    """The story with its worker marks naming `job` (as simulated workers write them)."""
    return [(t, job if not dst else j, tube, src, dst, cause, actor)
            for t, j, tube, src, dst, cause, actor in raw]


def test_time_axis_runs_to_the_end_of_the_run_and_legends_stay_outside():
    tr = Trace(hang_story(), meta={"until": 30.0})
    assert views.view_end(tr) == 30.0 and views.view_end(hang_story()) == 20.0
    fig = views.overview(tr)
    for ax in fig.axes:
        assert 30.0 < ax.get_xlim()[1] <= 31.0  # a small margin after the run's end
    depth_ax = fig.axes[-1]
    assert max(p.vertices[:, 0].max() for c in depth_ax.collections
               for p in c.get_paths()) == pytest.approx(30.0)  # the last level holds to 30 s
    fig.draw_without_rendering()
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None:
            assert leg.get_window_extent().x0 >= ax.get_window_extent().x1
    (ax,) = views.job_timeline(Trace(hang_story(), meta={"until": 1.0})).axes
    assert ax.get_xlim()[1] == pytest.approx(20.0, rel=0.05)  # never cuts off events


def test_swimlanes_hatch_the_hold_while_the_worker_is_hung():
    (ax,) = views.worker_swimlanes(hang_story()).axes
    hung = one(ax, "hung")
    assert hung.get_hatch() and hung.get_label() == vu.HUNG["label"]
    (path,) = hung.get_paths()
    assert (path.vertices[:, 0].min(), path.vertices[:, 0].max()) == (2.0, 6.0)  # hang -> TTR
    assert 0.5 < path.vertices[:, 1].min() < path.vertices[:, 1].max() < 1.5  # w1's lane
    spans = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max())
                   for p in one(ax, "reserved").get_paths())
    assert spans == [(1.0, 2.0), (6.0, 8.0)]  # working time stays solid
    assert legend_texts(ax)[:3] == [views.LANE_LABELS["ready"], views.LANE_LABELS["reserved"],
                                    vu.HUNG["label"]]
    (ax,) = views.worker_swimlanes(crash_story()).axes
    assert gid(ax, "hung") == [] and vu.HUNG["label"] not in legend_texts(ax)


def test_a_hang_ends_when_the_worker_wakes_or_reserves_again():
    woke = [*hang_story()[:3], (3 * 10**9, 0, "", "", "", "wake", "w1"),
            (4 * 10**9, 1, "default", "reserved", "deleted", "delete", "w1")]
    (ax,) = views.worker_swimlanes(woke).axes
    (path,) = one(ax, "hung").get_paths()
    assert (path.vertices[:, 0].min(), path.vertices[:, 0].max()) == (2.0, 3.0)
    spans = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max())
                   for p in one(ax, "reserved").get_paths())
    assert spans == [(1.0, 2.0), (3.0, 4.0)]
    again = [*hang_story()[:-2], (9 * 10**9, 2, "default", "new", "ready", "put", "producer"),
             (9 * 10**9, 2, "default", "ready", "reserved", "reserve", "w1")]
    (ax,) = views.worker_swimlanes(again).axes
    assert len(one(ax, "hung").get_paths()) == 1  # job 2's hold is work, not a hang


def test_timeline_hatches_hung_holds_and_puts_job_marks_on_their_rows():
    (ax,) = views.job_timeline(with_job_on_marks(hang_story())).axes
    (path,) = one(ax, "hung").get_paths()
    assert (path.vertices[:, 0].min(), path.vertices[:, 0].max()) == (2.0, 6.0)
    for kind, at in (("hang", 2.0), ("wake", 20.0), ("not-found", 20.0)):
        marker = one(ax, kind)
        assert list(marker.get_xdata()) == [at]
        assert -0.5 <= marker.get_ydata()[0] <= 0.5  # on job 1's row
    assert {"hang (connection stays open)", vu.HUNG["label"]} <= set(legend_texts(ax))
    (ax,) = views.job_timeline(with_job_on_marks(crash_story())).axes
    assert list(one(ax, "crash").get_xdata()) == [2.0]
    assert one(ax, "crash").get_ydata()[0] != one(ax, "connection-closed").get_ydata()[0]
    (ax,) = views.job_timeline(hang_story()).axes  # marks without a job stay off the rows
    assert gid(ax, "hang") == [] and gid(ax, "wake") == []


def test_swimlanes_sort_workers_naturally():
    assert sorted(["w10", "w2", "w1"], key=vu.natural_key) == ["w1", "w2", "w10"]
    raw = [(0, j, "t", "new", "ready", "put", "p") for j in (1, 2, 3)]
    for j, who in enumerate(["worker-10", "worker-2", "worker-1"], 1):
        raw.append((j * 10**9, j, "t", "ready", "reserved", "reserve", who))
    raw.append((5 * 10**9, 0, "", "", "", "crash", "worker-10"))
    (ax,) = views.worker_swimlanes(raw).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "tube t", "worker-1", "worker-2", "worker-10"]
    assert list(one(ax, "crash").get_ydata()) == [3]
