"""LiveView.refresh() returns a static snapshot, so each cell of lesson 6 keeps the real
server's state after that cell (with the changes highlighted), not only the final state."""

from __future__ import annotations

import re

import greenstalk
import pytest

pytest.importorskip("ipywidgets")

from IPython.display import HTML  # noqa: E402

from stalksim import live  # noqa: E402
from tests.realserver import RealBeanstalkd  # noqa: E402

pytestmark = pytest.mark.real


def cells(snapshot: HTML, tube: str) -> list[str]:
    """The tube's row as text: ready, reserved, delayed, buried, waiting, total put."""
    row = re.search(rf"<tr><td><b>{tube}</b>.*?</tr>", snapshot.data)
    assert row is not None, snapshot.data
    return [re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
            ][1:]


@pytest.fixture()
def server():
    with RealBeanstalkd() as b:
        yield b


def test_each_refresh_returns_the_state_after_its_cell(server):
    with greenstalk.Client(server.address, use="lesson6", watch="lesson6") as client:
        view = live.LiveView(client, match="lesson6")
        try:
            for n in range(3):  # lesson 6, cell 9 (notebook cell index)
                client.put(f"job {n}", delay=0 if n else 30)
            job = client.reserve(timeout=5)
            after_put = view.refresh()
            client.bury(job)  # cell 10
            after_bury = view.refresh()
        finally:
            view.close()
    assert isinstance(after_put, HTML) and isinstance(after_bury, HTML)
    assert cells(after_put, "lesson6") == ["1 (+1)", "1 (+1)", "1 (+1)", "0", "0", "3 (+3)"]
    assert cells(after_bury, "lesson6") == ["1", "0 (-1)", "1", "1 (+1)", "0", "3"]
    assert after_put.data.count("stalk-chg") == 4 + 1  # four changed cells, plus the CSS rule
    assert view.table.value == after_bury.data  # the live widget shows the latest


def test_a_cell_ending_in_refresh_keeps_its_snapshot_as_output(server):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.user_ns["address"] = server.address
        assert shell.run_cell("import greenstalk, stalksim.live\n"
                              "client = greenstalk.Client(address, use='t1')\n"
                              "view = stalksim.live.LiveView(client, match='t1')").success
        first = shell.run_cell("client.put('a')\nview.refresh()").result
        second = shell.run_cell("client.put('b')\nview.refresh()").result
        shell.run_cell("view.close(); client.close()")
    finally:
        InteractiveShell.clear_instance()
    assert cells(first, "t1")[0] == "1 (+1)" and cells(second, "t1")[0] == "2 (+1)"


def test_refresh_says_when_the_server_is_gone():
    b = RealBeanstalkd().start()
    view = live.LiveView(b.address)
    b.stop()
    try:
        out = view.refresh()
    finally:
        view.close()
    assert f"{b.address[0]}:{b.address[1]}" in out.data and "#b00020" in out.data
