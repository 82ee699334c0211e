"""The Pyodide the browser course runs on, assembled from registry files and checked.

The site must hold the Pyodide runtime and every wheel the lessons load (nothing is fetched from
another origin at run time). Where each file comes from:

- the runtime (pyodide.mjs, pyodide.asm.wasm, python_stdlib.zip, ...) and the release's official
  `pyodide-lock.json`, which gives every package's sha256: the npm package `pyodide`;
- the WebAssembly wheels (numpy, matplotlib, pandas, ...): PyPI has no Pyodide builds of them, so
  they are taken from a PyPI package that vendors one Pyodide release byte for byte
  (`VENDOR` below). Each one must match the official lock's sha256, or the build stops;
- pure-Python wheels the vendor lacks: PyPI, at the version the official lock names (their
  hashes differ from Pyodide's rebuilt copies, so their lock entries carry the PyPI files' own);
- packages the official lock does not know (simpy, greenstalk, ipywidgets, ...): PyPI, pinned;
- stalksim: a wheel built from the checkout.

A deployer with internet can take everything from the official release instead:
`--pyodide-release pyodide-314.0.3.tar.bz2` (the GitHub release asset, which holds every wheel);
its wheels are checked against the same lock. See docs/site.md.

The result is one folder: the runtime, the wheels and a trimmed `pyodide-lock.json` that lists
exactly the packages the folder holds, so a package the lessons need and the site lacks fails
loudly instead of being fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYODIDE_VERSION = "314.0.3"
NPM_TARBALL = f"https://registry.npmjs.org/pyodide/-/pyodide-{PYODIDE_VERSION}.tgz"
NPM_INTEGRITY = ("sha512-sK40My6m8tmBUYtYH9au9rXUeh9x0wfahtHdOlGmJxZDsKBGKtP6KznyFB2+u/klbQTdDion"
                 "R0uaVd176zVQzQ==")
VENDOR = {"requirement": "open-webui==0.12.4",
          "file": "open_webui-0.12.4-py3-none-any.whl",
          "sha256": "02e9caba96234db3fa17a92e56163b3f7f2b8ca8227fa886b85c178d696483f6",
          "folder": "open_webui/frontend/pyodide/"}
"""A PyPI package that vendors Pyodide 314.0.3's wheels unchanged (checked wheel by wheel)."""

RUNTIME = ("pyodide.mjs", "pyodide.js", "pyodide.asm.mjs", "pyodide.asm.wasm",
           "python_stdlib.zip", "package.json")
"""The runtime files the kernel loads (the npm package also has consoles, maps and types)."""

FROM_LOCK = ("micropip", "ipython", "jedi", "traitlets", "matplotlib-inline", "numpy",
             "matplotlib", "pandas", "typing-extensions")
"""Packages of the official lock the site needs: the kernel's own (micropip, ipython, jedi) and
the lessons' (numpy, matplotlib, pandas); each brings its `depends` along."""

FROM_PYPI = {"comm": "0.2.3", "simpy": "4.1.2", "greenstalk": "2.1.1", "ipywidgets": "8.1.9",
             "anywidget": "0.11.0", "psygnal": "0.16.1"}
"""Pure-Python packages the official lock does not have, pinned (ipywidgets and anywidget at
the versions whose JupyterLab extensions the site ships: scripts/site/requirements.txt)."""

STALKSIM_NEEDS = ("matplotlib", "ipywidgets", "anywidget")
"""Loaded with stalksim: `stalksim.views` and `stalksim.widgets` import them at module level, and
the kernel loads packages only from a cell's own import lines."""

NOT_IN_BROWSER = {"widgetsnbextension": "the Pyodide kernel installs its own stand-in",
                  "jupyterlab-widgets": "the site ships its JupyterLab extension instead"}
"""Requirements a browser package declares that the site deliberately does not hold."""

PURE = re.compile(r"-py(2\.py)?3-none-any\.whl$")


