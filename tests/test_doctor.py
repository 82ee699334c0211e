"""`stalksim doctor`: red with a fix that works when beanstalkd is missing, green otherwise;
notebooks that fail are named with their cell; the exit status is 0 only when all is green."""

from __future__ import annotations

import io
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from stalksim import doctor
from tests.realserver import RealBeanstalkd, free_port, require_beanstalkd


@pytest.fixture(scope="module")
def server() -> Iterator[RealBeanstalkd]:
    s = RealBeanstalkd().start()
    yield s
    s.stop()


def test_green_when_a_beanstalkd_answers(server: RealBeanstalkd) -> None:
    line = doctor.check_beanstalkd(server.address)
    assert line.ok, line
    assert "1.12" in line.detail and f":{server.port}" in line.detail


def test_red_without_the_binary_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no beanstalkd
    line = doctor.check_beanstalkd(("127.0.0.1", free_port()))
    assert not line.ok
    assert "no beanstalkd binary on PATH" in line.detail
    assert "apt-get install beanstalkd" in line.fix
    assert "python -m stalksim serve -l 127.0.0.1 -p" in line.fix


def test_red_when_unreachable_and_its_fix_starts_one() -> None:
    """The fix is the exact command; run as printed (in the background), it turns the line
    green."""
    require_beanstalkd()
    address = ("127.0.0.1", free_port())
    line = doctor.check_beanstalkd(address)
    assert not line.ok and "nothing answers at" in line.detail
    assert line.fix == f"beanstalkd -l 127.0.0.1 -p {address[1]} &"
    proc = subprocess.Popen(shlex.split(line.fix.removesuffix("&")))
    try:
        deadline = time.monotonic() + 10
        while not doctor.server_version(address, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.05)  # a refused connection returns at once: give it time to start
        assert doctor.check_beanstalkd(address).ok
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_a_remote_address_says_where_to_start_it() -> None:
    line = doctor.check_beanstalkd(("192.0.2.1", 11300), which=lambda _: "/usr/bin/beanstalkd")
    assert not line.ok and "start beanstalkd on 192.0.2.1" in line.fix


def test_versions_green_here_and_red_when_not_met(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = doctor.check_versions()
    assert {x.name for x in lines} >= {"Python", "simpy", "greenstalk", "matplotlib"}
    assert all(x.ok for x in lines), [x for x in lines if not x.ok]
    monkeypatch.setattr(doctor, "requirements",
                        lambda extra="notebook": (">=99", ["simpy>=999", "no-such-pkg-xyz>=1"]))
    python, simpy, missing = doctor.check_versions()
    assert not python.ok and "needs >=99" in python.detail
    assert not simpy.ok and simpy.fix == 'python -m pip install "simpy>=999"'
    assert not missing.ok and "not installed" in missing.detail and "pip install" in missing.fix


def test_memory_and_disk_thresholds(tmp_path: Path) -> None:
    assert doctor.check_disk(tmp_path, 1).ok
    disk = doctor.check_disk(tmp_path, 1e12)
    assert not disk.ok and disk.fix
    memory = doctor.check_memory(1e12)
    assert not memory.ok and "close other programs" in memory.fix
    assert doctor.check_memory(1).ok


def test_main_exit_status(server: RealBeanstalkd) -> None:
    out = io.StringIO()
    where = f"{server.host}:{server.port}"
    assert doctor.main(["--no-notebooks", "--address", where, "--min-memory", "1",
                        "--min-disk", "1"], out) == 0, out.getvalue()
    assert "FAIL" not in out.getvalue() and "0 red. Ready for class." in out.getvalue()
    out = io.StringIO()
    assert doctor.main(["--no-notebooks", "--address", f"127.0.0.1:{free_port()}",
                        "--min-memory", "1", "--min-disk", "1"], out) == 1
    text = out.getvalue()
    assert "FAIL  beanstalkd" in text and "fix: beanstalkd -l 127.0.0.1 -p" in text


def _notebook(path: Path, *sources: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# a lesson")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


@pytest.fixture
def lessons(tmp_path: Path) -> Path:
    _notebook(tmp_path / "01-good.ipynb", "%matplotlib inline\nx = 1", "print(x + 1)")
    _notebook(tmp_path / "02-bad.ipynb", "y = 2", "raise ValueError('broken on purpose')")
    _notebook(tmp_path / "exercises" / "01-ex-good.ipynb",
              "import stalksim.exercises as ex\nanswer = ['b', 'c']",
              "assert ex.check('l1-tubes', answer).ok")
    _notebook(tmp_path / "exercises" / "instructor" / "01-ex-good.ipynb", "1/0")  # not run
    return tmp_path


def test_quick_names_the_failing_cell(lessons: Path) -> None:
    assert [p.name for p in doctor.notebooks(lessons)] == ["01-good.ipynb", "02-bad.ipynb",
                                                          "01-ex-good.ipynb"]
    good, bad, ex = (doctor.check_notebook(p, quick=True) for p in doctor.notebooks(lessons))
    assert good.ok and ex.ok and ex.name == "exercises/01-ex-good.ipynb"
    assert not bad.ok and bad.detail == "cell 3: ValueError: broken on purpose"
    assert "read cell 3" in bad.fix


@pytest.mark.slow
def test_kernel_run_names_the_failing_cell(lessons: Path) -> None:
    good = doctor.check_notebook(lessons / "01-good.ipynb", quick=False, timeout=60)
    bad = doctor.check_notebook(lessons / "02-bad.ipynb", quick=False, timeout=60)
    assert good.ok, good
    assert not bad.ok and bad.detail.startswith("cell 3: ValueError"), bad


def test_main_with_notebooks_prints_progress(lessons: Path, server: RealBeanstalkd) -> None:
    out = io.StringIO()
    code = doctor.main(["--quick", "--notebooks", str(lessons), "--address",
                        f"{server.host}:{server.port}", "--min-memory", "1", "--min-disk", "1"],
                       out)
    text = out.getvalue()
    assert code == 1
    assert "[ 1/4] 01-good.ipynb" in text and "[ 2/4] 02-bad.ipynb" in text
    assert "[ 4/4] exercise checks" in text
    assert "FAIL  02-bad.ipynb" in text and text.count("FAIL ") == 2  # its progress line too
