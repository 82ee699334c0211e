"""ServerPanel's "show the wire" (issue 23): the lines the pane shows for each action are what
greenstalk sends and what beanstalkd 1.12 answers, byte for byte. The same actions run through
the panel and through greenstalk clients on a real beanstalkd behind a recording TCP proxy."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import greenstalk
import pytest

pytest.importorskip("ipywidgets")

import stalksim  # noqa: E402
from stalksim.widgets.panel import ServerPanel  # noqa: E402
from stalksim.wiretap import RECEIVED, SENT, Chunk, Tap, WireClient, lines  # noqa: E402
from tests.realserver import RealBeanstalkd  # noqa: E402

WHO = ("producer", "worker", "other")


class Proxy:
    """One TCP connection relayed to `upstream`, recording what crossed each way, in order
    (a chunk is recorded before it is passed on, so a client that has its reply finds both
    its command and the reply recorded)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.sockets: list[socket.socket] = []
        self._chunks: list[tuple[str, bytearray]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        down, _ = self.listener.accept()
        up = socket.create_connection(self.upstream)
        self.sockets += [down, up]
        for src, dst, way in ((down, up, SENT), (up, down, RECEIVED)):
            threading.Thread(target=self._pump, args=(src, dst, way), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, way: str) -> None:
        try:
            while data := src.recv(65536):
                with self._lock:
                    if self._chunks and self._chunks[-1][0] == way:
                        self._chunks[-1][1].extend(data)
                    else:
                        self._chunks.append((way, bytearray(data)))
                dst.sendall(data)
        except OSError:
            pass

    def take(self) -> list[Chunk]:
        with self._lock:
            out = [(way, bytes(data)) for way, data in self._chunks]
            self._chunks = []
        return out

    def close(self) -> None:
        for s in [self.listener, *self.sockets]:
            s.close()


class Pane(HTMLParser):
    """The newest action's lines as the wire pane's HTML shows them: [(way, text)] (a line's
    div holds text and spans, no other div)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []
        self.blocks = 0
        self._in_line = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class")
        if tag == "div" and cls == "sw-a":
            self.blocks += 1
        elif tag == "div" and cls in ("sw-s", "sw-r") and self.blocks == 1:
            self.lines.append((SENT if cls == "sw-s" else RECEIVED, ""))
            self._in_line = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_line = False

    def handle_data(self, data: str) -> None:
        if self._in_line:
            way, text = self.lines[-1]
            self.lines[-1] = (way, text + data)


def shown(panel: ServerPanel) -> list[tuple[str, str]]:
    """What the pane shows for the latest action (parsed from the widget's HTML)."""
    return Pane(panel.wire.html.value).lines


def as_lines(chunks: list[Chunk]) -> list[tuple[str, str]]:
    return [(way, line) for way, data in chunks for line in lines(data)]


Real = dict[str, greenstalk.Client]
Job = greenstalk.Job
#: (who, panel fields, button, the same action as greenstalk calls on a real server)
STEPS: list[tuple[str, dict[str, Any], str, Callable[[Real], Any]]] = [
    ("producer", dict(priority=10, ttr=5, body="hello"), "put",
     lambda r: r["producer"].put("hello", priority=10, delay=0, ttr=5)),
    ("worker", {}, "reserve", lambda r: r["worker"].reserve(timeout=0)),
    ("worker", dict(job=1), "release", lambda r: r["worker"].release(Job(1, ""), 10, 0)),
    ("worker", {}, "reserve", lambda r: r["worker"].reserve(timeout=0)),
    ("worker", {}, "touch", lambda r: r["worker"].touch(Job(1, ""))),
    ("worker", {}, "bury", lambda r: r["worker"].bury(Job(1, ""), 10)),
    ("producer", dict(bound=5), "kick", lambda r: r["producer"].kick(5)),
    ("producer", dict(tube="orders", body="order 7"), "put",
     lambda r: (r["producer"].use("orders"), r["producer"].put("order 7", 10, 0, 5))),
    ("producer", dict(job=2), "stats-job", lambda r: r["producer"].stats_job(2)),
    ("worker", dict(watch="orders"), "reserve",
     lambda r: (r["worker"].watch("orders"), r["worker"].ignore("default"),
                r["worker"].reserve(timeout=0))),
    ("worker", dict(job=2), "delete", lambda r: r["worker"].delete(2)),
    ("worker", {}, "reserve", lambda r: r["worker"].reserve(timeout=0)),  # TIMED_OUT
    ("other", dict(job=99), "delete", lambda r: r["other"].delete(99)),  # NOT_FOUND
    ("other", dict(job=1), "release", lambda r: r["other"].release(Job(1, ""), 10, 0)),
    ("other", dict(watch="default,orders"), "reserve",
     lambda r: (r["other"].watch("orders"), r["other"].reserve(timeout=0))),
    ("other", {}, "delete", lambda r: r["other"].delete(1)),
]


def _run_real(call: Callable[[Real], Any], real: Real) -> None:
    try:
        call(real)
    except greenstalk.Error:
        pass


def test_the_pane_shows_what_greenstalk_and_a_real_beanstalkd_send_byte_for_byte():
    panel = ServerPanel(stalksim.Simulation(seed=0), clients=WHO, wire=True)
    seen: set[str] = set()
    with RealBeanstalkd() as server:
        proxies = {who: Proxy(server.address) for who in WHO}
        real = {who: greenstalk.Client(p.address) for who, p in proxies.items()}
        try:
            for n, (who, fields, button, call) in enumerate(STEPS):
                panel.who.value = who
                for name, value in fields.items():
                    getattr(panel, name).value = value
                panel.buttons[button].click()
                _run_real(call, real)
                wire = proxies[who].take()
                assert wire, (n, button)
                assert panel.wire.blocks[-1].chunks == wire, (n, who, button)
                assert shown(panel) == as_lines(wire), (n, who, button)
                seen.update(line for _way, line in shown(panel))
        finally:
            for c in real.values():
                c.close()
            for p in proxies.values():
                p.close()
    assert {"TIMED_OUT⏎", "NOT_FOUND⏎", "KICKED 1⏎", "WATCHING 1⏎", "TOUCHED⏎", "BURIED⏎",
            "RELEASED⏎", "DELETED⏎", "state: ready", "RESERVED 2 7⏎"} <= seen


def test_the_lines_of_a_put_a_reserve_and_a_timeout():
    panel = ServerPanel(stalksim.Simulation(seed=0), clients=("producer", "worker"), wire=True)
    panel.priority.value = 0
    panel.buttons["put"].click()
    assert shown(panel) == [(SENT, "put 0 0 60 5⏎"), (SENT, "hello⏎"), (RECEIVED, "INSERTED 1⏎")]
    panel.who.value = "worker"
    panel.buttons["reserve"].click()
    assert shown(panel) == [(SENT, "reserve-with-timeout 0⏎"), (RECEIVED, "RESERVED 1 5⏎"),
                            (RECEIVED, "hello⏎")]
    panel.buttons["reserve"].click()
    assert shown(panel) == [(SENT, "reserve-with-timeout 0⏎"), (RECEIVED, "TIMED_OUT⏎")]
    panel.buttons["advance"].click()
    assert shown(panel) == [] and "only virtual time passes" in panel.wire.html.value


def test_the_pane_is_off_by_default_and_the_toggle_shows_it():
    panel = ServerPanel(stalksim.Simulation(seed=0))
    assert panel.wire.html.layout.display == "none" and panel.wire.html in panel.children
    panel.buttons["put"].click()  # recorded while hidden
    panel.wire.toggle.value = True
    assert panel.wire.html.layout.display is None
    assert shown(panel)[-1] == (RECEIVED, "INSERTED 1⏎")
    panel.wire.toggle.value = False
    assert panel.wire.html.layout.display == "none"


def test_actions_that_send_nothing_say_so_and_a_hung_client_sends_nothing():
    panel = ServerPanel(stalksim.Simulation(seed=0), wire=True)
    panel.who.value = "worker"
    for button in ("hang", "delete", "wake", "crash"):
        panel.buttons[button].click()
        assert panel.wire.blocks[-1].chunks == [] and panel.wire.blocks[-1].note
    assert [b.note.split(":")[0] for b in panel.wire.blocks] == ["nothing sent"] * 4
    assert "worker is hung" in panel.wire.blocks[1].note
    panel.buttons["reserve"].click()  # the fresh connection after the crash is recorded too
    assert shown(panel)[0] == (SENT, "reserve-with-timeout 0⏎")


def test_only_changed_tubes_go_on_the_wire():
    panel = ServerPanel(stalksim.Simulation(seed=0), clients=("c",), wire=True)
    panel.watch.value = "a, b"
    panel.buttons["reserve"].click()
    assert [t for w, t in shown(panel) if w == SENT] == [
        "watch a⏎", "watch b⏎", "ignore default⏎", "reserve-with-timeout 0⏎"]
    panel.buttons["reserve"].click()
    assert [t for w, t in shown(panel) if w == SENT] == ["reserve-with-timeout 0⏎"]
    panel.tube.value = "a"
    panel.buttons["put"].click()
    panel.buttons["put"].click()
    assert [t for w, t in shown(panel) if w == SENT] == [f"put {2**16} 0 60 5⏎", "hello⏎"]


def test_clients_made_outside_the_panel_are_not_recorded():
    sim = stalksim.Simulation(seed=0)
    panel = ServerPanel(sim, clients={"mine": sim.client()}, wire=True)
    panel.buttons["put"].click()
    assert panel.wire.blocks[-1].chunks == [] and "not recorded" in panel.wire.blocks[-1].note


def test_a_wire_client_never_takes_the_fast_path():
    sim = stalksim.Simulation(seed=0)
    c = WireClient(sim)
    c.put(b"x")
    c.stats()
    c.use("t")
    c.tubes()
    sent = b"".join(d for way, d in c.tap.take() if way == SENT)
    assert sent == b"put 65536 0 60 1\r\nx\r\nstats\r\nuse t\r\nlist-tubes\r\n"
    c.close()
    with pytest.raises(OSError):
        c.put("y")


def test_a_tap_records_a_real_clients_socket_too():
    with RealBeanstalkd() as server:
        c = greenstalk.Client(server.address)
        tap = Tap.install(c)
        try:
            c.put("hi")
            with pytest.raises(greenstalk.NotFoundError):
                c.delete(7)
        finally:
            c.close()
    assert tap.take() == [(SENT, b"put 65536 0 60 2\r\nhi\r\n"), (RECEIVED, b"INSERTED 1\r\n"),
                          (SENT, b"delete 7\r\n"), (RECEIVED, b"NOT_FOUND\r\n")]


@pytest.mark.parametrize(("data", "expected"), [
    (b"INSERTED 1\r\n", ["INSERTED 1⏎"]),
    (b"OK 9\r\n---\n- a\n\r\n", ["OK 9⏎", "---", "- a", "⏎"]),
    (b"put 0 0 0 3\r\na\rb\r\n", ["put 0 0 0 3⏎", "a\\rb⏎"]),
    (b"caf\xc3\xa9 \xff\tx", ["café \\xff\\tx"]),
    (b"a\n\nb", ["a", "", "b"]),
    (b"", []),
])
def test_lines_show_crlf_as_a_mark_and_escape_the_rest(data, expected):
    assert lines(data) == expected