class SiteError(Exception):
    """The site cannot be built as asked; the message says why and what to do."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download(url: str, dest: Path, integrity: str) -> Path:
    """`url` saved at `dest` (kept when already there and intact); refuses a file whose npm
    integrity (sha512) differs from the pinned one."""
    algo, _, want = integrity.partition("-")
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310 (a pinned https URL)
            dest.write_bytes(r.read())
    got = base64.b64encode(hashlib.new(algo, dest.read_bytes()).digest()).decode()
    if got != want:
        dest.unlink()
        raise SiteError(f"{url}: {algo} {got} is not the pinned {want}; not building")
    return dest


def pip_download(requirements: list[str], dest: Path, pure: bool) -> None:
    """Wheels from the package index, no dependencies; `pure` asks for py3-none-any only."""
    dest.mkdir(parents=True, exist_ok=True)
    if not requirements:
        return
    args = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest),
            "--only-binary=:all:"]
    if pure:
        args += ["--python-version", "3.14", "--implementation", "py", "--abi", "none",
                 "--platform", "any"]
    done = subprocess.run([*args, *requirements], capture_output=True, text=True)
    if done.returncode:
        raise SiteError(f"pip download {' '.join(requirements)} failed:\n{done.stderr[-2000:]}")


def wheel_name(file_name: str) -> tuple[str, str]:
    """(canonical name, version) of a wheel file."""
    name, version = file_name.split("-")[:2]
    return canonicalize_name(name), version


def wheel_metadata(path: Path) -> tuple[list[Requirement], list[str]]:
    """A wheel's requirements and its top-level import names."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        headers = HeaderParser().parsestr(z.read(meta).decode())
    reqs = [Requirement(r) for r in headers.get_all("Requires-Dist") or []]
    tops = sorted({n.split("/")[0].removesuffix(".py") for n in names
                   if not n.split("/")[0].endswith((".dist-info", ".data"))
                   and (n.endswith(".py") or "/" in n)})
    return reqs, tops


BROWSER = {**default_environment(), "sys_platform": "emscripten", "platform_system": "Emscripten",
           "python_version": "3.14", "python_full_version": "3.14.0",
           "implementation_name": "cpython", "platform_machine": "wasm32"}


def runtime_requires(path: Path) -> list[str]:
    """The canonical names a wheel needs in the browser (no extras, markers evaluated there)."""
    reqs, _ = wheel_metadata(path)
    return sorted({canonicalize_name(r.name) for r in reqs
                   if r.marker is None or r.marker.evaluate({**BROWSER, "extra": ""})})


def closure(lock: dict, roots: tuple[str, ...]) -> list[str]:
    """`roots` and everything their lock entries depend on, in a stable order."""
    seen: list[str] = []
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        if name not in lock:
            raise SiteError(f"{name} is not in Pyodide {PYODIDE_VERSION}'s lock")
        seen.append(name)
        todo += [canonicalize_name(d) for d in lock[name]["depends"]]
    return seen


def entry(path: Path, depends: list[str], imports: list[str] | None = None) -> dict:
    """A lock entry for a wheel the official lock does not describe (its own sha256)."""
    name, version = wheel_name(path.name)
    return {"name": name, "version": version, "file_name": path.name, "install_dir": "site",
            "sha256": sha256(path), "package_type": "package",
            "imports": imports if imports is not None else wheel_metadata(path)[1],
            "depends": depends, "unvendored_tests": False}


