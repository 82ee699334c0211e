"""What needs a real server behaves well in the browser (the JupyterLite course, Pyodide).

The browser is simulated by patching `stalksim._browser.in_browser` (the one test of where we
run; it reads `sys.platform == "emscripten"`). Each live entry point then raises `NotInBrowser`
with one sentence (what is missing, where it runs instead) before it touches a socket or a
subprocess, and an IPython shell built as the Pyodide kernel's is shows that sentence alone, no
traceback: running lesson 6 top to bottom stops at its first cell that needs the server. The
exercises answer with feedback instead; and lesson 6's and exercise 12's first cells say where
they run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import greenstalk
import nbformat
import pytest

import stalksim.exercises as ex
from stalksim import _browser, live
from stalksim._browser import NotInBrowser

ROOT = Path(__file__).resolve().parent.parent
LESSON_6 = ROOT / "notebooks" / _browser.LESSON_6
EXERCISE_12 = ROOT / "notebooks" / _browser.EXERCISE_12
EXERCISE_12_INSTRUCTOR = ROOT / "course" / "instructor" / EXERCISE_12.name
BINDER_6 = _browser.binder(_browser.LESSON_6)
RED = "\x1b[31m{}\x1b[0m"


def _unreachable(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a socket or a subprocess was used in the browser")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As under Pyodide: in_browser() is true, and no socket or subprocess may be used."""
    monkeypatch.setattr(_browser, "in_browser", lambda: True)
    monkeypatch.setattr(socket, "create_connection", _unreachable)
    monkeypatch.setattr(subprocess, "Popen", _unreachable)
    monkeypatch.setattr("stalksim.serving.listen", _unreachable)
    yield


def test_in_browser_is_pyodide(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _browser.in_browser()
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert _browser.in_browser()


def test_the_real_test_of_the_platform_stops_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "create_connection", _unreachable)
    with monkeypatch.context() as m:
        m.setattr(sys, "platform", "emscripten")
        with pytest.raises(NotInBrowser):
            live.connect(start=True)


def _assert_one_sentence(err: NotInBrowser, *words: str) -> None:
    message = str(err)
    assert isinstance(err, RuntimeError)
    assert "\n" not in message and message.endswith(".")
    assert "browser" in message
    for w in words:
        assert w in message, (w, message)
    assert err._render_traceback_() == [RED.format(message)]  # IPython shows only this


LIVE_CALLS: dict[str, Callable[[], Any]] = {
    "connect": lambda: live.connect(),
    "connect-start": lambda: live.connect(("127.0.0.1", 11300), start=True),
    "start_private": lambda: live.start_private(),
    "LiveSession": lambda: live.LiveSession(),
    "LiveSession-address": lambda: live.LiveSession(("127.0.0.1", 11300)),
    "run_live": lambda: live.run_live("crashed-consumer", speed=5, until=10),
    "LiveView": lambda: live.LiveView(("127.0.0.1", 11300)),
    "JobWatch": lambda: live.JobWatch(("127.0.0.1", 11300), tube="lesson6-kill"),
    "WorkerProcess": lambda: live.WorkerProcess(("127.0.0.1", 11300), "worker-a"),
    "WorkerControls": lambda: live.WorkerControls(None),
}


@pytest.mark.parametrize("call", LIVE_CALLS, ids=list(LIVE_CALLS))
def test_live_entry_points_say_where_to_run_instead(call: str, browser: None) -> None:
    with pytest.raises(NotInBrowser) as err:
        LIVE_CALLS[call]()
    name = "stalksim.live." + call.split("-")[0] + "()"
    _assert_one_sentence(err.value, name, "needs a real beanstalkd", BINDER_6,
                         "bash scripts/lab.sh")
    assert live.NotInBrowser is NotInBrowser


def test_stalksim_serve_refuses_in_the_browser(browser: None) -> None:
    from stalksim import cli, wire

    for run in (lambda: cli.main(["serve", "-p", "0"]), lambda: cli.main(["serve", "-h"]),
                lambda: wire.serve_main(["-p", "0"])):
        with pytest.raises(NotInBrowser) as err:
            run()
        _assert_one_sentence(err.value, "stalksim serve", "TCP port",
                             "python -m stalksim serve")


def test_the_tools_that_start_processes_refuse_in_the_browser(browser: None,
                                                               tmp_path: Path) -> None:
    from stalksim import doctor
    from stalksim.exercises import report

    with pytest.raises(NotInBrowser) as err:
        doctor.main(["--no-notebooks"])
    _assert_one_sentence(err.value, "stalksim doctor", "python -m stalksim doctor")
    (tmp_path / "alice.ipynb").write_text("{}")
    with pytest.raises(NotInBrowser) as err:
        report.collect(tmp_path)
    _assert_one_sentence(err.value, "stalksim.exercises.report", "python -m stalksim.exercises")


