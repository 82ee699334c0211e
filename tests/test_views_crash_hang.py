"""The crash-versus-hang figure (issue 11, item 5) and readable figures (item 6): job 3's wait
in its tube, where it was held, the words on the figure, and every view's dpi and legend size
for every scenario."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from stalksim import _viewutil as vu  # noqa: E402
from stalksim import views  # noqa: E402
from stalksim._jobview import EVENT_LABEL  # noqa: E402
from stalksim.scenarios import SCENARIOS, run_scenario  # noqa: E402
from tests.test_views import gid  # noqa: E402


@pytest.fixture(scope="module")
def runs():
    return (run_scenario("crashed-consumer", seed=0).trace,
            run_scenario("hung-consumer", seed=0).trace)


def spans_in_lane(ax, name: str, lane: int) -> list[tuple[float, float]]:
    """(start, stop) of the bars tagged `name` whose centre lies in lane `lane`."""
    out = []
    for coll in gid(ax, name):
        for p in coll.get_paths():
            if abs(p.vertices[:, 1].mean() - lane) < 0.5:
                out.append((round(p.vertices[:, 0].min(), 6), round(p.vertices[:, 0].max(), 6)))
    return sorted(out)


def lane_names(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def test_crash_above_hang_on_one_time_axis(runs):
    fig = views.crash_vs_hang(*runs, job=3)
    crash, hang = fig.axes
    assert crash.get_xlim() == hang.get_xlim() and crash.get_xlim()[0] == 0.0
    assert crash.get_title(loc="left").startswith("Crash: worker-1 dies at 3.5 s")
    assert hang.get_title(loc="left").startswith("Hang: worker-1 stops at 3.5 s")
    for ax in (crash, hang):
        assert lane_names(ax) == ["tube orders", "worker-1", "worker-2"]


def test_crash_ready_bar_spans_the_wait_for_a_free_worker(runs):
    crash = views.crash_vs_hang(*runs).axes[0]
    assert spans_in_lane(crash, "ready", 0) == [(3.5, 5.0)]  # ready at once, until worker-2
    assert spans_in_lane(crash, "reserved", 1) == [(2.0, 3.5)]
    assert spans_in_lane(crash, "reserved", 2) == [(5.0, 7.0)]
    assert spans_in_lane(crash, "other-job", 2) == [(1.0, 3.0), (3.0, 5.0)]  # why it waited
    assert gid(crash, "hung") == []
    (closed,) = gid(crash, "connection-closed")
    assert list(closed.get_xdata()) == [3.5] and list(closed.get_ydata()) == [0.0]
    words = [a.get_text() for a in gid(crash, EVENT_LABEL)]
    assert "connection closed: ready at once 3.5 s" in words
    assert "waits 1.5 s for a free worker" in words
    (move,) = gid(crash, "move:connection-closed")
    assert move.xyann == (3.5, 1) and move.xy == (3.5, 0)  # from worker-1 back to the tube


def test_hang_holds_the_job_until_the_ttr(runs):
    hang = views.crash_vs_hang(*runs).axes[1]
    assert all(b <= a or a >= 7.0 for a, b in spans_in_lane(hang, "ready", 0))  # no wait < 7 s
    assert spans_in_lane(hang, "reserved", 1) == [(2.0, 3.5)]
    assert spans_in_lane(hang, "hung", 1) == [(3.5, 7.0)]  # held by a worker doing nothing
    assert spans_in_lane(hang, "reserved", 2) == [(7.0, 9.0)]
    (expired,) = gid(hang, "ttr-expired")
    assert list(expired.get_xdata()) == [pytest.approx(7.0)]
    assert [a.get_text() for a in gid(hang, EVENT_LABEL)] == ["TTR expired 7 s: ready again"]
    assert gid(hang, "connection-closed") == []


def test_job_lanes_alone_and_a_missing_job(runs):
    (ax,) = views.job_lanes(runs[0], 3).axes
    assert lane_names(ax) == ["tube orders", "worker-1", "worker-2"]
    assert spans_in_lane(ax, "ready", 0) == [(3.5, 5.0)]
    (ax,) = views.job_lanes(runs[0], 99).axes
    assert any("not in this trace" in t.get_text() for t in ax.texts)


def test_swimlanes_show_the_ready_wait_in_a_tube_lane(runs):
    (ax,) = views.worker_swimlanes(runs[0]).axes
    assert lane_names(ax)[0] == "tube orders"
    assert spans_in_lane(ax, "ready", 0) == [(3.5, 5.0)]
    (ax,) = views.worker_swimlanes(runs[1]).axes  # the hung run never waits in its tube
    assert lane_names(ax) == ["worker-1", "worker-2"] and gid(ax, "ready") == []


def all_figures(trace):
    yield from (views.job_timeline(trace), views.tube_depth(trace),
                views.worker_swimlanes(trace), views.overview(trace))
    jobs = trace.jobs()
    if jobs:
        yield views.job_lanes(trace, jobs[0])
        yield views.crash_vs_hang(trace, trace, job=jobs[0])


def legends(fig) -> list:
    return [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_view_is_at_least_100_dpi_with_legend_text_of_legend_pt(name):
    assert vu.FIGURE_DPI >= 100 and vu.LEGEND_PT * vu.FIGURE_DPI / 72 >= 10
    for fig in all_figures(run_scenario(name, seed=0).trace):
        assert fig.dpi >= 100
        found = legends(fig)
        assert found, "every view has a legend"
        for leg in found:
            for text in [*leg.get_texts(), leg.get_title()]:
                assert text.get_fontsize() >= vu.LEGEND_PT, text.get_text()
        width_px = fig.get_size_inches()[0] * fig.dpi
        assert width_px <= 1000  # fits a 1366 px browser's output area, so it is not shrunk


def test_saved_pngs_record_their_dpi(runs):
    fig = views.crash_vs_hang(*runs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)  # as IPython's inline formatter does
    dpi = Image.open(io.BytesIO(buf.getvalue())).info["dpi"]
    assert min(dpi) >= 100
