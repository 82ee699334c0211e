"""beanstalkd 1.12's command-line parsing, byte for byte (prot.c's `which_cmd`, `read_u32`...).

Every function takes the raw bytes of a command line (without CRLF) and raises `BadFormat`
where beanstalkd answers BAD_FORMAT. Kept apart from `protocol.py` so that the parsing rules
can be read (and tested) on their own.
"""

from __future__ import annotations

from stalksim.core import U32, U64
from stalksim.core.state import NAME_CHARS

#: Longest command line, CRLF included (LINE_BUF_SIZE = 11 + 200 + 1 + 12 in beanstalkd).
LINE_MAX = 224

#: Command prefixes in the order beanstalkd tests them; the first that starts the line wins.
#: Names without a trailing space take no argument (and must match the whole line).
COMMANDS: tuple[bytes, ...] = (
    b"put ", b"peek ", b"peek-ready", b"peek-delayed", b"peek-buried",
    b"reserve-with-timeout ", b"reserve-job ", b"reserve", b"delete ", b"release ", b"bury ",
    b"kick ", b"kick-job ", b"touch ", b"stats-job ", b"stats-tube ", b"stats", b"use ",
    b"watch ", b"ignore ", b"list-tubes-watched", b"list-tube-used", b"list-tubes", b"quit",
    b"pause-tube",
)

_DIGITS = frozenset(b"0123456789")
_C_SPACE = frozenset(b" \t\n\v\f\r")  # isspace() in the C locale
_NAME_BYTES = frozenset(ord(ch) for ch in NAME_CHARS)
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


class BadFormat(Exception):
    """The line does not parse: beanstalkd replies BAD_FORMAT."""


def which(line: bytes) -> tuple[str, bytes] | None:
    """The command a line starts with and the rest of the line, or None (UNKNOWN_COMMAND)."""
    for prefix in COMMANDS:
        if line.startswith(prefix):
            return prefix.decode().strip(), line[len(prefix):]
    return None


def _token(buf: bytes, pos: int, allowed: frozenset[int]) -> tuple[int, int]:
    """Skip spaces from `pos`, then a non-empty run of `allowed` bytes: its (start, end)."""
    n = len(buf)
    while pos < n and buf[pos] == 0x20:
        pos += 1
    end = pos
    while end < n and buf[end] in allowed:
        end += 1
    if end == pos:
        raise BadFormat
    return pos, end


def number(buf: bytes, pos: int, limit: int, last: bool = False) -> tuple[int, int]:
    """`read_u32`/`read_u64`: spaces, then digits only, value <= limit; returns (value, end).

    With `last`, the number must end the line (no trailing space or garbage).
    """
    pos, end = _token(buf, pos, _DIGITS)
    value = int(buf[pos:end])
    if value > limit or (last and end != len(buf)):
        raise BadFormat
    return value, end


def numbers(buf: bytes, *limits: int) -> tuple[list[int], bool]:
    """Several space-separated numbers; returns them and whether anything trails the last."""
    values, pos = [], 0
    for limit in limits:
        value, pos = number(buf, pos, limit)
        values.append(value)
    return values, pos != len(buf)


def job_id(buf: bytes) -> int:
    """A lone u64 job id ending the line."""
    return number(buf, 0, U64, last=True)[0]


def u32(buf: bytes, pos: int = 0, last: bool = True) -> tuple[int, int]:
    return number(buf, pos, U32, last)


def _c_integer(buf: bytes) -> tuple[int, bool]:
    """What strtol/strtoul see: C-locale spaces, an optional sign, decimal digits.

    Returns (signed value, whether any digit was found); trailing bytes are ignored.
    """
    n, pos = len(buf), 0
    while pos < n and buf[pos] in _C_SPACE:
        pos += 1
    sign = 1
    if pos < n and buf[pos] in b"+-":
        sign = -1 if buf[pos] == 0x2D else 1
        pos += 1
    end = pos
    while end < n and buf[end] in _DIGITS:
        end += 1
    if end == pos:
        return 0, False
    return sign * int(buf[pos:end]), True


def timeout_seconds(buf: bytes) -> int:
    """`reserve-with-timeout`'s argument: strtol, then cut to a C int (negative = forever).

    Garbage after the number is ignored and no digits at all mean 0; only a value that
    overflows `long` is BAD_FORMAT.
    """
    value, _ = _c_integer(buf)
    if not I64_MIN <= value <= I64_MAX:
        raise BadFormat
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def kick_bound(buf: bytes) -> int:
    """`kick`'s argument: strtoul (a sign is accepted, `-1` wraps), then cut to 32 bits."""
    value, found = _c_integer(buf)
    if not found or abs(value) > U64:
        raise BadFormat
    return (value % (1 << 64)) & U32


def pause_args(buf: bytes) -> tuple[str, int]:
    """`pause-tube`'s arguments: spaces, a run of name characters, then a u32 delay.

    The name is not checked here beyond being non-empty (beanstalkd checks it after counting
    the command); the delay must end the line.
    """
    pos, end = _token(buf, 0, _NAME_BYTES)
    delay, _ = u32(buf, end)
    return buf[pos:end].decode("ascii"), delay


def tube_name(buf: bytes) -> str:
    """The whole rest of the line as a tube name (the core checks the name rules)."""
    return buf.decode("latin-1")