def test_the_live_checks_answer_with_feedback_in_the_browser(browser: None) -> None:
    client = greenstalk.Client.__new__(greenstalk.Client)  # one that never connected
    fb = ex.check("l6-live", client)
    assert not fb.ok and "needs a real beanstalkd" in fb.message and BINDER_6 in fb.message
    assert "raised" not in fb.message

    right = ex.check("ex-live-drain", _answer(ex.exercise("ex-live-drain").solution))
    assert right.ok, right.message
    assert right.message.startswith("Right on the simulator. The live half of this check "
                                    "needs a real beanstalkd")
    assert "Binder" in right.message and "first cell" in right.message
    starter = ex.check("ex-live-drain", _answer(ex.exercise("ex-live-drain").starter))
    assert not starter.ok and "browser" not in starter.message  # the simulator's verdict


def _answer(code: str) -> Any:
    ns: dict[str, Any] = {}
    exec(code, ns)
    return ns["answer"]


# ---- in IPython, as the browser's kernel runs it -------------------------------------------

def _pyodide_shell() -> Any:
    """An InteractiveShell that keeps what it would show for an error, as the Pyodide kernel's
    (jupyterlite pyodide_kernel.interpreter.Interpreter) does: the cell's reply is an error,
    with that structured traceback, when `_showtraceback` was called."""
    from IPython.core.interactiveshell import InteractiveShell

    class PyodideLikeShell(InteractiveShell):
        shown: list[list[str]]

        def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
            self.shown.append(stb)

    shell = PyodideLikeShell.instance()
    shell.shown = []
    return shell


@pytest.fixture
def shell(browser: None) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    try:
        yield _pyodide_shell()
    finally:
        InteractiveShell.clear_instance()


def test_ipython_shows_the_sentence_alone(shell: Any) -> None:
    result = shell.run_cell("import stalksim.live\nclient = stalksim.live.connect(start=True)")
    assert isinstance(result.error_in_exec, NotInBrowser)
    (stb,) = shell.shown
    assert stb == [RED.format(result.error_in_exec)]
    assert "Traceback" not in "".join(stb) and "File " not in "".join(stb)
    shell.shown.clear()
    assert not shell.run_cell("raise RuntimeError('a real error')").success  # for comparison:
    assert len(shell.shown[0]) > 1  # any other error keeps its traceback


def _run_all(shell: Any, path: Path) -> tuple[Any, list[list[str]]]:
    """Run the notebook's code cells in order, as Run All does: (the cell that failed, or
    None, and what the shell showed for it). `%` lines (matplotlib's backend) are left out."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(x for x in cell.source.splitlines() if not x.startswith("%"))
        if not shell.run_cell(source).success:
            return cell, shell.shown
    return None, shell.shown


def test_lesson_6_run_all_stops_at_connect_with_the_sentence(shell: Any) -> None:
    failed, shown = _run_all(shell, LESSON_6)
    assert failed is not None and failed.id == "l06-03", failed
    assert "stalksim.live.connect(" in failed.source
    assert len(shown) == 1 and len(shown[0]) == 1, shown  # one line, no traceback
    assert "stalksim.live.connect() needs a real beanstalkd" in shown[0][0]
    assert BINDER_6 in shown[0][0]


@pytest.mark.parametrize("path", [EXERCISE_12, EXERCISE_12_INSTRUCTOR],
                         ids=["student", "instructor"])
def test_exercise_12_runs_to_the_end_and_its_check_speaks(shell: Any, path: Path) -> None:
    failed, shown = _run_all(shell, path)
    assert failed is None and shown == [], shown
    feedback = shell.user_ns["feedback"]
    if path == EXERCISE_12_INSTRUCTOR:
        assert feedback.ok and "needs a real beanstalkd" in feedback.message
    else:
        assert not feedback.ok


# ---- the notebooks say where they run ---------------------------------------------------------

@pytest.mark.parametrize("path, notebook", [
    (LESSON_6, _browser.LESSON_6),
    (EXERCISE_12, _browser.EXERCISE_12),
    (EXERCISE_12_INSTRUCTOR, _browser.EXERCISE_12),
], ids=["lesson-6", "exercise-12", "exercise-12-instructor"])
def test_first_cell_says_binder_or_a_local_install(path: Path, notebook: str) -> None:
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    text = " ".join(first.source.split())
    assert "needs a real beanstalkd, which a browser cannot run" in text
    assert f"[Binder]({_browser.binder(notebook)})" in text
    assert "on your own machine (`bash scripts/lab.sh` in a clone of stalksim" in text
    assert "installs beanstalkd" in text
