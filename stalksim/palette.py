"""The one palette: every figure, widget, the flow view, the tour and the handouts draw a state
or an event in the colour named here, so a learner reads one legend once.

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

CSS_VARIABLES = {**STATE_COLOURS, "hung": HUNG_FILL, "blue": OKABE_ITO["blue"], "crash": CRASH,
                 "ttr": TTR, "deadline": DEADLINE, "orange": OKABE_ITO["orange"]}
"""The palette as the flow view's and the tour's CSS variables (`--fv-<name>`)."""
