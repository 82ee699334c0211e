"""The protocol's reply and error words, in one place, and the greenstalk exception for each.

The core raises :class:`stalksim.core.Refused` with one of these words; the wire server writes
the word, the simulated client raises greenstalk's own exception class for it.
"""

from __future__ import annotations

import greenstalk

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

#: greenstalk's exception class for each error word (greenstalk 2.1's own table).
EXCEPTIONS: dict[str, type[greenstalk.Error]] = {
    word.decode(): cls for word, cls in greenstalk.ERROR_RESPONSES.items()
}


def exception_for(word: str) -> greenstalk.Error:
    """The exception greenstalk raises when the server answers `word` (no values)."""
    return EXCEPTIONS[word]([])
