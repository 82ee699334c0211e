"""The layout check catches what it is for: a fixture laid out badly on purpose must fail it,
fault by fault, with the notebook, the width, the control's text and its sizes in the message.
Also: the pHYs reader, on PNGs written by PIL (what matplotlib and the widgets use)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from tests.browser import driver, lab, layout

BAD = lab.FIXTURES / "bad_layout.ipynb"


def png_bytes(dpi: float | None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    Image.new("RGB", (20, 10), "white").save(buf, "png", **extra)
    return buf.getvalue()


@pytest.mark.parametrize("dpi", [72, 100, 110, 220])
def test_png_dpi_reads_phys(dpi: int) -> None:
    x, y = layout.png_dpi(png_bytes(dpi))
    assert round(x, 1) == round(y, 1) == dpi  # px/m rounding: 100 dpi reads 99.9998


def test_png_dpi_without_phys_and_not_png() -> None:
    assert layout.png_dpi(png_bytes(None)) is None
    with pytest.raises(ValueError):
        layout.png_dpi(b"GIF89a...")


def test_legend_pt_exists() -> None:
    """The figure check sizes legends with the views' own constant; it must be there."""
    assert layout.LEGEND_PT is not None, "stalksim._viewutil.LEGEND_PT is missing"
    assert layout.LEGEND_PT > 0


@pytest.mark.browser
@pytest.mark.timeout(lab.NOTEBOOK_TIMEOUT + 120)
def test_layout_check_reports_each_fault(jupyterlab: lab.JupyterLab, page: Any) -> None:
    """Every planted fault is reported at every width (figures at 1366 px), and nothing else."""
    run = driver.NotebookRun(jupyterlab, page, BAD)
    try:
        run.open()
        run.run_all()
        run.settle_and_check()
        assert not run.result.problems, "\n".join(run.result.problems)
        found = layout.LayoutCheck(run, lab.ARTIFACTS / "fixtures").check()
    finally:
        run.close()
    text = "\n".join(found.problems)
    (lab.ARTIFACTS / "fixtures" / "bad_layout-problems.txt").write_text(text + "\n")
    for width in layout.WIDTHS:
        at = re.escape(f"bad_layout.ipynb @{width}px cell ")
        expected = [
            rf"{at}2 .*: button 'put a job into the tube' is clipped \(cut to an ellipsis\): "
            r"its text needs \d+ px, it shows \d+ px",
            rf"{at}2 .*: dropdown 'emails-worker-with-a-long-name' is clipped",
            rf"{at}2 .*: label 'arrival rate per second \(jobs\)' is clipped \(cut to an ellips",
            rf"{at}3 .*: button 'kick-job' is off-screen: spans x=\d+\.\.\d+ px, the notebook "
            rf"shows x=\d+\.\.{width} px",
            rf"{at}3 .*: button 'release' is cut off: spans x=\d+\.\.\d+ px inside "
            r"\.widget-[a-z-]+ showing x=\d+\.\.\d+ px",
            rf"{at}3 .*: button 'p\u2026' ends in an ellipsis",
            rf"{at}6 .*: HTML text 'orders_orders_.*' is off-screen: spans x=\d+",
        ]
        if width == layout.FIGURE_WIDTH:
            expected += [
                rf"{at}4 .*: inline figure is 72.0 dpi < 100 dpi; natural \d+ px wide",
                rf"{at}4 .*: inline figure shows legend text at 9.5 px < 10 px",
                rf"{at}5 .*: widget image has no pHYs chunk",
                rf"{at}5 .*: widget image is scaled down to 40% of its natural width",
            ]
        for pattern in expected:
            assert re.search(pattern, text), f"not reported: {pattern}\nreported:\n{text}"
    # the well-laid-out controls (the slider's track and readout, the images' placement) pass
    planted = (r"'put a job|'emails-worker|'arrival rate|'kick-job'|'release'|'p\u2026'|'orders_"
               r"|dpi|legend|pHYs|scaled down")
    unexpected = [p for p in found.problems if not re.search(planted, p)]
    assert not unexpected, "\n".join(unexpected)
    for width in layout.WIDTHS:
        shots = found.widths[width]["screenshots"]
        assert shots and all((lab.REPO / s).is_file() for s in shots)
