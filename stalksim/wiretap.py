"""Show the wire: the bytes a greenstalk client sends and the replies it reads, recorded where
its socket is (`Tap`), and `WireClient`, a simulated client every call of which goes as bytes
through greenstalk's own code into its protocol session (never the command-level fast path).
What a WireClient's tap records is therefore what greenstalk sends a real beanstalkd 1.12 and
what the session answers, byte for byte (tests/test_panel_wire.py compares it with a real
server's transcript).

`lines()` turns the bytes into display lines: a CRLF shows as ⏎ at the end of its line, a bare
LF (inside a YAML reply) as a plain line break; other control bytes and invalid UTF-8 are
escaped as in a Python literal.
"""

from __future__ import annotations

from typing import Any

import greenstalk

from stalksim.client import BYTES, Driver, SimClient

SENT, RECEIVED = "sent", "received"
CRLF_MARK = "⏎"

#: One stretch of bytes that went one way: (SENT or RECEIVED, the bytes).
Chunk = tuple[str, bytes]


class Tap:
    """A client's socket and reply reader in one, recording each way's bytes in order.

    `install(client)` puts a tap in the place of any greenstalk client's socket and reader
    (a simulated one's pipe, or a real socket and its file); `take()` hands over what was
    recorded since the last take. Consecutive bytes going the same way make one chunk.
    """

    def __init__(self, sock: Any, reader: Any) -> None:
        self._sock = sock
        self._reader = reader
        self._chunks: list[tuple[str, bytearray]] = []

    @classmethod
    def install(cls, client: greenstalk.Client) -> Tap:
        """Record what `client` sends and reads from now on."""
        tap = cls(client._sock, client._reader)
        client._sock = client._reader = tap  # type: ignore[assignment]
        return tap

    def take(self) -> list[Chunk]:
        """The chunks recorded since the last take (the record is emptied)."""
        out = [(way, bytes(data)) for way, data in self._chunks]
        self._chunks = []
        return out

    def _record(self, way: str, data: bytes) -> bytes:
        if data:
            if self._chunks and self._chunks[-1][0] == way:
                self._chunks[-1][1].extend(data)
            else:
                self._chunks.append((way, bytearray(data)))
        return data

    # ---- the socket and reader greenstalk uses -----------------------------------------------
    def sendall(self, data: bytes) -> None:
        self._sock.sendall(data)
        self._record(SENT, bytes(data))

    def readline(self) -> bytes:
        return self._record(RECEIVED, self._reader.readline())

    def read(self, size: int) -> bytes:
        return self._record(RECEIVED, self._reader.read(size))

    @property
    def closed(self) -> bool:
        """The socket's `closed` flag (a simulated pipe's; a real socket has none)."""
        return bool(getattr(self._sock, "closed", False))

    @closed.setter
    def closed(self, value: bool) -> None:
        self._sock.closed = value

    def close(self) -> None:
        self._reader.close()
        self._sock.close()

    def __getattr__(self, name: str) -> Any:  # shutdown, makefile, ...: the socket's own
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._sock, name)


class WireClient(SimClient):
    """A simulated greenstalk client whose every call goes as bytes through greenstalk's code
    into its session; its `tap` records them and the replies."""

    def __init__(self, sim: Driver, *, name: str | None = None,
                 encoding: str | None = "utf-8") -> None:
        super().__init__(sim, name=name, encoding=encoding)
        self.tap = Tap.install(self)

    def _run(self, method: str, *args: Any) -> Any:
        return BYTES  # never the fast path: greenstalk's own code sends the bytes

    def reserve(self, timeout: int | None = None) -> greenstalk.Job:
        return greenstalk.Client.reserve(self, timeout)


def _show(data: bytes) -> str:
    """Bytes as text: UTF-8, with control characters and invalid bytes escaped."""
    text = data.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def lines(data: bytes) -> list[str]:
    """`data` as display lines: one per LF; a line that ended in CRLF ends in CRLF_MARK."""
    out = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:  # a last line with no line end at all (as sent, or cut off)
            out.append(_show(data[start:]))
            break
        line = data[start:end]
        if line.endswith(b"\r"):
            out.append(_show(line[:-1]) + CRLF_MARK)
        else:
            out.append(_show(line))
        start = end + 1
    return out


def transcript(chunks: list[Chunk]) -> list[tuple[str, str]]:
    """Each display line of `chunks` with the way it went: [(SENT or RECEIVED, line)]."""
    return [(way, line) for way, data in chunks for line in lines(data)]
