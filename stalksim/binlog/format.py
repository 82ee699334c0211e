"""The bytes of beanstalkd 1.12's binlog (write-ahead log), version 7, and the version 5 it reads.

Worked out from beanstalkd's dat.h / file.c / walg.c and checked on the real binary's files
(x86_64, little-endian, C natural alignment: the job record is a plain C struct written as it
sits in memory, padding included, so its layout follows the compiler's alignment rules).

A directory holds files ``binlog.N`` (N = 1, 2, ...) and an empty ``lock`` file. Each file::

    offset  size  field
    0       4     int32   format version: 7 (1.12 also reads 5)
    4       ...   records, one after the other, until end of file or a record whose id is 0
                  (a file is pre-filled with zero bytes to its full size when it is opened)

A record (version 7)::

    size  field
    4     int32   tube name length L; 0 means a *short* record (no name, no body)
    L     bytes   tube name, no terminator (full records only)
    80    Jobrec  the job (table below)
    B     bytes   body including its trailing "\\r\\n", B = Jobrec.body_size (full records only)

Jobrec, 80 bytes::

    offset  size  field         notes
    0       8     uint64 id
    8       4     uint32 pri
    12      4     (padding)
    16      8     int64  delay        ns, the delay given to put / release
    24      8     int64  ttr          ns
    32      4     int32  body_size    body length + 2 (the "\\r\\n")
    36      4     (padding)
    40      8     int64  created_at   ns since the Unix epoch (gettimeofday)
    48      8     int64  deadline_at  ns since the epoch: when a delayed job becomes ready,
                                      when a reserved job's TTR runs out; else stale
    56      4     uint32 reserve_ct
    60      4     uint32 timeout_ct
    64      4     uint32 release_ct
    68      4     uint32 bury_ct
    72      4     uint32 kick_ct
    76      1     uint8  state        0 invalid (= deleted), 1 ready, 2 reserved, 3 buried,
                                      4 delayed
    77      3     (padding)

Version 5 differs: the name length is a size_t (8 bytes), delay / ttr / created_at /
deadline_at are unsigned microseconds, and the Jobrec is read as 77 bytes (no tail padding).

A put writes a full record. A bury, a kick, or a release with a delay writes a short record
with the new state; a delete writes a short record with state 0. Nothing else is written: a
reserve, a touch, a TTR expiry, a release without delay and a delay running out change the job
in memory only, so a restart restores the job as its last record left it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

VERSION = 7
VERSION5 = 5
MAX_TUBE_NAME_LEN = 201  # a name is at most 200 bytes
DEFAULT_FILE_SIZE = 10 << 20  # -s default, bytes
DEFAULT_FSYNC_MS = 50  # -f default
DEFAULT_MAX_JOB_SIZE = (1 << 16) - 1  # -z default

HEADER = struct.Struct("<i")
NAMELEN = struct.Struct("<i")
NAMELEN5 = struct.Struct("<Q")
JOBREC = struct.Struct("<QI4xqqi4xqqIIIIIB3x")
JOBREC5 = struct.Struct("<QI4xQQi4xQQIIIIIB")
assert JOBREC.size == 80 and JOBREC5.size == 77

SHORT_RECORD_SIZE = NAMELEN.size + JOBREC.size  # a state change or a delete: 84 bytes

INVALID, READY, RESERVED, BURIED, DELAYED, COPY = range(6)
STATE_NAMES = {READY: "ready", RESERVED: "reserved", BURIED: "buried", DELAYED: "delayed"}
STATE_CODES = {name: code for code, name in STATE_NAMES.items()}


@dataclass
class Jobrec:
    """One job record's fixed part, field for field (times in ns, as version 7 stores them)."""

    id: int
    pri: int
    delay: int
    ttr: int
    body_size: int
    created_at: int
    deadline_at: int
    reserve_ct: int
    timeout_ct: int
    release_ct: int
    bury_ct: int
    kick_ct: int
    state: int

    def pack(self) -> bytes:
        """The 80 bytes version 7 writes."""
        return JOBREC.pack(
            self.id, self.pri, self.delay, self.ttr, self.body_size, self.created_at,
            self.deadline_at, self.reserve_ct, self.timeout_ct, self.release_ct, self.bury_ct,
            self.kick_ct, self.state,
        )

    @classmethod
    def unpack(cls, data: bytes) -> Jobrec:
        """Read the 80 bytes of a version 7 record."""
        return cls(*JOBREC.unpack(data))

    @classmethod
    def unpack5(cls, data: bytes) -> Jobrec:
        """Read the 77 bytes of a version 5 record, turning its microseconds into ns."""
        f = list(JOBREC5.unpack(data))
        for i in (2, 3, 5, 6):  # delay, ttr, created_at, deadline_at
            f[i] = _int64(f[i] * 1000)
        return cls(*f)

    def pack5(self) -> bytes:
        """The 77 bytes version 5 would hold (for tests of the version 5 reader)."""
        us = [(v // 1000) & 0xFFFFFFFFFFFFFFFF
              for v in (self.delay, self.ttr, self.created_at, self.deadline_at)]
        return JOBREC5.pack(
            self.id, self.pri, us[0], us[1], self.body_size, us[2], us[3], self.reserve_ct,
            self.timeout_ct, self.release_ct, self.bury_ct, self.kick_ct, self.state,
        )


def _int64(v: int) -> int:
    """Wrap to a signed 64-bit value, as C's unsigned-to-signed assignment does."""
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def full_record(tube: bytes, rec: Jobrec, body: bytes) -> bytes:
    """A full record: name length, name, Jobrec, body (body already ends in \\r\\n)."""
    return NAMELEN.pack(len(tube)) + tube + rec.pack() + body


def short_record(rec: Jobrec) -> bytes:
    """A short record: name length 0 and the Jobrec."""
    return NAMELEN.pack(0) + rec.pack()


def full_record_size(tube: bytes, body_size: int) -> int:
    """Bytes a full record takes (what beanstalkd reserves for a put or a migration)."""
    return NAMELEN.size + len(tube) + JOBREC.size + body_size
