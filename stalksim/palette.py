"""The one palette: every figure, widget, the flow view, the tour and the handouts draw a state,
a move (by its cause) or an event in the colour named here, so a learner reads one legend once;
their text inks and feedback colours are named here too. tests/test_palette.py reads the
colours back from what the views and tables draw, checks the static CSS's fallbacks, and that
no other module spells these colours out.

Okabe-Ito colours (safe for the common colour-vision deficiencies). Standard library only: the
browser tour and the handouts use it without matplotlib.
"""

from __future__ import annotations

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}

STATE_COLOURS = {
    "ready": OKABE_ITO["sky blue"],  # waiting: light
    "reserved": OKABE_ITO["blue"],  # being worked on: dark
    "delayed": OKABE_ITO["yellow"],
    "buried": "#8C8C8C",  # set aside: neutral grey
}

HUNG_FILL = "#DCE9F5"
"""A hold while its worker is hung: the job is still reserved, but no work is done, so the
reserved blue turns into this light fill, hatched in the reserved blue."""

CRASH = OKABE_ITO["vermillion"]
"""A crash and the connection-closed it causes."""
TTR = OKABE_ITO["reddish purple"]
"""A hang and the TTR expiry it causes."""
DEADLINE = OKABE_ITO["orange"]
"""DEADLINE_SOON (and kicks)."""

OTHER_JOB = "#DADADA"
"""Another job a worker holds (a job's lanes: why this one had to wait): light grey."""
END_FILLS = {"new": "#FFFFFF", "deleted": "#DDDDDD"}
"""The life cycle's two ends, where there is no job (the handout's boxes)."""

INK, INK_SOFT, INK_FAINT = "#222222", "#444444", "#666666"
"""Text and outlines, near-black, a colour no state or event uses; softer greys for notes."""

MOVE_COLOURS = {
    "put": INK_FAINT, "reserve": STATE_COLOURS["reserved"],
    "reserve-job": STATE_COLOURS["reserved"], "release": STATE_COLOURS["ready"],
    "bury": STATE_COLOURS["buried"], "kick": DEADLINE, "kick-job": DEADLINE,
    "delete": OKABE_ITO["black"], "touch": OKABE_ITO["black"],
    "delay-matured": OKABE_ITO["black"], "ttr-expired": TTR, "connection-closed": CRASH}
"""A job's move, by its trace cause: the arrow's colour (a reserve in the reserved blue, a
release in the ready blue, a bury in the buried grey; the flow view's `.fv-cause-*` rules)."""

OK, ERROR = "#1B5E20", "#B00020"
"""Feedback text: a command that worked (and the answer key's answers); a refusal, an error."""

CSS_VARIABLES = {**STATE_COLOURS, "hung": HUNG_FILL, "blue": OKABE_ITO["blue"], "crash": CRASH,
                 "ttr": TTR, "deadline": DEADLINE, "orange": OKABE_ITO["orange"]}
"""The palette as the flow view's and the tour's CSS variables (`--fv-<name>`)."""


def ink_on(fill: str) -> str:
    """Black or white, whichever reads better on `fill` ("#RRGGBB"): the larger WCAG contrast."""
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(fill[i:i + 2], 16)) for i in (1, 3, 5))
    light = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return OKABE_ITO["black"] if (light + 0.05) / 0.05 >= 1.05 / (light + 0.05) else "#FFFFFF"