class Assembly:
    """Builds `out` (a Pyodide folder for the site) from files cached under `cache`."""

    def __init__(self, cache: Path, out: Path, release: Path | None = None,
                 npm: Path | None = None) -> None:
        self.cache, self.out, self.release, self.npm = cache, out, release, npm
        self.notes: list[str] = []  # where each file came from, for the build's report

    def npm_package(self) -> Path:
        """The npm package `pyodide`, unpacked (runtime files and the official lock); `npm`
        names an unpacked copy instead."""
        if self.npm is not None:
            return self.npm
        tgz = download(NPM_TARBALL, self.cache / f"pyodide-{PYODIDE_VERSION}.tgz", NPM_INTEGRITY)
        unpacked = self.cache / f"pyodide-{PYODIDE_VERSION}"
        if not (unpacked / "package" / "pyodide-lock.json").exists():
            with tarfile.open(tgz) as t:
                t.extractall(unpacked, filter="data")
        return unpacked / "package"

    def vendored(self) -> dict[str, Path]:
        """file name -> path of each wheel in the vendor package (or the official release)."""
        if self.release is not None:
            return self._from_release(self.release)
        folder = self.cache / "vendor"
        wheel = folder / VENDOR["file"]
        if not wheel.exists():
            pip_download([VENDOR["requirement"]], folder, pure=False)
        if sha256(wheel) != VENDOR["sha256"]:
            raise SiteError(f"{wheel.name} is not the pinned file (sha256 {sha256(wheel)}); "
                            "not building")
        unpacked = self.cache / "vendor-wheels"
        if not unpacked.exists():
            with zipfile.ZipFile(wheel) as z:
                for n in z.namelist():
                    if n.startswith(VENDOR["folder"]) and n.endswith(".whl"):
                        target = unpacked / n.rsplit("/", 1)[1]
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(z.read(n))
        return {p.name: p for p in unpacked.glob("*.whl")}

    def _from_release(self, tarball: Path) -> dict[str, Path]:
        unpacked = self.cache / f"release-{tarball.name}"
        if not unpacked.exists():
            with tarfile.open(tarball) as t:
                t.extractall(unpacked, filter="data")
        return {p.name: p for p in unpacked.rglob("*.whl")}

    def build(self, stalksim_wheel: Path) -> dict:
        """Write the folder; return the trimmed lock it holds."""
        npm = self.npm_package()
        official = json.loads((npm / "pyodide-lock.json").read_text())
        lock = official["packages"]
        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        for f in RUNTIME:
            shutil.copy2(npm / f, self.out / f)
        self.notes.append(f"runtime: npm pyodide {PYODIDE_VERSION}")

        vendored = self.vendored()
        kept: dict[str, dict] = {}
        missing_pure: list[str] = []
        for name in closure(lock, FROM_LOCK):
            e = lock[name]
            src = vendored.get(e["file_name"])
            if src is None:
                if not PURE.search(e["file_name"]):
                    raise SiteError(f"{e['file_name']} (WebAssembly) is in neither the vendor "
                                    "package nor the release; not building")
                missing_pure.append(name)
                continue
            if sha256(src) != e["sha256"]:
                raise SiteError(f"{src.name}: sha256 {sha256(src)} is not the official lock's "
                                f"{e['sha256']}; not building")
            shutil.copy2(src, self.out / src.name)
            kept[name] = e
        self.notes.append(f"{len(kept)} wheels checked against the official lock's sha256")

        pypi = self.cache / "pypi"
        wanted = {n: lock[n]["version"] for n in missing_pure} | FROM_PYPI
        pip_download([f"{n}=={v}" for n, v in sorted(wanted.items())], pypi, pure=True)
        files = {wheel_name(p.name): p for p in pypi.glob("*.whl")}
        for name, version in sorted(wanted.items()):
            src = files.get((name, version))
            if src is None:
                raise SiteError(f"pip gave no wheel for {name}=={version}")
            shutil.copy2(src, self.out / src.name)
            if name in lock:
                kept[name] = {**lock[name], "file_name": src.name, "sha256": sha256(src)}
            else:
                kept[name] = entry(src, runtime_requires(src))
        self.notes.append(f"{len(wanted)} pure-Python wheels from PyPI: "
                          f"{', '.join(sorted(wanted))}")

        shutil.copy2(stalksim_wheel, self.out / stalksim_wheel.name)
        kept["stalksim"] = entry(self.out / stalksim_wheel.name,
                                 sorted({*runtime_requires(stalksim_wheel), *STALKSIM_NEEDS}),
                                 imports=["stalksim"])
        self.check_closed(kept)
        trimmed = {"info": official["info"], "packages": dict(sorted(kept.items()))}
        (self.out / "pyodide-lock.json").write_text(json.dumps(trimmed, indent=1) + "\n")
        return trimmed

    @staticmethod
    def check_closed(kept: dict[str, dict]) -> None:
        """Every dependency of every kept package is kept (or deliberately left out)."""
        for name, e in kept.items():
            e["depends"] = [d for d in e["depends"] if canonicalize_name(d) not in NOT_IN_BROWSER]
            lost = [d for d in e["depends"] if canonicalize_name(d) not in kept]
            if lost:
                raise SiteError(f"{name} needs {', '.join(lost)}, which the site lacks")


def verify(folder: Path) -> list[str]:
    """What is wrong with a built Pyodide folder (empty when nothing): every file the lock names
    is there with its sha256, and every wheel there is in the lock."""
    lock = json.loads((folder / "pyodide-lock.json").read_text())["packages"]
    problems = []
    for name, e in lock.items():
        p = folder / e["file_name"]
        if not p.exists():
            problems.append(f"{name}: {e['file_name']} missing")
        elif sha256(p) != e["sha256"]:
            problems.append(f"{name}: {e['file_name']} has another sha256")
    listed = {e["file_name"] for e in lock.values()}
    problems += [f"{p.name} is not in the lock" for p in folder.glob("*.whl")
                 if p.name not in listed]
    return problems

