"""The browser site's build (scripts/site): where the Pyodide files come from and what is refused.

The build takes WebAssembly wheels only when they match Pyodide's official lock byte for byte,
writes a lock that lists exactly what the site holds, and fails when the site would reach
another origin or a lesson imports a package the site lacks. The whole build, in a browser, is
tests/browser/test_site.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "site"))

import pyodide_dist as dist  # noqa: E402
import site_build  # noqa: E402

WASM = "numpy-2.4.3-cp314-cp314-pyemscripten_2026_0_wasm32.whl"


def wheel(folder: Path, file_name: str, requires: tuple[str, ...] = (),
          top: str | None = None) -> Path:
    """A small, valid wheel named `file_name`."""
    name, version = file_name.split("-")[:2]
    path = folder / file_name
    folder.mkdir(parents=True, exist_ok=True)
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{top or name}/__init__.py", "")
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def npm(tmp_path: Path) -> Path:
    """An unpacked stand-in of the npm package: runtime files and an official lock."""
    pkg = tmp_path / "npm"
    pkg.mkdir()
    for f in dist.RUNTIME:
        (pkg / f).write_text(f"// {f}")
    good = wheel(tmp_path / "good", WASM)
    lock = {"info": {"python": "3.14.0"}, "packages": {"numpy": {
        "name": "numpy", "version": "2.4.3", "file_name": WASM, "install_dir": "site",
        "sha256": sha(good), "package_type": "package", "imports": ["numpy"], "depends": [],
        "unvendored_tests": False}}}
    (pkg / "pyodide-lock.json").write_text(json.dumps(lock))
    return pkg


def release(tmp_path: Path, wheels: list[Path]) -> Path:
    """A release tarball (as Pyodide publishes one) holding `wheels`."""
    tar = tmp_path / "pyodide-release.tar.bz2"
    with tarfile.open(tar, "w:bz2") as t:
        for w in wheels:
            t.add(w, arcname=f"pyodide/{w.name}")
    return tar


@pytest.fixture()
def only_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dist, "FROM_LOCK", ("numpy",))
    monkeypatch.setattr(dist, "FROM_PYPI", {})
    monkeypatch.setattr(dist, "STALKSIM_NEEDS", ("numpy",))


def test_a_wasm_wheel_that_differs_from_the_official_lock_stops_the_build(
        tmp_path: Path, npm: Path, only_numpy: None) -> None:
    tampered = wheel(tmp_path / "bad", WASM, top="numpy_tampered")
    assert sha(tampered) != json.loads((npm / "pyodide-lock.json").read_text())[
        "packages"]["numpy"]["sha256"]
    a = dist.Assembly(tmp_path / "cache", tmp_path / "out", release(tmp_path, [tampered]), npm)
    with pytest.raises(dist.SiteError, match="not the official lock's"):
        a.build(wheel(tmp_path / "w", "stalksim-0.1.0-py3-none-any.whl"))


def test_a_wasm_wheel_nobody_supplies_stops_the_build(tmp_path: Path, npm: Path,
                                                       only_numpy: None) -> None:
    a = dist.Assembly(tmp_path / "cache", tmp_path / "out", release(tmp_path, []), npm)
    with pytest.raises(dist.SiteError, match="WebAssembly"):
        a.build(wheel(tmp_path / "w", "stalksim-0.1.0-py3-none-any.whl"))


def test_matching_wheels_make_a_lock_of_exactly_what_the_folder_holds(
        tmp_path: Path, npm: Path, only_numpy: None) -> None:
    good = wheel(tmp_path / "good", WASM)  # the same bytes as the lock's
    out = tmp_path / "out"
    a = dist.Assembly(tmp_path / "cache", out, release(tmp_path, [good]), npm)
    lock = a.build(wheel(tmp_path / "w", "stalksim-0.1.0-py3-none-any.whl",
                         requires=("numpy>=2",)))
    assert sorted(lock["packages"]) == ["numpy", "stalksim"]
    assert lock["packages"]["stalksim"]["depends"] == ["numpy"]
    assert lock["packages"]["numpy"]["sha256"] == sha(good)
    assert sorted(p.name for p in out.glob("*.whl")) == sorted(
        [WASM, "stalksim-0.1.0-py3-none-any.whl"])
    assert dist.verify(out) == []


def test_verify_names_a_missing_file_a_changed_file_and_an_unlisted_wheel(
        tmp_path: Path, npm: Path, only_numpy: None) -> None:
    out = tmp_path / "out"
    dist.Assembly(tmp_path / "cache", out, release(tmp_path, [wheel(tmp_path / "g", WASM)]),
                  npm).build(wheel(tmp_path / "w", "stalksim-0.1.0-py3-none-any.whl"))
    (out / WASM).write_bytes(b"changed")
    (out / "stalksim-0.1.0-py3-none-any.whl").unlink()
    wheel(out, "extra-1.0-py3-none-any.whl")
    problems = dist.verify(out)
    assert any("numpy" in p and "another sha256" in p for p in problems)
    assert any("stalksim" in p and "missing" in p for p in problems)
    assert any("extra-1.0" in p and "not in the lock" in p for p in problems)


def test_a_dependency_the_site_lacks_is_refused() -> None:
    kept = {"anywidget": {"depends": ["psygnal", "widgetsnbextension"]}}
    with pytest.raises(dist.SiteError, match="anywidget needs psygnal"):
        dist.Assembly.check_closed(kept)
    kept = {"anywidget": {"depends": ["widgetsnbextension"]}}
    dist.Assembly.check_closed(kept)  # deliberately left out: the kernel brings its own
    assert kept["anywidget"]["depends"] == []


def test_closure_follows_depends_and_refuses_an_unknown_package() -> None:
    lock = {"a": {"depends": ["b"]}, "b": {"depends": ["c", "a"]}, "c": {"depends": []}}
    assert dist.closure(lock, ("a",)) == ["a", "b", "c"]
    with pytest.raises(dist.SiteError, match="not in Pyodide"):
        dist.closure({"a": {"depends": ["zzz"]}}, ("a",))


def test_browser_markers_are_evaluated_for_emscripten(tmp_path: Path) -> None:
    w = wheel(tmp_path, "thing-1.0-py3-none-any.whl", requires=(
        "comm>=0.1", 'pywin32; sys_platform == "win32"', 'pytest; extra == "test"',
        'typing-extensions; python_version < "3.10"'))
    assert dist.runtime_requires(w) == ["comm"]


def test_lesson_1_in_the_site_opens_on_the_tour_drawn_and_trusted() -> None:
    nb = site_build.site_notebook(ROOT / "notebooks" / site_build.FIRST)
    at = site_build.tour.tour_cell_index(nb["cells"])
    cell = nb["cells"][at]
    assert cell["metadata"]["trusted"] is True
    (out,) = cell["outputs"]
    assert "bootTour(" in out["data"]["text/html"]
    assert nb["cells"][at + 1]["id"] == "site-note"
    assert "Binder" in nb["cells"][at + 1]["source"]
    assert at <= 1, "the tour is the first thing lesson 1 shows"
    other = ROOT / "notebooks" / "02-priorities.ipynb"
    assert site_build.site_notebook(other) == json.loads(other.read_text())


def test_imports_are_read_from_code_cells_past_magics() -> None:
    nb = {"cells": [
        {"cell_type": "code", "source": "%matplotlib inline\nimport pandas as pd\n"
                                        "from stalksim.widgets import FlowView\nimport os.path"},
        {"cell_type": "markdown", "source": "import nothing"},
        {"cell_type": "code", "source": ["from . import x\n", "!pip list\n", "import scipy"]}]}
    assert site_build.imported(nb) == {"pandas", "stalksim", "os", "scipy"}


def test_a_built_site_that_would_reach_a_cdn_or_lacks_a_package_is_refused(
        tmp_path: Path) -> None:
    out = tmp_path / "site"
    (out / "static" / "pyodide").mkdir(parents=True)
    (out / "static" / "pyodide" / "pyodide-lock.json").write_text(json.dumps(
        {"packages": {"numpy": {"file_name": "n.whl", "imports": ["numpy"],
                                "sha256": hashlib.sha256(b"").hexdigest()}}}))
    (out / "static" / "pyodide" / "n.whl").write_bytes(b"")
    (out / "files").mkdir()
    (out / "files" / "l.ipynb").write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": "import numpy, scipy, json"}]}))
    kernel = {"pyodideUrl": "https://cdn.jsdelivr.net/pyodide/v314.0.6/full/pyodide.mjs"}
    (out / "jupyter-lite.json").write_text(json.dumps({"jupyter-config-data": {
        "litePluginSettings": {"@jupyterlite/pyodide-kernel-extension:kernel": kernel}}}))
    problems = site_build.check_site(out)
    assert any("pyodideUrl" in p for p in problems)
    assert any("PyPI" in p for p in problems)
    assert any("https://" in p for p in problems)
    assert any("imports scipy" in p for p in problems)
    assert not any("imports numpy" in p or "imports json" in p for p in problems)
