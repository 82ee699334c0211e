"""The protocol's error words, and the core's answers to a waiting reserve.

The core raises `Refused(word)` with one of these words; the wire session writes the word,
the simulated client raises greenstalk's own exception for it (mapped in `stalksim.client`).
"""

from __future__ import annotations

BAD_FORMAT = "BAD_FORMAT"
UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
OUT_OF_MEMORY = "OUT_OF_MEMORY"
INTERNAL_ERROR = "INTERNAL_ERROR"
NOT_FOUND = "NOT_FOUND"
NOT_IGNORED = "NOT_IGNORED"
JOB_TOO_BIG = "JOB_TOO_BIG"
EXPECTED_CRLF = "EXPECTED_CRLF"
DRAINING = "DRAINING"
DEADLINE_SOON = "DEADLINE_SOON"
TIMED_OUT = "TIMED_OUT"
BURIED = "BURIED"
#: Not a protocol word: the simulator withdrew a waiting reserve (`cancel_wait`); nothing is
#: sent for it, the connection just stops waiting.
CANCELLED = "CANCELLED"


class Refused(Exception):
    """The server answered with an error word instead of the command's success reply."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word
