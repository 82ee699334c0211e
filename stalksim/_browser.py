"""In the browser (the JupyterLite course: Pyodide, Python compiled to WebAssembly) there is no
beanstalkd to talk to, no socket, no subprocess and no thread. What needs one of those refuses
there with `NotInBrowser`: one sentence saying what is missing and where the code runs instead
(Binder, or a local install), which IPython shows without a traceback.

    from stalksim import _browser
    _browser.refuse("stalksim.live.connect()")       # raises NotInBrowser in the browser only

`in_browser()` is the one test of where we run (tests patch it). Standard library only, and
only `sys`: `stalksim serve` imports this module on its way to listening.
"""

from __future__ import annotations

import sys

BINDER = "https://mybinder.org/v2/gh/stalksim/stalksim/HEAD?labpath=notebooks%2F"
LESSON_6 = "06-going-live.ipynb"
EXERCISE_12 = "exercises/12-ex-live-drain.ipynb"
LOCAL = "`bash scripts/lab.sh` in a clone of stalksim, which installs beanstalkd when run as root"
NO_BEANSTALKD = "a real beanstalkd, which cannot run in a browser"


def in_browser() -> bool:
    """True under Pyodide (a browser tab: no server, socket, subprocess or thread)."""
    return sys.platform == "emscripten"


def binder(notebook: str = LESSON_6) -> str:
    """The Binder address that opens `notebook` (a path under notebooks/) with a beanstalkd."""
    return BINDER + notebook.replace("/", "%2F")


def elsewhere(notebook: str = LESSON_6) -> str:
    """Where code that needs a real beanstalkd runs instead (the end of a sentence)."""
    return f"on Binder ({binder(notebook)}) or on your own machine ({LOCAL})"


class NotInBrowser(RuntimeError):
    """What was called needs a real server, a socket or a subprocess, and this is a browser.

    The message is one sentence (what is missing, where it runs instead); in IPython and
    Jupyter, the browser's kernel included, it shows as that sentence, without a traceback.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{self}\x1b[0m"]


def refuse(what: str, needs: str = NO_BEANSTALKD, instead: str = "") -> None:
    """In the browser, raise NotInBrowser("`what` needs `needs`: `instead`."); else nothing.
    `instead` defaults to opening lesson 6 on Binder or on your own machine."""
    if in_browser():
        instead = instead or f"open lesson 6 {elsewhere()}"
        raise NotInBrowser(f"{what} needs {needs}: {instead}.")
