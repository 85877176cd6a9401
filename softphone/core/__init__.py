"""The call state machine: pure, no I/O, no clock; applies snapshots by ``version``.

Importing it loads the wire layer of ``softphone.api`` (pydantic models and rules) and nothing that
talks to a network or draws a screen.
"""

from softphone.core.machine import (
    USER_ACTIONS,
    CallFacts,
    CallMachine,
    EndedBy,
    Outcome,
    Role,
    RtcCredentials,
    Snapshot,
)
from softphone.core.phone import BUSY_REASON, Phone
from softphone.core.timeline import Marker, Source, TimelineEntry

__all__ = [
    "BUSY_REASON",
    "USER_ACTIONS",
    "CallFacts",
    "CallMachine",
    "EndedBy",
    "Marker",
    "Outcome",
    "Phone",
    "Role",
    "RtcCredentials",
    "Snapshot",
    "Source",
    "TimelineEntry",
]
