"""The core: beanstalkd 1.12's state machine, with no clock and no I/O."""

from stalksim.core.check import ConnView, Inconsistent, JobView, Snapshot, TubeView
from stalksim.core.model import (
    BURIED,
    DELAYED,
    DELETED,
    NEW,
    READY,
    RESERVED,
    Answer,
    Conn,
    Job,
    Tube,
)
from stalksim.core.server import U32, U64, Server
from stalksim.core.state import MAX_TIME, SAFETY_MARGIN, SEC, name_ok
from stalksim.core.words import Refused

__all__ = [
    "Server", "Refused", "Answer", "Conn", "Job", "Tube", "name_ok", "SEC", "SAFETY_MARGIN",
    "MAX_TIME", "U32", "U64", "READY", "RESERVED", "DELAYED", "BURIED", "NEW", "DELETED",
    "Snapshot", "TubeView", "ConnView", "JobView", "Inconsistent",
]
