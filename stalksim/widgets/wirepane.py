"""The ServerPanel's "show the wire" pane: for each action, the protocol lines its client sent
(→) and the server's replies (←), newest action first, in a monospace box of fixed height that
scrolls rather than pushing the rest of the panel down. A CRLF shows as ⏎; a bare LF (inside a
YAML reply) is a plain line break."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import ipywidgets as widgets

from stalksim.client import SimClient
from stalksim.widgets._render import esc
from stalksim.wiretap import CRLF_MARK, SENT, Chunk, WireClient, transcript

KEEP = 8  # actions shown (the newest first)
LINES = 9  # lines the box shows before it scrolls

#: What happens on the wire when an action sends nothing.
NOTHING: dict[str, str] = {
    "advance": "nothing sent: only virtual time passes",
    "crash": "nothing sent: the connection closes; the server sees it close",
    "hang": "nothing sent: the client stops, its connection stays open",
    "wake": "nothing sent: the client carries on",
}

WIRE_CSS = (
    "<style>.stalk-wire-key{font-size:14px;margin:4px 0 2px}"
    ".stalk-wire{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:15px;"
    f"line-height:1.4;height:calc({LINES} * 1.4em + 12px);overflow-y:auto;"
    "box-sizing:border-box;padding:6px 10px;background:#1f2430;color:#f4f4f4;"
    "border-radius:4px}"
    ".stalk-wire .sw-a+.sw-a{border-top:1px solid #59606e;margin-top:4px;padding-top:4px;"
    "color:#c9ced6}"
    ".stalk-wire .sw-h{color:#aeb6c2}"
    ".stalk-wire .sw-s,.stalk-wire .sw-r{white-space:pre-wrap;overflow-wrap:anywhere;"
    "padding-left:2ch;text-indent:-2ch}"
    ".stalk-wire .sw-s::before{content:'\\2192  ';font-weight:bold}"
    ".stalk-wire .sw-r::before{content:'\\2190  ';font-weight:bold}"
    ".stalk-wire .sw-crlf{color:#a9b2c0}"
    ".stalk-wire .sw-n{font-style:italic}</style>"
)
KEY = (f"<div class='stalk-wire-key'>the wire: <b>&rarr;</b> what the client sent, "
       f"<b>&larr;</b> what the server answered; {CRLF_MARK} is CRLF (\\r\\n)</div>")


class Block(NamedTuple):
    """One action on the wire: its title, the bytes each way, their display lines [(SENT or
    RECEIVED, text)], and a note when no byte went either way."""

    title: str
    chunks: list[Chunk]
    lines: list[tuple[str, str]]
    note: str


def block(title: str, action: str, chunks: list[Chunk] | None, note: str = "") -> Block:
    """The block for `action`'s `chunks` (None: not recorded; `note` says why)."""
    lines = transcript(chunks or [])
    if not lines and not note:
        note = NOTHING.get(action, "nothing sent")
    return Block(title, chunks or [], lines, note)


def _line(way: str, text: str) -> str:
    cls = "sw-s" if way == SENT else "sw-r"
    if text.endswith(CRLF_MARK):
        text = f"{esc(text[:-1])}<span class='sw-crlf'>{CRLF_MARK}</span>"
    else:
        text = esc(text)
    return f"<div class='{cls}'>{text}</div>"


def pane_html(blocks: Sequence[Block]) -> str:
    """The pane: the newest block first."""
    body = "".join(
        f"<div class='sw-a'><div class='sw-h'>{esc(b.title)}</div>"
        + "".join(_line(way, text) for way, text in b.lines)
        + (f"<div class='sw-n'>{esc(b.note)}</div>" if b.note else "") + "</div>"
        for b in reversed(blocks))
    return f"{WIRE_CSS}{KEY}<div class='stalk-wire'>{body}</div>"


class WirePane:
    """The "show the wire" toggle and its pane: `add()` each action's block (a WireClient's
    recorded bytes); the pane is shown while the toggle is on."""

    LABEL = "show the wire"

    def __init__(self, on: bool, min_width: str) -> None:
        self.blocks: list[Block] = []  # the latest actions, oldest first
        self.toggle = widgets.ToggleButton(
            value=on, description=self.LABEL, icon="exchange",
            tooltip="the protocol lines each action sent and the server's replies",
            layout=widgets.Layout(width="auto", min_width=min_width, flex="0 0 auto",
                                  margin="0 0 0 16px"))
        self.html = widgets.HTML()
        self.toggle.observe(lambda _change: self._show(), "value")
        self._show()

    def add(self, title: str, action: str, client: SimClient, who: str, note: str = "") -> None:
        """Add what `action` of `client` sent and got back (taken from its tap)."""
        if isinstance(client, WireClient):
            chunks = client.tap.take()
        else:
            chunks, note = None, note or (f"not recorded: {who} is a client made outside the "
                                          f"panel (a stalksim.wiretap.WireClient is recorded)")
        self.blocks = [*self.blocks, block(title, action, chunks, note)][-KEEP:]
        self.html.value = pane_html(self.blocks)

    def lines(self) -> list[tuple[str, str]]:
        """The latest action's lines as the pane shows them: [(SENT or RECEIVED, text)]."""
        return self.blocks[-1].lines if self.blocks else []

    def _show(self) -> None:
        on = self.toggle.value
        self.html.layout.display = None if on else "none"
        if on and not self.html.value:
            self.html.value = pane_html(self.blocks)
