"""A notebook with FlowViews, run and exported by `jupyter nbconvert --to html --execute` (widget
state saved), plays in headless Chromium with no kernel: Play at 4x, the keyboard, job 3
handed to worker-2; a click that asks for a fork says a kernel is needed.

The exported page loads require.js, the widgets' HTML manager and anywidget's bundle from
CDNs; the test serves them from local copies (npm's packages and the installed anywidget) and
lets the page reach nothing else but MathJax, which it does not need and does not get.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import anywidget
import nbformat
import pytest

from tests.browser import lab
from tests.browser.test_flowview import (
    ARTIFACTS,
    JS_PLAY_FOR,
    SETTLE_MS,
    assert_at_worker_2,
    report,
    step_the_crash,
    view,
)

pytestmark = pytest.mark.browser

HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"  # ipywidgets 8's
REQUIREJS = "requirejs@2.3.7"
ANYWIDGET_AMD = Path(anywidget.__file__).parent / "nbextension" / "index.js"
CRASH, HANG = 0, 1


@pytest.fixture(scope="module")
def embed_scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What an exported page fetches, by a part of its URL: require.js and the HTML manager
    from npm (`npm pack`: the two tarballs only; STALKSIM_WIDGET_EMBED may name a folder
    holding require.js and embed-amd.js instead), anywidget's AMD bundle from its package."""
    given = os.environ.get("STALKSIM_WIDGET_EMBED")
    if given:
        where = Path(given)
    else:
        npm = shutil.which("npm")
        if npm is None:
            reason = "the export test needs npm (apt-get install npm)"
            pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
        where = tmp_path_factory.mktemp("embed")
        out = subprocess.run([npm, "pack", "--silent", "--pack-destination", str(where),
                              HTML_MANAGER, REQUIREJS], check=True, timeout=300,
                             capture_output=True, text=True).stdout.split()
        for tgz, member, name in ((out[0], "package/dist/embed-amd.js", "embed-amd.js"),
                                  (out[1], "package/require.js", "require.js")):
            with tarfile.open(where / tgz) as tar:
                (where / name).write_bytes(tar.extractfile(member).read())
    return {"/require.min.js": where / "require.js",
            "/dist/embed-amd.js": where / "embed-amd.js",
            "/anywidget@": ANYWIDGET_AMD}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crash and the hang as FlowViews, executed and exported to HTML by nbconvert."""
    where = tmp_path_factory.mktemp("export")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "from stalksim.scenarios import run_scenario\nfrom stalksim.widgets import FlowView"),
        *(nbformat.v4.new_code_cell(f'FlowView(run_scenario("{name}", seed=0))')
          for name in ("crashed-consumer", "hung-consumer"))]
    nbformat.write(nb, where / "flow.ipynb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in [str(lab.REPO), os.environ.get("PYTHONPATH", "")] if p)}
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
                    "--ExecutePreprocessor.store_widget_state=True", "flow.ipynb"],
                   cwd=where, env=env, check=True, timeout=300, capture_output=True)
    html = where / "flow.html"
    text = html.read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" in text and '"_esm"' in text
    return html


@pytest.fixture
def export_page(bare_page: Any, embed_scripts: dict[str, Path], exported: Path) -> Any:
    """The exported page open and both views drawn, from the file, without a server."""
    page = bare_page
    served: list[str] = []

    def local_copy(route: Any) -> None:
        url = route.request.url
        hit = next((p for part, p in embed_scripts.items() if part in url), None)
        if hit is None:
            route.fallback()  # the bare page's own rule: blocked
            return
        served.append(url)
        route.fulfill(path=str(hit), content_type="application/javascript")

    page.route("http*://**/*", local_copy)
    page.goto(exported.as_uri())
    page.wait_for_function(
        "() => document.querySelectorAll('.fv-root svg[data-panel=base] .fv-worker')"
        ".length == 4", polling=100, timeout=60_000)
    assert len(served) == 3, served
    assert all("mathjax" in url for url in page.stalk_blocked), page.stalk_blocked
    return page


@pytest.mark.timeout(300)
def test_exported_notebook_plays_without_a_kernel(export_page: Any) -> None:
    page = export_page
    assert not page.evaluate("() => 'jupyterapp' in window || !!window.Jupyter")
    hang = view(page, HANG)
    assert "hung-consumer" in hang.locator(".fv-title").text_content()
    hang.locator(".fv-speed").select_option("4")
    m = page.evaluate(JS_PLAY_FOR, [HANG, 1500])
    rate = (m["t1"] - m["t0"]) / m["wall"]
    report("export-play-4x-hung-consumer", {"wall_s": round(m["wall"], 3), "ratio": round(
        rate, 3)})
    assert rate == pytest.approx(4.0, rel=0.10)
    hang.locator(".fv-play").click()  # pause

    crash = step_the_crash(page)
    page.wait_for_timeout(SETTLE_MS)
    assert_at_worker_2(page, CRASH)
    assert crash.locator(".fv-caption").inner_text() == (
        "5 s: worker-2 deletes job 4: done; worker-2 reserves job 3 (delivered again)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for t in (3.0, 3.6, 5.5):
        page.evaluate("(t) => { const p = document.querySelector('.fv-root').__flow;"
                      " p.seek(t); p.settle(); }", t)
        crash.screenshot(path=str(ARTIFACTS / f"export-crashed-consumer-{t:g}s.png"))

    crash.locator('svg[data-panel=base] .fv-worker[data-worker="worker-1"]').click()
    crash.locator(".fv-fault-crash").click()
    assert crash.locator(".fv-summary").inner_text().startswith("re-simulating")
    page.wait_for_function(
        "() => /needs the notebook's kernel/.test(document.querySelector('.fv-summary')"
        ".textContent)", polling=200, timeout=20_000)
    assert not page.stalk_page_errors, page.stalk_page_errors
